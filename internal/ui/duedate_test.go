package ui_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestItemDueDate sets and clears the due date with the date input of
// the item page's Details form, and refuses a bad date naming the field.
func TestItemDueDate(t *testing.T) {
	e := newEnv(t)
	id := e.ingest(t, spec{title: "recommendation", sev: "medium"})[0]
	c := e.as(t, responder)
	itemPath := idPath("/items/%d", id)

	c.get(t, itemPath).wantCode(t, http.StatusOK).wantBody(t, `<input id="due_date" name="due_date" type="date" value="">`)
	c.post(t, itemPath+"/fields", url.Values{"due_date": {"2030-03-01"}}).wantCode(t, http.StatusSeeOther)
	if it := e.item(t, id); it.DueAt == nil || !it.DueAt.Equal(time.Date(2030, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("due date %v, want 2030-03-01", it.DueAt)
	}
	c.get(t, itemPath).wantCode(t, http.StatusOK).wantBody(t, `name="due_date" type="date" value="2030-03-01"`).
		wantBody(t, `due date changed from &#34;&#34; to &#34;2030-03-01&#34;`)
	c.post(t, itemPath+"/fields", url.Values{"due_date": {"March"}}, "HX-Request", "true", "HX-Target", "item-main").
		wantCode(t, http.StatusBadRequest).wantBody(t, "due_date")
	c.post(t, itemPath+"/fields", url.Values{"due_date": {""}}).wantCode(t, http.StatusSeeOther)
	if it := e.item(t, id); it.DueAt != nil {
		t.Fatalf("due date %v after clearing", it.DueAt)
	}
}
