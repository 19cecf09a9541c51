package workitem

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/validation"
)

// Store is the persistence the service needs.
type Store interface {
	GetWorkItem(ctx context.Context, id int64) (Item, error)
	ListWorkItems(ctx context.Context, f Filter) ([]Item, error)
	UpdateWorkItem(ctx context.Context, id int64, fn func(*Item) ([]Entry, error)) (Item, error)
	UpdateWorkItemEffects(ctx context.Context, id int64, fn func(*Item) ([]Entry, []outbox.Message, error)) (Item, error)
	Timeline(ctx context.Context, id, after int64, limit int) ([]Entry, error)
	RecentTimeline(ctx context.Context, id, before int64, limit int) ([]Entry, error)
	AddCommentEffects(ctx context.Context, c Comment, msgs []outbox.Message) (Comment, error)
	Comments(ctx context.Context, id int64) ([]Comment, error)
	AddTask(ctx context.Context, t Task, actor string) (Task, error)
	UpdateTask(ctx context.Context, itemID, taskID int64, actor string, fn func(*Task) (string, error)) (Task, error)
	Tasks(ctx context.Context, id int64) ([]Task, error)
	BoardColumn(ctx context.Context, state string, f Filter, limit int) ([]Item, int, error)
	GetOutbox(ctx context.Context, id int64) (outbox.Message, error)
	RetryOutboxNow(ctx context.Context, id int64) error
	AppendTimeline(ctx context.Context, itemID int64, actor, kind, message string, data any) error
}

// Service applies changes to work items: it checks the actor's role and
// the process, and makes the store record every change on the timeline.
// Handlers, the UI and automation all go through it, so the rules hold
// whatever the entry point.
type Service struct {
	store    Store
	proc     *Process
	clock    clock.Clock
	planner  Planner
	observer Observer
}

// Observer hears changes after they commit: the automation rules' update
// triggers (item.moved, item.assigned, item.commented).
type Observer interface {
	Changed(ctx context.Context, c Change)
}

// Change kinds.
const (
	ChangeMoved     = "moved"
	ChangeAssigned  = "assigned"
	ChangeCommented = "commented"
)

// Change is one committed change to an item.
type Change struct {
	Kind     string
	Item     Item
	Actor    string
	From, To string // moved: states; assigned: assignees
	Severity [2]string
	Comment  string
}

// Observe makes o hear every committed move, assignment and comment.
func (s *Service) Observe(o Observer) *Service {
	s.observer = o
	return s
}

func (s *Service) notify(ctx context.Context, c Change) {
	if s.observer != nil {
		s.observer.Changed(ctx, c)
	}
}

// Planner decides the writes to external systems a transition implies.
type Planner interface {
	Plan(ctx context.Context, it Item, from, to, reason string) ([]outbox.Message, error)
}

// ChangePlanner is a Planner that also mirrors comments and assignments to
// the records an item tracks (a Sentinel incident's comments and owner).
type ChangePlanner interface {
	// PlanComment may use "{comment}" in idempotency keys; the store puts
	// the new comment's id there.
	PlanComment(ctx context.Context, it Item, c Comment) ([]outbox.Message, error)
	PlanAssign(ctx context.Context, it Item, from, to string) ([]outbox.Message, error)
}

// DuePlanner is a Planner that also writes an item's due date back (a
// Defender for Cloud governance assignment's remediation due date).
// PlanAssign is given the item with its new due date when both change.
type DuePlanner interface {
	PlanDue(ctx context.Context, it Item, from, to *time.Time) ([]outbox.Message, error)
}

// FieldChange is what an update changed that a source may mirror: each
// field is nil when it did not change.
type FieldChange struct {
	Severity *alert.Severity
	Tags     *[]string
}

// FieldPlanner is a Planner that also writes an item's severity and tags
// back (an incident's severity and labels or custom tags). It is given
// the item as it was before the change.
type FieldPlanner interface {
	PlanFields(ctx context.Context, it Item, ch FieldChange) ([]outbox.Message, error)
}

