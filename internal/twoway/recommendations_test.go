package twoway_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/connector/defender"
	"github.com/vigil-soc/vigil/internal/ingest"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/simulator"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/twoway"
	"github.com/vigil-soc/vigil/internal/workitem"
	"github.com/vigil-soc/vigil/internal/writeback"
)

// recFollower is the app's sourceFollower: an item whose alerts are all
// settled at the source follows to on_source_resolved.
type recFollower struct{ items *workitem.Service }

func (f recFollower) SourceResolved(ctx context.Context, itemID int64, source, cause string) {
	f.items.FollowSourceResolved(ctx, itemID, source, cause)
}

const recProcess = `
states:
  - {name: New, initial: true}
  - {name: Approved}
  - {name: Removed, terminal: true, reason_required: true}
  - {name: Active}
  - {name: Verification}
  - {name: Closed, terminal: true, reason_required: true}
transitions:
  - {from: New, to: [Approved, Removed]}
  - {from: Approved, to: [Active]}
  - {from: Active, to: [Verification]}
  - {from: Verification, to: [Closed, Active]}
types:
  defender-recommendation: Problem
  default: Issue
on_source_resolved: Verification
`

type recEnv struct {
	t      *testing.T
	sim    *simulator.Server
	db     *store.DB
	items  *workitem.Service
	mod    *twoway.Recommendations
	sender *outbox.Sender
	sub    string
}

