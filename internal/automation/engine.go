package automation

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cel.dev/cel-go/cel"

	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// CostLimit bounds one evaluation. A builder condition with a few hundred
// values costs a few thousand; a comprehension over a comprehension that
// would run for seconds is stopped here and recorded as an error.
const CostLimit = 1_000_000

// MaxDepth bounds a chain of rule-triggered changes: a change made by a
// rule never triggers rules (the loop guard), and a change made by an
// extension a rule ran (a playbook) triggers them at most this deep.
const MaxDepth = 3

var (
	envOnce sync.Once
	env     *cel.Env
	envErr  error
)

func theEnv() (*cel.Env, error) {
	envOnce.Do(func() { env, envErr = newEnv() })
	return env, envErr
}

// Compile checks a condition and returns its program. A condition that
// does not compile, or is not boolean, is a field error on "condition"
// carrying CEL's message and position.
func Compile(condition string) (cel.Program, error) {
	p, err := compileCached(condition)
	if err != nil {
		return nil, err
	}
	return p.tracked, nil
}

// program is a compiled condition: tracked runs under CEL's cost limit;
// fast, when the condition's worst case over values within the
// vocabulary's bounds is under the limit, runs without tracking, on
// events whose values are within the bounds. vars are the variables the
// condition reads.
type program struct {
	tracked cel.Program
	fast    cel.Program
	vars    varMask
}

func compileCached(condition string) (*program, error) {
	if p, ok := compiled.Load(condition); ok {
		return p.(*program), nil
	}
	p, err := compile(condition)
	if err == nil {
		if compiledN.Add(1) > maxCompiled {
			compiled.Clear()
			compiledN.Store(0)
		}
		compiled.Store(condition, p)
	}
	return p, err
}

// compiled caches programs by condition: reloading 500 rules after one
// changed recompiles one. Programs are safe for concurrent use.
var (
	compiled  sync.Map
	compiledN atomic.Int64
)

const maxCompiled = 10_000

func compile(condition string) (*program, error) {
	e, err := theEnv()
	if err != nil {
		return nil, fmt.Errorf("automation: CEL environment: %w", err)
	}
	if strings.TrimSpace(condition) == "" {
		condition = "true"
	}
	ast, iss := e.Compile(condition)
	if iss != nil && iss.Err() != nil {
		return nil, validation.NewFieldError("condition", "%s", iss.Err().Error())
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return nil, validation.NewFieldError("condition", "must be a boolean expression, not %s", ast.OutputType())
	}
	p := &program{}
	if p.tracked, err = e.Program(ast, cel.CostLimit(CostLimit), cel.EvalOptions(cel.OptOptimize)); err != nil {
		return nil, validation.NewFieldError("condition", "%s", err.Error())
	}
	p.vars = referenced(ast)
	if Bounded(e, ast) {
		if p.fast, err = e.Program(ast, cel.EvalOptions(cel.OptOptimize)); err != nil {
			return nil, validation.NewFieldError("condition", "%s", err.Error())
		}
	}
	return p, nil
}

// Reads returns the vocabulary variables a condition reads, in the
// vocabulary's order. The condition must compile.
func Reads(condition string) ([]string, error) {
	p, err := compileCached(condition)
	if err != nil {
		return nil, err
	}
	var out []string
	for i, v := range Vocabulary {
		if p.vars&(1<<i) != 0 {
			out = append(out, v.Name)
		}
	}
	return out, nil
}

// Compiled is a rule ready to evaluate.
type Compiled struct {
	Rule
	prg    *program
	always bool     // the condition is "true"
	titles []string // lower-cased: the rule can match only these titles (nil: any)
}

// Options configure a Set.
type Options struct {
	Process *workitem.Process
	// CloseState and RemoveState are where close and remove actions move
	// an item; by default the terminal states named Closed and Removed,
	// or the process's first terminal state.
	CloseState, RemoveState string
	// Templates are named checklists for the tasks action.
	Templates map[string][]string
}

// Set is the enabled rules, compiled once and indexed by trigger and
// source, so that a rule that cannot match an event is not evaluated.
// A Set is immutable and safe for concurrent use.
type Set struct {
	opts  Options
	rules []*Compiled
	// index[trigger][source] are the rules that may fire, in order;
	// index[trigger][""] serves sources no rule names.
	index map[Trigger]map[string]*bucket
	// Errors are the rules that did not compile (a stored rule whose
	// vocabulary changed): they are left out, and shown as erroring.
	Errors map[int64]error
}

// bucket is the rules of one trigger and source: those restricted to
// exact titles by their builder, by title, and the rest.
type bucket struct {
	byTitle map[string][]*Compiled
	rest    []*Compiled
}

