package ui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/report"
	"github.com/vigil-soc/vigil/internal/validation"
)

// Reports computes the reports the reports pages show.
type Reports interface {
	Run(ctx context.Context, name string, q url.Values) (report.Tabler, error)
	TimeZone() string
}

// The reports pages: GET /reports/{name} shows one report of
// report.Names as charts, each followed by its figures as a table, under
// a filter form whose query is the API's (GET /api/v1/reports/{name}), so
// that a page's address, its CSV export and an API call say the same.
// Every role may read them: the reports count items, which every role
// sees on the board.

func (u *UI) reportFuncs() template.FuncMap {
	return template.FuncMap{
		"reportsOn": func() bool { return u.o.Reports != nil },
		"reportField": func(f *reportForm, name, label, value, placeholder string) reportTextField {
			return reportTextField{Name: name, Label: label, Value: value, Placeholder: placeholder, Err: f.FieldErr(name)}
		},
	}
}

// reportTextField is one text input of the filter form.
type reportTextField struct {
	Name, Label, Value, Placeholder, Err string
}

func (u *UI) reportsOff(w http.ResponseWriter, r *http.Request, v *view) bool {
	if u.o.Reports == nil {
		u.fail(w, r, v, fmt.Errorf("reports: %w", validation.ErrNotFound))
		return true
	}
	return false
}

