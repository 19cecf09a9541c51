package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/vigil-soc/vigil/internal/outbox"
)

// OutboxStat sums up one target's outbox for the connector health page.
type OutboxStat struct {
	Target  string
	Pending int // waiting to be sent, retries included
	Failed  int // given up on, waiting for a user's retry
	// OldestPending is when the oldest pending message was queued; zero
	// when none is pending.
	OldestPending time.Time
	// LastError is the error of the target's most recently updated
	// pending or failed message that has one; "" when none has.
	LastError string
}

// OutboxStats sums up the outbox by target, sorted by target. Only
// pending and failed messages are read (through the state index), so a
// target whose writes were all delivered is absent: Pending and Failed
// would be 0 and LastError empty (a delivered message's error is
// cleared).
func (db *DB) OutboxStats(ctx context.Context) ([]OutboxStat, error) {
	// The scalar subquery runs once per target, and there are a handful.
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT g.target, g.pending, g.failed, g.oldest,
	        COALESCE((SELECT o.last_error FROM outbox o
	            WHERE o.target = g.target AND o.state IN (?, ?) AND o.last_error <> ''
	            ORDER BY o.updated_at DESC, o.id DESC LIMIT 1), '')
	    FROM (SELECT target,
	            COUNT(CASE WHEN state = ? THEN 1 END) AS pending,
	            COUNT(CASE WHEN state = ? THEN 1 END) AS failed,
	            MIN(CASE WHEN state = ? THEN created_at END) AS oldest
	        FROM outbox WHERE state IN (?, ?) GROUP BY target) g
	    ORDER BY g.target`),
		outbox.Pending, outbox.Failed, outbox.Pending, outbox.Failed, outbox.Pending, outbox.Pending, outbox.Failed)
	if err != nil {
		return nil, fmt.Errorf("outbox stats: %w", err)
	}
	defer rows.Close()
	out := []OutboxStat{}
	for rows.Next() {
		var s OutboxStat
		var pending, failed int64
		var oldest sql.NullInt64
		if err := rows.Scan(&s.Target, &pending, &failed, &oldest, &s.LastError); err != nil {
			return nil, fmt.Errorf("scan outbox stats: %w", err)
		}
		s.Pending, s.Failed = int(pending), int(failed)
		if oldest.Valid {
			s.OldestPending = fromUS(oldest.Int64)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox stats: %w", err)
	}
	return out, nil
}
