package browser

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/report"
)

// seedReports stores a few items, moves two as a responder and brings
// the reports' facts up to date at once (the engine's module would within
// a minute).
func seedReports(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	ids := e.ingest(t,
		newAlert("sentinel", "r-1", "Brute force against vpn-gw", alert.SeverityHigh),
		newAlert("sentinel", "r-2", "Impossible travel for ana", alert.SeverityMedium),
		newAlert("defender", "r-3", "Suspicious PowerShell on vm-db-02", alert.SeverityLow))
	resp := auth.Actor{Kind: "user", Name: users[auth.RoleResponder], Role: auth.RoleResponder}
	for _, to := range []string{"Approved", "Active", "Verification"} {
		if _, err := e.app.Items.Transition(ctx, resp, ids[0], to, "", 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.app.Items.Transition(ctx, resp, ids[0], "Closed", "false positive", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.Items.Transition(ctx, resp, ids[1], "Approved", "", 0); err != nil {
		t.Fatal(err)
	}
	if err := report.NewModule(e.app.DB, e.app.Items.Process(), e.app.Reports).UpdateAll(ctx); err != nil {
		t.Fatalf("report module: %v", err)
	}
}

// TestReportsFlowWithKeyboardAndMouse: a viewer opens the reports, the
// page offers the browser's time zone, clicks the Flow tab, picks a
// period and a bucket with the keyboard, types a time zone, applies, and
// gets the cumulative flow as SVG over its table; the CSV link answers
// CSV for the session. Nothing breaks the Content-Security-Policy, and
// axe finds nothing serious on any report.
func TestReportsFlowWithKeyboardAndMouse(t *testing.T) {
	e := start(t)
	seedReports(t, e)
	// The browser's own zone differs from the server's default (UTC).
	ctx := browserWith(t, 1280, 1000, chromedp.Env("TZ=America/New_York"))
	e.signIn(t, ctx, users[auth.RoleViewer])

	within(t, ctx, 20*time.Second, "open the reports",
		chromedp.Click(chromedp.CSS(`nav[aria-label="Main"] a[href="/reports"]`)),
		chromedp.WaitVisible(chromedp.ID("report-form")),
		chromedp.WaitVisible(chromedp.ID("chart-response")),
	)
	if loc := eval[string](t, ctx, "location.pathname"); loc != "/reports/response" {
		t.Errorf("/reports led to %s, want /reports/response", loc)
	}
	// reports.js offers the browser's zone, and says the figures are not
	// in it yet.
	waitFor(t, ctx, `document.getElementById("report-tz").value`, "America/New_York")
	if note := text(t, ctx, "#tz-note"); !strings.Contains(note, "The figures are in UTC") {
		t.Errorf("time zone note %q", note)
	}

	within(t, ctx, 20*time.Second, "click the Flow tab",
		chromedp.Click(chromedp.ID("tab-flow")),
		chromedp.WaitVisible(chromedp.ID("chart-cfd")),
	)
	if cur := eval[string](t, ctx, `document.querySelector(".report-tabs [aria-current=page]").id`); cur != "tab-flow" {
		t.Errorf("current tab %s, want tab-flow", cur)
	}

	within(t, ctx, 20*time.Second, "choose the period, bucket and zone",
		chromedp.Focus(chromedp.ID("report-days")),
		chromedp.SendKeys(chromedp.ID("report-days"), "Last 9"),
		chromedp.Focus(chromedp.ID("report-bucket")),
		chromedp.SendKeys(chromedp.ID("report-bucket"), "week"),
		chromedp.Click(chromedp.ID("report-tz")),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.KeyEvent("Europe/Helsinki"),
	)
	if got := eval[string](t, ctx, `[document.getElementById("report-days").value, document.getElementById("report-bucket").value, document.getElementById("report-tz").value].join(" ")`); got != "90 week Europe/Helsinki" {
		t.Fatalf("the form holds %q, want 90 week Europe/Helsinki", got)
	}
	within(t, ctx, 20*time.Second, "apply",
		chromedp.Click(chromedp.ID("report-apply")),
		chromedp.WaitVisible(chromedp.ID("report-period")),
	)
	waitFor(t, ctx, `new URLSearchParams(location.search).get("days") + " " + new URLSearchParams(location.search).get("bucket") + " " + new URLSearchParams(location.search).get("tz")`,
		"90 week Europe/Helsinki")
	if p := text(t, ctx, "#report-period"); !strings.Contains(p, "Europe/Helsinki") || !strings.Contains(p, "per week") {
		t.Errorf("period %q, want it in Europe/Helsinki, per week", p)
	}
	// The charts, each with its accessible name, and the tables.
	if n := eval[int](t, ctx, `document.querySelectorAll("svg.chart[role=img][aria-label]").length`); n != 3 {
		t.Errorf("%d charts, want 3 (cumulative flow, throughput, work in progress)", n)
	}
	if bands := eval[int](t, ctx, `document.querySelectorAll("#chart-cfd path.band").length`); bands != len(e.app.Items.Process().StateNames()) {
		t.Errorf("%d bands in the cumulative flow, want one per state", bands)
	}
	if rows := eval[int](t, ctx, `document.querySelectorAll("#table-0 tbody tr").length`); rows < 2 {
		t.Errorf("the cumulative flow's table has %d rows", rows)
	}
	if th := eval[string](t, ctx, `document.querySelector("#table-0 thead").textContent`); !strings.Contains(th, "New") || !strings.Contains(th, "Closed") {
		t.Errorf("the cumulative flow's columns %q lack the states", th)
	}
	if w := eval[string](t, ctx, `document.querySelector("svg.chart").getBoundingClientRect().width > 300 ? "ok" : "narrow"`); w != "ok" {
		t.Error("the chart is not laid out")
	}
	fullShot(t, ctx, "reports-flow-weekly")

	// The CSV link carries the same query and answers the session.
	href := eval[string](t, ctx, `document.getElementById("report-csv").getAttribute("href")`)
	if !strings.HasPrefix(href, "/reports/flow/export?") || !strings.Contains(href, "bucket=week") || !strings.Contains(href, "tz=Europe%2FHelsinki") {
		t.Errorf("CSV link %q", href)
	}
	got := eval[string](t, ctx, `fetch(document.getElementById("report-csv").href).then(async r => r.status + " " + r.headers.get("content-type") + " " + r.headers.get("content-disposition") + "\n" + await r.text())`)
	head, body, _ := strings.Cut(got, "\n")
	if !strings.HasPrefix(head, "200 text/csv") || !strings.Contains(head, "attachment") {
		t.Errorf("CSV answer %q", head)
	}
	if !strings.HasPrefix(body, "# Cumulative flow\nat,") {
		t.Errorf("CSV body starts %q", body[:min(len(body), 80)])
	}

	if v := cspViolations(t, ctx); len(v) > 0 {
		t.Errorf("Content-Security-Policy violations: %v", v)
	}
	for _, name := range report.Names {
		p := "/reports/" + name + "?tz=Europe/Helsinki"
		within(t, ctx, 20*time.Second, p, chromedp.Navigate(e.base+p), chromedp.WaitVisible(chromedp.ID("report")))
		audit(t, ctx, p)
		fullShot(t, ctx, "reports-"+name)
		if v := cspViolations(t, ctx); len(v) > 0 {
			t.Errorf("%s: Content-Security-Policy blocked %q", p, v)
		}
	}
}

// TestReportsFieldError: a time zone that does not exist is refused on
// the form, next to the field, with what was typed.
func TestReportsFieldError(t *testing.T) {
	e := start(t)
	ctx := browser(t, 1280, 900)
	e.signIn(t, ctx, users[auth.RoleViewer])
	within(t, ctx, 20*time.Second, "type a zone that does not exist",
		chromedp.Navigate(e.base+"/reports/slos?tz=UTC"),
		chromedp.WaitVisible(chromedp.ID("report-tz")),
		chromedp.Click(chromedp.ID("report-tz")),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.KeyEvent("Mars/Olympus\r"),
		chromedp.WaitVisible(chromedp.ID("err-tz")),
	)
	if msg := text(t, ctx, "#err-tz"); !strings.Contains(msg, "not an IANA time zone") {
		t.Errorf("error %q", msg)
	}
	if v := eval[string](t, ctx, `document.getElementById("report-tz").value`); v != "Mars/Olympus" {
		t.Errorf("the field holds %q, want what was typed", v)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("svg.chart").length`); n != 0 {
		t.Errorf("%d charts drawn for a refused query", n)
	}
}

// TestReportsOnAPhone: every report fits a phone's width; the charts keep
// a readable width and, like the wide tables, scroll inside their box.
func TestReportsOnAPhone(t *testing.T) {
	e := start(t)
	seedReports(t, e)
	ctx := browser(t, 1280, 800)
	within(t, ctx, 10*time.Second, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	e.signIn(t, ctx, users[auth.RoleViewer])
	for _, name := range report.Names {
		p := "/reports/" + name + "?tz=UTC"
		within(t, ctx, 20*time.Second, p, chromedp.Navigate(e.base+p), chromedp.WaitVisible(chromedp.ID("report")))
		if w := eval[int](t, ctx, "document.documentElement.scrollWidth"); w > 390 {
			shot(t, ctx, "reports-phone-overflow-"+name)
			t.Errorf("%s is %dpx wide on a 390px phone", p, w)
		}
		// The chart keeps a readable width and scrolls in its box.
		if w := eval[float64](t, ctx, `document.querySelector("svg.chart").getBoundingClientRect().width`); w < 500 {
			t.Errorf("%s: the chart is shrunk to %vpx on a 390px phone", p, w)
		}
	}
	fullShot(t, ctx, "reports-phone-flow")
}
