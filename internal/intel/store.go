package intel

import (
	"net/netip"
	"slices"

	"github.com/gaissmai/bart"
)

// Type codes, kept in one byte per indicator.
const (
	tNone uint8 = iota
	tIP
	tCIDR
	tDomain
	tURL
	tMD5
	tSHA1
	tSHA256
	tEmail
	nTypes
)

var typeNames = [nTypes]string{"", IP, CIDR, Domain, URL, MD5, SHA1, SHA256, Email}

func typeCode(t string) uint8 {
	switch t {
	case IP:
		return tIP
	case CIDR:
		return tCIDR
	case Domain:
		return tDomain
	case URL:
		return tURL
	case MD5:
		return tMD5
	case SHA1:
		return tSHA1
	case SHA256:
		return tSHA256
	case Email:
		return tEmail
	}
	return tNone
}

// rec is an indicator stored compactly: 40 bytes plus its value, against
// about 150 for an Indicator. Feeds and tags are one id of an interned pair
// of interned sets, and times are integers (no location pointer).
type rec struct {
	value       string
	until       int64  // ValidUntil, Unix nanoseconds; 0: no expiry
	first, last uint32 // FirstSeen, LastSeen, Unix seconds; 0: zero time
	labels      uint32 // id in snapshot.labels of the feeds and tags sets
	typ         uint8  // tNone once removed: no index refers to it any more
	conf        uint8
}

// snapshot is one immutable generation of the indicator set. Readers load
// it from an atomic pointer and never lock; writers build a new one.
type snapshot struct {
	recs  recStore
	exact table               // every type but CIDR
	pfx   *bart.Table[uint32] // CIDR indicators → index in recs
	// pfxShared says, while a writer builds s from a clone, that pfx still
	// shares its nodes with the published snapshot: changes must then use
	// bart's persistent (path-copying) operations.
	pfxShared bool
	sets      [][]string  // interned sorted string sets; sets[0] is empty
	labels    [][2]uint32 // interned (feeds, tags) set-id pairs; labels[0] is empty
	live      int
}

func newSnapshot(in *interner, hint int) *snapshot {
	return &snapshot{
		exact: newTable(hint), pfx: new(bart.Table[uint32]),
		sets: in.sets, labels: in.labels,
	}
}

// clone copies s so that a writer can change the copy while readers use s.
// cidrs is how many CIDR changes will follow: a few are cheaper as
// path-copying operations than as a full copy of the prefix table.
func (s *snapshot) clone(extra, cidrs int) *snapshot {
	c := &snapshot{pfx: s.pfx, pfxShared: true, exact: s.exact.clone(extra), sets: s.sets, labels: s.labels, live: s.live}
	if cidrs > 256 {
		c.pfx, c.pfxShared = s.pfx.Clone(), false
	}
	c.recs = s.recs.clone()
	return c
}

// find returns the index of the indicator (t, v), v normalised.
func (s *snapshot) find(t uint8, v string) (uint32, bool) {
	switch {
	case t == tCIDR:
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return 0, false
		}
		return s.pfx.Get(p)
	case t == tNone || t >= nTypes:
		return 0, false
	}
	return s.exact.find(&s.recs, hashOf(t, v), t, v)
}

// put adds or merges one indicator whose value is normalised.
func (s *snapshot) put(in *interner, t uint8, ind *Indicator) {
	feeds, tags := canonSet(ind.Feeds), canonSet(ind.Tags)
	defer func() { s.sets, s.labels = in.sets, in.labels }()
	if i, ok := s.find(t, ind.Value); ok {
		r := s.recs.mut(i)
		l := in.labels[r.labels]
		if len(feeds) > 0 || len(tags) > 0 {
			r.labels = in.label(in.id(union(in.sets[l[0]], feeds)), in.id(union(in.sets[l[1]], tags)))
		}
		r.conf = max(r.conf, clampConf(ind.Confidence))
		if f := secs(ind.FirstSeen); f != 0 && (r.first == 0 || f < r.first) {
			r.first = f
		}
		r.last = max(r.last, secs(ind.LastSeen))
		if u := nanos(ind.ValidUntil); r.until != 0 && (u == 0 || u > r.until) {
			r.until = u
		}
		return
	}
	r := rec{
		value: ind.Value, typ: t, conf: clampConf(ind.Confidence),
		labels: in.label(in.id(feeds), in.id(tags)),
		first:  secs(ind.FirstSeen), last: secs(ind.LastSeen), until: nanos(ind.ValidUntil),
	}
	i := s.recs.add(r)
	if t == tCIDR {
		if p := netip.MustParsePrefix(ind.Value); s.pfxShared {
			s.pfx = s.pfx.InsertPersist(p, i)
		} else {
			s.pfx.Insert(p, i)
		}
	} else {
		s.exact.insert(hashOf(t, ind.Value), i)
	}
	s.live++
}

// remove drops the indicator (t, v), v normalised.
func (s *snapshot) remove(t uint8, v string) {
	i, ok := s.find(t, v)
	if !ok {
		return
	}
	if t == tCIDR {
		if p := netip.MustParsePrefix(v); s.pfxShared {
			s.pfx = s.pfx.DeletePersist(p)
		} else {
			s.pfx.Delete(p)
		}
	} else {
		s.exact.delete(hashOf(t, v), i)
	}
	*s.recs.mut(i) = rec{} // typ tNone; lets the string go
	s.live--
}

// indicator expands a stored record. The slices are copies: callers may
// keep or change them.
func (s *snapshot) indicator(i uint32) Indicator {
	r := s.recs.at(i)
	l := s.labels[r.labels]
	return Indicator{
		Type: typeNames[r.typ], Value: r.value,
		Feeds: slices.Clone(s.sets[l[0]]), Tags: slices.Clone(s.sets[l[1]]),
		Confidence: int(r.conf),
		FirstSeen:  fromSecs(r.first), LastSeen: fromSecs(r.last), ValidUntil: fromNanos(r.until),
	}
}

func (s *snapshot) alive(i uint32, now int64) bool {
	u := s.recs.at(i).until
	return u == 0 || u >= now
}
