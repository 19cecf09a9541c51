package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSyncSection(t *testing.T) {
	dir := t.TempDir()
	patFile := filepath.Join(dir, "pat")
	os.WriteFile(patFile, []byte("pat-from-file\n"), 0o600)
	write := func(body string) string {
		p := filepath.Join(dir, "vigil.yaml")
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	good := `
sync:
  interval: 10s
  sentinel_closed_state: Verification
  azure:
    tenant_id: t
    client_id: c
    client_secret_env: AZ_SECRET
  sentinel:
    - subscription_id: s
      resource_group: rg
      workspace: ws
  defender:
    - subscription_id: s
  graph:
    filter: "serviceSource eq 'microsoftDefenderForCloud'"
    claim: true
  devops:
    org_url: https://dev.azure.com/contoso
    project: SecOps
    pat_file: ` + patFile + `
    hook_user: hooks
    hook_password_env: HOOK_PW
`
	env := []string{"AZ_SECRET=s3cret-value", "HOOK_PW=hook-s3cret"}
	c, err := Load(write(good), env, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Sync
	if s.Interval != 10*time.Second || s.Overlap != 5*time.Minute || s.Resync != time.Hour || s.SentinelClosedState != "Verification" {
		t.Errorf("timing = %s/%s/%s %s, want 10s, default 5m overlap and 1h resync, Verification", s.Interval, s.Overlap, s.Resync, s.SentinelClosedState)
	}
	if s.Azure.ClientSecret != "s3cret-value" || s.DevOps.PAT != "pat-from-file" || s.DevOps.HookPassword != "hook-s3cret" {
		t.Errorf("secrets not resolved: %+v", s)
	}
	if len(s.Sentinel) != 1 || s.Sentinel[0].Workspace != "ws" || len(s.Defender) != 1 || s.Graph == nil || !s.Graph.Claim || !s.ReconcileOn() {
		t.Errorf("sync = %+v", s)
	}
	for _, secret := range []string{"s3cret-value", "pat-from-file", "hook-s3cret"} {
		if strings.Contains(c.String(), secret) {
			t.Errorf("String() shows secret %q", secret)
		}
	}

	bad := []struct{ name, body, env, want string }{
		{"missing secret env", good, "HOOK_PW=x", "AZ_SECRET is not set"},
		{"unknown key", "sync:\n  intervall: 5s\n", "", `unknown key "sync.intervall"`},
		{"bad closed state", "sync:\n  sentinel_closed_state: Done\n", "", "want Closed or Verification"},
		{"workspace incomplete", "sync:\n  azure: {tenant_id: t, client_id: c, client_secret_env: X}\n  sentinel:\n    - workspace: ws\n", "X=1", "sync.sentinel[0]"},
		{"hooks need a password", "sync:\n  devops: {org_url: u, project: p, pat_env: P, hook_user: h}\n", "P=1", "hook_user and a hook password"},
		{"unknown incident api", "sync:\n  incident_api: portal\n", "", `sync.incident_api "portal": want graph or sentinel`},
		{"bad grouping", "sync:\n  azure: {tenant_id: t, client_id: c, client_secret_env: X}\n  defender:\n    - {subscription_id: s, recommendations: {enabled: true, grouping: tenant}}\n", "X=1", `sync.defender[0].recommendations.grouping "tenant"`},
		{"governance without recommendations", "sync:\n  governance: {enabled: true}\n", "", "sync.governance needs a sync.defender entry"},
		{"unknown governance key", "sync:\n  governance: {enabld: true}\n", "", `unknown key "sync.governance.enabld"`},
		{"graph api without graph incidents", "sync:\n  incident_api: graph\n", "", "sync.incident_api graph needs sync.graph.incidents: true"},
	}
	for _, tt := range bad {
		_, err := Load(write(tt.body), strings.Fields(tt.env), nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestIncidentAPIDefault(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ graph, want string }{
		{"", "sentinel"},
		{"  graph: {claim: true}\n", "sentinel"},
		{"  graph: {incidents: true}\n", "graph"},
		{"  graph: {incidents: true}\n  incident_api: sentinel\n", "sentinel"},
	} {
		p := filepath.Join(dir, "vigil.yaml")
		body := "sync:\n  azure: {tenant_id: t, client_id: c, client_secret_env: X}\n" + tc.graph
		os.WriteFile(p, []byte(body), 0o600)
		c, err := Load(p, []string{"X=1"}, nil)
		if err != nil {
			t.Fatalf("%q: %v", tc.graph, err)
		}
		if c.Sync.IncidentAPI != tc.want {
			t.Errorf("%q: incident_api = %q, want %q", tc.graph, c.Sync.IncidentAPI, tc.want)
		}
	}
}

func TestRecommendationsConfig(t *testing.T) {
	p := filepath.Join(t.TempDir(), "vigil.yaml")
	body := `sync:
  azure: {tenant_id: t, client_id: c, client_secret_env: X}
  defender:
    - subscription_id: s1
      recommendations: {enabled: true, grouping: resource, resync_every: 10}
    - subscription_id: s2
  governance: {enabled: true, grace_period: true}
`
	os.WriteFile(p, []byte(body), 0o600)
	c, err := Load(p, []string{"X=1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Sync
	if r := s.Defender[0].Recommendations; r == nil || !r.Enabled || r.Grouping != "resource" || r.ResyncEvery != 10 {
		t.Errorf("recommendations = %+v", r)
	}
	if s.Defender[1].Recommendations != nil {
		t.Errorf("s2 recommendations = %+v, want none", s.Defender[1].Recommendations)
	}
	if !s.RecommendationsOn() {
		t.Error("RecommendationsOn = false")
	}
	if g := s.Governance; g == nil || g.DefaultDue != 720*time.Hour || !g.GracePeriod || g.Notify {
		t.Errorf("governance = %+v, want default_due 720h", g)
	}
}
