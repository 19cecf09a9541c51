package intel

import (
	"hash/maphash"
	"math/bits"
)

// table is an open-addressing hash set of indices into snapshot.recs, for
// every type but CIDR. A slot is 8 bytes (a 32-bit hash and the index + 1;
// 0 is empty) instead of the ~25 a map[string]uint32 entry costs, and the
// stored hash rejects almost every wrong slot without touching the record.
// Linear probing at a load of at most 1/2, with backward-shift deletion so
// that no tombstones build up.
//
// A bit filter in front (8 bits per slot pair, so 1 MB for a million
// values, small enough to stay in cache) answers most misses, which are
// 90% of lookups, without the cache miss a probe of the large slot array
// costs. Deletes leave their bits set: a few more probes until the next
// growth or rebuild.
type table struct {
	slots  []uint64
	filter []uint64
	shift  uint // 64 - log2(filter bits)
	n      int
}

var seed = maphash.MakeSeed()

// hashOf hashes a value together with its type code. The high half of the
// 64-bit product is kept: it mixes every input bit.
func hashOf(t uint8, v string) uint32 {
	h := (maphash.String(seed, v) ^ uint64(t)) * 0x9E3779B97F4A7C15
	return uint32(h >> 32)
}

func newTable(n int) table {
	size := 16
	if n > 4 {
		size = 1 << bits.Len(uint(2*n-1)) // the power of two ≥ 2n
	}
	t := table{}
	t.alloc(size)
	return t
}

// alloc gives t empty slots and filter for size slots.
func (t *table) alloc(size int) {
	t.slots = make([]uint64, size)
	fbits := 4 * size // 8 bits per value at the highest load
	t.filter = make([]uint64, fbits/64)
	t.shift = uint(64 - bits.Len(uint(fbits-1)))
}

func (t *table) clone(extra int) table {
	if (t.n+extra)*2 > len(t.slots) {
		c := newTable(t.n + extra)
		c.rehash(t.slots)
		c.n = t.n
		return c
	}
	return table{
		slots: append([]uint64(nil), t.slots...), filter: append([]uint64(nil), t.filter...),
		shift: t.shift, n: t.n,
	}
}

// bit returns the filter word and bit of hash h: the top bits of h times an
// odd constant, so that they do not repeat the low bits that pick a slot.
func (t *table) bit(h uint32) (int, uint64) {
	b := (uint64(h) * 0x9E3779B97F4A7C15) >> t.shift
	return int(b >> 6), 1 << (b & 63)
}

// find returns the index of the record of type typ and value v.
func (t *table) find(recs *recStore, h uint32, typ uint8, v string) (uint32, bool) {
	if w, b := t.bit(h); t.filter[w]&b == 0 {
		return 0, false
	}
	mask := uint32(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == 0 {
			return 0, false
		}
		if uint32(s>>32) == h {
			idx := uint32(s) - 1
			if r := recs.at(idx); r.typ == typ && r.value == v {
				return idx, true
			}
		}
	}
}

// insert adds an index known not to be present.
func (t *table) insert(h uint32, idx uint32) {
	if (t.n+1)*2 > len(t.slots) {
		old := t.slots
		t.alloc(2 * len(old))
		t.rehash(old)
	}
	t.place(uint64(h)<<32 | uint64(idx+1))
	t.n++
}

func (t *table) place(s uint64) {
	w, b := t.bit(uint32(s >> 32))
	t.filter[w] |= b
	mask := uint32(len(t.slots) - 1)
	i := uint32(s>>32) & mask
	for t.slots[i] != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = s
}

func (t *table) rehash(old []uint64) {
	for _, s := range old {
		if s != 0 {
			t.place(s)
		}
	}
}

// delete removes index idx, whose hash is h, shifting back the slots of
// the same probe run so that lookups never stop early.
func (t *table) delete(h uint32, idx uint32) {
	mask := uint32(len(t.slots) - 1)
	want := uint64(h)<<32 | uint64(idx+1)
	i := h & mask
	for t.slots[i] != want {
		if t.slots[i] == 0 {
			return
		}
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; t.slots[j] != 0; j = (j + 1) & mask {
		home := uint32(t.slots[j]>>32) & mask
		// Move slot j into the hole at i unless its home lies cyclically
		// in (i, j]: then it is already as close to home as it may be.
		if (j-home)&mask >= (j-i)&mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = 0
	t.n--
}
