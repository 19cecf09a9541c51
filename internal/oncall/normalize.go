package oncall

import (
	"fmt"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
)

// maxShiftLength bounds ShiftLength so that hand-off arithmetic cannot
// overflow and obvious typos are caught.
const maxShiftLength = 10000

var weekdayNames = map[string]time.Weekday{
	"sun": time.Sunday, "sunday": time.Sunday,
	"mon": time.Monday, "monday": time.Monday,
	"tue": time.Tuesday, "tuesday": time.Tuesday,
	"wed": time.Wednesday, "wednesday": time.Wednesday,
	"thu": time.Thursday, "thursday": time.Thursday,
	"fri": time.Friday, "friday": time.Friday,
	"sat": time.Saturday, "saturday": time.Saturday,
}

// Normalize validates the schedule, fills defaults (TimeZone "UTC", layer
// names "Layer N", layer time zones from the schedule) and prepares it for
// queries.
func (s *Schedule) Normalize() error {
	s.ready = false
	s.Name = strings.TrimSpace(s.Name)
	if s.Name == "" {
		return validation.NewFieldError("name", "is required")
	}
	if s.TimeZone == "" {
		s.TimeZone = "UTC"
	}
	if _, err := time.LoadLocation(s.TimeZone); err != nil {
		return validation.NewFieldError("time_zone", "unknown time zone %q", s.TimeZone)
	}
	names := map[string]int{}
	for i := range s.Layers {
		l := &s.Layers[i]
		if l.TimeZone == "" {
			l.TimeZone = s.TimeZone
		}
		if strings.TrimSpace(l.Name) == "" {
			l.Name = fmt.Sprintf("Layer %d", i+1)
		}
		if err := l.Normalize(); err != nil {
			return validation.Prefix(fmt.Sprintf("layers[%d]", i), err)
		}
		if j, dup := names[l.Name]; dup {
			return validation.NewFieldError(fmt.Sprintf("layers[%d].name", i), "%q is already the name of layers[%d]", l.Name, j)
		}
		names[l.Name] = i
	}
	for i := range s.Overrides {
		if err := s.Overrides[i].Normalize(); err != nil {
			return validation.Prefix(fmt.Sprintf("overrides[%d]", i), err)
		}
	}
	for i := range s.Temporary {
		if err := s.Temporary[i].Normalize(); err != nil {
			return validation.Prefix(fmt.Sprintf("temporary[%d]", i), err)
		}
		for j := range i {
			a, b := s.Temporary[i], s.Temporary[j]
			if a.Start.Before(b.End) && b.Start.Before(a.End) {
				return validation.NewFieldError(fmt.Sprintf("temporary[%d].start", i), "overlaps temporary[%d]", j)
			}
		}
	}
	s.ready = true
	return nil
}

// Normalize validates the rotation and precomputes its hand-off anchors.
func (r *Rotation) Normalize() error {
	r.ready = false
	r.Name = strings.TrimSpace(r.Name)
	r.Type = strings.ToLower(strings.TrimSpace(r.Type))
	switch r.Type {
	case TypeHourly, TypeHours, TypeDaily, TypeWeekly, TypeMonthly:
	case "":
		return validation.NewFieldError("type", "is required (hourly, hours, daily, weekly or monthly)")
	default:
		return validation.NewFieldError("type", "%q is not one of hourly, hours, daily, weekly, monthly", r.Type)
	}
	if r.ShiftLength == 0 {
		r.ShiftLength = 1
	}
	if r.ShiftLength < 0 || r.ShiftLength > maxShiftLength {
		return validation.NewFieldError("shift_length", "must be between 1 and %d", maxShiftLength)
	}
	if r.TimeZone == "" {
		return validation.NewFieldError("time_zone", "is required")
	}
	loc, err := time.LoadLocation(r.TimeZone)
	if err != nil {
		return validation.NewFieldError("time_zone", "unknown time zone %q", r.TimeZone)
	}
	if r.Start.IsZero() {
		return validation.NewFieldError("start", "is required")
	}
	if len(r.Participants) == 0 {
		return validation.NewFieldError("participants", "needs at least one user")
	}
	for i, p := range r.Participants {
		r.Participants[i] = strings.TrimSpace(p)
		if r.Participants[i] == "" {
			return validation.NewFieldError(fmt.Sprintf("participants[%d]", i), "is empty")
		}
	}
	windows := make([]window, 0, len(r.Restrictions))
	for i, rs := range r.Restrictions {
		w, err := rs.parse()
		if err != nil {
			return validation.Prefix(fmt.Sprintf("restrictions[%d]", i), err)
		}
		windows = append(windows, w)
	}

	r.loc = loc
	if r.startWall {
		y, m, d := r.Start.Date()
		r.Start = localInstant(y, m, d, r.Start.Hour(), r.Start.Minute(), r.Start.Second(), loc)
		r.startWall = false
	}
	lt := r.Start.In(loc)
	y, m, d := lt.Date()
	r.hh, r.mm, r.ss = lt.Clock()
	r.anchorDay = dayNumber(y, m, d)
	r.anchorMonth = int64(y)*12 + int64(m) - 1
	r.anchorDom = d
	r.period = time.Duration(r.ShiftLength) * time.Hour
	r.stepDays = int64(r.ShiftLength)
	if r.Type == TypeWeekly {
		r.stepDays *= 7
	}
	r.windows = windows
	r.ready = true
	r.first = r.handoff(0)
	return nil
}

