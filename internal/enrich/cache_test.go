package enrich

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

type fakeProvider struct {
	calls int
	err   error
}

func (f *fakeProvider) Name() string         { return "fake" }
func (f *fakeProvider) Supports(string) bool { return true }
func (f *fakeProvider) Quota() Quota         { return Quota{PerMinute: 4} }
func (f *fakeProvider) Enrich(_ context.Context, req Request) (Report, error) {
	f.calls++
	if f.err != nil {
		return Report{}, f.err
	}
	lvl := LevelSafe
	if req.Data == "unknown" {
		lvl = LevelInfo
	}
	return Report{Provider: "fake", Request: req, Taxonomies: []Taxonomy{{Level: lvl}}, Summary: fmt.Sprint(f.calls)}, nil
}

func TestCacheTTL(t *testing.T) {
	now := fixedNow
	clock := func() time.Time { return now }
	p := &fakeProvider{}
	c := NewCache(p, time.Hour, clock)
	ctx := context.Background()
	req := Request{"ip", "192.0.2.1"}
	r1, _ := c.Enrich(ctx, req)
	now = now.Add(59 * time.Minute)
	r2, _ := c.Enrich(ctx, req)
	if p.calls != 1 || r2.Summary != r1.Summary {
		t.Errorf("within TTL: %d calls", p.calls)
	}
	now = now.Add(time.Minute)
	if r3, _ := c.Enrich(ctx, req); p.calls != 2 || r3.Summary != "2" {
		t.Errorf("at TTL: %d calls", p.calls)
	}
	// Keyed by dataType and data.
	c.Enrich(ctx, Request{"domain", "192.0.2.1"})
	if p.calls != 3 {
		t.Errorf("dataType not in key: %d", p.calls)
	}
	// Not-found info reports are cached.
	c.Enrich(ctx, Request{"ip", "unknown"})
	c.Enrich(ctx, Request{"ip", "unknown"})
	if p.calls != 4 {
		t.Errorf("info not cached: %d", p.calls)
	}
	if c.(Quoted).Quota().PerMinute != 4 || c.Name() != "fake" {
		t.Error("quota or name not passed through")
	}
}

func TestCacheErrorsNotCached(t *testing.T) {
	p := &fakeProvider{err: errors.New("down")}
	c := NewCache(p, time.Hour, func() time.Time { return fixedNow })
	for range 3 {
		if _, err := c.Enrich(context.Background(), Request{"ip", "x"}); err == nil {
			t.Fatal("no error")
		}
	}
	if p.calls != 3 {
		t.Errorf("calls %d", p.calls)
	}
}

func TestCacheLRU(t *testing.T) {
	p := &fakeProvider{}
	c := NewCacheSize(p, time.Hour, 2, func() time.Time { return fixedNow })
	ctx := context.Background()
	a, b, d := Request{"ip", "a"}, Request{"ip", "b"}, Request{"ip", "d"}
	c.Enrich(ctx, a)
	c.Enrich(ctx, b)
	c.Enrich(ctx, a) // a most recent
	c.Enrich(ctx, d) // evicts b
	if _, ok := c.Cached(b); ok {
		t.Error("b not evicted")
	}
	if _, ok := c.Cached(a); !ok {
		t.Error("a evicted")
	}
	if h, m, n := c.Stats(); h != 1 || m != 3 || n != 2 {
		t.Errorf("stats %d %d %d", h, m, n)
	}
}
