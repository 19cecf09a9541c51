package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

func TestIngestTimestampsAndTimeline(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		clk.Set(t0)
		ctx := context.Background()
		// The alert says it was seen an hour ago; the store's own times
		// come from its clock.
		a := newAlert(t, "defender", "ts1", "Timestamps", alert.SeverityHigh)
		a.FirstSeen, a.LastSeen = t0.Add(-time.Hour), t0.Add(-time.Hour)
		clk.Set(t0.Add(time.Second))
		now := clk.Now()
		r := mustIngest(t, db, a)[0]
		if r.Outcome != store.OutcomeCreated || r.Version != 1 || r.AlertID == 0 || r.WorkItemID == 0 {
			t.Fatalf("result = %+v, want created version 1 with ids", r)
		}

		got, err := db.GetAlert(ctx, r.AlertID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.CreatedAt.Equal(now) || !got.UpdatedAt.Equal(now) || !got.FirstSeen.Equal(a.FirstSeen) || !got.LastSeen.Equal(a.LastSeen) {
			t.Errorf("alert created %v updated %v first %v last %v, want %v %v %v %v",
				got.CreatedAt, got.UpdatedAt, got.FirstSeen, got.LastSeen, now, now, a.FirstSeen, a.LastSeen)
		}
		if got.WorkItemID != r.WorkItemID {
			t.Errorf("alert workitem_id = %d, want %d", got.WorkItemID, r.WorkItemID)
		}
		vs, _ := db.AlertVersions(ctx, r.AlertID)
		if len(vs) != 1 || !vs[0].ReceivedAt.Equal(now) {
			t.Errorf("versions = %+v, want one received at %v", vs, now)
		}

		it := mustGetItem(t, db, r.WorkItemID)
		want := workitem.Item{ID: r.WorkItemID, Type: workitem.TypeProblem, Title: "Timestamps", State: "New",
			Severity: alert.SeverityHigh, Source: "defender", Rev: 1, AlertCount: 1}
		if it.ID != want.ID || it.Type != want.Type || it.Title != want.Title || it.State != want.State || it.Severity != want.Severity ||
			it.Source != want.Source || it.Rev != want.Rev || it.AlertCount != want.AlertCount || it.Assignee != "" || it.PreviousID != 0 || it.ClosedAt != nil {
			t.Errorf("item = %+v, want %+v", it, want)
		}
		if !it.CreatedAt.Equal(now) || !it.UpdatedAt.Equal(now) || !it.LastSeen.Equal(a.LastSeen) {
			t.Errorf("item created %v updated %v last_seen %v, want %v %v %v", it.CreatedAt, it.UpdatedAt, it.LastSeen, now, now, a.LastSeen)
		}
		if !slices.Equal(it.AlertIDs, []int64{r.AlertID}) {
			t.Errorf("item alert ids = %v, want [%d]", it.AlertIDs, r.AlertID)
		}

		tl := mustTimeline(t, db, r.WorkItemID)
		if len(tl) != 1 || tl[0].Kind != workitem.KindCreated || tl[0].Actor != "test" || !tl[0].At.Equal(now) {
			t.Fatalf("timeline = %+v, want one created entry by test at %v", tl, now)
		}
		var data struct {
			AlertID  int64  `json:"alert_id"`
			Version  int    `json:"version"`
			Source   string `json:"source"`
			SourceID string `json:"source_id"`
		}
		if raw, _ := tl[0].Data.(json.RawMessage); json.Unmarshal(raw, &data) != nil ||
			data.AlertID != r.AlertID || data.Version != 1 || data.Source != "defender" || data.SourceID != "ts1" {
			t.Errorf("created entry data = %s, want alert %d version 1 from defender ts1", tl[0].Data, r.AlertID)
		}
	})
}

