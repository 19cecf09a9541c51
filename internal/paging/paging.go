// Package paging is vigil's on-call: escalation policies, services and
// teams around the schedules of package oncall, and pages, the on-call
// side of work items. A page notifies the targets of its policy's steps in
// turn through the outbox (package notify's channels), until someone
// acknowledges it; an acknowledgement assigns the work item to the
// responder and moves it toward Active, so that the item, the page and
// Sentinel's incident (through the item's write-backs) agree.
//
// Decisions where the issue is silent:
//   - A user with no notification rules is notified on every verified
//     contact method at once; an unverified method is never used.
//   - Notification rules' delays are outbox messages due later: they
//     survive a restart, and an acknowledgement cancels those still
//     waiting.
//   - A low-urgency page outside its service's support hours waits, with
//     no notification, until they begin; high urgency pages at once.
//   - In a maintenance window a service opens no page; the item is
//     recorded, with the reason on its timeline.
//   - When a policy's steps and repeats are exhausted the page stays
//     triggered, with nobody left to notify, as PagerDuty's does.
package paging

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/oncall"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// Store is the persistence paging needs.
type Store interface {
	PutOnCallDef(ctx context.Context, kind, name string, def json.RawMessage, actor string) (store.OnCallDef, bool, error)
	GetOnCallDef(ctx context.Context, kind, name string) (store.OnCallDef, error)
	ListOnCallDefs(ctx context.Context, kind string) ([]store.OnCallDef, error)
	DeleteOnCallDef(ctx context.Context, kind, name string) error
	// Dialect tells whether due pages may escalate in parallel.
	Dialect() store.Dialect

	AddContactMethod(ctx context.Context, c store.ContactMethod, codeHash string, codeExpires time.Time) (store.ContactMethod, error)
	ContactMethods(ctx context.Context, user string) ([]store.ContactMethod, error)
	GetContactMethod(ctx context.Context, id int64) (store.ContactMethod, error)
	VerifyContactMethod(ctx context.Context, id int64, codeHash string) (bool, error)
	SetContactMethodCode(ctx context.Context, id int64, codeHash string, expires time.Time) error
	DeleteContactMethod(ctx context.Context, id int64) error
	SetNotificationRules(ctx context.Context, user string, rules []store.NotificationRule) error
	NotificationRules(ctx context.Context, users ...string) ([]store.NotificationRule, error)

	CreatePage(ctx context.Context, p store.Page, build func(store.Page) (store.PageEffects, error)) (store.Page, bool, error)
	UpdatePage(ctx context.Context, id int64, fn func(*store.Page) (store.PageEffects, error)) (store.Page, error)
	GetPage(ctx context.Context, id int64) (store.Page, error)
	OpenPageForItem(ctx context.Context, itemID int64) (store.Page, bool, error)
	OpenPageInGroup(ctx context.Context, service, groupKey string, since time.Time) (store.Page, bool, error)
	ListPages(ctx context.Context, f store.PageFilter) ([]store.Page, error)
	PageWebhooks(ctx context.Context, pageID int64) ([]store.ContactMethod, error)

	RecordSend(ctx context.Context, e store.NotificationLogEntry, took time.Duration) error
	DeliveryStatus(ctx context.Context, provider, providerID, status, errText string) (store.NotificationLogEntry, bool, error)
	NotificationLog(ctx context.Context, f store.NotificationFilter) ([]store.NotificationLogEntry, error)
	FirstInbound(ctx context.Context, provider, key string) (bool, error)
	PruneInbound(ctx context.Context, before time.Time) (int64, error)
	ContactMethodsByValue(ctx context.Context, typ, value string) ([]store.ContactMethod, error)
	DuePages(ctx context.Context, now time.Time, limit int) ([]int64, error)

	AddCalendarFeed(ctx context.Context, tokenHash, kind, name, actor string) (store.CalendarFeed, error)
	CalendarFeedByHash(ctx context.Context, tokenHash string) (store.CalendarFeed, error)
	SharedSecret(ctx context.Context, name string, fresh []byte) ([]byte, error)
	AppendTimeline(ctx context.Context, itemID int64, actor, kind, message string, data any) error
	Enqueue(ctx context.Context, msgs []outbox.Message, entries []workitem.Entry) (int, error)
	Beat(ctx context.Context, name string) error
	Beats(ctx context.Context) (map[string]time.Time, error)
	SelfAlert(ctx context.Context, proc *workitem.Process, a alert.Alert) (store.IngestResult, error)
}

