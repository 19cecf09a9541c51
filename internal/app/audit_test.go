package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
)

// TestAuditConfigLoaded checks that a start records config.loaded only
// when the configuration or the process file changed since the last one
// recorded, and that the entry holds digests, never a secret.
func TestAuditConfigLoaded(t *testing.T) {
	ctx := context.Background()
	db := storetest.SQLite(t, clock.NewFake(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)))
	log := slog.New(slog.DiscardHandler)
	proc := filepath.Join(t.TempDir(), "process.yaml")
	if err := os.WriteFile(proc, []byte("version: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.ProcessFile = proc
	cfg.OIDC.ClientSecret = "oidc-client-secret-value"
	cfg.Sync.Azure.ClientSecret = "azure-client-secret-value"
	cfg.Sync.ServiceNow = &config.ServiceNowMirror{URL: "https://sn.example", User: "vigil", Password: "servicenow-password-value"}

	entries := func() []store.AuditEntry {
		t.Helper()
		es, err := db.ListAudit(ctx, store.AuditFilter{Action: "config.loaded"})
		if err != nil {
			t.Fatal(err)
		}
		return es
	}
	recordConfig(ctx, db, cfg, log)
	recordConfig(ctx, db, cfg, log)
	if es := entries(); len(es) != 1 || es[0].Actor != "vigil" || es[0].Target != "configuration" {
		t.Fatalf("after two starts with one configuration: %+v, want one config.loaded by vigil", es)
	}
	first := entries()[0]

	cfg.LogLevel = "debug"
	recordConfig(ctx, db, cfg, log)
	es := entries()
	if len(es) != 2 || es[0].Detail["config_sha256"] == first.Detail["config_sha256"] ||
		es[0].Detail["previous_config_sha256"] != first.Detail["config_sha256"] || es[0].Detail["process_sha256"] != first.Detail["process_sha256"] {
		t.Fatalf("after a changed log level: %+v, want a second entry with a new config digest and the previous one", es)
	}

	// A rotated secret alone is no recorded change: no trace of it is kept.
	cfg.OIDC.ClientSecret = "rotated-secret-value"
	recordConfig(ctx, db, cfg, log)
	if n := len(entries()); n != 2 {
		t.Errorf("after a rotated secret: %d entries, want still 2", n)
	}

	if err := os.WriteFile(proc, []byte("version: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	recordConfig(ctx, db, cfg, log)
	es = entries()
	if len(es) != 3 || es[0].Detail["process_sha256"] == es[1].Detail["process_sha256"] || es[0].Detail["config_sha256"] != es[1].Detail["config_sha256"] {
		t.Fatalf("after a changed process file: %+v, want a third entry with a new process digest only", es)
	}

	b, err := json.Marshal(entries())
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"oidc-client-secret-value", "azure-client-secret-value", "servicenow-password-value", "rotated-secret-value"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("the audit log holds a secret: %s", b)
		}
	}
}

// TestSecretFree checks the rendering that is hashed: settings in, secrets
// and the DSN's password out.
func TestSecretFree(t *testing.T) {
	cfg := config.Default()
	cfg.DatabaseDSN = "postgres://vigil:dsn-password-value@db.example/vigil"
	cfg.OIDC.ClientSecretEnv = "OIDC_SECRET"
	cfg.OIDC.ClientSecret = "oidc-client-secret-value"
	cfg.Sync.DevOps = &config.DevOpsMirror{OrgURL: "https://dev.azure.com/x", PAT: "devops-pat-value", HookPassword: "hook-password-value"}
	cfg.Sync.Freshdesk = &config.FreshdeskMirror{URL: "https://fd.example", APIKey: "freshdesk-key-value"}
	b, err := json.Marshal(secretFree(cfg))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, secret := range []string{"dsn-password-value", "oidc-client-secret-value", "devops-pat-value", "hook-password-value", "freshdesk-key-value"} {
		if strings.Contains(s, secret) {
			t.Errorf("rendering holds %q: %s", secret, s)
		}
	}
	for _, want := range []string{`"client_secret_env":"OIDC_SECRET"`, `"org_url":"https://dev.azure.com/x"`, `db.example`, `"log_level":"info"`} {
		if !strings.Contains(s, want) {
			t.Errorf("rendering lacks %s: %s", want, s)
		}
	}
}
