package report

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/oncall"
)

// PersonLoad is one person's on-call load over the period.
type PersonLoad struct {
	User string `json:"user"`
	// Pages counts the distinct pages that notified the person.
	Pages int64 `json:"pages"`
	// Interruptions counts notifications, those to one person for one page
	// within a minute of each other counting once (a push and an SMS sent
	// together interrupt once). Night and Weekend are those that fell in
	// the night hours or on a Saturday or Sunday, in the viewer's zone.
	Interruptions int64 `json:"interruptions"`
	Night         int64 `json:"night"`
	Weekend       int64 `json:"weekend"`
	// Acknowledged counts the pages the person acknowledged.
	Acknowledged int64 `json:"acknowledged"`
	// OnCallHours is the time on call by the schedules, and Shifts how
	// many shifts; InterruptionsPerShift is nil without shifts.
	OnCallHours           float64  `json:"on_call_hours"`
	Shifts                int64    `json:"shifts"`
	InterruptionsPerShift *float64 `json:"interruptions_per_shift"`
}

// Participant is one person's share of a rotation.
type Participant struct {
	User          string  `json:"user"`
	OnCallHours   float64 `json:"on_call_hours"`
	Interruptions int64   `json:"interruptions"`
	Night         int64   `json:"night"`
	// HoursShare and InterruptionShare are the person's shares of the
	// schedule's hours and of the interruptions during its shifts; nil
	// when the schedule had none.
	HoursShare        *float64 `json:"hours_share"`
	InterruptionShare *float64 `json:"interruption_share"`
}

// Fairness is a rotation's load across its participants.
type Fairness struct {
	Schedule string `json:"schedule"`
	// Rotation is the schedule's layer; "" for time covered by overrides
	// and temporary schedules only.
	Rotation     string        `json:"rotation"`
	Participants []Participant `json:"participants"`
	// Index is Jain's fairness index of the interruptions per on-call
	// hour: 1 when everyone bears the same, 1/n when one person bears all;
	// nil without interruptions.
	Index *float64 `json:"fairness_index"`
}

// OnCallLoad is the on-call load report.
type OnCallLoad struct {
	Period     Period `json:"period"`
	Pages      int64  `json:"pages"`
	Acked      int64  `json:"acknowledged"`
	Escalated  int64  `json:"escalated"`
	PageTTA    Stat   `json:"page_tta"`
	NightHours string `json:"night_hours"`
	// People are sorted by interruptions, most first.
	People   []PersonLoad `json:"people"`
	Fairness []Fairness   `json:"fairness"`
}

type interruption struct {
	user string
	at   time.Time
}

