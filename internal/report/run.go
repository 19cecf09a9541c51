package report

import (
	"context"
	"net/url"
	"slices"
	"strings"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/validation"
)

// Names of the reports, as the API and the web pages name them.
const (
	NameResponse = "response"
	NameSLOs     = "slos"
	NameQuality  = "quality"
	NameOnCall   = "oncall"
	NameFlow     = "flow"
)

// Names lists the reports in the order the web pages show them.
var Names = []string{NameResponse, NameSLOs, NameQuality, NameOnCall, NameFlow}

// Titles are the reports' names for people.
var Titles = map[string]string{
	NameResponse: "Response: MTTA, MTTR and time in state",
	NameSLOs:     "SLOs",
	NameQuality:  "Detection quality",
	NameOnCall:   "On-call load",
	NameFlow:     "Flow",
}

// Tabler is a report: its figures as tables.
type Tabler interface{ Tables() []Table }

// ParseFilter reads a filter from a request's query: team, person,
// source, type, severity, service, rule and alert_type.
func ParseFilter(q url.Values) (Filter, error) {
	f := Filter{Team: q.Get("team"), Person: strings.ToLower(q.Get("person")), Source: q.Get("source"), Type: q.Get("type"),
		Severity: strings.ToLower(q.Get("severity")), Service: q.Get("service"), Rule: q.Get("rule"), AlertType: q.Get("alert_type")}
	if f.Severity != "" && !alert.Severity(f.Severity).Valid() {
		return f, validation.NewFieldError("severity", "must be one of informational, low, medium, high, critical")
	}
	for name, v := range map[string]string{"team": f.Team, "person": f.Person, "source": f.Source, "type": f.Type, "service": f.Service,
		"rule": f.Rule, "alert_type": f.AlertType} {
		if len(v) > 200 {
			return f, validation.NewFieldError(name, "at most 200 characters")
		}
	}
	return f, nil
}

// Run computes the report named name for a request's query (period and
// filter as ParsePeriod and ParseFilter read them; by for detection
// quality). An unknown name is a field error on "report".
func (s *Service) Run(ctx context.Context, name string, q url.Values) (Tabler, error) {
	if !slices.Contains(Names, name) {
		return nil, validation.NewFieldError("report", "must be one of response, slos, quality, oncall, flow")
	}
	p, err := ParsePeriod(q, s.o.Clock.Now(), s.o.TimeZone)
	if err != nil {
		return nil, err
	}
	f, err := ParseFilter(q)
	if err != nil {
		return nil, err
	}
	switch name {
	case NameResponse:
		return s.Response(ctx, p, f)
	case NameSLOs:
		return s.SLOs(ctx, p, f)
	case NameQuality:
		by := q.Get("by")
		if by != "" && !slices.Contains(QualityDims, by) {
			return nil, validation.NewFieldError("by", "must be rule, alert_type or source")
		}
		return s.Quality(ctx, p, f, by)
	case NameOnCall:
		return s.OnCall(ctx, p)
	default:
		return s.Flow(ctx, p)
	}
}
