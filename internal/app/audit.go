package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"

	"github.com/vigil-soc/vigil/internal/account"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/store"
)

// configTarget is what config.loaded entries are about.
const configTarget = "configuration"

// recordConfig adds a config.loaded entry to the audit log when the
// effective configuration or the process file differs from the last one
// recorded, so that admins see when and how often vigil started with other
// settings. Only SHA-256 digests are recorded: of a rendering without
// secrets (see secretFree) and of the process file's bytes. A failure is
// logged, never fatal: the log is for admins, the server must start.
func recordConfig(ctx context.Context, db *store.DB, cfg config.Config, log *slog.Logger) {
	log = log.With("component", "audit")
	detail, err := configDetail(cfg)
	if err != nil {
		log.Error("configuration not recorded in the audit log", "err", err)
		return
	}
	last, ok, err := db.LastAudit(ctx, account.AuditConfigLoaded)
	if err != nil {
		log.Error("configuration not recorded in the audit log", "err", err)
		return
	}
	if ok && last.Detail["config_sha256"] == detail["config_sha256"] && last.Detail["process_sha256"] == detail["process_sha256"] {
		return
	}
	if ok {
		detail["previous_config_sha256"] = last.Detail["config_sha256"]
		detail["previous_process_sha256"] = last.Detail["process_sha256"]
	}
	e := store.AuditEntry{Actor: auth.System.String(), Action: account.AuditConfigLoaded, Target: configTarget, Detail: detail}
	if err := db.RecordAudit(ctx, e); err != nil {
		log.Error("configuration not recorded in the audit log", "err", err)
		return
	}
	log.Info("configuration changed since the last start; recorded in the audit log", "config_sha256", detail["config_sha256"])
}

// configDetail is a config.loaded entry's detail.
func configDetail(cfg config.Config) (map[string]any, error) {
	b, err := json.Marshal(secretFree(cfg))
	if err != nil {
		return nil, fmt.Errorf("render configuration: %w", err)
	}
	d := map[string]any{"config_sha256": digest(b), "process_file": cfg.ProcessFile, "process_sha256": "default"}
	if cfg.ProcessFile != "" {
		p, err := os.ReadFile(cfg.ProcessFile)
		if err != nil {
			return nil, fmt.Errorf("read process file: %w", err)
		}
		d["process_sha256"] = digest(p)
	}
	return d, nil
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// secretFree renders cfg as a map by its koanf keys, without secrets.
// Secrets live only in fields tagged koanf:"-" (resolved from …_env and
// …_file settings, whose names are kept: a changed name is a changed
// setting), and in the database DSN's password, which is redacted. Not
// even a hash of a secret is kept: a hash of a weak password can be
// guessed offline.
func secretFree(cfg config.Config) any {
	m := render(reflect.ValueOf(cfg)).(map[string]any)
	m["database_dsn"] = config.RedactDSN(cfg.DatabaseDSN)
	return m
}

// render turns a configuration value into maps, slices and scalars,
// leaving out the fields tagged koanf:"-".
func render(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return render(v.Elem())
	case reflect.Struct:
		m := map[string]any{}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("koanf"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			m[name] = render(v.Field(i))
		}
		return m
	case reflect.Slice, reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = render(v.Index(i))
		}
		return out
	case reflect.Map:
		m := map[string]any{}
		for _, k := range v.MapKeys() {
			m[fmt.Sprint(k.Interface())] = render(v.MapIndex(k))
		}
		return m
	}
	return v.Interface()
}
