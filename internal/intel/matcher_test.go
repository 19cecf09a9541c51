package intel

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func ind(typ, v, feed string, conf int) Indicator {
	return Indicator{Type: typ, Value: v, Feeds: []string{feed}, Confidence: conf}
}

// got renders matches as "type:value via" for compact comparisons.
func got(ms []Match) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Indicator.Type+":"+m.Indicator.Value+" "+m.Via)
	}
	return out
}

func TestLookup(t *testing.T) {
	m := NewMatcher()
	m.Load([]Indicator{
		ind(IP, "1.2.3.4", "otx", 50),
		ind(IP, "2001:db8::1", "otx", 50),
		ind(CIDR, "10.0.0.0/8", "misp", 40),
		ind(CIDR, "10.1.0.0/16", "misp", 60),
		ind(CIDR, "10.1.2.0/24", "misp", 70),
		ind(CIDR, "2001:db8:ff::/48", "misp", 70),
		ind(Domain, "evil.com", "otx", 80),
		ind(Domain, "b.evil.com", "otx", 80),
		ind(Domain, "xn--bcher-kva.example", "otx", 80),
		ind(URL, "http://evil.com/x", "otx", 90),
		ind(URL, "http://good.org/dl", "otx", 90),
		ind(MD5, "d41d8cd98f00b204e9800998ecf8427e", "vt", 90),
		ind(SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "vt", 90),
		ind(Email, "boss@phish.net", "misp", 30),
		ind(Domain, "phish.net", "misp", 30),
		// a TLD can be loaded (a domain needs two labels, so it is skipped)
		ind(Domain, "com", "bad", 100),
	}, t0)
	if m.Len() != 15 {
		t.Fatalf("Len = %d, want 15", m.Len())
	}
	tests := []struct {
		typ, v string
		want   []string
	}{
		{IP, "1.2.3.4", []string{"ip:1.2.3.4 exact"}},
		{IP, "::ffff:1.2.3.4", []string{"ip:1.2.3.4 exact"}},
		{IP, "1.2.3.5", nil},
		{IP, "10.1.2.3", []string{"cidr:10.1.2.0/24 cidr"}},
		{IP, "10.1.3.3", []string{"cidr:10.1.0.0/16 cidr"}},
		{IP, "10.9.9.9", []string{"cidr:10.0.0.0/8 cidr"}},
		{IP, "2001:DB8::1", []string{"ip:2001:db8::1 exact"}},
		{IP, "2001:db8:ff::5", []string{"cidr:2001:db8:ff::/48 cidr"}},
		{IP, "2001:db8:fe::5", nil},
		{CIDR, "10.1.2.0/24", []string{"cidr:10.1.2.0/24 exact", "cidr:10.1.0.0/16 cidr"}},
		{CIDR, "10.1.2.128/25", []string{"cidr:10.1.2.0/24 cidr"}},
		{Domain, "evil.com", []string{"domain:evil.com exact"}},
		{Domain, "A.B.Evil.COM.", []string{"domain:b.evil.com parent-domain", "domain:evil.com parent-domain"}},
		{Domain, "notevil.com", nil},
		{Domain, "x.bücher.example", []string{"domain:xn--bcher-kva.example parent-domain"}},
		{Domain, "example.com", nil}, // never the TLD "com"
		{URL, "HTTP://EVIL.com:80/x#frag", []string{"url:http://evil.com/x exact", "domain:evil.com url-host"}},
		{URL, "https://cdn.evil.com/y", []string{"domain:evil.com url-host"}},
		{URL, "http://1.2.3.4/a", []string{"ip:1.2.3.4 url-host"}},
		{URL, "http://[2001:db8:ff::1]/a", []string{"cidr:2001:db8:ff::/48 url-host"}},
		{URL, "http://good.org/dl", []string{"url:http://good.org/dl exact"}},
		{URL, "http://good.org/other", nil},
		{MD5, "D41D8CD98F00B204E9800998ECF8427E", []string{"md5:d41d8cd98f00b204e9800998ecf8427e exact"}},
		{SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709", nil},
		{Email, "boss@phish.net", []string{"email:boss@phish.net exact", "domain:phish.net email-domain"}},
		{Email, "other@mail.phish.net", []string{"domain:phish.net email-domain"}},
		{"", "evil.com", []string{"domain:evil.com exact"}},
		{"", "10.1.2.3", []string{"cidr:10.1.2.0/24 cidr"}},
		{"", "not a value", nil},
		{IP, "not an ip", nil},
		{"hostname", "evil.com", nil},
	}
	for _, tt := range tests {
		ms := m.Lookup(tt.typ, tt.v, t0)
		if g := got(ms); !slices.Equal(g, tt.want) {
			t.Errorf("Lookup(%q, %q) = %q, want %q", tt.typ, tt.v, g, tt.want)
		}
		for _, mm := range ms {
			want, _ := Normalize(tt.typ, tt.v)
			if tt.typ == "" {
				typ, _ := Guess(tt.v)
				want, _ = Normalize(typ, tt.v)
			}
			if mm.Matched != want {
				t.Errorf("Lookup(%q, %q): Matched %q, want %q", tt.typ, tt.v, mm.Matched, want)
			}
		}
	}
}

func TestLookupExpiry(t *testing.T) {
	m := NewMatcher()
	exp := func(i Indicator, until time.Time) Indicator { i.ValidUntil = until; return i }
	m.Load([]Indicator{
		exp(ind(IP, "1.1.1.1", "f", 1), t0.Add(-time.Second)), // dropped by Load
		exp(ind(IP, "2.2.2.2", "f", 1), t0.Add(time.Hour)),
		exp(ind(CIDR, "10.0.0.0/8", "f", 1), t0.Add(3*time.Hour)),
		exp(ind(CIDR, "10.1.0.0/16", "f", 1), t0.Add(time.Hour)),
		exp(ind(Domain, "evil.com", "f", 1), t0.Add(time.Hour)),
		ind(Domain, "forever.com", "f", 1),
	}, t0)
	if m.Len() != 5 {
		t.Fatalf("Len = %d, want 5", m.Len())
	}
	later := t0.Add(2 * time.Hour)
	for _, tt := range []struct {
		typ, v string
		at     time.Time
		want   []string
	}{
		{IP, "1.1.1.1", t0, nil},
		{IP, "2.2.2.2", t0.Add(time.Hour), []string{"ip:2.2.2.2 exact"}}, // ValidUntil itself is still valid
		{IP, "2.2.2.2", later, nil},
		{IP, "10.1.1.1", t0, []string{"cidr:10.1.0.0/16 cidr"}},
		{IP, "10.1.1.1", later, []string{"cidr:10.0.0.0/8 cidr"}}, // falls back to the shorter prefix
		{IP, "10.1.1.1", t0.Add(4 * time.Hour), nil},
		{Domain, "a.evil.com", later, nil},
		{Domain, "a.forever.com", later.Add(1000 * time.Hour), []string{"domain:forever.com parent-domain"}},
	} {
		if g := got(m.Lookup(tt.typ, tt.v, tt.at)); !slices.Equal(g, tt.want) {
			t.Errorf("Lookup(%q, %q) at %v = %q, want %q", tt.typ, tt.v, tt.at, g, tt.want)
		}
	}
	if n := m.Prune(later); n != 3 {
		t.Errorf("Prune dropped %d, want 3", n)
	}
	if m.Len() != 2 {
		t.Errorf("Len after Prune = %d, want 2", m.Len())
	}
	if g := got(m.Lookup(IP, "10.1.1.1", later)); !slices.Equal(g, []string{"cidr:10.0.0.0/8 cidr"}) {
		t.Errorf("after Prune: %q", g)
	}
}

func TestAddMergesAndRemove(t *testing.T) {
	m := NewMatcher()
	first := Indicator{Type: Domain, Value: "Evil.com", Feeds: []string{"otx"}, Confidence: 40,
		Tags: []string{"c2"}, FirstSeen: t0, LastSeen: t0, ValidUntil: t0.Add(time.Hour)}
	m.Load([]Indicator{first, ind(IP, "1.2.3.4", "otx", 10)}, t0)
	second := Indicator{Type: Domain, Value: "evil.com.", Feeds: []string{"misp", "otx"}, Confidence: 90,
		Tags: []string{"apt", "c2"}, FirstSeen: t0.Add(-time.Hour), LastSeen: t0.Add(time.Hour), ValidUntil: t0.Add(48 * time.Hour)}
	m.Add([]Indicator{second, ind(CIDR, "10.0.0.0/8", "misp", 20)}, t0)
	if m.Len() != 3 {
		t.Fatalf("Len = %d, want 3", m.Len())
	}
	got, ok := m.Get(Domain, "EVIL.COM")
	if !ok {
		t.Fatal("Get evil.com: not found")
	}
	want := Indicator{Type: Domain, Value: "evil.com", Feeds: []string{"misp", "otx"}, Confidence: 90,
		Tags: []string{"apt", "c2"}, FirstSeen: t0.Add(-time.Hour), LastSeen: t0.Add(time.Hour), ValidUntil: t0.Add(48 * time.Hour)}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("merged = %+v\nwant     %+v", got, want)
	}
	// A lower confidence and no expiry: confidence stays, expiry goes.
	m.Add([]Indicator{{Type: Domain, Value: "evil.com", Feeds: []string{"csv"}, Confidence: 5}}, t0)
	got, _ = m.Get(Domain, "evil.com")
	if got.Confidence != 90 || !got.ValidUntil.IsZero() || !slices.Equal(got.Feeds, []string{"csv", "misp", "otx"}) {
		t.Errorf("second merge = %+v", got)
	}
	// Returned slices are copies.
	got.Feeds[0] = "changed"
	if again, _ := m.Get(Domain, "evil.com"); again.Feeds[0] != "csv" {
		t.Error("Get returned a shared slice")
	}
	if ms := m.Lookup(IP, "10.2.3.4", t0); len(ms) != 1 {
		t.Errorf("added CIDR: %v", ms)
	}

	m.Remove(Key{Domain, "EVIL.com."}, Key{CIDR, "10.0.0.0/8"}, Key{URL, "http://absent/"}, Key{"bogus", "x"})
	if m.Len() != 1 {
		t.Errorf("Len after Remove = %d, want 1", m.Len())
	}
	if ms := m.Lookup(Domain, "a.evil.com", t0); ms != nil {
		t.Errorf("removed domain still matches: %v", ms)
	}
	if ms := m.Lookup(IP, "10.2.3.4", t0); ms != nil {
		t.Errorf("removed CIDR still matches: %v", ms)
	}
	if _, ok := m.Get(Domain, "evil.com"); ok {
		t.Error("Get finds a removed indicator")
	}
	// Re-adding after Remove works.
	m.Add([]Indicator{ind(Domain, "evil.com", "otx", 1)}, t0)
	if ms := m.Lookup(Domain, "evil.com", t0); len(ms) != 1 || ms[0].Indicator.Confidence != 1 {
		t.Errorf("re-added: %v", ms)
	}
	n := 0
	m.All(func(Indicator) bool { n++; return true })
	if n != 2 {
		t.Errorf("All yielded %d, want 2", n)
	}
}