func TestIngestDuplicatesInOneBatch(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		clk.Set(t0)
		ctx := context.Background()
		// The same alert three times in one batch (a sender that flushes
		// a queue), once with a source id and once fingerprinted, mixed
		// with another alert.
		withID := func(title string, sev alert.Severity) alert.Alert {
			a := newAlert(t, "sentinel", "dup", title, sev)
			a.Raw = json.RawMessage(`{"title":"` + title + `"}`)
			return a
		}
		fp := newAlert(t, "alertmanager", "", "HostDown", alert.SeverityHigh)
		fp2 := fp
		fp2.Severity = alert.SeverityCritical // not part of the fingerprint
		batch := []alert.Alert{
			withID("v1", alert.SeverityLow),
			fp,
			withID("v2", alert.SeverityMedium),
			newAlert(t, "sentinel", "other", "Other", alert.SeverityLow),
			withID("v3", alert.SeverityHigh),
			fp2,
		}
		res := mustIngest(t, db, batch...)

		wantOutcome := []store.Outcome{store.OutcomeCreated, store.OutcomeCreated, store.OutcomeUpdated, store.OutcomeCreated, store.OutcomeUpdated, store.OutcomeUpdated}
		wantVersion := []int{1, 1, 2, 1, 3, 2}
		for i, r := range res {
			if r.Outcome != wantOutcome[i] || r.Version != wantVersion[i] {
				t.Errorf("result %d = %s version %d, want %s version %d", i, r.Outcome, r.Version, wantOutcome[i], wantVersion[i])
			}
		}
		for _, same := range [][2]int{{0, 2}, {0, 4}, {1, 5}} {
			a, b := res[same[0]], res[same[1]]
			if a.AlertID != b.AlertID || a.WorkItemID != b.WorkItemID {
				t.Errorf("results %d and %d are one alert but got alert/item %d/%d and %d/%d",
					same[0], same[1], a.AlertID, a.WorkItemID, b.AlertID, b.WorkItemID)
			}
		}

		alerts, err := db.ListAlerts(ctx, store.AlertFilter{})
		if err != nil || len(alerts) != 3 {
			t.Fatalf("ListAlerts = %d alerts, %v; want 3", len(alerts), err)
		}
		items, err := db.ListWorkItems(ctx, workitem.Filter{})
		if err != nil || len(items) != 3 {
			t.Fatalf("ListWorkItems = %d items, %v; want 3", len(items), err)
		}

		// The alert row is the last occurrence; the history has all three
		// in batch order.
		got, err := db.GetAlert(ctx, res[0].AlertID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != "v3" || got.Severity != alert.SeverityHigh || got.Version != 3 || string(got.Raw) != `{"title":"v3"}` {
			t.Errorf("alert = %q %s version %d raw %s, want the last occurrence v3", got.Title, got.Severity, got.Version, got.Raw)
		}
		vs, err := db.AlertVersions(ctx, res[0].AlertID)
		if err != nil {
			t.Fatal(err)
		}
		var titles []string
		for _, v := range vs {
			titles = append(titles, v.Title)
		}
		if !slices.Equal(titles, []string{"v1", "v2", "v3"}) {
			t.Errorf("version titles = %v, want [v1 v2 v3]", titles)
		}

		// One item, linked once, with a created entry, two alert entries
		// and the two severity raises (low → medium → high) they made.
		it := mustGetItem(t, db, res[0].WorkItemID)
		if !slices.Equal(it.AlertIDs, []int64{res[0].AlertID}) || it.AlertCount != 1 {
			t.Errorf("item alerts = %v count %d, want the one alert", it.AlertIDs, it.AlertCount)
		}
		if it.Severity != alert.SeverityHigh {
			t.Errorf("item severity = %s, want high (raised by the batch's last occurrence)", it.Severity)
		}
		if got, want := kinds(mustTimeline(t, db, it.ID)), []string{workitem.KindCreated, workitem.KindAlert, workitem.KindAlert,
			workitem.KindUpdate, workitem.KindUpdate}; !slices.Equal(got, want) {
			t.Errorf("timeline kinds = %v, want %v", got, want)
		}
		if fpItem := mustGetItem(t, db, res[1].WorkItemID); fpItem.Severity != alert.SeverityCritical {
			t.Errorf("fingerprinted alert's item severity = %s, want critical", fpItem.Severity)
		}

		// The last occurrences re-sent, one of them twice in the batch:
		// unchanged, no version.
		again := mustIngest(t, db, batch[4], batch[5], batch[4])
		for i, r := range again {
			if r.Outcome != store.OutcomeUnchanged || r.Version != []int{3, 2, 3}[i] {
				t.Errorf("re-send %d = %s version %d, want unchanged", i, r.Outcome, r.Version)
			}
		}
		if got, _ := db.GetAlert(ctx, res[0].AlertID); got.SeenCount != 5 {
			t.Errorf("seen count = %d, want 5 (3 in the first batch, 2 in the second)", got.SeenCount)
		}
	})
}

