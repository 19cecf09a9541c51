package teams

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/notify"
)

func page() notify.Notification {
	return notify.Notification{
		ID: "n-12-1", Kind: notify.KindPage,
		To:      notify.ContactMethod{ID: 3, Type: notify.TypeTeams, Value: "soc-oncall"},
		Subject: "[vigil] Page 12: Impossible travel", Text: "Sign-in from two countries within 5 minutes.",
		PageID: 12, WorkItemID: 40, Title: "Impossible travel for alice", Severity: "high", Urgency: "high",
		Service: "Identity", AckURL: "https://vigil.example/ack/tok123", ItemURL: "https://vigil.example/items/40",
		CreatedAt: time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC),
	}
}

// TestEnvelopeMatchesFixture checks the envelope against Microsoft's
// example (testdata/incoming_webhook_adaptive_card.json, copied from
// ../shared/fixtures/thirdparty/teams/) key by key: the same keys, the
// same constant values, and a card of the same type and schema.
func TestEnvelopeMatchesFixture(t *testing.T) {
	raw, err := os.ReadFile("testdata/incoming_webhook_adaptive_card.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	got := roundTrip(t, Envelope(Card(page())))
	if got["type"] != want["type"] {
		t.Errorf("type = %v, want %v", got["type"], want["type"])
	}
	wa := want["attachments"].([]any)[0].(map[string]any)
	ga := got["attachments"].([]any)
	if len(ga) != 1 {
		t.Fatalf("attachments = %d, want 1", len(ga))
	}
	att := ga[0].(map[string]any)
	if len(att) != len(wa) {
		t.Errorf("attachment keys = %v, want those of %v", att, wa)
	}
	for _, k := range []string{"contentType", "contentUrl"} {
		if v, ok := att[k]; !ok || v != wa[k] {
			t.Errorf("attachment %s = %v (present %v), want %v", k, v, ok, wa[k])
		}
	}
	wc, gc := wa["content"].(map[string]any), att["content"].(map[string]any)
	for _, k := range []string{"$schema", "type"} {
		if gc[k] != wc[k] {
			t.Errorf("card %s = %v, want %v", k, gc[k], wc[k])
		}
	}
	if gc["version"] != "1.5" {
		t.Errorf("card version = %v, want 1.5", gc["version"])
	}
	// The fixture's body element is a TextBlock with type and text; ours
	// has those keys too.
	wb := wc["body"].([]any)[0].(map[string]any)
	gb := gc["body"].([]any)[0].(map[string]any)
	for k := range wb {
		if _, ok := gb[k]; !ok {
			t.Errorf("title TextBlock lacks %q", k)
		}
	}
}

func TestCardPage(t *testing.T) {
	c := roundTrip(t, Card(page()))
	body := c["body"].([]any)
	title := body[0].(map[string]any)
	want := map[string]any{"type": "TextBlock", "text": "Page 12: Impossible travel for alice", "weight": "bolder", "size": "medium", "wrap": true}
	for k, v := range want {
		if title[k] != v {
			t.Errorf("title %s = %v, want %v", k, title[k], v)
		}
	}
	facts := body[1].(map[string]any)
	if facts["type"] != "FactSet" {
		t.Fatalf("body[1] = %v, want a FactSet", facts)
	}
	var got []string
	for _, f := range facts["facts"].([]any) {
		f := f.(map[string]any)
		got = append(got, f["title"].(string)+"="+f["value"].(string))
	}
	if s := strings.Join(got, ","); s != "Severity=high,Urgency=high,Service=Identity,State=triggered" {
		t.Errorf("facts = %s", s)
	}
	if tb := body[2].(map[string]any); tb["text"] != page().Text || tb["wrap"] != true {
		t.Errorf("text block = %v", tb)
	}
	if note := body[3].(map[string]any); note["text"] != AckNote || note["size"] != "small" {
		t.Errorf("ack note = %v", note)
	}
	actions := c["actions"].([]any)
	wantActions := [][3]string{{"Action.OpenUrl", "Acknowledge", page().AckURL}, {"Action.OpenUrl", "Open in vigil", page().ItemURL}}
	if len(actions) != len(wantActions) {
		t.Fatalf("actions = %v", actions)
	}
	for i, w := range wantActions {
		a := actions[i].(map[string]any)
		if a["type"] != w[0] || a["title"] != w[1] || a["url"] != w[2] {
			t.Errorf("actions[%d] = %v, want %v", i, a, w)
		}
	}
}

func TestCardKinds(t *testing.T) {
	tests := []struct {
		name      string
		n         notify.Notification
		wantTitle string
		wantText  string
	}{
		{"verify", notify.Notification{Kind: notify.KindVerify, Subject: "[vigil] Verification code 123456"}, "Verification code 123456", ""},
		{"test", notify.Notification{Kind: notify.KindTest, Subject: "[vigil] Test notification", Text: "It works."}, "Test notification", "It works."},
		{"acknowledged", notify.Notification{Kind: notify.KindAcknowledged, PageID: 7, By: "alice", Text: "Alice took it."}, "Page 7 acknowledged by alice", "Alice took it."},
		{"resolved", notify.Notification{Kind: notify.KindResolved, PageID: 7}, "Page 7 resolved", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.n.AckURL, tt.n.ItemURL = "https://vigil.example/ack/x", "https://vigil.example/items/1"
			c := roundTrip(t, Card(tt.n))
			if _, ok := c["actions"]; ok {
				t.Errorf("a %s card has actions: %v", tt.name, c["actions"])
			}
			body := c["body"].([]any)
			if got := body[0].(map[string]any)["text"]; got != tt.wantTitle {
				t.Errorf("title = %q, want %q", got, tt.wantTitle)
			}
			wantLen := 1
			if tt.wantText != "" {
				wantLen = 2
				if got := body[1].(map[string]any)["text"]; got != tt.wantText {
					t.Errorf("text = %q, want %q", got, tt.wantText)
				}
			}
			if len(body) != wantLen {
				t.Errorf("body has %d elements, want %d", len(body), wantLen)
			}
		})
	}
}

func TestCardBundleAndLongTitle(t *testing.T) {
	n := page()
	n.Title = strings.Repeat("é", 500) + "\nsecond line"
	n.Bundle = []notify.BundledPage{{PageID: 13, Title: "Malware on host", Urgency: "low"}}
	c := roundTrip(t, Card(n))
	body := c["body"].([]any)
	title := body[0].(map[string]any)["text"].(string)
	if strings.Contains(title, "\n") || len(title) > maxTitle+20 || !strings.HasSuffix(title, "…") {
		t.Errorf("title not folded and shortened: %q", title)
	}
	found := false
	for _, e := range body {
		if s, _ := e.(map[string]any)["text"].(string); strings.Contains(s, "Page 13 (low): Malware on host") {
			found = true
		}
	}
	if !found {
		t.Errorf("bundled page missing from %v", body)
	}
}

func roundTrip(t *testing.T, v any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
