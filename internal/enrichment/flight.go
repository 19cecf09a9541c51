package enrichment

import (
	"sync"

	"github.com/vigil-soc/vigil/internal/enrich"
)

// flights collapses concurrent lookups of one observable by one provider
// into one call (single flight): the report cache is the store, which a
// second delivery cannot see until the first has saved, so without this
// two items with the same IP arriving together would spend two calls of
// a 4-a-minute quota.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	done chan struct{}
	rep  enrich.Report
	err  error
}

// do runs fn once for concurrent callers with the same key; shared says
// whether this caller got another's answer.
func (f *flights) do(key string, fn func() (enrich.Report, error)) (rep enrich.Report, shared bool, err error) {
	f.mu.Lock()
	if f.m == nil {
		f.m = map[string]*flight{}
	}
	if c, ok := f.m[key]; ok {
		f.mu.Unlock()
		<-c.done
		return c.rep, true, c.err
	}
	c := &flight{done: make(chan struct{})}
	f.m[key] = c
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.m, key)
		f.mu.Unlock()
		close(c.done)
	}()
	c.rep, c.err = fn()
	return c.rep, false, c.err
}
