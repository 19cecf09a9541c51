package feeds

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var csvCfg = CSVConfig{TypeColumn: "type", ValueColumn: "indicator", ConfidenceColumn: "confidence", TagsColumn: "tags", DefaultType: "ip", Comment: '#'}

func TestParseCSV(t *testing.T) {
	tests := []struct {
		name    string
		cfg     CSVConfig
		in      string
		want    string
		skipped int
		wantErr bool
	}{
		{"typed rows", csvCfg, "Type,Indicator,Confidence,Tags\nip,198.51.100.1,90,c2;apt\ndomain,evil.example,,\nFileHash-SHA256,ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c,10,\n",
			"[ip:198.51.100.1 domain:evil.example sha256:ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c]", 0, false},
		{"default type and cidr", csvCfg, "type,indicator,confidence,tags\n,203.0.113.0/24,,\n,192.0.2.1,,\n", "[cidr:203.0.113.0/24 ip:192.0.2.1]", 0, false},
		{"comments and blank lines", csvCfg, "# a list\ntype,indicator,confidence,tags\n\n# skip me\nurl,http://x.example/a,,\n", "[url:http://x.example/a]", 0, false},
		{"bad rows skipped", csvCfg, "type,indicator,confidence,tags\nip,nope,,\nmutex,x,,\nip,192.0.2.1,101,\nip,192.0.2.2,high,\nip,192.0.2.3\nip,19\"2.0.2.4,,\nip,192.0.2.5,,\n",
			"[ip:192.0.2.5]", 6, false},
		{"only value column", CSVConfig{DefaultType: "domain"}, "value\nevil.example\n", "[domain:evil.example]", 0, false},
		{"BOM header", CSVConfig{DefaultType: "domain"}, "\ufeffvalue\nevil.example\n", "[domain:evil.example]", 0, false},
		{"no header", csvCfg, "", "[]", 0, true},
		{"missing column", csvCfg, "type,value\nip,1.1.1.1\n", "[]", 0, true},
		{"no type at all", CSVConfig{}, "value\n1.1.1.1\n", "[]", 0, true},
		{"unknown default type", CSVConfig{DefaultType: "mutex"}, "value\n1.1.1.1\n", "[]", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Indicator
			skipped, err := ParseCSV(strings.NewReader(tt.in), tt.cfg, func(i Indicator) { got = append(got, i) })
			if (err != nil) != tt.wantErr || fmt.Sprint(values(got)) != tt.want || skipped != tt.skipped {
				t.Errorf("got %v skipped %d err %v; want %s skipped %d", values(got), skipped, err, tt.want, tt.skipped)
			}
		})
	}
	var got []Indicator
	_, _ = ParseCSV(strings.NewReader("type,indicator,confidence,tags\nip,198.51.100.1,90,c2; apt|c2\n"), csvCfg, func(i Indicator) { got = append(got, i) })
	if len(got) != 1 || got[0].Confidence != 90 || fmt.Sprint(got[0].Tags) != "[c2 apt]" {
		t.Errorf("fields: %+v", got)
	}
}

func TestCSVFilePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "list.csv")
	if err := os.WriteFile(path, []byte("value\n198.51.100.1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := NewCSVFile(CSVFileConfig{Name: "blocklist", Source: path, CSV: CSVConfig{DefaultType: "ip"}})
	if err != nil {
		t.Fatal(err)
	}
	res := mustPass(t, f, "")
	if len(res.Indicators) != 1 || res.Indicators[0].Ref != "blocklist" {
		t.Fatalf("first pass: %+v", res)
	}
	if again := mustPass(t, f, res.Cursor); len(again.Indicators) != 0 || again.Cursor != res.Cursor {
		t.Errorf("unchanged file re-read: %+v", again)
	}
	later := time.Now().Add(time.Minute)
	if err := os.WriteFile(path, []byte("value\n198.51.100.1\n198.51.100.2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(path, later, later)
	if next := mustPass(t, f, res.Cursor); len(next.Indicators) != 2 || next.Cursor == res.Cursor {
		t.Errorf("changed file: %+v", next)
	}
}

func TestCSVFileURL(t *testing.T) {
	const etag = `"v1"`
	const token = "csv-token-secret"
	var hits atomic.Int32
	var fail atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if fail.Load() > 0 {
			fail.Add(-1)
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, "slow down "+r.Header.Get("X-Token"))
			return
		}
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", "Sun, 01 Mar 2026 12:00:00 GMT")
		fmt.Fprint(w, "value,tags\nevil.example,phishing\n")
	}))
	defer srv.Close()
	f, err := NewCSVFile(CSVFileConfig{Source: srv.URL + "/list.csv", CSV: CSVConfig{DefaultType: "domain", TagsColumn: "tags"}, Header: http.Header{"X-Token": {token}}, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	res := mustPass(t, f, "")
	if len(res.Indicators) != 1 || !strings.Contains(res.Cursor, "etag=") {
		t.Fatalf("first pass: %+v", res)
	}
	again := mustPass(t, f, res.Cursor)
	if len(again.Indicators) != 0 || again.Cursor != res.Cursor {
		t.Errorf("304 pass: %+v", again)
	}
	fail.Store(1)
	_, err = f.Pass(context.Background(), res.Cursor)
	checkRetryable(t, err, 3*time.Second)
	checkNoSecret(t, err, token)
}
