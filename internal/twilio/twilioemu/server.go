// Package twilioemu is an in-process emulator of the part of Twilio's REST
// API and webhooks that vigil uses, built from the official fixtures in
// shared/fixtures/thirdparty/twilio (answers are shaped field by field like
// messages_create_response_201.json and calls_create_response_201.json,
// errors like error_400_rest.json). It runs in tests and in the demo.
//
// Semantics decided where Twilio's documentation is silent:
//
//   - Fail(n, status) applies to the next n REST requests before
//     authentication, like an outage in front of the API.
//   - A path whose AccountSid differs from the authenticated one is 404
//     code 20404, as Twilio answers for resources one cannot see.
//   - Status callbacks are posted asynchronously, in order, after
//     CallbackDelay (so the client has the 201 first); each is sent once,
//     never retried. Message: sent, then delivered (or undelivered with
//     ErrorCode 30003 for Undeliverable numbers). Call: only the events
//     named in StatusCallbackEvent (default "completed", as Twilio does):
//     initiated, ringing, answered (in-progress), then completed with
//     CallDuration, or no-answer for Undeliverable numbers.
//   - A TwiML answer to Reply that holds <Message> is "sent" back to the
//     phone: it appears in Messages() from the Twilio number to the phone.
//   - Press works on any call not ended by no-answer, and does not change
//     the call's status.
package twilioemu

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

const apiVersion = "2010-04-01"

// twilioTime is Twilio's date format (RFC 1123 with a numeric zone, UTC).
const twilioTime = time.RFC1123Z

// Message is an SMS vigil sent through the emulator (or a TwiML reply).
type Message struct {
	SID, From, To, Body, StatusCallback, Status string
	At                                          time.Time
}

// Call is a call vigil placed through the emulator.
type Call struct {
	SID, From, To, Twiml, StatusCallback, Status string
	At                                           time.Time
}

// Server is the emulator. Create it with New; it is an http.Handler and
// can also listen itself with Start.
type Server struct {
	accountSID, authToken string

	// Now is the emulator's clock (dates in answers and callbacks).
	Now func() time.Time
	// HTTPClient posts webhooks (callbacks, Reply, Press).
	HTTPClient *http.Client
	// CallbackDelay is the wait before the first status callback of a
	// message or call, and between its callbacks.
	CallbackDelay time.Duration
	// CallDuration is the CallDuration reported for completed calls.
	CallDuration time.Duration

	mu            sync.Mutex
	messages      []Message
	msgIndex      map[string]int
	calls         []Call
	callIndex     map[string]int
	callEvents    map[string][]string
	smsURL        map[string]string
	undeliverable map[string]bool
	failN         int
	failStatus    int
	last          *webhook
	lastByKind    map[string]*webhook
	deliveries    []Delivery
	changed       chan struct{} // closed and replaced on every change
	closed        bool          // no new lifecycles once Close began

	ctx    context.Context // ends with Close; stops pending callbacks
	cancel context.CancelFunc
	wg     sync.WaitGroup
	srv    *http.Server
}

// New returns an emulator that accepts the given credentials.
func New(accountSID, authToken string) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		accountSID:    accountSID,
		authToken:     authToken,
		Now:           time.Now,
		HTTPClient:    &http.Client{Timeout: 10 * time.Second},
		CallbackDelay: 20 * time.Millisecond,
		CallDuration:  15 * time.Second,
		msgIndex:      map[string]int{},
		callIndex:     map[string]int{},
		callEvents:    map[string][]string{},
		smsURL:        map[string]string{},
		undeliverable: map[string]bool{},
		changed:       make(chan struct{}),
		lastByKind:    map[string]*webhook{},
		ctx:           ctx,
		cancel:        cancel,
	}
}

// Start listens on 127.0.0.1:0 (plain HTTP) and returns the base URL to
// give twilio.Config.BaseURL.
func (s *Server) Start() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("twilioemu: listen: %w", err)
	}
	s.mu.Lock()
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	srv := s.srv
	s.mu.Unlock()
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), nil
}

// Close stops the listener and any pending status callbacks.
func (s *Server) Close() error {
	s.cancel()
	s.mu.Lock()
	srv := s.srv
	s.closed = true
	s.mu.Unlock()
	var err error
	if srv != nil {
		err = srv.Close()
	}
	s.wg.Wait()
	return err
}

// Messages returns every message so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Calls returns every call so far, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// WaitMessage blocks until a message matching f exists or ctx ends.
func (s *Server) WaitMessage(ctx context.Context, f func(Message) bool) (Message, error) {
	for {
		s.mu.Lock()
		for _, m := range s.messages {
			if f(m) {
				s.mu.Unlock()
				return m, nil
			}
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return Message{}, fmt.Errorf("twilioemu: wait for message: %w", ctx.Err())
		case <-ch:
		}
	}
}

// WaitCall blocks until a call matching f exists or ctx ends.
func (s *Server) WaitCall(ctx context.Context, f func(Call) bool) (Call, error) {
	for {
		s.mu.Lock()
		for _, c := range s.calls {
			if f(c) {
				s.mu.Unlock()
				return c, nil
			}
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return Call{}, fmt.Errorf("twilioemu: wait for call: %w", ctx.Err())
		case <-ch:
		}
	}
}

// SetSMSURL sets where inbound SMS to the Twilio number are POSTed, like a
// phone number's messaging webhook.
func (s *Server) SetSMSURL(number, url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.smsURL[number] = url
}

// Fail makes the next n REST requests answer status: 429 and 5xx with
// Retry-After "1", any status with Twilio's error JSON.
func (s *Server) Fail(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus = n, status
}

