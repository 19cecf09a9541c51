// Package loadgen is vigil's own ingest load tool, run as
// `vigil bench ingest`. It posts realistic security alerts to vigil's native
// API (/api/v1/alerts) or to any Alertmanager API v2 endpoint
// (/api/v2/alerts), so the same logical load can be put on vigil and on a
// real Alertmanager and the two compared.
//
// Two load models:
//   - closed loop (default): --concurrency workers, each sends its next
//     request as soon as the previous one is answered. Shows the maximum
//     throughput; its latencies are only those of a saturated server.
//   - open loop (--rate R): requests are due on a fixed schedule, R per
//     second. Latency is measured from the time a request was due, not from
//     when it was actually sent, so a server that stalls is charged for every
//     request that queued behind the stall (no coordinated omission).
//
// Every run stops by itself after --warmup + --duration (plus at most one
// --timeout for requests still in flight).
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config is one run. Zero values of the optional fields take the defaults
// of the command-line flags.
type Config struct {
	// URL is the base URL of the server, e.g. http://127.0.0.1:8080, or
	// several separated by commas (instances behind no load balancer):
	// requests go to them in turn.
	URL         string
	Token       string        // bearer token; empty sends no Authorization header
	Format      string        // FormatVigil or FormatAlertmanager
	Batch       int           // alerts per request
	Concurrency int           // workers (closed loop) or maximum requests in flight (open loop)
	Rate        float64       // requests per second; > 0 selects the open loop
	Duration    time.Duration // measured period
	Warmup      time.Duration // unmeasured period before it
	Keys        int           // distinct alert identities; 0: every alert unique
	Seed        int64         // determines the generated alerts
	Timeout     time.Duration // per request

	// AckLog, if set, receives the source id of every alert of every request
	// answered 2xx (warmup included), one per line, as soon as the answer
	// arrives. Requests whose answer says it accepted fewer alerts than were
	// sent are left out, so the log never claims more than the server did.
	AckLog io.Writer

	// Client replaces the tuned default client (tests).
	Client *http.Client
}

// Defaults of Config and of the flags.
const (
	DefaultURL         = "http://127.0.0.1:8080"
	DefaultBatch       = 100
	DefaultConcurrency = 4
	DefaultDuration    = 10 * time.Second
	DefaultTimeout     = 30 * time.Second
)

