package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// Firings of one Alertmanager alert (its startsAt).
const (
	firing1 = "2026-11-22T08:00:00Z"
	firing2 = "2026-11-22T10:00:00Z"
)

// receiptStep is one receipt of a scenario's alert, or one action on it,
// with what the store must make of it.
type receiptStep struct {
	name string
	// act, when set, is done instead of a receipt: an analyst's close,
	// a sender's acknowledge. Nothing else of the step is checked.
	act func(t *testing.T, r *receiptRun)
	// mod changes the alert as last sent (cumulative; nil re-sends it).
	// Every receipt gets new seen times and a new raw payload, which
	// must not count as a change.
	mod func(a *alert.Alert)

	outcome store.Outcome
	version int
	item    int          // index of the alert's item after the step, in order of creation
	seen    int64        // alerts.seen_count after the step
	status  alert.Status // the stored status after the step; "" is not checked
	// entries are the timeline messages the step adds to its item, and
	// old those it adds to the item before (a closed predecessor).
	// "{alert}", "{item0}", "{item1}" stand for the IDs.
	entries, old []string
	itemSev      alert.Severity // the item's severity after the step; "" is not checked
	// srcResolved is the result's SourceResolved; resolvedAt whether the
	// item's source_resolved_at is set after the step.
	srcResolved, resolvedAt bool
}

// receiptRun is the state of one scenario on one database.
type receiptRun struct {
	db      *store.DB
	clk     *clock.Fake
	cur     alert.Alert
	alertID int64
	items   []int64
	n       int // receipts sent
}

func (r *receiptRun) item(i int) int64 {
	if i < len(r.items) {
		return r.items[i]
	}
	return 0
}

// expand replaces the placeholders of want messages with IDs.
func (r *receiptRun) expand(msgs []string) []string {
	if msgs == nil {
		return nil
	}
	rep := strings.NewReplacer("{alert}", strconv.FormatInt(r.alertID, 10), "{item0}", strconv.FormatInt(r.item(0), 10),
		"{item1}", strconv.FormatInt(r.item(1), 10))
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = rep.Replace(m)
	}
	return out
}

// closeItem is an analyst closing the alert's current item.
func closeItem(t *testing.T, r *receiptRun) {
	t.Helper()
	id := r.items[len(r.items)-1]
	now := r.clk.Now()
	mustUpdate(t, r.db, id, func(it *workitem.Item) { it.State, it.ClosedAt = "Closed", &now })
}

// senderStatus is the sender's acknowledge or resolve event.
func senderStatus(st alert.Status) func(t *testing.T, r *receiptRun) {
	return func(t *testing.T, r *receiptRun) {
		t.Helper()
		ch, err := r.db.ChangeAlertStatus(context.Background(), r.cur.Source, r.cur.SourceID, st, "token:pd", "event")
		if err != nil || !ch.Found || ch.AlertID != r.alertID {
			t.Fatalf("ChangeAlertStatus(%s) = %+v, %v; want alert %d found", st, ch, err, r.alertID)
		}
	}
}

func setStatus(st alert.Status) func(*alert.Alert) { return func(a *alert.Alert) { a.Status = st } }

func setSeverity(s alert.Severity) func(*alert.Alert) { return func(a *alert.Alert) { a.Severity = s } }

func setFiring(f string) func(*alert.Alert) { return func(a *alert.Alert) { a.Firing = f } }

func allOf(mods ...func(*alert.Alert)) func(*alert.Alert) {
	return func(a *alert.Alert) {
		for _, m := range mods {
			m(a)
		}
	}
}

// resends is n unchanged re-sends, the first one bringing the seen count
// to seen.
func resends(n int, version int, item int, seen int64, status alert.Status, resolvedAt bool) []receiptStep {
	out := make([]receiptStep, n)
	for i := range out {
		out[i] = receiptStep{name: fmt.Sprintf("re-send %d", i+1), outcome: store.OutcomeUnchanged, version: version, item: item,
			seen: seen + int64(i), status: status, resolvedAt: resolvedAt}
	}
	return out
}

func created(source string) receiptStep {
	return receiptStep{name: "first receipt", outcome: store.OutcomeCreated, version: 1, seen: 1, status: alert.StatusNew,
		entries: []string{"created from " + source + " alert {alert}"}}
}