// WithPlanner makes transitions queue their write-backs in the outbox, in
// the same transaction as the change.
func (s *Service) WithPlanner(p Planner) *Service {
	s.planner = p
	return s
}

// NewService returns a Service.
func NewService(st Store, proc *Process, clk clock.Clock) *Service {
	return &Service{store: st, proc: proc, clock: clk}
}

// Process returns the process in force.
func (s *Service) Process() *Process { return s.proc }

// Limits on user-entered fields.
const (
	MaxTags       = 32
	MaxTagLength  = 64
	MaxComment    = 64 << 10
	MaxTaskTitle  = 256
	MaxAssignee   = 256
	MaxReasonText = 4096
)

// Get returns one item.
func (s *Service) Get(ctx context.Context, actor auth.Actor, id int64) (Item, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return Item{}, err
	}
	return s.store.GetWorkItem(ctx, id)
}

// List returns items matching f.
func (s *Service) List(ctx context.Context, actor auth.Actor, f Filter) ([]Item, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return nil, err
	}
	for i, st := range f.States {
		if !s.proc.Known(st) {
			return nil, validation.NewFieldError(fmt.Sprintf("state[%d]", i), "unknown state %q", st)
		}
	}
	return s.store.ListWorkItems(ctx, f)
}

// Board returns one column per state of the process, in board order, each
// with the number of items matching f and the newest perColumn of them.
// f.States, f.After and f.Limit are ignored.
func (s *Service) Board(ctx context.Context, actor auth.Actor, f Filter, perColumn int) ([]Column, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return nil, err
	}
	cols := make([]Column, 0, len(s.proc.States))
	for _, st := range s.proc.States {
		items, n, err := s.store.BoardColumn(ctx, st.Name, f, perColumn)
		if err != nil {
			return nil, fmt.Errorf("board column %s: %w", st.Name, err)
		}
		cols = append(cols, Column{State: st.Name, Terminal: st.Terminal, ReasonRequired: st.ReasonRequired, Count: n, Items: items})
	}
	return cols, nil
}

// RetryWrite makes a pending or failed write-back of item id due now, and
// says so on the item's timeline.
func (s *Service) RetryWrite(ctx context.Context, actor auth.Actor, id, msgID int64) error {
	if err := actor.Check(auth.ActionTriage); err != nil {
		return err
	}
	m, err := s.store.GetOutbox(ctx, msgID)
	if err != nil {
		return err
	}
	if m.WorkItemID != id {
		return fmt.Errorf("write %d of work item %d: %w", msgID, id, validation.ErrNotFound)
	}
	if err := s.store.RetryOutboxNow(ctx, msgID); err != nil {
		return err
	}
	return s.store.AppendTimeline(ctx, id, actor.String(), KindSync,
		fmt.Sprintf("retry now requested: %s %s on %s", m.Target, m.Op, m.Resource),
		map[string]any{"outbox_id": msgID, "target": m.Target, "op": m.Op})
}

