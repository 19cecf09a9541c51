package compat

import (
	"reflect"
	"testing"
	"time"
)

// TestAlertmanagerFastMatchesSlow holds the one-pass decoder to the
// field-by-field one: for every body the fast path accepts, both must give
// the same alerts and the same error.
func TestAlertmanagerFastMatchesSlow(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	bodies := []string{
		`[]`,
		`[{"labels":{"alertname":"A","instance":"10.0.0.1:9100","severity":"critical"}}]`,
		`[{"labels":{"alertname":"A","job":"node"},"annotations":{"summary":"disk full","description":"d"},"startsAt":"2026-11-22T11:00:00Z","endsAt":"2026-11-22T11:30:00Z","generatorURL":"http://prom/graph"}]`,
		`[{"labels":{"alertname":"A","empty":""},"startsAt":"0001-01-01T00:00:00.000Z"}, {"labels":{}}]`,
		`[{"labels":{"alertname":"B","pod":"api-1","namespace":"prod"},"endsAt":"2026-11-22T13:00:00Z"}, {"annotations":{"x":"y"}}]`,
		`[{"labels":{"alertname":"C"},"startsAt":"2026-11-22T12:00:00Z","endsAt":"2026-11-22T11:00:00Z"}]`,
		`[{"labels":{"alertname":"D"},"startsAt":"yesterday"}]`,
		`[{"labels":{"alertname":"E","host":"web-01.example.com"},"annotations":null,"startsAt":""}]`,
	}
	for _, b := range bodies {
		fast, ferr, ok := parseAlertmanagerFast([]byte(b), now)
		if !ok {
			t.Errorf("fast path declined %s", b)
			continue
		}
		slow, serr := parseAlertmanagerSlow([]byte(b), now)
		if len(slow) == 0 && len(fast) == 0 {
			slow, fast = nil, nil
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Errorf("%s:\nfast %+v\nslow %+v", b, fast, slow)
		}
		if (ferr == nil) != (serr == nil) || (ferr != nil && ferr.Error() != serr.Error()) {
			t.Errorf("%s: fast err %v, slow err %v", b, ferr, serr)
		}
	}
	// Bodies whose types are wrong must go to the precise path.
	for _, b := range []string{`[null]`, `[{"labels":{"a":1}}]`, `[{"labels":[]}]`, `{"labels":{}}`, `[{"labels":{"a":"b"}}] x`} {
		if _, _, ok := parseAlertmanagerFast([]byte(b), now); ok {
			t.Errorf("fast path accepted %s", b)
		}
	}
}
