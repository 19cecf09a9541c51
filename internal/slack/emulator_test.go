package slack_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/slack"
	"github.com/vigil-soc/vigil/internal/slack/slackemu"
)

const (
	token  = "xoxb-emu-token"
	secret = "emu-signing-secret"
)

func startEmu(t *testing.T) (*slackemu.Server, *slack.Client) {
	t.Helper()
	emu := slackemu.New(token, secret)
	base, err := emu.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	return emu, slack.New(slack.Config{APIURL: base + "/api", BotToken: token})
}

func page() notify.Notification {
	return notify.Notification{
		ID: "n-7-1", Kind: notify.KindPage, To: notify.ContactMethod{ID: 3, Type: notify.TypeSlack, Value: "C0ONCALL"},
		PageID: 7, WorkItemID: 42, Title: "Ransomware note on FS01", Severity: "high", Urgency: "high",
		Service: "File servers", ItemURL: "https://vigil.example/items/42", CreatedAt: time.Now(),
	}
}

func TestClientRoundTrip(t *testing.T) {
	emu, c := startEmu(t)
	ctx := context.Background()
	m := slack.PageMessage(page(), slack.StateTriggered, "", time.Time{})
	p, err := c.PostMessage(ctx, "C0ONCALL", m)
	if err != nil {
		t.Fatal(err)
	}
	if p.Channel != "C0ONCALL" || !strings.Contains(p.TS, ".") || len(strings.Split(p.TS, ".")[1]) != 6 {
		t.Fatalf("posted = %+v", p)
	}
	calls := emu.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d calls", len(calls))
	}
	call := calls[0]
	if call.Method != "chat.postMessage" || call.Header.Get("Content-Type") != "application/json; charset=utf-8" ||
		call.Header.Get("Authorization") != "Bearer "+token {
		t.Fatalf("call = %s %v", call.Method, call.Header)
	}
	var body map[string]any
	if err := json.Unmarshal(call.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body["channel"] != "C0ONCALL" || body["text"] != m.Text || len(body["blocks"].([]any)) != len(m.Blocks) {
		t.Fatalf("body = %s", call.Body)
	}
	if _, ok := body["ts"]; ok {
		t.Fatal("chat.postMessage sent a ts")
	}

	upd := slack.PageMessage(page(), slack.StateResolved, "alice", time.Now())
	if err := c.UpdateMessage(ctx, p.Channel, p.TS, upd); err != nil {
		t.Fatal(err)
	}
	msgs := emu.Messages()
	if len(msgs) != 1 || msgs[0].Updates != 1 || msgs[0].Text != upd.Text {
		t.Fatalf("messages = %+v", msgs)
	}
	if err := json.Unmarshal(emu.Calls()[1].Body, &body); err != nil || body["ts"] != p.TS || body["channel"] != p.Channel {
		t.Fatalf("chat.update body = %s", emu.Calls()[1].Body)
	}

	var ae *slack.APIError
	if err := c.UpdateMessage(ctx, p.Channel, "1.000000", upd); !errors.As(err, &ae) || ae.Code != "message_not_found" {
		t.Fatalf("update of an unknown ts: %v", err)
	}
}

func TestClientAgainstEmulatorErrors(t *testing.T) {
	emu, c := startEmu(t)
	ctx := context.Background()
	msg := slack.Message{Text: "hi"}
	tests := []struct {
		name      string
		setup     func()
		client    *slack.Client
		channel   string
		m         slack.Message
		code      string
		retryable bool
	}{
		{"wrong token", nil, slack.New(slack.Config{APIURL: emuURL(t, emu) + "/api", BotToken: "xoxb-wrong"}), "C1X", msg, "invalid_auth", false},
		{"no channel", nil, c, "", msg, "invalid_arguments", false},
		{"bad channel", nil, c, "#general", msg, "channel_not_found", false},
		{"no text", nil, c, "C1X", slack.Message{}, "no_text", false},
		{"block without type", nil, c, "C1X", slack.Message{Text: "x", Blocks: []any{map[string]any{"text": "x"}}}, "invalid_blocks", false},
		{"blocks not objects", nil, c, "C1X", slack.Message{Text: "x", Blocks: []any{"x"}}, "invalid_blocks_format", false},
		{"header too long", nil, c, "C1X", slack.Message{Text: "x", Blocks: []any{map[string]any{"type": "header", "text": map[string]any{"type": "plain_text", "text": strings.Repeat("h", 151)}}}}, "invalid_blocks", false},
		{"FailWith not_in_channel", func() { emu.FailWith(1, "not_in_channel") }, c, "C1X", msg, "not_in_channel", false},
		{"FailWith ratelimited", func() { emu.FailWith(1, "ratelimited") }, c, "C1X", msg, "ratelimited", true},
		{"Fail 429", func() { emu.Fail(1, 429) }, c, "C1X", msg, "", true},
		{"Fail 502", func() { emu.Fail(1, 502) }, c, "C1X", msg, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			_, err := tt.client.PostMessage(ctx, tt.channel, tt.m)
			var re *outbox.RetryableError
			if errors.As(err, &re) != tt.retryable {
				t.Fatalf("err = %v, retryable want %v", err, tt.retryable)
			}
			if tt.name == "Fail 429" && re.After != time.Second {
				t.Fatalf("After = %s, want the emulator's Retry-After 1", re.After)
			}
			var ae *slack.APIError
			if tt.code != "" && (!errors.As(err, &ae) || ae.Code != tt.code) {
				t.Fatalf("err = %v, want code %s", err, tt.code)
			}
		})
	}
	// The failures were used up: the next call goes through.
	if _, err := c.PostMessage(ctx, "C1X", msg); err != nil {
		t.Fatal(err)
	}
}

