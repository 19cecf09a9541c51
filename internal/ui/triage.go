package ui

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/vigil-soc/vigil/internal/workitem"
)

type triageData struct {
	Filter   filter
	Items    []workitem.Item
	Count    int
	Actions  []move
	Presets  []string
	Failures []string
}

// triage is the queue of items in the initial state, oldest first: the
// order they should be looked at in.
func (u *UI) triage(w http.ResponseWriter, r *http.Request, v *view) {
	f := parseFilter(r.URL.Query())
	wf, err := f.workitem(v)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	p := u.o.Items.Process()
	cols, err := u.o.Items.Board(r.Context(), v.Actor, wf, 0)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	d := triageData{Filter: f, Actions: u.moves()[p.Initial()], Presets: u.o.ReasonPresets}
	for _, c := range cols {
		if c.State == p.Initial() {
			d.Count = c.Count
		}
	}
	// Oldest first: the order they should be looked at in.
	wf.States, wf.Oldest, wf.Limit = []string{p.Initial()}, true, 500
	if d.Items, err = u.o.Items.List(r.Context(), v.Actor, wf); err != nil {
		u.fail(w, r, v, err)
		return
	}
	fl := u.takeFlash(w, r)
	v.Flash, d.Failures = fl.Text, fl.Lines
	v.Title, v.Nav, v.Data = "Triage", "triage", d
	u.render(w, http.StatusOK, "triage.html", v)
}

// triageAction approves or removes the selected items with one reason.
// Each item moves on its own, so one refused move (an item someone moved
// meanwhile) does not stop the others; the refusals are listed.
func (u *UI) triageAction(w http.ResponseWriter, r *http.Request, v *view) {
	if err := r.ParseForm(); err != nil {
		u.fail(w, r, v, err)
		return
	}
	to, reason := r.PostForm.Get("to"), r.PostForm.Get("reason")
	var moved int
	var failures []string
	for _, s := range r.PostForm["id"] {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			failures = append(failures, fmt.Sprintf("%q is not an item id", s))
			continue
		}
		if _, err := u.o.Items.Transition(r.Context(), v.Actor, id, to, reason, 0); err != nil {
			_, msg := errorStatus(err)
			failures = append(failures, fmt.Sprintf("#%d: %s", id, msg))
			continue
		}
		moved++
	}
	if moved > 0 {
		u.feed.Poke()
	}
	if len(r.PostForm["id"]) == 0 {
		failures = append(failures, "select at least one item")
	}
	f := flash{Lines: failures}
	if moved > 0 {
		f.Text = fmt.Sprintf("Moved %s to %s.", plural(moved, "item"), to)
	}
	u.setFlash(w, r, f)
	q := url.Values{}
	if fq, err := url.ParseQuery(r.PostForm.Get("filter")); err == nil {
		for k, vs := range fq {
			q[k] = vs
		}
	}
	target := "/triage"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}
