package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// boardSeed is four New items made a minute apart, and what the board's
// orders and the text filter see of them.
type boardSeed struct {
	crit, low, high, med int64 // by severity; created in this order
}

// searchTexts are the seeded items' search texts, as ingest keeps them
// (the lower-cased title and entity values).
func (s boardSeed) searchTexts() map[int64]string {
	return map[int64]string{
		s.crit: "failed ssh brute force host vm-web-01 ip 203.0.113.7",
		s.low:  "failed ssh brute force host vm-db-02 account jörg@contoso.com",
		s.high: "ransomware on filesrv hash 44d88612fea8a8f36de82e1278abb02f url https://evil.example/50%_off",
		s.med:  "école: suspicious sign-in",
	}
}

// setSearchTexts stores the items' search texts directly, after every
// other write, whatever ingest wrote there.
func (s boardSeed) setSearchTexts(t *testing.T, db *store.DB) {
	t.Helper()
	for id, text := range s.searchTexts() {
		if err := db.ExecForTest(context.Background(), `UPDATE workitems SET search_text = ? WHERE id = ?`, text, id); err != nil {
			t.Fatal(err)
		}
	}
}

// seedBoardColumn ingests the four items, a minute apart, and sets their
// search text. The critical item is edited ten minutes in: the latest
// activity but one; the low one's last alert came later still, 20 minutes
// in.
func seedBoardColumn(t *testing.T, db *store.DB, clk *clock.Fake) boardSeed {
	t.Helper()
	ctx := context.Background()
	var s boardSeed
	for i, it := range []struct {
		id    *int64
		title string
		sev   alert.Severity
	}{
		{&s.crit, "Failed SSH brute force", alert.SeverityCritical},
		{&s.low, "Failed SSH brute force", alert.SeverityLow},
		{&s.high, "Ransomware on FILESRV", alert.SeverityHigh},
		{&s.med, "École: suspicious sign-in", alert.SeverityMedium},
	} {
		clk.Set(t0.Add(time.Duration(i) * time.Minute))
		*it.id = mustIngest(t, db, newAlert(t, "sentinel", fmt.Sprintf("board-%d", i), it.title, it.sev))[0].WorkItemID
	}
	clk.Set(t0.Add(10 * time.Minute))
	mustUpdate(t, db, s.crit, func(it *workitem.Item) { it.Assignee = "rob@example.com" })
	s.setSearchTexts(t, db)
	if err := db.ExecForTest(ctx, `UPDATE workitems SET last_seen = ? WHERE id = ?`,
		t0.Add(20*time.Minute).UnixMicro(), s.low); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBoardColumnSort(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		s := seedBoardColumn(t, db, clk)
		tests := []struct {
			sort  string
			limit int
			want  []int64
		}{
			{workitem.SortNewest, 10, []int64{s.med, s.high, s.low, s.crit}},
			{workitem.SortOldest, 10, []int64{s.crit, s.low, s.high, s.med}},
			{workitem.SortSeverity, 10, []int64{s.crit, s.high, s.med, s.low}},
			// The low item's last alert (20 min) is later than the critical
			// one's edit (10 min), which is later than the others' creation.
			{workitem.SortActivity, 10, []int64{s.low, s.crit, s.med, s.high}},
			// The limit takes the first of the order, not the newest.
			{workitem.SortSeverity, 2, []int64{s.crit, s.high}},
			{workitem.SortOldest, 1, []int64{s.crit}},
		}
		for _, tt := range tests {
			items, n, err := db.BoardColumn(context.Background(), "New", workitem.Filter{Sort: tt.sort}, tt.limit)
			if err != nil {
				t.Fatalf("sort %q: %v", tt.sort, err)
			}
			if got := itemIDs(items); !slices.Equal(got, tt.want) {
				t.Errorf("sort %q, limit %d: got %v, want %v", tt.sort, tt.limit, got, tt.want)
			}
			if n != 4 {
				t.Errorf("sort %q: got count %d, want 4 (the whole column)", tt.sort, n)
			}
		}
		_, _, err := db.BoardColumn(context.Background(), "New", workitem.Filter{Sort: "chaos"}, 10)
		var fe *validation.FieldError
		if !errors.As(err, &fe) || fe.Field != "sort" {
			t.Errorf("unknown sort: got %v, want a field error on sort", err)
		}
	})
}

