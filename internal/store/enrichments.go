package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
)

// Enrichment is one provider's report on one observable, for one item.
type Enrichment struct {
	ID         int64           `json:"id"`
	WorkItemID int64           `json:"workitem_id"`
	Provider   string          `json:"provider"`
	DataType   string          `json:"data_type"`
	Data       string          `json:"data"`
	Verdict    string          `json:"verdict"`
	Summary    string          `json:"summary"`
	Taxonomies json.RawMessage `json:"taxonomies"`
	Report     json.RawMessage `json:"report"`
	Cached     bool            `json:"cached"`
	RequestKey string          `json:"-"`
	CreatedAt  time.Time       `json:"created_at"`
}

const enrichmentCols = `id, workitem_id, provider, data_type, data, verdict, summary, taxonomies, report, cached, request_key, created_at`

func scanEnrichment(s scanner) (Enrichment, error) {
	var e Enrichment
	var tax, rep string
	var at int64
	err := s.Scan(&e.ID, &e.WorkItemID, &e.Provider, &e.DataType, &e.Data, &e.Verdict, &e.Summary, &tax, &rep, &e.Cached, &e.RequestKey, &at)
	if err != nil {
		return e, err
	}
	e.Taxonomies, e.Report, e.CreatedAt = json.RawMessage(tax), json.RawMessage(rep), fromUS(at)
	return e, nil
}

// SaveEnrichment stores a report; a second save of the same request key
// returns the first (a retried outbox message) and false.
func (db *DB) SaveEnrichment(ctx context.Context, e Enrichment) (Enrichment, bool, error) {
	created := false
	err := db.tx(ctx, func(tx dbtx) error {
		if len(e.Taxonomies) == 0 {
			e.Taxonomies = json.RawMessage("[]")
		}
		if len(e.Report) == 0 {
			e.Report = json.RawMessage("{}")
		}
		e.CreatedAt = db.clock.Now()
		res, err := db.exec(ctx, tx, `INSERT INTO enrichments (workitem_id, provider, data_type, data, verdict, summary, taxonomies, report, cached, request_key, created_at)
		    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_key) DO NOTHING`,
			e.WorkItemID, e.Provider, e.DataType, e.Data, e.Verdict, e.Summary, string(e.Taxonomies), string(e.Report), e.Cached, e.RequestKey, us(e.CreatedAt))
		if err != nil {
			return fmt.Errorf("save enrichment: %w", err)
		}
		n, _ := res.RowsAffected()
		created = n == 1
		e, err = scanEnrichment(db.queryRow(ctx, tx, `SELECT `+enrichmentCols+` FROM enrichments WHERE request_key = ?`, e.RequestKey))
		return err
	})
	return e, created, err
}

// EnrichmentByKey returns the report saved for a request key, if any.
func (db *DB) EnrichmentByKey(ctx context.Context, key string) (Enrichment, bool, error) {
	e, err := scanEnrichment(db.r.QueryRowContext(ctx, db.q(`SELECT `+enrichmentCols+` FROM enrichments WHERE request_key = ?`), key))
	if errors.Is(err, sql.ErrNoRows) {
		return Enrichment{}, false, nil
	}
	return e, err == nil, err
}

// RecentEnrichment returns the newest report of a provider on an
// observable made since a time (the cache), if any.
func (db *DB) RecentEnrichment(ctx context.Context, provider, dataType, data string, since time.Time) (Enrichment, bool, error) {
	e, err := scanEnrichment(db.r.QueryRowContext(ctx, db.q(`SELECT `+enrichmentCols+` FROM enrichments
	    WHERE provider = ? AND data_type = ? AND data = ? AND created_at >= ? ORDER BY created_at DESC, id DESC LIMIT 1`),
		provider, dataType, data, us(since)))
	if errors.Is(err, sql.ErrNoRows) {
		return Enrichment{}, false, nil
	}
	return e, err == nil, err
}

// ProviderCalls counts a provider's real calls (not cache hits) since a
// time, and returns the oldest of them: its quota's window reopens then.
func (db *DB) ProviderCalls(ctx context.Context, provider string, since time.Time) (int, time.Time, error) {
	var n int
	var oldest sql.NullInt64
	err := db.r.QueryRowContext(ctx, db.q(`SELECT COUNT(*), MIN(created_at) FROM enrichments WHERE provider = ? AND cached = ? AND created_at >= ?`),
		provider, false, us(since)).Scan(&n, &oldest)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("provider calls: %w", err)
	}
	var at time.Time
	if oldest.Valid {
		at = fromUS(oldest.Int64)
	}
	return n, at, nil
}

// Enrichments lists an item's reports, newest first.
func (db *DB) Enrichments(ctx context.Context, itemID int64) ([]Enrichment, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+enrichmentCols+` FROM enrichments WHERE workitem_id = ? ORDER BY id DESC LIMIT 500`), itemID)
	if err != nil {
		return nil, fmt.Errorf("enrichments: %w", err)
	}
	defer rows.Close()
	var out []Enrichment
	for rows.Next() {
		e, err := scanEnrichment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ItemEntities returns the distinct entities of an item's alerts.
func (db *DB) ItemEntities(ctx context.Context, itemID int64) ([]alert.Entity, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT a.entities FROM alerts a JOIN workitem_alerts wa ON wa.alert_id = a.id
	    WHERE wa.workitem_id = ? ORDER BY a.id LIMIT 1000`), itemID)
	if err != nil {
		return nil, fmt.Errorf("item entities: %w", err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	var out []alert.Entity
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		var es []alert.Entity
		if err := json.Unmarshal([]byte(raw), &es); err != nil {
			return nil, fmt.Errorf("item %d entities: %w", itemID, err)
		}
		for _, e := range es {
			k := string(e.Kind) + "\x00" + e.Value
			if !seen[k] {
				seen[k] = true
				out = append(out, e)
			}
		}
	}
	return out, rows.Err()
}
