// Package vtemu is an in-process emulator of the VirusTotal API v3 object
// lookups used by vigil: GET /api/v3/ip_addresses/{ip}, /domains/{domain},
// /urls/{id} and /files/{hash}.
//
// Objects follow VirusTotal's documented shape ({"data": {"id", "type",
// "links": {"self"}, "attributes": {…}}}; https://docs.virustotal.com/docs/ip-object
// and the sibling domain, URL and file object pages): attributes carry
// last_analysis_stats {harmless, malicious, suspicious, undetected, timeout},
// last_analysis_date, reputation, and for IPs country/as_owner/asn.
// Errors follow docs.virustotal.com/reference/errors ({"error": {"code",
// "message"}}); the 401 for a missing key and the 404 for an unknown URL
// match the published examples byte for byte once decoded. The 404 message
// for other object kinds ("IP address", "Domain", "File") is this
// emulator's guess, following the URL example.
package vtemu

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Stats is an object's last_analysis_stats.
type Stats struct {
	Malicious, Suspicious, Harmless, Undetected, Timeout int
}

// Server is a running emulator. BaseURL is what a client's BaseURL should be
// set to (it ends in /api/v3).
type Server struct {
	BaseURL string
	Key     string

	srv *httptest.Server

	mu         sync.Mutex
	objects    map[string]map[string]any // "kind/id" -> data object
	failN      int
	failStatus int
	retryAfter string
	requests   int
	byPath     map[string]int
	perMinute  int
	window     []time.Time
	now        func() time.Time
}

// Start runs an emulator that accepts key in x-apikey.
func Start(key string) *Server {
	s := &Server{Key: key, objects: map[string]map[string]any{}, byPath: map[string]int{}, now: time.Now}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.BaseURL = s.srv.URL + "/api/v3"
	return s
}

// Close stops the emulator.
func (s *Server) Close() { s.srv.Close() }

// AddIP registers an IP address object; attrs (may be nil) add or override
// attributes such as country, as_owner, asn, reputation.
func (s *Server) AddIP(ip string, st Stats, attrs map[string]any) {
	s.add("ip_addresses", "ip_address", ip, st, attrs)
}

// AddDomain registers a domain object.
func (s *Server) AddDomain(d string, st Stats, attrs map[string]any) {
	s.add("domains", "domain", d, st, attrs)
}

// AddURL registers a URL object under its identifier (unpadded base64url).
func (s *Server) AddURL(u string, st Stats, attrs map[string]any) {
	a := map[string]any{"url": u, "last_final_url": u}
	for k, v := range attrs {
		a[k] = v
	}
	s.add("urls", "url", base64.RawURLEncoding.EncodeToString([]byte(u)), st, a)
}

// AddFile registers a file object under a hash (md5, sha1 or sha256).
func (s *Server) AddFile(hash string, st Stats, attrs map[string]any) {
	s.add("files", "file", strings.ToLower(hash), st, attrs)
}

// Fail makes the next n requests answer status with the matching
// VirusTotal error body (429 QuotaExceededError, 503 TransientError, …).
func (s *Server) Fail(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus = n, status
}

// SetRetryAfter sets the Retry-After header sent with 429 answers.
func (s *Server) SetRetryAfter(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retryAfter = v
}

// LimitPerMinute makes the emulator enforce a per-minute quota (the public
// tier's is 4) on the given clock, answering 429 QuotaExceededError beyond it.
func (s *Server) LimitPerMinute(n int, now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perMinute = n
	if now != nil {
		s.now = now
	}
}

// Requests is the number of requests received, failed ones included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// RequestsFor is the number of requests received for one path
// (e.g. "/api/v3/ip_addresses/203.0.113.7").
func (s *Server) RequestsFor(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byPath[path]
}

func (s *Server) add(collection, typ, id string, st Stats, attrs map[string]any) {
	a := map[string]any{
		"last_analysis_stats": map[string]int{
			"harmless": st.Harmless, "malicious": st.Malicious, "suspicious": st.Suspicious,
			"undetected": st.Undetected, "timeout": st.Timeout,
		},
		"last_analysis_date": 1700000000,
		"reputation":         0,
		"tags":               []string{},
		"total_votes":        map[string]int{"harmless": 0, "malicious": 0},
	}
	for k, v := range attrs {
		a[k] = v
	}
	obj := map[string]any{
		"id":         id,
		"type":       typ,
		"links":      map[string]string{"self": s.BaseURL + "/" + collection + "/" + id},
		"attributes": a,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[collection+"/"+id] = obj
}

// errorCodes are the error codes sent per status
// (docs.virustotal.com/reference/errors).
var errorCodes = map[int][2]string{
	400: {"BadRequestError", "The API request is invalid or malformed."},
	403: {"ForbiddenError", "You are not allowed to perform the requested operation."},
	429: {"QuotaExceededError", "You have exceeded one of your quotas (minute, daily or monthly). Daily quotas are reset every day at 00:00 UTC."},
	500: {"TransientError", "Transient server error. Retry might work."},
	503: {"TransientError", "Transient server error. Retry might work."},
	504: {"DeadlineExceededError", "The operation took too long to complete."},
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body, _ := json.Marshal(map[string]map[string]string{"error": {"code": code, "message": msg}})
	_, _ = w.Write(body)
}

var kindNames = map[string]string{"ip_addresses": "IP address", "domains": "Domain", "urls": "URL", "files": "File"}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.byPath[r.URL.Path]++
	failing := s.failN > 0
	status, retryAfter := s.failStatus, s.retryAfter
	if failing {
		s.failN--
	}
	overQuota := false
	if s.perMinute > 0 {
		now := s.now()
		kept := s.window[:0]
		for _, t := range s.window {
			if now.Sub(t) < time.Minute {
				kept = append(kept, t)
			}
		}
		s.window = kept
		if len(s.window) >= s.perMinute {
			overQuota = true
		} else {
			s.window = append(s.window, now)
		}
	}
	s.mu.Unlock()

	key := r.Header.Get("x-apikey")
	switch {
	case key == "":
		writeError(w, http.StatusUnauthorized, "AuthenticationRequiredError", "X-Apikey header is missing")
		return
	case key != s.Key:
		writeError(w, http.StatusUnauthorized, "WrongCredentialsError", "Wrong API key")
		return
	}
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "BadRequestError", "Method not allowed")
		return
	}
	if overQuota {
		status, failing = http.StatusTooManyRequests, true
	}
	if failing {
		ec, ok := errorCodes[status]
		if !ok {
			ec = [2]string{"TransientError", "Transient server error. Retry might work."}
		}
		if status == http.StatusTooManyRequests && retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		writeError(w, status, ec[0], ec[1])
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v3/")
	collection, id, ok2 := strings.Cut(rest, "/")
	kind, known := kindNames[collection]
	if !ok || !ok2 || id == "" || strings.Contains(id, "/") || !known {
		writeError(w, http.StatusNotFound, "NotFoundError", fmt.Sprintf("Resource %s not found", strconv.Quote(r.URL.Path)))
		return
	}
	if collection == "files" {
		id = strings.ToLower(id)
	}
	s.mu.Lock()
	obj, found := s.objects[collection+"/"+id]
	s.mu.Unlock()
	if !found {
		writeError(w, http.StatusNotFound, "NotFoundError", fmt.Sprintf("%s %s not found", kind, strconv.Quote(id)))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"data": obj})
}
