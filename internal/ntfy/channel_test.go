package ntfy_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/ntfy"
	"github.com/vigil-soc/vigil/internal/ntfy/ntfyemu"
	"github.com/vigil-soc/vigil/internal/outbox"
)

const token = "tk_s3cretaccesstoken0000000000"

func page() notify.Notification {
	return notify.Notification{
		ID: "n-12-1", Kind: notify.KindPage,
		To:     notify.ContactMethod{ID: 3, Type: notify.TypeNtfy, Value: "vigil-alice"},
		PageID: 12, Title: "Impossible travel", Urgency: "high",
		AckURL: "", ItemURL: "https://vigil.example/items/40",
	}
}

func startEmu(t *testing.T, tok string) (*ntfyemu.Server, string) {
	t.Helper()
	emu := ntfyemu.New(tok)
	base, err := emu.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	return emu, base
}

// TestAcknowledgeFromThePhone publishes a page, then presses its
// Acknowledge button as the ntfy app would: vigil's ack endpoint (a stub
// here) must get a POST with the form action=acknowledge.
func TestAcknowledgeFromThePhone(t *testing.T) {
	var mu sync.Mutex
	var acked []string
	ack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			http.Error(w, "GET shows a button and acts on nothing", http.StatusMethodNotAllowed)
			return
		}
		r.ParseForm()
		if r.PostForm.Get("action") != "acknowledge" {
			http.Error(w, "no action", http.StatusBadRequest)
			return
		}
		mu.Lock()
		acked = append(acked, r.URL.Path)
		mu.Unlock()
		io.WriteString(w, "acknowledged")
	}))
	defer ack.Close()

	emu, base := startEmu(t, token)
	ch := ntfy.NewChannel(ntfy.Config{ServerURL: base + "/", Token: token})
	if ch.Type() != notify.TypeNtfy {
		t.Errorf("Type = %q", ch.Type())
	}
	n := page()
	n.AckURL = ack.URL + "/ack/tok123"
	r, err := ch.Send(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	if r.Provider != "ntfy" || r.Status != notify.StatusSent || len(r.ProviderID) != 12 {
		t.Errorf("receipt = %+v", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msg, err := emu.WaitMessage(ctx, func(m map[string]any) bool { return m["id"] == r.ProviderID })
	if err != nil {
		t.Fatal(err)
	}
	if msg["topic"] != "vigil-alice" || msg["priority"] != float64(5) || msg["event"] != "message" {
		t.Errorf("message = %v", msg)
	}
	status, body, err := emu.PressHTTPAction(ctx, msg, "Acknowledge")
	if err != nil || status != 200 || body != "acknowledged" {
		t.Fatalf("press = %d %q %v", status, body, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(acked) != 1 || acked[0] != "/ack/tok123" {
		t.Errorf("acknowledged %v", acked)
	}
	if _, _, err := ntfyemu.PressHTTPAction(ctx, msg, "Open"); err == nil {
		t.Error("pressed a view action as http")
	}
}

func TestSendErrors(t *testing.T) {
	emu, base := startEmu(t, token)
	now := time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)
	tests := []struct {
		name      string
		cfg       ntfy.Config
		topic     string
		fail      int
		retryable bool
		after     time.Duration
		contains  string
	}{
		{name: "wrong token", cfg: ntfy.Config{ServerURL: base, Token: "tk_wrongwrongwrong"}, topic: "t", contains: "HTTP 401: unauthorized (code 40101)"},
		{name: "no token", cfg: ntfy.Config{ServerURL: base}, topic: "t", contains: "HTTP 401"},
		{name: "bad topic", cfg: ntfy.Config{ServerURL: base, Token: token}, topic: "a/b", contains: "topic must be"},
		{name: "throttled", cfg: ntfy.Config{ServerURL: base, Token: token}, topic: "t", fail: 429, retryable: true, after: time.Second, contains: "too many requests (code 42901)"},
		{name: "server error", cfg: ntfy.Config{ServerURL: base, Token: token}, topic: "t", fail: 500, retryable: true, after: time.Second, contains: "HTTP 500"},
		{name: "forbidden", cfg: ntfy.Config{ServerURL: base, Token: token}, topic: "t", fail: 403, contains: "HTTP 403"},
		{name: "bad server URL", cfg: ntfy.Config{ServerURL: "ntfy.example", Token: token}, topic: "t", contains: "not an http(s) URL"},
		{name: "nothing listens", cfg: ntfy.Config{ServerURL: "http://127.0.0.1:1", Token: token}, topic: "t", retryable: true, contains: "publish to http://127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu.Fail(0, 0)
			if tt.fail != 0 {
				emu.Fail(1, tt.fail)
			}
			tt.cfg.Now = func() time.Time { return now }
			n := page()
			n.To.Value = tt.topic
			r, err := ntfy.NewChannel(tt.cfg).Send(context.Background(), n)
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if r.Provider != "ntfy" || r.Status != "" {
				t.Errorf("receipt = %+v", r)
			}
			var re *outbox.RetryableError
			if got := errors.As(err, &re); got != tt.retryable {
				t.Errorf("retryable = %v, want %v (%v)", got, tt.retryable, err)
			} else if got && re.After != tt.after {
				t.Errorf("After = %v, want %v", re.After, tt.after)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q lacks %q", err, tt.contains)
			}
			if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "tk_wrong") {
				t.Errorf("error holds the token: %v", err)
			}
		})
	}
}

// TestTokenEchoIsScrubbed: a proxy that echoes the Authorization header
// in its error page must not put the token into the error text.
func TestTokenEchoIsScrubbed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad gateway for "+r.Header.Get("Authorization"), http.StatusBadRequest)
	}))
	defer srv.Close()
	_, err := ntfy.NewChannel(ntfy.Config{ServerURL: srv.URL, Token: token}).Send(context.Background(), page())
	if err == nil || strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("error = %v", err)
	}
}

// TestNoIDStillSent: a 2xx without an id means the message went out.
func TestNoIDStillSent(t *testing.T) {
	var got url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.Query()
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	r, err := ntfy.NewChannel(ntfy.Config{ServerURL: srv.URL}).Send(context.Background(), page())
	if err != nil || r.Status != notify.StatusSent || r.ProviderID != "" {
		t.Errorf("receipt %+v, err %v", r, err)
	}
	if len(got) != 0 {
		t.Errorf("query %v: the topic goes in the body", got)
	}
}
