package amconfig

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
)

// TestParseErrors: what Alertmanager refuses is refused, naming the path.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, cfg, field, msg string
	}{
		{"empty", ``, "route", "no routes"},
		{"not a mapping", `[1, 2]`, "(document)", "mapping"},
		{"bad yaml", "route: [\n", "(document)", ""},
		{"no route", `receivers: [{name: r}]`, "route", "no routes"},
		{"no root receiver", `{route: {group_by: [a]}, receivers: [{name: r}]}`, "route.receiver", "default receiver"},
		{"root matchers", `{route: {receiver: r, matchers: [a="1"]}, receivers: [{name: r}]}`, "route", "must not have any matchers"},
		{"root match", `{route: {receiver: r, match: {a: "1"}}, receivers: [{name: r}]}`, "route", "must not have any matchers"},
		{"root continue", `{route: {receiver: r, continue: true}, receivers: [{name: r}]}`, "route.continue", "continue in root"},
		{"root mute", `{route: {receiver: r, mute_time_intervals: [i]}, receivers: [{name: r}], time_intervals: [{name: i}]}`, "route.mute_time_intervals", "mute time"},
		{"root active", `{route: {receiver: r, active_time_intervals: [i]}, receivers: [{name: r}], time_intervals: [{name: i}]}`, "route.active_time_intervals", "active time"},
		{"unknown receiver", `{route: {receiver: r, routes: [{receiver: r}, {receiver: nope}]}, receivers: [{name: r}]}`, "route.routes[1].receiver", `undefined receiver "nope"`},
		{"duplicate receiver", `{route: {receiver: r}, receivers: [{name: r}, {name: r}]}`, "receivers[1].name", "not unique"},
		{"receiver without name", `{route: {receiver: r}, receivers: [{email_configs: []}]}`, "receivers[0].name", "missing name"},
		{"null config", `{route: {receiver: r}, receivers: [{name: r, webhook_configs: [null]}]}`, "receivers[0].webhook_configs[0]", "missing webhook config"},
		{"unknown interval", `{route: {receiver: r, routes: [{mute_time_intervals: [x]}]}, receivers: [{name: r}]}`, "route.routes[0].mute_time_intervals[0]", `undefined time interval "x"`},
		{"unknown active interval", `{route: {receiver: r, routes: [{active_time_intervals: [x]}]}, receivers: [{name: r}]}`, "route.routes[0].active_time_intervals[0]", `undefined time interval "x"`},
		{"duplicate interval", `{route: {receiver: r}, receivers: [{name: r}], mute_time_intervals: [{name: i}], time_intervals: [{name: i}]}`, "time_intervals[0].name", "not unique"},
		{"bad matcher", `{route: {receiver: r, routes: [{matchers: [a="1", "b~x"]}]}, receivers: [{name: r}]}`, "route.routes[0].matchers[1]", "no operator"},
		{"bad regex", `{route: {receiver: r, routes: [{match_re: {a: "("}}]}, receivers: [{name: r}]}`, "route.routes[0].match_re.a", "invalid regular expression"},
		{"bad match label", `{route: {receiver: r, routes: [{match: {"a-b": "1"}}]}, receivers: [{name: r}]}`, "route.routes[0].match.a-b", "invalid label name"},
		{"bad inhibit matcher", `{route: {receiver: r}, receivers: [{name: r}], inhibit_rules: [{target_matchers: ["=x"]}]}`, "inhibit_rules[0].target_matchers[0]", ""},
		{"unknown route key", `{route: {receiver: r, routes: [{recevier: r}]}, receivers: [{name: r}]}`, "route.routes[0].recevier", "unknown field"},
		{"group_by wildcard and labels", `{route: {receiver: r, group_by: ['...', a]}, receivers: [{name: r}]}`, "route.group_by", "wildcard"},
		{"group_by duplicate", `{route: {receiver: r, group_by: [a, a]}, receivers: [{name: r}]}`, "route.group_by[1]", "duplicated"},
		{"group_by bad label", `{route: {receiver: r, group_by: ["a b"]}, receivers: [{name: r}]}`, "route.group_by[0]", "invalid label name"},
		{"zero group_interval", `{route: {receiver: r, group_interval: 0s}, receivers: [{name: r}]}`, "route.group_interval", "cannot be zero"},
		{"bad duration", `{route: {receiver: r, repeat_interval: 5 minutes}, receivers: [{name: r}]}`, "route.repeat_interval", "not a valid duration"},
		{"continue not bool", `{route: {receiver: r, routes: [{continue: yes please}]}, receivers: [{name: r}]}`, "route.routes[0].continue", "true or false"},
		{"routes not a list", `{route: {receiver: r, routes: {a: 1}}, receivers: [{name: r}]}`, "route.routes", "must be a list"},
		{"bad time", `{route: {receiver: r}, receivers: [{name: r}], time_intervals: [{name: i, time_intervals: [{times: [{start_time: '9:00', end_time: '17:00'}]}]}]}`, "time_intervals[0].time_intervals[0].times[0].start_time", "invalid format"},
		{"time backwards", `{route: {receiver: r}, receivers: [{name: r}], time_intervals: [{name: i, time_intervals: [{times: [{start_time: '17:00', end_time: '09:00'}]}]}]}`, "time_intervals[0].time_intervals[0].times[0]", "start time"},
		{"bad weekday", `{route: {receiver: r}, receivers: [{name: r}], time_intervals: [{name: i, time_intervals: [{weekdays: [funday]}]}]}`, "time_intervals[0].time_intervals[0].weekdays[0]", "not a valid weekday"},
		{"weekdays backwards", `{route: {receiver: r}, receivers: [{name: r}], time_intervals: [{name: i, time_intervals: [{weekdays: ['friday:monday']}]}]}`, "time_intervals[0].time_intervals[0].weekdays[0]", "start day"},
		{"bad day of month", `{route: {receiver: r}, receivers: [{name: r}], time_intervals: [{name: i, time_intervals: [{days_of_month: ['0']}]}]}`, "time_intervals[0].time_intervals[0].days_of_month[0]", "out of range"},
		{"negative then positive day", `{route: {receiver: r}, receivers: [{name: r}], time_intervals: [{name: i, time_intervals: [{days_of_month: ['-3:5']}]}]}`, "time_intervals[0].time_intervals[0].days_of_month[0]", "must be negative"},
		{"bad month", `{route: {receiver: r}, receivers: [{name: r}], time_intervals: [{name: i, time_intervals: [{months: ['13']}]}]}`, "time_intervals[0].time_intervals[0].months[0]", "out of range"},
		{"bad location", `{route: {receiver: r}, receivers: [{name: r}], time_intervals: [{name: i, time_intervals: [{location: Mars/Olympus}]}]}`, "time_intervals[0].time_intervals[0].location", "unknown time zone"},
		{"unknown interval key", `{route: {receiver: r}, receivers: [{name: r}], time_intervals: [{name: i, time_intervals: [{hours: [1]}]}]}`, "time_intervals[0].time_intervals[0].hours", "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Import([]byte(tt.cfg), Options{})
			var fe *validation.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a field error", err)
			}
			if fe.Field != tt.field || !strings.Contains(fe.Message, tt.msg) {
				t.Errorf("err = %q: %q, want %q: …%s…", fe.Field, fe.Message, tt.field, tt.msg)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"30s", 30 * time.Second, false},
		{"1h30m", 90 * time.Minute, false},
		{"1d", 24 * time.Hour, false},
		{"1w", 7 * 24 * time.Hour, false},
		{"1y", 365 * 24 * time.Hour, false},
		{"500ms", 500 * time.Millisecond, false},
		{"0", 0, false},
		{"", 0, true},
		{"1.5h", 0, true},
		{"5 m", 0, true},
		{"99999999999999999999y", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v", tt.in, got, err)
		}
	}
}
