package amconfig

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/paging"
)

// Options tune an import.
type Options struct {
	// Policy is the escalation policy every imported service names. Empty:
	// each service names a policy called after its receiver, which the
	// admin creates (vigil cannot invent who is on call).
	Policy string
	// Now is the clock: maintenance windows that have already ended are
	// dropped. Nil is time.Now.
	Now func() time.Time
}

// InhibitRule is Alertmanager's inhibition: an alert matching
// SourceMatchers mutes the alerts matching TargetMatchers that have the
// same value (absent = "") for every label in Equal.
type InhibitRule struct {
	SourceMatchers []Matcher `json:"source_matchers" yaml:"source_matchers"`
	TargetMatchers []Matcher `json:"target_matchers" yaml:"target_matchers"`
	Equal          []string  `json:"equal,omitempty" yaml:"equal,omitempty"`
}

// Inhibits reports whether an alert with labels source inhibits one with
// labels target. Like Alertmanager, an alert matching both sides does not
// inhibit itself; that check is the caller's, who knows identities.
func (r InhibitRule) Inhibits(source, target map[string]string) bool {
	if !MatchLabels(r.SourceMatchers, source) || !MatchLabels(r.TargetMatchers, target) {
		return false
	}
	for _, l := range r.Equal {
		if source[l] != target[l] {
			return false
		}
	}
	return true
}

// Finding is one thing the import reports, at its YAML path.
type Finding struct {
	Path string `json:"path" yaml:"path"`
	What string `json:"what" yaml:"what"`
}

// Result is what an alertmanager.yml becomes in vigil.
type Result struct {
	// Services in Alertmanager's depth-first order (children before the
	// parent that catches what they do not match): vigil pages the first
	// service whose condition matches, so this order is the routing.
	Services []paging.Service
	Inhibit  []InhibitRule
	// Unmapped is what vigil does not do as Alertmanager did: the admin
	// must decide. Notes are what was mapped with a change, or needs a
	// step (creating the policies, the contact methods).
	Unmapped []Finding
	Notes    []Finding
	// Policies are the escalation policy names the services refer to, in
	// order of first use; they must exist before the services are applied.
	Policies []string
}

// DefaultGroupInterval and the others are Alertmanager's route defaults.
const (
	DefaultGroupWait      = 30 * time.Second
	DefaultGroupInterval  = 5 * time.Minute
	DefaultRepeatInterval = 4 * time.Hour
)

// Import reads an alertmanager.yml and maps it to vigil. The error is
// Parse's: a file Alertmanager would refuse. Everything else that does
// not map is reported in the Result.
func Import(yamlBytes []byte, opts Options) (Result, error) {
	cfg, err := Parse(yamlBytes)
	if err != nil {
		return Result{}, err
	}
	return cfg.Map(opts), nil
}

// effective is a route's settings after Alertmanager's inheritance:
// receiver, grouping and timers are inherited; time intervals are not.
type effective struct {
	receiver                     string
	groupBy                      []string
	groupByAll                   bool
	wait, interval, repeat       time.Duration
	matchers                     []Matcher
	setWait, setRepeat, setGroup string // the path that set a non-default value
	// exclude are the conditions of the routes Alertmanager would have
	// taken before this one: earlier siblings without continue, along the
	// path. vigil pages every service whose condition matches, so each
	// service's condition leaves them out, and the first match wins as in
	// Alertmanager (and continue: true reaches the later routes too).
	exclude []string
}

// maxExclusive bounds a condition that leaves earlier routes out.
const maxExclusive = 8 << 10

// maxExcluded bounds how many earlier routes a condition leaves out.
const maxExcluded = 200

// catch is the condition under which a route (with everything below it)
// takes an alert that reached its parent: its own matchers.
func catch(r *Route) string { return Conjunction(r.Matchers) }

