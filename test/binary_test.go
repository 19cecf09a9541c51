// Package test holds end-to-end tests that run the real vigil binary.
package test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// vigilBin is built once by TestMain.
var vigilBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vigil-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	vigilBin = filepath.Join(dir, "vigil")
	build := exec.Command("go", "build", "-o", vigilBin, "../cmd/vigil")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build vigil:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// vigil runs a short-lived subcommand and returns its stdout.
func vigil(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(vigilBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("vigil %s: %v\nstderr: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// createToken runs `vigil token create` and takes the token from the last line.
func createToken(t testing.TB, data, role string) string {
	t.Helper()
	out := strings.TrimSpace(vigil(t, "", "token", "create", "--data", data, "--name", "e2e-"+role, "--role", role))
	lines := strings.Split(out, "\n")
	tok := lines[len(lines)-1]
	if !strings.HasPrefix(tok, "vgl_") || strings.Contains(tok, " ") {
		t.Fatalf("last line of token create = %q, want the token alone", tok)
	}
	return tok
}

// server is a running `vigil serve` process.
type server struct {
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startServer starts `vigil serve` on addr and waits until /readyz answers.
func startServer(t testing.TB, addr string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(vigilBin, append([]string{"serve", "--listen", addr}, args...)...)
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, url: "http://" + addr, logs: logs}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			s.cmd.Wait()
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("vigil serve did not become ready; logs:\n%s", logs.String())
	return nil
}

// stop asks the server to shut down gracefully and waits.
func (s *server) stop(t testing.TB) {
	t.Helper()
	s.cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("vigil serve exited with %v; logs:\n%s", err, s.logs.String())
		}
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		t.Fatalf("vigil serve did not stop within 30s")
	}
}

func get(t testing.TB, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestCLI(t *testing.T) {
	data := t.TempDir()
	if got := vigil(t, "", "version"); !strings.HasPrefix(got, "vigil ") {
		t.Errorf("version = %q", got)
	}
	vigil(t, "", "migrate", "--data", data)
	admin := createToken(t, data, "admin")
	viewer := createToken(t, data, "viewer")

	out := vigil(t, "correct horse battery staple\n", "user", "add", "--data", data, "--email", "Ana@Example.com", "--role", "responder")
	if !strings.Contains(out, "ana@example.com") {
		t.Errorf("user add output = %q, want the normalized email", out)
	}
	// The password must not be accepted from a too-short stdin line.
	cmd := exec.Command(vigilBin, "user", "add", "--data", data, "--email", "b@example.com", "--role", "viewer")
	cmd.Stdin = strings.NewReader("short\n")
	if err := cmd.Run(); err == nil {
		t.Errorf("user add with a short password succeeded")
	}
	cmd = exec.Command(vigilBin, "token", "create", "--data", data, "--name", "x", "--role", "root")
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "unknown role") {
		t.Errorf("token create --role root = %v %s, want an unknown role error", err, b)
	}

	srv := startServer(t, freePort(t), "--data", data)
	if code, _ := get(t, srv.url+"/api/v1/workitems", admin); code != 200 {
		t.Errorf("admin GET workitems = %d", code)
	}
	if code, _ := get(t, srv.url+"/api/v1/workitems", viewer); code != 200 {
		t.Errorf("viewer GET workitems = %d", code)
	}
	if code, _ := get(t, srv.url+"/api/v1/workitems", "vgl_wrong"); code != 401 {
		t.Errorf("wrong token GET workitems = %d, want 401", code)
	}
	srv.stop(t)
	// Secrets never reach the logs.
	for _, secret := range []string{admin, viewer, "correct horse"} {
		if strings.Contains(srv.logs.String(), secret) {
			t.Errorf("server logs contain a secret")
		}
	}
}

// readLines returns the non-empty lines of a file.
func readLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}
