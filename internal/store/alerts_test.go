package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

func TestListAlertsFilters(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		clk.Set(t0)
		ctx := context.Background()
		inProgress := newAlert(t, "sentinel", "s1", "CPU at 1000 MHz on web02", alert.SeverityMedium)
		inProgress.Status = alert.StatusInProgress
		resolved := newAlert(t, "sentinel", "s2", "disk_full on db01", alert.SeverityCritical)
		resolved.Status = alert.StatusResolved
		// One ingest per alert, so that IDs follow this order.
		var res []store.IngestResult
		for _, a := range []alert.Alert{
			newAlert(t, "defender", "d1", "CPU at 100% on web01", alert.SeverityHigh),
			inProgress,
			resolved,
			newAlert(t, "alertmanager", "", "diskXfull on db02", alert.SeverityLow),
		} {
			res = append(res, mustIngest(t, db, a)...)
		}
		id := make([]int64, len(res))
		for i, r := range res {
			id[i] = r.AlertID
		}

		tests := []struct {
			name string
			f    store.AlertFilter
			want []int64
		}{
			{"no filter", store.AlertFilter{}, newestFirst(id...)},
			{"source", store.AlertFilter{Source: "sentinel"}, newestFirst(id[1], id[2])},
			{"unknown source", store.AlertFilter{Source: "nope"}, nil},
			{"status new", store.AlertFilter{Status: alert.StatusNew}, newestFirst(id[0], id[3])},
			{"status resolved", store.AlertFilter{Status: alert.StatusResolved}, []int64{id[2]}},
			{"severity", store.AlertFilter{Severity: alert.SeverityHigh}, []int64{id[0]}},
			{"text case-insensitive", store.AlertFilter{Text: "cpu"}, newestFirst(id[0], id[1])},
			// LIKE metacharacters are literal.
			{"text percent", store.AlertFilter{Text: "100%"}, []int64{id[0]}},
			{"text underscore", store.AlertFilter{Text: "disk_full"}, []int64{id[2]}},
			{"text lone underscore", store.AlertFilter{Text: "_"}, []int64{id[2]}},
			{"source and status", store.AlertFilter{Source: "sentinel", Status: alert.StatusInProgress}, []int64{id[1]}},
			{"after", store.AlertFilter{After: id[2]}, newestFirst(id[0], id[1])},
			{"after and text", store.AlertFilter{After: id[3], Text: "disk"}, []int64{id[2]}},
			{"limit", store.AlertFilter{Limit: 1}, []int64{id[3]}},
		}
		for _, tt := range tests {
			got, err := db.ListAlerts(ctx, tt.f)
			if err != nil {
				t.Errorf("%s: ListAlerts(%+v): %v", tt.name, tt.f, err)
				continue
			}
			if !slices.Equal(alertIDs(got), tt.want) {
				t.Errorf("%s: ListAlerts(%+v) = %v, want %v", tt.name, tt.f, alertIDs(got), tt.want)
			}
		}

		// An empty result is an empty list (JSON []), not null.
		if got, err := db.ListAlerts(ctx, store.AlertFilter{Source: "nope"}); err != nil || got == nil {
			t.Errorf("ListAlerts with no match = %#v, %v; want an empty non-nil list", got, err)
		}
	})
}

func TestListAlertsPaging(t *testing.T) {
	storetest.ForEach(t, clock.NewFake(t0), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var as []alert.Alert
		for i := range 5 {
			as = append(as, newAlert(t, "defender", fmt.Sprintf("pg%d", i), "paged", alert.SeverityLow))
		}
		res := mustIngest(t, db, as...)
		var all []int64
		for _, r := range res {
			all = append(all, r.AlertID)
		}
		var got []int64
		after := int64(0)
		for range 10 {
			page, err := db.ListAlerts(ctx, store.AlertFilter{After: after, Limit: 2})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			if len(page) > 2 {
				t.Errorf("page of %d alerts, want at most 2", len(page))
			}
			got = append(got, alertIDs(page)...)
			after = page[len(page)-1].ID
		}
		if want := newestFirst(all...); !slices.Equal(got, want) {
			t.Errorf("paged alert IDs = %v, want %v", got, want)
		}
	})
}

