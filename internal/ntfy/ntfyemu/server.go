// Package ntfyemu emulates an ntfy server's publish API for tests and the
// demo: POST (or PUT) / with a "Publish as JSON" body.
//
// It checks the Bearer token when one is set (401 with ntfy's error JSON
// otherwise), validates the publish (see parsePublish: topic, priority
// 1–5, at most three actions with label and, for view and http, a URL;
// error codes as ntfy's server/errors.go)
// and answers with the message as ntfy does: {"id","time","expires",
// "event":"message","topic",…}. Actions in the stored message get ids, as
// ntfy gives them. Messages are kept as the JSON a subscriber would
// receive, decoded into map[string]any (numbers are float64).
// PressHTTPAction then performs an http action as the ntfy app would.
package ntfyemu

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Server is the emulator; it is an http.Handler too.
type Server struct {
	// Now is the emulator's clock, for "time" and "expires".
	Now func() time.Time

	token string

	mu       sync.Mutex
	messages []map[string]any
	changed  chan struct{}
	failN    int
	failCode int
	srv      *http.Server
}

// cacheDuration is ntfy's default message cache duration, which
// "expires" reports.
const cacheDuration = 12 * time.Hour

// New returns an emulator that requires "Authorization: Bearer token"
// when token is not empty.
func New(token string) *Server {
	return &Server{Now: time.Now, token: token, changed: make(chan struct{})}
}

// Start listens on a loopback port and returns the base URL.
func (s *Server) Start() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.srv = &http.Server{Handler: s}
	srv := s.srv
	s.mu.Unlock()
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), nil
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

// Messages returns the messages published so far, oldest first.
func (s *Server) Messages() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.messages...)
}

// WaitMessage returns the first message for which f is true, waiting for
// one until ctx ends.
func (s *Server) WaitMessage(ctx context.Context, f func(map[string]any) bool) (map[string]any, error) {
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
		case <-ch:
		case <-ctx.Done():
			return nil, errors.New("ntfyemu: no matching message: " + ctx.Err().Error())
		}
	}
}

// Fail makes the next n publishes answer status with ntfy's error JSON
// (429 and 5xx with Retry-After "1").
func (s *Server) Fail(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failCode = n, status
}

// ServeHTTP answers publishes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" || (r.Method != http.MethodPost && r.Method != http.MethodPut) {
		writeError(w, &apiError{Code: 40401, HTTP: 404, Error: "page not found (the emulator takes JSON publishes at /)"})
		return
	}
	if s.token != "" && !s.authorized(r.Header.Get("Authorization")) {
		writeError(w, &apiError{Code: 40101, HTTP: 401, Error: "unauthorized", Link: "https://ntfy.sh/docs/publish/#authentication"})
		return
	}
	s.mu.Lock()
	fail := 0
	if s.failN > 0 {
		s.failN--
		fail = s.failCode
	}
	s.mu.Unlock()
	if fail != 0 {
		if fail == http.StatusTooManyRequests || fail >= 500 {
			w.Header().Set("Retry-After", "1")
		}
		msg := "emulated failure"
		if fail == http.StatusTooManyRequests {
			msg = "limit reached: too many requests"
		}
		writeError(w, &apiError{Code: fail*100 + 1, HTTP: fail, Error: msg})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		writeError(w, &apiError{Code: 40024, HTTP: 400, Error: "invalid request: request body must be valid JSON"})
		return
	}
	p, perr := parsePublish(body)
	if perr != nil {
		writeError(w, perr)
		return
	}
	msg := s.message(p)
	s.mu.Lock()
	s.messages = append(s.messages, msg)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, msg)
}

func (s *Server) authorized(h string) bool {
	scheme, cred, ok := strings.Cut(h, " ")
	return ok && strings.EqualFold(scheme, "Bearer") &&
		subtle.ConstantTimeCompare([]byte(strings.TrimSpace(cred)), []byte(s.token)) == 1
}

// message is the stored and returned message, as ntfy's JSON.
func (s *Server) message(p publish) map[string]any {
	now := s.Now()
	for i := range p.Actions {
		p.Actions[i].ID = randID(10)
	}
	m := struct {
		ID       string   `json:"id"`
		Time     int64    `json:"time"`
		Expires  int64    `json:"expires"`
		Event    string   `json:"event"`
		Topic    string   `json:"topic"`
		Title    string   `json:"title,omitempty"`
		Message  string   `json:"message"`
		Priority int      `json:"priority,omitempty"`
		Tags     []string `json:"tags,omitempty"`
		Click    string   `json:"click,omitempty"`
		Actions  []action `json:"actions,omitempty"`
	}{
		ID: randID(12), Time: now.Unix(), Expires: now.Add(cacheDuration).Unix(), Event: "message",
		Topic: p.Topic, Title: p.Title, Message: p.Message, Priority: p.Priority, Tags: p.Tags,
		Click: p.Click, Actions: p.Actions,
	}
	if m.Message == "" {
		m.Message = "triggered" // as ntfy does
	}
	raw, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.HTTP, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func randID(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// PressHTTPAction is the package function of the same name.
func (s *Server) PressHTTPAction(ctx context.Context, msg map[string]any, label string) (int, string, error) {
	return PressHTTPAction(ctx, msg, label)
}

// PressHTTPAction performs msg's http action labelled label as the ntfy
// app does when its button is pressed: the action's method (POST when
// unset), URL, headers and body; redirects are followed. It returns the
// answer's status and body (up to 64 KiB).
func PressHTTPAction(ctx context.Context, msg map[string]any, label string) (int, string, error) {
	actions, _ := msg["actions"].([]any)
	for _, a := range actions {
		act, _ := a.(map[string]any)
		if act["action"] != "http" || act["label"] != label {
			continue
		}
		method, _ := act["method"].(string)
		if method == "" {
			method = http.MethodPost
		}
		u, _ := act["url"].(string)
		body, _ := act["body"].(string)
		req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
		if err != nil {
			return 0, "", fmt.Errorf("ntfyemu: action %q: %w", label, err)
		}
		if hs, ok := act["headers"].(map[string]any); ok {
			for k, v := range hs {
				if s, ok := v.(string); ok {
					req.Header.Set(k, s)
				}
			}
		}
		req.Header.Set("User-Agent", "ntfy-emulator (like ntfy Android)")
		client := &http.Client{Timeout: 10 * time.Second}
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", fmt.Errorf("ntfyemu: action %q: %w", label, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return resp.StatusCode, string(b), err
	}
	return 0, "", fmt.Errorf("ntfyemu: message has no http action labelled %q", label)
}