// exclusive is cond without any of the excluded conditions.
func exclusive(cond string, excl []string) string {
	if len(excl) == 0 {
		return cond
	}
	parts := []string{"(" + cond + ")"}
	if cond == "true" {
		parts = parts[:0]
	}
	for _, x := range excl {
		parts = append(parts, "!("+x+")")
	}
	return strings.Join(parts, " && ")
}

type mapper struct {
	cfg       *Config
	opts      Options
	now       time.Time
	res       Result
	names     map[string]int // receiver → services made for it
	taken     map[string]bool
	intervals map[string]TimeInterval
	used      map[string]bool // receivers some service uses
	seen      map[Finding]bool
}

// Map maps a parsed configuration to vigil.
func (c *Config) Map(opts Options) Result {
	m := &mapper{cfg: c, opts: opts, names: map[string]int{}, taken: map[string]bool{},
		intervals: map[string]TimeInterval{}, used: map[string]bool{}, seen: map[Finding]bool{}}
	m.now = time.Now()
	if opts.Now != nil {
		m.now = opts.Now()
	}
	for _, ti := range c.TimeIntervals {
		m.intervals[ti.Name] = ti
	}
	m.note("route", "vigil pages every service whose condition matches a new work item; each imported condition leaves out the routes Alertmanager would have taken first, so an alert reaches the same destinations as in Alertmanager (continue: true included); the services are listed in Alertmanager's depth-first order")
	m.walk(c.Route, effective{wait: DefaultGroupWait, interval: DefaultGroupInterval, repeat: DefaultRepeatInterval})
	for _, ir := range c.InhibitRules {
		m.res.Inhibit = append(m.res.Inhibit, ir.InhibitRule)
	}
	m.receivers()
	m.rest()
	return m.res
}

// note and unmapped record a finding once: an inherited setting is seen
// by every service below it.
func (m *mapper) note(path, format string, args ...any) {
	if f := (Finding{path, fmt.Sprintf(format, args...)}); !m.seen[f] {
		m.seen[f] = true
		m.res.Notes = append(m.res.Notes, f)
	}
}

func (m *mapper) unmapped(path, format string, args ...any) {
	if f := (Finding{path, "\x00" + fmt.Sprintf(format, args...)}); !m.seen[f] {
		m.seen[f] = true
		f.What = f.What[1:]
		m.res.Unmapped = append(m.res.Unmapped, f)
	}
}

// walk visits a route: its children first, in order, then the route
// itself, which Alertmanager uses when none of its children match.
func (m *mapper) walk(r *Route, parent effective) {
	e := parent
	e.matchers = append(append([]Matcher(nil), parent.matchers...), r.Matchers...)
	if r.Receiver != "" {
		e.receiver = r.Receiver
	}
	if r.GroupBy != nil {
		e.groupBy, e.groupByAll, e.setGroup = r.GroupBy, false, r.Path
	} else if r.GroupByAll {
		e.groupBy, e.groupByAll, e.setGroup = nil, true, r.Path
	}
	if r.GroupWait != nil {
		e.wait, e.setWait = *r.GroupWait, r.Path
	}
	if r.GroupInterval != nil {
		e.interval = *r.GroupInterval
	}
	if r.RepeatInterval != nil {
		e.repeat, e.setRepeat = *r.RepeatInterval, r.Path
	}
	if len(r.Labels) > 0 {
		m.unmapped(r.Path+".labels", "route labels (added to notifications) have no vigil equivalent; use an automation rule to tag items")
	}
	earlier := e.exclude
	var children []string
	for _, c := range r.Routes {
		ce := e
		ce.exclude = earlier[:len(earlier):len(earlier)] // a child's appends copy
		m.walk(c, ce)
		if !c.Continue {
			earlier = append(earlier, catch(c))
		}
		children = append(children, catch(c))
	}
	// The route itself takes what none of its children took.
	own := e
	own.exclude = append(e.exclude[:len(e.exclude):len(e.exclude)], children...)
	m.service(r, own)
}