// TestListAlertsFields checks that a listed alert carries every stored
// field but not the raw payload, which can be large.
func TestListAlertsFields(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		clk.Set(t0)
		ctx := context.Background()
		a := alert.Alert{
			Source: "defender", SourceID: "f1", Product: "Defender for Cloud", Title: "Crypto-mining detected",
			Description: "A process matched a known miner.", Severity: alert.SeverityHigh, Status: alert.StatusInProgress,
			Entities: []alert.Entity{
				{Kind: alert.EntityHost, Value: "vm-01"},
				{Kind: alert.EntityFileHash, Value: strings.Repeat("a", 64)},
			},
			FirstSeen: t0.Add(-2 * time.Hour), LastSeen: t0.Add(-time.Hour),
			Raw: json.RawMessage(`{"big":"payload"}`),
		}
		if err := a.Normalize(t0); err != nil {
			t.Fatal(err)
		}
		r := mustIngest(t, db, a)[0]
		got, err := db.ListAlerts(ctx, store.AlertFilter{})
		if err != nil || len(got) != 1 {
			t.Fatalf("ListAlerts = %v, %v; want one alert", got, err)
		}
		g := got[0]
		if g.ID != r.AlertID || g.Source != a.Source || g.SourceID != a.SourceID || g.Product != a.Product ||
			g.Title != a.Title || g.Description != a.Description || g.Severity != a.Severity || g.Status != a.Status {
			t.Errorf("listed alert = %+v, want the ingested fields of %+v", g, a)
		}
		if !reflect.DeepEqual(g.Entities, a.Entities) {
			t.Errorf("listed entities = %+v, want %+v (attrs included)", g.Entities, a.Entities)
		}
		if !g.FirstSeen.Equal(a.FirstSeen) || !g.LastSeen.Equal(a.LastSeen) || !g.CreatedAt.Equal(t0) || !g.UpdatedAt.Equal(t0) {
			t.Errorf("listed times first %v last %v created %v updated %v, want %v %v %v %v",
				g.FirstSeen, g.LastSeen, g.CreatedAt, g.UpdatedAt, a.FirstSeen, a.LastSeen, t0, t0)
		}
		if g.Version != 1 || g.WorkItemID != r.WorkItemID {
			t.Errorf("listed version %d item %d, want 1 and %d", g.Version, g.WorkItemID, r.WorkItemID)
		}
		if g.Raw != nil {
			t.Errorf("listed alert has raw %s, want none in lists", g.Raw)
		}
	})
}

func TestGetAlertLatestRaw(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		clk.Set(t0)
		ctx := context.Background()
		v1 := newAlert(t, "defender", "r1", "First title", alert.SeverityLow)
		// Odd spacing and key order: PostgreSQL's json (not jsonb) keeps
		// the payload byte for byte, as evidence should be.
		v1.Raw = json.RawMessage(`{"b": 1,   "a" : [1, 2]}`)
		id := mustIngest(t, db, v1)[0].AlertID

		t1 := t0.Add(time.Minute)
		clk.Set(t1)
		v2 := newAlert(t, "defender", "r1", "Second title", alert.SeverityHigh)
		v2.Raw = json.RawMessage(`{"v":2}`)
		mustIngest(t, db, v2)

		got, err := db.GetAlert(ctx, id)
		if err != nil {
			t.Fatalf("GetAlert: %v", err)
		}
		if string(got.Raw) != `{"v":2}` {
			t.Errorf("GetAlert raw = %s, want the latest version's {\"v\":2}", got.Raw)
		}
		if got.Version != 2 || got.Title != "Second title" || got.Severity != alert.SeverityHigh {
			t.Errorf("GetAlert = version %d %q %s, want version 2 \"Second title\" high", got.Version, got.Title, got.Severity)
		}
		if !got.CreatedAt.Equal(t0) || !got.UpdatedAt.Equal(t1) {
			t.Errorf("GetAlert created %v updated %v, want %v and %v", got.CreatedAt, got.UpdatedAt, t0, t1)
		}
		vs, err := db.AlertVersions(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if string(vs[0].Raw) != `{"b": 1,   "a" : [1, 2]}` {
			t.Errorf("version 1 raw = %s, want it byte for byte", vs[0].Raw)
		}

		// A latest version without a payload has no raw: the raw is the
		// latest version's, not the latest one that had any.
		v3 := newAlert(t, "defender", "r1", "Third title", alert.SeverityHigh)
		v3.Raw = nil
		mustIngest(t, db, v3)
		if got, err := db.GetAlert(ctx, id); err != nil || got.Raw != nil || got.Version != 3 {
			t.Errorf("GetAlert after a version without raw = version %d raw %s, %v; want version 3 without raw", got.Version, got.Raw, err)
		}

		_, err = db.GetAlert(ctx, 424242)
		wantNotFound(t, "GetAlert(missing)", err)
	})
}

