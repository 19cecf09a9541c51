package amconfig

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/paging"
	"github.com/vigil-soc/vigil/internal/validation"
)

// TimeInterval is a named time interval (time_intervals, or the
// deprecated top-level mute_time_intervals): the union of its specs.
type TimeInterval struct {
	Path  string
	Name  string
	Specs []TimeSpec
}

// TimeSpec is one element of a time interval's time_intervals list. An
// empty field means "any"; the fields are intersected.
type TimeSpec struct {
	Path        string
	Times       []TimeRange
	Weekdays    []Range // 0 = sunday
	DaysOfMonth []Range // negative: from the month's end (-1 = last day)
	Months      []Range // 1 = january
	Years       []Range
	Location    string // "" is UTC
	loc         *time.Location
}

// TimeRange is [Start, End) in minutes after local midnight.
type TimeRange struct{ Start, End int }

// Range is an inclusive range.
type Range struct{ Begin, End int }

var weekdayNames = []string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}
var monthNames = []string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}

var specKeys = []string{"times", "weekdays", "days_of_month", "months", "years", "location"}

func (c *Config) parseTimeIntervals(v any, key string) error {
	list, err := asList(v, key)
	if err != nil {
		return err
	}
	for i, e := range list {
		path := fmt.Sprintf("%s[%d]", key, i)
		m, err := asMap(e, path)
		if err != nil {
			return err
		}
		ti := TimeInterval{Path: path}
		if ti.Name, err = str(m["name"], path+".name"); err != nil {
			return err
		}
		if ti.Name == "" {
			return validation.NewFieldError(path+".name", "missing name in time interval")
		}
		for _, other := range c.TimeIntervals {
			if other.Name == ti.Name {
				return validation.NewFieldError(path+".name", "time interval %q is not unique", ti.Name)
			}
		}
		specs, err := asList(m["time_intervals"], path+".time_intervals")
		if err != nil {
			return err
		}
		for j, s := range specs {
			spec, err := parseSpec(s, fmt.Sprintf("%s.time_intervals[%d]", path, j))
			if err != nil {
				return err
			}
			ti.Specs = append(ti.Specs, spec)
		}
		c.TimeIntervals = append(c.TimeIntervals, ti)
	}
	return nil
}

func parseSpec(v any, path string) (TimeSpec, error) {
	m, err := asMap(v, path)
	if err != nil {
		return TimeSpec{}, err
	}
	sp := TimeSpec{Path: path, loc: time.UTC}
	for _, k := range sortedKeys(m) {
		p := path + "." + k
		switch k {
		case "times":
			list, err := asList(m[k], p)
			if err != nil {
				return sp, err
			}
			for i, e := range list {
				tr, err := parseTimeRange(e, fmt.Sprintf("%s[%d]", p, i))
				if err != nil {
					return sp, err
				}
				sp.Times = append(sp.Times, tr)
			}
		case "location":
			if sp.Location, err = str(m[k], p); err != nil {
				return sp, err
			}
			// "Local" is the Alertmanager host's zone, which vigil cannot
			// know; it is kept and reported where it matters.
			loc, err := time.LoadLocation(sp.Location)
			if err != nil {
				return sp, validation.NewFieldError(p, "unknown time zone %q", sp.Location)
			}
			sp.loc = loc
		case "weekdays", "days_of_month", "months", "years":
			list, err := stringList(m[k], p)
			if err != nil {
				return sp, err
			}
			for i, s := range list {
				r, err := parseRange(k, s)
				if err != nil {
					return sp, validation.NewFieldError(fmt.Sprintf("%s[%d]", p, i), "%s", err)
				}
				switch k {
				case "weekdays":
					sp.Weekdays = append(sp.Weekdays, r)
				case "days_of_month":
					sp.DaysOfMonth = append(sp.DaysOfMonth, r)
				case "months":
					sp.Months = append(sp.Months, r)
				default:
					sp.Years = append(sp.Years, r)
				}
			}
		default:
			return sp, validation.NewFieldError(p, "unknown field in time interval")
		}
	}
	return sp, nil
}

var clockRE = regexp.MustCompile(`^((([01][0-9])|(2[0-3])):[0-5][0-9])$|(^24:00$)`)