func (rs Restriction) parse() (window, error) {
	var w window
	if len(rs.Days) == 0 {
		for i := range w.days {
			w.days[i] = true
		}
	}
	for i, d := range rs.Days {
		wd, ok := weekdayNames[strings.ToLower(strings.TrimSpace(d))]
		if !ok {
			return w, validation.NewFieldError(fmt.Sprintf("days[%d]", i), "%q is not a weekday (mon, tue, …)", d)
		}
		w.days[wd] = true
	}
	var err error
	if w.start, err = parseClock(rs.Start); err != nil {
		return w, validation.NewFieldError("start", "%v", err)
	}
	if w.end, err = parseClock(rs.End); err != nil {
		return w, validation.NewFieldError("end", "%v", err)
	}
	return w, nil
}

// parseClock reads "HH:MM" (or "24:00") as seconds after midnight.
func parseClock(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "24:00" {
		return 86400, nil
	}
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a clock time HH:MM", s)
	}
	return t.Hour()*3600 + t.Minute()*60, nil
}

// Normalize validates the override.
func (o *Override) Normalize() error {
	o.Kind = strings.ToLower(strings.TrimSpace(o.Kind))
	o.User = strings.TrimSpace(o.User)
	o.Replaces = strings.TrimSpace(o.Replaces)
	switch o.Kind {
	case OverrideAdd:
		if o.User == "" {
			return validation.NewFieldError("user", "is required for an add override")
		}
		if o.Replaces != "" {
			return validation.NewFieldError("replaces", "must be empty for an add override")
		}
	case OverrideRemove:
		if o.Replaces == "" {
			return validation.NewFieldError("replaces", "is required for a remove override")
		}
		if o.User != "" {
			return validation.NewFieldError("user", "must be empty for a remove override")
		}
	case OverrideReplace:
		if o.User == "" {
			return validation.NewFieldError("user", "is required for a replace override")
		}
		if o.Replaces == "" {
			return validation.NewFieldError("replaces", "is required for a replace override")
		}
	default:
		return validation.NewFieldError("kind", "%q is not one of add, remove, replace", o.Kind)
	}
	return checkPeriod(o.Start, o.End)
}

// Normalize validates the temporary schedule and its shifts.
func (t *Temporary) Normalize() error {
	if err := checkPeriod(t.Start, t.End); err != nil {
		return err
	}
	for i := range t.Shifts {
		sh := &t.Shifts[i]
		p := fmt.Sprintf("shifts[%d]", i)
		sh.User = strings.TrimSpace(sh.User)
		if sh.User == "" {
			return validation.NewFieldError(p+".user", "is required")
		}
		if err := checkPeriod(sh.Start, sh.End); err != nil {
			return validation.Prefix(p, err)
		}
		if sh.Start.Before(t.Start) || sh.End.After(t.End) {
			return validation.NewFieldError(p+".start", "the shift must lie within the temporary schedule")
		}
		sh.Source = SourceTemporary
	}
	return nil
}

func checkPeriod(start, end time.Time) error {
	if start.IsZero() {
		return validation.NewFieldError("start", "is required")
	}
	if end.IsZero() {
		return validation.NewFieldError("end", "is required")
	}
	if !end.After(start) {
		return validation.NewFieldError("end", "must be after start")
	}
	return nil
}
