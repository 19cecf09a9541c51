package teamsemu

import (
	"encoding/json"
	"testing"
)

// FuzzEnvelope: the inbound parser never panics, and what it accepts is a
// card with the type, version and body it promises.
func FuzzEnvelope(f *testing.F) {
	f.Add(fixture(f, "incoming_webhook_adaptive_card.json"))
	f.Add(fixture(f, "incoming_webhook_messagecard_legacy.json"))
	f.Fuzz(func(t *testing.T, body []byte) {
		cards, err := ParseEnvelope(body)
		if err != nil {
			return
		}
		if !json.Valid(body) || len(cards) == 0 {
			t.Fatalf("accepted %q", body)
		}
		for _, c := range cards {
			v, _ := c["version"].(string)
			if c["type"] != "AdaptiveCard" || !versionOK(v) {
				t.Fatalf("accepted card %v", c)
			}
			if _, ok := c["body"].([]any); !ok {
				t.Fatalf("accepted card without body %v", c)
			}
			OpenURL(c, "Acknowledge")
		}
	})
}
