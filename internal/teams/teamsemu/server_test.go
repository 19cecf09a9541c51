package teamsemu

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// The fixtures in testdata/ are copied from
// ../shared/fixtures/thirdparty/teams/ (MicrosoftDocs/msteams-docs): the
// Adaptive Card envelope, which Workflows takes, and the legacy
// MessageCard, which it does not.

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestServer(t *testing.T) {
	s := New()
	if _, err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hook := s.URL("soc")
	if hook != s.URL("soc") || hook == s.URL("other") {
		t.Fatal("URL is not stable per name or not distinct between names")
	}
	card := func(version string) string {
		return `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","contentUrl":null,"content":{"type":"AdaptiveCard","version":"` + version + `","body":[{"type":"TextBlock","text":"hi"}]}}]}`
	}
	tests := []struct {
		name     string
		url      string
		body     string
		status   int
		contains string
	}{
		{"fixture", hook, string(fixture(t, "incoming_webhook_adaptive_card.json")), 202, ""},
		{"version 1.5", hook, card("1.5"), 202, ""},
		{"version 1.6", hook, card("1.6"), 400, "version"},
		{"version 2.0", hook, card("2.0"), 400, "version"},
		{"legacy MessageCard", hook, string(fixture(t, "incoming_webhook_messagecard_legacy.json")), 400, "type"},
		{"not JSON", hook, "hello", 400, "not a JSON object"},
		{"no body array", hook, strings.Replace(card("1.5"), `"body"`, `"bodies"`, 1), 400, "body: must be an array"},
		{"bad OpenUrl", hook, strings.Replace(card("1.5"), `"body"`, `"actions":[{"type":"Action.OpenUrl","url":"javascript:x"}],"body"`, 1), 400, "url"},
		{"unknown sig", strings.Replace(hook, "sig=", "sig=ff", 1), card("1.5"), 401, "DirectApiAuthorizationRequired"},
		{"no sig", strings.Split(hook, "?")[0], card("1.5"), 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(t, tt.url, tt.body)
			if status != tt.status {
				t.Errorf("status = %d, want %d (%s)", status, tt.status, body)
			}
			if !strings.Contains(body, tt.contains) {
				t.Errorf("body %q lacks %q", body, tt.contains)
			}
		})
	}
	if n := len(s.Cards()); n != 2 {
		t.Errorf("kept %d cards, want 2", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := s.WaitCard(ctx, func(c map[string]any) bool { return c["version"] == "1.2" })
	if err != nil || c["$schema"] != "http://adaptivecards.io/schemas/adaptive-card.json" {
		t.Errorf("WaitCard = %v, %v", c, err)
	}
}

func TestFailAndWait(t *testing.T) {
	s := New()
	if _, err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hook := s.URL("soc")
	body := string(fixture(t, "incoming_webhook_adaptive_card.json"))
	s.Fail(2, 503)
	for i := 0; i < 2; i++ {
		if status, _ := post(t, hook, body); status != 503 {
			t.Fatalf("attempt %d: status %d, want 503", i, status)
		}
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := s.WaitCard(ctx, func(map[string]any) bool { return true })
		done <- err
	}()
	if status, _ := post(t, hook, body); status != 202 {
		t.Fatalf("status %d after the failures, want 202", status)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.WaitCard(ctx, func(map[string]any) bool { return false }); err == nil {
		t.Error("WaitCard returned without a match")
	}
}

func TestOpenURL(t *testing.T) {
	var card map[string]any
	json.Unmarshal([]byte(`{"actions":[{"type":"Action.Submit","title":"Ack"},{"type":"Action.OpenUrl","title":"Ack","url":"https://a/1"}],
		"body":[{"type":"ActionSet","actions":[{"type":"Action.OpenUrl","title":"Open","url":"https://a/2"}]}]}`), &card)
	for title, want := range map[string]string{"Ack": "https://a/1", "Open": "https://a/2", "None": ""} {
		got, ok := OpenURL(card, title)
		if got != want || ok != (want != "") {
			t.Errorf("OpenURL(%q) = %q, %v; want %q", title, got, ok, want)
		}
	}
}

func post(t *testing.T, u, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
