// Package enrichment runs enrichment providers (package enrich) on the
// entities of work items: by hand ("Enrich" on an item, the API) and as
// an automation rule's "playbook" action. Each provider call is an
// outbox message (target "enrich"), so that it is retried with backoff,
// honours the provider's Retry-After, waits for the provider's quota
// (held, never dropped, never counted as a failed attempt), and is never
// doubled. A report is stored, summarised as a comment on the item —
// which the item's write-backs mirror to its Sentinel incidents and
// Graph alerts — and its verdict shown as a badge on the entity.
//
// Decisions where the issue is silent:
//   - A fresh report of the same provider on the same observable (within
//     the cache TTL, 24 hours by default) is reused: it is saved for the
//     new item marked cached, and costs no quota.
//   - Entities map to Cortex data types: ip → ip, domain → domain, url →
//     url, file hash → hash, an account that is an address → mail, a host
//     with a dot → fqdn (asked as a domain of providers that take no fqdn).
//   - A comment may be posted twice if vigil dies between posting it and
//     recording the outbox message done (at least once, as email is).
package enrichment

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/enrich"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// Target is the outbox target of enrichment calls.
const Target = "enrich"

// Actor is who posts enrichment comments.
const Actor = "enrichment"

// DefaultTTL is how long a report is reused.
const DefaultTTL = 24 * time.Hour

// Store is what enrichment keeps.
type Store interface {
	ItemEntities(ctx context.Context, itemID int64) ([]alert.Entity, error)
	SaveEnrichment(ctx context.Context, e store.Enrichment) (store.Enrichment, bool, error)
	EnrichmentByKey(ctx context.Context, key string) (store.Enrichment, bool, error)
	RecentEnrichment(ctx context.Context, provider, dataType, data string, since time.Time) (store.Enrichment, bool, error)
	ProviderCalls(ctx context.Context, provider string, since time.Time) (int, time.Time, error)
	Enrichments(ctx context.Context, itemID int64) ([]store.Enrichment, error)
	Enqueue(ctx context.Context, msgs []outbox.Message, entries []workitem.Entry) (int, error)
}

// Items is what enrichment does to work items.
type Items interface {
	Get(ctx context.Context, actor auth.Actor, id int64) (workitem.Item, error)
	Update(ctx context.Context, actor auth.Actor, id int64, p workitem.Patch, ifRev int) (workitem.Item, error)
	Comment(ctx context.Context, actor auth.Actor, id int64, body string) (workitem.Comment, error)
}

// Options configure the service.
type Options struct {
	Clock  clock.Clock
	Logger *slog.Logger
	TTL    time.Duration
	// TTLs are per-provider reuse times, by provider name; they win over
	// TTL and over a provider's own CacheTTL. Zero or less: never reuse.
	TTLs map[string]time.Duration
	// Poke wakes the outbox sender after calls are queued.
	Poke func()
}

// Service runs enrichment.
type Service struct {
	st        Store
	items     Items
	providers []enrich.Provider
	o         Options
	log       *slog.Logger
	flight    flights
}

// New returns the service over providers (in the order they are tried
// and listed).
func New(st Store, items Items, providers []enrich.Provider, o Options) *Service {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	return &Service{st: st, items: items, providers: providers, o: o, log: o.Logger.With("component", "enrichment")}
}

// Providers names the configured providers.
func (s *Service) Providers() []string {
	var out []string
	for _, p := range s.providers {
		out = append(out, p.Name())
	}
	return out
}

func (s *Service) provider(name string) (enrich.Provider, bool) {
	for _, p := range s.providers {
		if strings.EqualFold(p.Name(), name) {
			return p, true
		}
	}
	return nil, false
}

// DataType maps an entity to the Cortex data type providers take, or ""
// for an entity no provider looks up (a cloud resource, a bare host name).
func DataType(e alert.Entity) string {
	switch e.Kind {
	case alert.EntityIP:
		return "ip"
	case alert.EntityDomain:
		return "domain"
	case alert.EntityURL:
		return "url"
	case alert.EntityFileHash:
		return "hash"
	case alert.EntityAccount:
		if strings.Contains(e.Value, "@") {
			return "mail"
		}
	case alert.EntityHost:
		if strings.Contains(e.Value, ".") {
			return "fqdn"
		}
	}
	return ""
}

// askAs is the data type to ask a provider for: an fqdn is asked as a
// domain of a provider that takes domains only.
func askAs(p enrich.Provider, dataType string) (string, bool) {
	if p.Supports(dataType) {
		return dataType, true
	}
	if dataType == "fqdn" && p.Supports("domain") {
		return "domain", true
	}
	return "", false
}

