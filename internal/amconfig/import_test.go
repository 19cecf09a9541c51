package amconfig

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/paging"
)

var testNow = func() time.Time { return time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC) }

func importFile(t *testing.T, name string) Result {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Import(b, Options{Now: testNow})
	if err != nil {
		t.Fatalf("Import(%s): %v", name, err)
	}
	return r
}

func serviceNames(ss []paging.Service) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Name)
	}
	return out
}

func hasFinding(fs []Finding, path, what string) bool {
	for _, f := range fs {
		if f.Path == path && strings.Contains(f.What, what) {
			return true
		}
	}
	return false
}

// route picks the first service, in order, whose condition matches: the
// way vigil routes a new item.
// route is where vigil pages an alert with labels: every service whose
// condition matches. Without continue that must be one service, the one
// Alertmanager's tree picks; more than one is joined with "+".
func route(t *testing.T, ss []paging.Service, labels map[string]string) string {
	var hit []string
	for _, s := range ss {
		if evalCEL(t, s.Condition, labels) {
			hit = append(hit, s.Name)
		}
	}
	return strings.Join(hit, "+")
}

func TestImportSimple(t *testing.T) {
	r := importFile(t, "simple.yml")
	want := []string{"team-X-pager", "team-X-mails", "team-Y-pager", "team-Y-mails", "team-X-pager-2", "team-Y-pager-2", "team-DB-pager", "team-X-mails-2"}
	if got := serviceNames(r.Services); !slices.Equal(got, want) {
		t.Fatalf("services = %v\nwant %v", got, want)
	}
	// Routing by first match agrees with Alertmanager's tree.
	tests := []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{"service": "foo1", "severity": "critical"}, "team-X-pager"},
		{map[string]string{"service": "foo2", "severity": "warning"}, "team-X-mails"},
		{map[string]string{"service": "foo10"}, "team-X-mails-2"}, // anchored regex: falls to the root
		{map[string]string{"service": "files", "severity": "critical"}, "team-Y-pager"},
		{map[string]string{"service": "files"}, "team-Y-mails"},
		{map[string]string{"service": "database", "owner": "team-X"}, "team-X-pager-2"},
		{map[string]string{"service": "database", "owner": "team-Y"}, "team-Y-pager-2"},
		{map[string]string{"service": "database"}, "team-DB-pager"},
		{map[string]string{"alertname": "x"}, "team-X-mails-2"},
	}
	for _, tt := range tests {
		if got := route(t, r.Services, tt.labels); got != tt.want {
			t.Errorf("%v routes to %s, want %s", tt.labels, got, tt.want)
		}
	}
	db := r.Services[6]
	if !slices.Equal(db.GroupBy, []string{"labels.alertname", "labels.cluster", "labels.database"}) || db.GroupWindowMinutes != 5 {
		t.Errorf("team-DB-pager grouping = %v / %d", db.GroupBy, db.GroupWindowMinutes)
	}
	if len(r.Inhibit) != 1 || !slices.Equal(r.Inhibit[0].Equal, []string{"alertname", "cluster", "service"}) {
		t.Errorf("inhibit = %+v", r.Inhibit)
	}
	for _, f := range []Finding{
		{"templates[0]", "template"},
		{"tracing", "tracing"},
	} {
		if !hasFinding(r.Unmapped, f.Path, f.What) {
			t.Errorf("unmapped lacks %s: %s\n%s", f.Path, f.What, r.Report())
		}
	}
	for _, f := range []Finding{
		{"route.group_wait", "group_wait 30s"},
		{"route.repeat_interval", "3h"},
		{"receivers[1].pagerduty_configs[0]", "pagerduty"},
		{"receivers[0].email_configs[0]", "team-X+alerts@example.org"},
		{"global.smtp_smarthost", "paging.smtp"},
	} {
		if !hasFinding(r.Notes, f.Path, f.What) {
			t.Errorf("notes lack %s: %s\n%s", f.Path, f.What, r.Report())
		}
	}
	// An inherited setting is noted once, not once per service.
	n := 0
	for _, f := range r.Notes {
		if f.Path == "route.group_wait" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("route.group_wait noted %d times", n)
	}
	if !slices.Equal(r.Policies, []string{"team-X-pager", "team-X-mails", "team-Y-pager", "team-Y-mails", "team-DB-pager"}) {
		t.Errorf("policies = %v", r.Policies)
	}
}

