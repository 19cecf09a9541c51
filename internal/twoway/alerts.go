package twoway

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/store"
)

// FollowingSink stores pulled alerts and makes each one's work item follow
// the alert when it was settled at the source: dismissed there → the item
// is Removed; resolved there → it goes to closedState. The Defender
// connector's poller submits through it. Echoes end by themselves: when
// vigil resolved the alert, its item is already closed.
func FollowingSink(in Ingester, items Follower, actor, origin, closedState string, log *slog.Logger) func(context.Context, []alert.Alert) error {
	return func(ctx context.Context, as []alert.Alert) error {
		results, err := in.Submit(ctx, actor, as)
		if err != nil {
			return err
		}
		for i, r := range results {
			if i >= len(as) || r.WorkItemID == 0 || r.Outcome != store.OutcomeUpdated || items == nil {
				continue
			}
			a := as[i]
			to := ""
			switch a.Status {
			case alert.StatusDismissed:
				to = "Removed"
			case alert.StatusResolved:
				to = closedState
			default:
				continue
			}
			cause := fmt.Sprintf("%s alert %s %s at the source", origin, a.SourceID, a.Status)
			if _, moved, err := items.Follow(ctx, r.WorkItemID, to, origin, cause,
				map[string]any{"alert_id": r.AlertID, "source_id": a.SourceID, "status": a.Status}); err != nil {
				return fmt.Errorf("follow alert %s: %w", a.SourceID, err)
			} else if moved {
				log.Info("work item follows its alert", "workitem", r.WorkItemID, "alert", a.SourceID, "to", to)
			}
		}
		return nil
	}
}