func TestLoadReplaces(t *testing.T) {
	m := NewMatcher()
	m.Load([]Indicator{ind(IP, "1.2.3.4", "a", 1)}, t0)
	m.Load([]Indicator{ind(IP, "5.6.7.8", "b", 1), ind(IP, "5.6.7.8", "c", 7), {Type: IP, Value: "bad"}}, t0)
	if m.Len() != 1 || m.Lookup(IP, "1.2.3.4", t0) != nil {
		t.Fatalf("Load did not replace: Len %d", m.Len())
	}
	ms := m.Lookup(IP, "5.6.7.8", t0)
	if len(ms) != 1 || !slices.Equal(ms[0].Indicator.Feeds, []string{"b", "c"}) || ms[0].Indicator.Confidence != 7 {
		t.Errorf("duplicates in one Load not merged: %+v", ms)
	}
}

func TestLookupMissDoesNotAllocate(t *testing.T) {
	m := NewMatcher()
	m.Load([]Indicator{ind(IP, "1.2.3.4", "a", 1), ind(CIDR, "10.0.0.0/8", "a", 1), ind(Domain, "evil.com", "a", 1)}, t0)
	for _, tt := range []struct{ typ, v string }{{IP, "9.9.9.9"}, {Domain, "a.b.good.com"}, {URL, "http://a.good.com/x"}} {
		if n := testing.AllocsPerRun(100, func() { m.LookupNormalized(tt.typ, tt.v, t0) }); n != 0 {
			t.Errorf("LookupNormalized(%s, %s): %v allocations on a miss", tt.typ, tt.v, n)
		}
	}
}