func (c *Config) setDefaults() {
	if c.URL == "" {
		c.URL = DefaultURL
	}
	if c.Format == "" {
		c.Format = FormatVigil
	}
	if c.Batch == 0 {
		c.Batch = DefaultBatch
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
}

// urls are the base URLs of Config.URL.
func (c *Config) urls() []string {
	var out []string
	for u := range strings.SplitSeq(c.URL, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

func (c *Config) validate() error {
	urls := c.urls()
	if len(urls) == 0 {
		return fmt.Errorf("--url %q: want an absolute http(s) URL", c.URL)
	}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--url %q: want an absolute http(s) URL", raw)
		}
	}
	switch {
	case c.Format != FormatVigil && c.Format != FormatAlertmanager:
		return fmt.Errorf("--format %q: want %s or %s", c.Format, FormatVigil, FormatAlertmanager)
	case c.Batch < 1:
		return errors.New("--batch must be at least 1")
	case c.Concurrency < 1:
		return errors.New("--concurrency must be at least 1")
	case c.Rate < 0:
		return errors.New("--rate must not be negative")
	case c.Duration <= 0:
		return errors.New("--duration must be positive")
	case c.Warmup < 0:
		return errors.New("--warmup must not be negative")
	case c.Keys < 0:
		return errors.New("--keys must not be negative")
	case c.Timeout <= 0:
		return errors.New("--timeout must be positive")
	}
	return nil
}

// endpoints are the ingest URLs of the format, one per server.
func (c *Config) endpoints() []string {
	path := "/api/v1/alerts"
	if c.Format == FormatAlertmanager {
		path = "/api/v2/alerts"
	}
	var out []string
	for _, u := range c.urls() {
		out = append(out, strings.TrimRight(u, "/")+path)
	}
	return out
}

// Result is what a run measured. Only requests due (open loop) or started
// (closed loop) after the warmup count.
type Result struct {
	Format      string
	Mode        string // "closed" or "open"
	Concurrency int
	Batch       int
	Rate        float64
	Keys        int
	Seed        int64

	Requests        int64  // requests completed, whatever the outcome
	Alerts          int64  // alerts acknowledged by a 2xx answer
	Rejected        int64  // alerts a 2xx answer said it did not accept
	Errors          int64  // HTTPErrors + TransportErrors
	HTTPErrors      int64  // non-2xx answers
	TransportErrors int64  // no answer: refused, reset, timed out
	FirstError      string // the first error, with the start of its body
	// Unsent counts open-loop requests that were due but never sent because
	// every worker was still waiting on the server when the run ended.
	Unsent      int64
	Interrupted bool // the context was cancelled before the run ended

	Elapsed        time.Duration // from the end of the warmup to the last answer
	AlertsPerSec   float64
	RequestsPerSec float64
	LatencyP50     time.Duration
	LatencyP90     time.Duration
	LatencyP99     time.Duration
	LatencyMax     time.Duration
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// MarshalJSON writes durations as seconds and milliseconds, the units a
// script compares, with snake_case names.
func (r Result) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Format          string  `json:"format"`
		Mode            string  `json:"mode"`
		Concurrency     int     `json:"concurrency"`
		Batch           int     `json:"batch"`
		Rate            float64 `json:"rate,omitempty"`
		Keys            int     `json:"keys"`
		Seed            int64   `json:"seed"`
		Requests        int64   `json:"requests"`
		Alerts          int64   `json:"alerts"`
		Rejected        int64   `json:"rejected_alerts"`
		Errors          int64   `json:"errors"`
		HTTPErrors      int64   `json:"http_errors"`
		TransportErrors int64   `json:"transport_errors"`
		FirstError      string  `json:"first_error,omitempty"`
		Unsent          int64   `json:"unsent"`
		Interrupted     bool    `json:"interrupted"`
		ElapsedS        float64 `json:"elapsed_s"`
		AlertsPerSec    float64 `json:"alerts_per_s"`
		RequestsPerSec  float64 `json:"requests_per_s"`
		P50             float64 `json:"latency_p50_ms"`
		P90             float64 `json:"latency_p90_ms"`
		P99             float64 `json:"latency_p99_ms"`
		Max             float64 `json:"latency_max_ms"`
	}{
		r.Format, r.Mode, r.Concurrency, r.Batch, r.Rate, r.Keys, r.Seed,
		r.Requests, r.Alerts, r.Rejected, r.Errors, r.HTTPErrors, r.TransportErrors, r.FirstError,
		r.Unsent, r.Interrupted, r.Elapsed.Seconds(), r.AlertsPerSec, r.RequestsPerSec,
		ms(r.LatencyP50), ms(r.LatencyP90), ms(r.LatencyP99), ms(r.LatencyMax),
	})
}

// newClient is tuned for one host and many small requests: enough idle
// connections that no worker ever dials during the run (Go keeps only 2 per
// host by default, and re-dialling would be measured), no compression
// (loopback; gzip would only burn the CPU the server needs), no HTTP/2.
func newClient(concurrency int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        concurrency * 2,
		MaxIdleConnsPerHost: concurrency * 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}}
}

// maxErrBody is how much of an error answer is kept for the report.
const maxErrBody = 512

// outcome of one request.
type outcome struct {
	aborted   bool // the run's context was cancelled: not a server error
	transport bool
	status    int
	accepted  int64 // alerts acknowledged
	rejected  int64
	errMsg    string
}

// stats is one worker's tally; merged after the run so the hot path takes
// no locks.
type stats struct {
	lat                        []time.Duration
	requests, alerts, rejected int64
	httpErrs, transportErrs    int64
	firstErr                   string
	firstErrAt                 time.Time
}

