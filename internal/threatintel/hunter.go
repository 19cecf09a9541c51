package threatintel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/hunt"
	"github.com/vigil-soc/vigil/internal/intel"
	"github.com/vigil-soc/vigil/internal/loganalytics"
	"github.com/vigil-soc/vigil/internal/store"
)

// HuntName is the telemetry hunt module's name, and the name its last
// run is kept under beside the feeds'.
const HuntName = "hunt:sentinel"

// HuntSource is the alert source of the hunt's hits.
const HuntSource = "ti-hunt"

// Querier runs a KQL query on a workspace (the Log Analytics query API).
type Querier interface {
	Query(ctx context.Context, workspaceID, query, timespan string) (*loganalytics.Result, error)
}

// HuntWorkspace is one workspace the hunt queries.
type HuntWorkspace struct {
	Name, ID string
	Q        Querier
}

// HuntRuns keeps the hunt's last run, for feed health.
type HuntRuns interface {
	FeedRunOf(ctx context.Context, name string) (store.FeedRun, error)
	SaveFeedRun(ctx context.Context, f store.FeedRun, passErr error) error
}

// HuntOptions configure the hunt.
type HuntOptions struct {
	Lookback      time.Duration // how far back each run reads
	MinConfidence int
	Limits        hunt.Limits
	Clock         clock.Clock
	Log           *slog.Logger
}

// Hunter is the scheduled hunt, the seed's own use case ("which devices
// talked to URLs that OTX calls malicious"): every run, the live IP,
// domain and URL indicators are matched against the workspaces' network
// telemetry (DeviceNetworkEvents, CommonSecurityLog) by batched KQL
// queries. has_any is a coarse filter, so every row is checked with the
// matcher; each confirmed hit becomes an alert (source "ti-hunt") naming
// the device, the destination, the indicator and its feeds, one per
// device and indicator: later hits of the pair are re-sends of it.
type Hunter struct {
	svc  *Service
	ws   []HuntWorkspace
	runs HuntRuns
	o    HuntOptions
	log  *slog.Logger
}

// NewHunter returns the hunt over the service's matcher, submitting hits
// through its opener (OpenItems).
func NewHunter(svc *Service, ws []HuntWorkspace, runs HuntRuns, o HuntOptions) *Hunter {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Lookback <= 0 {
		o.Lookback = 70 * time.Minute
	}
	if o.Limits == (hunt.Limits{}) {
		o.Limits = hunt.DefaultLimits()
	}
	return &Hunter{svc: svc, ws: ws, runs: runs, o: o, log: o.Log.With("component", "ti-hunt")}
}

// Name is the module's name.
func (h *Hunter) Name() string { return HuntName }

// UpdateAll runs the hunt once over every workspace.
func (h *Hunter) UpdateAll(ctx context.Context) error {
	if h.svc.opener == nil {
		return errors.New("ti hunt: no ingest pipeline to submit hits to")
	}
	now := h.o.Clock.Now()
	var inds []hunt.Indicator
	h.svc.m.All(func(in intel.Indicator) bool {
		if (in.Type == intel.IP || in.Type == intel.Domain || in.Type == intel.URL) && in.Confidence >= h.o.MinConfidence &&
			(in.ValidUntil.IsZero() || in.ValidUntil.After(now)) {
			feed := ""
			if len(in.Feeds) > 0 {
				feed = in.Feeds[0]
			}
			inds = append(inds, hunt.Indicator{Type: in.Type, Value: in.Value, Feed: feed, Confidence: in.Confidence})
		}
		return true
	})
	run, err := h.runs.FeedRunOf(ctx, HuntName)
	if err != nil {
		return err
	}
	if len(inds) == 0 {
		run.Added, run.Skipped = 0, 0
		return h.runs.SaveFeedRun(ctx, run, nil)
	}
	queries := hunt.Queries(inds, h.o.Lookback, h.o.Limits)
	timespan := fmt.Sprintf("PT%dS", int64(h.o.Lookback/time.Second))
	alerts := map[string]alert.Alert{}
	var order []string
	bad, rows := 0, 0
	var errs []error
	for _, w := range h.ws {
		for _, q := range queries {
			res, err := w.Q.Query(ctx, w.ID, q.KQL, timespan)
			var partial *loganalytics.PartialError
			switch {
			case errors.As(err, &partial):
				h.log.Warn("hunt query answered in part", "workspace", w.Name, "table", q.Table, "err", err)
			case err != nil:
				errs = append(errs, fmt.Errorf("workspace %s, %s: %w", w.Name, q.Table, err))
				continue
			}
			recs := res.Primary().Records()
			rows += len(recs)
			if len(recs) >= h.o.Limits.MaxRows && h.o.Limits.MaxRows > 0 {
				h.log.Warn("hunt query hit its row bound: shorten the lookback or the batch", "workspace", w.Name, "table", q.Table, "rows", len(recs))
			}
			hits, n := hunt.Hits(q.Table, recs)
			bad += n
			for _, hit := range hits {
				for _, a := range h.confirm(w, hit, now) {
					if prev, ok := alerts[a.SourceID]; ok {
						a.FirstSeen = minTime(prev.FirstSeen, a.FirstSeen)
						a.LastSeen = maxTime(prev.LastSeen, a.LastSeen)
					} else {
						order = append(order, a.SourceID)
					}
					alerts[a.SourceID] = a
				}
			}
		}
	}
	batch := make([]alert.Alert, 0, len(order))
	for _, id := range order {
		batch = append(batch, alerts[id])
	}
	for len(batch) > 0 {
		n := min(len(batch), 500)
		if _, err := h.svc.opener.Submit(ctx, Actor, batch[:n]); err != nil {
			errs = append(errs, fmt.Errorf("submit hunt hits: %w", err))
			break
		}
		batch = batch[n:]
	}
	passErr := errors.Join(errs...)
	run.Added, run.Skipped = len(order), bad
	h.log.Info("hunt", "indicators", len(inds), "queries", len(queries)*len(h.ws), "rows", rows, "hits", len(order), "bad_rows", bad, "err", passErr)
	if err := h.runs.SaveFeedRun(ctx, run, passErr); err != nil {
		return errors.Join(passErr, err)
	}
	return passErr
}

