package oncall

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

// base is a schedule with a daily layer handing off at 00:00 UTC (a, b)
// and a higher weekday business-hours layer (x).
func base(t *testing.T) Schedule {
	t.Helper()
	l1 := Rotation{Name: "daily", Type: TypeDaily, TimeZone: "UTC", Participants: []string{"a", "b"}}
	l1.SetWallStart(2027, 1, 4, 0, 0) // Monday
	l2 := Rotation{Name: "business", Type: TypeWeekly, TimeZone: "UTC", Participants: []string{"x"},
		Restrictions: []Restriction{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "09:00", End: "17:00"}}}
	l2.SetWallStart(2027, 1, 4, 0, 0)
	return Schedule{Name: "SOC", Layers: []Rotation{l1, l2}}
}

type wantShift struct {
	user, start, end, layer, source string
}

func checkShifts(t *testing.T, got []Shift, want []wantShift) {
	t.Helper()
	var g []wantShift
	for _, s := range got {
		g = append(g, wantShift{s.User, s.Start.UTC().Format(time.RFC3339), s.End.UTC().Format(time.RFC3339), s.Layer, s.Source})
	}
	if !slices.Equal(g, want) {
		t.Errorf("shifts:\n got  %v\n want %v", g, want)
	}
}

func TestScheduleTimeline(t *testing.T) {
	day := func(h string) string { return "2027-01-04T" + h + ":00:00Z" }
	tests := []struct {
		name      string
		overrides []Override
		temporary []Temporary
		from, to  string
		want      []wantShift
	}{
		{
			name: "higher layer wins where it has someone, lower fills gaps",
			from: day("00"), to: "2027-01-05T00:00:00Z",
			want: []wantShift{
				{"a", day("00"), day("09"), "daily", SourceRotation},
				{"x", day("09"), day("17"), "business", SourceRotation},
				{"a", day("17"), "2027-01-05T00:00:00Z", "daily", SourceRotation},
			},
		},
		{
			name: "replace swaps the user for the period",
			overrides: []Override{{Kind: OverrideReplace, User: "c", Replaces: "a",
				Start: utc(day("06")), End: utc(day("12"))}},
			from: day("00"), to: day("17"),
			want: []wantShift{
				{"a", day("00"), day("06"), "daily", SourceRotation},
				{"c", day("06"), day("09"), "", SourceOverride},
				{"x", day("09"), day("17"), "business", SourceRotation}, // replaces a, who is not on call
			},
		},
		{
			name: "remove takes the user off; lower layers do not refill",
			overrides: []Override{{Kind: OverrideRemove, Replaces: "x",
				Start: utc(day("10")), End: utc(day("11"))}},
			from: day("08"), to: day("12"),
			want: []wantShift{
				{"a", day("08"), day("09"), "daily", SourceRotation},
				{"x", day("09"), day("10"), "business", SourceRotation},
				{"x", day("11"), day("12"), "business", SourceRotation},
			},
		},
		{
			name: "add puts an extra person on and splits the shift",
			overrides: []Override{{Kind: OverrideAdd, User: "d",
				Start: utc(day("02")), End: utc(day("04"))}},
			from: day("00"), to: day("06"),
			want: []wantShift{
				{"a", day("00"), day("02"), "daily", SourceRotation},
				{"a", day("02"), day("04"), "daily", SourceRotation},
				{"d", day("02"), day("04"), "", SourceOverride},
				{"a", day("04"), day("06"), "daily", SourceRotation},
			},
		},
		{
			name: "temporary schedule replaces layers and overrides in its window",
			overrides: []Override{{Kind: OverrideAdd, User: "d",
				Start: utc(day("00")), End: utc(day("12"))}},
			temporary: []Temporary{{Start: utc(day("04")), End: utc(day("10")), Shifts: []Shift{
				{User: "t1", Start: utc(day("04")), End: utc(day("06"))},
				{User: "t2", Start: utc(day("07")), End: utc(day("10"))},
			}}},
			from: day("03"), to: day("11"),
			want: []wantShift{
				{"a", day("03"), day("04"), "daily", SourceRotation},
				{"d", day("03"), day("04"), "", SourceOverride},
				{"t1", day("04"), day("06"), "", SourceTemporary},
				{"t2", day("07"), day("10"), "", SourceTemporary},
				{"x", day("10"), day("11"), "business", SourceRotation},
				{"d", day("10"), day("11"), "", SourceOverride},
			},
		},
		{
			name: "daily hand-off a→b at midnight",
			from: "2027-01-04T20:00:00Z", to: "2027-01-05T02:00:00Z",
			want: []wantShift{
				{"a", "2027-01-04T20:00:00Z", "2027-01-05T00:00:00Z", "daily", SourceRotation},
				{"b", "2027-01-05T00:00:00Z", "2027-01-05T02:00:00Z", "daily", SourceRotation},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base(t)
			s.Overrides, s.Temporary = tt.overrides, tt.temporary
			if err := s.Normalize(); err != nil {
				t.Fatal(err)
			}
			checkShifts(t, s.Shifts(utc(tt.from), utc(tt.to)), tt.want)
		})
	}
}

