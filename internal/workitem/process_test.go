package workitem

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/validation"
)

func TestDefaultProcessStates(t *testing.T) {
	p := DefaultProcess()
	// Board order is the YAML order; the UI draws columns from it.
	wantStates := []string{"New", "Approved", "Removed", "Active", "Verification", "Closed"}
	if got := p.StateNames(); !slices.Equal(got, wantStates) {
		t.Errorf("StateNames() = %v, want %v", got, wantStates)
	}
	if got := p.Initial(); got != "New" {
		t.Errorf("Initial() = %q, want New", got)
	}
	wantOpen := []string{"New", "Approved", "Active", "Verification"}
	if got := p.OpenStates(); !slices.Equal(got, wantOpen) {
		t.Errorf("OpenStates() = %v, want %v", got, wantOpen)
	}
	for _, s := range wantStates {
		if !p.Known(s) {
			t.Errorf("Known(%q) = false, want true", s)
		}
	}
	// States are case-sensitive names, not labels.
	for _, s := range []string{"", "new", "Resolved"} {
		if p.Known(s) {
			t.Errorf("Known(%q) = true, want false", s)
		}
	}
}

func TestDefaultProcessTerminal(t *testing.T) {
	p := DefaultProcess()
	tests := []struct {
		state string
		want  bool
	}{
		{"New", false},
		{"Approved", false},
		{"Removed", true},
		{"Active", false},
		{"Verification", false},
		{"Closed", true},
		// An unknown state is not terminal: the ingest treats an item
		// in a state the process no longer has as still open rather than
		// silently opening a duplicate.
		{"Nonexistent", false},
	}
	for _, tt := range tests {
		if got := p.Terminal(tt.state); got != tt.want {
			t.Errorf("Terminal(%q) = %v, want %v", tt.state, got, tt.want)
		}
	}
}

func TestDefaultProcessNext(t *testing.T) {
	p := DefaultProcess()
	tests := []struct {
		state string
		want  []string
	}{
		{"New", []string{"Approved", "Removed"}},
		{"Approved", []string{"Active"}},
		{"Active", []string{"Verification"}},
		{"Verification", []string{"Closed", "Active"}},
		{"Removed", nil},
		{"Closed", nil},
		{"Nonexistent", nil},
	}
	for _, tt := range tests {
		if got := p.Next(tt.state); !slices.Equal(got, tt.want) {
			t.Errorf("Next(%q) = %v, want %v", tt.state, got, tt.want)
		}
	}
	// Next returns a copy: a caller appending to it must not change the
	// shared, supposedly immutable process.
	n := p.Next("New")
	n[0] = "Hacked"
	if got := p.Next("New"); got[0] != "Approved" {
		t.Errorf("Next(New) after modifying a returned slice = %v, want it unchanged", got)
	}
}

func TestDefaultProcessTypeFor(t *testing.T) {
	p := DefaultProcess()
	tests := []struct {
		source string
		want   Type
	}{
		{"defender", TypeProblem},
		{"sentinel", TypeIssue},
		{"graph", TypeIssue},
		{"alertmanager", TypeIssue}, // via "default"
		{"pagerduty", TypeIssue},    // via "default"
		{"", TypeIssue},
	}
	for _, tt := range tests {
		if got := p.TypeFor(tt.source); got != tt.want {
			t.Errorf("TypeFor(%q) = %q, want %q", tt.source, got, tt.want)
		}
	}
}

func TestCheckTransitionAllowed(t *testing.T) {
	p := DefaultProcess()
	// Every allowed move of the default process, with the reason it
	// needs when the target requires one.
	tests := []struct {
		from, to, reason string
	}{
		{"New", "Approved", ""},
		{"New", "Removed", "false positive"},
		{"Approved", "Active", ""},
		{"Active", "Verification", ""},
		{"Verification", "Closed", "true positive, remediated"},
		{"Verification", "Active", ""},
	}
	for _, tt := range tests {
		if err := p.CheckTransition(tt.from, tt.to, tt.reason); err != nil {
			t.Errorf("CheckTransition(%s → %s, %q) = %v, want nil", tt.from, tt.to, tt.reason, err)
		}
	}
	// A reason is always allowed, even when none is required.
	if err := p.CheckTransition("New", "Approved", "looks real"); err != nil {
		t.Errorf("CheckTransition(New → Approved) with optional reason = %v, want nil", err)
	}
}

