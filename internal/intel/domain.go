package intel

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/vigil-soc/vigil/internal/validation"
)

// normDomain lower-cases a domain, drops one trailing dot and converts IDN
// labels to punycode. ASCII labels are checked by hand as letters, digits,
// hyphens and underscores, not by idna: the Lookup profile rejects "--" in
// the third and fourth positions and underscores, which real hosts (and so
// real indicators) have, e.g. "r3---sn-abc.googlevideo.com". Labels that
// are not ASCII, or that are already punycode ("xn--"), go through idna's
// Lookup profile. minLabels is 2 for domains and 1 for URL hosts.
func normDomain(v string, minLabels int) (string, error) {
	d := strings.TrimSuffix(v, ".")
	if canonicalDomain(d, minLabels) {
		return d, nil // the common case: no allocation
	}
	d = lowerASCII(d)
	if !canonicalDomain(d, minLabels) {
		var b strings.Builder
		b.Grow(len(d))
		for i, label := range strings.Split(d, ".") {
			if i > 0 {
				b.WriteByte('.')
			}
			if isASCII(label) && !strings.HasPrefix(label, "xn--") {
				b.WriteString(label) // checked below, with the rest
				continue
			}
			a, err := idna.Lookup.ToASCII(label)
			if err != nil {
				return "", validation.NewFieldError("value", "not a valid domain: %q", clip(v))
			}
			b.WriteString(a)
		}
		d = b.String()
		if !canonicalDomain(d, minLabels) {
			return "", validation.NewFieldError("value", "not a valid domain: %q", clip(v))
		}
	}
	return d, nil
}

// canonicalDomain reports whether d is already a canonical domain: ASCII
// lower-case labels of letters, digits, '-' and '_', 1–63 bytes, no hyphen
// at either end, at least minLabels labels, 253 bytes at most, a last
// label that is not all digits, and punycode labels that idna accepts.
func canonicalDomain(d string, minLabels int) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	labels, start := 0, 0
	digitsOnly := true
	for i := 0; i <= len(d); i++ {
		if i < len(d) && d[i] != '.' {
			c := d[i]
			switch {
			case '0' <= c && c <= '9':
			case 'a' <= c && c <= 'z', c == '-', c == '_':
				digitsOnly = false
			default:
				return false
			}
			continue
		}
		label := d[start:i]
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		if len(label) >= 4 && label[:4] == "xn--" && !validPunycode(label) {
			return false
		}
		labels++
		if i < len(d) {
			digitsOnly = true
		}
		start = i + 1
	}
	return labels >= minLabels && !digitsOnly
}

// validPunycode reports whether an "xn--" label decodes to a valid IDN
// label that encodes back to itself.
func validPunycode(label string) bool {
	a, err := idna.Lookup.ToASCII(label)
	return err == nil && a == label
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