// TestConcurrentReadersAndWriters runs under -race: readers never block
// and always see a consistent generation while Load, Add and Remove swap.
func TestConcurrentReadersAndWriters(t *testing.T) {
	m := NewMatcher()
	base := []Indicator{ind(Domain, "always.com", "a", 1), ind(CIDR, "10.0.0.0/8", "a", 1)}
	m.Load(base, t0)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if ms := m.Lookup(Domain, "x.always.com", t0); len(ms) != 1 {
					t.Errorf("reader saw %v", ms)
					return
				}
				if ms := m.Lookup(IP, "10.2.3.4", t0); len(ms) != 1 {
					t.Errorf("reader saw %v", ms)
					return
				}
				m.Lookup(IP, "1.1.1.1", t0)
				_ = m.Len()
			}
		}()
	}
	for i := 0; i < 200; i++ {
		v := fmt.Sprintf("h%d.evil.com", i)
		m.Add([]Indicator{ind(Domain, v, "f", i%100), ind(IP, fmt.Sprintf("1.1.%d.%d", i/256, i%256), "f", 1)}, t0)
		if i%3 == 0 {
			m.Remove(Key{Domain, v})
		}
		if i%50 == 0 {
			m.Load(base, t0)
		}
		if i%70 == 0 {
			m.Prune(t0)
		}
	}
	close(stop)
	wg.Wait()
}

