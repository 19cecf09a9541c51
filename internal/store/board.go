package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// BoardColumn returns the first limit items in state that match f's
// field filters, in f.Sort's order, and how many match in all. One query
// per column keeps each on the (state, id) index, so a full column never
// delays the others. Items merged into another never show on the board.
func (db *DB) BoardColumn(ctx context.Context, state string, f workitem.Filter, limit int) ([]workitem.Item, int, error) {
	if err := checkItemFilter(f); err != nil {
		return nil, 0, err
	}
	order, err := boardOrder(f.Sort)
	if err != nil {
		return nil, 0, err
	}
	f.HideMerged = true
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
	q := fmt.Sprintf("SELECT %s FROM workitems%s ORDER BY %s LIMIT %d", itemColumns, where, order, limit)
	items, err := queryAll(ctx, db, state+" items", q, c.args, scanItem)
	if err != nil {
		return nil, 0, err
	}
	return items, n, db.loadTagsChunked(ctx, items)
}

// boardOrder is the ORDER BY of a board column sorted by sort. Ids are
// given out in creation order, so sorting by age is sorting by id, which
// keeps the column on the (state, id) index; the other orders sort the
// column's matching rows, and break ties newest first so that a page
// reads the same on every load.
func boardOrder(sort string) (string, error) {
	switch sort {
	case workitem.SortNewest:
		return "id DESC", nil
	case workitem.SortOldest:
		return "id ASC", nil
	case workitem.SortSeverity:
		return `CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3
		    WHEN 'informational' THEN 4 ELSE 5 END, id DESC`, nil
	case workitem.SortActivity:
		// The later of the last alert and the last change (a move, an
		// edit, a comment): CASE rather than GREATEST or MAX(a, b), which
		// only one of the two databases has.
		return "CASE WHEN last_seen > updated_at THEN last_seen ELSE updated_at END DESC, id DESC", nil
	}
	return "", validation.NewFieldError("sort", "unknown sort %q (want oldest, severity or activity)", sort)
}

// search adds the text filter: a substring of the item's search text
// (its title and its alerts' entities, lower-cased in Go when stored) or
// of its title, which an edit may have changed since. text is lower-cased
// here with Go's Unicode rules, as the stored search text was, and
// matchesText (internal/ui) applies the same rule to live updates.
func (c *conds) search(text string) {
	if text == "" {
		return
	}
	p := "%" + escapeLike(strings.ToLower(text)) + "%"
	c.add(`(search_text LIKE ? ESCAPE '\' OR LOWER(title) LIKE ? ESCAPE '\')`, p, p)
}

// ItemSearchText returns the stored search text of item id: what the
// board's text filter matches besides the title, for live updates that
// apply the filter to one changed item.
func (db *DB) ItemSearchText(ctx context.Context, id int64) (string, error) {
	var s string
	err := db.r.QueryRowContext(ctx, db.q(`SELECT search_text FROM workitems WHERE id = ?`), id).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("work item %d: %w", id, validation.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("search text of work item %d: %w", id, err)
	}
	return s, nil
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
