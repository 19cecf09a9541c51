package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAlertmanagerConfig: inhibit rules in alertmanager.yml's syntax load
// and parse; a bad matcher or a rule without targets names its key.
func TestAlertmanagerConfig(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	write := func(body string) string {
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := Load(write(`alertmanager:
  inhibit_rules:
    - source_matchers: ['severity="critical"']
      target_matchers: ['severity=~"warning|info"']
      equal: [alertname, instance]
`), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Alertmanager.InhibitRules[0].Parsed
	if len(r.SourceMatchers) != 1 || len(r.TargetMatchers) != 1 || len(r.Equal) != 2 ||
		!r.Inhibits(map[string]string{"severity": "critical", "alertname": "X", "instance": "a"}, map[string]string{"severity": "info", "alertname": "X", "instance": "a"}) {
		t.Errorf("rule = %+v", r)
	}
	for _, tc := range []struct{ body, want string }{
		{"alertmanager:\n  inhibit_rules: [{source_matchers: ['a=\"b\"']}]\n", "alertmanager.inhibit_rules[0].target_matchers"},
		{"alertmanager:\n  inhibit_rules: [{target_matchers: ['a=~\"(\"']}]\n", "alertmanager.inhibit_rules[0].target_matchers[0]"},
	} {
		if _, err := Load(write(tc.body), nil, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want it to name %s", tc.body, err, tc.want)
		}
	}
}
