package feedsemu

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// base is the part every emulator shares: the listener, injected failures
// and a request counter.
type base struct {
	mu       sync.Mutex
	srv      *http.Server
	url      string
	fail     int // answer the next fail requests with failCode
	failCode int
	corrupt  int // answer the next corrupt requests 200 with a broken page
	requests int
}

// start listens on a free loopback port and serves h.
func (b *base) start(h http.Handler) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		return "", errors.New("feedsemu: already started")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: b.wrap(h), ReadHeaderTimeout: 5 * time.Second}
	b.srv = srv
	b.url = "http://" + ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	return b.url, nil
}

// Close stops the server.
func (b *base) Close() {
	b.mu.Lock()
	srv := b.srv
	b.srv = nil
	b.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Fail makes the next n requests answer status (429 and 5xx with
// "Retry-After: 7").
func (b *base) Fail(n, status int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fail, b.failCode = n, status
}

// Corrupt makes the next n requests answer 200 with a body that is not a
// valid page.
func (b *base) Corrupt(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.corrupt = n
}

// Requests is the number of requests served so far.
func (b *base) Requests() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.requests
}

// URL is the base URL once started.
func (b *base) URL() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.url
}

func (b *base) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.requests++
		fail, code, corrupt := b.fail > 0, b.failCode, b.corrupt > 0
		if fail {
			b.fail--
		} else if corrupt {
			b.corrupt--
		}
		b.mu.Unlock()
		switch {
		case fail:
			if code == http.StatusTooManyRequests || code >= 500 {
				w.Header().Set("Retry-After", strconv.Itoa(7))
			}
			http.Error(w, http.StatusText(code), code)
		case corrupt:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"results": [{"id": "truncated`))
		default:
			h.ServeHTTP(w, r)
		}
	})
}

func writeJSON(w http.ResponseWriter, status int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
