package alertmanager

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestModelsAgainstSpec(t *testing.T) {
	spec := readTestdata(t, "api_v2_openapi.yaml")
	now := time.Date(2026, 12, 6, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	alert := GettableAlert{
		Labels:       map[string]string{"alertname": "HighCPU", "instance": "web-1"},
		Annotations:  map[string]string{"summary": "CPU high"},
		Receivers:    []ReceiverReference{{Name: "ops"}},
		StartsAt:     now.Add(-time.Hour),
		UpdatedAt:    now,
		EndsAt:       now.Add(5 * time.Minute),
		Status:       AlertStatus{State: AlertStateSuppressed, SilencedBy: []string{"4b1ff0c2-7ab5-4f2b-8d55-3a0d0a2c5b1e"}},
		GeneratorURL: "http://prometheus:9090/graph?g0.expr=up",
	}
	bare := GettableAlert{Labels: map[string]string{"a": "b"}, StartsAt: now, UpdatedAt: now, EndsAt: now}
	ms, err := ParseMatchers(`{alertname="HighCPU",instance=~"web-.*",env!="dev",team!~"x|y"}`)
	if err != nil {
		t.Fatal(err)
	}
	silence := GettableSilence{
		ID: "4b1ff0c2-7ab5-4f2b-8d55-3a0d0a2c5b1e", UpdatedAt: now, Matchers: ms,
		StartsAt: now, EndsAt: now.Add(time.Hour), CreatedBy: "alice", Comment: "deploy",
	}.WithState(now)
	postable := PostableSilence{Matchers: ms, StartsAt: now, EndsAt: now.Add(time.Hour), CreatedBy: "alice", Comment: "deploy"}
	status := AlertmanagerStatus{
		Cluster:     ClusterStatus{Status: "disabled"},
		VersionInfo: VersionInfo{Version: "0.28.1", Revision: "vigil", Branch: "main", BuildUser: "vigil", BuildDate: "20261206", GoVersion: "go1.26.8"},
		Config:      AlertmanagerConfig{Original: "route:\n  receiver: ops\n"},
		Uptime:      now,
	}
	statusPeers := status
	statusPeers.Cluster = ClusterStatus{Name: "01H", Status: "ready", Peers: []PeerStatus{{Name: "01H", Address: "10.0.0.1:9094"}}}

	tests := []struct {
		name, ref string
		v         any
	}{
		{"gettableAlerts", "#/definitions/gettableAlerts", []GettableAlert{alert, bare}},
		{"gettableAlerts empty", "#/definitions/gettableAlerts", []GettableAlert{}},
		{"alertGroups", "#/definitions/alertGroups", GroupAlerts([]GettableAlert{alert, bare}, []string{"alertname"}, "")},
		{"alertGroup empty", "#/definitions/alertGroup", AlertGroup{}},
		{"gettableSilence", "#/definitions/gettableSilence", silence},
		{"gettableSilences", "#/definitions/gettableSilences", []GettableSilence{silence, NewGettableSilence(postable, "5b1ff0c2-7ab5-4f2b-8d55-3a0d0a2c5b1e", now)}},
		{"postableSilence", "#/definitions/postableSilence", postable},
		{"post silence 200", "#/paths/~1silences/post/responses/200/schema", PostSilenceResponse{SilenceID: silence.ID}},
		{"alertmanagerStatus", "#/definitions/alertmanagerStatus", status},
		{"alertmanagerStatus peers", "#/definitions/alertmanagerStatus", statusPeers},
		{"receivers", "#/paths/~1receivers/get/responses/200/schema", []Receiver{{Name: "ops"}, {Name: "dev", Labels: map[string]string{"team": "dev"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if err := ValidateAgainstSpec(spec, tt.ref, doc); err != nil {
				t.Errorf("%s\n%s", err, doc)
			}
		})
	}

	// A postable silence is what amtool sends and what ParsePostableSilence
	// reads back.
	doc, _ := json.Marshal(postable)
	back, err := ParsePostableSilence(doc, now)
	if err != nil || !back.Matchers.Equal(postable.Matchers) || back.Comment != postable.Comment {
		t.Errorf("round trip of %s: %+v, %v", doc, back, err)
	}
}

func TestValidateAgainstSpecCatches(t *testing.T) {
	spec := readTestdata(t, "api_v2_openapi.yaml")
	tests := []struct {
		name, ref, doc, want string
	}{
		{"null array", "#/definitions/alertStatus", `{"state":"active","silencedBy":null,"inhibitedBy":[],"mutedBy":[]}`, "$.silencedBy: is null, want array"},
		{"missing required", "#/definitions/alertStatus", `{"state":"active","silencedBy":[],"inhibitedBy":[]}`, `required property "mutedBy"`},
		{"enum", "#/definitions/silenceStatus", `{"state":"done"}`, "not one of"},
		{"date-time", "#/definitions/gettableAlert", `{"labels":{},"annotations":{},"receivers":[],"fingerprint":"x","startsAt":"yesterday","updatedAt":"2026-01-01T00:00:00Z","endsAt":"2026-01-01T00:00:00Z","status":{"state":"active","silencedBy":[],"inhibitedBy":[],"mutedBy":[]}}`, `$.startsAt: "yesterday" is not a date-time`},
		{"labelSet value", "#/definitions/labelSet", `{"a":1}`, "$.a: is number, want string"},
		{"allOf second branch", "#/definitions/gettableSilence", `{"id":"x","status":{"state":"active"},"updatedAt":"2026-01-01T00:00:00Z","annotations":{}}`, `required property "matchers"`},
		{"minItems", "#/definitions/matchers", `[]`, "at least 1"},
		{"items", "#/definitions/gettableSilences", `[{}]`, `$[0]: required property "id"`},
		{"boolean", "#/definitions/matcher", `{"name":"a","value":"b","isRegex":"no"}`, "$.isRegex: is string, want boolean"},
		{"bad ref", "#/definitions/nope", `{}`, "not found"},
		{"bad doc", "#/definitions/labelSet", `{`, "read document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateAgainstSpec(spec, tt.ref, []byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if err := ValidateAgainstSpec([]byte("a: [b"), "#", []byte(`{}`)); err == nil {
		t.Error("a broken spec was accepted")
	}
}
