package report

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/writeback"
)

// History is what the store knows of one work item, for working out its
// facts: the row, its timeline's decisive entries and its pages.
type History struct {
	ID         int64
	Type       string
	Source     string
	Severity   string
	Assignee   string
	State      string
	Title      string
	Created    time.Time
	Closed     *time.Time
	MergedInto int64
	PreviousID int64
	Entries    []Entry // oldest first
	Pages      []Page
	// Rule and AlertType name the detection behind the item (see
	// automation.Detection); the store fills them from the lead alert.
	Rule, AlertType string
}

// Entry is one timeline entry: transitions carry From and To.
type Entry struct {
	At       time.Time
	Actor    string
	Kind     string
	Reason   string
	From, To string
}

// Page is one page of the item.
type Page struct {
	Service string
	Created time.Time
	AckAt   *time.Time
	AckBy   string
}

// Span is a stretch of time an item spent in one state; To is nil while
// it is still there.
type Span struct {
	State string     `json:"s"`
	From  time.Time  `json:"f"`
	To    *time.Time `json:"t,omitempty"`
}

// Fact is one item's row of the reports: every figure is worked out from
// these.
type Fact struct {
	ItemID    int64
	Type      string
	Source    string
	Severity  string
	Assignee  string
	Service   string
	Rule      string
	AlertType string
	Created   time.Time
	// AckAt is the first acknowledgement: a person's first move or
	// change of the item (its assignee, severity, tags), or its page's
	// acknowledgement, whichever came first. AckBy is who.
	AckAt      *time.Time
	AckBy      string
	ClosedAt   *time.Time
	ClosedBy   string // who moved it into its terminal state (a person, "rule:…", "sentinel")
	State      string
	StateSince time.Time
	// Class is the classification of a closed item (TruePositive, …) from
	// its closing reason, as written back to the sources; "" while open.
	Class    string
	Acted    bool // a person did something on the item
	Reopened bool // the item was opened again for a re-fired alert of a closed item
	Merged   bool // folded into another item: counted there, not here
	Spans    []Span
}

// Classifications, as Sentinel names them.
const (
	TruePositive   = "TruePositive"
	BenignPositive = "BenignPositive"
	FalsePositive  = "FalsePositive"
	Undetermined   = "Undetermined"
)

// TTA is the time to acknowledge; ok is false when the item has none.
func (f Fact) TTA() (time.Duration, bool) {
	if f.AckAt == nil {
		return 0, false
	}
	return f.AckAt.Sub(f.Created), true
}

// TTR is the time to resolve (creation to a terminal state).
func (f Fact) TTR() (time.Duration, bool) {
	if f.ClosedAt == nil {
		return 0, false
	}
	return f.ClosedAt.Sub(f.Created), true
}

// IsPerson reports whether a timeline actor is a person: people act
// under their email address (a session's user, an acknowledged page's
// responder). Everything else is named otherwise: a rule
// ("rule:NAME@vN"), an API token or integration key ("token:…",
// "key:…"), a source ("sentinel", "graph", "boards", "NAME-poller", or
// "sentinel:AUTHOR" for a comment made there) and vigil's own parts
// ("vigil", "paging", "enrichment", "inhibition", "threat-intel").
func IsPerson(actor string) bool {
	return strings.Contains(actor, "@") && !strings.Contains(actor, ":")
}

// Terminal reports whether a state ends an item's life; the store's
// History does not know the process, so the caller passes it.
type Terminal func(state string) bool

