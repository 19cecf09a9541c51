package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoginSection(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		env     []string
		want    func(c Config) bool
		wantErr string
	}{
		{"defaults", "", nil, func(c Config) bool { return c.Login == defaultLogin() && len(c.TrustedProxies) == 0 }, ""},
		{"file", "login:\n  hash_slots: 3\n  hash_queue: 0\n  hash_wait: 500ms\n  addr_failures: 50\n  addr_in_flight: 8\n  device_slots: 1\n  device_failures: 4\n",
			nil, func(c Config) bool {
				return c.Login == Login{HashSlots: 3, HashQueue: 0, HashWait: 500 * time.Millisecond, AddrFailures: 50,
					AddrInFlight: 8, DeviceSlots: 1, DeviceFailures: 4}
			}, ""},
		{"partial section keeps other defaults", "login:\n  addr_failures: 100\n", nil,
			func(c Config) bool {
				return c.Login.AddrFailures == 100 && c.Login.HashQueue == 4 && c.Login.HashWait == 2*time.Second
			}, ""},
		{"trusted proxies from the file", "trusted_proxies: [\"127.0.0.1\", \"10.0.0.0/8\", \"fd00::/8\"]\n", nil,
			func(c Config) bool {
				return reflect.DeepEqual(c.TrustedProxies, []string{"127.0.0.1", "10.0.0.0/8", "fd00::/8"})
			}, ""},
		{"trusted proxies from the environment", "", []string{"VIGIL_TRUSTED_PROXIES=127.0.0.1/32,10.0.0.0/8"},
			func(c Config) bool {
				return reflect.DeepEqual(c.TrustedProxies, []string{"127.0.0.1/32", "10.0.0.0/8"})
			}, ""},
		{"misspelt login key", "login:\n  hash_slot: 3\n", nil, nil, `unknown key "login.hash_slot"`},
		{"bad proxy", "trusted_proxies: [\"10.0.0.0/33\"]\n", nil, nil, `trusted_proxies "10.0.0.0/33"`},
		{"negative queue", "login:\n  hash_queue: -1\n", nil, nil, "login.hash_queue -1: must be at least 0"},
		{"no address failures", "login:\n  addr_failures: 0\n", nil, nil, "login.addr_failures 0: must be at least 1"},
		{"no wait", "login:\n  hash_wait: 0s\n", nil, nil, "login.hash_wait 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = filepath.Join(t.TempDir(), "vigil.yaml")
				if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Load(path, tt.env, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(c) {
				t.Errorf("got login %+v, trusted_proxies %q", c.Login, c.TrustedProxies)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies([]string{"127.0.0.1", " 10.1.2.3/8 ", "::1", "", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("2001:db8::/32")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, err := ParseTrustedProxies([]string{"proxy.example"}); err == nil {
		t.Error("a host name was accepted: want an address or a prefix")
	}
}
