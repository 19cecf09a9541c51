package compat

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/validation"
)

// The fuzz targets below cover every inbound compatibility parser. Their
// seed corpora are in testdata/fuzz/<target>/ (the official example
// payloads and the bodies of the unit tests), and plain `go test` runs
// them as regression tests; scripts/fuzz runs the fuzzing engine on each.

// fuzzNow is a fixed clock, so that a failing input reproduces.
var fuzzNow = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

// checkFuzzAlert holds a parsed alert to what the store relies on: it is
// already normalized (normalizing again changes nothing), it names its
// source and source id, its text fits the limits on rune boundaries, its
// times are ordered and not in the future, and its raw payload is JSON.
func checkFuzzAlert(t *testing.T, a alert.Alert, source string) {
	t.Helper()
	again := a
	again.Entities = append([]alert.Entity(nil), a.Entities...)
	if err := again.Normalize(fuzzNow); err != nil {
		t.Fatalf("parsed alert does not validate: %v\n%+v", err, a)
	}
	if !reflect.DeepEqual(again, a) {
		t.Fatalf("parsed alert changes when normalized again:\n got %+v\nwant %+v", again, a)
	}
	switch {
	case a.Source != source:
		t.Fatalf("source = %q, want %q", a.Source, source)
	case strings.TrimSpace(a.SourceID) == "":
		t.Fatalf("source id is blank: %+v", a)
	case a.Title == "" || len(a.Title) > alert.MaxTitle || !utf8.ValidString(a.Title):
		t.Fatalf("title %q is blank, too long or not UTF-8", a.Title)
	case len(a.Description) > alert.MaxDescription || !utf8.ValidString(a.Description):
		t.Fatalf("description of %d bytes is too long or not UTF-8", len(a.Description))
	case a.FirstSeen.IsZero() || a.LastSeen.Before(a.FirstSeen):
		t.Fatalf("first_seen %v, last_seen %v: unset or out of order", a.FirstSeen, a.LastSeen)
	case a.LastSeen.After(fuzzNow):
		t.Fatalf("last_seen %v is after now %v", a.LastSeen, fuzzNow)
	case !json.Valid(a.Raw):
		t.Fatalf("raw payload is not JSON: %q", a.Raw)
	}
}

// requireFieldError requires err to be a *validation.FieldError naming a
// field, which the handlers answer as a 400 with error.field set.
func requireFieldError(t *testing.T, err error) {
	t.Helper()
	var fe *validation.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *validation.FieldError", err, err)
	}
	if fe.Field == "" || fe.Message == "" {
		t.Fatalf("field error %+v does not name a field and a reason", fe)
	}
}

