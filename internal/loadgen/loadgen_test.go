package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
)

var (
	sourceIDRe  = regexp.MustCompile(`^lg-\d+-\d+$`)
	labelNameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// amPostable is the Alertmanager API v2 postableAlert, parsed strictly as
// Alertmanager's generated models would.
type amPostable struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
}

// fakeServer counts what arrives and checks every body against the
// contract of its format. respond, if set, chooses the answer per request.
type fakeServer struct {
	t       *testing.T
	format  string
	respond func(n int, ids []string) (status int, body string)
	delay   time.Duration

	mu       sync.Mutex
	requests int
	alerts   int
	auth     map[string]int
	problems []string
	ids      []string            // every source id received, in order
	acked    map[string]int      // source ids of requests answered 200 in full
	content  map[string]string   // source id -> title, to check identities are stable
	bodies   [][]byte            // first few bodies
	byReq    map[int][]string    // request number -> ids
	titles   map[string]struct{} // distinct titles seen
}

func newFakeServer(t *testing.T, format string) *fakeServer {
	return &fakeServer{t: t, format: format, auth: map[string]int{}, acked: map[string]int{},
		content: map[string]string{}, byReq: map[int][]string{}, titles: map[string]struct{}{}}
}

func (f *fakeServer) problem(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.problems) < 20 {
		f.problems = append(f.problems, fmt.Sprintf(format, args...))
	}
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	want := "/api/v1/alerts"
	if f.format == FormatAlertmanager {
		want = "/api/v2/alerts"
	}
	if r.Method != http.MethodPost || r.URL.Path != want {
		f.problem("unexpected %s %s", r.Method, r.URL.Path)
		http.Error(w, "no", http.StatusNotFound)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		f.problem("content type %q", ct)
	}
	var raw bytes.Buffer
	if _, err := raw.ReadFrom(r.Body); err != nil {
		f.problem("read: %v", err)
		return
	}
	ids, titles := f.check(raw.Bytes())
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-r.Context().Done():
			return
		}
	}
	f.mu.Lock()
	n := f.requests
	f.requests++
	f.alerts += len(ids)
	f.auth[r.Header.Get("Authorization")]++
	f.ids = append(f.ids, ids...)
	f.byReq[n] = ids
	if len(f.bodies) < 3 {
		f.bodies = append(f.bodies, raw.Bytes())
	}
	for i, id := range ids {
		if prev, ok := f.content[id]; ok && prev != titles[i] {
			f.problems = append(f.problems, fmt.Sprintf("identity %s changed title %q -> %q", id, prev, titles[i]))
		}
		f.content[id] = titles[i]
		f.titles[titles[i]] = struct{}{}
	}
	f.mu.Unlock()

	status, body := http.StatusOK, ""
	if f.respond != nil {
		status, body = f.respond(n, ids)
	}
	if body == "" && status == http.StatusOK && f.format == FormatVigil {
		body = fmt.Sprintf(`{"accepted":%d,"results":[]}`, len(ids))
	}
	full := status == http.StatusOK
	if full && f.format == FormatVigil {
		var ans struct{ Accepted int }
		full = json.Unmarshal([]byte(body), &ans) == nil && ans.Accepted == len(ids)
	}
	if full {
		f.mu.Lock()
		for _, id := range ids {
			f.acked[id]++
		}
		f.mu.Unlock()
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// check parses a body as its format's contract and returns each alert's
// source id and title.
func (f *fakeServer) check(raw []byte) (ids, titles []string) {
	if f.format == FormatVigil {
		// The real model: what vigil's handler will decode into and
		// normalize.
		var as []alert.Alert
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&as); err != nil {
			f.problem("vigil body does not parse: %v", err)
			return nil, nil
		}
		for i := range as {
			a := &as[i]
			if err := a.Normalize(time.Now()); err != nil {
				f.problem("alert %d invalid: %v", i, err)
			}
			if a.Source != Source || !sourceIDRe.MatchString(a.SourceID) || a.Product == "" || a.Description == "" || len(a.Entities) == 0 {
				f.problem("alert %d incomplete: %+v", i, a)
			}
			if a.FirstSeen.IsZero() || a.LastSeen.IsZero() {
				f.problem("alert %d has no times", i)
			}
			ids = append(ids, a.SourceID)
			titles = append(titles, a.Title)
		}
		return ids, titles
	}
	var as []amPostable
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&as); err != nil {
		f.problem("alertmanager body does not parse: %v", err)
		return nil, nil
	}
	for i, a := range as {
		if len(a.Labels) == 0 || a.Labels["alertname"] == "" || a.Labels["severity"] == "" || a.Labels["instance"] == "" {
			f.problem("alert %d labels: %v", i, a.Labels)
		}
		for k, v := range a.Labels {
			if !labelNameRe.MatchString(k) || v == "" {
				f.problem("alert %d bad label %q=%q", i, k, v)
			}
		}
		if a.Annotations["summary"] == "" || a.Annotations["description"] == "" {
			f.problem("alert %d annotations: %v", i, a.Annotations)
		}
		if a.StartsAt.IsZero() || !a.EndsAt.After(a.StartsAt) || !a.EndsAt.After(time.Now()) {
			f.problem("alert %d times %v..%v", i, a.StartsAt, a.EndsAt)
		}
		if u, err := url.Parse(a.GeneratorURL); err != nil || !u.IsAbs() {
			f.problem("alert %d generatorURL %q", i, a.GeneratorURL)
		}
		if !sourceIDRe.MatchString(a.Labels["source_id"]) {
			f.problem("alert %d source_id label %q", i, a.Labels["source_id"])
		}
		ids = append(ids, a.Labels["source_id"])
		titles = append(titles, a.Annotations["summary"])
	}
	return ids, titles
}

