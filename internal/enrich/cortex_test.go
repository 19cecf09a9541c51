//go:build unix

package enrich

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newTestCortex(t *testing.T, timeout time.Duration) (*Cortex, string) {
	t.Helper()
	script, err := filepath.Abs("testdata/analyzer.sh")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	c, err := NewCortex(CortexConfig{
		Name: "Test_1_0", Command: []string{"/bin/sh", script}, DataTypes: []string{"ip", "domain"},
		Config: map[string]any{"api_key": "cortex-secret-key-42", "check_tlp": true}, WorkDir: work, Timeout: timeout,
		Now: func() time.Time { return fixedNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, work
}

func TestCortexSuccess(t *testing.T) {
	c, work := newTestCortex(t, 10*time.Second)
	rep, err := c.Enrich(context.Background(), Request{"ip", "203.0.113.66"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict() != LevelMalicious || len(rep.Taxonomies) != 2 || rep.Taxonomies[0].Level != "malicious" {
		t.Errorf("%+v", rep.Taxonomies)
	}
	if want := "Test_1_0: 203.0.113.66 malicious (Test:Score=90, Test:Seen=3)"; rep.Summary != want {
		t.Errorf("summary %q", rep.Summary)
	}
	// The analyzer echoed its input into full: check what Cortex would write.
	var full struct {
		Input map[string]any `json:"input"`
	}
	if err := json.Unmarshal(rep.Full, &full); err != nil {
		t.Fatalf("full %s: %v", rep.Full, err)
	}
	in := full.Input
	cfg, _ := in["config"].(map[string]any)
	if in["dataType"] != "ip" || in["data"] != "203.0.113.66" || in["tlp"] != 2.0 || in["pap"] != 2.0 ||
		cfg["api_key"] != "cortex-secret-key-42" || cfg["check_tlp"] != true || cfg["max_tlp"] != 2.0 {
		t.Errorf("input %v", in)
	}
	// Job directories are cleaned up.
	if ents, _ := os.ReadDir(work); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
	rep, err = c.Enrich(context.Background(), Request{"domain", "example.com"})
	if err != nil || rep.Verdict() != LevelSafe {
		t.Errorf("%+v %v", rep, err)
	}
}

func TestCortexFailures(t *testing.T) {
	c, _ := newTestCortex(t, 10*time.Second)
	ctx := context.Background()
	for data, want := range map[string]string{
		"fail":    "upstream said no",
		"crash":   "Traceback (most recent call last): something went wrong",
		"stderr":  "only on stderr",
		"garbage": "decoding output",
		"leak":    "invalid key [redacted]",
		"empty":   "wrote an empty output",
	} {
		_, err := c.Enrich(ctx, Request{"ip", data})
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "cortex-secret-key-42") {
			t.Errorf("%s: %v, want %q", data, err, want)
		}
	}
	if _, err := c.Enrich(ctx, Request{"hash", "abc"}); err == nil {
		t.Error("unsupported dataType accepted")
	}
}

func TestCortexTimeoutKillsGroup(t *testing.T) {
	c, _ := newTestCortex(t, 300*time.Millisecond)
	start := time.Now()
	_, err := c.Enrich(context.Background(), Request{"ip", "sleep"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%v", err)
	}
	// Had the sleeping grandchild survived holding stdout, Wait would have
	// waited for WaitDelay at least.
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("took %s", d)
	}
}

func TestNewCortexValidation(t *testing.T) {
	for _, cfg := range []CortexConfig{
		{Command: []string{"x"}, DataTypes: []string{"ip"}},
		{Name: "n", DataTypes: []string{"ip"}},
		{Name: "n", Command: []string{"x"}},
		{Name: "n", Command: []string{"x"}, DataTypes: []string{"ip"}, Timeout: -1},
	} {
		if _, err := NewCortex(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

func TestCortexCACertsAndProxy(t *testing.T) {
	script, _ := filepath.Abs("testdata/analyzer.sh")
	c, err := NewCortex(CortexConfig{
		Name: "CA", Command: []string{"/bin/sh", script}, DataTypes: []string{"ip"},
		Config: map[string]any{"cacerts": "PEM-DATA", "proxy_https": "http://proxy:3128"},
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := c.Enrich(context.Background(), Request{"ip", "cacerts"})
	if err != nil || rep.Taxonomies[0].Value != "PEM-DATA" {
		t.Fatalf("%+v %v", rep, err)
	}
	in := c.input(Request{"ip", "x"})
	if p, _ := in.Config["proxy"].(map[string]any); p["https"] != "http://proxy:3128" {
		t.Errorf("proxy %v", in.Config["proxy"])
	}
}
