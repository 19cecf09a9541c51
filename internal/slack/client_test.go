package slack

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/outbox"
)

const testToken = "xoxb-test-SECRET-token"

func TestErrorClassification(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		header    string // Retry-After
		body      string
		retryable bool
		after     time.Duration
		code      string // the *APIError code, for ok:false answers
	}{
		{"ok", 200, "", `{"ok":true,"channel":"C1","ts":"1.000001"}`, false, 0, ""},
		{"ratelimited in the body", 200, "", `{"ok":false,"error":"ratelimited"}`, true, 0, "ratelimited"},
		{"HTTP 429 with Retry-After", 429, "7", `{"ok":false,"error":"ratelimited"}`, true, 7 * time.Second, ""},
		{"HTTP 429 without a body", 429, "", ``, true, 0, ""},
		{"HTTP 500", 500, "", `oops`, true, 0, ""},
		{"HTTP 503 with Retry-After", 503, "2", `<html>`, true, 2 * time.Second, ""},
		{"internal_error", 200, "", `{"ok":false,"error":"internal_error"}`, true, 0, "internal_error"},
		{"service_unavailable", 200, "", `{"ok":false,"error":"service_unavailable"}`, true, 0, "service_unavailable"},
		{"invalid_auth", 200, "", `{"ok":false,"error":"invalid_auth"}`, false, 0, "invalid_auth"},
		{"channel_not_found", 200, "", `{"ok":false,"error":"channel_not_found"}`, false, 0, "channel_not_found"},
		{"not_in_channel", 200, "", `{"ok":false,"error":"not_in_channel"}`, false, 0, "not_in_channel"},
		{"invalid_blocks", 200, "", `{"ok":false,"error":"invalid_blocks","errors":["x"]}`, false, 0, "invalid_blocks"},
		{"account_inactive", 200, "", `{"ok":false,"error":"account_inactive"}`, false, 0, "account_inactive"},
		{"HTTP 404", 404, "", `not here`, false, 0, ""},
		{"not JSON", 200, "", `<html>proxy</html>`, false, 0, ""},
		{"ok false without a code", 200, "", `{"ok":false}`, false, 0, ""},
		{"ok without a ts", 200, "", `{"ok":true}`, false, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.header != "" {
					w.Header().Set("Retry-After", tt.header)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c := New(Config{APIURL: srv.URL, BotToken: testToken})
			_, err := c.PostMessage(context.Background(), "C1", Message{Text: "x"})
			if tt.name == "ok" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			var re *outbox.RetryableError
			if errors.As(err, &re) != tt.retryable {
				t.Fatalf("err = %v (%T), retryable want %v", err, err, tt.retryable)
			}
			if tt.retryable && re.After != tt.after {
				t.Fatalf("After = %s, want %s", re.After, tt.after)
			}
			var ae *APIError
			if tt.code != "" && (!errors.As(err, &ae) || ae.Code != tt.code || ae.Method != "chat.postMessage") {
				t.Fatalf("err = %v, want APIError %s", err, tt.code)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Fatalf("error %q holds the token", err)
			}
		})
	}
}

func TestNetworkErrorIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c := New(Config{APIURL: url, BotToken: testToken})
	err := c.UpdateMessage(context.Background(), "C1", "1.2", Message{Text: "x"})
	var re *outbox.RetryableError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want retryable", err)
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("error %q holds the token", err)
	}
}

func TestNewDefaults(t *testing.T) {
	c := New(Config{BotToken: "x"})
	if c.api != DefaultAPIURL || c.http == nil || c.now == nil {
		t.Fatalf("defaults not applied: %+v", c)
	}
	if c := New(Config{APIURL: "http://h/api/"}); c.api != "http://h/api" {
		t.Fatalf("api = %q", c.api)
	}
}
