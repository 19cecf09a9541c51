package slack

import (
	"errors"
	"net/url"
	"os"
	"testing"

	"github.com/vigil-soc/vigil/internal/validation"
)

// fixtureBody is testdata/block_actions_payload.json form-encoded as
// Slack sends it: payload=<urlencoded JSON>.
func fixtureBody(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/block_actions_payload.json")
	if err != nil {
		t.Fatal(err)
	}
	return []byte(url.Values{"payload": {string(b)}}.Encode())
}

func TestParseInteractionFixture(t *testing.T) {
	got, err := ParseInteraction(fixtureBody(t))
	if err != nil {
		t.Fatal(err)
	}
	want := Action{
		Type: "block_actions", UserID: "W111", UserName: "primary-owner", TeamID: "T111",
		ActionID: "a", Value: "click_me_123", ChannelID: "C111", MessageTS: "111.222",
		ResponseURL: "https://hooks.slack.com/actions/T111/111/random-value",
		TriggerID:   "111.222.valid", ActionTS: "1596530385.194939",
	}
	if got != want {
		t.Fatalf("ParseInteraction =\n%+v\nwant\n%+v", got, want)
	}
}

func TestParseInteractionFallbacks(t *testing.T) {
	// Without container, the channel and message come from channel.id and
	// message.ts; without user.team_id, from team.id.
	p := `{"type":"block_actions","user":{"id":"U1","name":"n"},"team":{"id":"T9"},"channel":{"id":"C9"},
		"message":{"ts":"1.2"},"actions":[{"action_id":"vigil_ack","value":"7"}]}`
	got, err := ParseInteraction([]byte(url.Values{"payload": {p}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	if got.ChannelID != "C9" || got.MessageTS != "1.2" || got.TeamID != "T9" || got.UserName != "n" || got.Value != "7" {
		t.Fatalf("got %+v", got)
	}
}

func TestParseInteractionErrors(t *testing.T) {
	form := func(p string) string { return url.Values{"payload": {p}}.Encode() }
	tests := []struct {
		name, body, field string
	}{
		{"empty body", "", "payload"},
		{"not a form", "%zz", "payload"},
		{"no payload field", "token=x", "payload"},
		{"payload not JSON", form("{"), "payload"},
		{"payload a JSON array", form("[]"), "payload"},
		{"no type", form(`{"user":{"id":"U1"},"actions":[{"action_id":"a"}]}`), "payload.type"},
		{"a view submission", form(`{"type":"view_submission","user":{"id":"U1"}}`), "payload.type"},
		{"no user", form(`{"type":"block_actions","actions":[{"action_id":"a"}]}`), "payload.user.id"},
		{"no actions", form(`{"type":"block_actions","user":{"id":"U1"}}`), "payload.actions"},
		{"empty actions", form(`{"type":"block_actions","user":{"id":"U1"},"actions":[]}`), "payload.actions"},
		{"no action id", form(`{"type":"block_actions","user":{"id":"U1"},"actions":[{"value":"1"}]}`), "payload.actions[0].action_id"},
		{"wrong field type", form(`{"type":"block_actions","user":{"id":1},"actions":[{"action_id":"a"}]}`), "payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseInteraction([]byte(tt.body))
			var fe *validation.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *validation.FieldError", err)
			}
			if fe.Field != tt.field {
				t.Fatalf("field = %q (%v), want %q", fe.Field, err, tt.field)
			}
		})
	}
}
