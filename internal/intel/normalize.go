package intel

import (
	"net/netip"
	"strings"

	"github.com/vigil-soc/vigil/internal/validation"
)

// Normalize returns the canonical form of a value of type typ, or a
// validation error naming "value". See the package comment for the rules.
// A value that is already canonical is returned as is, without allocating
// for the common types, so that normalising entities on ingest is cheap.
func Normalize(typ, value string) (string, error) {
	v := strings.TrimSpace(value)
	switch typ {
	case IP:
		return normIP(v)
	case CIDR:
		return normCIDR(v)
	case Domain:
		return normDomain(v, 2)
	case URL:
		return normURL(v)
	case MD5:
		return normHash(v, 32, typ)
	case SHA1:
		return normHash(v, 40, typ)
	case SHA256:
		return normHash(v, 64, typ)
	case Email:
		return normEmail(v)
	}
	return "", validation.NewFieldError("type", "unknown indicator type %q", typ)
}

// Guess returns the type of a raw value: an IP, a CIDR, a URL with a
// scheme, a hash by length, an email, else a domain if it parses. It is for
// feeds and entities that do not say; ok is false when nothing fits.
func Guess(value string) (string, bool) {
	v := strings.TrimSpace(value)
	if v == "" {
		return "", false
	}
	if _, err := normIP(v); err == nil {
		return IP, true
	}
	if strings.IndexByte(v, '/') >= 0 {
		if _, err := netip.ParsePrefix(v); err == nil {
			if _, err := normCIDR(v); err == nil {
				return CIDR, true
			}
		}
	}
	if strings.Contains(v, "://") {
		if _, err := normURL(v); err == nil {
			return URL, true
		}
		return "", false
	}
	if isHex(v) {
		switch len(v) {
		case 32:
			return MD5, true
		case 40:
			return SHA1, true
		case 64:
			return SHA256, true
		}
	}
	if strings.IndexByte(v, '@') >= 0 {
		if _, err := normEmail(v); err == nil {
			return Email, true
		}
		return "", false
	}
	if _, err := normDomain(v, 2); err == nil {
		return Domain, true
	}
	return "", false
}

// normIP parses an address, unmaps IPv4-mapped IPv6 and drops the zone.
func normIP(v string) (string, error) {
	a, err := netip.ParseAddr(v)
	if err != nil {
		return "", validation.NewFieldError("value", "not an IP address: %q", clip(v))
	}
	a = a.Unmap().WithZone("")
	var buf [64]byte
	return sameOr(v, a.AppendTo(buf[:0])), nil
}

// normCIDR parses a prefix (or a bare address as a host prefix), masks it
// and turns IPv4-mapped prefixes into IPv4 ones.
func normCIDR(v string) (string, error) {
	var p netip.Prefix
	if strings.IndexByte(v, '/') < 0 {
		a, err := netip.ParseAddr(v)
		if err != nil {
			return "", validation.NewFieldError("value", "not a CIDR range: %q", clip(v))
		}
		a = a.Unmap().WithZone("")
		p = netip.PrefixFrom(a, a.BitLen())
	} else {
		var err error
		p, err = netip.ParsePrefix(v)
		if err != nil {
			return "", validation.NewFieldError("value", "not a CIDR range: %q", clip(v))
		}
	}
	p = canonPrefix(p)
	var buf [64]byte
	return sameOr(v, p.AppendTo(buf[:0])), nil
}

// canonPrefix masks p and unmaps IPv4-mapped prefixes of /96 or longer.
func canonPrefix(p netip.Prefix) netip.Prefix {
	a := p.Addr()
	if a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

// sameOr returns v itself when b, rendered into a stack buffer, equals
// it, so that canonical input costs no allocation.
func sameOr(v string, b []byte) string {
	if string(b) == v {
		return v
	}
	return string(b)
}

func normHash(v string, n int, typ string) (string, error) {
	if len(v) != n || !isHex(v) {
		return "", validation.NewFieldError("value", "not a %s hash (%d hex digits): %q", typ, n, clip(v))
	}
	return lowerASCII(v), nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return s != ""
}

// lowerASCII lowers ASCII letters, returning s itself when it has none.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// normEmail keeps the local part and normalises the domain.
func normEmail(v string) (string, error) {
	at := strings.LastIndexByte(v, '@')
	if at <= 0 || at > 64 {
		return "", validation.NewFieldError("value", "not an email address: %q", clip(v))
	}
	local := v[:at]
	for i := 0; i < len(local); i++ {
		c := local[i]
		if c <= ' ' || c == 0x7f || strings.IndexByte(`"(),:;<>@[\]`, c) >= 0 {
			return "", validation.NewFieldError("value", "not an email address: %q", clip(v))
		}
	}
	d, err := normDomain(v[at+1:], 2)
	if err != nil {
		return "", validation.NewFieldError("value", "not an email address: %q", clip(v))
	}
	if d == v[at+1:] {
		return v, nil
	}
	return local + "@" + d, nil
}

// clip keeps error texts short: a value can be anything a feed sent.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
