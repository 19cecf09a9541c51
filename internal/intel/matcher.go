package intel

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Matcher answers "is this entity a known indicator?" for many concurrent
// readers while feeds load. Writers (Load, Add, Remove, Prune) build a new
// snapshot under a mutex and swap it in atomically: readers never block and
// always see one whole generation.
type Matcher struct {
	cur atomic.Pointer[snapshot]

	mu sync.Mutex // serialises writers
	in *interner  // feed and tag sets of the current generation line
}

// NewMatcher returns an empty matcher.
func NewMatcher() *Matcher {
	m := &Matcher{in: newInterner()}
	m.cur.Store(newSnapshot(m.in, 0))
	return m
}

// Load replaces the whole set, dropping indicators whose ValidUntil is
// before now and those whose type or value is invalid, and merging
// duplicates (see the package comment).
func (m *Matcher) Load(inds []Indicator, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.in = newInterner() // forget sets only older generations use
	s := newSnapshot(m.in, exactCount(inds))
	s.putAll(m.in, inds, now)
	s.recs.seal()
	m.cur.Store(s)
}

// Add merges indicators into a copy of the current set and swaps it in,
// for incremental feeds. Invalid and expired indicators are skipped.
func (m *Matcher) Add(inds []Indicator, now time.Time) {
	if len(inds) == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cidrs := 0
	for i := range inds {
		if inds[i].Type == CIDR {
			cidrs++
		}
	}
	s := m.cur.Load().clone(len(inds), cidrs)
	s.putAll(m.in, inds, now)
	s.recs.seal()
	m.cur.Store(s)
}

// exactCount counts the indicators that go in the hash table, to size it.
func exactCount(inds []Indicator) int {
	n := 0
	for i := range inds {
		if t := typeCode(inds[i].Type); t != tNone && t != tCIDR {
			n++
		}
	}
	return n
}

func (s *snapshot) putAll(in *interner, inds []Indicator, now time.Time) {
	nowN := now.UnixNano()
	for i := range inds {
		ind := inds[i] // a copy: Value is replaced by its normal form
		t := typeCode(ind.Type)
		if t == tNone {
			continue
		}
		if u := nanos(ind.ValidUntil); u != 0 && u < nowN {
			continue
		}
		v, err := Normalize(ind.Type, ind.Value)
		if err != nil {
			continue
		}
		ind.Value = v
		s.put(in, t, &ind)
	}
}

// Remove drops indicators by type and value (expiry, allow-listing). The
// value is normalised first; unknown keys are ignored.
func (m *Matcher) Remove(keys ...Key) {
	if len(keys) == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cidrs := 0
	for _, k := range keys {
		if k.Type == CIDR {
			cidrs++
		}
	}
	s := m.cur.Load().clone(0, cidrs)
	for _, k := range keys {
		t := typeCode(k.Type)
		if t == tNone {
			continue
		}
		v, err := Normalize(k.Type, k.Value)
		if err != nil {
			continue
		}
		s.remove(t, v)
	}
	s.recs.seal()
	m.cur.Store(s)
}

// Prune rebuilds the set without the indicators expired at now and without
// the room removed ones held, and returns how many expired ones it dropped.
// Lookup already ignores expired indicators: Prune only frees memory.
func (m *Matcher) Prune(now time.Time) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.cur.Load()
	in := newInterner()
	s := newSnapshot(in, old.exact.n)
	nowN, dropped := now.UnixNano(), 0
	for i := range uint32(old.recs.len()) {
		typ := old.recs.at(i).typ
		if typ == tNone {
			continue
		}
		if !old.alive(i, nowN) {
			dropped++
			continue
		}
		ind := old.indicator(i)
		s.put(in, typ, &ind)
	}
	s.recs.seal()
	m.in = in
	m.cur.Store(s)
	return dropped
}

// Len returns the number of indicators held, expired ones included until
// the next Load or Prune.
func (m *Matcher) Len() int { return m.cur.Load().live }

// Get returns the indicator (typ, value), value normalised first, whether
// or not it has expired.
func (m *Matcher) Get(typ, value string) (Indicator, bool) {
	v, err := Normalize(typ, value)
	if err != nil {
		return Indicator{}, false
	}
	s := m.cur.Load()
	i, ok := s.find(typeCode(typ), v)
	if !ok {
		return Indicator{}, false
	}
	return s.indicator(i), true
}

// All calls yield for each indicator held until yield returns false.
func (m *Matcher) All(yield func(Indicator) bool) {
	s := m.cur.Load()
	for i := range uint32(s.recs.len()) {
		if s.recs.at(i).typ != tNone && !yield(s.indicator(i)) {
			return
		}
	}
}

// Lookup matches one entity. typ is the type the entity says it has, or ""
// to Guess it; the value is normalised first (cheaply when it already is).
// Expired indicators never match. It returns nil when nothing matches or
// the value is not valid for its type.
func (m *Matcher) Lookup(typ, value string, now time.Time) []Match {
	if typ == "" {
		var ok bool
		if typ, ok = Guess(value); !ok {
			return nil
		}
	}
	v, err := Normalize(typ, value)
	if err != nil {
		return nil
	}
	return m.LookupNormalized(typ, v, now)
}

// LookupNormalized is Lookup for a value the caller has already normalised
// with Normalize(typ, ·); typ must be given. A value that is not normalised
// simply fails to match.
func (m *Matcher) LookupNormalized(typ, value string, now time.Time) []Match {
	s := m.cur.Load()
	nowN := now.UnixNano()
	var out []Match
	switch t := typeCode(typ); t {
	case tIP:
		out = s.matchIP(out, value, value, ViaExact, ViaCIDR, nowN)
	case tCIDR:
		out = s.matchCIDR(out, value, nowN)
	case tDomain:
		out = s.matchDomain(out, value, value, ViaExact, ViaParentDomain, nowN)
	case tURL:
		out = s.matchExact(out, t, value, value, ViaExact, nowN)
		if host := hostOf(value); host != "" {
			if isAddr(host) {
				out = s.matchIP(out, host, value, ViaURLHost, ViaURLHost, nowN)
			} else {
				out = s.matchDomain(out, host, value, ViaURLHost, ViaURLHost, nowN)
			}
		}
	case tMD5, tSHA1, tSHA256:
		out = s.matchExact(out, t, value, value, ViaExact, nowN)
	case tEmail:
		out = s.matchExact(out, t, value, value, ViaExact, nowN)
		if at := strings.LastIndexByte(value, '@'); at >= 0 {
			out = s.matchDomain(out, value[at+1:], value, ViaEmailDomain, ViaEmailDomain, nowN)
		}
	}
	return out
}