func (f *fakeServer) start() *httptest.Server {
	srv := httptest.NewServer(f)
	f.t.Cleanup(srv.Close)
	f.t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, p := range f.problems {
			f.t.Error(p)
		}
	})
	return srv
}

// runTimed runs cfg and fails the test if it does not stop by itself
// within limit.
func runTimed(t *testing.T, cfg Config, limit time.Duration) Result {
	t.Helper()
	start := time.Now()
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if took := time.Since(start); took > limit {
		t.Fatalf("run took %v, want at most %v", took, limit)
	}
	return res
}

func TestRunVigilFormat(t *testing.T) {
	f := newFakeServer(t, FormatVigil)
	srv := f.start()
	res := runTimed(t, Config{URL: srv.URL, Token: "s3cret", Format: FormatVigil, Batch: 10, Concurrency: 3,
		Duration: 300 * time.Millisecond, Seed: 42}, 2*time.Second)

	f.mu.Lock()
	defer f.mu.Unlock()
	if res.Requests == 0 || res.Requests != int64(f.requests) {
		t.Errorf("result says %d requests, server counted %d", res.Requests, f.requests)
	}
	if res.Alerts != int64(f.alerts) || res.Alerts != res.Requests*10 {
		t.Errorf("result says %d alerts, server counted %d", res.Alerts, f.alerts)
	}
	if res.Errors != 0 || res.FirstError != "" {
		t.Errorf("errors %d: %s", res.Errors, res.FirstError)
	}
	if f.auth["Bearer s3cret"] != f.requests {
		t.Errorf("authorization headers: %v", f.auth)
	}
	seen := map[string]bool{}
	for _, id := range f.ids {
		if seen[id] {
			t.Fatalf("--keys 0 sent %s twice", id)
		}
		seen[id] = true
		if !strings.HasPrefix(id, "lg-42-") {
			t.Fatalf("source id %s does not carry the seed", id)
		}
	}
	if len(f.titles) < 10 {
		t.Errorf("only %d distinct alert types in %d alerts", len(f.titles), f.alerts)
	}
	if res.Elapsed < 300*time.Millisecond || res.Elapsed > time.Second {
		t.Errorf("elapsed %v for a 300ms run", res.Elapsed)
	}
	if res.AlertsPerSec <= 0 || res.LatencyP50 <= 0 || res.LatencyP50 > res.LatencyP90 ||
		res.LatencyP90 > res.LatencyP99 || res.LatencyP99 > res.LatencyMax {
		t.Errorf("implausible figures: %+v", res)
	}
}