// reportsIndex leads to the first report, keeping the query.
func (u *UI) reportsIndex(w http.ResponseWriter, r *http.Request, v *view) {
	if u.reportsOff(w, r, v) {
		return
	}
	to := "/reports/" + report.Names[0]
	if q := r.URL.Query().Encode(); q != "" {
		to += "?" + q
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// reportName is the report the path names, or false after answering 404.
func (u *UI) reportName(w http.ResponseWriter, r *http.Request, v *view) (string, bool) {
	if u.reportsOff(w, r, v) {
		return "", false
	}
	name := r.PathValue("name")
	if !slices.Contains(report.Names, name) {
		u.fail(w, r, v, fmt.Errorf("report %q: %w", name, validation.ErrNotFound))
		return "", false
	}
	return name, true
}

func (u *UI) reportPage(w http.ResponseWriter, r *http.Request, v *view) {
	name, ok := u.reportName(w, r, v)
	if !ok {
		return
	}
	q := r.URL.Query()
	d := u.newReportData(name, q)
	code := http.StatusOK
	rep, err := u.o.Reports.Run(r.Context(), name, q)
	if err != nil {
		// A bad input is shown on the form, next to its field, with
		// what was typed; anything else is the error page.
		var fe *validation.FieldError
		if !errors.As(err, &fe) {
			u.fail(w, r, v, err)
			return
		}
		d.Form.setErr(fe)
		code = http.StatusBadRequest
	} else {
		d.fill(rep)
	}
	v.Title, v.Nav, v.Data = report.Titles[name], "reports", d
	u.render(w, code, "reports.html", v)
}

// reportExport answers the report as CSV (report.WriteCSV), for the
// session: the API's CSV wants an API token, which a browser has not.
func (u *UI) reportExport(w http.ResponseWriter, r *http.Request, v *view) {
	name, ok := u.reportName(w, r, v)
	if !ok {
		return
	}
	rep, err := u.o.Reports.Run(r.Context(), name, r.URL.Query())
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	// Written whole before the status, so that a failure is still a 500.
	var buf bytes.Buffer
	if err := report.WriteCSV(&buf, rep.Tables()); err != nil {
		u.fail(w, r, v, fmt.Errorf("report %s as CSV: %w", name, err))
		return
	}
	file := "vigil-" + name
	if p, ok := periodOf(rep); ok {
		file += "-" + p.From.In(p.Loc).Format("20060102") + "-" + p.To.In(p.Loc).AddDate(0, 0, -1).Format("20060102")
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+file+`.csv"`)
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}

// periodOf is the period a report covers.
func periodOf(rep report.Tabler) (report.Period, bool) {
	switch x := rep.(type) {
	case report.Response:
		return x.Period, true
	case report.SLOReport:
		return x.Period, true
	case report.Quality:
		return x.Period, true
	case report.OnCallLoad:
		return x.Period, true
	case report.Flow:
		return x.Period, true
	}
	return report.Period{}, false
}

// reportData is what reports.html shows.
type reportData struct {
	Name  string
	Title string
	Tabs  []reportTab
	Form  *reportForm
	// Period says what the figures cover, for people.
	Period string
	// Approx is set when percentiles were read from daily roll-ups.
	Approx   bool
	Notes    []string
	Sections []reportSection
	CSV      string
	// OK is false when the form was refused: no figures to show.
	OK bool
}

type reportTab struct {
	Name, Title, Href string
	Current           bool
}

// reportSection is one table of the report with the charts drawn from
// it above, and a list that goes with it below.
type reportSection struct {
	ID      string
	Heading string
	Charts  []reportChart
	Table   reportTable
	List    *reportList
}

type reportChart struct {
	SVG template.HTML
	// Note says what the chart leaves out or how to read it.
	Note string
}

type reportList struct {
	ID, Heading, Empty string
	Items              []string
}

type reportTable struct {
	ID      string
	Caption string
	Columns []reportColumn
	Rows    [][]reportCell
}

type reportColumn struct {
	Label string
	Num   bool
}

// reportCell is a table cell ready to show.
type reportCell struct {
	Text  string
	Title string // the exact figure, or the full time, on hover
	Href  string
	// Num right-aligns it; NoData writes "no data"; Header makes it the
	// row's header.
	Num, NoData, Header bool
}

// reportForm is the filter form: what was asked, as typed.
type reportForm struct {
	Name                                                           string
	Days, From, To, Bucket, TZ                                     string
	Team, Person, Source, Type, Severity, Service, Rule, AlertType string
	By                                                             string
	// FillTZ is set when the address names no time zone: reports.js then
	// offers the browser's.
	FillTZ bool
	// DefaultTZ is the zone used when none is named.
	DefaultTZ  string
	DayOptions []reportOption
	Buckets    []reportOption
	Severities []reportOption
	Bys        []reportOption
	// Filters and Bucketed say which inputs apply to this report; the
	// others are kept as hidden inputs, so that the tabs and the next
	// submit carry them along.
	Filters, Bucketed bool
	Hidden            []reportOption
	Err               *validation.FieldError
	// OtherErr is an error on a field this form does not show.
	OtherErr string
}

type reportOption struct {
	Value, Label string
	Selected     bool
}

// reportFilterFields are the query's filter fields: what ParseFilter
// reads.
var reportFilterFields = []string{"team", "person", "source", "type", "severity", "service", "rule", "alert_type"}

// FieldErr is the message for field, or "".
func (f *reportForm) FieldErr(field string) string {
	if f.Err == nil || f.Err.Field != field {
		return ""
	}
	return f.Err.Message
}

func (f *reportForm) shows(field string) bool {
	switch field {
	case "days", "from", "to", "tz":
		return true
	case "bucket":
		return f.Bucketed
	case "by":
		return f.Name == report.NameQuality
	}
	return f.Filters && slices.Contains(reportFilterFields, field)
}

func (f *reportForm) setErr(fe *validation.FieldError) {
	f.Err = fe
	if !f.shows(fe.Field) {
		f.OtherErr = fe.Error()
	}
}

// presetDays are the period select's choices.
var presetDays = []int{7, 30, 90, 365}

func (u *UI) newReportData(name string, q url.Values) *reportData {
	d := &reportData{Name: name, Title: report.Titles[name]}
	carry := url.Values{}
	for k, vs := range q {
		if len(vs) > 0 && vs[0] != "" {
			carry[k] = vs[:1]
		}
	}
	enc := ""
	if len(carry) > 0 {
		enc = "?" + carry.Encode()
	}
	for _, n := range report.Names {
		d.Tabs = append(d.Tabs, reportTab{Name: n, Title: report.Titles[n], Href: "/reports/" + n + enc, Current: n == name})
	}
	d.CSV = "/reports/" + name + "/export" + enc

	f := &reportForm{Name: name, Days: q.Get("days"), From: q.Get("from"), To: q.Get("to"), Bucket: q.Get("bucket"),
		TZ: strings.TrimSpace(q.Get("tz")), Team: q.Get("team"), Person: q.Get("person"), Source: q.Get("source"), Type: q.Get("type"),
		Severity: q.Get("severity"), Service: q.Get("service"), Rule: q.Get("rule"), AlertType: q.Get("alert_type"), By: q.Get("by"),
		DefaultTZ: u.o.Reports.TimeZone(),
		Filters:   name == report.NameResponse || name == report.NameSLOs || name == report.NameQuality,
		Bucketed:  name == report.NameResponse || name == report.NameFlow}
	if f.DefaultTZ == "" {
		f.DefaultTZ = "UTC"
	}
	if f.TZ == "" {
		f.TZ, f.FillTZ = f.DefaultTZ, true
	}
	// The period: a preset number of days, or "custom" when dates are
	// given (from wins over days, as the API has it).
	days := f.Days
	if f.From != "" {
		days = ""
	} else if days == "" {
		days = "30"
	}
	seen := false
	for _, n := range presetDays {
		s := strconv.Itoa(n)
		f.DayOptions = append(f.DayOptions, reportOption{Value: s, Label: "Last " + s + " days", Selected: s == days})
		seen = seen || s == days
	}
	if days != "" && !seen {
		f.DayOptions = append(f.DayOptions, reportOption{Value: days, Label: "Last " + days + " days", Selected: true})
	}
	f.DayOptions = append(f.DayOptions, reportOption{Value: "", Label: "Custom dates (from, to)", Selected: days == ""})
	f.Buckets = options(f.Bucket, [][2]string{{"", "automatic"}, {"day", "day"}, {"week", "week"}, {"month", "month"}})
	f.Severities = options(strings.ToLower(f.Severity), [][2]string{{"", "any"}, {"informational", "informational"}, {"low", "low"},
		{"medium", "medium"}, {"high", "high"}, {"critical", "critical"}})
	by := f.By
	if by == "" {
		by = report.DimRule // the report's default
	}
	f.Bys = options(by, [][2]string{{"rule", "analytic rule"}, {"alert_type", "alert type"}, {"source", "source"}})
	for _, k := range append([]string{"bucket", "by"}, reportFilterFields...) {
		if v := q.Get(k); v != "" && !f.shows(k) {
			f.Hidden = append(f.Hidden, reportOption{Value: v, Label: k})
		}
	}
	d.Form = f
	return d
}

// options makes a select's options with cur selected; a value that is
// not among them (typed into the address) is kept as one more.
func options(cur string, vals [][2]string) []reportOption {
	out := make([]reportOption, 0, len(vals)+1)
	found := false
	for _, v := range vals {
		out = append(out, reportOption{Value: v[0], Label: v[1], Selected: v[0] == cur})
		found = found || v[0] == cur
	}
	if !found {
		out = append(out, reportOption{Value: cur, Label: cur, Selected: true})
	}
	return out
}

// fill adds the report's figures: every table, in the report's order,
// with the charts drawn from it.
func (d *reportData) fill(rep report.Tabler) {
	d.OK = true
	tables := rep.Tables()
	var loc *time.Location
	if p, ok := periodOf(rep); ok {
		loc = p.Loc
		last := p.To.In(p.Loc).AddDate(0, 0, -1)
		d.Period = fmt.Sprintf("%s to %s, %s", p.From.In(p.Loc).Format("2 Jan 2006"), last.Format("2 Jan 2006"), p.Zone)
		if d.Form.Bucketed {
			d.Period += ", per " + p.Bucket
		}
	}
	charts := map[int][]reportChart{}
	lists := map[int]*reportList{}
	order := make([]int, len(tables))
	for i := range order {
		order[i] = i
	}
	switch x := rep.(type) {
	case report.Response:
		d.Approx = !x.Exact
		charts[3] = []reportChart{{SVG: responseLine(x)}}
		charts[2] = []reportChart{{SVG: stateBars(x)}}
		if len(order) == 4 {
			order = []int{0, 1, 3, 2} // the trend before the states
		}
	case report.SLOReport:
		d.Approx = !x.Exact
		charts[0] = []reportChart{{SVG: sloBars(x)}}
		if len(x.SLOs) == 0 {
			d.Notes = append(d.Notes, "No SLOs are configured: add them under reports.slos in the configuration file.")
		}
	case report.Quality:
		d.Approx = !x.Exact
		svg, note := qualityBars(x)
		charts[0] = []reportChart{{SVG: svg, Note: note}}
		lists[0] = &reportList{ID: "never-acted", Heading: "Never acted on", Items: x.NeverActed,
			Empty: "Someone acted on the items of every detection."}
	case report.OnCallLoad:
		svg, note := peopleBars(x)
		charts[1] = []reportChart{{SVG: svg, Note: note}}
		d.Notes = append(d.Notes, "Night is "+x.NightHours+" in "+x.Period.Zone+". Filters do not apply to on-call load: it counts every page.")
	case report.Flow:
		charts[0] = []reportChart{{SVG: cfdArea(x)}}
		charts[1] = []reportChart{{SVG: throughputBars(x)}}
		charts[2] = []reportChart{{SVG: wipBars(x)}}
		d.Notes = append(d.Notes, "Filters do not apply to the flow: it covers the whole board.")
		if x.StuckTotal > int64(len(x.Stuck)) {
			d.Notes = append(d.Notes, fmt.Sprintf("%d items are stuck; the %d stuck longest are listed.", x.StuckTotal, len(x.Stuck)))
		}
	}
	for _, i := range order {
		t := tables[i]
		d.Sections = append(d.Sections, reportSection{ID: fmt.Sprintf("t%d", i), Heading: t.Name, Charts: charts[i],
			Table: tableView(fmt.Sprintf("table-%d", i), t, loc), List: lists[i]})
	}
}

// tableView turns a report table into cells to show: no data as "no
// data", durations for people, shares as percentages, items as links,
// times in the viewer's zone.
func tableView(id string, t report.Table, loc *time.Location) reportTable {
	out := reportTable{ID: id, Caption: t.Name}
	numCol := make([]bool, len(t.Columns))
	for _, r := range t.Rows {
		for j, c := range r {
			if j < len(numCol) && c != nil && c.IsNum {
				numCol[j] = true
			}
		}
	}
	for j, c := range t.Columns {
		out.Columns = append(out.Columns, reportColumn{Label: columnLabel(c), Num: numCol[j]})
	}
	for _, r := range t.Rows {
		row := make([]reportCell, len(r))
		for j, c := range r {
			row[j] = cellView(c, loc)
			row[j].Num = j < len(numCol) && numCol[j]
		}
		if len(row) > 0 && !row[0].Num && !row[0].NoData && row[0].Href == "" {
			row[0].Header = true
		}
		out.Rows = append(out.Rows, row)
	}
	return out
}

func cellView(c *report.Cell, loc *time.Location) reportCell {
	switch {
	case c == nil:
		return reportCell{Text: "no data", NoData: true}
	case c.ItemID != 0:
		return reportCell{Text: "#" + strconv.FormatInt(c.ItemID, 10), Href: "/items/" + strconv.FormatInt(c.ItemID, 10)}
	case c.Duration:
		return reportCell{Text: report.HumanDuration(c.Num), Title: strconv.FormatFloat(c.Num, 'f', 0, 64) + " s"}
	case c.Share:
		return reportCell{Text: percent(c.Num)}
	case c.IsNum && c.Num == math.Trunc(c.Num):
		return reportCell{Text: thousands(int(c.Num))}
	case c.IsNum: // hours on call, ratios
		return reportCell{Text: strconv.FormatFloat(c.Num, 'f', 2, 64)}
	}
	switch c.Text {
	case "true":
		return reportCell{Text: "yes"}
	case "false":
		return reportCell{Text: "no"}
	}
	if loc != nil && len(c.Text) == len("2006-01-02T15:04:05Z") && strings.HasSuffix(c.Text, "Z") {
		if t, err := time.Parse(time.RFC3339, c.Text); err == nil {
			return reportCell{Text: t.In(loc).Format("2006-01-02 15:04 MST"), Title: c.Text}
		}
	}
	return reportCell{Text: c.Text}
}

// columnLabel is a CSV column's name for people: "tta_median_seconds" is
// "TTA median".
func columnLabel(c string) string {
	switch c {
	case "workitem_id":
		return "Item"
	case "at":
		return "At"
	}
	c = strings.TrimSuffix(c, "_seconds")
	words := strings.Split(c, "_")
	for i, w := range words {
		switch w {
		case "tta", "ttr":
			words[i] = strings.ToUpper(w)
		}
	}
	c = strings.Join(words, " ")
	if c != "" {
		c = strings.ToUpper(c[:1]) + c[1:]
	}
	return c
}

// The charts of each report.

func ptr(v float64) *float64 { return &v }

func responseLine(x report.Response) template.HTML {
	c := chartSpec{ID: "chart-response", Title: "Median time to acknowledge and to resolve per " + x.Period.Bucket, Noun: x.Period.Bucket + "s",
		XLabel: x.Period.Bucket + " created (" + x.Period.Zone + ")", YLabel: "median time", Unit: unitDuration,
		Series: []chartSeries{{Name: "Median TTA"}, {Name: "Median TTR"}}}
	for _, p := range x.Series {
		c.Labels = append(c.Labels, p.Label)
		c.Series[0].Values = append(c.Series[0].Values, p.TTA.Median)
		c.Series[1].Values = append(c.Series[1].Values, p.TTR.Median)
	}
	return lineSVG(c)
}

func stateBars(x report.Response) template.HTML {
	c := chartSpec{ID: "chart-states", Title: "Median time in each state", Noun: "states", XLabel: "state", YLabel: "median time", Unit: unitDuration,
		Series: []chartSeries{{Name: "Median time in state"}}}
	for _, s := range x.States {
		c.Labels = append(c.Labels, s.State)
		c.Series[0].Values = append(c.Series[0].Values, s.Median)
	}
	return barSVG(c)
}

func sloBars(x report.SLOReport) template.HTML {
	c := chartSpec{ID: "chart-slos", Title: "SLO attainment against the objective", XLabel: "SLO", YLabel: "share met",
		Unit: unitShare, Series: []chartSeries{{Name: "Attainment"}}, MarkName: "objective"}
	var parts []string
	for _, s := range x.SLOs {
		c.Labels = append(c.Labels, s.Name)
		c.Series[0].Values = append(c.Series[0].Values, s.Attainment)
		c.Marks = append(c.Marks, ptr(s.Objective))
		a := "no data"
		if s.Attainment != nil {
			a = percent(*s.Attainment)
		}
		parts = append(parts, fmt.Sprintf("%s %s against %s, %s", s.Name, a, percent(s.Objective), s.Status))
	}
	c.Summary = c.Title + ": " + strings.Join(parts, "; ") + "."
	return barSVG(c)
}

// noisiest is how many detections the quality chart draws.
const noisiest = 15

func qualityBars(x report.Quality) (template.HTML, string) {
	by := map[string]string{report.DimRule: "analytic rule", report.DimAlertType: "alert type", report.DimSource: "source"}[x.By]
	c := chartSpec{ID: "chart-quality", Title: "Classification of the closed items of the noisiest detections, by " + by,
		XLabel: "closed items", Unit: unitCount, Stacked: true,
		Series: []chartSeries{{Name: "True positive"}, {Name: "Benign positive"}, {Name: "False positive"}, {Name: "Undetermined"}}}
	rows := x.Rows
	note := ""
	if len(rows) > noisiest {
		rows = rows[:noisiest]
		note = fmt.Sprintf("The %d noisiest of %d; the table lists them all.", noisiest, len(x.Rows))
	}
	var parts []string
	for _, r := range rows {
		key := r.Key
		if key == "" {
			key = "(none)"
		}
		c.Labels = append(c.Labels, key)
		for i, n := range []int64{r.TruePositive, r.BenignPositive, r.FalsePositive, r.Undetermined} {
			c.Series[i].Values = append(c.Series[i].Values, ptr(float64(n)))
		}
		parts = append(parts, fmt.Sprintf("%s: %d false and %d benign of %d closed", key, r.FalsePositive, r.BenignPositive, r.Closed))
	}
	c.Summary = c.Title + ". " + strings.Join(parts, "; ") + "."
	return hbarSVG(c), note
}

// peopleShown is how many people the on-call chart draws.
const peopleShown = 20

func peopleBars(x report.OnCallLoad) (template.HTML, string) {
	// Night and weekend overlap (a Saturday night is both), so they are
	// drawn beside the total rather than stacked into it.
	c := chartSpec{ID: "chart-oncall", Title: "Interruptions per person", Noun: "people", XLabel: "person", YLabel: "interruptions", Unit: unitCount,
		Series: []chartSeries{{Name: "All"}, {Name: "Night"}, {Name: "Weekend"}}}
	people := x.People
	note := "Night and weekend interruptions are also counted in all; one at night on a weekend counts in both."
	if len(people) > peopleShown {
		people = people[:peopleShown]
		note += fmt.Sprintf(" The %d most interrupted of %d people are drawn; the table lists them all.", peopleShown, len(x.People))
	}
	for _, p := range people {
		c.Labels = append(c.Labels, p.User)
		c.Series[0].Values = append(c.Series[0].Values, ptr(float64(p.Interruptions)))
		c.Series[1].Values = append(c.Series[1].Values, ptr(float64(p.Night)))
		c.Series[2].Values = append(c.Series[2].Values, ptr(float64(p.Weekend)))
	}
	return barSVG(c), note
}

func cfdArea(x report.Flow) template.HTML {
	c := chartSpec{ID: "chart-cfd", Title: "Cumulative flow: items in each state", XLabel: "start of " + x.Period.Bucket + " (" + x.Period.Zone + ")",
		YLabel: "items", Unit: unitCount}
	// The last state of the process (done) at the bottom, the first
	// (new) on top, as cumulative flow diagrams are read.
	for i := len(x.States) - 1; i >= 0; i-- {
		c.Series = append(c.Series, chartSeries{Name: x.States[i]})
	}
	for i, p := range x.CFD {
		l := p.Label
		if i == len(x.CFD)-1 && i > 0 {
			l = "end"
		}
		c.Labels = append(c.Labels, l)
		for s := range c.Series {
			c.Series[s].Values = append(c.Series[s].Values, ptr(float64(p.Counts[c.Series[s].Name])))
		}
	}
	if len(x.CFD) > 0 {
		last := x.CFD[len(x.CFD)-1]
		var parts []string
		for _, st := range x.States {
			parts = append(parts, fmt.Sprintf("%s %d", st, last.Counts[st]))
		}
		c.Summary = fmt.Sprintf("%s, %d points from %s. At the end: %s.", c.Title, len(x.CFD), x.CFD[0].Label, strings.Join(parts, ", "))
	}
	return areaSVG(c)
}

func throughputBars(x report.Flow) template.HTML {
	c := chartSpec{ID: "chart-throughput", Title: "Throughput: items done per " + x.Period.Bucket, XLabel: x.Period.Bucket + " (" + x.Period.Zone + ")",
		YLabel: "items done", Unit: unitCount, Stacked: true}
	var terminal []string
	if len(x.Throughput) > 0 {
		for _, s := range x.States {
			if _, ok := x.Throughput[0].Done[s]; ok {
				terminal = append(terminal, s)
			}
		}
	}
	for _, s := range terminal {
		c.Series = append(c.Series, chartSeries{Name: s})
	}
	var total int64
	for _, t := range x.Throughput {
		c.Labels = append(c.Labels, t.Label)
		for i, s := range terminal {
			c.Series[i].Values = append(c.Series[i].Values, ptr(float64(t.Done[s])))
		}
		total += t.Total
	}
	c.Summary = fmt.Sprintf("%s: %d items done over %d %ss.", c.Title, total, len(x.Throughput), x.Period.Bucket)
	return barSVG(c)
}

func wipBars(x report.Flow) template.HTML {
	c := chartSpec{ID: "chart-wip", Title: "Age of the open items now", XLabel: "age", YLabel: "open items", Unit: unitCount,
		Series: []chartSeries{{Name: "Open items"}}}
	var parts []string
	for _, b := range x.WIP {
		c.Labels = append(c.Labels, b.Label)
		c.Series[0].Values = append(c.Series[0].Values, ptr(float64(b.Count)))
		parts = append(parts, fmt.Sprintf("%s: %d", b.Label, b.Count))
	}
	// Nothing open is a real zero, drawn as such: it is not missing data.
	c.Summary = fmt.Sprintf("%s, %d open. %s.", c.Title, x.WIPOpen, strings.Join(parts, ", "))
	return barSVG(c)
}
