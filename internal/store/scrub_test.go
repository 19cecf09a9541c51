package store_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
)

const leakedToken = "vgl_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"

// A payload is masked on its way into the store: no credential is kept.
func TestIngestMasksCredentials(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC))
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := newAlert(t, "pagerduty", "d1", "disk full", alert.SeverityHigh)
		a.Raw = json.RawMessage(`{"routing_key":"` + leakedToken + `","event_action":"trigger","payload":{"summary":"disk full"}}`)
		res := mustIngest(t, db, a)
		got, err := db.GetAlert(ctx, res[0].AlertID)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(got.Raw), leakedToken) || !strings.Contains(string(got.Raw), `"routing_key":"[redacted]"`) {
			t.Errorf("stored raw = %s, want the routing key masked", got.Raw)
		}
		vs, err := db.AlertVersions(ctx, res[0].AlertID)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			if strings.Contains(string(v.Raw), leakedToken) {
				t.Errorf("version %d keeps the routing key: %s", v.Version, v.Raw)
			}
		}
	})
}

// Payloads stored before masking existed are scrubbed by the migration,
// and the untouched ones keep their bytes.
func TestScrubStoredPayloads(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC))
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		leaky := newAlert(t, "pagerduty", "d1", "disk full", alert.SeverityHigh)
		clean := newAlert(t, "alertmanager", "fp1", "cpu", alert.SeverityLow)
		clean.Raw = json.RawMessage(`{"labels": {"alertname": "cpu"},  "startsAt": "2026-12-05T12:00:00Z"}`)
		res := mustIngest(t, db, leaky, clean)
		old := `{"routing_key":"` + leakedToken + `","payload":{"summary":"disk full","custom_details":{"url":"https://x.example/hook?token=abc"}}}`
		if err := db.ExecForTest(ctx, `UPDATE alert_versions SET raw = ? WHERE alert_id = ?`, old, res[0].AlertID); err != nil {
			t.Fatal(err)
		}
		n, err := db.ScrubForTest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("scrub rewrote %d rows, want 1", n)
		}
		got, err := db.GetAlert(ctx, res[0].AlertID)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(got.Raw, &m); err != nil {
			t.Fatalf("scrubbed raw is not JSON: %v", err)
		}
		if strings.Contains(string(got.Raw), leakedToken) || strings.Contains(string(got.Raw), "token=abc") {
			t.Errorf("scrubbed raw still holds a credential: %s", got.Raw)
		}
		if m["payload"].(map[string]any)["summary"] != "disk full" {
			t.Errorf("scrub lost the payload: %s", got.Raw)
		}
		kept, err := db.GetAlert(ctx, res[1].AlertID)
		if err != nil {
			t.Fatal(err)
		}
		if want := string(clean.Raw); string(kept.Raw) != want && !jsonEqual(kept.Raw, clean.Raw) {
			t.Errorf("clean raw changed: %s, want %s", kept.Raw, want)
		}
		if n, err := db.ScrubForTest(ctx); err != nil || n != 0 {
			t.Errorf("second scrub rewrote %d rows (err %v), want 0", n, err)
		}
	})
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

// A payload with bytes that are not UTF-8 inside a JSON string is kept,
// with those bytes replaced, on both databases (PostgreSQL refuses
// invalid UTF-8 outright).
func TestIngestInvalidUTF8Payload(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC))
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		a := newAlert(t, "pagerduty", "bad-utf8", "disk full", alert.SeverityHigh)
		a.Raw = json.RawMessage("{\"summary\":\"disk \xff\xfe full\"}")
		res := mustIngest(t, db, a)
		got, err := db.GetAlert(context.Background(), res[0].AlertID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(got.Raw), "disk \uFFFD full") {
			t.Errorf("stored raw = %q, want the invalid bytes replaced", got.Raw)
		}
	})
}
