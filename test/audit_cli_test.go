package test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

type auditEntries struct {
	Items []struct {
		Actor  string         `json:"actor"`
		Action string         `json:"action"`
		Target string         `json:"target"`
		Detail map[string]any `json:"detail"`
	} `json:"items"`
}

// TestAuditCLI checks what the binary records in the audit log: users and
// tokens made with the CLI, by "cli", without their secrets; and a
// config.loaded entry at each start whose configuration differs from the
// last recorded, none when it is the same.
func TestAuditCLI(t *testing.T) {
	data := t.TempDir()
	const pw = "a long enough password for the audit test"
	vigil(t, pw+"\n", "user", "add", "--data", data, "--email", "auditor@example.com", "--role", "admin")
	admin := createToken(t, data, "admin")

	fetch := func(srv *server) auditEntries {
		t.Helper()
		code, body := get(t, srv.url+"/api/v1/audit", admin)
		if code != http.StatusOK {
			t.Fatalf("GET /api/v1/audit = %d %s", code, body)
		}
		for _, secret := range []string{pw, admin} {
			if strings.Contains(body, secret) {
				t.Fatalf("the audit log holds a secret: %s", body)
			}
		}
		var a auditEntries
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	count := func(a auditEntries, action string) int {
		n := 0
		for _, e := range a.Items {
			if e.Action == action {
				n++
			}
		}
		return n
	}

	srv := startServer(t, freePort(t), "--data", data)
	a := fetch(srv)
	srv.stop(t)
	var cli []string
	for _, e := range a.Items {
		if e.Actor == "cli" {
			cli = append(cli, e.Action+" "+e.Target)
		}
	}
	if got := strings.Join(cli, ", "); !strings.HasPrefix(got, "token.created token:") || !strings.HasSuffix(got, ", user.added auditor@example.com") {
		t.Errorf("entries by cli = %q, want token.created then user.added, newest first", got)
	}
	if n := count(a, "config.loaded"); n != 1 {
		t.Errorf("after the first start: %d config.loaded entries, want 1", n)
	}

	// The listen address is part of the configuration: a start on a new
	// one is recorded, and a second start on it is not.
	addr := freePort(t)
	srv = startServer(t, addr, "--data", data)
	srv.stop(t)
	srv = startServer(t, addr, "--data", data)
	a = fetch(srv)
	srv.stop(t)
	if n := count(a, "config.loaded"); n != 2 {
		t.Errorf("after a start on a new address and one more on it: %d config.loaded entries, want 2", n)
	}

	srv = startServer(t, addr, "--data", data, "--log-level", "debug")
	a = fetch(srv)
	srv.stop(t)
	if n := count(a, "config.loaded"); n != 3 || a.Items[0].Action != "config.loaded" {
		t.Errorf("after a start with another log level: %d config.loaded entries (newest %s), want 3, the newest first", n, a.Items[0].Action)
	}
}
