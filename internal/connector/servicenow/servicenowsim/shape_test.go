package servicenowsim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/connector/servicenow/servicenowsim"
)

// shapeDiff compares got with want by shape: the same keys, recursively,
// with the same JSON kinds; values may differ. A null in want says
// nothing about the kind. Each element of a got array is compared with
// the first element of the want array, when both have one. With subset,
// got may have keys want does not.
func shapeDiff(want, got any, path string, subset bool) []string {
	if want == nil {
		return nil
	}
	if kind(want) != kind(got) {
		return []string{fmt.Sprintf("%s: got %s, want %s", path, kind(got), kind(want))}
	}
	var out []string
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		for k := range w {
			if _, ok := g[k]; !ok {
				out = append(out, fmt.Sprintf("%s.%s: missing", path, k))
			}
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				if !subset {
					out = append(out, fmt.Sprintf("%s.%s: not in the example", path, k))
				}
				continue
			}
			out = append(out, shapeDiff(w[k], g[k], path+"."+k, subset)...)
		}
	case []any:
		g := got.([]any)
		if len(w) > 0 {
			for i, e := range g {
				out = append(out, shapeDiff(w[0], e, fmt.Sprintf("%s[%d]", path, i), subset)...)
			}
		}
	}
	slices.Sort(out)
	return out
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	}
	return fmt.Sprintf("%T", v)
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fixtureJSON(t *testing.T, name string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(fixture(t, name), &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// call sends a raw request with the emulator's default credentials
// (auth "-" sends none) and returns the status, headers and decoded body.
func call(t *testing.T, srv *httptest.Server, method, path string, body []byte, auth string) (int, http.Header, any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth == "" {
		auth = servicenowsim.BasicAuth("vigil", "secret")
	}
	if auth != "-" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var v any
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &v); err != nil {
			v = string(raw) // an error page
		}
	}
	return resp.StatusCode, resp.Header, v
}

// create makes an incident from a JSON body and returns its sys_id.
func create(t *testing.T, srv *httptest.Server, body string) string {
	t.Helper()
	status, _, got := call(t, srv, "POST", "/api/now/table/incident", []byte(body), "")
	if status != http.StatusCreated {
		t.Fatalf("create %s: %d %v", body, status, got)
	}
	return got.(map[string]any)["result"].(map[string]any)["sys_id"].(string)
}

func TestShapesMatchFixtures(t *testing.T) {
	srv := httptest.NewServer(servicenowsim.New(servicenowsim.Options{}))
	defer srv.Close()

	// POST with the documented request body: the documented answer.
	status, _, posted := call(t, srv, "POST", "/api/now/table/incident", fixture(t, "table_incident_post_request.json"), "")
	if status != http.StatusCreated {
		t.Fatalf("POST fixture request: %d %v", status, posted)
	}
	if d := shapeDiff(fixtureJSON(t, "table_incident_post_response_201.json"), posted, "post", false); len(d) > 0 {
		t.Errorf("POST answer differs from the fixture:\n%s", strings.Join(d, "\n"))
	}
	res := posted.(map[string]any)["result"].(map[string]any)
	if res["short_description"] != "Unable to connect to office wifi" || res["urgency"] != "2" || res["priority"] != "3" ||
		res["state"] != "1" || !strings.HasSuffix(res["assignment_group"].(map[string]any)["link"].(string), "/sys_user_group/287ebd7da9fe198100f92cc8d1d2154e") {
		t.Errorf("POST result = %v", res)
	}

	// GET of an incident with the references the documented one has.
	id := create(t, srv, `{"short_description":"Can't access SFA software","impact":"1","urgency":"3",
		"location":"105cf7f3c611227501e75e08b14a38ba","caller_id":"46c6f9efa9fe198101ddf5eed9adf6e7",
		"problem_id":"a9e4890bc6112276003d7a5a5c774a74","cmdb_ci":"a9c0c8d2c6112276018f7705562f9cb0",
		"assignment_group":"8a4dde73c6112278017a6a4baf547aa7","category":"software"}`)
	_, _, got := call(t, srv, "GET", "/api/now/table/incident/"+id, nil, "")
	if d := shapeDiff(fixtureJSON(t, "table_incident_get_by_sys_id_response_200.json"), got, "get", false); len(d) > 0 {
		t.Errorf("GET answer differs from the fixture:\n%s", strings.Join(d, "\n"))
	}

	// PATCH with the documented request body.
	id = create(t, srv, `{"short_description":"Can't access Exchange server - is it down?","impact":"1",
		"location":"108752c8c611227501d4ab0e392ba97f","caller_id":"5b7c200d0a640069006b3845b5d0fa7c",
		"company":"31bea3d53790200044e0bfc8bcbe5dec","cmdb_ci":"281190e3c0a8000b003f593aa3f20ca6",
		"assignment_group":"8a5055c9c61122780043563ef53438e3","state":"2"}`)
	status, _, patched := call(t, srv, "PATCH", "/api/now/table/incident/"+id, fixture(t, "table_incident_patch_request.json"), "")
	if status != http.StatusOK {
		t.Fatalf("PATCH fixture request: %d %v", status, patched)
	}
	if d := shapeDiff(fixtureJSON(t, "table_incident_patch_response_200.json"), patched, "patch", false); len(d) > 0 {
		t.Errorf("PATCH answer differs from the fixture:\n%s", strings.Join(d, "\n"))
	}
	res = patched.(map[string]any)["result"].(map[string]any)
	if res["urgency"] != "1" || res["priority"] != "1" || res["comments"] != "" || res["sys_mod_count"] != "1" {
		t.Errorf("PATCH result: urgency %v priority %v comments %q mod count %v", res["urgency"], res["priority"], res["comments"], res["sys_mod_count"])
	}
}