// TestReceipts follows one alert per scenario through re-sends, changes,
// closes and new firings, and checks after every receipt the outcome,
// the version, the seen count, the item it is on and exactly what its
// timeline gained.
func TestReceipts(t *testing.T) {
	scenarios := []struct {
		name  string
		alert func(t *testing.T) alert.Alert
		steps [][]receiptStep // concatenated
	}{
		{
			name:  "alertmanager re-sends one firing, resolves it, re-sends the resolution, fires again",
			alert: func(t *testing.T) alert.Alert { return amAlert(t, firing1) },
			steps: [][]receiptStep{
				{created("alertmanager")},
				resends(5, 1, 0, 2, alert.StatusNew, false),
				{{name: "resolved", mod: setStatus(alert.StatusResolved), outcome: store.OutcomeUpdated, version: 2, seen: 7,
					status: alert.StatusResolved, entries: []string{"alert {alert} (version 2): resolved at the source"},
					srcResolved: true, resolvedAt: true}},
				resends(3, 2, 0, 8, alert.StatusResolved, true),
				{{name: "close", act: closeItem}},
				resends(2, 2, 0, 11, alert.StatusResolved, true),
				{{name: "new firing", mod: allOf(setFiring(firing2), setStatus(alert.StatusNew)), outcome: store.OutcomeReopened,
					version: 3, item: 1, seen: 13, status: alert.StatusNew,
					entries: []string{"created because alert {alert} fired again after it was resolved at the source after work item {item0} was closed"},
					old:     []string{"alert {alert} fired again after it was resolved at the source; now tracked in work item {item1}"}}},
				resends(2, 3, 1, 14, alert.StatusNew, false),
			},
		},
		{
			name:  "alertmanager item closed while its alert fires: re-sends and changes of that firing stay on it",
			alert: func(t *testing.T) alert.Alert { return amAlert(t, firing1) },
			steps: [][]receiptStep{
				{created("alertmanager"), {name: "close", act: closeItem}},
				resends(3, 1, 0, 2, alert.StatusNew, false),
				{{name: "description changed", mod: func(a *alert.Alert) { a.Description = "disk 97% full" }, outcome: store.OutcomeUpdated,
					version: 2, seen: 5, entries: []string{"alert {alert} (version 2): description changed"}}},
				// A closed item's severity is not raised.
				{{name: "severity raised", mod: setSeverity(alert.SeverityCritical), outcome: store.OutcomeUpdated, version: 3, seen: 6,
					entries: []string{"alert {alert} (version 3): severity raised from high to critical"}, itemSev: alert.SeverityHigh}},
				{{name: "resolved", mod: setStatus(alert.StatusResolved), outcome: store.OutcomeUpdated, version: 4, seen: 7,
					status: alert.StatusResolved, entries: []string{"alert {alert} (version 4): resolved at the source"},
					srcResolved: true, resolvedAt: true}},
				{{name: "new firing", mod: allOf(setFiring(firing2), setStatus(alert.StatusNew)), outcome: store.OutcomeReopened,
					version: 5, item: 1, seen: 8, status: alert.StatusNew, itemSev: alert.SeverityCritical,
					entries: []string{"created because alert {alert} fired again after it was resolved at the source after work item {item0} was closed"},
					old:     []string{"alert {alert} fired again after it was resolved at the source; now tracked in work item {item1}"}}},
			},
		},
		{
			name:  "alertmanager new firing while the old one still fires, after close",
			alert: func(t *testing.T) alert.Alert { return amAlert(t, firing1) },
			steps: [][]receiptStep{
				{created("alertmanager"), {name: "close", act: closeItem}},
				{{name: "new firing", mod: setFiring(firing2), outcome: store.OutcomeReopened, version: 2, item: 1, seen: 2,
					entries: []string{"created because alert {alert} fired again (a new firing) after work item {item0} was closed"},
					old:     []string{"alert {alert} fired again (a new firing); now tracked in work item {item1}"}}},
				resends(2, 2, 1, 3, alert.StatusNew, false),
			},
		},
		{
			// A resolution is never a firing, whatever startsAt it carries
			// (Alertmanager resolves a short second firing it never
			// notified as firing).
			name:  "alertmanager resolution of another firing on an open item",
			alert: func(t *testing.T) alert.Alert { return amAlert(t, firing1) },
			steps: [][]receiptStep{
				{created("alertmanager")},
				{{name: "resolved, new startsAt", mod: allOf(setFiring(firing2), setStatus(alert.StatusResolved)), outcome: store.OutcomeUpdated,
					version: 2, seen: 2, status: alert.StatusResolved, entries: []string{"alert {alert} (version 2): resolved at the source"},
					srcResolved: true, resolvedAt: true}},
			},
		},
		{
			name:  "alertmanager resolution of another firing on a closed item",
			alert: func(t *testing.T) alert.Alert { return amAlert(t, firing1) },
			steps: [][]receiptStep{
				{created("alertmanager"), {name: "close", act: closeItem}},
				{{name: "resolved, new startsAt", mod: allOf(setFiring(firing2), setStatus(alert.StatusResolved)), outcome: store.OutcomeUpdated,
					version: 2, seen: 2, status: alert.StatusResolved, entries: []string{"alert {alert} (version 2): resolved at the source"},
					srcResolved: true, resolvedAt: true}},
			},
		},
		{
			name: "pagerduty trigger, close, resolve, trigger",
			alert: func(t *testing.T) alert.Alert {
				return newAlert(t, "pagerduty", "dedup-1", "Database down", alert.SeverityCritical)
			},
			steps: [][]receiptStep{
				{created("pagerduty"), {name: "close", act: closeItem}},
				resends(2, 1, 0, 2, alert.StatusNew, false),
				{{name: "resolve", mod: setStatus(alert.StatusResolved), outcome: store.OutcomeUpdated, version: 2, seen: 4,
					status: alert.StatusResolved, entries: []string{"alert {alert} (version 2): resolved at the source"},
					srcResolved: true, resolvedAt: true}},
				resends(1, 2, 0, 5, alert.StatusResolved, true),
				{{name: "trigger", mod: setStatus(alert.StatusNew), outcome: store.OutcomeReopened, version: 3, item: 1, seen: 6,
					status:  alert.StatusNew,
					entries: []string{"created because alert {alert} fired again after it was resolved at the source after work item {item0} was closed"},
					old:     []string{"alert {alert} fired again after it was resolved at the source; now tracked in work item {item1}"}}},
			},
		},
		{
			name: "pagerduty trigger re-sent after acknowledge stays acknowledged",
			alert: func(t *testing.T) alert.Alert {
				return newAlert(t, "pagerduty", "dedup-2", "Queue stuck", alert.SeverityHigh)
			},
			steps: [][]receiptStep{
				{created("pagerduty"), {name: "acknowledge", act: senderStatus(alert.StatusInProgress)}},
				resends(3, 2, 0, 2, alert.StatusInProgress, false),
				{{name: "resolve", mod: setStatus(alert.StatusResolved), outcome: store.OutcomeUpdated, version: 3, seen: 5,
					status: alert.StatusResolved, entries: []string{"alert {alert} (version 3): resolved at the source"},
					srcResolved: true, resolvedAt: true}},
				// On an open item a trigger after the resolve is a new
				// firing on the same item.
				{{name: "trigger", mod: setStatus(alert.StatusNew), outcome: store.OutcomeUpdated, version: 4, seen: 6,
					status: alert.StatusNew, entries: []string{"alert {alert} (version 4): fired again after it was resolved at the source"}}},
			},
		},
		{
			// A polled source's status is its own: new after in progress
			// is a real step back, not a re-sent trigger.
			name: "sentinel alert set back to new at the source",
			alert: func(t *testing.T) alert.Alert {
				return newAlert(t, "sentinel", "s-1", "Impossible travel", alert.SeverityMedium)
			},
			steps: [][]receiptStep{
				{created("sentinel")},
				{{name: "in progress", mod: setStatus(alert.StatusInProgress), outcome: store.OutcomeUpdated, version: 2, seen: 2,
					status: alert.StatusInProgress, entries: []string{"alert {alert} (version 2): set in progress at the source"}}},
				{{name: "new", mod: setStatus(alert.StatusNew), outcome: store.OutcomeUpdated, version: 3, seen: 3,
					status: alert.StatusNew, entries: []string{"alert {alert} (version 3): set back to new at the source"}}},
				{{name: "dismissed", mod: setStatus(alert.StatusDismissed), outcome: store.OutcomeUpdated, version: 4, seen: 4,
					status: alert.StatusDismissed, entries: []string{"alert {alert} (version 4): dismissed at the source"},
					srcResolved: true, resolvedAt: true}},
				resends(2, 4, 0, 5, alert.StatusDismissed, true),
				// Open again on the open item: a new firing there, and the
				// item is no longer resolved at the source.
				{{name: "new again", mod: setStatus(alert.StatusNew), outcome: store.OutcomeUpdated, version: 5, seen: 7,
					status: alert.StatusNew, entries: []string{"alert {alert} (version 5): fired again after it was dismissed at the source"}}},
			},
		},
		{
			name: "severity raised, never lowered",
			alert: func(t *testing.T) alert.Alert {
				return newAlert(t, "defender", "d-sev", "Suspicious sign-in", alert.SeverityMedium)
			},
			steps: [][]receiptStep{
				{created("defender")},
				{{name: "raised", mod: setSeverity(alert.SeverityHigh), outcome: store.OutcomeUpdated, version: 2, seen: 2,
					entries: []string{"alert {alert} (version 2): severity raised from medium to high",
						"severity raised from medium to high: alert {alert} fired at high"}, itemSev: alert.SeverityHigh}},
				{{name: "lowered", mod: setSeverity(alert.SeverityLow), outcome: store.OutcomeUpdated, version: 3, seen: 3,
					entries: []string{"alert {alert} (version 3): severity lowered from high to low"}, itemSev: alert.SeverityHigh}},
				resends(1, 3, 0, 4, alert.StatusNew, false),
				// Back up to high: the item is there already.
				{{name: "back to high", mod: setSeverity(alert.SeverityHigh), outcome: store.OutcomeUpdated, version: 4, seen: 5,
					entries: []string{"alert {alert} (version 4): severity raised from low to high"}, itemSev: alert.SeverityHigh}},
				{{name: "critical", mod: setSeverity(alert.SeverityCritical), outcome: store.OutcomeUpdated, version: 5, seen: 6,
					entries: []string{"alert {alert} (version 5): severity raised from high to critical",
						"severity raised from high to critical: alert {alert} fired at critical"}, itemSev: alert.SeverityCritical}},
			},
		},
		{
			name: "every change in words",
			alert: func(t *testing.T) alert.Alert {
				return newAlert(t, "defender", "d-words", "Malware found", alert.SeverityLow)
			},
			steps: [][]receiptStep{
				{created("defender")},
				{{name: "title", mod: func(a *alert.Alert) { a.Title = "Malware found and quarantined" }, outcome: store.OutcomeUpdated,
					version: 2, seen: 2, entries: []string{"alert {alert} (version 2): title changed"}}},
				{{name: "entities", mod: func(a *alert.Alert) { a.Entities = []alert.Entity{{Kind: alert.EntityHost, Value: "vm-9"}} },
					outcome: store.OutcomeUpdated, version: 3, seen: 3, entries: []string{"alert {alert} (version 3): entities changed"}}},
				{{name: "product", mod: func(a *alert.Alert) { a.Product = "Defender for Servers" }, outcome: store.OutcomeUpdated,
					version: 4, seen: 4, entries: []string{"alert {alert} (version 4): product changed"}}},
				{{name: "resolved and raised", mod: allOf(setStatus(alert.StatusResolved), setSeverity(alert.SeverityMedium)),
					outcome: store.OutcomeUpdated, version: 5, seen: 5, status: alert.StatusResolved, itemSev: alert.SeverityMedium,
					entries: []string{"alert {alert} (version 5): resolved at the source; severity raised from low to medium",
						"severity raised from low to medium: alert {alert} fired at medium"},
					srcResolved: true, resolvedAt: true}},
			},
		},
	}
	clk := clock.NewFake(t0)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
				clk.Set(t0)
				r := &receiptRun{db: db, clk: clk, cur: sc.alert(t)}
				for i, st := range slices.Concat(sc.steps...) {
					r.step(t, i, st)
				}
			})
		})
	}
}