// NewSet compiles the enabled rules. Expired rules are kept (expiry is
// checked per evaluation, against the caller's clock).
func NewSet(rules []Rule, o Options) *Set {
	s := &Set{opts: o, index: map[Trigger]map[string]*bucket{}, Errors: map[int64]error{}}
	if o.Process != nil {
		if s.opts.CloseState == "" {
			s.opts.CloseState = terminalNamed(o.Process, "Closed")
		}
		if s.opts.RemoveState == "" {
			s.opts.RemoveState = terminalNamed(o.Process, "Removed")
		}
	}
	sorted := slices.Clone(rules)
	slices.SortStableFunc(sorted, func(a, b Rule) int { return cmp.Or(cmp.Compare(a.Order, b.Order), cmp.Compare(a.ID, b.ID)) })
	sources := map[string]bool{"": true}
	for _, r := range sorted {
		if !r.Enabled {
			continue
		}
		prg, err := compileCached(r.Condition)
		if err != nil {
			s.Errors[r.ID] = err
			continue
		}
		c := &Compiled{Rule: r, prg: prg, always: r.Condition == "" || r.Condition == "true", titles: exactTitles(r.Builder, r.Condition)}
		s.rules = append(s.rules, c)
		for _, src := range r.Sources {
			sources[src] = true
		}
	}
	for _, t := range Triggers {
		per := map[string]*bucket{}
		for src := range sources {
			b := &bucket{byTitle: map[string][]*Compiled{}}
			for _, c := range s.rules {
				if !slices.Contains(c.Triggers, string(t)) {
					continue
				}
				if len(c.Sources) > 0 && !slices.Contains(c.Sources, src) {
					continue
				}
				if c.titles == nil {
					b.rest = append(b.rest, c)
					continue
				}
				for _, title := range c.titles {
					b.byTitle[title] = append(b.byTitle[title], c)
				}
			}
			// Each title's list holds the rules for any title too, in
			// order, so that an evaluation merges nothing.
			for title, titled := range b.byTitle {
				b.byTitle[title] = mergeOrdered(titled, b.rest)
			}
			per[src] = b
		}
		s.index[t] = per
	}
	return s
}

func terminalNamed(p *workitem.Process, name string) string {
	var firstTerminal string
	for _, st := range p.StateNames() {
		if p.Terminal(st) {
			if strings.EqualFold(st, name) {
				return st
			}
			if firstTerminal == "" {
				firstTerminal = st
			}
		}
	}
	return firstTerminal
}

// exactTitles returns the titles a builder's "title equals" row pins an
// all-rows builder to, lower-cased; nil when the rule may match any. A
// condition edited by hand after the builder wrote it is not the
// builder's, and pins nothing.
func exactTitles(b *Builder, condition string) []string {
	if b == nil || (b.Match != "all" && len(b.Rows) > 1) {
		return nil
	}
	cp := *b // CEL normalizes the builder in place; leave the rule's alone
	if cond, err := cp.CEL(); err != nil || cond != condition {
		return nil
	}
	for _, r := range b.Rows {
		if r.Property == "title" && r.Operator == OpEquals && len(r.Values) > 0 {
			out := make([]string, len(r.Values))
			for i, v := range r.Values {
				out[i] = strings.ToLower(v)
			}
			return out
		}
	}
	return nil
}

// Has reports whether any enabled rule listens to t.
func (s *Set) Has(t Trigger) bool {
	if s == nil {
		return false
	}
	for _, b := range s.index[t] {
		if len(b.rest) > 0 || len(b.byTitle) > 0 {
			return true
		}
	}
	return false
}

// Len is the number of compiled, enabled rules.
func (s *Set) Len() int { return len(s.rules) }

// Rules returns the compiled rules in order.
func (s *Set) Rules() []*Compiled { return s.rules }

// Options returns the set's options.
func (s *Set) Options() Options { return s.opts }

// candidates are the rules that may fire on ev, in order.
func (s *Set) candidates(ev *Event, title string) []*Compiled {
	per := s.index[ev.Trigger]
	if per == nil {
		return nil
	}
	b := per[ev.Source]
	if b == nil {
		b = per[""]
	}
	if titled, ok := b.byTitle[strings.ToLower(title)]; ok {
		return titled
	}
	return b.rest
}