// TestIngestResultsInInputOrder checks that result i describes alert i
// whatever order the store writes the batch in.
func TestIngestResultsInInputOrder(t *testing.T) {
	storetest.ForEach(t, clock.NewFake(t0), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ids := []string{"z9", "m5", "a1", "q7", "b2"} // deliberately unsorted
		batch := make([]alert.Alert, len(ids))
		for i, id := range ids {
			batch[i] = newAlert(t, "sentinel", id, "Order "+id, alert.SeverityLow)
		}
		// Created, then updated (a changed description), then re-sent
		// unchanged.
		rounds := []struct {
			desc    string
			outcome store.Outcome
			version int
		}{{"first", store.OutcomeCreated, 1}, {"second", store.OutcomeUpdated, 2}, {"second", store.OutcomeUnchanged, 2}}
		for round, rd := range rounds {
			for i := range batch {
				batch[i].Description = rd.desc
			}
			res := mustIngest(t, db, batch...)
			for i, r := range res {
				a, err := db.GetAlert(ctx, r.AlertID)
				if err != nil {
					t.Fatal(err)
				}
				if a.SourceID != ids[i] || a.WorkItemID != r.WorkItemID || r.Version != rd.version || r.Outcome != rd.outcome {
					t.Errorf("round %d result %d = %+v is alert %q on item %d, want %s alert %q version %d",
						round, i, r, a.SourceID, a.WorkItemID, rd.outcome, ids[i], rd.version)
				}
				if it := mustGetItem(t, db, r.WorkItemID); it.Title != "Order "+ids[i] {
					t.Errorf("round %d result %d item title %q, want %q", round, i, it.Title, "Order "+ids[i])
				}
			}
		}
	})
}

