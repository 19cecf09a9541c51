package paging

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/validation"
)

// Self-monitoring: a pager that goes quiet because its inputs stopped is
// the worst failure. Two monitors raise vigil's own alerts (source
// "vigil") and page a service when they fire:
//   - a heartbeat monitor expects its sender to post every few minutes,
//     and fires when it goes silent;
//   - a connector that has been failing for longer than the configured
//     time (a Sentinel poller whose credentials expired, say) fires.
// Each fires once per silence or outage (its alert's firing), and is
// resolved, with its page, when the beats or the connector come back.

// KindHeartbeat is the heartbeat monitors' definition kind.
const KindHeartbeat = "heartbeat"

// SelfSource is the source of vigil's own alerts.
const SelfSource = "vigil"

// Heartbeat is a heartbeat monitor.
type Heartbeat struct {
	Name            string `json:"name" yaml:"name"`
	Description     string `json:"description,omitempty" yaml:"description,omitempty"`
	IntervalMinutes int    `json:"interval_minutes" yaml:"interval_minutes"`
	// Service is paged when the monitor goes silent.
	Service string `json:"service" yaml:"service"`
}

// Normalize checks a heartbeat monitor.
func (h *Heartbeat) Normalize() error {
	h.Name = strings.TrimSpace(h.Name)
	if err := checkName("name", h.Name); err != nil {
		return err
	}
	if h.IntervalMinutes < 1 || h.IntervalMinutes > 7*24*60 {
		return validation.NewFieldError("interval_minutes", "must be between 1 and 10080")
	}
	if strings.TrimSpace(h.Service) == "" {
		return validation.NewFieldError("service", "is required")
	}
	return nil
}

// Health is one connector's health, as the monitors read it.
type Health struct {
	Name string
	// FailingSince is when it last succeeded before its current run of
	// failures; zero when it is healthy.
	FailingSince time.Time
	LastError    string
}

// Beat records a heartbeat (the sender's POST).
func (s *Pager) Beat(ctx context.Context, actor auth.Actor, name string) error {
	if err := actor.Check(auth.ActionIngest); err != nil {
		return err
	}
	if _, err := s.st.GetOnCallDef(ctx, KindHeartbeat, name); err != nil {
		return err
	}
	if err := s.st.Beat(ctx, name); err != nil {
		return err
	}
	// A beat after a silence ends it at once.
	return s.selfAlert(ctx, "heartbeat:"+name, "", "", "", false)
}

// checkMonitors runs both monitors; the escalation module calls it.
func (s *Pager) checkMonitors(ctx context.Context) error {
	now := s.o.Clock.Now()
	defs, err := s.st.ListOnCallDefs(ctx, KindHeartbeat)
	if err != nil {
		return err
	}
	var beats map[string]time.Time
	if len(defs) > 0 {
		if beats, err = s.st.Beats(ctx); err != nil {
			return err
		}
	}
	var errs []string
	for _, d := range defs {
		var h Heartbeat
		if json.Unmarshal(d.Definition, &h) != nil {
			continue
		}
		last, ok := beats[h.Name]
		if !ok {
			last = d.CreatedAt // never beat: silent since it was made
		}
		silent := now.Sub(last) > time.Duration(h.IntervalMinutes)*time.Minute
		title := fmt.Sprintf("Heartbeat %s is silent", h.Name)
		desc := fmt.Sprintf("No beat since %s (expected every %d min).", last.UTC().Format(time.RFC3339), h.IntervalMinutes)
		if err := s.selfAlert(ctx, "heartbeat:"+h.Name, title, desc, h.Service, silent); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if s.o.Health != nil && s.o.SelfService != "" && s.o.ConnectorFailure > 0 {
		for _, hl := range s.o.Health() {
			failing := !hl.FailingSince.IsZero() && now.Sub(hl.FailingSince) >= s.o.ConnectorFailure
			title := fmt.Sprintf("Connector %s has been failing for %s", hl.Name, s.o.ConnectorFailure)
			desc := fmt.Sprintf("Failing since %s: %s", hl.FailingSince.UTC().Format(time.RFC3339), hl.LastError)
			if err := s.selfAlert(ctx, "connector:"+hl.Name, title, desc, s.o.SelfService, failing); err != nil {
				errs = append(errs, err.Error())
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("monitors: %s", strings.Join(errs, "; "))
	}
	return nil
}

// selfAlert raises (firing) or resolves vigil's own alert id, and pages
// service for a new firing. Re-raising a firing alert changes nothing,
// so a silence pages once.
func (s *Pager) selfAlert(ctx context.Context, id, title, desc, service string, firing bool) error {
	proc := s.items.Process()
	if !firing {
		a := alert.Alert{Source: SelfSource, SourceID: id, Title: id, Status: alert.StatusResolved}
		r, err := s.st.SelfAlert(ctx, proc, a)
		if err != nil || r.WorkItemID == 0 {
			return err
		}
		if p, open, err := s.st.OpenPageForItem(ctx, r.WorkItemID); err == nil && open {
			_, err = s.resolve(ctx, p.ID, Actor, "resolved: "+id+" is back")
			return err
		}
		return nil
	}
	a := alert.Alert{Source: SelfSource, SourceID: id, Title: title, Description: desc, Severity: alert.SeverityHigh, Status: alert.StatusNew}
	r, err := s.st.SelfAlert(ctx, proc, a)
	if err != nil {
		return err
	}
	if r.WorkItemID == 0 {
		return nil // nothing written: still firing, already paged
	}
	_, _, err = s.Trigger(ctx, auth.System, r.WorkItemID, service, UrgencyHigh, "")
	return err
}
