package report

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
)

// ModuleStore is what the roll-up module reads and writes.
type ModuleStore interface {
	Cursor(ctx context.Context, name string) (string, error)
	SetCursor(ctx context.Context, name, value string) error
	ReportChanged(ctx context.Context, at time.Time, id int64, limit int) ([]int64, time.Time, int64, error)
	ReportChangedPages(ctx context.Context, at time.Time, id int64, limit int) ([]int64, time.Time, int64, error)
	ReportHistories(ctx context.Context, ids []int64) ([]History, error)
	WriteReportFacts(ctx context.Context, facts []Fact, now time.Time) ([]int64, error)
	ReportFacts(ctx context.Context, from, to time.Time, f Filter, fn func(Fact) error) error
	ReplaceReportDay(ctx context.Context, day int64, rows []DailyRow) error
	ReplaceReportMonth(ctx context.Context, month int64, rows []DailyRow) error
	ReplaceReportHours(ctx context.Context, day int64, rows []DailyRow) error
	ReportDayRows(ctx context.Context, fromDay, toDay int64, fn func(DailyRow) error) error
	ReportFirstDay(ctx context.Context) (int64, bool, error)
}

// Module is the engine module that keeps the reports' facts and roll-ups
// up to date: each pass works out the facts of the items changed since the
// last (their row or a page), moves the cumulative flow, and rebuilds the
// roll-ups of the UTC days those items were created on. It also rebuilds
// the days whose SLO outcomes may have changed with the passing of time,
// and every day when the SLOs change.
type Module struct {
	st    ModuleStore
	proc  Process
	svc   *Service
	clock clock.Clock
	log   *slog.Logger
	batch int
	// lastRefresh is when the recent days were last rebuilt.
	lastRefresh time.Time
}

// Cursor names.
const (
	cursorItems = "report:items"
	cursorPages = "report:pages"
	cursorStale = "report:stale"
	cursorMonth = "report:stale-months"
	cursorSLOs  = "report:slos"
)

// NewModule returns the roll-up module for svc's SLOs.
func NewModule(st ModuleStore, proc Process, svc *Service) *Module {
	return &Module{st: st, proc: proc, svc: svc, clock: svc.o.Clock, log: svc.o.Logger.With("component", "report-rollup"), batch: 500}
}

// Name is the engine module's name.
func (m *Module) Name() string { return "reports" }

// refreshEvery is how often the recent days are rebuilt for the SLO
// outcomes that the passing of time decides (an item not acknowledged
// within its target misses it without changing).
const refreshEvery = 15 * time.Minute

// UpdateAll catches the facts and roll-ups up.
func (m *Module) UpdateAll(ctx context.Context) error {
	stale, err := m.staleDays(ctx)
	if err != nil {
		return err
	}
	// SLOs changed: every day's SLO counts are stale.
	fp, err := m.fingerprint(ctx)
	if err != nil {
		return err
	}
	if old, err := m.st.Cursor(ctx, cursorSLOs); err != nil {
		return err
	} else if old != fp {
		if first, ok, err := m.st.ReportFirstDay(ctx); err != nil {
			return err
		} else if ok {
			for d := first; d <= UTCDay(m.clock.Now()); d += dayUS {
				stale[d] = true
			}
		}
		if err := m.saveStale(ctx, stale); err != nil {
			return err
		}
		if err := m.st.SetCursor(ctx, cursorSLOs, fp); err != nil {
			return err
		}
	}
	for _, c := range []struct {
		name    string
		changed func(context.Context, time.Time, int64, int) ([]int64, time.Time, int64, error)
	}{{cursorItems, m.st.ReportChanged}, {cursorPages, m.st.ReportChangedPages}} {
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			at, id, err := m.cursor(ctx, c.name)
			if err != nil {
				return err
			}
			ids, nat, nid, err := c.changed(ctx, at, id, m.batch)
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				break
			}
			days, err := m.recompute(ctx, ids)
			if err != nil {
				return err
			}
			for _, d := range days {
				stale[d] = true
			}
			if err := m.saveStale(ctx, stale); err != nil {
				return err
			}
			if err := m.st.SetCursor(ctx, c.name, strconv.FormatInt(nat.UnixMicro(), 10)+":"+strconv.FormatInt(nid, 10)); err != nil {
				return err
			}
			if len(ids) < m.batch {
				break
			}
		}
	}
	now := m.clock.Now()
	if now.Sub(m.lastRefresh) >= refreshEvery {
		back := m.maxTarget() + 24*time.Hour
		for d := UTCDay(now.Add(-back)); d <= UTCDay(now); d += dayUS {
			stale[d] = true
		}
		m.lastRefresh = now
	}
	return m.rebuild(ctx, stale)
}

// recompute works out and stores the facts of items, returning the days
// whose roll-ups they make stale.
func (m *Module) recompute(ctx context.Context, ids []int64) ([]int64, error) {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	hs, err := m.st.ReportHistories(ctx, ids)
	if err != nil {
		return nil, err
	}
	facts := make([]Fact, 0, len(hs))
	for _, h := range hs {
		facts = append(facts, Compute(h, m.proc.Terminal))
	}
	return m.st.WriteReportFacts(ctx, facts, m.clock.Now())
}

