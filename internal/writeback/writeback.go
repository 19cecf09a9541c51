// Package writeback decides which writes to external systems a work-item
// transition implies:
//   - the Defender for Cloud alerts the item tracks are resolved when it
//     closes, dismissed when it is removed, set in progress when work starts;
//   - the Sentinel incidents it tracks are closed with the classification
//     the transition's reason picks (see Closures), or set Active;
//   - the Graph alerts it tracks are resolved, with classification and
//     determination, or set in progress;
//   - extra planners (mirrors to Azure Boards, Freshdesk, ServiceNow) add
//     their own writes.
//
// The writes are queued in the outbox in the same transaction as the
// transition (see workitem.Service.Transition).
package writeback

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/connector/graph"
	"github.com/vigil-soc/vigil/internal/connector/sentinel"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// Store reads what an item tracks.
type Store interface {
	GetAlert(ctx context.Context, id int64) (alert.Alert, error)
	ItemIncidents(ctx context.Context, itemID int64) ([]alert.Incident, error)
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
	store  Store
	extra  []workitem.Planner
	owners Owners
	// incidentAPI is where incidents seen through both Sentinel and Graph
	// are written (WithIncidentAPI).
	incidentAPI string
}

// Owners maps a vigil assignee to a Sentinel incident's owner: the Entra
// ID object id of a user who signed in with Entra ID, and the email or
// UPN Sentinel knows them by.
type Owners interface {
	SentinelOwner(ctx context.Context, assignee string) (sentinel.OwnerPayload, error)
}

// WithOwners sets how assignees become Sentinel owners (default: by
// email alone).
func (p *Planner) WithOwners(o Owners) *Planner {
	p.owners = o
	return p
}

// New returns a planner reading what items track from st.
func New(st Store) *Planner { return &Planner{store: st} }

// With adds planners whose messages are queued with this planner's (the
// mirrors to external trackers).
func (p *Planner) With(more ...workitem.Planner) *Planner {
	p.extra = append(p.extra, more...)
	return p
}

// Payload is what a Defender write-back carries besides its target.
type Payload struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason,omitempty"`
}

// Plan returns the messages for moving it from → to. Keys include the
// item's revision, so that the same transition retried is queued once,
// and a later, different transition of the same item is queued again.
func (p *Planner) Plan(ctx context.Context, it workitem.Item, from, to, reason string) ([]outbox.Message, error) {
	var out []outbox.Message
	key := func(target, op, resource string) string {
		return fmt.Sprintf("workitem:%d:rev:%d:%s:%s:%s", it.ID, it.Rev, target, op, resource)
	}
	closing := to == "Closed" || to == "Removed"
	closure := ClosureFor(to, reason)

	for _, id := range it.AlertIDs {
		a, err := p.store.GetAlert(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("plan write-back for alert %d: %w", id, err)
		}
		if !a.Status.Open() {
			// Settled at the source already (dismissed by its owner,
			// resolved by Sentinel's own sync): writing would overwrite
			// that decision, not carry vigil's.
			continue
		}
		switch a.Source {
		case "defender":
			op, ok := defenderOps[to]
			armID := armIDOf(a.Raw)
			if !ok || armID == "" { // not pulled from Defender's API: nothing to write back to
				continue
			}
			payload, _ := json.Marshal(Payload{From: from, To: to, Reason: reason})
			out = append(out, outbox.Message{WorkItemID: it.ID, Target: "defender", Op: op, Resource: armID, Payload: payload,
				IdemKey: key("defender", op, a.SourceID)})
		case "graph":
			var u graph.UpdatePayload
			switch {
			case closing:
				u = graph.UpdatePayload{Status: "resolved", Classification: closure.GraphClassification, Determination: closure.GraphDetermination}
			case to == "Active":
				u = graph.UpdatePayload{Status: "inProgress"}
			default:
				continue
			}
			payload, _ := json.Marshal(u)
			out = append(out, outbox.Message{WorkItemID: it.ID, Target: graph.Target, Op: graph.OpUpdate, Resource: a.SourceID,
				Payload: payload, IdemKey: key(graph.Target, graph.OpUpdate, a.SourceID)})
		}
	}

	incidents, err := p.store.ItemIncidents(ctx, it.ID)
	if err != nil {
		return nil, err
	}
	for _, in := range incidents {
		target, resource := p.incidentTarget(in)
		if target == graph.Target {
			u := graph.IncidentUpdatePayload{}
			switch {
			case closing:
				u = graph.IncidentUpdatePayload{Status: "resolved", Classification: closure.GraphClassification,
					Determination: closure.GraphDetermination,
					Comment:       fmt.Sprintf("Closed by vigil: work item %d moved to %s (%s).", it.ID, to, reasonOr(reason))}
			case to == "Active":
				u.Status = "inProgress"
			default:
				continue
			}
			payload, _ := json.Marshal(u)
			out = append(out, outbox.Message{WorkItemID: it.ID, Target: graph.Target, Op: graph.OpIncidentUpdate, Resource: resource,
				Payload: payload, IdemKey: key(graph.Target, graph.OpIncidentUpdate, "incident:"+resource)})
			continue
		}
		if target != sentinel.Source {
			continue
		}
		m := outbox.Message{WorkItemID: it.ID, Target: sentinel.Source, Resource: in.Ref}
		switch {
		case closing:
			m.Op = sentinel.OpClose
			m.Payload, _ = json.Marshal(sentinel.ClosePayload{Classification: closure.Sentinel,
				ClassificationReason: closure.SentinelReason,
				Comment:              fmt.Sprintf("Closed by vigil: work item %d moved to %s (%s).", it.ID, to, reasonOr(reason))})
		case to == "Active":
			m.Op = sentinel.OpActivate
		default:
			continue
		}
		m.IdemKey = key(sentinel.Source, m.Op, in.SourceID)
		out = append(out, m)
	}

	for _, x := range p.extra {
		more, err := x.Plan(ctx, it, from, to, reason)
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
	}
	return out, nil
}

