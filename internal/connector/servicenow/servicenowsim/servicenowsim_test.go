package servicenowsim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/connector/servicenow/servicenowsim"
)

func TestShapeDiffCatchesDifferences(t *testing.T) {
	var want, got any
	_ = json.Unmarshal([]byte(`{"a":"x","b":{"link":"l","value":"v"},"c":[{"d":1}],"n":null}`), &want)
	tests := []struct {
		got   string
		diffs int
	}{
		{`{"a":"y","b":{"link":"m","value":"w"},"c":[{"d":2}],"n":5}`, 0},
		{`{"a":"y","b":"","c":[],"n":null}`, 1},                             // reference left empty
		{`{"a":1,"b":{"link":"m","value":"w"},"c":[{"d":2}],"n":null}`, 1},  // kind
		{`{"b":{"link":"m","value":"w"},"c":[{"d":2}],"n":null,"e":""}`, 2}, // missing and extra
		{`{"a":"","b":{"link":"m"},"c":[{"d":"2"}],"n":null}`, 2},           // nested
	}
	for _, tt := range tests {
		_ = json.Unmarshal([]byte(tt.got), &got)
		if d := shapeDiff(want, got, "", false); len(d) != tt.diffs {
			t.Errorf("shapeDiff(%s) = %v, want %d differences", tt.got, d, tt.diffs)
		}
	}
}

func TestAuthentication(t *testing.T) {
	srv := httptest.NewServer(servicenowsim.New(servicenowsim.Options{User: "u", Password: "p"}))
	defer srv.Close()
	tests := []struct {
		name, auth string
		want       int
	}{
		{"none", "-", 401},
		{"wrong password", servicenowsim.BasicAuth("u", "nope"), 401},
		{"right", servicenowsim.BasicAuth("u", "p"), 200},
	}
	for _, tt := range tests {
		status, h, body := call(t, srv, "GET", "/api/now/table/incident", nil, tt.auth)
		if status != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, status, tt.want)
			continue
		}
		if status == 401 {
			want := `{"error":{"detail":"Required to provide Auth information","message":"User Not Authenticated"},"status":"failure"}`
			if got, _ := json.Marshal(body); string(got) != want || h.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: body %s, want %s", tt.name, got, want)
			}
		}
	}
}

func errorOf(t *testing.T, body any) (message, detail string) {
	t.Helper()
	m, _ := body.(map[string]any)
	e, _ := m["error"].(map[string]any)
	if m["status"] != "failure" || e == nil {
		t.Fatalf("not a ServiceNow error: %v", body)
	}
	message, _ = e["message"].(string)
	detail, _ = e["detail"].(string)
	return message, detail
}