func TestRunAlertmanagerFormat(t *testing.T) {
	f := newFakeServer(t, FormatAlertmanager)
	srv := f.start()
	res := runTimed(t, Config{URL: srv.URL + "/", Format: FormatAlertmanager, Batch: 7, Concurrency: 2,
		Duration: 200 * time.Millisecond}, 2*time.Second)
	f.mu.Lock()
	defer f.mu.Unlock()
	if res.Requests == 0 || res.Requests != int64(f.requests) || res.Alerts != int64(f.alerts) {
		t.Errorf("result %d req/%d alerts, server %d/%d", res.Requests, res.Alerts, f.requests, f.alerts)
	}
	// Without a token no Authorization header: real Alertmanager needs none.
	if f.auth[""] != f.requests {
		t.Errorf("authorization headers: %v", f.auth)
	}
	if res.Errors != 0 {
		t.Errorf("errors: %s", res.FirstError)
	}
}

// The two formats must carry the same logical alerts, or the comparison
// compares different work.
func TestFormatsCarrySameAlerts(t *testing.T) {
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	gv, err := newGenerator(FormatVigil, 9, 0, 50, base)
	if err != nil {
		t.Fatal(err)
	}
	ga, err := newGenerator(FormatAlertmanager, 9, 0, 50, base)
	if err != nil {
		t.Fatal(err)
	}
	now := base.Add(time.Minute)
	for req := range int64(3) {
		var va []alert.Alert
		var aa []amPostable
		if err := json.Unmarshal(gv.body(req, now), &va); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(ga.body(req, now), &aa); err != nil {
			t.Fatal(err)
		}
		if len(va) != 50 || len(aa) != 50 {
			t.Fatalf("batch sizes %d, %d", len(va), len(aa))
		}
		for i := range va {
			v, a := va[i], aa[i]
			if v.SourceID != a.Labels["source_id"] || v.Title != a.Annotations["summary"] ||
				string(v.Severity) != a.Labels["severity"] || !v.FirstSeen.Equal(a.StartsAt) ||
				v.Product != a.Labels["product"] || v.Description != a.Annotations["description"] {
				t.Fatalf("alert %d differs:\nvigil %+v\nam    %+v", i, v, a)
			}
			if want := SourceID(9, req*50+int64(i)); v.SourceID != want {
				t.Fatalf("source id %s, want %s", v.SourceID, want)
			}
			if !v.LastSeen.Equal(now) || !a.EndsAt.After(now) {
				t.Fatalf("dynamic times: last_seen %v endsAt %v", v.LastSeen, a.EndsAt)
			}
		}
	}
}

func TestGeneratorDeterministic(t *testing.T) {
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	gen := func(seed int64) []byte {
		g, err := newGenerator(FormatVigil, seed, 0, 20, base)
		if err != nil {
			t.Fatal(err)
		}
		return g.body(5, base)
	}
	if !bytes.Equal(gen(3), gen(3)) {
		t.Error("same seed, different bodies")
	}
	a, b := gen(3), gen(4)
	// Strip the seed from the source ids before comparing the content.
	b = bytes.ReplaceAll(b, []byte(`"lg-4-`), []byte(`"lg-3-`))
	if bytes.Equal(a, b) {
		t.Error("different seeds, same content")
	}
	if _, err := newGenerator("nope", 1, 0, 1, base); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestKeysRepeatIdentities(t *testing.T) {
	f := newFakeServer(t, FormatVigil)
	srv := f.start()
	res := runTimed(t, Config{URL: srv.URL, Batch: 5, Concurrency: 2, Keys: 7,
		Duration: 200 * time.Millisecond}, 2*time.Second)
	f.mu.Lock()
	defer f.mu.Unlock()
	distinct := map[string]bool{}
	for _, id := range f.ids {
		distinct[id] = true
	}
	if res.Requests < 3 || len(distinct) != 7 {
		t.Errorf("%d requests carried %d distinct ids, want 7", res.Requests, len(distinct))
	}
	// fakeServer.ServeHTTP reports an identity whose content changed.
}

func TestStopsWhenServerHangs(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hang)
	res := runTimed(t, Config{URL: srv.URL, Batch: 2, Concurrency: 3, Duration: 200 * time.Millisecond,
		Timeout: 300 * time.Millisecond}, 1500*time.Millisecond)
	if res.TransportErrors != 3 || res.Requests != 3 || res.Alerts != 0 {
		t.Errorf("want 3 timed-out requests, got %+v", res)
	}
	if !strings.Contains(res.FirstError, "transport") {
		t.Errorf("first error %q", res.FirstError)
	}
}

