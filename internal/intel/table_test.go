package intel

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestTableAgainstMap checks inserts, finds and backward-shift deletes
// against a map, on a table small enough for long probe runs and wrap-around.
func TestTableAgainstMap(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var recs recStore
	tb := newTable(0)
	want := map[string]uint32{}
	for step := 0; step < 20000; step++ {
		v := strconv.Itoa(r.IntN(300))
		h := hashOf(tDomain, v)
		i, ok := tb.find(&recs, h, tDomain, v)
		j, wok := want[v]
		if ok != wok || ok && i != j {
			t.Fatalf("step %d: find(%s) = %d, %v; want %d, %v", step, v, i, ok, j, wok)
		}
		switch {
		case !ok:
			idx := recs.add(rec{value: v, typ: tDomain})
			tb.insert(h, idx)
			want[v] = idx
		case r.IntN(2) == 0:
			tb.delete(h, i)
			*recs.mut(i) = rec{}
			delete(want, v)
		}
		if step%1000 == 0 {
			c := tb.clone(r.IntN(500))
			tb = c
		}
		if tb.n != len(want) {
			t.Fatalf("step %d: n = %d, want %d", step, tb.n, len(want))
		}
	}
}