func TestIngestManySources(t *testing.T) {
	storetest.ForEach(t, clock.NewFake(t0), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// The same source id and the same fingerprinted content from
		// several sources are different alerts: the dedup key is per source.
		sources := []string{"defender", "sentinel", "graph", "alertmanager", "pagerduty"}
		wantType := map[string]workitem.Type{"defender": workitem.TypeProblem, "sentinel": workitem.TypeIssue,
			"graph": workitem.TypeIssue, "alertmanager": workitem.TypeIssue, "pagerduty": workitem.TypeIssue}
		var batch []alert.Alert
		for _, src := range sources {
			batch = append(batch, newAlert(t, src, "same-id", "Same", alert.SeverityMedium), newAlert(t, src, "", "Same", alert.SeverityMedium))
		}
		res := mustIngest(t, db, batch...)
		seenAlert, seenItem := map[int64]bool{}, map[int64]bool{}
		for i, r := range res {
			if r.Outcome != store.OutcomeCreated {
				t.Errorf("result %d (%s) outcome %s, want created", i, batch[i].Source, r.Outcome)
			}
			if seenAlert[r.AlertID] || seenItem[r.WorkItemID] {
				t.Errorf("result %d (%s) reuses alert %d or item %d", i, batch[i].Source, r.AlertID, r.WorkItemID)
			}
			seenAlert[r.AlertID], seenItem[r.WorkItemID] = true, true
			if it := mustGetItem(t, db, r.WorkItemID); it.Type != wantType[batch[i].Source] || it.Source != batch[i].Source {
				t.Errorf("item of %s: type %s source %s, want %s %s", batch[i].Source, it.Type, it.Source, wantType[batch[i].Source], batch[i].Source)
			}
		}
		for _, src := range sources {
			if as, _ := db.ListAlerts(ctx, store.AlertFilter{Source: src}); len(as) != 2 {
				t.Errorf("ListAlerts(source %s) = %d alerts, want 2", src, len(as))
			}
		}

		// The same batch again, reversed and changed (a description is
		// not part of the fingerprint): each alert is found under its own
		// source and gets a version. Then once more unchanged: each is a
		// re-send of its own alert only.
		again := slices.Clone(batch)
		slices.Reverse(again)
		for i := range again {
			again[i].Description = "changed"
		}
		for _, pass := range []struct {
			outcome store.Outcome
			version int
		}{{store.OutcomeUpdated, 2}, {store.OutcomeUnchanged, 2}} {
			res2 := mustIngest(t, db, again...)
			for i, r := range res2 {
				orig := res[len(res)-1-i]
				if r.Outcome != pass.outcome || r.AlertID != orig.AlertID || r.WorkItemID != orig.WorkItemID || r.Version != pass.version {
					t.Errorf("re-ingest %d (%s) = %+v, want %s version %d of alert %d item %d", i, again[i].Source, r, pass.outcome,
						pass.version, orig.AlertID, orig.WorkItemID)
				}
			}
		}
	})
}

// TestIngestLargeBatchChunks crosses the lookup's chunk of 500 keys per
// query and the row buffers' chunk sizes, with two sources interleaved.
func TestIngestLargeBatchChunks(t *testing.T) {
	storetest.ForEach(t, clock.NewFake(t0), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const n = 1203 // not a multiple of any chunk size
		batch := make([]alert.Alert, n)
		for i := range batch {
			src := []string{"sentinel", "defender"}[i%2]
			batch[i] = newAlert(t, src, fmt.Sprintf("big-%d", i/2), "bulk", alert.SeverityLow)
		}
		first := mustIngest(t, db, batch...)
		for i := range batch {
			batch[i].Description = "changed"
		}
		second := mustIngest(t, db, batch...)
		// The same again, unchanged: the re-sends are recorded in chunks
		// of their own.
		third := mustIngest(t, db, batch...)
		for i := range batch {
			if first[i].Outcome != store.OutcomeCreated || second[i].Outcome != store.OutcomeUpdated ||
				second[i].AlertID != first[i].AlertID || second[i].Version != 2 {
				t.Fatalf("alert %d: first %+v second %+v, want created then updated version 2 of the same alert", i, first[i], second[i])
			}
			if third[i].Outcome != store.OutcomeUnchanged || third[i].AlertID != first[i].AlertID || third[i].Version != 2 {
				t.Fatalf("alert %d: third %+v, want unchanged version 2 of the same alert", i, third[i])
			}
		}
		// Every version row was written by the buffered inserts, and every
		// re-send counted by the chunked update.
		for _, i := range []int{0, 1, 127, 128, 600, n - 1} {
			if vs, err := db.AlertVersions(ctx, first[i].AlertID); err != nil || len(vs) != 2 {
				t.Errorf("alert %d versions = %d, %v; want 2", i, len(vs), err)
			}
			if tl := mustTimeline(t, db, first[i].WorkItemID); len(tl) != 2 {
				t.Errorf("item of alert %d has %d timeline entries, want 2", i, len(tl))
			}
		}
		listed := 0
		for after := int64(0); ; {
			page, err := db.ListAlerts(ctx, store.AlertFilter{After: after, Limit: store.MaxPage})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for _, a := range page {
				if a.SeenCount != 3 {
					t.Errorf("alert %s/%s seen count = %d, want 3", a.Source, a.SourceID, a.SeenCount)
				}
			}
			listed += len(page)
			after = page[len(page)-1].ID
		}
		if listed != n {
			t.Errorf("listed %d alerts, want %d", listed, n)
		}
	})
}

