package oncall

import (
	"testing"
	"time"
)

func TestLocalInstant(t *testing.T) {
	tests := []struct {
		name, tz string
		wall     string // 2006-01-02T15:04
		want     string // RFC 3339 UTC
	}{
		{"Helsinki ordinary", "Europe/Helsinki", "2027-03-27T09:00", "2027-03-27T07:00:00Z"},
		{"Helsinki spring gap resolves to the change", "Europe/Helsinki", "2027-03-28T03:30", "2027-03-28T01:00:00Z"},
		{"Helsinki spring gap start", "Europe/Helsinki", "2027-03-28T03:00", "2027-03-28T01:00:00Z"},
		{"Helsinki after gap", "Europe/Helsinki", "2027-03-28T04:00", "2027-03-28T01:00:00Z"},
		{"Helsinki fall repeated hour first occurrence", "Europe/Helsinki", "2026-10-25T03:30", "2026-10-25T00:30:00Z"},
		{"Helsinki fall after", "Europe/Helsinki", "2026-10-25T04:00", "2026-10-25T02:00:00Z"},
		{"New York spring gap", "America/New_York", "2027-03-14T02:30", "2027-03-14T07:00:00Z"},
		{"New York fall first occurrence", "America/New_York", "2026-11-01T01:30", "2026-11-01T05:30:00Z"},
		{"New York fall after", "America/New_York", "2026-11-01T02:00", "2026-11-01T07:00:00Z"},
		{"UTC", "UTC", "2026-11-01T01:30", "2026-11-01T01:30:00Z"},
		{"Lord Howe half-hour shift gap", "Australia/Lord_Howe", "2026-10-04T02:15", "2026-10-03T15:30:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := mustLoc(t, tt.tz)
			w, _ := time.Parse("2006-01-02T15:04", tt.wall)
			got := localInstant(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), 0, loc)
			if !got.Equal(utc(tt.want)) {
				t.Errorf("localInstant(%s %s) = %s, want %s", tt.wall, tt.tz, got.UTC().Format(time.RFC3339), tt.want)
			}
			// time.Date's choice in gaps is unspecified; record it so a
			// reader sees why we do not rely on it.
			t.Logf("time.Date gives %s", time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), 0, 0, loc).UTC().Format(time.RFC3339))
		})
	}
}

func TestCalendarHelpers(t *testing.T) {
	if got := weekdayOf(dayNumber(2027, 3, 28)); got != time.Sunday {
		t.Errorf("weekday of 2027-03-28 = %v", got)
	}
	if got := weekdayOf(dayNumber(1969, 12, 31)); got != time.Wednesday {
		t.Errorf("weekday of 1969-12-31 = %v", got)
	}
	if y, m, d := fromDayNumber(dayNumber(2028, 2, 29)); y != 2028 || m != 2 || d != 29 {
		t.Errorf("round trip = %d-%d-%d", y, m, d)
	}
	if floorDiv(-1, 7) != -1 || floorMod(-1, 7) != 6 {
		t.Error("floor arithmetic")
	}
}
