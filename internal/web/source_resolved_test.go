package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/ingest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// follower is the app's reactor in small: it moves an item resolved at
// its source to the process's on_source_resolved state.
type follower struct{ items *workitem.Service }

func (f follower) SourceResolved(ctx context.Context, itemID int64, source, cause string) {
	f.items.FollowSourceResolved(ctx, itemID, source, cause)
}

func processWith(t *testing.T, onResolved string) *workitem.Process {
	t.Helper()
	b := fmt.Sprintf(`
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
on_source_resolved: %q
`, onResolved)
	proc, err := workitem.ParseProcess([]byte(b))
	if err != nil {
		t.Fatal(err)
	}
	return proc
}

// TestOnSourceResolved: an Alertmanager alert resolved at its source shows
// on its item, and moves it to the process's on_source_resolved state
// where the process allows that move; without the setting, it stays.
func TestOnSourceResolved(t *testing.T) {
	tests := []struct {
		name       string
		onResolved string
		moveFirst  []string // moves before the resolution
		want       string
	}{
		{"moves Active to Verification", "Verification", []string{"Approved", "Active"}, "Verification"},
		{"not allowed from New", "Verification", nil, "New"},
		{"off by default", "", []string{"Approved", "Active"}, "Active"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnvWith(t, processWith(t, tt.onResolved), func(p *ingest.Pipeline, s *workitem.Service) { p.React(follower{s}) })
			now := e.clk.Now()
			start := now.Add(-10 * time.Minute)
			e.do(t, responder, "POST", "/api/v2/alerts", []any{promAlert("HostDown", "web1:9100", "critical", start, now.Add(4*time.Minute))}).
				wantCode(t, http.StatusOK)
			items := e.alerts(t, "?source=alertmanager")
			if len(items) != 1 {
				t.Fatalf("alerts = %+v, want 1", items)
			}
			id := items[0].WorkItemID
			for _, to := range tt.moveFirst {
				e.do(t, responder, "POST", fmt.Sprintf("/api/v1/workitems/%d/transitions", id), map[string]any{"to": to}).wantCode(t, http.StatusOK)
			}
			e.clk.Advance(2 * time.Minute)
			now = e.clk.Now()
			e.do(t, responder, "POST", "/api/v2/alerts", []any{promAlert("HostDown", "web1:9100", "critical", start, now.Add(-time.Minute))}).
				wantCode(t, http.StatusOK)
			it := e.item(t, id)
			if it.State != tt.want {
				t.Errorf("item state after the resolution = %s, want %s", it.State, tt.want)
			}
			var raw map[string]any
			e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/workitems/%d", id), nil).wantCode(t, http.StatusOK).decode(t, &raw)
			if raw["source_resolved_at"] == nil {
				t.Errorf("item %v: no source_resolved_at after its only alert was resolved", raw)
			}
			var words []string
			for _, en := range e.timeline(t, id) {
				words = append(words, en.Msg)
			}
			all := strings.Join(words, "\n")
			if !strings.Contains(all, "resolved at the source") || strings.Contains(all, "fired again") {
				t.Errorf("timeline:\n%s\nwant the resolution in words, not \"fired again\"", all)
			}
			if tt.want == "Verification" && !strings.Contains(all, "moved from Active to Verification") {
				t.Errorf("timeline:\n%s\nwant the move explained", all)
			}
		})
	}
}
