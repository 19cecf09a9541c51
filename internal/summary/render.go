package summary

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"strconv"
	"strings"

	"github.com/vigil-soc/vigil/internal/report"
)

// Limits of what one summary lists.
const (
	// TopRules is how many of the noisiest detection rules are listed.
	TopRules = 5
	// MaxBreaches is how many breaches are listed per SLO; the rest are
	// counted ("and 4 more").
	MaxBreaches = 10
)

// noData is what an absent figure reads as: never 0, which would say
// something was measured.
const noData = "no data"

// Figures are what one summary reports, as the reports service computed
// them.
type Figures struct {
	Response report.Response
	SLOs     report.SLOReport
	Quality  report.Quality
}

// view is a summary's figures as text, shared by both bodies.
type view struct {
	Title    string
	Team     string
	Week     string
	From, To string // first and last local day covered
	Zone     string
	Items    int64
	Acked    int64
	Resolved int64
	Stats    []statRow
	SLOs     []sloRow
	Rules    []ruleRow
}

type statRow struct {
	Name, N, Median, P90, Mean string
}

type sloRow struct {
	Name, Goal, Attainment, Status string
	// Measured is false when no item was met or missed: the status and
	// the attainment are both "no data".
	Measured             bool
	Met, Missed, Pending int64
	Breaches             []breachRow
	More                 int64 // missed beyond those listed
}

type breachRow struct {
	ID                          int64
	URL                         string
	Created, Severity, Assignee string
	Took                        string
}

type ruleRow struct {
	Rule                  string
	Items, Closed         int64
	FalsePos, BenignPos   int64
	NoiseShare, MedianTTR string
}

// TeamName is how a summary names its team: "all teams" for the summary
// of every item.
func TeamName(team string) string {
	if team == "" {
		return "all teams"
	}
	return team
}

// Subject is the summary email's subject.
func Subject(team, week string) string {
	return "vigil weekly summary — " + TeamName(team) + " — " + week
}

func dur(v *float64) string {
	if v == nil {
		return noData
	}
	return report.HumanDuration(*v)
}

func pct(v *float64) string {
	if v == nil {
		return noData
	}
	return strconv.FormatFloat(*v*100, 'f', 1, 64) + "%"
}

// newView lays the figures out; base is vigil's address, for the links
// to items.
func newView(team, week string, p report.Period, f Figures, base string) view {
	last := p.To.In(p.Loc).AddDate(0, 0, -1)
	v := view{Title: Subject(team, week), Team: TeamName(team), Week: week,
		From: p.From.In(p.Loc).Format("Mon 2 Jan 2006"), To: last.Format("Mon 2 Jan 2006"), Zone: p.Zone,
		Items: f.Response.Items, Acked: f.Response.Acked, Resolved: f.Response.Resolved}
	for _, s := range []struct {
		name string
		st   report.Stat
	}{{"Time to acknowledge (MTTA)", f.Response.TTA}, {"Time to resolve (MTTR)", f.Response.TTR}} {
		v.Stats = append(v.Stats, statRow{Name: s.name, N: strconv.FormatInt(s.st.N, 10),
			Median: dur(s.st.Median), P90: dur(s.st.P90), Mean: dur(s.st.Mean)})
	}
	for _, s := range f.SLOs.SLOs {
		verb := "acknowledged"
		if s.Metric == report.MetricResolve {
			verb = "resolved"
		}
		goal := fmt.Sprintf("%s within %s", verb, report.HumanDuration(s.TargetSeconds))
		if len(s.Severity) > 0 {
			goal = strings.Join(s.Severity, "/") + " " + goal
		}
		obj := s.Objective
		goal += ", objective " + pct(&obj)
		r := sloRow{Name: s.Name, Goal: goal, Attainment: pct(s.Attainment), Status: s.Status, Measured: s.Attainment != nil,
			Met: s.Met, Missed: s.Missed, Pending: s.Pending}
		for i, b := range s.Breaches {
			if i == MaxBreaches {
				break
			}
			took := "not yet (overdue)"
			if b.Took != nil {
				took = report.HumanDuration(*b.Took)
			}
			r.Breaches = append(r.Breaches, breachRow{ID: b.ItemID, URL: fmt.Sprintf("%s/items/%d", base, b.ItemID),
				Created: b.Created.In(p.Loc).Format("Mon 2 Jan 15:04"), Severity: b.Severity, Assignee: b.Assignee, Took: took})
		}
		r.More = max(s.Missed-int64(len(r.Breaches)), 0)
		v.SLOs = append(v.SLOs, r)
	}
	for _, q := range f.Quality.Rows {
		if len(v.Rules) == TopRules {
			break
		}
		if q.Key == "" {
			continue // items no detection rule raised are not a rule's noise
		}
		var share *float64
		if q.Closed > 0 {
			s := float64(q.Noise()) / float64(q.Closed)
			share = &s
		}
		v.Rules = append(v.Rules, ruleRow{Rule: q.Key, Items: q.Items, Closed: q.Closed, FalsePos: q.FalsePositive, BenignPos: q.BenignPositive,
			NoiseShare: pct(share), MedianTTR: dur(q.MedianTTR)})
	}
	return v
}

