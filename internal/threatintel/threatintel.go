// Package threatintel keeps vigil's indicators and matches them: feeds
// (package feeds) run as an engine module, each pass from its stored
// cursor; new indicators are stored, merged across feeds, loaded into the
// in-memory matcher (package intel), and retro-hunted over the entities
// of the last 30 days' alerts; every ingested alert's entities are
// matched as they arrive. A match is recorded once per item and
// indicator, tagged "ti-match" on the item, written on its timeline with
// the indicator, its feeds and its confidence, and commented — the
// comment is mirrored to the item's Sentinel incidents and Graph alerts
// like any comment.
//
// Decisions where the issue is silent:
//   - An indicator with no confidence from its feed counts as 50
//     (feeds.DefaultConfidence).
//   - Entity kinds map to indicator types: ip, domain, url, file hash (by
//     length), an account that is an address (email); hosts are matched
//     as domains when they have a dot.
//   - Retro-hunting annotates the existing items by default; configured
//     to, it opens a new item (an alert of source "threat-intel") for
//     each match, or only where the earlier item is closed, and notes the
//     new item on the old one's timeline.
package threatintel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/feeds"
	"github.com/vigil-soc/vigil/internal/intel"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// Tag marks an item one of whose entities matched an indicator.
const Tag = "ti-match"

// Actor is who writes the matches.
const Actor = "threat-intel"

// upsertChunk is how many indicators one store transaction takes.
const upsertChunk = 1000

// RetroWindow is how far back new indicators are hunted.
const RetroWindow = 30 * 24 * time.Hour

// Store is what threat intelligence keeps.
type Store interface {
	UpsertIndicators(ctx context.Context, inds []intel.Indicator) (int, error)
	Indicators(ctx context.Context, now, changedSince time.Time, fn func(intel.Indicator)) error
	IndicatorChanges(ctx context.Context, now, since time.Time, fn func(in intel.Indicator, live bool)) error
	AllowlistKeys(ctx context.Context) ([]intel.Key, error)
	FeedRunOf(ctx context.Context, name string) (store.FeedRun, error)
	SaveFeedRun(ctx context.Context, f store.FeedRun, passErr error) error
	EntitiesSince(ctx context.Context, since time.Time, fn func(store.EntitySighting) error) error
	RecordMatch(ctx context.Context, m store.TIMatch) (bool, error)
	TIMatches(ctx context.Context, itemID int64) ([]store.TIMatch, error)
	AppendTimeline(ctx context.Context, itemID int64, actor, kind, message string, data any) error
	Enqueue(ctx context.Context, msgs []outbox.Message, entries []workitem.Entry) (int, error)
}

// Items is what a match does to its item.
type Items interface {
	Get(ctx context.Context, actor auth.Actor, id int64) (workitem.Item, error)
	Update(ctx context.Context, actor auth.Actor, id int64, p workitem.Patch, ifRev int) (workitem.Item, error)
	Comment(ctx context.Context, actor auth.Actor, id int64, body string) (workitem.Comment, error)
}

// Service is threat intelligence.
type Service struct {
	st    Store
	items Items
	feeds []feeds.Feed
	m     *intel.Matcher
	clk   clock.Clock
	log   *slog.Logger

	loaded atomic.Int64 // when the matcher was last loaded or refreshed (Unix ns)
	// allowed is the allow-list, reloaded with the matcher: a feed pass
	// leaves these values out of the matcher and out of its retro-hunt.
	allowed atomic.Pointer[map[intel.Key]bool]
	admin   Admin
	// opener and retroMode: what a retro-hunt match does (OpenItems).
	opener    Opener
	retroMode string
	tracked   []tracked // modules shown in feed health beside the feeds
}

