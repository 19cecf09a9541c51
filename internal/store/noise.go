package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
)

// NoiseRow is the noise of one kind of work item over a window: items of
// one type, title, key entity and source, how many were closed as false or
// benign positives, and how quickly items of the kind were closed.
type NoiseRow struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	KeyEntity string `json:"key_entity"`
	Source    string `json:"source"`
	// Items is the volume: items created in the window.
	Items int `json:"items"`
	// Alerts is the sum of the items' alert counts.
	Alerts int `json:"alerts"`
	// Closed counts the items in a terminal state now.
	Closed         int `json:"closed"`
	FalsePositive  int `json:"false_positive"`
	BenignPositive int `json:"benign_positive"`
	// NoiseShare is (false + benign positives) / items: open items count
	// against it, as they are not known to be noise.
	NoiseShare float64 `json:"noise_share"`
	// MedianClose is the median time from creation to close of the
	// closed items; zero when none is closed.
	MedianClose        time.Duration `json:"-"`
	MedianCloseSeconds float64       `json:"median_close_seconds"`
	// Suppressed counts the alerts of the same title and source that a
	// rule suppressed in the window (they have no item, so no type or key
	// entity: the count is shared by the rows of the title and source).
	Suppressed int `json:"suppressed"`
}

// Noisy is the row's count of false and benign positives.
func (r NoiseRow) Noisy() int { return r.FalsePositive + r.BenignPositive }

// Noise classes of a closed item.
const (
	noiseTrue   = ""
	noiseFalse  = "false_positive"
	noiseBenign = "benign_positive"
)

// noiseClasses mirrors writeback.Closures (the store cannot import the
// write-back, which imports the connectors): the first phrase the closing
// reason contains decides. TestNoiseClassMatchesWriteback keeps the two
// in step.
var noiseClasses = []struct{ phrase, class string }{
	{"false positive", noiseFalse},
	{"inaccurate data", noiseFalse},
	{"benign", noiseBenign},
	{"expected activity", noiseBenign},
	{"security test", noiseBenign},
	{"undetermined", noiseTrue},
	{"true positive", noiseTrue},
}

// NoiseClass is how an item closed into state with reason counts in the
// noise statistics: "false_positive", "benign_positive", or "" for
// anything else. As in the write-back, a close without a known phrase is
// a true positive, and a removal a benign positive.
func NoiseClass(state, reason string) string {
	r := strings.ToLower(reason)
	for _, c := range noiseClasses {
		if strings.Contains(r, c.phrase) {
			return c.class
		}
	}
	if state == "Removed" {
		return noiseBenign
	}
	return noiseTrue
}

// NoiseStats returns the noise per type, title, key entity and source of
// the items created since since, the noisiest first (most false and
// benign positives, then most items), at most limit rows (0: no limit).
// Title and source groups of suppressed alerts with no item appear as rows
// of their own with no items.
//
// An item's closing reason is the reason of its newest transition: a
// closed item's newest transition is the one into its terminal state. An
// item merged into another is counted in the volume but not as closed,
// since merging says nothing about whether it was noise.
func (db *DB) NoiseStats(ctx context.Context, since time.Time, limit int) ([]NoiseRow, error) {
	type key struct{ typ, title, entity, source string }
	rows := map[key]*NoiseRow{}
	durations := map[key][]time.Duration{}

	q := `SELECT w.type, w.title, w.key_entity, w.source, w.state, w.alert_count, w.created_at, w.closed_at, w.merged_into,
	    COALESCE((SELECT t.reason FROM timeline t WHERE t.workitem_id = w.id AND t.kind = 'transition' ORDER BY t.id DESC LIMIT 1), '')
	  FROM workitems w WHERE w.created_at >= ?`
	rs, err := db.r.QueryContext(ctx, db.q(q), us(since))
	if err != nil {
		return nil, fmt.Errorf("noise statistics: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var (
			k                key
			state, reason    string
			alerts           int
			created          int64
			closed, mergedTo sql.NullInt64
		)
		if err := rs.Scan(&k.typ, &k.title, &k.entity, &k.source, &state, &alerts, &created, &closed, &mergedTo, &reason); err != nil {
			return nil, fmt.Errorf("noise statistics: scan: %w", err)
		}
		r := rows[k]
		if r == nil {
			r = &NoiseRow{Type: k.typ, Title: k.title, KeyEntity: k.entity, Source: k.source}
			rows[k] = r
		}
		r.Items++
		r.Alerts += alerts
		if !closed.Valid || mergedTo.Valid {
			continue
		}
		r.Closed++
		durations[k] = append(durations[k], fromUS(closed.Int64).Sub(fromUS(created)))
		switch NoiseClass(state, reason) {
		case noiseFalse:
			r.FalsePositive++
		case noiseBenign:
			r.BenignPositive++
		}
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("noise statistics: %w", err)
	}

	type ts struct{ title, source string }
	suppressed := map[ts]int{}
	sr, err := db.r.QueryContext(ctx, db.q(`SELECT title, source, COUNT(*) FROM alerts
	    WHERE suppressed_by IS NOT NULL AND created_at >= ? GROUP BY title, source`), us(since))
	if err != nil {
		return nil, fmt.Errorf("noise statistics: suppressed alerts: %w", err)
	}
	defer sr.Close()
	for sr.Next() {
		var k ts
		var n int
		if err := sr.Scan(&k.title, &k.source, &n); err != nil {
			return nil, fmt.Errorf("noise statistics: scan suppressed: %w", err)
		}
		suppressed[k] = n
	}
	if err := sr.Err(); err != nil {
		return nil, fmt.Errorf("noise statistics: suppressed alerts: %w", err)
	}

	out := make([]NoiseRow, 0, len(rows)+len(suppressed))
	matched := map[ts]bool{}
	for k, r := range rows {
		if d := durations[k]; len(d) > 0 {
			r.MedianClose = median(d)
			r.MedianCloseSeconds = r.MedianClose.Seconds()
		}
		if r.Items > 0 {
			r.NoiseShare = float64(r.Noisy()) / float64(r.Items)
		}
		t := ts{k.title, k.source}
		r.Suppressed = suppressed[t]
		matched[t] = true
		out = append(out, *r)
	}
	for t, n := range suppressed {
		if !matched[t] {
			out = append(out, NoiseRow{Title: t.title, Source: t.source, Suppressed: n})
		}
	}
	slices.SortFunc(out, func(a, b NoiseRow) int {
		return cmp.Or(
			cmp.Compare(b.Noisy(), a.Noisy()),
			cmp.Compare(b.Items, a.Items),
			cmp.Compare(b.Suppressed, a.Suppressed),
			strings.Compare(a.Title, b.Title),
			strings.Compare(a.Source, b.Source),
			strings.Compare(a.Type, b.Type),
			strings.Compare(a.KeyEntity, b.KeyEntity))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// median returns the median of ds (the mean of the middle two for an even
// count); it sorts ds.
func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	n := len(ds)
	if n%2 == 1 {
		return ds[n/2]
	}
	return (ds[n/2-1] + ds[n/2]) / 2
}
