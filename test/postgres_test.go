package test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/vigil-soc/vigil/internal/store/storetest"
)

// TestTwoInstancesOnPostgres runs two vigil servers on one PostgreSQL
// database, as a highly available deployment does, and sends the same
// alerts to both at once. Dedup must hold across instances: one alert row
// and one work item per alert, and a gap-free version history.
func TestTwoInstancesOnPostgres(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	data := t.TempDir() // tokens are created through the shared database
	token := createTokenDSN(t, dsn)
	a := startServer(t, freePort(t), "--dsn", dsn, "--data", data)
	b := startServer(t, freePort(t), "--dsn", dsn, "--data", data)

	const keys, rounds = 50, 6
	var wg sync.WaitGroup
	errs := make(chan error, 2*rounds)
	for _, srv := range []*server{a, b} {
		wg.Go(func() {
			for round := range rounds {
				var batch []map[string]any
				for k := range keys {
					batch = append(batch, map[string]any{
						"source": "e2e", "source_id": fmt.Sprintf("shared-%d", (k+round*7)%keys),
						"title": "Shared alert", "severity": "high",
					})
				}
				body, _ := json.Marshal(batch)
				req, _ := http.NewRequest("POST", srv.url+"/api/v1/alerts", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("%s: status %d", srv.url, resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	a.stop(t)
	b.stop(t)

	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var alerts, items, badVersions int
	db.QueryRow(`SELECT COUNT(*) FROM alerts WHERE source = 'e2e'`).Scan(&alerts)
	db.QueryRow(`SELECT COUNT(*) FROM workitems WHERE source = 'e2e'`).Scan(&items)
	// Each alert's versions must be exactly 1..N with N = its version.
	db.QueryRow(`SELECT COUNT(*) FROM alerts a WHERE a.version <> (SELECT COUNT(DISTINCT v.version) FROM alert_versions v WHERE v.alert_id = a.id)
	    OR a.version <> (SELECT MAX(v.version) FROM alert_versions v WHERE v.alert_id = a.id)`).Scan(&badVersions)
	if alerts != keys || items != keys || badVersions != 0 {
		t.Errorf("alerts %d, work items %d, alerts with gaps in their history %d; want %d, %d, 0", alerts, items, badVersions, keys, keys)
	}
	// Every send is the same firing re-sent: one version per alert, and
	// every receipt counted, none lost between the two instances.
	var total, seen int
	db.QueryRow(`SELECT COUNT(*) FROM alert_versions v JOIN alerts a ON a.id = v.alert_id WHERE a.source = 'e2e'`).Scan(&total)
	db.QueryRow(`SELECT COALESCE(SUM(seen_count), 0) FROM alerts WHERE source = 'e2e'`).Scan(&seen)
	if total != keys || seen != 2*rounds*keys {
		t.Errorf("versions = %d, receipts counted = %d; want %d (one per alert) and %d (one per alert sent)", total, seen, keys, 2*rounds*keys)
	}
}

func createTokenDSN(t testing.TB, dsn string) string {
	t.Helper()
	out := vigil(t, "", "token", "create", "--dsn", dsn, "--name", "e2e", "--role", "responder")
	lines := bytes.Split(bytes.TrimSpace([]byte(out)), []byte("\n"))
	return string(lines[len(lines)-1])
}
