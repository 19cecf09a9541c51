// Package config loads vigil's configuration from a YAML file, then VIGIL_*
// environment variables, then command-line flags, each overriding the last.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// Config is vigil's configuration. Keys are flat so that every one maps to
// exactly one environment variable: listen ↔ VIGIL_LISTEN.
type Config struct {
	// Listen is the HTTP listen address.
	Listen string `koanf:"listen"`
	// Data is the data directory (SQLite database, state).
	Data string `koanf:"data"`
	// DatabaseDSN selects PostgreSQL instead of SQLite.
	DatabaseDSN string `koanf:"database_dsn"`
	// DatabaseDSNFile reads the DSN from a file, e.g. a mounted secret.
	DatabaseDSNFile string `koanf:"database_dsn_file"`
	// SQLiteSynchronous is FULL (survives power loss) or NORMAL (survives
	// a crash of vigil, not of the machine).
	SQLiteSynchronous string `koanf:"sqlite_synchronous"`
	// ProcessFile replaces the default work-item process.
	ProcessFile string `koanf:"process_file"`
	// MaxBodyBytes caps request bodies that carry alerts.
	MaxBodyBytes int64 `koanf:"max_body_bytes"`
	// SecureCookies marks the web interface's cookies Secure on plain
	// HTTP too: set it when vigil runs behind a proxy that terminates TLS.
	SecureCookies bool `koanf:"secure_cookies"`
	// LogLevel is debug, info, warn or error; LogFormat is text or json.
	LogLevel  string `koanf:"log_level"`
	LogFormat string `koanf:"log_format"`
	// Sync configures connectors and two-way sync (the file's sync: section).
	Sync Sync `koanf:"sync"`
	// OIDC configures OpenID Connect sign-in (the file's oidc: section).
	OIDC OIDC `koanf:"oidc"`
	// TrustedProxies are the reverse proxies (addresses or CIDR prefixes)
	// whose X-Forwarded-For or Forwarded header names the client; from
	// any other peer the headers are ignored.
	TrustedProxies []string `koanf:"trusted_proxies"`
	// Login bounds what sign-ins may cost (the file's login: section).
	Login Login `koanf:"login"`
	// Paging configures on-call notifications (the file's paging: section).
	Paging Paging `koanf:"paging"`
	// Enrichment configures the enrichment providers.
	Enrichment Enrichment `koanf:"enrichment"`
	// ThreatIntel configures the indicator feeds.
	ThreatIntel ThreatIntel `koanf:"threat_intel"`
	// Alertmanager holds the inhibit rules.
	Alertmanager Alertmanager `koanf:"alertmanager"`
	// Reports configures the reports: SLOs, the default time zone, the
	// weekly summary emails.
	Reports Reports `koanf:"reports"`
	// Role is what this instance does: "all" (the default) serves HTTP and
	// runs the background engine, "api" only serves HTTP, "engine" only
	// runs the engine (and answers health checks and metrics). Several
	// instances on one PostgreSQL share the engine's modules either way.
	Role string `koanf:"role"`
}

// Roles of an instance.
const (
	RoleAll    = "all"
	RoleAPI    = "api"
	RoleEngine = "engine"
)

var knownKeys = map[string]bool{
	"listen": true, "data": true, "database_dsn": true, "database_dsn_file": true, "sqlite_synchronous": true,
	"process_file": true, "max_body_bytes": true, "log_level": true, "log_format": true,
	"secure_cookies": true, "trusted_proxies": true, "role": true,
}

// Default returns the built-in defaults.
func Default() Config {
	return Config{
		Listen:            "127.0.0.1:8080",
		Data:              "./vigil-data",
		SQLiteSynchronous: "FULL",
		MaxBodyBytes:      10 << 20,
		LogLevel:          "info",
		LogFormat:         "text",
		Role:              RoleAll,
		Login:             defaultLogin(),
	}
}

