package freshdesksim_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/connector/freshdesk/freshdesksim"
)

func TestAuthentication(t *testing.T) {
	srv := httptest.NewServer(freshdesksim.New(freshdesksim.Options{APIKey: "right"}))
	defer srv.Close()
	tests := []struct {
		name, auth string
		want       int
	}{
		{"no header", "-", http.StatusUnauthorized},
		{"wrong key", freshdesksim.BasicAuth("wrong"), http.StatusUnauthorized},
		{"right key", freshdesksim.BasicAuth("right"), http.StatusOK},
	}
	for _, tt := range tests {
		status, _, body := call(t, srv, "GET", "/api/v2/tickets", nil, tt.auth)
		if status != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, status, tt.want)
		}
		if tt.want == http.StatusUnauthorized {
			want := map[string]any{"code": "invalid_credentials", "message": "You have to be logged in to perform this action."}
			if b, _ := body.(map[string]any); b["code"] != want["code"] || b["message"] != want["message"] {
				t.Errorf("%s: body %v, want %v", tt.name, body, want)
			}
		}
	}
}

func TestValidationErrorsNameTheField(t *testing.T) {
	srv := httptest.NewServer(freshdesksim.New(freshdesksim.Options{}))
	defer srv.Close()
	if status, _, _ := call(t, srv, "POST", "/api/v2/tickets", []byte(`{"subject":"s","description":"d","email":"a@b.co"}`), ""); status != 201 {
		t.Fatalf("seed ticket: %d", status)
	}
	tests := []struct {
		method, path, body string
		field, code        string
	}{
		{"POST", "/api/v2/tickets", `{"subject":"s","description":"d"}`, "requester_id", "missing_field"},
		{"POST", "/api/v2/tickets", `{"subject":"s","description":"d","email":"a@b.co","priority":7}`, "priority", "invalid_value"},
		{"POST", "/api/v2/tickets", `{"subject":"s","description":"d","email":"a@b.co","priority":"high"}`, "priority", "datatype_mismatch"},
		{"POST", "/api/v2/tickets", `{"subject":"s","description":"d","email":"not-an-email"}`, "email", "invalid_value"},
		{"POST", "/api/v2/tickets", `{"subject":"s","description":"d","email":"a@b.co","severity":1}`, "severity", "invalid_field"},
		{"POST", "/api/v2/tickets", `{"description":"d","email":"a@b.co"}`, "subject", "missing_field"},
		{"PUT", "/api/v2/tickets/1", `{"status":9}`, "status", "invalid_value"},
		{"PUT", "/api/v2/tickets/1", `{"tags":"a,b"}`, "tags", "datatype_mismatch"},
		{"POST", "/api/v2/tickets/1/notes", `{"private":true}`, "body", "missing_field"},
		{"GET", "/api/v2/tickets?per_page=500", ``, "per_page", "invalid_value"},
		{"GET", `/api/v2/search/tickets?query=tag:x`, ``, "query", "invalid_value"},
		{"GET", `/api/v2/search/tickets?query="subject:'x'"`, ``, "query", "invalid_value"},
	}
	for _, tt := range tests {
		var body []byte
		if tt.body != "" {
			body = []byte(tt.body)
		}
		status, _, got := call(t, srv, tt.method, tt.path, body, "")
		m, _ := got.(map[string]any)
		errs, _ := m["errors"].([]any)
		if status != http.StatusBadRequest || m["description"] != "Validation failed" || len(errs) == 0 {
			t.Errorf("%s %s %s: status %d, body %v; want 400 Validation failed", tt.method, tt.path, tt.body, status, got)
			continue
		}
		e := errs[0].(map[string]any)
		if e["field"] != tt.field || e["code"] != tt.code || e["message"] == "" {
			t.Errorf("%s %s %s: error %v, want field %q code %q", tt.method, tt.path, tt.body, e, tt.field, tt.code)
		}
	}
	// Not JSON, or not declared as JSON.
	if status, _, got := call(t, srv, "POST", "/api/v2/tickets", []byte(`{"subject":`), ""); status != 400 || got.(map[string]any)["code"] != "invalid_json" {
		t.Errorf("broken JSON: %d %v", status, got)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/api/v2/tickets", strings.NewReader(`{}`))
	req.Header.Set("Authorization", freshdesksim.BasicAuth("test-key"))
	req.Header.Set("Content-Type", "text/plain")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain body: status %d, want 415", resp.StatusCode)
	}
}

