package feeds

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
)

// MISPConfig configures the MISP attribute feed.
type MISPConfig struct {
	BaseURL    string // the MISP instance, e.g. https://misp.example.org
	APIKey     string // sent as "Authorization: <key>"
	HTTPClient *http.Client
	Now        func() time.Time
	PageSize   int       // `limit`; default 500
	Since      time.Time // lower bound for the first pass (cursor ""); zero: everything
}

// MISP reads POST /attributes/restSearch (MISP openapi.yaml,
// restSearchAttributes: AttributeRestSearchFilter in, {"response":
// {"Attribute": [...]}} out) with to_ids, timestamp, page and limit. Pages
// are numbered from 1; a page shorter than limit is the last.
type MISP struct{ cfg MISPConfig }

// NewMISP validates cfg and returns the feed.
func NewMISP(cfg MISPConfig) (*MISP, error) {
	if u, err := url.Parse(cfg.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, validation.NewFieldError("base_url", "must be an http(s) URL, got %q", cfg.BaseURL)
	}
	if cfg.APIKey == "" {
		return nil, validation.NewFieldError("api_key", "is required")
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 500
	}
	cfg.Now = nowFunc(cfg.Now)
	return &MISP{cfg: cfg}, nil
}

// Name implements Feed.
func (m *MISP) Name() string { return "misp" }

type mispSearch struct {
	ReturnFormat string `json:"returnFormat"`
	ToIDS        bool   `json:"to_ids"`
	Timestamp    string `json:"timestamp,omitempty"` // openapi Timestamp: a string of digits
	Page         int    `json:"page"`
	Limit        int    `json:"limit"`
}

// Pass implements Feed. The cursor is a Unix time in seconds: every
// attribute with a timestamp at or below it has been seen.
func (m *MISP) Pass(ctx context.Context, cursor string) (Result, error) {
	var from int64
	switch {
	case cursor != "":
		c, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || c < 0 {
			return Result{Cursor: cursor}, fmt.Errorf("misp: bad cursor %q", cursor)
		}
		from = c + 1
	case !m.cfg.Since.IsZero():
		from = m.cfg.Since.Unix()
	}
	endpoint := strings.TrimRight(m.cfg.BaseURL, "/") + "/attributes/restSearch"
	res := Result{Cursor: cursor}
	maxTS := from - 1
	for page := 1; ; page++ {
		if err := ctxErr(ctx); err != nil {
			return Result{Cursor: cursor}, fmt.Errorf("misp: %w", err)
		}
		if page > maxPages {
			return Result{Cursor: cursor}, fmt.Errorf("misp: more than %d pages, giving up", maxPages)
		}
		q := mispSearch{ReturnFormat: "json", ToIDS: true, Page: page, Limit: m.cfg.PageSize}
		if from > 0 {
			q.Timestamp = strconv.FormatInt(from, 10)
		}
		body, _ := json.Marshal(q)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
		if err != nil {
			return Result{Cursor: cursor}, fmt.Errorf("misp: %w", err)
		}
		req.Header.Set("Authorization", m.cfg.APIKey)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Content-Type", "application/json")
		_, raw, err := doHTTP(m.cfg.HTTPClient, req, m.cfg.Now(), m.cfg.APIKey)
		if err != nil {
			return Result{Cursor: cursor}, fmt.Errorf("misp: page %d: %w", page, err)
		}
		p, err := ParseMISPPage(raw, func(ind Indicator) { res.Indicators = append(res.Indicators, ind) })
		if err != nil {
			return Result{Cursor: cursor}, fmt.Errorf("misp: page %d: %w", page, err)
		}
		res.Pages++
		res.Skipped += p.Skipped
		maxTS = max(maxTS, p.MaxTimestamp)
		if p.Attributes < m.cfg.PageSize {
			break
		}
	}
	// An attribute saved later within the current second would carry a
	// timestamp equal to the newest one seen; keep that second open.
	maxTS = min(maxTS, m.cfg.Now().Unix()-1)
	if maxTS >= 0 && (cursor == "" || maxTS > from-1) {
		res.Cursor = strconv.FormatInt(maxTS, 10)
	}
	return res, nil
}

// MISPPage is what one restSearch page held.
type MISPPage struct {
	Attributes   int   // attributes on the page, skipped ones included
	Skipped      int   // entries skipped
	MaxTimestamp int64 // largest attribute timestamp (-1 when none)
}

type mispAttribute struct {
	ID        string      `json:"id"`
	EventID   string      `json:"event_id"`
	Type      string      `json:"type"`
	Value     string      `json:"value"`
	ToIDS     *bool       `json:"to_ids"`
	UUID      string      `json:"uuid"`
	Timestamp json.Number `json:"timestamp"`
	Deleted   bool        `json:"deleted"`
	FirstSeen *string     `json:"first_seen"`
	Tag       []struct {
		Name string `json:"name"`
	} `json:"Tag"`
	Event *struct {
		UUID string `json:"uuid"`
	} `json:"Event"`
}

