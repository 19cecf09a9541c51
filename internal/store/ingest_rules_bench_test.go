package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// BenchRules returns n rules shaped like a team's: four in five are
// "suppress similar" rules (a title, a host, a source), the rest CEL
// conditions over any source. None matches the benchmark's alerts, which
// is the common case: most alerts pass every rule.
func benchRules(n int) []automation.Rule {
	titles := []string{"Suspicious PowerShell command line", "Impossible travel activity", "Mass download by a single user",
		"Antimalware Action Taken", "Successful brute force attack"}
	var rs []automation.Rule
	for i := range n {
		d := automation.Definition{Name: fmt.Sprintf("rule %d", i), Enabled: true, Order: i, Triggers: []string{"alert.created"},
			Actions: []automation.ActionSpec{{Type: "close", Classification: "false_positive"}}}
		if i%5 != 4 {
			d.Sources = []string{"defender"}
			d.Builder = &automation.Builder{Match: "all", Rows: []automation.BuilderRow{
				{Property: "title", Operator: "equals", Values: []string{titles[i%len(titles)]}},
				{Property: "hosts", Operator: "equals", Values: []string{fmt.Sprintf("vm-noisy-%03d", i)}}}}
		} else {
			d.Condition = fmt.Sprintf(`title.contains("campaign %d") || ips.exists(ip, ip == "198.51.100.%d")`, i, i%250)
		}
		if err := d.Normalize(); err != nil {
			panic(err)
		}
		rs = append(rs, automation.Rule{ID: int64(i + 1), Version: 1, Definition: d})
	}
	return rs
}

// BenchmarkIngestRules measures the writer's side of ingest with 0 and
// 500 enabled creation rules, the rules evaluated before the writer as
// the pipeline does (PrecomputeRules), then inside it.
func BenchmarkIngestRules(b *testing.B) {
	for _, n := range []int{0, 500} {
		for _, pre := range []bool{true, false} {
			if n == 0 && !pre {
				continue
			}
			b.Run(fmt.Sprintf("rules=%d/precomputed=%v", n, pre), func(b *testing.B) {
				db := storetest.SQLite(b, clock.Real{})
				proc := workitem.DefaultProcess()
				db.SetRules(automation.NewSet(benchRules(n), automation.Options{Process: proc}))
				as := make([]alert.Alert, 100)
				k := 0
				for b.Loop() {
					ps := make([]store.Prepared, len(as))
					for i := range as {
						k++
						as[i] = testAlert(fmt.Sprintf("bench-%d", k))
						p, err := store.Prepare(as[i])
						if err != nil {
							b.Fatal(err)
						}
						ps[i] = p
					}
					if pre {
						b.StopTimer()
						db.PrecomputeRules(proc, "bench", ps)
						b.StartTimer()
					}
					if _, err := db.IngestPrepared(context.Background(), proc, "bench", ps); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(k)/b.Elapsed().Seconds(), "alerts/s")
			})
		}
	}
}
