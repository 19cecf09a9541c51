package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/app"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/simulator"
	"github.com/vigil-soc/vigil/internal/store"
)

// runCLI runs vigil with args against the SQLite database in dir.
func runCLI(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append(args, "--data", dir), strings.NewReader(""), &out, &errOut)
	return out.String(), err
}

// storedRules opens dir's store and lists its rules, to check what a
// command wrote.
func storedRules(t *testing.T, dir string) []store.StoredRule {
	t.Helper()
	cfg, err := config.Load("", nil, map[string]any{"data": dir})
	if err != nil {
		t.Fatal(err)
	}
	db, err := app.OpenStore(context.Background(), cfg, app.NewLogger(cfg, &bytes.Buffer{}), clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rs, err := db.ListRules(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func writeFile(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const seedRules = `rules:
  - name: Close pentest
    enabled: true
    order: 1
    triggers: [alert.created]
    condition: title.startsWith("Pentest")
    actions:
      - type: close
        classification: benign_positive
        reason: pentest week
    stop: true
  - name: Tag critical
    enabled: false
    order: 2
    triggers: [alert.created, alert.updated]
    sources: [sentinel]
    builder:
      match: all
      rows:
        - property: severity
          operator: equals
          values: [critical]
    actions:
      - type: tags
        add: [urgent]
`

func TestRulesExportApply(t *testing.T) {
	dir := t.TempDir()
	seed := writeFile(t, filepath.Join(dir, "seed.yaml"), seedRules)
	out, err := runCLI(t, dir, "rules", "apply", "-f", seed)
	if err != nil {
		t.Fatalf("seed apply: %v\n%s", err, out)
	}
	if !strings.Contains(out, "+ Close pentest") || !strings.Contains(out, "+ Tag critical") || !strings.Contains(out, "2 saved") {
		t.Fatalf("seed apply printed:\n%s", out)
	}
	rs := storedRules(t, dir)
	if len(rs) != 2 || !strings.HasPrefix(rs[0].CreatedBy, "cli:") {
		t.Fatalf("stored %d rules, first by %q", len(rs), rs[0].CreatedBy)
	}

	exported := filepath.Join(dir, "rules.yaml")
	if out, err := runCLI(t, dir, "rules", "export", "-o", exported); err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	exp, err := os.ReadFile(exported)
	if err != nil {
		t.Fatal(err)
	}
	// Stable: a second export is byte for byte the first.
	again, err := runCLI(t, dir, "rules", "export")
	if err != nil || again != string(exp) {
		t.Fatalf("second export differs (%v):\n%s\n---\n%s", err, exp, again)
	}

	changedCond := strings.Replace(string(exp), `title.startsWith("Pentest")`, `title.startsWith("Red team")`, 1)
	invalid := strings.Replace(string(exp), `title.startsWith("Pentest")`, `title.startsWith(`, 1) +
		"  - name: Brand new\n    triggers: [alert.created]\n    actions:\n      - type: comment\n        text: hi\n"
	cases := []struct {
		name     string
		yaml     string
		args     []string
		wantErr  []string // fragments of the error; nil: success
		wantOut  []string
		versions int // the version of "Close pentest" afterwards
	}{
		{name: "round trip is unchanged", yaml: string(exp), args: []string{"--dry-run"},
			wantOut: []string{"= Close pentest", "= Tag critical", "0 to save"}, versions: 1},
		{name: "changed condition, dry run", yaml: changedCond, args: []string{"--dry-run"},
			wantOut: []string{"~ Close pentest", `condition: "title.startsWith(\"Pentest\")" → "title.startsWith(\"Red team\")"`, "= Tag critical", "nothing written"}, versions: 1},
		{name: "invalid condition writes nothing", yaml: invalid,
			wantErr: []string{`"Close pentest"`, "condition"}, versions: 1},
		{name: "edited builder rows rewrite the condition", yaml: strings.Replace(string(exp), "- critical", "- high", 1), args: []string{"--dry-run"},
			wantOut: []string{"= Close pentest", "~ Tag critical", `condition: "severity.lowerAscii() == \"critical\"" → "severity.lowerAscii() == \"high\""`, "builder: "}, versions: 1},
		{name: "rule absent from the file is left alone", yaml: "rules:\n" + strings.SplitN(changedCond, "  - name: Tag critical", 2)[0][len("rules:\n"):],
			wantOut: []string{"~ Close pentest", "? Tag critical (not in file; left alone)", "1 saved"}, versions: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := writeFile(t, filepath.Join(dir, "apply.yaml"), c.yaml)
			out, err := runCLI(t, dir, append([]string{"rules", "apply", "-f", f}, c.args...)...)
			if c.wantErr == nil && err != nil {
				t.Fatalf("apply: %v\n%s", err, out)
			}
			if c.wantErr != nil {
				if err == nil {
					t.Fatalf("apply succeeded; want an error\n%s", out)
				}
				for _, w := range c.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
			}
			for _, w := range c.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			rs := storedRules(t, dir)
			if len(rs) != 2 {
				t.Errorf("%d rules stored, want 2", len(rs))
			}
			for _, r := range rs {
				if r.Name == "Close pentest" && r.Version != c.versions {
					t.Errorf("Close pentest at version %d, want %d", r.Version, c.versions)
				}
			}
		})
	}
}

// sentinelList has one rule vigil can express and one it cannot (an
// action type with no counterpart).
const sentinelList = `{"value":[
 {"name":"r1","properties":{"displayName":"Tag persistence","order":1,
  "triggeringLogic":{"isEnabled":true,"triggersOn":"Incidents","triggersWhen":"Created",
   "conditions":[{"conditionType":"Property","conditionProperties":{"propertyName":"IncidentTactics","operator":"Contains","propertyValues":["Persistence"]}}]},
  "actions":[{"order":1,"actionType":"ModifyProperties","actionConfiguration":{"labels":[{"labelName":"persistence"}]}}]}},
 {"name":"r2","properties":{"displayName":"Registry keys","order":2,
  "triggeringLogic":{"isEnabled":true,"triggersOn":"Incidents","triggersWhen":"Created",
   "conditions":[{"conditionType":"Property","conditionProperties":{"propertyName":"RegistryKey","operator":"Equals","propertyValues":["HKLM"]}}]},
  "actions":[{"order":1,"actionType":"ModifyProperties","actionConfiguration":{"severity":"High"}}]}}
]}`

func TestRulesImportSentinelFromFile(t *testing.T) {
	dir := t.TempDir()
	f := writeFile(t, filepath.Join(dir, "arm.json"), sentinelList)
	cases := []struct {
		name    string
		args    []string
		wantOut []string
		stored  int
		enabled bool
	}{
		{name: "dry run", args: []string{"--dry-run"},
			wantOut: []string{"1 convertible, 1 skipped", "skipped Registry keys:", "+ sentinel: Tag persistence", "nothing written"}},
		{name: "import, disabled by default", wantOut: []string{"+ sentinel: Tag persistence", "1 saved"}, stored: 1},
		{name: "again with --enable changes only enabled", args: []string{"--enable"},
			wantOut: []string{"~ sentinel: Tag persistence", "enabled: false → true"}, stored: 1, enabled: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := runCLI(t, dir, append([]string{"rules", "import-sentinel", "--from", f}, c.args...)...)
			if err != nil {
				t.Fatalf("import: %v\n%s", err, out)
			}
			for _, w := range c.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			rs := storedRules(t, dir)
			if len(rs) != c.stored {
				t.Fatalf("%d rules stored, want %d", len(rs), c.stored)
			}
			if c.stored > 0 && rs[0].Enabled != c.enabled {
				t.Errorf("enabled = %v, want %v", rs[0].Enabled, c.enabled)
			}
		})
	}
}

// TestRulesImportSentinelLive reads the automation rules through ARM from
// the simulator, signed in as the sync's app, as a deployment would.
func TestRulesImportSentinelLive(t *testing.T) {
	dir := t.TempDir()
	sim := simulator.New(simulator.Options{Seed: 1, Preload: 0})
	srv, err := simulator.Listen(sim, "127.0.0.1:0", filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	in := srv.Info

	// Two rules put through ARM, as Sentinel's portal would.
	hc, err := caClient(in.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {in.ClientID}, "client_secret": {in.ClientSecret},
		"scope": {"https://management.azure.com/.default"}}
	resp, err := hc.PostForm(strings.TrimRight(in.Authority, "/")+"/"+in.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %v (status %s)", err, resp.Status)
	}
	var list struct {
		Value []json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal([]byte(sentinelList), &list); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("%s/subscriptions/%s/resourceGroups/%s/providers/Microsoft.OperationalInsights/workspaces/%s/providers/Microsoft.SecurityInsights/automationRules",
		strings.TrimRight(in.ARMURL, "/"), in.SubscriptionID, in.ResourceGroup, in.Workspace)
	for i, v := range list.Value {
		var r struct {
			Properties json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(v, &r); err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(map[string]any{"properties": r.Properties})
		req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/r%d?api-version=%s", base, i+1, armAPIVersion), bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("PUT rule %d: %s: %s", i+1, resp.Status, b)
		}
	}

	secret := writeFile(t, filepath.Join(dir, "secret"), in.ClientSecret)
	cfg := writeFile(t, filepath.Join(dir, "vigil.yaml"), fmt.Sprintf(`sync:
  azure:
    tenant_id: %s
    client_id: %s
    client_secret_file: %s
    authority_host: %s
    arm_endpoint: %s
    ca_file: %s
  sentinel:
    - subscription_id: %s
      resource_group: %s
      workspace: %s
`, in.TenantID, in.ClientID, secret, in.Authority, in.ARMURL, in.CAFile, in.SubscriptionID, in.ResourceGroup, in.Workspace))
	out, err := runCLI(t, dir, "rules", "import-sentinel", "--config", cfg)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	for _, w := range []string{"1 convertible, 1 skipped", "skipped Registry keys:", "+ sentinel: Tag persistence", "1 saved"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if rs := storedRules(t, dir); len(rs) != 1 || rs[0].Enabled {
		t.Errorf("stored %+v; want one disabled rule", rs)
	}
}
