package ui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// maxLinked bounds the alerts an item page loads; an item that grouped
// more links to the API for the rest.
const maxLinked = 50

// maxTimeline bounds the timeline entries one page shows; older entries
// are a link away.
const maxTimeline = 1000

type link struct{ Label, URL string }

type entryView struct {
	workitem.Entry
	Detail string // the entry's data, indented JSON
}

type itemData struct {
	Item     workitem.Item
	Moves    []move
	Timeline []entryView
	Older    int64 // cursor for older entries; 0 when none
	// TimelineAll shows sync traffic too (?timeline=all); by default the
	// timeline shows decisions and people's actions, and HiddenSync
	// counts the sync entries left out.
	TimelineAll bool
	HiddenSync  int
	// The summary the page opens with.
	Description  string
	Tactics      []string
	Entities     []alert.Entity
	MoreEntities int
	// CommentNote says where a comment will be mirrored, or that it
	// stays in vigil.
	CommentNote string
	Comments    []workitem.Comment
	Tasks       []workitem.Task
	TasksDone   int
	Alerts      []alert.Alert
	MoreAlerts  int
	Incidents   []alert.Incident
	Writes      []outbox.Message
	Links       []link
	Severities  []alert.Severity
	Presets     []string
	TagsText    string
	OpenWrites  int
	FailedWrite int
}

func (u *UI) item(w http.ResponseWriter, r *http.Request, v *view) {
	id, err := pathID(r, "id")
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	ctx := r.Context()
	it, err := u.o.Items.Get(ctx, v.Actor, id)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	d := itemData{Item: it, Moves: u.moves()[it.State], Severities: severities, Presets: u.o.ReasonPresets,
		TagsText: strings.Join(it.Tags, ", ")}
	d.TimelineAll = timelineAll(r)
	if !isScript(r) { // a form's outcome ("Enrichment queued") after its redirect
		v.Flash = u.takeFlash(w, r).Text
	}
	if d.Timeline, d.Older, d.HiddenSync, err = u.timeline(r, v, id, d.TimelineAll); err != nil {
		u.fail(w, r, v, err)
		return
	}
	if d.Comments, err = u.o.Items.Comments(ctx, v.Actor, id); err != nil {
		u.fail(w, r, v, err)
		return
	}
	if d.Tasks, err = u.o.Items.Tasks(ctx, v.Actor, id); err != nil {
		u.fail(w, r, v, err)
		return
	}
	for _, t := range d.Tasks {
		if t.Done {
			d.TasksDone++
		}
	}
	for i, aid := range it.AlertIDs {
		if i == maxLinked {
			d.MoreAlerts = len(it.AlertIDs) - maxLinked
			break
		}
		a, err := u.o.Records.GetAlert(ctx, aid)
		if err != nil {
			u.fail(w, r, v, fmt.Errorf("alert %d of item %d: %w", aid, id, err))
			return
		}
		d.Alerts = append(d.Alerts, a)
	}
	incidents, err := u.o.Records.ItemIncidents(ctx, id)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	for _, in := range incidents {
		// The list leaves out the payload and the members; the page
		// shows both, and the portal links come from the payload.
		full, err := u.o.Records.GetIncident(ctx, in.ID)
		if err != nil {
			u.fail(w, r, v, fmt.Errorf("incident %d of item %d: %w", in.ID, id, err))
			return
		}
		d.Incidents = append(d.Incidents, full)
	}
	if d.Writes, err = u.o.Records.ListOutbox(ctx, "", id, 0, 100); err != nil {
		u.fail(w, r, v, err)
		return
	}
	for _, m := range d.Writes {
		switch m.State {
		case outbox.Pending:
			d.OpenWrites++
		case outbox.Failed:
			d.FailedWrite++
		}
	}
	d.Links = portalLinks(d.Alerts, d.Incidents)
	d.Description = description(d.Incidents, d.Alerts)
	for _, t := range tactics(d.Incidents, d.Alerts) {
		d.Tactics = append(d.Tactics, tacticLabel(t))
	}
	d.Entities, d.MoreEntities = keyEntities(d.Alerts)
	if v.CanTriage() {
		mirrors, err := u.o.Items.CommentMirrors(ctx, v.Actor, id)
		if err != nil {
			u.fail(w, r, v, fmt.Errorf("plan comment mirrors of item %d: %w", id, err))
			return
		}
		d.CommentNote = commentNote(mirrors)
	}
	v.Title, v.Nav, v.Data = fmt.Sprintf("#%d %s", it.ID, it.Title), "board", d
	name := "item.html"
	if r.Header.Get("HX-Target") == "item-main" {
		name = "item-main"
	}
	u.render(w, http.StatusOK, name, v)
}

