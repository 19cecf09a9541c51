package graph_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/connector/graph"
	"github.com/vigil-soc/vigil/internal/simulator"
)

func TestAlertsV2(t *testing.T) {
	e := start(t, simulator.Options{}, true)
	c := e.client(t, nil)
	ctx := context.Background()

	// Before: two Defender for Cloud alerts and two from other products.
	dfc1 := e.raiseDefender(t, simulator.AlertSpec{AlertType: "VM_RDPBruteForce", Host: "vm-web-01", IP: "203.0.113.7", Account: "alice@contoso.com"})
	dfc2 := e.raiseDefender(t, simulator.AlertSpec{})
	mde1 := e.raiseGraph(t, simulator.GraphAlertSpec{ServiceSource: "microsoftDefenderForEndpoint"})
	mdi := e.raiseGraph(t, simulator.GraphAlertSpec{ServiceSource: "microsoftDefenderForIdentity"})
	// An hour later: one more of each.
	e.fake.Advance(time.Hour)
	dfc3 := e.raiseDefender(t, simulator.AlertSpec{})
	mde2 := e.raiseGraph(t, simulator.GraphAlertSpec{ServiceSource: "microsoftDefenderForEndpoint"})
	mid := t0.Add(30 * time.Minute)

	for _, tc := range []struct {
		name string
		q    graph.Query
		want []string
	}{
		{"everything", graph.Query{}, []string{dfc1.GraphAlertID, dfc2.GraphAlertID, mde1, mdi, dfc3.GraphAlertID, mde2}},
		{"defender for cloud", graph.Query{Filter: "serviceSource eq 'microsoftDefenderForCloud'"},
			[]string{dfc1.GraphAlertID, dfc2.GraphAlertID, dfc3.GraphAlertID}},
		{"other product", graph.Query{Filter: "serviceSource eq 'microsoftDefenderForEndpoint'"}, []string{mde1, mde2}},
		{"detection source", graph.Query{Filter: "detectionSource eq 'microsoftDefenderForIdentity'"}, []string{mdi}},
		{"since", graph.Query{Since: mid}, []string{dfc3.GraphAlertID, mde2}},
		{"since and filter", graph.Query{Since: mid, Filter: "serviceSource eq 'microsoftDefenderForCloud'"}, []string{dfc3.GraphAlertID}},
		// The caller's "or" must not escape the Since condition.
		{"since and an or filter", graph.Query{Since: mid,
			Filter: "serviceSource eq 'microsoftDefenderForCloud' or serviceSource eq 'microsoftDefenderForIdentity'"},
			[]string{dfc3.GraphAlertID}},
		{"since after everything", graph.Query{Since: t0.Add(2 * time.Hour)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.AlertsV2(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if ids := alertIDs(got); !sameSet(ids, tc.want) {
				t.Errorf("got %v, want %v", ids, tc.want)
			}
		})
	}

	// A Defender for Cloud alert shows its service source (the client
	// asks for evolvable enum members) and maps with its entities.
	got, err := c.AlertsV2(ctx, graph.Query{Filter: fmt.Sprintf("id eq '%s'", dfc1.GraphAlertID)})
	if err != nil || len(got) != 1 {
		t.Fatalf("get %s: %v, %d alerts", dfc1.GraphAlertID, err, len(got))
	}
	a := got[0]
	if a.ServiceSource != "microsoftDefenderForCloud" || a.DetectionSource != "microsoftDefenderForCloud" || a.ProviderAlertID != dfc1.Name {
		t.Errorf("serviceSource %q, detectionSource %q, providerAlertId %q; want microsoftDefenderForCloud twice and %s",
			a.ServiceSource, a.DetectionSource, a.ProviderAlertID, dfc1.Name)
	}
	m, err := graph.Map(a)
	if err != nil {
		t.Fatal(err)
	}
	world, _ := e.sim.World().DefenderAlertByName(dfc1.Name)
	if m.Source != "graph" || m.SourceID != dfc1.GraphAlertID || m.Product != "Microsoft Defender for Cloud" ||
		m.Title != world.DisplayName || m.Status != alert.StatusNew || len(m.Raw) == 0 || m.FirstSeen.IsZero() {
		t.Errorf("Map = %+v", m)
	}
	for _, want := range []alert.Entity{{Kind: alert.EntityHost, Value: "vm-web-01"}, {Kind: alert.EntityIP, Value: "203.0.113.7"},
		{Kind: alert.EntityAccount, Value: "alice@contoso.com"}} {
		if !slices.ContainsFunc(m.Entities, func(g alert.Entity) bool { return g.Kind == want.Kind && g.Value == want.Value }) {
			t.Errorf("entities %v lack %v", m.Entities, want)
		}
	}
	if err := m.Normalize(e.fake.Now()); err != nil {
		t.Errorf("mapped alert does not normalize: %v", err)
	}
}

func TestPaging(t *testing.T) {
	e := start(t, simulator.Options{}, false)
	w := e.sim.World()
	// One more than alerts_v2's largest page.
	const n = 2001
	for range n {
		if _, err := w.RaiseGraphAlert(simulator.GraphAlertSpec{ServiceSource: "microsoftDefenderForOffice365"}); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		w.RaiseDefenderAlert(simulator.AlertSpec{})
	}
	ctx := context.Background()

	t.Run("alerts_v2 at the largest page size", func(t *testing.T) {
		c := e.client(t, nil)
		got, err := c.AlertsV2(ctx, graph.Query{Filter: "serviceSource eq 'microsoftDefenderForOffice365'"})
		if err != nil {
			t.Fatal(err)
		}
		if ids := alertIDs(got); len(ids) != n || len(unique(ids)) != n {
			t.Errorf("got %d alerts (%d distinct), want %d", len(ids), len(unique(ids)), n)
		}
		if r := c.Requests(); r != 2 {
			t.Errorf("requests = %d, want 2 pages", r)
		}
	})
	for _, tc := range []struct {
		name      string
		list      func(*graph.Client) ([]string, error)
		want, req int
	}{
		{"alerts_v2 small pages", func(c *graph.Client) ([]string, error) {
			as, err := c.AlertsV2(ctx, graph.Query{Filter: "serviceSource eq 'microsoftDefenderForCloud'"})
			return alertIDs(as), err
		}, 5, 3},
		{"legacy small pages", func(c *graph.Client) ([]string, error) {
			as, err := c.LegacyAlerts(ctx, graph.LegacyQuery{Provider: "ASC"})
			ids := make([]string, len(as))
			for i, a := range as {
				ids[i] = a.ID
			}
			return ids, err
		}, 5, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.client(t, nil)
			graph.SetPageSize(c, 2)
			ids, err := tc.list(c)
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) != tc.want || len(unique(ids)) != tc.want {
				t.Errorf("got %v, want %d distinct", ids, tc.want)
			}
			if r := c.Requests(); r != int64(tc.req) {
				t.Errorf("requests = %d, want %d", r, tc.req)
			}
		})
	}
}

