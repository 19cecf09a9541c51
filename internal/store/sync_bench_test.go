package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/vigil-soc/vigil/internal/clock"
)

// BenchmarkOpenIncidents reads what a reconciler pass needs from SQLite:
// 100,000 open Sentinel incidents with 150,000 Defender alert members (half
// the incidents have two), each member's latest status from the alerts
// table. Rows are seeded with plain SQL, since a pass reads, not writes.
//
//	go test ./internal/store -run XXX -bench OpenIncidents -benchtime 3x -count 3
func BenchmarkOpenIncidents(b *testing.B) {
	const incidents = 100000
	ctx := context.Background()
	db, err := Open(ctx, Options{DataDir: b.TempDir(), Synchronous: "NORMAL", Clock: clock.Real{}})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	statuses := []string{"new", "in_progress", "dismissed", "resolved"}
	err = db.tx(ctx, func(tx dbtx) error {
		alertID := 0
		for i := 1; i <= incidents; i++ {
			if _, err := tx.ExecContext(ctx, `INSERT INTO incidents (id, source, source_id, title, severity, status, first_seen, last_seen,
			    version, created_at, updated_at, ref) VALUES (?, 'sentinel', ?, 't', 'high', 'new', 1, 1, 1, 1, 1, ?)`,
				i, fmt.Sprintf("inc-%d", i), fmt.Sprintf("/subscriptions/s/incidents/inc-%d", i)); err != nil {
				return err
			}
			members := 1 + i%2
			for range members {
				alertID++
				name := fmt.Sprintf("dfc-%d", alertID)
				if _, err := tx.ExecContext(ctx, `INSERT INTO alerts (id, source, dedup_key, source_id, title, severity, status,
				    first_seen, last_seen, version, created_at, updated_at) VALUES (?, 'defender', ?, ?, 't', 'high', ?, 1, 1, 1, 1, 1)`,
					alertID, "id:"+name, name, statuses[alertID%4]); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO incident_members (incident_id, source, source_id, status) VALUES (?, 'defender', ?, 'new')`,
					i, name); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		open, err := db.OpenIncidents(ctx, "sentinel")
		if err != nil || len(open) != incidents {
			b.Fatalf("open = %d, %v", len(open), err)
		}
	}
}
