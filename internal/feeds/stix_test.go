package feeds

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fixtureBundle wraps medallion's High Value Indicator Collection objects
// in a bundle.
func fixtureBundle(t testing.TB) string {
	t.Helper()
	raw, err := os.ReadFile("testdata/medallion_default_data.json")
	if err != nil {
		t.Fatal(err)
	}
	var data struct {
		Trustgroup1 struct {
			Collections []struct {
				ID      string            `json:"id"`
				Objects []json.RawMessage `json:"objects"`
			} `json:"collections"`
		} `json:"trustgroup1"`
	}
	if err := json.Unmarshal(raw, &data); err != nil {
		t.Fatal(err)
	}
	for _, c := range data.Trustgroup1.Collections {
		if c.ID == highValue {
			b, _ := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": c.Objects})
			return string(b)
		}
	}
	t.Fatal("no high value collection")
	return ""
}

func TestParseSTIXFixture(t *testing.T) {
	var got []Indicator
	skipped, err := ParseSTIX(strings.NewReader(fixtureBundle(t)), func(i Indicator) { got = append(got, i) })
	if err != nil || skipped != 0 {
		t.Fatalf("skipped %d err %v", skipped, err)
	}
	if len(got) != 4 {
		t.Fatalf("got %v", values(got))
	}
	first := got[0]
	want := Indicator{Type: "sha256", Value: "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c", Confidence: DefaultConfidence,
		Tags: []string{"file-hash-watchlist"}, FirstSeen: time.Date(2014, 5, 8, 9, 0, 0, 0, time.UTC), Ref: "indicator--cd981c25-8042-4166-8945-51178443bdac"}
	if fmt.Sprint(first) != fmt.Sprint(want) {
		t.Errorf("first = %+v\nwant    %+v", first, want)
	}
}

func TestParseSTIXEntries(t *testing.T) {
	ind := func(extra string) string {
		return `{"type": "indicator", "id": "indicator--1", "pattern_type": "stix", "pattern": "[ipv4-addr:value = '198.51.100.1']", "created": "2026-01-01T00:00:00Z"` + extra + `}`
	}
	tests := []struct {
		name    string
		objects string
		emitted int
		skipped int
	}{
		{"plain", ind(``), 1, 0},
		{"valid_until and labels", ind(`, "valid_until": "2027-01-01T00:00:00Z", "labels": ["a", "a", "b"], "confidence": 90`), 1, 0},
		{"not a stix pattern", ind(`, "pattern_type": "sigma"`), 0, 1},
		{"revoked", ind(`, "revoked": true`), 0, 1},
		{"bad confidence", ind(`, "confidence": 101`), 0, 1},
		{"confidence wrong type", ind(`, "confidence": "high"`), 0, 1},
		{"bad valid_until", ind(`, "valid_until": "soon"`), 0, 1},
		{"AND pattern", `{"type": "indicator", "id": "indicator--2", "pattern_type": "stix", "pattern": "[ipv4-addr:value = '1.1.1.1' AND ipv4-addr:value = '2.2.2.2']"}`, 0, 1},
		{"bad value", `{"type": "indicator", "id": "indicator--3", "pattern_type": "stix", "pattern": "[ipv4-addr:value = 'nope']"}`, 0, 1},
		{"not an object", `42`, 0, 1},
		{"other objects", `{"type": "malware", "id": "malware--1"}, {"type": "relationship", "id": "relationship--1"}`, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Indicator
			skipped, err := ParseSTIX(strings.NewReader(`{"type": "bundle", "id": "bundle--1", "objects": [`+tt.objects+`]}`), func(i Indicator) { got = append(got, i) })
			if err != nil || len(got) != tt.emitted || skipped != tt.skipped {
				t.Errorf("emitted %d skipped %d err %v", len(got), skipped, err)
			}
			if tt.name == "valid_until and labels" && (fmt.Sprint(got[0].Tags) != "[a b]" || got[0].Confidence != 90 || got[0].ValidUntil.Year() != 2027) {
				t.Errorf("got %+v", got[0])
			}
		})
	}
}

func TestParseSTIXMalformedBundle(t *testing.T) {
	for _, body := range []string{``, `[]`, `{"objects": {}}`, `{"objects": [{"type": "indicator"`, `{"objects": [1, 2,]}`, `{"type": "bundle"`, `{"objects": [], "objects": []}`} {
		if _, err := ParseSTIX(strings.NewReader(body), func(Indicator) {}); err == nil {
			t.Errorf("%q: no error", body)
		}
	}
	for _, body := range []string{`{}`, `{"objects": null}`, `{"type": "bundle", "id": "x", "objects": [], "spec_version": "2.0"}`} {
		if _, err := ParseSTIX(strings.NewReader(body), func(Indicator) {}); err != nil {
			t.Errorf("%q: %v", body, err)
		}
	}
}

// writeBundle writes a bundle of n indicator objects, each with one IPv4
// address (and every tenth an unsupported pattern), to w.
func writeBundle(w io.Writer, n int) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	fmt.Fprint(bw, `{"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": [`)
	for i := 0; i < n; i++ {
		if i > 0 {
			bw.WriteString(",\n")
		}
		pattern := fmt.Sprintf("[ipv4-addr:value = '10.%d.%d.%d']", i>>16&255, i>>8&255, i&255)
		if i%10 == 9 {
			pattern = "[process:name = 'evil.exe']"
		}
		fmt.Fprintf(bw, `{"type": "indicator", "spec_version": "2.1", "id": "indicator--%08d-0000-4000-8000-000000000000", "created": "2026-03-01T12:00:00.000Z", "modified": "2026-03-01T12:00:00.000Z", "name": "generated", "indicator_types": ["malicious-activity"], "pattern": "%s", "pattern_type": "stix", "valid_from": "2026-03-01T12:00:00Z", "confidence": 70}`, i, pattern)
	}
	bw.WriteString("]}")
	return bw.Flush()
}

// TestParseSTIXStreams parses a 200,000-object bundle generated on the fly
// and checks that the heap does not grow with it.
func TestParseSTIXStreams(t *testing.T) {
	n := 200_000
	if testing.Short() {
		n = 20_000
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeBundle(pw, n)) }()
	var before, peak runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	count := 0
	skipped, err := ParseSTIX(pr, func(Indicator) {
		count++
		if count%20000 == 0 {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.HeapAlloc {
				peak = m
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if count != n-n/10 || skipped != n/10 {
		t.Errorf("emitted %d skipped %d", count, skipped)
	}
	// The bundle is ~65 MB; holding it would show. Allow 16 MB of garbage.
	if grow := int64(peak.HeapAlloc) - int64(before.HeapAlloc); grow > 16<<20 {
		t.Errorf("heap grew by %d MB while streaming", grow>>20)
	}
}

func TestSTIXFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bundle.json")
	if err := os.WriteFile(path, []byte(fixtureBundle(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := NewSTIXFile("", path)
	if err != nil {
		t.Fatal(err)
	}
	res := mustPass(t, f, "")
	if len(res.Indicators) != 4 || res.Pages != 1 || res.Cursor == "" {
		t.Fatalf("first pass: %+v", res)
	}
	again := mustPass(t, f, res.Cursor)
	if len(again.Indicators) != 0 || again.Pages != 0 || again.Cursor != res.Cursor {
		t.Errorf("unchanged file re-read: %+v", again)
	}
	if err := os.WriteFile(path, []byte(`{"objects": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	bad, err := f.Pass(context.Background(), res.Cursor)
	if err == nil || bad.Cursor != res.Cursor {
		t.Errorf("truncated file: err %v cursor %q", err, bad.Cursor)
	}
}
