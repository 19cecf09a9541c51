package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

func TestListWorkItemsFilters(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		clk.Set(t0)
		ctx := context.Background()
		// Six items, one per alert, in ID order. The titles hold LIKE
		// metacharacters next to near-misses that an unescaped pattern
		// would also match.
		// One ingest per alert, so that IDs follow this order (within a
		// batch the store writes in dedup-key order).
		var res []store.IngestResult
		for _, a := range []alert.Alert{
			newAlert(t, "defender", "d1", "CPU at 100% on web01", alert.SeverityHigh),
			newAlert(t, "sentinel", "s1", "CPU at 1000 MHz on web02", alert.SeverityMedium),
			newAlert(t, "sentinel", "s2", "disk_full on db01", alert.SeverityCritical),
			newAlert(t, "alertmanager", "", "diskXfull on db02", alert.SeverityLow),
			newAlert(t, "defender", "d2", `Dropped C:\Temp\evil.exe`, alert.SeverityHigh),
			newAlert(t, "graph", "g1", "Impossible travel for ALICE", alert.SeverityInformational),
		} {
			res = append(res, mustIngest(t, db, a)...)
		}
		id := make([]int64, len(res))
		for i, r := range res {
			id[i] = r.WorkItemID
		}
		mustUpdate(t, db, id[0], func(it *workitem.Item) {
			it.Assignee, it.Tags, it.State = "alice", []string{"prod", "perf"}, "Approved"
		})
		mustUpdate(t, db, id[1], func(it *workitem.Item) { it.Assignee, it.Tags = "bob", []string{"perf"} })
		mustUpdate(t, db, id[2], func(it *workitem.Item) { it.Tags, it.State = []string{"prod"}, "Active" })
		mustUpdate(t, db, id[3], func(it *workitem.Item) { it.Assignee = "alice" })
		mustUpdate(t, db, id[4], func(it *workitem.Item) { it.State = "Removed" })

		tests := []struct {
			name string
			f    workitem.Filter
			want []int64
		}{
			{"no filter", workitem.Filter{}, newestFirst(id...)},
			{"one state", workitem.Filter{States: []string{"New"}}, newestFirst(id[1], id[3], id[5])},
			{"two states", workitem.Filter{States: []string{"Approved", "Active"}}, newestFirst(id[0], id[2])},
			{"terminal states", workitem.Filter{States: []string{"Removed", "Closed"}}, []int64{id[4]}},
			{"unknown state", workitem.Filter{States: []string{"Nope"}}, nil},
			{"type Problem", workitem.Filter{Type: workitem.TypeProblem}, newestFirst(id[0], id[4])},
			{"type Issue", workitem.Filter{Type: workitem.TypeIssue}, newestFirst(id[1], id[2], id[3], id[5])},
			{"severity high", workitem.Filter{Severity: alert.SeverityHigh}, newestFirst(id[0], id[4])},
			{"severity critical", workitem.Filter{Severity: alert.SeverityCritical}, []int64{id[2]}},
			{"source", workitem.Filter{Source: "sentinel"}, newestFirst(id[1], id[2])},
			{"assignee", workitem.Filter{Assignee: "alice"}, newestFirst(id[0], id[3])},
			{"tag perf", workitem.Filter{Tag: "perf"}, newestFirst(id[0], id[1])},
			{"tag prod", workitem.Filter{Tag: "prod"}, newestFirst(id[0], id[2])},
			{"unknown tag", workitem.Filter{Tag: "nope"}, nil},
			// Text is a case-insensitive substring of the title.
			{"text case-insensitive", workitem.Filter{Text: "cpu"}, newestFirst(id[0], id[1])},
			{"text matches title not assignee", workitem.Filter{Text: "alice"}, []int64{id[5]}},
			// % and _ are literal characters, not wildcards: "100%" must not
			// match "1000", "disk_full" must not match "diskXfull", and a
			// lone "%" or "_" must not match everything.
			{"text percent", workitem.Filter{Text: "100%"}, []int64{id[0]}},
			{"text lone percent", workitem.Filter{Text: "%"}, []int64{id[0]}},
			{"text underscore", workitem.Filter{Text: "disk_full"}, []int64{id[2]}},
			{"text lone underscore", workitem.Filter{Text: "_"}, []int64{id[2]}},
			// The escape character itself is literal too.
			{"text backslash", workitem.Filter{Text: `c:\temp\`}, []int64{id[4]}},
			{"text no match", workitem.Filter{Text: "zzz"}, nil},
			// Filters combine with AND.
			{"state and source", workitem.Filter{States: []string{"New"}, Source: "sentinel"}, []int64{id[1]}},
			{"tag and assignee", workitem.Filter{Tag: "perf", Assignee: "bob"}, []int64{id[1]}},
			{"type, severity and text", workitem.Filter{Type: workitem.TypeIssue, Severity: alert.SeverityCritical, Text: "DISK"}, []int64{id[2]}},
			{"contradiction", workitem.Filter{Tag: "prod", Assignee: "bob"}, nil},
			// The cursor combines with filters.
			{"after", workitem.Filter{After: id[3]}, newestFirst(id[0], id[1], id[2])},
			{"after and assignee", workitem.Filter{After: id[4], Assignee: "alice"}, newestFirst(id[0], id[3])},
			{"limit", workitem.Filter{Limit: 2}, newestFirst(id[4], id[5])},
			// The triage queue reads oldest first.
			{"oldest first", workitem.Filter{States: []string{"New"}, Oldest: true}, []int64{id[1], id[3], id[5]}},
			{"oldest first, limit", workitem.Filter{Oldest: true, Limit: 2}, []int64{id[0], id[1]}},
		}
		for _, tt := range tests {
			got, err := db.ListWorkItems(ctx, tt.f)
			if err != nil {
				t.Errorf("%s: ListWorkItems(%+v): %v", tt.name, tt.f, err)
				continue
			}
			if !slices.Equal(itemIDs(got), tt.want) {
				t.Errorf("%s: ListWorkItems(%+v) = %v, want %v", tt.name, tt.f, itemIDs(got), tt.want)
			}
		}

		// Listed items carry their tags (sorted) and their fields.
		got, err := db.ListWorkItems(ctx, workitem.Filter{Tag: "perf"})
		if err != nil {
			t.Fatal(err)
		}
		byID := map[int64]workitem.Item{}
		for _, it := range got {
			byID[it.ID] = it
		}
		first := byID[id[0]]
		if !slices.Equal(first.Tags, []string{"perf", "prod"}) {
			t.Errorf("item %d tags = %v, want [perf prod]", id[0], first.Tags)
		}
		if first.Title != "CPU at 100% on web01" || first.Source != "defender" || first.Type != workitem.TypeProblem ||
			first.Severity != alert.SeverityHigh || first.Assignee != "alice" || first.State != "Approved" || first.Rev != 2 {
			t.Errorf("listed item = %+v, want the ingested and updated fields", first)
		}
		// An item without tags has an empty list, not null, in JSON.
		none, err := db.ListWorkItems(ctx, workitem.Filter{Source: "graph"})
		if err != nil {
			t.Fatal(err)
		}
		if len(none) != 1 || none[0].Tags == nil || len(none[0].Tags) != 0 {
			t.Errorf("untagged item tags = %#v, want empty non-nil", none)
		}
	})
}

func TestListWorkItemsPaging(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var as []alert.Alert
		for i := range 7 {
			as = append(as, newAlert(t, "sentinel", fmt.Sprintf("p%d", i), fmt.Sprintf("alert %d", i), alert.SeverityLow))
		}
		res := mustIngest(t, db, as...)
		var all []int64
		for _, r := range res {
			all = append(all, r.WorkItemID)
		}
		want := newestFirst(all...)

		// Walk the pages with the keyset cursor: every item exactly once,
		// newest first, pages of the requested size.
		var got []int64
		var sizes []int
		after := int64(0)
		for range 10 { // bounded: a broken cursor must not loop forever
			page, err := db.ListWorkItems(ctx, workitem.Filter{After: after, Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			sizes = append(sizes, len(page))
			got = append(got, itemIDs(page)...)
			after = page[len(page)-1].ID
		}
		if !slices.Equal(got, want) {
			t.Errorf("paged IDs = %v, want %v", got, want)
		}
		if !slices.Equal(sizes, []int{3, 3, 1}) {
			t.Errorf("page sizes = %v, want [3 3 1]", sizes)
		}
	})
}

// TestListWorkItemsLimitBounds checks that a missing, negative or too
// large limit gives one page of MaxPage, so that no request can ask the
// database for everything at once.
func TestListWorkItemsLimitBounds(t *testing.T) {
	storetest.ForEach(t, clock.NewFake(t0), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		as := make([]alert.Alert, store.MaxPage+1)
		for i := range as {
			as[i] = newAlert(t, "sentinel", fmt.Sprintf("m%d", i), "many", alert.SeverityLow)
		}
		mustIngest(t, db, as...)
		for _, limit := range []int{0, -1, store.MaxPage + 1, 1 << 20} {
			items, err := db.ListWorkItems(ctx, workitem.Filter{Limit: limit})
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != store.MaxPage {
				t.Errorf("ListWorkItems(Limit %d) returned %d items, want %d", limit, len(items), store.MaxPage)
			}
			alerts, err := db.ListAlerts(ctx, store.AlertFilter{Limit: limit})
			if err != nil {
				t.Fatal(err)
			}
			if len(alerts) != store.MaxPage {
				t.Errorf("ListAlerts(Limit %d) returned %d alerts, want %d", limit, len(alerts), store.MaxPage)
			}
		}
	})
}

func TestUpdateWorkItem(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		clk.Set(t0)
		ctx := context.Background()
		id := mustIngest(t, db, newAlert(t, "sentinel", "u1", "Suspicious sign-in", alert.SeverityMedium))[0].WorkItemID

		before := mustGetItem(t, db, id)
		if before.Rev != 1 || !before.CreatedAt.Equal(t0) || !before.UpdatedAt.Equal(t0) {
			t.Fatalf("new item rev %d created %v updated %v, want rev 1 at %v", before.Rev, before.CreatedAt, before.UpdatedAt, t0)
		}

		t1 := t0.Add(time.Minute)
		clk.Set(t1)
		explicit := t0.Add(30 * time.Second)
		got, err := db.UpdateWorkItem(ctx, id, func(it *workitem.Item) ([]workitem.Entry, error) {
			it.Title = "Suspicious sign-in from TOR"
			it.Severity = alert.SeverityHigh
			it.Assignee = "alice"
			it.State = "Approved"
			it.Tags = []string{"tor", "identity"}
			return []workitem.Entry{
				{Actor: "alice", Kind: workitem.KindTransition, Message: "New → Approved", Reason: "looks real",
					Data: map[string]string{"from": "New", "to": "Approved"}},
				// An entry with its own time keeps it.
				{At: explicit, Actor: "alice", Kind: workitem.KindUpdate, Message: "assigned to alice"},
			}, nil
		})
		if err != nil {
			t.Fatalf("UpdateWorkItem: %v", err)
		}
		if got.Rev != 2 || !got.UpdatedAt.Equal(t1) {
			t.Errorf("returned rev %d updated %v, want rev 2 at %v", got.Rev, got.UpdatedAt, t1)
		}

		// What is read back is what was written.
		it := mustGetItem(t, db, id)
		if it.Title != "Suspicious sign-in from TOR" || it.Severity != alert.SeverityHigh || it.Assignee != "alice" || it.State != "Approved" {
			t.Errorf("stored item = %+v, want the new title, severity, assignee and state", it)
		}
		if it.Rev != 2 {
			t.Errorf("stored rev = %d, want 2", it.Rev)
		}
		if !it.UpdatedAt.Equal(t1) || !it.CreatedAt.Equal(t0) {
			t.Errorf("stored created %v updated %v, want created %v updated %v", it.CreatedAt, it.UpdatedAt, t0, t1)
		}
		if !slices.Equal(it.Tags, []string{"identity", "tor"}) {
			t.Errorf("stored tags = %v, want [identity tor]", it.Tags)
		}
		// Fields the patch does not own are kept.
		if it.Type != before.Type || it.Source != before.Source || !slices.Equal(it.AlertIDs, before.AlertIDs) || it.AlertCount != before.AlertCount {
			t.Errorf("stored item = %+v, want type, source and alerts unchanged from %+v", it, before)
		}

		tl := mustTimeline(t, db, id)
		if got, want := kinds(tl), []string{workitem.KindCreated, workitem.KindTransition, workitem.KindUpdate}; !slices.Equal(got, want) {
			t.Fatalf("timeline kinds = %v, want %v", got, want)
		}
		tr := tl[1]
		if !tr.At.Equal(t1) || tr.Actor != "alice" || tr.Message != "New → Approved" || tr.Reason != "looks real" || tr.WorkItemID != id {
			t.Errorf("transition entry = %+v, want at %v by alice with its reason", tr, t1)
		}
		var data map[string]string
		if raw, ok := tr.Data.(json.RawMessage); !ok || json.Unmarshal(raw, &data) != nil || data["from"] != "New" || data["to"] != "Approved" {
			t.Errorf("transition entry data = %v, want {from: New, to: Approved}", tr.Data)
		}
		if !tl[2].At.Equal(explicit) {
			t.Errorf("update entry at %v, want its own time %v", tl[2].At, explicit)
		}
		if tl[2].Data != nil {
			t.Errorf("entry without data has Data %v, want nil", tl[2].Data)
		}

		// Tags are replaced, not merged.
		mustUpdate(t, db, id, func(it *workitem.Item) { it.Tags = []string{"ato"} })
		if got := mustGetItem(t, db, id); !slices.Equal(got.Tags, []string{"ato"}) || got.Rev != 3 {
			t.Errorf("after replacing tags: tags %v rev %d, want [ato] rev 3", got.Tags, got.Rev)
		}
		// An update that leaves the tags alone keeps them.
		mustUpdate(t, db, id, func(it *workitem.Item) { it.Assignee = "bob" })
		if got := mustGetItem(t, db, id); !slices.Equal(got.Tags, []string{"ato"}) || got.Assignee != "bob" || got.Rev != 4 {
			t.Errorf("after changing the assignee: tags %v assignee %q rev %d, want [ato] bob rev 4", got.Tags, got.Assignee, got.Rev)
		}
		// Tags can be cleared.
		mustUpdate(t, db, id, func(it *workitem.Item) { it.Tags = nil })
		if got := mustGetItem(t, db, id); len(got.Tags) != 0 {
			t.Errorf("after clearing tags: %v, want none", got.Tags)
		}

		// ClosedAt is stored and can be cleared again.
		closed := t0.Add(time.Hour)
		mustUpdate(t, db, id, func(it *workitem.Item) { it.State, it.ClosedAt = "Closed", &closed })
		if got := mustGetItem(t, db, id); got.ClosedAt == nil || !got.ClosedAt.Equal(closed) {
			t.Errorf("closed_at = %v, want %v", got.ClosedAt, closed)
		}
		mustUpdate(t, db, id, func(it *workitem.Item) { it.State, it.ClosedAt = "Active", nil })
		if got := mustGetItem(t, db, id); got.ClosedAt != nil {
			t.Errorf("closed_at after clearing = %v, want nil", got.ClosedAt)
		}
	})
}

func TestUpdateWorkItemWritesNothingOnError(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		clk.Set(t0)
		ctx := context.Background()
		id := mustIngest(t, db, newAlert(t, "sentinel", "e1", "Original", alert.SeverityLow))[0].WorkItemID
		mustUpdate(t, db, id, func(it *workitem.Item) { it.Tags = []string{"keep"} })
		before := mustGetItem(t, db, id)
		beforeTL := mustTimeline(t, db, id)
		clk.Advance(time.Minute)

		errRefused := errors.New("refused by the service")
		tests := []struct {
			name    string
			fn      func(*workitem.Item) ([]workitem.Entry, error)
			wantErr error // nil: any error
		}{
			{
				// fn changes everything and then refuses: its error comes
				// back unchanged, so the service can return a ConflictError.
				name: "fn error",
				fn: func(it *workitem.Item) ([]workitem.Entry, error) {
					it.Title, it.State, it.Tags = "Changed", "Approved", []string{"changed"}
					return []workitem.Entry{{Kind: workitem.KindUpdate, Message: "x"}}, errRefused
				},
				wantErr: errRefused,
			},
			{
				// The write itself fails half-way (a duplicate tag violates
				// the primary key after the item row was updated): the
				// whole change is rolled back.
				name: "duplicate tag",
				fn: func(it *workitem.Item) ([]workitem.Entry, error) {
					it.Title, it.Tags = "Changed", []string{"dup", "dup"}
					return []workitem.Entry{{Kind: workitem.KindUpdate, Message: "x"}}, nil
				},
			},
		}
		for _, tt := range tests {
			_, err := db.UpdateWorkItem(ctx, id, tt.fn)
			if err == nil {
				t.Errorf("%s: UpdateWorkItem = nil, want an error", tt.name)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("%s: UpdateWorkItem error = %v, want %v", tt.name, err, tt.wantErr)
			}
			after := mustGetItem(t, db, id)
			if after.Title != before.Title || after.State != before.State || after.Rev != before.Rev ||
				!after.UpdatedAt.Equal(before.UpdatedAt) || !slices.Equal(after.Tags, before.Tags) {
				t.Errorf("%s: item after failed update = %+v, want unchanged %+v", tt.name, after, before)
			}
			if tl := mustTimeline(t, db, id); len(tl) != len(beforeTL) {
				t.Errorf("%s: timeline has %d entries after failed update, want %d", tt.name, len(tl), len(beforeTL))
			}
		}

		// The store is still usable after the rollbacks (on SQLite the
		// pinned write connection must not be left inside a transaction).
		if got := mustUpdate(t, db, id, func(it *workitem.Item) { it.Title = "Fine" }); got.Rev != before.Rev+1 {
			t.Errorf("rev after recovery = %d, want %d", got.Rev, before.Rev+1)
		}
	})
}

func TestUpdateWorkItemNotFound(t *testing.T) {
	storetest.ForEach(t, clock.NewFake(t0), func(t *testing.T, db *store.DB) {
		called := false
		_, err := db.UpdateWorkItem(context.Background(), 424242, func(*workitem.Item) ([]workitem.Entry, error) {
			called = true
			return nil, nil
		})
		wantNotFound(t, "UpdateWorkItem(missing)", err)
		if called {
			t.Error("fn was called for a missing item")
		}
		_, err = db.GetWorkItem(context.Background(), 424242)
		wantNotFound(t, "GetWorkItem(missing)", err)
	})
}

// TestUpdateWorkItemConcurrent runs updates of one item at once. On
// SQLite they queue; on PostgreSQL a loser may get ErrStale. Either way no
// update may be lost: every one that reported success is in the result,
// and rev counts exactly the successes.
func TestUpdateWorkItemConcurrent(t *testing.T) {
	storetest.ForEach(t, clock.NewFake(t0), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		id := mustIngest(t, db, newAlert(t, "sentinel", "c1", "Contended", alert.SeverityLow))[0].WorkItemID
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				_, errs[i] = db.UpdateWorkItem(ctx, id, func(it *workitem.Item) ([]workitem.Entry, error) {
					it.Tags = append(it.Tags, fmt.Sprintf("g%d", i))
					return []workitem.Entry{{Kind: workitem.KindUpdate, Actor: "test", Message: fmt.Sprintf("g%d", i)}}, nil
				})
			})
		}
		close(start)
		wg.Wait()
		it := mustGetItem(t, db, id)
		ok := 0
		for i, err := range errs {
			tag := fmt.Sprintf("g%d", i)
			switch {
			case err == nil:
				ok++
				if !slices.Contains(it.Tags, tag) {
					t.Errorf("update %d succeeded but its tag is missing from %v (lost update)", i, it.Tags)
				}
			case errors.Is(err, validation.ErrStale):
				if slices.Contains(it.Tags, tag) {
					t.Errorf("update %d reported stale but its tag %s was stored", i, tag)
				}
			default:
				t.Errorf("update %d: %v, want nil or ErrStale", i, err)
			}
		}
		if ok == 0 {
			t.Error("no concurrent update succeeded")
		}
		if it.Rev != 1+ok || len(it.Tags) != ok {
			t.Errorf("rev %d with %d tags after %d successful updates, want rev %d", it.Rev, len(it.Tags), ok, 1+ok)
		}
		if got := len(mustTimeline(t, db, id)); got != 1+ok {
			t.Errorf("timeline has %d entries, want %d (created + one per success)", got, 1+ok)
		}
	})
}

func TestComments(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		clk.Set(t0)
		ctx := context.Background()
		id := mustIngest(t, db, newAlert(t, "sentinel", "k1", "Commented", alert.SeverityLow))[0].WorkItemID
		other := mustIngest(t, db, newAlert(t, "sentinel", "k2", "Other", alert.SeverityLow))[0].WorkItemID

		if cs, err := db.Comments(ctx, id); err != nil || cs == nil || len(cs) != 0 {
			t.Errorf("Comments of an uncommented item = %#v, %v; want an empty non-nil list", cs, err)
		}

		t1 := t0.Add(time.Minute)
		clk.Set(t1)
		c1, err := db.AddComment(ctx, workitem.Comment{WorkItemID: id, Author: "alice", Body: "Looks like TOR."})
		if err != nil {
			t.Fatalf("AddComment: %v", err)
		}
		if c1.ID == 0 || !c1.At.Equal(t1) {
			t.Errorf("AddComment = %+v, want an ID and At %v (now)", c1, t1)
		}
		// A comment with its own time (an import) keeps it.
		explicit := t0.Add(-time.Hour)
		c2, err := db.AddComment(ctx, workitem.Comment{WorkItemID: id, Author: "bob", Body: "Imported", At: explicit})
		if err != nil {
			t.Fatalf("AddComment: %v", err)
		}
		if !c2.At.Equal(explicit) {
			t.Errorf("AddComment with At kept %v, want %v", c2.At, explicit)
		}
		if _, err := db.AddComment(ctx, workitem.Comment{WorkItemID: other, Author: "carol", Body: "elsewhere"}); err != nil {
			t.Fatal(err)
		}

		cs, err := db.Comments(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := []workitem.Comment{c1, c2}
		if len(cs) != len(want) {
			t.Fatalf("Comments = %+v, want %+v", cs, want)
		}
		for i := range want {
			if cs[i].ID != want[i].ID || cs[i].WorkItemID != id || cs[i].Author != want[i].Author ||
				cs[i].Body != want[i].Body || !cs[i].At.Equal(want[i].At) {
				t.Errorf("Comments[%d] = %+v, want %+v", i, cs[i], want[i])
			}
		}

		// Each comment is on the timeline, and the item shows activity.
		tl := mustTimeline(t, db, id)
		if got, want := kinds(tl), []string{workitem.KindCreated, workitem.KindComment, workitem.KindComment}; !slices.Equal(got, want) {
			t.Fatalf("timeline kinds = %v, want %v", got, want)
		}
		var data struct {
			CommentID int64 `json:"comment_id"`
		}
		if raw, _ := tl[1].Data.(json.RawMessage); json.Unmarshal(raw, &data) != nil || data.CommentID != c1.ID || tl[1].Actor != "alice" || !tl[1].At.Equal(t1) {
			t.Errorf("comment entry = %+v, want by alice at %v with comment_id %d", tl[1], t1, c1.ID)
		}
		if it := mustGetItem(t, db, id); !it.UpdatedAt.Equal(t1) {
			t.Errorf("item updated_at = %v, want %v (touched by the comment)", it.UpdatedAt, t1)
		}

		// A comment on a missing item is refused and leaves nothing.
		_, err = db.AddComment(ctx, workitem.Comment{WorkItemID: 424242, Author: "x", Body: "y"})
		wantNotFound(t, "AddComment(missing item)", err)
		if cs, err := db.Comments(ctx, 424242); err != nil || len(cs) != 0 {
			t.Errorf("Comments(missing) = %v, %v; want none", cs, err)
		}
	})
}

func TestTasks(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		clk.Set(t0)
		ctx := context.Background()
		id := mustIngest(t, db, newAlert(t, "sentinel", "t1", "With tasks", alert.SeverityLow))[0].WorkItemID
		other := mustIngest(t, db, newAlert(t, "sentinel", "t2", "Other", alert.SeverityLow))[0].WorkItemID

		if ts, err := db.Tasks(ctx, id); err != nil || ts == nil || len(ts) != 0 {
			t.Errorf("Tasks of a new item = %#v, %v; want an empty non-nil list", ts, err)
		}

		t1 := t0.Add(time.Minute)
		clk.Set(t1)
		isolate, err := db.AddTask(ctx, workitem.Task{WorkItemID: id, Title: "Isolate host"}, "alice")
		if err != nil {
			t.Fatalf("AddTask: %v", err)
		}
		if isolate.ID == 0 || isolate.Done || !isolate.CreatedAt.Equal(t1) || !isolate.UpdatedAt.Equal(t1) {
			t.Errorf("AddTask = %+v, want an open task created and updated at %v", isolate, t1)
		}
		reset, err := db.AddTask(ctx, workitem.Task{WorkItemID: id, Title: "Reset password"}, "alice")
		if err != nil {
			t.Fatal(err)
		}

		t2 := t1.Add(time.Minute)
		clk.Set(t2)
		done, err := db.UpdateTask(ctx, id, isolate.ID, "bob", func(tk *workitem.Task) (string, error) {
			tk.Done, tk.DoneBy = true, "bob"
			return "completed task " + tk.Title, nil
		})
		if err != nil {
			t.Fatalf("UpdateTask: %v", err)
		}
		if !done.Done || done.DoneBy != "bob" || !done.UpdatedAt.Equal(t2) || !done.CreatedAt.Equal(t1) || done.WorkItemID != id {
			t.Errorf("UpdateTask = %+v, want done by bob, created %v, updated %v", done, t1, t2)
		}
		// A change without a message is stored but not on the timeline.
		if _, err := db.UpdateTask(ctx, id, reset.ID, "bob", func(tk *workitem.Task) (string, error) {
			tk.Title = "Reset password and revoke sessions"
			return "", nil
		}); err != nil {
			t.Fatal(err)
		}

		ts, err := db.Tasks(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) != 2 {
			t.Fatalf("Tasks = %+v, want 2", ts)
		}
		if ts[0].ID != isolate.ID || !ts[0].Done || ts[0].DoneBy != "bob" || !ts[0].UpdatedAt.Equal(t2) || !ts[0].CreatedAt.Equal(t1) {
			t.Errorf("Tasks[0] = %+v, want the done isolate task", ts[0])
		}
		if ts[1].ID != reset.ID || ts[1].Done || ts[1].Title != "Reset password and revoke sessions" || ts[1].WorkItemID != id {
			t.Errorf("Tasks[1] = %+v, want the renamed open reset task", ts[1])
		}

		tl := mustTimeline(t, db, id)
		if got, want := kinds(tl), []string{workitem.KindCreated, workitem.KindTask, workitem.KindTask, workitem.KindTask}; !slices.Equal(got, want) {
			t.Fatalf("timeline kinds = %v, want %v", got, want)
		}
		if e := tl[1]; e.Actor != "alice" || !strings.Contains(e.Message, "Isolate host") || !e.At.Equal(t1) {
			t.Errorf("add-task entry = %+v, want by alice at %v naming the task", e, t1)
		}
		if e := tl[3]; e.Actor != "bob" || e.Message != "completed task Isolate host" || !e.At.Equal(t2) {
			t.Errorf("update-task entry = %+v, want bob's message at %v", e, t2)
		}
		if it := mustGetItem(t, db, id); !it.UpdatedAt.Equal(t2) {
			t.Errorf("item updated_at = %v, want %v", it.UpdatedAt, t2)
		}

		// fn's error aborts the change.
		errNo := errors.New("no")
		clk.Advance(time.Minute)
		if _, err := db.UpdateTask(ctx, id, reset.ID, "bob", func(tk *workitem.Task) (string, error) {
			tk.Done, tk.Title = true, "changed"
			return "x", errNo
		}); !errors.Is(err, errNo) {
			t.Errorf("UpdateTask with fn error = %v, want %v", err, errNo)
		}
		if ts, _ := db.Tasks(ctx, id); len(ts) != 2 || ts[1].Done || ts[1].Title != "Reset password and revoke sessions" || !ts[1].UpdatedAt.Equal(t2) {
			t.Errorf("task after refused update = %+v, want unchanged", ts)
		}
		if got := len(mustTimeline(t, db, id)); got != len(tl) {
			t.Errorf("timeline has %d entries after refused update, want %d", got, len(tl))
		}

		// Not found: a missing task, a task of another item, a missing item.
		notCalled := func(*workitem.Task) (string, error) {
			t.Error("fn called for a missing task")
			return "", nil
		}
		_, err = db.UpdateTask(ctx, id, 424242, "bob", notCalled)
		wantNotFound(t, "UpdateTask(missing task)", err)
		_, err = db.UpdateTask(ctx, other, isolate.ID, "bob", notCalled)
		wantNotFound(t, "UpdateTask(task of another item)", err)
		_, err = db.AddTask(ctx, workitem.Task{WorkItemID: 424242, Title: "x"}, "bob")
		wantNotFound(t, "AddTask(missing item)", err)
		if ts, err := db.Tasks(ctx, 424242); err != nil || len(ts) != 0 {
			t.Errorf("Tasks(missing) = %v, %v; want none", ts, err)
		}
		if ts, _ := db.Tasks(ctx, other); len(ts) != 0 {
			t.Errorf("Tasks(other) = %v, want none", ts)
		}
	})
}

func TestTimelinePaging(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		clk.Set(t0)
		ctx := context.Background()
		res := mustIngest(t, db,
			newAlert(t, "sentinel", "tl1", "Busy", alert.SeverityLow),
			newAlert(t, "sentinel", "tl2", "Neighbour", alert.SeverityLow))
		id, other := res[0].WorkItemID, res[1].WorkItemID
		note := func(item int64, msgs ...string) {
			t.Helper()
			if _, err := db.UpdateWorkItem(ctx, item, func(*workitem.Item) ([]workitem.Entry, error) {
				var es []workitem.Entry
				for _, m := range msgs {
					es = append(es, workitem.Entry{Actor: "test", Kind: workitem.KindUpdate, Message: m})
				}
				return es, nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		// Interleave the two items' entries so that IDs of one item are
		// not contiguous.
		note(id, "a", "b")
		note(other, "x")
		note(id, "c")
		note(other, "y")
		note(id, "d", "e")

		var msgs []string
		var lastID int64
		after := int64(0)
		pages := 0
		for range 10 {
			page, err := db.Timeline(ctx, id, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			pages++
			if len(page) > 2 {
				t.Errorf("page of %d entries, want at most 2", len(page))
			}
			for _, e := range page {
				if e.ID <= lastID {
					t.Errorf("entry %d after %d: want ascending IDs", e.ID, lastID)
				}
				if e.WorkItemID != id {
					t.Errorf("entry %+v belongs to item %d, want %d", e, e.WorkItemID, id)
				}
				lastID = e.ID
				msgs = append(msgs, e.Message)
			}
			after = page[len(page)-1].ID
		}
		// The created entry first, then the updates in order, none of the
		// neighbour's.
		if len(msgs) != 6 || !slices.Equal(msgs[1:], []string{"a", "b", "c", "d", "e"}) {
			t.Errorf("paged messages = %q, want created then a..e", msgs)
		}
		if pages != 3 {
			t.Errorf("%d pages, want 3", pages)
		}
		if tl, err := db.Timeline(ctx, 424242, 0, 0); err != nil || tl == nil || len(tl) != 0 {
			t.Errorf("Timeline(missing) = %#v, %v; want an empty non-nil list", tl, err)
		}

		// RecentTimeline pages backwards from the newest, newest first.
		var back []string
		before := int64(0)
		for range 10 {
			page, err := db.RecentTimeline(ctx, id, before, 4)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for _, e := range page {
				if e.WorkItemID != id {
					t.Errorf("recent entry %+v belongs to item %d", e, e.WorkItemID)
				}
				back = append(back, e.Message)
			}
			before = page[len(page)-1].ID
		}
		if len(back) != 6 || !slices.Equal(back[:5], []string{"e", "d", "c", "b", "a"}) {
			t.Errorf("recent messages = %q, want e..a then created", back)
		}
	})
}

func TestCountByState(t *testing.T) {
	storetest.ForEach(t, clock.NewFake(t0), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if got, err := db.CountByState(ctx); err != nil || len(got) != 0 {
			t.Errorf("CountByState on an empty store = %v, %v; want empty", got, err)
		}
		res := mustIngest(t, db,
			newAlert(t, "sentinel", "n1", "one", alert.SeverityLow),
			newAlert(t, "sentinel", "n2", "two", alert.SeverityLow),
			newAlert(t, "sentinel", "n3", "three", alert.SeverityLow))
		mustUpdate(t, db, res[0].WorkItemID, func(it *workitem.Item) { it.State = "Approved" })
		got, err := db.CountByState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got["New"] != 2 || got["Approved"] != 1 {
			t.Errorf("CountByState = %v, want map[Approved:1 New:2]", got)
		}
	})
}

// TestReturnedTimesMatchStored runs the store on a clock with nanoseconds.
// Times are stored in microseconds, so what a write returns must already
// be at that precision: a client comparing the returned value with a
// later read (or using it as a cursor) must see the same time.
func TestReturnedTimesMatchStored(t *testing.T) {
	odd := t0.Add(123456789 * time.Nanosecond)
	clk := clock.NewFake(odd)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		clk.Set(odd)
		ctx := context.Background()
		id := mustIngest(t, db, newAlert(t, "sentinel", "ns", "Nanoseconds", alert.SeverityLow))[0].WorkItemID
		want := odd.Truncate(time.Microsecond)

		it := mustUpdate(t, db, id, func(it *workitem.Item) { it.Assignee = "alice" })
		if !it.UpdatedAt.Equal(want) {
			t.Errorf("UpdateWorkItem returned updated_at %v, want %v", it.UpdatedAt, want)
		}
		c, err := db.AddComment(ctx, workitem.Comment{WorkItemID: id, Author: "alice", Body: "x"})
		if err != nil {
			t.Fatal(err)
		}
		if cs, _ := db.Comments(ctx, id); len(cs) != 1 || !cs[0].At.Equal(c.At) || !c.At.Equal(want) {
			t.Errorf("AddComment returned at %v, stored %v; want both %v", c.At, cs, want)
		}
		tk, err := db.AddTask(ctx, workitem.Task{WorkItemID: id, Title: "x"}, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if !tk.CreatedAt.Equal(want) || !tk.UpdatedAt.Equal(want) {
			t.Errorf("AddTask returned created %v updated %v, want %v", tk.CreatedAt, tk.UpdatedAt, want)
		}
		tk, err = db.UpdateTask(ctx, id, tk.ID, "alice", func(tk *workitem.Task) (string, error) { tk.Done = true; return "", nil })
		if err != nil {
			t.Fatal(err)
		}
		if !tk.UpdatedAt.Equal(want) {
			t.Errorf("UpdateTask returned updated %v, want %v", tk.UpdatedAt, want)
		}
		if ts, _ := db.Tasks(ctx, id); len(ts) != 1 || !ts[0].CreatedAt.Equal(want) || !ts[0].UpdatedAt.Equal(want) {
			t.Errorf("stored task = %+v, want created and updated %v", ts, want)
		}
	})
}

// A PATCH that changes nothing must not bump the revision: that would
// invalidate every other client's ETag for no reason.
func TestUpdateWorkItemNoopKeepsRev(t *testing.T) {
	storetest.ForEach(t, clock.NewFake(t0), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		res, err := db.Ingest(ctx, workitem.DefaultProcess(), "test", []alert.Alert{testAlert("noop")})
		if err != nil {
			t.Fatal(err)
		}
		id := res[0].WorkItemID
		got, err := db.UpdateWorkItem(ctx, id, func(it *workitem.Item) ([]workitem.Entry, error) { return nil, nil })
		if err != nil {
			t.Fatal(err)
		}
		if got.Rev != 1 {
			t.Errorf("rev after a no-op update = %d, want 1", got.Rev)
		}
		tl, _ := db.Timeline(ctx, id, 0, 10)
		if len(tl) != 1 {
			t.Errorf("timeline entries = %d, want 1", len(tl))
		}
	})
}
