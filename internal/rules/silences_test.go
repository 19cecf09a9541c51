package rules_test

import (
	"testing"

	"github.com/vigil-soc/vigil/internal/alertmanager"
	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/rules"
)

// TestSilenceCondition: a silence's condition agrees with Alertmanager's
// own matching on every label set tried: missing labels as "", anchored
// regexes, quotes and backslashes in values.
func TestSilenceCondition(t *testing.T) {
	cases := []string{
		`alertname="DiskFull"`,
		`alertname="DiskFull",instance=~"db-.*"`,
		`severity!="critical"`,
		`team!~"db|web"`,
		`msg="say \"hi\" \\ now"`,
		`path=~"C:\\\\temp\\..*"`,
		`missing=""`,
		`env=~".+"`,
	}
	labelSets := []map[string]string{
		{},
		{"alertname": "DiskFull", "instance": "db-1"},
		{"alertname": "DiskFull", "instance": "xdb-1"},
		{"alertname": "DiskFull2"},
		{"severity": "critical"},
		{"severity": "warning", "team": "db"},
		{"team": "dbx"},
		{"msg": `say "hi" \ now`},
		{"path": `C:\temp.log`},
		{"env": "prod", "missing": "x"},
	}
	for _, c := range cases {
		ms, err := alertmanager.ParseMatchers(c)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		cond, err := rules.SilenceCondition(ms)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		prg, err := automation.Compile(cond)
		if err != nil {
			t.Fatalf("%s → %s does not compile: %v", c, cond, err)
		}
		for _, ls := range labelSets {
			out, _, err := prg.Eval(map[string]any{"labels": ls})
			if err != nil {
				t.Fatalf("%s on %v: %v", cond, ls, err)
			}
			if got, want := out.Value() == true, ms.Matches(ls); got != want {
				t.Errorf("%s on %v: condition %v, Alertmanager %v (condition %s)", c, ls, got, want, cond)
			}
		}
	}
	if _, err := rules.SilenceCondition(nil); err == nil {
		t.Error("a silence without matchers was accepted")
	}
}