// amAlert is an Alertmanager alert of one firing, fingerprinted as
// Alertmanager's are.
func amAlert(t *testing.T, firing string) alert.Alert {
	a := newAlert(t, "alertmanager", "", "DiskFull", alert.SeverityHigh)
	a.Entities = []alert.Entity{{Kind: alert.EntityHost, Value: "db-1"}}
	a.Firing = firing
	return a
}

func (r *receiptRun) step(t *testing.T, i int, st receiptStep) {
	t.Helper()
	ctx := context.Background()
	r.clk.Advance(time.Minute)
	if st.act != nil {
		st.act(t, r)
		return
	}
	// Timelines and the item as they were before this receipt.
	before := map[int64]int{}
	for _, id := range r.items {
		before[id] = len(mustTimeline(t, r.db, id))
	}
	var prevItem workitem.Item
	if len(r.items) > 0 {
		prevItem = mustGetItem(t, r.db, r.items[len(r.items)-1])
	}

	if st.mod != nil {
		st.mod(&r.cur)
	}
	r.n++
	r.cur.LastSeen = r.clk.Now()
	r.cur.Raw = []byte(fmt.Sprintf(`{"receipt":%d}`, r.n))
	got := mustIngest(t, r.db, r.cur)[0]
	where := fmt.Sprintf("step %d (%s)", i, st.name)

	if r.alertID == 0 {
		r.alertID = got.AlertID
	}
	if got.Outcome == store.OutcomeCreated || got.Outcome == store.OutcomeReopened {
		r.items = append(r.items, got.WorkItemID)
	}
	if got.Outcome != st.outcome || got.Version != st.version || got.AlertID != r.alertID || got.SourceResolved != st.srcResolved {
		t.Fatalf("%s: result %s version %d alert %d source-resolved %v, want %s version %d alert %d source-resolved %v",
			where, got.Outcome, got.Version, got.AlertID, got.SourceResolved, st.outcome, st.version, r.alertID, st.srcResolved)
	}
	if st.item >= len(r.items) || got.WorkItemID != r.items[st.item] {
		t.Fatalf("%s: on item %d, want the alert's item #%d of %v", where, got.WorkItemID, st.item, r.items)
	}

	a, err := r.db.GetAlert(ctx, r.alertID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Version != st.version || a.SeenCount != st.seen || a.WorkItemID != got.WorkItemID || (st.status != "" && a.Status != st.status) {
		t.Errorf("%s: alert version %d seen %d item %d status %s, want %d %d %d %s",
			where, a.Version, a.SeenCount, a.WorkItemID, a.Status, st.version, st.seen, got.WorkItemID, st.status)
	}
	if !a.LastSeen.Equal(r.cur.LastSeen) {
		t.Errorf("%s: alert last_seen %v, want %v (every receipt moves it)", where, a.LastSeen, r.cur.LastSeen)
	}
	if vs, err := r.db.AlertVersions(ctx, r.alertID); err != nil || len(vs) != st.version {
		t.Errorf("%s: %d versions, %v; want %d", where, len(vs), err, st.version)
	}

	it := mustGetItem(t, r.db, got.WorkItemID)
	if st.itemSev != "" && it.Severity != st.itemSev {
		t.Errorf("%s: item severity %s, want %s", where, it.Severity, st.itemSev)
	}
	if (it.SourceResolvedAt != nil) != st.resolvedAt {
		t.Errorf("%s: item source_resolved_at %v, want set %v", where, it.SourceResolvedAt, st.resolvedAt)
	}
	if !it.LastSeen.Equal(r.cur.LastSeen) {
		t.Errorf("%s: item last_seen %v, want %v", where, it.LastSeen, r.cur.LastSeen)
	}
	if st.outcome == store.OutcomeUnchanged && (it.Rev != prevItem.Rev || !it.UpdatedAt.Equal(prevItem.UpdatedAt)) {
		t.Errorf("%s: unchanged re-send moved item rev %d → %d updated %v → %v, want neither moved",
			where, prevItem.Rev, it.Rev, prevItem.UpdatedAt, it.UpdatedAt)
	}

	// Exactly the expected entries, on the expected items only.
	for idx, id := range r.items {
		var want []string
		switch idx {
		case st.item:
			want = r.expand(st.entries)
		case st.item - 1:
			want = r.expand(st.old)
		}
		tl := mustTimeline(t, r.db, id)
		var added []string
		for _, e := range tl[before[id]:] {
			added = append(added, e.Message)
		}
		if !slices.Equal(added, want) {
			t.Errorf("%s: item %d (#%d) timeline gained %q, want %q", where, id, idx, added, want)
		}
	}
	if st.outcome == store.OutcomeReopened {
		if it.PreviousID != r.items[st.item-1] || it.State != "New" {
			t.Errorf("%s: new item previous_id %d state %s, want %d New", where, it.PreviousID, it.State, r.items[st.item-1])
		}
		if old := mustGetItem(t, r.db, r.items[st.item-1]); old.State != "Closed" {
			t.Errorf("%s: old item state %s, want it left Closed", where, old.State)
		}
	}
	// The alert has one item at a time, and closed items stay closed.
	if items, err := r.db.ListWorkItems(ctx, workitem.Filter{}); err != nil || len(items) != len(r.items) {
		t.Errorf("%s: %d items, %v; want %d", where, len(items), err, len(r.items))
	}
}

// TestReceiptResendsConcurrent has several writers re-send the same
// alerts unchanged at once: no version, and every receipt counted.
func TestReceiptResendsConcurrent(t *testing.T) {
	storetest.ForEach(t, clock.NewFake(t0), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const writers, rounds, keys = 4, 5, 12
		batch := make([]alert.Alert, keys)
		for i := range batch {
			batch[i] = newAlert(t, "alertmanager", fmt.Sprintf("r%02d", i), "Re-sent", alert.SeverityLow)
			batch[i].Firing = firing1
		}
		first := mustIngest(t, db, batch...)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := range writers {
			wg.Go(func() {
				<-start
				mine := slices.Clone(batch)
				if w%2 == 1 {
					slices.Reverse(mine)
				}
				for round := range rounds {
					for i := range mine {
						mine[i].LastSeen = t0.Add(time.Duration(round+1) * time.Minute)
					}
					res, err := db.Ingest(ctx, workitem.DefaultProcess(), "test", mine)
					if err != nil {
						t.Errorf("writer %d round %d: %v", w, round, err)
						continue
					}
					for i, r := range res {
						if r.Outcome != store.OutcomeUnchanged || r.Version != 1 {
							t.Errorf("writer %d round %d result %d = %s version %d, want unchanged version 1", w, round, i, r.Outcome, r.Version)
						}
					}
				}
			})
		}
		close(start)
		wg.Wait()
		for i, r := range first {
			a, err := db.GetAlert(ctx, r.AlertID)
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(1 + writers*rounds); a.SeenCount != want || a.Version != 1 || !a.LastSeen.Equal(t0.Add(rounds*time.Minute)) {
				t.Errorf("alert %d: seen %d version %d last_seen %v, want %d 1 %v", i, a.SeenCount, a.Version, a.LastSeen, want, t0.Add(rounds*time.Minute))
			}
			if tl := mustTimeline(t, db, r.WorkItemID); len(tl) != 1 {
				t.Errorf("alert %d: item has %d timeline entries, want 1", i, len(tl))
			}
		}
	})
}

