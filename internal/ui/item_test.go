package ui_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/workitem"
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

	t.Run("timeline newest first", func(t *testing.T) {
		tl := e.timeline(t, id)
		var want []string
		for _, en := range slices.Backward(tl) {
			want = append(want, html.EscapeString(en.Message))
		}
		var got []string
		for _, m := range msgRE.FindAllStringSubmatch(page.body, -1) {
			got = append(got, m[1])
		}
		if !slices.Equal(got, want) {
			t.Errorf("got timeline\n%q\nwant newest first\n%q", got, want)
		}
		if len(want) < 8 {
			t.Errorf("got %d entries, want the creation, 3 links, 2 comments, 3 task changes, the move and the write", len(want))
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
		{"incident", []string{"id inc-1", "3 alerts"}, nil},
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
