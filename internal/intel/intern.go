package intel

import (
	"slices"
	"strings"
)

// interner gives an id to each distinct sorted set of strings and to each
// (feeds, tags) pair. It belongs to the writer. Its slices are only ever
// appended to: a snapshot holds shorter headers over the same arrays, and
// readers never look past them.
type interner struct {
	ids      map[string]uint32
	sets     [][]string
	labelIDs map[[2]uint32]uint32
	labels   [][2]uint32
}

func newInterner() *interner {
	return &interner{
		ids: map[string]uint32{"": 0}, sets: [][]string{nil},
		labelIDs: map[[2]uint32]uint32{{}: 0}, labels: [][2]uint32{{}},
	}
}

// id interns a set given as a sorted, deduplicated slice.
func (in *interner) id(set []string) uint32 {
	if len(set) == 0 {
		return 0
	}
	var key string
	if len(set) == 1 {
		key = set[0]
	} else {
		key = strings.Join(set, "\x00")
	}
	if id, ok := in.ids[key]; ok {
		return id
	}
	id := uint32(len(in.sets))
	in.ids[strings.Clone(key)] = id
	in.sets = append(in.sets, slices.Clone(set))
	return id
}

// label interns a (feeds, tags) pair of set ids.
func (in *interner) label(feeds, tags uint32) uint32 {
	k := [2]uint32{feeds, tags}
	if id, ok := in.labelIDs[k]; ok {
		return id
	}
	id := uint32(len(in.labels))
	in.labelIDs[k] = id
	in.labels = append(in.labels, k)
	return id
}

// canonSet sorts, deduplicates and drops empty strings, reusing s.
func canonSet(s []string) []string {
	if len(s) <= 1 {
		if len(s) == 1 && s[0] == "" {
			return nil
		}
		return s
	}
	s = slices.Clone(s)
	slices.Sort(s)
	s = slices.Compact(s)
	if s[0] == "" {
		s = s[1:]
	}
	return s
}

func union(a, b []string) []string {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	return canonSet(append(slices.Clone(a), b...))
}