// Transition moves an item to state to. ifRev, when non-zero, is the
// revision the caller last saw; a different current revision fails with
// validation.ErrStale instead of overwriting someone else's change.
func (s *Service) Transition(ctx context.Context, actor auth.Actor, id int64, to, reason string, ifRev int) (Item, error) {
	if err := actor.Check(auth.ActionTriage); err != nil {
		return Item{}, err
	}
	reason = strings.TrimSpace(reason)
	if len(reason) > MaxReasonText {
		return Item{}, validation.NewFieldError("reason", "must be at most %d bytes", MaxReasonText)
	}
	var from string
	it, err := s.store.UpdateWorkItemEffects(ctx, id, func(it *Item) ([]Entry, []outbox.Message, error) {
		if ifRev != 0 && it.Rev != ifRev {
			return nil, nil, fmt.Errorf("work item %d is at rev %d, not %d: %w", id, it.Rev, ifRev, validation.ErrStale)
		}
		from = it.State
		if it.MergedInto != 0 {
			return nil, nil, &validation.ConflictError{Message: fmt.Sprintf("work item %d was merged into work item %d; move that one", id, it.MergedInto)}
		}
		if err := s.proc.CheckTransition(it.State, to, reason); err != nil {
			return nil, nil, err
		}
		from := it.State
		var msgs []outbox.Message
		if s.planner != nil {
			var err error
			if msgs, err = s.planner.Plan(ctx, *it, from, to, reason); err != nil {
				return nil, nil, err
			}
		}
		it.State = to
		if s.proc.Terminal(to) {
			now := s.clock.Now()
			it.ClosedAt = &now
		} else {
			it.ClosedAt = nil
		}
		entries := []Entry{{Actor: actor.String(), Kind: KindTransition, Message: fmt.Sprintf("moved from %s to %s", from, to),
			Reason: reason, Data: map[string]string{"from": from, "to": to}}}
		entries = append(entries, queuedEntries(msgs)...)
		return entries, msgs, nil
	})
	if err == nil && from != to {
		s.notify(ctx, Change{Kind: ChangeMoved, Item: it, Actor: actor.String(), From: from, To: to})
	}
	return it, err
}

// Follow moves an item because a record it tracks changed at its source:
// a Sentinel incident closed there, an Azure Boards work item moved. The
// source is the truth, so the process's transition rules do not apply,
// but a closed item is never reopened this way. cause is the timeline's
// explanation ("incident 42 closed in Sentinel as TruePositive").
//
// The write-backs the move implies are planned as for a user's move,
// except those to origin: vigil does not echo a change back to the system
// it came from. Follow reports false when the item was already there.
func (s *Service) Follow(ctx context.Context, id int64, to, origin, cause string, data any) (Item, bool, error) {
	return s.follow(ctx, id, to, origin, cause, data, false)
}

// FollowSourceResolved moves an item whose alerts are all resolved or
// dismissed at their source to the process's on_source_resolved state,
// when the process names one and allows the move from the item's state.
// Like Follow, it writes nothing back to origin, the alerts' source.
func (s *Service) FollowSourceResolved(ctx context.Context, id int64, origin, cause string) (Item, bool, error) {
	to := s.proc.OnSourceResolved
	if to == "" {
		return Item{}, false, nil
	}
	return s.follow(ctx, id, to, origin, cause, map[string]any{"rule": "on_source_resolved"}, true)
}

func (s *Service) follow(ctx context.Context, id int64, to, origin, cause string, data any, allowedOnly bool) (Item, bool, error) {
	if !s.proc.Known(to) {
		return Item{}, false, fmt.Errorf("follow %s: unknown state %q", origin, to)
	}
	moved, movedFrom := false, ""
	it, err := s.store.UpdateWorkItemEffects(ctx, id, func(it *Item) ([]Entry, []outbox.Message, error) {
		moved = false
		if it.State == to || s.proc.Terminal(it.State) || it.MergedInto != 0 {
			return nil, nil, nil
		}
		if allowedOnly && !s.proc.Allowed(it.State, to) {
			return nil, nil, nil
		}
		from := it.State
		movedFrom = from
		var msgs []outbox.Message
		if s.planner != nil {
			planned, err := s.planner.Plan(ctx, *it, from, to, cause)
			if err != nil {
				return nil, nil, err
			}
			for _, m := range planned {
				if m.Target != origin {
					msgs = append(msgs, m)
				}
			}
		}
		moved = true
		it.State = to
		if s.proc.Terminal(to) {
			now := s.clock.Now()
			it.ClosedAt = &now
		}
		entries := []Entry{{Actor: origin, Kind: KindTransition, Message: fmt.Sprintf("moved from %s to %s: %s", from, to, cause),
			Reason: cause, Data: map[string]any{"from": from, "to": to, "origin": origin, "cause": data}}}
		entries = append(entries, queuedEntries(msgs)...)
		return entries, msgs, nil
	})
	if err == nil && moved {
		s.notify(ctx, Change{Kind: ChangeMoved, Item: it, Actor: origin, From: movedFrom, To: to})
	}
	return it, moved, err
}

