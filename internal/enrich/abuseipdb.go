package enrich

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
)

// AbuseIPDBConfig configures the AbuseIPDB v2 provider
// (docs.abuseipdb.com, "CHECK Endpoint").
type AbuseIPDBConfig struct {
	BaseURL      string // default https://api.abuseipdb.com/api/v2
	APIKey       string // sent as the Key header
	MaxAgeInDays int    // default 90
	HTTPClient   *http.Client
	Now          func() time.Time
	// Quota overrides the free tier's 1,000 checks a day.
	Quota *Quota
}

// AbuseIPDB is the AbuseIPDB v2 provider, for IPs.
type AbuseIPDB struct {
	cfg AbuseIPDBConfig
	now func() time.Time
}

// AbuseIPDB score thresholds (abuseConfidenceScore, 0-100). AbuseIPDB gives
// none; 75 is where its own UI starts showing red, 25 where it leaves green.
const (
	AbuseMaliciousAt  = 75
	AbuseSuspiciousAt = 25
)

// NewAbuseIPDB validates cfg and returns the provider.
func NewAbuseIPDB(cfg AbuseIPDBConfig) (*AbuseIPDB, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://api.abuseipdb.com/api/v2"
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if u, err := url.Parse(cfg.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, validation.NewFieldError("baseURL", "must be an http(s) URL")
	}
	if strings.TrimSpace(cfg.APIKey) == "" {
		return nil, validation.NewFieldError("apiKey", "is required")
	}
	if cfg.MaxAgeInDays == 0 {
		cfg.MaxAgeInDays = 90
	}
	if cfg.MaxAgeInDays < 1 || cfg.MaxAgeInDays > 365 {
		return nil, validation.NewFieldError("maxAgeInDays", "must be between 1 and 365, got %d", cfg.MaxAgeInDays)
	}
	return &AbuseIPDB{cfg: cfg, now: nowFunc(cfg.Now)}, nil
}

// Name implements Provider.
func (a *AbuseIPDB) Name() string { return "AbuseIPDB" }

// Supports implements Provider.
func (a *AbuseIPDB) Supports(dataType string) bool { return dataType == "ip" }

// Quota implements Quoted.
func (a *AbuseIPDB) Quota() Quota {
	if a.cfg.Quota != nil {
		return *a.cfg.Quota
	}
	return Quota{PerDay: 1000}
}

// Enrich implements Provider.
func (a *AbuseIPDB) Enrich(ctx context.Context, req Request) (Report, error) {
	if req.DataType != "ip" {
		return Report{}, validation.NewFieldError("dataType", "AbuseIPDB does not support %q", req.DataType)
	}
	ip, err := netip.ParseAddr(strings.TrimSpace(req.Data))
	if err != nil {
		return Report{}, validation.NewFieldError("data", "%q is not an IP address", req.Data)
	}
	q := url.Values{"ipAddress": {ip.Unmap().String()}, "maxAgeInDays": {strconv.Itoa(a.cfg.MaxAgeInDays)}}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, a.cfg.BaseURL+"/check?"+q.Encode(), nil)
	if err != nil {
		return Report{}, fmt.Errorf("AbuseIPDB: building request: %w", err)
	}
	hreq.Header.Set("Key", a.cfg.APIKey)
	hreq.Header.Set("Accept", "application/json")
	secrets := []string{a.cfg.APIKey}
	res, err := doHTTP(ctx, a.cfg.HTTPClient, hreq, secrets)
	if err != nil {
		return Report{}, fmt.Errorf("AbuseIPDB: %w", err)
	}
	if res.Status < 200 || res.Status > 299 {
		return Report{}, statusError("AbuseIPDB", res, abuseErrorText(res.Body), a.now(), secrets)
	}
	return ParseAbuseIPDB(req, res.Body, a.now())
}

// abuseErrors is AbuseIPDB's error envelope: {"errors":[{"detail","status"}]}.
type abuseErrors struct {
	Errors []struct {
		Detail string `json:"detail"`
	} `json:"errors"`
}

func abuseErrorText(body []byte) string {
	var e abuseErrors
	if json.Unmarshal(body, &e) != nil || len(e.Errors) == 0 {
		return truncate(string(body), 200)
	}
	parts := make([]string, 0, len(e.Errors))
	for _, x := range e.Errors {
		parts = append(parts, x.Detail)
	}
	return strings.Join(parts, "; ")
}

// abuseCheck is the part of the check answer read here.
type abuseCheck struct {
	Data *struct {
		IPAddress            string `json:"ipAddress"`
		IsWhitelisted        *bool  `json:"isWhitelisted"`
		AbuseConfidenceScore *int   `json:"abuseConfidenceScore"`
		CountryCode          string `json:"countryCode"`
		ISP                  string `json:"isp"`
		Domain               string `json:"domain"`
		TotalReports         int    `json:"totalReports"`
	} `json:"data"`
}

// ParseAbuseIPDB decodes a check answer into a report.
func ParseAbuseIPDB(req Request, body []byte, now time.Time) (Report, error) {
	var c abuseCheck
	if err := json.Unmarshal(body, &c); err != nil {
		return Report{}, fmt.Errorf("AbuseIPDB: decoding check answer: %w", err)
	}
	if c.Data == nil || c.Data.AbuseConfidenceScore == nil {
		return Report{}, fmt.Errorf("AbuseIPDB: check answer has no abuseConfidenceScore")
	}
	d := c.Data
	score := *d.AbuseConfidenceScore
	if score < 0 || score > 100 {
		return Report{}, fmt.Errorf("AbuseIPDB: abuseConfidenceScore %d out of 0-100", score)
	}
	whitelisted := d.IsWhitelisted != nil && *d.IsWhitelisted
	level := LevelSafe
	switch {
	case whitelisted:
	case score >= AbuseMaliciousAt:
		level = LevelMalicious
	case score >= AbuseSuspiciousAt:
		level = LevelSuspicious
	}
	tax := []Taxonomy{
		{Level: level, Namespace: "AbuseIPDB", Predicate: "Score", Value: fmt.Sprintf("%d%%", score)},
		{Level: LevelInfo, Namespace: "AbuseIPDB", Predicate: "Reports", Value: strconv.Itoa(d.TotalReports)},
	}
	if d.CountryCode != "" {
		tax = append(tax, Taxonomy{Level: LevelInfo, Namespace: "AbuseIPDB", Predicate: "Country", Value: d.CountryCode})
	}
	if d.ISP != "" {
		tax = append(tax, Taxonomy{Level: LevelInfo, Namespace: "AbuseIPDB", Predicate: "ISP", Value: d.ISP})
	}
	summary := fmt.Sprintf("AbuseIPDB: %s has abuse confidence %d%% from %d reports", req.Data, score, d.TotalReports)
	var where []string
	if d.CountryCode != "" {
		where = append(where, d.CountryCode)
	}
	if d.ISP != "" {
		where = append(where, d.ISP)
	}
	if len(where) > 0 {
		summary += " (" + strings.Join(where, ", ") + ")"
	}
	if whitelisted {
		summary += ", whitelisted"
	}
	return Report{Provider: "AbuseIPDB", Request: req, Taxonomies: tax, Full: append(json.RawMessage(nil), body...), Summary: summary, At: now}, nil
}