// TestReceiptSourceResolved checks source_resolved_at on an item with two
// alerts: set only when the last open one is resolved, reported once, and
// cleared when one opens again; and the same through ChangeAlertStatus.
func TestReceiptSourceResolved(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		clk.Set(t0)
		ctx := context.Background()
		// Two Defender alerts on their incident's item.
		itemID := mustUpsertIncident(t, db, memberIncident("inc-sr", alert.SeverityMedium, "d-sr1", "d-sr2")).WorkItemID
		d1, d2 := graced(t, "d-sr1", alert.SeverityMedium), graced(t, "d-sr2", alert.SeverityMedium)
		for _, r := range mustIngest(t, db, d1, d2) {
			if r.WorkItemID != itemID || !r.ViaIncident {
				t.Fatalf("graced alert = %+v, want it on the incident's item %d", r, itemID)
			}
		}

		steps := []struct {
			name        string
			send        []alert.Alert
			srcResolved bool
			resolvedAt  bool
			entry       string // the last timeline entry's message afterwards, if not ""
		}{
			{"first resolved", []alert.Alert{withStatus(d1, alert.StatusResolved)}, false, false, ""},
			{"first re-sent", []alert.Alert{withStatus(d1, alert.StatusResolved)}, false, false, ""},
			{"second dismissed", []alert.Alert{withStatus(d2, alert.StatusDismissed)}, true, true,
				"all 2 alerts of this item are resolved or dismissed at their source"},
			{"both re-sent", []alert.Alert{withStatus(d1, alert.StatusResolved), withStatus(d2, alert.StatusDismissed)}, false, true, ""},
			{"second open again", []alert.Alert{d2}, false, false, ""},
			{"both settled in one batch", []alert.Alert{withStatus(d1, alert.StatusResolved), withStatus(d2, alert.StatusResolved)}, true, true, ""},
		}
		for _, s := range steps {
			clk.Advance(time.Minute)
			res := mustIngest(t, db, s.send...)
			for i, r := range res {
				if r.SourceResolved != s.srcResolved {
					t.Errorf("%s: result %d SourceResolved = %v, want %v", s.name, i, r.SourceResolved, s.srcResolved)
				}
			}
			it := mustGetItem(t, db, itemID)
			if (it.SourceResolvedAt != nil) != s.resolvedAt {
				t.Errorf("%s: source_resolved_at = %v, want set %v", s.name, it.SourceResolvedAt, s.resolvedAt)
			}
			if s.resolvedAt && s.srcResolved && !it.SourceResolvedAt.Equal(clk.Now()) {
				t.Errorf("%s: source_resolved_at = %v, want %v", s.name, it.SourceResolvedAt, clk.Now())
			}
			if s.entry != "" {
				tl := mustTimeline(t, db, itemID)
				if got := tl[len(tl)-1].Message; got != s.entry {
					t.Errorf("%s: last entry %q, want %q", s.name, got, s.entry)
				}
			}
		}

		// A sender's status events: ChangeAlertStatus reports the batch
		// that settles the item, once.
		pd := mustIngest(t, db, newAlert(t, "pagerduty", "pd-sr", "Checkout 500s", alert.SeverityHigh))[0]
		for _, s := range []struct {
			status         alert.Status
			srcResolved    bool
			resolvedAtWant bool
		}{
			{alert.StatusInProgress, false, false},
			{alert.StatusResolved, true, true},
			{alert.StatusResolved, false, true},
			{alert.StatusNew, false, false},
			{alert.StatusDismissed, true, true},
		} {
			ch, err := db.ChangeAlertStatus(ctx, "pagerduty", "pd-sr", s.status, "token:pd", "event")
			if err != nil || !ch.Found || ch.AlertID != pd.AlertID || ch.WorkItemID != pd.WorkItemID || ch.SourceResolved != s.srcResolved {
				t.Errorf("ChangeAlertStatus(%s) = %+v, %v; want alert %d item %d SourceResolved %v",
					s.status, ch, err, pd.AlertID, pd.WorkItemID, s.srcResolved)
			}
			if it := mustGetItem(t, db, pd.WorkItemID); (it.SourceResolvedAt != nil) != s.resolvedAtWant {
				t.Errorf("after %s: source_resolved_at %v, want set %v", s.status, it.SourceResolvedAt, s.resolvedAtWant)
			}
		}
		if ch, err := db.ChangeAlertStatus(ctx, "pagerduty", "pd-missing", alert.StatusResolved, "x", "y"); err != nil || ch.Found || ch.SourceResolved {
			t.Errorf("ChangeAlertStatus(unknown) = %+v, %v; want not found", ch, err)
		}
	})
}

