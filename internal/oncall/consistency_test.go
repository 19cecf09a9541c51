package oncall

import (
	"slices"
	"testing"
	"time"
)

// TestShiftsAgreeWithOnCall checks, on generated schedules with mixed
// zones, restrictions and overrides, that the merged timeline and OnCall
// tell the same story, that shifts are ordered, non-empty and clipped, and
// that adjacent pieces really differ.
func TestShiftsAgreeWithOnCall(t *testing.T) {
	// Spring and autumn 2027 DST changes; the generated overrides fall in 2027.
	for _, r := range [][2]time.Time{
		{time.Date(2027, 3, 5, 0, 0, 0, 0, time.UTC), time.Date(2027, 4, 10, 0, 0, 0, 0, time.UTC)},
		{time.Date(2027, 10, 25, 0, 0, 0, 0, time.UTC), time.Date(2027, 11, 12, 0, 0, 0, 0, time.UTC)},
	} {
		checkAgreement(t, r[0], r[1])
	}
}

func checkAgreement(t *testing.T, from, to time.Time) {
	overrides := 0
	for _, s := range benchSchedules(t, 60) {
		for _, o := range s.Overrides {
			if o.Start.Before(to) && o.End.After(from) {
				overrides++
			}
		}
		shifts := s.Shifts(from, to)
		for i, sh := range shifts {
			if !sh.End.After(sh.Start) || sh.Start.Before(from) || sh.End.After(to) {
				t.Fatalf("%s: bad shift %+v", s.Name, sh)
			}
			if i > 0 && sh.Start.Before(shifts[i-1].Start) {
				t.Fatalf("%s: shifts out of order at %d", s.Name, i)
			}
		}
		// Group into pieces (same start); touching pieces must differ.
		type piece struct {
			start, end time.Time
			who        []string
		}
		var pieces []piece
		for _, sh := range shifts {
			if n := len(pieces); n > 0 && pieces[n-1].start.Equal(sh.Start) {
				pieces[n-1].who = append(pieces[n-1].who, sh.User+"/"+sh.Layer+"/"+sh.Source)
				continue
			}
			pieces = append(pieces, piece{sh.Start, sh.End, []string{sh.User + "/" + sh.Layer + "/" + sh.Source}})
		}
		for i := 1; i < len(pieces); i++ {
			if pieces[i-1].end.Equal(pieces[i].start) && slices.Equal(pieces[i-1].who, pieces[i].who) {
				t.Fatalf("%s: pieces at %s not merged: %v", s.Name, pieces[i].start, pieces[i].who)
			}
		}
		for at := from; at.Before(to); at = at.Add(37 * time.Minute) {
			var want []string
			for _, sh := range shifts {
				if !at.Before(sh.Start) && at.Before(sh.End) {
					want = append(want, sh.User)
				}
			}
			if got := s.OnCall(at); !slices.Equal(got, want) {
				t.Fatalf("%s at %s: OnCall %v, timeline %v", s.Name, at, got, want)
			}
		}
	}
	if overrides == 0 {
		t.Errorf("no override falls in %s–%s; the check is weaker than meant", from, to)
	}
}

func TestForUser(t *testing.T) {
	shifts := []Shift{{User: "a"}, {User: "b"}, {User: "a"}}
	if got := ForUser(shifts, "a"); len(got) != 2 {
		t.Errorf("ForUser = %v", got)
	}
}