func TestImportIntervals(t *testing.T) {
	r := importFile(t, "intervals.yml")
	if got := serviceNames(r.Services); !slices.Equal(got, []string{"payments", "db", "ops", "default"}) {
		t.Fatalf("services = %v", got)
	}
	pay, db, ops, def := r.Services[0], r.Services[1], r.Services[2], r.Services[3]
	wantHours := &paging.SupportHours{TimeZone: "Europe/Helsinki", Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "09:00", End: "17:30"}
	if h := pay.SupportHours; h == nil || h.TimeZone != wantHours.TimeZone || !slices.Equal(h.Days, wantHours.Days) || h.Start != "09:00" || h.End != "17:30" {
		t.Errorf("payments support hours = %+v", pay.SupportHours)
	}
	if pay.Urgency != paging.UrgencyLow {
		t.Errorf("payments urgency = %q, want low (pages wait for support hours)", pay.Urgency)
	}
	hel, _ := time.LoadLocation("Europe/Helsinki")
	wantWin := paging.Window{Start: time.Date(2026, 12, 24, 0, 0, 0, 0, hel).UTC(), End: time.Date(2026, 12, 27, 0, 0, 0, 0, hel).UTC(), Reason: "Alertmanager mute time interval xmas-freeze"}
	if len(pay.Maintenance) != 1 || pay.Maintenance[0] != wantWin {
		t.Errorf("payments maintenance = %+v, want %+v", pay.Maintenance, wantWin)
	}
	if !slices.Equal(pay.GroupBy, []string{"labels.alertname"}) || pay.GroupWindowMinutes != 2 {
		t.Errorf("payments grouping = %v / %d (90s rounds up to 2)", pay.GroupBy, pay.GroupWindowMinutes)
	}
	if db.SupportHours != nil || len(db.Maintenance) != 0 || db.GroupBy != nil {
		t.Errorf("db = %+v", db)
	}
	if !slices.Equal(ops.GroupBy, []string{"source"}) || ops.GroupWindowMinutes != 1440 {
		t.Errorf("ops grouping = %v / %d", ops.GroupBy, ops.GroupWindowMinutes)
	}
	if !strings.HasPrefix(def.Condition, "!(") {
		t.Errorf("default condition = %q, want what no other route takes", def.Condition)
	}
	// The deprecated match / match_re and quoted values route as written.
	tests := []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{"team": "payments", "env": "prod"}, "payments"},
		{map[string]string{"team": "payments", "env": "dev"}, "default"},
		{map[string]string{"team": "db", "severity": "info"}, "default"},
		{map[string]string{"team": "db"}, "db"},
		{map[string]string{"quote": `say "hi"`, "path": `C:\temp..`}, "ops"},
		{map[string]string{"quote": `say "hi"`, "path": `C:\temp.x`}, "default"},
		{map[string]string{"quote": `say "hi"`, "path": `C:\\temp`}, "default"},
	}
	for _, tt := range tests {
		if got := route(t, r.Services, tt.labels); got != tt.want {
			t.Errorf("%v routes to %s, want %s", tt.labels, got, tt.want)
		}
	}
	if len(r.Inhibit) != 2 {
		t.Fatalf("inhibit = %+v", r.Inhibit)
	}
	nodeDown := r.Inhibit[1]
	if !nodeDown.Inhibits(map[string]string{"alertname": "NodeDown", "instance": "a"}, map[string]string{"alertname": "DiskFull", "instance": "a"}) ||
		nodeDown.Inhibits(map[string]string{"alertname": "NodeDown", "instance": "a"}, map[string]string{"alertname": "DiskFull", "instance": "b"}) {
		t.Error("NodeDown inhibition wrong")
	}
	for _, f := range []Finding{
		{"time_intervals[3].time_intervals[0]", "recurs on weekdays"},
		{"time_intervals[1]", "2 specs"},
		{"route.routes[2].labels", "route labels"},
		{"route.routes[2]", "over vigil's longest group window"},
		{"receivers[2].opsgenie_configs[0]", "no opsgenie channel"},
		{"global.resolve_timeout", "resolve timeout"},
		{"global.slack_api_url", "no vigil equivalent"},
	} {
		if !hasFinding(r.Unmapped, f.Path, f.What) {
			t.Errorf("unmapped lacks %s: %s\n%s", f.Path, f.What, r.Report())
		}
	}
	for _, f := range []Finding{
		{"time_intervals[4].time_intervals[0]", "ended at 2025-03-31T23:00:00Z; dropped"},
		{"route.routes[1].group_by", "'...'"},
		{"receivers[4]", "not used by any route"},
		{"receivers[1].slack_configs[0]", "#payments-alerts"},
		{"receivers[2].msteams_configs[0]", "teams"},
		{"receivers[0].webhook_configs[0]", "https://hooks.example.com/am (credentials omitted)"},
	} {
		if !hasFinding(r.Notes, f.Path, f.What) {
			t.Errorf("notes lack %s: %s\n%s", f.Path, f.What, r.Report())
		}
	}
	// Secrets in the file are never repeated.
	rep := r.Report()
	for _, secret := range []string{"secret", "token=abc", "XXXX", "xyz"} {
		if strings.Contains(rep, secret) {
			t.Errorf("report repeats %q", secret)
		}
	}
}

