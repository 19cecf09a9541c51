package test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/simulator"
)

// simProcess is a running `vigil simulate`.
type simProcess struct {
	info simInfo
	http *http.Client
}

// startSimulate runs `vigil simulate` with args and reads the JSON line
// it prints.
func startSimulate(t testing.TB, args ...string) *simProcess {
	t.Helper()
	caFile := filepath.Join(t.TempDir(), "sim-ca.pem")
	cmd := exec.Command(vigilBin, append([]string{"simulate", "--listen", freePort(t), "--ca-file", caFile}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		io.Copy(io.Discard, stdout)
	}()
	var info simInfo
	select {
	case l := <-line:
		if err := json.Unmarshal([]byte(l), &info); err != nil {
			t.Fatalf("vigil simulate's first line %q: %v", l, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("vigil simulate printed nothing; stderr:\n%s", stderr.String())
	}
	pem, err := os.ReadFile(info.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 30 * time.Second}
	return &simProcess{info: info, http: hc}
}

// requests reads the simulator's request log after sequence number since.
func (s *simProcess) requests(t testing.TB, since int) []simulator.RequestRecord {
	t.Helper()
	res, err := s.http.Get(fmt.Sprintf("%s/sim/v1/requests?since=%d", s.info.ARMURL, since))
	if err != nil {
		t.Fatalf("simulator request log: %v", err)
	}
	defer res.Body.Close()
	var page struct {
		Value   []simulator.RequestRecord `json:"value"`
		Dropped int                       `json:"dropped"`
	}
	if err := json.NewDecoder(res.Body).Decode(&page); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("simulator request log: %d %v", res.StatusCode, err)
	}
	if page.Dropped > 0 {
		t.Fatalf("simulator request log dropped %d records: the checks would miss requests", page.Dropped)
	}
	return page.Value
}

// writeSyncConfig writes a vigil config file whose sync: section points
// every poller at the simulator (as `vigil demo` does, without the Azure
// Boards mirror: with thousands of ingested alerts it would mirror
// thousands of items), polling every interval. The secret goes in a file
// beside it, as the config requires.
func writeSyncConfig(t testing.TB, info simInfo, interval time.Duration) string {
	t.Helper()
	dir := t.TempDir()
	secret := filepath.Join(dir, "azure-secret")
	if err := os.WriteFile(secret, []byte(info.ClientSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`sync:
  interval: %s
  overlap: 1m
  resync: 10m
  azure:
    tenant_id: %q
    client_id: %q
    client_secret_file: %q
    authority_host: %q
    arm_endpoint: %q
    graph_url: %q
    ca_file: %q
  sentinel:
    - subscription_id: %q
      resource_group: %q
      workspace: %q
  defender:
    - subscription_id: %q
  graph:
    filter: "serviceSource ne 'microsoftDefenderForCloud'"
    claim: true
`, interval, info.TenantID, info.ClientID, secret, info.Authority, info.ARMURL, info.GraphURL, info.CAFile,
		info.SubscriptionID, info.ResourceGroup, info.Workspace, info.SubscriptionID)
	path := filepath.Join(dir, "vigil.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// moduleState is one reading of a module's row in engine_modules.
type moduleState struct {
	At                                    time.Time // when the test read it
	Holder                                string
	Version                               int
	LastStart, LastEnd, LastSuccess       time.Time
	LastError                             string
	lastStartUS, lastEndUS, lastSuccessUS int64
}

func readModule(ctx context.Context, db *sql.DB, name string) (moduleState, error) {
	var m moduleState
	err := db.QueryRowContext(ctx, `SELECT holder, version, last_start, last_end, last_success, last_error FROM engine_modules WHERE name = $1`, name).
		Scan(&m.Holder, &m.Version, &m.lastStartUS, &m.lastEndUS, &m.lastSuccessUS, &m.LastError)
	m.At = time.Now()
	m.LastStart, m.LastEnd, m.LastSuccess = time.UnixMicro(m.lastStartUS), time.UnixMicro(m.lastEndUS), time.UnixMicro(m.lastSuccessUS)
	return m, err
}

// passWatch reads a module's row every 50 ms and keeps every committed
// pass it sees (a change of last_end), for the failover figure and for
// telling which instance ran which pass.
type passWatch struct {
	mu     sync.Mutex
	passes []moduleState
	errs   int
}

func watchPasses(ctx context.Context, db *sql.DB, name string) *passWatch {
	w := &passWatch{}
	go func() {
		var lastEnd int64
		for ctx.Err() == nil {
			m, err := readModule(ctx, db, name)
			w.mu.Lock()
			switch {
			case err != nil:
				w.errs++
			case m.lastEndUS != lastEnd && m.lastEndUS > 0:
				lastEnd = m.lastEndUS
				w.passes = append(w.passes, m)
			}
			w.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return w
}

// snapshot returns the passes seen so far.
func (w *passWatch) snapshot() []moduleState {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]moduleState(nil), w.passes...)
}

// last returns the latest pass seen, waiting for one.
func (w *passWatch) last(t testing.TB) moduleState {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if p := w.snapshot(); len(p) > 0 {
			return p[len(p)-1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no pass of the module was recorded within 30s")
	return moduleState{}
}

// listenOf is the listen address an instance's holder name ends with:
// "host:pid (127.0.0.1:port)".
func listenOf(holder string) string {
	_, rest, ok := strings.Cut(holder, "(")
	if !ok {
		return ""
	}
	return strings.TrimSuffix(rest, ")")
}

var metricLine = regexp.MustCompile(`^([a-zA-Z_:]+)(\{[^}]*\})? ([0-9.eE+-]+)$`)

// scrape reads an instance's /metrics and returns each sample by its name
// with labels, e.g. `vigil_engine_passes_total{module="outbox",result="ok"}`.
func scrape(t testing.TB, base string) map[string]float64 {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("scrape %s: %v", base, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s", base, res.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := metricLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, _ := strconv.ParseFloat(m[3], 64)
		out[m[1]+m[2]] = v
	}
	return out
}

// sumMetric adds up the samples of name whose labels contain every one of
// labels (`module="outbox"`).
func sumMetric(samples map[string]float64, name string, labels ...string) float64 {
	var sum float64
	for k, v := range samples {
		metric, lbl, _ := strings.Cut(k, "{")
		if metric != name {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(lbl, l)
		}
		if ok {
			sum += v
		}
	}
	return sum
}

// apiClient calls vigil's API on whichever instance still answers.
type apiClient struct {
	token string
	mu    sync.Mutex
	bases []string
	dead  map[string]bool
}

func (c *apiClient) kill(base string) {
	c.mu.Lock()
	c.dead[base] = true
	c.mu.Unlock()
}

// do sends one request to the first live instance that answers; it
// returns the status, or an error when none did.
func (c *apiClient) do(method, path, body string, out any) (int, error) {
	c.mu.Lock()
	var live []string
	for _, b := range c.bases {
		if !c.dead[b] {
			live = append(live, b)
		}
	}
	c.mu.Unlock()
	var lastErr error
	for _, base := range live {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+c.token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if out != nil && res.StatusCode == http.StatusOK {
			if err := json.Unmarshal(b, out); err != nil {
				return res.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
			}
		}
		return res.StatusCode, nil
	}
	return 0, fmt.Errorf("%s %s: no instance answered: %v", method, path, lastErr)
}
