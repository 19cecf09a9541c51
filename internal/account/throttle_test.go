package account

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

// A flood of distinct keys, each with a failure that still counts, must
// not grow a throttle's map without bound; and a locked key survives the
// forgetting while unlocked ones are left to forget.
func TestThrottleBounded(t *testing.T) {
	tests := []struct {
		name string
		lim  limit
	}{
		{"email", emailLimit},
		{"address", addrLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := newThrottle(tt.lim)
			th.max = 100
			now := t0
			for range tt.lim.failures {
				if !th.begin("victim", now).ok {
					t.Fatal("victim refused before its failures")
				}
				th.fail("victim", now)
			}
			for i := range 10000 {
				now = now.Add(time.Millisecond)
				k := fmt.Sprintf("flood%d", i)
				if !th.begin(k, now).ok {
					t.Fatalf("new key %s refused", k)
				}
				th.fail(k, now)
				if n := len(th.m); n > th.max {
					t.Fatalf("after %d keys the map holds %d, want at most %d", i+1, n, th.max)
				}
			}
			if th.begin("victim", now).ok {
				t.Error("victim's failures forgotten while unlocked keys could have gone")
			}
		})
	}
}

// Keys with attempts under way are never forgotten: their count would go
// wrong when the attempts end.
func TestThrottleKeepsInFlight(t *testing.T) {
	th := newThrottle(addrLimit)
	th.max = 10
	th.begin("busy", t0)
	for i := range 100 {
		k := fmt.Sprint(i)
		th.begin(k, t0)
		th.fail(k, t0)
	}
	if a := th.m["busy"]; a == nil || a.inFlight != 1 {
		t.Errorf("entry with an attempt under way = %+v, want kept with 1 in flight", a)
	}
}

func TestAddrKey(t *testing.T) {
	tests := []struct{ ip, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"", ""},
		{"not an address", "not an address"},
	}
	for _, tt := range tests {
		if got := addrKey(tt.ip); got != tt.want {
			t.Errorf("addrKey(%q) = %q, want %q", tt.ip, got, tt.want)
		}
	}
}