// service makes the vigil service for an Alertmanager destination.
func (m *mapper) service(r *Route, e effective) {
	name := m.serviceName(e.receiver, r.Path)
	m.used[e.receiver] = true
	policy := m.opts.Policy
	if policy == "" {
		policy = sanitize(e.receiver)
	}
	if !slices.Contains(m.res.Policies, policy) {
		m.res.Policies = append(m.res.Policies, policy)
	}
	how := "the route"
	if len(r.Routes) > 0 {
		how = "the route, when none of its child routes match"
	}
	s := paging.Service{
		Name:        name,
		Description: fmt.Sprintf("Imported from Alertmanager: %s (%s), receiver %q.", r.Path, how, e.receiver),
		Policy:      policy,
	}
	if len(e.exclude) <= maxExcluded {
		s.Condition = exclusive(Conjunction(e.matchers), e.exclude)
	}
	if len(e.exclude) > maxExcluded || len(s.Condition) > maxExclusive {
		// Thousands of sibling routes would make each condition repeat all
		// the earlier ones: keep the route's own matchers and say so.
		s.Condition = Conjunction(e.matchers)
		m.unmapped(r.Path, "too many earlier routes to leave out of service %q's condition; it also pages for alerts an earlier route takes", name)
	}
	if _, err := automation.Compile(s.Condition); err != nil {
		// A very deep tree can exceed CEL's limits; an unrouted service is
		// safe, a wrong one is not.
		m.unmapped(r.Path, "the routing condition of service %q is not valid in vigil (%v); the service is made without a condition, so nothing routes to it", name, err)
		s.Condition = ""
	}
	switch {
	case e.groupByAll:
		m.note(e.setGroup+".group_by", "group_by: ['...'] groups by every label; vigil already keeps alerts with different labels apart, so service %q has no grouping", name)
	case len(e.groupBy) == 0:
		// Alertmanager puts all of a route's alerts in one group; every
		// Alertmanager alert has source "alertmanager", so grouping by
		// source does the same.
		s.GroupBy = []string{"source"}
		m.note(r.Path, "no group_by: Alertmanager groups all of this route's alerts together; service %q groups by source (all are \"alertmanager\")", name)
	default:
		for _, l := range e.groupBy {
			s.GroupBy = append(s.GroupBy, "labels."+l)
		}
	}
	if len(s.GroupBy) > 0 {
		mins := int(math.Ceil(e.interval.Minutes()))
		if mins > 24*60 {
			m.unmapped(r.Path, "group_interval %s is over vigil's longest group window (1440 minutes); service %q uses 1440", e.interval, name)
			mins = 24 * 60
		}
		s.GroupWindowMinutes = max(mins, 1)
		if e.interval%time.Minute != 0 && mins <= 24*60 {
			m.note(r.Path, "group_interval %s is rounded up to %d minute(s) for service %q", e.interval, s.GroupWindowMinutes, name)
		}
	}
	if e.setWait != "" {
		m.note(e.setWait+".group_wait", "group_wait %s: vigil pages at once for the first item of a group", e.wait)
	}
	if e.setRepeat != "" {
		m.note(e.setRepeat+".repeat_interval", "repeat_interval %s: vigil re-notifies by the escalation policies' steps and repeat until someone acknowledges", e.repeat)
	}
	m.active(r, &s)
	m.mute(r, &s)
	m.res.Services = append(m.res.Services, s)
}

// active maps active_time_intervals to support hours with low urgency:
// Alertmanager holds notifications outside the active times, and vigil
// holds low-urgency pages outside support hours.
func (m *mapper) active(r *Route, s *paging.Service) {
	switch len(r.ActiveTimeIntervals) {
	case 0:
		return
	case 1:
	default:
		m.unmapped(r.Path+".active_time_intervals", "%d active time intervals; vigil's support hours are one interval", len(r.ActiveTimeIntervals))
		return
	}
	name := r.ActiveTimeIntervals[0]
	ti := m.intervals[name]
	h, lastMinute, why := ti.supportHours()
	if h == nil {
		m.unmapped(ti.Path, "time interval %q (active on %s) %s", name, r.Path, why)
		return
	}
	s.SupportHours, s.Urgency = h, paging.UrgencyLow
	m.note(r.Path+".active_time_intervals", "service %q has support hours from time interval %q and low urgency, so its pages wait for them as Alertmanager's notifications did", s.Name, name)
	if lastMinute {
		m.note(ti.Path, "time interval %q runs to midnight; vigil's support hours end at 23:59", name)
	}
}