func withStatus(a alert.Alert, s alert.Status) alert.Alert {
	a.Status = s
	return a
}

// graced is a Defender for Cloud alert that waits for its Sentinel
// incident (sync.incident_grace, 10 minutes).
func graced(t *testing.T, id string, sev alert.Severity) alert.Alert {
	a := newAlert(t, "defender", id, "Defender finding "+id, sev)
	a.Entities = []alert.Entity{{Kind: alert.EntityHost, Value: "VM-" + strings.ToUpper(id)}, {Kind: alert.EntityIP, Value: "203.0.113.7"}}
	a.Grace = 10 * time.Minute
	return a
}

// sentinelIncident names Defender alerts as its members, as the Sentinel
// connector does.
func memberIncident(id string, sev alert.Severity, members ...string) alert.Incident {
	in := alert.Incident{Source: "sentinel", SourceID: id, Title: "Incident " + id, Severity: sev, Status: alert.StatusNew,
		Members: []alert.Member{}}
	for _, m := range members {
		in.Members = append(in.Members, alert.Member{Source: "defender", SourceID: m, Status: alert.StatusNew})
	}
	if err := in.Normalize(t0); err != nil {
		panic(err)
	}
	return in
}

func mustUpsertIncident(t *testing.T, db *store.DB, in alert.Incident) store.IncidentResult {
	t.Helper()
	r, err := db.UpsertIncident(context.Background(), workitem.DefaultProcess(), "test", in)
	if err != nil {
		t.Fatalf("upsert incident %s: %v", in.SourceID, err)
	}
	return r
}

func mustRelease(t *testing.T, db *store.DB) int {
	t.Helper()
	n, err := db.ReleaseHeldAlerts(context.Background(), workitem.DefaultProcess(), "test")
	if err != nil {
		t.Fatalf("ReleaseHeldAlerts: %v", err)
	}
	return n
}

func lastEntry(t *testing.T, db *store.DB, id int64) workitem.Entry {
	t.Helper()
	tl := mustTimeline(t, db, id)
	if len(tl) == 0 {
		t.Fatalf("item %d has no timeline", id)
	}
	return tl[len(tl)-1]
}

// TestHeldAlerts covers one finding, one work item: a Defender alert
// that waits for its Sentinel incident is held, joins an incident that
// names it, or gets a Problem item of its own when its grace ends; and a
// Problem item whose alert an incident names later is merged into the
// incident's item.
func TestHeldAlerts(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, db *store.DB, clk *clock.Fake)
	}{
		{"released when no incident names it", testHeldReleased},
		{"linked at once to a known incident", testHeldClaimedAtIngest},
		{"taken by an incident that arrives later", testHeldClaimedLater},
		{"own item merged into a later incident's", testHeldMerged},
	}
	clk := clock.NewFake(t0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
				clk.Set(t0)
				tt.run(t, db, clk)
			})
		})
	}
}

