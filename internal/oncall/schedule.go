package oncall

import (
	"slices"
	"time"
)

// member is one person on call during a segment, with where it came from.
type member struct {
	user, layer, source string
}

// segment is a maximal period with one on-call set.
type segment struct {
	start, end time.Time
	members    []member
}

// OnCall returns the distinct users on call at `at`: the layer's user
// first, then users added by overrides in override order.
func (s *Schedule) OnCall(at time.Time) []string {
	segs := s.timeline(at, at.Add(time.Nanosecond))
	if len(segs) == 0 {
		return nil
	}
	users := make([]string, 0, len(segs[0].members))
	for _, m := range segs[0].members {
		users = append(users, m.user)
	}
	return users
}

// Shifts returns the final timeline in [from, to): one Shift per person per
// period in which the on-call set does not change, clipped to the range,
// ordered by start.
func (s *Schedule) Shifts(from, to time.Time) []Shift {
	segs := s.timeline(from, to)
	n := 0
	for _, seg := range segs {
		n += len(seg.members)
	}
	out := make([]Shift, 0, n)
	for _, seg := range segs {
		for _, m := range seg.members {
			out = append(out, Shift{User: m.user, Start: seg.start, End: seg.end, Layer: m.layer, Source: m.source})
		}
	}
	return out
}

// ForUser keeps the shifts of one user, for a personal calendar feed.
func ForUser(shifts []Shift, user string) []Shift {
	var out []Shift
	for _, sh := range shifts {
		if sh.User == user {
			out = append(out, sh)
		}
	}
	return out
}

// NextShifts returns the first n shifts of the timeline from `at` on; the
// shift in progress at `at` comes first, starting at `at`. It looks ahead
// at most about two years.
func (s *Schedule) NextShifts(at time.Time, n int) []Shift {
	if n <= 0 {
		return nil
	}
	const maxHorizon = 2 * 366 * 24 * time.Hour
	for h := 7 * 24 * time.Hour; ; h *= 4 {
		h = min(h, maxHorizon)
		shifts := s.Shifts(at, at.Add(h))
		// A shift ending at the horizon may be cut by it; only trust it
		// when the horizon is final.
		if (len(shifts) >= n && shifts[n-1].End.Before(at.Add(h))) || h == maxHorizon {
			return shifts[:min(n, len(shifts))]
		}
	}
}

// timeline computes the merged segments in [from, to).
func (s *Schedule) timeline(from, to time.Time) []segment {
	if !s.ready || !to.After(from) {
		return nil
	}
	layers := make([][]interval, len(s.Layers))
	n := 2 + 2*len(s.Overrides)
	for i := range s.Layers {
		layers[i] = s.Layers[i].intervals(from, to)
		n += 2 * len(layers[i])
	}
	bounds := make([]time.Time, 0, n)
	bounds = append(bounds, from, to)
	add := func(t time.Time) {
		if t.After(from) && t.Before(to) {
			bounds = append(bounds, t)
		}
	}
	for i := range layers {
		for _, iv := range layers[i] {
			add(iv.start)
			add(iv.end)
		}
	}
	var overrides []Override
	for _, o := range s.Overrides {
		if o.Start.Before(to) && o.End.After(from) {
			overrides = append(overrides, o)
			add(o.Start)
			add(o.End)
		}
	}
	var temps []Temporary
	for _, t := range s.Temporary {
		if t.Start.Before(to) && t.End.After(from) {
			temps = append(temps, t)
			add(t.Start)
			add(t.End)
			for _, sh := range t.Shifts {
				add(sh.Start)
				add(sh.End)
			}
		}
	}
	slices.SortFunc(bounds, func(a, b time.Time) int { return a.Compare(b) })
	bounds = slices.CompactFunc(bounds, func(a, b time.Time) bool { return a.Equal(b) })

	cursors := make([]int, len(layers))
	segs := make([]segment, 0, len(bounds))
	var scratch []member // reused: most segments only extend the previous one
	// Segments' members are carved out of one arena instead of one
	// allocation each; a regrown arena leaves earlier slices valid.
	arena := make([]member, 0, len(bounds)+len(s.Overrides))
	for i := 0; i+1 < len(bounds); i++ {
		t := bounds[i]
		scratch = s.membersAt(scratch[:0], t, layers, cursors, overrides, temps)
		if n := len(segs); n > 0 && segs[n-1].end.Equal(t) && slices.Equal(segs[n-1].members, scratch) {
			segs[n-1].end = bounds[i+1]
			continue
		}
		if len(scratch) > 0 {
			at := len(arena)
			arena = append(arena, scratch...)
			segs = append(segs, segment{start: t, end: bounds[i+1], members: arena[at:len(arena):len(arena)]})
		}
	}
	return segs
}

// membersAt evaluates the precedence rules at t; cursors only move forward,
// as t does.
func (s *Schedule) membersAt(ms []member, t time.Time, layers [][]interval, cursors []int, overrides []Override, temps []Temporary) []member {
	for _, tmp := range temps {
		if t.Before(tmp.Start) || !t.Before(tmp.End) {
			continue
		}
		for _, sh := range tmp.Shifts {
			if !t.Before(sh.Start) && t.Before(sh.End) {
				ms = addMember(ms, member{user: sh.User, source: SourceTemporary})
			}
		}
		return ms
	}
	for li := len(layers) - 1; li >= 0; li-- {
		ivs := layers[li]
		c := cursors[li]
		for c < len(ivs) && !ivs[c].end.After(t) {
			c++
		}
		cursors[li] = c
		if c < len(ivs) && !ivs[c].start.After(t) {
			ms = append(ms, member{user: ivs[c].user, layer: s.Layers[li].Name, source: SourceRotation})
			break
		}
	}
	for _, o := range overrides {
		if t.Before(o.Start) || !t.Before(o.End) {
			continue
		}
		switch o.Kind {
		case OverrideAdd:
			ms = addMember(ms, member{user: o.User, source: SourceOverride})
		case OverrideRemove:
			ms = slices.DeleteFunc(ms, func(m member) bool { return m.user == o.Replaces })
		case OverrideReplace:
			i := slices.IndexFunc(ms, func(m member) bool { return m.user == o.Replaces })
			if i < 0 {
				break
			}
			if slices.ContainsFunc(ms, func(m member) bool { return m.user == o.User }) {
				ms = slices.Delete(ms, i, i+1)
			} else {
				ms[i] = member{user: o.User, source: SourceOverride}
			}
		}
	}
	return ms
}

func addMember(ms []member, m member) []member {
	if slices.ContainsFunc(ms, func(x member) bool { return x.user == m.user }) {
		return ms
	}
	return append(ms, m)
}