// Undeliverable makes messages to number end "undelivered" (ErrorCode
// 30003) and calls to it end "no-answer".
func (s *Server) Undeliverable(number string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.undeliverable[number] = true
}

// startLifecycleLocked counts a new lifecycle goroutine in, unless Close
// has begun (s.mu is held, which orders wg.Add before Close's wg.Wait).
func (s *Server) startLifecycleLocked() bool {
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// notifyLocked wakes the waiters; s.mu is held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// apiError is Twilio's error JSON, keys in the order of error_400_rest.json.
type apiError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(apiError{Code: code, Message: msg, MoreInfo: "https://www.twilio.com/docs/errors/" + strconv.Itoa(code), Status: status})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

var pathRE = regexp.MustCompile(`^/2010-04-01/Accounts/([^/]+)/(Messages|Calls)(?:/([^/]+))?\.json$`)

// ServeHTTP answers the REST API subset: POST Messages.json and Calls.json,
// GET Messages/{sid}.json and Calls/{sid}.json.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.failN > 0 {
		s.failN--
		status := s.failStatus
		s.mu.Unlock()
		if status == http.StatusTooManyRequests || status >= 500 {
			w.Header().Set("Retry-After", "1")
		}
		code := 20000 + status
		msg := http.StatusText(status)
		if status == http.StatusBadRequest {
			code, msg = 20001, "Bad request" // as error_400_rest.json
		}
		writeError(w, status, code, msg)
		return
	}
	s.mu.Unlock()

	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(s.accountSID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(s.authToken)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	m := pathRE.FindStringSubmatch(r.URL.Path)
	if m == nil || m[1] != s.accountSID {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	kind, sid := m[2], m[3]
	switch {
	case sid == "" && r.Method == http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		if err := r.ParseForm(); err != nil {
			writeError(w, http.StatusBadRequest, 20001, "Bad request")
			return
		}
		if kind == "Messages" {
			s.createMessage(w, r.PostForm)
		} else {
			s.createCall(w, r.PostForm)
		}
	case sid != "" && r.Method == http.MethodGet:
		s.get(w, r.URL.Path, kind, sid)
	default:
		writeError(w, http.StatusMethodNotAllowed, 20004, "Method not allowed")
	}
}

// e164 is the shape Twilio requires of a To number.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

func (s *Server) createMessage(w http.ResponseWriter, f url.Values) {
	to, from, body := f.Get("To"), f.Get("From"), f.Get("Body")
	switch {
	case to == "":
		writeError(w, 400, 21604, "A 'To' phone number is required.")
		return
	case !e164.MatchString(to):
		writeError(w, 400, 21211, "Invalid 'To' Phone Number: "+to)
		return
	case from == "" && f.Get("MessagingServiceSid") == "":
		writeError(w, 400, 21603, "A 'From' phone number is required.")
		return
	case body == "" && len(f["MediaUrl"]) == 0:
		writeError(w, 400, 21602, "Message body is required.")
		return
	case utf8.RuneCountInString(body) > 1600:
		writeError(w, 400, 21617, "The concatenated message body exceeds the 1600 character limit.")
		return
	}
	now := s.Now().UTC()
	msg := Message{SID: "SM" + randHex(), From: from, To: to, Body: body, StatusCallback: f.Get("StatusCallback"), Status: "queued", At: now}
	s.mu.Lock()
	s.msgIndex[msg.SID] = len(s.messages)
	s.messages = append(s.messages, msg)
	undeliverable := s.undeliverable[to]
	s.notifyLocked()
	live := s.startLifecycleLocked()
	s.mu.Unlock()

	writeJSON(w, http.StatusCreated, s.messageResource(msg, len(f["MediaUrl"]), f.Get("MessagingServiceSid")))
	if live {
		go s.messageLifecycle(msg, undeliverable)
	}
}

func (s *Server) createCall(w http.ResponseWriter, f url.Values) {
	to, from := f.Get("To"), f.Get("From")
	switch {
	case to == "":
		writeError(w, 400, 21201, "No 'To' number is specified")
		return
	case !e164.MatchString(to):
		writeError(w, 400, 21211, "Invalid 'To' Phone Number: "+to)
		return
	case from == "":
		writeError(w, 400, 21213, "No 'From' number is specified")
		return
	case f.Get("Twiml") == "" && f.Get("Url") == "" && f.Get("ApplicationSid") == "":
		writeError(w, 400, 21205, "Url parameter is required.")
		return
	}
	now := s.Now().UTC()
	c := Call{SID: "CA" + randHex(), From: from, To: to, Twiml: f.Get("Twiml"), StatusCallback: f.Get("StatusCallback"), Status: "queued", At: now}
	events := f["StatusCallbackEvent"]
	if len(events) == 0 {
		events = []string{"completed"}
	}
	s.mu.Lock()
	s.callIndex[c.SID] = len(s.calls)
	s.calls = append(s.calls, c)
	s.callEvents[c.SID] = events
	undeliverable := s.undeliverable[to]
	s.notifyLocked()
	live := s.startLifecycleLocked()
	s.mu.Unlock()

	writeJSON(w, http.StatusCreated, s.callResource(c))
	if live {
		go s.callLifecycle(c, events, undeliverable)
	}
}

func (s *Server) get(w http.ResponseWriter, path, kind, sid string) {
	s.mu.Lock()
	var res any
	if kind == "Messages" {
		if i, ok := s.msgIndex[sid]; ok {
			res = s.messageResource(s.messages[i], 0, "")
		}
	} else if i, ok := s.callIndex[sid]; ok {
		res = s.callResource(s.calls[i])
	}
	s.mu.Unlock()
	if res == nil {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+path+" was not found")
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func randHex() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}
