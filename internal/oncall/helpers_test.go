package oncall

import (
	"testing"
	"time"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// rot builds a normalized rotation with a wall-clock start in tz.
func rot(t testing.TB, typ string, n int, tz, wallStart string, users ...string) *Rotation {
	t.Helper()
	ws, err := time.Parse("2006-01-02T15:04", wallStart)
	if err != nil {
		t.Fatal(err)
	}
	r := &Rotation{Name: "r", Type: typ, ShiftLength: n, TimeZone: tz, Participants: users}
	r.SetWallStart(ws.Year(), ws.Month(), ws.Day(), ws.Hour(), ws.Minute())
	if err := r.Normalize(); err != nil {
		t.Fatalf("normalize: %v", err)
	}
	return r
}