func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	res := runTimed(t, Config{URL: "http://" + addr, Batch: 1, Concurrency: 1, Duration: 100 * time.Millisecond}, time.Second)
	if res.Requests == 0 || res.TransportErrors != res.Requests || res.Alerts != 0 {
		t.Errorf("refused connections: %+v", res)
	}
}

func TestOpenLoopRate(t *testing.T) {
	f := newFakeServer(t, FormatAlertmanager)
	srv := f.start()
	res := runTimed(t, Config{URL: srv.URL, Format: FormatAlertmanager, Batch: 2, Concurrency: 4, Rate: 100,
		Duration: time.Second}, 2*time.Second)
	if res.Mode != "open" || res.Requests < 90 || res.Requests > 101 || res.Unsent != 0 {
		t.Errorf("100 req/s for 1s: %d requests, %d unsent", res.Requests, res.Unsent)
	}
	if res.RequestsPerSec < 85 || res.RequestsPerSec > 105 {
		t.Errorf("rate %.1f req/s, want about 100", res.RequestsPerSec)
	}
}

// A server that can do 20 req/s, asked for 40: a closed-loop tool would
// report ~50ms latencies; the open loop must charge the queueing.
func TestOpenLoopChargesQueueing(t *testing.T) {
	f := newFakeServer(t, FormatVigil)
	f.delay = 50 * time.Millisecond
	srv := f.start()
	res := runTimed(t, Config{URL: srv.URL, Batch: 1, Concurrency: 1, Rate: 40, Duration: time.Second}, 2*time.Second)
	if res.LatencyP99 < 300*time.Millisecond {
		t.Errorf("p99 %v: queueing behind a slow server is hidden", res.LatencyP99)
	}
	if res.Unsent < 10 || res.Requests+res.Unsent != 40 {
		t.Errorf("requests %d + unsent %d, want 40 due with at least 10 unsent", res.Requests, res.Unsent)
	}
}

func TestWarmupNotMeasured(t *testing.T) {
	f := newFakeServer(t, FormatVigil)
	srv := f.start()
	res := runTimed(t, Config{URL: srv.URL, Batch: 1, Concurrency: 1, Warmup: 200 * time.Millisecond,
		Duration: 200 * time.Millisecond}, 2*time.Second)
	f.mu.Lock()
	defer f.mu.Unlock()
	if res.Requests == 0 || res.Requests >= int64(f.requests) {
		t.Errorf("measured %d of %d requests: warmup counted", res.Requests, f.requests)
	}
	if res.Elapsed < 200*time.Millisecond || res.Elapsed > 700*time.Millisecond {
		t.Errorf("elapsed %v should cover only the measured 200ms", res.Elapsed)
	}
}

