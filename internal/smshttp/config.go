package smshttp

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"text/template"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
)

// Config describes a gateway.
type Config struct {
	Name         string            // provider name for receipts and logs
	URL          string            // may be a text/template too ({{.To}})
	Method       string            // default POST
	Headers      map[string]string // values may hold secrets (already resolved by the config layer); never logged
	ContentType  string            // default application/x-www-form-urlencoded
	BodyTemplate string            // text/template over {To, From, Body}, with funcs urlquery (query escape), json (a JSON string literal)
	From         string
	Success      []int  // statuses meaning accepted; default any 2xx
	IDField      string // optional: top-level JSON field of the answer holding the message id ("sid", "message_id")
	HTTPClient   *http.Client
	Now          func() time.Time
}

// Data is what the templates see.
type Data struct {
	To   string // the recipient, E.164
	From string // Config.From
	Body string // the text
}

// DefaultName is the provider name when Config.Name is empty.
const DefaultName = "smshttp"

var (
	tokenRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	nameRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	// sample exercises the templates at start-up.
	sample = Data{To: "+14155552671", From: "+14155550100", Body: `vigil page 1 HIGH: "x" & y`}
)

// Funcs are the template functions.
var Funcs = template.FuncMap{
	"urlquery": url.QueryEscape,
	// digits drops everything but digits: "+4415…" → "4415…", for
	// gateways that want numbers without the plus sign.
	"digits": func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, s)
	},
	"json": func(s string) (string, error) {
		b, err := json.Marshal(s)
		return string(b), err
	},
}

func parseConfig(cfg Config) (*Provider, error) {
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if !nameRE.MatchString(cfg.Name) {
		return nil, validation.NewFieldError("name", "must be 1 to 64 letters, digits, '.', '_' or '-'")
	}
	if strings.TrimSpace(cfg.URL) == "" {
		return nil, validation.NewFieldError("url", "is required")
	}
	urlT, err := template.New("url").Funcs(Funcs).Option("missingkey=error").Parse(cfg.URL)
	if err != nil {
		return nil, validation.NewFieldError("url", "template: %v", templateErr(err))
	}
	var ub bytes.Buffer
	if err := urlT.Execute(&ub, sample); err != nil {
		return nil, validation.NewFieldError("url", "template: %v", templateErr(err))
	}
	if u, err := url.Parse(strings.TrimSpace(ub.String())); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, validation.NewFieldError("url", "must render to an absolute http(s) URL")
	}

	method := strings.ToUpper(strings.TrimSpace(cfg.Method))
	if method == "" {
		method = http.MethodPost
	}
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return nil, validation.NewFieldError("method", "must be GET, POST, PUT or PATCH, not %q", cfg.Method)
	}

	ct := cfg.ContentType
	if ct == "" {
		ct = "application/x-www-form-urlencoded"
	}
	if _, _, err := mime.ParseMediaType(ct); err != nil {
		return nil, validation.NewFieldError("content_type", "is not a media type: %v", err)
	}

	var bodyT *template.Template
	if cfg.BodyTemplate != "" {
		if method == http.MethodGet {
			return nil, validation.NewFieldError("body_template", "a GET request carries no body; put the parameters in the url template")
		}
		bodyT, err = template.New("body").Funcs(Funcs).Option("missingkey=error").Parse(cfg.BodyTemplate)
		if err != nil {
			return nil, validation.NewFieldError("body_template", "%v", templateErr(err))
		}
		if err := bodyT.Execute(&bytes.Buffer{}, sample); err != nil {
			return nil, validation.NewFieldError("body_template", "%v", templateErr(err))
		}
	}

	headers := make(http.Header, len(cfg.Headers))
	for k, v := range cfg.Headers {
		if !tokenRE.MatchString(k) {
			return nil, validation.NewFieldError("headers", "%q is not a header name", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			// The value may be a secret: do not quote it.
			return nil, validation.NewFieldError("headers", "the value of %q holds a line break", k)
		}
		headers.Set(k, v)
	}

	success := map[int]bool{}
	for i, s := range cfg.Success {
		if s < 100 || s > 599 {
			return nil, validation.NewFieldError("success", "[%d]: %d is not an HTTP status", i, s)
		}
		success[s] = true
	}
	if cfg.IDField != "" && strings.Contains(cfg.IDField, "..") {
		return nil, validation.NewFieldError("id_field", "%q is not a field path", cfg.IDField)
	}

	client := &http.Client{Timeout: 10 * time.Second}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		client = &c
		if client.Timeout == 0 {
			client.Timeout = 10 * time.Second
		}
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Provider{
		name: cfg.Name, urlT: urlT, method: method, headers: headers, contentType: ct,
		bodyT: bodyT, from: cfg.From, success: success, idField: cfg.IDField,
		client: client, now: now,
	}, nil
}

// templateErr drops the template's name prefix ("template: body:1: …"),
// which repeats the field.
func templateErr(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "template: ")
	return s
}