// rebuild rebuilds the stale days' roll-ups, oldest first, saving the
// set after each so that a pass cut short resumes.
func (m *Module) rebuild(ctx context.Context, stale map[int64]bool) error {
	days := make([]int64, 0, len(stale))
	for d := range stale {
		days = append(days, d)
	}
	slices.Sort(days)
	slos, err := m.svc.slos(ctx)
	if err != nil {
		return err
	}
	months, err := m.staleSet(ctx, cursorMonth)
	if err != nil {
		return err
	}
	for _, d := range days {
		months[UTCMonth(time.UnixMicro(d))] = true
	}
	if len(days) > 0 {
		if err := m.saveSet(ctx, cursorMonth, months); err != nil {
			return err
		}
	}
	for i, d := range days {
		if err := ctx.Err(); err != nil {
			return err
		}
		var facts []Fact
		lo, hi := time.UnixMicro(d).UTC(), time.UnixMicro(d+dayUS).UTC()
		if err := m.st.ReportFacts(ctx, lo, hi, Filter{Spans: true}, func(f Fact) error { facts = append(facts, f); return nil }); err != nil {
			return err
		}
		if err := m.st.ReplaceReportDay(ctx, d, DayRows(d, facts, slos, m.clock.Now())); err != nil {
			return err
		}
		if err := m.st.ReplaceReportHours(ctx, d, HourRows(facts, slos, m.clock.Now())); err != nil {
			return err
		}
		delete(stale, d)
		if i%20 == 19 || i == len(days)-1 {
			if err := m.saveStale(ctx, stale); err != nil {
				return err
			}
		}
	}
	return m.rebuildMonths(ctx, months)
}

// rebuildMonths merges the stale months' day rows into their monthly
// rows.
func (m *Module) rebuildMonths(ctx context.Context, months map[int64]bool) error {
	list := make([]int64, 0, len(months))
	for mo := range months {
		list = append(list, mo)
	}
	slices.Sort(list)
	for _, mo := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		aggs := map[[2]string]*Agg{}
		err := m.st.ReportDayRows(ctx, mo, nextMonth(mo), func(r DailyRow) error {
			k := [2]string{r.Dim, r.Value}
			a := aggs[k]
			if a == nil {
				a = newAgg()
				aggs[k] = a
			}
			a.merge(decodeAgg(r.Agg, needAll))
			return nil
		})
		if err != nil {
			return err
		}
		rows := make([]DailyRow, 0, len(aggs))
		for k, a := range aggs {
			rows = append(rows, DailyRow{Day: mo, Dim: k[0], Value: k[1], Agg: a.encode()})
		}
		if err := m.st.ReplaceReportMonth(ctx, mo, rows); err != nil {
			return err
		}
		delete(months, mo)
		if err := m.saveSet(ctx, cursorMonth, months); err != nil {
			return err
		}
	}
	return nil
}

func (m *Module) cursor(ctx context.Context, name string) (time.Time, int64, error) {
	v, err := m.st.Cursor(ctx, name)
	if err != nil || v == "" {
		return time.Time{}, 0, err
	}
	a, b, _ := strings.Cut(v, ":")
	at, err1 := strconv.ParseInt(a, 10, 64)
	id, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}, 0, fmt.Errorf("report cursor %s: malformed %q", name, v)
	}
	return time.UnixMicro(at).UTC(), id, nil
}

func (m *Module) staleDays(ctx context.Context) (map[int64]bool, error) {
	return m.staleSet(ctx, cursorStale)
}

func (m *Module) saveStale(ctx context.Context, stale map[int64]bool) error {
	return m.saveSet(ctx, cursorStale, stale)
}

// staleSet reads a set of days or months kept in a cursor.
func (m *Module) staleSet(ctx context.Context, name string) (map[int64]bool, error) {
	out := map[int64]bool{}
	v, err := m.st.Cursor(ctx, name)
	if err != nil {
		return nil, err
	}
	for _, s := range strings.Split(v, ",") {
		if d, err := strconv.ParseInt(s, 10, 64); err == nil {
			out[d] = true
		}
	}
	return out, nil
}

func (m *Module) saveSet(ctx context.Context, name string, set map[int64]bool) error {
	list := make([]string, 0, len(set))
	for d := range set {
		list = append(list, strconv.FormatInt(d, 10))
	}
	slices.Sort(list)
	return m.st.SetCursor(ctx, name, strings.Join(list, ","))
}

// fingerprint identifies the SLOs the roll-ups were counted for, with
// their teams' members: a team that gains a member changes which items
// its SLO selects.
func (m *Module) fingerprint(ctx context.Context) (string, error) {
	slos, err := m.svc.slos(ctx)
	if err != nil {
		return "", err
	}
	type wire struct {
		SLO
		Target  int64
		Members []string
	}
	var ws []wire
	for _, s := range slos {
		ws = append(ws, wire{SLO: s, Target: int64(s.Target), Members: s.Members})
	}
	b, _ := json.Marshal(ws)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8]), nil
}

func (m *Module) maxTarget() time.Duration {
	var d time.Duration
	for _, s := range m.svc.o.SLOs {
		d = max(d, s.Target)
	}
	return d
}