// Compute works out an item's facts from its history.
func Compute(h History, terminal Terminal) Fact {
	f := Fact{ItemID: h.ID, Type: h.Type, Source: h.Source, Severity: h.Severity, Assignee: h.Assignee,
		Rule: h.Rule, AlertType: h.AlertType, Created: h.Created.UTC(), State: h.State,
		Reopened: h.PreviousID != 0, Merged: h.MergedInto != 0}
	entries := slices.Clone(h.Entries)
	slices.SortStableFunc(entries, func(a, b Entry) int { return a.At.Compare(b.At) })

	// The spans: the item is created in the state its first transition
	// leaves (or its current state when it never moved).
	first := h.State
	for _, e := range entries {
		if e.Kind == "transition" && e.From != "" {
			first = e.From
			break
		}
	}
	cur := Span{State: first, From: f.Created}
	var closing Entry
	for _, e := range entries {
		if e.Kind != "transition" || e.To == "" || e.To == cur.State {
			continue
		}
		at := e.At.UTC()
		if at.Before(cur.From) {
			at = cur.From
		}
		cur.To = &at
		f.Spans = append(f.Spans, cur)
		cur = Span{State: e.To, From: at}
		if terminal(e.To) {
			closing = e
		}
	}
	f.Spans = append(f.Spans, cur)
	f.StateSince = cur.From
	if h.Closed != nil && terminal(h.State) {
		c := h.Closed.UTC()
		f.ClosedAt = &c
		f.Class = Classify(h.State, closing.Reason)
		f.ClosedBy = closing.Actor
	}

	// The first acknowledgement.
	ack := func(at time.Time, by string) {
		at = at.UTC()
		if f.AckAt == nil || at.Before(*f.AckAt) {
			f.AckAt, f.AckBy = &at, by
		}
	}
	// A person's move or assignment acknowledges the item, as a change of
	// owner or status is Sentinel's "time to triage"; a comment or a task
	// is acting on it, not taking it on.
	for _, e := range entries {
		if !IsPerson(e.Actor) {
			continue
		}
		switch e.Kind {
		case "transition", "update":
			f.Acted = true
			ack(e.At, e.Actor)
		case "comment", "task":
			f.Acted = true
		}
	}
	for _, p := range h.Pages {
		if f.Service == "" {
			f.Service = p.Service
		}
		if p.AckAt != nil {
			ack(*p.AckAt, p.AckBy)
			if IsPerson(p.AckBy) {
				f.Acted = true
			}
		}
	}
	if f.AckAt != nil && f.AckAt.Before(f.Created) {
		c := f.Created
		f.AckAt = &c
	}
	return f
}

// Classify is how an item closed into state with reason is classified, as
// the write-back classifies it at the sources.
func Classify(state, reason string) string {
	return writeback.ClosureFor(state, reason).Sentinel
}

// EncodeSpans writes spans compactly for the store: "state from to" per
// span (unix µs; "-" for a span still open), separated by "|". A state
// name never holds "|" (process states are validated as names); JSON and
// its time parsing cost ten times as much to read back.
func EncodeSpans(spans []Span) string {
	var sb strings.Builder
	for i, s := range spans {
		if i > 0 {
			sb.WriteByte('|')
		}
		sb.WriteString(s.State)
		sb.WriteByte(' ')
		sb.WriteString(strconv.FormatInt(s.From.UnixMicro(), 10))
		sb.WriteByte(' ')
		if s.To == nil {
			sb.WriteByte('-')
		} else {
			sb.WriteString(strconv.FormatInt(s.To.UnixMicro(), 10))
		}
	}
	return sb.String()
}

// DecodeSpans reads what EncodeSpans wrote.
func DecodeSpans(v string) ([]Span, error) {
	if v == "" {
		return nil, nil
	}
	var out []Span
	for part := range strings.SplitSeq(v, "|") {
		// The state may hold spaces: the two numbers are the last fields.
		j := strings.LastIndexByte(part, ' ')
		i := strings.LastIndexByte(part[:max(j, 0)], ' ')
		if i <= 0 || j <= i {
			return nil, fmt.Errorf("spans: malformed %q", part)
		}
		from, err := strconv.ParseInt(part[i+1:j], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("spans: malformed %q", part)
		}
		s := Span{State: part[:i], From: time.UnixMicro(from).UTC()}
		if to := part[j+1:]; to != "-" {
			t, err := strconv.ParseInt(to, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("spans: malformed %q", part)
			}
			tt := time.UnixMicro(t).UTC()
			s.To = &tt
		}
		out = append(out, s)
	}
	return out, nil
}
