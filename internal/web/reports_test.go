package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/report"
	"github.com/vigil-soc/vigil/internal/web"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// TestReportsAPI: each report answers JSON to any role, and CSV when asked
// by format or Accept; bad input is a 400 naming the parameter.
func TestReportsAPI(t *testing.T) {
	var svc *report.Service
	e := newEnv(t, func(o *web.Options) {
		svc = report.New(o.Store.(*pingStore).DB, nil, workitem.DefaultProcess(), report.Options{Clock: o.Clock})
		o.Reports = svc
	})
	e.ingest(t, alertBody("Brute force", map[string]any{"severity": "high"}), alertBody("Port scan", map[string]any{"severity": "low"}))
	if err := report.NewModule(e.db, workitem.DefaultProcess(), svc).UpdateAll(context.Background()); err != nil {
		t.Fatal(err)
	}

	var r report.Response
	e.do(t, viewer, "GET", "/api/v1/reports/response?days=7&tz=Europe/Helsinki", nil).wantCode(t, http.StatusOK).decode(t, &r)
	if r.Items != 2 || r.Period.Zone != "Europe/Helsinki" || len(r.Series) != 7 {
		t.Errorf("response report: %d items, zone %s, %d buckets; want 2, Europe/Helsinki, 7", r.Items, r.Period.Zone, len(r.Series))
	}
	if r.TTA.Median != nil {
		t.Errorf("nobody acknowledged anything, yet MTTA's median is %v", *r.TTA.Median)
	}
	var q report.Quality
	e.do(t, viewer, "GET", "/api/v1/reports/quality?by=source&severity=high", nil).wantCode(t, http.StatusOK).decode(t, &q)
	if len(q.Rows) != 1 || q.Rows[0].Items != 1 {
		t.Errorf("quality by source, high only: %+v", q.Rows)
	}
	for _, name := range []string{"slos", "oncall", "flow"} {
		e.do(t, viewer, "GET", "/api/v1/reports/"+name, nil).wantCode(t, http.StatusOK)
	}

	csv := e.do(t, viewer, "GET", "/api/v1/reports/flow?days=3&format=csv", nil).wantCode(t, http.StatusOK)
	if ct := csv.hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") || !strings.Contains(string(csv.body), "# Cumulative flow") {
		t.Errorf("CSV export: %s\n%s", ct, csv.body)
	}
	byAccept := e.do(t, viewer, "GET", "/api/v1/reports/response", nil, "Accept", "text/csv").wantCode(t, http.StatusOK)
	if !strings.Contains(string(byAccept.body), "Time to acknowledge (MTTA),0,,,") {
		t.Errorf("no data must be an empty field, not 0:\n%s", byAccept.body)
	}

	for _, c := range []struct{ path, field string }{
		{"/api/v1/reports/response?tz=Mars/Olympus", "tz"},
		{"/api/v1/reports/response?from=2026-02-30", "from"},
		{"/api/v1/reports/response?severity=urgent", "severity"},
		{"/api/v1/reports/quality?by=colour", "by"},
		{"/api/v1/reports/nothing", "report"},
	} {
		if got := e.do(t, viewer, "GET", c.path, nil).wantCode(t, http.StatusBadRequest).apiErr(t).Error.Field; got != c.field {
			t.Errorf("%s: error names %q, want %q", c.path, got, c.field)
		}
	}
	e.do(t, noAuth, "GET", "/api/v1/reports/response", nil).wantCode(t, http.StatusUnauthorized)
}
