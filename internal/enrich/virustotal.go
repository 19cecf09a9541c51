package enrich

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
)

// VTConfig configures the VirusTotal v3 provider.
type VTConfig struct {
	BaseURL    string // default https://www.virustotal.com/api/v3
	APIKey     string // sent as x-apikey
	HTTPClient *http.Client
	Now        func() time.Time
	// MaliciousAt and SuspiciousAt are the engine counts from which a report
	// is malicious or suspicious; 0 means 1. One engine is VirusTotal's own
	// GUI threshold for colouring a detection red, and the analyst reads the
	// ratio in the value anyway.
	MaliciousAt, SuspiciousAt int
	// Quota overrides the public tier's 4/min and 500/day (premium keys).
	Quota *Quota
}

// VirusTotal is the VirusTotal API v3 provider.
type VirusTotal struct {
	cfg VTConfig
	now func() time.Time
}

// NewVirusTotal validates cfg and returns the provider.
func NewVirusTotal(cfg VTConfig) (*VirusTotal, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://www.virustotal.com/api/v3"
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if u, err := url.Parse(cfg.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, validation.NewFieldError("baseURL", "must be an http(s) URL")
	}
	if strings.TrimSpace(cfg.APIKey) == "" {
		return nil, validation.NewFieldError("apiKey", "is required")
	}
	if cfg.MaliciousAt <= 0 {
		cfg.MaliciousAt = 1
	}
	if cfg.SuspiciousAt <= 0 {
		cfg.SuspiciousAt = 1
	}
	return &VirusTotal{cfg: cfg, now: nowFunc(cfg.Now)}, nil
}

// Name implements Provider.
func (v *VirusTotal) Name() string { return "VirusTotal" }

// Supports implements Provider: ip, domain, fqdn, url and hash (md5, sha1,
// sha256). Files themselves are not uploaded.
func (v *VirusTotal) Supports(dataType string) bool {
	switch dataType {
	case "ip", "domain", "fqdn", "url", "hash":
		return true
	}
	return false
}

// Quota implements Quoted.
func (v *VirusTotal) Quota() Quota {
	if v.cfg.Quota != nil {
		return *v.cfg.Quota
	}
	return Quota{PerMinute: 4, PerDay: 500}
}

// VTURLID is VirusTotal's identifier of a URL: its unpadded base64url
// encoding (docs.virustotal.com/reference/url, "URL identifiers").
func VTURLID(u string) string { return base64.RawURLEncoding.EncodeToString([]byte(u)) }

// vtPath maps a request to its object path.
func vtPath(req Request) (string, error) {
	data := strings.TrimSpace(req.Data)
	if data == "" {
		return "", validation.NewFieldError("data", "is empty")
	}
	switch req.DataType {
	case "ip":
		a, err := netip.ParseAddr(data)
		if err != nil {
			return "", validation.NewFieldError("data", "%q is not an IP address", data)
		}
		return "/ip_addresses/" + a.Unmap().String(), nil
	case "domain", "fqdn":
		d := strings.TrimSuffix(strings.ToLower(data), ".")
		if d == "" || strings.ContainsAny(d, "/ ?#") {
			return "", validation.NewFieldError("data", "%q is not a domain", data)
		}
		return "/domains/" + url.PathEscape(d), nil
	case "url":
		return "/urls/" + VTURLID(data), nil
	case "hash":
		h := strings.ToLower(data)
		if _, err := hex.DecodeString(h); err != nil || (len(h) != 32 && len(h) != 40 && len(h) != 64) {
			return "", validation.NewFieldError("data", "%q is not an MD5, SHA-1 or SHA-256 hash", data)
		}
		return "/files/" + h, nil
	}
	return "", validation.NewFieldError("dataType", "VirusTotal does not support %q", req.DataType)
}

// Enrich implements Provider.
func (v *VirusTotal) Enrich(ctx context.Context, req Request) (Report, error) {
	path, err := vtPath(req)
	if err != nil {
		return Report{}, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.BaseURL+path, nil)
	if err != nil {
		return Report{}, fmt.Errorf("VirusTotal: building request: %w", err)
	}
	hreq.Header.Set("x-apikey", v.cfg.APIKey)
	hreq.Header.Set("Accept", "application/json")
	secrets := []string{v.cfg.APIKey}
	res, err := doHTTP(ctx, v.cfg.HTTPClient, hreq, secrets)
	if err != nil {
		return Report{}, fmt.Errorf("VirusTotal: %w", err)
	}
	now := v.now()
	if res.Status == http.StatusNotFound {
		return v.notFound(req, res.Body, now), nil
	}
	if res.Status < 200 || res.Status > 299 {
		return Report{}, statusError("VirusTotal", res, vtErrorText(res.Body), now, secrets)
	}
	return v.parse(req, res.Body, now)
}

