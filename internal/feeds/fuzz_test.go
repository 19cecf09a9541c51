package feeds

import (
	"bytes"
	"strings"
	"testing"
)

// checkEmitted holds what every parser promises about what it emits.
func checkEmitted(t *testing.T, ind Indicator) {
	t.Helper()
	if ind.Value == "" || ind.Value != strings.TrimSpace(ind.Value) {
		t.Fatalf("bad value %q", ind.Value)
	}
	switch ind.Type {
	case TypeIP, TypeCIDR, TypeDomain, TypeURL, TypeMD5, TypeSHA1, TypeSHA256, TypeEmail:
	default:
		t.Fatalf("bad type %q", ind.Type)
	}
	if ind.Confidence < 0 || ind.Confidence > 100 {
		t.Fatalf("confidence %d", ind.Confidence)
	}
}

func FuzzParseSTIX(f *testing.F) {
	f.Add([]byte(`{"type": "bundle", "id": "bundle--1", "objects": [{"type": "indicator", "id": "indicator--1", "pattern_type": "stix", "pattern": "[ipv4-addr:value = '198.51.100.1']"}]}`))
	f.Add([]byte(`{"objects": [1, {"type": "indicator"}, null]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		skipped, err := ParseSTIX(bytes.NewReader(data), func(ind Indicator) { checkEmitted(t, ind); n++ })
		if skipped < 0 || (err == nil && n > len(data)) {
			t.Fatalf("skipped %d emitted %d", skipped, n)
		}
	})
}

func FuzzSTIXPattern(f *testing.F) {
	f.Add(`[ipv4-addr:value = '198.51.100.1'] OR [file:hashes.'SHA-256' = 'ab']`)
	f.Add(`[url:value = 'a\'b' OR domain-name:value = 'c']`)
	f.Fuzz(func(t *testing.T, p string) {
		vals, err := ParseSTIXPattern(p)
		if err != nil && len(vals) != 0 {
			t.Fatal("values with an error")
		}
		if err == nil && len(vals) == 0 {
			t.Fatal("no values and no error")
		}
		for _, v := range vals {
			switch v.Type {
			case TypeIP, TypeDomain, TypeURL, TypeEmail, TypeMD5, TypeSHA1, TypeSHA256:
			default:
				t.Fatalf("type %q", v.Type)
			}
		}
	})
}

func FuzzParseCSV(f *testing.F) {
	f.Add("type,indicator,confidence,tags\nip,198.51.100.1,90,c2;apt\n# c\ndomain,evil.example,,\n")
	f.Add("type,indicator,confidence,tags\nip,\"19\"2,\n,,,,\n")
	f.Fuzz(func(t *testing.T, data string) {
		_, _ = ParseCSV(strings.NewReader(data), csvCfg, func(ind Indicator) { checkEmitted(t, ind) })
	})
}

func FuzzOTXPage(f *testing.F) {
	f.Add([]byte(`{"results": [{"id": "p1", "modified": "2023-08-09T05:05:14.946000", "tags": ["a"], "indicators": [{"id": 1, "indicator": "1.2.3.4", "type": "IPv4", "is_active": 1, "expiration": null, "created": "2023-08-09T05:05:15"}]}], "count": 1, "next": null, "previous": null}`))
	f.Add([]byte(`{"results": [1, {"id": "x"}], "next": "ftp://x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseOTXPage(data, func(ind Indicator) { checkEmitted(t, ind) })
	})
}

func FuzzMISPPage(f *testing.F) {
	f.Add([]byte(`{"response": {"Attribute": [{"id": "1", "event_id": "2", "type": "ip-src|port", "value": "1.2.3.4|80", "to_ids": true, "timestamp": "1617875568", "Tag": [{"name": "osint:certainty=\"93\""}]}]}}`))
	f.Add([]byte(`{"response": []}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseMISPPage(data, func(ind Indicator) { checkEmitted(t, ind) })
	})
}

func FuzzTAXIIEnvelope(f *testing.F) {
	f.Add([]byte(`{"more": true, "next": "o3", "objects": [{"type": "indicator", "id": "indicator--1", "pattern_type": "stix", "pattern": "[domain-name:value = 'x.example']", "confidence": 80}]}`))
	f.Add([]byte(`{"objects": [[], {}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseTAXIIEnvelope(data, func(ind Indicator) { checkEmitted(t, ind) })
	})
}