func testHeldReleased(t *testing.T, db *store.DB, clk *clock.Fake) {
	ctx := context.Background()
	a := graced(t, "d-rel", alert.SeverityHigh)
	r := mustIngest(t, db, a)[0]
	if r.Outcome != store.OutcomeHeld || r.WorkItemID != 0 || r.Version != 1 {
		t.Fatalf("graced alert = %+v, want held, version 1, no item", r)
	}
	// A re-send while held changes nothing; a change is versioned.
	if got := mustIngest(t, db, a)[0]; got.Outcome != store.OutcomeUnchanged || got.WorkItemID != 0 {
		t.Errorf("re-send while held = %+v, want unchanged, no item", got)
	}
	changed := a
	changed.Description = "more detail"
	if got := mustIngest(t, db, changed)[0]; got.Outcome != store.OutcomeUpdated || got.Version != 2 || got.WorkItemID != 0 {
		t.Errorf("change while held = %+v, want updated version 2, no item", got)
	}
	if items, _ := db.ListWorkItems(ctx, workitem.Filter{}); len(items) != 0 {
		t.Fatalf("%d items while held, want none", len(items))
	}

	clk.Advance(10*time.Minute - time.Second)
	if n := mustRelease(t, db); n != 0 {
		t.Errorf("released %d before the grace ended, want 0", n)
	}
	clk.Advance(time.Second)
	if n := mustRelease(t, db); n != 1 {
		t.Fatalf("released %d when the grace ended, want 1", n)
	}
	if n := mustRelease(t, db); n != 0 {
		t.Errorf("released %d again, want 0", n)
	}
	got, err := db.GetAlert(ctx, r.AlertID)
	if err != nil || got.WorkItemID == 0 {
		t.Fatalf("released alert = item %d, %v; want an item", got.WorkItemID, err)
	}
	it := mustGetItem(t, db, got.WorkItemID)
	if it.Type != workitem.TypeProblem || it.State != "New" || it.Severity != alert.SeverityHigh || it.AlertCount != 1 ||
		!slices.Equal(it.AlertIDs, []int64{r.AlertID}) || it.KeyEntity != "host VM-D-REL" {
		t.Errorf("released item = %s %s %s, %d alerts %v, key %q; want Problem New high with the alert, key \"host VM-D-REL\"",
			it.Type, it.State, it.Severity, it.AlertCount, it.AlertIDs, it.KeyEntity)
	}
	want := fmt.Sprintf("created from defender alert %d: no incident contained it within 10m0s", r.AlertID)
	if tl := mustTimeline(t, db, it.ID); len(tl) != 1 || tl[0].Kind != workitem.KindCreated || tl[0].Message != want {
		t.Errorf("released item timeline = %+v, want one created entry %q", tl, want)
	}
	if s, err := db.ItemSearchText(ctx, it.ID); err != nil || s != "defender finding d-rel\nvm-d-rel\n203.0.113.7" {
		t.Errorf("released item search text = %q, %v", s, err)
	}
	// The alert now lives on its item.
	if got := mustIngest(t, db, changed)[0]; got.Outcome != store.OutcomeUnchanged || got.WorkItemID != it.ID || got.ViaIncident {
		t.Errorf("re-send after release = %+v, want unchanged on item %d", got, it.ID)
	}
}

func testHeldClaimedAtIngest(t *testing.T, db *store.DB, clk *clock.Fake) {
	ctx := context.Background()
	inc := mustUpsertIncident(t, db, memberIncident("inc-at", alert.SeverityMedium, "d-at"))
	if inc.Outcome != store.OutcomeCreated || !slices.Equal(inc.MissingAlerts, []string{"defender:d-at"}) {
		t.Fatalf("incident = %+v, want created with defender:d-at missing", inc)
	}
	// The alert arrives higher than the incident: it raises the item.
	r := mustIngest(t, db, graced(t, "d-at", alert.SeverityHigh))[0]
	if r.Outcome != store.OutcomeCreated || !r.ViaIncident || r.WorkItemID != inc.WorkItemID {
		t.Fatalf("graced alert = %+v, want created on the incident's item %d via the incident", r, inc.WorkItemID)
	}
	it := mustGetItem(t, db, inc.WorkItemID)
	if !slices.Equal(it.AlertIDs, []int64{r.AlertID}) || it.AlertCount != 1 || it.Severity != alert.SeverityHigh || it.KeyEntity != "host VM-D-AT" {
		t.Errorf("incident item = alerts %v count %d severity %s key %q, want [%d] 1 high \"host VM-D-AT\"",
			it.AlertIDs, it.AlertCount, it.Severity, it.KeyEntity, r.AlertID)
	}
	tl := mustTimeline(t, db, it.ID)
	var msgs []string
	for _, e := range tl[1:] {
		msgs = append(msgs, e.Message)
	}
	want := []string{fmt.Sprintf("defender alert %d (d-at) linked through incident inc-at, which contains it", r.AlertID),
		fmt.Sprintf("severity raised from medium to high: alert %d fired at high", r.AlertID)}
	if !slices.Equal(msgs, want) {
		t.Errorf("incident item gained %q, want %q", msgs, want)
	}
	if s, _ := db.ItemSearchText(ctx, it.ID); !strings.Contains(s, "vm-d-at") || !strings.Contains(s, "203.0.113.7") {
		t.Errorf("incident item search text %q, want the alert's entities in it", s)
	}
	if items, _ := db.ListWorkItems(ctx, workitem.Filter{}); len(items) != 1 {
		t.Errorf("%d items, want 1 (one finding, one item)", len(items))
	}
	clk.Advance(11 * time.Minute)
	if n := mustRelease(t, db); n != 0 {
		t.Errorf("released %d, want 0: the alert has its incident's item", n)
	}
}

func testHeldClaimedLater(t *testing.T, db *store.DB, clk *clock.Fake) {
	ctx := context.Background()
	r := mustIngest(t, db, graced(t, "d-late", alert.SeverityLow))[0]
	if r.Outcome != store.OutcomeHeld {
		t.Fatalf("graced alert = %+v, want held", r)
	}
	clk.Advance(5 * time.Minute)
	inc := mustUpsertIncident(t, db, memberIncident("inc-late", alert.SeverityMedium, "d-late"))
	if len(inc.MissingAlerts) != 0 {
		t.Errorf("incident missing %v, want none", inc.MissingAlerts)
	}
	got, err := db.GetAlert(ctx, r.AlertID)
	if err != nil || got.WorkItemID != inc.WorkItemID {
		t.Fatalf("held alert after its incident = item %d, %v; want %d", got.WorkItemID, err, inc.WorkItemID)
	}
	it := mustGetItem(t, db, inc.WorkItemID)
	if !slices.Equal(it.AlertIDs, []int64{r.AlertID}) || it.AlertCount != 1 || it.KeyEntity != "host VM-D-LATE" {
		t.Errorf("incident item = alerts %v count %d key %q, want [%d] 1 \"host VM-D-LATE\"", it.AlertIDs, it.AlertCount, it.KeyEntity, r.AlertID)
	}
	if e := lastEntry(t, db, it.ID); e.Message != fmt.Sprintf("alert %d linked through incident inc-late", r.AlertID) {
		t.Errorf("incident item's last entry %q, want the link", e.Message)
	}
	clk.Advance(10 * time.Minute)
	if n := mustRelease(t, db); n != 0 {
		t.Errorf("released %d, want 0: the incident took the alert", n)
	}
	if got := mustIngest(t, db, graced(t, "d-late", alert.SeverityLow))[0]; got.Outcome != store.OutcomeUnchanged ||
		got.WorkItemID != inc.WorkItemID || !got.ViaIncident {
		t.Errorf("re-send = %+v, want unchanged on the incident's item via the incident", got)
	}
	if items, _ := db.ListWorkItems(ctx, workitem.Filter{}); len(items) != 1 {
		t.Errorf("%d items, want 1", len(items))
	}
}

