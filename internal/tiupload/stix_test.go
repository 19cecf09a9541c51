package tiupload_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/intel"
	"github.com/vigil-soc/vigil/internal/tiupload"
)

var (
	t0  = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	day = 24 * time.Hour
)

func TestSTIXPatterns(t *testing.T) {
	tests := []struct {
		typ, value, pattern string
	}{
		{intel.IP, "203.0.113.7", "[ipv4-addr:value = '203.0.113.7']"},
		{intel.IP, "2001:DB8::1", "[ipv6-addr:value = '2001:db8::1']"},
		{intel.CIDR, "198.51.100.0/24", "[ipv4-addr:value = '198.51.100.0/24']"},
		{intel.CIDR, "2001:db8::/32", "[ipv6-addr:value = '2001:db8::/32']"},
		{intel.Domain, "Evil.Example.COM.", "[domain-name:value = 'evil.example.com']"},
		{intel.URL, "HTTP://Evil.example.com:80/a?b=1", "[url:value = 'http://evil.example.com/a?b=1']"},
		{intel.URL, `http://evil.example.com/it's\here`, `[url:value = 'http://evil.example.com/it\'s\\here']`},
		{intel.MD5, "D41D8CD98F00B204E9800998ECF8427E", "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']"},
		{intel.SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709", "[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']"},
		{intel.SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']"},
		{intel.Email, "o'brien@example.com", `[email-addr:value = 'o\'brien@example.com']`},
	}
	for _, tt := range tests {
		t.Run(tt.typ+" "+tt.value, func(t *testing.T) {
			raw, err := tiupload.STIX(intel.Indicator{Type: tt.typ, Value: tt.value}, t0)
			if err != nil {
				t.Fatal(err)
			}
			var o map[string]any
			if err := json.Unmarshal(raw, &o); err != nil {
				t.Fatal(err)
			}
			if o["pattern"] != tt.pattern {
				t.Errorf("pattern %v, want %s", o["pattern"], tt.pattern)
			}
			if o["type"] != "indicator" || o["spec_version"] != "2.1" || o["pattern_type"] != "stix" {
				t.Errorf("object %s", raw)
			}
		})
	}
}

func TestSTIXObject(t *testing.T) {
	ind := intel.Indicator{Type: intel.IP, Value: "203.0.113.7", Confidence: 80, Tags: []string{"c2", " ", "botnet", "c2"},
		Feeds: []string{"otx", "misp"}, FirstSeen: t0.Add(-10 * day), LastSeen: t0.Add(-day), ValidUntil: t0.Add(30 * day)}
	raw, err := tiupload.STIX(ind, t0)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"indicator","spec_version":"2.1","id":"` + tiupload.IndicatorID(intel.IP, "203.0.113.7") + `",` +
		`"created":"2025-02-19T10:00:00.000Z","modified":"2025-03-01T10:00:00.000Z","labels":["botnet","c2"],"confidence":80,` +
		`"name":"203.0.113.7","description":"vigil indicator from feeds: misp, otx","indicator_types":["malicious-activity"],` +
		`"pattern":"[ipv4-addr:value = '203.0.113.7']","pattern_type":"stix","pattern_version":"2.1",` +
		`"valid_from":"2025-02-19T10:00:00.000Z","valid_until":"2025-03-31T10:00:00.000Z"}`
	if string(raw) != want {
		t.Errorf("got\n%s\nwant\n%s", raw, want)
	}

	// No first sighting, confidence 0, no expiry: valid from now, no
	// confidence, no valid_until.
	raw, err = tiupload.STIX(intel.Indicator{Type: intel.Domain, Value: "example.org"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	var o map[string]any
	json.Unmarshal(raw, &o)
	for _, k := range []string{"confidence", "valid_until", "labels", "description"} {
		if _, ok := o[k]; ok {
			t.Errorf("%s present: %s", k, raw)
		}
	}
	if o["created"] != "2025-03-01T10:00:00.000Z" || o["valid_from"] != o["created"] {
		t.Errorf("times: %s", raw)
	}
	// A first sighting in the future (clock skew) does not make created
	// later than modified.
	raw, _ = tiupload.STIX(intel.Indicator{Type: intel.Domain, Value: "example.org", FirstSeen: t0.Add(time.Hour)}, t0)
	json.Unmarshal(raw, &o)
	if o["created"] != o["modified"] {
		t.Errorf("future first sighting: %s", raw)
	}
}

func TestSTIXDeterministicID(t *testing.T) {
	a, _ := tiupload.STIX(intel.Indicator{Type: intel.Domain, Value: "Example.org", Confidence: 10}, t0)
	b, _ := tiupload.STIX(intel.Indicator{Type: intel.Domain, Value: "example.org.", Confidence: 90}, t0.Add(day))
	c, _ := tiupload.STIX(intel.Indicator{Type: intel.URL, Value: "http://example.org/"}, t0)
	id := func(raw []byte) string {
		var o struct{ ID string }
		json.Unmarshal(raw, &o)
		return o.ID
	}
	if id(a) != id(b) {
		t.Errorf("same indicator, ids %s and %s", id(a), id(b))
	}
	if id(a) == id(c) {
		t.Errorf("different indicators share id %s", id(a))
	}
	// The id is RFC 9562's UUIDv5 (checked against Python's uuid.uuid5)
	// and must not change between releases: every workspace would get a
	// second copy of every indicator.
	if got, want := tiupload.IndicatorID(intel.IP, "203.0.113.7"), "indicator--e06e6345-3465-54f8-9a2a-9e916f3f0787"; got != want {
		t.Errorf("id %s, want %s", got, want)
	}
}

func TestSTIXErrors(t *testing.T) {
	tests := []struct {
		name string
		ind  intel.Indicator
		is   error
	}{
		{"unknown type", intel.Indicator{Type: "asn", Value: "AS1"}, nil},
		{"bad ip", intel.Indicator{Type: intel.IP, Value: "999.1.1.1"}, nil},
		{"bad hash", intel.Indicator{Type: intel.SHA256, Value: "abc"}, nil},
		{"confidence", intel.Indicator{Type: intel.IP, Value: "192.0.2.1", Confidence: 101}, nil},
		{"expired before valid", intel.Indicator{Type: intel.IP, Value: "192.0.2.1", FirstSeen: t0.Add(-day), ValidUntil: t0.Add(-2 * day)}, tiupload.ErrExpiredBeforeValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tiupload.STIX(tt.ind, t0)
			if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestQuoteLiteral(t *testing.T) {
	tests := map[string]string{
		``:        `''`,
		`plain`:   `'plain'`,
		`'`:       `'\''`,
		`\`:       `'\\'`,
		`\'`:      `'\\\''`,
		`a']OR[b`: `'a\']OR[b'`,
	}
	for in, want := range tests {
		if got := tiupload.QuoteLiteral(in); got != want {
			t.Errorf("QuoteLiteral(%q) = %s, want %s", in, got, want)
		}
	}
}
