package teams_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/teams"
	"github.com/vigil-soc/vigil/internal/teams/teamsemu"
)

func notification() notify.Notification {
	return notify.Notification{
		ID: "n-12-1", Kind: notify.KindPage,
		To:     notify.ContactMethod{ID: 3, Type: notify.TypeTeams, Value: "soc-oncall"},
		PageID: 12, Title: "Impossible travel", Urgency: "high", Severity: "high",
		AckURL: "https://vigil.example/ack/tok123", ItemURL: "https://vigil.example/items/40",
	}
}

func startEmu(t *testing.T) *teamsemu.Server {
	t.Helper()
	emu := teamsemu.New()
	if _, err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	return emu
}

func TestSendThroughEmulator(t *testing.T) {
	emu := startEmu(t)
	hookURL := emu.URL("soc-oncall")
	ch := teams.NewChannel(func(name string) (string, bool) {
		return hookURL, name == "soc-oncall"
	}, nil, nil)
	if ch.Type() != notify.TypeTeams {
		t.Errorf("Type = %q", ch.Type())
	}
	r, err := ch.Send(context.Background(), notification())
	if err != nil {
		t.Fatal(err)
	}
	if r != (notify.Receipt{Provider: "teams", Status: notify.StatusSent}) {
		t.Errorf("receipt = %+v", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	card, err := emu.WaitCard(ctx, func(c map[string]any) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if u, ok := teamsemu.OpenURL(card, teams.ActionAcknowledge); !ok || u != notification().AckURL {
		t.Errorf("Acknowledge opens %q (%v)", u, ok)
	}
	if u, ok := teamsemu.OpenURL(card, teams.ActionOpen); !ok || u != notification().ItemURL {
		t.Errorf("Open in vigil opens %q (%v)", u, ok)
	}
}

func TestSendErrors(t *testing.T) {
	emu := startEmu(t)
	good := emu.URL("soc-oncall")
	forged := strings.Replace(good, "sig=", "sig=00", 1)
	now := time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)

	tests := []struct {
		name      string
		url       string
		ok        bool
		fail      int
		retryable bool
		after     time.Duration
		contains  string
	}{
		{name: "unknown webhook name", url: "", ok: false, contains: `webhook "soc-oncall" is not configured`},
		{name: "forged sig is refused", url: forged, ok: true, contains: "HTTP 401"},
		{name: "throttled", url: good, ok: true, fail: 429, retryable: true, after: time.Second, contains: "HTTP 429"},
		{name: "server error", url: good, ok: true, fail: 502, retryable: true, after: time.Second, contains: "HTTP 502"},
		{name: "bad request", url: good, ok: true, fail: 400, contains: "HTTP 400"},
		{name: "not a URL", url: "ftp://x/y?sig=secretsecret", ok: true, contains: "no valid http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu.Fail(0, 0)
			if tt.fail != 0 {
				emu.Fail(1, tt.fail)
			}
			ch := teams.NewChannel(func(string) (string, bool) { return tt.url, tt.ok }, nil, func() time.Time { return now })
			r, err := ch.Send(context.Background(), notification())
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if r.Provider != "teams" || r.Status == notify.StatusSent {
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
			assertNoSecret(t, err, tt.url)
		})
	}
}

func TestNetworkErrorHidesURL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	hook := "http://" + addr + "/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=s3cr3tSignatureValue"
	ch := teams.NewChannel(func(string) (string, bool) { return hook, true }, nil, nil)
	_, err = ch.Send(context.Background(), notification())
	var re *outbox.RetryableError
	if !errors.As(err, &re) {
		t.Fatalf("error = %v, want retryable", err)
	}
	assertNoSecret(t, err, hook)
}

func TestRedirectIsNotFollowed(t *testing.T) {
	emu := startEmu(t)
	target := emu.URL("soc-oncall")
	redirect := httptest.NewServer(http.RedirectHandler(target, http.StatusTemporaryRedirect))
	defer redirect.Close()
	hook := redirect.URL + "/?sig=anotherSecretValue"
	ch := teams.NewChannel(func(string) (string, bool) { return hook, true }, redirect.Client(), nil)
	_, err := ch.Send(context.Background(), notification())
	if err == nil || !strings.Contains(err.Error(), "HTTP 307") {
		t.Fatalf("error = %v, want a permanent HTTP 307", err)
	}
	if n := len(emu.Cards()); n != 0 {
		t.Errorf("the redirect was followed: %d cards", n)
	}
	assertNoSecret(t, err, hook)
	assertNoSecret(t, err, target)
}

func assertNoSecret(t *testing.T, err error, hook string) {
	t.Helper()
	if hook == "" {
		return
	}
	if strings.Contains(err.Error(), hook) {
		t.Errorf("error text holds the webhook URL: %v", err)
	}
	if i := strings.Index(hook, "sig="); i >= 0 {
		sig := hook[i+4:]
		if j := strings.IndexByte(sig, '&'); j >= 0 {
			sig = sig[:j]
		}
		if strings.Contains(err.Error(), sig) {
			t.Errorf("error text holds the sig: %v", err)
		}
	}
}
