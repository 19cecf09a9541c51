package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/workitem"
)

// BoardColumn returns the newest limit items in state that match f's
// field filters, and how many match in all. One query per column keeps
// each on the (state, id) index, so a full column never delays the others.
func (db *DB) BoardColumn(ctx context.Context, state string, f workitem.Filter, limit int) ([]workitem.Item, int, error) {
	c := itemConds(f)
	c.add("state = ?", state)
	where := " WHERE " + strings.Join(c.where, " AND ")
	var n int
	if err := db.r.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM workitems`+where), c.args...).Scan(&n); err != nil {
		return nil, 0, fmt.Errorf("count %s items: %w", state, err)
	}
	if limit <= 0 || n == 0 {
		return []workitem.Item{}, n, nil
	}
	q := fmt.Sprintf("SELECT %s FROM workitems%s ORDER BY id DESC LIMIT %d", itemColumns, where, limit)
	items, err := queryAll(ctx, db, state+" items", q, c.args, scanItem)
	if err != nil {
		return nil, 0, err
	}
	return items, n, db.loadTagsChunked(ctx, items)
}

// loadTagsChunked loads tags in chunks that stay under every driver's
// bound-parameter limit, for pages larger than MaxPage.
func (db *DB) loadTagsChunked(ctx context.Context, items []workitem.Item) error {
	ptrs := itemPtrs(items)
	for len(ptrs) > 0 {
		n := min(len(ptrs), MaxPage)
		if err := db.loadTags(ctx, db.r, ptrs[:n]); err != nil {
			return err
		}
		ptrs = ptrs[n:]
	}
	return nil
}

// ItemChange says that a work item changed: what the board's live
// updates need to fetch it again.
type ItemChange struct {
	ID        int64
	Rev       int
	State     string
	UpdatedAt time.Time
}

// ChangedSince lists the items updated at or after since, oldest change
// first. Every write to an item (a move, an edit, a comment, a re-fired
// alert, a sync follow-up) sets updated_at, whichever instance made it,
// so polling this is a change feed that works across instances.
func (db *DB) ChangedSince(ctx context.Context, since time.Time, limit int) ([]ItemChange, error) {
	if limit <= 0 {
		limit = MaxPage
	}
	rows, err := db.r.QueryContext(ctx, db.q(fmt.Sprintf(
		`SELECT id, rev, state, updated_at FROM workitems WHERE updated_at >= ? ORDER BY updated_at, id LIMIT %d`, limit)), us(since))
	if err != nil {
		return nil, fmt.Errorf("changed items: %w", err)
	}
	defer rows.Close()
	var out []ItemChange
	for rows.Next() {
		var c ItemChange
		var at int64
		if err := rows.Scan(&c.ID, &c.Rev, &c.State, &at); err != nil {
			return nil, fmt.Errorf("scan changed item: %w", err)
		}
		c.UpdatedAt = fromUS(at)
		out = append(out, c)
	}
	return out, rows.Err()
}
