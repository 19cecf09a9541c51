package intel

import (
	"net/netip"
	"strings"
)

// The match helpers append to out and return it, so that a miss costs no
// allocation. matched is the entity value reported in each Match.

func (s *snapshot) matchExact(out []Match, t uint8, key, matched, via string, now int64) []Match {
	if i, ok := s.exact.find(&s.recs, hashOf(t, key), t, key); ok && s.alive(i, now) {
		out = append(out, Match{Indicator: s.indicator(i), Matched: matched, Via: via})
	}
	return out
}

// matchIP matches an address exactly and against the most specific
// unexpired CIDR that contains it.
func (s *snapshot) matchIP(out []Match, ip, matched, viaExact, viaCIDR string, now int64) []Match {
	out = s.matchExact(out, tIP, ip, matched, viaExact, now)
	if s.pfx.Size() == 0 {
		return out
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return out
	}
	i, ok := s.pfx.Lookup(a)
	if !ok {
		return out
	}
	if !s.alive(i, now) {
		// The longest match has expired: walk out to a shorter one.
		ok = false
		for _, j := range s.pfx.Supernets(netip.PrefixFrom(a, a.BitLen())) {
			if s.alive(j, now) {
				i, ok = j, true
				break
			}
		}
	}
	if ok {
		out = append(out, Match{Indicator: s.indicator(i), Matched: matched, Via: viaCIDR})
	}
	return out
}

// matchCIDR matches a range exactly and against the most specific
// unexpired range strictly containing it.
func (s *snapshot) matchCIDR(out []Match, v string, now int64) []Match {
	p, err := netip.ParsePrefix(v)
	if err != nil {
		return out
	}
	for q, i := range s.pfx.Supernets(p) {
		if !s.alive(i, now) {
			continue
		}
		if q == p {
			out = append(out, Match{Indicator: s.indicator(i), Matched: v, Via: ViaExact})
			continue
		}
		out = append(out, Match{Indicator: s.indicator(i), Matched: v, Via: ViaCIDR})
		break
	}
	return out
}

// matchDomain matches a domain and each of its parents, never a single
// label (a TLD).
func (s *snapshot) matchDomain(out []Match, d, matched, viaSelf, viaParent string, now int64) []Match {
	via := viaSelf
	for {
		dot := strings.IndexByte(d, '.')
		if dot < 0 {
			return out // a single label: never matched
		}
		if i, ok := s.exact.find(&s.recs, hashOf(tDomain, d), tDomain, d); ok && s.alive(i, now) {
			out = append(out, Match{Indicator: s.indicator(i), Matched: matched, Via: via})
		}
		d, via = d[dot+1:], viaParent
	}
}

// isAddr reports whether a URL host is an address. The cheap test first
// spares most domains the error ParseAddr would allocate.
func isAddr(host string) bool {
	if host == "" {
		return false
	}
	if c := host[len(host)-1]; !('0' <= c && c <= '9') && strings.IndexByte(host, ':') < 0 {
		return false
	}
	_, err := netip.ParseAddr(host)
	return err == nil
}
