package paging

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/store"
)

// BenchmarkEscalationPass10kOpen measures one escalation pass (the
// engine module's UpdateAll) with 10,000 open pages: none due, the usual
// case between escalations, and 1% of them due, each then notifying its
// next step's user. The issue asks ≤ 100 ms.
func BenchmarkEscalationPass10kOpen(b *testing.B) {
	for _, pg := range []bool{false, true} {
		name := map[bool]string{false: "sqlite", true: "postgres"}[pg]
		b.Run(name, func(b *testing.B) {
			for _, due := range []int{0, 100} {
				b.Run(fmt.Sprintf("due=%d", due), func(b *testing.B) { benchPass(b, pg, due) })
			}
		})
	}
}

func benchPass(b *testing.B, pg bool, due int) {
	h := newBenchHarness(b, pg)
	const total = 10_000
	as := make([]alert.Alert, 0, 500)
	var items []int64
	for n := 0; n < total; n += 500 {
		as = as[:0]
		for i := range 500 {
			a := alert.Alert{Source: "api", SourceID: fmt.Sprint("b", n+i), Title: "bench", Severity: alert.SeverityHigh}
			if err := a.Normalize(h.clk.Now()); err != nil {
				b.Fatal(err)
			}
			as = append(as, a)
		}
		res, err := h.db.Ingest(h.ctx, h.items.Process(), "bench", as)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			items = append(items, r.WorkItemID)
		}
	}
	for _, id := range items {
		if _, _, err := h.p.Trigger(h.ctx, auth.System, id, "s", "", ""); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		// Make `due` pages due for their next step, the rest not.
		ps, err := h.db.ListPages(h.ctx, store.PageFilter{States: []string{store.PageTriggered}, Limit: due + 1})
		if err != nil {
			b.Fatal(err)
		}
		past := h.clk.Now().Add(-time.Minute)
		for i := 0; i < due && i < len(ps); i++ {
			if _, err := h.db.UpdatePage(h.ctx, ps[i].ID, func(p *store.Page) (store.PageEffects, error) {
				p.Step, p.NextAt = -1, &past
				return store.PageEffects{}, nil
			}); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if err := h.p.UpdateAll(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

func newBenchHarness(b *testing.B, pg bool) *harness {
	h := newHarnessTB(b, time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC), pg)
	h.user("ana@example.com")
	h.put(KindPolicy, "p", Policy{Name: "p", Repeat: 20, Steps: []Step{{DelayMinutes: 60, Targets: []Target{{Type: TargetUser, Name: "ana@example.com"}}}}})
	h.put(KindService, "s", Service{Name: "s", Policy: "p", Urgency: UrgencyHigh})
	return h
}
