package paging

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// Actor is how paging appears on timelines.
const Actor = "paging"

func pagingActor() auth.Actor { return auth.Actor{Kind: "system", Name: Actor, Role: auth.RoleAdmin} }

// Trigger opens a page for a work item on a service, unless the item has
// one open already (one open page per item), the service is in a
// maintenance window, or the item joins an open page of the same group.
// urgency "" follows the service's rule for the item's severity.
func (s *Pager) Trigger(ctx context.Context, actor auth.Actor, itemID int64, service, urgency, groupKey string) (store.Page, bool, error) {
	if err := actor.Check(auth.ActionTriage); err != nil {
		return store.Page{}, false, err
	}
	// The link key is read (and made, once) before the page's
	// transaction: on SQLite a second write inside it would wait forever.
	if _, err := s.keys.get(ctx); err != nil {
		return store.Page{}, false, err
	}
	sv, err := s.service(ctx, service)
	if err != nil {
		if errors.Is(err, validation.ErrNotFound) {
			return store.Page{}, false, validation.NewFieldError("service", "no service named %q", service)
		}
		return store.Page{}, false, err
	}
	pol, err := s.policy(ctx, sv.Policy)
	if err != nil {
		return store.Page{}, false, fmt.Errorf("service %q: %w", service, err)
	}
	it, err := s.items.Get(ctx, pagingActor(), itemID)
	if err != nil {
		return store.Page{}, false, err
	}
	now := s.o.Clock.Now()
	if w, ok := sv.InMaintenance(now); ok {
		reason := w.Reason
		if reason == "" {
			reason = "maintenance"
		}
		_ = s.st.AppendTimeline(ctx, itemID, Actor, workitem.KindPage,
			fmt.Sprintf("no page: service %s is in a maintenance window until %s (%s)", sv.Name, w.End.UTC().Format(time.RFC3339), reason), nil)
		return store.Page{}, false, nil
	}
	switch urgency {
	case "":
		urgency = sv.UrgencyFor(it.Severity)
	case UrgencyHigh, UrgencyLow:
	default:
		return store.Page{}, false, validation.NewFieldError("urgency", "must be high or low")
	}
	if groupKey != "" && sv.GroupWindowMinutes > 0 {
		if open, ok, err := s.st.OpenPageInGroup(ctx, sv.Name, groupKey, now.Add(-time.Duration(sv.GroupWindowMinutes)*time.Minute)); err != nil {
			return store.Page{}, false, err
		} else if ok && open.WorkItemID != itemID {
			p, err := s.st.UpdatePage(ctx, open.ID, func(p *store.Page) (store.PageEffects, error) {
				p.Alerts++
				return store.PageEffects{Entries: []workitem.Entry{{Actor: Actor, Kind: workitem.KindPage,
					Message: fmt.Sprintf("item #%d (%s) joined this page: same group %s", itemID, it.Title, groupKey)}}}, nil
			})
			if err == nil {
				_ = s.st.AppendTimeline(ctx, itemID, Actor, workitem.KindPage, fmt.Sprintf("grouped into page #%d of item #%d (group %s)", p.ID, p.WorkItemID, groupKey), nil)
			}
			return p, false, err
		}
	}
	p := store.Page{Service: sv.Name, WorkItemID: itemID, GroupKey: groupKey, State: store.PageTriggered, Urgency: urgency}
	// Low urgency outside support hours waits for them, silently.
	wait := time.Time{}
	if urgency == UrgencyLow && sv.SupportHours != nil {
		if in, next := sv.SupportHours.In(now); !in {
			wait = next
		}
	}
	// The first step is notified with the page; the next escalation is
	// due after its delay.
	next := now.Add(time.Duration(pol.Steps[0].DelayMinutes) * time.Minute)
	p.NextAt = &next
	if !wait.IsZero() {
		p.Step, p.NextAt = -1, &wait
	}
	page, created, err := s.st.CreatePage(ctx, p, func(p store.Page) (store.PageEffects, error) {
		intro := workitem.Entry{Actor: actor.String(), Kind: workitem.KindPage,
			Message: fmt.Sprintf("page #%d opened on service %s (%s urgency, policy %s)", p.ID, sv.Name, urgency, pol.Name)}
		if !wait.IsZero() {
			intro.Message += fmt.Sprintf("; low urgency waits for support hours, from %s", wait.UTC().Format(time.RFC3339))
			return store.PageEffects{Entries: []workitem.Entry{intro}}, nil
		}
		eff, _, err := s.notifyStep(ctx, p, it, pol, 0, 0, now)
		if err != nil {
			return eff, err
		}
		eff.Entries = append([]workitem.Entry{intro}, eff.Entries...)
		return eff, nil
	})
	if err != nil {
		return store.Page{}, false, err
	}
	if created {
		s.m.opened.WithLabelValues(page.Service, page.Urgency).Inc()
	}
	if created && wait.IsZero() && s.o.Poke != nil {
		s.o.Poke() // the first notifications go out at once
	}
	return page, created, nil
}

