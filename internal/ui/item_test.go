package ui_test

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/twoway"
	"github.com/vigil-soc/vigil/internal/ui"
	"github.com/vigil-soc/vigil/internal/workitem"
	"github.com/vigil-soc/vigil/internal/writeback"
)

// Portal addresses the seeded payloads carry.
const (
	incidentURL = "https://portal.azure.com/#asset/Microsoft_Azure_Security_Insights/Incident/inc-1"
	alertURI    = "https://portal.azure.com/#blade/Microsoft_Azure_Security/AlertBlade/alertId/s1"
	alertWebURL = "https://security.microsoft.com/alerts/da-s2"
)

// seedIncidentItem stores n Sentinel alerts with entities and raw payloads
// and an incident grouping them, and returns the incident's item. The first
// alert's payload has properties.alertUri, the second a top-level
// alertWebUrl, the incident properties.incidentUrl.
func seedIncidentItem(t testing.TB, e *env, key string, n int) int64 {
	t.Helper()
	specs := make([]spec, n)
	refs := make([]string, n)
	for i := range specs {
		id := fmt.Sprintf("%s-s%d", key, i+1)
		refs[i] = id
		raw := fmt.Sprintf(`{"name":%q,"properties":{"alertDisplayName":"Suspicious sign-in %d","vendorName":"Microsoft","tactics":["InitialAccess","CredentialAccess"],"extendedProperties":{"query":"SigninLogs | where ResultType == 0 | take 10"}}}`, id, i)
		switch i {
		case 0:
			raw = fmt.Sprintf(`{"name":%q,"properties":{"alertUri":%q,"alertDisplayName":"Suspicious sign-in"}}`, id, alertURI)
		case 1:
			raw = fmt.Sprintf(`{"id":%q,"alertWebUrl":%q,"title":"Anomalous token"}`, id, alertWebURL)
		}
		specs[i] = spec{source: "sentinel", id: id, title: fmt.Sprintf("Suspicious sign-in %d for j.doe", i+1), sev: alert.SeverityHigh,
			raw: raw, entities: []alert.Entity{
				{Kind: alert.EntityIP, Value: fmt.Sprintf("203.0.113.%d", i+1)},
				{Kind: alert.EntityAccount, Value: "j.doe", Attrs: map[string]string{"upn": "j.doe@example.com"}},
				{Kind: alert.EntityHost, Value: fmt.Sprintf("web-%02d", i+1)},
			}}
	}
	e.ingest(t, specs...)
	in := alert.Incident{Source: "sentinel", SourceID: key, Title: "Multi-stage attack on j.doe (" + key + ")",
		Severity: alert.SeverityHigh, AlertRefs: refs,
		Raw: []byte(fmt.Sprintf(`{"name":%q,"properties":{"incidentUrl":%q,"incidentNumber":42}}`, key, incidentURL))}
	if err := in.Normalize(e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := e.db.UpsertIncident(context.Background(), e.items.Process(), "token:test", in)
	if err != nil {
		t.Fatalf("upsert incident: %v", err)
	}
	return res.WorkItemID
}

var msgRE = regexp.MustCompile(`<p class="msg">([^<]*)</p>`)

func TestItemPage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := seedIncidentItem(t, e, "inc-1", 3)
	rob := e.actor(responder)
	for _, body := range []string{"first look: the IP is a known VPN exit", "<script>alert(1)</script>"} {
		if _, err := e.items.Comment(ctx, rob, id, body); err != nil {
			t.Fatal(err)
		}
	}
	task, err := e.items.AddTask(ctx, rob, id, "reset j.doe's password")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.items.AddTask(ctx, rob, id, "check other sign-ins"); err != nil {
		t.Fatal(err)
	}
	done := true
	if _, err := e.items.UpdateTask(ctx, rob, id, task.ID, nil, &done); err != nil {
		t.Fatal(err)
	}
	e.move(t, id, "Approved", "")
	msg := enqueueFailed(t, e, id, "inc-1-close")
	c := e.as(t, responder)
	c.get(t, idPath("/items/%d", id)+"?before=soon").wantCode(t, http.StatusBadRequest).
		wantBody(t, "before: must be a non-negative integer")
	page := c.get(t, idPath("/items/%d", id)).wantCode(t, http.StatusOK)

	messages := func(body string) []string {
		var got []string
		for _, m := range msgRE.FindAllStringSubmatch(body, -1) {
			got = append(got, m[1])
		}
		return got
	}
	t.Run("timeline: decisions and actions, newest first", func(t *testing.T) {
		var want []string
		for _, en := range slices.Backward(e.timeline(t, id)) {
			if en.Kind != workitem.KindSync {
				want = append(want, html.EscapeString(en.Message))
			}
		}
		if got := messages(page.body); !slices.Equal(got, want) {
			t.Errorf("got timeline\n%q\nwant newest first, without sync traffic\n%q", got, want)
		}
		if len(want) < 8 {
			t.Errorf("got %d entries, want the creation, 3 links, 2 comments, 3 task changes and the move", len(want))
		}
		page.wantBody(t, "1 sync entry (write-backs queued, sent, retried) not shown.",
			`<a href="`+idPath("/items/%d", id)+`?timeline=all#h-timeline">Show sync traffic</a>`).
			wantNoBody(t, "queued write-back inc-1-close")
	})
	t.Run("timeline: all, one click away", func(t *testing.T) {
		var want []string
		for _, en := range slices.Backward(e.timeline(t, id)) {
			want = append(want, html.EscapeString(en.Message))
		}
		all := c.get(t, idPath("/items/%d", id)+"?timeline=all").wantCode(t, http.StatusOK)
		if got := messages(all.body); !slices.Equal(got, want) || got[0] != "queued write-back inc-1-close" {
			t.Errorf("got timeline\n%q\nwant every entry newest first, the write first\n%q", got, want)
		}
		all.wantBody(t, `<a href="`+idPath("/items/%d", id)+`#h-timeline">Decisions and actions only</a>`)
		// An htmx refresh of the page (a live update, a form) keeps the
		// choice the address carries.
		frag := c.get(t, idPath("/items/%d", id), "HX-Request", "true", "HX-Target", "item-main",
			"HX-Current-URL", e.srv.URL+idPath("/items/%d", id)+"?timeline=all")
		if got := messages(frag.body); !slices.Equal(got, want) {
			t.Errorf("htmx refresh of ?timeline=all: got\n%q\nwant\n%q", got, want)
		}
	})
	t.Run("summary before the timeline", func(t *testing.T) {
		summary, timeline, comments := strings.Index(page.body, `id="h-summary"`), strings.Index(page.body, `id="h-timeline"`),
			strings.Index(page.body, `id="h-comments"`)
		if summary < 0 || !(summary < timeline && timeline < comments) {
			t.Errorf("got summary at %d, timeline at %d, comments at %d; want the summary first, then the timeline", summary, timeline, comments)
		}
		sum := page.body[summary:timeline]
		for _, want := range []string{`title="severity high"`, "<li>Initial Access</li><li>Credential Access</li>",
			`<span class="entity entity-ip">ip</span> <code>203.0.113.1</code>`, "<code>203.0.113.3</code>", "<code>web-02</code>",
			`href="` + incidentURL + `"`, `href="` + alertWebURL + `"`} {
			if !strings.Contains(sum, want) {
				t.Errorf("summary lacks %q:\n%s", want, sum)
			}
		}
		if n := strings.Count(sum, "<code>j.doe</code>"); n != 1 {
			t.Errorf("summary lists the account j.doe %d times, want once", n)
		}
	})

	tests := []struct {
		name   string
		want   []string
		absent []string
	}{
		{"header", []string{"<h1>Multi-stage attack on j.doe (inc-1)</h1>", `class="state state-approved">Approved<`,
			`action="` + idPath("/items/%d/move", id) + `"`, `value="Active"`}, nil},
		{"comments, escaped", []string{"first look: the IP is a known VPN exit", "&lt;script&gt;alert(1)&lt;/script&gt;",
			`<strong>` + email[responder] + `</strong>`}, []string{"<script>alert(1)"}},
		{"tasks", []string{`<span class="count">1/2</span>`, "reset j.doe&#39;s password", "check other sign-ins",
			`aria-checked="true"`, `aria-checked="false"`}, nil},
		{"alerts with entities", []string{"Suspicious sign-in 1 for j.doe", "Suspicious sign-in 3 for j.doe",
			"<code>203.0.113.1</code>", "<code>web-03</code>", "upn=j.doe@example.com", `entity-account`}, nil},
		{"raw payloads", []string{"raw payload", "&#34;alertWebUrl&#34;: &#34;" + alertWebURL + "&#34;",
			"&#34;incidentNumber&#34;: 42", "&#34;tactics&#34;: [\n"}, nil},
		{"incident", []string{`id <code title="inc-1">inc-1</code>`, "3 alerts"}, nil},
		{"portal links", []string{
			`href="` + incidentURL + `" target="_blank" rel="noopener noreferrer">Sentinel incident inc-1: open in Sentinel`,
			`href="` + alertURI + `" target="_blank" rel="noopener noreferrer">Sentinel alert inc-1-s1: open in Defender for Cloud`,
			`href="` + alertWebURL + `" target="_blank" rel="noopener noreferrer">Sentinel alert inc-1-s2: open alert in Defender XDR`,
		}, nil},
		{"writes", []string{"<strong>sentinel</strong> incident.close", `class="wstate">failed<`, "1 failed",
			"403 Forbidden: the app lacks Microsoft Sentinel Responder",
			fmt.Sprintf(`action="/items/%d/writes/%d/retry"`, id, msg.ID)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page.wantBody(t, tt.want...).wantNoBody(t, tt.absent...)
		})
	}

	t.Run("fragment for htmx", func(t *testing.T) {
		r := c.get(t, idPath("/items/%d", id), "HX-Request", "true", "HX-Target", "item-main").wantCode(t, http.StatusOK)
		if body := strings.TrimSpace(r.body); !strings.HasPrefix(body, `<div id="item-main"`) {
			t.Errorf("got %.100q, want the #item-main fragment", body)
		}
		r.wantNoBody(t, "<!doctype")
	})
	t.Run("older entries", func(t *testing.T) {
		tl := e.timeline(t, id)
		r := c.get(t, fmt.Sprintf("/items/%d?before=%d", id, tl[2].ID)).wantCode(t, http.StatusOK)
		got := msgRE.FindAllStringSubmatch(r.body, -1)
		if len(got) != 2 || got[0][1] != html.EscapeString(tl[1].Message) || got[1][1] != html.EscapeString(tl[0].Message) {
			t.Errorf("got %q before entry %d, want the two oldest, newest first", got, tl[2].ID)
		}
	})
	for _, tt := range []struct {
		path string
		code int
	}{{"/items/999999", http.StatusNotFound}, {"/items/abc", http.StatusBadRequest}, {"/items/0", http.StatusBadRequest}} {
		t.Run("bad "+tt.path, func(t *testing.T) {
			c.get(t, tt.path).wantCode(t, tt.code).wantBody(t, "Back to the board")
		})
	}
}