// TestAddManyCIDRs takes the path that copies the whole prefix table
// rather than path-copying each insert.
func TestAddManyCIDRs(t *testing.T) {
	m := NewMatcher()
	m.Load([]Indicator{ind(CIDR, "10.0.0.0/8", "a", 1)}, t0)
	var many []Indicator
	for i := 0; i < 300; i++ {
		many = append(many, ind(CIDR, fmt.Sprintf("10.%d.%d.0/24", i/256, i%256), "b", 2))
	}
	before := m.cur.Load()
	m.Add(many, t0)
	if m.Len() != 301 {
		t.Fatalf("Len = %d, want 301", m.Len())
	}
	if g := got(m.Lookup(IP, "10.1.5.9", t0)); !slices.Equal(g, []string{"cidr:10.1.5.0/24 cidr"}) {
		t.Errorf("after Add: %q", g)
	}
	// The published snapshot before Add is unchanged.
	if before.pfx.Size() != 1 || before.live != 1 {
		t.Errorf("old snapshot changed: %d prefixes", before.pfx.Size())
	}
	var keys []Key
	for _, i := range many {
		keys = append(keys, Key{i.Type, i.Value})
	}
	m.Remove(keys...)
	if g := got(m.Lookup(IP, "10.1.5.9", t0)); !slices.Equal(g, []string{"cidr:10.0.0.0/8 cidr"}) {
		t.Errorf("after Remove: %q", g)
	}
}
