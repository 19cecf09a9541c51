// Package abuseemu is a small in-process emulator of AbuseIPDB's v2 CHECK
// endpoint (GET /api/v2/check?ipAddress=…&maxAgeInDays=…, header Key;
// docs.abuseipdb.com). Answers carry the documented data fields; errors use
// AbuseIPDB's {"errors":[{"detail","status"}]} envelope. Unknown addresses
// answer a clean record (score 0, no reports), as AbuseIPDB does.
package abuseemu

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
)

// Record is what the emulator knows about one address.
type Record struct {
	Score        int
	CountryCode  string
	ISP          string
	Domain       string
	TotalReports int
	Whitelisted  bool
}

// Server is a running emulator; BaseURL ends in /api/v2.
type Server struct {
	BaseURL string
	Key     string

	srv        *httptest.Server
	mu         sync.Mutex
	records    map[string]Record
	failN      int
	failStatus int
	retryAfter string
	requests   int
	lastQuery  string
}

// Start runs an emulator accepting key.
func Start(key string) *Server {
	s := &Server{Key: key, records: map[string]Record{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.BaseURL = s.srv.URL + "/api/v2"
	return s
}

// Close stops the emulator.
func (s *Server) Close() { s.srv.Close() }

// Add registers an address.
func (s *Server) Add(ip string, r Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[ip] = r
}

// Fail makes the next n requests answer status; retryAfter (may be empty)
// is sent as Retry-After.
func (s *Server) Fail(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus, s.retryAfter = n, status, retryAfter
}

// Requests is the number of requests received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// LastQuery is the raw query string of the last request.
func (s *Server) LastQuery() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastQuery
}

func writeErr(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"detail": detail, "status": status}}})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.lastQuery = r.URL.RawQuery
	failing, status, ra := s.failN > 0, s.failStatus, s.retryAfter
	if failing {
		s.failN--
	}
	s.mu.Unlock()
	if r.Header.Get("Key") != s.Key {
		writeErr(w, http.StatusUnauthorized, "Authentication failed. Your API key is either missing, incorrect, or revoked. Note: The APIv2 key differs from the APIv1 key.")
		return
	}
	if failing {
		if ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		detail := "Server error."
		if status == http.StatusTooManyRequests {
			detail = "Daily rate limit of 1000 requests exceeded for this endpoint. See headers for additional details."
		}
		writeErr(w, status, detail)
		return
	}
	if r.URL.Path != "/api/v2/check" {
		writeErr(w, http.StatusNotFound, "Not found.")
		return
	}
	ip, err := netip.ParseAddr(r.URL.Query().Get("ipAddress"))
	if err != nil {
		writeErr(w, http.StatusUnprocessableEntity, "The ip address must be a valid IPv4 or IPv6 address (e.g. 8.8.8.8 or 2001:4860:4860::8888).")
		return
	}
	if d := r.URL.Query().Get("maxAgeInDays"); d != "" {
		if n, err := strconv.Atoi(d); err != nil || n < 1 || n > 365 {
			writeErr(w, http.StatusUnprocessableEntity, "The max age in days must be between 1 and 365.")
			return
		}
	}
	s.mu.Lock()
	rec := s.records[ip.String()]
	s.mu.Unlock()
	version := 4
	if ip.Is6() {
		version = 6
	}
	data := map[string]any{
		"ipAddress":            ip.String(),
		"isPublic":             ip.IsGlobalUnicast() && !ip.IsPrivate(),
		"ipVersion":            version,
		"isWhitelisted":        rec.Whitelisted,
		"abuseConfidenceScore": rec.Score,
		"countryCode":          nilIfEmpty(rec.CountryCode),
		"usageType":            nil,
		"isp":                  rec.ISP,
		"domain":               nilIfEmpty(rec.Domain),
		"hostnames":            []string{},
		"totalReports":         rec.TotalReports,
		"numDistinctUsers":     min(rec.TotalReports, 1),
		"lastReportedAt":       nil,
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"data": data})
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