// call is an outbox message's payload.
type call struct {
	Provider string `json:"provider"`
	DataType string `json:"data_type"`
	Data     string `json:"data"`
	By       string `json:"by"`
}

// Request queues enrichment of item id: of every entity, or of the one
// whose value is value; by every configured provider that supports it,
// or by the named ones. It returns how many calls were queued.
func (s *Service) Request(ctx context.Context, actor auth.Actor, id int64, value string, providers []string) (int, error) {
	if err := actor.Check(auth.ActionTriage); err != nil {
		return 0, err
	}
	if _, err := s.items.Get(ctx, actor, id); err != nil {
		return 0, err
	}
	for _, n := range providers {
		if _, ok := s.provider(n); !ok {
			return 0, validation.NewFieldError("providers", "no provider %q is configured (have: %s)", n, strings.Join(s.Providers(), ", "))
		}
	}
	entities, err := s.st.ItemEntities(ctx, id)
	if err != nil {
		return 0, err
	}
	now := s.o.Clock.Now()
	var msgs []outbox.Message
	found := false
	for _, e := range entities {
		if value != "" && !strings.EqualFold(e.Value, value) {
			continue
		}
		found = true
		dt := DataType(e)
		if dt == "" {
			continue
		}
		for _, p := range s.providers {
			if len(providers) > 0 && !slices.ContainsFunc(providers, func(n string) bool { return strings.EqualFold(n, p.Name()) }) {
				continue
			}
			ask, ok := askAs(p, dt)
			if !ok {
				continue
			}
			b, _ := json.Marshal(call{Provider: p.Name(), DataType: ask, Data: e.Value, By: actor.String()})
			msgs = append(msgs, outbox.Message{WorkItemID: id, Target: Target, Op: "enrich." + p.Name(),
				Resource: ask + ":" + e.Value, Payload: b,
				// One request a minute per item, provider and observable:
				// a double click enriches once.
				IdemKey: fmt.Sprintf("enrich/item/%d/%s/%s/%s/%d", id, p.Name(), ask, e.Value, now.Unix()/60)})
		}
	}
	if value != "" && !found {
		return 0, validation.NewFieldError("entity", "item %d has no entity %q", id, value)
	}
	if len(msgs) == 0 {
		return 0, nil
	}
	n, err := s.st.Enqueue(ctx, msgs, []workitem.Entry{{Actor: actor.String(), Kind: workitem.KindSync,
		Message: fmt.Sprintf("enrichment requested: %d lookups", len(msgs))}})
	if err == nil && s.o.Poke != nil {
		s.o.Poke()
	}
	return n, err
}

// Enrichments lists an item's reports.
func (s *Service) Enrichments(ctx context.Context, actor auth.Actor, id int64) ([]store.Enrichment, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return nil, err
	}
	return s.st.Enrichments(ctx, id)
}

var _ outbox.Target = (*Service)(nil)

// Send runs one queued provider call (the outbox target).
func (s *Service) Send(ctx context.Context, m outbox.Message) error {
	var c call
	if err := json.Unmarshal(m.Payload, &c); err != nil {
		return fmt.Errorf("enrichment: decode outbox message %d: %w", m.ID, err)
	}
	p, ok := s.provider(c.Provider)
	if !ok {
		return fmt.Errorf("enrichment: provider %q is not configured any more", c.Provider)
	}
	if done, ok, err := s.st.EnrichmentByKey(ctx, m.IdemKey); err != nil {
		return err
	} else if ok {
		return s.comment(ctx, m.WorkItemID, done) // the report was saved; the comment may not have been
	}
	now := s.o.Clock.Now()
	e := store.Enrichment{WorkItemID: m.WorkItemID, Provider: p.Name(), DataType: c.DataType, Data: c.Data, RequestKey: m.IdemKey}
	ttl := s.ttl(p)
	var prev store.Enrichment
	found := false
	if ttl > 0 {
		var err error
		if prev, found, err = s.st.RecentEnrichment(ctx, p.Name(), c.DataType, c.Data, now.Add(-ttl)); err != nil {
			return err
		}
	}
	if found {
		e.Verdict, e.Summary, e.Taxonomies, e.Report, e.Cached = prev.Verdict, prev.Summary, prev.Taxonomies, prev.Report, true
	} else {
		if until, why, err := s.quota(ctx, p, now); err != nil {
			return err
		} else if !until.IsZero() {
			return &outbox.DeferError{Until: until, Reason: why}
		}
		// One call per observable at a time: concurrent deliveries for
		// two items with the same IP share the answer and the quota.
		r, shared, err := s.flight.do(p.Name()+"\x00"+c.DataType+"\x00"+c.Data, func() (enrich.Report, error) {
			return p.Enrich(ctx, enrich.Request{DataType: c.DataType, Data: c.Data})
		})
		if err != nil {
			return fmt.Errorf("%s on %s %s: %w", p.Name(), c.DataType, c.Data, err)
		}
		e.Verdict, e.Summary = r.Verdict(), r.Summary
		e.Taxonomies, _ = json.Marshal(r.Taxonomies)
		e.Report = r.Full
		e.Cached = shared
	}
	saved, _, err := s.st.SaveEnrichment(ctx, e)
	if err != nil {
		return err
	}
	return s.comment(ctx, m.WorkItemID, saved)
}