func items(n int64) string {
	if n == 1 {
		return "1 item"
	}
	return strconv.FormatInt(n, 10) + " items"
}

// text is the plain-text body.
func (v view) text() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("%s\n%s to %s (%s)\n\n", v.Title, v.From, v.To, v.Zone)
	w("RESPONSE\n")
	w("  Items created: %d\n  Acknowledged:  %d\n  Resolved:      %d\n\n", v.Items, v.Acked, v.Resolved)
	w("  %-28s %6s  %-10s %-10s %s\n", "", "n", "median", "p90", "mean")
	for _, s := range v.Stats {
		w("  %-28s %6s  %-10s %-10s %s\n", s.Name, s.N, s.Median, s.P90, s.Mean)
	}
	w("\nSLOS\n")
	if len(v.SLOs) == 0 {
		w("  No SLO is configured (reports.slos).\n")
	}
	for _, s := range v.SLOs {
		w("  %s: %s\n", s.Name, s.Goal)
		if s.Measured {
			w("    attainment %s, %s (%d met, %d missed, %d pending)\n", s.Attainment, s.Status, s.Met, s.Missed, s.Pending)
		} else {
			w("    attainment %s (%d pending)\n", noData, s.Pending)
		}
		for _, x := range s.Breaches {
			who := x.Assignee
			if who == "" {
				who = "unassigned"
			}
			w("    - #%d %s, %s, created %s, took %s: %s\n", x.ID, x.Severity, who, x.Created, x.Took, x.URL)
		}
		if s.More > 0 {
			w("    … and %d more\n", s.More)
		}
	}
	w("\nNOISIEST DETECTION RULES\n")
	if len(v.Rules) == 0 {
		w("  " + noData + "\n")
	}
	for i, r := range v.Rules {
		w("  %d. %s: %s, %d closed: %d false positive, %d benign positive, noise %s; median TTR %s\n",
			i+1, r.Rule, items(r.Items), r.Closed, r.FalsePos, r.BenignPos, r.NoiseShare, r.MedianTTR)
	}
	return b.String()
}

// The HTML part: html/template escapes every name and figure, so a rule
// or an assignee cannot inject markup into a lead's mailbox.
var htmlTmpl = htmltemplate.Must(htmltemplate.New("summary").Parse(`<!DOCTYPE html>
<html><body style="font-family:sans-serif">
<h2>{{.Title}}</h2>
<p>{{.From}} to {{.To}} ({{.Zone}})</p>
<h3>Response</h3>
<table cellpadding="4">
<tr><td>Items created</td><td align="right">{{.Items}}</td></tr>
<tr><td>Acknowledged</td><td align="right">{{.Acked}}</td></tr>
<tr><td>Resolved</td><td align="right">{{.Resolved}}</td></tr>
</table>
<table cellpadding="4" border="1" style="border-collapse:collapse">
<tr><th></th><th>n</th><th>median</th><th>p90</th><th>mean</th></tr>
{{range .Stats}}<tr><td>{{.Name}}</td><td align="right">{{.N}}</td><td>{{.Median}}</td><td>{{.P90}}</td><td>{{.Mean}}</td></tr>
{{end}}</table>
<h3>SLOs</h3>
{{if not .SLOs}}<p>No SLO is configured (reports.slos).</p>{{end}}
{{range .SLOs}}<p><b>{{.Name}}</b>: {{.Goal}}<br>
{{if .Measured}}attainment <b>{{.Attainment}}</b>, {{.Status}} ({{.Met}} met, {{.Missed}} missed, {{.Pending}} pending){{else}}attainment no data ({{.Pending}} pending){{end}}</p>
{{if .Breaches}}<ul>
{{range .Breaches}}<li><a href="{{.URL}}">#{{.ID}}</a> {{.Severity}}, {{if .Assignee}}{{.Assignee}}{{else}}unassigned{{end}}, created {{.Created}}, took {{.Took}}</li>
{{end}}{{if .More}}<li>… and {{.More}} more</li>{{end}}</ul>{{end}}
{{end}}
<h3>Noisiest detection rules</h3>
{{if .Rules}}<table cellpadding="4" border="1" style="border-collapse:collapse">
<tr><th>rule</th><th>items</th><th>closed</th><th>false positive</th><th>benign positive</th><th>noise of closed</th><th>median TTR</th></tr>
{{range .Rules}}<tr><td>{{.Rule}}</td><td align="right">{{.Items}}</td><td align="right">{{.Closed}}</td><td align="right">{{.FalsePos}}</td><td align="right">{{.BenignPos}}</td><td>{{.NoiseShare}}</td><td>{{.MedianTTR}}</td></tr>
{{end}}</table>{{else}}<p>no data</p>{{end}}
</body></html>
`))

func (v view) html() (string, error) {
	var b bytes.Buffer
	if err := htmlTmpl.Execute(&b, v); err != nil {
		return "", fmt.Errorf("render summary html: %w", err)
	}
	return b.String(), nil
}

// Render returns the subject and both bodies of the summary of team for
// week over period p.
func Render(team, week string, p report.Period, f Figures, base string) (subject, text, html string, err error) {
	v := newView(team, week, p, f, base)
	html, err = v.html()
	return v.Title, v.text(), html, err
}
