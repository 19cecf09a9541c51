package alert

import "strings"

// Microsoft's APIs spell the same alert status four ways. This table is
// the one place that maps them: Defender for Cloud "Active" is Sentinel
// "New" is Graph alerts_v2 "new" is legacy Graph "newAlert".
//
// Graph alerts_v2 has no dismissed status: a dismissed alert is resolved
// there (with a benign classification), so Dismissed maps to "resolved"
// and "resolved" maps back to Resolved.
var spellings = []spelling{
	{StatusNew, "Active", "New", "new", "newAlert"},
	{StatusInProgress, "InProgress", "InProgress", "inProgress", "inProgress"},
	{StatusResolved, "Resolved", "Resolved", "resolved", "resolved"},
	{StatusDismissed, "Dismissed", "Dismissed", "resolved", "resolved"},
}

// API names a Microsoft API whose status spelling differs.
type API int

// The APIs.
const (
	Defender API = iota
	SentinelAlert
	Graph
	GraphLegacy
)

// spelling is one status as each API writes it.
type spelling struct {
	status                                 Status
	defender, sentinel, graph, graphLegacy string
}

func (r *spelling) in(api API) string {
	switch api {
	case Defender:
		return r.defender
	case SentinelAlert:
		return r.sentinel
	case Graph:
		return r.graph
	}
	return r.graphLegacy
}

// StatusFrom maps an API's status spelling to vigil's. Matching ignores
// case, since the APIs are not consistent about it in examples. It
// reports false for a spelling it does not know (such as Graph "unknown").
func StatusFrom(api API, s string) (Status, bool) {
	for i := range spellings {
		if strings.EqualFold(spellings[i].in(api), s) {
			return spellings[i].status, true
		}
	}
	return "", false
}

// StatusTo spells vigil's status for an API.
func StatusTo(api API, s Status) string {
	for i := range spellings {
		if spellings[i].status == s {
			return spellings[i].in(api)
		}
	}
	return ""
}

// Incident classifications: Sentinel's spelling and Graph's.
var classifications = []struct{ sentinel, graph string }{
	{"TruePositive", "truePositive"},
	{"FalsePositive", "falsePositive"},
	{"BenignPositive", "informationalExpectedActivity"},
	{"Undetermined", "unknown"},
}

// ClassificationToGraph maps a Sentinel classification to Graph's.
func ClassificationToGraph(sentinel string) string {
	for _, c := range classifications {
		if strings.EqualFold(c.sentinel, sentinel) {
			return c.graph
		}
	}
	return "unknown"
}

// ClassificationFromGraph maps a Graph classification to Sentinel's.
func ClassificationFromGraph(graph string) string {
	for _, c := range classifications {
		if strings.EqualFold(c.graph, graph) {
			return c.sentinel
		}
	}
	return "Undetermined"
}
