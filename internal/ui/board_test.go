package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/ui"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// boardItem is one seeded item and what the filters look at.
type boardItem struct {
	id               int64
	state, assignee  string
	typ, sev, source string
	title            string
	tags             []string
}

// seedBoard stores items in every state with varied fields.
func seedBoard(t *testing.T, e *env) []boardItem {
	t.Helper()
	items := []boardItem{
		{source: "sentinel", title: "Suspicious PowerShell download cradle", sev: "high", typ: "Issue", state: "New",
			assignee: email[responder], tags: []string{"phishing"}},
		{source: "defender", title: "Storage account allows public blob access", sev: "medium", typ: "Problem", state: "Approved",
			tags: []string{"cloud"}},
		{source: "graph", title: "Impossible travel for j.doe", sev: "critical", typ: "Issue", state: "Active",
			assignee: "bob@example.com", tags: []string{"identity", "phishing"}},
		{source: "suricata", title: "ET POLICY powershell user agent", sev: "low", typ: "Issue", state: "Verification"},
		{source: "defender", title: "VM without endpoint protection", sev: "high", typ: "Problem", state: "Removed"},
		{source: "sentinel", title: "Brute force against RDP", sev: "medium", typ: "Issue", state: "Closed"},
		{source: "alertmanager", title: "Disk almost full on db-1", sev: "informational", typ: "Issue", state: "New"},
	}
	paths := map[string][]string{
		"New": nil, "Approved": {"Approved"}, "Active": {"Approved", "Active"},
		"Verification": {"Approved", "Active", "Verification"}, "Removed": {"Removed"},
		"Closed": {"Approved", "Active", "Verification", "Closed"},
	}
	for i := range items {
		it := &items[i]
		it.id = e.ingest(t, spec{source: it.source, title: it.title, sev: alert.Severity(it.sev)})[0]
		if it.assignee != "" || it.tags != nil {
			e.set(t, it.id, it.assignee, it.tags...)
		}
		for _, to := range paths[it.state] {
			e.move(t, it.id, to, "seeded")
		}
	}
	return items
}

// wantBoard is the board page's cards in order (open columns in process
// order, then the final ones; newest first in each) and the columns'
// counts, for the items that keep.
func wantBoard(p *workitem.Process, items []boardItem, keep func(boardItem) bool) ([]int64, map[string]int) {
	var ids []int64
	n := map[string]int{}
	states := p.OpenStates()
	for _, st := range p.StateNames() {
		if p.Terminal(st) {
			states = append(states, st)
		}
	}
	for _, st := range states {
		n[st] = 0
		var col []int64
		for _, it := range items {
			if it.state == st && keep(it) {
				col = append(col, it.id)
			}
		}
		slices.Sort(col)
		slices.Reverse(col)
		ids = append(ids, col...)
		n[st] = len(col)
	}
	return ids, n
}

