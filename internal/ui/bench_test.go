package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// The targets: the board with 5,000 open items renders on the
// server in ≤ 100 ms p95; an item with 500 timeline entries in ≤ 50 ms.
//
//	go test ./internal/ui -run XXX -bench . -benchtime 200x -count 3

var (
	benchTitles = []string{
		"Suspicious PowerShell download cradle on %s",
		"Impossible travel activity for %s",
		"Brute force attempt against RDP on %s",
		"Storage account %s allows public blob access",
		"Malware detected: Trojan:Win32/Wacatac on %s",
		"Anomalous token issued to %s",
		"Mass download by %s from SharePoint",
		"Outbound traffic to known C2 domain from %s",
		"Disk almost full on %s",
		"Privileged role assigned outside PIM to %s",
	}
	benchSubjects = []string{"web-01", "db-prod-3", "j.doe@contoso.com", "ws-finance-17", "stcontosologs", "a.smith@contoso.com",
		"aks-node-2", "vpn-gw-1", "k.lee@contoso.com", "build-agent-9"}
	benchSources    = []string{"sentinel", "defender", "graph", "alertmanager", "suricata"}
	benchSeverities = []alert.Severity{alert.SeverityHigh, alert.SeverityMedium, alert.SeverityLow, alert.SeverityCritical, alert.SeverityInformational}
	benchTags       = [][]string{{"phishing"}, {"identity", "vip"}, {"cloud"}, {"endpoint", "ransomware"}, {"pci"}}
	benchAssignees  = []string{"rob.responder@example.com", "ana.admin@example.com", "m.garcia@example.com", "t.nguyen@example.com",
		"s.okafor@example.com"}
)

