package web_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/web"
)

// fakeBoards records the bodies the hook endpoint hands on.
type fakeBoards struct{ bodies []string }

func (f *fakeBoards) Credentials() (string, string) { return "hooks", "hook-secret" }
func (f *fakeBoards) Receive(_ context.Context, body []byte) (string, error) {
	if !strings.Contains(string(body), "workitem.updated") {
		return "", validation.NewFieldError("eventType", "want workitem.updated")
	}
	f.bodies = append(f.bodies, string(body))
	return "work item 3 moved to Closed", nil
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestDevOpsHook(t *testing.T) {
	boards := &fakeBoards{}
	e := newEnv(t, func(o *web.Options) { o.Boards = boards })
	body := `{"eventType":"workitem.updated","resource":{}}`
	tests := []struct {
		name, auth, body string
		code             int
		want             string
	}{
		{"no credentials", "", body, http.StatusUnauthorized, "basic credentials"},
		{"wrong password", basic("hooks", "nope"), body, http.StatusUnauthorized, "basic credentials"},
		{"wrong user", basic("other", "hook-secret"), body, http.StatusUnauthorized, "basic credentials"},
		{"bad body names the field", basic("hooks", "hook-secret"), `{"eventType":"git.push","resource":{}}`, http.StatusBadRequest, `"field":"eventType"`},
		{"delivered", basic("hooks", "hook-secret"), body, http.StatusOK, "moved to Closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.auth != "" {
				hdr = []string{"Authorization", tt.auth}
			}
			r := e.do(t, noAuth, "POST", "/api/v1/hooks/devops", tt.body, hdr...)
			r.wantCode(t, tt.code)
			if !strings.Contains(string(r.body), tt.want) {
				t.Errorf("body = %s, want %q", r.body, tt.want)
			}
		})
	}
	if len(boards.bodies) != 1 {
		t.Errorf("hook bodies handed on = %d, want only the authenticated valid one", len(boards.bodies))
	}

	// Without a mirror configured, the endpoint says so.
	bare := newEnv(t)
	bare.do(t, noAuth, "POST", "/api/v1/hooks/devops", body, "Authorization", basic("hooks", "hook-secret")).wantCode(t, http.StatusNotFound)
}
