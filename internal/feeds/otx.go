package feeds

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
)

// OTXConfig configures the AlienVault OTX subscribed-pulses feed.
type OTXConfig struct {
	BaseURL    string // default https://otx.alienvault.com
	APIKey     string // sent as X-OTX-API-KEY
	HTTPClient *http.Client
	Now        func() time.Time
	PageSize   int       // `limit`; default 50
	Since      time.Time // lower bound for the first pass (cursor ""); zero: everything
}

// OTX reads GET /api/v1/pulses/subscribed. The response is a page envelope
// {"results": [pulse…], "count": N, "next": url|null, "previous": url|null};
// "next" is a full URL followed as is (otx_ruby OTX::Subscribed#get_all,
// rubydoc.info/gems/otx_ruby/OTX/Subscribed, loops on json_data['next'] and
// json_data['results']; Elastic's ti_otx integration does the same).
type OTX struct{ cfg OTXConfig }

// NewOTX validates cfg and returns the feed.
func NewOTX(cfg OTXConfig) (*OTX, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://otx.alienvault.com"
	}
	if u, err := url.Parse(cfg.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, validation.NewFieldError("base_url", "must be an http(s) URL, got %q", cfg.BaseURL)
	}
	if cfg.APIKey == "" {
		return nil, validation.NewFieldError("api_key", "is required")
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 50
	}
	cfg.Now = nowFunc(cfg.Now)
	return &OTX{cfg: cfg}, nil
}

// Name implements Feed.
func (o *OTX) Name() string { return "otx" }

// Pass implements Feed. The cursor is the largest pulse `modified` seen,
// RFC 3339 in UTC.
func (o *OTX) Pass(ctx context.Context, cursor string) (Result, error) {
	since := o.cfg.Since
	if cursor != "" {
		t, err := time.Parse(time.RFC3339Nano, cursor)
		if err != nil {
			return Result{}, fmt.Errorf("otx: bad cursor %q: %w", cursor, err)
		}
		since = t
	}
	q := url.Values{}
	if !since.IsZero() {
		q.Set("modified_since", since.UTC().Format(time.RFC3339Nano))
	}
	q.Set("limit", strconv.Itoa(o.cfg.PageSize))
	next := strings.TrimRight(o.cfg.BaseURL, "/") + "/api/v1/pulses/subscribed?" + q.Encode()

	res := Result{Cursor: cursor}
	maxMod := since
	for next != "" {
		if err := ctxErr(ctx); err != nil {
			return Result{Cursor: cursor}, fmt.Errorf("otx: %w", err)
		}
		if res.Pages >= maxPages {
			return Result{Cursor: cursor}, fmt.Errorf("otx: more than %d pages, giving up", maxPages)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if err != nil {
			return Result{Cursor: cursor}, fmt.Errorf("otx: bad next URL: %w", err)
		}
		req.Header.Set("X-OTX-API-KEY", o.cfg.APIKey)
		req.Header.Set("Accept", "application/json")
		_, body, err := doHTTP(o.cfg.HTTPClient, req, o.cfg.Now(), o.cfg.APIKey)
		if err != nil {
			return Result{Cursor: cursor}, fmt.Errorf("otx: page %d: %w", res.Pages+1, err)
		}
		page, err := ParseOTXPage(body, func(ind Indicator) { res.Indicators = append(res.Indicators, ind) })
		if err != nil {
			return Result{Cursor: cursor}, fmt.Errorf("otx: page %d: %w", res.Pages+1, err)
		}
		res.Pages++
		res.Skipped += page.Skipped
		if page.MaxModified.After(maxMod) {
			maxMod = page.MaxModified
		}
		next = page.Next
		if next != "" && !sameOrigin(next, o.cfg.BaseURL) {
			// `next` is followed with the API key: never to another host.
			return Result{Cursor: cursor}, fmt.Errorf("otx: page %d: \"next\" points outside %s", res.Pages, o.cfg.BaseURL)
		}
		if page.Results == 0 {
			break // an empty page ends the pass even if `next` is set (otx_ruby does the same)
		}
	}
	if !maxMod.IsZero() {
		res.Cursor = maxMod.UTC().Format(time.RFC3339Nano)
	}
	return res, nil
}

// OTXPage is what one page of /pulses/subscribed held.
type OTXPage struct {
	Next        string    // "" when null
	Results     int       // pulses on the page
	Skipped     int       // entries skipped
	MaxModified time.Time // largest pulse `modified`
}

type otxEnvelope struct {
	Results  []json.RawMessage `json:"results"`
	Count    *int              `json:"count"`
	Next     *string           `json:"next"`
	Previous *string           `json:"previous"`
}

type otxPulse struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Created    string            `json:"created"`
	Modified   string            `json:"modified"`
	Tags       []string          `json:"tags"`
	Indicators []json.RawMessage `json:"indicators"`
}