// confirm checks a row's destinations with the matcher and makes an
// alert per indicator matched.
func (h *Hunter) confirm(w HuntWorkspace, hit hunt.Hit, now time.Time) []alert.Alert {
	var out []alert.Alert
	seen := map[intel.Key]bool{}
	for _, d := range []struct{ typ, value string }{{intel.IP, hit.RemoteIP}, {intel.URL, hit.RemoteURL}, {intel.Domain, hit.RemoteHost}} {
		if d.value == "" {
			continue
		}
		for _, m := range h.svc.m.Lookup(d.typ, d.value, now) {
			k := intel.Key{Type: m.Indicator.Type, Value: m.Indicator.Value}
			if seen[k] || m.Indicator.Confidence < h.o.MinConfidence {
				continue
			}
			seen[k] = true
			if a, err := h.hitAlert(w, hit, m, now); err == nil {
				out = append(out, a)
			} else {
				h.log.Warn("hunt hit not turned into an alert", "err", err)
			}
		}
	}
	return out
}

func (h *Hunter) hitAlert(w HuntWorkspace, hit hunt.Hit, m intel.Match, now time.Time) (alert.Alert, error) {
	in := m.Indicator
	device := hit.DeviceName
	if device == "" {
		device = hit.LocalIP
	}
	dest := firstOf(hit.RemoteURL, hit.RemoteHost, hit.RemoteIP)
	sev := alert.SeverityMedium
	if in.Confidence >= 75 {
		sev = alert.SeverityHigh
	}
	var ents []alert.Entity
	add := func(k alert.EntityKind, v string) {
		if v != "" {
			ents = append(ents, alert.Entity{Kind: k, Value: v})
		}
	}
	add(alert.EntityHost, hit.DeviceName)
	add(alert.EntityIP, hit.LocalIP)
	add(alert.EntityIP, hit.RemoteIP)
	if hit.RemoteURL != "" && strings.Contains(hit.RemoteURL, "://") {
		add(alert.EntityURL, hit.RemoteURL)
	}
	if hit.RemoteHost != "" && !isIP(hit.RemoteHost) {
		add(alert.EntityDomain, hit.RemoteHost)
	}
	when := hit.Time
	if when.IsZero() || when.After(now) {
		when = now
	}
	process := ""
	if hit.Process != "" {
		process = fmt.Sprintf(" (%s)", hit.Process)
	}
	a := alert.Alert{
		Source:   HuntSource,
		SourceID: fmt.Sprintf("%s/%s/%s/%s/%s", w.ID, hit.Table, strings.ToLower(firstOf(hit.DeviceID, device)), in.Type, in.Value),
		Product:  hit.Table,
		Title:    fmt.Sprintf("%s talked to known indicator %s", firstOf(device, "A device"), in.Value),
		Description: fmt.Sprintf("The hunt over workspace %s found, in %s, %s%s connecting to %s (port %d), which matches indicator %s %s (%s; feeds %s; confidence %d).",
			w.Name, hit.Table, firstOf(device, "a device"), process, dest, hit.Port, in.Type, in.Value, m.Via, strings.Join(in.Feeds, ", "), in.Confidence),
		Severity:  sev,
		Entities:  ents,
		FirstSeen: when,
		LastSeen:  when,
	}
	return a, a.Normalize(now)
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func isIP(s string) bool {
	_, err := intel.Normalize(intel.IP, s)
	return err == nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
