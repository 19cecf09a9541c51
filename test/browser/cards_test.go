package browser

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
)

// TestCardsAssignAndSort assigns an item to the signed-in user from its
// card with a real click, sorts the board with the filter bar's select,
// and narrows it to "mine" with one click.
func TestCardsAssignAndSort(t *testing.T) {
	e := start(t)
	// One at a time, so that ids follow this order.
	web := e.ingest(t, newAlert("alertmanager", "ssh-web", "Failed SSH brute force", alert.SeverityLow,
		alert.Entity{Kind: alert.EntityHost, Value: "vm-web-01"}))[0]
	db := e.ingest(t, newAlert("alertmanager", "ssh-db", "Failed SSH brute force", alert.SeverityCritical,
		alert.Entity{Kind: alert.EntityHost, Value: "vm-db-02"}))[0]
	travel := e.ingest(t, newAlert("sentinel", "travel", "Impossible travel", alert.SeverityMedium,
		alert.Entity{Kind: alert.EntityAccount, Value: "j.doe@contoso.com"}))[0]
	me := users[auth.RoleResponder]
	ctx := browser(t, 1280, 800)
	e.signIn(t, ctx, me)
	order := func() []int64 {
		return eval[[]int64](t, ctx, `Array.from(document.querySelectorAll('.cards[data-state="New"] .card')).map(c => Number(c.dataset.id))`)
	}
	if got, want := order(), []int64{travel, db, web}; !slices.Equal(got, want) {
		t.Fatalf("New column %v, want newest first %v", got, want)
	}
	// Two cards with one title, told apart by their key entity.
	if got := eval[string](t, ctx, fmt.Sprintf(`document.querySelector("#card-%d .card-entity").textContent`, web)); got != "host vm-web-01" {
		t.Errorf("key entity of #%d = %q, want host vm-web-01", web, got)
	}
	if got := text(t, ctx, fmt.Sprintf("#card-%d .card-alerts", db)); !strings.Contains(got, "1 alert") || !strings.Contains(got, "last alert") {
		t.Errorf("alert line of #%d = %q, want the count and the last alert", db, got)
	}

	// Assign to me, with a real click on the card's button: htmx sends
	// the item edit and swaps the card in place.
	btn := fmt.Sprintf("#card-%d button.assign-me", db)
	within(t, ctx, 20*time.Second, "assign to me",
		chromedp.WaitVisible(chromedp.CSS(btn)),
		chromedp.Click(chromedp.CSS(btn)),
		chromedp.WaitNotPresent(chromedp.CSS(btn)),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf("#card-%d .assignee:not(.muted)", db))),
	)
	if got := text(t, ctx, fmt.Sprintf("#card-%d .assignee", db)); !strings.Contains(got, me) {
		t.Errorf("card assignee = %q, want %s", got, me)
	}
	if it := e.item(t, db); it.Assignee != me || it.Rev != 2 {
		t.Errorf("item %d: assignee %q rev %d, want %s rev 2", db, it.Assignee, it.Rev, me)
	}
	if got := eval[string](t, ctx, fmt.Sprintf(`document.getElementById("card-%d").dataset.rev`, db)); got != "2" {
		t.Errorf("card rev = %s, want 2 (the next edit's stale check)", got)
	}
	shot(t, ctx, "card-assigned")

	// Sort by severity with the select: typing "s" on it picks
	// "severity", as a keyboard user would.
	within(t, ctx, 20*time.Second, "sort by severity",
		chromedp.Click(chromedp.ID("q")),
		chromedp.Focus(chromedp.ID("sort")),
		chromedp.SendKeys(chromedp.ID("sort"), "s"),
		chromedp.Poll[chromedp.Void](`new URLSearchParams(location.search).get("sort") === "severity"`, chromedp.WithPollingTimeout(10*time.Second)),
	)
	within(t, ctx, 10*time.Second, "sorted columns", chromedp.Poll[chromedp.Void](fmt.Sprintf(
		`Array.from(document.querySelectorAll('.cards[data-state="New"] .card')).map(c => c.dataset.id).join(",") === "%d,%d,%d"`,
		db, travel, web), chromedp.WithPollingTimeout(10*time.Second)))
	if got := eval[string](t, ctx, `document.getElementById("board").dataset.filter`); got != "sort=severity" {
		t.Errorf("board filter = %q, want sort=severity (live updates keep the sort)", got)
	}
	// A reload keeps the sort, from the URL.
	within(t, ctx, 20*time.Second, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("board")))
	if got := eval[string](t, ctx, `document.getElementById("sort").value`); got != "severity" {
		t.Errorf("sort select after reload = %q, want severity", got)
	}
	if got, want := order(), []int64{db, travel, web}; !slices.Equal(got, want) {
		t.Errorf("New column after reload %v, want %v", got, want)
	}

	// A live update puts a changed card back in the sorted order, not
	// newest first.
	bob := "bob@example.com"
	if _, err := e.app.Items.Update(context.Background(), auth.System, travel, patch(&bob, nil), 0); err != nil {
		t.Fatal(err)
	}
	within(t, ctx, 20*time.Second, "live update", chromedp.Poll[chromedp.Void](fmt.Sprintf(
		`(document.querySelector("#card-%d .assignee") || {}).textContent.includes(%q)`, travel, bob),
		chromedp.WithPollingTimeout(15*time.Second)))
	if got, want := order(), []int64{db, travel, web}; !slices.Equal(got, want) {
		t.Errorf("New column after a live update %v, want %v (by severity)", got, want)
	}

	// "Mine", one click away, keeps the sort.
	within(t, ctx, 20*time.Second, "mine",
		chromedp.Click(chromedp.CSS("a.mine")),
		chromedp.WaitNotPresent(chromedp.CSS(fmt.Sprintf("#card-%d", web))),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf("#card-%d", db))),
	)
	if got := eval[string](t, ctx, `new URLSearchParams(location.search).get("assignee")`); got != "me" {
		t.Errorf("mine: assignee=%q in the URL, want me", got)
	}
	if got, want := order(), []int64{db}; !slices.Equal(got, want) {
		t.Errorf("mine: New column %v, want %v", got, want)
	}
	if got := eval[string](t, ctx, `new URLSearchParams(location.search).get("sort")`); got != "severity" {
		t.Errorf("mine dropped the sort: sort=%q", got)
	}
	if v := cspViolations(t, ctx); len(v) > 0 {
		t.Errorf("CSP violations: %v", v)
	}
}
