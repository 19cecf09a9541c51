package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// TestFilterTextCap: every list refuses a free-text filter longer than
// MaxFilterText with a field error, on both databases, instead of
// handing SQLite a LIKE pattern it refuses (a 500 to the caller).
func TestFilterTextCap(t *testing.T) {
	storetest.ForEach(t, clock.NewFake(t0), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mustIngest(t, db, newAlert(t, "sentinel", "al-1", "Suspicious sign-in", alert.SeverityHigh))
		long, atMax := strings.Repeat("a", 50_000), strings.Repeat("é", store.MaxFilterText)
		over := strings.Repeat("x", store.MaxFilterText+1)
		lists := map[string]func(field, v string) error{
			"alerts": func(field, v string) error {
				f := store.AlertFilter{}
				switch field {
				case "q":
					f.Text = v
				case "source":
					f.Source = v
				}
				_, err := db.ListAlerts(ctx, f)
				return err
			},
			"work items": func(field, v string) error {
				_, err := db.ListWorkItems(ctx, itemFilter(field, v))
				return err
			},
			"board column": func(field, v string) error {
				_, _, err := db.BoardColumn(ctx, "New", itemFilter(field, v), 10)
				return err
			},
			"incidents": func(field, v string) error {
				_, err := db.ListIncidents(ctx, v, 0, 10)
				return err
			},
		}
		fields := map[string][]string{
			"alerts":       {"q", "source"},
			"work items":   {"q", "source", "assignee", "tag"},
			"board column": {"q", "source", "assignee", "tag"},
			"incidents":    {"source"},
		}
		for name, list := range lists {
			for _, field := range fields[name] {
				for _, v := range []string{long, over} {
					var fe *validation.FieldError
					if err := list(field, v); !errors.As(err, &fe) || fe.Field != field {
						t.Errorf("%s with a %d-byte %s: got %v, want a field error on %s", name, len(v), field, err, field)
					}
				}
				if err := list(field, atMax); err != nil {
					t.Errorf("%s with %d characters of %s: %v", name, store.MaxFilterText, field, err)
				}
			}
		}
		if got, err := db.ListAlerts(ctx, store.AlertFilter{Text: "suspicious"}); err != nil || len(got) != 1 {
			t.Errorf("ListAlerts(q=suspicious) = %d alerts, %v; want 1", len(got), err)
		}
	})
}

func itemFilter(field, v string) workitem.Filter {
	var f workitem.Filter
	switch field {
	case "q":
		f.Text = v
	case "source":
		f.Source = v
	case "assignee":
		f.Assignee = v
	case "tag":
		f.Tag = v
	}
	return f
}