func parseTimeRange(v any, path string) (TimeRange, error) {
	m, err := asMap(v, path)
	if err != nil {
		return TimeRange{}, err
	}
	var tr TimeRange
	for i, k := range []string{"start_time", "end_time"} {
		s, err := str(m[k], path+"."+k)
		if err != nil {
			return tr, err
		}
		if !clockRE.MatchString(s) {
			return tr, validation.NewFieldError(path+"."+k, "couldn't parse timestamp %q, invalid format", s)
		}
		h, _ := strconv.Atoi(s[:2])
		mi, _ := strconv.Atoi(s[3:])
		if i == 0 {
			tr.Start = h*60 + mi
		} else {
			tr.End = h*60 + mi
		}
	}
	if tr.Start >= tr.End {
		return tr, validation.NewFieldError(path, "start time cannot be equal or greater than end time")
	}
	return tr, nil
}

// parseRange reads "monday:friday", "1:5", "-1", "2026:2027" as
// Alertmanager does, with its range checks.
func parseRange(kind, s string) (Range, error) {
	in := strings.ToLower(strings.TrimSpace(s))
	b, e, isRange := strings.Cut(in, ":")
	if !isRange {
		e = b
	}
	if strings.Contains(e, ":") {
		return Range{}, fmt.Errorf("couldn't parse range %q, invalid format", s)
	}
	member := func(x string) (int, error) {
		switch kind {
		case "weekdays":
			for i, n := range weekdayNames {
				if x == n {
					return i, nil
				}
			}
			return 0, fmt.Errorf("%s is not a valid weekday", x)
		case "months":
			for i, n := range monthNames {
				if x == n {
					return i + 1, nil
				}
			}
		}
		n, err := strconv.Atoi(x)
		if err != nil {
			return 0, fmt.Errorf("%s is not a valid %s", x, strings.TrimSuffix(kind, "s"))
		}
		return n, nil
	}
	var r Range
	var err error
	if r.Begin, err = member(b); err != nil {
		return r, err
	}
	if r.End, err = member(e); err != nil {
		return r, err
	}
	switch kind {
	case "weekdays":
		if r.Begin > r.End {
			return r, fmt.Errorf("start day cannot be before end day")
		}
	case "months":
		if r.Begin < 1 || r.Begin > 12 || r.End < 1 || r.End > 12 {
			return r, fmt.Errorf("%s is not a valid month: out of range", s)
		}
		if r.Begin > r.End {
			return r, fmt.Errorf("end month %d is before start month %d", r.End, r.Begin)
		}
	case "years":
		if r.Begin < 0 || r.End < 0 || r.Begin > r.End {
			return r, fmt.Errorf("%s is not a valid year range", s)
		}
	case "days_of_month":
		if r.Begin == 0 || r.Begin < -31 || r.Begin > 31 || r.End == 0 || r.End < -31 || r.End > 31 {
			return r, fmt.Errorf("%s is not a valid day of the month: out of range", s)
		}
		if r.Begin < 0 && r.End > 0 {
			return r, fmt.Errorf("end day must be negative if start day is negative")
		}
		cb, ce := r.Begin, r.End
		if cb < 0 {
			cb += 28
		}
		if ce < 0 {
			ce += 28
		}
		if cb > ce {
			return r, fmt.Errorf("end day %d is always before start day %d", r.End, r.Begin)
		}
	}
	return r, nil
}

