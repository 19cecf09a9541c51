// Package report answers the questions a team asks of its own work, with
// no query language: how quickly alerts are acknowledged and resolved
// (MTTA, MTTR, time in each state) against the SLOs, how good each
// detection is, how heavy on-call is and for whom, and how work flows
// across the board.
//
// Every figure comes from the facts of each work item (Fact), which an
// engine module (Module) works out from the item's timeline and pages and
// keeps in the store. A report over up to ExactItems items reads their
// facts one by one, and every figure is exact. Over more, it reads roll-ups:
// monthly rows for UTC months and daily rows for UTC days that lie wholly
// inside one bucket, hourly rows for days a bucket boundary cuts at a whole
// hour, and the facts for anything else. Counts, means and SLO attainment
// stay exact; percentiles come from histograms whose buckets are 2% wide.
//
// A figure with no data is absent (null in JSON, "no data" on screen),
// never zero.
package report

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/oncall"
)

// Store is what the reports read.
type Store interface {
	ReportFacts(ctx context.Context, from, to time.Time, f Filter, fn func(Fact) error) error
	ReportDaily(ctx context.Context, fromDay, toDay int64, dim string, values []string, fn func(DailyRow) error) error
	ReportMonthly(ctx context.Context, fromMonth, toMonth int64, dim string, values []string, fn func(DailyRow) error) error
	ReportHourly(ctx context.Context, fromHour, toHour int64, fn func(DailyRow) error) error
	ReportCount(ctx context.Context, from, to time.Time, f Filter, limit int) (int, error)
	ReportBreaches(ctx context.Context, from, to time.Time, f Filter, ack bool, target time.Duration, now time.Time, limit int, fn func(Fact) error) error
	ReportOpenFacts(ctx context.Context, fn func(Fact) error) error
	ReportFlow(ctx context.Context, fromQ, toQ int64) ([]FlowRow, error)
	ReportFlowDays(ctx context.Context, fromDay, toDay int64) ([]FlowRow, error)
	ReportPages(ctx context.Context, from, to time.Time) (PageStats, []NotificationRow, error)
	ReportSuppressed(ctx context.Context, from, to time.Time) (map[string]int64, error)
}

// Rota is what on-call load reads of the on-call definitions.
type Rota interface {
	Schedules(ctx context.Context) ([]*oncall.Schedule, error)
	Teams(ctx context.Context) (map[string][]string, error)
}

// Process is what the reports need of the work-item process.
type Process interface {
	StateNames() []string
	Terminal(state string) bool
}

// Options configure the reports.
type Options struct {
	SLOs []SLO
	// TimeZone is the default viewer time zone (IANA), UTC when empty.
	TimeZone string
	// ExactItems is how many items a report reads one by one, every
	// figure exact, before it turns to the roll-ups; 0 means 20,000, and
	// a negative value always reads the roll-ups where it can (tests).
	ExactItems int
	// StuckAfter is how long an item may sit in one open state before the
	// flow report calls it stuck; 0 means 7 days.
	StuckAfter time.Duration
	// NightStart and NightEnd bound the night hours for on-call load, in
	// the viewer's time zone; both 0 mean 22 and 8.
	NightStart, NightEnd int
	Clock                clock.Clock
	Logger               *slog.Logger
}

// DefaultExactItems is how many items a report reads one by one before it
// turns to the roll-ups.
const DefaultExactItems = 20000

// Service computes the reports.
type Service struct {
	st   Store
	rota Rota
	proc Process
	o    Options
	log  *slog.Logger
}

// New returns the reports service.
func New(st Store, rota Rota, proc Process, o Options) *Service {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.ExactItems == 0 {
		o.ExactItems = DefaultExactItems
	}
	if o.StuckAfter == 0 {
		o.StuckAfter = 7 * 24 * time.Hour
	}
	if o.NightStart == 0 && o.NightEnd == 0 {
		o.NightStart, o.NightEnd = 22, 8
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Service{st: st, rota: rota, proc: proc, o: o, log: o.Logger.With("component", "reports")}
}

// TimeZone is the default viewer time zone.
func (s *Service) TimeZone() string { return s.o.TimeZone }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.o.Clock.Now() }

