package twoway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/twoway"
)

// BenchmarkSentinelFirstPoll10k measures the first poll of a workspace
// with 10,000 open incidents into a real (SQLite) store, with the
// poller's default pacing of ARM alert lookups (20 per second):
//
//   - query-api: the resync reads the incidents and their alerts through
//     the Log Analytics query API (two queries), no ARM request;
//   - lookups: the ARM path (list, then one paced alert lookup per
//     incident) over 400 incidents, extrapolated to 10,000 in
//     extrapolated-10k-s (the pacing makes it linear).
//
// Run with -benchtime=1x; the simulator's setup dominates otherwise.
func BenchmarkSentinelFirstPoll10k(b *testing.B) {
	for _, bc := range []struct {
		name string
		n    int
		bulk bool
	}{{"query-api", 10000, true}, {"lookups", 400, false}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				h := newBenchHarness(b, bc.n)
				api := h.sentinel
				if bc.bulk {
					api = bulkClient(b, h.sim)
				}
				poller := twoway.NewSentinelPoller(api, h.db, h.items, h.proc, twoway.SentinelOptions{Name: "ws", Clock: h.clk, Logger: h.log})
				b.StartTimer()
				start := time.Now()
				if err := poller.UpdateAll(context.Background()); err != nil {
					b.Fatal(err)
				}
				took := time.Since(start)
				b.StopTimer()
				if n := countIncidents(b, h); n != bc.n {
					b.Fatalf("stored %d incidents, want %d", n, bc.n)
				}
				b.ReportMetric(took.Seconds(), "first-s")
				b.ReportMetric(float64(api.Requests()), "arm-requests")
				b.ReportMetric(float64(api.LogQueries()), "queries")
				b.ReportMetric(took.Seconds()*10000/float64(bc.n), "extrapolated-10k-s")
				queries := api.LogQueries()
				if bc.bulk {
					// The read alone (the same two queries again), to
					// tell the query API's share from the store's.
					start = time.Now()
					if _, err := api.OpenIncidentsWithAlerts(context.Background()); err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(time.Since(start).Seconds(), "read-s")
				}
				fmt.Printf("%s: %d incidents in %s (%d ARM requests, %d queries)\n", bc.name, bc.n, took.Round(time.Millisecond), api.Requests(), queries)
				b.StartTimer()
			}
		})
	}
}

// countIncidents pages through the stored Sentinel incidents.
func countIncidents(b *testing.B, h *harness) int {
	n, after := 0, int64(0)
	for {
		list, err := h.db.ListIncidents(context.Background(), "sentinel", after, 500)
		if err != nil {
			b.Fatal(err)
		}
		if len(list) == 0 {
			return n
		}
		n += len(list)
		after = list[len(list)-1].ID
	}
}
