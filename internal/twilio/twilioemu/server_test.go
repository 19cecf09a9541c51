package twilioemu

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/twilio"
)

const (
	sid    = "AC0123456789abcdef0123456789abcdef"
	token  = "emu-token-not-a-real-secret"
	number = "+15005550006"
	phone  = "+15551230001"
)

// start runs an emulator and returns it with a client pointed at it.
func start(t *testing.T) (*Server, *twilio.Client) {
	t.Helper()
	emu, c, _ := startBase(t)
	return emu, c
}

func startBase(t *testing.T) (*Server, *twilio.Client, string) {
	t.Helper()
	emu := New(sid, token)
	emu.CallbackDelay = time.Millisecond
	base, err := emu.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	return emu, twilio.New(twilio.Config{BaseURL: base, AccountSID: sid, AuthToken: token, From: number}), base
}

// hook is vigil's side of the webhooks: it verifies every request the way
// vigil will and records the forms.
type hook struct {
	t      *testing.T
	srv    *httptest.Server
	answer func(path string, v url.Values) string

	mu     sync.Mutex
	forms  map[string][]url.Values
	tokens []string
	errs   []error
}

func newHook(t *testing.T, answer func(string, url.Values) string) *hook {
	h := &hook{t: t, answer: answer, forms: map[string][]url.Values{}}
	h.srv = httptest.NewServer(h)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) url(path string) string { return h.srv.URL + path }

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v, err := twilio.VerifyRequest(r, token, h.url(r.URL.RequestURI()))
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.errs = append(h.errs, err)
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	h.forms[r.URL.Path] = append(h.forms[r.URL.Path], v)
	h.tokens = append(h.tokens, r.Header.Get(twilio.IdempotencyHeader))
	body := ""
	if h.answer != nil {
		body = h.answer(r.URL.Path, v)
	}
	w.Header().Set("Content-Type", "text/xml")
	io.WriteString(w, body)
}

