package oncall

import (
	"fmt"
	"testing"
	"time"
)

// TestDailyHandoffAcrossDST walks a week of daily 09:00 hand-offs over each
// DST change and checks the local clock and the shift lengths.
func TestDailyHandoffAcrossDST(t *testing.T) {
	tests := []struct {
		name, tz, start string
		hours           []float64 // lengths of the seven shifts from start
	}{
		{"Helsinki spring 2027-03-28", "Europe/Helsinki", "2027-03-25T09:00", []float64{24, 24, 23, 24, 24, 24, 24}},
		{"Helsinki fall 2026-10-25", "Europe/Helsinki", "2026-10-22T09:00", []float64{24, 24, 25, 24, 24, 24, 24}},
		{"New York spring 2027-03-14", "America/New_York", "2027-03-11T09:00", []float64{24, 24, 23, 24, 24, 24, 24}},
		{"New York fall 2026-11-01", "America/New_York", "2026-10-29T09:00", []float64{24, 24, 25, 24, 24, 24, 24}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rot(t, TypeDaily, 1, tt.tz, tt.start, "a", "b", "c")
			loc := mustLoc(t, tt.tz)
			at := r.Start
			for i, want := range tt.hours {
				user, s, e := r.ShiftAt(at.Add(time.Hour))
				if h, m, _ := s.In(loc).Clock(); h != 9 || m != 0 {
					t.Errorf("shift %d starts %s local, want 09:00", i, s.In(loc))
				}
				if got := e.Sub(s).Hours(); got != want {
					t.Errorf("shift %d (%s) lasts %vh, want %vh", i, s.In(loc).Format("Mon 02 Jan"), got, want)
				}
				if wantUser := []string{"a", "b", "c"}[i%3]; user != wantUser {
					t.Errorf("shift %d user %q, want %q", i, user, wantUser)
				}
				at = e
			}
		})
	}
}

