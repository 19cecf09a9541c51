package test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/vigil-soc/vigil/internal/loadgen"
)

// TestCrashDuringIngest kills the server with SIGKILL in the middle of a
// batch ingest, restarts it, and checks the durability promise: every
// alert answered with 2xx is stored, exactly once, with exactly one work
// item, and nothing half-written is left behind.
func TestCrashDuringIngest(t *testing.T) {
	data := t.TempDir()
	token := createToken(t, data, "responder")
	addr := freePort(t)
	srv := startServer(t, addr, "--data", data) // sqlite_synchronous defaults to FULL

	ackPath := filepath.Join(t.TempDir(), "acks")
	ackFile, err := os.Create(ackPath)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	acks := lockedWriter{mu: &mu, w: ackFile}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan loadgen.Result, 1)
	go func() {
		res, err := loadgen.Run(ctx, loadgen.Config{
			URL: srv.url, Token: token, Format: loadgen.FormatVigil, Batch: 100, Concurrency: 4,
			Duration: 20 * time.Second, Seed: 7, Timeout: 5 * time.Second, AckLog: acks,
		})
		if err != nil {
			t.Errorf("load: %v", err)
		}
		done <- res
	}()

	// Let some batches commit, then kill without warning.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		st, _ := ackFile.Stat()
		mu.Unlock()
		if st.Size() > 40_000 { // a few hundred acknowledged alerts
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(150 * time.Millisecond) // land the kill mid-batch, not between runs
	if err := srv.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	srv.cmd.Wait()
	cancel()
	res := <-done
	mu.Lock()
	ackFile.Close()
	mu.Unlock()

	acked := readLines(t, ackPath)
	if len(acked) == 0 {
		t.Fatalf("no alert was acknowledged before the kill (result %+v)", res)
	}
	if res.TransportErrors == 0 {
		t.Logf("note: no request was cut by the kill (result %+v)", res)
	}
	t.Logf("acknowledged before kill -9: %d alerts; transport errors: %d", len(acked), res.TransportErrors)

	// Restart on the same data: recovery must succeed and serve.
	srv2 := startServer(t, addr, "--data", data)
	if code, body := get(t, srv2.url+"/api/v1/alerts?source=loadgen&limit=1", token); code != 200 {
		t.Fatalf("after restart GET alerts = %d %s", code, body)
	}
	srv2.stop(t)

	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "vigil.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var integrity string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&integrity); err != nil || integrity != "ok" {
		t.Fatalf("integrity_check = %q, %v", integrity, err)
	}
	stored := map[string]int{}
	rows, err := db.Query(`SELECT a.source_id, COUNT(*) FROM alerts a WHERE a.source = 'loadgen' GROUP BY a.source_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var n int
		rows.Scan(&id, &n)
		stored[id] = n
	}
	rows.Close()
	for _, id := range acked {
		switch stored[id] {
		case 1:
		case 0:
			t.Errorf("alert %s was acknowledged but is missing after the crash", id)
		default:
			t.Errorf("alert %s is stored %d times", id, stored[id])
		}
	}
	// Nothing half-written: every stored alert has its version, its item,
	// its link and its timeline entry — a transaction landed whole or not at all.
	checks := []struct{ name, query string }{
		{"alerts without a version", `SELECT COUNT(*) FROM alerts a WHERE NOT EXISTS (SELECT 1 FROM alert_versions v WHERE v.alert_id = a.id)`},
		{"alerts with more than one version", `SELECT COUNT(*) FROM (SELECT alert_id FROM alert_versions GROUP BY alert_id HAVING COUNT(*) > 1) x`},
		{"alerts without a work item", `SELECT COUNT(*) FROM alerts a WHERE a.workitem_id IS NULL OR NOT EXISTS (SELECT 1 FROM workitems w WHERE w.id = a.workitem_id)`},
		{"work items without an alert", `SELECT COUNT(*) FROM workitems w WHERE NOT EXISTS (SELECT 1 FROM workitem_alerts l WHERE l.workitem_id = w.id)`},
		{"work items without a timeline", `SELECT COUNT(*) FROM workitems w WHERE NOT EXISTS (SELECT 1 FROM timeline e WHERE e.workitem_id = w.id)`},
		{"alerts linked to two work items", `SELECT COUNT(*) FROM (SELECT alert_id FROM workitem_alerts GROUP BY alert_id HAVING COUNT(*) > 1) x`},
	}
	for _, c := range checks {
		var n int
		if err := db.QueryRow(c.query).Scan(&n); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if n != 0 {
			t.Errorf("%s: %d, want 0", c.name, n)
		}
	}
	t.Logf("stored after restart: %d alerts (%d acknowledged)", len(stored), len(acked))
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *os.File
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
