package enrich

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
)

// HTTPConfig configures a provider for any JSON API.
//
// URLTemplate and BodyTemplate are text/template texts over .DataType and
// .Data, with the functions urlquery (built in) and pathescape; e.g.
// "https://api.example.com/v1/ip/{{.Data | pathescape}}?type={{.DataType | urlquery}}".
// Header values are sent as they are and are treated as secrets: they never
// appear in error texts.
type HTTPConfig struct {
	Name         string
	URLTemplate  string
	Method       string // default GET
	BodyTemplate string // optional request body (with Method POST, say)
	Headers      map[string]string
	DataTypes    []string
	Mapping      Mapping
	HTTPClient   *http.Client
	Now          func() time.Time
	Quota        Quota // zero: unlimited
	// Secrets are further strings scrubbed from error texts, e.g. a key
	// that the URL template embeds.
	Secrets []string
}

// Mapping turns a JSON answer into one taxonomy and a summary line.
//
//   - Level decides the taxonomy's level (see LevelMapping).
//   - Namespace and Predicate are literal (default: the provider's name and
//     "Lookup").
//   - Value is a path to the taxonomy's value; empty means Level.Path's value.
//   - Summary is a text/template over .Name, .DataType, .Data, .Level,
//     .Value and .Body (the decoded answer), with the function
//     path ({{path .Body "data.isp"}}); empty gives
//     "Name: <data> <level> (NS:Pred=Value)".
//
// A 404 answer is an info report with value "not found", as for
// VirusTotal: the API answered, it just knows nothing.
type Mapping struct {
	Level     LevelMapping
	Namespace string
	Predicate string
	Value     string
	Summary   string
}

// LevelMapping decides a level from the value at Path, by a value map or by
// numeric thresholds:
//
//   - Values maps the value's text (as in Mapping.Value) to a level;
//   - else MaliciousAt / SuspiciousAt / SafeAt: a numeric value ≥ MaliciousAt
//     is malicious, ≥ SuspiciousAt suspicious, ≥ SafeAt safe (each optional;
//     unset thresholds are skipped; SafeAt unset makes every lower number
//     safe once a threshold is set).
//
// Anything else (no Path, a missing value, an unmapped text, a non-number
// against thresholds) gives Default, or info.
type LevelMapping struct {
	Path                              string
	Values                            map[string]string
	MaliciousAt, SuspiciousAt, SafeAt *float64
	Default                           string
}

// HTTP is the generic HTTP provider.
type HTTP struct {
	cfg       HTTPConfig
	now       func() time.Time
	urlTmpl   *template.Template
	bodyTmpl  *template.Template
	sumTmpl   *template.Template
	levelPath jsonPath
	valuePath jsonPath
	secrets   []string
}

var templateFuncs = template.FuncMap{"pathescape": url.PathEscape}

// NewHTTP validates cfg and compiles its templates and paths.
func NewHTTP(cfg HTTPConfig) (*HTTP, error) {
	if strings.TrimSpace(cfg.Name) == "" {
		return nil, validation.NewFieldError("name", "is required")
	}
	if len(cfg.DataTypes) == 0 {
		return nil, validation.NewFieldError("dataTypes", "at least one data type is required")
	}
	if cfg.Method == "" {
		cfg.Method = http.MethodGet
	}
	cfg.Method = strings.ToUpper(cfg.Method)
	switch cfg.Method {
	case http.MethodGet, http.MethodPost:
	default:
		return nil, validation.NewFieldError("method", "must be GET or POST, got %q", cfg.Method)
	}
	h := &HTTP{cfg: cfg, now: nowFunc(cfg.Now)}
	var err error
	if strings.TrimSpace(cfg.URLTemplate) == "" {
		return nil, validation.NewFieldError("urlTemplate", "is required")
	}
	if h.urlTmpl, err = template.New("url").Funcs(templateFuncs).Option("missingkey=error").Parse(cfg.URLTemplate); err != nil {
		return nil, validation.NewFieldError("urlTemplate", "%v", err)
	}
	if cfg.BodyTemplate != "" {
		if h.bodyTmpl, err = template.New("body").Funcs(templateFuncs).Parse(cfg.BodyTemplate); err != nil {
			return nil, validation.NewFieldError("bodyTemplate", "%v", err)
		}
	}
	m := cfg.Mapping
	if m.Summary != "" {
		if h.sumTmpl, err = template.New("summary").Funcs(template.FuncMap{"path": templatePath}).Parse(m.Summary); err != nil {
			return nil, validation.NewFieldError("mapping.summary", "%v", err)
		}
	}
	if h.levelPath, err = parsePath(m.Level.Path); err != nil {
		return nil, validation.NewFieldError("mapping.level.path", "%v", err)
	}
	if h.valuePath, err = parsePath(m.Value); err != nil {
		return nil, validation.NewFieldError("mapping.value", "%v", err)
	}
	for k, lv := range m.Level.Values {
		if !ValidLevel(lv) {
			return nil, validation.NewFieldError("mapping.level.values", "%q maps to %q, not one of info, safe, suspicious, malicious", k, lv)
		}
	}
	if m.Level.Default != "" && !ValidLevel(m.Level.Default) {
		return nil, validation.NewFieldError("mapping.level.default", "%q is not one of info, safe, suspicious, malicious", m.Level.Default)
	}
	for k, v := range cfg.Headers {
		if strings.TrimSpace(k) == "" {
			return nil, validation.NewFieldError("headers", "empty header name")
		}
		h.secrets = append(h.secrets, v)
	}
	h.secrets = append(h.secrets, cfg.Secrets...)
	return h, nil
}

