package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/config"
)

// dashboardPath is the Grafana dashboard operators import
// (docs/grafana/README.md).
const dashboardPath = "../../docs/grafana/vigil.json"

// newMetricsApp builds the server as `vigil serve` does, on a throw-away
// SQLite store, without starting it.
func newMetricsApp(t *testing.T) *App {
	t.Helper()
	cfg := config.Default()
	cfg.Data = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	a, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	t.Cleanup(func() {
		a.UI.Close()
		a.DB.Close()
	})
	return a
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// registeredMetrics names every vigil_ metric family the server's
// registry defines, from the collectors' descriptions: a vector with no
// child yet (no page opened, no notification sent) is not gathered, but
// it is described.
func registeredMetrics(t *testing.T, reg *prometheus.Registry) map[string]bool {
	t.Helper()
	ch := make(chan *prometheus.Desc)
	go func() { reg.Describe(ch); close(ch) }()
	out := map[string]bool{}
	for d := range ch {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read the name of %s", d)
		}
		if strings.HasPrefix(m[1], "vigil_") {
			out[m[1]] = true
		}
	}
	return out
}

// grafanaDashboard is the part of a dashboard the test reads.
type grafanaDashboard struct {
	SchemaVersion int            `json:"schemaVersion"`
	Panels        []grafanaPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type grafanaPanel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"` // a collapsed row's
}

var metricName = regexp.MustCompile(`vigil_[a-z0-9_]+`)

// dashboardMetrics reads the dashboard and returns, for each metric name
// its queries use, the titles of the panels that use it.
func dashboardMetrics(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s is not valid JSON: %v", path, err)
	}
	if d.SchemaVersion < 36 {
		t.Errorf("%s: schemaVersion %d, want a dashboard of Grafana 9 or later (36+)", path, d.SchemaVersion)
	}
	ds := false
	for _, v := range d.Templating.List {
		ds = ds || (v.Name == "DS_PROMETHEUS" && v.Type == "datasource" && v.Query == "prometheus")
	}
	if !ds {
		t.Errorf("%s: no datasource variable DS_PROMETHEUS of type prometheus", path)
	}
	used := map[string][]string{}
	ids := map[int]string{}
	var walk func(ps []grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			if prev, dup := ids[p.ID]; dup {
				t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
			}
			ids[p.ID] = p.Title
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if !slices.Contains([]string{"timeseries", "stat", "bargauge", "gauge", "table"}, p.Type) {
				t.Errorf("panel %q is of type %q", p.Title, p.Type)
			}
			if p.Datasource == nil || p.Datasource.UID != "${DS_PROMETHEUS}" {
				t.Errorf("panel %q does not query ${DS_PROMETHEUS}", p.Title)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, q := range p.Targets {
				if strings.TrimSpace(q.Expr) == "" {
					t.Errorf("panel %q, query %s: no expr", p.Title, q.RefID)
				}
				for _, n := range metricName.FindAllString(q.Expr, -1) {
					if !slices.Contains(used[n], p.Title) {
						used[n] = append(used[n], p.Title)
					}
				}
			}
		}
	}
	walk(d.Panels)
	return used
}

// familyOf is the family a queried series belongs to, when the registry
// defines it: the name itself, or a histogram's (or summary's) family
// for its _bucket, _sum and _count series.
func familyOf(name string, registered map[string]bool) (string, bool) {
	if registered[name] {
		return name, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && registered[base] {
			return base, true
		}
	}
	return "", false
}

// TestGrafanaDashboardMatchesMetrics keeps docs/grafana/vigil.json and
// the server's metrics in step: every metric a panel queries must exist
// (a renamed metric would leave a panel silently empty), and every vigil_
// metric the server exports must be on some panel (a new metric goes on
// the dashboard with it).
func TestGrafanaDashboardMatchesMetrics(t *testing.T) {
	a := newMetricsApp(t)
	registered := registeredMetrics(t, a.reg)
	if len(registered) == 0 {
		t.Fatal("the registry describes no vigil_ metric")
	}
	used := dashboardMetrics(t, dashboardPath)
	onPanels := map[string]bool{}
	for _, n := range slices.Sorted(maps.Keys(used)) {
		fam, ok := familyOf(n, registered)
		if !ok {
			t.Errorf("%s queries %s, which the server does not export (panels: %s)", dashboardPath, n, strings.Join(used[n], "; "))
			continue
		}
		onPanels[fam] = true
	}
	for _, n := range slices.Sorted(maps.Keys(registered)) {
		if !onPanels[n] {
			t.Errorf("the server exports %s, but no panel of %s shows it: add one", n, dashboardPath)
		}
	}
}

// TestMetricsScrape checks the wiring end to end: the operators' series
// come out of the app's /metrics, unauthenticated as the route is, with
// the values of what was done.
func TestMetricsScrape(t *testing.T) {
	a := newMetricsApp(t)
	ctx := context.Background()
	raw, _ := json.Marshal(map[string]string{"id": "scrape-1"})
	al := alert.Alert{Source: "sentinel", SourceID: "scrape-1", Title: "Impossible travel", Severity: alert.SeverityHigh, Raw: raw}
	if err := al.Normalize(a.clock.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := a.DB.Ingest(ctx, a.Items.Process(), "test", []alert.Alert{al})
	if err != nil {
		t.Fatal(err)
	}
	ana := auth.Actor{Kind: "user", Name: "ana@example.com", Role: auth.RoleResponder}
	if _, err := a.Items.Transition(ctx, ana, res[0].WorkItemID, "Approved", "", 0); err != nil {
		t.Fatal(err)
	}

	rec := httptest.NewRecorder()
	a.server.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", rec.Code)
	}
	body, _ := io.ReadAll(rec.Body)
	text := string(body)
	for _, want := range []string{
		`vigil_workitems_open{severity="high",state="Approved"} 1`,
		`vigil_workitems_open{severity="high",state="New"} 0`,
		`vigil_workitem_ack_seconds_count{severity="high"} 1`,
		`vigil_outbox_pending{target="notify"} 0`,
		`vigil_outbox_oldest_pending_age_seconds{target="notify"} 0`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(text, "vigil_metrics_scrape_errors_total{") {
		t.Errorf("a metrics read failed:\n%s", grep(text, "vigil_metrics_scrape_errors_total"))
	}
	if t.Failed() {
		t.Logf("/metrics (vigil_ lines):\n%s", grep(text, "vigil_"))
	}
}

func grep(text, prefix string) string {
	var b strings.Builder
	for l := range strings.Lines(text) {
		if strings.HasPrefix(l, prefix) {
			fmt.Fprint(&b, l)
		}
	}
	return b.String()
}
