package paging

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/validation"
)

// Kinds of on-call definitions, as stored.
const (
	KindSchedule = "schedule"
	KindPolicy   = "policy"
	KindService  = "service"
	KindTeam     = "team"
)

// Kinds lists the definition kinds the API manages.
var Kinds = []string{KindSchedule, KindPolicy, KindService, KindTeam, KindHeartbeat}

// Target types of an escalation step.
const (
	TargetUser     = "user"
	TargetSchedule = "schedule"
	TargetTeam     = "team"
	// TargetRotation is one layer of a schedule, named "schedule/layer":
	// whoever that rotation has on call, ignoring the other layers and
	// the overrides.
	TargetRotation = "rotation"
)

// Policy is an escalation policy: steps notified in turn, each after the
// previous step's delay, the whole repeated Repeat more times while
// nobody acknowledges.
type Policy struct {
	Name        string `json:"name" yaml:"name"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	Repeat      int    `json:"repeat" yaml:"repeat"`
	Steps       []Step `json:"steps" yaml:"steps"`
}

// Step notifies its targets, then waits DelayMinutes before the next.
type Step struct {
	DelayMinutes int      `json:"delay_minutes" yaml:"delay_minutes"`
	Targets      []Target `json:"targets" yaml:"targets"`
}

// Target is who a step notifies: a user (by email), whoever is on call
// on a schedule or on one of its rotations, or every member of a team.
type Target struct {
	Type string `json:"type" yaml:"type"`
	Name string `json:"name" yaml:"name"`
}

// MaxRepeat bounds a policy's repeats: a page nobody answers must not
// notify forever.
const MaxRepeat = 20

// Normalize checks a policy.
func (p *Policy) Normalize() error {
	p.Name = strings.TrimSpace(p.Name)
	if err := checkName("name", p.Name); err != nil {
		return err
	}
	if p.Repeat < 0 || p.Repeat > MaxRepeat {
		return validation.NewFieldError("repeat", "must be between 0 and %d", MaxRepeat)
	}
	if len(p.Steps) == 0 {
		return validation.NewFieldError("steps", "at least one step is required")
	}
	for i := range p.Steps {
		s := &p.Steps[i]
		if s.DelayMinutes < 1 || s.DelayMinutes > 24*60 {
			return validation.NewFieldError(fmt.Sprintf("steps[%d].delay_minutes", i), "must be between 1 and 1440")
		}
		if len(s.Targets) == 0 {
			return validation.NewFieldError(fmt.Sprintf("steps[%d].targets", i), "at least one target is required")
		}
		for j := range s.Targets {
			t := &s.Targets[j]
			t.Type, t.Name = strings.ToLower(strings.TrimSpace(t.Type)), strings.TrimSpace(t.Name)
			field := fmt.Sprintf("steps[%d].targets[%d]", i, j)
			if !slices.Contains([]string{TargetUser, TargetSchedule, TargetRotation, TargetTeam}, t.Type) {
				return validation.NewFieldError(field+".type", "must be user, schedule, rotation or team, not %q", t.Type)
			}
			if sch, layer, ok := strings.Cut(t.Name, "/"); t.Type == TargetRotation && (!ok || sch == "" || layer == "") {
				return validation.NewFieldError(field+".name", "a rotation is named schedule/layer, not %q", t.Name)
			}
			if t.Name == "" {
				return validation.NewFieldError(field+".name", "is required")
			}
			if t.Type == TargetUser {
				t.Name = strings.ToLower(t.Name)
			}
		}
	}
	return nil
}

// Team is a named group of users (by email).
type Team struct {
	Name        string   `json:"name" yaml:"name"`
	Description string   `json:"description,omitempty" yaml:"description,omitempty"`
	Members     []string `json:"members" yaml:"members"`
}

// Normalize checks a team.
func (t *Team) Normalize() error {
	t.Name = strings.TrimSpace(t.Name)
	if err := checkName("name", t.Name); err != nil {
		return err
	}
	for i, m := range t.Members {
		m = strings.ToLower(strings.TrimSpace(m))
		if !strings.Contains(m, "@") {
			return validation.NewFieldError(fmt.Sprintf("members[%d]", i), "must be a user's email address")
		}
		t.Members[i] = m
	}
	return nil
}

// Urgency of a page, as PagerDuty's: high pages at once, day and night;
// low waits for the service's support hours.
const (
	UrgencyHigh = "high"
	UrgencyLow  = "low"
)

// Service owns an escalation policy; alerts reach it by a routing
// condition (CEL over the automation vocabulary), by a rule's page
// action, or by the API.
type Service struct {
	Name        string `json:"name" yaml:"name"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	Policy      string `json:"policy" yaml:"policy"`
	// Condition routes new work items to this service (empty: only a
	// rule's page action or the API page it).
	Condition string `json:"condition,omitempty" yaml:"condition,omitempty"`
	// Urgency is "high", "low", or "severity" (the default): high for
	// items at or above HighFrom, low below.
	Urgency  string `json:"urgency,omitempty" yaml:"urgency,omitempty"`
	HighFrom string `json:"high_from,omitempty" yaml:"high_from,omitempty"`
	// SupportHours, when set, is when low-urgency pages notify.
	SupportHours *SupportHours `json:"support_hours,omitempty" yaml:"support_hours,omitempty"`
	// Maintenance windows: no pages; the alerts and items are recorded.
	Maintenance []Window `json:"maintenance,omitempty" yaml:"maintenance,omitempty"`
	// GroupWindowMinutes joins an item whose GroupBy labels match an open
	// page's, opened less than this long ago, to that page instead of
	// opening another (Alertmanager's group_by); 0 disables grouping.
	GroupBy            []string `json:"group_by,omitempty" yaml:"group_by,omitempty"`
	GroupWindowMinutes int      `json:"group_window_minutes,omitempty" yaml:"group_window_minutes,omitempty"`
}

