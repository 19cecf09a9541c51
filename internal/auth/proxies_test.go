package auth_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/vigil-soc/vigil/internal/auth"
)

func TestProxiesClientIP(t *testing.T) {
	trusted := auth.NewProxies([]netip.Prefix{
		netip.MustParsePrefix("127.0.0.1/32"),
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("fd00::/8"),
	})
	tests := []struct {
		name    string
		proxies *auth.Proxies
		remote  string
		headers map[string][]string
		want    string
	}{
		{"no proxies: the peer", nil, "198.51.100.7:5555", map[string][]string{"X-Forwarded-For": {"1.2.3.4"}}, "198.51.100.7"},
		{"untrusted peer: spoofed XFF ignored", trusted, "198.51.100.7:5555", map[string][]string{"X-Forwarded-For": {"1.2.3.4"}}, "198.51.100.7"},
		{"untrusted peer: spoofed Forwarded ignored", trusted, "198.51.100.7:5555", map[string][]string{"Forwarded": {"for=1.2.3.4"}}, "198.51.100.7"},
		{"trusted peer, no header: the peer", trusted, "127.0.0.1:5555", nil, "127.0.0.1"},
		{"trusted peer: the client it names", trusted, "127.0.0.1:5555", map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
		{"client's own XFF prefix is not believed", trusted, "127.0.0.1:5555", map[string][]string{"X-Forwarded-For": {"6.6.6.6, 203.0.113.9"}}, "203.0.113.9"},
		{"chain of trusted hops: right-most untrusted", trusted, "127.0.0.1:5555", map[string][]string{"X-Forwarded-For": {"6.6.6.6, 203.0.113.9, 10.1.2.3, 10.9.9.9"}}, "203.0.113.9"},
		{"chain over several header lines", trusted, "127.0.0.1:5555", map[string][]string{"X-Forwarded-For": {"6.6.6.6, 203.0.113.9", "10.1.2.3"}}, "203.0.113.9"},
		{"every hop trusted: the furthest", trusted, "127.0.0.1:5555", map[string][]string{"X-Forwarded-For": {"10.0.0.5, 10.1.2.3"}}, "10.0.0.5"},
		{"garbage behind a trusted hop: the last trusted", trusted, "127.0.0.1:5555", map[string][]string{"X-Forwarded-For": {"not-an-ip, 10.1.2.3"}}, "10.1.2.3"},
		{"garbage as the only hop: the peer", trusted, "127.0.0.1:5555", map[string][]string{"X-Forwarded-For": {"unknown"}}, "127.0.0.1"},
		{"IPv4-mapped hop", trusted, "127.0.0.1:5555", map[string][]string{"X-Forwarded-For": {"::ffff:203.0.113.9"}}, "203.0.113.9"},
		{"IPv6 hop with port", trusted, "[fd00::1]:443", map[string][]string{"X-Forwarded-For": {"[2001:db8::7]:4711"}}, "2001:db8::7"},
		{"Forwarded, RFC 7239", trusted, "127.0.0.1:5555", map[string][]string{"Forwarded": {`for=6.6.6.6, for="[2001:db8::7]:4711";proto=https, for=10.1.2.3`}}, "2001:db8::7"},
		{"Forwarded, obfuscated hop", trusted, "127.0.0.1:5555", map[string][]string{"Forwarded": {"for=_hidden, for=10.1.2.3"}}, "10.1.2.3"},
		{"XFF wins over Forwarded", trusted, "127.0.0.1:5555", map[string][]string{"X-Forwarded-For": {"203.0.113.9"}, "Forwarded": {"for=6.6.6.6"}}, "203.0.113.9"},
		{"peer without a port", trusted, "198.51.100.7", nil, "198.51.100.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			for k, vs := range tt.headers {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			if got := tt.proxies.ClientIP(r); got != tt.want {
				t.Errorf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

// A client can send any number of hops; only the last few are read.
func TestProxiesManyHops(t *testing.T) {
	p := auth.NewProxies([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.1:1"
	for range 10000 {
		r.Header.Add("X-Forwarded-For", "10.0.0.2")
	}
	r.Header.Add("X-Forwarded-For", "203.0.113.9")
	if got := p.ClientIP(r); got != "203.0.113.9" {
		t.Errorf("ClientIP = %q, want 203.0.113.9", got)
	}
}
