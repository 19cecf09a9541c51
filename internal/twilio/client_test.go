package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/outbox"
)

// The files in testdata/ are copied verbatim from the steering repo's
// shared/fixtures/thirdparty/twilio/ (see its SOURCES.md, twilio section:
// twilio-oai examples and twilio-go constants), because CI clones this
// repository alone.
func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	testSID   = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	testToken = "s3cr3t-auth-token-0123456789abcdef"
)

// capture is a fake Twilio that records the request and answers canned.
type capture struct {
	status int
	header http.Header
	body   string
	got    *http.Request
	form   url.Values
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.got = r
	_ = r.ParseForm()
	c.form = r.PostForm
	for k, v := range c.header {
		w.Header()[k] = v
	}
	w.WriteHeader(c.status)
	io.WriteString(w, c.body)
}

func newTestClient(t *testing.T, h http.Handler) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return New(Config{BaseURL: srv.URL + "/", AccountSID: testSID, AuthToken: testToken, From: "+14155552345"})
}

func TestSendSMSRequestMatchesFixture(t *testing.T) {
	cap := &capture{status: 201, body: string(readFixture(t, "messages_create_response_201.json"))}
	c := newTestClient(t, cap)
	sent, err := c.SendSMS(context.Background(), "+14155550100", "Page 1: disk full", "https://vigil.example/twilio/status")
	if err != nil {
		t.Fatal(err)
	}
	if sent != (Sent{SID: "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Status: "queued"}) {
		t.Errorf("sent = %+v", sent)
	}
	if cap.got.Method != http.MethodPost || cap.got.URL.Path != "/2010-04-01/Accounts/"+testSID+"/Messages.json" {
		t.Errorf("request %s %s", cap.got.Method, cap.got.URL.Path)
	}
	if ct := cap.got.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("content type %q", ct)
	}
	user, pass, ok := cap.got.BasicAuth()
	if !ok || user != testSID || pass != testToken {
		t.Errorf("basic auth %q %v", user, ok)
	}
	// Every field we send must be a field of Twilio's documented form.
	var fixture map[string]any
	if err := json.Unmarshal(readFixture(t, "messages_create_request_form.json"), &fixture); err != nil {
		t.Fatal(err)
	}
	for k := range cap.form {
		if _, ok := fixture[k]; !ok {
			t.Errorf("form field %q is not in messages_create_request_form.json", k)
		}
	}
	want := url.Values{"To": {"+14155550100"}, "From": {"+14155552345"}, "Body": {"Page 1: disk full"}, "StatusCallback": {"https://vigil.example/twilio/status"}}
	if !equalValues(cap.form, want) {
		t.Errorf("form = %v, want %v", cap.form, want)
	}
}

func TestSendSMSOmitsEmptyStatusCallback(t *testing.T) {
	cap := &capture{status: 201, body: `{"sid":"SM1","status":"queued"}`}
	c := newTestClient(t, cap)
	if _, err := c.SendSMS(context.Background(), "+1", "x", ""); err != nil {
		t.Fatal(err)
	}
	if cap.form.Has("StatusCallback") {
		t.Errorf("StatusCallback sent empty: %v", cap.form)
	}
}