func TestAckLogListsExactlyAcknowledged(t *testing.T) {
	f := newFakeServer(t, FormatVigil)
	f.respond = func(n int, ids []string) (int, string) {
		switch {
		case n%3 == 1:
			return http.StatusInternalServerError, "boom\n  at the database"
		case n%5 == 2:
			// 200, but one alert was not taken: must not be logged.
			return http.StatusOK, fmt.Sprintf(`{"accepted":%d,"results":[]}`, len(ids)-1)
		}
		return http.StatusOK, ""
	}
	srv := f.start()
	var log bytes.Buffer
	res := runTimed(t, Config{URL: srv.URL, Batch: 4, Concurrency: 2, Duration: 300 * time.Millisecond,
		Warmup: 100 * time.Millisecond, Seed: 5, AckLog: &log}, 2*time.Second)
	got, err := ReadAckLog(&log)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var want []string
	for id := range f.acked {
		want = append(want, id)
	}
	slices.Sort(got)
	slices.Sort(want)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("ack log has %d ids, server fully acknowledged %d", len(got), len(want))
	}
	if res.HTTPErrors == 0 || res.Rejected == 0 {
		t.Errorf("errors %d rejected %d", res.HTTPErrors, res.Rejected)
	}
	if res.FirstError != "HTTP 500: boom at the database" {
		t.Errorf("first error %q", res.FirstError)
	}
	if res.Alerts+res.Rejected+res.HTTPErrors*4 != res.Requests*4 {
		t.Errorf("alerts %d + rejected %d + failed %d != sent %d", res.Alerts, res.Rejected, res.HTTPErrors*4, res.Requests*4)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		out := make([]time.Duration, len(vs))
		for i, v := range vs {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	thousand := make([]int, 1000)
	for i := range thousand {
		thousand[i] = i + 1
	}
	for _, tc := range []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample p50", ms(7), 50, 7 * time.Millisecond},
		{"one sample p99", ms(7), 99, 7 * time.Millisecond},
		{"two p50 is the lower", ms(1, 2), 50, 1 * time.Millisecond},
		{"two p51", ms(1, 2), 51, 2 * time.Millisecond},
		{"four p50", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"four p75", ms(1, 2, 3, 4), 75, 3 * time.Millisecond},
		{"four p76", ms(1, 2, 3, 4), 76, 4 * time.Millisecond},
		{"1..100 p50", ms(hundred...), 50, 50 * time.Millisecond},
		{"1..100 p90", ms(hundred...), 90, 90 * time.Millisecond},
		{"1..100 p99", ms(hundred...), 99, 99 * time.Millisecond},
		{"1..100 p100", ms(hundred...), 100, 100 * time.Millisecond},
		{"1..1000 p99", ms(thousand...), 99, 990 * time.Millisecond},
		{"1..1000 p99.9", ms(thousand...), 99.9, 999 * time.Millisecond},
		{"p0 is the minimum", ms(3, 5, 9), 0, 3 * time.Millisecond},
		{"outlier only in max", ms(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 500), 90, 1 * time.Millisecond},
		{"outlier p100", ms(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 500), 100, 500 * time.Millisecond},
	} {
		if got := percentile(tc.samples, tc.p); got != tc.want {
			t.Errorf("%s: percentile(p%g) = %v, want %v", tc.name, tc.p, got, tc.want)
		}
	}
}

func TestMainJSONWithEnvToken(t *testing.T) {
	f := newFakeServer(t, FormatVigil)
	srv := f.start()
	t.Setenv("VIGIL_TOKEN", "env-token-xyz")
	ack := filepath.Join(t.TempDir(), "acks.txt")
	var stdout, stderr bytes.Buffer
	err := Main(context.Background(), []string{"--url", srv.URL, "--duration", "200ms", "--batch", "3",
		"--concurrency", "2", "--seed", "11", "--json", "--ack-log", ack}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("Main: %v\n%s", err, stderr.String())
	}
	var out map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("--json output %q: %v", stdout.String(), err)
	}
	for _, k := range []string{"requests", "alerts", "errors", "elapsed_s", "alerts_per_s", "requests_per_s",
		"latency_p50_ms", "latency_p90_ms", "latency_p99_ms", "latency_max_ms"} {
		if _, ok := out[k]; !ok {
			t.Errorf("--json lacks %s: %s", k, stdout.String())
		}
	}
	if out["alerts_per_s"].(float64) <= 0 || out["seed"].(float64) != 11 {
		t.Errorf("figures: %s", stdout.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), "env-token-xyz") {
		t.Error("the token was printed")
	}
	f.mu.Lock()
	requests, auth := f.requests, f.auth["Bearer env-token-xyz"]
	f.mu.Unlock()
	if auth != requests {
		t.Errorf("token from $VIGIL_TOKEN not sent: %d of %d", auth, requests)
	}
	data, err := os.ReadFile(ack)
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := ReadAckLog(bytes.NewReader(data))
	if int64(len(ids)) != int64(out["alerts"].(float64)) || len(ids) == 0 || !strings.HasPrefix(ids[0], "lg-11-") {
		t.Errorf("ack log has %d ids for %v alerts", len(ids), out["alerts"])
	}
}

