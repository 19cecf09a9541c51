package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// TestIngestInstancesRace is several instances on one PostgreSQL: three
// store handles, each with two writers, ingest batches that overlap on
// keys none of them has stored yet (they race on the unique (source,
// dedup_key) constraint, which sends the losers round again) and on keys
// stored in earlier rounds (they wait on each other's row locks). Every
// key must end as one alert with one work item, linked once, created
// once on its timeline, with a gap-free history as long as the number of
// acknowledged sends.
func TestIngestInstancesRace(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	ctx := context.Background()
	const (
		instances = 3
		writers   = 2 // per instance, as the ingest pipeline runs several
		rounds    = 8
		fresh     = 24 // new keys per round, shared by every writer
		perBatch  = 30 // keys per batch: most of a round's new keys and some old ones
	)
	dbs := make([]*store.DB, instances)
	for i := range dbs {
		db, err := store.Open(ctx, store.Options{DSN: dsn, Clock: clock.NewFake(t0)})
		if err != nil {
			t.Fatalf("open instance %d: %v", i, err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	proc := workitem.DefaultProcess()
	var mu sync.Mutex
	sent := map[string]int{} // source id → acknowledged sends
	var wg sync.WaitGroup
	start := make(chan struct{})
	for in, db := range dbs {
		for w := range writers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(in*writers+w), 7))
				<-start
				for round := range rounds {
					var ids []string
					for _, k := range rng.Perm(fresh)[:perBatch*2/3] {
						ids = append(ids, fmt.Sprintf("r%d-k%02d", round, k))
					}
					// Old keys, each once: a repeat within a batch is an
					// unchanged re-send, which adds no version.
					for _, k := range rng.Perm(round * fresh) {
						if len(ids) == perBatch {
							break
						}
						ids = append(ids, fmt.Sprintf("r%d-k%02d", k/fresh, k%fresh))
					}
					batch := make([]alert.Alert, len(ids))
					for i, id := range ids {
						batch[i] = newAlert(t, "sentinel", id, "Race "+id, alert.SeverityMedium)
						// Each send changes the alert, so that each adds a version.
						batch[i].Description = fmt.Sprintf("instance %d writer %d round %d", in, w, round)
					}
					if _, err := db.Ingest(ctx, proc, fmt.Sprintf("instance%d", in), batch); err != nil {
						t.Errorf("instance %d writer %d round %d: %v", in, w, round, err)
						continue
					}
					mu.Lock()
					for _, id := range ids {
						sent[id]++
					}
					mu.Unlock()
				}
			})
		}
	}
	close(start)
	wg.Wait()

	check, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	count := func(query string) int {
		t.Helper()
		var n int
		if err := check.QueryRowContext(ctx, query).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	for _, c := range []struct {
		what  string
		query string
		want  int
	}{
		{"alerts", `SELECT COUNT(*) FROM alerts`, len(sent)},
		{"keys stored twice", `SELECT COUNT(*) FROM (SELECT source_id FROM alerts GROUP BY source_id HAVING COUNT(*) > 1) d`, 0},
		{"work items", `SELECT COUNT(*) FROM workitems`, len(sent)},
		{"alerts without an item", `SELECT COUNT(*) FROM alerts WHERE workitem_id IS NULL`, 0},
		{"items shared by two alerts", `SELECT COUNT(*) FROM (SELECT workitem_id FROM alerts GROUP BY workitem_id HAVING COUNT(*) > 1) d`, 0},
		{"links", `SELECT COUNT(*) FROM workitem_alerts wa JOIN alerts a ON a.id = wa.alert_id AND a.workitem_id = wa.workitem_id`, len(sent)},
		{"created entries", `SELECT COUNT(*) FROM timeline WHERE kind = 'created'`, len(sent)},
		{"items created twice", `SELECT COUNT(*) FROM (SELECT workitem_id FROM timeline WHERE kind = 'created' GROUP BY workitem_id HAVING COUNT(*) > 1) d`, 0},
		{"items whose alert count is not 1", `SELECT COUNT(*) FROM workitems WHERE alert_count <> 1`, 0},
	} {
		if got := count(c.query); got != c.want {
			t.Errorf("%s = %d, want %d", c.what, got, c.want)
		}
	}
	rows, err := check.QueryContext(ctx, `SELECT a.source_id, a.version, a.seen_count, COUNT(v.version), COALESCE(MAX(v.version), 0)
	    FROM alerts a LEFT JOIN alert_versions v ON v.alert_id = a.id GROUP BY a.id, a.source_id, a.version, a.seen_count`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var version, seen, versions, top int
		if err := rows.Scan(&id, &version, &seen, &versions, &top); err != nil {
			t.Fatal(err)
		}
		if n := sent[id]; version != n || seen != n || versions != n || top != n {
			t.Errorf("alert %s: version %d, seen %d, %d versions up to %d; want %d for each", id, version, seen, versions, top, n)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}