// FollowAssignee assigns an item to whom its source says owns it (a
// Sentinel incident's owner changed in the portal). The assignment is
// written back to every linked system except origin, which already has
// it, and observers hear it as any assignment (an open page's responder
// follows). It reports false when the item already had that assignee.
func (s *Service) FollowAssignee(ctx context.Context, id int64, assignee, origin, cause string) (Item, bool, error) {
	changed, from := false, ""
	it, err := s.store.UpdateWorkItemEffects(ctx, id, func(it *Item) ([]Entry, []outbox.Message, error) {
		changed = false
		if strings.EqualFold(it.Assignee, assignee) || s.proc.Terminal(it.State) || it.MergedInto != 0 {
			return nil, nil, nil
		}
		var msgs []outbox.Message
		if cp, ok := s.planner.(ChangePlanner); ok {
			planned, err := cp.PlanAssign(ctx, *it, it.Assignee, assignee)
			if err != nil {
				return nil, nil, err
			}
			for _, m := range planned {
				if m.Target != origin {
					msgs = append(msgs, m)
				}
			}
		}
		changed, from = true, it.Assignee
		it.Assignee = assignee
		entries := []Entry{{Actor: origin, Kind: KindUpdate, Message: fmt.Sprintf("assigned to %s: %s", orNobody(assignee), cause),
			Data: map[string]any{"field": "assignee", "from": from, "to": assignee, "origin": origin}}}
		return append(entries, queuedEntries(msgs)...), msgs, nil
	})
	if err == nil && changed {
		s.notify(ctx, Change{Kind: ChangeAssigned, Item: it, Actor: origin, From: from, To: assignee})
	}
	return it, changed, err
}

// sameDue compares due dates to the second (the stored precision is
// finer, a date input's coarser).
func sameDue(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Truncate(time.Second).Equal(b.Truncate(time.Second))
}

// formatDue is a due date as timelines show it: the day when it is
// midnight UTC, as a date input sets it, else the instant.
func formatDue(t *time.Time) string {
	switch {
	case t == nil:
		return ""
	case t.UTC().Truncate(24 * time.Hour).Equal(t.UTC()):
		return t.UTC().Format(time.DateOnly)
	}
	return t.UTC().Format(time.RFC3339)
}

func orNobody(s string) string {
	if s == "" {
		return "nobody"
	}
	return s
}

