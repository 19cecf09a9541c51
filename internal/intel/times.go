package intel

import (
	"math"
	"time"
)

func clampConf(c int) uint8 { return uint8(min(max(c, 0), 100)) }

// secs stores a time to the second, clamped to 1970-01-01T00:00:01 ..
// 2106-02-07; 0 stands for the zero time.
func secs(t time.Time) uint32 {
	if t.IsZero() {
		return 0
	}
	return uint32(min(max(t.Unix(), 1), math.MaxUint32))
}

func fromSecs(s uint32) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(int64(s), 0).UTC()
}

// nanos stores a time in Unix nanoseconds (clamped to what fits); 0 stands
// for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	switch {
	case t.Before(time.Unix(0, math.MinInt64+1)):
		return math.MinInt64 + 1
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	if n := t.UnixNano(); n != 0 {
		return n
	}
	return 1
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
