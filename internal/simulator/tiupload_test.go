package simulator_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/simulator"
)

// tiEnv is a simulator with an ARM token for the upload API.
type tiEnv struct {
	srv *simulator.Server
	tok string
	clk *clock.Fake
}

func tiStart(t *testing.T) *tiEnv {
	t.Helper()
	clk := clock.NewFake(time.Now().UTC().Truncate(time.Second))
	srv := start(t, simulator.Options{Clock: clk})
	return &tiEnv{srv: srv, tok: accessToken(t, srv, armScope), clk: clk}
}

func (e *tiEnv) path() string {
	return "/workspaces/" + e.srv.Info.WorkspaceID + "/threat-intelligence-stix-objects:upload?api-version=2024-02-01-preview"
}

func (e *tiEnv) upload(t *testing.T, body any) (*http.Response, []byte) {
	t.Helper()
	return send(t, e.srv, "POST", e.path(), e.tok, body)
}

// tiObjects reads the stored objects through the control route.
func (e *tiEnv) tiObjects(t *testing.T) []map[string]any {
	t.Helper()
	resp, b := send(t, e.srv, "GET", "/sim/v1/sentinel/ti-objects", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ti-objects: %d %s", resp.StatusCode, b)
	}
	var out struct{ Value []map[string]any }
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out.Value
}

// tiIndicator is a valid indicator with the given id suffix and modified
// time.
func tiIndicator(n int, modified string) map[string]any {
	return map[string]any{
		"type": "indicator", "spec_version": "2.1",
		"id":      fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", n),
		"created": "2024-01-01T00:00:00.000Z", "modified": modified,
		"pattern": fmt.Sprintf("[ipv4-addr:value = '198.51.100.%d']", n%256), "pattern_type": "stix",
		"valid_from": "2024-01-01T00:00:00.000Z",
	}
}

func tiFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "tiupload", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTIUploadDocumentedSamples uploads the documentation's sample
// request bodies: every object is accepted, with 200 and an empty body.
func TestTIUploadDocumentedSamples(t *testing.T) {
	e := tiStart(t)
	for _, f := range []string{"sample_indicators_request.json", "sample_relationship_request.json"} {
		resp, b := e.upload(t, tiFixture(t, f))
		if resp.StatusCode != http.StatusOK || len(b) != 0 {
			t.Errorf("%s: %d %s, want 200 and an empty body", f, resp.StatusCode, b)
		}
	}
	objs := e.tiObjects(t)
	if len(objs) != 5 {
		t.Fatalf("stored %d objects, want 5", len(objs))
	}
	var ids []string
	for _, o := range objs {
		ids = append(ids, o["id"].(string))
	}
	if got := strings.Join(ids, " "); !strings.Contains(got, "relationship--a2e3efb5-351d-4d46-97a0-6897ee7c77a0") ||
		!strings.Contains(got, "indicator--67e62408-e3de-4783-9480-f595d4fdae52") {
		t.Errorf("ids = %s", got)
	}
}

// TestTIUploadPerObjectErrors follows the documentation's example: four
// indicators, the fourth without an id, get 200 and that error by index.
func TestTIUploadPerObjectErrors(t *testing.T) {
	e := tiStart(t)
	objs := []any{tiIndicator(1, "2024-02-01T00:00:00Z"), tiIndicator(2, "2024-02-01T00:00:00Z"), tiIndicator(3, "2024-02-01T00:00:00Z"), tiIndicator(4, "2024-02-01T00:00:00Z")}
	delete(objs[3].(map[string]any), "id")
	resp, b := e.upload(t, map[string]any{"sourcesystem": "test", "stixobjects": objs})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d %s", resp.StatusCode, b)
	}
	var got, want any
	json.Unmarshal(b, &got)
	json.Unmarshal(tiFixture(t, "sample_error_response.json"), &want)
	if g, w := fmt.Sprint(got), fmt.Sprint(want); g != w {
		t.Errorf("body\n got %s\nwant %s", g, w)
	}
	if n := len(e.tiObjects(t)); n != 3 {
		t.Errorf("stored %d, want 3", n)
	}
}

