package twoway

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/connector/defender"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// GovernanceStore reads the alerts an item tracks (*store.DB).
type GovernanceStore interface {
	GetAlert(ctx context.Context, id int64) (alert.Alert, error)
}

// GovernanceOptions configures the governance write-back.
type GovernanceOptions struct {
	// DefaultDue is how long after the assignment the remediation is due
	// when the item has no due date (default 30 days): Defender for
	// Cloud requires a due date on every assignment.
	DefaultDue time.Duration
	// GracePeriod marks the assignments as in their grace period, which
	// keeps an overdue recommendation out of the secure score.
	GracePeriod bool
	// Notify lets Defender for Cloud e-mail the owner and their manager.
	Notify bool
	Clock  clock.Clock
}

// GovernancePlanner wraps the write-back planner: besides next's writes,
// an item tracking Defender for Cloud recommendations gets, when assigned
// or when its due date changes, each open assessment's governance
// assignment (owner: the assignee, remediationDueDate: the due date); an
// item that loses its assignee has them deleted. Install it with
// workitem.Service.WithPlanner in place of next.
type GovernancePlanner struct {
	next workitem.Planner
	st   GovernanceStore
	opt  GovernanceOptions
}

// NewGovernancePlanner returns the planner.
func NewGovernancePlanner(next workitem.Planner, st GovernanceStore, o GovernanceOptions) *GovernancePlanner {
	if o.DefaultDue <= 0 {
		o.DefaultDue = 30 * 24 * time.Hour
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	return &GovernancePlanner{next: next, st: st, opt: o}
}

// Plan is next's.
func (g *GovernancePlanner) Plan(ctx context.Context, it workitem.Item, from, to, reason string) ([]outbox.Message, error) {
	if g.next == nil {
		return nil, nil
	}
	return g.next.Plan(ctx, it, from, to, reason)
}

// PlanComment is next's.
func (g *GovernancePlanner) PlanComment(ctx context.Context, it workitem.Item, c workitem.Comment) ([]outbox.Message, error) {
	if cp, ok := g.next.(workitem.ChangePlanner); ok {
		return cp.PlanComment(ctx, it, c)
	}
	return nil, nil
}

// PlanFields is next's.
func (g *GovernancePlanner) PlanFields(ctx context.Context, it workitem.Item, ch workitem.FieldChange) ([]outbox.Message, error) {
	if fp, ok := g.next.(workitem.FieldPlanner); ok {
		return fp.PlanFields(ctx, it, ch)
	}
	return nil, nil
}

// PlanAssign is next's, and the governance assignments for the new
// assignee.
func (g *GovernancePlanner) PlanAssign(ctx context.Context, it workitem.Item, from, to string) ([]outbox.Message, error) {
	var out []outbox.Message
	if cp, ok := g.next.(workitem.ChangePlanner); ok {
		var err error
		if out, err = cp.PlanAssign(ctx, it, from, to); err != nil {
			return nil, err
		}
	}
	gov, err := g.governance(ctx, it, to, it.DueAt)
	if err != nil {
		return nil, err
	}
	return append(out, gov...), nil
}

// PlanDue puts the governance assignments again with the new due date
// (nothing while the item has no assignee).
func (g *GovernancePlanner) PlanDue(ctx context.Context, it workitem.Item, from, to *time.Time) ([]outbox.Message, error) {
	var out []outbox.Message
	if dp, ok := g.next.(workitem.DuePlanner); ok {
		var err error
		if out, err = dp.PlanDue(ctx, it, from, to); err != nil {
			return nil, err
		}
	}
	if it.Assignee == "" {
		return out, nil
	}
	gov, err := g.governance(ctx, it, it.Assignee, to)
	if err != nil {
		return nil, err
	}
	return append(out, gov...), nil
}

// GovernanceAssignmentKey is the governance assignment key of an item:
// a GUID derived from its id, so that every write for the item, and a
// resend of one, addresses the same assignment.
func GovernanceAssignmentKey(itemID int64) string {
	h := sha256.Sum256(fmt.Appendf(nil, "vigil-workitem:%d", itemID))
	h[6] = (h[6] & 0x0f) | 0x50
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// governance plans one write per open recommendation alert of the item:
// a put for an owner, a delete for none.
func (g *GovernancePlanner) governance(ctx context.Context, it workitem.Item, owner string, due *time.Time) ([]outbox.Message, error) {
	var out []outbox.Message
	key := GovernanceAssignmentKey(it.ID)
	for _, id := range it.AlertIDs {
		a, err := g.st.GetAlert(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("plan governance for alert %d: %w", id, err)
		}
		if a.Source != defender.RecommendationSource || !a.Status.Open() {
			continue // healthy again: nothing left to own
		}
		var as defender.Assessment
		if json.Unmarshal(a.Raw, &as) != nil || as.ID == "" {
			continue // not read from Defender for Cloud: nowhere to write
		}
		p := defender.GovernancePayload{AssignmentKey: key, Owner: owner, IsGracePeriod: g.opt.GracePeriod, Notify: g.opt.Notify}
		op := defender.OpGovernanceUnassign
		if owner != "" {
			op = defender.OpGovernanceAssign
			p.RemediationDueDate = g.opt.Clock.Now().UTC().Add(g.opt.DefaultDue).Truncate(time.Second)
			if due != nil {
				p.RemediationDueDate = due.UTC()
			}
		}
		b, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		out = append(out, outbox.Message{WorkItemID: it.ID, Target: defender.Source, Op: op, Resource: as.ID, Payload: b,
			IdemKey: fmt.Sprintf("workitem:%d:rev:%d:governance:%s", it.ID, it.Rev, a.SourceID)})
	}
	return out, nil
}
