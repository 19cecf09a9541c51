package ui_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/report"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/ui"
)

// newReportsEnv is a web interface with the reports service and its
// roll-up module, as the app wires them; viewers default to Helsinki.
func newReportsEnv(t *testing.T, edit ...func(*report.Options)) (*env, *report.Module) {
	t.Helper()
	var svc *report.Service
	var db *store.DB
	e := newEnv(t, func(o *ui.Options) {
		db = o.Records.(*store.DB)
		ro := report.Options{Clock: o.Clock, TimeZone: "Europe/Helsinki",
			SLOs: []report.SLO{{Name: "High acknowledged in 15 min", Metric: report.MetricAck, Severity: []string{"high"},
				Target: 15 * time.Minute, Objective: 0.9}}}
		for _, f := range edit {
			f(&ro)
		}
		svc = report.New(db, nil, o.Items.Process(), ro)
		o.Reports = svc
	})
	return e, report.NewModule(db, e.items.Process(), svc)
}

// seedReports makes three items a day apart: one a responder acknowledged
// and closed, one acknowledged, and one nobody touched; then brings the
// reports' facts up to date.
func seedReports(t *testing.T, e *env, m *report.Module) []int64 {
	t.Helper()
	ctx := context.Background()
	var ids []int64
	for i, sev := range []alert.Severity{alert.SeverityHigh, alert.SeverityMedium, alert.SeverityLow} {
		ids = append(ids, e.ingest(t, spec{source: "sentinel", title: "Brute force", sev: sev})...)
		e.clk.Advance(10 * time.Minute)
		switch i {
		case 0:
			for _, to := range []string{"Approved", "Active", "Verification"} {
				if _, err := e.items.Transition(ctx, e.actor(responder), ids[i], to, "", 0); err != nil {
					t.Fatal(err)
				}
				e.clk.Advance(time.Hour)
			}
			if _, err := e.items.Transition(ctx, e.actor(responder), ids[i], "Closed", "false positive", 0); err != nil {
				t.Fatal(err)
			}
		case 1:
			if _, err := e.items.Transition(ctx, e.actor(responder), ids[i], "Approved", "", 0); err != nil {
				t.Fatal(err)
			}
		}
		e.clk.Advance(24 * time.Hour)
	}
	if err := m.UpdateAll(ctx); err != nil {
		t.Fatalf("report module: %v", err)
	}
	return ids
}

// TestReportPagesRender: a viewer reads every report: its tab, the
// filter form, at least one SVG chart with its accessible name, the
// tables with numbers right-aligned, "no data" where there is none, and
// the CSV link with the same query.
func TestReportPagesRender(t *testing.T) {
	e, m := newReportsEnv(t)
	seedReports(t, e, m)
	c := e.as(t, viewer)
	c.get(t, "/board").wantCode(t, http.StatusOK).wantBody(t, `<a href="/reports"`)
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"response", []string{`id="chart-response"`, `id="chart-states"`, "Median TTA", "Time in state", `<td class="num nodata">no data</td>`,
			`aria-label="Median time to acknowledge and to resolve per day, `}},
		{"slos", []string{`id="chart-slos"`, "High acknowledged in 15 min", "objective", "Breaches"}},
		{"quality", []string{`id="chart-quality"`, "Never acted on", "Suppression rules", `<option value="rule" selected>`, "False positive"}},
		{"oncall", []string{`id="chart-oncall"`, "Fairness", "Filters do not apply"}},
		{"flow", []string{`id="chart-cfd"`, `id="chart-throughput"`, `id="chart-wip"`, "Cumulative flow", "Stuck (in one state longer than"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.get(t, "/reports/"+tc.name+"?days=7&tz=Europe/Helsinki").wantCode(t, http.StatusOK)
			r.wantBody(t, append([]string{`id="tab-` + tc.name + `" aria-current="page"`, `<form method="get" action="/reports/` + tc.name + `"`,
				`<svg xmlns="http://www.w3.org/2000/svg" class="chart"`, `role="img"`, `<caption class="sr">`, `<th scope="col"`,
				`href="/reports/` + tc.name + `/export?days=7&amp;tz=Europe%2FHelsinki"`, `value="Europe/Helsinki"`, `data-fill="false"`,
				"reports.js"}, tc.want...)...)
			if !strings.Contains(r.body, `class="num"`) {
				t.Error("no right-aligned number column")
			}
		})
	}
}

// TestReportPageFigures: the flow's stuck items link to their item pages,
// and the response table counts what was seeded.
func TestReportPageFigures(t *testing.T) {
	e, m := newReportsEnv(t)
	ids := seedReports(t, e, m)
	c := e.as(t, viewer)
	r := c.get(t, "/reports/response?days=7").wantCode(t, http.StatusOK)
	// Three created, two acknowledged, one resolved, none reopened.
	r.wantBody(t, `<td class="num">3</td><td class="num">2</td><td class="num">1</td><td class="num">0</td>`)
	// The period is in the service's default zone, and the browser may
	// offer its own.
	r.wantBody(t, "Europe/Helsinki", `data-fill="true"`)

	e.clk.Advance(8 * 24 * time.Hour) // the untouched items are stuck now
	if err := m.UpdateAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Sessions do not last that long: sign in again.
	c = e.newClient()
	c.signIn(t, email[viewer], password, "/board").wantCode(t, http.StatusSeeOther)
	r = c.get(t, "/reports/flow").wantCode(t, http.StatusOK)
	r.wantBody(t, `<a href="/items/`+itoa(ids[2])+`">#`+itoa(ids[2])+`</a>`)
}

