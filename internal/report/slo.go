package report

import (
	"context"
	"time"
)

// Breach is one item that missed an SLO, linked to its item.
type Breach struct {
	ItemID   int64     `json:"workitem_id"`
	Created  time.Time `json:"created_at"`
	Severity string    `json:"severity"`
	Assignee string    `json:"assignee"`
	// Took is how long the acknowledgement or resolution took; nil when it
	// has not happened yet (Overdue).
	Took    *float64 `json:"took_seconds"`
	Overdue bool     `json:"overdue"`
}

// SLOResult is one SLO's attainment over the period.
type SLOResult struct {
	SLO
	TargetSeconds float64 `json:"target_seconds"`
	Met           int64   `json:"met"`
	Missed        int64   `json:"missed"`
	// Pending items are neither done nor overdue yet: not counted.
	Pending int64 `json:"pending"`
	// Attainment is Met / (Met + Missed); nil with no item.
	Attainment *float64 `json:"attainment"`
	// Status is "met", "breached" or "no data".
	Status   string   `json:"status"`
	Breaches []Breach `json:"breaches"`
}

// SLOReport is the attainment of every configured SLO.
type SLOReport struct {
	Period Period      `json:"period"`
	Filter Filter      `json:"filter"`
	Exact  bool        `json:"exact"`
	SLOs   []SLOResult `json:"slos"`
}

// MaxBreaches is how many breaches an SLO lists, newest first.
const MaxBreaches = 100

// SLOs computes the SLO report.
func (s *Service) SLOs(ctx context.Context, p Period, f Filter) (SLOReport, error) {
	f, err := s.resolve(ctx, f)
	if err != nil {
		return SLOReport{}, err
	}
	slos, err := s.slos(ctx)
	if err != nil {
		return SLOReport{}, err
	}
	buckets, exact, err := s.collect(ctx, []time.Time{p.From, p.To}, f, "", 0)
	if err != nil {
		return SLOReport{}, err
	}
	all := total(buckets)[""]
	if all == nil {
		all = newAgg()
	}
	rep := SLOReport{Period: p, Filter: f, Exact: exact, SLOs: []SLOResult{}}
	now := s.o.Clock.Now()
	for _, o := range slos {
		r := SLOResult{SLO: o, TargetSeconds: o.Target.Seconds(), Status: "no data", Breaches: []Breach{}}
		if c := all.SLOs[o.Name]; c != nil {
			r.Met, r.Missed, r.Pending = c.Met, c.Missed, c.Pending
		}
		if n := r.Met + r.Missed; n > 0 {
			a := float64(r.Met) / float64(n)
			r.Attainment = &a
			r.Status = "met"
			if a < o.Objective {
				r.Status = "breached"
			}
		}
		if r.Missed > 0 {
			bf := f
			if len(o.Severity) == 1 && bf.Severity == "" {
				bf.Severity = o.Severity[0]
			}
			err := s.st.ReportBreaches(ctx, p.From, p.To, bf, o.Metric != MetricResolve, o.Target, now, MaxBreaches*4, func(x Fact) error {
				if len(r.Breaches) >= MaxBreaches || !o.selects(x) || !f.match(x) || o.outcome(x, now) != sloMissed {
					return nil
				}
				b := Breach{ItemID: x.ItemID, Created: x.Created, Severity: x.Severity, Assignee: x.Assignee}
				d, done := x.TTA()
				if o.Metric == MetricResolve {
					d, done = x.TTR()
				}
				if done {
					v := d.Seconds()
					b.Took = &v
				} else {
					b.Overdue = true
				}
				r.Breaches = append(r.Breaches, b)
				return nil
			})
			if err != nil {
				return SLOReport{}, err
			}
		}
		rep.SLOs = append(rep.SLOs, r)
	}
	return rep, nil
}
