package test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAzureCLIAgainstSimulate is the Azure CLI issue's acceptance test:
// Debian's azure-cli (2.45) logs in to `vigil simulate --az-proxy` as the
// registered app by running, one by one, the commands the simulator
// prints (the ones internal/simulator/README.md documents), then
// `az security alert list` lists the simulator's Defender for Cloud
// alerts. scripts/test installs azure-cli; without az this test fails.
func TestAzureCLIAgainstSimulate(t *testing.T) {
	az, err := exec.LookPath("az")
	if err != nil {
		t.Fatalf("Azure CLI is needed (Debian's azure-cli; scripts/test installs it): %v", err)
	}
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.Command(vigilBin, "simulate", "--listen", freePort(t), "--ca-file", caFile, "--preload", "3",
		"--az-proxy", "127.0.0.1:0", "--az-dir", filepath.Join(dir, "az"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var simErr bytes.Buffer
	cmd.Stderr = &simErr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			t.Logf("vigil simulate stderr:\n%s", simErr.String())
		}
	})
	// The info JSON, then the commands, the last being the alert list.
	lines := make(chan []string, 1)
	go func() {
		var got []string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			got = append(got, sc.Text())
			if sc.Text() == "az security alert list" {
				break
			}
		}
		lines <- got
	}()
	var out []string
	select {
	case out = <-lines:
	case <-ctx.Done():
		t.Fatal("vigil simulate printed no az commands")
	}
	if len(out) < 2 {
		t.Fatalf("vigil simulate printed %q, want the info JSON and the az commands", out)
	}
	var info simInfo
	if err := json.Unmarshal([]byte(out[0]), &info); err != nil {
		t.Fatalf("first line is not the info JSON: %q: %v", out[0], err)
	}
	steps := out[1:]
	checkDocumentedSteps(t, steps)

	// A fourth alert raised by a portal user, so that the list is the
	// simulator's live state and not only the preloaded alerts.
	raised := raiseDefenderAlert(t, info)

	// Run the commands as a shell would, in an environment of their own:
	// the machine's proxies and az profile stay out of it.
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "LANG=C.UTF-8"}
	var last []byte
	for _, line := range steps {
		words, err := shellWords(line, nil) // demo_banner_test.go
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		switch {
		case words[0] == "export" && len(words) >= 2:
			for _, kv := range words[1:] {
				if !strings.Contains(kv, "=") {
					t.Fatalf("%q: export without a value", line)
				}
				env = append(env, kv)
			}
		case words[0] == "az":
			last = runAz(ctx, t, az, env, words[1:])
		default:
			t.Fatalf("unexpected command %q", line)
		}
	}

	var alerts []struct {
		ID         string `json:"id"`
		Name       string `json:"name"`
		Type       string `json:"type"`
		Status     string `json:"status"`
		AlertType  string `json:"alertType"`
		Properties any    `json:"properties"`
	}
	if err := json.Unmarshal(last, &alerts); err != nil {
		t.Fatalf("az security alert list: not a JSON list: %v\n%s", err, last)
	}
	if len(alerts) != 4 {
		t.Fatalf("az security alert list gave %d alerts, want the 3 preloaded and the raised one:\n%s", len(alerts), last)
	}
	found := false
	for _, a := range alerts {
		if a.Type != "Microsoft.Security/Locations/alerts" || a.Status != "Active" || a.AlertType == "" ||
			!strings.HasPrefix(a.ID, "/subscriptions/"+info.SubscriptionID+"/") {
			t.Errorf("alert %+v: want an active Microsoft.Security/Locations/alerts of subscription %s", a, info.SubscriptionID)
		}
		found = found || a.Name == raised
	}
	if !found {
		t.Errorf("the raised alert %s is not in az's list", raised)
	}

	// az reached the simulator's instance discovery through the proxy:
	// without it MSAL would have asked the real login.microsoftonline.com.
	routes := simRoutes(t, info)
	for _, want := range []string{"entra.discovery", "entra.openid", "entra.token", "arm.subscriptions.list", "defender.alerts.list"} {
		if routes[want] == 0 {
			t.Errorf("no %s request in the simulator's log: %v", want, routes)
		}
	}
}

// checkDocumentedSteps holds the printed commands to the README's: each
// line of the README's block, with <placeholders> standing for one word,
// must match the printed line at the same place.
func checkDocumentedSteps(t *testing.T, steps []string) {
	t.Helper()
	readme, err := os.ReadFile("../internal/simulator/README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "<!-- az-steps -->\n```sh\n")
	block, _, ok2 := strings.Cut(after, "```")
	if !ok || !ok2 {
		t.Fatal("internal/simulator/README.md has no <!-- az-steps --> sh block")
	}
	doc := strings.Split(strings.TrimSpace(block), "\n")
	if len(doc) != len(steps) {
		t.Fatalf("README documents %d commands, vigil simulate prints %d:\n%s\n---\n%s", len(doc), len(steps), block, strings.Join(steps, "\n"))
	}
	placeholder := regexp.MustCompile(`<[^>]+>`)
	for i, d := range doc {
		parts := placeholder.Split(d, -1)
		for j := range parts {
			parts[j] = regexp.QuoteMeta(parts[j])
		}
		re := regexp.MustCompile("^" + strings.Join(parts, `\S+`) + "$")
		if !re.MatchString(steps[i]) {
			t.Errorf("printed command %d %q does not follow the README's %q", i+1, steps[i], d)
		}
	}
}

// runAz runs one az command and returns its stdout, failing the test on
// an error or when it takes longer than 45 s.
func runAz(ctx context.Context, t *testing.T, az string, env, args []string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, az, args...)
	c.Env = env
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	start := time.Now()
	if err := c.Run(); err != nil {
		t.Fatalf("az %s: %v (after %s)\nstdout: %s\nstderr: %s", strings.Join(redact(args), " "), err, time.Since(start).Round(time.Millisecond), out.String(), errb.String())
	}
	t.Logf("az %s: %s", strings.Join(redact(args), " "), time.Since(start).Round(time.Millisecond))
	return out.Bytes()
}

// redact hides the value after --password in logged az arguments.
func redact(args []string) []string {
	out := append([]string(nil), args...)
	for i := range out {
		if i > 0 && out[i-1] == "--password" {
			out[i] = "***"
		}
	}
	return out
}

// raiseDefenderAlert raises an alert through the simulator's control API
// (a portal user) and returns its name.
func raiseDefenderAlert(t *testing.T, info simInfo) string {
	t.Helper()
	resp, err := simHTTP(t, info).Post(info.ARMURL+"/sim/v1/defender/alerts", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusCreated || body.Name == "" {
		t.Fatalf("raise alert: %s %v %+v", resp.Status, err, body)
	}
	return body.Name
}

// simRoutes counts the simulator's logged requests by route.
func simRoutes(t *testing.T, info simInfo) map[string]int {
	t.Helper()
	resp, err := simHTTP(t, info).Get(info.ARMURL + "/sim/v1/requests")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Value []struct {
			Route string `json:"route"`
		} `json:"value"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, r := range body.Value {
		n[r.Route]++
	}
	return n
}

// simHTTP is a client that trusts the simulator's CA.
func simHTTP(t *testing.T, info simInfo) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(info.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}, Timeout: 30 * time.Second}
}