func TestImportRouteTree(t *testing.T) {
	const cfg = `
route:
  receiver: root
  routes:
    - receiver: a
      matchers: [x="1"]
      continue: true
      routes:
        - matchers: [y="1"]
        - receiver: b
          matchers: [y="2"]
          continue: true
    - receiver: c
      matchers: [z="1"]
receivers: [{name: root}, {name: a}, {name: b}, {name: c}]
`
	r, err := Import([]byte(cfg), Options{Policy: "ops", Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	// The first child of a inherits receiver a; a itself catches what its
	// children miss; root catches everything else.
	want := []string{"a", "b", "a-2", "c", "root"}
	if got := serviceNames(r.Services); !slices.Equal(got, want) {
		t.Fatalf("services = %v, want %v", got, want)
	}
	// Each condition leaves out what an earlier route (without continue)
	// takes, and a parent what its children take.
	wantCond := []string{
		`("x" in labels && labels["x"] == "1") && ("y" in labels && labels["y"] == "1")`,
		`(("x" in labels && labels["x"] == "1") && ("y" in labels && labels["y"] == "2")) && !("y" in labels && labels["y"] == "1")`,
		`("x" in labels && labels["x"] == "1") && !("y" in labels && labels["y"] == "1") && !("y" in labels && labels["y"] == "2")`,
		`"z" in labels && labels["z"] == "1"`,
		`!("x" in labels && labels["x"] == "1") && !("z" in labels && labels["z"] == "1")`,
	}
	for i, s := range r.Services {
		if s.Condition != wantCond[i] {
			t.Errorf("%s condition = %s, want %s", s.Name, s.Condition, wantCond[i])
		}
		if s.Policy != "ops" {
			t.Errorf("%s policy = %q", s.Name, s.Policy)
		}
	}
	// continue: x=1 (route a) goes on to c when z=1 as well.
	if got := route(t, r.Services, map[string]string{"x": "1", "y": "1", "z": "1"}); got != "a+c" {
		t.Errorf("x=1 y=1 z=1 pages %s, want a+c (continue)", got)
	}
	if got := route(t, r.Services, map[string]string{"x": "1", "y": "2"}); got != "b" {
		t.Errorf("x=1 y=2 pages %s, want b", got)
	}
	if got := route(t, r.Services, map[string]string{"q": "1"}); got != "root" {
		t.Errorf("q=1 pages %s, want root", got)
	}
	if len(r.Policies) != 1 || r.Policies[0] != "ops" {
		t.Errorf("policies = %v", r.Policies)
	}
}

func TestImportNames(t *testing.T) {
	const cfg = `
route:
  receiver: "team/a"
  routes:
    - matchers: [x="1"]
    - matchers: [x="2"]
    - matchers: [x="3"]
      receiver: team-a-2
receivers: [{name: "team/a"}, {name: team-a-2}]
`
	r, err := Import([]byte(cfg), Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	// team-a-2 is both the suffixed team/a and a receiver: no collision.
	names := serviceNames(r.Services)
	if !slices.Equal(names, []string{"team-a", "team-a-2", "team-a-2-2", "team-a-3"}) {
		t.Errorf("names = %v", names)
	}
	if !hasFinding(r.Notes, "route.receiver", "not a valid vigil service name") {
		t.Errorf("renaming not noted:\n%s", r.Report())
	}
}

// TestImportUnmapped covers every kind of unmapped finding not in the
// files above.
func TestImportUnmapped(t *testing.T) {
	tests := []struct {
		name, cfg, path, what string
	}{
		{"two active intervals", `
route: {receiver: r, routes: [{matchers: [a="1"], active_time_intervals: [i1, i2]}]}
receivers: [{name: r}]
time_intervals: [{name: i1, time_intervals: [{weekdays: [monday]}]}, {name: i2, time_intervals: [{weekdays: [tuesday]}]}]`,
			"route.routes[0].active_time_intervals", "2 active time intervals"},
		{"active with months", `
route: {receiver: r, routes: [{matchers: [a="1"], active_time_intervals: [i]}]}
receivers: [{name: r}]
time_intervals: [{name: i, time_intervals: [{months: ['may:june']}]}]`,
			"time_intervals[0]", "months"},
		{"active with two times", `
route: {receiver: r, routes: [{matchers: [a="1"], active_time_intervals: [i]}]}
receivers: [{name: r}]
time_intervals: [{name: i, time_intervals: [{times: [{start_time: '01:00', end_time: '02:00'}, {start_time: '03:00', end_time: '04:00'}]}]}]`,
			"time_intervals[0]", "2 time ranges"},
		{"active Local", `
route: {receiver: r, routes: [{matchers: [a="1"], active_time_intervals: [i]}]}
receivers: [{name: r}]
time_intervals: [{name: i, time_intervals: [{weekdays: [monday], location: Local}]}]`,
			"time_intervals[0]", "Local"},
		{"mute every year", `
route: {receiver: r, routes: [{matchers: [a="1"], mute_time_intervals: [i]}]}
receivers: [{name: r}]
time_intervals: [{name: i, time_intervals: [{months: [december], days_of_month: ['24:26']}]}]`,
			"time_intervals[0].time_intervals[0]", "every year"},
		{"mute days of several months", `
route: {receiver: r, routes: [{matchers: [a="1"], mute_time_intervals: [i]}]}
receivers: [{name: r}]
time_intervals: [{name: i, time_intervals: [{years: ['2027'], months: ['1:2'], days_of_month: ['1:3']}]}]`,
			"time_intervals[0].time_intervals[0]", "several months"},
		{"mute daily times", `
route: {receiver: r, routes: [{matchers: [a="1"], mute_time_intervals: [i]}]}
receivers: [{name: r}]
mute_time_intervals: [{name: i, time_intervals: [{years: ['2027'], months: [may], times: [{start_time: '01:00', end_time: '02:00'}]}]}]`,
			"mute_time_intervals[0].time_intervals[0]", "daily"},
		{"unknown top-level key", `
route: {receiver: r}
receivers: [{name: r}]
future_feature: {x: 1}`,
			"future_feature", "not an Alertmanager field"},
		{"unknown receiver key", `
route: {receiver: r}
receivers: [{name: r, extra: 1}]`,
			"receivers[0].extra", "not an Alertmanager field"},
		{"unsupported integration", `
route: {receiver: r}
receivers: [{name: r, telegram_configs: [{chat_id: 1}]}]`,
			"receivers[0].telegram_configs[0]", "no telegram channel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Import([]byte(tt.cfg), Options{Now: testNow})
			if err != nil {
				t.Fatal(err)
			}
			if !hasFinding(r.Unmapped, tt.path, tt.what) {
				t.Errorf("unmapped lacks %s: %s\n%s", tt.path, tt.what, r.Report())
			}
		})
	}
}