func TestTIUploadValidation(t *testing.T) {
	e := tiStart(t)
	ok := tiIndicator(1, "2024-02-01T00:00:00Z")
	edit := func(f func(m map[string]any)) map[string]any {
		m := tiIndicator(2, "2024-02-01T00:00:00Z")
		f(m)
		return m
	}
	tests := []struct {
		name string
		obj  any
		want []string // substrings of the error messages
	}{
		{"not an object", "indicator", []string{"Property=stixobjects"}},
		{"missing type", edit(func(m map[string]any) { delete(m, "type") }), []string{"Property=type: Required property is missing"}},
		{"unsupported type", edit(func(m map[string]any) {
			m["type"] = "malware"
			m["id"] = "malware--00000000-0000-4000-8000-000000000002"
		}), []string{"Property=type: The STIX object type is not supported. Actual value: malware."}},
		{"bad id", edit(func(m map[string]any) { m["id"] = "indicator-1" }), []string{"Property=id: The value must be an identifier"}},
		{"id of another type", edit(func(m map[string]any) { m["id"] = "identity--00000000-0000-4000-8000-000000000002" }), []string{"Property=id: The identifier's type"}},
		{"missing created and modified", edit(func(m map[string]any) { delete(m, "created"); delete(m, "modified") }), []string{"Property=created: Required", "Property=modified: Required"}},
		{"bad timestamp", edit(func(m map[string]any) { m["created"] = "yesterday" }), []string{"Property=created: The value must be a timestamp"}},
		{"modified before created", edit(func(m map[string]any) { m["modified"] = "2023-01-01T00:00:00Z" }), []string{"Property=modified: The value must not be earlier"}},
		{"spec version", edit(func(m map[string]any) { m["spec_version"] = "1.2" }), []string{"Property=spec_version"}},
		{"confidence", edit(func(m map[string]any) { m["confidence"] = 101 }), []string{"Property=confidence: The value must be an integer from 0 to 100. Actual value: 101."}},
		{"fractional confidence", edit(func(m map[string]any) { m["confidence"] = 5.5 }), []string{"Property=confidence"}},
		{"labels", edit(func(m map[string]any) { m["labels"] = []any{"a", 1} }), []string{"Property=labels"}},
		{"revoked", edit(func(m map[string]any) { m["revoked"] = "no" }), []string{"Property=revoked"}},
		{"missing pattern", edit(func(m map[string]any) { delete(m, "pattern"); delete(m, "pattern_type") }), []string{"Property=pattern: Required", "Property=pattern_type: Required"}},
		{"missing valid_from", edit(func(m map[string]any) { delete(m, "valid_from") }), []string{"Property=valid_from: Required"}},
		{"valid_until not after valid_from", edit(func(m map[string]any) { m["valid_until"] = "2024-01-01T00:00:00Z" }), []string{"Property=valid_until: The value must be later than valid_from"}},
		{"relationship without refs", map[string]any{"type": "relationship", "id": "relationship--00000000-0000-4000-8000-000000000009",
			"created": "2024-01-01T00:00:00Z", "modified": "2024-01-01T00:00:00Z", "relationship_type": "uses"},
			[]string{"Property=source_ref: Required", "Property=target_ref: Required"}},
		{"identity without name", map[string]any{"type": "identity", "id": "identity--00000000-0000-4000-8000-000000000009",
			"created": "2024-01-01T00:00:00Z", "modified": "2024-01-01T00:00:00Z"}, []string{"Property=name: Required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := e.upload(t, map[string]any{"sourcesystem": "test", "stixobjects": []any{ok, tt.obj}})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d %s, want 200 (one object accepted)", resp.StatusCode, b)
			}
			var body struct {
				Errors []struct {
					RecordIndex   int
					ErrorMessages []string
				}
			}
			if err := json.Unmarshal(b, &body); err != nil || len(body.Errors) != 1 || body.Errors[0].RecordIndex != 1 {
				t.Fatalf("body %s, want one error for record 1", b)
			}
			msgs := strings.Join(body.Errors[0].ErrorMessages, "\n")
			for _, w := range tt.want {
				if !strings.Contains(msgs, w) {
					t.Errorf("messages %q lack %q", msgs, w)
				}
			}
			if len(body.Errors[0].ErrorMessages) != len(tt.want) {
				t.Errorf("messages %q, want %d", msgs, len(tt.want))
			}
		})
	}
}