func TestCheckTransitionForbidden(t *testing.T) {
	p := DefaultProcess()
	tests := []struct {
		from, to    string
		wantAllowed []string
	}{
		// Skipping a step.
		{"New", "Active", []string{"Approved", "Removed"}},
		{"New", "Closed", []string{"Approved", "Removed"}},
		{"Approved", "Closed", []string{"Active"}},
		// Going backwards.
		{"Active", "New", []string{"Verification"}},
		{"Verification", "Approved", []string{"Closed", "Active"}},
		// Staying put is not a transition.
		{"Active", "Active", []string{"Verification"}},
		// Terminal states have no way out.
		{"Closed", "Active", nil},
		{"Removed", "New", nil},
	}
	for _, tt := range tests {
		t.Run(tt.from+"→"+tt.to, func(t *testing.T) {
			err := p.CheckTransition(tt.from, tt.to, "some reason")
			var ce *validation.ConflictError
			if !errors.As(err, &ce) {
				t.Fatalf("CheckTransition = %v (%T), want *validation.ConflictError", err, err)
			}
			if !slices.Equal(ce.Allowed, tt.wantAllowed) {
				t.Errorf("Allowed = %v, want %v", ce.Allowed, tt.wantAllowed)
			}
			// The message is shown to the user: it must say what was
			// refused and what would have been accepted.
			msg := ce.Error()
			for _, s := range append([]string{tt.from, tt.to}, tt.wantAllowed...) {
				if !strings.Contains(msg, s) {
					t.Errorf("message %q does not name %q", msg, s)
				}
			}
			if len(tt.wantAllowed) == 0 && !strings.Contains(msg, "final") {
				t.Errorf("message %q does not say %s is final", msg, tt.from)
			}
		})
	}
}

// TestCheckTransitionAllowedIsACopy checks that the error's Allowed list
// can be changed without changing the process.
func TestCheckTransitionAllowedIsACopy(t *testing.T) {
	p := DefaultProcess()
	var ce *validation.ConflictError
	if !errors.As(p.CheckTransition("New", "Closed", "x"), &ce) {
		t.Fatal("want a ConflictError")
	}
	ce.Allowed[0] = "Hacked"
	if got := p.Next("New"); got[0] != "Approved" {
		t.Errorf("Next(New) = %v after modifying the error's Allowed", got)
	}
}

func TestCheckTransitionReasonRequired(t *testing.T) {
	p := DefaultProcess()
	tests := []struct {
		from, to, reason string
	}{
		{"New", "Removed", ""},
		{"Verification", "Closed", ""},
		// Whitespace is no reason.
		{"Verification", "Closed", "  \n\t"},
	}
	for _, tt := range tests {
		err := p.CheckTransition(tt.from, tt.to, tt.reason)
		var fe *validation.FieldError
		if !errors.As(err, &fe) {
			t.Errorf("CheckTransition(%s → %s, %q) = %v (%T), want *validation.FieldError", tt.from, tt.to, tt.reason, err, err)
			continue
		}
		if fe.Field != "reason" {
			t.Errorf("CheckTransition(%s → %s) Field = %q, want reason", tt.from, tt.to, fe.Field)
		}
	}
}

func TestCheckTransitionUnknownTarget(t *testing.T) {
	p := DefaultProcess()
	for _, to := range []string{"Resolved", "", "closed"} {
		err := p.CheckTransition("New", to, "x")
		var fe *validation.FieldError
		if !errors.As(err, &fe) {
			t.Errorf("CheckTransition(New → %q) = %v (%T), want *validation.FieldError", to, err, err)
			continue
		}
		if fe.Field != "to" {
			t.Errorf("CheckTransition(New → %q) Field = %q, want to", to, fe.Field)
		}
		// The user is told which states exist.
		if !strings.Contains(fe.Message, "Verification") {
			t.Errorf("message %q does not list the states", fe.Message)
		}
	}
}

