package alertmanager

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
)

// AlertQuery is the query string of GET /api/v2/alerts and
// /api/v2/alerts/groups.
type AlertQuery struct {
	Filter           Matchers       // filter=…, repeated
	Receiver         *regexp.Regexp // receiver=…, anchored; nil for any
	ReceiverMatchers Matchers       // receiver_matchers=…; matched against receiver labels by the caller
	Active           bool
	Silenced         bool
	Inhibited        bool
	Unprocessed      bool
	Muted            bool // groups only: false drops groups whose every alert is muted
}

// ParseAlertQuery reads the parameters with the spec's defaults (every
// boolean true). Errors are *validation.FieldError naming the parameter;
// answer them with WriteError(w, 400, err.Error()).
func ParseAlertQuery(q url.Values) (AlertQuery, error) {
	var out AlertQuery
	var err error
	if out.Filter, err = ParseFilter(q["filter"]); err != nil {
		return AlertQuery{}, validation.NewFieldError("filter", "%s", err)
	}
	if out.ReceiverMatchers, err = ParseFilter(q["receiver_matchers"]); err != nil {
		return AlertQuery{}, validation.NewFieldError("receiver_matchers", "%s", err)
	}
	if r, ok := q["receiver"]; ok && len(r) > 0 {
		// Alertmanager anchors the receiver regex like a matcher's.
		if out.Receiver, err = compileAnchored(r[0]); err != nil {
			return AlertQuery{}, validation.NewFieldError("receiver", "failed to parse receiver param: %s", err)
		}
	}
	out.Active = queryBool(q, "active")
	out.Silenced = queryBool(q, "silenced")
	out.Inhibited = queryBool(q, "inhibited")
	out.Unprocessed = queryBool(q, "unprocessed")
	out.Muted = queryBool(q, "muted")
	return out, nil
}

// Keep reports whether an alert belongs in the answer, as Alertmanager's
// alertFilter decides: not ended before now, matching every filter, routed
// to a receiver the regex matches, and in a state the flags include.
// Unlike Alertmanager, unprocessed=false is honoured as the spec says.
func (q AlertQuery) Keep(a GettableAlert, now time.Time) bool {
	if !a.EndsAt.IsZero() && a.EndsAt.Before(now) {
		return false
	}
	if !q.Filter.Matches(a.Labels) {
		return false
	}
	if q.Receiver != nil && !slices.ContainsFunc(a.Receivers, func(r ReceiverReference) bool { return q.Receiver.MatchString(r.Name) }) {
		return false
	}
	switch a.Status.State {
	case AlertStateActive:
		if !q.Active {
			return false
		}
	case AlertStateUnprocessed, "":
		if !q.Unprocessed {
			return false
		}
	}
	if !q.Silenced && len(a.Status.SilencedBy) > 0 {
		return false
	}
	if !q.Inhibited && len(a.Status.InhibitedBy) > 0 {
		return false
	}
	return true
}

// KeepGroup applies muted=false: a group whose every alert is silenced or
// inhibited is dropped.
func (q AlertQuery) KeepGroup(g AlertGroup) bool {
	if q.Muted {
		return true
	}
	return slices.ContainsFunc(g.Alerts, func(a GettableAlert) bool {
		return len(a.Status.SilencedBy) == 0 && len(a.Status.InhibitedBy) == 0 && len(a.Status.MutedBy) == 0
	})
}

// SilenceQuery is the query string of GET /api/v2/silences.
type SilenceQuery struct {
	Filter                   Matchers
	Active, Expired, Pending bool
}

// ParseSilenceQuery reads the parameters with the spec's defaults.
func ParseSilenceQuery(q url.Values) (SilenceQuery, error) {
	f, err := ParseFilter(q["filter"])
	if err != nil {
		return SilenceQuery{}, validation.NewFieldError("filter", "%s", err)
	}
	return SilenceQuery{
		Filter:  f,
		Active:  queryBool(q, "active"),
		Expired: queryBool(q, "expired"),
		Pending: queryBool(q, "pending"),
	}, nil
}

// Keep reports whether a silence belongs in the answer at now. A filter
// selects silences, not alerts: each filter matcher must equal one of the
// silence's matchers (name, operator and value), as Alertmanager's
// CheckSilenceMatchesFilterLabels decides.
func (q SilenceQuery) Keep(s GettableSilence, now time.Time) bool {
	switch s.State(now) {
	case SilenceStateActive:
		if !q.Active {
			return false
		}
	case SilenceStateExpired:
		if !q.Expired {
			return false
		}
	case SilenceStatePending:
		if !q.Pending {
			return false
		}
	}
	for _, f := range q.Filter {
		if !slices.ContainsFunc(s.Matchers, f.Equal) {
			return false
		}
	}
	return true
}

var silenceStateOrder = map[string]int{SilenceStateActive: 1, SilenceStatePending: 2, SilenceStateExpired: 3}

// SortSilences orders as Alertmanager's GET /api/v2/silences: active ones
// ending soonest first, then pending ones starting soonest, then expired
// ones most recently ended. Ties keep their order.
func SortSilences(sils []GettableSilence, now time.Time) {
	slices.SortStableFunc(sils, func(a, b GettableSilence) int {
		sa, sb := a.State(now), b.State(now)
		if sa != sb {
			return silenceStateOrder[sa] - silenceStateOrder[sb]
		}
		switch sa {
		case SilenceStateActive:
			return a.EndsAt.Compare(b.EndsAt)
		case SilenceStatePending:
			return a.StartsAt.Compare(b.StartsAt)
		default:
			return b.EndsAt.Compare(a.EndsAt)
		}
	})
}

// queryBool reads a boolean as go-swagger does for Alertmanager: absent or
// empty is the spec's default (true); a truthy word is true; anything else
// is false rather than an error.
func queryBool(q url.Values, name string) bool {
	v, ok := q[name]
	if !ok || len(v) == 0 || v[0] == "" {
		return true
	}
	switch strings.ToLower(v[0]) {
	case "true", "1", "yes", "ok", "y", "on", "selected", "checked", "t", "enabled":
		return true
	}
	return false
}