func TestAlertVersions(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		clk.Set(t0)
		ctx := context.Background()
		type step struct {
			at       time.Time
			title    string
			sev      alert.Severity
			status   alert.Status
			lastSeen time.Time
			raw      string
		}
		steps := []step{
			{t0, "Brute force", alert.SeverityLow, alert.StatusNew, t0.Add(-time.Minute), `{"n":1}`},
			{t0.Add(time.Minute), "Brute force", alert.SeverityMedium, alert.StatusNew, t0.Add(time.Minute), `{"n":2}`},
			{t0.Add(2 * time.Minute), "Brute force succeeded", alert.SeverityHigh, alert.StatusInProgress, t0.Add(2 * time.Minute), `{"n":3}`},
		}
		var id int64
		for _, s := range steps {
			clk.Set(s.at)
			a := alert.Alert{Source: "sentinel", SourceID: "v1", Title: s.title, Severity: s.sev, Status: s.status,
				LastSeen: s.lastSeen, FirstSeen: t0.Add(-time.Minute), Raw: json.RawMessage(s.raw),
				Entities: []alert.Entity{{Kind: alert.EntityAccount, Value: "alice"}}}
			if err := a.Normalize(s.at); err != nil {
				t.Fatal(err)
			}
			id = mustIngest(t, db, a)[0].AlertID
		}

		vs, err := db.AlertVersions(ctx, id)
		if err != nil {
			t.Fatalf("AlertVersions: %v", err)
		}
		if len(vs) != len(steps) {
			t.Fatalf("AlertVersions = %d versions, want %d", len(vs), len(steps))
		}
		// Oldest first, each version as it was received.
		for i, s := range steps {
			v := vs[i]
			if v.AlertID != id || v.Version != i+1 || !v.ReceivedAt.Equal(s.at) || v.Title != s.title || v.Severity != s.sev ||
				v.Status != s.status || !v.LastSeen.Equal(s.lastSeen) || string(v.Raw) != s.raw {
				t.Errorf("version %d = %+v, want %+v", i+1, v, s)
			}
			if len(v.Entities) != 1 || v.Entities[0].Value != "alice" {
				t.Errorf("version %d entities = %+v, want the account", i+1, v.Entities)
			}
		}

		_, err = db.AlertVersions(ctx, 424242)
		wantNotFound(t, "AlertVersions(missing)", err)
	})
}

