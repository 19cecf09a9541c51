package writeback

import "testing"

func TestClosureFor(t *testing.T) {
	tests := []struct {
		to, reason           string
		sentinel, sReason    string
		graphClass, graphDet string
	}{
		{"Closed", "Contained; true positive", "TruePositive", "SuspiciousActivity", "truePositive", "other"},
		{"Closed", "patched the host", "TruePositive", "SuspiciousActivity", "truePositive", "other"},
		{"Closed", "False Positive: the rule matched a backup job", "FalsePositive", "IncorrectAlertLogic", "falsePositive", "notMalicious"},
		{"Removed", "", "BenignPositive", "SuspiciousButExpected", "informationalExpectedActivity", "confirmedActivity"},
		{"Removed", "false positive", "FalsePositive", "IncorrectAlertLogic", "falsePositive", "notMalicious"},
		{"Removed", "red team security test", "BenignPositive", "SuspiciousButExpected", "informationalExpectedActivity", "securityTesting"},
		{"Closed", "unexpected login, confirmed", "TruePositive", "SuspiciousActivity", "truePositive", "other"},
		{"Closed", "Undetermined after review", "Undetermined", "", "unknown", "unknown"},
	}
	for _, tt := range tests {
		got := ClosureFor(tt.to, tt.reason)
		if got.Sentinel != tt.sentinel || got.SentinelReason != tt.sReason || got.GraphClassification != tt.graphClass || got.GraphDetermination != tt.graphDet {
			t.Errorf("ClosureFor(%q, %q) = %+v, want %s/%s and %s/%s", tt.to, tt.reason, got, tt.sentinel, tt.sReason, tt.graphClass, tt.graphDet)
		}
	}
}