// TestReportPageApprox: a report read from the roll-ups says that its
// percentiles are within 2%; one read item by item does not.
func TestReportPageApprox(t *testing.T) {
	e, m := newReportsEnv(t, func(o *report.Options) { o.ExactItems = -1 })
	seedReports(t, e, m)
	c := e.as(t, viewer)
	c.get(t, "/reports/response?days=60&bucket=week").wantCode(t, http.StatusOK).wantBody(t, `id="report-approx"`, "within 2%")

	e, m = newReportsEnv(t)
	seedReports(t, e, m)
	e.as(t, viewer).get(t, "/reports/response?days=60&bucket=week").wantCode(t, http.StatusOK).wantNoBody(t, `id="report-approx"`)
}

// TestReportsIndexRedirects: /reports leads to the first report, with the
// query kept.
func TestReportsIndexRedirects(t *testing.T) {
	e, _ := newReportsEnv(t)
	c := e.as(t, viewer)
	c.get(t, "/reports").wantCode(t, http.StatusSeeOther).wantLocation(t, "/reports/response")
	c.get(t, "/reports/").wantCode(t, http.StatusSeeOther).wantLocation(t, "/reports/response")
	c.get(t, "/reports?days=90").wantCode(t, http.StatusSeeOther).wantLocation(t, "/reports/response?days=90")
	c.get(t, "/reports/nope").wantCode(t, http.StatusNotFound)
	c.get(t, "/reports/nope/export").wantCode(t, http.StatusNotFound)
	// Signed out: to the sign-in page.
	e.newClient().get(t, "/reports/flow").wantCode(t, http.StatusSeeOther)
}

// TestReportFormErrors: a bad input is answered 400 with the form, its
// message next to the named field and what was typed kept.
func TestReportFormErrors(t *testing.T) {
	e, _ := newReportsEnv(t)
	c := e.as(t, viewer)
	for _, tc := range []struct {
		name, path, field string
		want              []string
	}{
		{"time zone", "/reports/response?tz=Mars/Olympus&person=ana%40example.com", "tz",
			[]string{`value="Mars/Olympus"`, `value="ana@example.com"`, `&#34;Mars/Olympus&#34; is not an IANA time zone`, `data-fill="false"`}},
		{"date", "/reports/flow?from=2026-02-30", "from", []string{`value="2026-02-30"`, "must be a date"}},
		{"days", "/reports/slos?days=0", "days", []string{`<option value="0" selected>Last 0 days</option>`, "whole number of days"}},
		{"bucket", "/reports/response?bucket=hour", "bucket", []string{`<option value="hour" selected>hour</option>`}},
		{"by", "/reports/quality?by=colour", "by", []string{`<option value="colour" selected>colour</option>`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.get(t, tc.path).wantCode(t, http.StatusBadRequest)
			r.wantBody(t, append([]string{`id="err-` + tc.field + `" role="alert"`, `aria-invalid="true" aria-describedby="err-` + tc.field + `"`}, tc.want...)...)
			r.wantNoBody(t, `<svg`, `id="report-csv"`)
		})
	}
	// A filter the flow does not show is kept as a hidden input, and its
	// error is shown above the form.
	r := c.get(t, "/reports/flow?severity=urgent").wantCode(t, http.StatusBadRequest)
	r.wantBody(t, `id="err-other" role="alert">severity: must be one of`, `<input type="hidden" name="severity" value="urgent">`)
}

// TestReportExportCSV: the export answers the session with the report as
// CSV, as an attachment; the API's CSV wants a token and refuses the
// session cookie.
func TestReportExportCSV(t *testing.T) {
	e, m := newReportsEnv(t)
	seedReports(t, e, m)
	c := e.as(t, viewer)
	r := c.get(t, "/reports/flow/export?days=7&tz=UTC").wantCode(t, http.StatusOK)
	if ct := r.hdr.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q, want text/csv", ct)
	}
	if cd := r.hdr.Get("Content-Disposition"); cd != `attachment; filename="vigil-flow-20260227-20260305.csv"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	rd := csv.NewReader(strings.NewReader(r.body))
	rd.FieldsPerRecord = -1
	recs, err := rd.ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, r.body)
	}
	if len(recs) < 2 || recs[0][0] != "# Cumulative flow" || recs[1][0] != "at" {
		t.Errorf("CSV starts %q, want the cumulative flow's table", recs[:min(2, len(recs))])
	}
	for _, name := range report.Names {
		c.get(t, "/reports/"+name+"/export").wantCode(t, http.StatusOK)
	}
	c.get(t, "/reports/response/export?tz=Mars/Olympus").wantCode(t, http.StatusBadRequest).wantBody(t, "tz: ")
	c.get(t, "/api/v1/reports/response?format=csv").wantCode(t, http.StatusUnauthorized)
}

// TestReportsOff: without the reports service the pages are not found
// and the navigation does not offer them.
func TestReportsOff(t *testing.T) {
	e := newEnv(t)
	c := e.as(t, viewer)
	c.get(t, "/board").wantCode(t, http.StatusOK).wantNoBody(t, `href="/reports"`)
	c.get(t, "/reports").wantCode(t, http.StatusNotFound)
	c.get(t, "/reports/flow").wantCode(t, http.StatusNotFound)
	c.get(t, "/reports/flow/export").wantCode(t, http.StatusNotFound)
}
