// Package numfmt writes counts for people: with thousands separators
// ("16,700 alerts"), as the README and the board write them, so that a
// count in a log line or on the demo's banner reads at a glance.
package numfmt

import (
	"strconv"
	"strings"
)

// Int formats n with a comma between each group of three digits:
// 1234567 → "1,234,567", -1200 → "-1,200", 999 → "999".
func Int[T ~int | ~int32 | ~int64 | ~uint | ~uint32 | ~uint64](n T) string {
	s := strconv.FormatInt(int64(n), 10)
	if uint64(n) > 1<<63-1 && n > 0 { // a uint64 past int64's range
		s = strconv.FormatUint(uint64(n), 10)
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	out := group(s)
	if neg {
		return "-" + out
	}
	return out
}

// Float formats f with decimals digits after the point and thousands
// separators before it: Float(16734.25, 1) → "16,734.3".
func Float(f float64, decimals int) string {
	s := strconv.FormatFloat(f, 'f', decimals, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, hasFrac := strings.Cut(s, ".")
	out := group(whole)
	if hasFrac {
		out += "." + frac
	}
	if neg {
		return "-" + out
	}
	return out
}

// Count is n followed by the noun in the singular or plural:
// Count(1, "alert", "alerts") → "1 alert", Count(1500, …) → "1,500 alerts".
func Count[T ~int | ~int32 | ~int64 | ~uint | ~uint32 | ~uint64](n T, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return Int(n) + " " + many
}

// group puts a comma between each group of three digits of an unsigned
// decimal number.
func group(digits string) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	head := len(digits) % 3
	if head > 0 {
		b.WriteString(digits[:head])
	}
	for i := head; i < len(digits); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}
