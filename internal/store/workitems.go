package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

const itemColumns = `id, type, title, state, severity, assignee, source, rev, alert_count,
    COALESCE(previous_id, 0), created_at, updated_at, last_seen, COALESCE(closed_at, 0),
    key_entity, COALESCE(source_resolved_at, 0), COALESCE(merged_into, 0), COALESCE(due_at, 0)`

type scanner interface{ Scan(...any) error }

func scanItem(s scanner) (workitem.Item, error) {
	var it workitem.Item
	var typ, sev string
	var created, updated, seen, closed, resolved, due int64
	err := s.Scan(&it.ID, &typ, &it.Title, &it.State, &sev, &it.Assignee, &it.Source, &it.Rev, &it.AlertCount,
		&it.PreviousID, &created, &updated, &seen, &closed, &it.KeyEntity, &resolved, &it.MergedInto, &due)
	if err != nil {
		return it, err
	}
	it.Type, it.Severity = workitem.Type(typ), alert.Severity(sev)
	it.CreatedAt, it.UpdatedAt, it.LastSeen = fromUS(created), fromUS(updated), fromUS(seen)
	if closed != 0 {
		t := fromUS(closed)
		it.ClosedAt = &t
	}
	if resolved != 0 {
		t := fromUS(resolved)
		it.SourceResolvedAt = &t
	}
	if due != 0 {
		t := fromUS(due)
		it.DueAt = &t
	}
	it.Tags = []string{}
	return it, nil
}

