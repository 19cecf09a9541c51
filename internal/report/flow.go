package report

import (
	"context"
	"math"
	"slices"
	"time"
)

// CFDPoint is the number of items in each state at one instant.
type CFDPoint struct {
	At     time.Time        `json:"at"`
	Label  string           `json:"label"`
	Counts map[string]int64 `json:"counts"`
}

// Throughput is the items that reached a terminal state in one bucket.
type Throughput struct {
	Start time.Time `json:"start"`
	Label string    `json:"label"`
	// Done counts them per terminal state.
	Done  map[string]int64 `json:"done"`
	Total int64            `json:"total"`
}

// AgeBucket counts the open items of one age.
type AgeBucket struct {
	Label   string           `json:"label"`
	Upto    float64          `json:"upto_seconds"` // 0 for the last, open-ended bucket
	Count   int64            `json:"count"`
	ByState map[string]int64 `json:"by_state"`
}

// Stuck is an open item that has sat in its state longer than allowed.
type Stuck struct {
	ItemID   int64     `json:"workitem_id"`
	State    string    `json:"state"`
	Since    time.Time `json:"since"`
	Seconds  float64   `json:"seconds_in_state"`
	Severity string    `json:"severity"`
	Assignee string    `json:"assignee"`
}

// Flow is the board's flow report.
type Flow struct {
	Period Period   `json:"period"`
	States []string `json:"states"`
	// CFD has one point per bucket bound: the counts at its start, and
	// at the period's end.
	CFD        []CFDPoint   `json:"cfd"`
	Throughput []Throughput `json:"throughput"`
	// WIP is the age of the open items now; WIPMedian its median.
	WIP        []AgeBucket `json:"wip"`
	WIPOpen    int64       `json:"wip_open"`
	WIPAge     Stat        `json:"wip_age"`
	StuckAfter float64     `json:"stuck_after_seconds"`
	Stuck      []Stuck     `json:"stuck"`
	StuckTotal int64       `json:"stuck_total"`
}

var ageBounds = []struct {
	label string
	upto  time.Duration
}{{"< 1 h", time.Hour}, {"1–4 h", 4 * time.Hour}, {"4–24 h", 24 * time.Hour}, {"1–3 d", 72 * time.Hour},
	{"3–7 d", 7 * 24 * time.Hour}, {"7–30 d", 30 * 24 * time.Hour}, {"≥ 30 d", 0}}

// MaxStuck is how many stuck items the flow report lists, longest stuck first.
const MaxStuck = 100