// mispTypes maps MISP attribute types to vigil's. For composite types the
// part after "|" (or before it, for hostname|port and domain|ip) is taken.
var mispTypes = map[string]struct {
	typ  string
	part int // -1: whole value; 0/1: that side of "|"
}{
	"ip-src":          {TypeIP, -1},
	"ip-dst":          {TypeIP, -1},
	"ip-src|port":     {TypeIP, 0},
	"ip-dst|port":     {TypeIP, 0},
	"domain":          {TypeDomain, -1},
	"hostname":        {TypeDomain, -1},
	"hostname|port":   {TypeDomain, 0},
	"domain|ip":       {TypeDomain, 0},
	"url":             {TypeURL, -1},
	"md5":             {TypeMD5, -1},
	"sha1":            {TypeSHA1, -1},
	"sha256":          {TypeSHA256, -1},
	"filename|md5":    {TypeMD5, 1},
	"filename|sha1":   {TypeSHA1, 1},
	"filename|sha256": {TypeSHA256, 1},
	"email":           {TypeEmail, -1},
	"email-src":       {TypeEmail, -1},
	"email-dst":       {TypeEmail, -1},
	"email-reply-to":  {TypeEmail, -1},
}

var mispCertainty = regexp.MustCompile(`^osint:certainty="?(\d{1,3})"?$`)

// ParseMISPPage decodes one restSearch answer. A body that is not
// {"response": {"Attribute": [...]}} is an error (MISP answers an empty
// search with {"response": []}, accepted as no attributes); an attribute
// that does not fit is skipped and counted.
func ParseMISPPage(body []byte, emit func(Indicator)) (MISPPage, error) {
	p := MISPPage{MaxTimestamp: -1}
	var env struct {
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return p, fmt.Errorf("malformed page: %w", err)
	}
	resp := bytes.TrimSpace(env.Response)
	if len(resp) == 0 || bytes.Equal(resp, []byte("null")) {
		return p, fmt.Errorf("malformed page: no \"response\"")
	}
	if resp[0] == '[' {
		var empty []json.RawMessage
		if err := json.Unmarshal(resp, &empty); err != nil || len(empty) != 0 {
			return p, fmt.Errorf("malformed page: \"response\" is a non-empty list")
		}
		return p, nil
	}
	var inner struct {
		Attribute []json.RawMessage `json:"Attribute"`
	}
	if err := json.Unmarshal(resp, &inner); err != nil {
		return p, fmt.Errorf("malformed page: %w", err)
	}
	p.Attributes = len(inner.Attribute)
	for _, raw := range inner.Attribute {
		var a mispAttribute
		if err := json.Unmarshal(raw, &a); err != nil {
			p.Skipped++
			continue
		}
		ts, err := strconv.ParseInt(a.Timestamp.String(), 10, 64)
		if err != nil || ts < 0 {
			p.Skipped++
			continue
		}
		p.MaxTimestamp = max(p.MaxTimestamp, ts)
		if a.Deleted || (a.ToIDS != nil && !*a.ToIDS) {
			p.Skipped++
			continue
		}
		mt, ok := mispTypes[a.Type]
		if !ok {
			p.Skipped++
			continue
		}
		value := a.Value
		if mt.part >= 0 {
			parts := strings.SplitN(value, "|", 2)
			if len(parts) != 2 {
				p.Skipped++
				continue
			}
			value = parts[mt.part]
		}
		ind := Indicator{Type: mt.typ, Value: value, Confidence: DefaultConfidence, Ref: a.EventID, FirstSeen: time.Unix(ts, 0).UTC()}
		if a.Event != nil && a.Event.UUID != "" {
			ind.Ref = a.Event.UUID
		}
		if a.FirstSeen != nil && *a.FirstSeen != "" {
			if t, ok := parseMISPTime(*a.FirstSeen); ok {
				ind.FirstSeen = t
			}
		}
		for _, t := range a.Tag {
			if m := mispCertainty.FindStringSubmatch(t.Name); m != nil {
				c, _ := strconv.Atoi(m[1])
				ind.Confidence = clampConfidence(c)
			}
			ind.Tags = appendTags(ind.Tags, t.Name)
		}
		if !checkIndicator(&ind) {
			p.Skipped++
			continue
		}
		emit(ind)
	}
	return p, nil
}

// parseMISPTime reads first_seen: microseconds since the epoch (openapi
// NullableMicroTimestamp) or a date-time.
func parseMISPTime(s string) (time.Time, bool) {
	if us, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMicro(us).UTC(), true
	}
	return parseTime(s)
}