func TestRetryWrite(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ids := e.ingest(t, spec{title: "write-back failed"}, spec{title: "another item"})
	id, other := ids[0], ids[1]
	msg := enqueueFailed(t, e, id, "w1")
	otherMsg := enqueueFailed(t, e, other, "w2")
	c := e.as(t, responder)
	retry := func(item, m int64) string { return fmt.Sprintf("/items/%d/writes/%d/retry", item, m) }

	e.clk.Advance(42e9)
	before := len(e.timeline(t, id))
	c.post(t, retry(id, msg.ID), nil).wantCode(t, http.StatusSeeOther).wantLocation(t, idPath("/items/%d", id))
	got, err := e.db.GetOutbox(ctx, msg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != outbox.Pending || !got.NextAt.Equal(e.clk.Now()) {
		t.Errorf("got write %s due %v, want pending and due now (%v)", got.State, got.NextAt, e.clk.Now())
	}
	tl := e.timeline(t, id)
	if len(tl) != before+1 {
		t.Fatalf("got %d timeline entries, want %d", len(tl), before+1)
	}
	last := tl[len(tl)-1]
	if want := "retry now requested: sentinel incident.close on incident-w1"; last.Message != want ||
		last.Actor != email[responder] || last.Kind != workitem.KindSync {
		t.Errorf("got entry %+v, want %q by %s", last, want, email[responder])
	}

	t.Run("htmx gets the refreshed item", func(t *testing.T) {
		r := c.post(t, retry(id, msg.ID), nil, "HX-Request", "true", "HX-Target", "item-main").wantCode(t, http.StatusOK)
		if body := strings.TrimSpace(r.body); !strings.HasPrefix(body, `<div id="item-main"`) {
			t.Errorf("got %.100q, want the #item-main fragment", body)
		}
		r.wantBody(t, `class="wstate">pending<`, "retry now requested")
	})
	t.Run("a write of another item", func(t *testing.T) {
		c.post(t, retry(id, otherMsg.ID), nil).wantCode(t, http.StatusNotFound)
		if m, _ := e.db.GetOutbox(ctx, otherMsg.ID); m.State != outbox.Failed {
			t.Errorf("got the other item's write %s, want it still failed", m.State)
		}
	})
	t.Run("a delivered write", func(t *testing.T) {
		if err := e.db.CompleteOutbox(ctx, otherMsg.ID); err != nil {
			t.Fatal(err)
		}
		c.post(t, retry(other, otherMsg.ID), nil).wantCode(t, http.StatusNotFound)
		c.get(t, idPath("/items/%d", other)).wantCode(t, http.StatusOK).wantBody(t, `class="wstate">done<`).wantNoBody(t, "Retry now")
	})
}

func TestItemForms(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.ingest(t, spec{title: "edit me", sev: "low"})[0]
	c := e.as(t, responder)
	itemPath := idPath("/items/%d", id)

	tests := []struct {
		name     string
		path     string
		form     url.Values
		htmx     bool
		wantCode int
		wantBody string
		check    func(t *testing.T)
	}{
		{"comment", itemPath + "/comments", url.Values{"body": {"  checked the proxy logs  "}}, false, http.StatusSeeOther, "", func(t *testing.T) {
			cs, _ := e.db.Comments(ctx, id)
			if len(cs) != 1 || cs[0].Body != "checked the proxy logs" || cs[0].Author != email[responder] {
				t.Errorf("got comments %+v", cs)
			}
		}},
		{"comment with htmx", itemPath + "/comments", url.Values{"body": {"second"}}, true, http.StatusOK, "<p class=\"body\">second</p>", nil},
		{"empty comment", itemPath + "/comments", url.Values{"body": {"  "}}, false, http.StatusBadRequest, "body: must not be empty", nil},
		{"task", itemPath + "/tasks", url.Values{"title": {"isolate the host"}}, false, http.StatusSeeOther, "", func(t *testing.T) {
			ts, _ := e.db.Tasks(ctx, id)
			if len(ts) != 1 || ts[0].Title != "isolate the host" || ts[0].Done {
				t.Errorf("got tasks %+v", ts)
			}
		}},
		{"fields", itemPath + "/fields", url.Values{"assignee": {email[responder]}, "severity": {"critical"}, "tags": {"B, a, b"}, "rev": {"1"}},
			false, http.StatusSeeOther, "", func(t *testing.T) {
				it := e.item(t, id)
				if it.Assignee != email[responder] || it.Severity != alert.SeverityCritical || !slices.Equal(it.Tags, []string{"a", "b"}) {
					t.Errorf("got %q %s %v, want the responder, critical, [a b]", it.Assignee, it.Severity, it.Tags)
				}
			}},
		{"fields, stale", itemPath + "/fields", url.Values{"assignee": {"someone"}, "rev": {"1"}}, false, http.StatusConflict,
			"someone else changed this item", func(t *testing.T) {
				if it := e.item(t, id); it.Assignee != email[responder] {
					t.Errorf("got assignee %q after a stale edit", it.Assignee)
				}
			}},
		{"fields, bad severity", itemPath + "/fields", url.Values{"severity": {"dire"}}, true, http.StatusBadRequest, "unknown severity", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.htmx {
				hdr = []string{"HX-Request", "true", "HX-Target", "item-main"}
			}
			r := c.post(t, tt.path, tt.form, hdr...).wantCode(t, tt.wantCode).wantBody(t, tt.wantBody)
			if tt.wantCode == http.StatusSeeOther {
				r.wantLocation(t, itemPath)
			}
			if tt.check != nil {
				tt.check(t)
			}
		})
	}
	t.Run("tick and untick a task", func(t *testing.T) {
		ts, _ := e.db.Tasks(ctx, id)
		path := fmt.Sprintf("%s/tasks/%d", itemPath, ts[0].ID)
		for _, done := range []bool{true, false} {
			c.post(t, path, url.Values{"done": {fmt.Sprint(done)}}).wantCode(t, http.StatusSeeOther)
			ts, _ := e.db.Tasks(ctx, id)
			if ts[0].Done != done {
				t.Errorf("got done=%v, want %v", ts[0].Done, done)
			}
		}
	})
	t.Run("assign to me", func(t *testing.T) {
		adm := e.as(t, admin)
		r := adm.get(t, itemPath).wantCode(t, http.StatusOK)
		r.wantBody(t, `name="assignee" value="`+email[admin]+`" class="link">Assign to me`)
		if _, err := e.items.Get(ctx, auth.System, id); err != nil {
			t.Fatal(err)
		}
	})
}