// TestTIUploadRequestErrors covers what fails a whole request.
func TestTIUploadRequestErrors(t *testing.T) {
	e := tiStart(t)
	valid := []any{tiIndicator(1, "2024-02-01T00:00:00Z")}
	many := make([]any, 101)
	for i := range many {
		many[i] = tiIndicator(i, "2024-02-01T00:00:00Z")
	}
	badID := tiIndicator(7, "2024-02-01T00:00:00Z")
	delete(badID, "id")
	base := "/workspaces/" + e.srv.Info.WorkspaceID + "/threat-intelligence-stix-objects:upload"
	tests := []struct {
		name, path, token string
		body              any
		status            int
		want              string
	}{
		{"no api-version", base, e.tok, map[string]any{"sourcesystem": "t", "stixobjects": valid}, 400, "api-version"},
		{"old api-version", base + "?api-version=2022-07-01", e.tok, map[string]any{"sourcesystem": "t", "stixobjects": valid}, 400, "'2022-07-01' is not supported"},
		{"unknown workspace", "/workspaces/00000000-0000-0000-0000-000000000000/threat-intelligence-stix-objects:upload?api-version=2024-02-01-preview", e.tok, map[string]any{"sourcesystem": "t", "stixobjects": valid}, 404, "not found"},
		{"no token", e.path(), "", map[string]any{"sourcesystem": "t", "stixobjects": valid}, 401, "AuthenticationFailed"},
		{"graph token", e.path(), accessToken(t, e.srv, graphScope), map[string]any{"sourcesystem": "t", "stixobjects": valid}, 401, "InvalidAuthenticationTokenAudience"},
		{"not JSON", e.path(), e.tok, []byte("{"), 400, "must be a JSON object"},
		{"no source system", e.path(), e.tok, map[string]any{"stixobjects": valid}, 400, "'sourcesystem' property is required"},
		{"reserved source system", e.path(), e.tok, map[string]any{"sourcesystem": "microsoft sentinel", "stixobjects": valid}, 400, "restricted"},
		{"no objects", e.path(), e.tok, map[string]any{"sourcesystem": "t"}, 400, "'stixobjects' property is required"},
		{"objects not an array", e.path(), e.tok, map[string]any{"sourcesystem": "t", "stixobjects": map[string]any{}}, 400, "must be an array"},
		{"empty array", e.path(), e.tok, map[string]any{"sourcesystem": "t", "stixobjects": []any{}}, 400, "empty"},
		{"101 objects", e.path(), e.tok, map[string]any{"sourcesystem": "t", "stixobjects": many}, 400, "at most 100"},
		{"every object invalid", e.path(), e.tok, map[string]any{"sourcesystem": "t", "stixobjects": []any{badID}}, 400, `"recordIndex":0`},
		{"field names in other case", e.path(), e.tok, map[string]any{"SourceSystem": "t", "STIXObjects": valid}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := send(t, e.srv, "POST", tt.path, tt.token, tt.body)
			if resp.StatusCode != tt.status || !bytes.Contains(b, []byte(tt.want)) {
				t.Errorf("%d %s, want %d with %q", resp.StatusCode, b, tt.status, tt.want)
			}
		})
	}
	if n := len(e.tiObjects(t)); n != 1 {
		t.Errorf("stored %d objects, want 1 (the 101-object request stores nothing)", n)
	}
}