// recipient is one user notified at a step, and through which methods.
type recipient struct {
	user    string
	methods []string // "email now", "webhook in 2 min"
}

// notifyStep plans the notifications of a policy step: its targets'
// users, each through their notification rules. It returns the effects
// and when the step escalates.
func (s *Pager) notifyStep(ctx context.Context, p store.Page, it workitem.Item, pol *Policy, step, round int, now time.Time) (store.PageEffects, time.Time, error) {
	st := pol.Steps[step]
	users, missing, err := s.resolveTargets(ctx, st.Targets, now)
	if err != nil {
		return store.PageEffects{}, time.Time{}, err
	}
	eff, who, err := s.notifyUsers(ctx, p, it, users, fmt.Sprintf("r%d.s%d", round, step), now)
	if err != nil {
		return eff, time.Time{}, err
	}
	msg := fmt.Sprintf("page #%d, step %d of %d (round %d of %d): ", p.ID, step+1, len(pol.Steps), round+1, pol.Repeat+1)
	if len(who) == 0 {
		msg += "nobody to notify"
	} else {
		parts := make([]string, len(who))
		for i, r := range who {
			parts[i] = r.user + " (" + strings.Join(r.methods, ", ") + ")"
		}
		msg += "notifying " + strings.Join(parts, "; ")
	}
	if len(missing) > 0 {
		msg += "; " + strings.Join(missing, "; ")
	}
	next := now.Add(time.Duration(st.DelayMinutes) * time.Minute)
	eff.Entries = append(eff.Entries, workitem.Entry{Actor: Actor, Kind: workitem.KindPage, Message: msg,
		Data: map[string]any{"page_id": p.ID, "step": step, "round": round, "escalates_at": next}})
	return eff, next, nil
}

// resolveTargets turns a step's targets into users, in order, once each;
// missing says what resolved to nobody.
func (s *Pager) resolveTargets(ctx context.Context, ts []Target, now time.Time) (users, missing []string, err error) {
	add := func(u string) {
		if u != "" && !slices.Contains(users, u) {
			users = append(users, u)
		}
	}
	for _, t := range ts {
		switch t.Type {
		case TargetUser:
			add(t.Name)
		case TargetSchedule:
			sc, err := s.schedule(ctx, t.Name)
			if err != nil {
				missing = append(missing, fmt.Sprintf("schedule %s: %v", t.Name, err))
				continue
			}
			on := sc.OnCall(now)
			if len(on) == 0 {
				missing = append(missing, "nobody is on call on schedule "+t.Name)
			}
			for _, u := range on {
				add(strings.ToLower(u))
			}
		case TargetRotation:
			sch, layer, _ := strings.Cut(t.Name, "/")
			sc, err := s.schedule(ctx, sch)
			if err != nil {
				missing = append(missing, fmt.Sprintf("rotation %s: %v", t.Name, err))
				continue
			}
			r := rotation(sc, layer)
			if r == nil {
				missing = append(missing, "no rotation "+t.Name)
				continue
			}
			if u := r.OnCallAt(now); u != "" {
				add(strings.ToLower(u))
			} else {
				missing = append(missing, "nobody is on call on rotation "+t.Name)
			}
		case TargetTeam:
			tm, err := s.team(ctx, t.Name)
			if err != nil {
				missing = append(missing, fmt.Sprintf("team %s: %v", t.Name, err))
				continue
			}
			for _, u := range tm.Members {
				add(u)
			}
		}
	}
	return users, missing, nil
}