// TestItemTactics reads MITRE tactics from each source's raw payload.
func TestItemTactics(t *testing.T) {
	e := newEnv(t)
	c := e.as(t, viewer)
	tests := []struct {
		name, source, raw string
		want              []string
	}{
		{"Sentinel alert", "sentinel", `{"properties":{"tactics":["InitialAccess","CredentialAccess"]}}`,
			[]string{"Initial Access", "Credential Access"}},
		{"Sentinel incident data", "sentinel", `{"properties":{"additionalData":{"tactics":["LateralMovement"]}}}`,
			[]string{"Lateral Movement"}},
		{"Defender for Cloud intent", "defender", `{"properties":{"intent":"PreAttack, Execution"}}`,
			[]string{"Pre Attack", "Execution"}},
		{"Defender unknown intent", "defender", `{"properties":{"intent":"Unknown"}}`, nil},
		{"Graph category that is a tactic", "graph", `{"category":"CommandAndControl"}`, []string{"Command And Control"}},
		{"Graph category that is not", "graph", `{"category":"ImpossibleTravel"}`, nil},
		{"none", "alertmanager", `{"labels":{"alertname":"DiskFull"}}`, nil},
	}
	chips := regexp.MustCompile(`<ul class="chips"[^>]*>(.*?)</ul>`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := e.ingest(t, spec{source: tt.source, raw: tt.raw, title: tt.name})[0]
			body := c.get(t, idPath("/items/%d", id)).wantCode(t, http.StatusOK).body
			var got []string
			if m := chips.FindStringSubmatch(body); m != nil {
				for _, li := range regexp.MustCompile(`<li>([^<]*)</li>`).FindAllStringSubmatch(m[1], -1) {
					got = append(got, li[1])
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got tactics %q, want %q", got, tt.want)
			}
			if tt.want == nil && !strings.Contains(body, "none named by the sources") {
				t.Error("no tactics, and the summary does not say so")
			}
		})
	}
}