// Items is what paging does to work items, through the items service so
// that the process, the timeline and the write-backs hold.
type Items interface {
	Get(ctx context.Context, actor auth.Actor, id int64) (workitem.Item, error)
	Update(ctx context.Context, actor auth.Actor, id int64, p workitem.Patch, ifRev int) (workitem.Item, error)
	Transition(ctx context.Context, actor auth.Actor, id int64, to, reason string, ifRev int) (workitem.Item, error)
	Process() *workitem.Process
}

// Options configure the service.
type Options struct {
	// BaseURL is where people reach vigil: the links in notifications.
	BaseURL string
	Clock   clock.Clock
	Logger  *slog.Logger
	// Poke, if set, wakes the outbox sender after a page's notifications
	// are queued, so that the first goes out at once.
	Poke func()
	// Health, SelfService and ConnectorFailure page SelfService when a
	// connector has been failing for ConnectorFailure (0: never).
	Health           func() []Health
	SelfService      string
	ConnectorFailure time.Duration
	// Registry gets paging's metrics (nil: not exported).
	Registry prometheus.Registerer
	// Notifications counts the delivery callbacks' statuses, in the
	// counter the notify target counts sends in (nil: not counted).
	Notifications *notify.Counter
}

// Pager manages on-call definitions and pages.
type Pager struct {
	st    Store
	items Items
	o     Options
	log   *slog.Logger
	keys  *linkKeys
	rt    routes
	m     *metrics

	cacheMu sync.Mutex
	cache   map[string]cachedDef

	lastPrune atomic.Int64 // when inbound replay keys were last pruned (Unix ns)
}

// New returns the service.
func New(st Store, items Items, o Options) *Pager {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	return &Pager{st: st, items: items, o: o, log: o.Logger.With("component", "paging"), keys: &linkKeys{st: st}, m: newMetrics(o.Registry)}
}

// Def is a decoded definition of any kind, as the API shows it.
type Def struct {
	store.OnCallDef
}

// decode reads and checks a definition of kind, with name forced to the
// given one (the URL's).
func decode(kind, name string, raw json.RawMessage) (any, error) {
	var v interface{ Normalize() error }
	switch kind {
	case KindSchedule:
		v = &oncall.Schedule{}
	case KindPolicy:
		v = &Policy{}
	case KindService:
		v = &Service{}
	case KindTeam:
		v = &Team{}
	case KindHeartbeat:
		v = &Heartbeat{}
	default:
		return nil, fmt.Errorf("on-call kind %q: %w", kind, validation.ErrNotFound)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return nil, validation.NewFieldError("body", "not a valid %s: %s", kind, err)
	}
	setName(v, name)
	if err := v.Normalize(); err != nil {
		return nil, err
	}
	return v, nil
}

func setName(v any, name string) {
	switch d := v.(type) {
	case *oncall.Schedule:
		if d.Name == "" {
			d.Name = name
		}
	case *Policy:
		if d.Name == "" {
			d.Name = name
		}
	case *Service:
		if d.Name == "" {
			d.Name = name
		}
	case *Team:
		if d.Name == "" {
			d.Name = name
		}
	case *Heartbeat:
		if d.Name == "" {
			d.Name = name
		}
	}
}

func nameOf(v any) string {
	switch d := v.(type) {
	case *oncall.Schedule:
		return d.Name
	case *Policy:
		return d.Name
	case *Service:
		return d.Name
	case *Team:
		return d.Name
	case *Heartbeat:
		return d.Name
	}
	return ""
}

