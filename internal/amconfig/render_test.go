package amconfig

import (
	"slices"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/yamlfile"
)

// TestYAMLRoundTrip: the rendered file reads back strictly, and every
// service passes vigil's own validation (its condition compiles in the
// automation environment, support hours and windows are valid).
func TestYAMLRoundTrip(t *testing.T) {
	for _, name := range []string{"simple.yml", "intervals.yml"} {
		t.Run(name, func(t *testing.T) {
			r := importFile(t, name)
			b, err := r.YAML()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(b), "# vigil on-call definitions") {
				t.Errorf("no header:\n%s", b)
			}
			var f File
			if err := yamlfile.Strict(b, &f); err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			inhibit := 0
			if f.Alertmanager != nil {
				inhibit = len(f.Alertmanager.InhibitRules)
				// The section is what vigil's configuration reads.
				for i, ir := range f.Alertmanager.InhibitRules {
					for _, m := range append(slices.Clone(ir.SourceMatchers), ir.TargetMatchers...) {
						if _, err := ParseMatchers(m); err != nil {
							t.Errorf("inhibit_rules[%d]: matcher %q does not parse back: %v", i, m, err)
						}
					}
				}
			}
			if len(f.Services) != len(r.Services) || inhibit != len(r.Inhibit) || len(f.Unmapped) != len(r.Unmapped) {
				t.Fatalf("read back %d services, %d inhibit rules, %d unmapped", len(f.Services), inhibit, len(f.Unmapped))
			}
			for i, s := range f.Services {
				if s.Condition != r.Services[i].Condition {
					t.Errorf("%s: condition changed in YAML: %q", s.Name, s.Condition)
				}
				for j, w := range s.Maintenance {
					if !w.Start.Equal(r.Services[i].Maintenance[j].Start) || !w.End.Equal(r.Services[i].Maintenance[j].End) {
						t.Errorf("%s: window %d changed in YAML: %+v", s.Name, j, w)
					}
				}
				if err := s.Normalize(); err != nil {
					t.Errorf("service %s does not validate: %v", s.Name, err)
				}
			}
		})
	}
}

func TestReport(t *testing.T) {
	r := importFile(t, "intervals.yml")
	rep := r.Report()
	if !strings.HasPrefix(rep, "Imported 4 service(s), 2 inhibit rule(s); ") {
		t.Errorf("summary line: %s", rep)
	}
	// Every unmapped item is listed with its path.
	for _, f := range r.Unmapped {
		if !strings.Contains(rep, "  - "+f.Path+": "+f.What) {
			t.Errorf("report lacks %s", f.Path)
		}
	}
	for _, want := range []string{"1. payments (policy payments)", "Create these escalation policies first: payments, db, ops, default", "Not mapped", "Notes:"} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q:\n%s", want, rep)
		}
	}
	empty := Result{}.Report()
	if !strings.HasPrefix(empty, "Imported 0 service(s)") || strings.Contains(empty, "Not mapped") {
		t.Errorf("empty report: %q", empty)
	}
	if b, err := (Result{}).YAML(); err != nil || !strings.Contains(string(b), "services: []") {
		t.Errorf("empty YAML: %s, %v", b, err)
	}
}
