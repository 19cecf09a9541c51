package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// filter is the board's and the triage queue's filter, kept in the URL so
// that a filtered board can be bookmarked and shared.
type filter struct {
	Type, Severity, Source, Assignee, Tag, Q string
	// Sort orders each column (workitem.Sort*); it does not filter, so
	// it is kept in the URL but does not make the filter Active.
	Sort string
	All  bool
}

func parseFilter(q url.Values) filter {
	get := func(k string) string { return strings.TrimSpace(q.Get(k)) }
	return filter{Type: get("type"), Severity: get("severity"), Source: get("source"), Assignee: get("assignee"),
		Tag: strings.ToLower(get("tag")), Q: get("q"), Sort: get("sort"), All: q.Get("all") == "1"}
}

// Encode is the filter as a query string, without the leading "?".
func (f filter) Encode() string {
	q := url.Values{}
	for k, v := range map[string]string{"type": f.Type, "severity": f.Severity, "source": f.Source,
		"assignee": f.Assignee, "tag": f.Tag, "q": f.Q, "sort": f.Sort} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.All {
		q.Set("all", "1")
	}
	return q.Encode()
}

// AllURL is the board under the filter with every card shown. It is built
// here, not in the template, where html/template would query-escape the
// encoded filter as one value.
func (f filter) AllURL() string {
	f.All = true
	return "/board?" + f.Encode()
}

// MineURL is the page under the filter with the "mine" filter toggled:
// one click shows the items assigned to the signed-in user, the next
// shows everyone's again.
func (f filter) MineURL(path string) string {
	if f.Mine() {
		f.Assignee = ""
	} else {
		f.Assignee = "me"
	}
	f.All = false
	if q := f.Encode(); q != "" {
		return path + "?" + q
	}
	return path
}

// Mine reports whether the "mine" filter is on.
func (f filter) Mine() bool { return f.Assignee == "me" }

// ClearURL is the page with every filter cleared and the sort kept.
func (f filter) ClearURL(path string) string {
	if f.Sort == "" {
		return path
	}
	return path + "?" + url.Values{"sort": {f.Sort}}.Encode()
}

// Active reports whether any filter is set.
func (f filter) Active() bool {
	return f.Type != "" || f.Severity != "" || f.Source != "" || f.Assignee != "" || f.Tag != "" || f.Q != ""
}

func (f filter) workitem(v *view) (workitem.Filter, error) {
	wf := workitem.Filter{Type: workitem.Type(f.Type), Severity: alert.Severity(f.Severity), Source: f.Source,
		Assignee: f.Assignee, Tag: f.Tag, Text: f.Q, Sort: f.Sort, HideMerged: true}
	if f.Assignee == "me" {
		wf.Assignee = v.Actor.Name
	}
	if f.Severity != "" && !wf.Severity.Valid() {
		return wf, validation.NewFieldError("severity", "unknown severity %q", f.Severity)
	}
	if !slices.ContainsFunc(sorts, func(s sortChoice) bool { return s.Value == f.Sort }) {
		return wf, validation.NewFieldError("sort", "unknown sort %q (want oldest, severity or activity)", f.Sort)
	}
	return wf, nil
}

// sortChoice is one order the board's columns can be sorted in.
type sortChoice struct{ Value, Label string }

// Choices for the filter bar.
var (
	types      = []workitem.Type{workitem.TypeIssue, workitem.TypeProblem, workitem.TypeTask}
	severities = []alert.Severity{alert.SeverityCritical, alert.SeverityHigh, alert.SeverityMedium, alert.SeverityLow, alert.SeverityInformational}
	sources    = []string{"sentinel", "defender", "graph", "alertmanager", "pagerduty", "azure-monitor", "api"}
	sorts      = []sortChoice{{workitem.SortNewest, "newest"}, {workitem.SortOldest, "oldest (age)"},
		{workitem.SortSeverity, "severity"}, {workitem.SortActivity, "last activity"}}
)

