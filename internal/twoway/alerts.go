package twoway

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// FollowingSink stores pulled alerts and makes each one's work item follow
// the alert when it was settled at the source: dismissed there → the item
// is Removed; resolved there → it goes to closedState. The Defender
// connector's poller submits through it. Only an alert's own item
// follows it: an alert tracked on its incident's item moves that item
// through the incident (the reconciler closes the incident, and the
// Sentinel poller follows it). Echoes end by themselves: when vigil
// resolved the alert, its item is already closed.
//
// grace holds back each new alert's own item while the incident that
// contains it may still arrive (see HeldAlerts).
func FollowingSink(in Ingester, items Follower, actor, origin, closedState string, grace time.Duration, log *slog.Logger) func(context.Context, []alert.Alert) error {
	return func(ctx context.Context, as []alert.Alert) error {
		for i := range as {
			as[i].Grace = grace
		}
		results, err := in.Submit(ctx, actor, as)
		if err != nil {
			return err
		}
		for i, r := range results {
			if i >= len(as) || r.WorkItemID == 0 || r.Outcome != store.OutcomeUpdated || r.ViaIncident || items == nil {
				continue
			}
			a := as[i]
			if !r.PreviousStatus.Open() {
				continue // settled before this read: nothing new to follow
			}
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

// HeldStore releases held alerts.
type HeldStore interface {
	ReleaseHeldAlerts(ctx context.Context, proc *workitem.Process, actor string) (int, error)
}

// HeldAlerts is the module that gives a Defender for Cloud alert its own
// Problem item when no Sentinel incident claimed it within the grace
// period: one finding, one work item, and no finding without one.
type HeldAlerts struct {
	store HeldStore
	proc  *workitem.Process
	log   *slog.Logger
}

// NewHeldAlerts returns the module.
func NewHeldAlerts(st HeldStore, proc *workitem.Process, log *slog.Logger) *HeldAlerts {
	return &HeldAlerts{store: st, proc: proc, log: log.With("component", "held-alerts")}
}

// Name identifies the module.
func (h *HeldAlerts) Name() string { return "held-alerts" }

// Kind says what the module is, for the health page.
func (h *HeldAlerts) Kind() string { return "sweeper" }

// UpdateAll releases every held alert whose grace has ended.
func (h *HeldAlerts) UpdateAll(ctx context.Context) error {
	for {
		n, err := h.store.ReleaseHeldAlerts(ctx, h.proc, "sync")
		if err != nil {
			return err
		}
		if n > 0 {
			h.log.Info("alerts no incident claimed got their own items", "count", n)
		}
		if n < 500 {
			return nil
		}
	}
}