func TestLegacyAlerts(t *testing.T) {
	e := start(t, simulator.Options{}, true)
	c := e.client(t, nil)
	ctx := context.Background()

	dfc1 := e.raiseDefender(t, simulator.AlertSpec{AlertType: "VM_RDPBruteForce", Host: "vm-sql-02", IP: "198.51.100.4", Account: "bob@contoso.com"})
	dfc2 := e.raiseDefender(t, simulator.AlertSpec{})
	mde := e.raiseGraph(t, simulator.GraphAlertSpec{ServiceSource: "microsoftDefenderForEndpoint"})
	e.fake.Advance(time.Hour)
	dfc3 := e.raiseDefender(t, simulator.AlertSpec{})

	for _, tc := range []struct {
		name string
		q    graph.LegacyQuery
		want []string
	}{
		{"defender for cloud", graph.LegacyQuery{Provider: "ASC"}, []string{dfc1.Name, dfc2.Name, dfc3.Name}},
		{"another provider", graph.LegacyQuery{Provider: "Microsoft Defender ATP"}, []string{mde}},
		{"every provider", graph.LegacyQuery{}, []string{dfc1.Name, dfc2.Name, dfc3.Name, mde}},
		{"since", graph.LegacyQuery{Provider: "ASC", Since: t0.Add(30 * time.Minute)}, []string{dfc3.Name}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.LegacyAlerts(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, a := range got {
				ids = append(ids, a.ID)
			}
			if !sameSet(ids, tc.want) {
				t.Errorf("got %v, want %v", ids, tc.want)
			}
		})
	}

	got, err := c.LegacyAlerts(ctx, graph.LegacyQuery{Provider: "ASC"})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(got, func(a graph.LegacyAlert) bool { return a.ID == dfc1.Name })
	if i < 0 {
		t.Fatalf("%s not listed", dfc1.Name)
	}
	if v := got[i].VendorInformation; v.Provider != "ASC" || v.Vendor != "Microsoft" {
		t.Errorf("vendorInformation = %+v", v)
	}
	m, err := graph.MapLegacy(got[i])
	if err != nil {
		t.Fatal(err)
	}
	if m.Source != "graph" || m.SourceID != dfc1.Name || m.Product != "Microsoft Defender for Cloud" || m.Status != alert.StatusNew || len(m.Raw) == 0 {
		t.Errorf("MapLegacy = %+v", m)
	}
	for _, want := range []alert.Entity{{Kind: alert.EntityHost, Value: "vm-sql-02"}, {Kind: alert.EntityIP, Value: "198.51.100.4"},
		{Kind: alert.EntityAccount, Value: "bob@contoso.com"}} {
		if !slices.ContainsFunc(m.Entities, func(g alert.Entity) bool { return g.Kind == want.Kind && g.Value == want.Value }) {
			t.Errorf("entities %v lack %v", m.Entities, want)
		}
	}
	if err := m.Normalize(e.fake.Now()); err != nil {
		t.Errorf("mapped alert does not normalize: %v", err)
	}
}

func alertIDs(as []graph.AlertV2) []string {
	ids := make([]string, len(as))
	for i, a := range as {
		ids[i] = a.ID
	}
	return ids
}

func unique(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

func sameSet(a, b []string) bool {
	return len(a) == len(b) && slices.Equal(unique(a), unique(b))
}
