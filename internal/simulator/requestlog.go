package simulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// RequestRecord is one request the simulated services received, as the
// request log keeps it: enough to tell, after a test, which client asked
// what and when, and whether the same write arrived twice.
type RequestRecord struct {
	Seq    int       `json:"seq"`
	At     time.Time `json:"at"` // when it arrived, by the simulator's clock
	Route  string    `json:"route"`
	Method string    `json:"method"`
	Path   string    `json:"path"`
	Query  string    `json:"query,omitempty"`
	// Client tells callers apart without keeping their secret: a short
	// hash of the Authorization header. Each process that signs in gets
	// its own access tokens, so two instances of one app show as two
	// clients; "" is a request without credentials.
	Client string `json:"client,omitempty"`
	// BodySHA256 is the hash of the request body ("" without one), so
	// that a resend of the same write is recognised.
	BodySHA256 string `json:"body_sha256,omitempty"`
	Status     int    `json:"status"`
}

// maxRequestRecords bounds the log of a long-running simulator: the oldest
// records go first. Tests read it long before.
const maxRequestRecords = 200_000

// requestLog records every request to the simulated services (not the
// control API's reads of the log itself).
type requestLog struct {
	mu      sync.Mutex
	next    int
	records []RequestRecord
	dropped int
}

func newRequestLog() *requestLog { return &requestLog{} }

type requestRecordKey struct{}

// slot is where a request's route name is noted by the route itself
// (nameRequest), which only the mux's handler knows.
type slot struct{ route string }

// wrap records each request h serves.
func (l *requestLog) wrap(clk func() time.Time, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := RequestRecord{At: clk(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery}
		if a := r.Header.Get("Authorization"); a != "" {
			sum := sha256.Sum256([]byte(a))
			rec.Client = hex.EncodeToString(sum[:6])
		}
		if r.Body != nil && r.Body != http.NoBody {
			b, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
			r.Body.Close()
			if err == nil && len(b) > 0 {
				sum := sha256.Sum256(b)
				rec.BodySHA256 = hex.EncodeToString(sum[:])
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		sl := &slot{}
		r = r.WithContext(context.WithValue(r.Context(), requestRecordKey{}, sl))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		rec.Route, rec.Status = sl.route, sw.status
		if rec.Route == "sim.requests" {
			return
		}
		l.add(rec)
	})
}

func (l *requestLog) add(rec RequestRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	rec.Seq = l.next
	if len(l.records) >= maxRequestRecords {
		n := len(l.records) / 10
		l.records = append(l.records[:0], l.records[n:]...)
		l.dropped += n
	}
	l.records = append(l.records, rec)
}

// since returns the records after sequence number seq, and how many
// records were dropped to bound the log.
func (l *requestLog) since(seq int) ([]RequestRecord, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []RequestRecord
	for _, r := range l.records {
		if r.Seq > seq {
			out = append(out, r)
		}
	}
	return out, l.dropped
}

// nameRequest notes the route a request reached, for the request log.
func nameRequest(r *http.Request, route string) {
	if sl, ok := r.Context().Value(requestRecordKey{}).(*slot); ok && sl.route == "" {
		sl.route = route
	}
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Requests returns the recorded requests after sequence number seq (0
// for all), oldest first.
func (s *Simulator) Requests(seq int) []RequestRecord {
	out, _ := s.requests.since(seq)
	return out
}

// requestRoutes serves the request log: GET /sim/v1/requests?since=N
// answers {"value": [records], "dropped": n}. A test counts from it how
// often each API was polled and by which client, and whether a write was
// applied twice.
func (s *Simulator) requestRoutes() {
	s.handle("GET /sim/v1/requests", "sim.requests", "", func(w http.ResponseWriter, r *http.Request) {
		seq, _ := strconv.Atoi(r.URL.Query().Get("since"))
		recs, dropped := s.requests.since(seq)
		if recs == nil {
			recs = []RequestRecord{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": recs, "dropped": dropped})
	})
}