func reasonOr(r string) string {
	if r == "" {
		return "no reason given"
	}
	return r
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

// linked returns the open Graph alerts and the Sentinel incidents an item tracks.
func (p *Planner) linked(ctx context.Context, it workitem.Item) (graphAlerts []alert.Alert, incidents []alert.Incident, err error) {
	for _, id := range it.AlertIDs {
		a, err := p.store.GetAlert(ctx, id)
		if err != nil {
			return nil, nil, fmt.Errorf("alert %d: %w", id, err)
		}
		if a.Source == graph.Source && a.Status.Open() {
			graphAlerts = append(graphAlerts, a)
		}
	}
	all, err := p.store.ItemIncidents(ctx, it.ID)
	if err != nil {
		return nil, nil, err
	}
	for _, in := range all {
		if t, _ := p.incidentTarget(in); t != "" {
			incidents = append(incidents, in)
		}
	}
	return graphAlerts, incidents, nil
}

// WithIncidentAPI names the API that incidents seen through both Sentinel
// and Graph are written to: "sentinel" (default) or "graph".
func (p *Planner) WithIncidentAPI(api string) *Planner {
	p.incidentAPI = api
	return p
}

// incidentTarget is where writes for an incident go, and the resource they
// name there: Graph's incident id or Sentinel's ARM id. An incident of a
// workspace in the Defender portal (link key "xdr:<id>") goes to the API
// the configuration names; otherwise to the one that showed it, the only
// one that knows it. "" when no configured connector can write it.
func (p *Planner) incidentTarget(in alert.Incident) (target, resource string) {
	if xdr, ok := strings.CutPrefix(in.LinkKey, "xdr:"); ok && xdr != "" && p.incidentAPI == graph.Target {
		return graph.Target, xdr
	}
	switch {
	case in.Source == sentinel.Source && in.Ref != "":
		return sentinel.Source, in.Ref
	case in.Source == graph.IncidentSource && in.SourceID != "":
		return graph.Target, in.SourceID
	}
	return "", ""
}

// PlanComment mirrors a comment to the Sentinel incidents and Graph alerts
// the item tracks, and to the trackers, as "author: text".
func (p *Planner) PlanComment(ctx context.Context, it workitem.Item, c workitem.Comment) ([]outbox.Message, error) {
	alerts, incidents, err := p.linked(ctx, it)
	if err != nil {
		return nil, err
	}
	text := fmt.Sprintf("%s (in vigil): %s", c.Author, c.Body)
	key := func(target, resource string) string {
		return fmt.Sprintf("workitem:%d:comment:{comment}:%s:%s", it.ID, target, resource)
	}
	var out []outbox.Message
	for _, in := range incidents {
		if t, res := p.incidentTarget(in); t == graph.Target {
			b, _ := json.Marshal(graph.CommentPayload{Message: text})
			out = append(out, outbox.Message{WorkItemID: it.ID, Target: graph.Target, Op: graph.OpIncidentComment, Resource: res,
				Payload: b, IdemKey: key(graph.Target, "incident:"+res)})
			continue
		}
		b, _ := json.Marshal(sentinel.CommentPayload{Message: text})
		out = append(out, outbox.Message{WorkItemID: it.ID, Target: sentinel.Source, Op: sentinel.OpComment, Resource: in.Ref,
			Payload: b, IdemKey: key(sentinel.Source, in.SourceID)})
	}
	for _, a := range alerts {
		b, _ := json.Marshal(graph.CommentPayload{Message: text})
		out = append(out, outbox.Message{WorkItemID: it.ID, Target: graph.Target, Op: graph.OpComment, Resource: a.SourceID,
			Payload: b, IdemKey: key(graph.Target, a.SourceID)})
	}
	for _, x := range p.extra {
		if cp, ok := x.(workitem.ChangePlanner); ok {
			more, err := cp.PlanComment(ctx, it, c)
			if err != nil {
				return nil, err
			}
			out = append(out, more...)
		}
	}
	return out, nil
}

// PlanAssign makes the assignee the owner of the Sentinel incidents and
// the assignee of the Graph alerts the item tracks.
func (p *Planner) PlanAssign(ctx context.Context, it workitem.Item, from, to string) ([]outbox.Message, error) {
	alerts, incidents, err := p.linked(ctx, it)
	if err != nil {
		return nil, err
	}
	key := func(target, resource string) string {
		return fmt.Sprintf("workitem:%d:rev:%d:assign:%s:%s", it.ID, it.Rev, target, resource)
	}
	var out []outbox.Message
	owner := sentinel.OwnerPayload{Email: to}
	if p.owners != nil && to != "" {
		if owner, err = p.owners.SentinelOwner(ctx, to); err != nil {
			return nil, fmt.Errorf("sentinel owner of %s: %w", to, err)
		}
	}
	for _, in := range incidents {
		if t, res := p.incidentTarget(in); t == graph.Target {
			b, _ := json.Marshal(graph.IncidentUpdatePayload{AssignedTo: to, Unassign: to == ""})
			out = append(out, outbox.Message{WorkItemID: it.ID, Target: graph.Target, Op: graph.OpIncidentUpdate, Resource: res,
				Payload: b, IdemKey: key(graph.Target, "incident:"+res)})
			continue
		}
		b, _ := json.Marshal(owner)
		out = append(out, outbox.Message{WorkItemID: it.ID, Target: sentinel.Source, Op: sentinel.OpOwner, Resource: in.Ref,
			Payload: b, IdemKey: key(sentinel.Source, in.SourceID)})
	}
	for _, a := range alerts {
		b, _ := json.Marshal(graph.UpdatePayload{AssignedTo: to})
		out = append(out, outbox.Message{WorkItemID: it.ID, Target: graph.Target, Op: graph.OpUpdate, Resource: a.SourceID,
			Payload: b, IdemKey: key(graph.Target, a.SourceID)})
	}
	return out, nil
}

// PlanFields writes a new severity or new tags to the incidents the item
// tracks, through the API that owns each: Sentinel takes both (severity,
// and the tags as the incident's user labels); Graph takes the tags as
// customTags, and not the severity, which its incident update does not
// accept.
func (p *Planner) PlanFields(ctx context.Context, it workitem.Item, ch workitem.FieldChange) ([]outbox.Message, error) {
	_, incidents, err := p.linked(ctx, it)
	if err != nil {
		return nil, err
	}
	key := func(target, resource string) string {
		return fmt.Sprintf("workitem:%d:rev:%d:fields:%s:%s", it.ID, it.Rev, target, resource)
	}
	var out []outbox.Message
	for _, in := range incidents {
		t, res := p.incidentTarget(in)
		switch t {
		case graph.Target:
			if ch.Tags == nil {
				continue
			}
			b, _ := json.Marshal(graph.IncidentUpdatePayload{CustomTags: ch.Tags})
			out = append(out, outbox.Message{WorkItemID: it.ID, Target: graph.Target, Op: graph.OpIncidentUpdate, Resource: res,
				Payload: b, IdemKey: key(graph.Target, "incident:"+res)})
		case sentinel.Source:
			f := sentinel.FieldsPayload{Labels: ch.Tags}
			if ch.Severity != nil {
				f.Severity = sentinelSeverity(*ch.Severity)
			}
			b, _ := json.Marshal(f)
			out = append(out, outbox.Message{WorkItemID: it.ID, Target: sentinel.Source, Op: sentinel.OpFields, Resource: res,
				Payload: b, IdemKey: key(sentinel.Source, in.SourceID)})
		}
	}
	return out, nil
}

// sentinelSeverity spells a vigil severity as Sentinel does; Sentinel has
// no critical.
func sentinelSeverity(s alert.Severity) string {
	switch s {
	case alert.SeverityCritical, alert.SeverityHigh:
		return "High"
	case alert.SeverityLow:
		return "Low"
	case alert.SeverityInformational:
		return "Informational"
	}
	return "Medium"
}