func TestMainText(t *testing.T) {
	f := newFakeServer(t, FormatAlertmanager)
	srv := f.start()
	var stdout, stderr bytes.Buffer
	err := Main(context.Background(), []string{"--url", srv.URL, "--format", "alertmanager", "--duration", "100ms",
		"--token", "flag-token-abc"}, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"requests ", "alerts ", "errors ", "elapsed ", "alerts/s ", "requests/s ", "p50 ", "p90 ", "p99 ", "max "} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	if strings.Contains(stdout.String()+stderr.String(), "flag-token-abc") {
		t.Error("the token was printed")
	}
}

func TestMainRejectsBadFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	for _, args := range [][]string{
		{"--format", "nope"},
		{"--batch", "0"},
		{"--concurrency", "-1"},
		{"--duration", "0s"},
		{"--url", "127.0.0.1:8080"},
		{"--rate", "-3"},
		{"extra"},
		{"--no-such-flag"},
	} {
		if err := Main(context.Background(), args, &stdout, &stderr); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	if err := Main(context.Background(), []string{"--help"}, &stdout, &stderr); err != nil {
		t.Errorf("--help: %v", err)
	}
	if !strings.Contains(stderr.String(), "--ack-log") && !strings.Contains(stderr.String(), "-ack-log") {
		t.Error("usage does not list the flags")
	}
}

func TestCancelledRunIsPartial(t *testing.T) {
	f := newFakeServer(t, FormatVigil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel from the server once the run is under way: a timer would race
	// with payload generation, which is slow under -race.
	f.respond = func(n int, _ []string) (int, string) {
		if n == 5 {
			cancel()
		}
		return http.StatusOK, ""
	}
	srv := f.start()
	start := time.Now()
	res, err := Run(ctx, Config{URL: srv.URL, Batch: 1, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 5*time.Second || !res.Interrupted || res.Requests < 1 || res.Errors != 0 {
		t.Errorf("cancel did not end the run promptly and cleanly: %+v", res)
	}
}

// TestWriteTextThousands: counts and rates are written for people, with
// thousands separators.
func TestWriteTextThousands(t *testing.T) {
	var b bytes.Buffer
	WriteText(&b, Result{Format: FormatVigil, Mode: "open", Rate: 1500, Concurrency: 1000, Batch: 100, Keys: 20000,
		Requests: 16734, Alerts: 1673400, Rejected: 1200, Errors: 1001, HTTPErrors: 1000, TransportErrors: 1, Unsent: 4500,
		Elapsed: 100 * time.Second, AlertsPerSec: 16734.04, RequestsPerSec: 167.34, LatencyP50: 1234567 * time.Microsecond})
	for _, want := range []string{
		"(open loop, 1,500 req/s, concurrency 1,000, batch 100, keys 20,000",
		"requests     16,734\n", "alerts       1,673,400 acknowledged, 1,200 rejected", "errors       1,001 (http 1,000, transport 1)",
		"unsent       4,500 requests", "alerts/s     16,734.0\n", "requests/s   167.3\n", "p50 1,234.57 ",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}