// timelineAll reports whether the page was asked for the whole timeline,
// sync traffic included: ?timeline=all on the page's address, which an
// htmx refresh of the page carries in HX-Current-URL.
func timelineAll(r *http.Request) bool {
	if r.URL.Query().Get("timeline") == "all" {
		return true
	}
	if cur, err := url.Parse(r.Header.Get("HX-Current-URL")); err == nil && isScript(r) {
		return cur.Query().Get("timeline") == "all"
	}
	return false
}

// timeline returns the newest entries first, without sync traffic unless
// all is set, and how many sync entries it left out. ?before=N pages back.
func (u *UI) timeline(r *http.Request, v *view, id int64, all bool) ([]entryView, int64, int, error) {
	before, err := optionalInt(r.URL.Query().Get("before"), "before")
	if err != nil {
		return nil, 0, 0, err
	}
	entries, err := u.o.Items.RecentTimeline(r.Context(), v.Actor, id, int64(before), maxTimeline+1)
	if err != nil {
		return nil, 0, 0, err
	}
	var older int64
	if len(entries) > maxTimeline {
		entries = entries[:maxTimeline]
		older = entries[maxTimeline-1].ID
	}
	out := make([]entryView, 0, len(entries))
	hidden := 0
	for _, e := range entries {
		if !all && isSyncTraffic(e) {
			hidden++
			continue
		}
		ev := entryView{Entry: e}
		if raw, ok := e.Data.(json.RawMessage); ok && len(raw) > 0 && string(raw) != "null" && informative(e.Kind, raw) {
			ev.Detail = prettyJSON(raw)
		}
		out = append(out, ev)
	}
	return out, older, hidden, nil
}

// informative reports whether an entry's data says more than its message:
// a decision's inputs, a write's key, where a follow-up came from; not the
// from and to of a field change, which the message already spells out.
func informative(kind string, raw json.RawMessage) bool {
	switch kind {
	case workitem.KindUpdate, workitem.KindTask, workitem.KindComment:
		return false
	case workitem.KindTransition:
		var m map[string]any
		if json.Unmarshal(raw, &m) != nil {
			return true
		}
		_, origin := m["origin"]
		return origin
	}
	return true
}

// portalLinks finds where the linked records live in their portals: the
// URLs Sentinel, Defender for Cloud and Graph put in their payloads.
func portalLinks(alerts []alert.Alert, incidents []alert.Incident) []link {
	var out []link
	seen := map[string]bool{}
	add := func(label string, raw json.RawMessage) {
		for _, l := range linksIn(raw) {
			if !seen[l.URL] {
				seen[l.URL] = true
				out = append(out, link{Label: label + ": " + l.Label, URL: l.URL})
			}
		}
	}
	for _, in := range incidents {
		add(sourceName(in.Source)+" incident "+shortID(in.SourceID), in.Raw)
	}
	for _, a := range alerts {
		add(sourceName(a.Source)+" alert "+shortID(a.SourceID), a.Raw)
	}
	return out
}

// portalKeys are the payload fields that hold portal URLs, with labels.
var portalKeys = []struct{ key, label string }{
	{"incidentUrl", "open in Sentinel"},
	{"alertUri", "open in Defender for Cloud"},
	{"alertWebUrl", "open alert in Defender XDR"},
	{"incidentWebUrl", "open incident in Defender XDR"},
	{"alertLink", "open in portal"},
}

