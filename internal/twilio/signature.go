package twilio

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
)

// SignatureHeader is the header Twilio signs webhooks with.
const SignatureHeader = "X-Twilio-Signature"

// IdempotencyHeader is the header Twilio sets to the same value on every
// retry of one webhook; callers use it to drop duplicates.
const IdempotencyHeader = "I-Twilio-Idempotency-Token"

// MaxWebhookBody bounds an inbound webhook body. Twilio's forms are a few
// KiB (an SMS body is at most 1,600 characters).
const MaxWebhookBody = 64 << 10

// Errors of VerifyRequest. ErrUnsigned maps to 401, ErrBadSignature to 403;
// anything else (too large, malformed, wrong method) is a 400.
var (
	ErrUnsigned     = errors.New("twilio: request has no " + SignatureHeader + " header")
	ErrBadSignature = errors.New("twilio: request signature does not verify")
	ErrTooLarge     = fmt.Errorf("twilio: webhook body over %d bytes", MaxWebhookBody)
)

// Signature computes X-Twilio-Signature: base64(HMAC-SHA1(authToken, url
// followed by key+value of every POST parameter, keys sorted)). A repeated
// key contributes once per distinct value, values sorted, as Twilio's SDKs
// do. For a JSON body Twilio puts bodySHA256 in the URL and params is
// empty.
func Signature(authToken, url string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	mac := hmac.New(sha1.New, []byte(authToken))
	io.WriteString(mac, url)
	for _, k := range keys {
		vals := slices.Clone(params[k])
		sort.Strings(vals)
		vals = slices.Compact(vals)
		for _, v := range vals {
			io.WriteString(mac, k)
			io.WriteString(mac, v)
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ValidSignature reports, in constant time, whether signature is Twilio's
// signature of url and params. An empty token or signature never
// validates.
func ValidSignature(authToken, url string, params url.Values, signature string) bool {
	if authToken == "" || signature == "" {
		return false
	}
	want := Signature(authToken, url, params)
	return subtle.ConstantTimeCompare([]byte(want), []byte(signature)) == 1
}

// VerifyRequest reads and verifies an inbound webhook and returns its form.
// publicURL is the full URL Twilio was told to call (scheme, host, path,
// query); it is not derived from r because vigil may sit behind a proxy.
// The URL is also tried with the default port added and with any port
// removed, since Twilio is not consistent about which it signs.
func VerifyRequest(r *http.Request, authToken, publicURL string) (url.Values, error) {
	sig := r.Header.Get(SignatureHeader)
	if sig == "" {
		return nil, ErrUnsigned
	}
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("twilio: webhook method %s not supported, only POST", r.Method)
	}
	if r.Body == nil {
		r.Body = http.NoBody
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxWebhookBody+1))
	if err != nil {
		return nil, fmt.Errorf("twilio: read webhook body: %w", err)
	}
	if len(body) > MaxWebhookBody {
		return nil, ErrTooLarge
	}
	// Restore the body: a JSON webhook's caller reads it after us.
	r.Body = io.NopCloser(bytes.NewReader(body))

	if authToken == "" {
		return nil, fmt.Errorf("%w: no auth token configured", ErrBadSignature)
	}
	pu, err := url.Parse(publicURL)
	if err != nil {
		// The URL is vigil's own configuration, not the caller's input.
		return nil, fmt.Errorf("twilio: webhook URL: %w", err)
	}
	candidates := urlVariants(pu, publicURL)

	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if wantHash := pu.Query().Get("bodySHA256"); wantHash != "" || mt == "application/json" {
		sum := sha256.Sum256(body)
		// Both checks always run so that timing says nothing about which failed.
		hashOK := subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(strings.ToLower(wantHash))) == 1
		sigOK := anyValid(authToken, candidates, nil, sig)
		if !hashOK || !sigOK {
			return nil, ErrBadSignature
		}
		return url.Values{}, nil
	}

	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("twilio: webhook form: %w", err)
	}
	if !anyValid(authToken, candidates, form, sig) {
		return nil, ErrBadSignature
	}
	return form, nil
}

func anyValid(authToken string, urls []string, params url.Values, sig string) bool {
	ok := false
	for _, u := range urls {
		// No early return: every candidate costs the same.
		if ValidSignature(authToken, u, params, sig) {
			ok = true
		}
	}
	return ok
}

// urlVariants returns raw as given, with the scheme's default port added
// when it has none, and without its port when it has one.
func urlVariants(u *url.URL, raw string) []string {
	out := []string{raw}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return out
	}
	if strings.Contains(host, ":") { // IPv6 literal
		host = "[" + host + "]"
	}
	v := *u
	if port == "" {
		switch u.Scheme {
		case "https":
			v.Host = net.JoinHostPort(u.Hostname(), "443")
		case "http":
			v.Host = net.JoinHostPort(u.Hostname(), "80")
		default:
			return out
		}
	} else {
		v.Host = host
	}
	if s := v.String(); s != raw {
		out = append(out, s)
	}
	return out
}
