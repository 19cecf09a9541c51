package jirasim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/connector/jira/jirasim"
)

// shapeDiff compares got with want by shape: the same keys, recursively,
// with the same JSON kinds; values may differ. Each element of a got
// array is compared with the first element of the want array.
func shapeDiff(want, got any, path string) []string {
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
				out = append(out, fmt.Sprintf("%s.%s: not in the example", path, k))
				continue
			}
			out = append(out, shapeDiff(w[k], g[k], path+"."+k)...)
		}
	case []any:
		g := got.([]any)
		if len(w) > 0 {
			for i, e := range g {
				out = append(out, shapeDiff(w[0], e, fmt.Sprintf("%s[%d]", path, i))...)
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

// call sends a request with the default credentials (auth false sends
// none) and returns the status, headers and decoded body.
func call(t *testing.T, srv *httptest.Server, method, path string, body []byte, auth bool) (int, http.Header, any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth {
		req.SetBasicAuth("vigil@example.com", "token")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var v any
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &v); err != nil {
			v = string(raw)
		}
	}
	return resp.StatusCode, resp.Header, v
}

func TestCreateMatchesFixtures(t *testing.T) {
	srv := httptest.NewServer(jirasim.New(jirasim.Options{}))
	defer srv.Close()

	// The documented request, plus a transition, so that the answer has
	// the documented transition result too.
	var req map[string]any
	if err := json.Unmarshal(fixture(t, "create_issue_request.json"), &req); err != nil {
		t.Fatal(err)
	}
	req["transition"] = map[string]any{"id": "21"}
	body, _ := json.Marshal(req)
	status, _, got := call(t, srv, "POST", "/rest/api/3/issue", body, true)
	if status != http.StatusCreated {
		t.Fatalf("POST fixture request: %d %v", status, got)
	}
	if d := shapeDiff(fixtureJSON(t, "create_issue_response_201.json"), got, "create"); len(d) > 0 {
		t.Errorf("create answer differs from the fixture:\n%s", strings.Join(d, "\n"))
	}
	key := got.(map[string]any)["key"].(string)
	_, _, is := call(t, srv, "GET", "/rest/api/3/issue/"+key+"?fields=summary,labels,status", nil, true)
	f := is.(map[string]any)["fields"].(map[string]any)
	if f["summary"] != "Main order flow broken" || !reflect.DeepEqual(f["labels"], []any{"bugfix", "blitz_test"}) ||
		f["status"].(map[string]any)["name"] != "In Progress" || len(f) != 3 {
		t.Errorf("created issue fields = %v", f)
	}

	// The documented 400, exactly, when the project requires a priority.
	sim := jirasim.New(jirasim.Options{})
	sim.RequireFields("priority")
	srv2 := httptest.NewServer(sim)
	defer srv2.Close()
	delete(req, "transition")
	delete(req["fields"].(map[string]any), "priority")
	body, _ = json.Marshal(req)
	status, _, got = call(t, srv2, "POST", "/rest/api/3/issue", body, true)
	if want := fixtureJSON(t, "create_issue_error_400.json"); status != http.StatusBadRequest || !reflect.DeepEqual(got, want) {
		t.Errorf("missing priority: %d %v, want 400 %v", status, got, want)
	}
}

func TestTransitionsMatchFixtures(t *testing.T) {
	// A workflow holding the documented transition id 5.
	sim := jirasim.New(jirasim.Options{Transitions: []jirasim.Transition{
		{ID: "2", Name: "Close Issue", To: "In Progress"}, {ID: "5", Name: "Resolve", To: "Done", From: []string{"In Progress"}},
	}})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	_, _, got := call(t, srv, "POST", "/rest/api/3/issue", []byte(`{"fields":{"project":{"key":"SEC"},"issuetype":{"name":"Task"},"summary":"s"}}`), true)
	key := got.(map[string]any)["key"].(string)

	status, _, got := call(t, srv, "GET", "/rest/api/3/issue/"+key+"/transitions", nil, true)
	want := fixtureJSON(t, "get_transitions_response_200.json")
	// fields comes only with expand=transitions.fields; the example has both.
	for _, tr := range want.(map[string]any)["transitions"].([]any) {
		delete(tr.(map[string]any), "fields")
	}
	if d := shapeDiff(want, got, "transitions"); status != 200 || len(d) > 0 {
		t.Errorf("transitions %d differ from the fixture:\n%s", status, strings.Join(d, "\n"))
	}
	if trs := got.(map[string]any)["transitions"].([]any); len(trs) != 1 || trs[0].(map[string]any)["id"] != "2" {
		t.Errorf("from To Do: %v, want only transition 2", trs)
	}

	// The documented request is refused from To Do, accepted from In Progress.
	if status, _, got := call(t, srv, "POST", "/rest/api/3/issue/"+key+"/transitions", fixture(t, "do_transition_request.json"), true); status != 400 ||
		!strings.Contains(fmt.Sprint(got), "Transition id '5' is not valid") {
		t.Errorf("transition 5 from To Do: %d %v", status, got)
	}
	call(t, srv, "POST", "/rest/api/3/issue/"+key+"/transitions", []byte(`{"transition":{"id":"2"}}`), true)
	if status, _, got := call(t, srv, "POST", "/rest/api/3/issue/"+key+"/transitions", fixture(t, "do_transition_request.json"), true); status != http.StatusNoContent {
		t.Fatalf("documented transition request: %d %v", status, got)
	}
	is, _ := sim.Issue(key)
	if is.Status != "Done" || !reflect.DeepEqual(sim.CommentText(key), []string{"Bug has been fixed\n"}) ||
		fmt.Sprint(is.Fields["resolution"]) != "map[name:Fixed]" {
		t.Errorf("after transition 5: status %q comments %q resolution %v", is.Status, sim.CommentText(key), is.Fields["resolution"])
	}
}

func TestSearchCommentsAuthAndFaults(t *testing.T) {
	sim := jirasim.New(jirasim.Options{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	for i := 0; i < 3; i++ {
		call(t, srv, "POST", "/rest/api/3/issue", []byte(fmt.Sprintf(`{"fields":{"project":{"key":"SEC"},"issuetype":{"name":"Task"},"summary":"s%d","labels":["vigil-%d"]}}`, i, i%2)), true)
	}
	tests := []struct {
		path   string
		status int
		keys   []string
		next   bool
	}{
		{`/rest/api/3/search/jql?fields=labels&jql=` + urlq(`project = "SEC" AND labels = "vigil-0" ORDER BY created ASC`), 200, []string{"SEC-1", "SEC-3"}, false},
		{`/rest/api/3/search/jql?maxResults=1&jql=` + urlq(`labels = vigil-0 ORDER BY created DESC`), 200, []string{"SEC-3"}, true},
		{`/rest/api/3/search/jql?jql=` + urlq(`project = OTHER`), 200, []string{}, false},
		{`/rest/api/3/search/jql?jql=` + urlq(`reporter = me`), 400, nil, false},
		{`/rest/api/3/search/jql?jql=`, 400, nil, false},
		{`/rest/api/3/search?jql=` + urlq(`project = SEC`), 410, nil, false},
	}
	for _, tc := range tests {
		status, _, got := call(t, srv, "GET", tc.path, nil, true)
		if status != tc.status {
			t.Errorf("%s: %d %v, want %d", tc.path, status, got, tc.status)
			continue
		}
		m := got.(map[string]any)
		if status != 200 {
			if _, ok := m["errorMessages"]; !ok {
				t.Errorf("%s: error body %v lacks errorMessages", tc.path, m)
			}
			continue
		}
		keys := []string{}
		for _, is := range m["issues"].([]any) {
			keys = append(keys, is.(map[string]any)["key"].(string))
		}
		if _, hasNext := m["nextPageToken"]; !slices.Equal(keys, tc.keys) || hasNext != tc.next {
			t.Errorf("%s: keys %v next %v, want %v %v", tc.path, keys, hasNext, tc.keys, tc.next)
		}
	}

	// Comments take ADF only.
	if status, _, _ := call(t, srv, "POST", "/rest/api/3/issue/SEC-1/comment", []byte(`{"body":"plain"}`), true); status != 400 {
		t.Errorf("plain-text comment: %d, want 400", status)
	}
	status, _, got := call(t, srv, "POST", "/rest/api/3/issue/SEC-1/comment", []byte(`{"body":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"hi"}]}]}}`), true)
	if status != 201 || got.(map[string]any)["id"] == "" {
		t.Errorf("comment: %d %v", status, got)
	}
	_, _, got = call(t, srv, "GET", "/rest/api/3/issue/SEC-1/comment", nil, true)
	if m := got.(map[string]any); m["total"] != 1.0 || len(m["comments"].([]any)) != 1 {
		t.Errorf("comments = %v", m)
	}

	if status, _, _ := call(t, srv, "GET", "/rest/api/3/issue/SEC-1", nil, false); status != 401 {
		t.Errorf("no auth: %d", status)
	}
	if status, _, _ := call(t, srv, "GET", "/rest/api/3/issue/SEC-99", nil, true); status != 404 {
		t.Errorf("missing issue: %d", status)
	}
	sim.Inject(1, jirasim.Fault{Status: 429, RetryAfter: 1500 * 1e6})
	if status, h, _ := call(t, srv, "GET", "/rest/api/3/issue/SEC-1", nil, true); status != 429 || h.Get("Retry-After") != "2" {
		t.Errorf("429 fault: %d Retry-After %q", status, h.Get("Retry-After"))
	}
}

func urlq(s string) string { return strings.NewReplacer(" ", "%20", `"`, "%22", "=", "%3D").Replace(s) }
