package defender_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/connector/defender"
	"github.com/vigil-soc/vigil/internal/simulator"
)

func TestPollerAgainstSimulator(t *testing.T) {
	srv, err := simulator.Listen(simulator.New(simulator.Options{Preload: 3}), "127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	info := srv.Info
	c, err := defender.New(defender.Config{TenantID: info.TenantID, ClientID: info.ClientID, ClientSecret: info.ClientSecret,
		SubscriptionID: info.SubscriptionID, AuthorityHost: info.Authority, ARMEndpoint: info.ARMURL, Transport: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	var got [][]alert.Alert
	sink := func(_ context.Context, as []alert.Alert) error {
		got = append(got, as)
		return nil
	}
	p := defender.NewPoller(c, sink, slog.New(slog.DiscardHandler), time.Now)
	ctx := context.Background()

	if err := p.UpdateAll(ctx); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0]) != 3 {
		t.Fatalf("first pass submitted %v, want one batch of the 3 preloaded alerts", sizes(got))
	}
	a := got[0][0]
	world, _ := srv.Sim.World().DefenderAlertByName(a.SourceID)
	if a.Source != "defender" || a.Title != world.DisplayName || a.Status != alert.StatusNew || len(a.Entities) == 0 || len(a.Raw) == 0 {
		t.Errorf("mapped alert = %+v", a)
	}
	// Nothing changed: nothing submitted.
	if err := p.UpdateAll(ctx); err != nil || len(got) != 1 {
		t.Fatalf("second pass: %v, batches %v; want no new batch", err, sizes(got))
	}
	// A dismissal in the portal is picked up, mapped to vigil's spelling.
	if _, err := srv.Sim.World().SetDefenderStatus(a.SourceID, simulator.DfCDismissed); err != nil {
		t.Fatal(err)
	}
	if err := p.UpdateAll(ctx); err != nil || len(got) != 2 || len(got[1]) != 1 || got[1][0].Status != alert.StatusDismissed {
		t.Fatalf("after dismiss: %v, batches %v", err, sizes(got))
	}
}

func TestStatusAndSeverityMapping(t *testing.T) {
	for in, want := range map[string]alert.Status{"Active": alert.StatusNew, "InProgress": alert.StatusInProgress,
		"Resolved": alert.StatusResolved, "Dismissed": alert.StatusDismissed} {
		if got := defender.Status(armStatus(in)); got != want {
			t.Errorf("Status(%s) = %s, want %s", in, got, want)
		}
	}
}

func sizes(bs [][]alert.Alert) []int {
	out := make([]int, len(bs))
	for i, b := range bs {
		out[i] = len(b)
	}
	return out
}
