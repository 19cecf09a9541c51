// Package teamsemu emulates Microsoft Teams Workflows webhooks ("Post to a
// channel when a webhook request is received") for tests and the demo.
//
// Each named webhook gets a URL shaped like Workflows' own
// (/workflows/{id}/triggers/manual/paths/invoke?api-version=…&sig=…) with
// a random sig. A POST with an unknown sig is refused 401; a body that is
// not the Adaptive Card envelope (see ParseEnvelope) is refused 400 with
// the reason; anything else is answered 202 Accepted with an empty body,
// as Workflows does, and its cards are kept for Cards and WaitCard. Error
// bodies imitate Logic Apps' {"error":{"code","message"}}.
package teamsemu

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// maxBody is Teams' payload limit (about 28 KB) with room to spare.
const maxBody = 64 << 10

// Server is the emulator; it is an http.Handler too.
type Server struct {
	mu       sync.Mutex
	base     string
	hooks    map[string]hook // by sig
	byName   map[string]hook
	cards    []map[string]any
	changed  chan struct{}
	failN    int
	failCode int

	srv *http.Server
	ln  net.Listener
}

type hook struct{ name, id, sig string }

// New returns an emulator; Start serves it.
func New() *Server {
	return &Server{hooks: map[string]hook{}, byName: map[string]hook{}, changed: make(chan struct{})}
}

// Start listens on a loopback port and returns the base URL.
func (s *Server) Start() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.ln = ln
	s.base = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: s}
	base := s.base
	s.mu.Unlock()
	go s.srv.Serve(ln)
	return base, nil
}

// Close stops the server.
func (s *Server) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// URL returns the webhook URL for name, creating the webhook on first
// use. Start must have been called.
func (s *Server) URL(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.byName[name]
	if !ok {
		h = hook{name: name, id: randHex(16), sig: randHex(21)}
		s.byName[name] = h
		s.hooks[h.sig] = h
	}
	q := url.Values{"api-version": {"2016-06-01"}, "sp": {"/triggers/manual/run"}, "sv": {"1.0"}, "sig": {h.sig}}
	return s.base + "/workflows/" + h.id + "/triggers/manual/paths/invoke?" + q.Encode()
}

// Cards returns the cards accepted so far, oldest first.
func (s *Server) Cards() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.cards...)
}

// WaitCard returns the first accepted card for which f is true, waiting
// for one until ctx ends.
func (s *Server) WaitCard(ctx context.Context, f func(map[string]any) bool) (map[string]any, error) {
	for {
		s.mu.Lock()
		for _, c := range s.cards {
			if f(c) {
				s.mu.Unlock()
				return c, nil
			}
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, errors.New("teamsemu: no matching card: " + ctx.Err().Error())
		}
	}
}

// Fail makes the next n posts answer status (429 and 5xx with
// Retry-After "1").
func (s *Server) Fail(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failCode = n, status
}

// ServeHTTP answers POSTs to webhook URLs.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h, known := s.hooks[r.URL.Query().Get("sig")]
	fail := 0
	if s.failN > 0 {
		s.failN--
		fail = s.failCode
	}
	s.mu.Unlock()
	switch {
	case !known || r.URL.Path != "/workflows/"+h.id+"/triggers/manual/paths/invoke":
		writeError(w, http.StatusUnauthorized, "DirectApiAuthorizationRequired", "The request must be authenticated by a valid sig.")
		return
	case r.Method != http.MethodPost:
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The trigger takes POST only.")
		return
	case fail != 0:
		if fail == http.StatusTooManyRequests || fail >= 500 {
			w.Header().Set("Retry-After", "1")
		}
		writeError(w, fail, "EmulatedFailure", "failure injected by teamsemu.Fail")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "Content-Type must be application/json.")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "The body is too large.")
		return
	}
	cards, err := ParseEnvelope(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestContent", err.Error())
		return
	}
	s.mu.Lock()
	s.cards = append(s.cards, cards...)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
