package oncall

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// benchSchedules builds n schedules with a daily and a weekly layer, 5–8
// participants, mixed time zones and some overrides, deterministically.
func benchSchedules(b testing.TB, n int) []Schedule {
	zones := []string{"Europe/Helsinki", "America/New_York", "UTC", "Asia/Kolkata", "Australia/Sydney", "America/Los_Angeles", "Europe/London"}
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]Schedule, n)
	for i := range out {
		users := make([]string, 5+rng.IntN(4))
		for j := range users {
			users[j] = fmt.Sprintf("u%d-%d", i, j)
		}
		daily := Rotation{Name: "daily", Type: TypeDaily, Participants: users}
		daily.SetWallStart(2026, 1, 1+rng.IntN(28), 9, 0)
		weekly := Rotation{Name: "weekly", Type: TypeWeekly, Participants: users[1:], TimeZone: zones[(i+3)%len(zones)],
			Restrictions: []Restriction{{Days: []string{"sat", "sun"}, Start: "08:00", End: "20:00"}}}
		weekly.SetWallStart(2026, 1, 3, 8, 0)
		s := Schedule{Name: fmt.Sprintf("s%d", i), TimeZone: zones[i%len(zones)], Layers: []Rotation{daily, weekly}}
		for k := range rng.IntN(6) {
			start := time.Date(2027, time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), 0, 0, 0, time.UTC)
			kinds := []Override{
				{Kind: OverrideAdd, User: "extra"},
				{Kind: OverrideReplace, User: "sub", Replaces: users[k%len(users)]},
				{Kind: OverrideRemove, Replaces: users[k%len(users)]},
			}
			o := kinds[k%3]
			o.Start, o.End = start, start.Add(time.Duration(1+rng.IntN(72))*time.Hour)
			s.Overrides = append(s.Overrides, o)
		}
		if err := s.Normalize(); err != nil {
			b.Fatal(err)
		}
		out[i] = s
	}
	return out
}

// BenchmarkYearOf1000Schedules computes a year of the merged timeline for
// each of 1,000 schedules; one op is all 1,000 (the issue asks ≤ 1 s).
func BenchmarkYearOf1000Schedules(b *testing.B) {
	scheds := benchSchedules(b, 1000)
	from := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(1, 0, 0)
	b.ReportAllocs()
	shifts := 0
	for b.Loop() {
		shifts = 0
		for i := range scheds {
			shifts += len(scheds[i].Shifts(from, to))
		}
	}
	b.ReportMetric(float64(shifts), "shifts/op")
}

func BenchmarkOnCall(b *testing.B) {
	s := benchSchedules(b, 1)[0]
	at := time.Date(2127, 3, 28, 1, 30, 0, 0, time.UTC)
	for b.Loop() {
		_ = s.OnCall(at)
	}
}
