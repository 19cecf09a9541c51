package intel

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/vigil-soc/vigil/internal/validation"
)

// defaultPorts are dropped from URLs (RFC 3986 §6.2.3).
var defaultPorts = map[string]string{"http": "80", "https": "443"}

// normURL normalises a URL by RFC 3986 §6.2.2 and §6.2.3 without
// re-encoding it: scheme and host lower case, default port dropped, host
// IDN to punycode, unreserved characters percent-decoded and the remaining
// escapes upper-cased, an empty path made "/", the fragment dropped and the
// query kept byte for byte. net/url is not used because its String
// re-escapes paths and would change what the feed sent.
func normURL(v string) (string, error) {
	bad := func(why string) error {
		return validation.NewFieldError("value", "not a valid URL (%s): %q", why, clip(v))
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' || c == 0x7f {
			return "", bad("control character")
		}
	}
	colon := strings.Index(v, "://")
	fragment := false
	if colon <= 0 || !validScheme(v[:colon]) {
		return "", bad("no scheme")
	}
	scheme := lowerASCII(v[:colon])
	rest := v[colon+3:]
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest, fragment = rest[:i], true
	}
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	path, query := tail, ""
	if i := strings.IndexByte(tail, '?'); i >= 0 {
		path, query = tail[:i], tail[i:]
	}

	userinfo := ""
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		userinfo, authority = authority[:i+1], authority[i+1:]
	}
	host, port, err := splitHostPort(authority)
	if err != nil {
		return "", bad(err.Error())
	}
	rawHost, rawPort, rawPath := host, port, path
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return "", bad("bad port")
		}
		port = strconv.FormatUint(n, 10)
		if defaultPorts[scheme] == port {
			port = ""
		}
	}
	host, err = normHost(host)
	if err != nil {
		return "", bad("bad host")
	}
	path = normEscapes(path)
	if path == "" {
		path = "/"
	}
	if !fragment && scheme == v[:colon] && host == rawHost && port == rawPort && path == rawPath &&
		(port != "" || !strings.HasSuffix(authority, ":")) {
		return v, nil // already canonical: the common case on lookup, no allocation
	}

	var b strings.Builder
	b.Grow(len(v) + 1)
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(userinfo)
	b.WriteString(host)
	if port != "" {
		b.WriteByte(':')
		b.WriteString(port)
	}
	b.WriteString(path)
	b.WriteString(query)
	return b.String(), nil
}

func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

type urlError string

func (e urlError) Error() string { return string(e) }

// splitHostPort splits "host", "host:port", "[v6]" or "[v6]:port"; an
// empty port (RFC 3986 allows "host:") is returned as "".
func splitHostPort(a string) (host, port string, err error) {
	if strings.HasPrefix(a, "[") {
		i := strings.IndexByte(a, ']')
		if i < 0 {
			return "", "", urlError("unclosed [")
		}
		host, rest := a[:i+1], a[i+1:]
		if rest != "" {
			if rest[0] != ':' {
				return "", "", urlError("junk after ]")
			}
			port = rest[1:]
		}
		return host, port, nil
	}
	if i := strings.LastIndexByte(a, ':'); i >= 0 {
		return a[:i], a[i+1:], nil
	}
	return a, "", nil
}

// normHost normalises a URL host: a bracketed IPv6 address, an IPv4
// address or a domain (one label allowed).
func normHost(h string) (string, error) {
	if strings.HasPrefix(h, "[") {
		a, err := netip.ParseAddr(h[1 : len(h)-1])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", urlError("bad IPv6 literal")
		}
		return "[" + a.String() + "]", nil
	}
	if isAddr(h) {
		a, _ := netip.ParseAddr(h)
		if a.Is4() {
			return sameOr(h, a.AppendTo(make([]byte, 0, 16))), nil
		}
	}
	return normDomain(h, 1)
}

// hostOf returns the host of a normalised URL, brackets stripped from an
// IPv6 literal.
func hostOf(u string) string {
	i := strings.Index(u, "://")
	if i < 0 {
		return ""
	}
	rest := u[i+3:]
	if j := strings.IndexAny(rest, "/?"); j >= 0 {
		rest = rest[:j]
	}
	if j := strings.LastIndexByte(rest, '@'); j >= 0 {
		rest = rest[j+1:]
	}
	if strings.HasPrefix(rest, "[") {
		if j := strings.IndexByte(rest, ']'); j > 0 {
			return rest[1:j]
		}
		return ""
	}
	if j := strings.LastIndexByte(rest, ':'); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// normEscapes decodes percent escapes of unreserved characters (RFC 3986
// §6.2.2.2) and upper-cases the hex digits of the others (§6.2.2.1).
// Malformed escapes are left alone.
func normEscapes(p string) string {
	i := strings.IndexByte(p, '%')
	if i < 0 {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	b.WriteString(p[:i])
	for ; i < len(p); i++ {
		c := p[i]
		if c != '%' || i+2 >= len(p) {
			b.WriteByte(c)
			continue
		}
		h, l := unhex(p[i+1]), unhex(p[i+2])
		if h < 0 || l < 0 {
			b.WriteByte(c)
			continue
		}
		d := byte(h<<4 | l)
		if isUnreserved(d) {
			b.WriteByte(d)
		} else {
			b.WriteByte('%')
			b.WriteByte(upperHex(p[i+1]))
			b.WriteByte(upperHex(p[i+2]))
		}
		i += 2
	}
	if b.Len() == len(p) && b.String() == p {
		return p
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}