// ttl is how long p's reports are reused.
func (s *Service) ttl(p enrich.Provider) time.Duration {
	if d, ok := s.o.TTLs[p.Name()]; ok {
		return d
	}
	if c, ok := p.(interface{ CacheTTL() time.Duration }); ok {
		return c.CacheTTL()
	}
	return s.o.TTL
}

// quota returns when p may be called again, or zero for now.
func (s *Service) quota(ctx context.Context, p enrich.Provider, now time.Time) (time.Time, string, error) {
	q, ok := p.(enrich.Quoted)
	if !ok {
		return time.Time{}, "", nil
	}
	lim := q.Quota()
	for _, w := range []struct {
		n   int
		per time.Duration
		say string
	}{{lim.PerMinute, time.Minute, "a minute"}, {lim.PerDay, 24 * time.Hour, "a day"}} {
		if w.n <= 0 {
			continue
		}
		n, oldest, err := s.st.ProviderCalls(ctx, p.Name(), now.Add(-w.per))
		if err != nil {
			return time.Time{}, "", err
		}
		if n >= w.n {
			return oldest.Add(w.per), fmt.Sprintf("quota: %s allows %d calls %s", p.Name(), w.n, w.say), nil
		}
	}
	return time.Time{}, "", nil
}

// comment posts a report's summary on its item.
func (s *Service) comment(ctx context.Context, itemID int64, e store.Enrichment) error {
	summary := e.Summary
	if summary == "" {
		summary = fmt.Sprintf("%s on %s %s", e.Provider, e.DataType, e.Data)
	}
	body := fmt.Sprintf("Enrichment, %s: %s (verdict: %s)", e.Provider, summary, e.Verdict)
	if e.Cached {
		body += fmt.Sprintf(" — a report from %s, reused", e.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"))
	}
	actor := auth.Actor{Kind: "system", Name: Actor, Role: auth.RoleAdmin}
	if _, err := s.items.Comment(ctx, actor, itemID, body); err != nil {
		return err
	}
	return s.badge(ctx, actor, itemID, e.Verdict)
}

// badge tags the item with the worst verdict its entities got
// ("malicious", else "suspicious"), so that the board's cards show it
// without a lookup per card. Tagging twice changes nothing.
func (s *Service) badge(ctx context.Context, actor auth.Actor, itemID int64, verdict string) error {
	if verdict != enrich.LevelMalicious && verdict != enrich.LevelSuspicious {
		return nil
	}
	it, err := s.items.Get(ctx, actor, itemID)
	if err != nil {
		return err
	}
	if slices.Contains(it.Tags, enrich.LevelMalicious) || slices.Contains(it.Tags, verdict) {
		return nil
	}
	tags := slices.DeleteFunc(slices.Clone(it.Tags), func(t string) bool { return t == enrich.LevelSuspicious })
	tags = append(tags, verdict)
	if _, err := s.items.Update(ctx, actor, itemID, workitem.Patch{Tags: &tags}, 0); err != nil {
		return fmt.Errorf("tag item %d %s: %w", itemID, verdict, err)
	}
	return nil
}

// The rule action "playbook": its name is a provider's, "all", or a
// comma-separated list.

// Kind names the automation action enrichment runs.
func (s *Service) Kind() string { return automation.ActPlaybook }

// Check validates a rule's playbook action when it is saved.
func (s *Service) Check(a automation.ActionSpec) error {
	for _, n := range playbookProviders(a.Name) {
		if _, ok := s.provider(n); !ok {
			return validation.NewFieldError("name", "no enrichment provider %q is configured (have: all, %s)", n, strings.Join(s.Providers(), ", "))
		}
	}
	return nil
}

// Run runs a rule's playbook action on an item.
func (s *Service) Run(ctx context.Context, itemID int64, d automation.DeferredAction) error {
	actor := auth.Actor{Kind: "rule", Name: d.Rule, Role: auth.RoleAdmin}
	_, err := s.Request(ctx, actor, itemID, "", playbookProviders(d.Action.Name))
	return err
}

func playbookProviders(name string) []string {
	if strings.TrimSpace(name) == "" || strings.EqualFold(strings.TrimSpace(name), "all") {
		return nil
	}
	var out []string
	for _, n := range strings.Split(name, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}
