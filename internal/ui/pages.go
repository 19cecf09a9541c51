package ui

// Pages: "My pages", and acknowledging and resolving a page from its
// card or from its item's page.
//
// Decisions where the issue is silent:
//   - "My pages" lists the signed-in user's open pages (triggered or
//     acknowledged), newest first: those that notified them, that they
//     acknowledged, or whose item is theirs. ?everyone=1 shows everyone's,
//     for the lead who watches the whole service; ?all=1 adds resolved
//     pages.
//   - A page that changed meanwhile (resolved by someone else) is not an
//     error page: the form goes back with a flash saying so.

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/validation"
)

// maxPages bounds the cards the list shows.
const maxPages = 200

type pagesData struct {
	All      bool
	Everyone bool
	Pages    []store.Page
	// Back is where the card's forms return to.
	Back string
}

// pageCardView is one page's card, on the list or on its item's page.
type pageCardView struct {
	View *view
	Page store.Page
	Back string // where its forms return
}

// pagesList is GET /pages.
func (u *UI) pagesList(w http.ResponseWriter, r *http.Request, v *view) {
	if u.pagerOff(w, r, v) {
		return
	}
	q := r.URL.Query()
	d := pagesData{All: q.Get("all") != "", Everyone: q.Get("everyone") != "", Back: "/pages"}
	f := store.PageFilter{States: []string{store.PageTriggered, store.PageAcknowledged}, Limit: maxPages}
	if d.All {
		f.States, d.Back = nil, "/pages?all=1"
	}
	if d.Everyone {
		d.Back += map[bool]string{true: "&", false: "?"}[d.All] + "everyone=1"
	} else {
		f.User = strings.ToLower(v.Actor.Name)
	}
	var err error
	if d.Pages, err = u.o.Pager.Pages(r.Context(), v.Actor, f); err != nil {
		u.fail(w, r, v, err)
		return
	}
	v.Title, v.Nav, v.Data = "My pages", "pages", d
	v.Flash = u.takeFlash(w, r).Text
	u.render(w, http.StatusOK, "pages.html", v)
}

// pageAction is POST /pages/{id}/acknowledge and /pages/{id}/resolve.
func (u *UI) pageAction(action string) func(http.ResponseWriter, *http.Request, *view) {
	return func(w http.ResponseWriter, r *http.Request, v *view) { u.doPageAction(w, r, v, action) }
}

func (u *UI) doPageAction(w http.ResponseWriter, r *http.Request, v *view, action string) {
	if u.pagerOff(w, r, v) {
		return
	}
	id, err := pathID(r, "id")
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	var p store.Page
	var text string
	switch action {
	case "acknowledge":
		p, err = u.o.Pager.Acknowledge(r.Context(), v.Actor, id, v.Actor.Name)
		text = fmt.Sprintf("Acknowledged page #%d: item #%d is assigned to %s.", id, p.WorkItemID, p.AckBy)
	case "resolve":
		p, err = u.o.Pager.Resolve(r.Context(), v.Actor, id)
		text = fmt.Sprintf("Resolved page #%d and its item #%d.", id, p.WorkItemID)
	default:
		u.fail(w, r, v, fmt.Errorf("page action %q: %w", action, validation.ErrNotFound))
		return
	}
	if err != nil {
		var ce *validation.ConflictError
		if !errors.As(err, &ce) {
			u.fail(w, r, v, err)
			return
		}
		text = ce.Error()
	}
	u.setFlash(w, r, flash{Text: text})
	back(w, r, "/pages")
}

// itemPage is the open page of an item, for the item page's panel (a
// template function, so that the panel needs nothing of the item
// handler); nil when there is none or on-call is off. A failure to read
// it is logged and shows no panel: the item page matters more.
func (u *UI) itemPage(v *view, itemID int64) *store.Page {
	if u.o.Pager == nil || v == nil || v.req == nil {
		return nil
	}
	ps, err := u.o.Pager.Pages(v.req.Context(), v.Actor, store.PageFilter{
		States: []string{store.PageTriggered, store.PageAcknowledged}, Limit: 1000})
	if err != nil {
		u.log.Warn("item page: open pages", "item", itemID, "err", err)
		return nil
	}
	for _, p := range ps {
		if p.WorkItemID == itemID {
			return &p
		}
	}
	return nil
}