func testHeldMerged(t *testing.T, db *store.DB, clk *clock.Fake) {
	ctx := context.Background()
	r := mustIngest(t, db, graced(t, "d-mrg", alert.SeverityHigh))[0]
	clk.Advance(10 * time.Minute)
	if n := mustRelease(t, db); n != 1 {
		t.Fatalf("released %d, want 1", n)
	}
	a, _ := db.GetAlert(ctx, r.AlertID)
	problem := a.WorkItemID
	// An analyst worked the Problem item: assigned, tagged, and a write
	// to Defender is waiting in the outbox.
	mustUpdate(t, db, problem, func(it *workitem.Item) {
		it.State, it.Assignee, it.Tags = "Active", "alice@example.com", []string{"crypto"}
	})
	if n, err := db.Enqueue(ctx, []outbox.Message{{WorkItemID: problem, Target: "defender", Op: "alert.update", Resource: "d-mrg",
		IdemKey: "merge-test-1", Payload: []byte(`{"status":"inProgress"}`)}}, nil); err != nil || n != 1 {
		t.Fatalf("Enqueue = %d, %v", n, err)
	}

	clk.Advance(time.Minute)
	inc := mustUpsertIncident(t, db, memberIncident("inc-mrg", alert.SeverityMedium, "d-mrg"))
	into := inc.WorkItemID
	if into == 0 || into == problem {
		t.Fatalf("incident item %d, want a new one beside problem %d", into, problem)
	}

	from := mustGetItem(t, db, problem)
	if from.MergedInto != into || from.ClosedAt == nil || from.State != "Active" {
		t.Errorf("problem item merged_into %d closed %v state %s, want merged into %d, closed, state kept", from.MergedInto, from.ClosedAt, from.State, into)
	}
	it := mustGetItem(t, db, into)
	if !slices.Contains(it.AlertIDs, r.AlertID) || it.AlertCount != 1 || it.Assignee != "alice@example.com" ||
		!slices.Equal(it.Tags, []string{"crypto"}) || it.Severity != alert.SeverityHigh || it.KeyEntity != "host VM-D-MRG" {
		t.Errorf("incident item = alerts %v count %d assignee %q tags %v severity %s key %q; want the alert, alice, [crypto], high, host VM-D-MRG",
			it.AlertIDs, it.AlertCount, it.Assignee, it.Tags, it.Severity, it.KeyEntity)
	}
	if got, _ := db.GetAlert(ctx, r.AlertID); got.WorkItemID != into {
		t.Errorf("alert on item %d, want %d", got.WorkItemID, into)
	}
	msgs, err := db.ListOutbox(ctx, "", problem, 0, 10)
	if err != nil || len(msgs) != 1 || msgs[0].State != outbox.Cancelled {
		t.Errorf("problem item's outbox = %+v, %v; want the one message cancelled", msgs, err)
	}

	fromEntry, intoEntry := lastEntry(t, db, problem), entryOfKind(t, db, into, workitem.KindMerged)
	wantFrom := fmt.Sprintf("merged into work item %d: alert %d belongs to sentinel incident inc-mrg, which that item tracks; "+
		"1 pending write(s) cancelled, the incident's item carries them", into, r.AlertID)
	if fromEntry.Kind != workitem.KindMerged || fromEntry.Message != wantFrom {
		t.Errorf("problem item's last entry = %s %q, want merged %q", fromEntry.Kind, fromEntry.Message, wantFrom)
	}
	wantInto := fmt.Sprintf("Problem item %d (Active) merged into this item: its alert %d belongs to incident inc-mrg; "+
		"carried over: assignee alice@example.com; severity high; tags crypto", problem, r.AlertID)
	if intoEntry.Message != wantInto {
		t.Errorf("incident item's merged entry = %q, want %q", intoEntry.Message, wantInto)
	}

	// The merged item refuses moves: work goes on in the incident's item.
	svc := workitem.NewService(db, workitem.DefaultProcess(), clk)
	actor := auth.Actor{Kind: "user", Name: "alice@example.com", Role: auth.RoleResponder}
	_, err = svc.Transition(ctx, actor, problem, "Verification", "", 0)
	var conflict *validation.ConflictError
	if !errors.As(err, &conflict) || !strings.Contains(conflict.Message, fmt.Sprintf("merged into work item %d", into)) {
		t.Errorf("Transition of the merged item = %v, want a ConflictError naming item %d", err, into)
	}
	if _, err := svc.Transition(ctx, actor, into, "Approved", "", 0); err != nil {
		t.Errorf("Transition of the incident's item: %v", err)
	}

	// The board leaves the merged item out; the incident read again
	// merges nothing twice.
	board, err := db.ListWorkItems(ctx, workitem.Filter{HideMerged: true})
	if err != nil || !slices.Equal(itemIDs(board), []int64{into}) {
		t.Errorf("board items = %v, %v; want only %d", itemIDs(board), err, into)
	}
	before := len(mustTimeline(t, db, problem))
	mustUpsertIncident(t, db, memberIncident("inc-mrg", alert.SeverityMedium, "d-mrg"))
	if n := len(mustTimeline(t, db, problem)); n != before {
		t.Errorf("problem item timeline grew %d → %d on a re-read incident, want no second merge", before, n)
	}
	if got := mustIngest(t, db, graced(t, "d-mrg", alert.SeverityHigh))[0]; got.WorkItemID != into || !got.ViaIncident ||
		got.Outcome != store.OutcomeUnchanged {
		t.Errorf("re-send after the merge = %+v, want unchanged on item %d via the incident", got, into)
	}
}

func entryOfKind(t *testing.T, db *store.DB, id int64, kind string) workitem.Entry {
	t.Helper()
	for _, e := range mustTimeline(t, db, id) {
		if e.Kind == kind {
			return e
		}
	}
	t.Fatalf("item %d has no %s entry", id, kind)
	return workitem.Entry{}
}

