package amconfig

import (
	"errors"
	"os"
	"testing"

	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/validation"
)

// FuzzImport: Import never panics; a refusal is a field error naming a
// path; what it makes validates as vigil services and renders.
func FuzzImport(f *testing.F) {
	for _, name := range []string{"simple.yml", "intervals.yml"} {
		if b, err := os.ReadFile("testdata/" + name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Import(b, Options{Now: testNow})
		if err != nil {
			var fe *validation.FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("error without a path: %v", err)
			}
			return
		}
		for _, s := range r.Services {
			if err := s.Normalize(); err != nil {
				t.Fatalf("service %q does not validate: %v\ncondition: %s", s.Name, err, s.Condition)
			}
		}
		if _, err := r.YAML(); err != nil {
			t.Fatal(err)
		}
		_ = r.Report()
	})
}

// FuzzParseMatchers: parsing never panics, and each matcher's CEL
// translation compiles and agrees with the matcher on its own value and
// on an absent label.
func FuzzParseMatchers(f *testing.F) {
	for _, s := range []string{`a="1"`, `{a=~"x|y", b!~"z"}`, `q="say \"hi\""`, `p=~"C:\\temp\.*"`, `"n m"!=""`, `a=b,c=d`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := ParseMatchers(s)
		if err != nil {
			return
		}
		for _, m := range ms {
			if _, err := automation.Compile(m.CEL()); err != nil {
				t.Fatalf("%s: %v", m.CEL(), err)
			}
			for _, labels := range []map[string]string{{}, {m.Name: m.Value}} {
				if got, want := evalCEL(t, m.CEL(), labels), m.Matches(labels[m.Name]); got != want {
					t.Fatalf("%s on %v: CEL %v, matcher %v", m, labels, got, want)
				}
			}
		}
	})
}