func TestBoardColumnSearch(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		s := seedBoardColumn(t, db, clk)
		// Edited after ingest: the title matches though the stored search
		// text still has the old one.
		mustUpdate(t, db, s.high, func(it *workitem.Item) { it.Title = "Ransomware on FILESRV (contained)" })
		s.setSearchTexts(t, db)
		tests := []struct {
			name, text string
			want       []int64
		}{
			{"title words", "brute FORCE", []int64{s.low, s.crit}},
			{"host", "VM-WEB-01", []int64{s.crit}},
			{"ip", "203.0.113.7", []int64{s.crit}},
			{"account, non-ASCII in capitals", "JÖRG@contoso", []int64{s.low}},
			{"hash", "44D88612FEA8A8F3", []int64{s.high}},
			{"url, LIKE wildcards taken literally", "50%_off", []int64{s.high}},
			{"a wildcard is not a wildcard", "%", []int64{s.high}},
			{"an underscore is not a wildcard", "vm_web", nil},
			{"title, non-ASCII in capitals, via the search text", "ÉCOLE", []int64{s.med}},
			{"edited title", "(contained)", []int64{s.high}},
			{"nothing", "no such thing", nil},
		}
		for _, tt := range tests {
			f := workitem.Filter{Text: tt.text}
			items, n, err := db.BoardColumn(context.Background(), "New", f, 10)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if got := itemIDs(items); !slices.Equal(got, tt.want) {
				t.Errorf("%s: board got %v, want %v", tt.name, got, tt.want)
			}
			if n != len(tt.want) {
				t.Errorf("%s: got count %d, want %d", tt.name, n, len(tt.want))
			}
			// The list (the API's) applies the same text filter.
			f.States = []string{"New"}
			list, err := db.ListWorkItems(context.Background(), f)
			if err != nil {
				t.Fatalf("%s: list: %v", tt.name, err)
			}
			if got := itemIDs(list); !slices.Equal(got, tt.want) {
				t.Errorf("%s: list got %v, want %v", tt.name, got, tt.want)
			}
		}
		got, err := db.ItemSearchText(context.Background(), s.crit)
		if want := "failed ssh brute force host vm-web-01 ip 203.0.113.7"; err != nil || got != want {
			t.Errorf("ItemSearchText = %q, %v; want %q", got, err, want)
		}
		if _, err := db.ItemSearchText(context.Background(), 999999); !errors.Is(err, validation.ErrNotFound) {
			t.Errorf("ItemSearchText of an unknown item: got %v, want not found", err)
		}
	})
}

func TestBoardColumnHidesMerged(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := seedBoardColumn(t, db, clk)
		if err := db.ExecForTest(ctx, `UPDATE workitems SET merged_into = ? WHERE id = ?`, s.crit, s.low); err != nil {
			t.Fatal(err)
		}
		for _, sort := range []string{workitem.SortNewest, workitem.SortSeverity} {
			items, n, err := db.BoardColumn(ctx, "New", workitem.Filter{Sort: sort}, 10)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := itemIDs(items), []int64{s.med, s.high, s.crit}; sort == workitem.SortNewest && !slices.Equal(got, want) {
				t.Errorf("got %v, want %v (the merged item left out)", got, want)
			}
			if slices.Contains(itemIDs(items), s.low) || n != 3 {
				t.Errorf("sort %q: got %v, count %d; want the merged item %d left out of both", sort, itemIDs(items), n, s.low)
			}
		}
		// Lists keep merged items unless asked not to.
		all, err := db.ListWorkItems(ctx, workitem.Filter{States: []string{"New"}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(itemIDs(all), s.low) {
			t.Errorf("list got %v, want the merged item %d in it", itemIDs(all), s.low)
		}
		open, err := db.ListWorkItems(ctx, workitem.Filter{States: []string{"New"}, HideMerged: true, Oldest: true})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := itemIDs(open), []int64{s.crit, s.high, s.med}; !slices.Equal(got, want) {
			t.Errorf("list hiding merged items got %v, want %v", got, want)
		}
		if it := mustGetItem(t, db, s.low); it.MergedInto != s.crit {
			t.Errorf("got MergedInto %d, want %d", it.MergedInto, s.crit)
		}
	})
}
