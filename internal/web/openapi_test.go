package web_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"mime"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/web"
)

// The OpenAPI document is checked three ways: its operations are exactly
// the route table (TestOpenAPIMatchesRoutes), it is internally consistent
// (operation ids, 2xx answers, $refs, path parameters, security), and
// every response that any test in this package receives is checked
// against it by conformsToDoc, so a handler that answers a status or a
// field the document does not describe fails the suite.

// exercised records the operations ("METHOD template") that some test got
// a 2xx answer from, and so checked against the document.
var exercised sync.Map

// TestMain fails a full run in which some documented operation never
// answered 2xx to any test: its success schema would be unchecked.
func TestMain(m *testing.M) {
	code := m.Run()
	full := true
	for _, f := range []string{"test.run", "test.skip", "test.list"} {
		if fl := flag.Lookup(f); fl != nil && fl.Value.String() != "" {
			full = false
		}
	}
	if code == 0 && full {
		doc, err := decodeJSON(web.OpenAPIJSON)
		if err != nil {
			fmt.Fprintln(os.Stderr, "parse openapi.json:", err)
			os.Exit(1)
		}
		var missing []string
		for key := range operations(doc) {
			if _, ok := exercised.Load(key); !ok {
				missing = append(missing, key)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			fmt.Fprintf(os.Stderr, "FAIL: no test got a 2xx answer from these documented operations:\n  %s\n",
				strings.Join(missing, "\n  "))
			code = 1
		}
	}
	os.Exit(code)
}

var (
	docOnce sync.Once
	docVal  map[string]any
	docErr  error
)

// openapiDoc parses the embedded document once. Numbers stay json.Number so
// that the schema checker can tell integers from other numbers.
func openapiDoc(t testing.TB) map[string]any {
	t.Helper()
	docOnce.Do(func() {
		docVal, docErr = decodeJSON(web.OpenAPIJSON)
	})
	if docErr != nil {
		t.Fatalf("parse embedded openapi.json: %v", docErr)
	}
	return docVal
}

func decodeJSON(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// operations returns "METHOD path" → operation object.
func operations(doc map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	paths, _ := doc["paths"].(map[string]any)
	for p, item := range paths {
		pi, _ := item.(map[string]any)
		for _, m := range httpMethods {
			if op, ok := pi[m].(map[string]any); ok {
				out[strings.ToUpper(m)+" "+p] = op
			}
		}
	}
	return out
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := openapiDoc(t)
	if got := doc["openapi"]; got != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", got)
	}
	ops := operations(doc)
	routes := map[string]bool{}
	for _, r := range web.Routes() {
		routes[r.Method+" "+r.Path] = true
	}
	var missing, extra []string
	for k := range routes {
		if _, ok := ops[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k := range ops {
		if !routes[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("routes not documented in openapi.json:\n  %s", strings.Join(missing, "\n  "))
	}
	if len(extra) > 0 {
		t.Errorf("openapi.json documents operations that are not routes:\n  %s", strings.Join(extra, "\n  "))
	}
	if len(ops) != len(routes) {
		t.Errorf("got %d documented operations, want %d (one per route)", len(ops), len(routes))
	}
}

func TestOpenAPIOperations(t *testing.T) {
	doc := openapiDoc(t)
	auth := map[string]bool{}
	for _, r := range web.Routes() {
		auth[r.Method+" "+r.Path] = r.Auth
	}
	tags := map[string]bool{}
	for _, tg := range doc["tags"].([]any) {
		tags[tg.(map[string]any)["name"].(string)] = true
	}
	ids := map[string]string{}
	pathParam := regexp.MustCompile(`\{([^}]+)\}`)
	for key, op := range operations(doc) {
		id, _ := op["operationId"].(string)
		if id == "" {
			t.Errorf("%s: no operationId", key)
		} else if other, dup := ids[id]; dup {
			t.Errorf("%s: operationId %q is also used by %s", key, id, other)
		}
		ids[id] = key

		responses, _ := op["responses"].(map[string]any)
		ok2xx := false
		for code := range responses {
			if len(code) == 3 && code[0] == '2' {
				ok2xx = true
			}
		}
		if !ok2xx {
			t.Errorf("%s: no 2xx response documented", key)
		}
		if len(op["tags"].([]any)) == 0 {
			t.Errorf("%s: no tag", key)
		}
		for _, tg := range op["tags"].([]any) {
			if !tags[tg.(string)] {
				t.Errorf("%s: tag %q is not declared in the top-level tags", key, tg)
			}
		}

		// Every {name} in the path is a required path parameter, and
		// every path parameter is in the path.
		path := key[strings.Index(key, " ")+1:]
		declared := map[string]bool{}
		for _, p := range asList(op["parameters"]) {
			p := resolve(t, doc, p).(map[string]any)
			if p["in"] == "path" {
				declared[p["name"].(string)] = true
				if p["required"] != true {
					t.Errorf("%s: path parameter %v is not required", key, p["name"])
				}
			}
		}
		for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
			if !declared[m[1]] {
				t.Errorf("%s: path parameter {%s} is not declared", key, m[1])
			}
			delete(declared, m[1])
		}
		for name := range declared {
			t.Errorf("%s: declares path parameter %q that is not in the path", key, name)
		}

		// Unauthenticated routes say so; the others need a token and
		// document 401.
		sec, hasSec := op["security"].([]any)
		if !auth[key] {
			if !hasSec || len(sec) != 0 {
				t.Errorf("%s: the route takes no Bearer token, but the operation does not set security: []", key)
			}
			continue
		}
		if hasSec && len(sec) == 0 {
			t.Errorf("%s: the route requires a token, but the operation sets security: []", key)
		}
		if _, ok := responses["401"]; !ok {
			t.Errorf("%s: the route requires a token, but 401 is not documented", key)
		}
	}
}

func TestOpenAPIRefsResolve(t *testing.T) {
	doc := openapiDoc(t)
	n := 0
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				n++
				if _, err := lookupRef(doc, ref); err != nil {
					t.Errorf("%s: %v", path, err)
				}
			}
			for k, x := range v {
				walk(path+"/"+k, x)
			}
		case []any:
			for i, x := range v {
				walk(fmt.Sprintf("%s/%d", path, i), x)
			}
		}
	}
	walk("#", doc)
	if n == 0 {
		t.Error("found no $ref at all; is the walk broken?")
	}
	// Every component schema is used somewhere.
	raw := string(web.OpenAPIJSON)
	for name := range doc["components"].(map[string]any)["schemas"].(map[string]any) {
		if !strings.Contains(raw, `"#/components/schemas/`+name+`"`) {
			t.Errorf("components.schemas.%s is never referenced", name)
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, noAuth, "GET", "/api/v1/openapi.json", nil).wantCode(t, http.StatusOK)
	if ct, _, _ := mime.ParseMediaType(r.hdr.Get("Content-Type")); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", r.hdr.Get("Content-Type"))
	}
	if !bytes.Equal(r.body, web.OpenAPIJSON) {
		t.Errorf("served document differs from the embedded one (%d vs %d bytes)", len(r.body), len(web.OpenAPIJSON))
	}
	if _, err := decodeJSON(r.body); err != nil {
		t.Errorf("served document is not JSON: %v", err)
	}
}