// notifyUsers plans each user's notifications for a page: their
// notification rules, or every verified method at once when they have
// none. tag makes the notifications of this step and round distinct.
func (s *Pager) notifyUsers(ctx context.Context, p store.Page, it workitem.Item, users []string, tag string, now time.Time) (store.PageEffects, []recipient, error) {
	var eff store.PageEffects
	var who []recipient
	if len(users) == 0 {
		return eff, nil, nil
	}
	rules, err := s.st.NotificationRules(ctx, users...)
	if err != nil {
		return eff, nil, err
	}
	for _, u := range users {
		cms, err := s.st.ContactMethods(ctx, u)
		if err != nil {
			return eff, nil, err
		}
		byID := map[int64]store.ContactMethod{}
		for _, c := range cms {
			if c.Verified() {
				byID[c.ID] = c
			}
		}
		var mine []store.NotificationRule
		for _, r := range rules {
			if r.User == u {
				mine = append(mine, r)
			}
		}
		if len(mine) == 0 {
			for _, c := range cms {
				if c.Verified() {
					mine = append(mine, store.NotificationRule{User: u, ContactMethodID: c.ID})
				}
			}
		}
		r := recipient{user: u}
		for _, rule := range mine {
			cm, ok := byID[rule.ContactMethodID]
			if !ok {
				continue
			}
			m, err := s.notification(ctx, p, it, cm, tag, rule.DelayMinutes, now)
			if err != nil {
				return eff, nil, err
			}
			eff.Messages = append(eff.Messages, m)
			when := "now"
			if rule.DelayMinutes > 0 {
				when = fmt.Sprintf("in %d min", rule.DelayMinutes)
			}
			r.methods = append(r.methods, cm.Type+" "+when)
		}
		if len(r.methods) == 0 {
			r.methods = []string{"no verified contact method"}
		}
		who = append(who, r)
	}
	return eff, who, nil
}

// notification builds one notification's outbox message.
func (s *Pager) notification(ctx context.Context, p store.Page, it workitem.Item, cm store.ContactMethod, tag string, delay int, now time.Time) (outbox.Message, error) {
	n := notify.Notification{
		ID:   fmt.Sprintf("page-%d.%s.cm%d.d%d", p.ID, tag, cm.ID, delay),
		Kind: notify.KindPage, To: notify.ContactMethod{ID: cm.ID, Type: cm.Type, Value: cm.Value, Name: cm.Name, User: cm.User},
		Subject: fmt.Sprintf("[vigil] %s: %s", strings.ToUpper(string(it.Severity)), it.Title),
		Text: fmt.Sprintf("Page #%d on service %s (%s urgency) for work item #%d, %s.\n",
			p.ID, p.Service, p.Urgency, it.ID, it.Title),
		PageID: p.ID, WorkItemID: it.ID, Title: it.Title, Severity: string(it.Severity), Urgency: p.Urgency, Service: p.Service,
		// The acknowledgement link is signed when the message is sent
		// (Prepare), not stored.
		ItemURL: fmt.Sprintf("%s/items/%d", s.o.BaseURL, it.ID), CreatedAt: now,
	}
	m, err := notify.Message(n)
	if err != nil {
		return outbox.Message{}, err
	}
	if delay > 0 {
		m.NextAt = now.Add(time.Duration(delay) * time.Minute)
	}
	return m, nil
}