// Update applies a partial change of title, severity, assignee or tags.
func (s *Service) Update(ctx context.Context, actor auth.Actor, id int64, p Patch, ifRev int) (Item, error) {
	if err := actor.Check(auth.ActionTriage); err != nil {
		return Item{}, err
	}
	if err := p.validate(); err != nil {
		return Item{}, err
	}
	var assigned [2]string
	var sev [2]string
	it, err := s.store.UpdateWorkItemEffects(ctx, id, func(it *Item) ([]Entry, []outbox.Message, error) {
		if ifRev != 0 && it.Rev != ifRev {
			return nil, nil, fmt.Errorf("work item %d is at rev %d, not %d: %w", id, it.Rev, ifRev, validation.ErrStale)
		}
		assigned, sev = [2]string{it.Assignee, it.Assignee}, [2]string{string(it.Severity), string(it.Severity)}
		if p.Assignee != nil {
			assigned[1] = *p.Assignee
		}
		if p.Severity != nil {
			sev[1] = string(*p.Severity)
		}
		var msgs []outbox.Message
		due, dueChanged := it.DueAt, false
		if p.DueAt != nil {
			due = nil
			if !p.DueAt.IsZero() {
				d := p.DueAt.UTC()
				due = &d
			}
			dueChanged = !sameDue(it.DueAt, due)
		}
		assigning := p.Assignee != nil && *p.Assignee != it.Assignee
		if cp, ok := s.planner.(ChangePlanner); ok && assigning {
			planned := *it
			planned.DueAt = due
			var err error
			if msgs, err = cp.PlanAssign(ctx, planned, it.Assignee, *p.Assignee); err != nil {
				return nil, nil, err
			}
		}
		if dp, ok := s.planner.(DuePlanner); ok && dueChanged && !assigning {
			more, err := dp.PlanDue(ctx, *it, it.DueAt, due)
			if err != nil {
				return nil, nil, err
			}
			msgs = append(msgs, more...)
		}
		var fc FieldChange
		if p.Severity != nil && *p.Severity != it.Severity {
			fc.Severity = p.Severity
		}
		if p.Tags != nil && !slices.Equal(*p.Tags, it.Tags) {
			fc.Tags = p.Tags
		}
		if fp, ok := s.planner.(FieldPlanner); ok && (fc.Severity != nil || fc.Tags != nil) {
			more, err := fp.PlanFields(ctx, *it, fc)
			if err != nil {
				return nil, nil, err
			}
			msgs = append(msgs, more...)
		}
		var changes []Entry
		change := func(field, from, to string) {
			if from == to {
				return
			}
			changes = append(changes, Entry{Actor: actor.String(), Kind: KindUpdate,
				Message: fmt.Sprintf("%s changed from %q to %q", field, from, to),
				Data:    map[string]string{"field": field, "from": from, "to": to}})
		}
		if p.Title != nil {
			change("title", it.Title, *p.Title)
			it.Title = *p.Title
		}
		if p.Severity != nil {
			change("severity", string(it.Severity), string(*p.Severity))
			it.Severity = *p.Severity
		}
		if p.Assignee != nil {
			change("assignee", it.Assignee, *p.Assignee)
			it.Assignee = *p.Assignee
		}
		if p.Tags != nil {
			change("tags", strings.Join(it.Tags, ", "), strings.Join(*p.Tags, ", "))
			it.Tags = *p.Tags
		}
		if dueChanged {
			change("due date", formatDue(it.DueAt), formatDue(due))
			it.DueAt = due
		}
		changes = append(changes, queuedEntries(msgs)...)
		return changes, msgs, nil
	})
	if err == nil && assigned[0] != assigned[1] {
		s.notify(ctx, Change{Kind: ChangeAssigned, Item: it, Actor: actor.String(), From: assigned[0], To: assigned[1], Severity: sev})
	}
	return it, err
}

// validate checks and normalizes a patch in place.
func (p *Patch) validate() error {
	if p.Title != nil {
		t := strings.TrimSpace(*p.Title)
		if t == "" {
			return validation.NewFieldError("title", "must not be empty")
		}
		if len(t) > alert.MaxTitle {
			return validation.NewFieldError("title", "must be at most %d characters", alert.MaxTitle)
		}
		p.Title = &t
	}
	if p.Severity != nil && !p.Severity.Valid() {
		return validation.NewFieldError("severity", "unknown severity %q (want one of informational, low, medium, high, critical)", *p.Severity)
	}
	if p.Assignee != nil {
		a := strings.TrimSpace(*p.Assignee)
		if len(a) > MaxAssignee {
			return validation.NewFieldError("assignee", "must be at most %d characters", MaxAssignee)
		}
		p.Assignee = &a
	}
	if p.Tags != nil {
		tags, err := NormalizeTags(*p.Tags)
		if err != nil {
			return err
		}
		p.Tags = &tags
	}
	return nil
}

