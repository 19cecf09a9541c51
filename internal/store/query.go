package store

import (
	"context"
	"fmt"
	"strings"
)

// conds builds the WHERE clause of a list query; empty filter values add
// nothing, so a zero filter lists everything.
type conds struct {
	where []string
	args  []any
}

func (c *conds) add(cond string, args ...any) {
	c.where = append(c.where, cond)
	c.args = append(c.args, args...)
}

// eq adds "col = v" unless v is empty.
func (c *conds) eq(col, v string) {
	if v != "" {
		c.add(col+" = ?", v)
	}
}

// in adds "col IN (…)" unless vs is empty.
func (c *conds) in(col string, vs []string) {
	if len(vs) == 0 {
		return
	}
	args := make([]any, len(vs))
	for i, v := range vs {
		args[i] = v
	}
	c.add(col+" IN ("+placeholders(len(vs))+")", args...)
}

// contains adds a case-insensitive substring match on col, with LIKE's
// wildcards in text taken literally.
func (c *conds) contains(col, text string) {
	if text != "" {
		c.add("LOWER("+col+") LIKE ? ESCAPE '\\'", "%"+escapeLike(strings.ToLower(text))+"%")
	}
}

// before adds the keyset cursor: ids below after, for newest-first pages.
func (c *conds) before(after int64) {
	if after > 0 {
		c.add("id < ?", after)
	}
}

// page returns the newest-first page query over table.
func (c *conds) page(cols, table string, limit int) string {
	q := "SELECT " + cols + " FROM " + table
	if len(c.where) > 0 {
		q += " WHERE " + strings.Join(c.where, " AND ")
	}
	if limit <= 0 || limit > MaxPage {
		limit = MaxPage
	}
	return q + fmt.Sprintf(" ORDER BY id DESC LIMIT %d", limit)
}

// queryAll runs a read query and scans every row with scan.
func queryAll[T any](ctx context.Context, db *DB, what, query string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := db.r.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", what, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", what, err)
	}
	return out, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
