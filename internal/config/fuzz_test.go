package config

import (
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fuzzSecrets are the values behind the environment variables the seed
// files name (client_secret_env: AZ_SECRET, …). They are long and odd so
// that finding one in the redacted configuration is never a coincidence.
var fuzzSecrets = map[string]string{
	"AZ_SECRET":   "az-s3cret-7f1c9e",
	"HOOK_PW":     "hook-s3cret-0b4d",
	"OIDC_SECRET": "oidc-s3cret-55aa",
	"P":           "pat-s3cret-9d2e",
	"S":           "s-s3cret-c0ffee",
	"X":           "x-s3cret-beef01",
}

// FuzzLoad fuzzes the configuration file: the bytes are written to a file
// and loaded as `vigil serve --config` does. Its seed corpus, in
// testdata/fuzz/FuzzLoad/, holds the files of the unit tests.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"listen: 127.0.0.1:9000\ndata: from/file\nlog_level: debug\nmax_body_bytes: 2048\n",
		"database_dsn: postgres://vigil:pw-s3cret@db/vigil?password=q-s3cret\nsqlite_synchronous: normal\n",
		"sync:\n  interval: 10s\n  azure: {tenant_id: t, client_id: c, client_secret_env: AZ_SECRET}\n  sentinel:\n    - {subscription_id: s, resource_group: rg, workspace: ws}\n",
		"oidc:\n  issuer: https://login.example/t/v2.0\n  client_id: c\n  client_secret_env: OIDC_SECRET\n  redirect_url: https://vigil.example/cb\n",
		"lisen: x\n",
		"listen: [",
	} {
		f.Add([]byte(s))
	}
	var environ []string
	for k, v := range fuzzSecrets {
		environ = append(environ, k+"="+v)
	}
	// The configuration names files to read secrets from; relative names
	// stay inside this directory, and inputs naming any other place are
	// skipped, so that the fuzzer never reads a device or a pipe.
	dir := f.TempDir()
	f.Chdir(dir)
	path := filepath.Join(dir, "vigil.yaml")
	f.Fuzz(func(t *testing.T, b []byte) {
		if namesOutside(b) {
			return
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path, environ, nil)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("loaded configuration does not validate: %v", err)
		}
		s := c.String()
		for name, secret := range fuzzSecrets {
			if strings.Contains(s, secret) {
				t.Fatalf("String() shows the secret of %s: %s", name, s)
			}
		}
		if strings.Contains(s, "%!") {
			t.Fatalf("String() has a formatting error: %s", s)
		}
		checkRedacted(t, c.DatabaseDSN)
	})
}

// namesOutside reports whether any string in the document is an absolute
// path or climbs out of the working directory.
func namesOutside(b []byte) bool {
	m, err := yamlParser{}.Unmarshal(b)
	if err != nil {
		return false // Load fails the same way before reading any file
	}
	var walk func(v reflect.Value) bool
	walk = func(v reflect.Value) bool {
		switch v.Kind() {
		case reflect.Interface, reflect.Pointer:
			return !v.IsNil() && walk(v.Elem())
		case reflect.String:
			s := v.String()
			return strings.HasPrefix(s, "/") || strings.Contains(s, "..") || strings.HasPrefix(s, "~")
		case reflect.Map:
			for it := v.MapRange(); it.Next(); {
				if walk(it.Key()) || walk(it.Value()) {
					return true
				}
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				if walk(v.Index(i)) {
					return true
				}
			}
		}
		return false
	}
	return walk(reflect.ValueOf(m))
}

// checkRedacted requires RedactDSN to leave no password a reader of the
// log could recover, in the URL form's user info or its query.
func checkRedacted(t *testing.T, dsn string) {
	t.Helper()
	red := RedactDSN(dsn)
	u, err := url.Parse(red)
	if err != nil || u.Scheme == "" {
		return
	}
	if pw, ok := u.User.Password(); ok && pw != "REDACTED" {
		t.Fatalf("RedactDSN(%q) = %q keeps the password %q", dsn, red, pw)
	}
	if q := u.Query(); q.Has("password") && q.Get("password") != "REDACTED" {
		t.Fatalf("RedactDSN(%q) = %q keeps the password parameter", dsn, red)
	}
}