// TestSchemaChecker makes sure the checker rejects what it should, since
// every other test relies on it.
func TestSchemaChecker(t *testing.T) {
	doc := openapiDoc(t)
	ref := func(name string) any { return map[string]any{"$ref": "#/components/schemas/" + name} }
	tests := []struct {
		name   string
		schema any
		body   string
		want   string // substring of the first problem; "" for none
	}{
		{"valid error", ref("Error"), `{"error":{"code":"invalid","message":"m","field":"f"}}`, ""},
		{"missing required", ref("Error"), `{"error":{"code":"invalid"}}`, "missing required property \"message\""},
		{"bad enum", ref("Error"), `{"error":{"code":"oops","message":"m"}}`, "not one of"},
		{"wrong type", ref("Error"), `{"error":{"code":"invalid","message":3}}`, "want type string"},
		{"items", ref("IngestAnswer"), `{"accepted":1,"results":[{"alert_id":1,"version":1,"workitem_id":1,"outcome":"nope"}]}`, "results[0].outcome"},
		{"integer", ref("IngestResult"), `{"alert_id":1.5,"version":1,"workitem_id":1,"outcome":"created"}`, "want type integer"},
		{"const", ref("PagerDutyAccepted"), `{"status":"ok","message":"Event processed","dedup_key":"k"}`, "want const"},
		{"date-time", ref("Comment"), `{"id":1,"workitem_id":1,"at":"yesterday","author":"a","body":"b"}`, "date-time"},
		{"additionalProperties false", ref("TaskInput"), `{"title":"t","x":1}`, "additional property \"x\""},
		{"additionalProperties schema", ref("LabelSet"), `{"a":"b","c":1}`, "c: want type string"},
		{"oneOf none", map[string]any{"oneOf": []any{ref("TaskInput"), map[string]any{"type": "array"}}}, `{"x":1}`, "oneOf"},
		{"oneOf one", map[string]any{"oneOf": []any{ref("TaskInput"), map[string]any{"type": "array"}}}, `[]`, ""},
		{"type list", map[string]any{"type": []any{"object", "null"}}, `null`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := decodeAny([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			probs := checkSchema(doc, tt.schema, v, "$")
			switch {
			case tt.want == "" && len(probs) > 0:
				t.Errorf("got problems %q, want none", probs)
			case tt.want != "" && (len(probs) == 0 || !strings.Contains(strings.Join(probs, "; "), tt.want)):
				t.Errorf("got problems %q, want one containing %q", probs, tt.want)
			}
		})
	}
}

func decodeAny(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// lookupRef resolves a local JSON pointer such as
// "#/components/schemas/Alert".
func lookupRef(doc map[string]any, ref string) (any, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("$ref %q is not local", ref)
	}
	var cur any = doc
	for _, part := range strings.Split(ref[2:], "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q: %q is not inside an object", ref, part)
		}
		if cur, ok = m[part]; !ok {
			return nil, fmt.Errorf("$ref %q does not resolve (no %q)", ref, part)
		}
	}
	return cur, nil
}