// supportHours maps an active time interval to vigil's support hours:
// possible when it has one spec, with at most one time range, any set of
// weekdays, and no day-of-month, month or year restriction. Otherwise the
// reason is returned.
//
// vigil's end is a clock time before 24:00, so an interval running to
// midnight (or all day) ends at 23:59: lastMinute says so.
func (ti TimeInterval) supportHours() (h *paging.SupportHours, lastMinute bool, why string) {
	if len(ti.Specs) != 1 {
		return nil, false, fmt.Sprintf("has %d specs; vigil's support hours are one set of days with one time range", len(ti.Specs))
	}
	sp := ti.Specs[0]
	switch {
	case len(sp.DaysOfMonth) > 0 || len(sp.Months) > 0 || len(sp.Years) > 0:
		return nil, false, "restricts days of the month, months or years; vigil's support hours are weekdays and a time of day"
	case len(sp.Times) > 1:
		return nil, false, fmt.Sprintf("has %d time ranges; vigil's support hours have one", len(sp.Times))
	case sp.Location == "Local":
		return nil, false, "uses location Local (the Alertmanager host's zone); set an IANA zone"
	}
	h = &paging.SupportHours{TimeZone: "UTC", Start: "00:00", End: "23:59"}
	if sp.Location != "" {
		h.TimeZone = sp.Location
	}
	days := map[int]bool{}
	for _, r := range sp.Weekdays {
		for d := r.Begin; d <= r.End; d++ {
			days[d] = true
		}
	}
	order := []int{1, 2, 3, 4, 5, 6, 0} // vigil lists mon..sun
	for _, d := range order {
		if len(sp.Weekdays) == 0 || days[d] {
			h.Days = append(h.Days, weekdayNames[d][:3])
		}
	}
	if len(sp.Times) == 1 {
		h.Start, h.End = clock(sp.Times[0].Start), clock(sp.Times[0].End)
	}
	if h.End == "24:00" || len(sp.Times) == 0 {
		h.End = "23:59"
		lastMinute = true
	}
	return h, lastMinute, ""
}

func clock(min int) string { return fmt.Sprintf("%02d:%02d", min/60, min%60) }

// windows maps a mute time interval spec to fixed windows: possible when
// it names one year, at most one month range (one month when days are
// given), at most one day range, no weekdays, and either no times or one
// time range on a single day. Otherwise the reason is returned.
func (sp TimeSpec) window() (start, end time.Time, why string) {
	switch {
	case len(sp.Weekdays) > 0:
		return start, end, "recurs on weekdays"
	case len(sp.Years) != 1 || sp.Years[0].Begin != sp.Years[0].End:
		return start, end, "recurs every year (no single year)"
	case len(sp.Months) > 1 || len(sp.DaysOfMonth) > 1 || len(sp.Times) > 1:
		return start, end, "has several month, day or time ranges"
	case sp.Location == "Local":
		return start, end, "uses location Local (the Alertmanager host's zone)"
	}
	year := sp.Years[0].Begin
	m1, m2 := 1, 12
	if len(sp.Months) == 1 {
		m1, m2 = sp.Months[0].Begin, sp.Months[0].End
	}
	loc := sp.loc
	if loc == nil {
		loc = time.UTC
	}
	start = time.Date(year, time.Month(m1), 1, 0, 0, 0, 0, loc)
	end = time.Date(year, time.Month(m2)+1, 1, 0, 0, 0, 0, loc)
	if len(sp.DaysOfMonth) == 1 {
		if m1 != m2 {
			return start, end, "recurs on days of several months"
		}
		last := time.Date(year, time.Month(m1)+1, 0, 0, 0, 0, 0, loc).Day()
		d1, d2 := sp.DaysOfMonth[0].Begin, sp.DaysOfMonth[0].End
		if d1 < 0 {
			d1 += last + 1
		}
		if d2 < 0 {
			d2 += last + 1
		}
		// Alertmanager clamps days to the month's length.
		d1, d2 = max(1, min(d1, last)), max(1, min(d2, last))
		if d1 > d2 {
			return start, end, "its days are empty in that month"
		}
		start = time.Date(year, time.Month(m1), d1, 0, 0, 0, 0, loc)
		end = time.Date(year, time.Month(m1), d2+1, 0, 0, 0, 0, loc)
	}
	if len(sp.Times) == 1 {
		if end.Sub(start) > 25*time.Hour { // one local day, DST included
			return start, end, "recurs daily at a time of day over several days"
		}
		tr := sp.Times[0]
		day := start
		start = time.Date(day.Year(), day.Month(), day.Day(), tr.Start/60, tr.Start%60, 0, 0, loc)
		end = time.Date(day.Year(), day.Month(), day.Day(), tr.End/60, tr.End%60, 0, 0, loc)
		if !end.After(start) { // both ends in a daylight saving time gap
			return start, end, "falls in a daylight saving time change"
		}
	}
	return start.UTC(), end.UTC(), ""
}
