package ntfyemu

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestServer(t *testing.T) {
	s := New("tk_secret")
	s.Now = func() time.Time { return time.Unix(1643935928, 0) }
	base, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tests := []struct {
		name   string
		auth   string
		method string
		path   string
		body   string
		status int
		code   float64
	}{
		{"publish", "Bearer tk_secret", "POST", "/", `{"topic":"mytopic","message":"Disk space is low","title":"Low disk","tags":["warning","cd"],"priority":4,"click":"https://home.lan/","actions":[{"action":"view","label":"Admin panel","url":"https://filesrv.lan/admin"}]}`, 200, 0},
		{"PUT works too", "Bearer tk_secret", "PUT", "/", `{"topic":"mytopic"}`, 200, 0},
		{"no token", "", "POST", "/", `{"topic":"mytopic"}`, 401, 40101},
		{"wrong token", "Bearer tk_other", "POST", "/", `{"topic":"mytopic"}`, 401, 40101},
		{"basic is not bearer", "Basic dGtfc2VjcmV0", "POST", "/", `{"topic":"mytopic"}`, 401, 40101},
		{"not JSON", "Bearer tk_secret", "POST", "/", `Backup successful`, 400, 40024},
		{"bad topic", "Bearer tk_secret", "POST", "/", `{"topic":"my/topic"}`, 400, 40009},
		{"long topic", "Bearer tk_secret", "POST", "/", `{"topic":"` + strings.Repeat("a", 65) + `"}`, 400, 40009},
		{"priority 6", "Bearer tk_secret", "POST", "/", `{"topic":"t","priority":6}`, 400, 40007},
		{"priority as text", "Bearer tk_secret", "POST", "/", `{"topic":"t","priority":"high"}`, 400, 40024},
		{"four actions", "Bearer tk_secret", "POST", "/", `{"topic":"t","actions":[{"action":"view","label":"a","url":"https://x"},{"action":"view","label":"a","url":"https://x"},{"action":"view","label":"a","url":"https://x"},{"action":"view","label":"a","url":"https://x"}]}`, 400, 40018},
		{"action without label", "Bearer tk_secret", "POST", "/", `{"topic":"t","actions":[{"action":"view","url":"https://x"}]}`, 400, 40018},
		{"http action without url", "Bearer tk_secret", "POST", "/", `{"topic":"t","actions":[{"action":"http","label":"Go"}]}`, 400, 40018},
		{"unknown action", "Bearer tk_secret", "POST", "/", `{"topic":"t","actions":[{"action":"call","label":"Go","url":"https://x"}]}`, 400, 40018},
		{"topic path", "Bearer tk_secret", "POST", "/mytopic", `hello`, 404, 40401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, base+tt.path, strings.NewReader(tt.body))
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got map[string]any
			raw, _ := io.ReadAll(resp.Body)
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatalf("answer is not JSON: %s", raw)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, raw)
			}
			if tt.code != 0 {
				if got["code"] != tt.code || got["http"] != float64(tt.status) || got["error"] == "" {
					t.Errorf("error JSON = %s", raw)
				}
				return
			}
			for _, k := range []string{"id", "time", "expires", "event", "topic", "message"} {
				if _, ok := got[k]; !ok {
					t.Errorf("answer lacks %q: %s", k, raw)
				}
			}
			if got["time"] != float64(1643935928) || got["expires"] != float64(1643935928+12*3600) || got["event"] != "message" {
				t.Errorf("answer = %s", raw)
			}
		})
	}
	msgs := s.Messages()
	if len(msgs) != 2 {
		t.Fatalf("kept %d messages, want 2", len(msgs))
	}
	if msgs[1]["message"] != "triggered" {
		t.Errorf("empty message stored as %q, want ntfy's \"triggered\"", msgs[1]["message"])
	}
	acts := msgs[0]["actions"].([]any)
	if id, _ := acts[0].(map[string]any)["id"].(string); id == "" {
		t.Error("action has no id")
	}
}

func TestFailAndWait(t *testing.T) {
	s := New("")
	base, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Fail(1, 503)
	post := func() *http.Response {
		resp, err := http.Post(base+"/", "application/json", strings.NewReader(`{"topic":"t","message":"m"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := post(); r.StatusCode != 503 || r.Header.Get("Retry-After") != "1" {
		t.Fatalf("status %d Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	go func() {
		if resp, err := http.Post(base+"/", "application/json", strings.NewReader(`{"topic":"t","message":"m"}`)); err == nil {
			resp.Body.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.WaitMessage(ctx, func(m map[string]any) bool { return m["message"] == "m" }); err != nil {
		t.Fatal(err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if _, err := s.WaitMessage(short, func(map[string]any) bool { return false }); err == nil {
		t.Error("WaitMessage returned without a match")
	}
}

func TestPressHTTPAction(t *testing.T) {
	s := New("")
	base, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The emulator itself answers 404 JSON to a GET: enough to see that
	// the method, headers and body are sent as the action says.
	msg := map[string]any{"actions": []any{
		map[string]any{"action": "http", "label": "Close door", "url": base + "/door", "method": "PUT",
			"headers": map[string]any{"X-Test": "1"}, "body": `{"action":"close"}`},
	}}
	status, body, err := PressHTTPAction(context.Background(), msg, "Close door")
	if err != nil || status != 404 || !strings.Contains(body, "40401") {
		t.Errorf("press = %d %q %v", status, body, err)
	}
	if _, _, err := PressHTTPAction(context.Background(), msg, "Open"); err == nil {
		t.Error("pressed a missing action")
	}
}

// TestDocumentedExamples: the emulator takes ntfy's own documented JSON
// publishes (testdata/, see its README.md) and answers as ntfy does.
func TestDocumentedExamples(t *testing.T) {
	s := New("")
	base, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, name := range []string{"publish_as_json.json", "publish_as_json_http_action.json"} {
		raw, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(base, "application/json", bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d: %v", name, resp.StatusCode, got)
		}
		var sent map[string]any
		json.Unmarshal(raw, &sent)
		for _, k := range []string{"topic", "message", "title", "tags", "priority", "click"} {
			if v, ok := sent[k]; ok && !reflect.DeepEqual(got[k], v) {
				t.Errorf("%s: answer %s = %v, want %v", name, k, got[k], v)
			}
		}
		if id, _ := got["id"].(string); len(id) != 12 {
			t.Errorf("%s: id %q, ntfy's are 12 characters", name, id)
		}
		acts := got["actions"].([]any)
		if id, _ := acts[0].(map[string]any)["id"].(string); len(id) != 10 {
			t.Errorf("%s: action id %q, ntfy's are 10 characters", name, id)
		}
	}
	msg := s.Messages()[1]
	if a := msg["actions"].([]any)[0].(map[string]any); a["method"] != "PUT" || a["body"] != `{"action": "close"}` {
		t.Errorf("http action stored as %v", a)
	}
}