type move struct {
	To     string
	Reason bool
}

type cardView struct {
	workitem.Item
	Moves   []move
	CanMove bool
	CSRF    string
	Me      string // the signed-in user, offered "Assign to me" on others' cards
	age     string // how long ago the item was created
	seen    string // how long ago its last alert came, as a phrase
}

// EntityKind and EntityValue split KeyEntity ("host vm-web-01"), so that
// the kind reads as a label and the value stands out.
func (c cardView) EntityKind() string {
	k, _, _ := strings.Cut(c.KeyEntity, " ")
	return k
}

// EntityValue is KeyEntity's value; see EntityKind.
func (c cardView) EntityValue() string {
	_, v, _ := strings.Cut(c.KeyEntity, " ")
	return v
}

// CanAssignMe reports whether the card offers "Assign to me": to users
// who may edit items, on open items assigned to someone else or no one.
func (c cardView) CanAssignMe() bool {
	return c.CanMove && len(c.Moves) > 0 && c.Me != "" && c.Assignee != c.Me
}

type columnView struct {
	workitem.Column
	Cards []cardView
	More  int // matching items not shown
}

type boardData struct {
	Filter     filter
	Columns    []columnView
	Types      []workitem.Type
	Severities []alert.Severity
	Sources    []string
	Sorts      []sortChoice
	Presets    []string
	Total      int
}

// moves lists, per state, where an item may go and whether the move needs
// a reason.
func (u *UI) moves() map[string][]move {
	p := u.o.Items.Process()
	out := map[string][]move{}
	for _, s := range p.StateNames() {
		for _, to := range p.Next(s) {
			out[s] = append(out[s], move{To: to, Reason: p.CheckTransition(s, to, "") != nil})
		}
	}
	return out
}

func (u *UI) cards(items []workitem.Item, v *view, moves map[string][]move) []cardView {
	out := make([]cardView, len(items))
	can := v.CanTriage()
	for i, it := range items {
		out[i] = u.card1(it, v.Actor.Name, moves[it.State], can, v.CSRF)
	}
	return out
}

// card1 is the view of one card.
func (u *UI) card1(it workitem.Item, me string, moves []move, canMove bool, csrf string) cardView {
	c := cardView{Item: it, Moves: moves, CanMove: canMove, CSRF: csrf, Me: me, age: u.age(it.CreatedAt)}
	if it.AlertCount > 0 {
		c.seen = u.ago(it.LastSeen)
	}
	return c
}

