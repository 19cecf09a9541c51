package enrich

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/outbox"
)

func ptr(f float64) *float64 { return &f }

func TestParsePath(t *testing.T) {
	doc, _ := decodeJSON([]byte(`{"a":{"b":[{"c":1},{"c":"two"}]},"n":null,"t":true,"x.y":3}`))
	for _, tc := range []struct {
		path string
		want string
		ok   bool
	}{
		{"a.b[0].c", "1", true},
		{"a.b[1].c", "two", true},
		{"a.b[2].c", "", false},
		{"a.b", `[{"c":1},{"c":"two"}]`, true},
		{"n", "", true},
		{"t", "true", true},
		{"a.c", "", false},
		{"a.b.c", "", false},
	} {
		p, err := parsePath(tc.path)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if p.String() != tc.path {
			t.Errorf("round trip %q -> %q", tc.path, p.String())
		}
		v, ok := p.lookup(doc)
		if ok != tc.ok || valueString(v) != tc.want {
			t.Errorf("%s: %q %v", tc.path, valueString(v), ok)
		}
	}
	arr, _ := decodeJSON([]byte(`[[1,2],[3]]`))
	if p, err := parsePath("[1][0]"); err != nil {
		t.Fatal(err)
	} else if v, _ := p.lookup(arr); valueString(v) != "3" {
		t.Errorf("[1][0]: %v", v)
	}
	for _, bad := range []string{".a", "a.", "a..b", "a[", "a[x]", "a[-1]", "a[+1]", "a]b", "a[1]b", "[]"} {
		if _, err := parsePath(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDecideLevel(t *testing.T) {
	thr := LevelMapping{MaliciousAt: ptr(75), SuspiciousAt: ptr(25)}
	vals := LevelMapping{Values: map[string]string{"bad": LevelMalicious, "ok": LevelSafe}}
	for _, tc := range []struct {
		lm   LevelMapping
		v    any
		want string
	}{
		{thr, json.Number("80"), LevelMalicious},
		{thr, json.Number("75"), LevelMalicious},
		{thr, json.Number("74.9"), LevelSuspicious},
		{thr, json.Number("0"), LevelSafe},
		{thr, "30", LevelSuspicious},
		{thr, "n/a", LevelInfo},
		{thr, true, LevelInfo},
		{LevelMapping{MaliciousAt: ptr(1), SafeAt: ptr(0)}, json.Number("-1"), LevelInfo},
		{vals, "bad", LevelMalicious},
		{vals, "ok", LevelSafe},
		{vals, "other", LevelInfo},
		{LevelMapping{}, json.Number("99"), LevelInfo},
	} {
		if got := decideLevel(tc.lm, tc.v, LevelInfo); got != tc.want {
			t.Errorf("%+v %v: %s, want %s", tc.lm, tc.v, got, tc.want)
		}
	}
}

func TestHTTPProvider(t *testing.T) {
	var gotPath, gotQuery, gotToken string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotQuery, gotToken = r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("X-Token")
		switch {
		case strings.Contains(r.URL.Path, "unknown"):
			w.WriteHeader(404)
		case strings.Contains(r.URL.Path, "slow"):
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(429)
		case strings.Contains(r.URL.Path, "down"):
			w.WriteHeader(503)
		case strings.Contains(r.URL.Path, "denied"):
			w.WriteHeader(403)
			_, _ = w.Write([]byte("token " + r.Header.Get("X-Token") + " refused"))
		default:
			_, _ = w.Write([]byte(`{"result":{"risk":{"score":82},"tags":["c2","botnet"],"owner":"Evil Corp"}}`))
		}
	}))
	defer srv.Close()
	h, err := NewHTTP(HTTPConfig{
		Name:        "RiskAPI",
		URLTemplate: srv.URL + "/v1/{{.DataType}}/{{.Data | pathescape}}?q={{.Data | urlquery}}",
		Headers:     map[string]string{"X-Token": "http-secret-token-99"},
		DataTypes:   []string{"ip", "domain"},
		Mapping: Mapping{
			Level:     LevelMapping{Path: "result.risk.score", MaliciousAt: ptr(75), SuspiciousAt: ptr(25)},
			Namespace: "Risk", Predicate: "Score",
			Summary: `{{.Name}}: {{.Data}} scores {{.Value}} ({{.Level}}), owner {{path .Body "result.owner"}}, first tag {{path .Body "result.tags[0]"}}`,
		},
		Now: func() time.Time { return fixedNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rep, err := h.Enrich(ctx, Request{"domain", "a b.example"})
	if err != nil {
		t.Fatal(err)
	}
	if gotPath != "/v1/domain/a%20b.example" || gotQuery != "q=a+b.example" || gotToken != "http-secret-token-99" {
		t.Errorf("request %s ? %s, token %q", gotPath, gotQuery, gotToken)
	}
	if len(rep.Taxonomies) != 1 || rep.Taxonomies[0] != (Taxonomy{LevelMalicious, "Risk", "Score", "82"}) {
		t.Errorf("%+v", rep.Taxonomies)
	}
	if want := "RiskAPI: a b.example scores 82 (malicious), owner Evil Corp, first tag c2"; rep.Summary != want {
		t.Errorf("summary %q", rep.Summary)
	}
	if rep, err = h.Enrich(ctx, Request{"ip", "unknown"}); err != nil || rep.Verdict() != LevelInfo || rep.Taxonomies[0].Value != "not found" {
		t.Errorf("404: %+v %v", rep, err)
	}
	var re *outbox.RetryableError
	if _, err = h.Enrich(ctx, Request{"ip", "slow"}); !errors.As(err, &re) || re.After != 7*time.Second {
		t.Errorf("429: %v", err)
	}
	if _, err = h.Enrich(ctx, Request{"ip", "down"}); !errors.As(err, &re) {
		t.Errorf("503: %v", err)
	}
	if _, err = h.Enrich(ctx, Request{"ip", "denied"}); !errors.Is(err, ErrAuth) || strings.Contains(err.Error(), "http-secret-token-99") {
		t.Errorf("403: %v", err)
	}
	if _, err = h.Enrich(ctx, Request{"hash", "x"}); err == nil {
		t.Error("hash accepted")
	}
}

func TestHTTPValueMapAndDefaults(t *testing.T) {
	srv := newEchoServer(t, 200, `{"verdict":"phishing","detail":{"family":"Kit"}}`)
	h, err := NewHTTP(HTTPConfig{
		Name: "Verdicts", URLTemplate: srv.URL + "/{{.Data}}", DataTypes: []string{"url"},
		Mapping: Mapping{Level: LevelMapping{Path: "verdict", Values: map[string]string{"phishing": LevelMalicious, "clean": LevelSafe}}, Value: "detail.family"},
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := h.Enrich(context.Background(), Request{"url", "x"})
	if err != nil || rep.Taxonomies[0] != (Taxonomy{LevelMalicious, "Verdicts", "Lookup", "Kit"}) {
		t.Errorf("%+v %v", rep, err)
	}
	if rep.Summary != "Verdicts: x malicious (Verdicts:Lookup=Kit)" {
		t.Errorf("summary %q", rep.Summary)
	}
}

func TestNewHTTPValidation(t *testing.T) {
	base := func() HTTPConfig {
		return HTTPConfig{Name: "n", URLTemplate: "https://x/{{.Data}}", DataTypes: []string{"ip"}}
	}
	mods := []func(*HTTPConfig){
		func(c *HTTPConfig) { c.Name = "" },
		func(c *HTTPConfig) { c.URLTemplate = "" },
		func(c *HTTPConfig) { c.URLTemplate = "{{.Data" },
		func(c *HTTPConfig) { c.DataTypes = nil },
		func(c *HTTPConfig) { c.Method = "DELETE" },
		func(c *HTTPConfig) { c.Mapping.Level.Path = "a..b" },
		func(c *HTTPConfig) { c.Mapping.Value = "[x]" },
		func(c *HTTPConfig) { c.Mapping.Level.Values = map[string]string{"a": "evil"} },
		func(c *HTTPConfig) { c.Mapping.Level.Default = "bad" },
		func(c *HTTPConfig) { c.Mapping.Summary = "{{" },
	}
	for i, m := range mods {
		c := base()
		m(&c)
		if _, err := NewHTTP(c); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
	if _, err := NewHTTP(base()); err != nil {
		t.Error(err)
	}
	// A template yielding no http(s) URL is refused at request time.
	c := base()
	c.URLTemplate = "{{.Data}}"
	h, _ := NewHTTP(c)
	if _, err := h.Enrich(context.Background(), Request{"ip", "file:///etc/passwd"}); err == nil {
		t.Error("file URL accepted")
	}
}
