package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/pressly/goose/v3"

	"github.com/vigil-soc/vigil/internal/redact"
)

// scrubVersion is the Go migration that masks the credentials in raw
// payloads stored before vigil masked them on the way in (see nullJSON).
// Until then a PagerDuty event kept its routing_key, an API token, in
// alert_versions.raw, where any viewer could read it.
const scrubVersion = 8

func scrubMigration(d Dialect) *goose.Migration {
	return goose.NewGoMigration(scrubVersion,
		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			for _, t := range []struct{ table, id string }{
				{"alert_versions", "alert_id"},
				{"incident_versions", "incident_id"},
			} {
				if _, err := scrubTable(ctx, tx, d, t.table, t.id); err != nil {
					return err
				}
			}
			return nil
		}},
		// Masked values cannot be brought back; going down leaves them masked.
		&goose.GoFunc{RunTx: func(context.Context, *sql.Tx) error { return nil }})
}

// scrubTable masks the payloads of one version table, a page at a time
// in primary-key order, and returns how many rows it rewrote. Only rows
// whose text hints at a credential are read at all.
func scrubTable(ctx context.Context, tx dbtx, d Dialect, table, id string) (int, error) {
	hints := []string{"key", "token", "secret", "passw", "pwd", "authoriz", "cookie", "sig", "vgl_", "vgi_"}
	var conds []string
	for _, h := range hints {
		if d == Postgres {
			conds = append(conds, "raw::text ILIKE '%"+h+"%'")
		} else {
			conds = append(conds, "raw LIKE '%"+h+"%'") // SQLite's LIKE ignores ASCII case
		}
	}
	sel := fmt.Sprintf(`SELECT %[2]s, version, raw FROM %[1]s
	    WHERE raw IS NOT NULL AND (%[2]s > ? OR (%[2]s = ? AND version > ?)) AND (%[3]s)
	    ORDER BY %[2]s, version LIMIT 500`, table, id, strings.Join(conds, " OR "))
	upd := fmt.Sprintf(`UPDATE %s SET raw = ? WHERE %s = ? AND version = ?`, table, id)
	if d == Postgres {
		sel, upd = rebind(sel), rebind(upd)
	}
	var lastID, lastVer int64
	changed := 0
	for {
		type row struct {
			id, ver int64
			raw     string
		}
		var page []row
		rows, err := tx.QueryContext(ctx, sel, lastID, lastID, lastVer)
		if err != nil {
			return changed, fmt.Errorf("scrub %s: %w", table, err)
		}
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.ver, &r.raw); err != nil {
				rows.Close()
				return changed, fmt.Errorf("scrub %s: %w", table, err)
			}
			page = append(page, r)
		}
		if err := rows.Close(); err != nil {
			return changed, fmt.Errorf("scrub %s: %w", table, err)
		}
		if err := rows.Err(); err != nil {
			return changed, fmt.Errorf("scrub %s: %w", table, err)
		}
		for _, r := range page {
			clean, ok := redact.JSON([]byte(r.raw))
			if !ok {
				continue
			}
			if _, err := tx.ExecContext(ctx, upd, string(clean), r.id, r.ver); err != nil {
				return changed, fmt.Errorf("scrub %s %d/%d: %w", table, r.id, r.ver, err)
			}
			changed++
		}
		if len(page) < 500 {
			return changed, nil
		}
		lastID, lastVer = page[len(page)-1].id, page[len(page)-1].ver
	}
}