// TestCommentNote checks that the comment box says where a comment goes,
// and that a comment then goes exactly there: the note and the writes
// come from the same planner.
func TestCommentNote(t *testing.T) {
	e := newEnv(t, func(o *ui.Options) {
		db := o.Records.(*store.DB)
		mirror := twoway.NewMirror(twoway.Tickets{System: "freshdesk", BaseURL: "https://vigil.example"}, db,
			o.Items.Process(), slog.New(slog.DiscardHandler))
		o.Items.WithPlanner(writeback.New(db).With(mirror))
	})
	plain := newEnv(t, func(o *ui.Options) { o.Items.WithPlanner(writeback.New(o.Records.(*store.DB))) })
	ctx := context.Background()

	withIncident := func(e *env) int64 {
		t.Helper()
		e.ingest(t, spec{source: "sentinel", id: "sa-1", title: "Suspicious sign-in"})
		in := alert.Incident{Source: "sentinel", SourceID: "inc-9", Title: "Sign-in attack", Severity: alert.SeverityHigh,
			AlertRefs: []string{"sa-1"}, Ref: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w/providers/Microsoft.SecurityInsights/Incidents/inc-9",
			Raw: []byte(`{"name":"inc-9"}`)}
		if err := in.Normalize(e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		res, err := e.db.UpsertIncident(ctx, e.items.Process(), "token:test", in)
		if err != nil {
			t.Fatal(err)
		}
		return res.WorkItemID
	}
	tests := []struct {
		name    string
		env     *env
		item    func(e *env) int64
		note    string
		targets []string
	}{
		{"local alert, no tracker", plain, func(e *env) int64 { return e.ingest(t, spec{source: "alertmanager", title: "Disk full"})[0] },
			"Comments on this item stay in vigil: it has no Sentinel incident, Graph alert or tracker to mirror them to.", nil},
		{"Sentinel incident", plain, withIncident, "Comments are mirrored to Sentinel (1 incident).", []string{"sentinel"}},
		{"Graph alert", plain, func(e *env) int64 {
			return e.ingest(t, spec{source: "graph", id: "da-1", title: "Suspicious PowerShell"})[0]
		}, "Comments are mirrored to Graph (1 alert).", []string{"graph"}},
		{"local alert, Freshdesk mirror", e, func(e *env) int64 { return e.ingest(t, spec{source: "alertmanager", title: "Disk full"})[0] },
			"Comments are mirrored to Freshdesk.", []string{"freshdesk"}},
		{"Sentinel incident and Freshdesk", e, withIncident, "Comments are mirrored to Sentinel (1 incident) and Freshdesk.",
			[]string{"sentinel", "freshdesk"}},
	}
	noteRE := regexp.MustCompile(`<p class="hint" id="comment-note">([^<]*)</p>`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.item(tt.env)
			c := tt.env.as(t, responder)
			m := noteRE.FindStringSubmatch(c.get(t, idPath("/items/%d", id)).wantCode(t, http.StatusOK).body)
			if m == nil || html.UnescapeString(m[1]) != tt.note {
				t.Fatalf("got note %q, want %q", m, tt.note)
			}
			before, _ := tt.env.db.ListOutbox(ctx, "", id, 0, 100)
			c.post(t, idPath("/items/%d/comments", id), url.Values{"body": {"checked the logs"}}).wantCode(t, http.StatusSeeOther)
			after, _ := tt.env.db.ListOutbox(ctx, "", id, 0, 100)
			var got []string
			for _, w := range after[len(before):] {
				got = append(got, w.Target)
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.targets))
			if !slices.Equal(got, want) {
				t.Errorf("the comment was written to %q; the note promised %q", got, want)
			}
		})
	}
	t.Run("viewers have no comment box", func(t *testing.T) {
		id := plain.ingest(t, spec{title: "read only"})[0]
		plain.as(t, viewer).get(t, idPath("/items/%d", id)).wantCode(t, http.StatusOK).wantNoBody(t, `id="comment-note"`)
	})
}

