package intel

// pageBits sets the page size of recStore: 4096 records, 160 KB.
const (
	pageBits = 12
	pageSize = 1 << pageBits
)

// recStore holds the records in fixed-size pages so that a writer copies
// only the pages it changes (copy-on-write) instead of the whole store:
// an incremental Add of a thousand indicators into a million copies a few
// pages, not 40 MB.
type recStore struct {
	pages []*[pageSize]rec
	n     int
	owned map[int]bool // pages this writer has copied; nil in a published snapshot
}

func (rs *recStore) at(i uint32) *rec { return &rs.pages[i>>pageBits][i&(pageSize-1)] }

func (rs *recStore) len() int { return rs.n }

// clone shares every page with rs; mut and add copy them on first write.
func (rs *recStore) clone() recStore {
	return recStore{pages: append([]*[pageSize]rec(nil), rs.pages...), n: rs.n, owned: map[int]bool{}}
}

// mut returns record i for writing, copying its page first if it is shared.
func (rs *recStore) mut(i uint32) *rec {
	p := int(i >> pageBits)
	if rs.owned != nil && !rs.owned[p] {
		cp := *rs.pages[p]
		rs.pages[p] = &cp
		rs.owned[p] = true
	}
	return &rs.pages[p][i&(pageSize-1)]
}

// add appends r and returns its index.
func (rs *recStore) add(r rec) uint32 {
	i := uint32(rs.n)
	if rs.n&(pageSize-1) == 0 {
		rs.pages = append(rs.pages, new([pageSize]rec))
		if rs.owned != nil {
			rs.owned[len(rs.pages)-1] = true
		}
	}
	*rs.mut(i) = r
	rs.n++
	return i
}

// seal ends a writer's changes: the snapshot may now be published.
func (rs *recStore) seal() { rs.owned = nil }
