// Package writeback decides which writes to external systems a work-item
// transition implies: closing an item resolves the Defender for Cloud
// alerts it tracks, removing it dismisses them, starting work sets them in
// progress. The writes are queued in the outbox in the same transaction as
// the transition (see workitem.Service.Transition).
package writeback

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// Alerts reads the alerts linked to an item.
type Alerts interface {
	GetAlert(ctx context.Context, id int64) (alert.Alert, error)
}

// Defender for Cloud operations, named after its REST actions.
const (
	OpResolve    = "alert.resolve"
	OpDismiss    = "alert.dismiss"
	OpInProgress = "alert.inProgress"
)

// defenderOps maps the state an item moves to onto the Defender for Cloud
// action. States not listed write nothing back.
var defenderOps = map[string]string{
	"Closed":  OpResolve,
	"Removed": OpDismiss,
	"Active":  OpInProgress,
}

// Planner plans write-backs.
type Planner struct {
	alerts Alerts
}

// New returns a planner reading alerts from a.
func New(a Alerts) *Planner { return &Planner{alerts: a} }

// Payload is what a write-back carries besides its target resource.
type Payload struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason,omitempty"`
}

// Plan returns the messages for moving it from → to. Keys include the
// item's revision, so that the same transition retried is queued once,
// and a later, different transition of the same item is queued again.
func (p *Planner) Plan(ctx context.Context, it workitem.Item, from, to, reason string) ([]outbox.Message, error) {
	op, ok := defenderOps[to]
	if !ok {
		return nil, nil
	}
	payload, err := json.Marshal(Payload{From: from, To: to, Reason: reason})
	if err != nil {
		return nil, err
	}
	var out []outbox.Message
	for _, id := range it.AlertIDs {
		a, err := p.alerts.GetAlert(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("plan write-back for alert %d: %w", id, err)
		}
		if a.Source != "defender" {
			continue
		}
		armID := armIDOf(a.Raw)
		if armID == "" {
			continue // not pulled from Defender's API: nothing to write back to
		}
		out = append(out, outbox.Message{
			WorkItemID: it.ID, Target: "defender", Op: op, Resource: armID, Payload: payload,
			IdemKey: fmt.Sprintf("workitem:%d:rev:%d:defender:%s:%s", it.ID, it.Rev, op, a.SourceID),
		})
	}
	return out, nil
}

// armIDOf reads the ARM id a Defender alert's raw payload carries.
func armIDOf(raw json.RawMessage) string {
	var v struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	return v.ID
}