// slos returns the configured SLOs with their teams' members.
func (s *Service) slos(ctx context.Context) ([]SLO, error) {
	if len(s.o.SLOs) == 0 {
		return nil, nil
	}
	var teams map[string][]string
	out := slices.Clone(s.o.SLOs)
	for i := range out {
		if out[i].Team == "" {
			continue
		}
		if teams == nil {
			var err error
			if teams, err = s.teams(ctx); err != nil {
				return nil, err
			}
		}
		out[i].Members = teams[out[i].Team]
	}
	return out, nil
}

func (s *Service) teams(ctx context.Context) (map[string][]string, error) {
	if s.rota == nil {
		return map[string][]string{}, nil
	}
	t, err := s.rota.Teams(ctx)
	if err != nil {
		return nil, fmt.Errorf("teams: %w", err)
	}
	return t, nil
}

// resolve fills a team filter's members.
func (s *Service) resolve(ctx context.Context, f Filter) (Filter, error) {
	if f.Team == "" {
		return f, nil
	}
	teams, err := s.teams(ctx)
	if err != nil {
		return f, err
	}
	f.Members = teams[f.Team]
	return f, nil
}

// collect sums up the items created in each bucket of bounds (bucket i
// is [bounds[i], bounds[i+1])) that match f, per value of group (one
// group "" when group is empty). exact is false when roll-ups were read.
func (s *Service) collect(ctx context.Context, bounds []time.Time, f Filter, group string, n needs) (out []map[string]*Agg, exact bool, err error) {
	from, to := bounds[0], bounds[len(bounds)-1]
	slos, err := s.slos(ctx)
	if err != nil {
		return nil, false, err
	}
	now := s.o.Clock.Now()
	out = make([]map[string]*Agg, len(bounds)-1)
	for i := range out {
		out[i] = map[string]*Agg{}
	}
	bucket := func(t time.Time) int {
		return sort.Search(len(bounds)-1, func(i int) bool { return bounds[i+1].After(t) })
	}
	addFact := func(x Fact) error {
		if !f.match(x) {
			return nil
		}
		b := bucket(x.Created)
		if b >= len(out) {
			return nil
		}
		k := ""
		if group != "" {
			k = dimValue(x, group)
		}
		a := out[b][k]
		if a == nil {
			a = newAgg()
			out[b][k] = a
		}
		a.add(x, slos, now)
		return nil
	}

	dims := f.dims()
	need := slices.Clone(dims)
	if group != "" && !slices.Contains(need, group) {
		need = append(need, group)
	}
	if len(need) > 1 {
		return out, true, s.st.ReportFacts(ctx, from, to, f, addFact)
	}
	if s.o.ExactItems > 0 {
		n, err := s.st.ReportCount(ctx, from, to, f, s.o.ExactItems+1)
		if err != nil {
			return nil, false, err
		}
		if n <= s.o.ExactItems {
			return out, true, s.st.ReportFacts(ctx, from, to, f, addFact)
		}
	}

	// Roll-ups for the UTC days wholly inside one bucket; facts for the
	// days a bound cuts.
	dim, values := DimAll, []string(nil)
	if len(need) == 1 {
		dim = need[0]
		if group == "" {
			switch {
			case dim == DimAssignee && f.Team != "" && f.Person == "":
				values = f.Members
				if len(values) == 0 {
					return out, true, nil
				}
			default:
				values = []string{filterValue(f, dim)}
			}
		}
	}
	firstDay, lastDay := UTCDay(from), UTCDay(to.Add(-time.Microsecond))
	cut := map[int64]bool{}
	for _, b := range bounds {
		d := UTCDay(b)
		if b.UnixMicro() != d {
			cut[d] = true
		}
	}
	exact = true
	addRow := func(r DailyRow) error {
		exact = false
		b := bucket(time.UnixMicro(r.Day))
		if b >= len(out) {
			return nil
		}
		k := ""
		if group != "" {
			k = r.Value
		}
		a := out[b][k]
		if a == nil {
			a = newAgg()
			out[b][k] = a
		}
		a.merge(decodeAgg(r.Agg, n))
		return nil
	}
	// Months wholly inside the period and inside one bucket come from
	// the monthly rows.
	boundInside := func(lo, hi int64) bool {
		for _, b := range bounds {
			if u := b.UnixMicro(); u > lo && u < hi {
				return true
			}
		}
		return false
	}
	months := map[int64]bool{}
	covered := map[int64]bool{}
	var firstMonth, endMonth int64
	for mo := UTCMonth(from); mo < to.UnixMicro(); mo = nextMonth(mo) {
		if mo < from.UnixMicro() || nextMonth(mo) > to.UnixMicro() || boundInside(mo, nextMonth(mo)) {
			continue
		}
		if len(months) == 0 {
			firstMonth = mo
		}
		months[mo], endMonth = true, nextMonth(mo)
		for d := mo; d < nextMonth(mo); d += dayUS {
			covered[d] = true
		}
	}
	if len(months) > 0 {
		err := s.st.ReportMonthly(ctx, firstMonth, endMonth, dim, values, func(r DailyRow) error {
			if !months[r.Day] {
				return nil
			}
			return addRow(r)
		})
		if err != nil {
			return nil, false, err
		}
	}
	// Other days wholly inside one bucket come from the daily rows, read
	// in runs of consecutive days.
	for d := firstDay; d <= lastDay; {
		if covered[d] || cut[d] {
			d += dayUS
			continue
		}
		run := d
		for d <= lastDay && !covered[d] && !cut[d] {
			d += dayUS
		}
		if err := s.st.ReportDaily(ctx, run, d, dim, values, addRow); err != nil {
			return nil, false, err
		}
	}
	days := make([]int64, 0, len(cut))
	for d := range cut {
		days = append(days, d)
	}
	slices.Sort(days)
	for _, d := range days {
		// All items, cut at whole hours only: the day's hourly rows.
		if dim == DimAll && group == "" && hourAligned(bounds, d) {
			lo, hi := max(d, from.UnixMicro()), min(d+dayUS, to.UnixMicro())
			if err := s.st.ReportHourly(ctx, lo, hi, addRow); err != nil {
				return nil, false, err
			}
			continue
		}
		lo, hi := time.UnixMicro(d).UTC(), time.UnixMicro(d+dayUS).UTC()
		if lo.Before(from) {
			lo = from
		}
		if hi.After(to) {
			hi = to
		}
		if !hi.After(lo) {
			continue
		}
		if err := s.st.ReportFacts(ctx, lo, hi, f, addFact); err != nil {
			return nil, false, err
		}
	}
	return out, exact, nil
}

func filterValue(f Filter, dim string) string {
	return dimValue(Fact{Severity: f.Severity, Source: f.Source, Type: f.Type, Assignee: f.Person, Service: f.Service,
		Rule: f.Rule, AlertType: f.AlertType}, dim)
}

// total merges every bucket's aggregates of each group.
func total(buckets []map[string]*Agg) map[string]*Agg {
	out := map[string]*Agg{}
	for _, b := range buckets {
		for k, a := range b {
			t := out[k]
			if t == nil {
				t = newAgg()
				out[k] = t
			}
			t.merge(a)
		}
	}
	return out
}

// hourAligned reports whether every bound inside the UTC day d falls on a
// whole hour (as local midnight does in all but a few zones).
func hourAligned(bounds []time.Time, d int64) bool {
	for _, b := range bounds {
		if u := b.UnixMicro(); u >= d && u < d+dayUS && u%hourUS != 0 {
			return false
		}
	}
	return true
}
