package enrich

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/enrich/abuseemu"
	"github.com/vigil-soc/vigil/internal/outbox"
)

const abuseKey = "abuse-secret-key-fedcba9876543210"

func TestAbuseIPDBLevels(t *testing.T) {
	s := abuseemu.Start(abuseKey)
	defer s.Close()
	s.Add("203.0.113.7", abuseemu.Record{Score: 100, CountryCode: "CN", ISP: "Example ISP", TotalReports: 412})
	s.Add("203.0.113.8", abuseemu.Record{Score: 75})
	s.Add("203.0.113.9", abuseemu.Record{Score: 74})
	s.Add("203.0.113.10", abuseemu.Record{Score: 25})
	s.Add("203.0.113.11", abuseemu.Record{Score: 24})
	s.Add("8.8.8.8", abuseemu.Record{Score: 90, Whitelisted: true})
	s.Add("2001:db8::1", abuseemu.Record{Score: 50})
	a, err := NewAbuseIPDB(AbuseIPDBConfig{BaseURL: s.BaseURL, APIKey: abuseKey, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]string{
		"203.0.113.7": LevelMalicious, "203.0.113.8": LevelMalicious, "203.0.113.9": LevelSuspicious,
		"203.0.113.10": LevelSuspicious, "203.0.113.11": LevelSafe, "198.51.100.1": LevelSafe,
		"8.8.8.8": LevelSafe, "2001:db8::1": LevelSuspicious,
	} {
		rep, err := a.Enrich(context.Background(), Request{"ip", ip})
		if err != nil {
			t.Fatalf("%s: %v", ip, err)
		}
		if rep.Verdict() != want {
			t.Errorf("%s: %s, want %s (%+v)", ip, rep.Verdict(), want, rep.Taxonomies)
		}
	}
	rep, _ := a.Enrich(context.Background(), Request{"ip", "203.0.113.7"})
	if want := "AbuseIPDB: 203.0.113.7 has abuse confidence 100% from 412 reports (CN, Example ISP)"; rep.Summary != want {
		t.Errorf("summary %q", rep.Summary)
	}
	q, _ := url.ParseQuery(s.LastQuery())
	if q.Get("ipAddress") != "203.0.113.7" || q.Get("maxAgeInDays") != "90" {
		t.Errorf("query %q", s.LastQuery())
	}
	if _, err := a.Enrich(context.Background(), Request{"domain", "example.com"}); err == nil {
		t.Error("domain accepted")
	}
}

func TestAbuseIPDBErrors(t *testing.T) {
	s := abuseemu.Start(abuseKey)
	defer s.Close()
	ctx := context.Background()
	bad, _ := NewAbuseIPDB(AbuseIPDBConfig{BaseURL: s.BaseURL, APIKey: "not-the-key-12345"})
	_, err := bad.Enrich(ctx, Request{"ip", "192.0.2.1"})
	if !errors.Is(err, ErrAuth) || strings.Contains(err.Error(), "not-the-key-12345") {
		t.Errorf("401: %v", err)
	}
	a, _ := NewAbuseIPDB(AbuseIPDBConfig{BaseURL: s.BaseURL, APIKey: abuseKey})
	var re *outbox.RetryableError
	s.Fail(1, 429, "120")
	if _, err = a.Enrich(ctx, Request{"ip", "192.0.2.1"}); !errors.As(err, &re) || re.After != 2*time.Minute {
		t.Errorf("429: %v", err)
	}
	s.Fail(1, 502, "")
	if _, err = a.Enrich(ctx, Request{"ip", "192.0.2.1"}); !errors.As(err, &re) {
		t.Errorf("502: %v", err)
	}
	s.Fail(1, 422, "")
	if _, err = a.Enrich(ctx, Request{"ip", "192.0.2.1"}); err == nil || errors.As(err, &re) {
		t.Errorf("422: %v", err)
	}
	if _, err := NewAbuseIPDB(AbuseIPDBConfig{APIKey: "k", MaxAgeInDays: 400}); err == nil {
		t.Error("maxAgeInDays 400 accepted")
	}
}

func TestParseAbuseIPDB(t *testing.T) {
	for _, body := range []string{`{}`, `{"data":{}}`, `{"data":{"abuseConfidenceScore":101}}`, `[]`, `nope`} {
		if _, err := ParseAbuseIPDB(Request{"ip", "x"}, []byte(body), fixedNow); err == nil {
			t.Errorf("%s accepted", body)
		}
	}
}
