package compat

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/validation"
)

func TestParsePagerDutyFixtures(t *testing.T) {
	for _, tt := range []struct {
		file string
		want Event
	}{
		{
			file: "events_v2_enqueue_trigger_request.json",
			want: Event{
				RoutingKey: "e93facc04764012d7bfb002500d5d1a6",
				DedupKey:   "srv01/mysql",
				Action:     "trigger",
				Alert: alert.Alert{
					Source:   "pagerduty",
					SourceID: "srv01/mysql",
					Product:  "Sample Monitoring Service",
					Title:    "DISK at 99% on machine prod-datapipe03.example.com",
					Description: "Source: prod-datapipe03.example.com\nComponent: mysql\nGroup: prod-datapipe\nClass: disk\n" +
						"Client: Sample Monitoring Service (https://monitoring.service.com)\n" +
						`Details: {"free space":"1%","ping time":"1500ms","load avg":0.75}`,
					Severity:  alert.SeverityCritical,
					Status:    alert.StatusNew,
					Entities:  []alert.Entity{host("prod-datapipe03.example.com")},
					FirstSeen: mustTime(t, "2015-07-17T08:42:58.315Z"),
					LastSeen:  now,
				},
			},
		},
		{
			// Its source is not a location, so there is no entity.
			file: "events_v2_trigger_request_docs.json",
			want: Event{
				RoutingKey: "samplekeyhere", // not 32 characters: vigil tokens are accepted
				DedupKey:   "samplekeyhere",
				Action:     "trigger",
				Alert: alert.Alert{
					Source:   "pagerduty",
					SourceID: "samplekeyhere",
					Product:  "Sample Monitoring Service",
					Title:    "Example alert on host1.example.com",
					Description: "Source: monitoringtool:cloudvendor:central-region-dc-01:852559987:cluster/api-stats-prod-003\n" +
						"Component: postgres\nGroup: prod-datapipe\nClass: deploy\n" +
						"Client: Sample Monitoring Service (https://monitoring.example.com)\n" +
						`Details: {"ping time":"1500ms","load avg":0.75}`,
					Severity:  alert.SeverityInformational,
					Status:    alert.StatusNew,
					FirstSeen: mustTime(t, "2015-07-17T08:42:58.315Z"),
					LastSeen:  now,
				},
			},
		},
		{
			file: "events_v2_acknowledge_request_docs.json",
			want: Event{RoutingKey: "routingkeyhere", DedupKey: "dedupkeyhere", Action: "acknowledge"},
		},
		{
			file: "events_v2_resolve_request_docs.json",
			want: Event{RoutingKey: "routingkeyhere", DedupKey: "dedupkeyhere", Action: "resolve"},
		},
	} {
		t.Run(tt.file, func(t *testing.T) {
			body := fixture(t, tt.file)
			got, err := ParsePagerDuty(body, now)
			if err != nil {
				t.Fatalf("ParsePagerDuty error: %v", err)
			}
			if got.RoutingKey != tt.want.RoutingKey || got.DedupKey != tt.want.DedupKey || got.Action != tt.want.Action {
				t.Errorf("event = {%q %q %q}, want {%q %q %q}", got.RoutingKey, got.DedupKey, got.Action,
					tt.want.RoutingKey, tt.want.DedupKey, tt.want.Action)
			}
			if tt.want.Action != "trigger" {
				if !reflect.DeepEqual(got.Alert, alert.Alert{}) {
					t.Errorf("Alert = %+v, want zero for %s", got.Alert, tt.want.Action)
				}
				return
			}
			for _, d := range diffAlert(got.Alert, tt.want.Alert) {
				t.Error(d)
			}
			// The whole body is kept, but for its credential.
			var gotRaw, wantRaw map[string]any
			if err := json.Unmarshal(got.Alert.Raw, &gotRaw); err != nil {
				t.Fatalf("Raw is not JSON: %v", err)
			}
			if err := json.Unmarshal(body, &wantRaw); err != nil {
				t.Fatal(err)
			}
			if gotRaw["routing_key"] != "[redacted]" {
				t.Errorf("Raw = %s, want the routing_key masked", got.Alert.Raw)
			}
			wantRaw["routing_key"] = "[redacted]"
			if !reflect.DeepEqual(gotRaw, wantRaw) {
				t.Errorf("Raw = %s, want the whole body with the routing_key masked", got.Alert.Raw)
			}
		})
	}
}

