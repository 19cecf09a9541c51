package ui

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// safeLocalPath reports whether s is a clean path on this site, safe to
// redirect to after sign-in (next=) or after a form (back=), and returns
// it unchanged when it is.
//
// Browsers are lenient in ways that turn an innocent-looking path into
// another host: "//evil.example" and "/\evil.example" are
// scheme-relative, and the URL parser drops tabs and newlines, so
// "/\t/evil.example" becomes "//evil.example". A proxy in front of vigil
// may also decode "%09" or "%2F" before the browser sees the Location.
// So only a path that starts with exactly one "/" passes, with no
// control character, whitespace or backslash anywhere, raw or (in the
// path) percent-encoded, and no way to read a scheme or host out of it.
func safeLocalPath(s string) (string, bool) {
	if len(s) < 1 || s[0] != '/' || !utf8.ValidString(s) || hasUnsafeRune(s, false) {
		return "", false
	}
	// The path is what decides where the browser goes: check it as a
	// proxy or browser that decodes it would see it. The query and
	// fragment only need to be free of control characters once decoded,
	// as a search for "a b" (q=a%20b) is a legitimate page to return to.
	path, rest := s, ""
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		path, rest = s[:i], s[i:]
	}
	if !cleanDecoded(path) {
		return "", false
	}
	if dr, err := url.PathUnescape(rest); err != nil || hasUnsafeRune(dr, true) {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	return s, true
}

// cleanDecoded reports whether path stays clean however many times it is
// percent-decoded: "/%252F/evil" is "/%2F/evil" to a proxy that decodes
// once, and "//evil" to one behind it that decodes again.
func cleanDecoded(path string) bool {
	for range 4 {
		dp, err := url.PathUnescape(path)
		if err != nil || !utf8.ValidString(dp) || hasUnsafeRune(dp, false) {
			return false
		}
		if dp == path {
			return true
		}
		path = dp
	}
	return false // still encoded after four rounds: no real link is
}

// hasUnsafeRune reports a control character, or, unless controlsOnly,
// whitespace, a backslash, or a "/" second (a scheme-relative "//").
func hasUnsafeRune(s string, controlsOnly bool) bool {
	for i, r := range s {
		switch {
		case unicode.IsControl(r) || r == utf8.RuneError:
			return true
		case controlsOnly:
		case r == '\\' || unicode.IsSpace(r):
			return true
		case i == 1 && r == '/':
			return true
		}
	}
	return false
}