func TestStateRulesAndDataPolicy(t *testing.T) {
	sim := servicenowsim.New(servicenowsim.Options{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	id := create(t, srv, `{"short_description":"x","impact":2,"urgency":"1"}`)
	path := "/api/now/table/incident/" + id
	if rec, _ := sim.Incident(id); rec["priority"] != "2" || rec["state"] != "1" || rec["incident_state"] != "1" || rec["active"] != "true" {
		t.Errorf("new incident = priority %s state %s/%s active %s", rec["priority"], rec["state"], rec["incident_state"], rec["active"])
	}
	steps := []struct {
		name, body string
		status     int
		detail     string // part of the error detail
		check      func(rec map[string]string) bool
	}{
		{"resolve without code or notes", `{"state":"6"}`, 403, "mandatory: Resolution code, Resolution notes", nil},
		{"resolve without notes", `{"state":"6","close_code":"Solution provided"}`, 403, "mandatory: Resolution notes", nil},
		{"resolve", `{"state":"6","close_code":"Solution provided","close_notes":"fixed"}`, 200, "",
			func(r map[string]string) bool {
				return r["incident_state"] == "6" && r["resolved_at"] != "" && r["resolved_by"] != "" && r["active"] == "true"
			}},
		{"reopen", `{"state":"2"}`, 200, "",
			func(r map[string]string) bool {
				return r["reopen_count"] == "1" && r["resolved_at"] == "" && r["close_code"] == ""
			}},
		{"close by incident_state", `{"incident_state":"7","close_code":"Solution provided","close_notes":"done"}`, 200, "",
			func(r map[string]string) bool {
				return r["state"] == "7" && r["closed_at"] != "" && r["active"] == "false"
			}},
		{"edit a closed incident", `{"short_description":"y"}`, 403, "ACL Exception", nil},
	}
	for _, s := range steps {
		status, _, body := call(t, srv, "PATCH", path, []byte(s.body), "")
		if status != s.status {
			t.Errorf("%s: status %d (%v), want %d", s.name, status, body, s.status)
			continue
		}
		if s.detail != "" {
			if msg, detail := errorOf(t, body); msg != "Operation Failed" || !strings.Contains(detail, s.detail) {
				t.Errorf("%s: error %q %q, want detail with %q", s.name, msg, detail, s.detail)
			}
		}
		if rec, _ := sim.Incident(id); s.check != nil && !s.check(rec) {
			t.Errorf("%s: record after = %v", s.name, rec)
		}
	}
	// A data policy of the instance's own: assignment group mandatory.
	sim.RequireFields("assignment_group")
	status, _, body := call(t, srv, "POST", "/api/now/table/incident", []byte(`{"short_description":"z"}`), "")
	if _, detail := errorOf(t, body); status != 403 || !strings.Contains(detail, "Assignment group") {
		t.Errorf("create without assignment group: %d %q", status, detail)
	}
	// A user edit goes through the same rules.
	id2 := create(t, srv, `{"short_description":"z","assignment_group":"g"}`)
	if err := sim.UserUpdate(id2, map[string]string{"state": "6"}); err == nil || !strings.Contains(err.Error(), "Resolution code") {
		t.Errorf("UserUpdate resolve without code: %v", err)
	}
	if err := sim.UserUpdate(id2, map[string]string{"state": "8", "work_notes": "dup"}); err != nil {
		t.Fatal(err)
	}
	if rec, _ := sim.Incident(id2); rec["state"] != "8" || rec["active"] != "false" || rec["sys_updated_by"] != "itil.agent" {
		t.Errorf("after the user canceled it: %v", rec)
	}
	if j := sim.Journal(id2); len(j) != 1 || j[0].Field != "work_notes" || j[0].By != "itil.agent" {
		t.Errorf("journal = %+v", j)
	}
}

func TestErrors(t *testing.T) {
	srv := httptest.NewServer(servicenowsim.New(servicenowsim.Options{}))
	defer srv.Close()
	tests := []struct {
		method, path, body string
		status             int
		message            string
	}{
		{"GET", "/api/now/table/incident/0123456789abcdef0123456789abcdef", "", 404, "No Record found"},
		{"PATCH", "/api/now/table/incident/0123456789abcdef0123456789abcdef", `{"urgency":"1"}`, 404, "No Record found"},
		{"GET", "/api/now/table/nosuchtable", "", 400, "Invalid table nosuchtable"},
		{"POST", "/api/now/table/incident", `{"short_description":`, 400, "Exception while reading request"},
		{"GET", "/api/now/table/incident?sysparm_limit=-1", "", 400, "Invalid sysparm_limit"},
	}
	for _, tt := range tests {
		var body []byte
		if tt.body != "" {
			body = []byte(tt.body)
		}
		status, _, got := call(t, srv, tt.method, tt.path, body, "")
		if msg, _ := errorOf(t, got); status != tt.status || msg != tt.message {
			t.Errorf("%s %s: %d %q, want %d %q", tt.method, tt.path, status, msg, tt.status, tt.message)
		}
	}
}

func TestQueryAndParameters(t *testing.T) {
	sim := servicenowsim.New(servicenowsim.Options{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	a := create(t, srv, `{"short_description":"alpha wifi","correlation_id":"vigil-1","urgency":"1"}`)
	b := create(t, srv, `{"short_description":"beta","correlation_id":"vigil-2"}`)
	c := create(t, srv, `{"short_description":"gamma WiFi","correlation_id":"vigil-10","caller_id":"u1"}`)
	list := func(q string) []string {
		status, _, got := call(t, srv, "GET", "/api/now/table/incident?sysparm_fields=sys_id&"+q, nil, "")
		if status != 200 {
			t.Fatalf("%s: %d %v", q, status, got)
		}
		var ids []string
		for _, r := range got.(map[string]any)["result"].([]any) {
			ids = append(ids, r.(map[string]any)["sys_id"].(string))
		}
		return ids
	}
	query := func(s string) string { return "sysparm_query=" + url.QueryEscape(s) }
	tests := []struct {
		q    string
		want []string
	}{
		{query("correlation_id=vigil-1"), []string{a}},
		{query("correlation_id=vigil-3"), nil},
		{query("short_descriptionLIKEwifi"), []string{a, c}},
		{query("correlation_id=vigil-1^ORcorrelation_id=vigil-2"), []string{a, b}},
		{query("urgency=1^ORurgency=2^short_descriptionSTARTSWITHal"), []string{a}},
		{query("caller_idISNOTEMPTY"), []string{c}},
		{query("correlation_idINvigil-2,vigil-10^ORDERBYDESCcorrelation_id"), []string{b, c}},
		{query("state!=1"), nil},
		// A condition on a field the table does not have is dropped.
		{query("no_such_field=1^correlation_id=vigil-2"), []string{b}},
		{query("no_such_field=1"), []string{a, b, c}},
		{"sysparm_limit=1&sysparm_offset=1", []string{b}},
	}
	for _, tt := range tests {
		if got := list(tt.q); strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%s = %v, want %v", tt.q, got, tt.want)
		}
	}
	// sysparm_fields, sysparm_exclude_reference_link, sysparm_display_value.
	_, _, got := call(t, srv, "GET", "/api/now/table/incident/"+c+"?sysparm_fields=caller_id,state,number&sysparm_exclude_reference_link=true", nil, "")
	if r := got.(map[string]any)["result"].(map[string]any); len(r) != 3 || r["caller_id"] != "u1" || r["state"] != "1" {
		t.Errorf("fields without links = %v", r)
	}
	if err := sim.UserUpdate(a, map[string]string{"work_notes": "first"}); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := call(t, srv, "PATCH", "/api/now/table/incident/"+a, []byte(`{"work_notes":"second","comments":"to the caller"}`), ""); status != 200 {
		t.Fatal(status)
	}
	_, _, got = call(t, srv, "GET", "/api/now/table/incident/"+a+"?sysparm_fields=work_notes,state,opened_by&sysparm_display_value=true", nil, "")
	r := got.(map[string]any)["result"].(map[string]any)
	notes, _ := r["work_notes"].(string)
	if !strings.Contains(notes, "(Work notes)\nsecond") || strings.Index(notes, "second") > strings.Index(notes, "first") ||
		strings.Contains(notes, "to the caller") || r["state"] != "New" {
		t.Errorf("display values = %v", r)
	}
	if ob, _ := r["opened_by"].(map[string]any); ob["display_value"] != "vigil" || ob["link"] == nil {
		t.Errorf("opened_by display = %v", r["opened_by"])
	}
	_, _, got = call(t, srv, "GET", "/api/now/table/incident/"+a+"?sysparm_fields=state,work_notes&sysparm_display_value=all", nil, "")
	r = got.(map[string]any)["result"].(map[string]any)
	if st, _ := r["state"].(map[string]any); st["value"] != "1" || st["display_value"] != "New" {
		t.Errorf("state, display all = %v", r["state"])
	}
	// Journal fields read empty without display values, as on an instance.
	_, _, got = call(t, srv, "GET", "/api/now/table/incident/"+a, nil, "")
	if r := got.(map[string]any)["result"].(map[string]any); r["work_notes"] != "" || r["comments"] != "" {
		t.Errorf("journal fields = %q %q", r["work_notes"], r["comments"])
	}
	if j := sim.Journal(a); len(j) != 3 {
		t.Errorf("journal = %+v, want 3 entries", j)
	}
}

func TestFaults(t *testing.T) {
	sim := servicenowsim.New(servicenowsim.Options{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	sim.Inject(2, servicenowsim.Fault{Method: "POST", Status: 500})
	sim.Inject(1, servicenowsim.Fault{Method: "GET", Status: 429, RetryAfter: 90 * time.Second})
	for i := 0; i < 2; i++ {
		if status, _, _ := call(t, srv, "POST", "/api/now/table/incident", []byte(`{"short_description":"x"}`), ""); status != 500 {
			t.Errorf("POST %d: %d, want 500", i, status)
		}
	}
	status, h, body := call(t, srv, "GET", "/api/now/table/incident", nil, "")
	if msg, _ := errorOf(t, body); status != 429 || h.Get("Retry-After") != "90" || msg != "Rate limit exceeded" {
		t.Errorf("injected 429: %d %q %q", status, h.Get("Retry-After"), msg)
	}
	if len(sim.Incidents()) != 0 {
		t.Fatal("a faulty POST made an incident")
	}
	sim.Inject(1, servicenowsim.Fault{Method: "POST", DropAnswer: true})
	req, _ := http.NewRequest("POST", srv.URL+"/api/now/table/incident", strings.NewReader(`{"short_description":"lost"}`))
	req.Header.Set("Authorization", servicenowsim.BasicAuth("vigil", "secret"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Errorf("dropped answer: status %d, want a transport error", resp.StatusCode)
	}
	if inc := sim.Incidents(); len(inc) != 1 || inc[0]["short_description"] != "lost" {
		t.Errorf("after a dropped answer: %v", inc)
	}
	if got := sim.Hits("POST /api/now/table/{table}"); got != 3 {
		t.Errorf("Hits = %d, want 3", got)
	}
}

func TestPriorityMatrix(t *testing.T) {
	tests := []struct{ impact, urgency, want string }{
		{"1", "1", "1"}, {"1", "2", "2"}, {"2", "1", "2"}, {"1", "3", "3"}, {"2", "2", "3"},
		{"3", "1", "3"}, {"2", "3", "4"}, {"3", "2", "4"}, {"3", "3", "5"}, {"", "1", "5"},
	}
	for _, tt := range tests {
		if got := servicenowsim.Priority(tt.impact, tt.urgency); got != tt.want {
			t.Errorf("Priority(%s, %s) = %s, want %s", tt.impact, tt.urgency, got, tt.want)
		}
	}
}
