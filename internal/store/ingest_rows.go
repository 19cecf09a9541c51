package store

// The ingest's writes: rows buffered per table and written in multi-row
// statements, and the encodings of what they hold.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/redact"
)

// rowBuffer collects rows for one table and writes them with multi-row
// INSERTs (SQLite) or as one array per column (PostgreSQL, see
// ingest_pg.go).
type rowBuffer struct {
	table string
	cols  []string
	types []string // per column: the PostgreSQL type its values are sent as
	args  []any
}

// newRowBuffer returns a buffer for table; each column is given as
// "name type", type being bigint, text or json.
func newRowBuffer(table string, cols ...string) rowBuffer {
	b := rowBuffer{table: table, cols: make([]string, len(cols)), types: make([]string, len(cols))}
	for i, c := range cols {
		b.cols[i], b.types[i], _ = strings.Cut(c, " ")
	}
	return b
}

func (b *rowBuffer) add(vals ...any) { b.args = append(b.args, vals...) }

// rows is the number of rows buffered.
func (b *rowBuffer) rows() int { return len(b.args) / len(b.cols) }

// chunkSize picks the largest of a few fixed statement sizes that fits n
// rows: few distinct statements, each prepared once and cached.
func chunkSize(n int) int {
	for _, size := range []int{128, 32, 8} {
		if n >= size {
			return size
		}
	}
	return 1
}

func (b *rowBuffer) flush(ctx context.Context, db *DB, tx dbtx, suffix string) error {
	_, err := b.exec(ctx, db, tx, suffix)
	return err
}

// exec writes the buffered rows with suffix (an ON CONFLICT clause)
// appended to each statement, and returns the number of rows written.
func (b *rowBuffer) exec(ctx context.Context, db *DB, tx dbtx, suffix string) (int64, error) {
	perRow := len(b.cols)
	tuple := "(" + placeholders(perRow) + ")"
	var total int64
	for len(b.args) > 0 {
		n := chunkSize(len(b.args) / perRow)
		var sb strings.Builder
		sb.WriteString("INSERT INTO " + b.table + " (" + strings.Join(b.cols, ", ") + ") VALUES ")
		for i := range n {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(tuple)
		}
		sb.WriteString(suffix)
		res, err := db.exec(ctx, tx, sb.String(), b.args[:n*perRow]...)
		if err != nil {
			return total, fmt.Errorf("insert into %s: %w", b.table, err)
		}
		if m, err := res.RowsAffected(); err == nil {
			total += m
		}
		b.args = b.args[n*perRow:]
	}
	return total, nil
}

func marshalEntities(e []alert.Entity) (string, error) {
	if len(e) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return "", fmt.Errorf("entities: %w", err)
	}
	return string(b), nil
}

// nullJSON is the stored form of a raw payload: with every credential
// masked (a PagerDuty routing_key, a ?token= in a URL: viewers read raw
// payloads), and NULL rather than an empty string when absent, which
// PostgreSQL's json type would reject. Every payload vigil keeps passes
// through here.
func nullJSON(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	b, _ = redact.JSON(b)
	// PostgreSQL refuses text that is not UTF-8 (SQLSTATE 22021), and a
	// sender's bytes inside a JSON string need not be: keep what can be
	// kept, as Go's JSON decoder does when it reads such a string.
	if !utf8.Valid(b) {
		b = bytes.ToValidUTF8(b, []byte("\uFFFD"))
	}
	return string(b)
}
