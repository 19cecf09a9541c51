package report

import (
	"encoding/json"
	"slices"
	"time"
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
		if len(f.ClosedBy) > 5 && f.ClosedBy[:5] == "rule:" {
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

type aggWire struct {
	Agg
	TTA    string            `json:"tta,omitempty"`
	TTR    string            `json:"ttr,omitempty"`
	Handle string            `json:"handle,omitempty"`
	States map[string]string `json:"states,omitempty"`
}

func (a *Agg) encode() string {
	w := aggWire{Agg: *a, TTA: a.TTA.encode(), TTR: a.TTR.encode(), Handle: a.Handle.encode(), States: map[string]string{}}
	for k, v := range a.States {
		w.States[k] = v.encode()
	}
	b, _ := json.Marshal(w)
	return string(b)
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

func decodeAgg(s string, n needs) *Agg {
	var w aggWire
	a := newAgg()
	if json.Unmarshal([]byte(s), &w) != nil {
		return a
	}
	a.Items, a.Reopened, a.Closed, a.Acted, a.ClosedByRule = w.Items, w.Reopened, w.Closed, w.Acted, w.ClosedByRule
	for k, v := range w.Agg.Classes {
		a.Classes[k] = v
	}
	for k, v := range w.Agg.SLOs {
		c := *v
		a.SLOs[k] = &c
	}
	if n&needTTA != 0 {
		a.TTA = decodeDist(w.TTA)
	}
	if n&needTTR != 0 {
		a.TTR = decodeDist(w.TTR)
	}
	if n&needHandle != 0 {
		a.Handle = decodeDist(w.Handle)
	}
	if n&needStates != 0 {
		for k, v := range w.States {
			a.States[k] = decodeDist(v)
		}
	}
	return a
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