// TestIngestSeenTimes checks how receipts move the alert's and the
// item's times: first_seen only earlier, last_seen only later, so that a
// late, out-of-order delivery cannot move them back. A re-send that
// changes nothing moves the seen times and the seen count only; a
// changed receipt also moves updated_at, which live boards follow.
func TestIngestSeenTimes(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		clk.Set(t0)
		ctx := context.Background()
		send := func(first, last time.Time, desc string) store.IngestResult {
			t.Helper()
			a := alert.Alert{Source: "sentinel", SourceID: "seen", Title: "Seen", Description: desc, FirstSeen: first, LastSeen: last}
			if err := a.Normalize(clk.Now()); err != nil {
				t.Fatal(err)
			}
			return mustIngest(t, db, a)[0]
		}
		var id int64 // the alert
		check := func(step string, first, last, updated time.Time, seen int64, itemSeen, itemUpdated time.Time) {
			t.Helper()
			a, err := db.GetAlert(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !a.FirstSeen.Equal(first) || !a.LastSeen.Equal(last) || !a.UpdatedAt.Equal(updated) || a.SeenCount != seen {
				t.Errorf("%s: alert first %v last %v updated %v seen %d, want %v %v %v %d",
					step, a.FirstSeen, a.LastSeen, a.UpdatedAt, a.SeenCount, first, last, updated, seen)
			}
			it := mustGetItem(t, db, a.WorkItemID)
			if !it.LastSeen.Equal(itemSeen) || !it.UpdatedAt.Equal(itemUpdated) || !it.CreatedAt.Equal(t0) {
				t.Errorf("%s: item last_seen %v updated %v created %v, want %v %v %v",
					step, it.LastSeen, it.UpdatedAt, it.CreatedAt, itemSeen, itemUpdated, t0)
			}
		}
		r := send(t0.Add(-time.Hour), t0, "v1")
		id = r.AlertID
		it := mustGetItem(t, db, r.WorkItemID)
		if !it.LastSeen.Equal(t0) || !it.CreatedAt.Equal(t0) || !it.UpdatedAt.Equal(t0) {
			t.Errorf("new item last_seen %v created %v updated %v, want all %v", it.LastSeen, it.CreatedAt, it.UpdatedAt, t0)
		}

		// Late delivery of an older occurrence, unchanged: first_seen
		// moves earlier, last_seen stays, no version, updated_at stays.
		clk.Set(t0.Add(time.Minute))
		if got := send(t0.Add(-2*time.Hour), t0.Add(-30*time.Minute), "v1"); got.Outcome != store.OutcomeUnchanged || got.Version != 1 {
			t.Errorf("late unchanged re-send = %s version %d, want unchanged version 1", got.Outcome, got.Version)
		}
		check("after late re-send", t0.Add(-2*time.Hour), t0, t0, 2, t0, t0)

		// A newer unchanged occurrence moves last_seen of alert and item
		// forward, and still not updated_at.
		t2 := t0.Add(2 * time.Hour)
		clk.Set(t2)
		send(time.Time{}, t2, "v1")
		check("after newer re-send", t0.Add(-2*time.Hour), t2, t0, 3, t2, t0)

		// A late, changed delivery: a new version that moves updated_at,
		// but neither seen time backwards.
		t3 := t2.Add(time.Minute)
		clk.Set(t3)
		if got := send(t0.Add(-time.Hour), t0.Add(-10*time.Minute), "v2"); got.Outcome != store.OutcomeUpdated || got.Version != 2 {
			t.Errorf("late changed receipt = %s version %d, want updated version 2", got.Outcome, got.Version)
		}
		check("after late change", t0.Add(-2*time.Hour), t2, t3, 4, t2, t3)

		// A newer changed occurrence moves everything forward.
		t4 := t3.Add(time.Hour)
		clk.Set(t4)
		send(time.Time{}, t4, "v3")
		check("after newer change", t0.Add(-2*time.Hour), t4, t4, 5, t4, t4)
	})
}