type otxIndicator struct {
	ID         json.Number `json:"id"`
	Indicator  string      `json:"indicator"`
	Type       string      `json:"type"`
	Created    *string     `json:"created"`
	Expiration *string     `json:"expiration"`
	IsActive   *otxBool    `json:"is_active"`
}

// otxBool accepts OTX's 0/1 and true/false.
type otxBool bool

func (b *otxBool) UnmarshalJSON(p []byte) error {
	switch string(bytes.TrimSpace(p)) {
	case "1", "true":
		*b = true
	case "0", "false", "null":
		*b = false
	default:
		return fmt.Errorf("is_active: want 0/1 or a boolean, got %s", p)
	}
	return nil
}

// otxTypes maps OTX indicator types (fixtures otx/indicator_types.json) to
// vigil's. URI (a path without a host), FilePath, Mutex, CVE, PEHASH and
// IMPHASH have no vigil counterpart: skipped and counted.
var otxTypes = map[string]string{
	"ipv4":            TypeIP,
	"ipv6":            TypeIP,
	"domain":          TypeDomain,
	"hostname":        TypeDomain,
	"url":             TypeURL,
	"filehash-md5":    TypeMD5,
	"filehash-sha1":   TypeSHA1,
	"filehash-sha256": TypeSHA256,
	"email":           TypeEmail,
	"cidr":            TypeCIDR,
}

// ParseOTXPage decodes one /pulses/subscribed page and emits its indicators.
// A page that is not the envelope is an error; a pulse or indicator that
// does not fit is skipped and counted (a pulse counts once).
func ParseOTXPage(body []byte, emit func(Indicator)) (OTXPage, error) {
	var env otxEnvelope
	var page OTXPage
	if err := json.Unmarshal(body, &env); err != nil {
		return page, fmt.Errorf("malformed page: %w", err)
	}
	if env.Results == nil {
		return page, fmt.Errorf("malformed page: no \"results\" array")
	}
	if env.Next != nil {
		page.Next = *env.Next
		if page.Next != "" {
			if u, err := url.Parse(page.Next); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				return page, fmt.Errorf("malformed page: \"next\" is not an http(s) URL")
			}
		}
	}
	page.Results = len(env.Results)
	for _, raw := range env.Results {
		var p otxPulse
		if err := json.Unmarshal(raw, &p); err != nil || p.ID == "" {
			page.Skipped++
			continue
		}
		mod, ok := parseTime(p.Modified)
		if !ok {
			page.Skipped++ // without `modified` the cursor could not cover it
			continue
		}
		if mod.After(page.MaxModified) {
			page.MaxModified = mod
		}
		pulseCreated, _ := parseTime(p.Created)
		for _, ri := range p.Indicators {
			var oi otxIndicator
			if err := json.Unmarshal(ri, &oi); err != nil {
				page.Skipped++
				continue
			}
			if oi.IsActive != nil && !*oi.IsActive {
				page.Skipped++
				continue
			}
			ind := Indicator{
				Type:       otxTypes[strings.ToLower(oi.Type)],
				Value:      oi.Indicator,
				Confidence: DefaultConfidence,
				Tags:       appendTags(nil, p.Tags...),
				FirstSeen:  pulseCreated,
				Ref:        p.ID,
			}
			if oi.Created != nil {
				if t, ok := parseTime(*oi.Created); ok {
					ind.FirstSeen = t
				}
			}
			if oi.Expiration != nil && *oi.Expiration != "" {
				t, ok := parseTime(*oi.Expiration)
				if !ok {
					page.Skipped++
					continue
				}
				ind.ValidUntil = t
			}
			if !checkIndicator(&ind) {
				page.Skipped++
				continue
			}
			emit(ind)
		}
	}
	return page, nil
}

// sameOrigin reports whether a and b have the same scheme and host.
func sameOrigin(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Host, ub.Host)
}