// HTML is the card's markup: the "card-template" template's, byte for
// byte (TestCardHTML holds the two together), written without
// html/template. A board showing every card renders thousands of them,
// and the template, which reflects on every field, escaper and function
// it calls, took some 50 µs a card: 5,000 cards were 250 ms of template
// work against a budget of 100 ms for the whole page. Every value is
// escaped as html/template escapes it in the same place.
func (c cardView) HTML() template.HTML {
	var b strings.Builder
	b.Grow(1400 + len(c.Title) + 2*len(c.Assignee) + len(c.KeyEntity) + len(c.CSRF) + 16*len(c.Tags) + 150*len(c.Moves))
	id := strconv.FormatInt(c.ID, 10)
	rev := strconv.Itoa(c.Rev)
	w := b.WriteString
	e := func(s string) { escapeHTML(&b, s) }
	w("\n<li class=\"card sev-")
	e(string(c.Severity))
	w(`" id="card-`)
	w(id)
	w(`" data-id="`)
	w(id)
	w(`" data-rev="`)
	w(rev)
	w(`" data-state="`)
	e(c.State)
	w(`" data-next="`)
	for _, m := range c.Moves {
		e(m.To)
		w(" ")
	}
	w(`" data-reason-to="`)
	for _, m := range c.Moves {
		if m.Reason {
			e(m.To)
			w(" ")
		}
	}
	w(`"`)
	if c.CanMove {
		w(` data-movable="true"`)
	}
	w(">\n<div class=\"card-top\"><span class=\"type type-")
	e(strings.ToLower(string(c.Type)))
	w(`">`)
	e(string(c.Type))
	w(`</span><span class="sev sev-`)
	e(string(c.Severity))
	w(`" title="severity `)
	e(string(c.Severity))
	w(`">`)
	e(string(c.Severity))
	w(`</span><span class="src">`)
	e(c.Source)
	w(`</span><time class="age" datetime="`)
	e(c.CreatedAt.UTC().Format(time.RFC3339))
	w(`" title="created `)
	e(c.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	w(`">`)
	e(c.age)
	w("</time></div>\n<a class=\"title\" href=\"/items/")
	w(id)
	w(`">`)
	e(c.Title)
	w("</a>")
	if c.KeyEntity != "" {
		w("\n<p class=\"card-entity\" title=\"key entity\"><span class=\"entity-kind\">")
		e(c.EntityKind())
		w(`</span> `)
		e(c.EntityValue())
		w(`</p>`)
	}
	w("\n<div class=\"card-meta\"><span class=\"id\">#")
	w(id)
	w(`</span>`)
	if c.Assignee != "" {
		w(`<span class="assignee" title="assignee"><span class="avatar sm" aria-hidden="true">`)
		e(initials(c.Assignee))
		w(`</span>`)
		e(c.Assignee)
		w(`</span>`)
	} else {
		w(`<span class="assignee muted">unassigned</span>`)
	}
	w(`</div>`)
	c.writeAlerts(&b)
	if len(c.Tags) > 0 {
		w(`<ul class="tags" aria-label="tags">`)
		for _, t := range c.Tags {
			w(`<li>`)
			e(t)
			w(`</li>`)
		}
		w(`</ul>`)
	}
	if c.CanMove && len(c.Moves) > 0 {
		w("\n<form class=\"moves\" method=\"post\" action=\"/items/")
		w(id)
		w(`/move"><input type="hidden" name="csrf" value="`)
		e(c.CSRF)
		w(`"><input type="hidden" name="rev" value="`)
		w(rev)
		w(`">`)
		for _, m := range c.Moves {
			if m.Reason {
				w(`<a class="move button" href="/items/`)
				w(id)
				w(`/move?to=`)
				escapeQuery(&b, m.To)
				w(`" data-to="`)
				e(m.To)
				w(`" data-reason="true">`)
				e(m.To)
				w(`…</a>`)
			} else {
				w(`<button class="move" name="to" value="`)
				e(m.To)
				w(`" data-to="`)
				e(m.To)
				w(`">`)
				e(m.To)
				w(`</button>`)
			}
		}
		if c.CanAssignMe() {
			w(`<button class="assign-me" formaction="/items/`)
			w(id)
			w(`/assign" hx-post="/items/`)
			w(id)
			w(`/assign" hx-target="closest .card" hx-swap="outerHTML">Assign to me</button>`)
		}
		w(`</form>`)
	}
	w("\n</li>")
	return template.HTML(b.String())
}

// writeAlerts writes the card's alert line: how many alerts, how long
// since the last one, and whether the source has resolved them all.
func (c cardView) writeAlerts(b *strings.Builder) {
	if c.AlertCount <= 0 && c.SourceResolvedAt == nil {
		return
	}
	w := b.WriteString
	w("\n<div class=\"card-alerts\">")
	if c.AlertCount > 0 {
		w(`<span class="alerts">`)
		w(thousands(c.AlertCount))
		w(` alert`)
		if c.AlertCount != 1 {
			w(`s`)
		}
		w(`</span><time class="seen" datetime="`)
		escapeHTML(b, c.LastSeen.UTC().Format(time.RFC3339))
		w(`" title="last alert `)
		escapeHTML(b, c.LastSeen.UTC().Format("2006-01-02 15:04:05 UTC"))
		w(`">last alert `)
		escapeHTML(b, c.seen)
		w(`</time>`)
	}
	if c.SourceResolvedAt != nil {
		w(`<span class="resolved" title="every alert resolved at its source `)
		escapeHTML(b, c.SourceResolvedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
		w(`">resolved at source</span>`)
	}
	w(`</div>`)
}

// buffers holds the buffers pages are rendered into, so that a large page
// (a board showing every card is megabytes) does not grow and clear a new
// buffer each time.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// bigBuffers keeps a few large buffers besides the pool, which drops what
// it holds at every GC: a board of every card allocates enough to run the
// GC during its own render, so its megabytes rarely survived in the pool
// and every such page grew a buffer again, doubling through 14 MB of
// copies.
var bigBuffers = make(chan *bytes.Buffer, 2)

// bigBuffer is the size from which a buffer is kept in bigBuffers.
const bigBuffer = 1 << 20

func getBuffer() *bytes.Buffer {
	select {
	case b := <-bigBuffers:
		b.Reset()
		return b
	default:
	}
	b := buffers.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

func putBuffer(b *bytes.Buffer) {
	if b.Cap() > 32<<20 {
		return
	}
	if b.Cap() >= bigBuffer {
		select {
		case bigBuffers <- b:
			return
		default:
		}
	}
	buffers.Put(b)
}

// escapeHTML writes s escaped as html/template escapes text and quoted
// attribute values (other bytes, invalid UTF-8 included, pass as they are).
func escapeHTML(b *strings.Builder, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var repl string
		switch s[i] {
		case 0:
			repl = "\uFFFD"
		case '"':
			repl = "&#34;"
		case '&':
			repl = "&amp;"
		case '\'':
			repl = "&#39;"
		case '+':
			repl = "&#43;"
		case '<':
			repl = "&lt;"
		case '>':
			repl = "&gt;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(repl)
		last = i + 1
	}
	b.WriteString(s[last:])
}

// escapeQuery writes s escaped as html/template escapes a value in a URL's
// query: every byte but RFC 3986's unreserved ones percent-encoded.
func escapeQuery(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
}

func (u *UI) board(w http.ResponseWriter, r *http.Request, v *view) {
	f := parseFilter(r.URL.Query())
	wf, err := f.workitem(v)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	limit := u.o.PerColumn
	if f.All {
		limit = 1 << 20
	}
	cols, err := u.o.Items.Board(r.Context(), v.Actor, wf, limit)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	moves := u.moves()
	d := boardData{Filter: f, Types: types, Severities: severities, Sources: sources, Sorts: sorts, Presets: u.o.ReasonPresets}
	// Work in progress reads left to right; the final states close the
	// board, where they do not split the flow.
	slices.SortStableFunc(cols, func(a, b workitem.Column) int {
		switch {
		case a.Terminal == b.Terminal:
			return 0
		case a.Terminal:
			return 1
		}
		return -1
	})
	for _, c := range cols {
		d.Columns = append(d.Columns, columnView{Column: c, Cards: u.cards(c.Items, v, moves), More: c.Count - len(c.Items)})
		d.Total += c.Count
	}
	v.Title, v.Nav, v.Data = "Board", "board", d
	name := "board.html"
	if r.Header.Get("HX-Target") == "board" {
		name = "board-columns"
	}
	u.render(w, http.StatusOK, name, v)
}

// card renders one card for the live updates, 204 when the item does not
// match the board's filter any more, with the columns' counts in a header.
func (u *UI) card(w http.ResponseWriter, r *http.Request, v *view) {
	id, err := pathID(r, "id")
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	f := parseFilter(r.URL.Query())
	wf, err := f.workitem(v)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	it, err := u.o.Items.Get(r.Context(), v.Actor, id)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	if err := u.countsHeader(w, r, v, wf); err != nil {
		u.fail(w, r, v, err)
		return
	}
	ok, err := u.matches(r.Context(), it, wf)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	if !ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	u.renderData(w, http.StatusOK, "card", u.cards([]workitem.Item{it}, v, u.moves())[0])
}

// assign assigns an item to the signed-in user from its card. It is the
// item edit (the service's role check, and the stale check against the
// card's rev) with one field. htmx gets the card back as the board's
// filter shows it (nothing when it no longer matches); a plain form goes
// back to the board it came from.
func (u *UI) assign(w http.ResponseWriter, r *http.Request, v *view) {
	id, err := pathID(r, "id")
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	rev, err := optionalInt(r.PostFormValue("rev"), "rev")
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	me := v.Actor.Name
	it, err := u.o.Items.Update(r.Context(), v.Actor, id, workitem.Patch{Assignee: &me}, rev)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	u.feed.Poke()
	page := boardPage(r)
	if !isScript(r) {
		http.Redirect(w, r, page.String(), http.StatusSeeOther)
		return
	}
	wf, err := parseFilter(page.Query()).workitem(v)
	if err == nil {
		err = u.countsHeader(w, r, v, wf)
	}
	ok := false
	if err == nil {
		ok, err = u.matches(r.Context(), it, wf)
	}
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	if !ok {
		// An empty answer: htmx swaps the card out.
		w.WriteHeader(http.StatusOK)
		return
	}
	u.renderData(w, http.StatusOK, "card", u.cards([]workitem.Item{it}, v, u.moves())[0])
}

// boardPage is the board page a card's form was sent from, with its
// filter: htmx names it in HX-Current-URL, a plain form in the Referer.
// Anything that is not this site's board is the plain board.
func boardPage(r *http.Request) *url.URL {
	for _, ref := range []string{r.Header.Get("HX-Current-URL"), r.Referer()} {
		p, err := url.Parse(ref)
		if err != nil || p.Host != r.Host || p.Path != "/board" {
			continue
		}
		return &url.URL{Path: p.Path, RawQuery: p.RawQuery}
	}
	return &url.URL{Path: "/board"}
}

// countsHeader puts each column's count under the filter in X-Board-Counts,
// so that a live update keeps the headers exact.
func (u *UI) countsHeader(w http.ResponseWriter, r *http.Request, v *view, wf workitem.Filter) error {
	cols, err := u.o.Items.Board(r.Context(), v.Actor, wf, 0)
	if err != nil {
		return err
	}
	counts := map[string]int{}
	for _, c := range cols {
		counts[c.State] = c.Count
	}
	b, _ := json.Marshal(counts)
	w.Header().Set("X-Board-Counts", string(b))
	return nil
}

// matches applies a board filter to one item, as the store's query does;
// the text filter reads the item's stored search text when the title
// alone does not match.
func (u *UI) matches(ctx context.Context, it workitem.Item, f workitem.Filter) (bool, error) {
	if !matchesFields(it, f) {
		return false, nil
	}
	if f.Text == "" || matchesText(it.Title, "", f.Text) {
		return true, nil
	}
	search, err := u.o.Records.ItemSearchText(ctx, it.ID)
	if err != nil {
		return false, err
	}
	return matchesText("", search, f.Text), nil
}

// matchesFields applies every filter but the text to one item. Merged
// items never show on the board.
func matchesFields(it workitem.Item, f workitem.Filter) bool {
	switch {
	case it.MergedInto != 0,
		f.Type != "" && it.Type != f.Type,
		f.Severity != "" && it.Severity != f.Severity,
		f.Source != "" && it.Source != f.Source,
		f.Assignee != "" && it.Assignee != f.Assignee,
		f.Tag != "" && !slices.Contains(it.Tags, f.Tag):
		return false
	}
	return true
}

// matchesText is the board's text filter, the store's rule (see
// conds.search in internal/store): text, lower-cased with Go's Unicode
// rules, is a substring of the stored search text (lower-cased the same
// way when it was stored) or of the lower-cased title.
func matchesText(title, search, text string) bool {
	q := strings.ToLower(text)
	return strings.Contains(search, q) || strings.Contains(strings.ToLower(title), q)
}

// optionalInt parses a form or query number that may be absent (0), and
// names the field when it is malformed rather than ignoring it: a mangled
// rev must not silently turn off the stale-edit check.
func optionalInt(s, field string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, validation.NewFieldError(field, "must be a non-negative integer")
	}
	return n, nil
}

func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, validation.NewFieldError(name, "must be a positive integer")
	}
	return id, nil
}

