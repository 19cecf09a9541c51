package twilio

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

type testVector struct {
	AuthToken    string            `json:"auth_token"`
	URL          string            `json:"url"`
	Params       map[string]string `json:"params"`
	Expected     string            `json:"expected_signature"`
	ExpectedHTTP string            `json:"expected_signature_http_scheme"`
	JSONBodyCase struct {
		Body       string `json:"body"`
		BodySHA256 string `json:"body_sha256_hex"`
		URL        string `json:"url"`
		Expected   string `json:"expected_signature"`
	} `json:"json_body_case"`
}

func loadVector(t *testing.T) (testVector, url.Values) {
	t.Helper()
	var v testVector
	if err := json.Unmarshal(readFixture(t, "request_signature_test_vector.json"), &v); err != nil {
		t.Fatal(err)
	}
	params := url.Values{}
	for k, val := range v.Params {
		params.Set(k, val)
	}
	return v, params
}

func TestSignatureVector(t *testing.T) {
	v, params := loadVector(t)
	httpURL := "http" + strings.TrimPrefix(v.URL, "https")
	tests := []struct {
		name, url string
		params    url.Values
		want      string
	}{
		{"https", v.URL, params, v.Expected},
		{"http scheme", httpURL, params, v.ExpectedHTTP},
		{"json body", v.JSONBodyCase.URL, nil, v.JSONBodyCase.Expected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Signature(v.AuthToken, tt.url, tt.params); got != tt.want {
				t.Errorf("Signature = %q, want %q", got, tt.want)
			}
			if !ValidSignature(v.AuthToken, tt.url, tt.params, tt.want) {
				t.Error("ValidSignature refused the vector")
			}
			if ValidSignature("54321", tt.url, tt.params, tt.want) {
				t.Error("ValidSignature accepted another token")
			}
		})
	}
}

func TestSignatureRepeatedKeys(t *testing.T) {
	// Order of values on the wire does not matter; duplicates count once.
	a := url.Values{"MediaUrl": {"b", "a"}, "Body": {"x"}}
	b := url.Values{"MediaUrl": {"a", "b", "a"}, "Body": {"x"}}
	if Signature("t", "https://h/p", a) != Signature("t", "https://h/p", b) {
		t.Error("value order changed the signature")
	}
	// Computed independently (Python hmac, twilio-node's rule: distinct
	// values of a key, sorted); also the FuzzVerifyRequest seed-valid-form.
	f, _ := url.ParseQuery("MessageSid=SM1&From=%2B1&To=%2B2&Body=1a&MediaUrl=b&MediaUrl=a")
	if got := Signature("fuzz-token", "https://vigil.example/twilio/sms", f); got != "d+m3l6Z4hQ+VJNSsZAj/+0P4n1c=" {
		t.Errorf("repeated-key signature = %q", got)
	}
}

func TestValidSignatureEmpty(t *testing.T) {
	sig := Signature("", "https://h/p", nil)
	if ValidSignature("", "https://h/p", nil, sig) {
		t.Error("empty token validated")
	}
	if ValidSignature("tok", "https://h/p", nil, "") {
		t.Error("empty signature validated")
	}
}

func signedRequest(token, signURL string, form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://internal:8080/twilio/sms", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set(SignatureHeader, Signature(token, signURL, form))
	return r
}

func TestVerifyRequest(t *testing.T) {
	v, params := loadVector(t)
	const public = "https://vigil.example/twilio/sms?k=1"
	tests := []struct {
		name      string
		req       func() *http.Request
		publicURL string
		token     string
		wantErr   error
	}{
		{"vector", func() *http.Request { return signedRequest(v.AuthToken, v.URL, params) }, v.URL, v.AuthToken, nil},
		{"signed with :443, configured without", func() *http.Request {
			return signedRequest("tok", "https://vigil.example:443/twilio/sms?k=1", params)
		}, public, "tok", nil},
		{"signed without port, configured with :443", func() *http.Request {
			return signedRequest("tok", public, params)
		}, "https://vigil.example:443/twilio/sms?k=1", "tok", nil},
		{"http signed with :80", func() *http.Request {
			return signedRequest("tok", "http://vigil.example:80/s", params)
		}, "http://vigil.example/s", "tok", nil},
		{"other port is not the same URL", func() *http.Request {
			return signedRequest("tok", "https://vigil.example:8443/twilio/sms?k=1", params)
		}, public, "tok", ErrBadSignature},
		{"unsigned", func() *http.Request {
			r := signedRequest("tok", public, params)
			r.Header.Del(SignatureHeader)
			return r
		}, public, "tok", ErrUnsigned},
		{"wrong token", func() *http.Request { return signedRequest("other", public, params) }, public, "tok", ErrBadSignature},
		{"other URL", func() *http.Request { return signedRequest("tok", "https://evil.example/twilio/sms?k=1", params) }, public, "tok", ErrBadSignature},
		{"no token configured", func() *http.Request { return signedRequest("", public, params) }, public, "", ErrBadSignature},
		{"tampered form", func() *http.Request {
			r := signedRequest("tok", public, params)
			f := url.Values{}
			for k, vs := range params {
				f[k] = vs
			}
			f.Set("Digits", "2")
			r.Body = httptestBody(f.Encode())
			return r
		}, public, "tok", ErrBadSignature},
		{"too large", func() *http.Request {
			f := url.Values{"Body": {strings.Repeat("a", MaxWebhookBody)}}
			return signedRequest("tok", public, f)
		}, public, "tok", ErrTooLarge},
		{"json body", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(v.JSONBodyCase.Body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set(SignatureHeader, v.JSONBodyCase.Expected)
			return r
		}, v.JSONBodyCase.URL, v.AuthToken, nil},
		{"json body tampered", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(v.JSONBodyCase.Body+" "))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set(SignatureHeader, v.JSONBodyCase.Expected)
			return r
		}, v.JSONBodyCase.URL, v.AuthToken, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form, err := VerifyRequest(tt.req(), tt.token, tt.publicURL)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && strings.Contains(tt.name, "json") {
				return
			}
			if err == nil && form.Get("CallSid") != params.Get("CallSid") {
				t.Errorf("form = %v", form)
			}
		})
	}
}

func TestVerifyRequestRestoresBody(t *testing.T) {
	r := signedRequest("tok", "https://h/p", url.Values{"A": {"1"}})
	if _, err := VerifyRequest(r, "tok", "https://h/p"); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.ReadFrom(r.Body)
	if buf.String() != "A=1" {
		t.Errorf("body after verify = %q", buf.String())
	}
}

func TestVerifyRequestGETRefused(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/p?A=1", nil)
	r.Header.Set(SignatureHeader, Signature("tok", "https://h/p?A=1", nil))
	if _, err := VerifyRequest(r, "tok", "https://h/p?A=1"); err == nil {
		t.Error("GET accepted")
	}
}

func httptestBody(s string) *readCloser { return &readCloser{strings.NewReader(s)} }

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }
