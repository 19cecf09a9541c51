package workitem

import (
	_ "embed"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/vigil-soc/vigil/internal/yamlfile"

	"github.com/vigil-soc/vigil/internal/validation"
)

//go:embed default_process.yaml
var defaultProcessYAML []byte

// State is one column of the board.
type State struct {
	Name           string `json:"name" yaml:"name"`
	Initial        bool   `json:"initial,omitempty" yaml:"initial"`
	Terminal       bool   `json:"terminal,omitempty" yaml:"terminal"`
	ReasonRequired bool   `json:"reason_required,omitempty" yaml:"reason_required"`
}

// Transition lists the states reachable from one state.
type Transition struct {
	From string   `json:"from" yaml:"from"`
	To   []string `json:"to" yaml:"to"`
	// ReasonRequired forces a reason on these moves even when the target
	// state does not require one.
	ReasonRequired bool `json:"reason_required,omitempty" yaml:"reason_required"`
}

// Process is the set of states and allowed transitions of work items, and
// which type of item each source produces. It is immutable once loaded.
type Process struct {
	States      []State         `json:"states" yaml:"states"`
	Transitions []Transition    `json:"transitions" yaml:"transitions"`
	Types       map[string]Type `json:"types" yaml:"types"`
	// OnSourceResolved names the state an item moves to when every alert
	// of it is resolved or dismissed at its source ("" keeps it where it
	// is). The move happens only where the process allows it from the
	// item's state, and writes nothing back to that source.
	OnSourceResolved string `json:"on_source_resolved,omitempty" yaml:"on_source_resolved"`

	initial string
	byName  map[string]State
	next    map[string][]string
	reason  map[[2]string]bool
}

// DefaultProcess returns the built-in triage workflow:
// New → Approved | Removed, Approved → Active → Verification → Closed | Active.
func DefaultProcess() *Process {
	p, err := ParseProcess(defaultProcessYAML)
	if err != nil {
		panic("default process is invalid: " + err.Error())
	}
	return p
}

// LoadProcess reads a process from a YAML file.
func LoadProcess(path string) (*Process, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read process file: %w", err)
	}
	p, err := ParseProcess(b)
	if err != nil {
		return nil, fmt.Errorf("process file %s: %w", path, err)
	}
	return p, nil
}

// ParseProcess parses and validates a process definition.
func ParseProcess(b []byte) (*Process, error) {
	var p Process
	if err := yamlfile.Strict(b, &p); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if err := p.compile(); err != nil {
		return nil, err
	}
	return &p, nil
}

func (p *Process) compile() error {
	if len(p.States) == 0 {
		return validation.NewFieldError("states", "at least one state is required")
	}
	p.byName = map[string]State{}
	p.next = map[string][]string{}
	p.reason = map[[2]string]bool{}
	for i, s := range p.States {
		if strings.TrimSpace(s.Name) == "" {
			return validation.NewFieldError(fmt.Sprintf("states[%d].name", i), "is required")
		}
		if _, dup := p.byName[s.Name]; dup {
			return validation.NewFieldError(fmt.Sprintf("states[%d].name", i), "duplicate state %q", s.Name)
		}
		p.byName[s.Name] = s
		if s.Initial {
			if p.initial != "" {
				return validation.NewFieldError(fmt.Sprintf("states[%d].initial", i), "only one initial state is allowed (already %q)", p.initial)
			}
			p.initial = s.Name
		}
	}
	if p.initial == "" {
		return validation.NewFieldError("states", "one state must be initial")
	}
	for i, t := range p.Transitions {
		from, ok := p.byName[t.From]
		if !ok {
			return validation.NewFieldError(fmt.Sprintf("transitions[%d].from", i), "unknown state %q", t.From)
		}
		if from.Terminal {
			return validation.NewFieldError(fmt.Sprintf("transitions[%d].from", i), "state %q is terminal and cannot have transitions", t.From)
		}
		for j, to := range t.To {
			if _, ok := p.byName[to]; !ok {
				return validation.NewFieldError(fmt.Sprintf("transitions[%d].to[%d]", i, j), "unknown state %q", to)
			}
			if to == t.From {
				return validation.NewFieldError(fmt.Sprintf("transitions[%d].to[%d]", i, j), "a state cannot transition to itself")
			}
			if !slices.Contains(p.next[t.From], to) {
				p.next[t.From] = append(p.next[t.From], to)
			}
			if t.ReasonRequired {
				p.reason[[2]string{t.From, to}] = true
			}
		}
	}
	if p.OnSourceResolved != "" {
		if _, ok := p.byName[p.OnSourceResolved]; !ok {
			return validation.NewFieldError("on_source_resolved", "unknown state %q", p.OnSourceResolved)
		}
	}
	for src, typ := range p.Types {
		switch typ {
		case TypeIssue, TypeProblem, TypeTask:
		default:
			return validation.NewFieldError("types."+src, "unknown work item type %q (want Issue, Problem or Task)", typ)
		}
	}
	return nil
}

// Allowed reports whether the process has a transition from one state to
// another.
func (p *Process) Allowed(from, to string) bool { return slices.Contains(p.next[from], to) }

// Initial is the state new items start in.
func (p *Process) Initial() string { return p.initial }

// Known reports whether state exists.
func (p *Process) Known(state string) bool {
	_, ok := p.byName[state]
	return ok
}

// Terminal reports whether state ends an item's life. An alert that fires
// again after its item reached a terminal state opens a new item.
func (p *Process) Terminal(state string) bool { return p.byName[state].Terminal }

// Next lists the states reachable from state, in definition order.
func (p *Process) Next(state string) []string { return slices.Clone(p.next[state]) }

// StateNames lists all states in board order.
func (p *Process) StateNames() []string {
	names := make([]string, len(p.States))
	for i, s := range p.States {
		names[i] = s.Name
	}
	return names
}

// OpenStates lists the non-terminal states.
func (p *Process) OpenStates() []string {
	var names []string
	for _, s := range p.States {
		if !s.Terminal {
			names = append(names, s.Name)
		}
	}
	return names
}

// TypeFor returns the work-item type for alerts from source.
func (p *Process) TypeFor(source string) Type {
	if t, ok := p.Types[source]; ok {
		return t
	}
	if t, ok := p.Types["default"]; ok {
		return t
	}
	return TypeIssue
}

// CheckTransition validates moving from → to with reason. A forbidden move
// is a *validation.ConflictError that lists the allowed next states; a
// missing reason is a *validation.FieldError on "reason".
func (p *Process) CheckTransition(from, to, reason string) error {
	if !p.Known(to) {
		return validation.NewFieldError("to", "unknown state %q (states are %s)", to, strings.Join(p.StateNames(), ", "))
	}
	allowed := p.next[from]
	if !slices.Contains(allowed, to) {
		msg := fmt.Sprintf("cannot move from %s to %s", from, to)
		if len(allowed) == 0 {
			msg += fmt.Sprintf("; %s is final", from)
		} else {
			msg += "; allowed: " + strings.Join(allowed, ", ")
		}
		return &validation.ConflictError{Message: msg, Allowed: slices.Clone(allowed)}
	}
	if strings.TrimSpace(reason) == "" && (p.byName[to].ReasonRequired || p.reason[[2]string{from, to}]) {
		return validation.NewFieldError("reason", "a reason is required to move to %s", to)
	}
	return nil
}
