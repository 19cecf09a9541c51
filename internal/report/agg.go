package report

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/automation"
)

// SLO is a service level objective: "high severity acknowledged within
// 15 minutes, 95% of the time". It selects items by severity and team.
type SLO struct {
	Name      string        `json:"name"`
	Metric    string        `json:"metric"` // MetricAck or MetricResolve
	Severity  []string      `json:"severity,omitempty"`
	Team      string        `json:"team,omitempty"`
	Target    time.Duration `json:"-"`
	Objective float64       `json:"objective"` // 0.95
	// Members are the team's members, filled by the service.
	Members []string `json:"-"`
}

// SLO metrics.
const (
	MetricAck     = "ack"
	MetricResolve = "resolve"
)

func (s SLO) selects(f Fact) bool {
	if len(s.Severity) > 0 && !slices.Contains(s.Severity, f.Severity) {
		return false
	}
	if s.Team != "" && !slices.Contains(s.Members, f.Assignee) {
		return false
	}
	return true
}

// outcome is how an item fares against the SLO at now.
func (s SLO) outcome(f Fact, now time.Time) sloOutcome {
	var d time.Duration
	var done bool
	if s.Metric == MetricResolve {
		d, done = f.TTR()
	} else {
		d, done = f.TTA()
	}
	switch {
	case done && d <= s.Target:
		return sloMet
	case done:
		return sloMissed
	case now.Sub(f.Created) > s.Target:
		return sloMissed
	}
	return sloPending
}

type sloOutcome int

const (
	sloMet sloOutcome = iota
	sloMissed
	sloPending
)

// SLOCount is an SLO's items in an aggregate.
type SLOCount struct {
	Met     int64 `json:"met"`
	Missed  int64 `json:"missed"`
	Pending int64 `json:"pending"`
}

// Agg sums up a set of items: the building block of every report, built
// from facts or read from the daily roll-ups.
type Agg struct {
	Items    int64 `json:"n"`
	Reopened int64 `json:"reopened,omitempty"`
	Closed   int64 `json:"closed,omitempty"`
	// Classes counts closed items by classification.
	Classes map[string]int64 `json:"classes,omitempty"`
	Acted   int64            `json:"acted,omitempty"`
	// ClosedByRule counts items an automation rule closed.
	ClosedByRule int64 `json:"closed_by_rule,omitempty"`
	TTA          *Dist `json:"-"`
	TTR          *Dist `json:"-"`
	// Handle is the time to resolve of the items a person closed: the
	// handling time a suppression saves.
	Handle *Dist                `json:"-"`
	States map[string]*Dist     `json:"-"`
	SLOs   map[string]*SLOCount `json:"slos,omitempty"`
}

func newAgg() *Agg {
	return &Agg{Classes: map[string]int64{}, TTA: &Dist{}, TTR: &Dist{}, Handle: &Dist{}, States: map[string]*Dist{}, SLOs: map[string]*SLOCount{}}
}

// add counts one item's facts.
func (a *Agg) add(f Fact, slos []SLO, now time.Time) {
	a.Items++
	if f.Reopened {
		a.Reopened++
	}
	if f.Acted {
		a.Acted++
	}
	if d, ok := f.TTA(); ok {
		a.TTA.Add(d.Seconds())
	}
	if d, ok := f.TTR(); ok {
		a.Closed++
		a.TTR.Add(d.Seconds())
		if f.Class != "" {
			a.Classes[f.Class]++
		}
		if IsPerson(f.ClosedBy) {
			a.Handle.Add(d.Seconds())
		}
		if automation.IsRuleActor(f.ClosedBy) {
			a.ClosedByRule++
		}
	}
	for _, s := range f.Spans {
		if s.To == nil {
			continue
		}
		d := a.States[s.State]
		if d == nil {
			d = &Dist{}
			a.States[s.State] = d
		}
		d.Add(s.To.Sub(s.From).Seconds())
	}
	for _, s := range slos {
		if !s.selects(f) {
			continue
		}
		c := a.SLOs[s.Name]
		if c == nil {
			c = &SLOCount{}
			a.SLOs[s.Name] = c
		}
		switch s.outcome(f, now) {
		case sloMet:
			c.Met++
		case sloMissed:
			c.Missed++
		default:
			c.Pending++
		}
	}
}

// merge adds another aggregate.
func (a *Agg) merge(o *Agg) {
	a.Items += o.Items
	a.Reopened += o.Reopened
	a.Closed += o.Closed
	a.Acted += o.Acted
	a.ClosedByRule += o.ClosedByRule
	for k, v := range o.Classes {
		a.Classes[k] += v
	}
	a.TTA.Merge(o.TTA)
	a.TTR.Merge(o.TTR)
	a.Handle.Merge(o.Handle)
	for k, v := range o.States {
		d := a.States[k]
		if d == nil {
			d = &Dist{}
			a.States[k] = d
		}
		d.Merge(v)
	}
	for k, v := range o.SLOs {
		c := a.SLOs[k]
		if c == nil {
			c = &SLOCount{}
			a.SLOs[k] = c
		}
		c.Met += v.Met
		c.Missed += v.Missed
		c.Pending += v.Pending
	}
}