type moveData struct {
	Item    workitem.Item
	To      string
	Reason  bool
	Presets []string
	Back    string
	Error   string
}

// moveForm asks for the reason of a move that needs one: a dialog for
// app.js, a page without JavaScript.
func (u *UI) moveForm(w http.ResponseWriter, r *http.Request, v *view) {
	id, err := pathID(r, "id")
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	it, err := u.o.Items.Get(r.Context(), v.Actor, id)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	to := r.URL.Query().Get("to")
	p := u.o.Items.Process()
	if err := p.CheckTransition(it.State, to, "x"); err != nil {
		u.fail(w, r, v, err)
		return
	}
	d := moveData{Item: it, To: to, Reason: p.CheckTransition(it.State, to, "") != nil, Presets: u.o.ReasonPresets,
		Back: localPath(r.URL.Query().Get("back"))}
	v.Title, v.Nav, v.Data = fmt.Sprintf("Move #%d to %s", it.ID, to), "board", d
	name := "move.html"
	if isScript(r) {
		name = "move-form"
	}
	u.render(w, http.StatusOK, name, v)
}

// move applies a move from a card's button, a drag or the reason form.
// Scripts get the card back (and the counts); a plain form redirects.
func (u *UI) move(w http.ResponseWriter, r *http.Request, v *view) {
	id, err := pathID(r, "id")
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	rev, err := optionalInt(r.PostFormValue("rev"), "rev")
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	to, reason := r.PostFormValue("to"), r.PostFormValue("reason")
	it, err := u.o.Items.Transition(r.Context(), v.Actor, id, to, reason, rev)
	if err != nil {
		if !isScript(r) && isFieldErr(err) {
			// Show the form again with the message, keeping what was typed.
			cur, gerr := u.o.Items.Get(r.Context(), v.Actor, id)
			if gerr == nil {
				v.Title, v.Nav = fmt.Sprintf("Move #%d to %s", id, to), "board"
				v.Data = moveData{Item: cur, To: to, Reason: true, Presets: u.o.ReasonPresets,
					Back: localPath(r.PostFormValue("back")), Error: err.Error()}
				u.render(w, http.StatusBadRequest, "move.html", v)
				return
			}
		}
		u.fail(w, r, v, err)
		return
	}
	u.feed.Poke()
	if !isScript(r) {
		back(w, r, "/board")
		return
	}
	f := parseFilter(formQuery(r))
	wf, _ := f.workitem(v)
	if err := u.countsHeader(w, r, v, wf); err != nil {
		u.fail(w, r, v, err)
		return
	}
	u.renderData(w, http.StatusOK, "card", u.cards([]workitem.Item{it}, v, u.moves())[0])
}

// formQuery is the board filter a script sent along with a form.
func formQuery(r *http.Request) url.Values {
	q, _ := url.ParseQuery(r.PostFormValue("filter"))
	return q
}

// localPath returns ref if it is a clean path on this site
// (safeLocalPath), else "".
func localPath(ref string) string {
	p, _ := safeLocalPath(ref)
	return p
}

func isFieldErr(err error) bool {
	var fe *validation.FieldError
	return errors.As(err, &fe)
}