// GetWorkItem returns one item with its tags and linked alerts and incidents.
func (db *DB) GetWorkItem(ctx context.Context, id int64) (workitem.Item, error) {
	return db.getWorkItem(ctx, db.r, id)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (db *DB) getWorkItem(ctx context.Context, q querier, id int64) (workitem.Item, error) {
	it, err := scanItem(q.QueryRowContext(ctx, db.q(`SELECT `+itemColumns+` FROM workitems WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return it, fmt.Errorf("work item %d: %w", id, validation.ErrNotFound)
	}
	if err != nil {
		return it, fmt.Errorf("get work item %d: %w", id, err)
	}
	if err := db.loadTags(ctx, q, []*workitem.Item{&it}); err != nil {
		return it, err
	}
	if it.AlertIDs, err = db.ids(ctx, q, `SELECT alert_id FROM workitem_alerts WHERE workitem_id = ? ORDER BY alert_id`, id); err != nil {
		return it, err
	}
	if it.IncidentIDs, err = db.ids(ctx, q, `SELECT incident_id FROM workitem_incidents WHERE workitem_id = ? ORDER BY incident_id`, id); err != nil {
		return it, err
	}
	return it, nil
}

func (db *DB) ids(ctx context.Context, q querier, query string, args ...any) ([]int64, error) {
	rows, err := q.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("query ids: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// loadTags fills Tags of items with one query.
func (db *DB) loadTags(ctx context.Context, q querier, items []*workitem.Item) error {
	if len(items) == 0 {
		return nil
	}
	byID := make(map[int64]*workitem.Item, len(items))
	args := make([]any, len(items))
	for i, it := range items {
		byID[it.ID] = it
		args[i] = it.ID
	}
	rows, err := q.QueryContext(ctx, db.q(`SELECT workitem_id, tag FROM workitem_tags WHERE workitem_id IN (`+
		placeholders(len(items))+`) ORDER BY workitem_id, tag`), args...)
	if err != nil {
		return fmt.Errorf("load tags: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var tag string
		if err := rows.Scan(&id, &tag); err != nil {
			return err
		}
		byID[id].Tags = append(byID[id].Tags, tag)
	}
	return rows.Err()
}

// MaxPage bounds one page of any list.
const MaxPage = 500

// ListWorkItems returns items matching f, newest first.
func (db *DB) ListWorkItems(ctx context.Context, f workitem.Filter) ([]workitem.Item, error) {
	if err := checkItemFilter(f); err != nil {
		return nil, err
	}
	c := itemConds(f)
	c.in("state", f.States)
	q := ""
	if f.Oldest {
		q = c.page(itemColumns, "workitems", f.Limit)
		q = strings.Replace(q, " ORDER BY id DESC ", " ORDER BY id ASC ", 1)
	} else {
		c.before(f.After)
		q = c.page(itemColumns, "workitems", f.Limit)
	}
	items, err := queryAll(ctx, db, "work items", q, c.args, scanItem)
	if err != nil {
		return nil, err
	}
	return items, db.loadTags(ctx, db.r, itemPtrs(items))
}

// itemConds is the WHERE clause of f's field filters (not its states or
// cursor, which the board and the list apply differently).
func itemConds(f workitem.Filter) conds {
	var c conds
	c.eq("type", string(f.Type))
	c.eq("severity", string(f.Severity))
	c.eq("source", f.Source)
	c.eq("assignee", f.Assignee)
	if f.Tag != "" {
		c.add("id IN (SELECT workitem_id FROM workitem_tags WHERE tag = ?)", f.Tag)
	}
	c.search(f.Text)
	if f.HideMerged {
		c.add("merged_into IS NULL")
	}
	return c
}

func itemPtrs(items []workitem.Item) []*workitem.Item {
	ptrs := make([]*workitem.Item, len(items))
	for i := range items {
		ptrs[i] = &items[i]
	}
	return ptrs
}

// UpdateWorkItem reads item id inside a write transaction, lets fn change it
// and say what happened, and writes the change with its timeline entries
// atomically. fn's error aborts without writing anything. Rev is bumped.
func (db *DB) UpdateWorkItem(ctx context.Context, id int64, fn func(*workitem.Item) ([]workitem.Entry, error)) (workitem.Item, error) {
	return db.updateWorkItem(ctx, id, fn, nil)
}

// updateWorkItem is UpdateWorkItem with more writes (after) in the same
// transaction, run only when the item changed.
func (db *DB) updateWorkItem(ctx context.Context, id int64, fn func(*workitem.Item) ([]workitem.Entry, error),
	after func(dbtx) error) (workitem.Item, error) {
	var out workitem.Item
	err := db.tx(ctx, func(tx dbtx) error {
		before, err := db.getWorkItem(ctx, tx, id)
		if err != nil {
			return err
		}
		it := before
		it.Tags = slices.Clone(before.Tags)
		entries, err := fn(&it)
		if err != nil {
			return err
		}
		if len(entries) == 0 && sameItem(before, it) {
			// Nothing changed: keep the revision, so that other clients'
			// ETags stay valid, and write nothing.
			out = before
			return nil
		}
		now := fromUS(us(db.clock.Now())) // the precision that is stored
		if it.ClosedAt != nil {
			c := fromUS(us(*it.ClosedAt))
			it.ClosedAt = &c
		}
		it.Rev = before.Rev + 1
		it.UpdatedAt = now
		var closed any
		if it.ClosedAt != nil {
			closed = us(*it.ClosedAt)
		}
		var due any
		if it.DueAt != nil {
			due = us(*it.DueAt)
		}
		res, err := tx.ExecContext(ctx, db.q(`UPDATE workitems SET title = ?, state = ?, severity = ?, assignee = ?,
		    rev = ?, updated_at = ?, closed_at = ?, due_at = ? WHERE id = ? AND rev = ?`),
			it.Title, it.State, string(it.Severity), it.Assignee, it.Rev, us(now), closed, due, id, before.Rev)
		if err != nil {
			return fmt.Errorf("update work item %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("update work item %d: %w", id, validation.ErrStale)
		}
		if !slices.Equal(before.Tags, it.Tags) {
			if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM workitem_tags WHERE workitem_id = ?`), id); err != nil {
				return fmt.Errorf("replace tags: %w", err)
			}
			for _, tag := range it.Tags {
				if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO workitem_tags (workitem_id, tag) VALUES (?, ?)`), id, tag); err != nil {
					return fmt.Errorf("insert tag: %w", err)
				}
			}
		}
		for _, e := range entries {
			if _, err := db.insertEntry(ctx, tx, id, e); err != nil {
				return err
			}
		}
		if after != nil {
			if err := after(tx); err != nil {
				return err
			}
		}
		out = it
		return nil
	})
	return out, err
}

// sameItem reports whether an update left every stored field as it was.
func sameItem(a, b workitem.Item) bool {
	closedA, closedB := int64(0), int64(0)
	if a.ClosedAt != nil {
		closedA = us(*a.ClosedAt)
	}
	if b.ClosedAt != nil {
		closedB = us(*b.ClosedAt)
	}
	return a.Title == b.Title && a.State == b.State && a.Severity == b.Severity && a.Assignee == b.Assignee &&
		closedA == closedB && slices.Equal(a.Tags, b.Tags) && sameDue(a.DueAt, b.DueAt)
}

func sameDue(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return us(*a) == us(*b)
}

func (db *DB) insertEntry(ctx context.Context, tx dbtx, itemID int64, e workitem.Entry) (int64, error) {
	var data any
	if e.Data != nil {
		b, err := json.Marshal(e.Data)
		if err != nil {
			return 0, fmt.Errorf("timeline data: %w", err)
		}
		data = string(b)
	}
	at := e.At
	if at.IsZero() {
		at = db.clock.Now()
	}
	var id int64
	err := tx.QueryRowContext(ctx, db.q(`INSERT INTO timeline (workitem_id, at, actor, kind, message, reason, data) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`), itemID, us(at), e.Actor, e.Kind, e.Message, e.Reason, data).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("timeline entry: %w", err)
	}
	return id, nil
}

// Timeline returns an item's entries oldest first, after entry id after.
func (db *DB) Timeline(ctx context.Context, itemID, after int64, limit int) ([]workitem.Entry, error) {
	if limit <= 0 || limit > MaxPage {
		limit = MaxPage
	}
	return db.timeline(ctx, itemID, fmt.Sprintf(`SELECT id, at, actor, kind, message, reason, data FROM timeline
	    WHERE workitem_id = ? AND id > ? ORDER BY id LIMIT %d`, limit), after)
}

// RecentTimeline returns an item's newest entries before the entry id
// before (0: the newest), newest first: what a page shows, without
// reading a long history from its start.
func (db *DB) RecentTimeline(ctx context.Context, itemID, before int64, limit int) ([]workitem.Entry, error) {
	if limit <= 0 {
		limit = MaxPage
	}
	if before <= 0 {
		before = math.MaxInt64
	}
	return db.timeline(ctx, itemID, fmt.Sprintf(`SELECT id, at, actor, kind, message, reason, data FROM timeline
	    WHERE workitem_id = ? AND id < ? ORDER BY id DESC LIMIT %d`, limit), before)
}

func (db *DB) timeline(ctx context.Context, itemID int64, query string, cursor int64) ([]workitem.Entry, error) {
	rows, err := db.r.QueryContext(ctx, db.q(query), itemID, cursor)
	if err != nil {
		return nil, fmt.Errorf("timeline: %w", err)
	}
	defer rows.Close()
	out := []workitem.Entry{}
	for rows.Next() {
		e := workitem.Entry{WorkItemID: itemID}
		var at int64
		var data sql.NullString
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Kind, &e.Message, &e.Reason, &data); err != nil {
			return nil, fmt.Errorf("scan timeline: %w", err)
		}
		e.At = fromUS(at)
		if data.Valid && data.String != "" {
			e.Data = json.RawMessage(data.String)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// AddComment stores a comment and its timeline entry.
func (db *DB) AddComment(ctx context.Context, c workitem.Comment) (workitem.Comment, error) {
	return db.AddCommentEffects(ctx, c, nil)
}

// AddCommentEffects is AddComment that also queues outbox messages (the
// comment mirrored to the sources and trackers) in the same transaction.
// "{comment}" in a message's idempotency key becomes the comment's id, so
// that each comment is mirrored once.
func (db *DB) AddCommentEffects(ctx context.Context, c workitem.Comment, msgs []outbox.Message) (workitem.Comment, error) {
	if c.At.IsZero() {
		c.At = db.clock.Now()
	}
	c.At = fromUS(us(c.At)) // the precision that is stored
	err := db.tx(ctx, func(tx dbtx) error {
		if err := db.touch(ctx, tx, c.WorkItemID); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, db.q(`INSERT INTO comments (workitem_id, at, author, body) VALUES (?, ?, ?, ?) RETURNING id`),
			c.WorkItemID, us(c.At), c.Author, c.Body).Scan(&c.ID); err != nil {
			return fmt.Errorf("insert comment: %w", err)
		}
		if _, err := db.insertEntry(ctx, tx, c.WorkItemID, workitem.Entry{At: c.At, Actor: c.Author, Kind: workitem.KindComment,
			Message: "commented", Data: map[string]any{"comment_id": c.ID}}); err != nil {
			return err
		}
		keyed := make([]outbox.Message, len(msgs))
		for i, m := range msgs {
			m.IdemKey = strings.ReplaceAll(m.IdemKey, "{comment}", strconv.FormatInt(c.ID, 10))
			keyed[i] = m
		}
		_, err := db.enqueue(ctx, tx, c.WorkItemID, keyed)
		return err
	})
	return c, err
}

// touch checks that the item exists and marks it updated.
func (db *DB) touch(ctx context.Context, tx dbtx, itemID int64) error {
	res, err := tx.ExecContext(ctx, db.q(`UPDATE workitems SET updated_at = ? WHERE id = ?`), us(db.clock.Now()), itemID)
	if err != nil {
		return fmt.Errorf("touch work item: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("work item %d: %w", itemID, validation.ErrNotFound)
	}
	return nil
}

// Comments lists an item's comments, oldest first.
func (db *DB) Comments(ctx context.Context, itemID int64) ([]workitem.Comment, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, at, author, body FROM comments WHERE workitem_id = ? ORDER BY id`), itemID)
	if err != nil {
		return nil, fmt.Errorf("comments: %w", err)
	}
	defer rows.Close()
	out := []workitem.Comment{}
	for rows.Next() {
		c := workitem.Comment{WorkItemID: itemID}
		var at int64
		if err := rows.Scan(&c.ID, &at, &c.Author, &c.Body); err != nil {
			return nil, err
		}
		c.At = fromUS(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// AddTask adds a checklist task with a timeline entry.
func (db *DB) AddTask(ctx context.Context, t workitem.Task, actor string) (workitem.Task, error) {
	now := fromUS(us(db.clock.Now())) // the precision that is stored
	t.CreatedAt, t.UpdatedAt = now, now
	err := db.tx(ctx, func(tx dbtx) error {
		if err := db.touch(ctx, tx, t.WorkItemID); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, db.q(`INSERT INTO tasks (workitem_id, title, done, done_by, created_at, updated_at)
		    VALUES (?, ?, 0, '', ?, ?) RETURNING id`), t.WorkItemID, t.Title, us(now), us(now)).Scan(&t.ID); err != nil {
			return fmt.Errorf("insert task: %w", err)
		}
		_, err := db.insertEntry(ctx, tx, t.WorkItemID, workitem.Entry{Actor: actor, Kind: workitem.KindTask,
			Message: fmt.Sprintf("added task %q", t.Title), Data: map[string]any{"task_id": t.ID}})
		return err
	})
	return t, err
}

// UpdateTask applies fn to a task and records msg on the timeline.
func (db *DB) UpdateTask(ctx context.Context, itemID, taskID int64, actor string, fn func(*workitem.Task) (string, error)) (workitem.Task, error) {
	var t workitem.Task
	err := db.tx(ctx, func(tx dbtx) error {
		var done int
		var created, updated int64
		err := tx.QueryRowContext(ctx, db.q(`SELECT id, workitem_id, title, done, done_by, created_at, updated_at FROM tasks
		    WHERE id = ? AND workitem_id = ?`), taskID, itemID).Scan(&t.ID, &t.WorkItemID, &t.Title, &done, &t.DoneBy, &created, &updated)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("task %d of work item %d: %w", taskID, itemID, validation.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("get task: %w", err)
		}
		t.Done, t.CreatedAt = done == 1, fromUS(created)
		msg, err := fn(&t)
		if err != nil {
			return err
		}
		t.UpdatedAt = fromUS(us(db.clock.Now())) // the precision that is stored
		done = 0
		if t.Done {
			done = 1
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE tasks SET title = ?, done = ?, done_by = ?, updated_at = ? WHERE id = ?`),
			t.Title, done, t.DoneBy, us(t.UpdatedAt), t.ID); err != nil {
			return fmt.Errorf("update task: %w", err)
		}
		if err := db.touch(ctx, tx, itemID); err != nil {
			return err
		}
		if msg == "" {
			return nil
		}
		_, err = db.insertEntry(ctx, tx, itemID, workitem.Entry{Actor: actor, Kind: workitem.KindTask, Message: msg,
			Data: map[string]any{"task_id": t.ID}})
		return err
	})
	return t, err
}

// Tasks lists an item's checklist in creation order.
func (db *DB) Tasks(ctx context.Context, itemID int64) ([]workitem.Task, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, title, done, done_by, created_at, updated_at FROM tasks
	    WHERE workitem_id = ? ORDER BY id`), itemID)
	if err != nil {
		return nil, fmt.Errorf("tasks: %w", err)
	}
	defer rows.Close()
	out := []workitem.Task{}
	for rows.Next() {
		t := workitem.Task{WorkItemID: itemID}
		var done int
		var created, updated int64
		if err := rows.Scan(&t.ID, &t.Title, &done, &t.DoneBy, &created, &updated); err != nil {
			return nil, err
		}
		t.Done, t.CreatedAt, t.UpdatedAt = done == 1, fromUS(created), fromUS(updated)
		out = append(out, t)
	}
	return out, rows.Err()
}

// CountByState returns the number of items in each state.
func (db *DB) CountByState(ctx context.Context) (map[string]int, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT state, COUNT(*) FROM workitems GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("count by state: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}
