package writeback

import "strings"

// Closure is how a closing transition is classified at the sources.
type Closure struct {
	Match string // a phrase of the transition's reason, matched without regard to case
	// Sentinel's classification and classification reason.
	Sentinel, SentinelReason string
	// Graph's classification and determination.
	GraphClassification, GraphDetermination string
}

// Closures is the mapping from the reason given on a transition to
// Closed or Removed to the classification written to the sources. The
// first entry whose phrase the reason contains wins; otherwise Closed
// means a true positive and Removed a benign positive (an alert not worth
// working was real but expected).
var Closures = []Closure{
	{"false positive", "FalsePositive", "IncorrectAlertLogic", "falsePositive", "notMalicious"},
	{"inaccurate data", "FalsePositive", "InaccurateData", "falsePositive", "notEnoughDataToValidate"},
	{"benign", "BenignPositive", "SuspiciousButExpected", "informationalExpectedActivity", "confirmedActivity"},
	{"expected activity", "BenignPositive", "SuspiciousButExpected", "informationalExpectedActivity", "confirmedActivity"},
	{"security test", "BenignPositive", "SuspiciousButExpected", "informationalExpectedActivity", "securityTesting"},
	{"undetermined", "Undetermined", "", "unknown", "unknown"},
	{"true positive", "TruePositive", "SuspiciousActivity", "truePositive", "other"},
}

var (
	closedDefault  = Closure{"", "TruePositive", "SuspiciousActivity", "truePositive", "other"}
	removedDefault = Closure{"", "BenignPositive", "SuspiciousButExpected", "informationalExpectedActivity", "confirmedActivity"}
)

// ClosureFor picks the classification for a move to state to with reason.
func ClosureFor(to, reason string) Closure {
	r := strings.ToLower(reason)
	for _, c := range Closures {
		if strings.Contains(r, c.Match) {
			return c
		}
	}
	if to == "Removed" {
		return removedDefault
	}
	return closedDefault
}

// ReasonPresets are the phrases of Closures, capitalized, for the UI to
// offer when a move needs a reason.
func ReasonPresets() []string {
	out := make([]string, 0, len(Closures))
	for _, c := range Closures {
		out = append(out, strings.ToUpper(c.Match[:1])+c.Match[1:])
	}
	return out
}