func (s *stats) add(o outcome, lat time.Duration, at time.Time) {
	s.requests++
	s.lat = append(s.lat, lat)
	s.alerts += o.accepted
	s.rejected += o.rejected
	if o.errMsg == "" {
		return
	}
	if o.transport {
		s.transportErrs++
	} else {
		s.httpErrs++
	}
	if s.firstErr == "" {
		s.firstErr, s.firstErrAt = o.errMsg, at
	}
}

type runner struct {
	cfg       Config
	gen       *generator
	client    *http.Client
	endpoints []string // request n goes to endpoints[n % len]
	auth      string

	start, measureFrom, end time.Time
	interval                time.Duration // open loop: time between due times
	next                    atomic.Int64  // next request number
	ackMu                   sync.Mutex
}

// Run generates the payloads, then loads the server for cfg.Warmup +
// cfg.Duration and returns what it measured. It returns an error only for a
// bad configuration or a failing ack log; server errors are counted in the
// Result. Cancelling ctx ends the run early with Interrupted set.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return Result{}, err
	}
	// Generate before the clock starts, so the run measures the server,
	// not the JSON encoder.
	gen, err := newGenerator(cfg.Format, cfg.Seed, cfg.Keys, cfg.Batch, time.Now())
	if err != nil {
		return Result{}, err
	}
	r := &runner{cfg: cfg, gen: gen, client: cfg.Client, endpoints: cfg.endpoints()}
	if r.client == nil {
		r.client = newClient(cfg.Concurrency)
		defer r.client.CloseIdleConnections()
	}
	if cfg.Token != "" {
		r.auth = "Bearer " + cfg.Token
	}
	res := Result{Format: cfg.Format, Mode: "closed", Concurrency: cfg.Concurrency, Batch: cfg.Batch,
		Rate: cfg.Rate, Keys: cfg.Keys, Seed: cfg.Seed}
	if cfg.Rate > 0 {
		res.Mode = "open"
		r.interval = time.Duration(float64(time.Second) / cfg.Rate)
		if r.interval <= 0 {
			return Result{}, errors.New("--rate too high")
		}
	}

	var ackErr error
	var ackOnce sync.Once
	failAck := func(err error) { ackOnce.Do(func() { ackErr = err }) }

	r.start = time.Now()
	r.measureFrom = r.start.Add(cfg.Warmup)
	r.end = r.measureFrom.Add(cfg.Duration)
	all := make([]stats, cfg.Concurrency)
	var wg sync.WaitGroup
	for i := range all {
		wg.Go(func() {
			if cfg.Rate > 0 {
				r.openWorker(ctx, &all[i], failAck)
			} else {
				r.closedWorker(ctx, &all[i], failAck)
			}
		})
	}
	wg.Wait()
	done := time.Now()
	res.Interrupted = ctx.Err() != nil

	var lat []time.Duration
	var firstAt time.Time
	for i := range all {
		s := &all[i]
		lat = append(lat, s.lat...)
		res.Requests += s.requests
		res.Alerts += s.alerts
		res.Rejected += s.rejected
		res.HTTPErrors += s.httpErrs
		res.TransportErrors += s.transportErrs
		if s.firstErr != "" && (firstAt.IsZero() || s.firstErrAt.Before(firstAt)) {
			res.FirstError, firstAt = s.firstErr, s.firstErrAt
		}
	}
	res.Errors = res.HTTPErrors + res.TransportErrors
	if cfg.Rate > 0 && !res.Interrupted {
		// Due times in [start+warmup, start+warmup+duration).
		ceilDiv := func(d time.Duration) int64 { return int64((d + r.interval - 1) / r.interval) }
		due := ceilDiv(cfg.Warmup+cfg.Duration) - ceilDiv(cfg.Warmup)
		res.Unsent = max(0, due-res.Requests)
	}
	if done.After(r.measureFrom) {
		res.Elapsed = done.Sub(r.measureFrom)
	}
	if s := res.Elapsed.Seconds(); s > 0 {
		res.AlertsPerSec = float64(res.Alerts) / s
		res.RequestsPerSec = float64(res.Requests) / s
	}
	slices.Sort(lat)
	res.LatencyP50 = percentile(lat, 50)
	res.LatencyP90 = percentile(lat, 90)
	res.LatencyP99 = percentile(lat, 99)
	res.LatencyMax = percentile(lat, 100)
	return res, ackErr
}

