package ui

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/intel"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/threatintel"
	"github.com/vigil-soc/vigil/internal/validation"
)

// IntelAdmin is the indicators page, feed health and the entity page.
// The threat-intelligence service provides it; nil hides them.
type IntelAdmin interface {
	Search(ctx context.Context, actor auth.Actor, q store.IndicatorQuery) ([]store.IndicatorRow, int, error)
	Expire(ctx context.Context, actor auth.Actor, typ, value string) (store.IndicatorRow, error)
	Allowlist(ctx context.Context, actor auth.Actor, typ, value, reason string) (store.IndicatorRow, error)
	Unallowlist(ctx context.Context, actor auth.Actor, typ, value string) (store.IndicatorRow, error)
	Feeds(ctx context.Context, actor auth.Actor, interval time.Duration) ([]threatintel.FeedHealth, error)
	Entity(ctx context.Context, actor auth.Actor, value string) (threatintel.Entity, error)
}

const indicatorsPage = 50

type indicatorsData struct {
	Query      store.IndicatorQuery
	Types      []string
	States     []string
	Rows       []store.IndicatorRow
	Total      int
	Prev, Next string // links to the neighbouring pages; empty at the ends
	From, To   int
	Feeds      []threatintel.FeedHealth
}

func (u *UI) intelOff(w http.ResponseWriter, r *http.Request, v *view) bool {
	if u.o.IntelAdmin == nil {
		u.fail(w, r, v, fmt.Errorf("threat intelligence: %w", validation.ErrNotFound))
		return true
	}
	return false
}

// indicators is GET /indicators: search and filter the indicators, and
// expire or allow-list one.
func (u *UI) indicators(w http.ResponseWriter, r *http.Request, v *view) {
	if u.intelOff(w, r, v) {
		return
	}
	q := r.URL.Query()
	d := indicatorsData{Types: intel.Types, States: []string{store.IndicatorActive, store.IndicatorExpired, store.IndicatorAllowlisted}, Query: store.IndicatorQuery{Text: q.Get("q"), Type: q.Get("type"), Feed: q.Get("feed"), State: q.Get("state"), Limit: indicatorsPage}}
	if s := q.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			u.fail(w, r, v, validation.NewFieldError("offset", "must be a non-negative integer"))
			return
		}
		d.Query.Offset = n
	}
	var err error
	if d.Rows, d.Total, err = u.o.IntelAdmin.Search(r.Context(), v.Actor, d.Query); err != nil {
		u.fail(w, r, v, err)
		return
	}
	if d.Feeds, err = u.o.IntelAdmin.Feeds(r.Context(), v.Actor, u.o.FeedInterval); err != nil {
		u.log.Warn("indicators page: feed health", "err", err)
	}
	link := func(off int) string {
		p := url.Values{}
		for _, k := range []string{"q", "type", "feed", "state"} {
			if s := q.Get(k); s != "" {
				p.Set(k, s)
			}
		}
		p.Set("offset", strconv.Itoa(off))
		return "/indicators?" + p.Encode()
	}
	if d.Query.Offset > 0 {
		d.Prev = link(max(0, d.Query.Offset-indicatorsPage))
	}
	if d.Query.Offset+len(d.Rows) < d.Total {
		d.Next = link(d.Query.Offset + indicatorsPage)
	}
	if len(d.Rows) > 0 {
		d.From, d.To = d.Query.Offset+1, d.Query.Offset+len(d.Rows)
	}
	v.Title, v.Nav, v.Data = "Indicators", "intel", d
	v.Flash = u.takeFlash(w, r).Text
	u.render(w, http.StatusOK, "indicators.html", v)
}

// indicatorAction is POST /indicators/{action}: expire, allowlist or
// unallowlist the indicator named in the form, then back to the list.
func (u *UI) indicatorAction(w http.ResponseWriter, r *http.Request, v *view) {
	if u.intelOff(w, r, v) {
		return
	}
	typ, value := r.PostFormValue("type"), r.PostFormValue("value")
	var err error
	var done string
	switch r.PathValue("action") {
	case "expire":
		_, err = u.o.IntelAdmin.Expire(r.Context(), v.Actor, typ, value)
		done = "expired: it no longer matches"
	case "allowlist":
		_, err = u.o.IntelAdmin.Allowlist(r.Context(), v.Actor, typ, value, r.PostFormValue("reason"))
		done = "allow-listed: it never matches, whatever the feeds say"
	case "unallowlist":
		_, err = u.o.IntelAdmin.Unallowlist(r.Context(), v.Actor, typ, value)
		done = "removed from the allow-list"
	default:
		err = fmt.Errorf("indicator action %q: %w", r.PathValue("action"), validation.ErrNotFound)
	}
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	u.setFlash(w, r, flash{Text: fmt.Sprintf("%s %s %s.", typ, value, done)})
	back := "/indicators"
	if ret := r.PostFormValue("return"); len(ret) > 1 && ret[0] == '/' && ret[1] != '/' && ret[1] != '\\' {
		back = ret // a path on this site only: never an open redirect
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// entityPage is GET /entities?value=: everything about one entity.
func (u *UI) entityPage(w http.ResponseWriter, r *http.Request, v *view) {
	if u.intelOff(w, r, v) {
		return
	}
	e, err := u.o.IntelAdmin.Entity(r.Context(), v.Actor, r.URL.Query().Get("value"))
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	v.Title, v.Nav, v.Data = e.Value, "intel", e
	v.Flash = u.takeFlash(w, r).Text
	u.render(w, http.StatusOK, "entity.html", v)
}

// feedHealth is the connector page's threat-intelligence section.
func (u *UI) feedHealth(v *view) []threatintel.FeedHealth {
	if u.o.IntelAdmin == nil || v == nil || v.req == nil {
		return nil
	}
	fs, err := u.o.IntelAdmin.Feeds(v.req.Context(), v.Actor, u.o.FeedInterval)
	if err != nil {
		u.log.Warn("connector page: feed health", "err", err)
		return nil
	}
	return fs
}

// entityURL links an entity value to its page.
func entityURL(value string) string { return "/entities?value=" + url.QueryEscape(value) }
