package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestIntelConfig: generic HTTP providers and CSV feeds load with their
// secrets from the environment or a file, history is on unless turned
// off, and the retro-hunt mode defaults to annotate; bad entries name
// the key.
func TestIntelConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte("file-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(write(`enrichment:
  http:
    - name: Shodan
      url: "https://api.example.com/host/{{.Data | pathescape}}"
      data_types: [ip]
      headers: {Accept: application/json}
      headers_env: {X-Key: SHODAN_KEY}
      headers_file: {X-Other: `+keyFile+`}
      mapping:
        level: {path: data.score, malicious_at: 80, suspicious_at: 40}
        summary: "score {{.Value}}"
      per_minute: 10
      cache_ttl: 1h
threat_intel:
  retro_hunt: open_if_closed
  csv:
    - name: blocklist
      source: https://lists.example.com/ips.csv
      default_type: ip
      comment: "#"
      header_env: {Authorization: LIST_TOKEN}
`), []string{"SHODAN_KEY=env-secret", "LIST_TOKEN=Bearer t"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := c.Enrichment.HTTP[0]
	if h.Secrets["X-Key"] != "env-secret" || h.Secrets["X-Other"] != "file-secret" || *h.Mapping.Level.MaliciousAt != 80 || h.CacheTTL != time.Hour {
		t.Errorf("http provider = %+v", h)
	}
	if !c.Enrichment.HistoryOn() || c.ThreatIntel.RetroHunt != RetroOpenIfClosed || c.ThreatIntel.CSV[0].Headers["Authorization"] != "Bearer t" {
		t.Errorf("history %v, retro %q, csv %+v", c.Enrichment.HistoryOn(), c.ThreatIntel.RetroHunt, c.ThreatIntel.CSV)
	}
	c, err = Load(write("enrichment:\n  history: false\n"), nil, nil)
	if err != nil || c.Enrichment.HistoryOn() || c.ThreatIntel.RetroHunt != RetroAnnotate {
		t.Errorf("history off: %v %q %v", c.Enrichment.HistoryOn(), c.ThreatIntel.RetroHunt, err)
	}
	for _, tc := range []struct{ body, want string }{
		{"enrichment:\n  http: [{name: x, url: u}]\n", "enrichment.http[0]"},
		{"enrichment:\n  http: [{name: x, url: u, data_types: [ip], headers_env: {K: NOPE}}]\n", "NOPE"},
		{"threat_intel:\n  retro_hunt: sometimes\n", "threat_intel.retro_hunt"},
		{"threat_intel:\n  csv: [{default_type: ip}]\n", "threat_intel.csv[0].source"},
		{"threat_intel:\n  csv: [{source: f, comment: '//'}]\n", "threat_intel.csv[0].comment"},
	} {
		_, err := Load(write(tc.body), nil, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want it to name %s", tc.body, err, tc.want)
		}
	}
}
