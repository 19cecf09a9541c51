package summary

import (
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	helsinki, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		loc      *time.Location
		weekday  time.Weekday
		hour     int
		now      string // RFC 3339
		last     string // the latest send time at or before now
		next     string // the first send time after now
		from, to string // the period last covers
		hours    int    // its length
		week     string
	}{
		{name: "mid-week", loc: helsinki, weekday: time.Monday, hour: 8, now: "2026-11-25T12:00:00+02:00",
			last: "2026-11-23T08:00:00+02:00", next: "2026-11-30T08:00:00+02:00",
			from: "2026-11-16T00:00:00+02:00", to: "2026-11-23T00:00:00+02:00", hours: 168, week: "2026-W47"},
		{name: "a minute before the hour is last week's", loc: helsinki, weekday: time.Monday, hour: 8, now: "2026-11-30T07:59:00+02:00",
			last: "2026-11-23T08:00:00+02:00", next: "2026-11-30T08:00:00+02:00",
			from: "2026-11-16T00:00:00+02:00", to: "2026-11-23T00:00:00+02:00", hours: 168, week: "2026-W47"},
		{name: "on the hour", loc: helsinki, weekday: time.Monday, hour: 8, now: "2026-11-30T08:00:00+02:00",
			last: "2026-11-30T08:00:00+02:00", next: "2026-12-07T08:00:00+02:00",
			from: "2026-11-23T00:00:00+02:00", to: "2026-11-30T00:00:00+02:00", hours: 168, week: "2026-W48"},
		// Summer time starts on Sunday 29 March 2026 at 03:00 EET: the
		// week covered loses an hour, and Monday 08:00 is 05:00 UTC.
		{name: "DST starts in the week covered", loc: helsinki, weekday: time.Monday, hour: 8, now: "2026-03-30T09:00:00+03:00",
			last: "2026-03-30T08:00:00+03:00", next: "2026-04-06T08:00:00+03:00",
			from: "2026-03-23T00:00:00+02:00", to: "2026-03-30T00:00:00+03:00", hours: 167, week: "2026-W13"},
		{name: "the send before DST starts is 167 hours before the next", loc: helsinki, weekday: time.Monday, hour: 8, now: "2026-03-23T09:00:00+02:00",
			last: "2026-03-23T08:00:00+02:00", next: "2026-03-30T08:00:00+03:00",
			from: "2026-03-16T00:00:00+02:00", to: "2026-03-23T00:00:00+02:00", hours: 168, week: "2026-W12"},
		// Summer time ends on Sunday 25 October 2026 at 04:00 EEST: the
		// week covered gains an hour.
		{name: "DST ends in the week covered", loc: helsinki, weekday: time.Monday, hour: 8, now: "2026-10-26T08:00:00+02:00",
			last: "2026-10-26T08:00:00+02:00", next: "2026-11-02T08:00:00+02:00",
			from: "2026-10-19T00:00:00+03:00", to: "2026-10-26T00:00:00+02:00", hours: 169, week: "2026-W43"},
		// 03:00 does not exist on 29 March in Helsinki: that Sunday's
		// summary leaves at 04:00 EEST, not a day late or never.
		{name: "send hour skipped by DST", loc: helsinki, weekday: time.Sunday, hour: 3, now: "2026-03-29T12:00:00+03:00",
			last: "2026-03-29T04:00:00+03:00", next: "2026-04-05T03:00:00+03:00",
			from: "2026-03-22T00:00:00+02:00", to: "2026-03-29T00:00:00+02:00", hours: 168, week: "2026-W13"},
		{name: "UTC on a Friday afternoon", loc: time.UTC, weekday: time.Friday, hour: 17, now: "2026-12-04T16:00:00Z",
			last: "2026-11-27T17:00:00Z", next: "2026-12-04T17:00:00Z",
			from: "2026-11-20T00:00:00Z", to: "2026-11-27T00:00:00Z", hours: 168, week: "2026-W48"}, // Friday to Thursday: four days in W48
		{name: "a Wednesday send names the week with most of its days", loc: time.UTC, weekday: time.Wednesday, hour: 9, now: "2026-12-02T10:00:00Z",
			last: "2026-12-02T09:00:00Z", next: "2026-12-09T09:00:00Z",
			from: "2026-11-25T00:00:00Z", to: "2026-12-02T00:00:00Z", hours: 168, week: "2026-W48"},
		{name: "ISO week 53 across the new year", loc: helsinki, weekday: time.Monday, hour: 8, now: "2027-01-04T10:00:00+02:00",
			last: "2027-01-04T08:00:00+02:00", next: "2027-01-11T08:00:00+02:00",
			from: "2026-12-28T00:00:00+02:00", to: "2027-01-04T00:00:00+02:00", hours: 168, week: "2026-W53"},
	}
	parse := func(t *testing.T, s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Schedule{Weekday: tc.weekday, Hour: tc.hour, Loc: tc.loc}
			now := parse(t, tc.now)
			last := s.Last(now)
			if want := parse(t, tc.last); !last.Equal(want) {
				t.Errorf("Last = %s, want %s", last.In(tc.loc).Format(time.RFC3339), tc.last)
			}
			if last.After(now) {
				t.Errorf("Last %s is after now", last)
			}
			if got, want := s.Next(now), parse(t, tc.next); !got.Equal(want) {
				t.Errorf("Next = %s, want %s", got.In(tc.loc).Format(time.RFC3339), tc.next)
			}
			p := s.Period(last)
			if want := parse(t, tc.from); !p.From.Equal(want) {
				t.Errorf("From = %s, want %s", p.From.Format(time.RFC3339), tc.from)
			}
			if want := parse(t, tc.to); !p.To.Equal(want) {
				t.Errorf("To = %s, want %s", p.To.Format(time.RFC3339), tc.to)
			}
			if h := p.To.Sub(p.From); h != time.Duration(tc.hours)*time.Hour {
				t.Errorf("period is %s long, want %dh", h, tc.hours)
			}
			if p.Days() != 7 || p.Bucket != "day" || p.Zone != tc.loc.String() {
				t.Errorf("period %d days, bucket %q, zone %q; want 7 days of %s", p.Days(), p.Bucket, p.Zone, tc.loc)
			}
			if got := Week(p); got != tc.week {
				t.Errorf("Week = %s, want %s", got, tc.week)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	got := Keys([]Summary{{Team: "secops"}, {}, {Team: "secops"}, {Team: "netops"}, {}})
	want := []string{"secops", "*", "secops#2", "netops", "*#2"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Keys = %q, want %q", got, want)
			break
		}
	}
}
