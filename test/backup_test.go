package test

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/vigil-soc/vigil/internal/loadgen"
)

// TestBackupWhileServing takes two backups with `vigil backup` while a
// running `vigil serve` ingests alerts, and checks that each is a sound
// database holding every alert acknowledged before the backup began, and
// that a server started on it serves (the token in it still works).
func TestBackupWhileServing(t *testing.T) {
	data := t.TempDir()
	token := createToken(t, data, "responder")
	srv := startServer(t, freePort(t), "--data", data)

	acks := &ackBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	loadDone := make(chan loadgen.Result, 1)
	go func() {
		res, err := loadgen.Run(ctx, loadgen.Config{
			URL: srv.url, Token: token, Format: loadgen.FormatVigil, Batch: 50, Concurrency: 2,
			Duration: time.Minute, Seed: 11, Timeout: 10 * time.Second, AckLog: acks,
		})
		if err != nil {
			t.Errorf("load: %v", err)
		}
		loadDone <- res
	}()

	outDir := t.TempDir()
	type taken struct {
		out   string
		acked []string // acknowledged before the backup began
	}
	var backups []taken
	for i, how := range []string{"--data flag", "VIGIL_DATA"} {
		waitAcks(t, acks, (i+1)*2000)
		acked := acks.ids(t)
		out := filepath.Join(outDir, []string{"first.db", "second.db"}[i])
		args := []string{"backup", "--out", out}
		var env []string
		if how == "--data flag" {
			args = append(args, "--data", data)
		} else {
			env = append(env, "VIGIL_DATA="+data)
		}
		if stdout, err := runBackupCmd(env, args...); err != nil {
			t.Fatalf("backup (%s): %v\n%s", how, err, stdout)
		}
		backups = append(backups, taken{out, acked})
	}
	cancel()
	res := <-loadDone
	srv.stop(t)
	if res.Requests == 0 {
		t.Fatalf("no load ran: %+v", res)
	}

	for i, b := range backups {
		stored := backupAlerts(t, b.out)
		missing := 0
		for _, id := range b.acked {
			if !stored[id] {
				missing++
			}
		}
		if missing != 0 {
			t.Errorf("backup %d: %d of the %d alerts acknowledged before it began are missing", i+1, missing, len(b.acked))
		}
		t.Logf("backup %d: %d alerts, %d acknowledged before it began", i+1, len(stored), len(b.acked))

		// Restore: the backup becomes vigil.db of a new data directory.
		restored := t.TempDir()
		b2, err := os.ReadFile(b.out)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(restored, "vigil.db"), b2, 0o600); err != nil {
			t.Fatal(err)
		}
		rs := startServer(t, freePort(t), "--data", restored)
		if code, body := get(t, rs.url+"/api/v1/alerts?source=loadgen&limit=1", token); code != 200 || !strings.Contains(body, "loadgen") {
			t.Errorf("restored backup %d: GET alerts = %d %.200s, want 200 with an alert", i+1, code, body)
		}
		rs.stop(t)
	}
}

// TestBackupRefusals: an existing --out is kept, and PostgreSQL is sent to
// pg_dump.
func TestBackupRefusals(t *testing.T) {
	data := t.TempDir()
	vigil(t, "", "migrate", "--data", data)
	exists := filepath.Join(t.TempDir(), "exists.db")
	if err := os.WriteFile(exists, []byte("older backup"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"existing out", []string{"backup", "--data", data, "--out", exists}, "already exists"},
		{"postgres", []string{"backup", "--dsn", "postgres://vigil@127.0.0.1:1/vigil", "--out", filepath.Join(t.TempDir(), "x.db")}, "pg_dump"},
		{"no out", []string{"backup", "--data", data}, "--out FILE"},
		{"no database", []string{"backup", "--data", t.TempDir(), "--out", filepath.Join(t.TempDir(), "y.db")}, "no database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runBackupCmd(nil, tt.args...)
			if err == nil {
				t.Fatalf("vigil %s succeeded, want an error; output:\n%s", strings.Join(tt.args, " "), out)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("output = %q, want it to mention %q", out, tt.want)
			}
		})
	}
	if got, _ := os.ReadFile(exists); string(got) != "older backup" {
		t.Errorf("existing backup now holds %q, want it untouched", got)
	}
}

// runBackupCmd runs a subcommand with extra environment and returns its
// combined output.
func runBackupCmd(env []string, args ...string) (string, error) {
	cmd := exec.Command(vigilBin, args...)
	cmd.Env = append(os.Environ(), env...)
	b, err := cmd.CombinedOutput()
	return string(b), err
}

// backupAlerts checks a backup's integrity and returns its loadgen alerts'
// source ids.
func backupAlerts(t testing.TB, path string) map[string]bool {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var integrity string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&integrity); err != nil || integrity != "ok" {
		t.Fatalf("%s: integrity_check = %q, %v; want ok", path, integrity, err)
	}
	rows, err := db.Query(`SELECT source_id FROM alerts WHERE source = 'loadgen'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ids := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// ackBuffer collects loadgen's ack log in memory.
type ackBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (a *ackBuffer) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buf.Write(p)
}

// ids returns the ids acknowledged so far.
func (a *ackBuffer) ids(t testing.TB) []string {
	t.Helper()
	a.mu.Lock()
	b := bytes.Clone(a.buf.Bytes())
	a.mu.Unlock()
	ids, err := loadgen.ReadAckLog(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func waitAcks(t testing.TB, a *ackBuffer, n int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if got := len(a.ids(t)); got >= n {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("only %d alerts acknowledged in 20s, want %d", got, n)
		}
	}
}