// TestIncidentReceipts checks what a re-read incident does to its item:
// severity raises (never lowers) the open item, vigil's own close read
// back stays on the closed item, and only a reopen at the source makes a
// new item.
func TestIncidentReceipts(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		clk.Set(t0)
		in := memberIncident("inc-r", alert.SeverityMedium)
		first := mustUpsertIncident(t, db, in)
		item := first.WorkItemID
		steps := []struct {
			name    string
			mod     func(*alert.Incident)
			close   bool // close the item before this read
			outcome store.Outcome
			newItem bool
			sev     alert.Severity // the item's severity after
			entries []string       // added to the incident's (first) item; "{v}" is the version
		}{
			{name: "re-read unchanged", outcome: store.OutcomeUnchanged, sev: alert.SeverityMedium},
			{name: "raised", mod: func(i *alert.Incident) { i.Severity = alert.SeverityHigh }, outcome: store.OutcomeUpdated,
				sev: alert.SeverityHigh, entries: []string{"incident inc-r (version {v}): severity raised from medium to high",
					"severity raised from medium to high: incident inc-r is now high"}},
			{name: "lowered", mod: func(i *alert.Incident) { i.Severity = alert.SeverityLow }, outcome: store.OutcomeUpdated,
				sev: alert.SeverityHigh, entries: []string{"incident inc-r (version {v}): severity lowered from high to low"}},
			{name: "active", mod: func(i *alert.Incident) { i.Status = alert.StatusInProgress }, outcome: store.OutcomeUpdated,
				sev: alert.SeverityHigh, entries: []string{"incident inc-r (version {v}): set active at the source"}},
			{name: "own close read back", close: true, mod: func(i *alert.Incident) { i.Status = alert.StatusResolved },
				outcome: store.OutcomeUpdated, sev: alert.SeverityHigh,
				entries: []string{"incident inc-r (version {v}): resolved at the source"}},
			{name: "re-read closed", outcome: store.OutcomeUnchanged, sev: alert.SeverityHigh},
			{name: "raised while closed", mod: func(i *alert.Incident) { i.Severity = alert.SeverityCritical }, outcome: store.OutcomeUpdated,
				sev: alert.SeverityHigh, entries: []string{"incident inc-r (version {v}): severity raised from low to critical"}},
			{name: "reopened at the source", mod: func(i *alert.Incident) { i.Status = alert.StatusNew }, outcome: store.OutcomeReopened,
				newItem: true, sev: alert.SeverityHigh,
				entries: []string{"incident inc-r was reopened at its source; now tracked in work item {next}"}},
		}
		for _, s := range steps {
			clk.Advance(time.Minute)
			if s.close {
				now := clk.Now()
				mustUpdate(t, db, item, func(it *workitem.Item) { it.State, it.ClosedAt = "Closed", &now })
			}
			n := len(mustTimeline(t, db, item))
			if s.mod != nil {
				s.mod(&in)
			}
			r := mustUpsertIncident(t, db, in)
			if r.Outcome != s.outcome || (r.WorkItemID != item) != s.newItem {
				t.Errorf("%s: %+v, want %s, new item %v", s.name, r, s.outcome, s.newItem)
			}
			rep := strings.NewReplacer("{v}", strconv.Itoa(r.Version), "{next}", strconv.FormatInt(r.WorkItemID, 10))
			var want, got []string
			for _, e := range s.entries {
				want = append(want, rep.Replace(e))
			}
			for _, e := range mustTimeline(t, db, item)[n:] {
				got = append(got, e.Message)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: item gained %q, want %q", s.name, got, want)
			}
			if it := mustGetItem(t, db, item); it.Severity != s.sev {
				t.Errorf("%s: item severity %s, want %s", s.name, it.Severity, s.sev)
			}
			if s.newItem {
				next := mustGetItem(t, db, r.WorkItemID)
				if next.PreviousID != item || next.State != "New" || next.Severity != alert.SeverityCritical {
					t.Errorf("%s: new item previous %d state %s severity %s, want %d New critical", s.name, next.PreviousID, next.State, next.Severity, item)
				}
			}
		}
	})
}

// TestSearchTextAndKeyEntity checks the card's key entity and the
// board's search text of new items, and that linking an alert refreshes
// an incident item's.
func TestSearchTextAndKeyEntity(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		clk.Set(t0)
		ctx := context.Background()
		ents := func(es ...alert.Entity) []alert.Entity { return es }
		tests := []struct {
			name     string
			entities []alert.Entity
			key      string
			search   string
		}{
			{"host first", ents(alert.Entity{Kind: alert.EntityHost, Value: "VM-1"}, alert.Entity{Kind: alert.EntityIP, Value: "10.0.0.1"}),
				"host VM-1", "brute force\nvm-1\n10.0.0.1"},
			{"account before host", ents(alert.Entity{Kind: alert.EntityURL, Value: "https://Evil.example/x"},
				alert.Entity{Kind: alert.EntityAccount, Value: "Alice@Contoso.com"}, alert.Entity{Kind: alert.EntityHost, Value: "vm-2"}),
				"account Alice@Contoso.com", "brute force\nhttps://evil.example/x\nalice@contoso.com\nvm-2"},
			{"no key kind", ents(alert.Entity{Kind: alert.EntityFileHash, Value: "ABC123"}), "filehash ABC123", "brute force\nabc123"},
			{"no entities", nil, "", "brute force"},
		}
		for i, tt := range tests {
			a := newAlert(t, "alertmanager", fmt.Sprintf("st-%d", i), "Brute Force", alert.SeverityLow)
			a.Entities = tt.entities
			r := mustIngest(t, db, a)[0]
			it := mustGetItem(t, db, r.WorkItemID)
			s, err := db.ItemSearchText(ctx, r.WorkItemID)
			if err != nil {
				t.Fatal(err)
			}
			if it.KeyEntity != tt.key || s != tt.search {
				t.Errorf("%s: key %q search %q, want %q %q", tt.name, it.KeyEntity, s, tt.key, tt.search)
			}
		}
		// The board finds the item by an entity.
		if items, err := db.ListWorkItems(ctx, workitem.Filter{Text: "ALICE@contoso"}); err != nil || len(items) != 1 {
			t.Errorf("search by account = %d items, %v; want 1", len(items), err)
		}

		// An incident's item has no entities of its own; its alerts'
		// arrive with them.
		inc := mustUpsertIncident(t, db, memberIncident("inc-st", alert.SeverityLow, "d-st"))
		if it := mustGetItem(t, db, inc.WorkItemID); it.KeyEntity != "" {
			t.Errorf("incident item key %q before its alerts, want none", it.KeyEntity)
		}
		mustIngest(t, db, graced(t, "d-st", alert.SeverityLow))
		it := mustGetItem(t, db, inc.WorkItemID)
		s, _ := db.ItemSearchText(ctx, inc.WorkItemID)
		if it.KeyEntity != "host VM-D-ST" || s != "incident inc-st\nvm-d-st\n203.0.113.7" {
			t.Errorf("incident item after its alert: key %q search %q", it.KeyEntity, s)
		}
	})
}
