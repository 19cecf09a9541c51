package twoway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/simulator"
	"github.com/vigil-soc/vigil/internal/twoway"
)

// BenchmarkSentinelPollCycle measures one poll of a workspace with 10,000
// open incidents, in requests and time: the first poll (every open
// incident is new to vigil: the list pages plus one alert lookup each,
// all stored) and a steady poll (a delta read that finds one changed
// incident). Run with -benchtime=1x; the setup dominates otherwise.
func BenchmarkSentinelPollCycle(b *testing.B) {
	const n = 10000
	for b.Loop() {
		b.StopTimer()
		h := newBenchHarness(b, n)
		poller := twoway.NewSentinelPoller(h.sentinel, h.db, h.items, h.proc, twoway.SentinelOptions{Name: "ws", RequestsPerSecond: -1, Clock: h.clk, Logger: h.log})
		ctx := context.Background()
		before := h.sentinel.Requests()
		b.StartTimer()
		start := time.Now()
		if err := poller.UpdateAll(ctx); err != nil {
			b.Fatal(err)
		}
		first, firstReqs := time.Since(start), h.sentinel.Requests()-before

		// One incident changes; the next poll is a delta read.
		w := h.sim.Sim.World()
		w.WithIncident(w.Incidents()[n/2].Name, func(in *simulator.Incident) (bool, error) {
			in.Status, in.LastModified = simulator.IncidentActive, time.Now()
			return true, nil
		})
		before = h.sentinel.Requests()
		start = time.Now()
		if err := poller.UpdateAll(ctx); err != nil {
			b.Fatal(err)
		}
		steady, steadyReqs := time.Since(start), h.sentinel.Requests()-before
		b.ReportMetric(float64(firstReqs), "first-requests")
		b.ReportMetric(first.Seconds(), "first-s")
		b.ReportMetric(float64(steadyReqs), "steady-requests")
		b.ReportMetric(steady.Seconds()*1000, "steady-ms")
		fmt.Printf("first poll: %d requests in %s; steady poll: %d requests in %s\n", firstReqs, first.Round(time.Millisecond), steadyReqs, steady.Round(time.Millisecond))
	}
}

func newBenchHarness(b *testing.B, alerts int) *harness {
	b.Helper()
	srv, err := simulator.Listen(simulator.New(simulator.Options{Preload: alerts}), "127.0.0.1:0", "")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	return buildHarness(b, srv)
}