func TestBoardFilters(t *testing.T) {
	e := newEnv(t)
	items := seedBoard(t, e)
	c := e.as(t, responder)
	has := func(tags []string, tag string) bool { return slices.Contains(tags, tag) }
	tests := []struct {
		name, query string
		keep        func(boardItem) bool
	}{
		{"no filter", "", func(boardItem) bool { return true }},
		{"type", "type=Problem", func(it boardItem) bool { return it.typ == "Problem" }},
		{"severity", "severity=high", func(it boardItem) bool { return it.sev == "high" }},
		{"source", "source=sentinel", func(it boardItem) bool { return it.source == "sentinel" }},
		{"assignee me", "assignee=me", func(it boardItem) bool { return it.assignee == email[responder] }},
		{"assignee by name", "assignee=bob%40example.com", func(it boardItem) bool { return it.assignee == "bob@example.com" }},
		{"tag", "tag=phishing", func(it boardItem) bool { return has(it.tags, "phishing") }},
		{"tag in capitals", "tag=PHISHING", func(it boardItem) bool { return has(it.tags, "phishing") }},
		{"words in the title, any case", "q=powershell", func(it boardItem) bool {
			return strings.Contains(strings.ToLower(it.title), "powershell")
		}},
		{"combined", "q=POWERSHELL&severity=low", func(it boardItem) bool { return it.sev == "low" && strings.Contains(it.title, "powershell") }},
		{"nothing matches", "q=no+such+words", func(boardItem) bool { return false }},
		{"everything shown", "all=1", func(boardItem) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.get(t, "/board?"+tt.query).wantCode(t, http.StatusOK)
			wantIDs, wantCounts := wantBoard(e.items.Process(), items, tt.keep)
			if got := cardIDs(r.body); !slices.Equal(got, wantIDs) {
				t.Errorf("got cards %v, want %v", got, wantIDs)
			}
			if got := counts(r.body); !mapsEqual(got, wantCounts) {
				t.Errorf("got counts %v, want %v", got, wantCounts)
			}
			total := 0
			for _, n := range wantCounts {
				total += n
			}
			r.wantBody(t, `<span class="muted total">`+itoa(int64(total))+` items</span>`)
			if strings.Contains(r.body, `class="more"`) {
				t.Error("got a \"Show more\" link under the cap")
			}
		})
	}
	t.Run("unknown severity", func(t *testing.T) {
		c.get(t, "/board?severity=dire").wantCode(t, http.StatusBadRequest).wantBody(t, "unknown severity")
	})
	t.Run("the filters stay in the form", func(t *testing.T) {
		r := c.get(t, "/board?type=Problem&tag=cloud&q=blob").wantCode(t, http.StatusOK)
		r.wantBody(t, `<option selected>Problem</option>`, `name="tag" value="cloud"`, `value="blob"`, `>Clear filters</a>`,
			`data-filter="q=blob&amp;tag=cloud&amp;type=Problem"`)
	})
	t.Run("htmx asks for the columns only", func(t *testing.T) {
		r := c.get(t, "/board?severity=high", "HX-Request", "true", "HX-Target", "board").wantCode(t, http.StatusOK)
		if body := strings.TrimSpace(r.body); !strings.HasPrefix(body, `<div id="board"`) || !strings.HasSuffix(body, "</div>") {
			t.Errorf("got %.200q…, want only the #board fragment", body)
		}
		r.wantNoBody(t, "<!doctype", `<form class="filters"`, "<header")
		wantIDs, _ := wantBoard(e.items.Process(), items, func(it boardItem) bool { return it.sev == "high" })
		if got := cardIDs(r.body); !slices.Equal(got, wantIDs) {
			t.Errorf("got cards %v, want %v", got, wantIDs)
		}
	})
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestBoardCard(t *testing.T) {
	e := newEnv(t)
	items := seedBoard(t, e)
	byTitle := map[string]int64{}
	for _, it := range items {
		byTitle[it.title] = it.id
	}
	high := byTitle["Suspicious PowerShell download cradle"] // New, high, assigned to the responder
	medium := byTitle["Storage account allows public blob access"]
	countsOf := func(keep func(boardItem) bool) map[string]int {
		_, n := wantBoard(e.items.Process(), items, keep)
		return n
	}
	all := countsOf(func(boardItem) bool { return true })
	highOnly := countsOf(func(it boardItem) bool { return it.sev == "high" })
	mine := countsOf(func(it boardItem) bool { return it.assignee == email[responder] })
	tests := []struct {
		name   string
		as     auth.Role
		path   string
		code   int
		counts map[string]int
	}{
		{"matching card", responder, idPath("/board/cards/%d?severity=high", high), http.StatusOK, highOnly},
		{"card no longer matching", responder, idPath("/board/cards/%d?severity=high", medium), http.StatusNoContent, highOnly},
		{"no filter", responder, idPath("/board/cards/%d", medium), http.StatusOK, all},
		{"mine, as its assignee", responder, idPath("/board/cards/%d?assignee=me", high), http.StatusOK, mine},
		{"mine, as someone else", admin, idPath("/board/cards/%d?assignee=me", high), http.StatusNoContent, countsOf(func(boardItem) bool { return false })},
		{"unknown item", responder, "/board/cards/999999", http.StatusNotFound, nil},
		{"bad id", responder, "/board/cards/abc", http.StatusBadRequest, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.as(t, tt.as)
			r := c.get(t, tt.path, "HX-Request", "true").wantCode(t, tt.code)
			if tt.counts == nil {
				return
			}
			var got map[string]int
			if err := json.Unmarshal([]byte(r.hdr.Get("X-Board-Counts")), &got); err != nil {
				t.Fatalf("X-Board-Counts %q: %v", r.hdr.Get("X-Board-Counts"), err)
			}
			if !mapsEqual(got, tt.counts) {
				t.Errorf("got X-Board-Counts %v, want %v", got, tt.counts)
			}
			switch tt.code {
			case http.StatusNoContent:
				if r.body != "" {
					t.Errorf("got body %q with 204", r.body)
				}
			case http.StatusOK:
				body := strings.TrimSpace(r.body)
				if !strings.HasPrefix(body, `<li class="card`) || len(cardIDs(body)) != 1 {
					t.Errorf("got %.200q, want one card", body)
				}
			}
		})
	}
}

func TestBoardPerColumnCap(t *testing.T) {
	e := newEnv(t, func(o *ui.Options) { o.PerColumn = 3 })
	var tagged []int64
	for range 5 {
		id := e.ingest(t, spec{title: "bulk finding"})[0]
		e.set(t, id, "", "bulk")
		tagged = append(tagged, id)
	}
	plain := e.ingest(t, spec{title: "lone finding"})[0]
	approved := e.ingest(t, spec{title: "approved finding"})[0]
	e.move(t, approved, "Approved", "")
	c := e.as(t, responder)
	newest := func(ids []int64, n int) []int64 {
		s := sorted(ids)
		slices.Reverse(s)
		return s[:min(n, len(s))]
	}
	allNew := append(slices.Clone(tagged), plain)
	tests := []struct {
		name, query string
		wantCards   []int64
		wantNew     int
		wantMore    string // "" for no link
		wantHref    string
	}{
		{"capped", "", append(newest(allNew, 3), approved), 6, "3", "/board?all=1"},
		{"capped under a filter", "tag=bulk", newest(tagged, 3), 5, "2", "/board?all=1&tag=bulk"},
		{"show all", "all=1", append(newest(allNew, 6), approved), 6, "", ""},
		{"show all under a filter", "tag=bulk&all=1", newest(tagged, 5), 5, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.get(t, "/board?"+tt.query).wantCode(t, http.StatusOK)
			if got := cardIDs(r.body); !slices.Equal(got, tt.wantCards) {
				t.Errorf("got cards %v, want %v", got, tt.wantCards)
			}
			if got := counts(r.body)["New"]; got != tt.wantNew {
				t.Errorf("got New count %d, want %d (exact despite the cap)", got, tt.wantNew)
			}
			m := moreRE.FindStringSubmatch(r.body)
			switch {
			case tt.wantMore == "" && m != nil:
				t.Errorf("got a link %q, want none", m[0])
			case tt.wantMore != "" && m == nil:
				t.Fatalf("no \"Show %s more\" link", tt.wantMore)
			case tt.wantMore != "":
				if m[2] != tt.wantMore {
					t.Errorf("got Show %s more, want %s", m[2], tt.wantMore)
				}
				href := html.UnescapeString(m[1])
				if href != tt.wantHref {
					t.Errorf("got link to %q, want %q", href, tt.wantHref)
				}
				// Following the link shows the whole column, still filtered.
				all := c.get(t, href).wantCode(t, http.StatusOK)
				if got := counts(all.body)["New"]; len(cardIDs(all.body)) < got {
					t.Errorf("%s: got %d cards, want all %d", href, len(cardIDs(all.body)), got)
				}
				if got := counts(all.body)["New"]; got != tt.wantNew {
					t.Errorf("%s: got New count %d, want %d (the filter kept)", href, got, tt.wantNew)
				}
			}
		})
	}
}

