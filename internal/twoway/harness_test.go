package twoway_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/connector/defender"
	"github.com/vigil-soc/vigil/internal/connector/graph"
	"github.com/vigil-soc/vigil/internal/connector/sentinel"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/simulator"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/twoway"
	"github.com/vigil-soc/vigil/internal/workitem"
	"github.com/vigil-soc/vigil/internal/writeback"
)

// harness is vigil's sync engine in-process against the simulated tenant:
// the Defender and Sentinel pollers, the reconciler and the outbox sender
// over a real SQLite store, with a fake clock for vigil's side (backoff,
// leases) so that a test fast-forwards retries.
type harness struct {
	t        testing.TB
	sim      *simulator.Server
	dir      string
	db       *store.DB
	clk      *clock.Fake
	proc     *workitem.Process
	items    *workitem.Service
	sentinel *sentinel.Client
	defender *defender.Client
	graph    *graph.Client
	modules  []twoway.Module
	sender   *outbox.Sender
	log      *slog.Logger
}

// incidentGrace is the harness's sync.incident_grace, the default.
const incidentGrace = 10 * time.Minute

type dbIngest struct {
	db   *store.DB
	proc *workitem.Process
}

func (d dbIngest) Submit(ctx context.Context, actor string, as []alert.Alert) ([]store.IngestResult, error) {
	return d.db.Ingest(ctx, d.proc, actor, as)
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	srv, err := simulator.Listen(simulator.New(simulator.Options{}), "127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return buildHarness(t, srv)
}

func buildHarness(t testing.TB, srv *simulator.Server) *harness {
	info := srv.Info
	var err error
	h := &harness{t: t, sim: srv, dir: t.TempDir(), clk: clock.NewFake(time.Now()), proc: workitem.DefaultProcess(),
		log: slog.New(slog.DiscardHandler)}
	if h.sentinel, err = sentinel.New(sentinel.Config{TenantID: info.TenantID, ClientID: info.ClientID, ClientSecret: info.ClientSecret,
		SubscriptionID: info.SubscriptionID, ResourceGroup: info.ResourceGroup, Workspace: info.Workspace,
		AuthorityHost: info.Authority, ARMEndpoint: info.ARMURL, Transport: srv.Client()}); err != nil {
		t.Fatal(err)
	}
	if h.defender, err = defender.New(defender.Config{TenantID: info.TenantID, ClientID: info.ClientID, ClientSecret: info.ClientSecret,
		SubscriptionID: info.SubscriptionID, AuthorityHost: info.Authority, ARMEndpoint: info.ARMURL, Transport: srv.Client()}); err != nil {
		t.Fatal(err)
	}
	if h.graph, err = graph.New(graph.Config{TenantID: info.TenantID, ClientID: info.ClientID, ClientSecret: info.ClientSecret,
		AuthorityHost: info.Authority, GraphURL: info.GraphURL, Transport: srv.Client(), Clock: clock.Real{}, Logger: h.log}); err != nil {
		t.Fatal(err)
	}
	h.open()
	return h
}

// open (re)opens the store in the harness's directory and builds the
// modules over it, as a restart of vigil does.
func (h *harness) open() {
	t := h.t
	db, err := store.Open(context.Background(), store.Options{DataDir: h.dir, Synchronous: "NORMAL", Clock: h.clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h.db = db
	h.items = workitem.NewService(db, h.proc, h.clk).WithPlanner(writeback.New(db))
	// As configured with a Sentinel workspace: a Defender alert waits
	// for the incident that contains it (sync.incident_grace).
	sink := twoway.FollowingSink(dbIngest{db, h.proc}, h.items, "connector:defender", "defender", "Closed", incidentGrace, h.log)
	h.modules = []twoway.Module{
		named("defender", defender.NewPoller(h.defender, sink, h.log, h.clk.Now)),
		twoway.NewSentinelPoller(h.sentinel, db, h.items, h.proc, twoway.SentinelOptions{Name: "ws", RequestsPerSecond: -1, Clock: h.clk, Logger: h.log}),
		twoway.NewHeldAlerts(db, h.proc, h.log),
		twoway.NewReconciler(db, h.log),
	}
	h.sender = outbox.NewSender(db, map[string]outbox.Target{"sentinel": h.sentinel, "defender": h.defender, "graph": h.graph}, h.clk, h.log)
}

// restart closes the store and opens it again, dropping every module's
// memory: what survives is what was committed.
func (h *harness) restart() {
	h.db.Close()
	h.open()
}

type namedModule struct {
	name string
	m    interface{ UpdateAll(context.Context) error }
}

func (n namedModule) Name() string                        { return n.name }
func (n namedModule) UpdateAll(ctx context.Context) error { return n.m.UpdateAll(ctx) }

func named(name string, m interface{ UpdateAll(context.Context) error }) twoway.Module {
	return namedModule{name, m}
}

// cycle runs one sync cycle: pollers, reconciler, then the sender.
func (h *harness) cycle() {
	h.t.Helper()
	ctx := context.Background()
	for _, m := range h.modules {
		if err := m.UpdateAll(ctx); err != nil {
			h.t.Fatalf("%s: %v", m.Name(), err)
		}
	}
	h.send()
}

// send runs the outbox sender once; failures to deliver are recorded by
// the sender itself, not returned.
func (h *harness) send() {
	h.t.Helper()
	h.sender.UpdateAll(context.Background())
}

// raise raises a Defender for Cloud alert, and n-1 more related to its
// incident (as an analyst relates alerts in Sentinel). It returns the
// alert names and the incident's name.
func (h *harness) raise(n int) ([]string, string) {
	h.t.Helper()
	w := h.sim.Sim.World()
	first := w.RaiseDefenderAlert(simulator.AlertSpec{})
	names := []string{first.Name}
	for i := 1; i < n; i++ {
		a := w.RaiseDefenderAlert(simulator.AlertSpec{NoIncident: true})
		if err := w.RelateAlert(first.IncidentName, a.SentinelAlertID); err != nil {
			h.t.Fatal(err)
		}
		names = append(names, a.Name)
	}
	return names, first.IncidentName
}

func (h *harness) setDefender(name, status string) {
	h.t.Helper()
	if _, err := h.sim.Sim.World().SetDefenderStatus(name, status); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) incident(name string) simulator.Incident {
	h.t.Helper()
	inc, ok := h.sim.Sim.World().IncidentByName(name)
	if !ok {
		h.t.Fatalf("no incident %s", name)
	}
	return inc
}

// itemOf returns the work item of a Sentinel incident.
func (h *harness) itemOf(incident string) workitem.Item {
	h.t.Helper()
	list, err := h.db.ListIncidents(context.Background(), "sentinel", 0, 500)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, in := range list {
		if in.SourceID == incident {
			it, err := h.db.GetWorkItem(context.Background(), in.WorkItemID)
			if err != nil {
				h.t.Fatal(err)
			}
			return it
		}
	}
	h.t.Fatalf("vigil has no incident %s", incident)
	return workitem.Item{}
}

func (h *harness) timeline(id int64) []workitem.Entry {
	h.t.Helper()
	tl, err := h.db.Timeline(context.Background(), id, 0, 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	return tl
}
