package oncall

import (
	"slices"
	"time"
)

// interval is someone on call for [start, end).
type interval struct {
	user       string
	start, end time.Time
}

// handoff is the k-th hand-off (k = 0 is the first), computed directly so
// that a query far from Start costs the same as one near it.
func (r *Rotation) handoff(k int64) time.Time {
	switch r.Type {
	case TypeHourly, TypeHours:
		return r.Start.Add(time.Duration(k) * r.period)
	case TypeMonthly:
		mi := r.anchorMonth + k*int64(r.ShiftLength)
		y := floorDiv(mi, 12)
		m := time.Month(mi-y*12) + 1
		d := min(r.anchorDom, daysIn(int(y), m))
		return localInstant(int(y), m, d, r.hh, r.mm, r.ss, r.loc)
	default: // daily, weekly
		y, m, d := fromDayNumber(r.anchorDay + k*r.stepDays)
		return localInstant(y, m, d, r.hh, r.mm, r.ss, r.loc)
	}
}

// index returns the k whose shift [handoff(k), handoff(k+1)) contains at.
// The estimate from calendar arithmetic is off by at most one either way
// (at's local date may be the hand-off date but before the hand-off time),
// which the loops fix.
func (r *Rotation) index(at time.Time) int64 {
	var k int64
	switch r.Type {
	case TypeHourly, TypeHours:
		k = floorDiv(int64(at.Sub(r.Start)), int64(r.period))
	case TypeMonthly:
		y, m, _ := at.In(r.loc).Date()
		k = floorDiv(int64(y)*12+int64(m)-1-r.anchorMonth, int64(r.ShiftLength))
	default:
		y, m, d := at.In(r.loc).Date()
		k = floorDiv(dayNumber(y, m, d)-r.anchorDay, r.stepDays)
	}
	for r.handoff(k).After(at) {
		k--
	}
	for !r.handoff(k + 1).After(at) {
		k++
	}
	return k
}

func (r *Rotation) userAt(k int64) string {
	return r.Participants[floorMod(k, int64(len(r.Participants)))]
}

// ShiftAt returns whose turn it is at `at` and that turn's hand-offs,
// ignoring restrictions (see OnCallAt). Before the first hand-off, and on a
// rotation that was not normalized, the user is "" (end is then the first
// hand-off, when known).
func (r *Rotation) ShiftAt(at time.Time) (user string, start, end time.Time) {
	if !r.ready {
		return "", time.Time{}, time.Time{}
	}
	if at.Before(r.first) {
		return "", time.Time{}, r.first
	}
	k := r.index(at)
	return r.userAt(k), r.handoff(k), r.handoff(k + 1)
}

// OnCallAt is the user this layer puts on call at `at`, after its
// restrictions; "" when no one.
func (r *Rotation) OnCallAt(at time.Time) string {
	iv := r.intervals(at, at.Add(time.Nanosecond))
	if len(iv) == 0 {
		return ""
	}
	return iv[0].user
}

// intervals lists this layer's on-call intervals within [from, to), after
// restrictions, in order.
func (r *Rotation) intervals(from, to time.Time) []interval {
	if !r.ready || !to.After(r.first) || !to.After(from) {
		return nil
	}
	if from.Before(r.first) {
		from = r.first
	}
	k := r.index(from)
	out := make([]interval, 0, r.estimate(from, to))
	s := r.handoff(k)
	for s.Before(to) {
		e := r.handoff(k + 1)
		out = append(out, interval{user: r.userAt(k), start: maxTime(s, from), end: minTime(e, to)})
		s = e
		k++
	}
	if len(r.windows) == 0 {
		return out
	}
	return intersect(out, r.restrictionWindows(from, to))
}

// estimate is a capacity hint for the number of shifts in [from, to).
func (r *Rotation) estimate(from, to time.Time) int {
	var unit time.Duration
	switch r.Type {
	case TypeHourly, TypeHours:
		unit = r.period
	case TypeMonthly:
		unit = time.Duration(r.ShiftLength) * 28 * 24 * time.Hour
	default:
		unit = time.Duration(r.stepDays) * 23 * time.Hour
	}
	return min(int(to.Sub(from)/unit)+2, 1<<16)
}

// restrictionWindows lists the allowed periods overlapping [from, to),
// sorted and merged.
func (r *Rotation) restrictionWindows(from, to time.Time) []interval {
	fy, fm, fd := from.In(r.loc).Date()
	ty, tm, td := to.In(r.loc).Date()
	var ws []interval
	// Start a day early: yesterday's overnight window may reach into from.
	for n := dayNumber(fy, fm, fd) - 1; n <= dayNumber(ty, tm, td); n++ {
		wd := weekdayOf(n)
		for _, w := range r.windows {
			if !w.days[wd] {
				continue
			}
			s := r.atClock(n, w.start)
			endDay := n
			if w.end <= w.start {
				endDay++
			}
			e := r.atClock(endDay, w.end)
			if e.After(s) && e.After(from) && s.Before(to) {
				ws = append(ws, interval{start: maxTime(s, from), end: minTime(e, to)})
			}
		}
	}
	slices.SortFunc(ws, func(a, b interval) int { return a.start.Compare(b.start) })
	merged := ws[:0]
	for _, w := range ws {
		if n := len(merged); n > 0 && !w.start.After(merged[n-1].end) {
			merged[n-1].end = maxTime(merged[n-1].end, w.end)
			continue
		}
		merged = append(merged, w)
	}
	return merged
}

// atClock is the instant of sec seconds after local midnight on day n.
func (r *Rotation) atClock(n int64, sec int) time.Time {
	y, m, d := fromDayNumber(n)
	if sec >= 86400 {
		y, m, d = fromDayNumber(n + 1)
		sec -= 86400
	}
	return localInstant(y, m, d, sec/3600, sec/60%60, sec%60, r.loc)
}

// intersect clips each shift to the allowed windows (both sorted).
func intersect(shifts, windows []interval) []interval {
	var out []interval
	j := 0
	for _, s := range shifts {
		for j < len(windows) && !windows[j].end.After(s.start) {
			j++
		}
		for i := j; i < len(windows) && windows[i].start.Before(s.end); i++ {
			st, en := maxTime(s.start, windows[i].start), minTime(s.end, windows[i].end)
			if en.After(st) {
				out = append(out, interval{user: s.user, start: st, end: en})
			}
		}
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