func TestMove(t *testing.T) {
	e := newEnv(t)
	ids := e.ingest(t, spec{title: "one"}, spec{title: "two"}, spec{title: "three"}, spec{title: "four", sev: "low"},
		spec{title: "five"}, spec{title: "six"})
	c := e.as(t, responder)
	movePath := func(id int64) string { return idPath("/items/%d/move", id) }

	t.Run("reason required, none given", func(t *testing.T) {
		id := ids[0]
		r := c.post(t, movePath(id), url.Values{"to": {"Removed"}, "rev": {"1"}, "back": {idPath("/items/%d", id)}})
		r.wantCode(t, http.StatusBadRequest)
		r.wantBody(t, "<!doctype html>", "reason: a reason is required to move to Removed", `action="`+movePath(id)+`"`,
			`name="reason"`, `name="to" value="Removed"`, `name="back" value="`+idPath("/items/%d", id)+`"`, "(required)")
		if it := e.item(t, id); it.State != "New" || it.Rev != 1 {
			t.Errorf("got %s rev %d, want New rev 1", it.State, it.Rev)
		}
	})
	t.Run("reason given", func(t *testing.T) {
		id := ids[0]
		c.post(t, movePath(id), url.Values{"to": {"Removed"}, "rev": {"1"}, "reason": {"false positive: scanner"},
			"back": {idPath("/items/%d", id)}}).wantCode(t, http.StatusSeeOther).wantLocation(t, idPath("/items/%d", id))
		if it := e.item(t, id); it.State != "Removed" {
			t.Errorf("got %s, want Removed", it.State)
		}
		tl := e.timeline(t, id)
		if last := tl[len(tl)-1]; last.Reason != "false positive: scanner" || last.Actor != email[responder] {
			t.Errorf("got last entry %+v, want the move by %s with its reason", last, email[responder])
		}
	})

	tests := []struct {
		name     string
		id       int64
		form     url.Values
		hdr      []string
		wantCode int
		wantBody string
		wantLoc  string
		want     string // state after
	}{
		{"invalid move", ids[1], url.Values{"to": {"Closed"}, "reason": {"done"}}, nil,
			http.StatusConflict, "cannot move from New to Closed; allowed: Approved, Removed", "", "New"},
		{"invalid move, script", ids[1], url.Values{"to": {"Closed"}, "reason": {"done"}}, []string{"X-Requested-With", "fetch"},
			http.StatusConflict, "cannot move from New to Closed; allowed: Approved, Removed", "", "New"},
		{"unknown state", ids[1], url.Values{"to": {"Limbo"}}, nil, http.StatusBadRequest, "unknown state", "", "New"},
		{"stale rev", ids[1], url.Values{"to": {"Approved"}, "rev": {"7"}}, nil,
			http.StatusConflict, "someone else changed this item meanwhile", "", "New"},
		// A mangled rev is refused, not read as "no rev" (which would skip
		// the stale-edit check).
		{"malformed rev", ids[1], url.Values{"to": {"Approved"}, "rev": {"1x"}}, nil,
			http.StatusBadRequest, "rev: must be a non-negative integer", "", "New"},
		{"no reason needed", ids[1], url.Values{"to": {"Approved"}, "rev": {"1"}}, nil, http.StatusSeeOther, "", "/board", "Approved"},
		{"back to the item", ids[2], url.Values{"to": {"Approved"}, "back": {idPath("/items/%d", ids[2])}}, nil,
			http.StatusSeeOther, "", idPath("/items/%d", ids[2]), "Approved"},
		{"back off-site", ids[2], url.Values{"to": {"Active"}, "back": {"//evil.example/x"}}, nil, http.StatusSeeOther, "", "/board", "Active"},
		{"back off-site with a backslash", ids[2], url.Values{"to": {"Verification"}, "back": {`/\evil.example/x`}}, nil,
			http.StatusSeeOther, "", "/board", "Verification"},
		{"back absolute", ids[5], url.Values{"to": {"Approved"}, "back": {"https://evil.example/x"}}, nil,
			http.StatusSeeOther, "", "/board", "Approved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.post(t, movePath(tt.id), tt.form, tt.hdr...).wantCode(t, tt.wantCode).wantBody(t, tt.wantBody)
			if tt.wantCode == http.StatusSeeOther {
				r.wantLocation(t, tt.wantLoc)
			}
			if len(tt.hdr) > 0 && tt.wantCode >= 400 {
				if ct := r.hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
					t.Errorf("got Content-Type %q for a script's error, want text/plain", ct)
				}
			}
			if it := e.item(t, tt.id); it.State != tt.want {
				t.Errorf("got %s, want %s", it.State, tt.want)
			}
		})
	}

	t.Run("script move answers the card and the counts", func(t *testing.T) {
		id := ids[3] // low severity
		r := c.post(t, movePath(id), url.Values{"to": {"Approved"}, "rev": {"1"}, "filter": {"severity=low"}},
			"X-Requested-With", "fetch").wantCode(t, http.StatusOK)
		body := strings.TrimSpace(r.body)
		if !strings.HasPrefix(body, `<li class="card sev-low" id="card-`+itoa(id)+`"`) {
			t.Errorf("got %.200q, want the card", body)
		}
		r.wantBody(t, `data-state="Approved"`, `data-rev="2"`, `data-next="Active "`)
		var got map[string]int
		if err := json.Unmarshal([]byte(r.hdr.Get("X-Board-Counts")), &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"New": 0, "Approved": 1, "Removed": 0, "Active": 0, "Verification": 0, "Closed": 0}
		if !mapsEqual(got, want) {
			t.Errorf("got counts %v under severity=low, want %v", got, want)
		}
	})

	t.Run("the reason form", func(t *testing.T) {
		id := ids[4]
		r := c.get(t, movePath(id)+"?to=Removed&back=/items/"+itoa(id)).wantCode(t, http.StatusOK)
		r.wantBody(t, "<!doctype html>", "Move #"+itoa(id)+" from New to Removed", "required", `data-preset="false positive: "`,
			`name="back" value="/items/`+itoa(id)+`"`)
		frag := c.get(t, movePath(id)+"?to=Removed", "X-Requested-With", "fetch").wantCode(t, http.StatusOK)
		if body := strings.TrimSpace(frag.body); !strings.HasPrefix(body, "<form") {
			t.Errorf("got %.100q, want the bare form for the dialog", body)
		}
		c.get(t, movePath(id)+"?to=Closed").wantCode(t, http.StatusConflict).wantBody(t, "allowed: Approved, Removed")
		// An off-site back link is not offered as the Cancel button.
		c.get(t, movePath(id)+"?to=Removed&back=//evil.example").wantCode(t, http.StatusOK).wantNoBody(t, "evil.example")
	})
}