// OnCall computes the on-call load of the pages opened in the period.
func (s *Service) OnCall(ctx context.Context, p Period) (OnCallLoad, error) {
	pages, notes, err := s.st.ReportPages(ctx, p.From, p.To)
	if err != nil {
		return OnCallLoad{}, err
	}
	r := OnCallLoad{Period: p, People: []PersonLoad{}, Fairness: []Fairness{},
		NightHours: hh(s.o.NightStart) + "–" + hh(s.o.NightEnd)}
	people := map[string]*PersonLoad{}
	person := func(u string) *PersonLoad {
		pl := people[u]
		if pl == nil {
			pl = &PersonLoad{User: u}
			people[u] = pl
		}
		return pl
	}
	r.Pages, r.Acked, r.Escalated = pages.Pages, pages.Acked, pages.Escalated
	for who, n := range pages.AckedBy {
		if who != "" {
			person(who).Acknowledged += n
		}
	}
	tta := &Dist{vals: pages.TTA, N: int64(len(pages.TTA))}
	for _, v := range pages.TTA {
		tta.Sum += v
	}
	r.PageTTA = statOf(tta)

	// The schedules' shifts in the period: time on call, fairness, and
	// whose night an interruption fell in.
	type schedShifts struct {
		sc     *oncall.Schedule
		shifts []oncall.Shift
	}
	var scheds []schedShifts
	type covered struct {
		start, end time.Time
		loc        *time.Location
	}
	onCall := map[string][]covered{}
	if s.rota != nil {
		list, err := s.rota.Schedules(ctx)
		if err != nil {
			return OnCallLoad{}, err
		}
		for _, sc := range list {
			loc := p.Loc
			if l, err := time.LoadLocation(sc.TimeZone); err == nil && sc.TimeZone != "" {
				loc = l
			}
			shifts := sc.Shifts(p.From, p.To)
			scheds = append(scheds, schedShifts{sc: sc, shifts: shifts})
			for _, sh := range shifts {
				onCall[sh.User] = append(onCall[sh.User], covered{start: sh.Start, end: sh.End, loc: loc})
			}
		}
		for _, c := range onCall {
			slices.SortFunc(c, func(a, b covered) int { return a.start.Compare(b.start) })
		}
	}
	// zoneAt is the zone of the person's own clock at t: their schedule's
	// while they are on call, else the viewer's. A page at 22:00 in
	// Helsinki wakes its responder there whoever reads the report.
	zoneAt := func(user string, t time.Time) *time.Location {
		c := onCall[user]
		i := sort.Search(len(c), func(i int) bool { return c[i].start.After(t) }) - 1
		// Shifts of several schedules may overlap: look at every one that
		// started before t (a person has tens of shifts a year, not more).
		for ; i >= 0; i-- {
			if t.Before(c[i].end) {
				return c[i].loc
			}
		}
		return p.Loc
	}

	// Interruptions: a person's notifications for one page a minute apart
	// or less are one. Night and weekend are on the person's clock.
	slices.SortFunc(notes, func(a, b NotificationRow) int { return a.At.Compare(b.At) })
	type userPage struct {
		user string
		page int64
	}
	last := map[userPage]time.Time{}
	seenPage := map[userPage]bool{}
	var ints []interruption
	for _, n := range notes {
		if n.User == "" {
			continue
		}
		k := userPage{n.User, n.PageID}
		if !seenPage[k] {
			seenPage[k] = true
			person(n.User).Pages++
		}
		if t, ok := last[k]; ok && n.At.Sub(t) <= time.Minute {
			continue
		}
		last[k] = n.At
		pl := person(n.User)
		pl.Interruptions++
		l := n.At.In(zoneAt(n.User, n.At))
		if s.night(l) {
			pl.Night++
		}
		if wd := l.Weekday(); wd == time.Saturday || wd == time.Sunday {
			pl.Weekend++
		}
		ints = append(ints, interruption{user: n.User, at: n.At})
	}

	// Time on call and fairness, from the schedules. Each person's
	// interruptions are in time order (the notifications were sorted).
	byUser := map[string][]time.Time{}
	for _, in := range ints {
		byUser[in.user] = append(byUser[in.user], in.at)
	}
	{
		for _, ss := range scheds {
			sc := ss.sc
			// Fairness is per rotation (a layer of the schedule): a
			// weekday layer and a night layer carry different loads.
			type rotation struct {
				parts   map[string]*Participant
				hours   float64
				inShift int64
			}
			rots := map[string]*rotation{}
			for _, sh := range ss.shifts {
				start, end := maxT(sh.Start, p.From), minT(sh.End, p.To)
				if !end.After(start) {
					continue
				}
				h := end.Sub(start).Hours()
				pl := person(sh.User)
				pl.OnCallHours += h
				pl.Shifts++
				rot := rots[sh.Layer]
				if rot == nil {
					rot = &rotation{parts: map[string]*Participant{}}
					rots[sh.Layer] = rot
				}
				pt := rot.parts[sh.User]
				if pt == nil {
					pt = &Participant{User: sh.User}
					rot.parts[sh.User] = pt
				}
				pt.OnCallHours += h
				rot.hours += h
				mine := byUser[sh.User]
				for i := sort.Search(len(mine), func(i int) bool { return !mine[i].Before(start) }); i < len(mine) && mine[i].Before(end); i++ {
					pt.Interruptions++
					rot.inShift++
					if s.night(mine[i].In(zoneAt(sh.User, mine[i]))) {
						pt.Night++
					}
				}
			}
			for _, layer := range sortedKeys(rots) {
				rot := rots[layer]
				fr := Fairness{Schedule: sc.Name, Rotation: layer, Participants: []Participant{}}
				var sum, sumSq float64
				for _, pt := range rot.parts {
					if rot.hours > 0 {
						v := pt.OnCallHours / rot.hours
						pt.HoursShare = &v
					}
					if rot.inShift > 0 {
						v := float64(pt.Interruptions) / float64(rot.inShift)
						pt.InterruptionShare = &v
					}
					if pt.OnCallHours > 0 {
						x := float64(pt.Interruptions) / pt.OnCallHours
						sum += x
						sumSq += x * x
					}
					fr.Participants = append(fr.Participants, *pt)
				}
				if sumSq > 0 {
					v := sum * sum / (float64(len(rot.parts)) * sumSq)
					fr.Index = &v
				}
				slices.SortFunc(fr.Participants, func(a, b Participant) int { return strings.Compare(a.User, b.User) })
				r.Fairness = append(r.Fairness, fr)
			}
		}
	}
	for _, pl := range people {
		if pl.Shifts > 0 {
			v := float64(pl.Interruptions) / float64(pl.Shifts)
			pl.InterruptionsPerShift = &v
		}
		r.People = append(r.People, *pl)
	}
	slices.SortFunc(r.People, func(a, b PersonLoad) int {
		if a.Interruptions != b.Interruptions {
			return int(b.Interruptions - a.Interruptions)
		}
		if a.User < b.User {
			return -1
		}
		return 1
	})
	return r, nil
}

// night reports whether a local time falls in the night hours.
func (s *Service) night(l time.Time) bool {
	h := l.Hour()
	if s.o.NightStart > s.o.NightEnd {
		return h >= s.o.NightStart || h < s.o.NightEnd
	}
	return h >= s.o.NightStart && h < s.o.NightEnd
}

func hh(h int) string { return time.Date(2000, 1, 1, h, 0, 0, 0, time.UTC).Format("15:04") }

func maxT(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minT(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
