package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/simulator"
)

func TestOIDCSection(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	ca, err := simulator.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	caFile := write("ca.pem", string(ca.CertPEM))
	secretFile := write("secret", "file-s3cret\n")

	// Off by default.
	c, err := Load("", nil, nil)
	if err != nil || c.OIDC.Enabled() || !strings.Contains(c.String(), "oidc=[off]") {
		t.Fatalf("default: %v %s", err, c)
	}

	good := `
oidc:
  issuer: https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0
  client_id: 0d1c2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f
  client_secret_env: OIDC_SECRET
  redirect_url: https://vigil.example/auth/oidc/callback
  admin_roles: [SOC.Admin]
  responder_roles: [SOC.Analyst, SOC.Lead]
  default_role: viewer
  ca_file: ` + caFile + `
`
	c, err = Load(write("good.yaml", good), []string{"OIDC_SECRET=env-s3cret"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := c.OIDC
	want := OIDC{
		Issuer:   "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
		ClientID: "0d1c2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f", ClientSecretEnv: "OIDC_SECRET", ClientSecret: "env-s3cret",
		RedirectURL: "https://vigil.example/auth/oidc/callback", RoleClaim: "roles",
		AdminRoles: []string{"SOC.Admin"}, ResponderRoles: []string{"SOC.Analyst", "SOC.Lead"}, ViewerRoles: []string{"vigil.viewer"},
		DefaultRole: "viewer", CAFile: caFile,
	}
	if !o.Enabled() || !reflect.DeepEqual(o, want) {
		t.Errorf("oidc = %+v\nwant   %+v", o, want)
	}
	if s := c.String(); strings.Contains(s, "env-s3cret") || !strings.Contains(s, "issuer="+want.Issuer) {
		t.Errorf("String() = %s", s)
	}

	// The secret from a file; a loopback redirect may be http.
	c, err = Load(write("file.yaml", "oidc:\n  issuer: https://127.0.0.1:8443/t/v2.0\n  client_id: c\n  client_secret_file: "+secretFile+
		"\n  redirect_url: http://127.0.0.1:8080/auth/oidc/callback\n  role_claim: groups\n"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.OIDC.ClientSecret != "file-s3cret" || c.OIDC.RoleClaim != "groups" || c.OIDC.DefaultRole != "" || c.OIDC.AdminRoles[0] != "vigil.admin" {
		t.Errorf("oidc = %+v", c.OIDC)
	}
	if strings.Contains(c.String(), "file-s3cret") || strings.Contains(c.String(), "%!") {
		t.Errorf("String() = %s", c)
	}

	base := "oidc:\n  issuer: https://login.example/t/v2.0\n  client_id: c\n  client_secret_env: S\n  redirect_url: https://vigil.example/cb\n"
	bad := []struct{ name, body, env, want string }{
		{"http issuer", strings.Replace(base, "https://login", "http://login", 1), "S=x", `oidc.issuer "http://login.example/t/v2.0": want an https URL`},
		{"no redirect", strings.Replace(base, "  redirect_url: https://vigil.example/cb\n", "", 1), "S=x", "oidc.redirect_url is required"},
		{"http redirect", strings.Replace(base, "https://vigil", "http://vigil", 1), "S=x", "oidc.redirect_url"},
		{"no client id", strings.Replace(base, "  client_id: c\n", "", 1), "S=x", "oidc.client_id is required"},
		{"secret env unset", base, "", "S is not set"},
		{"no secret", strings.Replace(base, "  client_secret_env: S\n", "", 1), "", "a client secret is required"},
		{"secret file missing", strings.Replace(base, "client_secret_env: S", "client_secret_file: "+filepath.Join(dir, "nope"), 1), "", "oidc.client_secret"},
		{"bad default role", base + "  default_role: root\n", "S=x", `oidc.default_role "root"`},
		{"role in two lists", base + "  admin_roles: [a]\n  viewer_roles: [a]\n", "S=x", `oidc.viewer_roles: "a" is also in admin_roles`},
		{"empty role", base + "  admin_roles: [\"\"]\n", "S=x", "oidc.admin_roles: empty role value"},
		{"bad ca file", base + "  ca_file: " + secretFile + "\n", "S=x", "no PEM certificate"},
		{"unknown key", base + "  client_secret: plain\n", "S=x", `unknown key "oidc.client_secret"`},
		{"issuer missing", "oidc:\n  client_id: c\n", "", "oidc: issuer is required"},
	}
	for _, tt := range bad {
		_, err := Load(write("bad.yaml", tt.body), strings.Fields(tt.env), nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}
