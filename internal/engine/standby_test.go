package engine_test

import (
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/engine"
)

// An instance that left a pass to another one asks again after a tenth
// of the interval, not a whole one: when the other instance dies, the
// pass is taken over as soon as it is due (within one interval of the
// dead pass's start), whatever the phase of this instance's ticker. A
// module standing down for a newer version asks only every interval.
func TestStandbyAsksAgainSoon(t *testing.T) {
	tests := []struct {
		name      string
		first     engine.Decision
		wantAfter time.Duration
	}{
		{"busy", engine.Busy, 100 * time.Millisecond},
		{"recent", engine.Recent, 100 * time.Millisecond},
		{"stand-down", engine.StandDown, time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewFake(t0)
			l := &fakeLocker{decisions: []engine.Decision{tc.first, engine.Run}}
			e := engine.New(engine.Options{Clock: clk, Locker: l})
			mod := newCounter("sync")
			e.Add(mod, engine.Spec{Every: time.Second})
			start(t, e)
			asleep(t, clk, 1) // the first ask was answered tc.first
			clk.Advance(tc.wantAfter - time.Millisecond)
			time.Sleep(20 * time.Millisecond)
			if got := mod.passes.Load(); got != 0 {
				t.Fatalf("ran %d passes %s after a %s answer, want none yet", got, tc.wantAfter-time.Millisecond, tc.first)
			}
			clk.Advance(time.Millisecond)
			mod.wait(t, 1)
		})
	}
}
