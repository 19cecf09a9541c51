package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks headers (https://www.standardwebhooks.com).
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// SecretPrefix marks a Standard Webhooks symmetric secret; the rest is the
// key in standard base64.
const SecretPrefix = "whsec_"

// Verification failures, for receivers that answer differently to each.
var (
	ErrMissingHeader = errors.New("webhook: missing webhook-id, webhook-timestamp or webhook-signature header")
	ErrBadTimestamp  = errors.New("webhook: malformed webhook-timestamp")
	ErrStale         = errors.New("webhook: timestamp outside the tolerance")
	ErrNoMatch       = errors.New("webhook: no matching signature")
)

// maxSignatures bounds the work an inbound header can cause.
const maxSignatures = 16

// decodeSecret returns the key bytes of a "whsec_"-prefixed secret. The
// prefix is optional, as in the specification's reference libraries.
func decodeSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		// Never echo the secret: the error may be logged.
		return nil, errors.New("webhook: signing secret is not " + SecretPrefix + " followed by base64")
	}
	if len(key) == 0 {
		return nil, errors.New("webhook: signing secret is empty")
	}
	return key, nil
}

func mac(key []byte, id string, ts int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, ts, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Sign returns the webhook-signature value ("v1," + base64 HMAC-SHA256 of
// id.timestamp.body) for the given secret.
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, ts.Unix(), body)), nil
}

// Verify checks a Standard Webhooks request: its timestamp must be within
// tolerance of now (either way), and one of the space-separated v1
// signatures must match, compared in constant time. Signatures of other
// versions are skipped, so a sender can add a scheme without breaking
// receivers.
func Verify(secret string, headers http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id := headers.Get(HeaderWebhookID)
	tsText := headers.Get(HeaderWebhookTimestamp)
	sigs := headers.Get(HeaderWebhookSignature)
	if id == "" || tsText == "" || sigs == "" {
		return ErrMissingHeader
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return ErrBadTimestamp
	}
	// Compare bounds rather than a difference: now-ts can overflow for a
	// hostile timestamp and wrap into looking fresh.
	nowS, tol := now.Unix(), int64(tolerance/time.Second)
	if ts < nowS-tol || ts > nowS+tol {
		return ErrStale
	}
	key, err := decodeSecret(secret)
	if err != nil {
		return err
	}
	want := mac(key, id, ts, body)
	for i, sig := range strings.Fields(sigs) {
		if i == maxSignatures {
			break
		}
		version, value, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.Strict().DecodeString(value)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrNoMatch
}

// NewSecret formats key bytes as a "whsec_" secret.
func NewSecret(key []byte) string {
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}
