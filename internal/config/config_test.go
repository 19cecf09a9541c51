package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "vigil.yaml")
	os.WriteFile(file, []byte("listen: 127.0.0.1:9000\ndata: /from/file\nlog_level: debug\nmax_body_bytes: 2048\n"), 0o600)
	dsnFile := filepath.Join(dir, "dsn")
	os.WriteFile(dsnFile, []byte("postgres://vigil:s3cret@db/vigil\n"), 0o600)

	tests := []struct {
		name      string
		env       []string
		overrides map[string]any
		check     func(t *testing.T, c Config)
	}{
		{"file over defaults", nil, nil, func(t *testing.T, c Config) {
			if c.Listen != "127.0.0.1:9000" || c.Data != "/from/file" || c.LogLevel != "debug" || c.MaxBodyBytes != 2048 {
				t.Errorf("got %+v", c)
			}
			if c.SQLiteSynchronous != "FULL" {
				t.Errorf("sqlite_synchronous = %q, want the default FULL", c.SQLiteSynchronous)
			}
		}},
		{"env over file", []string{"VIGIL_DATA=/from/env", "VIGIL_LOG_LEVEL=warn", "PATH=/bin"}, nil, func(t *testing.T, c Config) {
			if c.Data != "/from/env" || c.LogLevel != "warn" {
				t.Errorf("got data %q level %q", c.Data, c.LogLevel)
			}
		}},
		{"flags over env", []string{"VIGIL_DATA=/from/env"}, map[string]any{"data": "/from/flag"}, func(t *testing.T, c Config) {
			if c.Data != "/from/flag" {
				t.Errorf("data = %q, want /from/flag", c.Data)
			}
		}},
		{"dsn from file, redacted", []string{"VIGIL_DATABASE_DSN_FILE=" + dsnFile}, nil, func(t *testing.T, c Config) {
			if c.DatabaseDSN != "postgres://vigil:s3cret@db/vigil" {
				t.Errorf("dsn = %q", c.DatabaseDSN)
			}
			if strings.Contains(c.String(), "s3cret") {
				t.Errorf("String() leaks the password: %s", c)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(file, tt.env, tt.overrides)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadRejects(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("lisen: 127.0.0.1:1\n"), 0o600)
	tests := []struct {
		name, file string
		env        []string
		want       string
	}{
		{"unknown key", bad, nil, `unknown key "lisen"`},
		{"bad listen", "", []string{"VIGIL_LISTEN=nope"}, "listen"},
		{"bad sync", "", []string{"VIGIL_SQLITE_SYNCHRONOUS=OFF"}, "sqlite_synchronous"},
		{"bad level", "", []string{"VIGIL_LOG_LEVEL=loud"}, "log_level"},
		{"missing file", filepath.Join(dir, "nope.yaml"), nil, "nope.yaml"},
	}
	for _, tt := range tests {
		_, err := Load(tt.file, tt.env, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tt.name, err, tt.want)
		}
	}
}

func TestRedactDSN(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "sqlite"},
		{"postgres://u:pw@h/db", "postgres://u:REDACTED@h/db"},
		{"postgres://u@h/db?password=pw&sslmode=disable", "postgres://u@h/db?password=REDACTED&sslmode=disable"},
		{"host=h password=pw dbname=d", "host=h password=REDACTED dbname=d"},
	}
	for _, tt := range tests {
		if got := RedactDSN(tt.in); got != tt.want {
			t.Errorf("RedactDSN(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
