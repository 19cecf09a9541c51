package numfmt

import (
	"math"
	"testing"
)

func TestInt(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{
		{0, "0"}, {7, "7"}, {999, "999"}, {1000, "1,000"}, {16700, "16,700"}, {123456, "123,456"},
		{1234567, "1,234,567"}, {-1200, "-1,200"}, {-999, "-999"}, {math.MaxInt64, "9,223,372,036,854,775,807"},
		{math.MinInt64, "-9,223,372,036,854,775,808"},
	} {
		if got := Int(tc.in); got != tc.want {
			t.Errorf("Int(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := Int(uint64(math.MaxUint64)); got != "18,446,744,073,709,551,615" {
		t.Errorf("Int(MaxUint64) = %q", got)
	}
}

func TestFloat(t *testing.T) {
	for _, tc := range []struct {
		in       float64
		decimals int
		want     string
	}{
		{0, 1, "0.0"}, {16734.25, 1, "16,734.2"}, {999.95, 1, "1,000.0"}, {1234567.891, 2, "1,234,567.89"},
		{-4200.5, 0, "-4,200"}, {12.345, 2, "12.35"},
	} {
		if got := Float(tc.in, tc.decimals); got != tc.want {
			t.Errorf("Float(%v, %d) = %q, want %q", tc.in, tc.decimals, got, tc.want)
		}
	}
}

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{{0, "0 alerts"}, {1, "1 alert"}, {2, "2 alerts"}, {1440, "1,440 alerts"}} {
		if got := Count(tc.n, "alert", "alerts"); got != tc.want {
			t.Errorf("Count(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