// mergeOrdered merges two lists of rules, each in run order, into one.
func mergeOrdered(a, b []*Compiled) []*Compiled {
	out := make([]*Compiled, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if cmp.Or(cmp.Compare(a[0].Order, b[0].Order), cmp.Compare(a[0].ID, b[0].ID)) <= 0 {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// IsRuleActor reports whether actor is a rule (Rule.Ref): the loop guard.
func IsRuleActor(actor string) bool { return strings.HasPrefix(actor, "rule:") }

// Evaluate runs the rules on ev in order and applies their actions to
// ev.Item in memory. Each rule sees what the earlier ones left; a hit on
// a rule with Stop ends the run, and so does a suppression. It never
// fails: an evaluation error is reported in the result and the next rule
// runs. The caller persists the result.
func (s *Set) Evaluate(ev *Event, now time.Time) *Result {
	res := &Result{Item: ev.Item}
	if s == nil || len(s.rules) == 0 {
		return res
	}
	if IsRuleActor(ev.Actor) || ev.Depth >= MaxDepth {
		// The loop guard: a change a rule made never triggers rules,
		// and a chain through extensions stops at MaxDepth.
		return res
	}
	act := newActivation(ev)
	title, _ := act.ResolveName("title")
	for _, c := range s.candidates(ev, title.(string)) {
		if c.Expired(now) || c.Pending(now) {
			continue
		}
		matched := c.always
		if !matched {
			prg := c.prg.tracked
			if c.prg.fast != nil && act.fits(c.prg.vars) {
				prg = c.prg.fast
			}
			out, _, err := prg.Eval(act)
			if err != nil {
				res.Errors = append(res.Errors, RuleError{RuleID: c.ID, Name: c.Name, Version: c.Version, Err: err.Error()})
				continue
			}
			b, ok := out.Value().(bool)
			if !ok {
				res.Errors = append(res.Errors, RuleError{RuleID: c.ID, Name: c.Name, Version: c.Version, Err: "condition is not a boolean"})
				continue
			}
			matched = b
		}
		if !matched {
			continue
		}
		hit := s.apply(c, ev, res)
		res.Hits = append(res.Hits, hit)
		// Later rules see the changed item.
		ev.Item = res.Item
		act.cache, act.checked, act.over = nil, 0, 0
		if res.Suppressed != nil || c.Stop {
			res.Stopped = c.Stop
			break
		}
	}
	return res
}

// Result is what a run of rules did to one event.
type Result struct {
	Item       workitem.Item // the item after the actions
	Hits       []Hit
	Errors     []RuleError
	Suppressed *Hit
	Stopped    bool
	// Moves are the state changes, in order (a close is one, with its
	// classification).
	Moves    []Move
	Tasks    []NewTask
	Comments []NewComment
	// Deferred are the actions that run after commit, through the
	// outbox: playbooks and pages (extension points).
	Deferred []DeferredAction
}

// Changed reports whether any rule hit.
func (r *Result) Changed() bool { return len(r.Hits) > 0 }

// Move is one state change by a rule.
type Move struct {
	From, To, Reason string
	Classification   string // close and remove only
	Rule             string // the rule's Ref
}

// NewTask is a checklist entry a rule adds.
type NewTask struct{ Title, Rule string }

// NewComment is a comment a rule adds.
type NewComment struct{ Text, Rule string }

// DeferredAction is an extension action to run after commit.
type DeferredAction struct {
	RuleID  int64      `json:"rule_id"`
	Rule    string     `json:"rule"`
	Action  ActionSpec `json:"action"`
	Trigger Trigger    `json:"trigger"`
}

// Hit is one rule that matched, and what it did: the timeline entry's
// content.
type Hit struct {
	RuleID    int64      `json:"rule_id"`
	Name      string     `json:"rule"`
	Version   int        `json:"version"`
	Condition string     `json:"condition"`
	Trigger   Trigger    `json:"trigger"`
	Actions   []Applied  `json:"actions"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Stop      bool       `json:"stop,omitempty"`
	Closed    bool       `json:"closed,omitempty"`
}

// Applied is one action as taken.
type Applied struct {
	Type    string `json:"type"`
	Summary string `json:"summary"`
	Error   string `json:"error,omitempty"`
}

// Message is the hit's one-line explanation for a timeline.
func (h *Hit) Message() string {
	var parts []string
	for _, a := range h.Actions {
		s := a.Summary
		if a.Error != "" {
			s += " (failed: " + a.Error + ")"
		}
		parts = append(parts, s)
	}
	msg := fmt.Sprintf("rule %q (v%d) matched on %s: %s", h.Name, h.Version, h.Trigger, strings.Join(parts, "; "))
	if h.ExpiresAt != nil {
		msg += "; the rule expires " + h.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if h.Stop {
		msg += "; later rules skipped"
	}
	return msg
}

// RuleError is a rule whose condition failed at evaluation time (a
// missing key, a wrong type, the cost limit).
type RuleError struct {
	RuleID  int64  `json:"rule_id"`
	Name    string `json:"rule"`
	Version int    `json:"version"`
	Err     string `json:"error"`
}

// Message is the error's timeline line.
func (e RuleError) Message() string {
	return fmt.Sprintf("rule %q (v%d) could not be evaluated: %s", e.Name, e.Version, e.Err)
}

// ErrNoState reports a move to a state the process does not know.
var ErrNoState = errors.New("unknown state")
