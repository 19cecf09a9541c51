package test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/feeds/feedsemu"
	"github.com/vigil-soc/vigil/internal/loadgen"
)

// BenchmarkIngestWithIndicators: HTTP ingest into `vigil serve` (SQLite,
// synchronous=FULL) with 1,000,000 indicators loaded in the matcher
// (from a STIX bundle, the STIX file feed) against the same server with
// none; every alert's entities are looked up. None of the load's
// entities is an indicator: what is measured is the lookups, not the
// annotation of matches (TestOTXPulseRetroHunt covers those). Each op runs both, one
// after the other on fresh servers, for 10 s each (batches of 100, 4
// connections), and reports both rates and their ratio.
//
//	go test ./test -run '^$' -bench IngestWithIndicators -benchtime 1x -count 3
func BenchmarkIngestWithIndicators(b *testing.B) {
	bundle := filepath.Join(b.TempDir(), "indicators.json")
	// Public addresses (45/8) outside the load's: feeds list no private ones.
	if err := feedsemu.WriteSTIXBundle(bundle, 1_000_000, 45); err != nil {
		b.Fatal(err)
	}
	for range b.N {
		b.StopTimer()
		without := ingestRate(b, "")
		with := ingestRate(b, bundle)
		b.ReportMetric(without, "alerts/s-without")
		b.ReportMetric(with, "alerts/s-with-1M")
		b.ReportMetric(100*with/without, "%-of-without")
	}
}

// ingestRate starts a server, loads bundle when set (and waits for its
// feed pass), and measures ingest.
func ingestRate(b *testing.B, bundle string) float64 {
	b.Helper()
	data := b.TempDir()
	token := createToken(b, data, "responder")
	addr := freePort(b)
	args := []string{"serve", "--listen", addr, "--data", data}
	if bundle != "" {
		cfg := filepath.Join(b.TempDir(), "vigil.yaml")
		if err := os.WriteFile(cfg, []byte(fmt.Sprintf("threat_intel:\n  interval: 1h\n  stix_files: [%q]\n", bundle)), 0o600); err != nil {
			b.Fatal(err)
		}
		args = append(args, "--config", cfg)
	}
	cmd := exec.Command(vigilBin, args...)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	ready := func() bool {
		if bundle != "" {
			return strings.Contains(logs.String(), "feed pass")
		}
		code, _ := getNoFail("http://" + addr + "/readyz")
		return code == 200
	}
	for deadline := time.Now().Add(3 * time.Minute); !ready(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("server not ready (indicators %q); logs:\n%s", bundle, logs.String())
		}
	}
	res, err := loadgen.Run(context.Background(), loadgen.Config{URL: "http://" + addr, Token: token, Format: loadgen.FormatVigil,
		Batch: 100, Concurrency: 4, Duration: 10 * time.Second, Seed: 11, Timeout: 10 * time.Second})
	if err != nil || res.Errors > 0 {
		b.Fatalf("load: %v (%+v)", err, res)
	}
	return res.AlertsPerSec
}

// getNoFail is a GET that reports a failure as code 0.
func getNoFail(url string) (int, error) {
	res, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}
