package report

import "time"

// Filter narrows the items a report counts. Zero fields do not filter.
type Filter struct {
	Team      string `json:"team,omitempty"`
	Person    string `json:"person,omitempty"` // the item's assignee
	Source    string `json:"source,omitempty"`
	Type      string `json:"type,omitempty"`
	Severity  string `json:"severity,omitempty"`
	Service   string `json:"service,omitempty"` // the on-call service that paged for it
	Rule      string `json:"rule,omitempty"`    // the analytic rule (see automation.Detection)
	AlertType string `json:"alert_type,omitempty"`
	// Members are the team's members, filled by the service: an item
	// counts for a team when its assignee is a member.
	Members []string `json:"-"`
	// Spans asks the store for the facts' spans too: decoding them is most
	// of the cost of reading facts, and only time in state needs them.
	Spans bool `json:"-"`
}

// dims lists the filter's dimensions in use (team counts as assignee).
func (f Filter) dims() []string {
	var out []string
	for _, d := range []struct {
		dim string
		set bool
	}{{DimSeverity, f.Severity != ""}, {DimSource, f.Source != ""}, {DimType, f.Type != ""},
		{DimAssignee, f.Person != "" || f.Team != ""}, {DimService, f.Service != ""}, {DimRule, f.Rule != ""},
		{DimAlertType, f.AlertType != ""}} {
		if d.set {
			out = append(out, d.dim)
		}
	}
	return out
}

// match reports whether a fact passes the filter.
func (f Filter) match(x Fact) bool {
	if (f.Severity != "" && x.Severity != f.Severity) || (f.Source != "" && x.Source != f.Source) ||
		(f.Type != "" && x.Type != f.Type) || (f.Person != "" && x.Assignee != f.Person) ||
		(f.Service != "" && x.Service != f.Service) || (f.Rule != "" && x.Rule != f.Rule) ||
		(f.AlertType != "" && x.AlertType != f.AlertType) {
		return false
	}
	if f.Team != "" {
		for _, m := range f.Members {
			if m == x.Assignee {
				return true
			}
		}
		return false
	}
	return true
}

// Roll-up dimensions.
const (
	DimAll       = "all"
	DimSeverity  = "severity"
	DimSource    = "source"
	DimType      = "type"
	DimAssignee  = "assignee"
	DimService   = "service"
	DimRule      = "rule"
	DimAlertType = "alert_type"
)

var rollupDims = []string{DimAll, DimSeverity, DimSource, DimType, DimAssignee, DimService, DimRule, DimAlertType}

func dimValue(f Fact, dim string) string {
	switch dim {
	case DimSeverity:
		return f.Severity
	case DimSource:
		return f.Source
	case DimType:
		return f.Type
	case DimAssignee:
		return f.Assignee
	case DimService:
		return f.Service
	case DimRule:
		return f.Rule
	case DimAlertType:
		return f.AlertType
	}
	return ""
}

// DailyRow is one roll-up row: a UTC day's items of one dimension value.
type DailyRow struct {
	Day   int64 // unix µs of the day's UTC midnight
	Dim   string
	Value string
	Agg   string // an encoded Agg
}

// FlowRow is the cumulative flow's change in one quarter hour and state.
type FlowRow struct {
	Q       int64
	State   string
	Entered int64
	Exited  int64
}

// PageStats sums up the pages opened in a period.
type PageStats struct {
	Pages, Acked, Escalated int64
	// AckedBy counts the pages each person acknowledged.
	AckedBy map[string]int64
	// TTA is each acknowledged page's time to acknowledge, in seconds.
	TTA []float64
}

// NotificationRow is one notification of a page that reached a person.
type NotificationRow struct {
	PageID int64
	User   string
	At     time.Time
}

// QuarterUS is a quarter hour in microseconds: the flow's resolution.
const QuarterUS = int64(15 * time.Minute / time.Microsecond)

const (
	dayUS  = int64(24 * time.Hour / time.Microsecond)
	hourUS = int64(time.Hour / time.Microsecond)
)

// UTCDay is the unix µs of the UTC midnight that starts t's day.
func UTCDay(t time.Time) int64 {
	u := t.UnixMicro()
	d := u / dayUS * dayUS
	if u < 0 && u%dayUS != 0 {
		d -= dayUS
	}
	return d
}

// UTCMonth is the unix µs of the first UTC midnight of t's month.
func UTCMonth(t time.Time) int64 {
	u := t.UTC()
	return time.Date(u.Year(), u.Month(), 1, 0, 0, 0, 0, time.UTC).UnixMicro()
}

// nextMonth is the start of the month after the one starting at m.
func nextMonth(m int64) int64 {
	t := time.UnixMicro(m).UTC()
	return time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
}
