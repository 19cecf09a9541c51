package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPagingConfig: the paging section loads, with the SMTP password from
// the environment, defaults, and the Sentinel owner list; bad entries name
// the key.
func TestPagingConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := Load(write(`paging:
  base_url: https://vigil.example.com/
  smtp: {host: smtp.example.com, port: 587, username: vigil, password_env: SMTP_PW, from: pager@example.com}
  self_service: vigil-itself
  sentinel_owners: ["Ana@Example.com = ana@contoso.onmicrosoft.com"]
`), []string{"SMTP_PW=s3cret"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := c.Paging
	if p.BaseURL != "https://vigil.example.com" || p.SMTP.Password != "s3cret" || p.ConnectorFailureMinutes != 15 ||
		p.SentinelOwners["ana@example.com"] != "ana@contoso.onmicrosoft.com" {
		t.Errorf("paging = %+v", p)
	}
	for _, tc := range []struct{ body, want string }{
		{"paging:\n  base_url: ftp://x\n", "paging.base_url"},
		{"paging:\n  smtp: {host: h}\n", "paging.smtp.from"},
		{"paging:\n  sentinel_owners: [nobody]\n", "paging.sentinel_owners[0]"},
		{"paging:\n  smtp: {host: h, from: a@b, password_env: NOPE}\n", "NOPE"},
		{"paging:\n  colour: red\n", "paging.colour"},
	} {
		if _, err := Load(write(tc.body), nil, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want one naming %s", tc.body, err, tc.want)
		}
	}
}