// resolve follows $ref chains.
func resolve(t testing.TB, doc map[string]any, v any) any {
	t.Helper()
	for range 10 {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return v
		}
		var err error
		if v, err = lookupRef(doc, ref); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("$ref chain too long")
	return nil
}

// checkSchema is a minimal JSON Schema checker, enough for this document:
// $ref, allOf, anyOf, oneOf, type (one or a list), const, enum, required,
// properties, additionalProperties, items, minItems, maxItems, minLength,
// minimum, pattern and format date-time. It returns the problems found,
// each prefixed with the JSON path of the offending value.
func checkSchema(doc map[string]any, schema, v any, path string) []string {
	if b, ok := schema.(bool); ok {
		if !b {
			return []string{path + ": not allowed"}
		}
		return nil
	}
	s, ok := schema.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s: schema is %T, not an object", path, schema)}
	}
	var probs []string
	if ref, ok := s["$ref"].(string); ok {
		target, err := lookupRef(doc, ref)
		if err != nil {
			return []string{path + ": " + err.Error()}
		}
		probs = append(probs, checkSchema(doc, target, v, path)...)
	}
	for _, sub := range asList(s["allOf"]) {
		probs = append(probs, checkSchema(doc, sub, v, path)...)
	}
	if subs := asList(s["anyOf"]); len(subs) > 0 {
		ok := false
		for _, sub := range subs {
			if len(checkSchema(doc, sub, v, path)) == 0 {
				ok = true
				break
			}
		}
		if !ok {
			probs = append(probs, path+": matches none of anyOf")
		}
	}
	if subs := asList(s["oneOf"]); len(subs) > 0 {
		n := 0
		for _, sub := range subs {
			if len(checkSchema(doc, sub, v, path)) == 0 {
				n++
			}
		}
		if n != 1 {
			probs = append(probs, fmt.Sprintf("%s: matches %d of oneOf, want exactly 1", path, n))
		}
	}
	if typ, ok := s["type"]; ok {
		types := asList(typ)
		if len(types) == 0 {
			types = []any{typ}
		}
		match := false
		for _, ty := range types {
			if hasType(v, ty.(string)) {
				match = true
			}
		}
		if !match {
			return append(probs, fmt.Sprintf("%s: want type %v, got %s", path, typ, jsonType(v)))
		}
	}
	if c, ok := s["const"]; ok && !jsonEqual(c, v) {
		probs = append(probs, fmt.Sprintf("%s: want const %v, got %v", path, c, v))
	}
	if enum := asList(s["enum"]); len(enum) > 0 {
		if !slices.ContainsFunc(enum, func(x any) bool { return jsonEqual(x, v) }) {
			probs = append(probs, fmt.Sprintf("%s: %v is not one of %v", path, v, enum))
		}
	}
	switch v := v.(type) {
	case map[string]any:
		for _, r := range asList(s["required"]) {
			if _, ok := v[r.(string)]; !ok {
				probs = append(probs, fmt.Sprintf("%s: missing required property %q", path, r))
			}
		}
		props, _ := s["properties"].(map[string]any)
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ps, ok := props[k]; ok {
				probs = append(probs, checkSchema(doc, ps, v[k], path+"."+k)...)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					probs = append(probs, fmt.Sprintf("%s: additional property %q is not allowed", path, k))
				}
			case map[string]any:
				probs = append(probs, checkSchema(doc, ap, v[k], path+"."+k)...)
			}
		}
	case []any:
		if items, ok := s["items"]; ok {
			for i, x := range v {
				probs = append(probs, checkSchema(doc, items, x, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
		if n, ok := number(s["minItems"]); ok && float64(len(v)) < n {
			probs = append(probs, fmt.Sprintf("%s: %d items, want at least %v", path, len(v), n))
		}
		if n, ok := number(s["maxItems"]); ok && float64(len(v)) > n {
			probs = append(probs, fmt.Sprintf("%s: %d items, want at most %v", path, len(v), n))
		}
	case string:
		if n, ok := number(s["minLength"]); ok && float64(len([]rune(v))) < n {
			probs = append(probs, fmt.Sprintf("%s: %q is shorter than %v", path, v, n))
		}
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(v) {
			probs = append(probs, fmt.Sprintf("%s: %q does not match %s", path, v, p))
		}
		if s["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
				probs = append(probs, fmt.Sprintf("%s: %q is not a date-time", path, v))
			}
		}
	case json.Number:
		if n, ok := number(s["minimum"]); ok {
			if f, _ := v.Float64(); f < n {
				probs = append(probs, fmt.Sprintf("%s: %v is below the minimum %v", path, v, n))
			}
		}
	}
	return probs
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

func hasType(v any, typ string) bool {
	switch typ {
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := strconv.ParseInt(n.String(), 10, 64)
		return err == nil
	case "number":
		_, ok := v.(json.Number)
		return ok
	}
	return jsonType(v) == typ
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// matchPath finds the documented path template that path (without query)
// matches, preferring the template with the most literal segments, as
// both Go's mux and OpenAPI do.
func matchPath(doc map[string]any, path string) (string, bool) {
	segs := strings.Split(path, "/")
	best, bestLit := "", -1
	for tmpl := range doc["paths"].(map[string]any) {
		ts := strings.Split(tmpl, "/")
		if len(ts) != len(segs) {
			continue
		}
		lit, ok := 0, true
		for i, s := range ts {
			switch {
			case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
				ok = ok && segs[i] != ""
			case s == segs[i]:
				lit++
			default:
				ok = false
			}
		}
		if ok && lit > bestLit {
			best, bestLit = tmpl, lit
		}
	}
	return best, bestLit >= 0
}

// conformsToDoc checks a response against the operation the document
// describes for its method and path: the status must be documented, each
// header the response documents must be present, and the body must match
// the documented media type and, for JSON, the schema. Requests to paths
// the document does not describe (the JSON 404 of unknown /api/ paths)
// are not checked.
func conformsToDoc(t testing.TB, r resp) {
	t.Helper()
	doc := openapiDoc(t)
	path, _, _ := strings.Cut(r.path, "?")
	tmpl, ok := matchPath(doc, path)
	if !ok {
		return
	}
	op, ok := doc["paths"].(map[string]any)[tmpl].(map[string]any)[strings.ToLower(r.method)].(map[string]any)
	if !ok {
		return
	}
	where := fmt.Sprintf("%s %s (openapi %s %s) → %d", r.method, r.path, r.method, tmpl, r.code)
	responses := op["responses"].(map[string]any)
	spec, ok := responses[strconv.Itoa(r.code)]
	if !ok {
		spec, ok = responses[fmt.Sprintf("%dXX", r.code/100)]
	}
	if !ok {
		t.Errorf("%s: status %d is not documented; body %s", where, r.code, bytes.TrimSpace(r.body))
		return
	}
	if r.code/100 == 2 {
		exercised.Store(r.method+" "+tmpl, true)
	}
	rs := resolve(t, doc, spec).(map[string]any)
	if hs, ok := rs["headers"].(map[string]any); ok {
		for name := range hs {
			if r.hdr.Get(name) == "" {
				t.Errorf("%s: documented header %s is missing", where, name)
			}
		}
	}
	content, _ := rs["content"].(map[string]any)
	if len(r.body) == 0 {
		return
	}
	if len(content) == 0 {
		t.Errorf("%s: documented without a body, got %q", where, r.body)
		return
	}
	mt, _, err := mime.ParseMediaType(r.hdr.Get("Content-Type"))
	if err != nil {
		t.Errorf("%s: Content-Type %q: %v", where, r.hdr.Get("Content-Type"), err)
		return
	}
	media, ok := content[mt].(map[string]any)
	if !ok {
		t.Errorf("%s: media type %s is not documented (documented: %v)", where, mt, keys(content))
		return
	}
	if mt != "application/json" {
		return
	}
	v, err := decodeAny(r.body)
	if err != nil {
		t.Errorf("%s: body is not JSON: %v", where, err)
		return
	}
	for _, p := range checkSchema(doc, media["schema"], v, "$") {
		t.Errorf("%s: body does not match the documented schema: %s", where, p)
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestResponsesMatchSchemas exercises operations whose answers other tests
// do not all reach and checks them against the schemas explicitly (every
// response of every test also goes through conformsToDoc).
func TestResponsesMatchSchemas(t *testing.T) {
	e := newEnv(t)
	a := e.ingest(t, alertBody("Port scan", map[string]any{"source_id": "s-1", "raw": map[string]any{"sig": 2210054}}))
	id := a.Results[0].WorkItemID
	alertID := a.Results[0].AlertID
	task := struct {
		ID int64 `json:"id"`
	}{}
	e.do(t, responder, "POST", fmt.Sprintf("/api/v1/workitems/%d/tasks", id), map[string]any{"title": "Check host"}).
		wantCode(t, http.StatusCreated).decode(t, &task)
	e.do(t, responder, "POST", fmt.Sprintf("/api/v1/workitems/%d/comments", id), map[string]any{"body": "Looking"}).
		wantCode(t, http.StatusCreated)

	cases := []struct {
		method, path string
		body         any
		code         int
		schema       string
	}{
		{"GET", "/healthz", nil, 200, "Health"},
		{"GET", "/readyz", nil, 200, "Ready"},
		{"GET", "/api/v1/alerts", nil, 200, "AlertPage"},
		{"GET", fmt.Sprintf("/api/v1/alerts/%d", alertID), nil, 200, "Alert"},
		{"GET", fmt.Sprintf("/api/v1/alerts/%d/versions", alertID), nil, 200, "AlertVersionList"},
		{"GET", "/api/v1/workitems", nil, 200, "WorkItemPage"},
		{"GET", fmt.Sprintf("/api/v1/workitems/%d", id), nil, 200, "WorkItem"},
		{"PATCH", fmt.Sprintf("/api/v1/workitems/%d", id), map[string]any{"assignee": "alice"}, 200, "WorkItem"},
		{"POST", fmt.Sprintf("/api/v1/workitems/%d/transitions", id), map[string]any{"to": "Approved"}, 200, "WorkItem"},
		{"GET", fmt.Sprintf("/api/v1/workitems/%d/timeline", id), nil, 200, "TimelinePage"},
		{"GET", fmt.Sprintf("/api/v1/workitems/%d/comments", id), nil, 200, "CommentList"},
		{"GET", fmt.Sprintf("/api/v1/workitems/%d/tasks", id), nil, 200, "TaskList"},
		{"PATCH", fmt.Sprintf("/api/v1/workitems/%d/tasks/%d", id, task.ID), map[string]any{"done": true}, 200, "Task"},
		{"GET", "/api/v1/process", nil, 200, "Process"},
		{"POST", fmt.Sprintf("/api/v1/workitems/%d/transitions", id), map[string]any{"to": "Closed"}, 409, "Error"},
		{"GET", "/api/v1/workitems/999", nil, 404, "Error"},
		{"GET", "/api/v1/workitems?limit=0", nil, 400, "Error"},
	}
	doc := openapiDoc(t)
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			r := e.do(t, responder, c.method, c.path, c.body).wantCode(t, c.code)
			v, err := decodeAny(r.body)
			if err != nil {
				t.Fatalf("%s: %v", r, err)
			}
			ref := map[string]any{"$ref": "#/components/schemas/" + c.schema}
			for _, p := range checkSchema(doc, ref, v, "$") {
				t.Errorf("%s: does not match %s: %s", r, c.schema, p)
			}
		})
	}
}
