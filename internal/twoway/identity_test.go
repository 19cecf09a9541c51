package twoway_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/connector/azauth"
	"github.com/vigil-soc/vigil/internal/connector/defender"
	"github.com/vigil-soc/vigil/internal/connector/graph"
	"github.com/vigil-soc/vigil/internal/connector/sentinel"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/simulator"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// managedIdentityHarness is the harness with every connector signed in
// as the host's managed identity (sync.azure.credential:
// managed_identity): no tenant, client id or secret, and the token from
// the App Service identity endpoint azidentity finds through
// IDENTITY_ENDPOINT and IDENTITY_HEADER.
func managedIdentityHarness(t *testing.T, srv *simulator.Server, cred azauth.Options) *harness {
	t.Helper()
	endpoint, header := srv.Sim.ManagedIdentityEndpoint()
	t.Setenv("IDENTITY_ENDPOINT", endpoint)
	t.Setenv("IDENTITY_HEADER", header)
	info := srv.Info
	var err error
	h := &harness{t: t, sim: srv, dir: t.TempDir(), clk: clock.NewFake(time.Now()), proc: workitem.DefaultProcess(),
		log: slog.New(slog.DiscardHandler)}
	if h.sentinel, err = sentinel.New(sentinel.Config{Credential: cred,
		SubscriptionID: info.SubscriptionID, ResourceGroup: info.ResourceGroup, Workspace: info.Workspace,
		AuthorityHost: info.Authority, ARMEndpoint: info.ARMURL, Transport: srv.Client()}); err != nil {
		t.Fatal(err)
	}
	if h.defender, err = defender.New(defender.Config{Credential: cred,
		SubscriptionID: info.SubscriptionID, AuthorityHost: info.Authority, ARMEndpoint: info.ARMURL, Transport: srv.Client()}); err != nil {
		t.Fatal(err)
	}
	if h.graph, err = graph.New(graph.Config{Credential: cred,
		AuthorityHost: info.Authority, GraphURL: info.GraphURL, Transport: srv.Client(), Clock: clock.Real{}, Logger: h.log}); err != nil {
		t.Fatal(err)
	}
	h.open()
	return h
}

// TestSyncWithManagedIdentity is issue "every Azure credential type"'s
// done-when: a managed-identity configuration, system- and
// user-assigned, runs the sync: the Defender alert and its Sentinel
// incident become a work item, closing it writes back to both, and a
// token the tenant refuses is replaced by a fresh one from the identity
// endpoint. The app's client-credential endpoint is never called.
func TestSyncWithManagedIdentity(t *testing.T) {
	srv, err := simulator.Listen(simulator.New(simulator.Options{}), "127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	user := srv.Sim.AddManagedIdentity(simulator.ManagedIdentity{})
	for _, tc := range []struct {
		name string
		cred azauth.Options
	}{
		{"system-assigned", azauth.Options{Kind: azauth.KindManagedIdentity}},
		{"user-assigned by client id", azauth.Options{Kind: azauth.KindManagedIdentity, ManagedIdentityClientID: user.ClientID}},
		{"user-assigned by resource id", azauth.Options{Kind: azauth.KindManagedIdentity, ManagedIdentityResourceID: user.ResourceID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seq := lastRequest(srv)
			h := managedIdentityHarness(t, srv, tc.cred)
			names, incName := h.raise(2)
			h.cycle()
			it := h.itemOf(incName)
			list, err := h.db.ListAlerts(context.Background(), store.AlertFilter{Source: "defender", Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			joined := 0
			for _, a := range list {
				if slices.Contains(names, a.SourceID) && a.WorkItemID == it.ID {
					joined++
				}
			}
			if joined != len(names) {
				t.Fatalf("%d of the incident's %d Defender alerts joined its item", joined, len(names))
			}
			if got, err := h.graph.AlertsV2(context.Background(), graph.Query{}); err != nil || len(got) == 0 {
				t.Fatalf("Graph alerts_v2 with the managed identity = %d, %v", len(got), err)
			}

			// Every token so far is refused: the next writes need a
			// fresh token from the identity endpoint.
			srv.Sim.ExpireTokens()
			h.walk(it.ID, "False positive: a backup job")
			for range 6 {
				h.send()
				h.clk.Advance(outbox.MaxDelay)
			}
			if ms, _ := h.db.ListOutbox(context.Background(), outbox.Pending, 0, 0, 100); len(ms) > 0 {
				t.Fatalf("%d writes pending, first: %s %s: %s", len(ms), ms[0].Target, ms[0].Op, ms[0].LastError)
			}
			if inc := h.incident(incName); inc.Status != simulator.IncidentClosed {
				t.Errorf("incident = %s, want Closed by the write-back", inc.Status)
			}
			// The incident's own alert is resolved with it (a related
			// alert follows its own item's rules, as with a secret).
			for _, n := range names[:1] {
				if a, _ := srv.Sim.World().DefenderAlertByName(n); a.Status != simulator.DfCResolved {
					t.Errorf("Defender alert %s = %s, want Resolved", n, a.Status)
				}
			}

			var mi, secret int
			for _, r := range srv.Sim.Requests(seq) {
				switch r.Route {
				case "mi.appservice":
					mi++
				case "entra.token":
					secret++
				}
			}
			// At least one per connector, and again after the refusal.
			if mi < 3 || secret != 0 {
				t.Errorf("identity endpoint called %d times, client-credential token endpoint %d; want >= 3 and 0", mi, secret)
			}
		})
	}
}

func lastRequest(srv *simulator.Server) int {
	rs := srv.Sim.Requests(0)
	if len(rs) == 0 {
		return 0
	}
	return rs[len(rs)-1].Seq
}