// TestTIUploadUpsert: a later modified replaces a stored object, an
// earlier or equal one is ignored; a missing spec_version becomes 2.1.
func TestTIUploadUpsert(t *testing.T) {
	e := tiStart(t)
	put := func(o map[string]any) {
		t.Helper()
		if resp, b := e.upload(t, map[string]any{"sourcesystem": "t", "stixobjects": []any{o}}); resp.StatusCode != 200 {
			t.Fatalf("upload: %d %s", resp.StatusCode, b)
		}
	}
	v1 := tiIndicator(1, "2024-02-01T00:00:00Z")
	delete(v1, "spec_version")
	v1["name"] = "first"
	put(v1)
	v2 := tiIndicator(1, "2024-03-01T00:00:00Z")
	v2["name"] = "second"
	put(v2)
	older := tiIndicator(1, "2024-02-15T00:00:00Z")
	older["name"] = "older"
	put(older)
	same := tiIndicator(1, "2024-03-01T00:00:00.000Z")
	same["name"] = "same modified"
	put(same)
	objs := e.tiObjects(t)
	if len(objs) != 1 || objs[0]["name"] != "second" || objs[0]["modified"] != "2024-03-01T00:00:00Z" {
		t.Errorf("stored %v, want the second version only", objs)
	}
	put(tiIndicator(2, "2024-02-01T00:00:00Z"))
	objs = e.srv.Sim.World().TIObjects()
	if len(objs) != 2 || objs[1]["spec_version"] != "2.1" {
		t.Errorf("stored %v", objs)
	}
	delete(v1, "spec_version")
	v1["id"] = "indicator--00000000-0000-4000-8000-000000000003"
	put(v1)
	for _, o := range e.srv.Sim.World().TIObjects() {
		if o["spec_version"] != "2.1" {
			t.Errorf("%v: spec_version %v, want the documented default 2.1", o["id"], o["spec_version"])
		}
	}
}

// TestTIUploadRateLimit: the 101st request within a minute gets the
// documented 429 with Retry-After; the window slides.
func TestTIUploadRateLimit(t *testing.T) {
	e := tiStart(t)
	body := map[string]any{"sourcesystem": "t", "stixobjects": []any{tiIndicator(1, "2024-02-01T00:00:00Z")}}
	for i := range 100 {
		if i == 50 {
			e.clk.Advance(30 * time.Second)
		}
		if resp, b := e.upload(t, body); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, b)
		}
	}
	resp, b := e.upload(t, body)
	var msg struct {
		StatusCode int
		Message    string
	}
	json.Unmarshal(b, &msg)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "30" || msg.StatusCode != 429 ||
		msg.Message != "Rate limit is exceeded. Try again in 30 seconds." {
		t.Fatalf("101st: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	e.clk.Advance(30 * time.Second)
	// The first 50 left the window; 50 more fit.
	for i := range 50 {
		if resp, b := e.upload(t, body); resp.StatusCode != 200 {
			t.Fatalf("after the window, request %d: %d %s", i, resp.StatusCode, b)
		}
	}
	if resp, _ := e.upload(t, body); resp.StatusCode != 429 {
		t.Errorf("151st within the window: %d, want 429", resp.StatusCode)
	}
}

// TestTIUploadFault: injected faults apply to the route by name.
func TestTIUploadFault(t *testing.T) {
	e := tiStart(t)
	e.srv.Sim.Inject(simulator.Fault{Endpoint: "sentinel.tiupload", Kind: simulator.FaultStatus, Status: 503, RetryAfter: 7, Times: 1})
	body := map[string]any{"sourcesystem": "t", "stixobjects": []any{tiIndicator(1, "2024-02-01T00:00:00Z")}}
	if resp, b := e.upload(t, body); resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "7" {
		t.Errorf("faulted: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	if resp, b := e.upload(t, body); resp.StatusCode != 200 {
		t.Errorf("after the fault: %d %s", resp.StatusCode, b)
	}
}