func TestShiftAtEdgeHandoffs(t *testing.T) {
	tests := []struct {
		name, typ, tz, start string
		at                   string // RFC 3339
		wantUser             string
		wantStart, wantEnd   string
	}{
		{
			// 03:30 does not exist on 2027-03-28 in Helsinki: the hand-off
			// happens at the change, 04:00 EEST = 01:00Z.
			name: "Helsinki 03:30 on spring day", typ: TypeDaily, tz: "Europe/Helsinki", start: "2027-03-25T03:30",
			at: "2027-03-28T02:00:00Z", wantUser: "a", wantStart: "2027-03-28T01:00:00Z", wantEnd: "2027-03-29T00:30:00Z",
		},
		{
			name: "Helsinki 03:30 day before spring lasts 23.5h", typ: TypeDaily, tz: "Europe/Helsinki", start: "2027-03-25T03:30",
			at: "2027-03-28T00:59:59Z", wantUser: "c", wantStart: "2027-03-27T01:30:00Z", wantEnd: "2027-03-28T01:00:00Z",
		},
		{
			// 01:30 happens twice on 2026-11-01 in New York: first (EDT).
			name: "New York 01:30 on fall day", typ: TypeDaily, tz: "America/New_York", start: "2026-10-29T01:30",
			at: "2026-11-01T06:00:00Z", wantUser: "a", wantStart: "2026-11-01T05:30:00Z", wantEnd: "2026-11-02T06:30:00Z",
		},
		{
			name: "weekly across Helsinki fall is 169h", typ: TypeWeekly, tz: "Europe/Helsinki", start: "2026-10-19T09:00",
			at: "2026-10-25T12:00:00Z", wantUser: "a", wantStart: "2026-10-19T06:00:00Z", wantEnd: "2026-10-26T07:00:00Z",
		},
		{
			name: "weekly across New York spring is 167h", typ: TypeWeekly, tz: "America/New_York", start: "2027-03-08T09:00",
			at: "2027-03-10T12:00:00Z", wantUser: "a", wantStart: "2027-03-08T14:00:00Z", wantEnd: "2027-03-15T13:00:00Z",
		},
		{
			// hours are absolute: 12h shifts from 08:00 EST drift to 09:00/21:00 EDT.
			name: "hours 12 across New York spring", typ: TypeHours, tz: "America/New_York", start: "2027-03-13T08:00",
			at: "2027-03-14T20:00:00Z", wantUser: "c", wantStart: "2027-03-14T13:00:00Z", wantEnd: "2027-03-15T01:00:00Z",
		},
		{
			name: "hourly in the repeated hour lasts 60 minutes", typ: TypeHourly, tz: "America/New_York", start: "2026-11-01T00:00",
			at: "2026-11-01T06:10:00Z", wantUser: "c", wantStart: "2026-11-01T06:00:00Z", wantEnd: "2026-11-01T07:00:00Z",
		},
		{
			name: "monthly clamps Jan 31 to Feb 28", typ: TypeMonthly, tz: "UTC", start: "2027-01-31T09:00",
			at: "2027-03-01T00:00:00Z", wantUser: "b", wantStart: "2027-02-28T09:00:00Z", wantEnd: "2027-03-31T09:00:00Z",
		},
		{
			name: "monthly back to the 31st, then Apr 30", typ: TypeMonthly, tz: "UTC", start: "2027-01-31T09:00",
			at: "2027-04-15T00:00:00Z", wantUser: "c", wantStart: "2027-03-31T09:00:00Z", wantEnd: "2027-04-30T09:00:00Z",
		},
		{
			name: "monthly leap February", typ: TypeMonthly, tz: "UTC", start: "2027-01-31T09:00",
			at: "2028-03-01T00:00:00Z", wantUser: "b", wantStart: "2028-02-29T09:00:00Z", wantEnd: "2028-03-31T09:00:00Z",
		},
		{
			name: "monthly across Helsinki spring keeps 09:00", typ: TypeMonthly, tz: "Europe/Helsinki", start: "2027-03-15T09:00",
			at: "2027-04-01T00:00:00Z", wantUser: "a", wantStart: "2027-03-15T07:00:00Z", wantEnd: "2027-04-15T06:00:00Z",
		},
		{
			name: "before start no one", typ: TypeDaily, tz: "UTC", start: "2027-01-01T09:00",
			at: "2027-01-01T08:00:00Z", wantUser: "", wantStart: "0001-01-01T00:00:00Z", wantEnd: "2027-01-01T09:00:00Z",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rot(t, tt.typ, map[string]int{TypeHours: 12}[tt.typ], tt.tz, tt.start, "a", "b", "c")
			user, s, e := r.ShiftAt(utc(tt.at))
			if user != tt.wantUser || !s.Equal(utc(tt.wantStart)) || !e.Equal(utc(tt.wantEnd)) {
				t.Errorf("ShiftAt(%s) = %q %s–%s, want %q %s–%s", tt.at, user,
					s.UTC().Format(time.RFC3339), e.UTC().Format(time.RFC3339), tt.wantUser, tt.wantStart, tt.wantEnd)
			}
		})
	}
}

func TestShiftLengthN(t *testing.T) {
	tests := []struct {
		typ      string
		n        int
		at       string
		wantUser string
		want     string // shift start
		end      string
	}{
		{TypeDaily, 3, "2027-01-07T10:00:00Z", "c", "2027-01-07T09:00:00Z", "2027-01-10T09:00:00Z"},
		{TypeWeekly, 2, "2027-01-20T00:00:00Z", "b", "2027-01-15T09:00:00Z", "2027-01-29T09:00:00Z"},
		{TypeMonthly, 2, "2027-04-01T00:00:00Z", "b", "2027-03-01T09:00:00Z", "2027-05-01T09:00:00Z"},
		{TypeHours, 8, "2027-01-01T18:00:00Z", "b", "2027-01-01T17:00:00Z", "2027-01-02T01:00:00Z"},
		{TypeHourly, 2, "2027-01-01T12:30:00Z", "b", "2027-01-01T11:00:00Z", "2027-01-01T13:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s×%d", tt.typ, tt.n), func(t *testing.T) {
			r := rot(t, tt.typ, tt.n, "UTC", "2027-01-01T09:00", "a", "b", "c")
			user, s, e := r.ShiftAt(utc(tt.at))
			if user != tt.wantUser || !s.Equal(utc(tt.want)) || !e.Equal(utc(tt.end)) {
				t.Errorf("got %q %s–%s, want %q %s–%s", user, s.Format(time.RFC3339), e.Format(time.RFC3339), tt.wantUser, tt.want, tt.end)
			}
		})
	}
}

