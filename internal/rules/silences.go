package rules

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/alertmanager"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/compat"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/validation"
)

// Silences are Alertmanager's silences kept as vigil's time-boxed
// suppression rules: a silence is a rule that suppresses new alerts of
// the Alertmanager source whose labels its matchers match, from its
// startsAt to its endsAt. It shows on the rules page like any rule, it
// expires by itself, and it is explained on the timeline of what it
// suppressed. amtool and the API v2 see every rule that is a silence,
// whether it was made there or in vigil's UI.

// silenceOrder places silences before the other rules: a silenced alert
// is not judged further, as in Alertmanager.
const silenceOrder = -1000

// Silences lists every silence, Alertmanager's way: by state, then time.
func (s *Service) Silences(ctx context.Context, actor auth.Actor) ([]alertmanager.GettableSilence, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return nil, err
	}
	rs, err := s.st.ListRules(ctx)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	var out []alertmanager.GettableSilence
	for _, r := range rs {
		if g, ok := gettable(r, now); ok {
			out = append(out, g)
		}
	}
	return out, nil
}

// Silence returns one silence by its id.
func (s *Service) Silence(ctx context.Context, actor auth.Actor, id string) (alertmanager.GettableSilence, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return alertmanager.GettableSilence{}, err
	}
	r, err := s.silenceRule(ctx, id)
	if err != nil {
		return alertmanager.GettableSilence{}, err
	}
	g, _ := gettable(r, s.clock.Now())
	return g, nil
}

// SilenceID says which silence suppressed an alert: the rule's silence
// id, or "" when the rule is no silence.
func (s *Service) SilenceID(ctx context.Context, ruleID int64) string {
	r, err := s.st.GetRule(ctx, ruleID)
	if err != nil || r.Silence == nil {
		return ""
	}
	return r.Silence.ID
}

// SaveSilence creates a silence, or replaces the one its id names (as
// Alertmanager does: the old one expires, the new one takes its place;
// here the rule gets a new version with the same id). Responders may
// silence, as in Alertmanager anyone who may reach it may.
func (s *Service) SaveSilence(ctx context.Context, actor auth.Actor, p alertmanager.PostableSilence) (string, error) {
	if err := actor.Check(auth.ActionTriage); err != nil {
		return "", err
	}
	now := s.clock.Now()
	var id int64
	if p.ID != "" {
		r, err := s.silenceRule(ctx, p.ID)
		if err != nil {
			return "", err
		}
		if r.Expired(now) {
			return "", validation.NewFieldError("id", "silence %s has expired; make a new one", p.ID)
		}
		id = r.ID
	} else {
		p.ID = newSilenceID()
	}
	g := alertmanager.NewGettableSilence(p, p.ID, now)
	cond, err := SilenceCondition(g.Matchers)
	if err != nil {
		return "", err
	}
	ms := make([]automation.SilenceMatcher, len(g.Matchers))
	for i, m := range g.Matchers {
		ms[i] = automation.SilenceMatcher{Name: m.Name, Value: m.Value, IsRegex: m.Type.IsRegex(), IsEqual: m.Type.IsEqual()}
	}
	start, end := g.StartsAt, g.EndsAt
	d := automation.Definition{
		Name:        "Silence " + p.ID[:8] + ": " + clipName(g.Matchers.String()),
		Description: fmt.Sprintf("Alertmanager silence by %s: %s", g.CreatedBy, g.Comment),
		Enabled:     true, Order: silenceOrder,
		Triggers: []string{string(automation.AlertCreated)}, Sources: []string{compat.SourceAlertmanager},
		Condition: cond, Actions: []automation.ActionSpec{{Type: automation.ActSuppress}},
		StartsAt: &start, ExpiresAt: &end,
		Silence: &automation.Silence{ID: p.ID, Matchers: ms, CreatedBy: g.CreatedBy, Comment: g.Comment},
	}
	if err := s.Check(&d); err != nil {
		return "", err
	}
	r, err := s.st.SaveRule(ctx, id, d, actor.String())
	if err != nil {
		return "", err
	}
	if _, err := s.Reload(ctx); err != nil {
		return p.ID, fmt.Errorf("silence saved, but reloading the rules failed: %w", err)
	}
	s.log.Info("silence saved", "silence", p.ID, "rule_id", r.ID, "matchers", g.Matchers.String(), "actor", actor.String())
	return p.ID, nil
}

