package store

import "context"

// ScrubForTest runs the payload-scrubbing migration's work again and
// returns how many version rows it rewrote.
func (db *DB) ScrubForTest(ctx context.Context) (int, error) {
	total := 0
	err := db.tx(ctx, func(tx dbtx) error {
		for _, t := range [][2]string{{"alert_versions", "alert_id"}, {"incident_versions", "incident_id"}} {
			n, err := scrubTable(ctx, tx, db.dialect, t[0], t[1])
			total += n
			if err != nil {
				return err
			}
		}
		return nil
	})
	return total, err
}
