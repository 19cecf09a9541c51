package feeds

import (
	"net/netip"
	"strings"
	"time"
)

// checkIndicator trims the value and rejects values that cannot be of the
// indicator's type. It turns an "ip" holding a prefix into a "cidr" (and a
// "cidr" holding a bare address into an "ip"), because feeds mix them up.
func checkIndicator(ind *Indicator) bool {
	ind.Value = strings.TrimSpace(ind.Value)
	v := ind.Value
	if v == "" || len(v) > 8192 {
		return false
	}
	switch ind.Type {
	case TypeIP, TypeCIDR:
		if _, err := netip.ParseAddr(v); err == nil {
			ind.Type = TypeIP
			return true
		}
		if _, err := netip.ParsePrefix(v); err == nil {
			ind.Type = TypeCIDR
			return true
		}
		return false
	case TypeMD5:
		return isHex(v, 32)
	case TypeSHA1:
		return isHex(v, 40)
	case TypeSHA256:
		return isHex(v, 64)
	case TypeDomain:
		return !strings.ContainsAny(v, " \t\r\n/@") && strings.Trim(v, ".") != ""
	case TypeURL:
		return !strings.ContainsAny(v, " \t\r\n")
	case TypeEmail:
		at := strings.LastIndexByte(v, '@')
		return at > 0 && at < len(v)-1 && !strings.ContainsAny(v, " \t\r\n")
	}
	return false
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// clampConfidence keeps a feed's confidence in 0–100.
func clampConfidence(c int) int { return min(max(c, 0), 100) }

// appendTags appends the non-empty tags not already present.
func appendTags(dst []string, tags ...string) []string {
next:
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		for _, d := range dst {
			if d == t {
				continue next
			}
		}
		dst = append(dst, t)
	}
	return dst
}

// parseTime reads the timestamps feeds send: RFC 3339 with or without
// fraction, and OTX's zone-less "2023-08-09T05:05:14.946000" (taken as UTC).
func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
