package config

import (
	"fmt"
	"strings"
	"time"
)

// Reports configures the reports (the file's reports: section).
type Reports struct {
	// TimeZone is the time zone reports use when the viewer names none
	// (IANA; default UTC).
	TimeZone string `koanf:"time_zone"`
	// SLOs are the service level objectives the SLO report measures.
	SLOs []SLO `koanf:"slos"`
	// StuckAfter is how long an item may sit in one open state before the
	// flow report calls it stuck (default 7 days).
	StuckAfter time.Duration `koanf:"stuck_after"`
	// NightStart and NightEnd are the night hours of on-call load (local
	// hours, default 22 and 8).
	NightStart int `koanf:"night_start"`
	NightEnd   int `koanf:"night_end"`
	// Summaries are the weekly summary emails.
	Summaries []Summary `koanf:"summaries"`
}

// SLO is one service level objective: "high severity acknowledged within
// 15 minutes, 95% of the time".
type SLO struct {
	Name string `koanf:"name"`
	// Metric is ack (time to acknowledge) or resolve (time to resolve).
	Metric   string        `koanf:"metric"`
	Severity []string      `koanf:"severity"`
	Team     string        `koanf:"team"`
	Target   time.Duration `koanf:"target"`
	// Objective is the share of items that must meet the target, 0 to 1
	// (0.95); percentages over 1 (95) are read as percentages.
	Objective float64 `koanf:"objective"`
}

// Summary is one weekly summary email to a team's leads.
type Summary struct {
	// Team is the on-call team the summary is about (its members' items).
	// Empty means every item.
	Team string `koanf:"team"`
	// To are the leads' email addresses.
	To []string `koanf:"to"`
	// Weekday and Hour are when it is sent, in TimeZone (default Monday
	// 08:00 in the section's time zone); it covers the seven days before.
	Weekday string `koanf:"weekday"`
	// Hour is the local hour, 0 to 23; nil means 8.
	Hour     *int   `koanf:"hour"`
	TimeZone string `koanf:"time_zone"`
}

// SendHour is the hour the summary is sent at.
func (s Summary) SendHour() int {
	if s.Hour == nil {
		return 8
	}
	return *s.Hour
}

func init() {
	for _, k := range []string{"time_zone", "slos", "stuck_after", "night_start", "night_end", "summaries"} {
		pagingKeys["reports."+k] = true
	}
}

var weekdays = map[string]time.Weekday{"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday}

// WeekdayOf parses a weekday name (monday, or mon); "" is Monday.
func WeekdayOf(s string) (time.Weekday, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return time.Monday, true
	}
	for name, d := range weekdays {
		if name == s || (len(s) == 3 && strings.HasPrefix(name, s)) {
			return d, true
		}
	}
	return 0, false
}

func (r *Reports) resolve() error {
	if r.TimeZone != "" {
		if _, err := time.LoadLocation(r.TimeZone); err != nil {
			return fmt.Errorf("reports.time_zone: %q is not an IANA time zone", r.TimeZone)
		}
	}
	names := map[string]bool{}
	for i := range r.SLOs {
		s := &r.SLOs[i]
		key := fmt.Sprintf("reports.slos[%d]", i)
		if s.Name == "" {
			return fmt.Errorf("%s.name: required", key)
		}
		if names[s.Name] {
			return fmt.Errorf("%s.name: %q is used twice", key, s.Name)
		}
		names[s.Name] = true
		switch s.Metric {
		case "":
			s.Metric = "ack"
		case "ack", "resolve":
		default:
			return fmt.Errorf("%s.metric: want ack or resolve", key)
		}
		if s.Target <= 0 {
			return fmt.Errorf("%s.target: a duration such as 15m is required", key)
		}
		if s.Objective > 1 && s.Objective <= 100 {
			s.Objective /= 100
		}
		if s.Objective == 0 {
			s.Objective = 0.95
		}
		if s.Objective < 0 || s.Objective > 1 {
			return fmt.Errorf("%s.objective: want a share from 0 to 1 (0.95)", key)
		}
	}
	if r.StuckAfter < 0 {
		return fmt.Errorf("reports.stuck_after: must not be negative")
	}
	if r.NightStart < 0 || r.NightStart > 23 || r.NightEnd < 0 || r.NightEnd > 23 {
		return fmt.Errorf("reports.night_start, reports.night_end: hours from 0 to 23")
	}
	for i := range r.Summaries {
		s := &r.Summaries[i]
		key := fmt.Sprintf("reports.summaries[%d]", i)
		if len(s.To) == 0 {
			return fmt.Errorf("%s.to: at least one address", key)
		}
		for _, a := range s.To {
			if !strings.Contains(a, "@") {
				return fmt.Errorf("%s.to: %q is not an email address", key, a)
			}
		}
		if _, ok := WeekdayOf(s.Weekday); !ok {
			return fmt.Errorf("%s.weekday: want a day of the week (monday)", key)
		}
		if h := s.SendHour(); h < 0 || h > 23 {
			return fmt.Errorf("%s.hour: from 0 to 23", key)
		}
		if s.TimeZone != "" {
			if _, err := time.LoadLocation(s.TimeZone); err != nil {
				return fmt.Errorf("%s.time_zone: %q is not an IANA time zone", key, s.TimeZone)
			}
		}
	}
	return nil
}
