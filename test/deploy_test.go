package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/config"
)

// unitBinary is where deploy/vigil.service expects the binary.
const unitBinary = "/usr/local/bin/vigil"

// TestSystemdUnitVerifies runs `systemd-analyze verify` on
// deploy/vigil.service and fails on any complaint, warnings included.
// verify checks that ExecStart's program exists and is executable, so the
// test verifies a copy whose ExecStart names the binary this suite built
// instead of /usr/local/bin/vigil; nothing else is changed.
func TestSystemdUnitVerifies(t *testing.T) {
	unit := readUnit(t)
	re := regexp.MustCompile(`(?m)^ExecStart=` + regexp.QuoteMeta(unitBinary) + `( |$)`)
	if !re.MatchString(unit) {
		t.Fatalf("deploy/vigil.service: no ExecStart=%s line to point at the test binary", unitBinary)
	}
	copied := filepath.Join(t.TempDir(), "vigil.service")
	if err := os.WriteFile(copied, []byte(re.ReplaceAllString(unit, "ExecStart="+vigilBin+"$1")), 0o644); err != nil {
		t.Fatal(err)
	}
	const analyze = "/usr/bin/systemd-analyze"
	if _, err := os.Stat(analyze); err != nil {
		t.Fatalf("%s: %v; install Debian's systemd package, which provides it", analyze, err)
	}
	cmd := exec.Command(analyze, "verify", "--man=no", copied)
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Fatalf("systemd-analyze verify deploy/vigil.service: %v\n%s", err, out)
	}
}

// TestSystemdUnitHardening: the unit keeps the sandbox docs/deploy.md
// promises; dropping a line of it is a visible change, not an accident.
func TestSystemdUnitHardening(t *testing.T) {
	unit := readUnit(t)
	for _, want := range []string{
		"DynamicUser=yes",
		"StateDirectory=vigil",
		"EnvironmentFile=-/etc/vigil/vigil.env",
		"NoNewPrivileges=yes",
		"ProtectSystem=strict",
		"ProtectHome=yes",
		"PrivateTmp=yes",
		"PrivateDevices=yes",
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
		"CapabilityBoundingSet=",
		"SystemCallFilter=@system-service",
		"MemoryDenyWriteExecute=yes",
		"UMask=0077",
	} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).MatchString(unit) {
			t.Errorf("deploy/vigil.service lacks the line %q", want)
		}
	}
}

// TestDeployConfigLoads: deploy/vigil.yaml loads (unknown keys are refused)
// and, with the unit's Environment= lines, gives the settings the unit and
// docs/deploy.md describe.
func TestDeployConfigLoads(t *testing.T) {
	var env []string
	for _, line := range strings.Split(readUnit(t), "\n") {
		if v, ok := strings.CutPrefix(line, "Environment="); ok {
			env = append(env, v)
		}
	}
	cfg, err := config.Load(filepath.Join("..", "deploy", "vigil.yaml"), env, nil)
	if err != nil {
		t.Fatalf("load deploy/vigil.yaml with the unit's environment %v: %v", env, err)
	}
	checks := []struct{ name, got, want string }{
		{"data", cfg.Data, "/var/lib/vigil"},
		{"log_format", cfg.LogFormat, "json"},
		{"listen", cfg.Listen, "127.0.0.1:8080"},
		{"role", cfg.Role, config.RoleAll},
		{"trusted_proxies", strings.Join(cfg.TrustedProxies, ","), "127.0.0.1,::1"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !cfg.SecureCookies {
		t.Error("secure_cookies = false, want true behind the TLS-terminating proxy")
	}
}

func readUnit(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "deploy", "vigil.service"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