// vtError is VirusTotal's error envelope (docs.virustotal.com/reference/errors).
type vtError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func vtErrorText(body []byte) string {
	var e vtError
	if json.Unmarshal(body, &e) != nil || e.Error.Code == "" {
		return truncate(string(body), 200)
	}
	return e.Error.Code + ": " + e.Error.Message
}

func (v *VirusTotal) notFound(req Request, body []byte, now time.Time) Report {
	full := json.RawMessage(nil)
	if json.Valid(body) {
		full = append(full, body...)
	}
	return Report{
		Provider:   v.Name(),
		Request:    req,
		Taxonomies: []Taxonomy{{Level: LevelInfo, Namespace: "VT", Predicate: "GetReport", Value: "not found"}},
		Full:       full,
		Summary:    fmt.Sprintf("VirusTotal: %s is not known to VirusTotal", req.Data),
		At:         now,
	}
}

// vtObject is the part of an object (ip_address, domain, url, file) read
// here; the whole body is kept as Full.
type vtObject struct {
	Data *struct {
		ID         string `json:"id"`
		Type       string `json:"type"`
		Attributes struct {
			Stats      map[string]int `json:"last_analysis_stats"`
			Reputation *int           `json:"reputation"`
			Country    string         `json:"country"`
			ASOwner    string         `json:"as_owner"`
		} `json:"attributes"`
	} `json:"data"`
}

// VTStats are the counts read from last_analysis_stats. Total sums every
// category present (harmless, undetected, timeout, type-unsupported, …), as
// VirusTotal's "12/94" does.
type VTStats struct{ Malicious, Suspicious, Harmless, Undetected, Total int }

// ParseVTReport decodes a VirusTotal v3 object body into a report; exported
// for the fuzz target and for callers holding a stored body.
func ParseVTReport(req Request, body []byte, now time.Time) (Report, error) {
	v := &VirusTotal{cfg: VTConfig{MaliciousAt: 1, SuspiciousAt: 1}}
	return v.parse(req, body, now)
}

func (v *VirusTotal) parse(req Request, body []byte, now time.Time) (Report, error) {
	var obj vtObject
	if err := json.Unmarshal(body, &obj); err != nil {
		return Report{}, fmt.Errorf("VirusTotal: decoding %s report: %w", req.DataType, err)
	}
	if obj.Data == nil {
		return Report{}, fmt.Errorf("VirusTotal: report has no data object")
	}
	a := obj.Data.Attributes
	rep := Report{Provider: v.Name(), Request: req, Full: append(json.RawMessage(nil), body...), At: now}
	if a.Stats == nil {
		rep.Taxonomies = []Taxonomy{{Level: LevelInfo, Namespace: "VT", Predicate: "GetReport", Value: "no analysis"}}
		rep.Summary = fmt.Sprintf("VirusTotal: %s has not been analysed yet", req.Data)
		return rep, nil
	}
	st := VTStats{Malicious: a.Stats["malicious"], Suspicious: a.Stats["suspicious"], Harmless: a.Stats["harmless"], Undetected: a.Stats["undetected"]}
	keys := make([]string, 0, len(a.Stats))
	for k := range a.Stats {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		// Negative counts are nonsense and skipped; the sum saturates
		// rather than overflow on a hostile body.
		if n := a.Stats[k]; n > 0 {
			st.Total = min(st.Total+min(n, 1<<40), 1<<50)
		}
	}
	level := LevelSafe
	switch {
	case st.Malicious >= v.cfg.MaliciousAt:
		level = LevelMalicious
	case st.Suspicious >= v.cfg.SuspiciousAt:
		level = LevelSuspicious
	}
	value := fmt.Sprintf("%d/%d", st.Malicious, st.Total)
	rep.Taxonomies = []Taxonomy{{Level: level, Namespace: "VT", Predicate: "GetReport", Value: value}}
	if a.Reputation != nil {
		rep.Taxonomies = append(rep.Taxonomies, Taxonomy{Level: LevelInfo, Namespace: "VT", Predicate: "Reputation", Value: fmt.Sprint(*a.Reputation)})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "VirusTotal: %s engines call %s malicious", value, req.Data)
	if st.Suspicious > 0 {
		fmt.Fprintf(&b, ", %d suspicious", st.Suspicious)
	}
	var where []string
	if a.Country != "" {
		where = append(where, a.Country)
	}
	if a.ASOwner != "" {
		where = append(where, a.ASOwner)
	}
	if len(where) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(where, ", "))
	}
	rep.Summary = b.String()
	return rep, nil
}