// The list fixture is of the problem table; every field of it is a task
// field the incident table has too, so an incident list must have them
// all, with the same kinds.
func TestListShapeMatchesFixture(t *testing.T) {
	srv := httptest.NewServer(servicenowsim.New(servicenowsim.Options{}))
	defer srv.Close()
	create(t, srv, `{"short_description":"Switch occasionally drops connections","cmdb_ci":"55b35562c0a8010e01cff22378e0aea9"}`)
	_, h, got := call(t, srv, "GET", "/api/now/table/incident?sysparm_limit=5", nil, "")
	want := fixtureJSON(t, "table_problem_list_response_200.json")
	if d := shapeDiff(want, got, "list", true); len(d) > 0 {
		t.Errorf("list differs from the fixture:\n%s", strings.Join(d, "\n"))
	}
	if n := len(got.(map[string]any)["result"].([]any)); n != 1 || h.Get("X-Total-Count") != "1" {
		t.Errorf("%d results, X-Total-Count %q", n, h.Get("X-Total-Count"))
	}
}

func TestRateLimitAnswerMatchesFixture(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 1, 10, 15, 0, 0, time.UTC))
	srv := httptest.NewServer(servicenowsim.New(servicenowsim.Options{RateLimit: 2, Clock: clk}))
	defer srv.Close()
	for i := 0; i < 2; i++ {
		status, h, _ := call(t, srv, "GET", "/api/now/table/incident", nil, "")
		if status != 200 || h.Get("X-RateLimit-Limit") != "2" || h.Get("X-RateLimit-Reset") != "1772362800" || h.Get("X-RateLimit-Rule") == "" {
			t.Errorf("request %d: %d %v", i+1, status, h)
		}
	}
	status, h, got := call(t, srv, "GET", "/api/now/table/incident", nil, "")
	if status != http.StatusTooManyRequests || h.Get("Retry-After") != "2700" {
		t.Fatalf("3rd request: %d, Retry-After %q; want 429 and 2700 (to the top of the hour)", status, h.Get("Retry-After"))
	}
	want := fixtureJSON(t, "error_429_rate_limit.json")
	if d := shapeDiff(want, got, "429", false); len(d) > 0 {
		t.Errorf("429 body differs from the fixture:\n%s", strings.Join(d, "\n"))
	}
	e := got.(map[string]any)["error"].(map[string]any)
	if e["message"] != "Rate limit exceeded" || e["detail"] != "Rate limit of 2 requests per hour for Table API exceeded" {
		t.Errorf("429 error = %v", e)
	}
	clk.Advance(45 * time.Minute)
	if status, _, _ := call(t, srv, "GET", "/api/now/table/incident", nil, ""); status != 200 {
		t.Errorf("next hour: %d, want 200", status)
	}
}