func TestOnCall(t *testing.T) {
	s := base(t)
	s.Overrides = []Override{
		{Kind: OverrideAdd, User: "d", Start: utc("2027-01-04T10:00:00Z"), End: utc("2027-01-04T12:00:00Z")},
		{Kind: OverrideAdd, User: "x", Start: utc("2027-01-04T10:00:00Z"), End: utc("2027-01-04T12:00:00Z")},
		{Kind: OverrideReplace, User: "d", Replaces: "x", Start: utc("2027-01-04T11:00:00Z"), End: utc("2027-01-04T12:00:00Z")},
	}
	if err := s.Normalize(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		at   string
		want []string
	}{
		{"2027-01-03T12:00:00Z", nil},                // before any layer starts
		{"2027-01-04T08:00:00Z", []string{"a"}},      // lower layer
		{"2027-01-04T10:30:00Z", []string{"x", "d"}}, // add, add of someone already on: distinct
		{"2027-01-04T11:30:00Z", []string{"d"}},      // replace x with d, d already on: one d
		{"2027-01-09T12:00:00Z", []string{"b"}},      // Saturday: restricted layer off
		{"2027-01-11T12:00:00Z", []string{"x"}},      // next Monday
		{"2027-01-04T17:00:00Z", []string{"a"}},      // end of window is exclusive
		{"2027-01-04T09:00:00Z", []string{"x"}},      // start of window is inclusive
		{"2127-01-04T09:00:00Z", []string{"a"}},      // a century on (36524 days): a Saturday, even day
		{"2127-01-06T09:00:00Z", []string{"x"}},      // Monday
		{"2127-01-07T08:00:00Z", []string{"b"}},      // 36527 days: odd
	}
	for _, tt := range tests {
		if got := s.OnCall(utc(tt.at)); !slices.Equal(got, tt.want) {
			t.Errorf("OnCall(%s) = %v, want %v", tt.at, got, tt.want)
		}
	}
}

func TestRepeatedParticipantMerges(t *testing.T) {
	l := Rotation{Type: TypeDaily, TimeZone: "UTC", Participants: []string{"a", "a", "b"}}
	l.SetWallStart(2027, 1, 1, 9, 0)
	s := Schedule{Name: "s", Layers: []Rotation{l}}
	if err := s.Normalize(); err != nil {
		t.Fatal(err)
	}
	checkShifts(t, s.Shifts(utc("2027-01-01T09:00:00Z"), utc("2027-01-05T09:00:00Z")), []wantShift{
		{"a", "2027-01-01T09:00:00Z", "2027-01-03T09:00:00Z", "Layer 1", SourceRotation},
		{"b", "2027-01-03T09:00:00Z", "2027-01-04T09:00:00Z", "Layer 1", SourceRotation},
		{"a", "2027-01-04T09:00:00Z", "2027-01-05T09:00:00Z", "Layer 1", SourceRotation},
	})
}

