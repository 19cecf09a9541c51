package twoway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/connector/graph"
	"github.com/vigil-soc/vigil/internal/connector/sentinel"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/reconcile"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// ReconcileStore is what the reconciler reads and writes.
type ReconcileStore interface {
	OpenIncidents(ctx context.Context, source string) ([]store.OpenIncident, error)
	Enqueue(ctx context.Context, msgs []outbox.Message, entries []workitem.Entry) (int, error)
}

// Reconciler makes open Sentinel incidents of Defender for Cloud origin
// follow their alerts (see package reconcile for the rules). It reads
// only vigil's store, which the pollers keep current, so a pass costs no
// API request; its writes go through the outbox. It needs no work items:
// a team that only wants incidents to follow Defender runs the pollers
// and the reconciler alone.
type Reconciler struct {
	store ReconcileStore
	log   *slog.Logger
}

// NewReconciler returns the reconciler module.
func NewReconciler(st ReconcileStore, log *slog.Logger) *Reconciler {
	return &Reconciler{store: st, log: log.With("component", "reconciler")}
}

// Name identifies the module.
func (r *Reconciler) Name() string { return "reconciler" }

// Kind says what the module is, for the health page.
func (r *Reconciler) Kind() string { return "reconciler" }

// UpdateAll runs one pass. A decision is queued once per incident version
// (its idempotency key names the version), so repeated passes before the
// write lands add nothing.
func (r *Reconciler) UpdateAll(ctx context.Context) error {
	// Incidents kept from Sentinel's view and from Graph's (a workspace
	// in the Defender portal, sync.incident_api: graph) alike.
	open, err := r.store.OpenIncidents(ctx, sentinel.Source)
	if err != nil {
		return err
	}
	fromGraph, err := r.store.OpenIncidents(ctx, graph.IncidentSource)
	if err != nil {
		return err
	}
	open = append(open, fromGraph...)
	byName := make(map[string]*store.OpenIncident, len(open))
	inputs := make([]reconcile.Incident, 0, len(open))
	for i := range open {
		in := &open[i]
		if !defenderOrigin(in.Members) || in.Ref == "" {
			continue
		}
		byName[in.Source+":"+in.SourceID] = in
		inputs = append(inputs, input(in))
	}
	decisions := reconcile.Pass(inputs)
	if len(decisions) == 0 {
		return nil
	}
	msgs := make([]outbox.Message, 0, len(decisions))
	entries := make([]workitem.Entry, 0, len(decisions))
	for _, d := range decisions {
		in := byName[d.IncidentID]
		m, e, err := decisionMessage(d, in)
		if err != nil {
			return err
		}
		msgs, entries = append(msgs, m), append(entries, e)
	}
	n, err := r.store.Enqueue(ctx, msgs, entries)
	if err != nil {
		return fmt.Errorf("queue reconciler decisions: %w", err)
	}
	if n > 0 {
		// Routine: counted in the cycle's one summary line.
		r.log.Debug("reconciler queued decisions", "count", n)
		Note(ctx, "reconciler decision queued", "reconciler decisions queued", n)
	}
	return nil
}

// defenderOrigin reports whether every member is a Defender for Cloud
// alert: the incidents the reconciler is for.
func defenderOrigin(ms []alert.Member) bool {
	for _, m := range ms {
		if m.Source != "defender" {
			return false
		}
	}
	return len(ms) > 0
}

// input converts a stored open incident to the reconciler's input.
func input(in *store.OpenIncident) reconcile.Incident {
	status := reconcile.IncidentNew
	if in.Status == alert.StatusInProgress {
		status = reconcile.IncidentActive
	}
	out := reconcile.Incident{ID: in.Source + ":" + in.SourceID, Status: status, Alerts: make([]reconcile.Alert, len(in.Members))}
	for i, m := range in.Members {
		out.Alerts[i] = reconcile.Alert{ID: m.SourceID, Status: m.Status}
	}
	return out
}

// decisionMessage turns a decision into its outbox write and the timeline
// entry that explains it, inputs included.
func decisionMessage(d reconcile.Decision, in *store.OpenIncident) (outbox.Message, workitem.Entry, error) {
	m := outbox.Message{WorkItemID: in.WorkItemID, Target: sentinel.Source, Resource: in.Ref,
		IdemKey: fmt.Sprintf("reconcile:sentinel:%s:v%d:%s", in.SourceID, in.Version, d.Action)}
	var what string
	switch {
	case in.Source == graph.IncidentSource:
		// Graph's view of the incident: the same decision, in Graph's words.
		m.Target, m.Op, m.Resource = graph.Target, graph.OpIncidentUpdate, in.SourceID
		m.IdemKey = fmt.Sprintf("reconcile:graph:%s:v%d:%s", in.SourceID, in.Version, d.Action)
		u := graph.IncidentUpdatePayload{Status: "inProgress"}
		what = fmt.Sprintf("set incident %s in progress in the Defender portal", in.SourceID)
		if d.Action == reconcile.Close {
			u = graph.IncidentUpdatePayload{Status: "resolved", Classification: alert.ClassificationToGraph(d.Classification),
				Determination: graphDetermination(d.ClassificationReason), Comment: d.Comment}
			what = fmt.Sprintf("resolve incident %s in the Defender portal as %s", in.SourceID, u.Classification)
		} else if d.Action != reconcile.Activate {
			return m, workitem.Entry{}, fmt.Errorf("reconciler: unknown action %q", d.Action)
		}
		p, err := json.Marshal(u)
		if err != nil {
			return m, workitem.Entry{}, err
		}
		m.Payload = p
	case d.Action == reconcile.Close:
		m.Op = sentinel.OpClose
		p, err := json.Marshal(sentinel.ClosePayload{Classification: d.Classification,
			ClassificationReason: d.ClassificationReason, Comment: d.Comment})
		if err != nil {
			return m, workitem.Entry{}, err
		}
		m.Payload = p
		what = fmt.Sprintf("close Sentinel incident %s as %s", in.SourceID, d.Classification)
	case d.Action == reconcile.Activate:
		m.Op = sentinel.OpActivate
		what = fmt.Sprintf("set Sentinel incident %s Active", in.SourceID)
	default:
		return m, workitem.Entry{}, fmt.Errorf("reconciler: unknown action %q", d.Action)
	}
	inputs := make(map[string]alert.Status, len(d.Alerts))
	for _, a := range d.Alerts {
		inputs[a.ID] = a.Status
	}
	e := workitem.Entry{Actor: "reconciler", Kind: workitem.KindSync,
		Message: fmt.Sprintf("reconciler: %s, because %s", what, d.Why),
		Data: map[string]any{"incident": in.SourceID, "source": in.Source, "action": d.Action, "classification": d.Classification,
			"incident_status": d.IncidentStatus, "alerts": inputs, "idem_key": m.IdemKey}}
	return m, e, nil
}

// graphDetermination spells a Sentinel classification reason as a Graph
// determination (the reconciler's reasons are Sentinel's).
func graphDetermination(reason string) string {
	switch reason {
	case "SuspiciousActivity":
		return "malware"
	case "SuspiciousButExpected":
		return "securityTesting"
	case "IncorrectAlertLogic", "InaccurateData":
		return "notMalicious"
	}
	return "other"
}