// closedWorker sends back to back until the run ends.
func (r *runner) closedWorker(ctx context.Context, s *stats, failAck func(error)) {
	for ctx.Err() == nil {
		now := time.Now()
		if !now.Before(r.end) {
			return
		}
		n := r.next.Add(1) - 1
		body := r.gen.body(n, now)
		// The clock starts after the body is built: its cost is a copy,
		// but it is not the server's.
		sent := time.Now()
		o := r.send(ctx, n, body, failAck)
		if o.aborted {
			return
		}
		if !now.Before(r.measureFrom) {
			end := time.Now()
			s.add(o, end.Sub(sent), end)
		}
	}
}

// openWorker takes the next due request, waits for its due time if it is
// ahead, and sends it. When every worker is busy the due times fall behind
// and requests go out late; their latency still counts from the due time.
func (r *runner) openWorker(ctx context.Context, s *stats, failAck func(error)) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for ctx.Err() == nil {
		n := r.next.Add(1) - 1
		due := r.start.Add(time.Duration(n) * r.interval)
		if !due.Before(r.end) {
			return
		}
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		} else if !time.Now().Before(r.end) {
			// Behind schedule at the end: stop rather than run past
			// --duration; the rest is reported as Unsent.
			return
		}
		o := r.send(ctx, n, r.gen.body(n, time.Now()), failAck)
		if o.aborted {
			return
		}
		if !due.Before(r.measureFrom) {
			end := time.Now()
			s.add(o, end.Sub(due), end)
		}
	}
}

// send posts one body and classifies the answer.
func (r *runner) send(ctx context.Context, n int64, body []byte, failAck func(error)) outcome {
	rctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, r.endpoints[n%int64(len(r.endpoints))], bytes.NewReader(body))
	if err != nil {
		return outcome{transport: true, errMsg: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	if r.auth != "" {
		req.Header.Set("Authorization", r.auth)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return outcome{aborted: true}
		}
		return outcome{transport: true, errMsg: "transport: " + err.Error()}
	}
	defer resp.Body.Close()
	o := outcome{status: resp.StatusCode}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		head, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrBody))
		// Drain the rest so the connection can be reused.
		_, _ = io.Copy(io.Discard, resp.Body)
		o.errMsg = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, strings.Join(strings.Fields(string(head)), " "))
		return o
	}
	sent := r.gen.batch
	o.accepted = sent
	if r.cfg.Format == FormatVigil {
		// vigil says how many it took; trust that over the status, so a
		// partial acceptance is not counted as throughput.
		var ans struct {
			Accepted *int64 `json:"accepted"`
		}
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			if ctx.Err() != nil {
				return outcome{aborted: true}
			}
			return outcome{transport: true, errMsg: "transport: reading answer: " + err.Error()}
		}
		if json.Unmarshal(raw, &ans) == nil && ans.Accepted != nil && *ans.Accepted < sent {
			o.accepted = max(0, *ans.Accepted)
			o.rejected = sent - o.accepted
		}
	} else if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		if ctx.Err() != nil {
			return outcome{aborted: true}
		}
		return outcome{transport: true, errMsg: "transport: reading answer: " + err.Error()}
	}
	if r.cfg.AckLog != nil && o.rejected == 0 {
		lines := r.gen.ackLines(n)
		r.ackMu.Lock()
		_, err := r.cfg.AckLog.Write(lines)
		r.ackMu.Unlock()
		if err != nil {
			failAck(fmt.Errorf("ack log: %w", err))
		}
	}
	return o
}

// percentile returns the nearest-rank p-th percentile of sorted samples:
// the smallest sample that at least p% of all samples are less than or
// equal to. It interpolates nothing, so every reported value is a latency
// that was actually observed. p=100 is the maximum; no samples give 0.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// rank = ceil(p/100 * n); the epsilon keeps float error in p*n from
	// pushing an exact rank up by one.
	rank := int(math.Ceil(p*float64(n)/100 - 1e-9))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}