func TestSetAlertStatus(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		clk.Set(t0)
		ctx := context.Background()
		a := newAlert(t, "pagerduty", "dedup-1", "Database down", alert.SeverityCritical)
		a.Entities = []alert.Entity{{Kind: alert.EntityHost, Value: "db01"}}
		a.Raw = json.RawMessage(`{"event_action":"trigger"}`)
		r := mustIngest(t, db, a)[0]
		fp := mustIngest(t, db, newAlert(t, "pagerduty", "", "No source id", alert.SeverityLow))[0]

		t1 := t0.Add(5 * time.Minute)
		clk.Set(t1)
		found, err := db.SetAlertStatus(ctx, "pagerduty", "dedup-1", alert.StatusResolved, "token:pd", "resolve event")
		if err != nil || !found {
			t.Fatalf("SetAlertStatus = %v, %v; want true, nil", found, err)
		}

		got, err := db.GetAlert(ctx, r.AlertID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != alert.StatusResolved || got.Version != 2 || !got.UpdatedAt.Equal(t1) {
			t.Errorf("alert after SetAlertStatus: status %s version %d updated %v, want resolved 2 %v", got.Status, got.Version, got.UpdatedAt, t1)
		}
		// The new version is the previous one with the new status: same
		// payload, title, severity, entities and last_seen.
		if string(got.Raw) != `{"event_action":"trigger"}` {
			t.Errorf("latest raw = %s, want the previous version's payload", got.Raw)
		}
		vs, err := db.AlertVersions(ctx, r.AlertID)
		if err != nil || len(vs) != 2 {
			t.Fatalf("AlertVersions = %+v, %v; want 2 versions", vs, err)
		}
		prev, v := vs[0], vs[1]
		if v.Version != 2 || v.Status != alert.StatusResolved || !v.ReceivedAt.Equal(t1) {
			t.Errorf("new version = %+v, want version 2, resolved, received %v", v, t1)
		}
		if v.Title != prev.Title || v.Severity != prev.Severity || v.Description != prev.Description || !v.LastSeen.Equal(prev.LastSeen) ||
			string(v.Raw) != string(prev.Raw) || !reflect.DeepEqual(v.Entities, prev.Entities) {
			t.Errorf("new version %+v does not copy version 1 %+v", v, prev)
		}
		if prev.Status != alert.StatusNew {
			t.Errorf("version 1 status = %s, want new (history is never rewritten)", prev.Status)
		}

		// The item's timeline says who changed the status, when and why.
		tl := mustTimeline(t, db, r.WorkItemID)
		if got, want := kinds(tl), []string{workitem.KindCreated, workitem.KindAlert}; !slices.Equal(got, want) {
			t.Fatalf("timeline kinds = %v, want %v", got, want)
		}
		e := tl[1]
		if want := fmt.Sprintf("alert %d (version 2): resolved at the source (resolve event)", r.AlertID); e.Actor != "token:pd" || !e.At.Equal(t1) || e.Message != want {
			t.Errorf("status entry = by %s at %v %q, want by token:pd at %v %q", e.Actor, e.At, e.Message, t1, want)
		}
		var data struct {
			AlertID int64  `json:"alert_id"`
			Version int    `json:"version"`
			Status  string `json:"status"`
		}
		if raw, _ := e.Data.(json.RawMessage); json.Unmarshal(raw, &data) != nil || data.AlertID != r.AlertID || data.Version != 2 || data.Status != "resolved" {
			t.Errorf("status entry data = %s, want alert_id %d version 2 status resolved", e.Data, r.AlertID)
		}
		// The work item's state is the analysts' business, not the sender's.
		if it := mustGetItem(t, db, r.WorkItemID); it.State != "New" {
			t.Errorf("item state = %s, want New (untouched)", it.State)
		}

		// Not found: unknown id, right id of another source, and an alert
		// that has no source id at all. Nothing is written.
		for _, tt := range []struct{ source, id string }{
			{"pagerduty", "dedup-404"},
			{"alertmanager", "dedup-1"},
			{"pagerduty", ""},
		} {
			found, err := db.SetAlertStatus(ctx, tt.source, tt.id, alert.StatusResolved, "x", "y")
			if err != nil || found {
				t.Errorf("SetAlertStatus(%q, %q) = %v, %v; want false, nil", tt.source, tt.id, found, err)
			}
		}
		if vs, _ := db.AlertVersions(ctx, fp.AlertID); len(vs) != 1 {
			t.Errorf("fingerprinted alert has %d versions, want 1", len(vs))
		}
		if vs, _ := db.AlertVersions(ctx, r.AlertID); len(vs) != 2 {
			t.Errorf("alert has %d versions after misses, want 2", len(vs))
		}

		// A later ingest continues the history after the status change.
		clk.Set(t1.Add(time.Minute))
		// A trigger after the resolve is a new firing: on the open item a
		// new version that says so, and no new item.
		if got := mustIngest(t, db, a)[0]; got.Version != 3 || got.Outcome != store.OutcomeUpdated || got.WorkItemID != r.WorkItemID {
			t.Errorf("ingest after status change = %+v, want version 3 updated on item %d", got, r.WorkItemID)
		}
		tl = mustTimeline(t, db, r.WorkItemID)
		if got, want := tl[len(tl)-1].Message, fmt.Sprintf("alert %d (version 3): fired again after it was resolved at the source", r.AlertID); got != want {
			t.Errorf("entry after the new firing = %q, want %q", got, want)
		}
	})
}

