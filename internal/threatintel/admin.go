package threatintel

import (
	"context"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/intel"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/validation"
)

// Admin is what the indicators page, feed health and the entity page
// read and change.
type Admin interface {
	SearchIndicators(ctx context.Context, q store.IndicatorQuery, now time.Time) ([]store.IndicatorRow, int, error)
	IndicatorOf(ctx context.Context, typ, value string, now time.Time) (store.IndicatorRow, error)
	ExpireIndicator(ctx context.Context, typ, value string) error
	Allowlist(ctx context.Context, typ, value, reason, by string) error
	Unallowlist(ctx context.Context, typ, value string) error
	FeedRuns(ctx context.Context) ([]store.FeedRun, error)
	IndicatorCounts(ctx context.Context, now time.Time) (map[string]int, error)
	EntityProfileOf(ctx context.Context, value string) (store.EntityProfile, error)
	RecordAudit(ctx context.Context, e store.AuditEntry) error
}

// SetAdmin gives the service the store's administration side (the store
// itself, in the product).
func (s *Service) SetAdmin(a Admin) { s.admin = a }

// Search lists indicators for the indicators page.
func (s *Service) Search(ctx context.Context, actor auth.Actor, q store.IndicatorQuery) ([]store.IndicatorRow, int, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return nil, 0, err
	}
	if q.Type != "" {
		q.Type = strings.ToLower(strings.TrimSpace(q.Type))
	}
	return s.admin.SearchIndicators(ctx, q, s.clk.Now())
}

// key validates and normalises an indicator named by a person.
func key(typ, value string) (intel.Key, error) {
	typ = strings.ToLower(strings.TrimSpace(typ))
	if typ == "" {
		return intel.Key{}, validation.NewFieldError("type", "is required (one of %s)", strings.Join(intel.Types, ", "))
	}
	known := false
	for _, t := range intel.Types {
		known = known || t == typ
	}
	if !known {
		return intel.Key{}, validation.NewFieldError("type", "unknown indicator type %q (want one of %s)", typ, strings.Join(intel.Types, ", "))
	}
	if strings.TrimSpace(value) == "" {
		return intel.Key{}, validation.NewFieldError("value", "is required")
	}
	v, err := intel.Normalize(typ, value)
	if err != nil {
		return intel.Key{}, validation.NewFieldError("value", "is not a valid %s: %v", typ, err)
	}
	return intel.Key{Type: typ, Value: v}, nil
}

// Indicator returns one indicator.
func (s *Service) Indicator(ctx context.Context, actor auth.Actor, typ, value string) (store.IndicatorRow, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return store.IndicatorRow{}, err
	}
	k, err := key(typ, value)
	if err != nil {
		return store.IndicatorRow{}, err
	}
	return s.admin.IndicatorOf(ctx, k.Type, k.Value, s.clk.Now())
}

// Expire ends an indicator's validity now. This instance's matcher drops
// it at once, the others at their next refresh (a minute).
func (s *Service) Expire(ctx context.Context, actor auth.Actor, typ, value string) (store.IndicatorRow, error) {
	return s.change(ctx, actor, typ, value, "indicator.expired", nil, func(k intel.Key) error {
		return s.admin.ExpireIndicator(ctx, k.Type, k.Value)
	})
}

// Allowlist makes a value never match, whatever the feeds say, with the
// reason on record.
func (s *Service) Allowlist(ctx context.Context, actor auth.Actor, typ, value, reason string) (store.IndicatorRow, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return store.IndicatorRow{}, validation.NewFieldError("reason", "is required: say why this value is safe")
	}
	if len(reason) > 500 {
		return store.IndicatorRow{}, validation.NewFieldError("reason", "is %d characters, more than 500", len(reason))
	}
	return s.change(ctx, actor, typ, value, "indicator.allowlisted", map[string]any{"reason": reason}, func(k intel.Key) error {
		return s.admin.Allowlist(ctx, k.Type, k.Value, reason, actor.String())
	})
}

// Unallowlist lets a value match again.
func (s *Service) Unallowlist(ctx context.Context, actor auth.Actor, typ, value string) (store.IndicatorRow, error) {
	return s.change(ctx, actor, typ, value, "indicator.unallowlisted", nil, func(k intel.Key) error {
		return s.admin.Unallowlist(ctx, k.Type, k.Value)
	})
}