// emuURL serves emu on a second loopback listener, through ServeHTTP.
func emuURL(t *testing.T, emu *slackemu.Server) string {
	t.Helper()
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestChannelSendUpdateClick(t *testing.T) {
	emu, c := startEmu(t)
	ctx := context.Background()
	ch := slack.NewChannel(c)
	if ch.Type() != notify.TypeSlack {
		t.Fatal(ch.Type())
	}

	// A member id: Slack answers with the DM's channel.
	n := page()
	n.To.Value = "U0ALICE"
	r, err := ch.Send(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	channel, ts, err := slack.SplitProviderID(r.ProviderID)
	if err != nil || r.Provider != "slack" || r.Status != notify.StatusSent || channel != "DU0ALICE" {
		t.Fatalf("receipt = %+v (%v)", r, err)
	}

	// Interactions go to a handler that verifies and parses as vigil will.
	got := make(chan slack.Action, 4)
	h := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := slack.VerifyRequest(req, secret, time.Now(), 5*time.Minute)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		a, err := slack.ParseInteraction(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- a
		w.WriteHeader(http.StatusOK)
	}))
	defer h.Close()
	emu.SetInteractivityURL(h.URL)
	emu.SetUser("U0ALICE", "alice")

	status, _, err := emu.Click(ctx, channel, ts, slack.ActionAck, "U0ALICE")
	if err != nil || status != http.StatusOK {
		t.Fatalf("click: %d %v", status, err)
	}
	a := <-got
	if a.ActionID != slack.ActionAck || a.Value != "7" || a.UserID != "U0ALICE" || a.UserName != "alice" ||
		a.ChannelID != channel || a.MessageTS != ts || a.Type != "block_actions" || a.ResponseURL == "" {
		t.Fatalf("action = %+v", a)
	}

	// The page is acknowledged: the message loses its acknowledge button.
	if err := ch.Update(ctx, r.ProviderID, n, slack.StateAcknowledged, "alice", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := emu.Click(ctx, channel, ts, slack.ActionAck, "U0ALICE"); err == nil {
		t.Fatal("a removed button was pressed")
	}
	if status, _, err := emu.Click(ctx, channel, ts, slack.ActionResolve, "U0ALICE"); err != nil || status != 200 {
		t.Fatalf("resolve click: %d %v", status, err)
	}
	<-got

	// Resolved through a notification naming the message: in place.
	res := n
	res.Kind, res.UpdateOf, res.By, res.ID = notify.KindResolved, r.ProviderID, "bob", "n-7-2"
	r2, err := ch.Send(ctx, res)
	if err != nil || r2.ProviderID != r.ProviderID {
		t.Fatalf("resolve send: %+v %v", r2, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	m, err := emu.WaitMessage(wctx, func(p slackemu.Posted) bool { return p.TS == ts && p.Updates == 2 })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(mustJSON(t, m.Blocks), `"actions"`) || !strings.Contains(m.Text, "Resolved by bob") {
		t.Fatalf("resolved message = %s / %s", m.Text, mustJSON(t, m.Blocks))
	}
	if _, _, err := emu.Click(ctx, channel, ts, slack.ActionEscalate, "U0ALICE"); err == nil {
		t.Fatal("a resolved page's button was pressed")
	}

	// Replaying the captured interaction is byte for byte the same
	// request: its signature still verifies within the window, so vigil
	// must refuse it by its own replay check.
	if status, _, err := emu.ReplayLast(ctx); err != nil || status != http.StatusOK {
		t.Fatalf("replay: %d %v", status, err)
	}
	if b := <-got; b.TriggerID == "" {
		t.Fatal("replayed interaction has no trigger id")
	}

	// A message Slack no longer has: the state is posted afresh.
	res.UpdateOf, res.ID = channel+"/1.000000", "n-7-3"
	r3, err := ch.Send(ctx, res)
	if err != nil || r3.ProviderID == r.ProviderID || r3.ProviderID == "" {
		t.Fatalf("fallback post: %+v %v", r3, err)
	}

	// Verification codes are plain text.
	v := notify.Notification{ID: "v-1", Kind: notify.KindVerify, To: notify.ContactMethod{Type: notify.TypeSlack, Value: "C0ONCALL"}, Subject: "[vigil] Verification code 482913"}
	if _, err := ch.Send(ctx, v); err != nil {
		t.Fatal(err)
	}
	if _, err := emu.WaitMessage(wctx, func(p slackemu.Posted) bool { return strings.Contains(p.Text, "482913") }); err != nil {
		t.Fatal(err)
	}
}

func TestChannelSendErrors(t *testing.T) {
	emu, c := startEmu(t)
	ch := slack.NewChannel(c)
	emu.Fail(1, 503)
	_, err := ch.Send(context.Background(), page())
	var re *outbox.RetryableError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want retryable", err)
	}
	emu.FailWith(1, "not_in_channel")
	_, err = ch.Send(context.Background(), page())
	var ae *slack.APIError
	if errors.As(err, &re) || !errors.As(err, &ae) {
		t.Fatalf("err = %v, want a permanent APIError", err)
	}
	if err := ch.Update(context.Background(), "nonsense", page(), slack.StateResolved, "", time.Time{}); err == nil {
		t.Fatal("a bad provider id was accepted")
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
