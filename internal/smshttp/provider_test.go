package smshttp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/validation"
)

// The Twilio fixtures in testdata/ are copied from
// ../shared/fixtures/thirdparty/twilio/ (twilio/twilio-oai, the OpenAPI
// examples): a Twilio-shaped gateway is the form-encoded case.

const authToken = "s3cr3t-auth-token-value"

func readJSON(t *testing.T, name string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestFormGateway configures a Twilio-shaped form gateway and checks the
// request against the Messages.json create fixture field by field, and
// the receipt against the 201 answer's sid.
func TestFormGateway(t *testing.T) {
	reqFix := readJSON(t, "messages_create_request_form.json")
	respFix, _ := os.ReadFile("testdata/messages_create_response_201.json")
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:"+authToken))
	var got *http.Request
	var gotForm map[string][]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		r.ParseForm()
		gotForm = r.PostForm
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write(respFix)
	}))
	defer srv.Close()

	p, err := New(Config{
		Name:         "twilio-like",
		URL:          srv.URL + "/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages.json",
		Headers:      map[string]string{"Authorization": basic},
		BodyTemplate: "To={{urlquery .To}}&From={{urlquery .From}}&Body={{urlquery .Body}}&StatusCallback={{urlquery \"https://example.com\"}}",
		From:         reqFix["From"].(string),
		Success:      []int{201},
		IDField:      "sid",
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != "twilio-like" {
		t.Errorf("Name = %q", p.Name())
	}
	r, err := p.SendSMS(context.Background(), reqFix["To"].(string), reqFix["Body"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if r != (notify.Receipt{Provider: "twilio-like", ProviderID: "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Status: notify.StatusSent}) {
		t.Errorf("receipt = %+v", r)
	}
	if got.Method != "POST" || got.URL.Path != "/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages.json" {
		t.Errorf("request %s %s", got.Method, got.URL.Path)
	}
	if ct := got.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q", ct)
	}
	if a := got.Header.Get("Authorization"); a != basic {
		t.Errorf("Authorization = %q", a)
	}
	for _, k := range []string{"To", "From", "Body", "StatusCallback"} {
		if v := gotForm[k]; len(v) != 1 || v[0] != reqFix[k] {
			t.Errorf("form %s = %q, want %q", k, v, reqFix[k])
		}
	}
	// The provider plugs into the SMS channel.
	ch := notify.NewSMS(p)
	n := notify.Notification{ID: "n1", Kind: notify.KindTest, Subject: "[vigil] Test", To: notify.ContactMethod{Type: notify.TypeSMS, Value: "+14155552671"}}
	if r, err := ch.Send(context.Background(), n); err != nil || r.Provider != "twilio-like" {
		t.Errorf("channel send = %+v, %v", r, err)
	}
}

// TestJSONGateway: a JSON body, a query-string To in the URL template, a
// Bearer key, a 202 answer and a nested message id.
func TestJSONGateway(t *testing.T) {
	var body map[string]any
	var query, ct string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct = r.Header.Get("Content-Type")
		query = r.URL.RawQuery
		if r.Header.Get("Authorization") != "Bearer "+authToken {
			http.Error(w, `{"error":"bad key"}`, http.StatusUnauthorized)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"message-count":"1","messages":[{"to":"447700900000","message-id":"0A0000000123ABCD1","status":"0"}]}`)
	}))
	defer srv.Close()
	p, err := New(Config{
		Name:         "regional",
		URL:          srv.URL + "/sms?to={{digits .To}}",
		Method:       "put",
		Headers:      map[string]string{"Authorization": "Bearer " + authToken},
		ContentType:  "application/json",
		BodyTemplate: `{"from":{{json .From}},"to":{{json .To}},"text":{{json .Body}}}`,
		From:         "vigil",
		IDField:      "messages.0.message-id",
	})
	if err != nil {
		t.Fatal(err)
	}
	text := "page 1 \"quoted\" & <b>\n\u2028 ünïcode"
	r, err := p.SendSMS(context.Background(), "+447700900000", text)
	if err != nil {
		t.Fatal(err)
	}
	if r.ProviderID != "0A0000000123ABCD1" || r.Status != notify.StatusSent {
		t.Errorf("receipt = %+v", r)
	}
	if ct != "application/json" || query != "to=447700900000" {
		t.Errorf("content type %q, query %q", ct, query)
	}
	want := map[string]any{"from": "vigil", "to": "+447700900000", "text": text}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("body %s = %q, want %q", k, body[k], v)
		}
	}
}

func TestGETGatewayAndIDs(t *testing.T) {
	answers := []string{`{"id": 12345}`, `{"sid": {"nested": 1}}`, `not json`, `{"a.b": "dotted"}`}
	i := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.ContentLength > 0 {
			t.Errorf("%s with %d bytes", r.Method, r.ContentLength)
		}
		io.WriteString(w, answers[i])
		i++
	}))
	defer srv.Close()
	for _, tt := range []struct{ field, want string }{{"id", "12345"}, {"sid", ""}, {"id", ""}, {"a.b", "dotted"}} {
		p, err := New(Config{URL: srv.URL + "/send?to={{urlquery .To}}&msg={{urlquery .Body}}", Method: "GET", IDField: tt.field})
		if err != nil {
			t.Fatal(err)
		}
		r, err := p.SendSMS(context.Background(), "+14155552671", "hi")
		if err != nil || r.ProviderID != tt.want || r.Provider != DefaultName {
			t.Errorf("field %q: receipt %+v, err %v; want id %q", tt.field, r, err, tt.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	ok := Config{URL: "https://sms.example/send", BodyTemplate: "to={{urlquery .To}}"}
	tests := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"no url", func(c *Config) { c.URL = "" }, "url"},
		{"url template syntax", func(c *Config) { c.URL = "https://x/{{.To" }, "url"},
		{"url unknown field", func(c *Config) { c.URL = "https://x/{{.Phone}}" }, "url"},
		{"url not http", func(c *Config) { c.URL = "ftp://x/{{.To}}" }, "url"},
		{"url relative", func(c *Config) { c.URL = "/send" }, "url"},
		{"method", func(c *Config) { c.Method = "DELETE" }, "method"},
		{"body syntax", func(c *Config) { c.BodyTemplate = "{{if .To}}" }, "body_template"},
		{"body unknown field", func(c *Config) { c.BodyTemplate = "{{.Too}}" }, "body_template"},
		{"body unknown func", func(c *Config) { c.BodyTemplate = "{{base64 .To}}" }, "body_template"},
		{"GET with body", func(c *Config) { c.Method = "GET" }, "body_template"},
		{"success", func(c *Config) { c.Success = []int{200, 42} }, "success"},
		{"header name", func(c *Config) { c.Headers = map[string]string{"Bad Header": "x"} }, "headers"},
		{"content type", func(c *Config) { c.ContentType = "not a type;;" }, "content_type"},
		{"name", func(c *Config) { c.Name = "a b" }, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			_, err := New(c)
			var fe *validation.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Errorf("error = %v, want a field error on %q", err, tt.field)
			}
		})
	}
	if _, err := New(ok); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
}

func TestHeaderSecretInErrorMessage(t *testing.T) {
	_, err := New(Config{URL: "https://x/", BodyTemplate: "x", Headers: map[string]string{"X-Key": authToken + "\r\nInjected: 1"}})
	if err == nil || strings.Contains(err.Error(), authToken) {
		t.Errorf("error = %v", err)
	}
}

func TestFailures(t *testing.T) {
	now := time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)
	status, answer, retryAfter := 0, "", ""
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		if status >= 300 && status < 400 {
			w.Header().Set("Location", "https://elsewhere.example/")
		}
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	defer srv.Close()
	errFix, _ := os.ReadFile("testdata/error_400_rest.json")
	tests := []struct {
		name       string
		status     int
		answer     string
		retryAfter string
		success    []int
		retryable  bool
		after      time.Duration
		contains   string
	}{
		{name: "bad request", status: 400, answer: string(errFix), contains: `HTTP 400: {"code":20001,"message":"Bad request"`},
		{name: "echoed key", status: 401, answer: "invalid key " + authToken + " for account", contains: "invalid key [redacted] for account"},
		{name: "echoed query key", status: 403, answer: "key=querysecret123 denied", contains: "key=[redacted] denied"},
		{name: "long answer", status: 422, answer: strings.Repeat("x", 1000), contains: strings.Repeat("x", 200) + "…"},
		{name: "empty answer", status: 404, contains: "HTTP 404: (empty answer)"},
		{name: "throttled", status: 429, retryAfter: "7", retryable: true, after: 7 * time.Second, contains: "HTTP 429"},
		{name: "throttled by date", status: 429, retryAfter: now.Add(time.Minute).Format(http.TimeFormat), retryable: true, after: time.Minute, contains: "HTTP 429"},
		{name: "server error", status: 503, retryable: true, contains: "HTTP 503"},
		{name: "redirect", status: 302, contains: "redirects are not followed"},
		{name: "2xx not in success", status: 200, success: []int{201}, contains: "HTTP 200"},
		{name: "5xx listed as success", status: 500, success: []int{500}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, answer, retryAfter = tt.status, tt.answer, tt.retryAfter
			p, err := New(Config{
				Name: "gw", URL: srv.URL + "/send?key=querysecret123", BodyTemplate: "to={{urlquery .To}}",
				Headers: map[string]string{"X-Api-Key": authToken}, Success: tt.success, Now: func() time.Time { return now },
			})
			if err != nil {
				t.Fatal(err)
			}
			r, err := p.SendSMS(context.Background(), "+14155552671", "hi")
			if tt.contains == "" {
				if err != nil || r.Status != notify.StatusSent {
					t.Fatalf("receipt %+v, err %v", r, err)
				}
				return
			}
			if err == nil {
				t.Fatal("SendSMS succeeded")
			}
			if r.Provider != "gw" || r.Status != "" {
				t.Errorf("receipt = %+v", r)
			}
			var re *outbox.RetryableError
			if got := errors.As(err, &re); got != tt.retryable {
				t.Errorf("retryable = %v, want %v", got, tt.retryable)
			} else if got && re.After != tt.after {
				t.Errorf("After = %v, want %v", re.After, tt.after)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q lacks %q", err, tt.contains)
			}
			for _, secret := range []string{authToken, "querysecret123"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error holds a secret: %v", err)
				}
			}
		})
	}
}

func TestNetworkErrorAndBadRecipient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p, err := New(Config{URL: "http://user:pa55word-secret@" + addr + "/send?api_key=querysecret123&to={{urlquery .To}}", BodyTemplate: "x"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.SendSMS(context.Background(), "+14155552671", "hi")
	var re *outbox.RetryableError
	if !errors.As(err, &re) {
		t.Fatalf("error = %v, want retryable", err)
	}
	for _, secret := range []string{"pa55word-secret", "querysecret123", "/send"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q holds %q", err, secret)
		}
	}
	if _, err := p.SendSMS(context.Background(), "0800 123", "hi"); err == nil || errors.As(err, &re) {
		t.Errorf("bad recipient: %v", err)
	}
}