func TestIngestMixedBatch(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		clk.Set(t0)
		ctx := context.Background()
		// Alerts of one firing each (Alertmanager's startsAt).
		firing := func(id, title, f string) alert.Alert {
			a := newAlert(t, "alertmanager", id, title, alert.SeverityLow)
			a.Firing = f
			return a
		}
		open := firing("open", "Still open", "f0")
		closed := firing("closed", "Was closed", "f0")
		removed := firing("removed", "Was removed", "f0")
		pre := mustIngest(t, db, open, closed, removed)
		mustUpdate(t, db, pre[1].WorkItemID, func(it *workitem.Item) { it.State = "Closed" })
		mustUpdate(t, db, pre[2].WorkItemID, func(it *workitem.Item) { it.State = "Removed" })

		t1 := t0.Add(time.Hour)
		clk.Set(t1)
		fresh := firing("fresh", "Brand new", "f0")
		// The closed and the removed alert fire again (a new firing); the
		// open one changes; the closed one's new firing comes twice, the
		// second time changed.
		closed.Firing, removed.Firing = "f1", "f1"
		open.Description = "changed"
		closedAgain := closed
		closedAgain.Description = "changed"
		res := mustIngest(t, db, closed, fresh, open, removed, closedAgain)

		want := []struct {
			outcome store.Outcome
			version int
		}{
			{store.OutcomeReopened, 2},
			{store.OutcomeCreated, 1},
			{store.OutcomeUpdated, 2},
			// Removed is terminal too: a re-fired removed alert is
			// worked again.
			{store.OutcomeReopened, 2},
			// Within the batch, the reopened alert's new item is open: the
			// second occurrence updates it, without a third item.
			{store.OutcomeUpdated, 3},
		}
		for i, w := range want {
			if res[i].Outcome != w.outcome || res[i].Version != w.version {
				t.Errorf("result %d = %s version %d, want %s version %d", i, res[i].Outcome, res[i].Version, w.outcome, w.version)
			}
		}
		if res[2].WorkItemID != pre[0].WorkItemID {
			t.Errorf("updated alert moved to item %d, want its open item %d", res[2].WorkItemID, pre[0].WorkItemID)
		}
		if res[4].WorkItemID != res[0].WorkItemID {
			t.Errorf("second occurrence of the reopened alert on item %d, want %d", res[4].WorkItemID, res[0].WorkItemID)
		}

		for _, c := range []struct {
			name       string
			old, alert store.IngestResult
		}{{"closed", pre[1], res[0]}, {"removed", pre[2], res[3]}} {
			if c.alert.WorkItemID == c.old.WorkItemID || c.alert.AlertID != c.old.AlertID {
				t.Errorf("%s: reopened on item %d alert %d, want a new item for alert %d", c.name, c.alert.WorkItemID, c.alert.AlertID, c.old.AlertID)
				continue
			}
			next := mustGetItem(t, db, c.alert.WorkItemID)
			if next.PreviousID != c.old.WorkItemID || next.State != "New" || !next.CreatedAt.Equal(t1) {
				t.Errorf("%s: new item previous %d state %s created %v, want previous %d, New, %v", c.name, next.PreviousID, next.State, next.CreatedAt, c.old.WorkItemID, t1)
			}
			if !slices.Equal(next.AlertIDs, []int64{c.old.AlertID}) {
				t.Errorf("%s: new item alerts %v, want [%d]", c.name, next.AlertIDs, c.old.AlertID)
			}
			// The alert row points at its current item.
			if a, _ := db.GetAlert(ctx, c.old.AlertID); a.WorkItemID != next.ID {
				t.Errorf("%s: alert points at item %d, want the new item %d", c.name, a.WorkItemID, next.ID)
			}
			// The old item stays closed and says where work went on.
			old := mustGetItem(t, db, c.old.WorkItemID)
			if !workitem.DefaultProcess().Terminal(old.State) {
				t.Errorf("%s: old item state %s, want it left terminal", c.name, old.State)
			}
			tl := mustTimeline(t, db, old.ID)
			last := tl[len(tl)-1]
			wantMsg := fmt.Sprintf("alert %d fired again (a new firing); now tracked in work item %d", c.old.AlertID, next.ID)
			if last.Kind != workitem.KindReopened || !last.At.Equal(t1) || last.Message != wantMsg {
				t.Errorf("%s: old item's last entry = %s at %v %q, want a reopened entry at %v %q", c.name, last.Kind, last.At, last.Message, t1, wantMsg)
			}
		}
		if got, want := kinds(mustTimeline(t, db, res[0].WorkItemID)), []string{workitem.KindCreated, workitem.KindAlert}; !slices.Equal(got, want) {
			t.Errorf("reopened item timeline = %v, want %v", got, want)
		}
		if items, _ := db.ListWorkItems(ctx, workitem.Filter{}); len(items) != 6 {
			t.Errorf("%d items, want 6 (3 original, 2 reopened, 1 new)", len(items))
		}
	})
}

