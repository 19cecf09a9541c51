package ui

import "testing"

func TestSafeLocalPath(t *testing.T) {
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"board", "/board", true},
		{"root", "/", true},
		{"item with query", "/items/5?x=1", true},
		{"board filter with an encoded space", "/board?q=a%20b&tag=x", true},
		{"board filter with a plus", "/board?q=a+b", true},
		{"fragment", "/items/5#h-timeline", true},
		{"encoded character in the path", "/items/%35", true},
		{"colon later in the path", "/items/a:b", true},

		{"empty", "", false},
		{"relative", "board", false},
		{"absolute URL", "https://evil.example/board", false},
		{"scheme only", "javascript:alert(1)", false},
		{"protocol-relative", "//evil.example", false},
		{"backslash host", `/\evil.example`, false},
		{"backslash later", `/board\x`, false},
		{"tab then slash", "/\t/evil.example", false},
		{"newline then slash", "/\n/evil.example", false},
		{"CR then slash", "/\r/evil.example", false},
		{"NUL", "/board\x00", false},
		{"DEL", "/board\x7f", false},
		{"C1 control", "/board\u0085", false},
		{"space", "/board x", false},
		{"no-break space", "/board\u00a0x", false},
		{"encoded tab then slash", "/%09/evil.example", false},
		{"encoded newline then slash", "/%0a/evil.example", false},
		{"encoded CR", "/%0D/evil.example", false},
		{"encoded slash", "/%2F/evil.example", false},
		{"encoded slash lower case", "/%2f/evil.example", false},
		{"encoded backslash", "/%5Cevil.example", false},
		{"encoded backslash later", "/board/%5c", false},
		{"encoded space in the path", "/board%20x", false},
		{"encoded DEL", "/board%7F", false},
		{"double-encoded slash", "/%252F/evil.example", false},
		{"double-encoded tab", "/%2509/evil.example", false},
		{"bad escape", "/board%zz", false},
		{"encoded control in the query", "/board?q=%0d%0aSet-Cookie:x", false},
		{"raw control in the query", "/board?q=\t", false},
		{"invalid UTF-8", "/board\xff", false},
		{"encoded invalid UTF-8", "/board%ff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := safeLocalPath(tt.in)
			if ok != tt.ok {
				t.Fatalf("safeLocalPath(%q) ok = %v, want %v", tt.in, ok, tt.ok)
			}
			want := ""
			if tt.ok {
				want = tt.in
			}
			if got != want {
				t.Errorf("safeLocalPath(%q) = %q, want %q", tt.in, got, want)
			}
			if next := safeNext(tt.in); tt.ok && next != tt.in || !tt.ok && next != "/board" {
				t.Errorf("safeNext(%q) = %q", tt.in, next)
			}
			if lp := localPath(tt.in); lp != want {
				t.Errorf("localPath(%q) = %q, want %q", tt.in, lp, want)
			}
		})
	}
}

func TestLoginErrorMessage(t *testing.T) {
	for code, msg := range loginErrors {
		if got := loginErrorMessage(code); got != msg {
			t.Errorf("loginErrorMessage(%q) = %q, want %q", code, got, msg)
		}
		if got, want := loginErrorURL(code), "/login?error="+code; got != want {
			t.Errorf("loginErrorURL(%q) = %q, want %q", code, got, want)
		}
	}
	for _, code := range []string{"unknown", "<script>alert(1)</script>", "single sign-on failed: call +1 555 0100"} {
		if got := loginErrorMessage(code); got != loginErrorGeneric {
			t.Errorf("loginErrorMessage(%q) = %q, want the generic message", code, got)
		}
	}
	if got := loginErrorMessage(""); got != "" {
		t.Errorf("loginErrorMessage(\"\") = %q, want none", got)
	}
}