// updates are the acknowledged / resolved events for the webhooks the page
// notified (a receiver tracking pages wants to know they ended); email
// and people are not bothered with them.
func (s *Pager) updates(ctx context.Context, p store.Page, kind, summary string) ([]outbox.Message, error) {
	cms, err := s.st.PageWebhooks(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	now := s.o.Clock.Now()
	var out []outbox.Message
	for _, cm := range cms {
		n := notify.Notification{ID: fmt.Sprintf("page-%d.%s.cm%d", p.ID, kind, cm.ID), Kind: kind,
			To:      notify.ContactMethod{ID: cm.ID, Type: cm.Type, Value: cm.Value, Name: cm.Name, User: cm.User},
			Subject: fmt.Sprintf("[vigil] %s: %s", kind, p.Title), Text: summary + "\n", PageID: p.ID, WorkItemID: p.WorkItemID,
			Title: p.Title, Severity: p.Severity, Urgency: p.Urgency, Service: p.Service, Summary: summary,
			ItemURL: fmt.Sprintf("%s/items/%d", s.o.BaseURL, p.WorkItemID), CreatedAt: now}
		m, err := notify.Message(n)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	inPlace, err := s.inPlaceUpdates(ctx, p, kind, summary, now)
	if err != nil {
		return nil, err
	}
	return append(out, inPlace...), nil
}

// inPlaceUpdates re-render the page's messages on channels that edit a
// sent message (Slack), so that a message's buttons and state match the
// page wherever it changed: in vigil, by SMS, in Sentinel.
func (s *Pager) inPlaceUpdates(ctx context.Context, p store.Page, kind, summary string, now time.Time) ([]outbox.Message, error) {
	log, err := s.st.NotificationLog(ctx, store.NotificationFilter{PageID: p.ID, Limit: 500})
	if err != nil {
		return nil, err
	}
	var out []outbox.Message
	seen := map[string]bool{}
	for _, e := range log {
		if e.Channel != notify.TypeSlack || e.Kind != notify.KindPage || e.ProviderID == "" || seen[e.ProviderID] ||
			(e.Status != notify.StatusSent && e.Status != notify.StatusDelivered) {
			continue
		}
		seen[e.ProviderID] = true
		cm, err := s.st.GetContactMethod(ctx, e.ContactMethodID)
		if errors.Is(err, validation.ErrNotFound) {
			continue // the method was removed; its old message stays as it was
		}
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256([]byte(e.ProviderID))
		n := notify.Notification{ID: fmt.Sprintf("page-%d.%s.cm%d.m%x", p.ID, kind, cm.ID, sum[:4]), Kind: kind,
			To:      notify.ContactMethod{ID: cm.ID, Type: cm.Type, Value: cm.Value, Name: cm.Name, User: cm.User},
			Subject: fmt.Sprintf("[vigil] %s: %s", kind, p.Title), Text: summary + "\n", PageID: p.ID, WorkItemID: p.WorkItemID,
			Title: p.Title, Severity: p.Severity, Urgency: p.Urgency, Service: p.Service, Summary: summary, UpdateOf: e.ProviderID,
			By: p.AckBy, ItemURL: fmt.Sprintf("%s/items/%d", s.o.BaseURL, p.WorkItemID), CreatedAt: now}
		m, err := notify.Message(n)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// Name is the escalation engine module's name.
func (s *Pager) Name() string { return "paging" }

// EscalateBatch bounds one pass.
const EscalateBatch = 500

// UpdateAll is the engine module: it escalates every triggered page whose
// next step is due (or whose support hours have begun).
func (s *Pager) UpdateAll(ctx context.Context) error {
	now := s.o.Clock.Now()
	ids, err := s.st.DuePages(ctx, now, EscalateBatch)
	if err != nil {
		return err
	}
	errs := s.escalateAll(ctx, ids)
	if err := s.checkMonitors(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := s.pruneInbound(ctx); err != nil {
		errs = append(errs, err)
	}
	if len(ids) > 0 && s.o.Poke != nil {
		s.o.Poke()
	}
	return errors.Join(errs...)
}

// escalateWorkers is how many due pages escalate at once on PostgreSQL.
// Each is its own transaction, which locks only its page, and costs about
// a millisecond of round trips: in parallel a pass with 100 due pages
// stays well inside the engine's one-second tick. SQLite has one writer,
// so there they go one by one.
const escalateWorkers = 4

// escalateAll escalates the due pages ids.
func (s *Pager) escalateAll(ctx context.Context, ids []int64) []error {
	workers := 1
	if s.st.Dialect() == store.Postgres {
		workers = escalateWorkers
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	next := make(chan int64)
	for range min(workers, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				if err := s.escalate(ctx, id, false, ""); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("page %d: %w", id, err))
					mu.Unlock()
				}
			}
		}()
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
	return errs
}

// escalate moves a triggered page to its next step (now: at once, by a
// person), notifying that step's targets.
func (s *Pager) escalate(ctx context.Context, id int64, now bool, by string) error {
	if _, err := s.keys.get(ctx); err != nil { // before the transaction: see Trigger
		return err
	}
	at := s.o.Clock.Now()
	_, err := s.st.UpdatePage(ctx, id, func(p *store.Page) (store.PageEffects, error) {
		if p.State != store.PageTriggered || (!now && (p.NextAt == nil || p.NextAt.After(at))) {
			return store.PageEffects{}, store.ErrPageUnchanged
		}
		sv, err := s.service(ctx, p.Service)
		if err != nil {
			return store.PageEffects{}, err
		}
		pol, err := s.policy(ctx, sv.Policy)
		if err != nil {
			return store.PageEffects{}, err
		}
		it, err := s.items.Get(ctx, pagingActor(), p.WorkItemID)
		if err != nil {
			return store.PageEffects{}, err
		}
		step, round := p.Step+1, p.Rounds
		if step >= len(pol.Steps) {
			if round >= pol.Repeat {
				p.NextAt = nil
				return store.PageEffects{Entries: []workitem.Entry{{Actor: Actor, Kind: workitem.KindPage,
					Message: fmt.Sprintf("page #%d: escalation policy %s is exhausted and nobody acknowledged", p.ID, pol.Name)}}}, nil
			}
			step, round = 0, round+1
		}
		eff, next, err := s.notifyStep(ctx, *p, it, pol, step, round, at)
		if err != nil {
			return eff, err
		}
		if by != "" {
			eff.Entries = append([]workitem.Entry{{Actor: by, Kind: workitem.KindPage, Message: fmt.Sprintf("page #%d escalated now", p.ID)}}, eff.Entries...)
		}
		p.Step, p.Rounds, p.NextAt = step, round, &next
		s.m.escalations.WithLabelValues(p.Service).Inc()
		return eff, nil
	})
	return err
}

// Escalate notifies the next step at once.
func (s *Pager) Escalate(ctx context.Context, actor auth.Actor, id int64) (store.Page, error) {
	if err := actor.Check(auth.ActionTriage); err != nil {
		return store.Page{}, err
	}
	p, err := s.st.GetPage(ctx, id)
	if err != nil {
		return store.Page{}, err
	}
	if p.State != store.PageTriggered {
		return store.Page{}, &validation.ConflictError{Message: fmt.Sprintf("page %d is %s: only a triggered page escalates", id, p.State)}
	}
	if err := s.escalate(ctx, id, true, actor.String()); err != nil {
		return store.Page{}, err
	}
	if s.o.Poke != nil {
		s.o.Poke()
	}
	return s.st.GetPage(ctx, id)
}

// Acknowledge stops the escalation: the page is the responder's, its
// waiting notifications are cancelled, and its item is assigned to the
// responder and moved toward Active through transitions the process
// allows (each on the timeline, each written back as any move is).
func (s *Pager) Acknowledge(ctx context.Context, actor auth.Actor, id int64, responder string) (store.Page, error) {
	if err := actor.Check(auth.ActionTriage); err != nil {
		return store.Page{}, err
	}
	if responder == "" {
		responder = actor.Name
	}
	responder = strings.ToLower(responder)
	changed := false
	p, err := s.st.UpdatePage(ctx, id, func(p *store.Page) (store.PageEffects, error) {
		switch p.State {
		case store.PageAcknowledged:
			// Already someone's: a second acknowledgement takes nothing.
			return store.PageEffects{}, store.ErrPageUnchanged
		case store.PageResolved:
			return store.PageEffects{}, &validation.ConflictError{Message: fmt.Sprintf("page %d is resolved", id)}
		}
		now := s.o.Clock.Now()
		p.State, p.AckBy, p.AckAt, p.NextAt = store.PageAcknowledged, responder, &now, nil
		changed = true
		msgs, err := s.updates(ctx, *p, notify.KindAcknowledged, "acknowledged by "+responder)
		if err != nil {
			return store.PageEffects{}, err
		}
		return store.PageEffects{CancelPending: true, Messages: msgs, Entries: []workitem.Entry{{Actor: actor.String(), Kind: workitem.KindPage,
			Message: fmt.Sprintf("page #%d acknowledged by %s: escalation stopped", id, responder)}}}, nil
	})
	if err != nil {
		return store.Page{}, err
	}
	if !changed {
		return p, nil
	}
	if p.AckAt != nil {
		s.m.ack(p.Service, p.Urgency, p.CreatedAt, *p.AckAt)
	}
	if err := s.takeItem(ctx, p, responder); err != nil {
		s.log.Warn("acknowledged page: item not updated", "page", id, "item", p.WorkItemID, "err", err)
		_ = s.st.AppendTimeline(ctx, p.WorkItemID, Actor, workitem.KindPage, "acknowledged, but the item could not be taken: "+err.Error(), nil)
	}
	return p, nil
}

// ActiveState is the state an acknowledged page's item moves toward.
const ActiveState = "Active"

// takeItem assigns the item to the responder and walks it toward Active.
func (s *Pager) takeItem(ctx context.Context, p store.Page, responder string) error {
	by := auth.Actor{Kind: "user", Name: responder, Role: auth.RoleResponder}
	it, err := s.items.Get(ctx, pagingActor(), p.WorkItemID)
	if err != nil {
		return err
	}
	if it.Assignee != responder {
		if it, err = s.items.Update(ctx, by, it.ID, workitem.Patch{Assignee: &responder}, 0); err != nil {
			return fmt.Errorf("assign: %w", err)
		}
	}
	proc := s.items.Process()
	for _, to := range pathTo(proc, it.State, ActiveState) {
		if it, err = s.items.Transition(ctx, by, it.ID, to, fmt.Sprintf("acknowledged page #%d", p.ID), 0); err != nil {
			return fmt.Errorf("move to %s: %w", to, err)
		}
	}
	return nil
}

// pathTo is the shortest path of allowed transitions from one state to
// another, without passing through a terminal state; nil when there is
// none or from is to.
func pathTo(proc *workitem.Process, from, to string) []string {
	if proc == nil || from == to || !proc.Known(to) {
		return nil
	}
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, n := range proc.Next(cur) {
			if _, seen := prev[n]; seen || (proc.Terminal(n) && n != to) {
				continue
			}
			prev[n] = cur
			if n == to {
				var path []string
				for x := to; x != from; x = prev[x] {
					path = append([]string{x}, path...)
				}
				return path
			}
			queue = append(queue, n)
		}
	}
	return nil
}

// Resolve resolves a page and, unless the item is already closed, moves
// the item to the process's closed state: resolving either resolves both.
func (s *Pager) Resolve(ctx context.Context, actor auth.Actor, id int64) (store.Page, error) {
	if err := actor.Check(auth.ActionTriage); err != nil {
		return store.Page{}, err
	}
	p, err := s.resolve(ctx, id, actor.String(), "resolved")
	if err != nil {
		return store.Page{}, err
	}
	it, err := s.items.Get(ctx, pagingActor(), p.WorkItemID)
	if err != nil {
		return p, err
	}
	proc := s.items.Process()
	if proc.Terminal(it.State) {
		return p, nil
	}
	closed := closedState(proc, it.State)
	if closed == "" {
		return p, nil
	}
	// Closed is seldom one move away (the default process goes Active,
	// Verification, Closed): walk the allowed transitions, each on the
	// timeline, as an acknowledgement walks toward Active.
	for _, to := range pathTo(proc, it.State, closed) {
		if it, err = s.items.Transition(ctx, actor, it.ID, to, fmt.Sprintf("page #%d resolved", id), 0); err != nil {
			return p, fmt.Errorf("move item %d to %s: %w", p.WorkItemID, to, err)
		}
	}
	return p, nil
}

// closedState is the first terminal state reachable from state (the
// default process's Closed).
func closedState(proc *workitem.Process, state string) string {
	for _, n := range proc.Next(state) {
		if proc.Terminal(n) && n != "Removed" {
			return n
		}
	}
	for _, n := range proc.Next(state) {
		if p := pathTo(proc, state, n); len(p) > 0 {
			if c := closedState(proc, n); c != "" {
				return c
			}
		}
	}
	return ""
}

func (s *Pager) resolve(ctx context.Context, id int64, by, why string) (store.Page, error) {
	return s.st.UpdatePage(ctx, id, func(p *store.Page) (store.PageEffects, error) {
		if p.State == store.PageResolved {
			return store.PageEffects{}, store.ErrPageUnchanged
		}
		now := s.o.Clock.Now()
		s.m.resolved.WithLabelValues(p.Service, map[bool]string{true: "yes", false: "no"}[p.AckAt != nil]).Inc()
		p.State, p.ResolvedAt, p.NextAt = store.PageResolved, &now, nil
		msgs, err := s.updates(ctx, *p, notify.KindResolved, why)
		if err != nil {
			return store.PageEffects{}, err
		}
		return store.PageEffects{CancelPending: true, Messages: msgs, Entries: []workitem.Entry{{Actor: by, Kind: workitem.KindPage,
			Message: fmt.Sprintf("page #%d %s", id, why)}}}, nil
	})
}

// Reassign hands a page to one user: they are notified at once, and the
// item is assigned to them; the escalation goes on until someone
// acknowledges.
func (s *Pager) Reassign(ctx context.Context, actor auth.Actor, id int64, user string) (store.Page, error) {
	if err := actor.Check(auth.ActionTriage); err != nil {
		return store.Page{}, err
	}
	user = strings.ToLower(strings.TrimSpace(user))
	if !strings.Contains(user, "@") {
		return store.Page{}, validation.NewFieldError("user", "must be a user's email address")
	}
	if _, err := s.keys.get(ctx); err != nil { // before the transaction: see Trigger
		return store.Page{}, err
	}
	now := s.o.Clock.Now()
	p, err := s.st.UpdatePage(ctx, id, func(p *store.Page) (store.PageEffects, error) {
		if p.State == store.PageResolved {
			return store.PageEffects{}, &validation.ConflictError{Message: fmt.Sprintf("page %d is resolved", id)}
		}
		it, err := s.items.Get(ctx, pagingActor(), p.WorkItemID)
		if err != nil {
			return store.PageEffects{}, err
		}
		eff, who, err := s.notifyUsers(ctx, *p, it, []string{user}, fmt.Sprintf("x%d", now.UnixMilli()), now)
		if err != nil {
			return eff, err
		}
		p.State, p.AckBy, p.AckAt = store.PageTriggered, "", nil
		eff.Entries = append(eff.Entries, workitem.Entry{Actor: actor.String(), Kind: workitem.KindPage,
			Message: fmt.Sprintf("page #%d reassigned to %s (%s)", id, user, strings.Join(who[0].methods, ", "))})
		return eff, nil
	})
	if err != nil {
		return store.Page{}, err
	}
	if _, err := s.items.Update(ctx, actor, p.WorkItemID, workitem.Patch{Assignee: &user}, 0); err != nil {
		s.log.Warn("reassigned page: item not assigned", "page", id, "err", err)
	}
	if s.o.Poke != nil {
		s.o.Poke()
	}
	return p, nil
}

// Pages lists pages.
func (s *Pager) Pages(ctx context.Context, actor auth.Actor, f store.PageFilter) ([]store.Page, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return nil, err
	}
	return s.st.ListPages(ctx, f)
}

// Page returns one page.
func (s *Pager) Page(ctx context.Context, actor auth.Actor, id int64) (store.Page, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return store.Page{}, err
	}
	return s.st.GetPage(ctx, id)
}