func TestCallRequestMatchesFixture(t *testing.T) {
	cap := &capture{status: 201, body: string(readFixture(t, "calls_create_response_201.json"))}
	c := newTestClient(t, cap)
	twiml := Say("hello")
	sent, err := c.Call(context.Background(), "+14158675309", twiml, "https://vigil.example/twilio/call-status")
	if err != nil {
		t.Fatal(err)
	}
	// The fixture's example is of a finished call; we only pass it on.
	if sent != (Sent{SID: "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Status: "completed"}) {
		t.Errorf("sent = %+v", sent)
	}
	if cap.got.URL.Path != "/2010-04-01/Accounts/"+testSID+"/Calls.json" {
		t.Errorf("path %s", cap.got.URL.Path)
	}
	var fixture map[string]any
	if err := json.Unmarshal(readFixture(t, "calls_create_with_twiml_request_form.json"), &fixture); err != nil {
		t.Fatal(err)
	}
	// StatusCallbackEvent is documented for Calls.json but absent from the
	// createWithTwiml example.
	fixture["StatusCallbackEvent"] = nil
	for k := range cap.form {
		if _, ok := fixture[k]; !ok {
			t.Errorf("form field %q is not a Calls.json field", k)
		}
	}
	if cap.form.Get("Twiml") != twiml || cap.form.Get("Timeout") != "30" || cap.form.Get("StatusCallbackMethod") != "POST" {
		t.Errorf("form = %v", cap.form)
	}
	if got := cap.form["StatusCallbackEvent"]; !slices.Equal(got, CallbackEvents) {
		t.Errorf("StatusCallbackEvent = %v", got)
	}
}

func TestErrorClassification(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	fixture400 := string(readFixture(t, "error_400_rest.json"))
	tests := []struct {
		name      string
		status    int
		header    http.Header
		body      string
		retryable bool
		after     time.Duration
		code      int
	}{
		{"400 permanent with code", 400, nil, fixture400, false, 0, 20001},
		{"401 permanent", 401, nil, `{"code":20003,"message":"Authenticate","more_info":"https://www.twilio.com/docs/errors/20003","status":401}`, false, 0, 20003},
		{"429 retry after seconds", 429, http.Header{"Retry-After": {"7"}}, `{"code":20429,"message":"Too Many Requests","status":429}`, true, 7 * time.Second, 20429},
		{"429 retry after date", 429, http.Header{"Retry-After": {now.Add(time.Minute).Format(http.TimeFormat)}}, ``, true, time.Minute, 0},
		{"503 retryable", 503, nil, `<html>oops</html>`, true, 0, 0},
		{"500 retryable", 500, http.Header{"Retry-After": {"1"}}, `{"code":20500,"message":"Internal Server Error","status":500}`, true, time.Second, 20500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(&capture{status: tt.status, header: tt.header, body: tt.body})
			defer srv.Close()
			c := New(Config{BaseURL: srv.URL, AccountSID: testSID, AuthToken: testToken, From: "+1", Now: func() time.Time { return now }})
			_, err := c.SendSMS(context.Background(), "+2", "x", "")
			if err == nil {
				t.Fatal("no error")
			}
			var re *outbox.RetryableError
			if errors.As(err, &re) != tt.retryable {
				t.Fatalf("retryable = %v, want %v (%v)", !tt.retryable, tt.retryable, err)
			}
			if tt.retryable && re.After != tt.after {
				t.Errorf("After = %v, want %v", re.After, tt.after)
			}
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("no *APIError in %v", err)
			}
			if ae.Status != tt.status || ae.Code != tt.code {
				t.Errorf("APIError = %+v", ae)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("token in error %q", err)
			}
		})
	}
}

func TestAPIErrorDecodesFixture(t *testing.T) {
	c := New(Config{AuthToken: testToken})
	e := c.decodeError(400, readFixture(t, "error_400_rest.json"))
	want := APIError{Status: 400, Code: 20001, Message: "Bad request", MoreInfo: "https://www.twilio.com/docs/errors/20001"}
	if *e != want {
		t.Errorf("got %+v", *e)
	}
}

func TestNetworkErrorRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens there now
	c := New(Config{BaseURL: base, AccountSID: testSID, AuthToken: testToken, From: "+1"})
	_, err := c.Call(context.Background(), "+2", Say("x"), "")
	var re *outbox.RetryableError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want retryable", err)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("token in error %q", err)
	}
}

func TestTokenNeverInErrors(t *testing.T) {
	// A hostile or buggy server echoes the credentials back.
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pass, _ := r.BasicAuth()
		w.WriteHeader(400)
		json.NewEncoder(w).Encode(map[string]any{"code": 21211, "message": "bad token " + pass, "more_info": "https://x/" + pass, "status": 400})
	})
	c := newTestClient(t, echo)
	_, err := c.SendSMS(context.Background(), "+2", "x", "")
	if err == nil || strings.Contains(err.Error(), testToken) {
		t.Fatalf("err = %v", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || strings.Contains(ae.Message+ae.MoreInfo, testToken) {
		t.Errorf("APIError = %+v", ae)
	}

	// A 2xx with garbage is permanent and says nothing of the body.
	garbage := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(201)
		io.WriteString(w, testToken)
	})
	c = newTestClient(t, garbage)
	_, err = c.SendSMS(context.Background(), "+2", "x", "")
	var re *outbox.RetryableError
	if err == nil || errors.As(err, &re) || strings.Contains(err.Error(), testToken) {
		t.Errorf("err = %v", err)
	}
}

func equalValues(a, b url.Values) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}