// encode writes the aggregate as lines of "key=value": counts, classes,
// SLO outcomes, then the histograms (Dist.encode). A year's report merges
// thousands of roll-up rows, and reading this costs a fraction of JSON.
// Names (classes, SLOs, states) are escaped as URL query values.
func (a *Agg) encode() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "n=%d %d %d %d %d", a.Items, a.Reopened, a.Closed, a.Acted, a.ClosedByRule)
	for _, k := range sortedKeys(a.Classes) {
		fmt.Fprintf(&sb, "\nc=%s %d", url.QueryEscape(k), a.Classes[k])
	}
	for _, k := range sortedKeys(a.SLOs) {
		c := a.SLOs[k]
		fmt.Fprintf(&sb, "\ns=%s %d %d %d", url.QueryEscape(k), c.Met, c.Missed, c.Pending)
	}
	for _, d := range []struct {
		key string
		d   *Dist
	}{{"a", a.TTA}, {"r", a.TTR}, {"h", a.Handle}} {
		if e := d.d.encode(); e != "" {
			sb.WriteString("\n" + d.key + "=" + e)
		}
	}
	for _, k := range sortedKeys(a.States) {
		if e := a.States[k].encode(); e != "" {
			sb.WriteString("\nt=" + url.QueryEscape(k) + " " + e)
		}
	}
	return sb.String()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// needs says which distributions a report reads from the roll-ups:
// decoding a histogram it does not use is most of the cost of a roll-up
// row.
type needs uint8

const (
	needTTA needs = 1 << iota
	needTTR
	needHandle
	needStates
	needAll = needTTA | needTTR | needHandle | needStates
)

// decodeAgg reads what encode wrote, the distributions n names only; a
// malformed line is skipped.
func decodeAgg(s string, n needs) *Agg {
	a := newAgg()
	for line := range strings.SplitSeq(s, "\n") {
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch key {
		case "n":
			f := strings.Fields(val)
			if len(f) == 5 {
				a.Items, a.Reopened, a.Closed, a.Acted, a.ClosedByRule = atoi(f[0]), atoi(f[1]), atoi(f[2]), atoi(f[3]), atoi(f[4])
			}
		case "c":
			if name, v, ok := strings.Cut(val, " "); ok {
				if k, err := url.QueryUnescape(name); err == nil {
					a.Classes[k] += atoi(v)
				}
			}
		case "s":
			f := strings.Fields(val)
			if len(f) == 4 {
				if k, err := url.QueryUnescape(f[0]); err == nil {
					a.SLOs[k] = &SLOCount{Met: atoi(f[1]), Missed: atoi(f[2]), Pending: atoi(f[3])}
				}
			}
		case "a":
			if n&needTTA != 0 {
				a.TTA = decodeDist(val)
			}
		case "r":
			if n&needTTR != 0 {
				a.TTR = decodeDist(val)
			}
		case "h":
			if n&needHandle != 0 {
				a.Handle = decodeDist(val)
			}
		case "t":
			if n&needStates != 0 {
				if name, v, ok := strings.Cut(val, " "); ok {
					if k, err := url.QueryUnescape(name); err == nil {
						a.States[k] = decodeDist(v)
					}
				}
			}
		}
	}
	return a
}

func atoi(s string) int64 {
	v, _ := strconv.ParseInt(s, 10, 64)
	return v
}

// DayRows sums up one UTC day's facts into its roll-up rows.
func DayRows(day int64, facts []Fact, slos []SLO, now time.Time) []DailyRow {
	aggs := map[[2]string]*Agg{}
	for _, f := range facts {
		if f.Merged {
			continue
		}
		for _, dim := range rollupDims {
			k := [2]string{dim, dimValue(f, dim)}
			a := aggs[k]
			if a == nil {
				a = newAgg()
				aggs[k] = a
			}
			a.add(f, slos, now)
		}
	}
	out := make([]DailyRow, 0, len(aggs))
	for k, a := range aggs {
		out = append(out, DailyRow{Day: day, Dim: k[0], Value: k[1], Agg: a.encode()})
	}
	return out
}

// HourRows sums up one UTC day's facts per hour, all items together.
func HourRows(facts []Fact, slos []SLO, now time.Time) []DailyRow {
	aggs := map[int64]*Agg{}
	for _, f := range facts {
		if f.Merged {
			continue
		}
		h := f.Created.UnixMicro() / hourUS * hourUS
		a := aggs[h]
		if a == nil {
			a = newAgg()
			aggs[h] = a
		}
		a.add(f, slos, now)
	}
	out := make([]DailyRow, 0, len(aggs))
	for h, a := range aggs {
		out = append(out, DailyRow{Day: h, Dim: DimAll, Agg: a.encode()})
	}
	return out
}
