package compat

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// BenchmarkParseAlertmanager measures decoding a Prometheus-sized body of
// 100 alerts, the hot path of vigil's /api/v2/alerts.
func BenchmarkParseAlertmanager(b *testing.B) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	var alerts []map[string]any
	for i := range 100 {
		alerts = append(alerts, map[string]any{
			"labels": map[string]string{"alertname": "HostBruteForce", "instance": fmt.Sprintf("10.0.%d.%d:9100", i/250, i%250),
				"job": "node", "severity": "critical", "source_id": fmt.Sprintf("bench-%d", i)},
			"annotations":  map[string]string{"summary": "SSH brute force against host", "description": "Many failed logins from one address."},
			"startsAt":     "2026-11-22T11:59:00Z",
			"generatorURL": "http://prometheus:9090/graph?g0.expr=up",
		})
	}
	body, _ := json.Marshal(alerts)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		out, err := ParseAlertmanager(body, now)
		if err != nil || len(out) != 100 {
			b.Fatalf("parsed %d, %v", len(out), err)
		}
	}
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "alerts/s")
}