// TestMoveIsTheDroppedState: the move handler moves an item to the state
// it was asked for or answers 409 naming the allowed ones; it never moves
// it anywhere else, and a refused move queues no write-back. (Drops on
// the board once landed in a column the pointer had only crossed.)
func TestMoveIsTheDroppedState(t *testing.T) {
	e := newEnv(t, func(o *ui.Options) { o.Items.WithPlanner(writeback.New(o.Records.(*store.DB))) })
	ctx := context.Background()
	arm := "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Security/locations/westeurope/alerts/d-1"
	id := e.ingest(t, spec{source: "defender", id: "d-1", title: "Suspicious PowerShell", raw: fmt.Sprintf(`{"id":%q}`, arm)})[0]
	c := e.as(t, responder)
	script := []string{"X-Requested-With", "fetch"}
	steps := []struct {
		to, wantState, wantBody string
		wantCode, wantWrites    int
	}{
		{"Active", "New", "cannot move from New to Active; allowed: Approved, Removed", http.StatusConflict, 0},
		{"Verification", "New", "cannot move from New to Verification; allowed: Approved, Removed", http.StatusConflict, 0},
		{"Approved", "Approved", `data-state="Approved"`, http.StatusOK, 0},
		{"Verification", "Approved", "cannot move from Approved to Verification; allowed: Active", http.StatusConflict, 0},
		{"Active", "Active", `data-state="Active"`, http.StatusOK, 1}, // alert.inProgress to Defender
	}
	for _, s := range steps {
		before := e.item(t, id)
		queued, _ := e.db.ListOutbox(ctx, "", id, 0, 100)
		c.post(t, idPath("/items/%d/move", id), url.Values{"to": {s.to}}, script...).wantCode(t, s.wantCode).wantBody(t, s.wantBody)
		after := e.item(t, id)
		if after.State != s.wantState {
			t.Errorf("move %s → %s: item is %s, want %s", before.State, s.to, after.State, s.wantState)
		}
		if s.wantCode != http.StatusOK && after.Rev != before.Rev {
			t.Errorf("refused move %s → %s changed the item (rev %d → %d)", before.State, s.to, before.Rev, after.Rev)
		}
		if now, _ := e.db.ListOutbox(ctx, "", id, 0, 100); len(now)-len(queued) != s.wantWrites {
			t.Errorf("move %s → %s queued %d write-backs, want %d", before.State, s.to, len(now)-len(queued), s.wantWrites)
		}
	}
}