func TestTriage(t *testing.T) {
	e := newEnv(t)
	ids := e.ingest(t, spec{title: "t1"}, spec{title: "t2"}, spec{title: "t3"}, spec{title: "t4", sev: "high"},
		spec{title: "t5"})
	approved := e.ingest(t, spec{title: "already approved"})[0]
	e.move(t, approved, "Approved", "")
	c := e.as(t, responder)

	t.Run("the queue, oldest first", func(t *testing.T) {
		r := c.get(t, "/triage").wantCode(t, http.StatusOK).wantBody(t, "5 new").wantNoBody(t, "already approved")
		var got []int64
		for _, m := range triageRowRE.FindAllStringSubmatch(r.body, -1) {
			got = append(got, atoi(m[1]))
		}
		if !slices.Equal(got, ids) {
			t.Errorf("got rows %v, want %v (oldest first)", got, ids)
		}
	})

	tests := []struct {
		name       string
		form       url.Values
		wantMoved  string
		wantFailed []string
		wantState  map[int64]string
		wantQuery  map[string]string
	}{
		{"approve two", url.Values{"id": {itoa(ids[0]), itoa(ids[1])}, "to": {"Approved"}}, "2", nil,
			map[int64]string{ids[0]: "Approved", ids[1]: "Approved"}, nil},
		{"remove without a reason", url.Values{"id": {itoa(ids[2]), itoa(ids[3])}, "to": {"Removed"}}, "0",
			[]string{"#" + itoa(ids[2]) + ": reason: a reason is required to move to Removed",
				"#" + itoa(ids[3]) + ": reason: a reason is required to move to Removed"},
			map[int64]string{ids[2]: "New", ids[3]: "New"}, nil},
		{"items in another state are refused", url.Values{"id": {itoa(approved), itoa(ids[2])}, "to": {"Approved"}}, "1",
			[]string{"#" + itoa(approved) + ": cannot move from Approved to Approved; allowed: Active"},
			map[int64]string{approved: "Approved", ids[2]: "Approved"}, nil},
		{"remove with a reason, keeping the filter", url.Values{"id": {itoa(ids[3])}, "to": {"Removed"},
			"reason": {"false positive: test rule"}, "filter": {"severity=high"}}, "1", nil,
			map[int64]string{ids[3]: "Removed"}, map[string]string{"severity": "high"}},
		{"nothing selected", url.Values{"to": {"Approved"}}, "0", []string{"select at least one item"}, nil, nil},
		{"not an id", url.Values{"id": {"abc"}, "to": {"Approved"}}, "0", []string{`"abc" is not an item id`}, nil, nil},
		{"unknown item", url.Values{"id": {"999999"}, "to": {"Approved"}}, "0", []string{"#999999: not found"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.post(t, "/triage", tt.form).wantCode(t, http.StatusSeeOther)
			loc, err := url.Parse(r.hdr.Get("Location"))
			if err != nil || loc.Path != "/triage" {
				t.Fatalf("got Location %q, want /triage?…", r.hdr.Get("Location"))
			}
			q := loc.Query()
			if q.Has("moved") || q.Has("failed") || q.Has("to") {
				t.Errorf("got Location %q: the outcome must not travel in the URL", loc)
			}
			for k, v := range tt.wantQuery {
				if q.Get(k) != v {
					t.Errorf("got %s=%q in the redirect, want %q", k, q.Get(k), v)
				}
			}
			for id, want := range tt.wantState {
				if got := e.item(t, id).State; got != want {
					t.Errorf("got item %d in %s, want %s", id, got, want)
				}
			}
			page := c.get(t, loc.RequestURI()).wantCode(t, http.StatusOK)
			if tt.wantMoved != "0" {
				page.wantBody(t, "Moved "+tt.wantMoved+" item")
			}
			for _, f := range tt.wantFailed {
				page.wantBody(t, "<li>"+html.EscapeString(f)+"</li>")
			}
			if tt.wantMoved == "0" && tt.wantFailed == nil {
				page.wantNoBody(t, "Moved ")
			}
			// Shown once.
			c.get(t, loc.RequestURI()).wantCode(t, http.StatusOK).wantNoBody(t, "Moved ", "Not moved")
		})
	}

	t.Run("viewer", func(t *testing.T) {
		v := e.as(t, viewer)
		v.post(t, "/triage", url.Values{"id": {itoa(ids[4])}, "to": {"Approved"}}).wantCode(t, http.StatusSeeOther)
		if got := e.item(t, ids[4]).State; got != "New" {
			t.Errorf("got %s, want New", got)
		}
		v.get(t, "/triage").wantCode(t, http.StatusOK).wantNoBody(t, `name="id"`, "Approve selected").
			wantBody(t, "<li>#"+itoa(ids[4])+": role viewer may not triage</li>")
	})
}

