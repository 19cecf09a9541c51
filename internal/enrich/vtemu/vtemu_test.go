package vtemu

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"reflect"
	"testing"
	"time"
)

func get(t *testing.T, url, key string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if key != "" {
		req.Header.Set("x-apikey", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("body %q: %v", b, err)
	}
	return resp, v
}

func fixture(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// The emulator's errors equal the published examples field by field.
func TestErrorsMatchFixtures(t *testing.T) {
	s := Start("k")
	defer s.Close()
	resp, got := get(t, s.BaseURL+"/ip_addresses/203.0.113.7", "")
	if resp.StatusCode != 401 || !reflect.DeepEqual(got, fixture(t, "error_401_authentication_required.json")) {
		t.Errorf("401: %d %v", resp.StatusCode, got)
	}
	resp, got = get(t, s.BaseURL+"/urls/thisurlidmakesnosenseatall", "k")
	if resp.StatusCode != 404 || !reflect.DeepEqual(got, fixture(t, "error_404_not_found.json")) {
		t.Errorf("404: %d %v", resp.StatusCode, got)
	}
	resp, got = get(t, s.BaseURL+"/ip_addresses/203.0.113.7", "wrong")
	if resp.StatusCode != 401 || got["error"].(map[string]any)["code"] != "WrongCredentialsError" {
		t.Errorf("wrong key: %d %v", resp.StatusCode, got)
	}
}

func TestObjectShape(t *testing.T) {
	s := Start("k")
	defer s.Close()
	s.AddIP("203.0.113.7", Stats{Malicious: 12, Harmless: 60, Undetected: 22}, map[string]any{"country": "NL", "as_owner": "Example BV"})
	u := "http://evil.example/x?y=1"
	s.AddURL(u, Stats{Suspicious: 2}, nil)
	for path, typ := range map[string]string{
		"/ip_addresses/203.0.113.7":                                "ip_address",
		"/urls/" + base64.RawURLEncoding.EncodeToString([]byte(u)): "url",
	} {
		resp, v := get(t, s.BaseURL+path, "k")
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		d := v["data"].(map[string]any)
		if d["type"] != typ || d["links"].(map[string]any)["self"] != s.BaseURL+path {
			t.Errorf("%s: %v", path, d)
		}
		if _, ok := d["attributes"].(map[string]any)["last_analysis_stats"].(map[string]any)["malicious"]; !ok {
			t.Errorf("%s: no stats", path)
		}
	}
	if s.Requests() != 2 || s.RequestsFor("/api/v3/ip_addresses/203.0.113.7") != 1 {
		t.Errorf("requests %d", s.Requests())
	}
}

func TestFailAndQuota(t *testing.T) {
	s := Start("k")
	defer s.Close()
	s.AddDomain("example.com", Stats{}, nil)
	s.SetRetryAfter("30")
	s.Fail(1, 429)
	resp, v := get(t, s.BaseURL+"/domains/example.com", "k")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "30" || v["error"].(map[string]any)["code"] != "QuotaExceededError" {
		t.Errorf("fail: %d %v", resp.StatusCode, v)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.LimitPerMinute(4, func() time.Time { return now })
	for i := range 5 {
		resp, _ := get(t, s.BaseURL+"/domains/example.com", "k")
		if want := map[bool]int{true: 200, false: 429}[i < 4]; resp.StatusCode != want {
			t.Errorf("request %d: %d, want %d", i, resp.StatusCode, want)
		}
	}
	now = now.Add(time.Minute)
	if resp, _ := get(t, s.BaseURL+"/domains/example.com", "k"); resp.StatusCode != 200 {
		t.Errorf("after a minute: %d", resp.StatusCode)
	}
}