// Flow computes the flow report. Weekly throughput follows the period's
// buckets; ask for bucket=week to get it per week.
func (s *Service) Flow(ctx context.Context, p Period) (Flow, error) {
	bounds := p.Bounds()
	rows, base, err := s.flowRows(ctx, bounds)
	if err != nil {
		return Flow{}, err
	}
	states := s.proc.StateNames()
	f := Flow{Period: p, States: states, CFD: []CFDPoint{}, Throughput: []Throughput{}, WIP: []AgeBucket{}, Stuck: []Stuck{},
		StuckAfter: s.o.StuckAfter.Seconds()}
	counts := map[string]int64{}
	for k, v := range base {
		counts[k] = v
	}
	snapshot := func(t time.Time) {
		c := map[string]int64{}
		for _, st := range states {
			c[st] = counts[st]
		}
		f.CFD = append(f.CFD, CFDPoint{At: t, Label: p.Label(t), Counts: c})
	}
	tp := make([]Throughput, len(bounds)-1)
	for i := range tp {
		tp[i] = Throughput{Start: bounds[i], Label: p.Label(bounds[i]), Done: map[string]int64{}}
		for _, st := range states {
			if s.proc.Terminal(st) {
				tp[i].Done[st] = 0
			}
		}
	}
	bi := 0
	for _, r := range rows {
		at := time.UnixMicro(r.Q * QuarterUS)
		for bi < len(bounds) && !bounds[bi].After(at) {
			snapshot(bounds[bi])
			bi++
		}
		counts[r.State] += r.Entered - r.Exited
		if s.proc.Terminal(r.State) && bi > 0 && bi-1 < len(tp) {
			tp[bi-1].Done[r.State] += r.Entered
			tp[bi-1].Total += r.Entered
		}
	}
	for ; bi < len(bounds); bi++ {
		snapshot(bounds[bi])
	}
	f.Throughput = tp

	// Work in progress, now.
	now := s.o.Clock.Now()
	ages := &Dist{}
	wip := make([]AgeBucket, len(ageBounds))
	for i, b := range ageBounds {
		wip[i] = AgeBucket{Label: b.label, Upto: b.upto.Seconds(), ByState: map[string]int64{}}
	}
	var stuck []Stuck
	err = s.st.ReportOpenFacts(ctx, func(x Fact) error {
		if s.proc.Terminal(x.State) {
			return nil
		}
		age := now.Sub(x.Created)
		ages.Add(age.Seconds())
		f.WIPOpen++
		for i, b := range ageBounds {
			if b.upto == 0 || age < b.upto {
				wip[i].Count++
				wip[i].ByState[x.State]++
				break
			}
		}
		if in := now.Sub(x.StateSince); in > s.o.StuckAfter {
			f.StuckTotal++
			stuck = append(stuck, Stuck{ItemID: x.ItemID, State: x.State, Since: x.StateSince, Seconds: in.Seconds(),
				Severity: x.Severity, Assignee: x.Assignee})
		}
		return nil
	})
	if err != nil {
		return Flow{}, err
	}
	f.WIP = wip
	f.WIPAge = statOf(ages)
	slices.SortFunc(stuck, func(a, b Stuck) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return int(a.ItemID - b.ItemID)
	})
	if len(stuck) > MaxStuck {
		stuck = stuck[:MaxStuck]
	}
	f.Stuck = append(f.Stuck, stuck...)
	return f, nil
}

// flowRows reads the flow over the bounds' span, in time order: a day's
// row for each UTC day no bound cuts, its quarters for the days one does.
// base is the count in each state at the first bound, from the days and
// quarters before it.
func (s *Service) flowRows(ctx context.Context, bounds []time.Time) ([]FlowRow, map[string]int64, error) {
	from, to := bounds[0], bounds[len(bounds)-1]
	base := map[string]int64{}
	fromDay := UTCDay(from)
	before, err := s.st.ReportFlowDays(ctx, math.MinInt64, fromDay)
	if err != nil {
		return nil, nil, err
	}
	head, err := s.st.ReportFlow(ctx, fromDay/QuarterUS, floorQ(from))
	if err != nil {
		return nil, nil, err
	}
	for _, r := range append(before, head...) {
		base[r.State] += r.Entered - r.Exited
	}
	cut := map[int64]bool{}
	for _, b := range bounds {
		if d := UTCDay(b); b.UnixMicro() != d {
			cut[d] = true
		}
	}
	var out []FlowRow
	lastDay := UTCDay(to.Add(-time.Microsecond))
	for d := fromDay; d <= lastDay; {
		if cut[d] {
			lo, hi := max(d/QuarterUS, floorQ(from)), min((d+dayUS)/QuarterUS, floorQ(to))
			rows, err := s.st.ReportFlow(ctx, lo, hi)
			if err != nil {
				return nil, nil, err
			}
			out = append(out, rows...)
			d += dayUS
			continue
		}
		run := d
		for d <= lastDay && !cut[d] {
			d += dayUS
		}
		rows, err := s.st.ReportFlowDays(ctx, run, d)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, rows...)
	}
	return out, base, nil
}

func floorQ(t time.Time) int64 {
	u := t.UnixMicro()
	q := u / QuarterUS
	if u < 0 && u%QuarterUS != 0 {
		q--
	}
	return q
}
