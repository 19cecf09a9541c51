package notify

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The Standard Webhooks specification's published test vector
// (standard-webhooks/standard-webhooks, libraries/go/webhook_test.go,
// TestWebhookSign): reproducing it is what says a receiver's library will
// accept what vigil sends.
const (
	vecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vecID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vecTS     = 1614265330
	vecBody   = `{"test": 2432232314}`
	vecSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func vecHeaders(sig string, ts int64) http.Header {
	h := http.Header{}
	h.Set(HeaderWebhookID, vecID)
	h.Set(HeaderWebhookTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderWebhookSignature, sig)
	return h
}

func TestSignMatchesSpecVector(t *testing.T) {
	for _, secret := range []string{vecSecret, vecSecret[len(SecretPrefix):]} {
		got, err := Sign(secret, vecID, time.Unix(vecTS, 0), []byte(vecBody))
		if err != nil {
			t.Fatal(err)
		}
		if got != vecSig {
			t.Errorf("Sign(%q) = %q, want %q", secret, got, vecSig)
		}
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(vecTS, 0)
	const tol = 5 * time.Minute
	other := "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
	tests := []struct {
		name    string
		headers http.Header
		body    string
		now     time.Time
		secret  string
		want    error // nil, or the sentinel errors.Is must find
		anyErr  bool
	}{
		{name: "spec vector", headers: vecHeaders(vecSig, vecTS), body: vecBody, now: now},
		{name: "several signatures, one valid", headers: vecHeaders(other+" v2,"+vecSig[3:]+" "+vecSig+" "+other, vecTS), body: vecBody, now: now},
		{name: "at the edge of tolerance", headers: vecHeaders(vecSig, vecTS), body: vecBody, now: now.Add(tol)},
		{name: "too old", headers: vecHeaders(vecSig, vecTS), body: vecBody, now: now.Add(tol + time.Second), want: ErrStale},
		{name: "from the future", headers: vecHeaders(vecSig, vecTS), body: vecBody, now: now.Add(-tol - time.Second), want: ErrStale},
		{name: "tampered body", headers: vecHeaders(vecSig, vecTS), body: `{"test": 2432232315}`, now: now, want: ErrNoMatch},
		{name: "wrong signature", headers: vecHeaders(other, vecTS), body: vecBody, now: now, want: ErrNoMatch},
		{name: "v2 only", headers: vecHeaders("v2,"+vecSig[3:], vecTS), body: vecBody, now: now, want: ErrNoMatch},
		{name: "not base64", headers: vecHeaders("v1,!!!", vecTS), body: vecBody, now: now, want: ErrNoMatch},
		{name: "wrong secret", headers: vecHeaders(vecSig, vecTS), body: vecBody, now: now, secret: NewSecret([]byte("another key")), want: ErrNoMatch},
		{name: "missing id", headers: func() http.Header { h := vecHeaders(vecSig, vecTS); h.Del(HeaderWebhookID); return h }(), body: vecBody, now: now, want: ErrMissingHeader},
		{name: "missing signature", headers: func() http.Header { h := vecHeaders(vecSig, vecTS); h.Del(HeaderWebhookSignature); return h }(), body: vecBody, now: now, want: ErrMissingHeader},
		{name: "float timestamp", headers: func() http.Header {
			h := vecHeaders(vecSig, vecTS)
			h.Set(HeaderWebhookTimestamp, "1614265330.5")
			return h
		}(), body: vecBody, now: now, want: ErrBadTimestamp},
		{name: "timestamp that overflows a difference", headers: vecHeaders(vecSig, vecTS-(1<<63-1)-2), body: vecBody, now: now, want: ErrStale},
		{name: "secret not base64", headers: vecHeaders(vecSig, vecTS), body: vecBody, now: now, secret: "whsec_***", anyErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret := tt.secret
			if secret == "" {
				secret = vecSecret
			}
			err := Verify(secret, tt.headers, []byte(tt.body), tt.now, tol)
			switch {
			case tt.anyErr:
				if err == nil {
					t.Fatal("Verify accepted it")
				}
			case tt.want == nil && err != nil:
				t.Fatalf("Verify: %v", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSignedRoundTrip(t *testing.T) {
	secret := NewSecret([]byte("0123456789abcdef0123456789abcdef"))
	now := time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)
	body := []byte(`{"type":"page.triggered"}`)
	sig, err := Sign(secret, "n-1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(HeaderWebhookID, "n-1")
	h.Set(HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(HeaderWebhookSignature, sig)
	if err := Verify(secret, h, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	// The id is signed: replaying the body under another id fails.
	h.Set(HeaderWebhookID, "n-2")
	if err := Verify(secret, h, body, now, 5*time.Minute); !errors.Is(err, ErrNoMatch) {
		t.Fatalf("replay under another id: %v", err)
	}
}

// FuzzVerify feeds hostile headers to Verify: it must never panic, and
// must accept only what carries the right signature.
func FuzzVerify(f *testing.F) {
	f.Add(vecID, strconv.Itoa(vecTS), vecSig, []byte(vecBody))
	f.Add("", "", "", []byte(nil))
	f.Add("x", "-9223372036854775808", "v1,", []byte("{}"))
	f.Add(vecID, "9223372036854775807", "v1,a v1,b v2,c ,,, v1", []byte(vecBody))
	now := time.Unix(vecTS, 0)
	f.Fuzz(func(t *testing.T, id, ts, sigs string, body []byte) {
		h := http.Header{}
		h.Set(HeaderWebhookID, id)
		h.Set(HeaderWebhookTimestamp, ts)
		h.Set(HeaderWebhookSignature, sigs)
		err := Verify(vecSecret, h, body, now, 5*time.Minute)
		if err != nil {
			return
		}
		// Accepted: the timestamp must be fresh and a signature genuine.
		n, perr := strconv.ParseInt(h.Get(HeaderWebhookTimestamp), 10, 64)
		if perr != nil || n < vecTS-300 || n > vecTS+300 {
			t.Fatalf("accepted timestamp %q", ts)
		}
		want, _ := Sign(vecSecret, h.Get(HeaderWebhookID), time.Unix(n, 0), body)
		found := false
		for _, s := range splitFields(h.Get(HeaderWebhookSignature)) {
			if s == want {
				found = true
			}
		}
		if !found {
			t.Fatalf("accepted %q without the genuine signature %q", sigs, want)
		}
	})
}

func splitFields(s string) []string { return strings.Fields(s) }

func BenchmarkVerify(b *testing.B) {
	h := vecHeaders(vecSig, vecTS)
	body := []byte(vecBody)
	now := time.Unix(vecTS, 0)
	for i := 0; i < b.N; i++ {
		if err := Verify(vecSecret, h, body, now, 5*time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}
