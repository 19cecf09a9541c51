package browser

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
)

// TestRuleBuilderClosesPentest: an admin builds a rule with the mouse and
// keyboard (title contains "pentest": close as false positive, reason
// "pentest week"), previews it over the stored alerts, enables and saves
// it; the next pentest alert arrives Closed, and its timeline names the
// rule and the reason.
func TestRuleBuilderClosesPentest(t *testing.T) {
	e := start(t)
	// One earlier pentest alert and one real one for the preview to count.
	e.ingest(t, newAlert("defender", "pt-old", "Pentest: old sweep", alert.SeverityLow),
		newAlert("defender", "real-1", "Credential theft on vm-db-02", alert.SeverityHigh))
	ctx := browser(t, 1280, 1000)
	e.signIn(t, ctx, users[auth.RoleAdmin])

	within(t, ctx, 20*time.Second, "open the editor",
		chromedp.Navigate(e.base+"/rules/new"),
		chromedp.WaitVisible(chromedp.ID("rule-form")),
		chromedp.Click(chromedp.ID("rule-name")),
		chromedp.SendKeys(chromedp.ID("rule-name"), "Pentest week"),
		// A new row: property Title, operator contains, value pentest.
		chromedp.Click(chromedp.ID("add-row")),
		chromedp.WaitVisible(chromedp.CSS("#rows li:nth-child(2) .row-property")),
		chromedp.Focus(chromedp.CSS("#rows li:nth-child(2) .row-property")),
		chromedp.SendKeys(chromedp.CSS("#rows li:nth-child(2) .row-property"), "Title"),
		chromedp.Focus(chromedp.CSS("#rows li:nth-child(2) .row-operator")),
		chromedp.SendKeys(chromedp.CSS("#rows li:nth-child(2) .row-operator"), "contains"),
		chromedp.Click(chromedp.CSS("#rows li:nth-child(2) .row-values")),
		chromedp.SendKeys(chromedp.CSS("#rows li:nth-child(2) .row-values"), "pentest"),
		// The first, empty row goes.
		chromedp.Click(chromedp.CSS("#rows li:nth-child(1) .remove-row")),
		// The action: close as false positive, with the reason.
		chromedp.Focus(chromedp.CSS("#actions li:nth-child(1) .act-type")),
		chromedp.SendKeys(chromedp.CSS("#actions li:nth-child(1) .act-type"), "close"),
		chromedp.WaitVisible(chromedp.CSS("#actions li:nth-child(1) .act-classification")),
		chromedp.Focus(chromedp.CSS("#actions li:nth-child(1) .act-classification")),
		chromedp.SendKeys(chromedp.CSS("#actions li:nth-child(1) .act-classification"), "false"),
		chromedp.Click(chromedp.CSS("#actions li:nth-child(1) .act-reason")),
		chromedp.SendKeys(chromedp.CSS("#actions li:nth-child(1) .act-reason"), "pentest week"),
	)
	// The builder wrote the CEL through the server.
	waitFor(t, ctx, `document.getElementById("rule-cel").value`, `title.lowerAscii().contains("pentest")`)
	if got := eval[string](t, ctx, `document.querySelector("#actions li .act-classification").value`); got != "false_positive" {
		t.Fatalf("classification = %q, want false_positive", got)
	}

	within(t, ctx, 20*time.Second, "preview",
		chromedp.Click(chromedp.ID("preview")),
		chromedp.WaitVisible(chromedp.ID("preview-counts")),
	)
	if got := text(t, ctx, "#preview-counts"); !strings.Contains(got, "1 of 2 alerts") {
		t.Errorf("preview counts %q, want 1 of 2 alerts", got)
	}
	if got := text(t, ctx, "#preview-by-action"); !strings.Contains(got, "close: 1") {
		t.Errorf("preview by action %q, want close: 1", got)
	}
	shot(t, ctx, "rule-preview")

	within(t, ctx, 20*time.Second, "enable and save",
		chromedp.Click(chromedp.ID("rule-enabled")),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.ID("versions")),
	)
	if got := text(t, ctx, "#versions"); !strings.Contains(got, "ana.admin@example.com") {
		t.Errorf("history %q does not name who saved", got)
	}

	ids := e.ingest(t, newAlert("defender", "pt-new", "Pentest: port scan", alert.SeverityMedium))
	if it := e.item(t, ids[0]); it.State != "Closed" {
		t.Fatalf("pentest item is %s, want Closed", it.State)
	}
	within(t, ctx, 20*time.Second, "open the closed item",
		chromedp.Navigate(fmt.Sprintf("%s/items/%d", e.base, ids[0])),
		chromedp.WaitVisible(chromedp.CSS(".timeline")),
	)
	if got := text(t, ctx, ".item-head .state"); got != "Closed" {
		t.Errorf("item page state %q, want Closed", got)
	}
	tl := text(t, ctx, ".timeline .kind-rule")
	for _, want := range []string{"Pentest week", "pentest week"} {
		if !strings.Contains(tl, want) {
			t.Errorf("rule entry %q lacks %q", tl, want)
		}
	}
	if v := cspViolations(t, ctx); len(v) > 0 {
		t.Errorf("Content-Security-Policy violations: %v", v)
	}
}

// waitFor polls a JavaScript expression until it yields want.
func waitFor(t *testing.T, ctx context.Context, js, want string) {
	t.Helper()
	var got string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got = eval[string](t, ctx, js); got == want {
			return
		}
	}
	shot(t, ctx, "failure-"+sanitize(t.Name()))
	t.Fatalf("%s = %q, want %q", js, got, want)
}
