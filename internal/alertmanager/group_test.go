package alertmanager

import "testing"

func ga(receivers []string, kv ...string) GettableAlert {
	l := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		l[kv[i]] = kv[i+1]
	}
	a := GettableAlert{Labels: l, Fingerprint: Fingerprint(l)}
	for _, r := range receivers {
		a.Receivers = append(a.Receivers, ReceiverReference{Name: r})
	}
	return a
}

// describe renders groups compactly: receiver{labels}[alert instances].
func describe(gs []AlertGroup) string {
	out := ""
	for _, g := range gs {
		out += g.Receiver.Name + Matchers(labelsAsMatchers(g.Labels)).String() + "["
		for i, a := range g.Alerts {
			if i > 0 {
				out += ","
			}
			out += a.Labels["instance"]
		}
		out += "] "
	}
	return out
}

func labelsAsMatchers(m map[string]string) Matchers {
	var ms Matchers
	for _, k := range sortedKeys(m) {
		ms = append(ms, Matcher{Name: k, Type: MatchEqual, Value: m[k]})
	}
	return ms
}

func TestGroupAlerts(t *testing.T) {
	alerts := []GettableAlert{
		ga([]string{"ops"}, "alertname", "CPU", "instance", "b"),
		ga([]string{"ops"}, "alertname", "Disk", "instance", "a"),
		ga([]string{"ops", "dev"}, "alertname", "CPU", "instance", "a"),
		ga(nil, "alertname", "Mem", "instance", "c"),
		ga([]string{"dev"}, "instance", "d"),
	}
	tests := []struct {
		name     string
		by       []string
		receiver string
		want     string
	}{
		{"by alertname, all receivers", []string{"alertname"}, "",
			`dev{}[d] dev{alertname="CPU"}[a] ops{alertname="CPU"}[a,b] ops{alertname="Disk"}[a] {alertname="Mem"}[c] `},
		{"one receiver", []string{"alertname"}, "ops",
			`ops{alertname="CPU"}[a,b] ops{alertname="Disk"}[a] ops{alertname="Mem"}[c] `},
		// Fewer labels sort first, as in LabelSet.Before.
		{"no group_by", nil, "dev", `dev{}[d,a,c] `},
		{"by all labels", []string{GroupByAll}, "ops",
			`ops{alertname="CPU",instance="a"}[a] ops{alertname="CPU",instance="b"}[b] ops{alertname="Disk",instance="a"}[a] ops{alertname="Mem",instance="c"}[c] `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := GroupAlerts(alerts, tt.by, tt.receiver)
			if d := describe(got); d != tt.want {
				t.Errorf("got  %s\nwant %s", d, tt.want)
			}
			for _, g := range got {
				if g.RouteLabels == nil {
					t.Error("routeLabels is nil")
				}
			}
			// Stable: the input order does not matter.
			rev := make([]GettableAlert, len(alerts))
			for i, a := range alerts {
				rev[len(alerts)-1-i] = a
			}
			if d := describe(GroupAlerts(rev, tt.by, tt.receiver)); d != tt.want {
				t.Errorf("reversed input gave %s", d)
			}
		})
	}
	if got := GroupAlerts(nil, nil, ""); got == nil || len(got) != 0 {
		t.Errorf("GroupAlerts(nil) = %#v, want an empty slice", got)
	}
}

func TestCompareLabelSets(t *testing.T) {
	tests := []struct {
		a, b map[string]string
		want int
	}{
		{map[string]string{}, map[string]string{"a": "1"}, -1},
		{map[string]string{"a": "1"}, map[string]string{"a": "1"}, 0},
		{map[string]string{"a": "1"}, map[string]string{"a": "2"}, -1},
		// LabelSet.Before: the set missing the first name of the union
		// sorts first.
		{map[string]string{"b": "1"}, map[string]string{"a": "1"}, -1},
		{map[string]string{"a": "1"}, map[string]string{"b": "1"}, 1},
	}
	for _, tt := range tests {
		if got := compareLabelSets(tt.a, tt.b); got != tt.want {
			t.Errorf("compare(%v, %v) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
