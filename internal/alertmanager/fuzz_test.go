package alertmanager

import (
	"encoding/json"
	"testing"
	"time"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/; f.Add adds the
// fixtures so that the fuzzer starts from real payloads.

func FuzzParseMatchers(f *testing.F) {
	f.Add(`{alertname="X",severity=~"crit.*"}`)
	f.Fuzz(func(t *testing.T, in string) {
		ms, err := ParseMatchers(in)
		if err != nil {
			if _, ok := AsParseError(err); !ok {
				t.Fatalf("ParseMatchers(%q) error %v is not a *ParseError", in, err)
			}
			return
		}
		// What String renders must parse back to the same matchers, or
		// amtool would show silences it cannot re-create.
		out := ms.String()
		back, err := ParseMatchers(out)
		if err != nil {
			t.Fatalf("ParseMatchers(%q) = %s, which does not parse back: %v", in, out, err)
		}
		if !back.Equal(ms) {
			t.Fatalf("ParseMatchers(%q) = %s, parses back as %s", in, out, back)
		}
		ms.Matches(map[string]string{"alertname": "X"})
		if _, err := ParseFilter([]string{in}); err != nil {
			if _, ok := AsParseError(err); !ok {
				t.Fatalf("ParseFilter(%q) error %v is not a *ParseError", in, err)
			}
		}
	})
}

func FuzzParseWebhook(f *testing.F) {
	f.Add(readTestdata(f, "alertmanager_webhook_v4.json"))
	f.Add(readTestdata(f, "grafana_webhook_example.json"))
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := ParseWebhook(body, now)
		if err != nil {
			return
		}
		if w.GroupKey == "" {
			t.Fatal("accepted without a groupKey")
		}
		if !w.Grafana && w.Version != WebhookVersion {
			t.Fatalf("accepted version %q", w.Version)
		}
		for i, a := range w.Alerts {
			if len(a.Labels) == 0 || a.StartsAt.IsZero() || a.Fingerprint == "" || a.Annotations == nil {
				t.Fatalf("alerts[%d] accepted incomplete: %+v", i, a)
			}
			if a.Status != StatusFiring && a.Status != StatusResolved {
				t.Fatalf("alerts[%d].status = %q", i, a.Status)
			}
		}
		// What ParseWebhook accepts, the ingest mapping must accept too.
		if _, err := w.VigilAlerts(now); err != nil {
			t.Fatalf("accepted webhook fails VigilAlerts: %v", err)
		}
	})
}

func FuzzParsePostableSilence(f *testing.F) {
	f.Add([]byte(`{"matchers":[{"name":"alertname","value":"X","isRegex":false}],"startsAt":"2026-12-06T11:00:00Z","endsAt":"2026-12-06T13:00:00Z","createdBy":"a","comment":"c"}`))
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := ParsePostableSilence(body, now)
		if err != nil {
			return
		}
		if len(s.Matchers) == 0 || !s.StartsAt.Before(s.EndsAt) || s.EndsAt.Before(now) || s.CreatedBy == "" || s.Comment == "" {
			t.Fatalf("accepted an invalid silence: %+v", s)
		}
		if s.Matchers.Matches(map[string]string{}) {
			t.Fatalf("accepted a silence that matches every alert: %s", s.Matchers)
		}
		// What vigil stores and serves must read back the same.
		doc, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParsePostableSilence(doc, now)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", doc, err)
		}
		if !back.Matchers.Equal(s.Matchers) || !back.StartsAt.Equal(s.StartsAt) || !back.EndsAt.Equal(s.EndsAt) {
			t.Fatalf("round trip changed %+v into %+v", s, back)
		}
	})
}