// NormalizeTags trims, lower-cases, dedups and sorts tags.
func NormalizeTags(in []string) ([]string, error) {
	if len(in) > MaxTags {
		return nil, validation.NewFieldError("tags", "at most %d tags", MaxTags)
	}
	out := make([]string, 0, len(in))
	for i, t := range in {
		t = strings.ToLower(strings.TrimSpace(t))
		switch {
		case t == "":
			return nil, validation.NewFieldError(fmt.Sprintf("tags[%d]", i), "must not be empty")
		case utf8.RuneCountInString(t) > MaxTagLength:
			return nil, validation.NewFieldError(fmt.Sprintf("tags[%d]", i), "must be at most %d characters", MaxTagLength)
		case strings.ContainsAny(t, ",\n\r\t"):
			return nil, validation.NewFieldError(fmt.Sprintf("tags[%d]", i), "must not contain commas or control characters")
		}
		out = append(out, t)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Timeline returns an item's timeline page.
func (s *Service) Timeline(ctx context.Context, actor auth.Actor, id, after int64, limit int) ([]Entry, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return nil, err
	}
	if _, err := s.store.GetWorkItem(ctx, id); err != nil {
		return nil, err
	}
	return s.store.Timeline(ctx, id, after, limit)
}

// RecentTimeline returns an item's newest entries before the entry id
// before (0: the newest), newest first.
func (s *Service) RecentTimeline(ctx context.Context, actor auth.Actor, id, before int64, limit int) ([]Entry, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return nil, err
	}
	if _, err := s.store.GetWorkItem(ctx, id); err != nil {
		return nil, err
	}
	return s.store.RecentTimeline(ctx, id, before, limit)
}

// Comment adds a comment.
func (s *Service) Comment(ctx context.Context, actor auth.Actor, id int64, body string) (Comment, error) {
	if err := actor.Check(auth.ActionTriage); err != nil {
		return Comment{}, err
	}
	body = strings.TrimSpace(body)
	if body == "" {
		return Comment{}, validation.NewFieldError("body", "must not be empty")
	}
	if len(body) > MaxComment {
		return Comment{}, validation.NewFieldError("body", "must be at most %d bytes", MaxComment)
	}
	c := Comment{WorkItemID: id, Author: actor.String(), Body: body, At: s.clock.Now()}
	var msgs []outbox.Message
	if cp, ok := s.planner.(ChangePlanner); ok {
		it, err := s.store.GetWorkItem(ctx, id)
		if err != nil {
			return Comment{}, err
		}
		if msgs, err = cp.PlanComment(ctx, it, c); err != nil {
			return Comment{}, err
		}
	}
	c, err := s.store.AddCommentEffects(ctx, c, msgs)
	if err == nil && s.observer != nil {
		if it, gerr := s.store.GetWorkItem(ctx, id); gerr == nil {
			s.notify(ctx, Change{Kind: ChangeCommented, Item: it, Actor: actor.String(), Comment: body})
		}
	}
	return c, err
}

// FollowComment adds a comment someone made at a source (origin) to item
// id, once: a comment with the same author and text already there is the
// same one, read again. Like a comment made in vigil it is mirrored to
// the item's other sources and trackers, but not back to origin.
func (s *Service) FollowComment(ctx context.Context, id int64, origin, author, body string, at time.Time) (Comment, bool, error) {
	body = strings.TrimSpace(body)
	if body == "" {
		return Comment{}, false, nil
	}
	if len(body) > MaxComment {
		body = body[:MaxComment]
	}
	author = origin + ":" + author
	have, err := s.store.Comments(ctx, id)
	if err != nil {
		return Comment{}, false, err
	}
	for _, c := range have {
		if c.Author == author && c.Body == body {
			return c, false, nil
		}
	}
	c := Comment{WorkItemID: id, Author: author, Body: body, At: at}
	if at.IsZero() || at.After(s.clock.Now()) {
		c.At = s.clock.Now()
	}
	var msgs []outbox.Message
	if cp, ok := s.planner.(ChangePlanner); ok {
		it, err := s.store.GetWorkItem(ctx, id)
		if err != nil {
			return Comment{}, false, err
		}
		planned, err := cp.PlanComment(ctx, it, c)
		if err != nil {
			return Comment{}, false, err
		}
		for _, m := range planned {
			if m.Target != origin {
				msgs = append(msgs, m)
			}
		}
	}
	c, err = s.store.AddCommentEffects(ctx, c, msgs)
	if err != nil {
		return Comment{}, false, err
	}
	if s.observer != nil {
		if it, gerr := s.store.GetWorkItem(ctx, id); gerr == nil {
			s.notify(ctx, Change{Kind: ChangeCommented, Item: it, Actor: author, Comment: body})
		}
	}
	return c, true, nil
}