// TestShiftAtFarAndConsistent checks that the direct arithmetic agrees with
// walking hand-off by hand-off, and works centuries from Start.
func TestShiftAtFarAndConsistent(t *testing.T) {
	for _, typ := range []string{TypeHours, TypeDaily, TypeWeekly, TypeMonthly} {
		for _, tz := range []string{"Europe/Helsinki", "America/New_York", "Australia/Lord_Howe"} {
			r := rot(t, typ, 1, tz, "2026-01-31T02:30", "a", "b", "c", "a")
			_, s, e := r.ShiftAt(r.Start)
			for k := 0; k < 400; k++ {
				mid := s.Add(e.Sub(s) / 2)
				u, s2, e2 := r.ShiftAt(mid)
				if !s2.Equal(s) || !e2.Equal(e) || u != r.Participants[k%4] {
					t.Fatalf("%s %s shift %d: got %q %s–%s, walked %s–%s", typ, tz, k, u, s2, e2, s, e)
				}
				if _, s3, _ := r.ShiftAt(e.Add(-time.Nanosecond)); !s3.Equal(s) {
					t.Fatalf("%s %s shift %d: end-1ns falls in %s", typ, tz, k, s3)
				}
				_, s, e = r.ShiftAt(e)
			}
			far := utc("2226-06-15T12:00:00Z")
			if u, s, e := r.ShiftAt(far); u == "" || s.After(far) || !e.After(far) {
				t.Errorf("%s %s far future: %q %s–%s", typ, tz, u, s, e)
			}
		}
	}
}

func TestRestrictions(t *testing.T) {
	r := &Rotation{Type: TypeWeekly, TimeZone: "Europe/Helsinki", Participants: []string{"a", "b"},
		Restrictions: []Restriction{
			{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "09:00", End: "17:00"},
			{Days: []string{"saturday"}, Start: "22:00", End: "02:00"},
		}}
	r.SetWallStart(2027, 3, 22, 0, 0) // Monday
	if err := r.Normalize(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		at   string
		want string
	}{
		{"2027-03-22T06:59:00Z", ""},  // Mon 08:59 EET
		{"2027-03-22T07:00:00Z", "a"}, // Mon 09:00 EET
		{"2027-03-22T14:59:00Z", "a"}, // Mon 16:59
		{"2027-03-22T15:00:00Z", ""},  // Mon 17:00
		{"2027-03-27T19:59:00Z", ""},  // Sat 21:59 EET
		{"2027-03-27T20:00:00Z", "a"}, // Sat 22:00 EET
		{"2027-03-27T23:30:00Z", "a"}, // Sun 01:30 EET, overnight window
		{"2027-03-28T00:00:00Z", ""},  // Sun 02:00 EET
		{"2027-03-29T05:59:00Z", ""},  // Mon 08:59 EEST
		{"2027-03-29T06:00:00Z", "b"}, // Mon 09:00 EEST, next week's user
	}
	for _, tt := range tests {
		if got := r.OnCallAt(utc(tt.at)); got != tt.want {
			t.Errorf("OnCallAt(%s) = %q, want %q", tt.at, got, tt.want)
		}
	}
	// ShiftAt ignores restrictions: it names the turn.
	if u, _, _ := r.ShiftAt(utc("2027-03-22T06:59:00Z")); u != "a" {
		t.Errorf("ShiftAt ignores restrictions, got %q", u)
	}
}
