package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/report"
)

// SeedReportFactsForTest writes facts in bulk, as the report module would
// one by one, with their flow: the benchmark's million items would take
// minutes through WriteReportFacts.
func (db *DB) SeedReportFactsForTest(ctx context.Context, facts []report.Fact) error {
	flow := map[[2]any]*[2]int64{}
	add := func(q int64, state string, i int) {
		k := [2]any{q, state}
		d := flow[k]
		if d == nil {
			d = &[2]int64{}
			flow[k] = d
		}
		d[i]++
	}
	const per = 400
	return db.tx(ctx, func(tx dbtx) error {
		for start := 0; start < len(facts); start += per {
			end := min(start+per, len(facts))
			var sb strings.Builder
			sb.WriteString(`INSERT INTO report_items (` + factCols + `, computed_at) VALUES `)
			args := make([]any, 0, (end-start)*21)
			for i, f := range facts[start:end] {
				if i > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString("(" + placeholders(21) + ")")
				spans := report.EncodeSpans(f.Spans)
				args = append(args, f.ItemID, f.Type, f.Source, f.Severity, f.Assignee, f.Service, f.Rule, f.AlertType, us(f.Created), nullUS(f.AckAt), f.AckBy,
					nullUS(f.ClosedAt), f.ClosedBy, f.State, us(f.StateSince), f.Class, b2i(f.Acted), b2i(f.Reopened), b2i(f.Merged), spans, us(f.Created))
				for _, s := range f.Spans {
					add(quarter(s.From), s.State, 0)
					if s.To != nil {
						add(quarter(*s.To), s.State, 1)
					}
				}
			}
			if _, err := tx.ExecContext(ctx, db.q(sb.String()), args...); err != nil {
				return fmt.Errorf("seed facts: %w", err)
			}
		}
		if err := db.seedFlow(ctx, tx, "report_flow", "q", flow); err != nil {
			return err
		}
		daily := map[[2]any]*[2]int64{}
		for k, d := range flow {
			dk := [2]any{dayOfQuarter(k[0].(int64)), k[1]}
			if daily[dk] == nil {
				daily[dk] = &[2]int64{}
			}
			daily[dk][0] += d[0]
			daily[dk][1] += d[1]
		}
		return db.seedFlow(ctx, tx, "report_flow_daily", "day", daily)
	})
}

func (db *DB) seedFlow(ctx context.Context, tx dbtx, table, key string, flow map[[2]any]*[2]int64) error {
	const per = 400
	{
		keys := make([][2]any, 0, len(flow))
		for k := range flow {
			keys = append(keys, k)
		}
		for start := 0; start < len(keys); start += per {
			end := min(start+per, len(keys))
			var sb strings.Builder
			sb.WriteString(`INSERT INTO ` + table + ` (` + key + `, state, entered, exited) VALUES `)
			var args []any
			for i, k := range keys[start:end] {
				if i > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString("(?, ?, ?, ?)")
				d := flow[k]
				args = append(args, k[0], k[1], d[0], d[1])
			}
			if _, err := tx.ExecContext(ctx, db.q(sb.String()), args...); err != nil {
				return fmt.Errorf("seed flow: %w", err)
			}
		}
		return nil
	}
}

// SeedPage is one page for SeedPagesForTest.
type SeedPage struct {
	ID      int64
	Service string
	Created time.Time
	AckAt   *time.Time
	AckBy   string
	Step    int
	Rounds  int
}

// SeedPagesForTest writes pages and their notifications in bulk; the pages
// all belong to one work item it makes (on-call load does not read items).
func (db *DB) SeedPagesForTest(ctx context.Context, pages []SeedPage, notes []report.NotificationRow) error {
	const per = 400
	return db.tx(ctx, func(tx dbtx) error {
		var item int64
		if err := tx.QueryRowContext(ctx, db.q(`INSERT INTO workitems (type, title, state, severity, created_at, updated_at, last_seen)
		    VALUES ('Issue', 'pages', 'Closed', 'high', 0, 0, 0) RETURNING id`)).Scan(&item); err != nil {
			return fmt.Errorf("seed pages' item: %w", err)
		}
		for start := 0; start < len(pages); start += per {
			end := min(start+per, len(pages))
			var sb strings.Builder
			sb.WriteString(`INSERT INTO pages (id, service, workitem_id, state, urgency, step, rounds, ack_by, ack_at, created_at, updated_at) VALUES `)
			var args []any
			for i, p := range pages[start:end] {
				if i > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString("(?, ?, ?, 'resolved', 'high', ?, ?, ?, ?, ?, ?)")
				args = append(args, p.ID, p.Service, item, p.Step, p.Rounds, p.AckBy, nullUS(p.AckAt), us(p.Created), us(p.Created))
			}
			if _, err := tx.ExecContext(ctx, db.q(sb.String()), args...); err != nil {
				return fmt.Errorf("seed pages: %w", err)
			}
		}
		for start := 0; start < len(notes); start += per {
			end := min(start+per, len(notes))
			var sb strings.Builder
			sb.WriteString(`INSERT INTO notification_log (id, contact_method_id, user_email, channel, kind, page_id, status, created_at, updated_at) VALUES `)
			var args []any
			for i, n := range notes[start:end] {
				if i > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString("(?, 1, ?, 'sms', 'page', ?, 'sent', ?, ?)")
				args = append(args, fmt.Sprintf("seed-%d", start+i), n.User, n.PageID, us(n.At), us(n.At))
			}
			if _, err := tx.ExecContext(ctx, db.q(sb.String()), args...); err != nil {
				return fmt.Errorf("seed notifications: %w", err)
			}
		}
		return nil
	})
}