// TestIngestAtomic sends a batch with one alert whose raw payload is not
// JSON. PostgreSQL stores raw in a json column and refuses it, and then
// nothing of the batch may remain: not the good alerts before and after
// it, not their items, not the update of an alert that already existed.
// SQLite keeps raw as text and takes the batch as it is.
func TestIngestAtomic(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		clk.Set(t0)
		ctx := context.Background()
		existing := newAlert(t, "defender", "exists", "Existing", alert.SeverityLow)
		pre := mustIngest(t, db, existing)[0]
		clk.Advance(time.Minute)

		bad := newAlert(t, "defender", "bad", "Bad raw", alert.SeverityHigh)
		bad.Raw = json.RawMessage(`{"unterminated": `)
		existing2 := existing
		existing2.Title = "Existing, changed"
		batch := []alert.Alert{
			newAlert(t, "defender", "good1", "Good before", alert.SeverityLow),
			existing2,
			bad,
			newAlert(t, "sentinel", "good2", "Good after", alert.SeverityLow),
		}
		res, err := db.Ingest(ctx, workitem.DefaultProcess(), "test", batch)

		alerts, lerr := db.ListAlerts(ctx, store.AlertFilter{})
		if lerr != nil {
			t.Fatal(lerr)
		}
		items, lerr := db.ListWorkItems(ctx, workitem.Filter{})
		if lerr != nil {
			t.Fatal(lerr)
		}
		cur, gerr := db.GetAlert(ctx, pre.AlertID)
		if gerr != nil {
			t.Fatal(gerr)
		}

		switch db.Dialect() {
		case store.Postgres:
			if err == nil {
				t.Fatalf("Ingest with invalid raw JSON on PostgreSQL = %+v, nil; want an error", res)
			}
			if res != nil {
				t.Errorf("failed Ingest returned results %+v, want nil", res)
			}
			if len(alerts) != 1 || alerts[0].ID != pre.AlertID {
				t.Errorf("after failed batch: alerts %v, want only the pre-existing %d", alertIDs(alerts), pre.AlertID)
			}
			if len(items) != 1 || items[0].ID != pre.WorkItemID {
				t.Errorf("after failed batch: items %v, want only the pre-existing %d", itemIDs(items), pre.WorkItemID)
			}
			if cur.Version != 1 || cur.Title != "Existing" || !cur.UpdatedAt.Equal(t0) {
				t.Errorf("pre-existing alert after failed batch: version %d %q updated %v, want version 1 unchanged", cur.Version, cur.Title, cur.UpdatedAt)
			}
			if vs, _ := db.AlertVersions(ctx, pre.AlertID); len(vs) != 1 {
				t.Errorf("pre-existing alert has %d versions, want 1", len(vs))
			}
			if tl := mustTimeline(t, db, pre.WorkItemID); len(tl) != 1 {
				t.Errorf("pre-existing item has %d timeline entries, want 1", len(tl))
			}
			// The failure did not poison the store: the good alerts go in
			// on their own.
			ok := slices.Concat(batch[:2], batch[3:])
			if r := mustIngest(t, db, ok...); r[1].Version != 2 {
				t.Errorf("retry without the bad alert: %+v, want the existing alert at version 2", r)
			}
		case store.SQLite:
			if err != nil {
				t.Fatalf("Ingest on SQLite: %v, want raw stored as text", err)
			}
			if len(alerts) != 4 || len(items) != 4 || cur.Version != 2 {
				t.Errorf("after batch: %d alerts %d items, existing version %d; want 4, 4, 2", len(alerts), len(items), cur.Version)
			}
			got, err := db.GetAlert(ctx, res[2].AlertID)
			if err != nil || string(got.Raw) != `{"unterminated": ` {
				t.Errorf("stored raw = %q, %v; want the text as sent", got.Raw, err)
			}
		default:
			t.Fatalf("unknown dialect %q", db.Dialect())
		}
	})
}

