package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestJiraSection(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("jira-token-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	write := func(body string) string {
		p := filepath.Join(dir, "vigil.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := `
sync:
  jira:
    url: https://contoso.atlassian.net
    email: vigil@contoso.example
    api_token_file: ` + tokenFile + `
    project: SEC
    states:
      Verification: In Review
      Closed: Resolved
    webhook_secret_env: JIRA_HOOK
    account_id: 5b10a2844c20165700ede21g
`
	c, err := Load(write(good), []string{"JIRA_HOOK=hook-s3cret"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	j := c.Sync.Jira
	if j == nil || !c.Sync.Enabled() {
		t.Fatalf("sync.jira not read or sync not enabled: %+v", c.Sync)
	}
	if j.APIToken != "jira-token-from-file" || j.WebhookSecret != "hook-s3cret" {
		t.Errorf("secrets not resolved: token %q, webhook secret %q", j.APIToken, j.WebhookSecret)
	}
	if j.IssueType != "Task" || j.KeyPrefix != "vigil" || j.Project != "SEC" || j.AccountID != "5b10a2844c20165700ede21g" {
		t.Errorf("defaults or fields wrong: %+v", j)
	}
	if len(j.States) != 2 || j.States["Verification"] != "In Review" || j.States["Closed"] != "Resolved" {
		t.Errorf("states = %v, want the two overrides with their case kept", j.States)
	}
	for _, s := range []string{"jira-token-from-file", "hook-s3cret"} {
		if strings.Contains(c.String(), s) {
			t.Errorf("String() shows secret %q", s)
		}
	}

	base := "sync:\n  jira:\n    url: https://contoso.atlassian.net\n    email: e@x\n    api_token_env: T\n    project: SEC\n"
	bad := []struct{ name, body, env, want string }{
		{"no url", "sync:\n  jira:\n    email: e@x\n    api_token_env: T\n    project: SEC\n", "T=1", "sync.jira.url is required"},
		{"url not http", strings.Replace(base, "https://contoso.atlassian.net", "ftp://x", 1), "T=1", "sync.jira.url \"ftp://x\""},
		{"credentials in url", strings.Replace(base, "https://", "https://u:p@", 1), "T=1", "sync.jira.url: put the credentials"},
		{"no email", strings.Replace(base, "    email: e@x\n", "", 1), "T=1", "sync.jira.email is required"},
		{"token env unset", base, "", "sync.jira.api_token: environment variable T is not set"},
		{"no token named", strings.Replace(base, "    api_token_env: T\n", "", 1), "", "sync.jira.api_token: an API token"},
		{"no project", strings.Replace(base, "    project: SEC\n", "", 1), "T=1", "sync.jira.project is required"},
		{"bad project", strings.Replace(base, "SEC", "SEC OPS", 1), "T=1", "sync.jira.project \"SEC OPS\""},
		{"bad key prefix", base + "    key_prefix: vi gil\n", "T=1", "sync.jira.key_prefix"},
		{"unknown state", base + "    states:\n      Triage: To Do\n", "T=1", `unknown key "sync.jira.states.Triage"`},
		{"empty status", base + "    states:\n      Closed: \"\"\n", "T=1", "sync.jira.states.Closed: the Jira status name is empty"},
		{"webhook secret file missing", base + "    webhook_secret_file: /nonexistent/jira-hook\n", "T=1", "sync.jira.webhook_secret"},
		{"unknown key", base + "    token: x\n", "T=1", `unknown key "sync.jira.token"`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(write(tt.body), strings.Fields(tt.env), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}

	// The minimal section is enough; without a webhook secret the
	// inbound side is simply off.
	c, err = Load(write(base), []string{"T=tok"}, nil)
	if err != nil {
		t.Fatalf("minimal section: %v", err)
	}
	if c.Sync.Jira.APIToken != "tok" || c.Sync.Jira.WebhookSecret != "" {
		t.Errorf("minimal section = %+v", c.Sync.Jira)
	}
}
