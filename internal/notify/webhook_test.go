package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/outbox"
)

var t0 = time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func samplePage(to ContactMethod) Notification {
	return Notification{
		ID: "page-7.step-0.cm-3", Kind: KindPage, To: to,
		Subject: "[vigil] Page: Impossible travel <admin>",
		Text:    "Sign-ins from Helsinki and Lagos within 4 minutes.",
		PageID:  7, WorkItemID: 42, Title: "Impossible travel <admin>", Severity: "high", Urgency: "high",
		Service: "Identity", Summary: "2 alerts", AckURL: "https://vigil.example/ack/7?sig=abc&exp=1",
		ResolveURL: "https://vigil.example/resolve/7?sig=def", ItemURL: "https://vigil.example/items/42",
		CreatedAt: t0,
	}
}

type hookRecord struct {
	header http.Header
	body   []byte
}

// hookServer answers with the given status and headers and records what
// it received.
func hookServer(t *testing.T, status int, hdr map[string]string) (*httptest.Server, func() []hookRecord) {
	t.Helper()
	var mu sync.Mutex
	var got []hookRecord
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, hookRecord{r.Header.Clone(), body})
		mu.Unlock()
		for k, v := range hdr {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "answer")
	}))
	t.Cleanup(srv.Close)
	return srv, func() []hookRecord { mu.Lock(); defer mu.Unlock(); return append([]hookRecord(nil), got...) }
}

func newTestWebhook(t *testing.T, clk clock.Clock) *Webhook {
	t.Helper()
	w, err := NewWebhook(WebhookConfig{
		Secret: func(_ context.Context, id int64) (string, error) {
			if id != 3 {
				return "", errors.New("no such contact method")
			}
			return NewSecret(testKey), nil
		},
		Timeout: 2 * time.Second, Clock: clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWebhookDeliversSignedEvent(t *testing.T) {
	srv, got := hookServer(t, http.StatusNoContent, nil)
	clk := clock.NewFake(t0.Add(3 * time.Second))
	w := newTestWebhook(t, clk)
	n := samplePage(ContactMethod{ID: 3, Type: TypeWebhook, Value: srv.URL + "/hook?token=s3cret"})
	if err := second(w.Send(context.Background(), n)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if err := second(w.Send(context.Background(), n)); err != nil { // a resend after a lost answer
		t.Fatal(err)
	}
	recs := got()
	if len(recs) != 2 {
		t.Fatalf("received %d requests, want 2", len(recs))
	}
	for i, r := range recs {
		if err := Verify(NewSecret(testKey), r.header, r.body, clk.Now(), 5*time.Minute); err != nil {
			t.Fatalf("request %d does not verify: %v", i, err)
		}
		if id := r.header.Get(HeaderWebhookID); id != n.ID {
			t.Errorf("webhook-id = %q, want %q", id, n.ID)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
	}
	if string(recs[0].body) != string(recs[1].body) {
		t.Error("the body changed between attempts; receivers deduplicating on it would see two events")
	}
	if recs[0].header.Get(HeaderWebhookTimestamp) == recs[1].header.Get(HeaderWebhookTimestamp) {
		t.Error("a resend reused the old timestamp")
	}
	var ev Event
	if err := json.Unmarshal(recs[0].body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Type != "page.triggered" || !ev.Timestamp.Equal(t0) || ev.Data.PageID != 7 || ev.Data.AckURL != n.AckURL ||
		ev.Data.NotificationID != n.ID || ev.Data.ContactMethodID != 3 {
		t.Errorf("event = %+v", ev)
	}
	if strings.Contains(string(recs[0].body), "s3cret") || strings.Contains(string(recs[0].body), "whsec_") {
		t.Error("the body leaks the URL token or the secret")
	}
}

func TestWebhookAnswers(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		hdr       map[string]string
		retryable bool
		after     time.Duration
	}{
		{name: "200", status: 200},
		{name: "202", status: 202},
		{name: "429 with Retry-After", status: 429, hdr: map[string]string{"Retry-After": "7"}, retryable: true, after: 7 * time.Second},
		{name: "503 with an HTTP date", status: 503, hdr: map[string]string{"Retry-After": t0.Add(time.Minute).Format(http.TimeFormat)}, retryable: true, after: time.Minute},
		{name: "500", status: 500, retryable: true},
		{name: "410 Gone", status: 410},
		{name: "400", status: 400},
		{name: "401", status: 401},
		{name: "302 not followed", status: 302, hdr: map[string]string{"Location": "https://elsewhere.example/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, got := hookServer(t, tt.status, tt.hdr)
			w := newTestWebhook(t, clock.NewFake(t0))
			err := second(w.Send(context.Background(), samplePage(ContactMethod{ID: 3, Type: TypeWebhook, Value: srv.URL + "/x?token=s3cret"})))
			if len(got()) != 1 {
				t.Fatalf("%d requests, want 1", len(got()))
			}
			if tt.status < 300 {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Send succeeded")
			}
			var re *outbox.RetryableError
			if errors.As(err, &re) != tt.retryable {
				t.Fatalf("retryable = %v, want %v: %v", !tt.retryable, tt.retryable, err)
			}
			if tt.retryable && re.After != tt.after {
				t.Errorf("After = %v, want %v", re.After, tt.after)
			}
			if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "/x") {
				t.Errorf("error leaks the URL: %v", err)
			}
		})
	}
}

func TestWebhookRefusals(t *testing.T) {
	srv, _ := hookServer(t, 200, nil)
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	tests := []struct {
		name      string
		to        ContactMethod
		retryable bool
	}{
		{name: "file URL", to: ContactMethod{ID: 3, Type: TypeWebhook, Value: "file:///etc/passwd"}},
		{name: "gopher URL", to: ContactMethod{ID: 3, Type: TypeWebhook, Value: "gopher://x/"}},
		{name: "no host", to: ContactMethod{ID: 3, Type: TypeWebhook, Value: "https:///path"}},
		{name: "unknown contact method has no secret", to: ContactMethod{ID: 4, Type: TypeWebhook, Value: srv.URL}},
		{name: "server down", to: ContactMethod{ID: 3, Type: TypeWebhook, Value: downURL + "/?token=s3cret"}, retryable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := second(newTestWebhook(t, clock.NewFake(t0)).Send(context.Background(), samplePage(tt.to)))
			if err == nil {
				t.Fatal("Send succeeded")
			}
			var re *outbox.RetryableError
			if errors.As(err, &re) != tt.retryable {
				t.Fatalf("retryable = %v, want %v: %v", !tt.retryable, tt.retryable, err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error leaks the URL token: %v", err)
			}
		})
	}
}

func TestWebhookEmptySecretIsRefused(t *testing.T) {
	srv, got := hookServer(t, 200, nil)
	w, err := NewWebhook(WebhookConfig{Secret: func(context.Context, int64) (string, error) { return "", nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := second(w.Send(context.Background(), samplePage(ContactMethod{ID: 3, Type: TypeWebhook, Value: srv.URL}))); err == nil {
		t.Fatal("sent unsigned")
	}
	if len(got()) != 0 {
		t.Fatal("an unsigned request reached the server")
	}
}

func BenchmarkWebhookSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	w, err := NewWebhook(WebhookConfig{Secret: func(context.Context, int64) (string, error) { return NewSecret(testKey), nil }})
	if err != nil {
		b.Fatal(err)
	}
	n := samplePage(ContactMethod{ID: 3, Type: TypeWebhook, Value: srv.URL})
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := second(w.Send(ctx, n)); err != nil {
			b.Fatal(err)
		}
	}
}
