package report

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
)

// Period is the span a report covers, [From, To), in the viewer's time
// zone, cut into buckets (days, weeks from Monday, or months) at local
// midnight: a DST day is 23 or 25 hours long, as on the viewer's clock.
type Period struct {
	From   time.Time      `json:"from"`
	To     time.Time      `json:"to"`
	Loc    *time.Location `json:"-"`
	Zone   string         `json:"time_zone"`
	Bucket string         `json:"bucket"`
}

// Buckets.
const (
	BucketDay   = "day"
	BucketWeek  = "week"
	BucketMonth = "month"
)

// ParsePeriod reads a period from a request's query: tz (an IANA zone,
// default defaultZone), from and to (local dates, YYYY-MM-DD; to is the
// last day included), or days (the last N days up to today, 30 by
// default), and bucket (day, week or month; by default day up to 31 days,
// week up to 366, month beyond). A bad value is a field error naming it.
func ParsePeriod(q url.Values, now time.Time, defaultZone string) (Period, error) {
	zone := strings.TrimSpace(q.Get("tz"))
	if zone == "" {
		zone = defaultZone
	}
	if zone == "" {
		zone = "UTC"
	}
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "Local" {
		return Period{}, validation.NewFieldError("tz", "%q is not an IANA time zone (such as Europe/Helsinki)", zone)
	}
	p := Period{Loc: loc, Zone: loc.String()}
	local := now.In(loc)
	today := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	day := func(field string) (time.Time, bool, error) {
		v := strings.TrimSpace(q.Get(field))
		if v == "" {
			return time.Time{}, false, nil
		}
		t, err := time.ParseInLocation("2006-01-02", v, loc)
		if err != nil {
			return time.Time{}, false, validation.NewFieldError(field, "must be a date, YYYY-MM-DD")
		}
		return t, true, nil
	}
	from, hasFrom, err := day("from")
	if err != nil {
		return Period{}, err
	}
	to, hasTo, err := day("to")
	if err != nil {
		return Period{}, err
	}
	if hasTo {
		to = to.AddDate(0, 0, 1) // the last day is included
	} else {
		to = today.AddDate(0, 0, 1)
	}
	if !hasFrom {
		days := 30
		if v := q.Get("days"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 3660 {
				return Period{}, validation.NewFieldError("days", "must be a whole number of days from 1 to 3660")
			}
			days = n
		}
		from = to.AddDate(0, 0, -days)
	}
	if !to.After(from) {
		return Period{}, validation.NewFieldError("to", "must not be before from")
	}
	if to.Sub(from) > 3661*24*time.Hour {
		return Period{}, validation.NewFieldError("from", "a period is at most ten years")
	}
	p.From, p.To = from, to
	switch b := q.Get("bucket"); b {
	case "":
		switch span := to.Sub(from); {
		case span <= 32*24*time.Hour:
			p.Bucket = BucketDay
		case span <= 367*24*time.Hour:
			p.Bucket = BucketWeek
		default:
			p.Bucket = BucketMonth
		}
	case BucketDay, BucketWeek, BucketMonth:
		p.Bucket = b
		if b == BucketDay && to.Sub(from) > 367*24*time.Hour {
			return Period{}, validation.NewFieldError("bucket", "days are for periods up to a year")
		}
	default:
		return Period{}, validation.NewFieldError("bucket", "must be day, week or month")
	}
	return p, nil
}

// Bounds are the buckets' starts, then the period's end: local midnights,
// weeks starting on Monday, months on the 1st. The first bucket starts at
// From and the last ends at To, so edge buckets may be partial.
func (p Period) Bounds() []time.Time {
	out := []time.Time{p.From}
	f := p.From.In(p.Loc)
	var next time.Time
	switch p.Bucket {
	case BucketWeek:
		back := (int(f.Weekday()) + 6) % 7 // days since Monday
		next = time.Date(f.Year(), f.Month(), f.Day()-back+7, 0, 0, 0, 0, p.Loc)
	case BucketMonth:
		next = time.Date(f.Year(), f.Month()+1, 1, 0, 0, 0, 0, p.Loc)
	default:
		next = time.Date(f.Year(), f.Month(), f.Day()+1, 0, 0, 0, 0, p.Loc)
	}
	for next.Before(p.To) {
		out = append(out, next)
		n := next.In(p.Loc)
		switch p.Bucket {
		case BucketWeek:
			next = time.Date(n.Year(), n.Month(), n.Day()+7, 0, 0, 0, 0, p.Loc)
		case BucketMonth:
			next = time.Date(n.Year(), n.Month()+1, 1, 0, 0, 0, 0, p.Loc)
		default:
			next = time.Date(n.Year(), n.Month(), n.Day()+1, 0, 0, 0, 0, p.Loc)
		}
	}
	return append(out, p.To)
}

// Label names the bucket starting at t for people.
func (p Period) Label(t time.Time) string {
	l := t.In(p.Loc)
	switch p.Bucket {
	case BucketWeek:
		y, w := l.ISOWeek()
		return fmt.Sprintf("%d-W%02d", y, w)
	case BucketMonth:
		return l.Format("2006-01")
	}
	return l.Format("2006-01-02")
}

// Days is the period's length in local days (23- and 25-hour days count
// as one).
func (p Period) Days() int {
	n := 0
	for d := p.From.In(p.Loc); d.Before(p.To); d = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, p.Loc) {
		n++
	}
	return n
}
