package oncall

import "time"

// dayNumber is the count of days since 1970-01-01 of a civil date; it lets
// daily and weekly rotations find the n-th hand-off without walking.
func dayNumber(y int, m time.Month, d int) int64 {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

func fromDayNumber(n int64) (int, time.Month, int) {
	return time.Unix(n*86400, 0).UTC().Date()
}

// weekdayOf works on day numbers: 1970-01-01 was a Thursday.
func weekdayOf(n int64) time.Weekday {
	return time.Weekday(floorMod(n+4, 7))
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

func offsetAt(sec int64, loc *time.Location) int64 {
	_, off := time.Unix(sec, 0).In(loc).Zone()
	return int64(off)
}

// localInstant turns a wall time in loc into an instant. Unlike time.Date,
// whose choice is unspecified for such times, it resolves a wall time in a
// spring-forward gap to the first instant after the gap (the moment of the
// change) and a wall time in a repeated hour to its first occurrence.
func localInstant(y int, m time.Month, d, hh, mm, ss int, loc *time.Location) time.Time {
	w := time.Date(y, m, d, hh, mm, ss, 0, time.UTC).Unix()
	// The offsets a day either side are the ones before and after any
	// transition near w (zones' offsets are within ±14h, so w∓86400 read
	// as instants lie before and after w's true instant).
	oa := offsetAt(w-86400, loc)
	ob := offsetAt(w+86400, loc)
	ia, ib := w-oa, w-ob
	va := offsetAt(ia, loc) == oa
	vb := offsetAt(ib, loc) == ob
	switch {
	case va && vb:
		return time.Unix(min(ia, ib), 0).In(loc)
	case va:
		return time.Unix(ia, 0).In(loc)
	case vb:
		return time.Unix(ib, 0).In(loc)
	}
	// In the gap: ia lies after the transition, so the zone in effect at
	// ia starts exactly at the change.
	start, _ := time.Unix(ia, 0).In(loc).ZoneBounds()
	if start.IsZero() {
		return time.Date(y, m, d, hh, mm, ss, 0, loc)
	}
	return start.In(loc)
}
