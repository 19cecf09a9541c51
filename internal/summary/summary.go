// Package summary sends each team's leads a weekly summary email: the
// week's response figures (MTTA, MTTR), each SLO's attainment with its
// breaches linked to their items, and the noisiest detection rules.
//
// An engine module (Module) decides, on every pass, whether a summary's
// week is due; it queues the email in the outbox under an idempotency key
// derived from the summary and the week, then records the week in a
// cursor. The outbox sends it through the SMTP relay (Target) with
// retries and backoff. The key makes the week's email exactly one queued
// message whatever happens in between: a crash after queueing, a restart,
// a second instance.
package summary

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/report"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// Reports is what a summary reads of the reports service.
type Reports interface {
	Response(ctx context.Context, p report.Period, f report.Filter) (report.Response, error)
	SLOs(ctx context.Context, p report.Period, f report.Filter) (report.SLOReport, error)
	Quality(ctx context.Context, p report.Period, f report.Filter, by string) (report.Quality, error)
}

// Store keeps the last week sent per summary and queues the emails.
type Store interface {
	Cursor(ctx context.Context, name string) (string, error)
	SetCursor(ctx context.Context, name, value string) error
	Enqueue(ctx context.Context, msgs []outbox.Message, entries []workitem.Entry) (int, error)
}

// Summary is one configured weekly summary.
type Summary struct {
	// Team filters the items to its members'; "" is every item.
	Team     string
	To       []string
	Schedule Schedule
}

// Options configure the module.
type Options struct {
	// BaseURL is vigil's address as people reach it, for the links to
	// items.
	BaseURL string
	// Mail is false when no SMTP relay is configured: nothing is queued.
	Mail   bool
	Clock  clock.Clock
	Logger *slog.Logger
}

// Module is the engine module that queues the weekly summaries.
type Module struct {
	st      Store
	reports Reports
	sums    []Summary
	keys    []string
	o       Options
	log     *slog.Logger
	warned  bool
}

// firstGrace is how late a summary's first week may still be sent: a
// summary configured on a Wednesday starts with the next send day rather
// than mailing last week's figures at once, but one configured (or an
// instance started) an hour after its send time still sends.
const firstGrace = 24 * time.Hour

// New returns the module for sums.
func New(st Store, reports Reports, sums []Summary, o Options) *Module {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Module{st: st, reports: reports, sums: sums, keys: Keys(sums), o: o, log: o.Logger.With("component", "summary")}
}

// Keys names each summary for its cursor and idempotency keys: by team
// ("secops", "*" for every item), so that reordering the configuration
// or changing a summary's hour or recipients never sends a week twice; a
// team's second summary is "secops#2".
func Keys(sums []Summary) []string {
	seen := map[string]int{}
	out := make([]string, len(sums))
	for i, s := range sums {
		k := s.Team
		if k == "" {
			k = "*"
		}
		seen[k]++
		if n := seen[k]; n > 1 {
			k += "#" + strconv.Itoa(n)
		}
		out[i] = k
	}
	return out
}

// CursorName is the store cursor holding the last week queued for the
// summary keyed key.
func CursorName(key string) string { return "summary:" + key }

// IdemKey is the outbox idempotency key of the summary keyed key for
// week: one email per summary and week, ever.
func IdemKey(key, week string) string { return "summary:" + key + ":" + week }

// Name is the engine module's name.
func (m *Module) Name() string { return "summary" }

// UpdateAll queues every summary whose week is due and not yet queued.
// A pass with nothing due reads one cursor per summary.
func (m *Module) UpdateAll(ctx context.Context) error {
	if len(m.sums) == 0 {
		return nil
	}
	if !m.o.Mail {
		if !m.warned {
			m.log.Warn("weekly summaries configured but no SMTP server (paging.smtp.host): none is sent", "summaries", len(m.sums))
			m.warned = true
		}
		return nil
	}
	now := m.o.Clock.Now()
	var errs []error
	for i, s := range m.sums {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := m.one(ctx, m.keys[i], s, now); err != nil {
			errs = append(errs, fmt.Errorf("weekly summary %s: %w", m.keys[i], err))
		}
	}
	return errors.Join(errs...)
}

func (m *Module) one(ctx context.Context, key string, s Summary, now time.Time) error {
	send := s.Schedule.Last(now)
	p := s.Schedule.Period(send)
	week := Week(p)
	cur := CursorName(key)
	last, err := m.st.Cursor(ctx, cur)
	if err != nil {
		return err
	}
	if last == week {
		return nil
	}
	if last == "" && now.Sub(send) > firstGrace {
		m.log.Info("weekly summary starts next week", "summary", key, "next", s.Schedule.Next(now))
		return m.st.SetCursor(ctx, cur, week)
	}
	f, err := m.figures(ctx, s.Team, p)
	if err != nil {
		return err
	}
	if s.Team != "" && len(f.Response.Filter.Members) == 0 {
		m.log.Warn("weekly summary of a team without members: no item counts", "summary", key, "team", s.Team)
	}
	subject, text, html, err := Render(s.Team, week, p, f, m.o.BaseURL)
	if err != nil {
		return err
	}
	idem := IdemKey(key, week)
	sum := sha256.Sum256([]byte(idem))
	payload, err := json.Marshal(Mail{ID: hex.EncodeToString(sum[:16]), To: s.To, Subject: subject, Text: text, HTML: html, Date: now})
	if err != nil {
		return err
	}
	// The key, not the cursor, is what keeps the week to one email: a
	// crash between these two steps queues nothing new on the next pass,
	// and neither does a second instance racing this one.
	n, err := m.st.Enqueue(ctx, []outbox.Message{{Target: TargetName, Op: OpSend, Resource: key + "/" + week, Payload: payload, IdemKey: idem}}, nil)
	if err != nil {
		return fmt.Errorf("queue %s: %w", week, err)
	}
	if n > 0 {
		m.log.Info("weekly summary queued", "summary", key, "week", week, "to", len(s.To), "items", f.Response.Items)
	}
	return m.st.SetCursor(ctx, cur, week)
}

// figures reads the reports for team over p.
func (m *Module) figures(ctx context.Context, team string, p report.Period) (Figures, error) {
	f := report.Filter{Team: team}
	var out Figures
	var err error
	if out.Response, err = m.reports.Response(ctx, p, f); err != nil {
		return out, fmt.Errorf("response report: %w", err)
	}
	if out.SLOs, err = m.reports.SLOs(ctx, p, f); err != nil {
		return out, fmt.Errorf("SLO report: %w", err)
	}
	if out.Quality, err = m.reports.Quality(ctx, p, f, report.DimRule); err != nil {
		return out, fmt.Errorf("quality report: %w", err)
	}
	return out, nil
}