// mute maps mute_time_intervals to maintenance windows when they are
// fixed date ranges; recurring ones are reported.
func (m *mapper) mute(r *Route, s *paging.Service) {
	for _, name := range r.MuteTimeIntervals {
		ti := m.intervals[name]
		if len(ti.Specs) == 0 {
			m.note(ti.Path, "time interval %q is empty: it never mutes", name)
		}
		for _, sp := range ti.Specs {
			start, end, why := sp.window()
			if why != "" {
				m.unmapped(sp.Path, "time interval %q (muting %s) %s; vigil's maintenance windows are fixed periods: add them by hand, or an automation rule", name, r.Path, why)
				continue
			}
			if !end.After(m.now) {
				m.note(sp.Path, "time interval %q (muting %s) ended at %s; dropped", name, r.Path, end.Format(time.RFC3339))
				continue
			}
			s.Maintenance = append(s.Maintenance, paging.Window{Start: start, End: end, Reason: "Alertmanager mute time interval " + name})
		}
	}
}

// serviceName is the receiver's name, suffixed -2, -3... when a receiver
// is reached by several routes, and made valid for vigil.
func (m *mapper) serviceName(receiver, path string) string {
	base := sanitize(receiver)
	if base != receiver {
		m.note(path+".receiver", "receiver %q is not a valid vigil service name; the service is named %q", receiver, base)
	}
	m.names[base]++
	name := base
	for n := max(m.names[base], 2); m.taken[name]; n++ {
		name = fmt.Sprintf("%s-%d", truncate(base, 120), n)
	}
	m.taken[name] = true
	return name
}

// sanitize makes a vigil definition name: no / ? #, at most 128 bytes.
func sanitize(s string) string {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if strings.ContainsRune("/?#", r) {
			return '-'
		}
		return r
	}, s))
	if s == "" {
		s = "receiver"
	}
	return truncate(s, 128)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) { // do not cut a character in two
		s = s[:len(s)-1]
	}
	return s
}

// rest reports the top-level parts vigil has no use for.
func (m *mapper) rest() {
	for _, p := range m.cfg.Unknown {
		m.unmapped(p, "not an Alertmanager field this importer knows; ignored")
	}
	for _, p := range m.cfg.Ignored {
		m.unmapped(p, "Alertmanager's own %s settings; vigil has its own observability", p)
	}
	for i, t := range m.cfg.Templates {
		m.unmapped(fmt.Sprintf("templates[%d]", i), "notification template %q: vigil formats its own notifications", t)
	}
	for _, k := range sortedKeys(m.cfg.Global) {
		switch {
		case strings.HasPrefix(k, "smtp_"):
			m.note("global."+k, "SMTP settings belong in vigil's configuration, paging.smtp (docs/oncall.md)")
		case k == "resolve_timeout":
			m.unmapped("global.resolve_timeout", "vigil resolves an item when Alertmanager says the alert resolved, or by its own rules; there is no resolve timeout")
		default:
			m.unmapped("global."+k, "no vigil equivalent; set the matching channel up in vigil's configuration if you use it")
		}
	}
	for _, ir := range m.cfg.InhibitRules {
		if len(ir.SourceMatchers) == 0 && len(ir.TargetMatchers) == 0 {
			m.note(ir.Path, "an inhibit rule without matchers: every alert inhibits every other with equal %v", ir.Equal)
		}
	}
}
