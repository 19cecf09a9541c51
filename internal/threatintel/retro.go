package threatintel

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/intel"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// Retro-hunt modes: what a match found by a retro-hunt does.
const (
	RetroAnnotate     = "annotate"       // annotate the item where the entity was seen
	RetroOpen         = "open"           // open a new item for the match
	RetroOpenIfClosed = "open_if_closed" // annotate an open item, open one for a closed item
)

// Source is the alert source of the items threat intelligence opens.
const Source = "threat-intel"

// Opener submits alerts through the ingest pipeline, so that an item
// threat intelligence opens gets rules, routing and pages like any.
type Opener interface {
	Submit(ctx context.Context, actor string, alerts []alert.Alert) ([]store.IngestResult, error)
}

// OpenItems makes retro-hunt matches open items (mode RetroOpen or
// RetroOpenIfClosed) through o; RetroAnnotate, the default, opens none.
func (s *Service) OpenItems(o Opener, mode string) {
	s.opener, s.retroMode = o, mode
}

// retroMatch applies a match found by a retro-hunt, as configured.
func (s *Service) retroMatch(ctx context.Context, es store.EntitySighting, m intel.Match) error {
	if s.opener == nil || (s.retroMode != RetroOpen && s.retroMode != RetroOpenIfClosed) {
		return s.annotate(ctx, es, m, true)
	}
	if s.retroMode == RetroOpenIfClosed {
		it, err := s.items.Get(ctx, auth.System, es.WorkItemID)
		if err != nil {
			return err
		}
		if it.ClosedAt == nil {
			return s.annotate(ctx, es, m, true)
		}
	}
	return s.open(ctx, es, m)
}

// open opens an item for a match: an alert of source "threat-intel",
// one per indicator and sighting alert (a later pass finding the same
// match is a re-send of it), with the entity and the indicator. The
// matcher then annotates the new item as it arrives; the old item's
// timeline says where the match went.
func (s *Service) open(ctx context.Context, es store.EntitySighting, m intel.Match) error {
	in := m.Indicator
	sev := alert.SeverityLow
	switch {
	case in.Confidence >= 75:
		sev = alert.SeverityHigh
	case in.Confidence >= 50:
		sev = alert.SeverityMedium
	}
	raw, _ := json.Marshal(map[string]any{"indicator": in, "via": m.Via, "earlier_item": es.WorkItemID, "earlier_alert": es.AlertID})
	a := alert.Alert{
		Source:   Source,
		SourceID: fmt.Sprintf("retro/%s/%s/%d", in.Type, in.Value, es.AlertID),
		Product:  "retro-hunt",
		Title:    fmt.Sprintf("Known indicator %s seen in the last 30 days", es.Entity.Value),
		Description: fmt.Sprintf("A retro-hunt of new threat intelligence found %s %s, seen in item #%d, matching indicator %s %s (%s; feeds %s; confidence %d).",
			es.Entity.Kind, es.Entity.Value, es.WorkItemID, in.Type, in.Value, m.Via, strings.Join(in.Feeds, ", "), in.Confidence),
		Severity: sev,
		Entities: []alert.Entity{es.Entity},
		Raw:      raw,
	}
	if err := a.Normalize(s.clk.Now()); err != nil {
		return fmt.Errorf("retro-hunt alert for %s: %w", es.Entity.Value, err)
	}
	res, err := s.opener.Submit(ctx, Actor, []alert.Alert{a})
	if err != nil {
		return fmt.Errorf("retro-hunt: open an item for %s: %w", es.Entity.Value, err)
	}
	if len(res) == 1 && res[0].WorkItemID != 0 && res[0].WorkItemID != es.WorkItemID && res[0].Outcome == store.OutcomeCreated {
		msg := fmt.Sprintf("threat intelligence: %s %s matches indicator %s %s found by a retro-hunt; opened item #%d for it",
			es.Entity.Kind, es.Entity.Value, in.Type, in.Value, res[0].WorkItemID)
		return s.st.AppendTimeline(ctx, es.WorkItemID, Actor, workitem.KindSync, msg, map[string]any{"opened": res[0].WorkItemID, "indicator": in.Value})
	}
	return nil
}