// CommentMirrors returns the writes a comment on item id would queue now,
// without queuing anything: Comment's own planning, run dry, so that what
// the comment box says about where a comment goes is what happens. None
// means a comment stays in vigil.
func (s *Service) CommentMirrors(ctx context.Context, actor auth.Actor, id int64) ([]outbox.Message, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return nil, err
	}
	cp, ok := s.planner.(ChangePlanner)
	if !ok {
		return nil, nil
	}
	it, err := s.store.GetWorkItem(ctx, id)
	if err != nil {
		return nil, err
	}
	return cp.PlanComment(ctx, it, Comment{WorkItemID: id, Author: actor.String(), At: s.clock.Now()})
}

// Comments lists an item's comments.
func (s *Service) Comments(ctx context.Context, actor auth.Actor, id int64) ([]Comment, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return nil, err
	}
	if _, err := s.store.GetWorkItem(ctx, id); err != nil {
		return nil, err
	}
	return s.store.Comments(ctx, id)
}

// AddTask adds a checklist task.
func (s *Service) AddTask(ctx context.Context, actor auth.Actor, id int64, title string) (Task, error) {
	if err := actor.Check(auth.ActionTriage); err != nil {
		return Task{}, err
	}
	title, err := taskTitle(title)
	if err != nil {
		return Task{}, err
	}
	return s.store.AddTask(ctx, Task{WorkItemID: id, Title: title}, actor.String())
}

// UpdateTask renames a task or ticks it off.
func (s *Service) UpdateTask(ctx context.Context, actor auth.Actor, id, taskID int64, title *string, done *bool) (Task, error) {
	if err := actor.Check(auth.ActionTriage); err != nil {
		return Task{}, err
	}
	if title != nil {
		t, err := taskTitle(*title)
		if err != nil {
			return Task{}, err
		}
		title = &t
	}
	return s.store.UpdateTask(ctx, id, taskID, actor.String(), func(t *Task) (string, error) {
		var msgs []string
		if title != nil && *title != t.Title {
			msgs = append(msgs, fmt.Sprintf("renamed task %q to %q", t.Title, *title))
			t.Title = *title
		}
		if done != nil && *done != t.Done {
			t.Done = *done
			if t.Done {
				t.DoneBy = actor.String()
				msgs = append(msgs, fmt.Sprintf("completed task %q", t.Title))
			} else {
				t.DoneBy = ""
				msgs = append(msgs, fmt.Sprintf("reopened task %q", t.Title))
			}
		}
		return strings.Join(msgs, "; "), nil
	})
}

func taskTitle(t string) (string, error) {
	t = strings.TrimSpace(t)
	if t == "" {
		return "", validation.NewFieldError("title", "must not be empty")
	}
	if len(t) > MaxTaskTitle {
		return "", validation.NewFieldError("title", "must be at most %d characters", MaxTaskTitle)
	}
	return t, nil
}

// Tasks lists an item's checklist.
func (s *Service) Tasks(ctx context.Context, actor auth.Actor, id int64) ([]Task, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return nil, err
	}
	if _, err := s.store.GetWorkItem(ctx, id); err != nil {
		return nil, err
	}
	return s.store.Tasks(ctx, id)
}

// queuedEntries are the timeline entries saying which write-backs a change
// queued.
func queuedEntries(msgs []outbox.Message) []Entry {
	out := make([]Entry, len(msgs))
	for i, m := range msgs {
		out[i] = Entry{Actor: "vigil", Kind: KindSync,
			Message: fmt.Sprintf("queued write-back: %s %s on %s", m.Target, m.Op, m.Resource),
			Data:    map[string]string{"target": m.Target, "op": m.Op, "resource": m.Resource, "idem_key": m.IdemKey}}
	}
	return out
}