// Changed is the items service's observer: an item that reaches a
// terminal state resolves its open page, and an acknowledged page's
// responder follows the item's assignee when someone else (Sentinel's
// owner, a person) reassigns it.
func (s *Pager) Changed(ctx context.Context, c workitem.Change) {
	if c.Kind == workitem.ChangeAssigned && c.To != "" {
		p, ok, err := s.st.OpenPageForItem(ctx, c.Item.ID)
		if err != nil || !ok || p.State != store.PageAcknowledged || strings.EqualFold(p.AckBy, c.To) {
			return
		}
		if _, err := s.st.UpdatePage(ctx, p.ID, func(p *store.Page) (store.PageEffects, error) {
			from := p.AckBy
			p.AckBy = strings.ToLower(c.To)
			return store.PageEffects{Entries: []workitem.Entry{{Actor: c.Actor, Kind: workitem.KindPage,
				Message: fmt.Sprintf("page #%d's responder follows the item's assignee: %s, was %s", p.ID, p.AckBy, from)}}}, nil
		}); err != nil {
			s.log.Warn("page responder follows assignee", "page", p.ID, "err", err)
		}
		return
	}
	if c.Kind != workitem.ChangeMoved || s.items.Process() == nil || !s.items.Process().Terminal(c.To) {
		return
	}
	p, ok, err := s.st.OpenPageForItem(ctx, c.Item.ID)
	if err != nil || !ok {
		return
	}
	if _, err := s.resolve(ctx, p.ID, Actor, fmt.Sprintf("resolved: item #%d moved to %s", c.Item.ID, c.To)); err != nil {
		s.log.Warn("resolve page of closed item", "page", p.ID, "err", err)
	}
}
