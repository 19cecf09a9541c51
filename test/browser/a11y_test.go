package browser

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
)

// axe-core (MPL-2.0), the accessibility engine browsers' audit tools use,
// from npm, committed so that the test needs no network.
//
//go:embed testdata/axe-4.14.1.min.js
var axeJS string

type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []string `json:"target"`
	} `json:"nodes"`
}

// TestAccessibility audits every page with axe-core against WCAG 2.1 A
// and AA, and fails on serious or critical violations: missing labels,
// contrast, names of buttons and links, landmarks.
func TestAccessibility(t *testing.T) {
	e := start(t)
	ids := seed(t, e)
	ctx := browser(t, 1280, 800)
	within(t, ctx, 20*time.Second, "sign-in page", chromedp.Navigate(e.base+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
	audit(t, ctx, "/login")
	e.signIn(t, ctx, users[auth.RoleAdmin])
	pages := []string{"/board", "/triage", fmt.Sprintf("/items/%d", ids[0]), fmt.Sprintf("/items/%d/move?to=Removed", ids[4]),
		"/admin/process", "/admin/connectors", "/admin/users", "/items/999999", "/nope"}
	for _, p := range pages {
		within(t, ctx, 20*time.Second, p, chromedp.Navigate(e.base+p), chromedp.WaitVisible(chromedp.CSS("main")))
		audit(t, ctx, p)
		// The pages need nothing the strict policy forbids: no inline
		// script or style, no eval.
		if v := cspViolations(t, ctx); len(v) > 0 {
			t.Errorf("%s: Content-Security-Policy blocked %q", p, v)
		}
	}
}

func audit(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	if !eval[bool](t, ctx, "typeof axe !== 'undefined'") {
		eval[bool](t, ctx, axeJS+"\n;true")
	}
	vs := eval[[]axeViolation](t, ctx, `axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
		.then(r => r.violations.filter(v => v.impact === "serious" || v.impact === "critical"))`)
	for _, v := range vs {
		var targets []string
		for _, n := range v.Nodes {
			targets = append(targets, strings.Join(n.Target, " "))
		}
		t.Errorf("%s: %s (%s): %s — %s", page, v.ID, v.Impact, v.Help, strings.Join(targets, "; "))
	}
}

// TestKeyboardOnly moves cards with the keyboard alone: a card's buttons
// are focusable, the reason dialog takes focus, and Escape closes it.
func TestKeyboardOnly(t *testing.T) {
	e := start(t)
	ids := e.ingest(t,
		newAlert("alertmanager", "", "Disk full on db-1", alert.SeverityHigh),
		newAlert("alertmanager", "", "Noisy probe from the scanner", alert.SeverityLow))
	ctx := browser(t, 1280, 800)
	e.signIn(t, ctx, users[auth.RoleResponder])

	eval[any](t, ctx, fmt.Sprintf(`document.querySelector('#card-%d button[data-to="Approved"]').focus()`, ids[0]))
	within(t, ctx, 10*time.Second, "Enter on a move button", chromedp.KeyEvent("\r"), cardIn(ids[0], "Approved"))

	eval[any](t, ctx, fmt.Sprintf(`document.querySelector('#card-%d a[data-to="Removed"]').focus()`, ids[1]))
	within(t, ctx, 10*time.Second, "Enter on a move that needs a reason", chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS("dialog[open] textarea")))
	if tag := eval[string](t, ctx, "document.activeElement.tagName"); tag != "TEXTAREA" {
		t.Errorf("focus is on %s, want the reason", tag)
	}
	within(t, ctx, 10*time.Second, "Escape closes the dialog", chromedp.KeyEvent(kb.Escape),
		chromedp.WaitNotPresent(chromedp.CSS("dialog[open]")))
	within(t, ctx, 10*time.Second, "reopen, type, Tab to submit, Enter",
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS("dialog[open] textarea")),
		chromedp.KeyEvent("security test: the weekly scan"),
		chromedp.KeyEvent("\t"),
		chromedp.KeyEvent("\r"),
		cardIn(ids[1], "Removed"),
	)
	if got := e.item(t, ids[1]).State; got != "Removed" {
		t.Errorf("item is %s, want Removed", got)
	}
}