// newRecEnv builds the module; closedState, when given, is where an
// item whose resources are all Healthy goes (the app passes
// sync.sentinel_closed_state).
func newRecEnv(t *testing.T, grouping string, closedState ...string) *recEnv {
	t.Helper()
	srv, err := simulator.Listen(simulator.New(simulator.Options{}), "127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	info := srv.Info
	cfg := defender.Config{TenantID: info.TenantID, ClientID: info.ClientID, ClientSecret: info.ClientSecret,
		SubscriptionID: info.SubscriptionID, AuthorityHost: info.Authority, ARMEndpoint: info.ARMURL, Transport: srv.Client()}
	rec, err := defender.NewRecommendations(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := defender.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defender.AttachGovernance(dc, rec)

	proc, err := workitem.ParseProcess([]byte(recProcess))
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Now())
	db, err := store.Open(context.Background(), store.Options{DataDir: t.TempDir(), Synchronous: "NORMAL", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	log := slog.New(slog.DiscardHandler)
	gov := twoway.NewGovernancePlanner(writeback.New(db), db, twoway.GovernanceOptions{Clock: clk, Notify: true})
	items := workitem.NewService(db, proc, clk).WithPlanner(gov)
	pipe := ingest.New(db, proc, ingest.Options{Logger: log})
	pipe.React(recFollower{items})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { pipe.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	mod, err := twoway.NewRecommendations(rec, pipe, db, proc, twoway.RecommendationOptions{
		Subscription: info.SubscriptionID, Grouping: grouping, Clock: clk, Logger: log})
	if len(closedState) > 0 {
		mod, err = twoway.NewRecommendations(rec, pipe, db, proc, twoway.RecommendationOptions{
			Subscription: info.SubscriptionID, Grouping: grouping, Clock: clk, Logger: log, Items: items, ClosedState: closedState[0]})
	}
	if err != nil {
		t.Fatal(err)
	}
	if mod.Name() != "recommendations:"+info.SubscriptionID {
		t.Errorf("name %q", mod.Name())
	}
	return &recEnv{t: t, sim: srv, db: db, items: items, mod: mod, sub: info.SubscriptionID,
		sender: outbox.NewSender(db, map[string]outbox.Target{"defender": dc}, clk, log)}
}

func (e *recEnv) vm(n string) string {
	return "/subscriptions/" + e.sub + "/resourceGroups/soc-rg/providers/Microsoft.Compute/virtualMachines/" + n
}

func (e *recEnv) raise(name, display, severity, vm string) {
	e.t.Helper()
	if _, err := e.sim.Sim.RaiseAssessment(simulator.Assessment{Name: name, DisplayName: display, Severity: severity, ResourceID: e.vm(vm)}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *recEnv) health(name, vm, status string) {
	e.t.Helper()
	if _, err := e.sim.Sim.SetAssessmentHealth(name, e.vm(vm), status); err != nil {
		e.t.Fatal(err)
	}
}

func (e *recEnv) pass() {
	e.t.Helper()
	if err := e.mod.UpdateAll(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *recEnv) problems() []workitem.Item {
	e.t.Helper()
	list, err := e.db.ListWorkItems(context.Background(), workitem.Filter{Source: defender.RecommendationSource, Oldest: true, HideMerged: true})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []workitem.Item
	for _, it := range list {
		full, err := e.db.GetWorkItem(context.Background(), it.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, full)
	}
	return out
}

func (e *recEnv) timeline(id int64) string {
	e.t.Helper()
	tl, err := e.db.Timeline(context.Background(), id, 0, 500)
	if err != nil {
		e.t.Fatal(err)
	}
	var b strings.Builder
	for _, en := range tl {
		b.WriteString(en.Kind + ": " + en.Message + "\n")
	}
	return b.String()
}

var recAnalyst = auth.Actor{Kind: "user", Name: "ana", Role: auth.RoleResponder}

// TestRecommendationBecomesProblem is the done-when: a
// recommendation becomes a Problem, gets its governance assignment when
// assigned, and closes when the simulator marks it Healthy.
func TestRecommendationBecomesProblem(t *testing.T) {
	e := newRecEnv(t, twoway.GroupByRecommendation)
	ctx := context.Background()
	e.raise("k-disk", "Disk encryption should be applied", "High", "vm1")
	e.raise("k-disk", "Disk encryption should be applied", "High", "vm2")
	e.raise("k-mfa", "MFA should be enabled", "Low", "vm1")
	e.pass()

	items := e.problems()
	if len(items) != 2 {
		t.Fatalf("%d items, want one per recommendation: %+v", len(items), items)
	}
	disk := items[0]
	if disk.Title != "Disk encryption should be applied" {
		disk = items[1]
	}
	if disk.Type != workitem.TypeProblem || disk.Severity != "high" || len(disk.AlertIDs) != 2 || disk.Title != "Disk encryption should be applied" {
		t.Fatalf("disk item = %+v", disk)
	}
	if tl := e.timeline(disk.ID); !strings.Contains(tl, "2 of 2 assessed resources Unhealthy") || !strings.Contains(tl, "vm1, vm2") {
		t.Errorf("timeline does not explain the grouping:\n%s", tl)
	}
	// Nothing changed: nothing new on the timeline.
	before := e.timeline(disk.ID)
	e.pass()
	if after := e.timeline(disk.ID); after != before {
		t.Errorf("a quiet pass wrote:\n%s", strings.TrimPrefix(after, before))
	}

	// Assigned with a due date: each open assessment gets its governance
	// assignment, owner and remediationDueDate.
	owner, due := "ana@contoso.com", time.Date(2030, 5, 1, 0, 0, 0, 0, time.UTC)
	if _, err := e.items.Update(ctx, recAnalyst, disk.ID, workitem.Patch{Assignee: &owner, DueAt: &due}, 0); err != nil {
		t.Fatal(err)
	}
	e.sender.UpdateAll(ctx)
	gs := e.sim.Sim.GovernanceAssignments()
	if len(gs) != 2 {
		t.Fatalf("governance assignments = %+v, want one per resource", gs)
	}
	for _, g := range gs {
		if g.Owner != owner || g.RemediationDueDate != "2030-05-01T00:00:00.0000000Z" || g.AssessmentName != "k-disk" ||
			g.Key != twoway.GovernanceAssignmentKey(disk.ID) || g.DisableOwnerEmailNotification {
			t.Errorf("governance = %+v", g)
		}
	}
	// A new due date puts them again.
	later := due.AddDate(0, 0, 7)
	if _, err := e.items.Update(ctx, recAnalyst, disk.ID, workitem.Patch{DueAt: &later}, 0); err != nil {
		t.Fatal(err)
	}
	e.sender.UpdateAll(ctx)
	if gs := e.sim.Sim.GovernanceAssignments(); len(gs) != 2 || gs[0].RemediationDueDate != "2030-05-08T00:00:00.0000000Z" {
		t.Fatalf("after the due date moved: %+v", gs)
	}

	// Work starts; one resource is fixed: the item stays open.
	for _, to := range []string{"Approved", "Active"} {
		if _, err := e.items.Transition(ctx, recAnalyst, disk.ID, to, "", 0); err != nil {
			t.Fatal(err)
		}
	}
	e.health("k-disk", "vm1", "Healthy")
	e.pass()
	if it, _ := e.db.GetWorkItem(ctx, disk.ID); it.State != "Active" {
		t.Fatalf("one of two resources healthy: item %s, want Active", it.State)
	}
	// The other too: the Problem follows its source.
	e.health("k-disk", "vm2", "Healthy")
	e.pass()
	it, _ := e.db.GetWorkItem(ctx, disk.ID)
	if it.State != "Verification" || it.SourceResolvedAt == nil {
		t.Fatalf("all healthy: item %s (source resolved %v), want Verification\n%s", it.State, it.SourceResolvedAt, e.timeline(disk.ID))
	}
	if tl := e.timeline(disk.ID); !strings.Contains(tl, "Healthy") {
		t.Errorf("the move does not say why:\n%s", tl)
	}

	// The other recommendation's item is untouched; unassigning it
	// writes nothing (it never had an assignment).
	mfa := items[0]
	if mfa.ID == disk.ID {
		mfa = items[1]
	}
	if m, _ := e.db.GetWorkItem(ctx, mfa.ID); m.State != "New" || m.Severity != "low" {
		t.Errorf("mfa item = %+v", m)
	}
}

func TestRecommendationPerResource(t *testing.T) {
	e := newRecEnv(t, twoway.GroupByResource)
	ctx := context.Background()
	e.raise("k-disk", "Disk encryption should be applied", "Medium", "vm1")
	e.raise("k-disk", "Disk encryption should be applied", "Medium", "vm2")
	e.raise("k-ok", "Already fine", "Medium", "vm3")
	e.health("k-ok", "vm3", "Healthy")
	e.pass()
	items := e.problems()
	if len(items) != 2 {
		t.Fatalf("%d items, want one per recommendation and resource", len(items))
	}
	titles := []string{items[0].Title, items[1].Title}
	slices.Sort(titles)
	if titles[0] != "Disk encryption should be applied: vm1" || titles[1] != "Disk encryption should be applied: vm2" || items[0].Type != workitem.TypeProblem {
		t.Fatalf("items = %q %s", titles, items[0].Type)
	}
	if tl := e.timeline(items[0].ID); !strings.Contains(tl, "one Problem per recommendation and resource") {
		t.Errorf("timeline:\n%s", tl)
	}
	// Assigned without a due date: 30 days from now; unassigned: deleted.
	owner := "bo@contoso.com"
	if _, err := e.items.Update(ctx, recAnalyst, items[0].ID, workitem.Patch{Assignee: &owner}, 0); err != nil {
		t.Fatal(err)
	}
	e.sender.UpdateAll(ctx)
	gs := e.sim.Sim.GovernanceAssignments()
	if len(gs) != 1 || gs[0].Owner != owner || gs[0].RemediationDueDate == "" {
		t.Fatalf("governance = %+v", gs)
	}
	nobody := ""
	if _, err := e.items.Update(ctx, recAnalyst, items[0].ID, workitem.Patch{Assignee: &nobody}, 0); err != nil {
		t.Fatal(err)
	}
	e.sender.UpdateAll(ctx)
	if gs := e.sim.Sim.GovernanceAssignments(); len(gs) != 0 {
		t.Fatalf("after unassigning: %+v", gs)
	}
	// NotApplicable settles the alert as dismissed.
	if _, err := e.sim.Sim.SetAssessmentHealth("k-disk", e.vm("vm2"), "NotApplicable"); err != nil {
		t.Fatal(err)
	}
	e.pass()
	second, _ := e.db.GetWorkItem(ctx, items[1].ID)
	if second.SourceResolvedAt == nil {
		t.Errorf("NotApplicable did not settle the item: %+v", second)
	}
}

func TestRecommendationGroupingOption(t *testing.T) {
	if _, err := twoway.NewRecommendations(nil, nil, nil, nil, twoway.RecommendationOptions{Grouping: "tenant"}); err == nil {
		t.Fatal("grouping \"tenant\" accepted")
	}
}

// TestRecommendationClosesWhenHealthy: with a closed state configured,
// as in the app, a Problem whose resources are all Healthy again is
// closed, whatever state it was in; one no longer applicable is Removed.
func TestRecommendationClosesWhenHealthy(t *testing.T) {
	for _, tc := range []struct {
		grouping string
		items    int
	}{
		{twoway.GroupByRecommendation, 1},
		{twoway.GroupByResource, 2},
	} {
		t.Run(tc.grouping, func(t *testing.T) {
			e := newRecEnv(t, tc.grouping, "Closed")
			ctx := context.Background()
			e.raise("k-tls", "TLS should be enforced", "High", "vm1")
			e.raise("k-tls", "TLS should be enforced", "High", "vm2")
			e.pass()
			items := e.problems()
			if len(items) != tc.items {
				t.Fatalf("%d items, want %d", len(items), tc.items)
			}
			e.health("k-tls", "vm1", "Healthy")
			e.pass()
			if it, _ := e.db.GetWorkItem(ctx, items[0].ID); it.State != "New" && tc.grouping == twoway.GroupByRecommendation {
				t.Fatalf("one of two healthy: item %s, want New", it.State)
			}
			e.health("k-tls", "vm2", "Healthy")
			e.pass()
			for _, it := range items {
				got, _ := e.db.GetWorkItem(ctx, it.ID)
				if got.State != "Closed" || got.ClosedAt == nil {
					t.Fatalf("all healthy: item %d %s, want Closed\n%s", it.ID, got.State, e.timeline(it.ID))
				}
				if tl := e.timeline(it.ID); !strings.Contains(tl, "Healthy") {
					t.Errorf("the close does not say why:\n%s", tl)
				}
			}
			// A quiet pass after: nothing moves, nothing is reopened.
			e.pass()
			if got, _ := e.db.GetWorkItem(ctx, items[0].ID); got.State != "Closed" {
				t.Fatalf("after a quiet pass: %s", got.State)
			}
		})
	}
	t.Run("not applicable", func(t *testing.T) {
		e := newRecEnv(t, twoway.GroupByResource, "Closed")
		e.raise("k-x", "Exempted later", "Low", "vm1")
		e.pass()
		items := e.problems()
		e.health("k-x", "vm1", "NotApplicable")
		e.pass()
		if got, _ := e.db.GetWorkItem(context.Background(), items[0].ID); got.State != "Removed" {
			t.Fatalf("not applicable: %s, want Removed", got.State)
		}
	})
}
