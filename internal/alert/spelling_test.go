package alert

import "testing"

func TestStatusSpellings(t *testing.T) {
	// The issue's own example: Defender Active is Sentinel New is Graph new
	// is legacy newAlert, and all are vigil's "new".
	for api, s := range map[API]string{Defender: "Active", SentinelAlert: "New", Graph: "new", GraphLegacy: "newAlert"} {
		if got, ok := StatusFrom(api, s); !ok || got != StatusNew {
			t.Errorf("StatusFrom(%d, %q) = %q, %v; want new", api, s, got, ok)
		}
		if got := StatusTo(api, StatusNew); got != s {
			t.Errorf("StatusTo(%d, new) = %q, want %q", api, got, s)
		}
	}
	tests := []struct {
		api  API
		in   string
		want Status
		ok   bool
	}{
		{Defender, "Dismissed", StatusDismissed, true},
		{Defender, "inprogress", StatusInProgress, true},
		{SentinelAlert, "Resolved", StatusResolved, true},
		{Graph, "resolved", StatusResolved, true},
		{Graph, "unknown", "", false},
		{GraphLegacy, "inProgress", StatusInProgress, true},
		{Defender, "New", "", false}, // Defender has no "New"
	}
	for _, tt := range tests {
		got, ok := StatusFrom(tt.api, tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("StatusFrom(%d, %q) = %q, %v; want %q, %v", tt.api, tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if got := StatusTo(Graph, StatusDismissed); got != "resolved" {
		t.Errorf("dismissed in Graph = %q, want resolved (alerts_v2 has no dismissed)", got)
	}
}

func TestClassifications(t *testing.T) {
	for sentinel, graph := range map[string]string{"TruePositive": "truePositive", "FalsePositive": "falsePositive",
		"BenignPositive": "informationalExpectedActivity", "Undetermined": "unknown"} {
		if got := ClassificationToGraph(sentinel); got != graph {
			t.Errorf("ClassificationToGraph(%s) = %s, want %s", sentinel, got, graph)
		}
		if got := ClassificationFromGraph(graph); got != sentinel {
			t.Errorf("ClassificationFromGraph(%s) = %s, want %s", graph, got, sentinel)
		}
	}
}