func TestNextShifts(t *testing.T) {
	s := base(t)
	if err := s.Normalize(); err != nil {
		t.Fatal(err)
	}
	checkShifts(t, s.NextShifts(utc("2027-01-08T16:00:00Z"), 4), []wantShift{
		{"x", "2027-01-08T16:00:00Z", "2027-01-08T17:00:00Z", "business", SourceRotation},
		{"a", "2027-01-08T17:00:00Z", "2027-01-09T00:00:00Z", "daily", SourceRotation},
		{"b", "2027-01-09T00:00:00Z", "2027-01-10T00:00:00Z", "daily", SourceRotation},
		{"a", "2027-01-10T00:00:00Z", "2027-01-11T00:00:00Z", "daily", SourceRotation},
	})
	// A schedule that ends (only a temporary one) stops early.
	e := Schedule{Name: "e", Temporary: []Temporary{{Start: utc("2027-01-01T00:00:00Z"), End: utc("2027-01-02T00:00:00Z"),
		Shifts: []Shift{{User: "t", Start: utc("2027-01-01T00:00:00Z"), End: utc("2027-01-02T00:00:00Z")}}}}}
	if err := e.Normalize(); err != nil {
		t.Fatal(err)
	}
	if got := e.NextShifts(utc("2026-12-31T00:00:00Z"), 3); len(got) != 1 || got[0].User != "t" {
		t.Errorf("NextShifts of a finite schedule = %v", got)
	}
}

// TestHelsinkiWeekTimeline checks the merged timeline of a daily 09:00
// layer over the spring change: hand-offs at 09:00 local and a 23h shift.
func TestHelsinkiWeekTimeline(t *testing.T) {
	l := Rotation{Type: TypeDaily, Participants: []string{"a", "b"}}
	l.SetWallStart(2027, 3, 22, 9, 0)
	s := Schedule{Name: "hel", TimeZone: "Europe/Helsinki", Layers: []Rotation{l}}
	if err := s.Normalize(); err != nil {
		t.Fatal(err)
	}
	hel := mustLoc(t, "Europe/Helsinki")
	shifts := s.Shifts(utc("2027-03-22T07:00:00Z"), utc("2027-03-29T06:00:00Z"))
	if len(shifts) != 7 {
		t.Fatalf("got %d shifts, want 7", len(shifts))
	}
	for i, sh := range shifts {
		if h, _, _ := sh.Start.In(hel).Clock(); h != 9 {
			t.Errorf("shift %d starts %s", i, sh.Start.In(hel))
		}
		want := 24 * time.Hour
		if i == 5 { // Sat 27 → Sun 28 March
			want = 23 * time.Hour
		}
		if d := sh.End.Sub(sh.Start); d != want {
			t.Errorf("shift %d lasts %s, want %s", i, d, want)
		}
	}
}

func TestRotationJSON(t *testing.T) {
	tests := []struct {
		name, start string
		want        string
	}{
		{"local wall time", `"2027-03-28T03:30"`, "2027-03-28T01:00:00Z"}, // in the gap: at the change
		{"local with seconds", `"2026-11-01T01:30:00"`, "2026-11-01T05:30:00Z"},
		{"RFC 3339 instant", `"2027-03-27T07:00:00Z"`, "2027-03-27T07:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tz := "Europe/Helsinki"
			if tt.start == `"2026-11-01T01:30:00"` {
				tz = "America/New_York"
			}
			var r Rotation
			in := `{"type":"daily","time_zone":"` + tz + `","participants":["a"],"start":` + tt.start + `}`
			if err := json.Unmarshal([]byte(in), &r); err != nil {
				t.Fatal(err)
			}
			if err := r.Normalize(); err != nil {
				t.Fatal(err)
			}
			if _, s, _ := r.ShiftAt(utc(tt.want).Add(time.Minute)); !s.Equal(utc(tt.want)) {
				t.Errorf("first hand-off %s, want %s", s.UTC(), tt.want)
			}
			out, err := json.Marshal(&r)
			if err != nil {
				t.Fatal(err)
			}
			var back Rotation
			if err := json.Unmarshal(out, &back); err != nil || !back.Start.Equal(r.Start) {
				t.Errorf("round trip %s: %v %s", out, err, back.Start)
			}
		})
	}
	var r Rotation
	if err := json.Unmarshal([]byte(`{"start":"tomorrow"}`), &r); err == nil {
		t.Error("bad start accepted")
	}
}
