package feeds

import (
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

// TAXIIMediaType is the TAXII 2.1 media type, sent as Accept.
const TAXIIMediaType = "application/taxii+json;version=2.1"

// TAXIIConfig configures a TAXII 2.1 collection feed.
type TAXIIConfig struct {
	APIRoot    string // e.g. https://taxii.example.org/trustgroup1/
	Collection string // the collection id
	Username   string // HTTP basic auth; both empty: none
	Password   string
	HTTPClient *http.Client
	Now        func() time.Time
	PageSize   int       // `limit`; default 1000
	Since      time.Time // added_after for the first pass (cursor ""); zero: everything
}

// TAXII reads GET {api_root}/collections/{id}/objects/ with added_after,
// limit and next. The answer is an envelope {"more": bool, "next": string,
// "objects": [...]}; while `more` is true the next page is asked for with
// the same added_after and the server's `next`. Objects go through the STIX
// indicator conversion.
type TAXII struct {
	cfg     TAXIIConfig
	objects string // the objects endpoint
}

// NewTAXII validates cfg and returns the feed.
func NewTAXII(cfg TAXIIConfig) (*TAXII, error) {
	u, err := url.Parse(cfg.APIRoot)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, validation.NewFieldError("api_root", "must be an http(s) URL")
	}
	if u.User != nil {
		return nil, validation.NewFieldError("api_root", "must not hold credentials; use username and password")
	}
	if cfg.Collection == "" || strings.ContainsAny(cfg.Collection, "/?#") {
		return nil, validation.NewFieldError("collection", "must be a collection id, got %q", cfg.Collection)
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 1000
	}
	cfg.Now = nowFunc(cfg.Now)
	root := strings.TrimRight(cfg.APIRoot, "/") + "/"
	return &TAXII{cfg: cfg, objects: root + "collections/" + url.PathEscape(cfg.Collection) + "/objects/"}, nil
}

// Name implements Feed.
func (t *TAXII) Name() string { return "taxii" }

// Pass implements Feed. The cursor is the X-TAXII-Date-Added-Last of the
// last page with objects (RFC 3339), used as the next added_after.
func (t *TAXII) Pass(ctx context.Context, cursor string) (Result, error) {
	addedAfter := ""
	if !t.cfg.Since.IsZero() {
		addedAfter = t.cfg.Since.UTC().Format(time.RFC3339Nano)
	}
	if cursor != "" {
		if _, ok := parseTime(cursor); !ok {
			return Result{Cursor: cursor}, fmt.Errorf("taxii: bad cursor %q", cursor)
		}
		addedAfter = cursor
	}
	res := Result{Cursor: cursor}
	var last time.Time
	next := ""
	for {
		if err := ctxErr(ctx); err != nil {
			return Result{Cursor: cursor}, fmt.Errorf("taxii: %w", err)
		}
		if res.Pages >= maxPages {
			return Result{Cursor: cursor}, fmt.Errorf("taxii: more than %d pages, giving up", maxPages)
		}
		q := url.Values{"limit": {strconv.Itoa(t.cfg.PageSize)}}
		if addedAfter != "" {
			q.Set("added_after", addedAfter)
		}
		if next != "" {
			q.Set("next", next)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.objects+"?"+q.Encode(), nil)
		if err != nil {
			return Result{Cursor: cursor}, fmt.Errorf("taxii: %w", err)
		}
		req.Header.Set("Accept", TAXIIMediaType)
		if t.cfg.Username != "" || t.cfg.Password != "" {
			req.SetBasicAuth(t.cfg.Username, t.cfg.Password)
		}
		resp, body, err := doHTTP(t.cfg.HTTPClient, req, t.cfg.Now(), t.cfg.Password)
		if err != nil {
			return Result{Cursor: cursor}, fmt.Errorf("taxii: page %d: %w", res.Pages+1, err)
		}
		env, err := ParseTAXIIEnvelope(body, func(ind Indicator) { res.Indicators = append(res.Indicators, ind) })
		if err != nil {
			return Result{Cursor: cursor}, fmt.Errorf("taxii: page %d: %w", res.Pages+1, err)
		}
		res.Pages++
		res.Skipped += env.Skipped
		if h := resp.Header.Get("X-TAXII-Date-Added-Last"); h != "" && env.Objects > 0 {
			ts, ok := parseTime(h)
			if !ok {
				return Result{Cursor: cursor}, fmt.Errorf("taxii: page %d: bad X-TAXII-Date-Added-Last %q", res.Pages, h)
			}
			if ts.After(last) {
				last = ts
			}
		}
		if !env.More {
			break
		}
		if env.Next == "" {
			return Result{Cursor: cursor}, fmt.Errorf("taxii: page %d: \"more\" without \"next\"", res.Pages)
		}
		next = env.Next
	}
	if !last.IsZero() {
		res.Cursor = last.Format(time.RFC3339Nano)
	}
	return res, nil
}

// TAXIIEnvelope is what one objects page held.
type TAXIIEnvelope struct {
	More    bool
	Next    string
	Objects int
	Skipped int
}

// ParseTAXIIEnvelope decodes a TAXII 2.1 envelope and emits the indicators
// of its objects. An envelope that is not a JSON object with the fields of
// the right types is an error; an object that does not fit is skipped and
// counted. An empty body or {} is an empty envelope.
func ParseTAXIIEnvelope(body []byte, emit func(Indicator)) (TAXIIEnvelope, error) {
	var env struct {
		More    *bool             `json:"more"`
		Next    *string           `json:"next"`
		Objects []json.RawMessage `json:"objects"`
	}
	var out TAXIIEnvelope
	if len(strings.TrimSpace(string(body))) == 0 {
		return out, nil
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return out, fmt.Errorf("malformed envelope: %w", err)
	}
	if env.More != nil {
		out.More = *env.More
	}
	if env.Next != nil {
		out.Next = *env.Next
	}
	out.Objects = len(env.Objects)
	for _, raw := range env.Objects {
		out.Skipped += stixObjectIndicators(raw, emit)
	}
	return out, nil
}