// Load reads path (optional), the environment and overrides (flag values
// that were set, keyed like the file). Secrets given as files are read.
func Load(path string, environ []string, overrides map[string]any) (Config, error) {
	k := koanf.New(".")
	def := Default()
	if err := k.Load(confmap.Provider(map[string]any{
		"listen": def.Listen, "data": def.Data, "sqlite_synchronous": def.SQLiteSynchronous,
		"max_body_bytes": def.MaxBodyBytes, "log_level": def.LogLevel, "log_format": def.LogFormat, "role": def.Role,
	}, "."), nil); err != nil {
		return Config{}, err
	}
	if err := k.Load(confmap.Provider(defaultLoginMap(), "."), nil); err != nil {
		return Config{}, err
	}
	if path != "" {
		fk := koanf.New(".")
		if err := fk.Load(file.Provider(path), yamlParser{}); err != nil {
			return Config{}, fmt.Errorf("config file %s: %w", path, err)
		}
		// A misspelt key would otherwise be ignored silently.
		for _, key := range fk.Keys() {
			if !knownKeys[key] && !syncKeys[key] && !oidcKeys[key] && !loginKeys[key] && !pagingKeys[key] && !channelKey(key) {
				return Config{}, fmt.Errorf("config file %s: unknown key %q", path, key)
			}
		}
		if err := k.Merge(fk); err != nil {
			return Config{}, err
		}
	}
	envMap := map[string]any{}
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "VIGIL_") {
			continue
		}
		envMap[strings.ToLower(strings.TrimPrefix(name, "VIGIL_"))] = val
	}
	if err := k.Load(confmap.Provider(envMap, "."), nil); err != nil {
		return Config{}, err
	}
	if err := k.Load(confmap.Provider(overrides, "."), nil); err != nil {
		return Config{}, err
	}
	var c Config
	if err := k.UnmarshalWithConf("", &c, koanf.UnmarshalConf{Tag: "koanf"}); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	c.TrustedProxies = splitList(c.TrustedProxies) // VIGIL_TRUSTED_PROXIES=a,b
	if c.DatabaseDSNFile != "" && c.DatabaseDSN == "" {
		b, err := os.ReadFile(c.DatabaseDSNFile)
		if err != nil {
			return Config{}, fmt.Errorf("database_dsn_file: %w", err)
		}
		c.DatabaseDSN = strings.TrimSpace(string(b))
	}
	if err := errors.Join(c.Sync.resolve(environ), c.OIDC.resolve(environ), c.Paging.resolve(environ), c.Enrichment.resolve(environ), c.ThreatIntel.resolve(environ), c.Alertmanager.resolve(), c.Reports.resolve()); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen %q: want host:port", c.Listen))
	}
	if c.DatabaseDSN == "" && c.Data == "" {
		errs = append(errs, errors.New("data: a data directory is required unless database_dsn is set"))
	}
	switch strings.ToUpper(c.SQLiteSynchronous) {
	case "FULL", "NORMAL", "EXTRA":
	default:
		errs = append(errs, fmt.Errorf("sqlite_synchronous %q: want FULL, NORMAL or EXTRA", c.SQLiteSynchronous))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("max_body_bytes %d: must be at least 1024", c.MaxBodyBytes))
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level %q: want debug, info, warn or error", c.LogLevel))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log_format %q: want text or json", c.LogFormat))
	}
	switch c.Role {
	case RoleAll, RoleAPI, RoleEngine:
	default:
		errs = append(errs, fmt.Errorf("role %q: want all, api or engine", c.Role))
	}
	if c.Role == RoleEngine || c.Role == RoleAPI {
		if c.DatabaseDSN == "" {
			errs = append(errs, fmt.Errorf("role %q: needs PostgreSQL (database_dsn); with SQLite run one process with role all", c.Role))
		}
	}
	if _, err := ParseTrustedProxies(c.TrustedProxies); err != nil {
		errs = append(errs, err)
	}
	if err := c.Login.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// String renders the configuration for logs with secrets redacted.
func (c Config) String() string {
	return fmt.Sprintf("listen=%s role=%s data=%s database=%s sqlite_synchronous=%s process_file=%q max_body_bytes=%d log_level=%s log_format=%s oidc=[%s]",
		c.Listen, c.Role, c.Data, RedactDSN(c.DatabaseDSN), c.SQLiteSynchronous, c.ProcessFile, c.MaxBodyBytes, c.LogLevel, c.LogFormat, c.OIDC)
}

// LogValue keeps secrets out of structured logs too.
func (c Config) LogValue() string { return c.String() }

// RedactDSN hides the password of a PostgreSQL DSN in URL or key=value form.
func RedactDSN(dsn string) string {
	if dsn == "" {
		return "sqlite"
	}
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "REDACTED")
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	fields := strings.Fields(dsn)
	for i, f := range fields {
		if strings.HasPrefix(strings.ToLower(f), "password=") {
			fields[i] = "password=REDACTED"
		}
	}
	return strings.Join(fields, " ")
}

// yamlParser lets koanf read YAML with goccy/go-yaml, the YAML library the
// rest of vigil uses.
type yamlParser struct{}

func (yamlParser) Unmarshal(b []byte) (map[string]any, error) {
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

func (yamlParser) Marshal(m map[string]any) ([]byte, error) { return yaml.Marshal(m) }