func TestParseCustomProcess(t *testing.T) {
	p, err := LoadProcess(filepath.Join("testdata", "custom_process.yaml"))
	if err != nil {
		t.Fatalf("LoadProcess: %v", err)
	}
	if got, want := p.StateNames(), []string{"Open", "Investigating", "Blocked", "Done", "Discarded"}; !slices.Equal(got, want) {
		t.Errorf("StateNames() = %v, want %v", got, want)
	}
	if got := p.Initial(); got != "Open" {
		t.Errorf("Initial() = %q, want Open", got)
	}
	if got, want := p.OpenStates(), []string{"Open", "Investigating", "Blocked"}; !slices.Equal(got, want) {
		t.Errorf("OpenStates() = %v, want %v", got, want)
	}
	// Two transition blocks from the same state are merged, without
	// listing a target twice.
	if got, want := p.Next("Investigating"), []string{"Blocked", "Done"}; !slices.Equal(got, want) {
		t.Errorf("Next(Investigating) = %v, want %v", got, want)
	}

	tests := []struct {
		name             string
		from, to, reason string
		wantField        string // "" for no FieldError
		wantConflict     bool
	}{
		{"plain move", "Open", "Investigating", "", "", false},
		{"terminal with reason", "Open", "Discarded", "duplicate", "", false},
		{"terminal without reason", "Open", "Discarded", "", "reason", false},
		// reason_required on a transition applies though the target
		// state does not require one.
		{"transition reason missing", "Investigating", "Blocked", "", "reason", false},
		{"transition reason given", "Investigating", "Blocked", "waiting for vendor", "", false},
		{"other target of the block needs none", "Investigating", "Done", "", "", false},
		// Blocked → Investigating is a different transition: no reason.
		{"back without reason", "Blocked", "Investigating", "", "", false},
		{"not allowed", "Open", "Done", "x", "", true},
		{"unknown target", "Open", "Closed", "x", "to", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.CheckTransition(tt.from, tt.to, tt.reason)
			var fe *validation.FieldError
			var ce *validation.ConflictError
			switch {
			case tt.wantField != "":
				if !errors.As(err, &fe) || fe.Field != tt.wantField {
					t.Errorf("CheckTransition = %v, want FieldError on %q", err, tt.wantField)
				}
			case tt.wantConflict:
				if !errors.As(err, &ce) {
					t.Errorf("CheckTransition = %v, want ConflictError", err)
				}
			default:
				if err != nil {
					t.Errorf("CheckTransition = %v, want nil", err)
				}
			}
		})
	}

	// No "default" type: unmapped sources fall back to Issue.
	for src, want := range map[string]Type{"defender": TypeProblem, "jira": TypeTask, "sentinel": TypeIssue} {
		if got := p.TypeFor(src); got != want {
			t.Errorf("TypeFor(%q) = %q, want %q", src, got, want)
		}
	}
}

func TestParseProcessErrors(t *testing.T) {
	tests := []struct {
		file      string
		wantField string // the FieldError's field; "" for a YAML error
		wantIn    string // a substring of the message
	}{
		{"duplicate_state.yaml", "states[2].name", `duplicate state "Open"`},
		{"no_initial.yaml", "states", "initial"},
		{"two_initials.yaml", "states[1].initial", `already "Open"`},
		{"unknown_to_state.yaml", "transitions[0].to[1]", `unknown state "Closed"`},
		{"unknown_from_state.yaml", "transitions[0].from", `unknown state "Reopened"`},
		{"from_terminal.yaml", "transitions[1].from", "terminal"},
		{"self_transition.yaml", "transitions[0].to[0]", "itself"},
		{"unknown_type.yaml", "types.defender", `"Incident"`},
		{"no_states.yaml", "states", "at least one state"},
		{"empty_state_name.yaml", "states[1].name", "required"},
		// Parsing is strict, so that a typo in a key is an error instead
		// of a silently ignored setting.
		{"unknown_top_key.yaml", "", "colours"},
		{"unknown_state_key.yaml", "", "wip_limit"},
		{"unknown_transition_key.yaml", "", "too"},
		{"not_yaml.yaml", "", "parse"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "invalid", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			p, err := ParseProcess(b)
			if err == nil {
				t.Fatalf("ParseProcess = %+v, nil; want an error", p)
			}
			if p != nil {
				t.Errorf("ParseProcess returned a process with error %v", err)
			}
			var fe *validation.FieldError
			isField := errors.As(err, &fe)
			switch {
			case tt.wantField != "" && !isField:
				t.Errorf("error = %v (%T), want *validation.FieldError on %q", err, err, tt.wantField)
			case tt.wantField != "" && fe.Field != tt.wantField:
				t.Errorf("Field = %q, want %q (error %q)", fe.Field, tt.wantField, err)
			case tt.wantField == "" && isField:
				t.Errorf("error = %v, want a YAML error, not a FieldError", err)
			}
			if !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("error %q does not contain %q", err, tt.wantIn)
			}
		})
	}
}

func TestLoadProcessErrors(t *testing.T) {
	// A missing file names the problem.
	if _, err := LoadProcess(filepath.Join("testdata", "missing.yaml")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadProcess(missing) = %v, want an error wrapping os.ErrNotExist", err)
	}
	// An invalid file names the file and keeps the FieldError reachable.
	path := filepath.Join("testdata", "invalid", "no_initial.yaml")
	_, err := LoadProcess(path)
	var fe *validation.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("LoadProcess(%s) = %v, want a wrapped *validation.FieldError", path, err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file %s", err, path)
	}
}

// TestDefaultProcessFileIsTheEmbeddedOne checks that the shipped
// default_process.yaml, which users copy as a template, parses on its own.
func TestDefaultProcessFileIsTheEmbeddedOne(t *testing.T) {
	p, err := LoadProcess("default_process.yaml")
	if err != nil {
		t.Fatalf("LoadProcess(default_process.yaml): %v", err)
	}
	if !slices.Equal(p.StateNames(), DefaultProcess().StateNames()) {
		t.Errorf("file states %v differ from DefaultProcess %v", p.StateNames(), DefaultProcess().StateNames())
	}
}