// New returns the service; Load fills its matcher from the store.
func New(st Store, items Items, fs []feeds.Feed, clk clock.Clock, log *slog.Logger) *Service {
	if clk == nil {
		clk = clock.Real{}
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Service{st: st, items: items, feeds: fs, m: intel.NewMatcher(), clk: clk, log: log.With("component", "threat-intel")}
	if a, ok := st.(Admin); ok {
		s.admin = a
	}
	return s
}

// Load reads every valid indicator into the matcher.
func (s *Service) Load(ctx context.Context) error {
	now := s.clk.Now()
	var all []intel.Indicator
	if err := s.st.Indicators(ctx, now, time.Time{}, func(in intel.Indicator) { all = append(all, in) }); err != nil {
		return err
	}
	if err := s.loadAllowlist(ctx); err != nil {
		return err
	}
	s.m.Load(all, now)
	s.loaded.Store(now.UnixNano())
	s.log.Info("indicators loaded", "count", s.m.Len())
	return nil
}

// Refresh adds the indicators feeds brought since the last load or
// refresh: the feeds module runs on one instance, and every instance
// matches what it ingests. (A local engine service on each instance.)
func (s *Service) Refresh(ctx context.Context) error {
	now := s.clk.Now()
	since := time.Unix(0, s.loaded.Load()).Add(-time.Minute) // feeds' clocks and commits overlap
	var fresh []intel.Indicator
	var gone []intel.Key
	if err := s.st.IndicatorChanges(ctx, now, since, func(in intel.Indicator, live bool) {
		if live {
			fresh = append(fresh, in)
		} else {
			gone = append(gone, intel.Key{Type: in.Type, Value: in.Value})
		}
	}); err != nil {
		return err
	}
	if err := s.loadAllowlist(ctx); err != nil {
		return err
	}
	s.m.Add(fresh, now)
	if len(gone) > 0 {
		s.m.Remove(gone...)
	}
	s.loaded.Store(now.UnixNano())
	return nil
}

// Watch refreshes the matcher every interval until ctx ends (an engine
// service, run on every instance).
func (s *Service) Watch(every time.Duration) func(ctx context.Context) {
	return func(ctx context.Context) {
		for {
			select {
			case <-ctx.Done():
				return
			case <-clock.After(s.clk, every):
			}
			if err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("refresh indicators", "err", err)
			}
		}
	}
}

