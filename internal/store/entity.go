package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/validation"
)

// entityItemLimit bounds the items an entity profile reads: the page is
// "everything about 203.0.113.7", and a value seen in more items than
// this says as much by being truncated.
const entityItemLimit = 200

// EntityItem is an item in which an entity was seen.
type EntityItem struct {
	ID        int64     `json:"id"`
	Type      string    `json:"type"`
	Title     string    `json:"title"`
	State     string    `json:"state"`
	Severity  string    `json:"severity"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
}

// EntityAlert is an alert that carries the entity.
type EntityAlert struct {
	ID         int64     `json:"id"`
	WorkItemID int64     `json:"workitem_id"`
	Source     string    `json:"source"`
	Title      string    `json:"title"`
	Severity   string    `json:"severity"`
	Status     string    `json:"status"`
	Kind       string    `json:"kind"` // the entity's kind in this alert
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
	SeenCount  int64     `json:"seen_count"`
}

// EntityProfile is everything vigil knows about one entity value.
type EntityProfile struct {
	Value       string        `json:"value"`
	Kinds       []string      `json:"kinds"`
	FirstSeen   time.Time     `json:"first_seen,omitzero"`
	LastSeen    time.Time     `json:"last_seen,omitzero"`
	Sightings   int64         `json:"sightings"` // alert firings carrying it
	Items       []EntityItem  `json:"items"`
	Alerts      []EntityAlert `json:"alerts"`
	Enrichments []Enrichment  `json:"enrichments"`
	Matches     []TIMatch     `json:"ti_matches"`
	Truncated   bool          `json:"truncated"` // more items than the profile reads
}

// EntityProfileOf gathers an entity's items (newest first), its alerts,
// its enrichments and its threat-intelligence matches. Items are found
// through the board's search text (titles and entities, lower-cased) and
// confirmed against their alerts' entities, so a value that is only a
// substring of another is not counted.
func (db *DB) EntityProfileOf(ctx context.Context, value string) (EntityProfile, error) {
	value = strings.TrimSpace(value)
	p := EntityProfile{Value: value, Kinds: []string{}, Items: []EntityItem{}, Alerts: []EntityAlert{}, Enrichments: []Enrichment{}, Matches: []TIMatch{}}
	if value == "" {
		return p, validation.NewFieldError("value", "is required")
	}
	if len(value) > 2048 {
		return p, validation.NewFieldError("value", "is %d bytes, more than 2048", len(value))
	}
	pat := "%" + escapeLike(strings.ToLower(value)) + "%"
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, type, title, state, severity, created_at, last_seen FROM workitems
	    WHERE search_text LIKE ? ESCAPE '\' ORDER BY id DESC LIMIT ?`), pat, entityItemLimit+1)
	if err != nil {
		return p, fmt.Errorf("entity %s: items: %w", value, err)
	}
	items := map[int64]EntityItem{}
	var order []int64
	for rows.Next() {
		var it EntityItem
		var created, last int64
		if err := rows.Scan(&it.ID, &it.Type, &it.Title, &it.State, &it.Severity, &created, &last); err != nil {
			rows.Close()
			return p, fmt.Errorf("entity %s: items: %w", value, err)
		}
		it.CreatedAt, it.LastSeen = fromUS(created), fromUS(last)
		if len(order) == entityItemLimit {
			p.Truncated = true
			break
		}
		items[it.ID] = it
		order = append(order, it.ID)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return p, fmt.Errorf("entity %s: items: %w", value, err)
	}
	kinds := map[string]bool{}
	confirmed := map[int64]bool{}
	for len(order) > 0 {
		n := min(len(order), 100)
		chunk := order[:n]
		order = order[n:]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		q := `SELECT a.id, wa.workitem_id, a.source, a.title, a.severity, a.status, a.entities, a.first_seen, a.last_seen, a.seen_count
		    FROM workitem_alerts wa JOIN alerts a ON a.id = wa.alert_id
		    WHERE wa.workitem_id IN (?` + strings.Repeat(", ?", len(chunk)-1) + `) ORDER BY a.last_seen DESC`
		ar, err := db.r.QueryContext(ctx, db.q(q), args...)
		if err != nil {
			return p, fmt.Errorf("entity %s: alerts: %w", value, err)
		}
		for ar.Next() {
			var a EntityAlert
			var ents string
			var first, last int64
			if err := ar.Scan(&a.ID, &a.WorkItemID, &a.Source, &a.Title, &a.Severity, &a.Status, &ents, &first, &last, &a.SeenCount); err != nil {
				ar.Close()
				return p, fmt.Errorf("entity %s: alerts: %w", value, err)
			}
			var es []alert.Entity
			if json.Unmarshal([]byte(ents), &es) != nil {
				continue
			}
			for _, e := range es {
				if !strings.EqualFold(e.Value, value) {
					continue
				}
				a.Kind = string(e.Kind)
				a.FirstSeen, a.LastSeen = fromUS(first), fromUS(last)
				kinds[a.Kind] = true
				confirmed[a.WorkItemID] = true
				p.Alerts = append(p.Alerts, a)
				p.Sightings += a.SeenCount
				if p.FirstSeen.IsZero() || a.FirstSeen.Before(p.FirstSeen) {
					p.FirstSeen = a.FirstSeen
				}
				if a.LastSeen.After(p.LastSeen) {
					p.LastSeen = a.LastSeen
				}
				break
			}
		}
		ar.Close()
		if err := ar.Err(); err != nil {
			return p, fmt.Errorf("entity %s: alerts: %w", value, err)
		}
		for _, id := range chunk {
			if confirmed[id] {
				p.Items = append(p.Items, items[id])
			}
		}
	}
	for k := range kinds {
		p.Kinds = append(p.Kinds, k)
	}
	slices.Sort(p.Kinds)

	er, err := db.r.QueryContext(ctx, db.q(`SELECT `+enrichmentCols+` FROM enrichments WHERE LOWER(data) = ? ORDER BY id DESC LIMIT 50`), strings.ToLower(value))
	if err != nil {
		return p, fmt.Errorf("entity %s: enrichments: %w", value, err)
	}
	for er.Next() {
		e, err := scanEnrichment(er)
		if err != nil {
			er.Close()
			return p, fmt.Errorf("entity %s: enrichments: %w", value, err)
		}
		p.Enrichments = append(p.Enrichments, e)
	}
	er.Close()
	if err := er.Err(); err != nil {
		return p, fmt.Errorf("entity %s: enrichments: %w", value, err)
	}

	mr, err := db.r.QueryContext(ctx, db.q(`SELECT id, workitem_id, alert_id, entity, type, value, feeds, confidence, via, retro, matched_at
	    FROM ti_matches WHERE LOWER(entity) = ? OR value = ? ORDER BY id DESC LIMIT 100`), strings.ToLower(value), strings.ToLower(value))
	if err != nil {
		return p, fmt.Errorf("entity %s: matches: %w", value, err)
	}
	defer mr.Close()
	for mr.Next() {
		m, err := scanTIMatch(mr)
		if err != nil {
			return p, fmt.Errorf("entity %s: matches: %w", value, err)
		}
		p.Matches = append(p.Matches, m)
	}
	return p, mr.Err()
}
