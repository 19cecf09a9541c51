package summary

import (
	"fmt"
	"time"

	"github.com/vigil-soc/vigil/internal/report"
)

// Schedule is when one summary is sent: a weekday and an hour on the
// local clock of Loc.
type Schedule struct {
	Weekday time.Weekday
	Hour    int
	Loc     *time.Location
}

// at is the send time on the local day y-m-d. time.Date normalises an
// hour that a DST change skips (03:00 on the last Sunday of March in
// Helsinki is 04:00 EEST), so the send still happens that day.
func (s Schedule) at(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, s.Hour, 0, 0, 0, s.Loc)
}

// Last is the latest send time at or before now.
func (s Schedule) Last(now time.Time) time.Time {
	l := now.In(s.Loc)
	back := (int(l.Weekday()) - int(s.Weekday) + 7) % 7
	t := s.at(l.Year(), l.Month(), l.Day()-back)
	if t.After(now) {
		// Today is the day but the hour has not come: last week's.
		t = s.at(l.Year(), l.Month(), l.Day()-back-7)
	}
	return t
}

// Next is the first send time after now.
func (s Schedule) Next(now time.Time) time.Time {
	l := s.Last(now).In(s.Loc)
	// Date arithmetic on the local calendar, not 168 hours: a DST week is
	// 167 or 169 hours long.
	return s.at(l.Year(), l.Month(), l.Day()+7)
}

// Period is what the summary sent at send covers: the seven local days
// before the send day's local midnight, in days.
func (s Schedule) Period(send time.Time) report.Period {
	l := send.In(s.Loc)
	to := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, s.Loc)
	from := time.Date(l.Year(), l.Month(), l.Day()-7, 0, 0, 0, 0, s.Loc)
	return report.Period{From: from, To: to, Loc: s.Loc, Zone: s.Loc.String(), Bucket: report.BucketDay}
}

// Week names the period for people and keys the send: the ISO week that
// holds most of its days (its fourth day's), "2026-W48". With the default
// Monday send it is simply the week covered.
func Week(p report.Period) string {
	f := p.From.In(p.Loc)
	mid := time.Date(f.Year(), f.Month(), f.Day()+3, 12, 0, 0, 0, p.Loc)
	y, w := mid.ISOWeek()
	return fmt.Sprintf("%d-W%02d", y, w)
}