// change applies an analyst's change to an indicator: checked, audited,
// and applied to this instance's matcher at once.
func (s *Service) change(ctx context.Context, actor auth.Actor, typ, value, action string, detail map[string]any, fn func(intel.Key) error) (store.IndicatorRow, error) {
	if err := actor.Check(auth.ActionTriage); err != nil {
		return store.IndicatorRow{}, err
	}
	k, err := key(typ, value)
	if err != nil {
		return store.IndicatorRow{}, err
	}
	if err := fn(k); err != nil {
		return store.IndicatorRow{}, err
	}
	if detail == nil {
		detail = map[string]any{}
	}
	detail["type"] = k.Type
	if err := s.admin.RecordAudit(ctx, store.AuditEntry{Actor: actor.String(), Action: action, Target: k.Type + ":" + k.Value, Detail: detail}); err != nil {
		s.log.Warn("audit indicator change", "action", action, "err", err)
	}
	if err := s.Refresh(ctx); err != nil {
		s.log.Warn("refresh after an indicator change", "err", err)
	}
	row, err := s.admin.IndicatorOf(ctx, k.Type, k.Value, s.clk.Now())
	if err != nil && action == "indicator.allowlisted" {
		// An allow-listed value need not be an indicator yet.
		return store.IndicatorRow{Indicator: intel.Indicator{Type: k.Type, Value: k.Value}, State: store.IndicatorAllowlisted}, nil
	}
	return row, err
}

// Track adds a module that keeps its runs beside the feeds' (the upload
// to Sentinel, the telemetry hunt) to feed health, with how often it
// runs.
func (s *Service) Track(name string, every time.Duration) {
	s.tracked = append(s.tracked, tracked{name, every})
}

type tracked struct {
	name  string
	every time.Duration
}

// FeedHealth is a feed's state as the connector page shows it.
type FeedHealth struct {
	store.FeedRun
	Indicators int  `json:"indicators"` // live indicators it lists
	Healthy    bool `json:"healthy"`    // its last pass succeeded
	Stale      bool `json:"stale"`      // no successful pass in three intervals
	Configured bool `json:"configured"` // still in the configuration
}

// Feeds reports every feed's health: the configured ones, and those that
// ran before and are no longer configured.
func (s *Service) Feeds(ctx context.Context, actor auth.Actor, interval time.Duration) ([]FeedHealth, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return nil, err
	}
	runs, err := s.admin.FeedRuns(ctx)
	if err != nil {
		return nil, err
	}
	now := s.clk.Now()
	counts, err := s.admin.IndicatorCounts(ctx, now)
	if err != nil {
		return nil, err
	}
	byName := map[string]store.FeedRun{}
	for _, r := range runs {
		byName[r.Name] = r
	}
	var out []FeedHealth
	add := func(r store.FeedRun, configured bool) {
		h := FeedHealth{FeedRun: r, Indicators: counts[r.Name], Configured: configured}
		h.Healthy = !r.LastRunAt.IsZero() && r.LastError == ""
		h.Stale = configured && interval > 0 && (r.LastOKAt.IsZero() || now.Sub(r.LastOKAt) > 3*interval)
		out = append(out, h)
	}
	seen := map[string]bool{}
	for _, f := range s.feeds {
		r, ok := byName[f.Name()]
		if !ok {
			r = store.FeedRun{Name: f.Name()}
		}
		seen[f.Name()] = true
		add(r, true)
	}
	for _, t := range s.tracked {
		r, ok := byName[t.name]
		if !ok {
			r = store.FeedRun{Name: t.name}
		}
		seen[t.name] = true
		h := interval
		interval = t.every
		add(r, true)
		interval = h
	}
	for _, r := range runs {
		if !seen[r.Name] {
			add(r, false)
		}
	}
	return out, nil
}

// Entity is everything vigil knows about one value: its items, alerts,
// enrichments and matches, and the indicator it is, if any.
type Entity struct {
	store.EntityProfile
	Indicator *store.IndicatorRow `json:"indicator,omitempty"`
	// Matching lists the live indicators the value matches now (itself,
	// a CIDR range holding it, a parent domain…).
	Matching []intel.Match `json:"matching"`
}

// Entity gathers an entity's profile.
func (s *Service) Entity(ctx context.Context, actor auth.Actor, value string) (Entity, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return Entity{}, err
	}
	p, err := s.admin.EntityProfileOf(ctx, value)
	if err != nil {
		return Entity{}, err
	}
	e := Entity{EntityProfile: p, Matching: []intel.Match{}}
	if typ, ok := intel.Guess(p.Value); ok {
		if v, err := intel.Normalize(typ, p.Value); err == nil {
			if row, err := s.admin.IndicatorOf(ctx, typ, v, s.clk.Now()); err == nil {
				e.Indicator = &row
			}
			if ms := s.m.Lookup(typ, v, s.clk.Now()); ms != nil {
				e.Matching = ms
			}
		}
	}
	return e, nil
}
