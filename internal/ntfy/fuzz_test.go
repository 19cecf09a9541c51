package ntfy_test

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/ntfy"
	"github.com/vigil-soc/vigil/internal/ntfy/ntfyemu"
)

// FuzzMessage: whatever strings a notification holds, its publish body is
// JSON the emulator (ntfy's rules) accepts, within ntfy's size limit.
func FuzzMessage(f *testing.F) {
	f.Add("page", "Impossible travel", "Sign-in from two countries", "high", "https://vigil.example/ack/t", "https://vigil.example/items/1", int64(12))
	f.Add("verify", "[vigil] Verification code 123456", "", "", "", "", int64(0))
	f.Add("resolved", "\xff\x00", "\u2028", "low", "javascript:x", "mailto:a@b", int64(-1))
	f.Fuzz(func(t *testing.T, kind, title, text, urgency, ack, item string, pageID int64) {
		n := notify.Notification{
			ID: "n", Kind: kind, Subject: title, Text: text, Title: title, Urgency: urgency, Severity: urgency,
			Service: text, PageID: pageID, To: notify.ContactMethod{Type: notify.TypeNtfy, Value: "topic"},
			Bundle: []notify.BundledPage{{PageID: pageID, Title: title, Urgency: urgency}},
		}
		// vigil builds its links: only absolute http(s) URLs reach here.
		if httpURL(ack) {
			n.AckURL = ack
		}
		if httpURL(item) {
			n.ItemURL = item
		}
		raw, err := json.Marshal(ntfy.NewMessage("topic", n))
		if err != nil {
			t.Fatal(err)
		}
		if err := ntfyemu.CheckPublish(raw); err != nil {
			t.Fatalf("emulator refuses %s: %v", raw, err)
		}
	})
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