// Put creates or replaces a definition (admins). References are checked:
// a service's policy, and a policy's schedules and teams, must exist.
func (s *Pager) Put(ctx context.Context, actor auth.Actor, kind, name string, raw json.RawMessage) (store.OnCallDef, bool, error) {
	if err := actor.Check(auth.ActionAdmin); err != nil {
		return store.OnCallDef{}, false, err
	}
	v, err := decode(kind, name, raw)
	if err != nil {
		return store.OnCallDef{}, false, err
	}
	if n := nameOf(v); n != name {
		return store.OnCallDef{}, false, validation.NewFieldError("name", "%q does not match the URL's %q", n, name)
	}
	if err := s.checkRefs(ctx, v); err != nil {
		return store.OnCallDef{}, false, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return store.OnCallDef{}, false, fmt.Errorf("encode %s: %w", kind, err)
	}
	defer s.forgetDefs()
	if kind == KindService {
		defer s.forget()
	}
	return s.st.PutOnCallDef(ctx, kind, name, b, actor.String())
}

func (s *Pager) checkRefs(ctx context.Context, v any) error {
	switch d := v.(type) {
	case *Service:
		if _, err := s.st.GetOnCallDef(ctx, KindPolicy, d.Policy); err != nil {
			return validation.NewFieldError("policy", "no escalation policy named %q", d.Policy)
		}
	case *Heartbeat:
		if _, err := s.st.GetOnCallDef(ctx, KindService, d.Service); err != nil {
			return validation.NewFieldError("service", "no service named %q", d.Service)
		}
	case *Policy:
		for i, st := range d.Steps {
			for j, t := range st.Targets {
				field := fmt.Sprintf("steps[%d].targets[%d].name", i, j)
				if t.Type == TargetRotation {
					sch, layer, _ := strings.Cut(t.Name, "/")
					sc, err := s.schedule(ctx, sch)
					if err != nil {
						return validation.NewFieldError(field, "no schedule named %q", sch)
					}
					if rotation(sc, layer) == nil {
						return validation.NewFieldError(field, "schedule %s has no rotation (layer) named %q", sch, layer)
					}
					continue
				}
				kind := map[string]string{TargetSchedule: KindSchedule, TargetTeam: KindTeam}[t.Type]
				if kind == "" {
					continue
				}
				if _, err := s.st.GetOnCallDef(ctx, kind, t.Name); err != nil {
					return validation.NewFieldError(field, "no %s named %q", kind, t.Name)
				}
			}
		}
	}
	return nil
}

// Get returns one definition.
func (s *Pager) Get(ctx context.Context, actor auth.Actor, kind, name string) (store.OnCallDef, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return store.OnCallDef{}, err
	}
	if !validKind(kind) {
		return store.OnCallDef{}, fmt.Errorf("on-call kind %q: %w", kind, validation.ErrNotFound)
	}
	return s.st.GetOnCallDef(ctx, kind, name)
}

// List returns the definitions of a kind.
func (s *Pager) List(ctx context.Context, actor auth.Actor, kind string) ([]store.OnCallDef, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return nil, err
	}
	if !validKind(kind) {
		return nil, fmt.Errorf("on-call kind %q: %w", kind, validation.ErrNotFound)
	}
	return s.st.ListOnCallDefs(ctx, kind)
}

// Delete deletes a definition (admins).
func (s *Pager) Delete(ctx context.Context, actor auth.Actor, kind, name string) error {
	if err := actor.Check(auth.ActionAdmin); err != nil {
		return err
	}
	if !validKind(kind) {
		return fmt.Errorf("on-call kind %q: %w", kind, validation.ErrNotFound)
	}
	defer s.forgetDefs()
	return s.st.DeleteOnCallDef(ctx, kind, name)
}

func validKind(k string) bool {
	for _, v := range Kinds {
		if v == k {
			return true
		}
	}
	return false
}

func (s *Pager) schedule(ctx context.Context, name string) (*oncall.Schedule, error) {
	v, err := s.def(ctx, KindSchedule, name, func(raw []byte) (any, error) {
		var sc oncall.Schedule
		if err := json.Unmarshal(raw, &sc); err != nil {
			return nil, err
		}
		return &sc, sc.Normalize()
	})
	if err != nil {
		return nil, err
	}
	return v.(*oncall.Schedule), nil
}

func (s *Pager) policy(ctx context.Context, name string) (*Policy, error) {
	v, err := s.def(ctx, KindPolicy, name, func(raw []byte) (any, error) {
		var p Policy
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		return &p, p.Normalize()
	})
	if err != nil {
		return nil, err
	}
	return v.(*Policy), nil
}

