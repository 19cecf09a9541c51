package ntfy

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/notify"
)

func page(urgency string) notify.Notification {
	return notify.Notification{
		ID: "n-12-1", Kind: notify.KindPage,
		To:      notify.ContactMethod{ID: 3, Type: notify.TypeNtfy, Value: "vigil-alice_7"},
		Subject: "[vigil] Page 12", Text: "Sign-in from two countries.",
		PageID: 12, Title: "Impossible travel", Severity: "high", Urgency: urgency, Service: "Identity",
		AckURL: "https://vigil.example/ack/tok123", ItemURL: "https://vigil.example/items/40",
	}
}

// TestPagePayload checks the publish body field by field against ntfy's
// "Publish as JSON" contract (docs.ntfy.sh/publish/#publish-as-json and
// #action-buttons): the key names, an http action's method, headers, body
// and clear, a view action's url. No official ntfy fixture exists under
// ../shared/fixtures/thirdparty/, so the expected JSON is written out here.
func TestPagePayload(t *testing.T) {
	raw, err := json.Marshal(NewMessage("vigil-alice_7", page("high")))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	json.Unmarshal([]byte(`{
		"topic": "vigil-alice_7",
		"title": "Page 12: Impossible travel",
		"message": "high · high · Identity\nSign-in from two countries.",
		"priority": 5,
		"tags": ["rotating_light"],
		"click": "https://vigil.example/items/40",
		"actions": [
			{"action": "http", "label": "Acknowledge", "url": "https://vigil.example/ack/tok123", "method": "POST",
			 "headers": {"Content-Type": "application/x-www-form-urlencoded"}, "body": "action=acknowledge", "clear": true},
			{"action": "view", "label": "Open", "url": "https://vigil.example/items/40"}
		]}`), &want)
	for k := range want {
		if !reflect.DeepEqual(got[k], want[k]) {
			t.Errorf("%s = %#v, want %#v", k, got[k], want[k])
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected key %q", k)
		}
	}
}

func TestMessageKinds(t *testing.T) {
	tests := []struct {
		name     string
		n        notify.Notification
		priority int
		tags     []string
		title    string
		actions  int
		click    string
	}{
		{"high page", page("high"), 5, []string{"rotating_light"}, "Page 12: Impossible travel", 2, "https://vigil.example/items/40"},
		{"low page", page("low"), 3, []string{"warning"}, "Page 12: Impossible travel", 2, "https://vigil.example/items/40"},
		{"page without links", func() notify.Notification { n := page("low"); n.AckURL, n.ItemURL = "", ""; return n }(), 3, []string{"warning"}, "Page 12: Impossible travel", 0, ""},
		{"acknowledged", notify.Notification{Kind: notify.KindAcknowledged, PageID: 12, ItemURL: "https://v/i"}, 3, []string{"white_check_mark"}, "Page 12 acknowledged", 0, "https://v/i"},
		{"resolved", notify.Notification{Kind: notify.KindResolved, Subject: "[vigil] Page 12 resolved by bob"}, 3, []string{"heavy_check_mark"}, "Page 12 resolved by bob", 0, ""},
		{"verify", notify.Notification{Kind: notify.KindVerify, Subject: "[vigil] Verification code 123456"}, 3, []string{"key"}, "Verification code 123456", 0, ""},
		{"test", notify.Notification{Kind: notify.KindTest, Subject: "[vigil] Test", Text: "It works."}, 3, []string{"test_tube"}, "Test", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMessage("t", tt.n)
			if m.Priority != tt.priority || !reflect.DeepEqual(m.Tags, tt.tags) || m.Title != tt.title ||
				len(m.Actions) != tt.actions || m.Click != tt.click {
				t.Errorf("got priority %d tags %v title %q actions %d click %q", m.Priority, m.Tags, m.Title, len(m.Actions), m.Click)
			}
			if m.Message == "" {
				t.Error("empty message (ntfy would show \"triggered\")")
			}
		})
	}
}

func TestMessageLimits(t *testing.T) {
	n := page("high")
	n.Text = strings.Repeat("é", 5000)
	n.Bundle = []notify.BundledPage{{PageID: 13, Title: "Malware", Urgency: "low"}}
	m := NewMessage("t", n)
	if len(m.Message) > 4096 || !strings.HasSuffix(m.Message, "…") {
		t.Errorf("message is %d bytes", len(m.Message))
	}
	n.Text = "short"
	if m := NewMessage("t", n); !strings.Contains(m.Message, "Page 13 (low): Malware") {
		t.Errorf("bundle missing: %q", m.Message)
	}
}