// templatePath is the summary template's path function.
func templatePath(doc any, p string) (string, error) {
	jp, err := parsePath(p)
	if err != nil {
		return "", err
	}
	v, _ := jp.lookup(doc)
	return valueString(v), nil
}

// Name implements Provider.
func (h *HTTP) Name() string { return h.cfg.Name }

// Supports implements Provider.
func (h *HTTP) Supports(dataType string) bool { return slices.Contains(h.cfg.DataTypes, dataType) }

// Quota implements Quoted.
func (h *HTTP) Quota() Quota { return h.cfg.Quota }

func render(t *template.Template, req Request) (string, error) {
	var b strings.Builder
	err := t.Execute(&b, req)
	return b.String(), err
}

// Enrich implements Provider.
func (h *HTTP) Enrich(ctx context.Context, req Request) (Report, error) {
	if !h.Supports(req.DataType) {
		return Report{}, validation.NewFieldError("dataType", "%s does not support %q", h.cfg.Name, req.DataType)
	}
	u, err := render(h.urlTmpl, req)
	if err != nil {
		return Report{}, fmt.Errorf("%s: rendering URL: %w", h.cfg.Name, err)
	}
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return Report{}, fmt.Errorf("%s: the URL template gave no http(s) URL", h.cfg.Name)
	}
	var body io.Reader
	if h.bodyTmpl != nil {
		b, err := render(h.bodyTmpl, req)
		if err != nil {
			return Report{}, fmt.Errorf("%s: rendering body: %w", h.cfg.Name, err)
		}
		body = strings.NewReader(b)
	}
	hreq, err := http.NewRequestWithContext(ctx, h.cfg.Method, u, body)
	if err != nil {
		return Report{}, fmt.Errorf("%s: building request: %s", h.cfg.Name, scrub(err.Error(), h.secrets))
	}
	hreq.Header.Set("Accept", "application/json")
	for k, v := range h.cfg.Headers {
		hreq.Header.Set(k, v)
	}
	res, err := doHTTP(ctx, h.cfg.HTTPClient, hreq, h.secrets)
	if err != nil {
		return Report{}, fmt.Errorf("%s: %w", h.cfg.Name, err)
	}
	now := h.now()
	if res.Status == http.StatusNotFound {
		return Report{
			Provider: h.cfg.Name, Request: req, At: now,
			Taxonomies: []Taxonomy{{Level: LevelInfo, Namespace: h.namespace(), Predicate: h.predicate(), Value: "not found"}},
			Summary:    fmt.Sprintf("%s: %s not found", h.cfg.Name, req.Data),
		}, nil
	}
	if res.Status < 200 || res.Status > 299 {
		return Report{}, statusError(h.cfg.Name, res, truncate(string(res.Body), 200), now, h.secrets)
	}
	return h.Map(req, res.Body, now)
}

func (h *HTTP) namespace() string {
	if h.cfg.Mapping.Namespace != "" {
		return h.cfg.Mapping.Namespace
	}
	return h.cfg.Name
}

func (h *HTTP) predicate() string {
	if h.cfg.Mapping.Predicate != "" {
		return h.cfg.Mapping.Predicate
	}
	return "Lookup"
}

// Map applies the mapping to an answer body.
func (h *HTTP) Map(req Request, body []byte, now time.Time) (Report, error) {
	doc, err := decodeJSON(body)
	if err != nil {
		return Report{}, fmt.Errorf("%s: decoding answer: %w", h.cfg.Name, err)
	}
	lm := h.cfg.Mapping.Level
	level := lm.Default
	if level == "" {
		level = LevelInfo
	}
	lv, lok := h.levelPath.lookup(doc)
	if lm.Path != "" && lok {
		level = decideLevel(lm, lv, level)
	}
	value := valueString(lv)
	if h.cfg.Mapping.Value != "" {
		v, _ := h.valuePath.lookup(doc)
		value = valueString(v)
	} else if lm.Path == "" {
		value = ""
	}
	value = truncate(value, 200)
	tax := []Taxonomy{{Level: level, Namespace: h.namespace(), Predicate: h.predicate(), Value: value}}
	rep := Report{Provider: h.cfg.Name, Request: req, Taxonomies: tax, Full: append(json.RawMessage(nil), body...), At: now}
	rep.Summary = taxonomySummary(h.cfg.Name, req, tax)
	if h.sumTmpl != nil {
		var b bytes.Buffer
		data := map[string]any{"Name": h.cfg.Name, "DataType": req.DataType, "Data": req.Data, "Level": level, "Value": value, "Body": doc}
		if err := h.sumTmpl.Execute(&b, data); err != nil {
			return Report{}, fmt.Errorf("%s: rendering summary: %w", h.cfg.Name, err)
		}
		rep.Summary = truncate(strings.Join(strings.Fields(b.String()), " "), 500)
	}
	return rep, nil
}

func decideLevel(lm LevelMapping, v any, fallback string) string {
	if lm.Values != nil {
		if l, ok := lm.Values[valueString(v)]; ok {
			return l
		}
		return fallback
	}
	if lm.MaliciousAt == nil && lm.SuspiciousAt == nil && lm.SafeAt == nil {
		return fallback
	}
	var f float64
	switch x := v.(type) {
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return fallback
		}
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil {
			return fallback
		}
	default:
		return fallback
	}
	switch {
	case lm.MaliciousAt != nil && f >= *lm.MaliciousAt:
		return LevelMalicious
	case lm.SuspiciousAt != nil && f >= *lm.SuspiciousAt:
		return LevelSuspicious
	case lm.SafeAt == nil || f >= *lm.SafeAt:
		return LevelSafe
	}
	return fallback
}
