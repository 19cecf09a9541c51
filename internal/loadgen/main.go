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
	"strings"
	"time"
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
	fs.StringVar(&cfg.URL, "url", DefaultURL, "base URL of the server")
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
		mode = fmt.Sprintf("open loop at %g req/s", cfg.Rate)
	}
	target := strings.TrimRight(cfg.URL, "/")
	if u, err := url.Parse(target); err == nil {
		target = u.Redacted() // a password in the URL is a secret too
	}
	fmt.Fprintf(stderr, "bench ingest: %s %s, %s, concurrency %d, batch %d, keys %d, seed %d, warmup %s, duration %s\n",
		cfg.Format, target, mode, cfg.Concurrency, cfg.Batch, cfg.Keys, cfg.Seed, cfg.Warmup, cfg.Duration)

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

// WriteText prints res as aligned "name value" lines.
func WriteText(w io.Writer, res Result) {
	mode := "closed loop"
	if res.Mode == "open" {
		mode = fmt.Sprintf("open loop, %g req/s", res.Rate)
	}
	fmt.Fprintf(w, "format       %s (%s, concurrency %d, batch %d, keys %d, seed %d)\n",
		res.Format, mode, res.Concurrency, res.Batch, res.Keys, res.Seed)
	fmt.Fprintf(w, "requests     %d\n", res.Requests)
	fmt.Fprintf(w, "alerts       %d acknowledged", res.Alerts)
	if res.Rejected > 0 {
		fmt.Fprintf(w, ", %d rejected in 2xx answers", res.Rejected)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "errors       %d (http %d, transport %d)\n", res.Errors, res.HTTPErrors, res.TransportErrors)
	if res.FirstError != "" {
		fmt.Fprintf(w, "first error  %s\n", res.FirstError)
	}
	if res.Unsent > 0 {
		fmt.Fprintf(w, "unsent       %d requests due but not sent (server too slow for --rate)\n", res.Unsent)
	}
	if res.Interrupted {
		fmt.Fprintln(w, "interrupted  yes (partial result)")
	}
	fmt.Fprintf(w, "elapsed      %s\n", res.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "alerts/s     %.1f\n", res.AlertsPerSec)
	fmt.Fprintf(w, "requests/s   %.1f\n", res.RequestsPerSec)
	fmt.Fprintf(w, "latency ms   p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n",
		ms(res.LatencyP50), ms(res.LatencyP90), ms(res.LatencyP99), ms(res.LatencyMax))
}
