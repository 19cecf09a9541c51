package slack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of a signed Slack request.
const (
	HeaderTimestamp = "X-Slack-Request-Timestamp"
	HeaderSignature = "X-Slack-Signature"
)

// MaxBody is the largest interactivity request body read. A block_actions
// payload is a few KiB; anything near this is not Slack.
const MaxBody = 64 << 10

// DefaultWindow is how far a request's timestamp may be from now, as
// Slack recommends.
const DefaultWindow = 5 * time.Minute

// Verification errors. Each is matched with errors.Is; the texts name no
// secret and no expected signature.
var (
	ErrUnsigned     = errors.New("slack: request is not signed")
	ErrBadSignature = errors.New("slack: request signature does not match")
	ErrStale        = errors.New("slack: request timestamp is outside the window")
	ErrTooLarge     = errors.New("slack: request body is too large")
)

// VerifyRequest checks r's v0 signature, "v0=" + hex(HMAC-SHA256(secret,
// "v0:" + timestamp + ":" + body)), and that X-Slack-Request-Timestamp is
// within window of now either way (DefaultWindow when window <= 0). It
// reads the whole body (at most MaxBody bytes) and returns it; r.Body is
// consumed.
func VerifyRequest(r *http.Request, signingSecret string, now time.Time, window time.Duration) ([]byte, error) {
	if signingSecret == "" {
		// Never verify against an empty key: anyone could sign.
		return nil, errors.New("slack: no signing secret configured")
	}
	if window <= 0 {
		window = DefaultWindow
	}
	tsHeader := r.Header.Get(HeaderTimestamp)
	sig := r.Header.Get(HeaderSignature)
	if tsHeader == "" || sig == "" {
		return nil, ErrUnsigned
	}
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil || ts < 0 {
		return nil, fmt.Errorf("%w: timestamp is not a decimal integer", ErrUnsigned)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > window || d < -window {
		return nil, fmt.Errorf("%w: timestamp is %s from now", ErrStale, d.Round(time.Second))
	}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if !Valid(signingSecret, tsHeader, body, sig) {
		return nil, ErrBadSignature
	}
	return body, nil
}

func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("slack: read request body: %w", err)
	}
	if len(body) > MaxBody {
		return nil, ErrTooLarge
	}
	return body, nil
}

// Sign returns the v0 signature of body sent at timestamp (decimal Unix
// seconds).
func Sign(signingSecret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(signingSecret))
	m.Write([]byte("v0:" + timestamp + ":"))
	m.Write(body)
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}

// Valid reports whether sig is the v0 signature of body at timestamp,
// comparing in constant time.
func Valid(signingSecret, timestamp string, body []byte, sig string) bool {
	hexSig, ok := strings.CutPrefix(sig, "v0=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	want, _ := hex.DecodeString(strings.TrimPrefix(Sign(signingSecret, timestamp, body), "v0="))
	return hmac.Equal(got, want)
}