func FuzzAlertmanager(f *testing.F) {
	for _, s := range []string{
		`[]`,
		`[{"labels":{"alertname":"A","instance":"10.0.0.1:9100","severity":"critical"}}]`,
		`[{"labels":{"alertname":"A","job":"node"},"annotations":{"summary":"disk full","description":"d"},"startsAt":"2026-01-15T11:00:00Z","endsAt":"2026-01-15T11:30:00Z","generatorURL":"http://prom/graph"}]`,
		`[{"labels":{"alertname":"B","pod":"api-1","namespace":"prod"},"endsAt":"2026-01-15T13:00:00Z"}, {"annotations":{"x":"y"}}]`,
		`[null]`,
		`[{"labels":{"a":1}}]`,
		`[{"labels":{"a":"b"}}] x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		alerts, err := ParseAlertmanager(body, fuzzNow)
		if err != nil {
			requireFieldError(t, err)
		}
		for _, a := range alerts {
			checkFuzzAlert(t, a, SourceAlertmanager)
			if want := AlertmanagerFingerprint(labelsOf(t, a.Raw)); a.SourceID != want {
				t.Fatalf("source id %s, want the labels' fingerprint %s", a.SourceID, want)
			}
		}
		// The fast path must agree with the precise one on every body it
		// takes, or a sender's alerts would map differently by body shape.
		fast, ferr, ok := parseAlertmanagerFast(body, fuzzNow)
		if !ok {
			return
		}
		slow, serr := parseAlertmanagerSlow(body, fuzzNow)
		if len(fast) == 0 && len(slow) == 0 {
			fast, slow = nil, nil
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("fast and slow paths disagree on %q:\nfast %+v\nslow %+v", body, fast, slow)
		}
		if (ferr == nil) != (serr == nil) || (ferr != nil && ferr.Error() != serr.Error()) {
			t.Fatalf("fast and slow paths disagree on %q: fast error %v, slow error %v", body, ferr, serr)
		}
	})
}

// labelsOf reads an accepted element's labels back the way Alertmanager
// does: empty values are absent.
func labelsOf(t *testing.T, raw json.RawMessage) map[string]string {
	t.Helper()
	var el struct {
		Labels map[string]*string `json:"labels"`
	}
	if err := json.Unmarshal(raw, &el); err != nil {
		t.Fatalf("accepted element does not decode: %v", err)
	}
	labels := map[string]string{}
	for k, v := range el.Labels {
		if v != nil && *v != "" {
			labels[k] = *v
		}
	}
	return labels
}

func FuzzPagerDuty(f *testing.F) {
	for _, s := range []string{
		`{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"10.0.0.1","severity":"critical"}}`,
		`{"routing_key":"k","event_action":"trigger","dedup_key":"d","payload":{"summary":"s","source":"h","severity":"info","timestamp":"2026-01-15T11:00:00+0000","custom_details":{"a":[1,2]}}}`,
		`{"routing_key":"k","event_action":"resolve","dedup_key":"d"}`,
		`{"routing_key":"k","event_action":"acknowledge"}`,
		`{"routing_key":1}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParsePagerDuty(body, fuzzNow)
		if err != nil {
			var pe *PagerDutyError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *PagerDutyError", err, err)
			}
			if pe.Field == "" || pe.Status == "" || pe.Message == "" || len(pe.Errors) == 0 {
				t.Fatalf("PagerDuty error %+v lacks a field, status, message or errors", pe)
			}
			// Handlers that do not special-case it still answer 400.
			requireFieldError(t, err)
			return
		}
		if ev.RoutingKey == "" || ev.DedupKey == "" {
			t.Fatalf("accepted event without routing or dedup key: %+v", ev)
		}
		switch ev.Action {
		case PagerDutyTrigger:
			checkFuzzAlert(t, ev.Alert, SourcePagerDuty)
			if ev.Alert.SourceID != ev.DedupKey {
				t.Fatalf("alert source id %q, want the dedup key %q", ev.Alert.SourceID, ev.DedupKey)
			}
			// The routing key is a credential: the stored payload must not
			// hand it to whoever reads the alert, however it was spelt.
			var stored pdEvent
			if err := json.Unmarshal(ev.Alert.Raw, &stored); err != nil {
				t.Fatalf("stored payload does not decode: %v", err)
			}
			if strings.TrimSpace(stored.RoutingKey) == ev.RoutingKey {
				t.Fatalf("stored payload keeps the routing key %q: %s", ev.RoutingKey, ev.Alert.Raw)
			}
		case PagerDutyAcknowledge, PagerDutyResolve:
			if !reflect.DeepEqual(ev.Alert, alert.Alert{}) {
				t.Fatalf("%s event carries an alert: %+v", ev.Action, ev.Alert)
			}
		default:
			t.Fatalf("accepted unknown event_action %q", ev.Action)
		}
	})
}

func FuzzAzureMonitor(f *testing.F) {
	for _, s := range []string{
		`{"schemaId":"azureMonitorCommonAlertSchema","data":{"essentials":{"alertId":"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/a","alertRule":"r","severity":"Sev1","monitorCondition":"Resolved","firedDateTime":"2026-01-15T10:00:00.1234567Z","resolvedDateTime":"2026-01-15T11:00:00Z","alertTargetIDs":["/subscriptions/s/resourcegroups/g/providers/microsoft.compute/virtualmachines/vm1"],"configurationItems":["vm1","10.0.0.9"]}}}`,
		`{"schemaId":"azureMonitorCommonAlertSchema","data":{"essentials":{"alertId":"a","alertRule":"r","firedDateTime":"2026-01-15T10:00:00"}}}`,
		`{"schemaId":"other"}`,
		`{"data":{"essentials":{"alertId":1}}}`,
		`null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := ParseAzureMonitor(body, fuzzNow)
		if err != nil {
			requireFieldError(t, err)
			return
		}
		checkFuzzAlert(t, a, SourceAzureMonitor)
		if a.Status != alert.StatusNew && a.Status != alert.StatusResolved {
			t.Fatalf("status %q, want new or resolved", a.Status)
		}
	})
}
