package enrich

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/enrich/vtemu"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/validation"
)

const vtKey = "vt-secret-key-0123456789abcdef"

var fixedNow = time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)

func newVT(t *testing.T, s *vtemu.Server, key string) *VirusTotal {
	t.Helper()
	vt, err := NewVirusTotal(VTConfig{BaseURL: s.BaseURL, APIKey: key, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	return vt
}

func TestVTURLID(t *testing.T) {
	// Example from VirusTotal's "URL identifiers" doc: unpadded base64url.
	for in, want := range map[string]string{
		"http://www.somedomain.com/this/is/my/url": "aHR0cDovL3d3dy5zb21lZG9tYWluLmNvbS90aGlzL2lzL215L3VybA",
		"https://a.example/?q=ÿ>":                  "aHR0cHM6Ly9hLmV4YW1wbGUvP3E9w78-",
	} {
		if got := VTURLID(in); got != want {
			t.Errorf("VTURLID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVirusTotalVerdicts(t *testing.T) {
	s := vtemu.Start(vtKey)
	defer s.Close()
	s.AddIP("203.0.113.7", vtemu.Stats{Malicious: 12, Harmless: 60, Undetected: 22}, map[string]any{"country": "NL", "as_owner": "Example BV", "reputation": -11})
	s.AddDomain("example.com", vtemu.Stats{Suspicious: 2, Harmless: 70}, nil)
	s.AddURL("http://evil.example/a?b=c", vtemu.Stats{Malicious: 1, Harmless: 80}, nil)
	s.AddFile("44d88612fea8a8f36de82e1278abb02f", vtemu.Stats{Harmless: 10, Undetected: 50, Timeout: 2}, nil)
	vt := newVT(t, s, vtKey)
	tests := []struct {
		req          Request
		level, value string
		summary      string
	}{
		{Request{"ip", "203.0.113.7"}, LevelMalicious, "12/94", "VirusTotal: 12/94 engines call 203.0.113.7 malicious (NL, Example BV)"},
		{Request{"domain", "Example.COM."}, LevelSuspicious, "0/72", "VirusTotal: 0/72 engines call Example.COM. malicious, 2 suspicious"},
		{Request{"fqdn", "example.com"}, LevelSuspicious, "0/72", ""},
		{Request{"url", "http://evil.example/a?b=c"}, LevelMalicious, "1/81", ""},
		{Request{"hash", "44D88612FEA8A8F36DE82E1278ABB02F"}, LevelSafe, "0/62", ""},
		{Request{"ip", "198.51.100.1"}, LevelInfo, "not found", "VirusTotal: 198.51.100.1 is not known to VirusTotal"},
	}
	for _, tc := range tests {
		rep, err := vt.Enrich(context.Background(), tc.req)
		if err != nil {
			t.Fatalf("%v: %v", tc.req, err)
		}
		if rep.Verdict() != tc.level || rep.Taxonomies[0].Value != tc.value || rep.Taxonomies[0].Namespace != "VT" || rep.Taxonomies[0].Predicate != "GetReport" {
			t.Errorf("%v: %s %+v", tc.req, rep.Verdict(), rep.Taxonomies)
		}
		if tc.summary != "" && rep.Summary != tc.summary {
			t.Errorf("%v: summary %q, want %q", tc.req, rep.Summary, tc.summary)
		}
		if !rep.At.Equal(fixedNow) || len(rep.Full) == 0 || rep.Provider != "VirusTotal" {
			t.Errorf("%v: %+v", tc.req, rep)
		}
	}
	if got := vt.Quota(); got != (Quota{PerMinute: 4, PerDay: 500}) {
		t.Errorf("quota %+v", got)
	}
}

func TestVirusTotalInvalidInput(t *testing.T) {
	s := vtemu.Start(vtKey)
	defer s.Close()
	vt := newVT(t, s, vtKey)
	for _, req := range []Request{{"ip", "not-an-ip"}, {"hash", "xyz"}, {"hash", "abcd"}, {"mail", "a@b.c"}, {"domain", "a/b"}, {"url", " "}} {
		_, err := vt.Enrich(context.Background(), req)
		var fe *validation.FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%v: %v, want a field error", req, err)
		}
	}
	if s.Requests() != 0 {
		t.Errorf("invalid input reached the server %d times", s.Requests())
	}
	if _, err := NewVirusTotal(VTConfig{}); err == nil {
		t.Error("no key accepted")
	}
}

func TestVirusTotalErrorClassification(t *testing.T) {
	s := vtemu.Start(vtKey)
	defer s.Close()
	s.AddIP("203.0.113.7", vtemu.Stats{}, nil)
	ctx := context.Background()
	req := Request{"ip", "203.0.113.7"}

	// 401, wrong key: permanent, ErrAuth, no key in the text.
	_, err := newVT(t, s, "wrong-key-do-not-print").Enrich(ctx, req)
	var re *outbox.RetryableError
	if !errors.Is(err, ErrAuth) || errors.As(err, &re) || strings.Contains(err.Error(), "wrong-key-do-not-print") {
		t.Errorf("401: %v", err)
	}
	if !strings.Contains(err.Error(), "WrongCredentialsError") {
		t.Errorf("401 text: %v", err)
	}

	vt := newVT(t, s, vtKey)
	// 429 with Retry-After: retryable, After honoured.
	s.SetRetryAfter("42")
	s.Fail(1, http.StatusTooManyRequests)
	_, err = vt.Enrich(ctx, req)
	if !errors.As(err, &re) || re.After != 42*time.Second || !strings.Contains(err.Error(), "QuotaExceededError") {
		t.Errorf("429: %v", err)
	}
	// 5xx: retryable.
	for _, st := range []int{500, 503, 504} {
		s.Fail(1, st)
		_, err = vt.Enrich(ctx, req)
		if !errors.As(err, &re) {
			t.Errorf("%d: %v, want retryable", st, err)
		}
	}
	// 400: permanent.
	s.Fail(1, 400)
	if _, err = vt.Enrich(ctx, req); err == nil || errors.As(err, &re) {
		t.Errorf("400: %v", err)
	}
	// Network failure: retryable, and neither key nor URL in the text.
	s.Close()
	_, err = vt.Enrich(ctx, req)
	if !errors.As(err, &re) || strings.Contains(err.Error(), vtKey) {
		t.Errorf("network: %v", err)
	}
}

// A server echoing the key in its message must not leak it.
func TestVirusTotalScrubsEchoedKey(t *testing.T) {
	srv := newEchoServer(t, http.StatusUnauthorized, `{"error":{"code":"WrongCredentialsError","message":"key `+vtKey+` is wrong"}}`)
	vt, _ := NewVirusTotal(VTConfig{BaseURL: srv.URL, APIKey: vtKey})
	_, err := vt.Enrich(context.Background(), Request{"ip", "192.0.2.1"})
	if err == nil || strings.Contains(err.Error(), vtKey) {
		t.Errorf("%v", err)
	}
}

// Counting requests: one Enrich is one request, so the caller's queue can
// spend the 4/min quota exactly.
func TestVirusTotalQuotaCounting(t *testing.T) {
	s := vtemu.Start(vtKey)
	defer s.Close()
	now := fixedNow
	s.LimitPerMinute(4, func() time.Time { return now })
	s.AddIP("203.0.113.7", vtemu.Stats{}, nil)
	vt := newVT(t, s, vtKey)
	for i := range 4 {
		if _, err := vt.Enrich(context.Background(), Request{"ip", "203.0.113.7"}); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	_, err := vt.Enrich(context.Background(), Request{"ip", "203.0.113.7"})
	var re *outbox.RetryableError
	if !errors.As(err, &re) {
		t.Fatalf("5th request: %v", err)
	}
	if s.Requests() != 5 {
		t.Errorf("requests %d", s.Requests())
	}
}

func TestVTNotFoundFixture(t *testing.T) {
	body, err := os.ReadFile("testdata/virustotal/error_404_not_found.json")
	if err != nil {
		t.Fatal(err)
	}
	srv := newEchoServer(t, http.StatusNotFound, string(body))
	vt, _ := NewVirusTotal(VTConfig{BaseURL: srv.URL, APIKey: vtKey})
	rep, err := vt.Enrich(context.Background(), Request{"url", "thisurlidmakesnosenseatall"})
	if err != nil || rep.Verdict() != LevelInfo || !strings.Contains(string(rep.Full), "NotFoundError") {
		t.Errorf("%+v %v", rep, err)
	}
	body, _ = os.ReadFile("testdata/virustotal/error_401_authentication_required.json")
	srv = newEchoServer(t, http.StatusUnauthorized, string(body))
	vt, _ = NewVirusTotal(VTConfig{BaseURL: srv.URL, APIKey: vtKey})
	_, err = vt.Enrich(context.Background(), Request{"ip", "192.0.2.1"})
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "AuthenticationRequiredError: X-Apikey header is missing") {
		t.Errorf("%v", err)
	}
}

func TestVTReportWithoutStats(t *testing.T) {
	rep, err := ParseVTReport(Request{"domain", "new.example"}, []byte(`{"data":{"id":"new.example","type":"domain","attributes":{}}}`), fixedNow)
	if err != nil || rep.Verdict() != LevelInfo || rep.Taxonomies[0].Value != "no analysis" {
		t.Errorf("%+v %v", rep, err)
	}
	if _, err := ParseVTReport(Request{"ip", "x"}, []byte(`{}`), fixedNow); err == nil {
		t.Error("no data accepted")
	}
}