// seedOpenItems stores n items spread over the open states (40% New, 20%
// Approved, 25% Active, 15% Verification), a third of them tagged and half
// of them assigned.
func seedOpenItems(b *testing.B, e *env, n int) map[string]int {
	b.Helper()
	ctx := context.Background()
	const batch = 500
	var ids []int64
	for start := 0; start < n; start += batch {
		alerts := make([]alert.Alert, 0, batch)
		for i := start; i < min(start+batch, n); i++ {
			title := fmt.Sprintf(benchTitles[i%len(benchTitles)], benchSubjects[(i/len(benchTitles))%len(benchSubjects)])
			src := benchSources[i%len(benchSources)]
			a := alert.Alert{Source: src, SourceID: fmt.Sprintf("%s-%06d", src, i), Title: title,
				Severity: benchSeverities[(i/3)%len(benchSeverities)],
				Entities: []alert.Entity{{Kind: alert.EntityHost, Value: benchSubjects[i%len(benchSubjects)]}},
				Raw:      []byte(fmt.Sprintf(`{"id":%d,"title":%q}`, i, title))}
			if err := a.Normalize(e.clk.Now()); err != nil {
				b.Fatal(err)
			}
			alerts = append(alerts, a)
		}
		res, err := e.db.Ingest(ctx, e.items.Process(), "token:bench", alerts)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			ids = append(ids, r.WorkItemID)
		}
	}
	perState := map[string]int{}
	for i, id := range ids {
		state := "New"
		switch p := i % 20; {
		case p >= 17:
			state = "Verification"
		case p >= 12:
			state = "Active"
		case p >= 8:
			state = "Approved"
		}
		perState[state]++
		tagged, assigned := i%3 == 0, i%2 == 0
		if state == "New" && !tagged && !assigned {
			continue
		}
		_, err := e.db.UpdateWorkItem(ctx, id, func(it *workitem.Item) ([]workitem.Entry, error) {
			it.State = state
			if tagged {
				it.Tags = benchTags[i%len(benchTags)]
			}
			if assigned {
				it.Assignee = benchAssignees[i%len(benchAssignees)]
			}
			return []workitem.Entry{{Actor: "bench", Kind: workitem.KindTransition, Message: "moved from New to " + state}}, nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return perState
}

// sessionCookie signs in as the responder and returns the cookie.
func sessionCookie(b *testing.B, e *env) *http.Cookie {
	b.Helper()
	return &http.Cookie{Name: "vigil_session", Value: e.as(b, responder).cookie}
}

// measure serves req b.N times straight to the handler (no network, and
// the body discarded) and reports the median and 95th percentile besides
// ns/op.
func measure(b *testing.B, e *env, req *http.Request, check func(*httptest.ResponseRecorder)) {
	b.Helper()
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("GET %s: %d %.300s", req.URL, rec.Code, rec.Body)
	}
	check(rec)
	size := rec.Body.Len()
	durs := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	for b.Loop() {
		w := &discard{h: http.Header{}}
		start := time.Now()
		e.h.ServeHTTP(w, req)
		durs = append(durs, time.Since(start))
		if w.code != http.StatusOK || w.n != size {
			b.Fatalf("GET %s: %d, %d bytes, want 200 and %d", req.URL, w.code, w.n, size)
		}
	}
	slices.Sort(durs)
	pct := func(p float64) float64 {
		return float64(durs[min(len(durs)-1, int(p*float64(len(durs))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.95), "p95-ms")
	b.ReportMetric(float64(size)/1024, "KiB/page")
}

// discard is a ResponseWriter that keeps only the status and the size, so
// that the benchmarks measure the server's work, not a recorder's copy.
type discard struct {
	h    http.Header
	code int
	n    int
}

func (d *discard) Header() http.Header { return d.h }

func (d *discard) WriteHeader(code int) {
	if d.code == 0 {
		d.code = code
	}
}

func (d *discard) Write(p []byte) (int, error) {
	d.WriteHeader(http.StatusOK)
	d.n += len(p)
	return len(p), nil
}

func BenchmarkBoard(b *testing.B) {
	e := newEnv(b)
	perState := seedOpenItems(b, e, 5000)
	cookie := sessionCookie(b, e)
	for _, bc := range []struct {
		name, query string
		wantCards   int
	}{
		{"default", "", 4 * 200},
		{"all", "all=1", 5000},
		{"filtered", "severity=high&q=powershell", -1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/board?"+bc.query, nil)
			req.AddCookie(cookie)
			measure(b, e, req, func(rec *httptest.ResponseRecorder) {
				body := rec.Body.String()
				if n := len(cardIDs(body)); bc.wantCards >= 0 && n != bc.wantCards {
					b.Fatalf("got %d cards, want %d", n, bc.wantCards)
				}
				if got := counts(body); bc.wantCards >= 0 && !mapsEqual(got, map[string]int{"New": perState["New"],
					"Approved": perState["Approved"], "Active": perState["Active"], "Verification": perState["Verification"],
					"Removed": 0, "Closed": 0}) {
					b.Fatalf("got counts %v, want %v", got, perState)
				}
			})
		})
	}
}

func BenchmarkItemTimeline500(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	id := seedIncidentItem(b, e, "inc-bench", 8)
	rob := e.actor(responder)
	for i := range 20 {
		body := fmt.Sprintf("Checked the sign-in logs for the %dth time: the source IP 203.0.113.%d belongs to the corporate VPN pool, "+
			"but the user agent is unusual. Asked the user to confirm.", i+1, i)
		if _, err := e.items.Comment(ctx, rob, id, body); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 10 {
		t, err := e.items.AddTask(ctx, rob, id, fmt.Sprintf("Containment step %d: isolate host web-%02d", i+1, i))
		if err != nil {
			b.Fatal(err)
		}
		if i%2 == 0 {
			done := true
			if _, err := e.items.UpdateTask(ctx, rob, id, t.ID, nil, &done); err != nil {
				b.Fatal(err)
			}
		}
	}
	for i := range 5 {
		m := outbox.Message{WorkItemID: id, Target: []string{"sentinel", "graph", "defender"}[i%3], Op: "incident.comment",
			Resource: fmt.Sprintf("/subscriptions/0000/incidents/inc-bench-%d", i), IdemKey: fmt.Sprintf("bench-%d", i)}
		if _, err := e.db.Enqueue(ctx, []outbox.Message{m}, []workitem.Entry{{Actor: "vigil", Kind: workitem.KindSync,
			Message: "queued write-back: " + m.Target + " " + m.Op}}); err != nil {
			b.Fatal(err)
		}
	}
	e.move(b, id, "Approved", "")
	e.move(b, id, "Active", "")
	have := len(e.timeline(b, id))
	for i := have; i < 500; i++ {
		var err error
		switch i % 4 {
		case 0:
			err = e.db.AppendTimeline(ctx, id, "vigil", workitem.KindSync,
				fmt.Sprintf("write-back sent: sentinel incident.comment on inc-bench (attempt %d)", i%3+1),
				map[string]any{"outbox_id": i, "target": "sentinel", "status": 200, "duration_ms": 120 + i%50})
		case 1:
			err = e.db.AppendTimeline(ctx, id, "token:sentinel-sync", workitem.KindIncident,
				fmt.Sprintf("incident inc-bench updated (version %d, high, status in_progress)", i),
				map[string]any{"incident_id": 1, "version": i})
		case 2:
			err = e.db.AppendTimeline(ctx, id, email[responder], workitem.KindUpdate,
				fmt.Sprintf("tags changed from %q to %q", "identity", "identity, vip"),
				map[string]string{"field": "tags", "from": "identity", "to": "identity, vip"})
		default:
			err = e.db.AppendTimeline(ctx, id, "token:graph-sync", workitem.KindAlert,
				fmt.Sprintf("alert %d fired again", i%8+1), nil)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	if n := len(e.timeline(b, id)); n != 500 {
		b.Fatalf("got %d timeline entries, want 500", n)
	}
	cookie := sessionCookie(b, e)
	req := httptest.NewRequest("GET", fmt.Sprintf("/items/%d", id), nil)
	req.AddCookie(cookie)
	measure(b, e, req, func(rec *httptest.ResponseRecorder) {
		body := rec.Body.String()
		if n := len(msgRE.FindAllString(body, -1)); n != 500 {
			b.Fatalf("got %d timeline entries on the page, want 500", n)
		}
		if n := strings.Count(body, `<details class="record"`); n != 9 {
			b.Fatalf("got %d alerts and incidents on the page, want 9", n)
		}
	})
}
