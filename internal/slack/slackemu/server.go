package slackemu

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// TeamID is the emulated workspace.
const TeamID = "T0EMULATOR"

// Posted is the current state of one message.
type Posted struct {
	Channel, TS, Text string
	Blocks            []any
	Updates           int       // chat.update calls applied
	At                time.Time // when it was posted
}

// Call is one Web API request as received.
type Call struct {
	Method string // "chat.postMessage"
	Header http.Header
	Body   []byte
	Status int // HTTP status answered
	Error  string
}

// Response is one POST to an interaction's response_url.
type Response struct {
	Path string
	Body []byte
}

type failure struct {
	status int
	code   string
}

type sent struct {
	url    string
	header http.Header
	body   []byte
}

// Server is the emulator. Its zero value is not usable; call New.
type Server struct {
	// Now is the emulator's clock (ts values, interaction timestamps);
	// time.Now when nil. Set it before use.
	Now func() time.Time
	// Client sends interactions; http.DefaultClient when nil.
	Client *http.Client

	token, secret string

	mu        sync.Mutex
	msgs      []*Posted
	byKey     map[string]*Posted
	lastMicro int64
	users     map[string]string
	interURL  string
	fails     []failure
	calls     []Call
	responses []Response
	last      *sent
	changed   chan struct{}
	base      string
	srv       *http.Server
	ln        net.Listener
}

// New returns an emulator that accepts botToken and signs interactions
// with signingSecret.
func New(botToken, signingSecret string) *Server {
	return &Server{
		token: botToken, secret: signingSecret,
		byKey: map[string]*Posted{}, users: map[string]string{}, changed: make(chan struct{}),
	}
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Start serves on a loopback port and returns the base URL; the Web API
// is at base+"/api".
func (s *Server) Start() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("slackemu: listen: %w", err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	s.mu.Lock()
	s.ln, s.srv, s.base = ln, srv, "http://"+ln.Addr().String()
	base := s.base
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return base, nil
}

// Close stops a started server.
func (s *Server) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// SetInteractivityURL sets where Click sends interactions (the app's
// "Request URL").
func (s *Server) SetInteractivityURL(url string) {
	s.mu.Lock()
	s.interURL = url
	s.mu.Unlock()
}

// SetUser names a member: Click reports name as the user's username.
// An unnamed member's username is its id in lower case.
func (s *Server) SetUser(id, name string) {
	s.mu.Lock()
	s.users[id] = name
	s.mu.Unlock()
}

// Fail makes the next n API calls answer HTTP status: 429 with
// Retry-After "1" and ok:false "ratelimited", as Slack throttles, any
// other status with a plain text body.
func (s *Server) Fail(n, status int) {
	s.mu.Lock()
	for range n {
		s.fails = append(s.fails, failure{status: status})
	}
	s.mu.Unlock()
}

// FailWith makes the next n API calls answer HTTP 200 with ok:false and
// error code.
func (s *Server) FailWith(n int, code string) {
	s.mu.Lock()
	for range n {
		s.fails = append(s.fails, failure{status: http.StatusOK, code: code})
	}
	s.mu.Unlock()
}

// Messages returns the current state of every message, oldest first.
func (s *Server) Messages() []Posted {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Posted, 0, len(s.msgs))
	for _, m := range s.msgs {
		out = append(out, copyPosted(m))
	}
	return out
}

// Calls returns every Web API request received, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Responses returns every POST to a response_url, in order.
func (s *Server) Responses() []Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Response(nil), s.responses...)
}

// WaitMessage returns the first message (in posting order) f accepts,
// waiting for posts and updates until ctx ends.
func (s *Server) WaitMessage(ctx context.Context, f func(Posted) bool) (Posted, error) {
	for {
		s.mu.Lock()
		ch := s.changed
		for _, m := range s.msgs {
			if p := copyPosted(m); f(p) {
				s.mu.Unlock()
				return p, nil
			}
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Posted{}, fmt.Errorf("slackemu: no matching message: %w", ctx.Err())
		}
	}
}

// notify wakes WaitMessage; s.mu is held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// ServeHTTP serves /api/chat.postMessage, /api/chat.update and
// /actions/… (response URLs).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.base == "" && r.Host != "" {
		s.base = "http://" + r.Host
	}
	s.mu.Unlock()
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/"):
		s.serveAPI(w, r, strings.TrimPrefix(r.URL.Path, "/api/"))
	case strings.HasPrefix(r.URL.Path, "/actions/") && r.Method == http.MethodPost:
		body := readAll(r)
		s.mu.Lock()
		s.responses = append(s.responses, Response{Path: r.URL.Path, Body: body})
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok"))
	default:
		http.NotFound(w, r)
	}
}

func copyPosted(m *Posted) Posted {
	p := *m
	p.Blocks = deepCopy(m.Blocks)
	return p
}

// deepCopy copies decoded JSON so callers cannot change stored state.
func deepCopy(blocks []any) []any {
	if blocks == nil {
		return nil
	}
	b, _ := json.Marshal(blocks)
	var out []any
	_ = json.Unmarshal(b, &out)
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var errNoButton = errors.New("slackemu: the message has no such button")
