package enrich

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// DefaultCacheSize bounds a cache's entries.
const DefaultCacheSize = 10000

// Cache is a TTL and LRU cache in front of a provider. Only reports are
// cached, "not found" info reports included (asking again within the TTL
// would spend quota on the same answer); errors never are, so a 429 or an
// outage is retried. A cached report keeps its original At, which says how
// old the knowledge is.
type Cache struct {
	p    Provider
	ttl  time.Duration
	size int
	now  func() time.Time

	mu    sync.Mutex
	lru   *list.List // front: most recently used
	items map[cacheKey]*list.Element
	hits  uint64
	miss  uint64
}

type cacheKey struct{ provider, dataType, data string }

type cacheEntry struct {
	key     cacheKey
	rep     Report
	expires time.Time
}

// NewCache wraps p with a cache of DefaultCacheSize entries living ttl.
func NewCache(p Provider, ttl time.Duration, now func() time.Time) Provider {
	return NewCacheSize(p, ttl, DefaultCacheSize, now)
}

// NewCacheSize is NewCache with a chosen bound (≤ 0: DefaultCacheSize).
func NewCacheSize(p Provider, ttl time.Duration, size int, now func() time.Time) *Cache {
	if size <= 0 {
		size = DefaultCacheSize
	}
	return &Cache{p: p, ttl: ttl, size: size, now: nowFunc(now), lru: list.New(), items: map[cacheKey]*list.Element{}}
}

// Name implements Provider.
func (c *Cache) Name() string { return c.p.Name() }

// Supports implements Provider.
func (c *Cache) Supports(dataType string) bool { return c.p.Supports(dataType) }

// Quota passes the wrapped provider's quota through (zero when it has none).
func (c *Cache) Quota() Quota {
	if q, ok := c.p.(Quoted); ok {
		return q.Quota()
	}
	return Quota{}
}

// Unwrap is the cached provider.
func (c *Cache) Unwrap() Provider { return c.p }

// Stats returns hits, misses and the current number of entries.
func (c *Cache) Stats() (hits, misses uint64, entries int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.miss, c.lru.Len()
}

// Cached returns a live cached report without asking the provider.
func (c *Cache) Cached(req Request) (Report, bool) {
	k := cacheKey{c.p.Name(), req.DataType, req.Data}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return Report{}, false
	}
	e := el.Value.(*cacheEntry)
	if !c.now().Before(e.expires) {
		c.lru.Remove(el)
		delete(c.items, k)
		return Report{}, false
	}
	c.lru.MoveToFront(el)
	return e.rep, true
}

// Enrich implements Provider.
func (c *Cache) Enrich(ctx context.Context, req Request) (Report, error) {
	if rep, ok := c.Cached(req); ok {
		c.mu.Lock()
		c.hits++
		c.mu.Unlock()
		return rep, nil
	}
	c.mu.Lock()
	c.miss++
	c.mu.Unlock()
	rep, err := c.p.Enrich(ctx, req)
	if err != nil || c.ttl <= 0 {
		return rep, err
	}
	k := cacheKey{c.p.Name(), req.DataType, req.Data}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := &cacheEntry{key: k, rep: rep, expires: c.now().Add(c.ttl)}
	if el, ok := c.items[k]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return rep, nil
	}
	c.items[k] = c.lru.PushFront(e)
	for c.lru.Len() > c.size {
		last := c.lru.Back()
		c.lru.Remove(last)
		delete(c.items, last.Value.(*cacheEntry).key)
	}
	return rep, nil
}