func TestPagerDutyEventStatus(t *testing.T) {
	for action, want := range map[string]alert.Status{
		"trigger":     alert.StatusNew,
		"acknowledge": alert.StatusInProgress,
		"resolve":     alert.StatusResolved,
	} {
		if got := (Event{Action: action}).Status(); got != want {
			t.Errorf("Event{Action: %q}.Status() = %q, want %q", action, got, want)
		}
	}
}

// pdTrigger returns a valid trigger event with fields replaced or, for a
// nil value, removed. Keys with a dot address the payload.
func pdTrigger(t *testing.T, changes map[string]any) []byte {
	t.Helper()
	payload := map[string]any{"summary": "Disk full", "source": "db-1.example.com", "severity": "error"}
	ev := map[string]any{"routing_key": "vigil-token", "event_action": "trigger", "payload": payload}
	for k, v := range changes {
		m, key := ev, k
		if p, ok := strings.CutPrefix(k, "payload."); ok {
			m, key = payload, p
		}
		if v == nil {
			delete(m, key)
		} else {
			m[key] = v
		}
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParsePagerDutyMapping(t *testing.T) {
	for _, tt := range []struct {
		name    string
		changes map[string]any
		check   func(t *testing.T, a alert.Alert)
	}{
		{"severity error is high", nil, func(t *testing.T, a alert.Alert) {
			if a.Severity != alert.SeverityHigh {
				t.Errorf("Severity = %q, want high", a.Severity)
			}
		}},
		{"severity warning is medium", map[string]any{"payload.severity": "warning"}, func(t *testing.T, a alert.Alert) {
			if a.Severity != alert.SeverityMedium {
				t.Errorf("Severity = %q, want medium", a.Severity)
			}
		}},
		{"product from component without client", map[string]any{"payload.component": "mysql"}, func(t *testing.T, a alert.Alert) {
			if a.Product != "mysql" {
				t.Errorf("Product = %q, want mysql", a.Product)
			}
		}},
		{"client wins over component", map[string]any{"payload.component": "mysql", "client": "Nagios"}, func(t *testing.T, a alert.Alert) {
			if a.Product != "Nagios" {
				t.Errorf("Product = %q, want Nagios", a.Product)
			}
		}},
		{"default product", nil, func(t *testing.T, a alert.Alert) {
			if a.Product != "PagerDuty Events" {
				t.Errorf("Product = %q, want PagerDuty Events", a.Product)
			}
		}},
		{"source IP is an ip entity", map[string]any{"payload.source": "192.0.2.10"}, func(t *testing.T, a alert.Alert) {
			if want := []alert.Entity{ip("192.0.2.10")}; !reflect.DeepEqual(a.Entities, want) {
				t.Errorf("Entities = %+v, want %+v", a.Entities, want)
			}
		}},
		{"no timestamp: first seen now", nil, func(t *testing.T, a alert.Alert) {
			if !a.FirstSeen.Equal(now) || !a.LastSeen.Equal(now) {
				t.Errorf("FirstSeen, LastSeen = %v, %v, want now", a.FirstSeen, a.LastSeen)
			}
		}},
		{"RFC 3339 timestamp", map[string]any{"payload.timestamp": "2026-01-15T13:30:00+02:00"}, func(t *testing.T, a alert.Alert) {
			if want := mustTime(t, "2026-01-15T11:30:00Z"); !a.FirstSeen.Equal(want) {
				t.Errorf("FirstSeen = %v, want %v", a.FirstSeen, want)
			}
		}},
		{"PagerDuty +0000 timestamp", map[string]any{"payload.timestamp": "2026-01-15T11:30:00.250+0000"}, func(t *testing.T, a alert.Alert) {
			if want := mustTime(t, "2026-01-15T11:30:00.25Z"); !a.FirstSeen.Equal(want) {
				t.Errorf("FirstSeen = %v, want %v", a.FirstSeen, want)
			}
		}},
		{"timestamp without zone is UTC", map[string]any{"payload.timestamp": "2026-01-15T11:30:00.123456"}, func(t *testing.T, a alert.Alert) {
			if want := mustTime(t, "2026-01-15T11:30:00.123456Z"); !a.FirstSeen.Equal(want) {
				t.Errorf("FirstSeen = %v, want %v", a.FirstSeen, want)
			}
		}},
		{"future timestamp is clamped to now", map[string]any{"payload.timestamp": "2026-01-15T12:00:05Z"}, func(t *testing.T, a alert.Alert) {
			if !a.FirstSeen.Equal(now) {
				t.Errorf("FirstSeen = %v, want now", a.FirstSeen)
			}
		}},
		{"summary is trimmed and truncated", map[string]any{"payload.summary": "  " + strings.Repeat("s", 1024) + " "}, func(t *testing.T, a alert.Alert) {
			if len(a.Title) > alert.MaxTitle || !strings.HasPrefix(a.Title, "sss") {
				t.Errorf("Title has %d bytes (%q...), want at most %d", len(a.Title), a.Title[:5], alert.MaxTitle)
			}
		}},
		{"dedup_key is trimmed", map[string]any{"dedup_key": " k1 "}, func(t *testing.T, a alert.Alert) {
			if a.SourceID != "k1" {
				t.Errorf("SourceID = %q, want k1", a.SourceID)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := ParsePagerDuty(pdTrigger(t, tt.changes), now)
			if err != nil {
				t.Fatalf("ParsePagerDuty error: %v", err)
			}
			tt.check(t, ev.Alert)
		})
	}
}

func TestParsePagerDutyGeneratedDedupKey(t *testing.T) {
	seen := map[string]bool{}
	for _, changes := range []map[string]any{nil, {"dedup_key": ""}, {"dedup_key": "   "}} {
		ev, err := ParsePagerDuty(pdTrigger(t, changes), now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := hex.DecodeString(ev.DedupKey); err != nil || len(ev.DedupKey) != 32 {
			t.Errorf("generated DedupKey = %q, want 32 hex digits", ev.DedupKey)
		}
		if ev.Alert.SourceID != ev.DedupKey {
			t.Errorf("SourceID = %q, want the generated DedupKey %q", ev.Alert.SourceID, ev.DedupKey)
		}
		if seen[ev.DedupKey] {
			t.Errorf("DedupKey %q generated twice", ev.DedupKey)
		}
		seen[ev.DedupKey] = true
	}
}

func TestParsePagerDutyErrors(t *testing.T) {
	invalid := func(field string, errs ...string) *PagerDutyError {
		return &PagerDutyError{Status: "invalid event", Message: "Event object is invalid", Errors: errs, Field: field}
	}
	unrecognized := &PagerDutyError{Status: "Unrecognized object", Message: "Event object format is unrecognized",
		Errors: []string{"JSON parse error"}, Field: "body"}
	for _, tt := range []struct {
		name string
		body []byte
		want *PagerDutyError
	}{
		{"malformed JSON", []byte(`{"routing_key": "k",`), unrecognized},
		{"empty body", nil, unrecognized},
		{"array body", []byte(`[{"routing_key":"k"}]`), unrecognized},
		{"routing_key missing", pdTrigger(t, map[string]any{"routing_key": nil}),
			invalid("routing_key", "'routing_key' is missing or blank")},
		{"routing_key blank", pdTrigger(t, map[string]any{"routing_key": "  "}),
			invalid("routing_key", "'routing_key' is missing or blank")},
		{"event_action missing", pdTrigger(t, map[string]any{"event_action": nil}),
			invalid("event_action", "'event_action' is missing or blank")},
		{"event_action not in the enum", pdTrigger(t, map[string]any{"event_action": "Trigger"}),
			invalid("event_action", "'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")},
		{"payload missing", pdTrigger(t, map[string]any{"payload": nil}),
			invalid("payload", "'payload' is missing or blank")},
		{"summary missing", pdTrigger(t, map[string]any{"payload.summary": nil}),
			invalid("payload.summary", "'payload.summary' is missing or blank")},
		{"summary blank", pdTrigger(t, map[string]any{"payload.summary": " \t"}),
			invalid("payload.summary", "'payload.summary' is missing or blank")},
		{"every problem is listed", pdTrigger(t, map[string]any{"routing_key": nil, "payload.source": nil, "payload.severity": nil}),
			invalid("routing_key", "'routing_key' is missing or blank", "'payload.source' is missing or blank", "'payload.severity' is missing or blank")},
		{"severity not in the enum", pdTrigger(t, map[string]any{"payload.severity": "Critical"}),
			invalid("payload.severity", "'payload.severity' is invalid (must be one of: critical, error, warning, info)")},
		{"severity not vigil's", pdTrigger(t, map[string]any{"payload.severity": "high"}),
			invalid("payload.severity", "'payload.severity' is invalid (must be one of: critical, error, warning, info)")},
		{"timestamp invalid", pdTrigger(t, map[string]any{"payload.timestamp": "yesterday"}),
			invalid("payload.timestamp", "'payload.timestamp' is invalid (must be an ISO 8601 date-time)")},
		{"summary not a string", pdTrigger(t, map[string]any{"payload.summary": 42}),
			invalid("payload.summary", "'payload.summary' is invalid (must be a string, not number)")},
		{"payload not an object", pdTrigger(t, map[string]any{"payload": "disk full"}),
			invalid("payload", "'payload' is invalid (must be an object, not string)")},
		{"dedup_key too long for vigil", pdTrigger(t, map[string]any{"dedup_key": strings.Repeat("k", alert.MaxSourceID+1)}),
			invalid("dedup_key", "'dedup_key' is invalid (must be at most 512 characters)")},
		{"acknowledge without dedup_key", []byte(`{"routing_key":"k","event_action":"acknowledge"}`),
			invalid("dedup_key", "'dedup_key' is missing or blank")},
		{"resolve with blank dedup_key", []byte(`{"routing_key":"k","event_action":"resolve","dedup_key":" "}`),
			invalid("dedup_key", "'dedup_key' is missing or blank")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePagerDuty(tt.body, now)
			var got *PagerDutyError
			if !errors.As(err, &got) {
				t.Fatalf("error = %v (%T), want *PagerDutyError", err, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("error = %+v\nwant    %+v", got, tt.want)
			}
		})
	}
}

func TestParsePagerDutyAcceptsAnyRoutingKey(t *testing.T) {
	for _, key := range []string{"k", "vgl_0123456789abcdef0123456789abcdef0123456789"} {
		if _, err := ParsePagerDuty(pdTrigger(t, map[string]any{"routing_key": key}), now); err != nil {
			t.Errorf("routing_key %q: %v", key, err)
		}
	}
}

func TestPagerDutyErrorJSON(t *testing.T) {
	_, err := ParsePagerDuty([]byte(`{not json`), now)
	got, jerr := json.Marshal(err)
	if jerr != nil {
		t.Fatal(jerr)
	}
	// The body must be the documented error shape, with the field kept out.
	if want := fixture(t, "events_v2_response_error.json"); !jsonEqual(t, got, want) {
		t.Errorf("JSON = %s, want %s", got, want)
	}

	_, err = ParsePagerDuty(pdTrigger(t, map[string]any{"payload.summary": nil}), now)
	got, _ = json.Marshal(err)
	want := `{"status":"invalid event","message":"Event object is invalid","errors":["'payload.summary' is missing or blank"]}`
	if string(got) != want {
		t.Errorf("JSON = %s, want %s", got, want)
	}
	if msg := err.Error(); msg != "Event object is invalid: 'payload.summary' is missing or blank" {
		t.Errorf("Error() = %q", msg)
	}
	// A handler that only knows FieldError still answers 400.
	var fe *validation.FieldError
	if !errors.As(err, &fe) || fe.Field != "payload.summary" || fe.Message != "'payload.summary' is missing or blank" {
		t.Errorf("errors.As FieldError = %+v, want payload.summary", fe)
	}
}

func TestPagerDutyAccepted(t *testing.T) {
	got := PagerDutyAccepted("srv01/HTTP")
	if want := fixture(t, "events_v2_response_202.json"); !jsonEqual(t, got, want) {
		t.Errorf("PagerDutyAccepted = %s, want %s", got, want)
	}
	// Same key order as PagerDuty, for senders that log the body.
	if want := `{"status":"success","message":"Event processed","dedup_key":"srv01/HTTP"}`; string(got) != want {
		t.Errorf("PagerDutyAccepted = %s, want %s", got, want)
	}
	if got := PagerDutyAccepted(`a"b<`); !jsonEqual(t, got, []byte(`{"status":"success","message":"Event processed","dedup_key":"a\"b<"}`)) {
		t.Errorf("PagerDutyAccepted with quotes = %s", got)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}
