package hunt

import (
	"encoding/json"
	"testing"
)

// FuzzHits: rows of any shape a workspace may answer (wrong types,
// missing columns, odd times) are turned into hits or counted as bad,
// never a panic; every hit has a destination.
func FuzzHits(f *testing.F) {
	for _, s := range []string{
		`[{"TimeGenerated":"2026-12-07T10:00:00Z","DeviceName":"ws-1","RemoteIP":"203.0.113.7","RemotePort":443}]`,
		`[{"TimeGenerated":"2026-12-07T10:00:00Z","Computer":"fw-1","DestinationHostName":"evil.example.com","DestinationPort":"x"}]`,
		`[{"TimeGenerated":5,"RemoteUrl":"http://a/b"},{},{"RemoteIP":null}]`,
		`[{"TimeGenerated":"not a time","RemoteUrl":"::::"}]`,
	} {
		f.Add(TableDeviceNetworkEvents, s)
		f.Add(TableCommonSecurityLog, s)
	}
	f.Fuzz(func(t *testing.T, table, body string) {
		var recs []map[string]any
		if json.Unmarshal([]byte(body), &recs) != nil {
			return
		}
		hits, bad := Hits(table, recs)
		if len(hits)+bad > len(recs) {
			t.Fatalf("%d hits and %d bad from %d rows", len(hits), bad, len(recs))
		}
		for _, h := range hits {
			if h.RemoteIP == "" && h.RemoteURL == "" && h.RemoteHost == "" {
				t.Fatalf("a hit without a destination: %+v", h)
			}
		}
	})
}