func (s *Service) loadAllowlist(ctx context.Context) error {
	keys, err := s.st.AllowlistKeys(ctx)
	if err != nil {
		return err
	}
	m := make(map[intel.Key]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	s.allowed.Store(&m)
	return nil
}

func (s *Service) allowlist() map[intel.Key]bool {
	if p := s.allowed.Load(); p != nil {
		return *p
	}
	return nil
}

// Matcher is the in-memory matcher (for lookups by other modules).
func (s *Service) Matcher() *intel.Matcher { return s.m }

// Name is the feeds engine module's name.
func (s *Service) Name() string { return "ti-feeds" }

// UpdateAll runs one pass of every feed (the engine module): a feed that
// fails keeps its cursor and the others go on.
func (s *Service) UpdateAll(ctx context.Context) error {
	var errs []error
	for _, f := range s.feeds {
		if err := s.pass(ctx, f); err != nil {
			errs = append(errs, fmt.Errorf("feed %s: %w", f.Name(), err))
		}
	}
	return errors.Join(errs...)
}

func (s *Service) pass(ctx context.Context, f feeds.Feed) error {
	run, err := s.st.FeedRunOf(ctx, f.Name())
	if err != nil {
		return err
	}
	res, err := f.Pass(ctx, run.Cursor)
	if err != nil {
		return errors.Join(err, s.st.SaveFeedRun(ctx, run, err))
	}
	now := s.clk.Now()
	inds := make([]intel.Indicator, 0, len(res.Indicators))
	skipped := res.Skipped
	allowed := s.allowlist()
	var live []intel.Indicator  // what the matcher takes
	var fresh []intel.Indicator // what the retro-hunt takes: new, or newly from this feed
	for _, r := range res.Indicators {
		in, ok := convert(f.Name(), r, now)
		if !ok {
			skipped++
			continue
		}
		inds = append(inds, in)
		if !allowed[intel.Key{Type: in.Type, Value: in.Value}] {
			live = append(live, in)
			if known(s.m, in, feedName(f)) {
				continue // a feed listing it again: nothing new to hunt for
			}
			fresh = append(fresh, in)
		}
	}
	// In chunks: one transaction of a million indicators would hold the
	// single SQLite writer, and the ingest, for minutes.
	added := 0
	for chunk := range slices.Chunk(inds, upsertChunk) {
		n, err := s.st.UpsertIndicators(ctx, chunk)
		if err != nil {
			return errors.Join(err, s.st.SaveFeedRun(ctx, run, err))
		}
		added += n
	}
	s.m.Add(live, now)
	run.Cursor, run.Added, run.Skipped = res.Cursor, added, skipped
	if err := s.st.SaveFeedRun(ctx, run, nil); err != nil {
		return err
	}
	if len(inds) > 0 {
		s.log.Info("feed pass", "feed", f.Name(), "indicators", len(inds), "new", added, "skipped", skipped, "allow-listed", len(inds)-len(live), "pages", res.Pages)
		if len(fresh) == 0 {
			return nil
		}
		return s.retroHunt(ctx, fresh)
	}
	return nil
}

// known reports whether the matcher already holds in, listed by feed and
// valid at least as long: a retro-hunt of it would find nothing new.
func known(m *intel.Matcher, in intel.Indicator, feed string) bool {
	prev, ok := m.Get(in.Type, in.Value)
	if !ok || !slices.Contains(prev.Feeds, feed) {
		return false
	}
	if prev.ValidUntil.IsZero() {
		return true
	}
	return !in.ValidUntil.IsZero() && !in.ValidUntil.After(prev.ValidUntil)
}

func feedName(f feeds.Feed) string { return f.Name() }

// convert normalises a feed's indicator.
func convert(feed string, r feeds.Indicator, now time.Time) (intel.Indicator, bool) {
	if r.Type == "" {
		return intel.Indicator{}, false
	}
	v, err := intel.Normalize(r.Type, r.Value)
	if err != nil {
		return intel.Indicator{}, false
	}
	seen := r.FirstSeen
	if seen.IsZero() {
		seen = now
	}
	conf := r.Confidence
	if conf == 0 {
		conf = feeds.DefaultConfidence
	}
	return intel.Indicator{Type: r.Type, Value: v, Feeds: []string{feed}, Confidence: conf, Tags: r.Tags,
		FirstSeen: seen, LastSeen: now, ValidUntil: r.ValidUntil}, true
}

// retroHunt matches new indicators against the entities of the last
// RetroWindow's alerts.
func (s *Service) retroHunt(ctx context.Context, inds []intel.Indicator) error {
	now := s.clk.Now()
	fresh := intel.NewMatcher()
	fresh.Load(inds, now)
	found := 0
	err := s.st.EntitiesSince(ctx, now.Add(-RetroWindow), func(es store.EntitySighting) error {
		for _, m := range lookup(fresh, es.Entity, now) {
			if err := s.retroMatch(ctx, es, m); err != nil {
				return err
			}
			found++
		}
		return nil
	})
	if found > 0 {
		s.log.Info("retro-hunt", "indicators", len(inds), "matches", found)
	}
	return err
}

// lookup matches one entity.
func lookup(m *intel.Matcher, e alert.Entity, now time.Time) []intel.Match {
	typ := EntityType(e)
	if typ == "" {
		return nil
	}
	return m.Lookup(typ, e.Value, now)
}

// EntityType maps an entity to an indicator type, or "": hashes by
// their length, an account by whether it is an address, and a host by
// whether it has a dot (a bare NetBIOS name is no domain).
func EntityType(e alert.Entity) string {
	switch e.Kind {
	case alert.EntityIP:
		return intel.IP
	case alert.EntityDomain:
		return intel.Domain
	case alert.EntityURL:
		return intel.URL
	case alert.EntityHost:
		if strings.Contains(e.Value, ".") {
			return intel.Domain
		}
	case alert.EntityAccount:
		if strings.Contains(e.Value, "@") {
			return intel.Email
		}
	case alert.EntityFileHash:
		switch len(e.Value) {
		case 32:
			return intel.MD5
		case 40:
			return intel.SHA1
		case 64:
			return intel.SHA256
		}
	}
	return ""
}

// Ingested matches the entities of newly stored alerts (an ingest
// observer). The lookups are in memory; what a match does to its item
// (several writes) is queued, one outbox transaction per batch, so that
// a burst of matches does not slow the ingest down.
func (s *Service) Ingested(ctx context.Context, alerts []alert.Alert, results []store.IngestResult) {
	if s.m.Len() == 0 {
		return
	}
	now := s.clk.Now()
	var msgs []outbox.Message
	for i, r := range results {
		if r.WorkItemID == 0 || i >= len(alerts) {
			continue
		}
		for _, e := range alerts[i].Entities {
			for _, m := range lookup(s.m, e, now) {
				b, _ := json.Marshal(annotation{Sighting: store.EntitySighting{AlertID: r.AlertID, WorkItemID: r.WorkItemID, Entity: e}, Match: m})
				msgs = append(msgs, outbox.Message{WorkItemID: r.WorkItemID, Target: Target, Op: "ti.match",
					Resource: m.Indicator.Type + ":" + m.Indicator.Value, Payload: b,
					IdemKey: fmt.Sprintf("ti/item/%d/%s/%s", r.WorkItemID, m.Indicator.Type, m.Indicator.Value)})
			}
		}
	}
	if len(msgs) == 0 {
		return
	}
	if _, err := s.st.Enqueue(ctx, msgs, nil); err != nil {
		s.log.Warn("matches not queued", "matches", len(msgs), "err", err)
	}
}

// Target is the outbox target that applies matches found on ingest.
const Target = "ti"

// annotation is a queued match.
type annotation struct {
	Sighting store.EntitySighting `json:"sighting"`
	Match    intel.Match          `json:"match"`
}

var _ outbox.Target = (*Service)(nil)

// Send applies one queued match to its item (the outbox target).
func (s *Service) Send(ctx context.Context, m outbox.Message) error {
	var a annotation
	if err := json.Unmarshal(m.Payload, &a); err != nil {
		return fmt.Errorf("threat intel: decode outbox message %d: %w", m.ID, err)
	}
	return s.annotate(ctx, a.Sighting, a.Match, false)
}

// annotate records a match on its item once: the match, the tag, the
// timeline and a comment.
func (s *Service) annotate(ctx context.Context, es store.EntitySighting, m intel.Match, retro bool) error {
	in := m.Indicator
	first, err := s.st.RecordMatch(ctx, store.TIMatch{WorkItemID: es.WorkItemID, AlertID: es.AlertID, Entity: es.Entity.Value,
		Type: in.Type, Value: in.Value, Feeds: in.Feeds, Confidence: in.Confidence, Via: m.Via, Retro: retro})
	if err != nil || !first {
		return err
	}
	actor := auth.Actor{Kind: "system", Name: Actor, Role: auth.RoleAdmin}
	how := "as it arrived"
	if retro {
		how = "by a retro-hunt of a new indicator"
	}
	msg := fmt.Sprintf("threat intelligence: %s %s matches indicator %s %s (%s; feeds %s; confidence %d), found %s",
		es.Entity.Kind, es.Entity.Value, in.Type, in.Value, m.Via, strings.Join(in.Feeds, ", "), in.Confidence, how)
	data := map[string]any{"indicator": in.Value, "type": in.Type, "feeds": in.Feeds, "confidence": in.Confidence, "via": m.Via, "retro": retro}
	if err := s.st.AppendTimeline(ctx, es.WorkItemID, Actor, workitem.KindSync, msg, data); err != nil {
		return err
	}
	it, err := s.items.Get(ctx, actor, es.WorkItemID)
	if err != nil {
		return err
	}
	if !slices.Contains(it.Tags, Tag) {
		tags := append(slices.Clone(it.Tags), Tag)
		if _, err := s.items.Update(ctx, actor, es.WorkItemID, workitem.Patch{Tags: &tags}, 0); err != nil {
			return fmt.Errorf("tag item %d: %w", es.WorkItemID, err)
		}
	}
	body := fmt.Sprintf("Threat intelligence: %s %s is a known indicator (%s %s; feeds: %s; confidence %d%s).",
		es.Entity.Kind, es.Entity.Value, in.Type, in.Value, strings.Join(in.Feeds, ", "), in.Confidence, tagList(in.Tags))
	_, err = s.items.Comment(ctx, actor, es.WorkItemID, body)
	return err
}

func tagList(tags []string) string {
	if len(tags) == 0 {
		return ""
	}
	if len(tags) > 5 {
		tags = tags[:5]
	}
	return "; tags: " + strings.Join(tags, ", ")
}

// Matches lists an item's matches.
func (s *Service) Matches(ctx context.Context, actor auth.Actor, itemID int64) ([]store.TIMatch, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return nil, err
	}
	return s.st.TIMatches(ctx, itemID)
}

// Facts answers automation rules' ti.* for an alert's entities: whether
// any matches an indicator, the highest confidence, and the feeds.
func (s *Service) Facts(entities []alert.Entity) (bool, int, []string) {
	if s.m.Len() == 0 {
		return false, 0, nil
	}
	now := s.clk.Now()
	matched, conf := false, 0
	var fs []string
	for _, e := range entities {
		for _, m := range lookup(s.m, e, now) {
			matched = true
			conf = max(conf, m.Indicator.Confidence)
			for _, f := range m.Indicator.Feeds {
				if !slices.Contains(fs, f) {
					fs = append(fs, f)
				}
			}
		}
	}
	return matched, conf, fs
}
