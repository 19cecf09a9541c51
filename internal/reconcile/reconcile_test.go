package reconcile

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/alert"
)

func alerts(states ...alert.Status) []Alert {
	out := make([]Alert, len(states))
	for i, s := range states {
		out[i] = Alert{ID: fmt.Sprintf("a%d", i+1), Status: s}
	}
	return out
}

const (
	nw  = alert.StatusNew
	ip  = alert.StatusInProgress
	dis = alert.StatusDismissed
	res = alert.StatusResolved
)

func TestDecide(t *testing.T) {
	tests := []struct {
		name     string
		status   string
		alerts   []Alert
		action   Action
		class    string
		whyParts string
	}{
		{"one alert dismissed", IncidentNew, alerts(dis), Close, "BenignPositive", "dismissed"},
		{"one alert resolved", IncidentNew, alerts(res), Close, "TruePositive", "resolved"},
		{"all dismissed, several", IncidentActive, alerts(dis, dis, dis), Close, "BenignPositive", "all 3 alerts dismissed"},
		{"all resolved, several", IncidentNew, alerts(res, res), Close, "TruePositive", "all 2 alerts resolved"},
		{"mixed resolved and dismissed", IncidentNew, alerts(res, dis), Close, "TruePositive", "1 resolved, 1 dismissed"},
		{"in progress while New", IncidentNew, alerts(ip), Activate, "", "in progress"},
		{"in progress while Active", IncidentActive, alerts(ip), None, "", "already Active"},
		{"several, one still new", IncidentNew, alerts(res, nw), None, "", "still open"},
		{"several, one in progress, incident New", IncidentNew, alerts(dis, ip), Activate, "", "in progress"},
		{"several, one in progress, incident Active", IncidentActive, alerts(res, ip), None, "", "already Active"},
		{"any new", IncidentNew, alerts(nw), None, "", "still open"},
		{"already closed", IncidentClosed, alerts(dis), None, "", "already closed"},
		{"no alerts", IncidentNew, nil, None, "", "no alerts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(Incident{ID: "inc-1", Status: tt.status, Alerts: tt.alerts})
			if d.Action != tt.action || d.Classification != tt.class {
				t.Errorf("got %q %q, want %q %q (why: %s)", d.Action, d.Classification, tt.action, tt.class, d.Why)
			}
			if !strings.Contains(d.Why, tt.whyParts) {
				t.Errorf("why = %q, want it to mention %q", d.Why, tt.whyParts)
			}
			if d.IncidentStatus != tt.status || len(d.Alerts) != len(tt.alerts) {
				t.Errorf("inputs not recorded: %+v", d)
			}
			if d.Action == Close && (!strings.HasPrefix(d.Comment, "Closed by vigil as "+tt.class) || !strings.Contains(d.Comment, "a1 (")) {
				t.Errorf("closure comment = %q", d.Comment)
			}
		})
	}
}

func TestPassKeepsOnlyChanges(t *testing.T) {
	ds := Pass([]Incident{
		{ID: "1", Status: IncidentNew, Alerts: alerts(nw)},
		{ID: "2", Status: IncidentNew, Alerts: alerts(dis)},
		{ID: "3", Status: IncidentNew, Alerts: alerts(ip)},
	})
	if len(ds) != 2 || ds[0].IncidentID != "2" || ds[1].IncidentID != "3" {
		t.Errorf("Pass = %+v, want decisions for 2 and 3 in order", ds)
	}
}

// BenchmarkPass is issue 4's target: a reconciler pass over 100,000
// incidents and 150,000 alerts in under a second.
func BenchmarkPass(b *testing.B) {
	states := []alert.Status{nw, ip, dis, res}
	incidents := make([]Incident, 100_000)
	n := 0
	for i := range incidents {
		k := 1
		if i%2 == 0 {
			k = 2 // half the incidents have two alerts: 150,000 alerts in all
		}
		as := make([]Alert, k)
		for j := range as {
			as[j] = Alert{ID: fmt.Sprintf("alert-%d", n), Status: states[(i+j)%4]}
			n++
		}
		incidents[i] = Incident{ID: fmt.Sprintf("inc-%d", i), Status: []string{IncidentNew, IncidentActive}[i%2], Alerts: as}
	}
	if n != 150_000 {
		b.Fatalf("built %d alerts, want 150000", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ds := Pass(incidents); len(ds) == 0 {
			b.Fatal("no decisions")
		}
	}
}
