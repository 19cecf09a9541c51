package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/validation"
)

// The native API's body parsers, fuzzed without a server or a store. Seed
// corpora are in testdata/fuzz/<target>/; plain `go test` runs them.

var fuzzNow = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

// requireFieldError holds err to the API's promise: every bad body is a
// 400 whose error.field names what is wrong.
func requireFieldError(t *testing.T, err error) {
	t.Helper()
	var fe *validation.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *validation.FieldError, so the API would answer 500", err, err)
	}
	if fe.Field == "" || fe.Message == "" {
		t.Fatalf("field error %+v does not name a field and a reason", fe)
	}
}

// wireAlert is an accepted alert as a client would post it again.
func wireAlert(a alert.Alert) map[string]any {
	m := map[string]any{
		"source": a.Source, "source_id": a.SourceID, "product": a.Product, "title": a.Title,
		"description": a.Description, "severity": a.Severity, "status": a.Status, "entities": a.Entities,
		"first_seen": a.FirstSeen.Format(time.RFC3339Nano), "last_seen": a.LastSeen.Format(time.RFC3339Nano),
		"raw": a.Raw,
	}
	return m
}

// sameAlert compares alerts as the store sees them: an entity's empty
// attrs and absent attrs are the same thing, and raw payloads are the same
// JSON value however they are spaced or escaped.
func sameAlert(a, b alert.Alert) bool {
	if !sameJSON(a.Raw, b.Raw) {
		return false
	}
	a.Raw, b.Raw = nil, nil
	norm := func(a alert.Alert) alert.Alert {
		es := make([]alert.Entity, len(a.Entities))
		for i, e := range a.Entities {
			if len(e.Attrs) == 0 {
				e.Attrs = nil
			}
			es[i] = e
		}
		a.Entities = es
		if len(a.Entities) == 0 {
			a.Entities = nil
		}
		return a
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func sameJSON(a, b []byte) bool {
	decode := func(b []byte) (any, error) {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var v any
		err := dec.Decode(&v)
		return v, err
	}
	va, errA := decode(a)
	vb, errB := decode(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}

func FuzzParseAlerts(f *testing.F) {
	for _, s := range []string{
		`{"source":"x","title":"t"}`,
		`[{"source":"x","source_id":"1","title":"t","severity":"High","status":"in_progress","entities":[{"kind":"ip","value":"10.0.0.1"},{"kind":"filehash","value":"D41D8CD98F00B204E9800998ECF8427E"}],"first_seen":"2026-01-15T11:00:00+01:00","raw":{"a":1}}]`,
		`[{"source":"x","title":"t"},{"source":"x","title":"t","id":7}]`,
		`{"source":"x","title":"t"}]`,
		`[]`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		alerts, err := parseAlerts(body, fuzzNow)
		if err != nil {
			requireFieldError(t, err)
			if alerts != nil {
				t.Fatalf("error %v with %d alerts: a rejected body must store nothing", err, len(alerts))
			}
			return
		}
		if len(alerts) == 0 || len(alerts) > maxAlertsPerRequest {
			t.Fatalf("accepted %d alerts, want 1 to %d", len(alerts), maxAlertsPerRequest)
		}
		for _, a := range alerts {
			again := a
			again.Entities = append([]alert.Entity(nil), a.Entities...)
			if err := again.Normalize(fuzzNow); err != nil {
				t.Fatalf("accepted alert does not validate: %v\n%+v", err, a)
			}
			if !sameAlert(again, a) {
				t.Fatalf("accepted alert changes when normalized again:\n got %+v\nwant %+v", again, a)
			}
			if !json.Valid(a.Raw) {
				t.Fatalf("raw payload is not JSON: %q", a.Raw)
			}
			// What vigil accepted, posted again as the API documents it,
			// must come back as the same alert.
			b, err := json.Marshal(wireAlert(a))
			if err != nil {
				t.Fatalf("marshal accepted alert: %v", err)
			}
			back, err := parseAlerts(b, fuzzNow)
			if err != nil {
				t.Fatalf("accepted alert re-posted is refused: %v\n%s", err, b)
			}
			if len(back) != 1 || !sameAlert(back[0], a) {
				t.Fatalf("accepted alert re-posted differs:\n got %+v\nwant %+v", back, a)
			}
		}
	})
}

func FuzzParseIncident(f *testing.F) {
	for _, s := range []string{
		`{"source":"sentinel","source_id":"inc-1","title":"t","severity":"high","alerts":["a1","a2"],"first_seen":"2026-01-15T10:00:00Z"}`,
		`{"source":"sentinel","title":"no id"}`,
		`{"source":"sentinel","source_id":"x","title":"t","alertz":[]}`,
		`{"source":"sentinel","source_id":"x","title":"t"} {}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		inc, err := parseIncident(body, fuzzNow)
		if err != nil {
			requireFieldError(t, err)
			return
		}
		again := inc
		if err := again.Normalize(fuzzNow); err != nil {
			t.Fatalf("accepted incident does not validate: %v\n%+v", err, inc)
		}
		if !reflect.DeepEqual(again, inc) {
			t.Fatalf("accepted incident changes when normalized again:\n got %+v\nwant %+v", again, inc)
		}
		switch {
		case inc.Source == "" || len(inc.Source) > 64: // the OpenAPI document's maxLength
			t.Fatalf("source %q is blank or too long", inc.Source)
		case inc.SourceID == "" || inc.Title == "":
			t.Fatalf("accepted incident without source id or title: %+v", inc)
		case !json.Valid(inc.Raw):
			t.Fatalf("raw payload is not JSON: %q", inc.Raw)
		}
	})
}