func (s *Pager) service(ctx context.Context, name string) (*Service, error) {
	v, err := s.def(ctx, KindService, name, func(raw []byte) (any, error) {
		var sv Service
		if err := json.Unmarshal(raw, &sv); err != nil {
			return nil, err
		}
		return &sv, sv.Normalize()
	})
	if err != nil {
		return nil, err
	}
	return v.(*Service), nil
}

func (s *Pager) team(ctx context.Context, name string) (*Team, error) {
	v, err := s.def(ctx, KindTeam, name, func(raw []byte) (any, error) {
		var t Team
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, err
		}
		return &t, t.Normalize()
	})
	if err != nil {
		return nil, err
	}
	return v.(*Team), nil
}

// defTTL is how long a decoded definition is reused: an escalation pass
// over many pages reads the same few services, policies and schedules,
// and another instance's edit is seen within it. Callers must not change
// what they get.
const defTTL = time.Second

type cachedDef struct {
	v  any
	at time.Time
}

// def reads, decodes and checks a definition, through a short cache.
func (s *Pager) def(ctx context.Context, kind, name string, decode func([]byte) (any, error)) (any, error) {
	key := kind + "\x00" + name
	now := s.o.Clock.Now()
	s.cacheMu.Lock()
	c, ok := s.cache[key]
	s.cacheMu.Unlock()
	if ok && now.Sub(c.at) < defTTL && !now.Before(c.at) {
		return c.v, nil
	}
	d, err := s.st.GetOnCallDef(ctx, kind, name)
	if err != nil {
		return nil, err
	}
	v, err := decode(d.Definition)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", kind, name, err)
	}
	s.cacheMu.Lock()
	if s.cache == nil || len(s.cache) > 10_000 {
		s.cache = map[string]cachedDef{}
	}
	s.cache[key] = cachedDef{v: v, at: now}
	s.cacheMu.Unlock()
	return v, nil
}

// forgetDefs drops the cache after a definition changed here.
func (s *Pager) forgetDefs() {
	s.cacheMu.Lock()
	s.cache = nil
	s.cacheMu.Unlock()
}

// rotation returns a schedule's layer by name.
func rotation(sc *oncall.Schedule, name string) *oncall.Rotation {
	for i := range sc.Layers {
		if sc.Layers[i].Name == name {
			return &sc.Layers[i]
		}
	}
	return nil
}

// OnCall is who is on call on one schedule now, and the next shifts.
type OnCall struct {
	Schedule string         `json:"schedule"`
	Users    []string       `json:"users"`
	Next     []oncall.Shift `json:"next"`
}

// WhoIsOnCall answers "who is on call" at for every schedule.
func (s *Pager) WhoIsOnCall(ctx context.Context, actor auth.Actor, at time.Time) ([]OnCall, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return nil, err
	}
	defs, err := s.st.ListOnCallDefs(ctx, KindSchedule)
	if err != nil {
		return nil, err
	}
	out := make([]OnCall, 0, len(defs))
	for _, d := range defs {
		sc, err := s.schedule(ctx, d.Name)
		if err != nil {
			return nil, err
		}
		users := sc.OnCall(at)
		if users == nil {
			users = []string{}
		}
		next := sc.NextShifts(at, 3)
		if next == nil {
			next = []oncall.Shift{}
		}
		out = append(out, OnCall{Schedule: d.Name, Users: users, Next: next})
	}
	return out, nil
}

// Shifts returns a schedule's shifts between from and to (at most 92
// days).
func (s *Pager) Shifts(ctx context.Context, actor auth.Actor, name string, from, to time.Time) ([]oncall.Shift, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return nil, err
	}
	if !to.After(from) || to.Sub(from) > 92*24*time.Hour {
		return nil, validation.NewFieldError("to", "must be after from, and at most 92 days later")
	}
	sc, err := s.schedule(ctx, name)
	if err != nil {
		return nil, err
	}
	out := sc.Shifts(from, to)
	if out == nil {
		out = []oncall.Shift{}
	}
	return out, nil
}
