package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/numfmt"
)

// Main is `vigil bench ingest ARGS`: it parses args, runs, and prints the
// Result to stdout, as text or (--json) as one JSON object. Usage and
// progress go to stderr. It returns nil after --help.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg Config
	var ackPath string
	var asJSON bool
	fs.StringVar(&cfg.URL, "url", DefaultURL, "base URL of the server; several, comma-separated, take requests in turn (instances on one database)")
	fs.StringVar(&cfg.Token, "token", "", "bearer token (default $VIGIL_TOKEN; none is sent if both are empty, as real Alertmanager needs)")
	fs.StringVar(&cfg.Format, "format", FormatVigil, "payload format: vigil (POST /api/v1/alerts) or alertmanager (POST /api/v2/alerts)")
	fs.IntVar(&cfg.Batch, "batch", DefaultBatch, "alerts per request")
	fs.IntVar(&cfg.Concurrency, "concurrency", DefaultConcurrency, "closed-loop workers; with --rate, the most requests in flight")
	fs.Float64Var(&cfg.Rate, "rate", 0, "if > 0, open loop: requests per second on a fixed schedule, latency measured from each request's due time")
	fs.DurationVar(&cfg.Duration, "duration", DefaultDuration, "measured period; the run stops by itself after --warmup + --duration")
	fs.DurationVar(&cfg.Warmup, "warmup", 0, "unmeasured period before --duration (connections, caches, JIT of the server's hot paths)")
	fs.IntVar(&cfg.Keys, "keys", 0, "distinct alert identities cycled through; 0: every alert is new, N>0: repeats update existing alerts")
	fs.Int64Var(&cfg.Seed, "seed", 1, "seed of the generated alerts; same seed, same alerts")
	fs.DurationVar(&cfg.Timeout, "timeout", DefaultTimeout, "per-request timeout")
	fs.StringVar(&ackPath, "ack-log", "", "append the source_id of every alert answered 2xx to this file, one per line (meaningful with --keys 0)")
	fs.BoolVar(&asJSON, "json", false, "print the result as one JSON object")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: vigil bench ingest [flags]\n\nPosts generated security alerts to a vigil or Alertmanager server and reports throughput and latency.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench ingest: unexpected argument %q", fs.Arg(0))
	}
	// Validate before Run fills defaults: an explicit --batch 0 is a
	// mistake to report, not a request for the default.
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("bench ingest: %w", err)
	}
	if cfg.Token == "" {
		cfg.Token = os.Getenv("VIGIL_TOKEN")
	}
	if ackPath != "" {
		f, err := os.OpenFile(ackPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("ack log: %w", err)
		}
		// Unbuffered on purpose: each acknowledged request is written as its
		// answer arrives, so the log is complete even if this process is
		// killed along with the server in a crash test.
		defer f.Close()
		cfg.AckLog = f
	}
	// Say what is about to happen: a 10 s run that prints nothing looks hung.
	// The token is never printed.
	mode := "closed loop"
	if cfg.Rate > 0 {
		mode = fmt.Sprintf("open loop at %s req/s", rate(cfg.Rate))
	}
	var targets []string
	for _, t := range cfg.urls() {
		t = strings.TrimRight(t, "/")
		if u, err := url.Parse(t); err == nil {
			t = u.Redacted() // a password in the URL is a secret too
		}
		targets = append(targets, t)
	}
	target := strings.Join(targets, ",")
	fmt.Fprintf(stderr, "bench ingest: %s %s, %s, concurrency %s, batch %s, keys %s, seed %d, warmup %s, duration %s\n",
		cfg.Format, target, mode, numfmt.Int(cfg.Concurrency), numfmt.Int(cfg.Batch), numfmt.Int(cfg.Keys), cfg.Seed, cfg.Warmup, cfg.Duration)

	res, err := Run(ctx, cfg)
	if err != nil && res.Format == "" {
		return err // configuration error: nothing ran
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		if perr := enc.Encode(res); perr != nil {
			return perr
		}
	} else {
		WriteText(stdout, res)
	}
	return err
}

// rate writes a request rate as given (500, 0.5), with thousands
// separators (1,500).
func rate(r float64) string {
	if r == float64(int64(r)) {
		return numfmt.Int(int64(r))
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// WriteText prints res as aligned "name value" lines, counts with
// thousands separators (scripts/bench-compare strips them).
func WriteText(w io.Writer, res Result) {
	mode := "closed loop"
	if res.Mode == "open" {
		mode = fmt.Sprintf("open loop, %s req/s", rate(res.Rate))
	}
	n := numfmt.Int[int64]
	fmt.Fprintf(w, "format       %s (%s, concurrency %s, batch %s, keys %s, seed %d)\n",
		res.Format, mode, n(int64(res.Concurrency)), n(int64(res.Batch)), n(int64(res.Keys)), res.Seed)
	fmt.Fprintf(w, "requests     %s\n", n(res.Requests))
	fmt.Fprintf(w, "alerts       %s acknowledged", n(res.Alerts))
	if res.Rejected > 0 {
		fmt.Fprintf(w, ", %s rejected in 2xx answers", n(res.Rejected))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "errors       %s (http %s, transport %s)\n", n(res.Errors), n(res.HTTPErrors), n(res.TransportErrors))
	if res.FirstError != "" {
		fmt.Fprintf(w, "first error  %s\n", res.FirstError)
	}
	if res.Unsent > 0 {
		fmt.Fprintf(w, "unsent       %s requests due but not sent (server too slow for --rate)\n", n(res.Unsent))
	}
	if res.Interrupted {
		fmt.Fprintln(w, "interrupted  yes (partial result)")
	}
	fmt.Fprintf(w, "elapsed      %s\n", res.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "alerts/s     %s\n", numfmt.Float(res.AlertsPerSec, 1))
	fmt.Fprintf(w, "requests/s   %s\n", numfmt.Float(res.RequestsPerSec, 1))
	fmt.Fprintf(w, "latency ms   p50 %s  p90 %s  p99 %s  max %s\n",
		numfmt.Float(ms(res.LatencyP50), 2), numfmt.Float(ms(res.LatencyP90), 2), numfmt.Float(ms(res.LatencyP99), 2), numfmt.Float(ms(res.LatencyMax), 2))
}