// ExpireSilence ends a silence now (amtool silence expire). An expired
// silence stays listed, expired, until the rules' retention removes it.
func (s *Service) ExpireSilence(ctx context.Context, actor auth.Actor, id string) error {
	if err := actor.Check(auth.ActionTriage); err != nil {
		return err
	}
	r, err := s.silenceRule(ctx, id)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	if r.Expired(now) {
		// Alertmanager answers 500 "silence … already expired"; a clear
		// 400 says the same.
		return validation.NewFieldError("silenceID", "silence %s has already expired", id)
	}
	d := r.Definition
	d.ExpiresAt = &now
	if d.StartsAt != nil && !d.StartsAt.Before(now) {
		// A pending silence (or one made this instant) expires without
		// ever having applied: its window closes as it opens.
		start := now.Add(-time.Millisecond)
		d.StartsAt = &start
	}
	if err := s.Check(&d); err != nil {
		return err
	}
	if _, err := s.st.SaveRule(ctx, r.ID, d, actor.String()); err != nil {
		return err
	}
	_, err = s.Reload(ctx)
	return err
}

func (s *Service) silenceRule(ctx context.Context, id string) (store.StoredRule, error) {
	rs, err := s.st.ListRules(ctx)
	if err != nil {
		return store.StoredRule{}, err
	}
	for _, r := range rs {
		if r.Silence != nil && r.Silence.ID == id {
			return r, nil
		}
	}
	return store.StoredRule{}, fmt.Errorf("silence %s: %w", id, validation.ErrNotFound)
}

// gettable renders a rule that is a silence in the API's shape.
func gettable(r store.StoredRule, now time.Time) (alertmanager.GettableSilence, bool) {
	if r.Silence == nil {
		return alertmanager.GettableSilence{}, false
	}
	g := alertmanager.GettableSilence{ID: r.Silence.ID, UpdatedAt: r.UpdatedAt, CreatedBy: r.Silence.CreatedBy, Comment: r.Silence.Comment,
		Annotations: map[string]string{"vigil_rule": strconv.FormatInt(r.ID, 10)}}
	for _, m := range r.Silence.Matchers {
		t := alertmanager.MatchEqual
		switch {
		case m.IsRegex && m.IsEqual:
			t = alertmanager.MatchRegexp
		case m.IsRegex:
			t = alertmanager.MatchNotRegexp
		case !m.IsEqual:
			t = alertmanager.MatchNotEqual
		}
		mm, err := alertmanager.NewMatcher(t, m.Name, m.Value)
		if err != nil {
			continue
		}
		g.Matchers = append(g.Matchers, mm)
	}
	if r.StartsAt != nil {
		g.StartsAt = *r.StartsAt
	} else {
		g.StartsAt = r.CreatedAt
	}
	if r.ExpiresAt != nil {
		g.EndsAt = *r.ExpiresAt
	}
	return g.WithState(now), true
}

// SilenceCondition is a silence's matchers as a rule condition over the
// vocabulary's labels, with Alertmanager's semantics: a missing label is
// the empty string, and a regex must match the whole value.
func SilenceCondition(ms alertmanager.Matchers) (string, error) {
	if len(ms) == 0 {
		return "", validation.NewFieldError("matchers", "at least one matcher is required")
	}
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		v := fmt.Sprintf("(%s in labels ? labels[%s] : \"\")", celString(m.Name), celString(m.Name))
		switch m.Type {
		case alertmanager.MatchEqual:
			parts = append(parts, v+" == "+celString(m.Value))
		case alertmanager.MatchNotEqual:
			parts = append(parts, v+" != "+celString(m.Value))
		case alertmanager.MatchRegexp:
			parts = append(parts, v+".matches("+celString("^(?:"+m.Value+")$")+")")
		case alertmanager.MatchNotRegexp:
			parts = append(parts, "!"+v+".matches("+celString("^(?:"+m.Value+")$")+")")
		default:
			return "", validation.NewFieldError("matchers", "unknown match type %q", m.Type)
		}
	}
	return strings.Join(parts, " && "), nil
}

// celString quotes s as a CEL string literal: Go's quoting, whose escapes
// (\", \\, \n, \xHH, \uHHHH) CEL reads the same way.
func celString(s string) string { return strconv.Quote(s) }

func clipName(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// newSilenceID is a random UUID (version 4), as Alertmanager's ids are.
func newSilenceID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
