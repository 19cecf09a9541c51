package feeds

import (
	"errors"
	"fmt"
	"testing"
)

func TestParseSTIXPattern(t *testing.T) {
	tests := []struct {
		pattern string
		want    string // fmt of []PatternValue, or "unsupported"
	}{
		{`[ipv4-addr:value = '198.51.100.1']`, "[{ip 198.51.100.1}]"},
		{`[ipv4-addr:value = '203.0.113.0/24']`, "[{ip 203.0.113.0/24}]"},
		{`[ipv6-addr:value = '2001:db8::1']`, "[{ip 2001:db8::1}]"},
		{`[domain-name:value = 'evil.example']`, "[{domain evil.example}]"},
		{`[url:value = 'http://z4z10farb.cn/4712']`, "[{url http://z4z10farb.cn/4712}]"},
		{`[email-addr:value = 'a@evil.example']`, "[{email a@evil.example}]"},
		{`[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']`, "[{md5 d41d8cd98f00b204e9800998ecf8427e}]"},
		{`[file:hashes.'MD5' = 'd41d8cd98f00b204e9800998ecf8427e']`, "[{md5 d41d8cd98f00b204e9800998ecf8427e}]"},
		{`[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']`, "[{sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709}]"},
		{`[file:hashes.'SHA-256' = 'ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c']`, "[{sha256 ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c}]"},
		{`[ipv4-addr:value='1.2.3.4']`, "[{ip 1.2.3.4}]"},
		{`  [ url:value = 'http://x/it\'s' ]  `, "[{url http://x/it's}]"},
		{`[url:value = 'a\\b']`, `[{url a\b}]`},
		{`[ipv4-addr:value = '1.1.1.1'] OR [domain-name:value = 'x.example']`, "[{ip 1.1.1.1} {domain x.example}]"},
		{`[ipv4-addr:value = '1.1.1.1' OR ipv4-addr:value = '2.2.2.2']`, "[{ip 1.1.1.1} {ip 2.2.2.2}]"},
		{`[ipv4-addr:value = '1.1.1.1' OR domain-name:value = 'a'] OR [url:value = 'u']`, "[{ip 1.1.1.1} {domain a} {url u}]"},
		// unsupported
		{`[ipv4-addr:value = '1.1.1.1' AND ipv4-addr:value = '2.2.2.2']`, "unsupported"},
		{`[ipv4-addr:value = '1.1.1.1'] AND [domain-name:value = 'x']`, "unsupported"},
		{`[ipv4-addr:value != '1.1.1.1']`, "unsupported"},
		{`[ipv4-addr:value ISSUBSET '198.51.100.0/24']`, "unsupported"},
		{`[domain-name:value LIKE '%.evil']`, "unsupported"},
		{`[url:value MATCHES '^http']`, "unsupported"},
		{`[process:name = 'evil.exe']`, "unsupported"},
		{`[file:name = 'a.exe']`, "unsupported"},
		{`[file:hashes.'SHA-512' = 'ab']`, "unsupported"},
		{`[ipv4-addr:value = '1.1.1.1'] WITHIN 300 SECONDS`, "unsupported"},
		{`[ipv4-addr:value = '1.1.1.1'] REPEATS 5 TIMES`, "unsupported"},
		{`[ipv4-addr:value = '1.1.1.1'] FOLLOWEDBY [ipv4-addr:value = '2.2.2.2']`, "unsupported"},
		{`[ipv4-addr:value = '1.1.1.1'] OR [process:name = 'x']`, "unsupported"},
		{`([ipv4-addr:value = '1.1.1.1'])`, "unsupported"},
		{`[NOT ipv4-addr:value = '1.1.1.1']`, "unsupported"},
		{`[ipv4-addr:value = 5]`, "unsupported"},
		{`[ipv4-addr:value = '1.1.1.1'`, "unsupported"},
		{`[ipv4-addr:value = '1.1.1.1]`, "unsupported"},
		{`[ipv4-addr:value = '1.1.1.1'] OR`, "unsupported"},
		{`[ipv4-addr:value = '1.1.1.1']OR[url:value = 'u']`, "[{ip 1.1.1.1} {url u}]"}, // the grammar skips whitespace between tokens
		{``, "unsupported"},
		{`[]`, "unsupported"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			got, err := ParseSTIXPattern(tt.pattern)
			if tt.want == "unsupported" {
				if !errors.Is(err, ErrUnsupportedPattern) {
					t.Errorf("got %v, %v; want ErrUnsupportedPattern", got, err)
				}
				return
			}
			if err != nil || fmt.Sprint(got) != tt.want {
				t.Errorf("got %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}
