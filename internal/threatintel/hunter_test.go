package threatintel_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/intel"
	"github.com/vigil-soc/vigil/internal/loganalytics"
	"github.com/vigil-soc/vigil/internal/simulator"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/threatintel"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// TestHuntOverWorkspaceTelemetry is the seed's use case: the simulated
// workspace's scenario fills DeviceNetworkEvents and CommonSecurityLog;
// the hunt asks the Log Analytics query API (over TLS, with a token) which
// devices talked to the current indicators, and each confirmed hit
// becomes an alert of source ti-hunt naming the device, the indicator and
// its feed. A second run finds the same hits and opens nothing new; the
// run is kept for feed health.
func TestHuntOverWorkspaceTelemetry(t *testing.T) {
	ctx := context.Background()
	srv, err := simulator.Listen(simulator.New(simulator.Options{Seed: 3}), "127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	sc := srv.Sim.NewScenario()
	for range 12 {
		sc.Step()
	}
	q, err := loganalytics.New(loganalytics.Config{TenantID: srv.Info.TenantID, ClientID: srv.Info.ClientID, ClientSecret: srv.Info.ClientSecret,
		AuthorityHost: srv.Info.Authority, BaseURL: srv.Info.LogAnalyticsURL, Transport: &http.Client{Transport: srv.Client().Transport}})
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.Real{}
	db := storetest.SQLite(t, clk)
	items := workitem.NewService(db, workitem.DefaultProcess(), clk)
	now := time.Now()
	if _, err := db.UpsertIndicators(ctx, []intel.Indicator{
		{Type: intel.IP, Value: "203.0.113.7", Feeds: []string{"otx"}, Confidence: 85, FirstSeen: now, LastSeen: now},
		{Type: intel.Domain, Value: "evil.example.com", Feeds: []string{"misp"}, Confidence: 60, FirstSeen: now, LastSeen: now},
		{Type: intel.IP, Value: "192.0.2.99", Feeds: []string{"otx"}, Confidence: 90, FirstSeen: now, LastSeen: now},
	}); err != nil {
		t.Fatal(err)
	}
	svc := threatintel.New(db, items, nil, clk, nil)
	svc.OpenItems(ingestOpener{db, items.Process()}, threatintel.RetroAnnotate)
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	h := threatintel.NewHunter(svc, []threatintel.HuntWorkspace{{Name: srv.Info.Workspace, ID: srv.Info.WorkspaceID, Q: q}}, db,
		threatintel.HuntOptions{Lookback: 24 * time.Hour, Clock: clk})
	if err := h.UpdateAll(ctx); err != nil {
		t.Fatal(err)
	}
	list, err := db.ListWorkItems(ctx, workitem.Filter{Source: threatintel.HuntSource, Limit: 100})
	if err != nil || len(list) == 0 {
		t.Fatalf("hunt items = %d, %v", len(list), err)
	}
	var sawIP, sawDomain bool
	for _, it := range list {
		sawIP = sawIP || strings.Contains(it.Title, "known indicator 203.0.113.7")
		sawDomain = sawDomain || strings.Contains(it.Title, "known indicator evil.example.com")
		if strings.Contains(it.Title, "192.0.2.99") {
			t.Errorf("an indicator nobody talked to has an item: %s", it.Title)
		}
	}
	if !sawIP || !sawDomain {
		t.Errorf("hunt items: %v", titles(list))
	}
	run, err := db.FeedRunOf(ctx, threatintel.HuntName)
	if err != nil || run.LastError != "" || run.Added == 0 {
		t.Errorf("hunt run = %+v, %v", run, err)
	}
	if err := h.UpdateAll(ctx); err != nil {
		t.Fatal(err)
	}
	if again, _ := db.ListWorkItems(ctx, workitem.Filter{Source: threatintel.HuntSource, Limit: 100}); len(again) != len(list) {
		t.Errorf("a second run: %d items, want %d", len(again), len(list))
	}
}

func titles(its []workitem.Item) []string {
	var out []string
	for _, it := range its {
		out = append(out, it.Title)
	}
	return out
}
