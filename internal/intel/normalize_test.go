package intel

import (
	"errors"
	"testing"

	"github.com/vigil-soc/vigil/internal/validation"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		typ, in, want string // want "" means an error
	}{
		// ip
		{IP, "1.2.3.4", "1.2.3.4"},
		{IP, " 1.2.3.4 ", "1.2.3.4"},
		{IP, "::ffff:1.2.3.4", "1.2.3.4"},
		{IP, "2001:DB8::1", "2001:db8::1"},
		{IP, "fe80::1%eth0", "fe80::1"},
		{IP, "2001:0db8:0000::0001", "2001:db8::1"},
		{IP, "1.2.3", ""},
		{IP, "01.2.3.4", ""},
		{IP, "evil.com", ""},
		// cidr
		{CIDR, "10.1.2.3/8", "10.0.0.0/8"},
		{CIDR, "10.0.0.1/32", "10.0.0.1/32"},
		{CIDR, "10.0.0.1", "10.0.0.1/32"},
		{CIDR, "2001:DB8::1/32", "2001:db8::/32"},
		{CIDR, "::ffff:10.0.0.0/104", "10.0.0.0/8"},
		{CIDR, "10.0.0.0/33", ""},
		{CIDR, "x/8", ""},
		// domain
		{Domain, "EVIL.com.", "evil.com"},
		{Domain, "bücher.example", "xn--bcher-kva.example"},
		{Domain, "BÜCHER.example", "xn--bcher-kva.example"},
		{Domain, "xn--bcher-kva.example", "xn--bcher-kva.example"},
		{Domain, "XN--BCHER-KVA.EXAMPLE", "xn--bcher-kva.example"},
		{Domain, "r3---sn-abc.googlevideo.com", "r3---sn-abc.googlevideo.com"},
		{Domain, "a_b.evil.com", "a_b.evil.com"},
		{Domain, "com", ""},
		{Domain, "1.2.3.4", ""},
		{Domain, "a..com", ""},
		{Domain, "-a.com", ""},
		{Domain, "a-.com", ""},
		{Domain, "evil.com..", ""},
		{Domain, "ev il.com", ""},
		{Domain, "xn--zz.com", ""},
		{Domain, "", ""},
		// url
		{URL, "HTTP://Evil.COM:80/a%7Eb?x=1#f", "http://evil.com/a~b?x=1"},
		{URL, "https://x.com:443", "https://x.com/"},
		{URL, "https://x.com:8443", "https://x.com:8443/"},
		{URL, "http://x.com:443/", "http://x.com:443/"},
		{URL, "http://x.com:/", "http://x.com/"},
		{URL, "http://x.com:0080/", "http://x.com/"},
		{URL, "http://x.com/a%2Fb", "http://x.com/a%2Fb"},
		{URL, "http://x.com/a%2fb%41", "http://x.com/a%2FbA"},
		{URL, "http://x.com/%zz%4", "http://x.com/%zz%4"},
		{URL, "http://x.com?q=%7E", "http://x.com/?q=%7E"},
		{URL, "http://bücher.example/Path", "http://xn--bcher-kva.example/Path"},
		{URL, "http://User:Pw@Evil.com/", "http://User:Pw@evil.com/"},
		{URL, "http://[2001:DB8::1]:80/x", "http://[2001:db8::1]/x"},
		{URL, "http://1.2.3.4:8080", "http://1.2.3.4:8080/"},
		{URL, "http://intranet/", "http://intranet/"},
		{URL, "evil.com/x", ""},
		{URL, "http:///x", ""},
		{URL, "http://x.com:99999/", ""},
		{URL, "http://x.com/\x00", ""},
		{URL, "1http://x.com/", ""},
		// hashes
		{MD5, "D41D8CD98F00B204E9800998ECF8427E", "d41d8cd98f00b204e9800998ecf8427e"},
		{MD5, "d41d8cd98f00b204e9800998ecf8427", ""},
		{MD5, "g41d8cd98f00b204e9800998ecf8427e", ""},
		{SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
		{SHA1, "d41d8cd98f00b204e9800998ecf8427e", ""},
		{SHA256, "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85", ""},
		// email
		{Email, "John.Doe@EVIL.com.", "John.Doe@evil.com"},
		{Email, "x@bücher.example", "x@xn--bcher-kva.example"},
		{Email, "@evil.com", ""},
		{Email, "a b@evil.com", ""},
		{Email, "a@b@evil.com", ""},
		{Email, "a@com", ""},
		{Email, "evil.com", ""},
		// type
		{"ipv4", "1.2.3.4", ""},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.typ, tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("Normalize(%s, %q) = %q, want an error", tt.typ, tt.in, got)
			}
			var fe *validation.FieldError
			if err != nil && !errors.As(err, &fe) {
				t.Errorf("Normalize(%s, %q): error %v is not a field error", tt.typ, tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Normalize(%s, %q) = %q, %v; want %q", tt.typ, tt.in, got, err, tt.want)
			continue
		}
		if again, err := Normalize(tt.typ, got); err != nil || again != got {
			t.Errorf("Normalize(%s, %q) not idempotent: %q, %v", tt.typ, got, again, err)
		}
	}
}

func TestNormalizeErrorNamesValue(t *testing.T) {
	_, err := Normalize(IP, "nope")
	var fe *validation.FieldError
	if !errors.As(err, &fe) || fe.Field != "value" {
		t.Fatalf("error %v: want a field error on value", err)
	}
}

func TestNormalizeCanonicalDoesNotAllocate(t *testing.T) {
	for _, tt := range []struct{ typ, v string }{
		{IP, "1.2.3.4"}, {IP, "2001:db8::1"}, {CIDR, "10.0.0.0/8"},
		{Domain, "a.b.evil.com"}, {SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{Email, "x@evil.com"},
	} {
		n := testing.AllocsPerRun(100, func() { _, _ = Normalize(tt.typ, tt.v) })
		if n != 0 {
			t.Errorf("Normalize(%s, %q): %v allocations, want 0", tt.typ, tt.v, n)
		}
	}
}

func TestGuess(t *testing.T) {
	tests := []struct{ in, want string }{
		{"1.2.3.4", IP},
		{"2001:db8::1", IP},
		{"10.0.0.0/8", CIDR},
		{"http://evil.com/x", URL},
		{"d41d8cd98f00b204e9800998ecf8427e", MD5},
		{"da39a3ee5e6b4b0d3255bfef95601890afd80709", SHA1},
		{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", SHA256},
		{"a@evil.com", Email},
		{"evil.com", Domain},
		{"bücher.example", Domain},
		{"deadbeef.com", Domain},
		{"localhost", ""},
		{"", ""},
		{"evil.com/path", ""},
		{"http://", ""},
	}
	for _, tt := range tests {
		got, ok := Guess(tt.in)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("Guess(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}