func (h *hook) got(path string) []url.Values {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.forms[path])
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestMessageRoundTrip(t *testing.T) {
	emu, c := start(t)
	h := newHook(t, nil)
	sent, err := c.SendSMS(ctxT(t), phone, "Page 1: disk full", h.url("/twilio/status?p=1"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sent.SID, "SM") || len(sent.SID) != 34 || sent.Status != "queued" {
		t.Errorf("sent = %+v", sent)
	}
	m, err := emu.WaitMessage(ctxT(t), func(m Message) bool { return m.SID == sent.SID && m.Status == "delivered" })
	if err != nil {
		t.Fatal(err)
	}
	if m.To != phone || m.From != number || m.Body != "Page 1: disk full" {
		t.Errorf("message = %+v", m)
	}
	if _, err := emu.WaitDelivery(ctxT(t), func(d Delivery) bool { return d.SID == sent.SID && d.Form.Get("MessageStatus") == "delivered" }); err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for _, v := range h.got("/twilio/status") {
		st, err := twilio.ParseStatus(v)
		if err != nil {
			t.Fatal(err)
		}
		if st.SID != sent.SID || st.Kind != twilio.KindMessage || st.To != phone {
			t.Errorf("status = %+v", st)
		}
		statuses = append(statuses, st.Status)
	}
	if !slices.Equal(statuses, []string{"sent", "delivered"}) {
		t.Errorf("statuses = %v", statuses)
	}
	for _, d := range emu.Deliveries() {
		if d.Status != http.StatusOK {
			t.Errorf("delivery %+v", d)
		}
	}
}

func TestCallRoundTripAndPress(t *testing.T) {
	emu, c := start(t)
	h := newHook(t, func(path string, v url.Values) string {
		if path == "/twilio/gather" {
			g, err := twilio.ParseGather(v)
			if err != nil || g.Digits != "1" {
				return twilio.Say("error")
			}
			return twilio.Say("Page 7 acknowledged.")
		}
		return ""
	})
	twiml := twilio.SayGather("Alert: disk full. Press 1 to acknowledge.", h.url("/twilio/gather?page=7"), 1, "")
	sent, err := c.Call(ctxT(t), phone, twiml, h.url("/twilio/call-status"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sent.SID, "CA") || len(sent.SID) != 34 || sent.Status != "queued" {
		t.Errorf("sent = %+v", sent)
	}
	d, err := emu.WaitDelivery(ctxT(t), func(d Delivery) bool { return d.SID == sent.SID && d.Form.Get("CallStatus") == "completed" })
	if err != nil {
		t.Fatal(err)
	}
	if d.Form.Get("CallDuration") != "15" {
		t.Errorf("final callback %v", d.Form)
	}
	var statuses []string
	for _, v := range h.got("/twilio/call-status") {
		st, err := twilio.ParseStatus(v)
		if err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, st.Status)
	}
	if !slices.Equal(statuses, []string{"initiated", "ringing", "in-progress", "completed"}) {
		t.Errorf("statuses = %v", statuses)
	}

	status, body, err := emu.Press(ctxT(t), sent.SID, "1")
	if err != nil || status != 200 || !strings.Contains(body, "Page 7 acknowledged.") {
		t.Fatalf("Press = %d %q %v", status, body, err)
	}
	forms := h.got("/twilio/gather")
	if len(forms) != 1 {
		t.Fatalf("gather forms %v", forms)
	}
	g, err := twilio.ParseGather(forms[0])
	if err != nil || g != (twilio.Gather{CallSID: sent.SID, From: number, To: phone, Digits: "1"}) {
		t.Errorf("gather = %+v, %v", g, err)
	}
	if _, _, err := emu.Press(ctxT(t), "CAnope", "1"); err == nil {
		t.Error("Press on an unknown call")
	}
}

func TestUndeliverable(t *testing.T) {
	emu, c := start(t)
	h := newHook(t, nil)
	emu.Undeliverable(phone)
	sent, err := c.SendSMS(ctxT(t), phone, "x", h.url("/s"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := emu.WaitDelivery(ctxT(t), func(d Delivery) bool { return d.SID == sent.SID && d.Form.Get("MessageStatus") == "undelivered" })
	if err != nil {
		t.Fatal(err)
	}
	st, err := twilio.ParseStatus(d.Form)
	if err != nil || st.ErrorCode != "30003" {
		t.Errorf("status %+v %v", st, err)
	}

	call, err := c.Call(ctxT(t), phone, twilio.SayGather("x", h.url("/g"), 1, ""), h.url("/cs"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := emu.WaitCall(ctxT(t), func(c Call) bool { return c.SID == call.SID && c.Status == "no-answer" }); err != nil {
		t.Fatal(err)
	}
	if _, err := emu.WaitDelivery(ctxT(t), func(d Delivery) bool { return d.SID == call.SID && d.Form.Get("CallStatus") == "no-answer" }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := emu.Press(ctxT(t), call.SID, "1"); err == nil {
		t.Error("pressed keys on an unanswered call")
	}
}

func TestReplyAndReplay(t *testing.T) {
	emu, _ := start(t)
	h := newHook(t, func(path string, v url.Values) string {
		in, err := twilio.ParseInbound(v)
		if err != nil {
			return twilio.Message("bad")
		}
		return twilio.Message("Page 1 acknowledged (" + in.Body + ")")
	})
	if _, _, err := emu.Reply(ctxT(t), phone, number, "1a"); err == nil {
		t.Fatal("Reply without an SMS URL")
	}
	emu.SetSMSURL(number, h.url("/twilio/sms"))
	status, body, err := emu.Reply(ctxT(t), phone, number, "1a")
	if err != nil || status != 200 || !strings.Contains(body, "<Message>Page 1 acknowledged (1a)</Message>") {
		t.Fatalf("Reply = %d %q %v", status, body, err)
	}
	forms := h.got("/twilio/sms")
	in, err := twilio.ParseInbound(forms[0])
	if err != nil || in.From != phone || in.To != number || in.Body != "1a" || in.AccountSID != sid || !strings.HasPrefix(in.MessageSID, "SM") {
		t.Errorf("inbound %+v %v", in, err)
	}
	// The TwiML answer went back to the phone.
	if _, err := emu.WaitMessage(ctxT(t), func(m Message) bool {
		return m.From == number && m.To == phone && m.Body == "Page 1 acknowledged (1a)"
	}); err != nil {
		t.Error(err)
	}

	// A replay is byte for byte the same request: the signature still
	// verifies, so vigil must drop it by its idempotency token or SID.
	status, _, err = emu.ReplayLast(ctxT(t))
	if err != nil || status != 200 {
		t.Fatalf("replay = %d %v", status, err)
	}
	forms = h.got("/twilio/sms")
	if len(forms) != 2 || forms[0].Get("MessageSid") != forms[1].Get("MessageSid") {
		t.Errorf("replayed forms %v", forms)
	}
	h.mu.Lock()
	toks := slices.Clone(h.tokens)
	h.mu.Unlock()
	if len(toks) != 2 || toks[0] == "" || toks[0] != toks[1] {
		t.Errorf("idempotency tokens %v", toks)
	}
	if _, _, err := emu.ReplayLastKind(ctxT(t), KindSMS); err != nil {
		t.Error(err)
	}
}

func TestSignedWithOtherTokenIsRefused(t *testing.T) {
	// An emulator with another token stands in for a forger.
	forger := New(sid, "wrong-token")
	defer forger.Close()
	h := newHook(t, nil)
	forger.SetSMSURL(number, h.url("/twilio/sms"))
	status, _, err := forger.Reply(ctxT(t), phone, number, "1a")
	if err != nil || status != http.StatusForbidden {
		t.Fatalf("forged Reply = %d %v", status, err)
	}
	if len(h.got("/twilio/sms")) != 0 {
		t.Error("forged request accepted")
	}
}

func TestAuth(t *testing.T) {
	_, _, base := startBase(t)
	tests := []struct {
		name       string
		sid, tok   string
		wantStatus int
		wantCode   int
	}{
		{"wrong token", sid, "nope", 401, 20003},
		{"wrong account in path", "ACffffffffffffffffffffffffffffffff", token, 401, 20003},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := twilio.New(twilio.Config{BaseURL: base, AccountSID: tt.sid, AuthToken: tt.tok, From: number})
			_, err := c.SendSMS(ctxT(t), phone, "x", "")
			var ae *twilio.APIError
			var re *outbox.RetryableError
			if !errors.As(err, &ae) || errors.As(err, &re) {
				t.Fatalf("err = %v", err)
			}
			if ae.Status != tt.wantStatus || ae.Code != tt.wantCode {
				t.Errorf("APIError %+v", ae)
			}
			if strings.Contains(err.Error(), tt.tok) {
				t.Errorf("token in %q", err)
			}
		})
	}
	// Right credentials, another account's path.
	req, _ := http.NewRequest(http.MethodPost, base+"/2010-04-01/Accounts/ACother/Messages.json", strings.NewReader("To=%2B15551230001&From=%2B1&Body=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(sid, token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("other account: %d", resp.StatusCode)
	}
}

func TestValidation(t *testing.T) {
	emu := New(sid, token)
	tests := []struct {
		name, resource string
		form           url.Values
		code           int
	}{
		{"message without To", "Messages", url.Values{"From": {number}, "Body": {"x"}}, 21604},
		{"message bad To", "Messages", url.Values{"To": {"555"}, "From": {number}, "Body": {"x"}}, 21211},
		{"message without From", "Messages", url.Values{"To": {phone}, "Body": {"x"}}, 21603},
		{"message without Body", "Messages", url.Values{"To": {phone}, "From": {number}}, 21602},
		{"message too long", "Messages", url.Values{"To": {phone}, "From": {number}, "Body": {strings.Repeat("x", 1601)}}, 21617},
		{"call without To", "Calls", url.Values{"From": {number}, "Twiml": {"<Response/>"}}, 21201},
		{"call without From", "Calls", url.Values{"To": {phone}, "Twiml": {"<Response/>"}}, 21213},
		{"call without Twiml or Url", "Calls", url.Values{"To": {phone}, "From": {number}}, 21205},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/2010-04-01/Accounts/"+sid+"/"+tt.resource+".json", strings.NewReader(tt.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(sid, token)
			rec := httptest.NewRecorder()
			emu.ServeHTTP(rec, req)
			var e apiError
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
				t.Fatal(err)
			}
			if rec.Code != 400 || e.Code != tt.code || e.Status != 400 || e.Message == "" || !strings.HasSuffix(e.MoreInfo, "/"+strconv.Itoa(tt.code)) {
				t.Errorf("%d %+v", rec.Code, e)
			}
		})
	}
	if len(emu.Messages())+len(emu.Calls()) != 0 {
		t.Error("an invalid request created something")
	}
}

func TestFail(t *testing.T) {
	emu, c := start(t)
	tests := []struct {
		status    int
		retryable bool
		after     time.Duration
		code      int
	}{
		{429, true, time.Second, 20429},
		{503, true, time.Second, 20503},
		{500, true, time.Second, 20500},
		{400, false, 0, 20001},
	}
	for _, tt := range tests {
		emu.Fail(1, tt.status)
		_, err := c.SendSMS(ctxT(t), phone, "x", "")
		var re *outbox.RetryableError
		if errors.As(err, &re) != tt.retryable || (tt.retryable && re.After != tt.after) {
			t.Errorf("%d: err = %v", tt.status, err)
		}
		var ae *twilio.APIError
		if !errors.As(err, &ae) || ae.Code != tt.code || ae.Status != tt.status {
			t.Errorf("%d: APIError %+v", tt.status, ae)
		}
	}
	emu.Fail(2, 503)
	for i := 0; i < 2; i++ {
		if _, err := c.Call(ctxT(t), phone, twilio.Say("x"), ""); err == nil {
			t.Fatal("Fail(2) let a request through")
		}
	}
	if _, err := c.SendSMS(ctxT(t), phone, "x", ""); err != nil {
		t.Errorf("after the failures: %v", err)
	}
}

// keys returns the top-level keys of a JSON object, and of subresource_uris.
func keys(t *testing.T, b []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var out []string
	for k, v := range m {
		out = append(out, k)
		if k == "subresource_uris" {
			var sub map[string]string
			json.Unmarshal(v, &sub)
			for sk := range sub {
				out = append(out, k+"."+sk)
			}
		}
	}
	slices.Sort(out)
	return out
}

func TestResourcesShapedLikeFixtures(t *testing.T) {
	emu, _ := start(t)
	// ../testdata holds the official fixtures; see the twilio package tests.
	for _, tt := range []struct{ resource, fixture string }{
		{"Messages", "messages_create_response_201.json"},
		{"Calls", "calls_create_response_201.json"},
	} {
		t.Run(tt.resource, func(t *testing.T) {
			fixture, err := os.ReadFile("../testdata/" + tt.fixture)
			if err != nil {
				t.Fatal(err)
			}
			form := url.Values{"To": {phone}, "From": {number}, "Body": {"Hello! 👍"}, "Twiml": {"<Response/>"}}
			req := httptest.NewRequest(http.MethodPost, "/2010-04-01/Accounts/"+sid+"/"+tt.resource+".json", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(sid, token)
			rec := httptest.NewRecorder()
			emu.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if got, want := keys(t, rec.Body.Bytes()), keys(t, fixture); !slices.Equal(got, want) {
				t.Errorf("keys\n got %v\nwant %v", got, want)
			}
			var r struct {
				SID         string `json:"sid"`
				Status      string `json:"status"`
				DateCreated string `json:"date_created"`
				URI         string `json:"uri"`
			}
			json.Unmarshal(rec.Body.Bytes(), &r)
			if _, err := time.Parse(time.RFC1123Z, r.DateCreated); err != nil {
				t.Errorf("date_created %q: %v", r.DateCreated, err)
			}
			if r.Status != "queued" || r.URI != "/2010-04-01/Accounts/"+sid+"/"+tt.resource+"/"+r.SID+".json" {
				t.Errorf("%+v", r)
			}
			// The resource can be read back.
			get := httptest.NewRequest(http.MethodGet, r.URI, nil)
			get.SetBasicAuth(sid, token)
			rec = httptest.NewRecorder()
			emu.ServeHTTP(rec, get)
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), r.SID) {
				t.Errorf("GET %s: %d %s", r.URI, rec.Code, rec.Body)
			}
		})
	}
}