// TestIngestConcurrent has four writers ingest overlapping keys at once,
// each in its own order, each send changing the alert. Whatever the
// interleaving, every key must end as exactly one alert with one item, a
// gap-free history 1..N and a seen count N, N being the number of times
// it was ingested.
func TestIngestConcurrent(t *testing.T) {
	storetest.ForEach(t, clock.NewFake(t0), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		proc := workitem.DefaultProcess()
		const (
			writers = 4
			rounds  = 6
			keys    = 16
			perSend = 10 // keys per batch: writers overlap on most keys
		)
		var mu sync.Mutex
		sent := map[string]int{} // source id → successful ingests
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := range writers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(w), 42))
				<-start
				for round := range rounds {
					var ids []string
					for _, k := range rng.Perm(keys)[:perSend] {
						ids = append(ids, fmt.Sprintf("k%02d", k))
					}
					batch := make([]alert.Alert, len(ids))
					for i, id := range ids {
						batch[i] = newAlert(t, "sentinel", id, "Concurrent "+id, alert.SeverityLow)
						// Each send changes the alert, so that each adds a
						// version (an unchanged re-send adds none).
						batch[i].Description = fmt.Sprintf("writer %d round %d", w, round)
					}
					if _, err := db.Ingest(ctx, proc, fmt.Sprintf("writer%d", w), batch); err != nil {
						t.Errorf("writer %d round %d: %v", w, round, err)
						continue
					}
					mu.Lock()
					for _, id := range ids {
						sent[id]++
					}
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()

		alerts, err := db.ListAlerts(ctx, store.AlertFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(alerts) != len(sent) {
			t.Errorf("%d alert rows, want one per key: %d", len(alerts), len(sent))
		}
		rows := map[string]int{}
		for _, a := range alerts {
			rows[a.SourceID]++
			vs, err := db.AlertVersions(ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, v := range vs {
				got = append(got, v.Version)
			}
			want := make([]int, sent[a.SourceID])
			for i := range want {
				want[i] = i + 1
			}
			if !slices.Equal(got, want) {
				t.Errorf("alert %s versions = %v, want 1..%d", a.SourceID, got, sent[a.SourceID])
			}
			if a.Version != sent[a.SourceID] || a.SeenCount != int64(sent[a.SourceID]) {
				t.Errorf("alert %s version = %d seen %d, want %d for both", a.SourceID, a.Version, a.SeenCount, sent[a.SourceID])
			}
		}
		for id, n := range rows {
			if n != 1 {
				t.Errorf("key %s has %d alert rows, want 1", id, n)
			}
		}
		// A retried transaction must not leave an orphan item behind.
		items, err := db.ListWorkItems(ctx, workitem.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != len(sent) {
			t.Errorf("%d work items, want one per key: %d", len(items), len(sent))
		}
	})
}