func TestRateLimit(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	srv := httptest.NewServer(freshdesksim.New(freshdesksim.Options{RateLimit: 3, Clock: clk}))
	defer srv.Close()
	for i, wantRemaining := range []string{"2", "1", "0"} {
		status, h, _ := call(t, srv, "GET", "/api/v2/tickets", nil, "")
		if status != 200 || h.Get("X-RateLimit-Total") != "3" || h.Get("X-RateLimit-Remaining") != wantRemaining ||
			h.Get("X-RateLimit-Used-CurrentRequest") != "1" {
			t.Errorf("request %d: status %d, headers %v", i+1, status, h)
		}
		clk.Advance(5 * time.Second)
	}
	status, h, _ := call(t, srv, "GET", "/api/v2/tickets", nil, "")
	if status != http.StatusTooManyRequests || h.Get("Retry-After") != "45" || h.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("4th request: status %d, Retry-After %q, headers %v; want 429 after 45s", status, h.Get("Retry-After"), h)
	}
	clk.Advance(45 * time.Second)
	if status, _, _ := call(t, srv, "GET", "/api/v2/tickets", nil, ""); status != 200 {
		t.Errorf("after the window: status %d, want 200", status)
	}
}

func TestSearchAndList(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	sim := freshdesksim.New(freshdesksim.Options{Clock: clk, SearchLag: 30 * time.Second})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	for i, body := range []string{
		`{"subject":"a","description":"d","email":"soc@example.com","tags":["vigil-1"],"priority":3}`,
		`{"subject":"b","description":"d","email":"soc@example.com","tags":["vigil-2","other"]}`,
		`{"subject":"c","description":"d","email":"else@example.com","tags":["vigil-3"]}`,
	} {
		if status, _, got := call(t, srv, "POST", "/api/v2/tickets", []byte(body), ""); status != 201 {
			t.Fatalf("create %d: %d %v", i, status, got)
		}
		clk.Advance(time.Second)
	}
	search := func(q string) []float64 {
		status, _, got := call(t, srv, "GET", "/api/v2/search/tickets?query="+url.QueryEscape(q), nil, "")
		if status != 200 {
			t.Fatalf("search %s: %d %v", q, status, got)
		}
		var ids []float64
		for _, r := range got.(map[string]any)["results"].([]any) {
			ids = append(ids, r.(map[string]any)["id"].(float64))
		}
		return ids
	}
	if ids := search(`"tag:'vigil-2'"`); len(ids) != 0 {
		t.Errorf("search before indexing = %v, want nothing", ids)
	}
	// The list API is not behind the index.
	_, _, list := call(t, srv, "GET", "/api/v2/tickets?email=soc@example.com&order_by=created_at&order_type=desc&per_page=1", nil, "")
	if l := list.([]any); len(l) != 1 || l[0].(map[string]any)["id"] != 2.0 {
		t.Errorf("newest ticket of soc@ = %v, want ticket 2", list)
	}
	clk.Advance(time.Minute)
	tests := []struct {
		query string
		want  []float64
	}{
		{`"tag:'vigil-2'"`, []float64{2}},
		{`"tag:'VIGIL-1'"`, []float64{1}},
		{`"tag:'vigil-9'"`, nil},
		{`"priority:3 OR tag:'vigil-3'"`, []float64{3, 1}},
		{`"tag:'other' AND priority:3"`, nil},
		{`"status:2"`, []float64{3, 2, 1}},
	}
	for _, tt := range tests {
		if got := search(tt.query); !equal(got, tt.want) {
			t.Errorf("search %s = %v, want %v", tt.query, got, tt.want)
		}
	}
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFaultsAndAgentActions(t *testing.T) {
	sim := freshdesksim.New(freshdesksim.Options{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	sim.Inject(2, freshdesksim.Fault{Method: "POST", Path: "/api/v2/tickets", Status: 503, RetryAfter: 7 * time.Second})
	body := []byte(`{"subject":"s","description":"d","email":"a@b.co"}`)
	for i := 0; i < 2; i++ {
		if status, h, _ := call(t, srv, "POST", "/api/v2/tickets", body, ""); status != 503 || h.Get("Retry-After") != "7" {
			t.Errorf("faulty create %d: status %d, Retry-After %q", i, status, h.Get("Retry-After"))
		}
	}
	sim.Inject(1, freshdesksim.Fault{Status: 429, RetryAfter: 30 * time.Second})
	if status, h, _ := call(t, srv, "GET", "/api/v2/tickets", nil, ""); status != 429 || h.Get("Retry-After") != "30" || h.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("injected 429: status %d, headers %v", status, h)
	}
	if len(sim.Tickets()) != 0 {
		t.Fatalf("faulty creates made tickets: %v", sim.Tickets())
	}
	// A dropped answer: the ticket is made, the client hears nothing.
	sim.Inject(1, freshdesksim.Fault{Method: "POST", DropAnswer: true})
	req, _ := http.NewRequest("POST", srv.URL+"/api/v2/tickets", strings.NewReader(string(body)))
	req.Header.Set("Authorization", freshdesksim.BasicAuth("test-key"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Errorf("dropped answer: got status %d, want a transport error", resp.StatusCode)
	}
	if n := len(sim.Tickets()); n != 1 {
		t.Fatalf("after a dropped answer: %d tickets, want 1", n)
	}
	if got := sim.Hits("POST /api/v2/tickets"); got != 3 {
		t.Errorf("Hits = %d, want 3", got)
	}
	// An agent resolves the ticket, then deletes it.
	if err := sim.AgentUpdate(1, map[string]any{"status": freshdesksim.StatusResolved}); err != nil {
		t.Fatal(err)
	}
	if err := sim.AgentUpdate(1, map[string]any{"status": 42}); err == nil {
		t.Error("AgentUpdate accepted status 42")
	}
	_, _, got := call(t, srv, "GET", "/api/v2/tickets/1", nil, "")
	if got.(map[string]any)["status"] != 4.0 {
		t.Errorf("after the agent resolved it: %v", got)
	}
	sim.AgentDelete(1)
	if status, _, _ := call(t, srv, "GET", "/api/v2/tickets/1", nil, ""); status != 404 {
		t.Errorf("deleted ticket: status %d, want 404", status)
	}
	if err := sim.AgentUpdate(1, map[string]any{"status": 2}); err == nil || !strings.Contains(err.Error(), "no ticket") {
		t.Errorf("AgentUpdate of a deleted ticket: %v", err)
	}
}

func TestNotesAndConversations(t *testing.T) {
	sim := freshdesksim.New(freshdesksim.Options{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	call(t, srv, "POST", "/api/v2/tickets", []byte(`{"subject":"s","description":"d","email":"a@b.co"}`), "")
	status, _, note := call(t, srv, "POST", "/api/v2/tickets/1/notes", []byte(`{"body":"first<br>line &amp; more","private":true}`), "")
	n, _ := note.(map[string]any)
	if status != 201 || n["private"] != true || n["body_text"] != "first\nline & more" || n["ticket_id"] != 1.0 {
		t.Errorf("create note: %d %v", status, note)
	}
	if status, _, _ := call(t, srv, "POST", "/api/v2/tickets/9/notes", []byte(`{"body":"x"}`), ""); status != 404 {
		t.Errorf("note on a missing ticket: %d, want 404", status)
	}
	_, _, conv := call(t, srv, "GET", "/api/v2/tickets/1/conversations", nil, "")
	if c := conv.([]any); len(c) != 1 || c[0].(map[string]any)["body_text"] != "first\nline & more" {
		t.Errorf("conversations = %v", conv)
	}
	if tk, _ := sim.Ticket(1); len(tk.Notes) != 1 || !tk.Notes[0].Private {
		t.Errorf("Ticket(1).Notes = %+v", tk.Notes)
	}
}