// TestSetAlertStatusConcurrent races status changes (a sender's
// acknowledge and resolve events) against re-sends of the same trigger.
// Every call must succeed and the history must stay gap-free on both
// databases, with one version per call that changed something: a
// trigger re-sent on an open alert (new, or acknowledged: PagerDuty keeps
// it acknowledged) changes nothing, a trigger after the resolve is a new
// firing, and a status call changes the status unless it is already so.
func TestSetAlertStatusConcurrent(t *testing.T) {
	storetest.ForEach(t, clock.NewFake(t0), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := newAlert(t, "pagerduty", "race", "Raced", alert.SeverityHigh)
		id := mustIngest(t, db, a)[0].AlertID
		const perWriter = 8
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, 3*perWriter)
		ingested := 0 // ingests that added a version; only the ingest writer touches it
		wg.Go(func() {
			<-start
			for range perWriter {
				res, err := db.Ingest(ctx, workitem.DefaultProcess(), "test", []alert.Alert{a})
				if err != nil {
					errs <- fmt.Errorf("ingest: %w", err)
					continue
				}
				switch res[0].Outcome {
				case store.OutcomeUpdated:
					ingested++
				case store.OutcomeUnchanged:
				default:
					errs <- fmt.Errorf("ingest outcome %s, want updated or unchanged (the item is open)", res[0].Outcome)
				}
			}
		})
		for _, st := range []alert.Status{alert.StatusInProgress, alert.StatusResolved} {
			wg.Go(func() {
				<-start
				for range perWriter {
					found, err := db.SetAlertStatus(ctx, "pagerduty", "race", st, "pd", "event")
					if err != nil || !found {
						errs <- fmt.Errorf("SetAlertStatus(%s) = %v, %w", st, found, err)
					}
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		vs, err := db.AlertVersions(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		refired := 0
		for i, v := range vs {
			if v.Version != i+1 {
				t.Fatalf("versions are not 1..N: position %d holds version %d", i, v.Version)
			}
			if i == 0 {
				continue
			}
			// Only the status moves here: a version that repeats the
			// previous status is a no-op that should not exist.
			prev := vs[i-1].Status
			if v.Status == prev {
				t.Errorf("version %d repeats status %s of version %d", v.Version, v.Status, i)
			}
			// The status calls never set new: each resolved → new step is
			// an ingest's new firing, and an ingest makes no other step.
			if v.Status == alert.StatusNew {
				if prev != alert.StatusResolved {
					t.Errorf("version %d: %s → new, want new only after resolved (a re-sent trigger keeps in_progress)", v.Version, prev)
				}
				refired++
			}
		}
		if refired != ingested {
			t.Errorf("%d resolved → new versions, want one per ingest that reported updated: %d", refired, ingested)
		}
		// The first status call always changes the status; each call
		// adds at most one version.
		if min, max := 2+ingested, 1+ingested+2*perWriter; len(vs) < min || len(vs) > max {
			t.Errorf("%d versions, want between %d and %d", len(vs), min, max)
		}
		got, err := db.GetAlert(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != len(vs) || got.Status != vs[len(vs)-1].Status {
			t.Errorf("alert version %d status %s, want the latest history entry %d %s", got.Version, got.Status, len(vs), vs[len(vs)-1].Status)
		}
		if got.SeenCount != 1+perWriter {
			t.Errorf("seen count %d, want %d (every receipt counts)", got.SeenCount, 1+perWriter)
		}
	})
}

func TestSetAlertStatusRepeatIsNoop(t *testing.T) {
	storetest.ForEach(t, clock.NewFake(t0), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := newAlert(t, "pagerduty", "ack-twice", "Acked twice", alert.SeverityHigh)
		r := mustIngest(t, db, a)[0]
		for range 3 {
			if found, err := db.SetAlertStatus(ctx, "pagerduty", "ack-twice", alert.StatusInProgress, "pd", "acknowledge"); err != nil || !found {
				t.Fatalf("SetAlertStatus = %v, %v", found, err)
			}
		}
		vs, err := db.AlertVersions(ctx, r.AlertID)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 2 {
			t.Errorf("versions after three identical acknowledges = %d, want 2", len(vs))
		}
		tl, err := db.Timeline(ctx, r.WorkItemID, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(tl) != 2 {
			t.Errorf("timeline entries = %d, want 2 (created, one status change)", len(tl))
		}
	})
}
