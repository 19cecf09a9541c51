package app

import (
	"log/slog"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/notify"
)

// TestSummaryConfig: each summary's schedule is its weekday and hour in
// its own time zone, else reports.time_zone, else UTC; without
// summaries there is no module, and without paging.smtp the target
// cannot send.
func TestSummaryConfig(t *testing.T) {
	sums, err := summarySchedules(config.Reports{TimeZone: "Europe/Helsinki", Summaries: []config.Summary{
		{Team: "secops", To: []string{"lead@example.com"}, Weekday: "monday"},
		{Team: "netops", To: []string{"net@example.com"}, Weekday: "fri", Hour: ptrInt(17), TimeZone: "America/New_York"},
		{To: []string{"ciso@example.com"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		team string
		day  time.Weekday
		hour int
		zone string
	}{{"secops", time.Monday, 8, "Europe/Helsinki"}, {"netops", time.Friday, 17, "America/New_York"}, {"", time.Monday, 8, "Europe/Helsinki"}}
	if len(sums) != len(want) {
		t.Fatalf("%d summaries, want %d", len(sums), len(want))
	}
	for i, w := range want {
		s := sums[i]
		if s.Team != w.team || s.Schedule.Weekday != w.day || s.Schedule.Hour != w.hour || s.Schedule.Loc.String() != w.zone {
			t.Errorf("summary %d = %s %s %d %s, want %+v", i, s.Team, s.Schedule.Weekday, s.Schedule.Hour, s.Schedule.Loc, w)
		}
	}
	if sums, _ := summarySchedules(config.Reports{Summaries: []config.Summary{{To: []string{"a@example.com"}}}}); sums[0].Schedule.Loc != time.UTC {
		t.Errorf("no zone anywhere: %s, want UTC", sums[0].Schedule.Loc)
	}

	log := slog.New(slog.DiscardHandler)
	m, target, err := newSummaries(config.Config{}, nil, nil, clock.Real{}, log)
	if err != nil || m != nil || target == nil || target.Configured() {
		t.Errorf("nothing configured: module %v, target %v, err %v; want no module and a target that cannot send", m, target, err)
	}
	cfg := config.Config{Listen: "127.0.0.1:8080"}
	cfg.Paging.SMTP = config.SMTP{Host: "127.0.0.1", Port: 2525, From: "vigil <vigil@example.com>", TLS: notify.TLSNone}
	cfg.Reports.Summaries = []config.Summary{{Team: "secops", To: []string{"lead@example.com"}}}
	m, target, err = newSummaries(cfg, nil, nil, clock.Real{}, log)
	if err != nil || m == nil || !target.Configured() {
		t.Errorf("summary and relay configured: module %v, configured %v, err %v", m, target.Configured(), err)
	}
}

func ptrInt(v int) *int { return &v }
