package auth

import (
	"net/http"
	"net/netip"
	"strings"
)

// Proxies finds a request's client address behind trusted reverse
// proxies. Sign-in limits per address, session records and the audit log
// all use it, so that they agree on who the client is.
//
// Only when the direct peer is a trusted proxy are the forwarding headers
// read: X-Forwarded-For, or if the request has none, Forwarded (RFC
// 7239). They are read from the right, the hop nearest vigil, skipping
// trusted proxies; the first other hop is the client. Hops further left
// were written by the client itself and could say anything. A peer that
// is not trusted is the client, whatever headers it sends.
//
// A nil *Proxies trusts no one: the client is the peer.
type Proxies struct {
	trusted []netip.Prefix
}

// NewProxies returns a resolver that trusts the proxies in prefixes; with
// none it is nil, which trusts no one.
func NewProxies(prefixes []netip.Prefix) *Proxies {
	if len(prefixes) == 0 {
		return nil
	}
	return &Proxies{trusted: prefixes}
}

// ClientIP returns the address of the client that sent r.
func (p *Proxies) ClientIP(r *http.Request) string {
	peer := HostOf(r.RemoteAddr)
	pa, err := netip.ParseAddr(peer)
	if err != nil || !p.trusts(pa) {
		return peer
	}
	hops := forwardedFor(r.Header)
	client := pa
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			// A trusted proxy passed on a hop it could not name
			// ("unknown", an obfuscated name, garbage): the nearest
			// address known is the last trusted one.
			return client.String()
		}
		client = a
		if !p.trusts(a) {
			break
		}
	}
	return client.String()
}

func (p *Proxies) trusts(a netip.Addr) bool {
	if p == nil {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, pr := range p.trusted {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// maxHops bounds the hops read from the headers: a client can send any
// number of them, and only the last few can matter.
const maxHops = 32

// forwardedFor returns the hops of X-Forwarded-For, or if there is none,
// the for= values of Forwarded, left to right, the last maxHops at most.
// Several header lines are one list, in order.
func forwardedFor(h http.Header) []string {
	var hops []string
	if xff := h.Values("X-Forwarded-For"); len(xff) > 0 {
		for _, line := range xff {
			for hop := range strings.SplitSeq(line, ",") {
				hops = append(hops, strings.TrimSpace(hop))
			}
		}
	} else {
		for _, line := range h.Values("Forwarded") {
			for elem := range strings.SplitSeq(line, ",") {
				hops = append(hops, forValue(elem))
			}
		}
	}
	if len(hops) > maxHops {
		hops = hops[len(hops)-maxHops:]
	}
	return hops
}

// forValue returns the for= parameter of one Forwarded element
// (`for=192.0.2.60;proto=https`), unquoted; "" if it has none.
func forValue(elem string) string {
	for pair := range strings.SplitSeq(elem, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if ok && strings.EqualFold(k, "for") {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}

// parseHop reads one hop: an address, optionally with a port
// ("192.0.2.1:4711", "[2001:db8::1]:4711") or in brackets.
func parseHop(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}
