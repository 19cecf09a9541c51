package test

import (
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// createKey runs `vigil key create` and takes the key from the last line.
func createKey(t testing.TB, data, name, source string) string {
	t.Helper()
	out := strings.TrimSpace(vigil(t, "", "key", "create", "--data", data, "--name", name, "--source", source))
	lines := strings.Split(out, "\n")
	key := lines[len(lines)-1]
	if !strings.HasPrefix(key, "vgi_") || strings.Contains(key, " ") {
		t.Fatalf("key create printed %q, want the key alone on the last line", out)
	}
	return key
}

// Integration keys from the CLI: created for one sender, listed without
// their secret, revoked; a key posts alerts for its sender and reads
// nothing.
func TestCLIKeys(t *testing.T) {
	data := t.TempDir()
	vigil(t, "", "migrate", "--data", data)
	live := createKey(t, data, "prometheus", "alertmanager")
	gone := createKey(t, data, "old prometheus", "alertmanager")

	list := vigil(t, "", "key", "list", "--data", data)
	if strings.Contains(list, live) || !strings.Contains(list, live[:8]+"…") || !strings.Contains(list, "old prometheus") {
		t.Errorf("key list = %q, want names and hints, never a secret", list)
	}
	id := regexp.MustCompile(`(?m)^(\d+)\s+old prometheus`).FindStringSubmatch(list)
	if id == nil {
		t.Fatalf("key list = %q: no id for the old key", list)
	}
	if out := vigil(t, "", "key", "revoke", "--data", data, "--id", id[1]); !strings.Contains(out, "revoked") {
		t.Errorf("key revoke = %q", out)
	}
	if b, err := runVigil("key", "create", "--data", data, "--name", "x", "--source", "splunk"); err == nil || !strings.Contains(b, "unknown source") {
		t.Errorf("key create --source splunk = %v %s, want an unknown source error", err, b)
	}

	srv := startServer(t, freePort(t), "--data", data)
	body := `[{"labels":{"alertname":"DiskFull","instance":"db1"}}]`
	if code := postBearer(t, srv.url+"/api/v2/alerts", live, body); code != http.StatusOK {
		t.Errorf("POST /api/v2/alerts with the key = %d, want 200", code)
	}
	if code := postBearer(t, srv.url+"/api/v2/alerts", gone, body); code != http.StatusUnauthorized {
		t.Errorf("POST /api/v2/alerts with the revoked key = %d, want 401", code)
	}
	if code, _ := get(t, srv.url+"/api/v1/alerts", live); code != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/alerts with the key = %d, want 401", code)
	}
	srv.stop(t)
	if strings.Contains(srv.logs.String(), live) {
		t.Error("the server log holds an integration key")
	}
}

func runVigil(args ...string) (string, error) {
	b, err := exec.Command(vigilBin, args...).CombinedOutput()
	return string(b), err
}

func postBearer(t testing.TB, url, secret, body string) int {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}
