package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// newAlert returns a normalized alert from source with source id id (empty
// for a fingerprinted alert), seen at t0.
func newAlert(t testing.TB, source, id, title string, sev alert.Severity) alert.Alert {
	t.Helper()
	raw, err := json.Marshal(map[string]string{"id": id, "title": title})
	if err != nil {
		t.Fatal(err)
	}
	a := alert.Alert{Source: source, SourceID: id, Title: title, Severity: sev, Raw: raw}
	if err := a.Normalize(t0); err != nil {
		t.Fatalf("normalize %s/%s: %v", source, id, err)
	}
	return a
}

// mustIngest ingests alerts with the default process and fails the test on
// error.
func mustIngest(t testing.TB, db *store.DB, alerts ...alert.Alert) []store.IngestResult {
	t.Helper()
	res, err := db.Ingest(context.Background(), workitem.DefaultProcess(), "test", alerts)
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	if len(res) != len(alerts) {
		t.Fatalf("ingest returned %d results for %d alerts", len(res), len(alerts))
	}
	return res
}

// mustUpdate changes item id with fn, writing no timeline entries.
func mustUpdate(t testing.TB, db *store.DB, id int64, fn func(*workitem.Item)) workitem.Item {
	t.Helper()
	it, err := db.UpdateWorkItem(context.Background(), id, func(it *workitem.Item) ([]workitem.Entry, error) {
		fn(it)
		return nil, nil
	})
	if err != nil {
		t.Fatalf("update work item %d: %v", id, err)
	}
	return it
}

func mustGetItem(t testing.TB, db *store.DB, id int64) workitem.Item {
	t.Helper()
	it, err := db.GetWorkItem(context.Background(), id)
	if err != nil {
		t.Fatalf("get work item %d: %v", id, err)
	}
	return it
}

func mustTimeline(t testing.TB, db *store.DB, id int64) []workitem.Entry {
	t.Helper()
	tl, err := db.Timeline(context.Background(), id, 0, 0)
	if err != nil {
		t.Fatalf("timeline of %d: %v", id, err)
	}
	return tl
}

func kinds(tl []workitem.Entry) []string {
	out := make([]string, len(tl))
	for i, e := range tl {
		out[i] = e.Kind
	}
	return out
}

func itemIDs(items []workitem.Item) []int64 {
	out := make([]int64, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func alertIDs(as []alert.Alert) []int64 {
	out := make([]int64, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

// newestFirst returns ids sorted descending, the order of every list.
func newestFirst(ids ...int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

func wantNotFound(t testing.TB, what string, err error) {
	t.Helper()
	if !errors.Is(err, validation.ErrNotFound) {
		t.Errorf("%s: error = %v, want one wrapping validation.ErrNotFound", what, err)
	}
}

func ptr[T any](v T) *T { return &v }