func linksIn(raw json.RawMessage) []link {
	if len(raw) == 0 {
		return nil
	}
	var doc map[string]any
	if json.Unmarshal(raw, &doc) != nil {
		return nil
	}
	var out []link
	for _, m := range []map[string]any{doc, asMap(doc["properties"])} {
		for _, k := range portalKeys {
			if s, ok := m[k.key].(string); ok && (strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")) {
				out = append(out, link{Label: k.label, URL: s})
			}
		}
	}
	return out
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func sourceName(s string) string {
	switch s {
	case "sentinel":
		return "Sentinel"
	case "defender":
		return "Defender for Cloud"
	case "graph":
		return "Graph"
	}
	return s
}

// shortID shortens ARM ids and GUIDs to their last segment.
func shortID(id string) string {
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		id = id[i+1:]
	}
	if len(id) > 12 {
		id = id[:8] + "…"
	}
	return id
}

// The item page's forms. Each answers htmx with the refreshed main
// section, and a plain form with a redirect back to the page.

func (u *UI) itemDone(w http.ResponseWriter, r *http.Request, v *view, id int64) {
	u.feed.Poke()
	if isScript(r) {
		r.Header.Set("HX-Target", "item-main")
		u.item(w, r, v)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/items/%d", id), http.StatusSeeOther)
}

func (u *UI) addComment(w http.ResponseWriter, r *http.Request, v *view) {
	id, err := pathID(r, "id")
	if err == nil {
		_, err = u.o.Items.Comment(r.Context(), v.Actor, id, r.PostFormValue("body"))
	}
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	u.itemDone(w, r, v, id)
}

func (u *UI) addTask(w http.ResponseWriter, r *http.Request, v *view) {
	id, err := pathID(r, "id")
	if err == nil {
		_, err = u.o.Items.AddTask(r.Context(), v.Actor, id, r.PostFormValue("title"))
	}
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	u.itemDone(w, r, v, id)
}

func (u *UI) toggleTask(w http.ResponseWriter, r *http.Request, v *view) {
	id, err := pathID(r, "id")
	var task int64
	if err == nil {
		task, err = pathID(r, "task")
	}
	if err == nil {
		done := r.PostFormValue("done") == "true"
		_, err = u.o.Items.UpdateTask(r.Context(), v.Actor, id, task, nil, &done)
	}
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	u.itemDone(w, r, v, id)
}

func (u *UI) updateFields(w http.ResponseWriter, r *http.Request, v *view) {
	id, err := pathID(r, "id")
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	if err := r.ParseForm(); err != nil {
		u.fail(w, r, v, err)
		return
	}
	var p workitem.Patch
	if r.PostForm.Has("assignee") {
		a := r.PostFormValue("assignee")
		p.Assignee = &a
	}
	if r.PostForm.Has("severity") {
		s := alert.Severity(r.PostFormValue("severity"))
		p.Severity = &s
	}
	if r.PostForm.Has("due_date") {
		d := r.PostFormValue("due_date")
		if p.DueAt, err = workitem.ParseDueDate(&d); err != nil {
			u.fail(w, r, v, err)
			return
		}
	}
	if r.PostForm.Has("tags") {
		tags := []string{}
		for t := range strings.SplitSeq(r.PostFormValue("tags"), ",") {
			if t = strings.TrimSpace(t); t != "" && !slices.Contains(tags, t) {
				tags = append(tags, t)
			}
		}
		p.Tags = &tags
	}
	rev, err := optionalInt(r.PostFormValue("rev"), "rev")
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	if _, err := u.o.Items.Update(r.Context(), v.Actor, id, p, rev); err != nil {
		u.fail(w, r, v, err)
		return
	}
	u.itemDone(w, r, v, id)
}

func (u *UI) retryWrite(w http.ResponseWriter, r *http.Request, v *view) {
	id, err := pathID(r, "id")
	var msg int64
	if err == nil {
		msg, err = pathID(r, "msg")
	}
	if err == nil {
		err = u.o.Items.RetryWrite(r.Context(), v.Actor, id, msg)
	}
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	u.itemDone(w, r, v, id)
}
