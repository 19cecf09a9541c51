package report

import (
	"context"
	"time"
)

// Stat sums up a distribution of durations, in seconds. A figure with no
// data is nil: "no data", never zero.
type Stat struct {
	N      int64    `json:"n"`
	Mean   *float64 `json:"mean_seconds"`
	Median *float64 `json:"median_seconds"`
	P90    *float64 `json:"p90_seconds"`
	// Exact is false when the percentiles were read from histograms.
	Exact bool `json:"exact"`
}

func statOf(d *Dist) Stat {
	st := Stat{Exact: d == nil || d.Exact()}
	if d == nil || d.N == 0 {
		return st
	}
	st.N = d.N
	f := func(v float64, ok bool) *float64 {
		if !ok {
			return nil
		}
		return &v
	}
	st.Mean = f(d.Mean())
	st.Median = f(d.Percentile(0.5))
	st.P90 = f(d.Percentile(0.9))
	return st
}

// StateStat is the time items spent in one state (completed stays only).
type StateStat struct {
	State string `json:"state"`
	Stat
}

// ResponsePoint is one bucket of the response report's series.
type ResponsePoint struct {
	Start    time.Time `json:"start"`
	Label    string    `json:"label"`
	Items    int64     `json:"items"`
	TTA      Stat      `json:"tta"`
	TTR      Stat      `json:"ttr"`
	Resolved int64     `json:"resolved"`
}

// Response is the response report: MTTA, MTTR and time in each state of
// the items created in the period that match the filter.
type Response struct {
	Period   Period          `json:"period"`
	Filter   Filter          `json:"filter"`
	Exact    bool            `json:"exact"`
	Items    int64           `json:"items"`
	Acked    int64           `json:"acknowledged"`
	Resolved int64           `json:"resolved"`
	Reopened int64           `json:"reopened"`
	TTA      Stat            `json:"tta"`
	TTR      Stat            `json:"ttr"`
	States   []StateStat     `json:"states"`
	Series   []ResponsePoint `json:"series"`
}

// Response computes the response report.
func (s *Service) Response(ctx context.Context, p Period, f Filter) (Response, error) {
	f, err := s.resolve(ctx, f)
	if err != nil {
		return Response{}, err
	}
	bounds := p.Bounds()
	f.Spans = true
	buckets, exact, err := s.collect(ctx, bounds, f, "", needTTA|needTTR|needStates)
	if err != nil {
		return Response{}, err
	}
	all := total(buckets)[""]
	if all == nil {
		all = newAgg()
	}
	r := Response{Period: p, Filter: f, Exact: exact, Items: all.Items, Acked: all.TTA.N, Resolved: all.TTR.N, Reopened: all.Reopened,
		TTA: statOf(all.TTA), TTR: statOf(all.TTR), States: []StateStat{}, Series: []ResponsePoint{}}
	for _, st := range s.proc.StateNames() {
		if s.proc.Terminal(st) {
			continue
		}
		r.States = append(r.States, StateStat{State: st, Stat: statOf(all.States[st])})
	}
	for i, b := range buckets {
		a := b[""]
		if a == nil {
			a = newAgg()
		}
		r.Series = append(r.Series, ResponsePoint{Start: bounds[i], Label: p.Label(bounds[i]), Items: a.Items,
			TTA: statOf(a.TTA), TTR: statOf(a.TTR), Resolved: a.TTR.N})
	}
	return r, nil
}
