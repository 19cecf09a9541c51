package slack

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vector is testdata/signature_test_vector.json, Slack's documented example.
type vector struct {
	Secret    string `json:"signing_secret"`
	Timestamp string `json:"X-Slack-Request-Timestamp"`
	Body      string `json:"body"`
	Signature string `json:"X-Slack-Signature"`
}

func loadVector(t testing.TB) vector {
	t.Helper()
	b, err := os.ReadFile("testdata/signature_test_vector.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vector
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func signedRequest(ts, sig, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/slack/interactivity", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if ts != "" {
		r.Header.Set(HeaderTimestamp, ts)
	}
	if sig != "" {
		r.Header.Set(HeaderSignature, sig)
	}
	return r
}

func TestVerifyRequestVector(t *testing.T) {
	v := loadVector(t)
	sec, _ := strconv.ParseInt(v.Timestamp, 10, 64)
	at := time.Unix(sec, 0)
	if got := Sign(v.Secret, v.Timestamp, []byte(v.Body)); got != v.Signature {
		t.Fatalf("Sign = %s, want the vector's %s", got, v.Signature)
	}
	tests := []struct {
		name                  string
		secret, ts, sig, body string
		now                   time.Time
		want                  error
	}{
		{"the documented example", v.Secret, v.Timestamp, v.Signature, v.Body, at, nil},
		{"4m59s later", v.Secret, v.Timestamp, v.Signature, v.Body, at.Add(299 * time.Second), nil},
		{"6 minutes later", v.Secret, v.Timestamp, v.Signature, v.Body, at.Add(6 * time.Minute), ErrStale},
		{"6 minutes early (from the future)", v.Secret, v.Timestamp, v.Signature, v.Body, at.Add(-6 * time.Minute), ErrStale},
		{"a changed body", v.Secret, v.Timestamp, v.Signature, v.Body + "&x=1", at, ErrBadSignature},
		{"a changed timestamp", v.Secret, strconv.FormatInt(sec+1, 10), v.Signature, v.Body, at, ErrBadSignature},
		{"a wrong secret", v.Secret + "x", v.Timestamp, v.Signature, v.Body, at, ErrBadSignature},
		{"v1 prefix", v.Secret, v.Timestamp, "v1=" + strings.TrimPrefix(v.Signature, "v0="), v.Body, at, ErrBadSignature},
		{"not hex", v.Secret, v.Timestamp, "v0=zz", v.Body, at, ErrBadSignature},
		{"upper-case hex is the same MAC", v.Secret, v.Timestamp, "v0=" + strings.ToUpper(strings.TrimPrefix(v.Signature, "v0=")), v.Body, at, nil},
		{"no signature", v.Secret, v.Timestamp, "", v.Body, at, ErrUnsigned},
		{"no timestamp", v.Secret, "", v.Signature, v.Body, at, ErrUnsigned},
		{"timestamp not a number", v.Secret, "1531420618.5", v.Signature, v.Body, at, ErrUnsigned},
		{"body too large", v.Secret, v.Timestamp, v.Signature, strings.Repeat("a", MaxBody+1), at, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := VerifyRequest(signedRequest(tt.ts, tt.sig, tt.body), tt.secret, tt.now, 5*time.Minute)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.want == nil && string(body) != tt.body {
				t.Fatalf("body = %q, want the request's", body)
			}
			if err != nil && strings.Contains(err.Error(), tt.secret) {
				t.Fatalf("error text %q holds the secret", err)
			}
		})
	}
}

func TestVerifyRequestDefaults(t *testing.T) {
	v := loadVector(t)
	sec, _ := strconv.ParseInt(v.Timestamp, 10, 64)
	at := time.Unix(sec, 0)
	if _, err := VerifyRequest(signedRequest(v.Timestamp, v.Signature, v.Body), "", at, 0); err == nil {
		t.Fatal("an empty signing secret verified a request")
	}
	// A zero window is the 5 minutes Slack recommends.
	if _, err := VerifyRequest(signedRequest(v.Timestamp, v.Signature, v.Body), v.Secret, at.Add(4*time.Minute), 0); err != nil {
		t.Fatalf("within the default window: %v", err)
	}
	if _, err := VerifyRequest(signedRequest(v.Timestamp, v.Signature, v.Body), v.Secret, at.Add(6*time.Minute), 0); !errors.Is(err, ErrStale) {
		t.Fatalf("past the default window: %v, want ErrStale", err)
	}
}
