package intel

import (
	"testing"
	"unicode/utf8"
)

// FuzzNormalize checks that Normalize never panics, is idempotent, and that
// a normalised value is valid for its type and matches itself.
func FuzzNormalize(f *testing.F) {
	for _, s := range []struct{ typ, v string }{
		{IP, "::ffff:1.2.3.4"}, {CIDR, "10.1.2.3/8"}, {Domain, "bücher.example."},
		{URL, "HTTP://Evil.COM:80/a%7Eb?x=1#f"}, {URL, "http://[::1]:/%2f"},
		{MD5, "D41D8CD98F00B204E9800998ECF8427E"}, {Email, "A@EVIL.com"}, {Domain, "xn--bcher-kva.example"},
	} {
		f.Add(s.typ, s.v)
	}
	m := NewMatcher()
	f.Fuzz(func(t *testing.T, typ, v string) {
		if typeCode(typ) == tNone {
			_, _ = Normalize(typ, v) // an unknown type must fail, not panic
			typ = Types[len(typ)%len(Types)]
		}
		n, err := Normalize(typ, v)
		if err != nil {
			return
		}
		again, err := Normalize(typ, n)
		if err != nil || again != n {
			t.Fatalf("Normalize(%s, %q) = %q, but Normalize(%s, %q) = %q, %v", typ, v, n, typ, n, again, err)
		}
		if typ != URL && typ != Email && !utf8.ValidString(n) {
			t.Fatalf("Normalize(%s, %q) = %q: not UTF-8", typ, v, n)
		}
		m.Load([]Indicator{{Type: typ, Value: v}}, t0)
		if ms := m.Lookup(typ, v, t0); len(ms) == 0 || ms[0].Indicator.Value != n {
			t.Fatalf("indicator %s %q does not match itself: %v", typ, v, ms)
		}
	})
}

// FuzzGuess checks that Guess never panics and that what it guesses
// normalises.
func FuzzGuess(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "10.0.0.0/8", "http://evil.com/", "evil.com",
		"d41d8cd98f00b204e9800998ecf8427e", "a@b.com", "localhost", "2001:db8::/32"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		typ, ok := Guess(v)
		if !ok {
			return
		}
		if _, err := Normalize(typ, v); err != nil {
			t.Fatalf("Guess(%q) = %s, but Normalize: %v", v, typ, err)
		}
	})
}