// TestCardHTML holds the card's hand-written markup (cardView.HTML) to the
// reference template, byte for byte, escaping included.
func TestCardHTML(t *testing.T) {
	proc, err := workitem.ParseProcess([]byte(`
states:
  - name: New
    initial: true
  - name: In Progress & "Co"
  - name: <Parked>
    reason_required: true
  - name: Done+Dusted
    terminal: true
    reason_required: true
transitions:
  - from: New
    to: [In Progress & "Co", <Parked>, Done+Dusted]
  - from: In Progress & "Co"
    to: [Done+Dusted]
`))
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(t0)
	for _, p := range []*workitem.Process{workitem.DefaultProcess(), proc} {
		u, err := ui.New(ui.Options{Items: workitem.NewService(nil, p, clk), Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		closed := t0.Add(-time.Hour)
		resolved := t0.Add(-5 * time.Minute)
		items := []workitem.Item{
			{ID: 1, Type: "Issue", Title: "plain", State: "New", Severity: "high", Source: "sentinel", Rev: 1, AlertCount: 1,
				CreatedAt: t0.Add(-90 * time.Second), LastSeen: t0.Add(-90 * time.Second), KeyEntity: "host vm-web-01", Tags: []string{}},
			{ID: 22, Type: "Problem", Title: `<script>alert("x")</script> & 'quotes' + plus`, State: "Approved", Severity: "critical",
				Source: `de"fender`, Rev: 7, AlertCount: 12345, Assignee: "o'brien+soc@example.com", Tags: []string{"a&b", "<x>", "vip"},
				CreatedAt: t0.Add(-50 * time.Hour), LastSeen: t0.Add(-4 * time.Minute), KeyEntity: `url https://x.example/?a=1&b=<2>+"3"`,
				SourceResolvedAt: &resolved},
			{ID: 7, Type: "Issue", Title: "mine", State: "New", Severity: "low", Source: "api", Rev: 1, AlertCount: 2,
				Assignee: "me@example.com", CreatedAt: t0.Add(-time.Hour), LastSeen: t0.Add(-3 * 24 * time.Hour), KeyEntity: "account"},
			{ID: 333, Type: "Task", Title: "Ünïcödé — 日本語 \ufdd0 \uffff \ufffd bad:\xff nul:\x00", State: "Verification",
				Severity: "informational", Source: "graph", Rev: 3, Assignee: "Jane Doe", CreatedAt: t0.Add(-3 * time.Hour)},
			{ID: 4, Type: "Issue", Title: "closed", State: "Closed", Severity: "low", Source: "api", Rev: 9, ClosedAt: &closed,
				CreatedAt: t0.Add(-40 * 24 * time.Hour), SourceResolvedAt: &resolved, KeyEntity: "ip 203.0.113.7"},
			{ID: 5, Type: "Issue", Title: "custom", State: `In Progress & "Co"`, Severity: "medium", Source: "api", Rev: 2, CreatedAt: t0},
			{ID: 6, Type: "Issue", Title: "custom new", State: "New", Severity: "medium", Source: "api", Rev: 2, CreatedAt: t0},
		}
		for _, it := range items {
			for _, canMove := range []bool{true, false} {
				name := fmt.Sprintf("%d in %s, can move %v", it.ID, it.State, canMove)
				fast, viaCard, ref, err := u.CardBothWays(it, "me@example.com", canMove, "tok+/=en")
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if fast != ref {
					t.Errorf("%s: cardView.HTML differs from the card-template markup:\ngot  %q\nwant %q", name, fast, ref)
				}
				if viaCard != fast {
					t.Errorf("%s: the card template wrote %q, want %q", name, viaCard, fast)
				}
			}
		}
	}
}

// TestCardContent checks what a card tells apart and offers, on the
// card's own markup (TestCardHTML holds the template to it).
func TestCardContent(t *testing.T) {
	clk := clock.NewFake(t0)
	u, err := ui.New(ui.Options{Items: workitem.NewService(nil, workitem.DefaultProcess(), clk), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	const me = "rob.responder@example.com"
	resolved := t0.Add(-5 * time.Minute)
	base := workitem.Item{ID: 9, Type: "Issue", Title: "Failed SSH brute force", State: "New", Severity: "high",
		Source: "alertmanager", Rev: 4, AlertCount: 1, CreatedAt: t0.Add(-time.Hour), LastSeen: t0.Add(-4 * time.Minute)}
	with := func(f func(*workitem.Item)) workitem.Item {
		it := base
		f(&it)
		return it
	}
	tests := []struct {
		name      string
		it        workitem.Item
		canMove   bool
		want, not []string
	}{
		{"key entity, one alert, last alert", with(func(it *workitem.Item) { it.KeyEntity = "host vm-web-01" }), true,
			[]string{`<p class="card-entity" title="key entity"><span class="entity-kind">host</span> vm-web-01</p>`,
				`<span class="alerts">1 alert</span>`,
				`<time class="seen" datetime="2026-03-02T09:26:00Z" title="last alert 2026-03-02 09:26:00 UTC">last alert 4 min ago</time>`},
			[]string{"resolved at source", `1 alerts`}},
		{"thousands of alerts", with(func(it *workitem.Item) { it.AlertCount = 12345; it.LastSeen = t0.Add(-3 * time.Hour) }), true,
			[]string{`<span class="alerts">12,345 alerts</span>`, `last alert 3 h ago`}, []string{`class="card-entity"`}},
		{"resolved at source", with(func(it *workitem.Item) { it.SourceResolvedAt = &resolved }), true,
			[]string{`<span class="resolved" title="every alert resolved at its source 2026-03-02 09:25:00 UTC">resolved at source</span>`}, nil},
		{"no alerts (a task)", with(func(it *workitem.Item) { it.AlertCount = 0; it.Type = "Task" }), true,
			nil, []string{`class="card-alerts"`, "last alert"}},
		{"assign to me, unassigned", base, true,
			[]string{`<button class="assign-me" formaction="/items/9/assign" hx-post="/items/9/assign" hx-target="closest .card" hx-swap="outerHTML">Assign to me</button>`,
				`<input type="hidden" name="rev" value="4">`}, nil},
		{"assign to me, someone else's", with(func(it *workitem.Item) { it.Assignee = "bob@example.com" }), true,
			[]string{`>Assign to me</button>`}, nil},
		{"already mine", with(func(it *workitem.Item) { it.Assignee = me }), true, nil, []string{"Assign to me"}},
		{"viewer", base, false, nil, []string{"Assign to me", "<form"}},
		{"final state", with(func(it *workitem.Item) { it.State = "Closed" }), true, nil, []string{"Assign to me"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, ref, err := u.CardBothWays(tt.it, me, tt.canMove, "tok")
			if err != nil {
				t.Fatal(err)
			}
			if got != ref {
				t.Fatalf("cardView.HTML differs from the template:\ngot  %q\nwant %q", got, ref)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("card lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(got, w) {
					t.Errorf("card has %q, want it absent:\n%s", w, got)
				}
			}
		})
	}
}

// TestBoardCardsFromIngest shows what ingest stores on the cards: the key
// entity, the alert count and the time since the last alert.
func TestBoardCardsFromIngest(t *testing.T) {
	e := newEnv(t)
	host := []alert.Entity{{Kind: alert.EntityHost, Value: "vm-web-01"}, {Kind: alert.EntityIP, Value: "203.0.113.7"}}
	id := e.ingest(t, spec{source: "alertmanager", id: "ssh-1", title: "Failed SSH brute force", entities: host})[0]
	other := e.ingest(t, spec{source: "alertmanager", id: "ssh-2", title: "Failed SSH brute force",
		entities: []alert.Entity{{Kind: alert.EntityHost, Value: "vm-db-02"}}})[0]
	e.clk.Advance(4 * time.Minute)
	c := e.as(t, responder)
	r := c.get(t, "/board").wantCode(t, http.StatusOK)
	for _, want := range []struct {
		id     int64
		entity string
	}{{id, "vm-web-01"}, {other, "vm-db-02"}} {
		card := cardOf(t, r.body, want.id)
		for _, w := range []string{`<span class="entity-kind">host</span> ` + want.entity, `<span class="alerts">1 alert</span>`,
			"last alert 4 min ago"} {
			if !strings.Contains(card, w) {
				t.Errorf("card %d lacks %q:\n%s", want.id, w, card)
			}
		}
	}
}

// cardOf returns the markup of card id on a board page.
func cardOf(t *testing.T, body string, id int64) string {
	t.Helper()
	start := strings.Index(body, `id="card-`+itoa(id)+`"`)
	if start < 0 {
		t.Fatalf("no card %d on the page", id)
	}
	end := strings.Index(body[start:], "\n</li>") // the card's own end: its tags' items end without a newline
	if end < 0 {
		t.Fatalf("card %d does not end", id)
	}
	return body[start : start+end]
}

func TestBoardSort(t *testing.T) {
	e := newEnv(t)
	var ids []int64
	for i, sev := range []alert.Severity{"low", "critical", "medium", "high"} {
		ids = append(ids, e.ingest(t, spec{title: fmt.Sprintf("sorted %d", i), sev: sev})[0])
		e.clk.Advance(time.Minute)
	}
	low, crit, med, high := ids[0], ids[1], ids[2], ids[3]
	// The oldest item is edited last: the latest activity.
	e.set(t, low, "bob@example.com")
	approved := e.ingest(t, spec{title: "approved", sev: "low"})[0]
	e.move(t, approved, "Approved", "")
	c := e.as(t, responder)
	tests := []struct {
		query string
		want  []int64 // the New column, then Approved
	}{
		{"", []int64{high, med, crit, low, approved}},
		{"sort=oldest", []int64{low, crit, med, high, approved}},
		{"sort=severity", []int64{crit, high, med, low, approved}},
		{"sort=activity", []int64{low, high, med, crit, approved}},
		{"sort=severity&severity=low", []int64{low, approved}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := c.get(t, "/board?"+tt.query).wantCode(t, http.StatusOK)
			if got := cardIDs(r.body); !slices.Equal(got, tt.want) {
				t.Errorf("got cards %v, want %v", got, tt.want)
			}
			sort := parseQuery(t, tt.query).Get("sort")
			label := map[string]string{"": "newest", "oldest": "oldest (age)", "severity": "severity", "activity": "last activity"}[sort]
			r.wantBody(t, `<option value="`+sort+`" selected>`+label+`</option>`)
			if sort != "" {
				// Kept with the filters: in the board's filter, for the
				// live updates and "show more".
				r.wantBody(t, "sort="+sort)
			}
		})
	}
	t.Run("kept by show more and clear", func(t *testing.T) {
		e2 := newEnv(t, func(o *ui.Options) { o.PerColumn = 1 })
		e2.ingest(t, spec{title: "a one", sev: "low"}, spec{title: "a two", sev: "high"})
		r := e2.as(t, responder).get(t, "/board?sort=severity&q=a").wantCode(t, http.StatusOK)
		m := moreRE.FindStringSubmatch(r.body)
		if m == nil || html.UnescapeString(m[1]) != "/board?all=1&q=a&sort=severity" {
			t.Errorf("got show more %q, want the sort kept", m)
		}
		r.wantBody(t, `<a class="clear" href="/board?sort=severity">Clear filters</a>`)
	})
	t.Run("htmx asks for the sorted columns", func(t *testing.T) {
		r := c.get(t, "/board?sort=severity", "HX-Request", "true", "HX-Target", "board").wantCode(t, http.StatusOK)
		if got, want := cardIDs(r.body), []int64{crit, high, med, low, approved}; !slices.Equal(got, want) {
			t.Errorf("got cards %v, want %v", got, want)
		}
	})
	t.Run("unknown sort", func(t *testing.T) {
		c.get(t, "/board?sort=chaos").wantCode(t, http.StatusBadRequest).wantBody(t, "unknown sort")
	})
}

func parseQuery(t *testing.T, q string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestBoardSearchEntities: the board's search finds items by their
// alerts' entities, and the live updates' card filter agrees with it.
func TestBoardSearchEntities(t *testing.T) {
	e := newEnv(t)
	hash := "44d88612fea8a8f36de82e1278abb02f"
	web := e.ingest(t, spec{title: "Failed SSH brute force", entities: []alert.Entity{{Kind: alert.EntityHost, Value: "vm-web-01"},
		{Kind: alert.EntityIP, Value: "203.0.113.7"}}})[0]
	jorg := e.ingest(t, spec{title: "Impossible travel", entities: []alert.Entity{{Kind: alert.EntityAccount, Value: "Jörg.Müller@contoso.com"}}})[0]
	mal := e.ingest(t, spec{title: "Malware detected", entities: []alert.Entity{{Kind: alert.EntityFileHash, Value: hash},
		{Kind: alert.EntityURL, Value: "https://evil.example/payload.exe"}}})[0]
	plain := e.ingest(t, spec{title: "Disk almost full on db-1"})[0]
	all := []int64{web, jorg, mal, plain}
	c := e.as(t, responder)
	tests := []struct {
		name, q string
		want    []int64
	}{
		{"host", "VM-WEB-01", []int64{web}},
		{"ip", "203.0.113.7", []int64{web}},
		{"account, any case, non-ASCII", "jÖRG.MÜLLER", []int64{jorg}},
		{"hash", strings.ToUpper(hash[:12]), []int64{mal}},
		{"url", "evil.example/payload", []int64{mal}},
		{"title still", "disk almost", []int64{plain}},
		{"nothing", "vm-web-02", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{"q": {tt.q}}.Encode()
			r := c.get(t, "/board?"+q).wantCode(t, http.StatusOK)
			if got := cardIDs(r.body); !slices.Equal(sorted(got), sorted(tt.want)) {
				t.Errorf("board got %v, want %v", got, tt.want)
			}
			// The live update of each card applies the same rule.
			for _, id := range all {
				code := http.StatusNoContent
				if slices.Contains(tt.want, id) {
					code = http.StatusOK
				}
				c.get(t, idPath("/board/cards/%d?", id)+q, "HX-Request", "true").wantCode(t, code)
			}
		})
	}
}

func TestBoardMineLink(t *testing.T) {
	e := newEnv(t)
	mine := e.ingest(t, spec{title: "mine"})[0]
	e.set(t, mine, email[responder])
	theirs := e.ingest(t, spec{title: "theirs"})[0]
	c := e.as(t, responder)
	mineRE := regexp.MustCompile(`<a class="mine button" href="([^"]*)"[^>]*>([^<]*)</a>`)
	tests := []struct {
		query, wantHref, wantText string
		wantCards                 []int64
	}{
		{"", "/board?assignee=me", "Mine", []int64{theirs, mine}},
		{"severity=medium&sort=oldest", "/board?assignee=me&severity=medium&sort=oldest", "Mine", []int64{mine, theirs}},
		{"assignee=me&sort=oldest", "/board?sort=oldest", "Everyone's", []int64{mine}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := c.get(t, "/board?"+tt.query).wantCode(t, http.StatusOK)
			m := mineRE.FindStringSubmatch(r.body)
			if m == nil {
				t.Fatal("no mine link")
			}
			if href := html.UnescapeString(m[1]); href != tt.wantHref || m[2] != tt.wantText {
				t.Errorf("got %q → %s, want %q → %s", m[2], href, tt.wantText, tt.wantHref)
			}
			if got := cardIDs(r.body); !slices.Equal(got, tt.wantCards) {
				t.Errorf("got cards %v, want %v", got, tt.wantCards)
			}
		})
	}
}

func TestAssignToMe(t *testing.T) {
	e := newEnv(t)
	ids := e.ingest(t, spec{title: "one", sev: "high"}, spec{title: "two", sev: "high"}, spec{title: "three"},
		spec{title: "four"}, spec{title: "five"})
	e.set(t, ids[3], "bob@example.com")
	c := e.as(t, responder)
	me := email[responder]
	assignPath := func(id int64) string { return idPath("/items/%d/assign", id) }
	board := e.srv.URL + "/board?severity=high&sort=oldest"

	t.Run("viewers are not offered it, and are refused", func(t *testing.T) {
		v := e.as(t, viewer)
		v.get(t, "/board").wantCode(t, http.StatusOK).wantNoBody(t, "Assign to me")
		v.post(t, assignPath(ids[4]), url.Values{"rev": {"1"}}).wantCode(t, http.StatusForbidden)
		if got := e.item(t, ids[4]).Assignee; got != "" {
			t.Errorf("got assignee %q after a viewer's try, want none", got)
		}
	})
	t.Run("offered on others' cards only", func(t *testing.T) {
		e.set(t, ids[2], me)
		r := c.get(t, "/board").wantCode(t, http.StatusOK)
		for _, id := range ids {
			has := strings.Contains(cardOf(t, r.body, id), "Assign to me")
			if want := id != ids[2]; has != want {
				t.Errorf("card %d offers Assign to me: %v, want %v", id, has, want)
			}
		}
	})
	t.Run("without JavaScript", func(t *testing.T) {
		r := c.post(t, assignPath(ids[0]), url.Values{"rev": {"1"}}, "Referer", board).wantCode(t, http.StatusSeeOther)
		r.wantLocation(t, "/board?severity=high&sort=oldest")
		it := e.item(t, ids[0])
		if it.Assignee != me || it.Rev != 2 {
			t.Errorf("got assignee %q rev %d, want %s rev 2", it.Assignee, it.Rev, me)
		}
		tl := e.timeline(t, ids[0])
		if last := tl[len(tl)-1]; last.Actor != me || last.Kind != workitem.KindUpdate {
			t.Errorf("got last entry %+v, want the edit by %s", last, me)
		}
		// Back to the plain board from anywhere else.
		c.post(t, assignPath(ids[4]), url.Values{"rev": {"1"}}, "Referer", "https://evil.example/board?x=1").
			wantCode(t, http.StatusSeeOther).wantLocation(t, "/board")
	})
	t.Run("stale card", func(t *testing.T) {
		c.post(t, assignPath(ids[1]), url.Values{"rev": {"7"}}).wantCode(t, http.StatusConflict).
			wantBody(t, "someone else changed this item meanwhile")
		if got := e.item(t, ids[1]).Assignee; got != "" {
			t.Errorf("got assignee %q, want none after a stale assign", got)
		}
		c.post(t, assignPath(ids[1]), url.Values{"rev": {"x"}}).wantCode(t, http.StatusBadRequest).wantBody(t, "rev:")
	})
	t.Run("htmx gets the card back", func(t *testing.T) {
		r := c.post(t, assignPath(ids[1]), url.Values{"rev": {"1"}}, "HX-Request", "true", "HX-Current-URL", board).
			wantCode(t, http.StatusOK)
		body := strings.TrimSpace(r.body)
		if !strings.HasPrefix(body, `<li class="card sev-high" id="card-`+itoa(ids[1])+`"`) || len(cardIDs(body)) != 1 {
			t.Fatalf("got %.200q, want the card", body)
		}
		r.wantBody(t, `<span class="avatar sm" aria-hidden="true">RR</span>`+me+`</span>`, `data-rev="2"`).wantNoBody(t, "Assign to me")
		var got map[string]int
		if err := json.Unmarshal([]byte(r.hdr.Get("X-Board-Counts")), &got); err != nil || got["New"] != 2 {
			t.Errorf("got X-Board-Counts %q, want the counts under severity=high (New 2)", r.hdr.Get("X-Board-Counts"))
		}
	})
	t.Run("htmx, the card leaves the filter", func(t *testing.T) {
		r := c.post(t, assignPath(ids[3]), url.Values{"rev": {"2"}}, "HX-Request", "true",
			"HX-Current-URL", e.srv.URL+"/board?assignee=bob%40example.com").wantCode(t, http.StatusOK)
		if strings.TrimSpace(r.body) != "" {
			t.Errorf("got %.200q, want nothing: the card no longer matches", r.body)
		}
		if got := e.item(t, ids[3]).Assignee; got != me {
			t.Errorf("got assignee %q, want %s", got, me)
		}
	})
}

// TestBoardCounts: counts read with thousands separators.
func TestBoardCounts(t *testing.T) {
	e := newEnv(t, func(o *ui.Options) { o.PerColumn = 2 })
	specs := make([]spec, 1234)
	for i := range specs {
		specs[i] = spec{title: fmt.Sprintf("bulk %d", i)}
	}
	e.ingest(t, specs...)
	c := e.as(t, responder)
	c.get(t, "/board").wantCode(t, http.StatusOK).wantBody(t, `<span class="muted total">1,234 items</span>`,
		`<span class="count" data-count="New" aria-label="1,234 items">1,234</span>`, `>Show 1,232 more</a>`)
	c.get(t, "/triage").wantCode(t, http.StatusOK).wantBody(t, `<span class="muted total">1,234 new</span>`,
		"Showing the oldest 500 of 1,234.")
}

// TestBoardHidesMerged: a Problem item merged into its incident's item
// shows on neither the board nor triage, nor in a live update.
func TestBoardHidesMerged(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	problem := e.ingest(t, spec{source: "defender", id: "def-alert-1", title: "Suspicious process on vm-web-01"})[0]
	kept := e.ingest(t, spec{title: "unrelated"})[0]
	in := alert.Incident{Source: "sentinel", SourceID: "inc-merge", Title: "Incident with the Defender alert",
		Severity: alert.SeverityHigh, Members: []alert.Member{{Source: "defender", SourceID: "def-alert-1"}}}
	if err := in.Normalize(e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := e.db.UpsertIncident(ctx, e.items.Process(), "token:test", in)
	if err != nil {
		t.Fatal(err)
	}
	if it := e.item(t, problem); it.MergedInto != res.WorkItemID {
		t.Fatalf("got item %d merged into %d, want into %d (the incident's item)", problem, it.MergedInto, res.WorkItemID)
	}
	c := e.as(t, responder)
	for _, path := range []string{"/board", "/board?all=1", "/board?sort=severity"} {
		r := c.get(t, path).wantCode(t, http.StatusOK)
		if got := cardIDs(r.body); slices.Contains(got, problem) || !slices.Contains(got, kept) {
			t.Errorf("%s: got cards %v, want %d and not the merged %d", path, got, kept, problem)
		}
	}
	r := c.get(t, "/triage").wantCode(t, http.StatusOK)
	var rows []int64
	for _, m := range triageRowRE.FindAllStringSubmatch(r.body, -1) {
		rows = append(rows, atoi(m[1]))
	}
	if slices.Contains(rows, problem) || !slices.Contains(rows, kept) {
		t.Errorf("triage got rows %v, want %d and not the merged %d", rows, kept, problem)
	}
	c.get(t, idPath("/board/cards/%d", problem), "HX-Request", "true").wantCode(t, http.StatusNoContent)
}