// SupportHours are local working hours on some days.
type SupportHours struct {
	TimeZone string   `json:"time_zone" yaml:"time_zone"`
	Days     []string `json:"days" yaml:"days"` // mon..sun
	Start    string   `json:"start" yaml:"start"`
	End      string   `json:"end" yaml:"end"`
	loc      *time.Location
	days     [7]bool
	from, to int // minutes after midnight
}

// Window is a maintenance window.
type Window struct {
	Start  time.Time `json:"start" yaml:"start"`
	End    time.Time `json:"end" yaml:"end"`
	Reason string    `json:"reason,omitempty" yaml:"reason,omitempty"`
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// Normalize checks a service; the policy's existence is the caller's.
func (s *Service) Normalize() error {
	s.Name = strings.TrimSpace(s.Name)
	if err := checkName("name", s.Name); err != nil {
		return err
	}
	if strings.TrimSpace(s.Policy) == "" {
		return validation.NewFieldError("policy", "is required")
	}
	if s.Condition != "" {
		if _, err := automation.Compile(s.Condition); err != nil {
			return err
		}
	}
	switch s.Urgency {
	case "":
		s.Urgency = "severity"
	case UrgencyHigh, UrgencyLow, "severity":
	default:
		return validation.NewFieldError("urgency", "must be high, low or severity, not %q", s.Urgency)
	}
	if s.HighFrom == "" {
		s.HighFrom = string(alert.SeverityHigh)
	}
	if alert.Severity(s.HighFrom).Rank() < 0 {
		return validation.NewFieldError("high_from", "must be a severity (informational, low, medium, high, critical)")
	}
	if h := s.SupportHours; h != nil {
		if err := h.normalize(); err != nil {
			return err
		}
	}
	for i, w := range s.Maintenance {
		if !w.End.After(w.Start) {
			return validation.NewFieldError(fmt.Sprintf("maintenance[%d].end", i), "must be after start")
		}
	}
	if s.GroupWindowMinutes < 0 || s.GroupWindowMinutes > 24*60 {
		return validation.NewFieldError("group_window_minutes", "must be between 0 and 1440")
	}
	return nil
}

func (h *SupportHours) normalize() error {
	loc, err := time.LoadLocation(h.TimeZone)
	if err != nil || h.TimeZone == "" {
		return validation.NewFieldError("support_hours.time_zone", "must be an IANA time zone such as Europe/Helsinki")
	}
	h.loc = loc
	if len(h.Days) == 0 {
		h.Days = []string{"mon", "tue", "wed", "thu", "fri"}
	}
	h.days = [7]bool{}
	for i, d := range h.Days {
		wd, ok := weekdays[strings.ToLower(d)[:min(3, len(d))]]
		if !ok {
			return validation.NewFieldError(fmt.Sprintf("support_hours.days[%d]", i), "must be a weekday (mon, tue, ...)")
		}
		h.days[wd] = true
	}
	var e1, e2 error
	h.from, e1 = clockMinutes(h.Start)
	h.to, e2 = clockMinutes(h.End)
	if e1 != nil {
		return validation.NewFieldError("support_hours.start", "must be a time such as 09:00")
	}
	if e2 != nil || h.to <= h.from {
		return validation.NewFieldError("support_hours.end", "must be a time after start, such as 17:00")
	}
	return nil
}

func clockMinutes(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, err
	}
	return t.Hour()*60 + t.Minute(), nil
}

// In reports whether t is within support hours, and otherwise when they
// next begin (local wall time, so a DST change moves nothing).
func (h *SupportHours) In(t time.Time) (bool, time.Time) {
	l := t.In(h.loc)
	for d := range 8 {
		day := time.Date(l.Year(), l.Month(), l.Day()+d, 0, 0, 0, 0, h.loc)
		if !h.days[day.Weekday()] {
			continue
		}
		from := time.Date(day.Year(), day.Month(), day.Day(), h.from/60, h.from%60, 0, 0, h.loc)
		to := time.Date(day.Year(), day.Month(), day.Day(), h.to/60, h.to%60, 0, 0, h.loc)
		if d == 0 && !t.Before(from) && t.Before(to) {
			return true, t
		}
		if from.After(t) {
			return false, from
		}
	}
	return false, t.Add(24 * time.Hour) // no day at all: cannot happen after normalize
}

// UrgencyFor is the urgency of a page for an item of severity sev.
func (s *Service) UrgencyFor(sev alert.Severity) string {
	switch s.Urgency {
	case UrgencyHigh, UrgencyLow:
		return s.Urgency
	}
	if sev.Rank() >= alert.Severity(s.HighFrom).Rank() {
		return UrgencyHigh
	}
	return UrgencyLow
}

// InMaintenance returns the maintenance window t falls in, if any.
func (s *Service) InMaintenance(t time.Time) (Window, bool) {
	for _, w := range s.Maintenance {
		if !t.Before(w.Start) && t.Before(w.End) {
			return w, true
		}
	}
	return Window{}, false
}

func checkName(field, name string) error {
	switch {
	case name == "":
		return validation.NewFieldError(field, "is required")
	case len(name) > 128:
		return validation.NewFieldError(field, "must be at most 128 characters")
	case strings.ContainsAny(name, "/?#"):
		return validation.NewFieldError(field, "must not contain /, ? or #")
	}
	return nil
}
