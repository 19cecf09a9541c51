package teams_test

import (
	"encoding/json"
	"testing"

	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/teams"
	"github.com/vigil-soc/vigil/internal/teams/teamsemu"
)

// FuzzCard: whatever strings a notification holds, its envelope is JSON
// that the emulator's parser (a Workflows webhook's checks) accepts.
func FuzzCard(f *testing.F) {
	f.Add("page", "Impossible travel", "Sign-in from two countries", "high", "Identity", "https://vigil.example/ack/t", "https://vigil.example/items/1", int64(12))
	f.Add("verify", "", "", "", "", "", "", int64(0))
	f.Add("acknowledged", "**bold** [x](javascript:alert(1))", "\x00\xff\"<>", "low", "\u2028", "http://h/a", "https://h/i", int64(-1))
	f.Fuzz(func(t *testing.T, kind, title, text, urgency, service, ack, item string, pageID int64) {
		n := notify.Notification{
			ID: "n", Kind: kind, Subject: title, Text: text, Title: title, Urgency: urgency, Severity: urgency,
			Service: service, PageID: pageID, By: service,
			To:     notify.ContactMethod{Type: notify.TypeTeams, Value: "x"},
			Bundle: []notify.BundledPage{{PageID: pageID, Title: text, Urgency: urgency}},
		}
		// Only validated http(s) links reach a card: vigil builds them.
		if validLink(ack) {
			n.AckURL = ack
		}
		if validLink(item) {
			n.ItemURL = item
		}
		raw, err := json.Marshal(teams.Envelope(teams.Card(n)))
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(raw) {
			t.Fatalf("invalid JSON: %s", raw)
		}
		if _, err := teamsemu.ParseEnvelope(raw); err != nil {
			t.Fatalf("emulator refuses the card: %v\n%s", err, raw)
		}
	})
}

func validLink(s string) bool {
	_, err := teamsemu.ParseEnvelope([]byte(`{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{"type":"AdaptiveCard","version":"1.5","body":[],"actions":[{"type":"Action.OpenUrl","url":` + quote(s) + `}]}}]}`))
	return err == nil
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
