package workitem

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/vigil-soc/vigil/internal/validation"
)

// FuzzParseProcess fuzzes the process file (process_file). Its seed
// corpus, in testdata/fuzz/FuzzParseProcess/, holds the built-in process
// and the test files in testdata/.
func FuzzParseProcess(f *testing.F) {
	f.Add(defaultProcessYAML)
	for _, s := range []string{
		"states:\n  - name: A\n    initial: true\n  - name: B\n    terminal: true\ntransitions:\n  - from: A\n    to: [B]\n    reason_required: true\non_source_resolved: B\ntypes: {x: Task}\n",
		"states: [{name: A, initial: true}, {name: A}]\n",
		"states: []\n",
		"states:\n  - name: A\n    initial: true\n    color: red\n",
		"{",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProcess(b)
		if err != nil {
			var fe *validation.FieldError
			if !strings.HasPrefix(err.Error(), "parse: ") && (!errors.As(err, &fe) || fe.Field == "") {
				t.Fatalf("error %q is neither a YAML error nor names a field", err)
			}
			return
		}
		checkProcess(t, p)
		// Written out and read back, the process must be the same one:
		// the UI and the API show the process this way.
		out, err := yaml.Marshal(p)
		if err != nil {
			t.Fatalf("marshal accepted process: %v", err)
		}
		back, err := ParseProcess(out)
		if err != nil {
			t.Fatalf("accepted process does not parse again: %v\n%s", err, out)
		}
		if d := processDiff(p, back); d != "" {
			t.Fatalf("process differs after a round trip: %s\n%s", d, out)
		}
	})
}

// checkProcess holds a parsed process to what the board relies on.
func checkProcess(t *testing.T, p *Process) {
	t.Helper()
	if !p.Known(p.Initial()) {
		t.Fatalf("initial state %q is unknown", p.Initial())
	}
	names := p.StateNames()
	if len(names) != len(p.States) || len(names) == 0 {
		t.Fatalf("state names %q for %d states", names, len(p.States))
	}
	for _, s := range names {
		if strings.TrimSpace(s) == "" {
			t.Fatalf("blank state name in %q", names)
		}
		for _, to := range p.Next(s) {
			switch {
			case !p.Known(to):
				t.Fatalf("%s → %s: unknown target", s, to)
			case to == s:
				t.Fatalf("%s → %s: a transition to itself", s, to)
			case p.Terminal(s):
				t.Fatalf("%s → %s: terminal states have no transitions", s, to)
			case !p.Allowed(s, to):
				t.Fatalf("%s → %s listed in Next but not Allowed", s, to)
			}
		}
	}
	if p.OnSourceResolved != "" && !p.Known(p.OnSourceResolved) {
		t.Fatalf("on_source_resolved %q is unknown", p.OnSourceResolved)
	}
}

func processDiff(a, b *Process) string {
	switch {
	case !reflect.DeepEqual(a.States, b.States):
		return "states"
	case a.Initial() != b.Initial():
		return "initial state"
	case a.OnSourceResolved != b.OnSourceResolved:
		return "on_source_resolved"
	case len(a.Types) != len(b.Types) || (len(a.Types) > 0 && !reflect.DeepEqual(a.Types, b.Types)):
		return "types"
	}
	for _, s := range a.StateNames() {
		if !slices.Equal(a.Next(s), b.Next(s)) {
			return "transitions from " + s
		}
		for _, to := range a.Next(s) {
			if a.reason[[2]string{s, to}] != b.reason[[2]string{s, to}] {
				return "reason_required of " + s + " → " + to
			}
		}
	}
	return ""
}
