package loadgen

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SigninConfig is one sign-in flood: Concurrency workers post sign-ins
// with random emails from FloodAddrs, as fast as they are answered, while
// a real user signs in from RealAddr every Every; the server's memory is
// sampled from /proc meanwhile. With Device, the real user is a returning
// browser: it signs in once before the flood and keeps the device cookie
// it gets (vigil_device), presenting and renewing it at every sign-in.
type SigninConfig struct {
	URL             string
	PID             int // the server's process, for its RSS; 0: not sampled
	Email, Password string
	Concurrency     int
	Duration        time.Duration
	FloodAddrs      []netip.Addr // source addresses of the flood, one per worker in turn
	RealAddr        netip.Addr   // source address of the real sign-ins
	Every           time.Duration
	Sample          time.Duration // RSS sampling period
	AbortRSS        int64         // bytes; the flood stops early above this RSS (0: never)
	Timeout         time.Duration // per request
	Device          bool          // the real user keeps a device cookie from a sign-in before the flood
}

// SigninResult is what a sign-in flood measured.
type SigninResult struct {
	Elapsed       time.Duration
	BaseRSS       int64 // bytes, before the flood
	PeakRSS       int64 // the highest VmRSS sampled
	HWM           int64 // VmHWM at the end: the kernel's peak, over the process's life
	AfterRSS      int64 // VmRSS a second after the flood
	Samples       int
	Flood         map[int]int // answers by status
	FloodErrors   int         // requests that got no answer (other than the end of the run)
	FloodRequests int         // answered or failed, not counting those cut by the end of the run
	FloodPending  int         // requests still unanswered when the run ended
	Real          []RealAttempt
	Aborted       string // why the flood stopped early, if it did
	// Device: the real user signed in before the flood (Setup) and had a
	// device cookie to present from then on.
	Device bool
	Setup  *RealAttempt
}

// deviceCookie is the name of vigil's sign-in device cookie.
const deviceCookie = "vigil_device"

// errCut is the Err of a real sign-in still unanswered when the run ended.
const errCut = "no answer when the run ended"

// RealAttempt is one sign-in of the real user.
type RealAttempt struct {
	Latency time.Duration
	Code    int
	OK      bool // 303 with a session cookie
	Err     string
	Device  string // the device cookie the answer set, if any
}

// SigninMain is `vigil bench signin ARGS`.
func SigninMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench signin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg SigninConfig
	var pwFile, floodFrom, realFrom string
	var floodAddrs int
	var abortMB int64
	fs.StringVar(&cfg.URL, "url", DefaultURL, "base URL of the server; must be a loopback address")
	fs.IntVar(&cfg.PID, "pid", 0, "process id of the server, to sample its RSS from /proc (0: not sampled)")
	fs.StringVar(&cfg.Email, "email", "", "email of a real user, who signs in during the flood")
	fs.StringVar(&pwFile, "password-file", "", "file holding that user's password (first line)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 200, "flood workers, each with one sign-in in flight")
	fs.DurationVar(&cfg.Duration, "duration", 20*time.Second, "how long the flood lasts; the run stops by itself")
	fs.StringVar(&floodFrom, "flood-from", "127.0.0.2", "loopback source address of the flood")
	fs.IntVar(&floodAddrs, "flood-addrs", 1, "spread the flood over this many source addresses, counting up from --flood-from")
	fs.StringVar(&realFrom, "real-from", "127.0.0.1", "loopback source address of the real user")
	fs.DurationVar(&cfg.Every, "every", time.Second, "how often the real user signs in")
	fs.DurationVar(&cfg.Sample, "sample", 100*time.Millisecond, "RSS sampling period")
	fs.Int64Var(&abortMB, "abort-rss-mb", 4096, "stop the flood early if the server's RSS passes this many MiB (0: never), so that a server without limits does not take the machine")
	fs.DurationVar(&cfg.Timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.BoolVar(&cfg.Device, "device", true, "the real user is a returning browser: it signs in once before the flood and keeps the device cookie it gets; false: a new browser at each sign-in")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: vigil bench signin [flags]\n\nFloods POST /login with random emails while a real user signs in every second, and reports the server's peak RSS, the flood's answers and the real sign-ins.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench signin: unexpected argument %q", fs.Arg(0))
	}
	if cfg.Email == "" || pwFile == "" {
		return errors.New("bench signin: --email and --password-file are required")
	}
	pw, err := readFirstLine(pwFile)
	if err != nil {
		return fmt.Errorf("bench signin: %w", err)
	}
	cfg.Password = pw
	cfg.AbortRSS = abortMB << 20
	if cfg.FloodAddrs, err = loopbackRange(floodFrom, floodAddrs); err != nil {
		return fmt.Errorf("bench signin: --flood-from: %w", err)
	}
	if cfg.RealAddr, err = loopback(realFrom); err != nil {
		return fmt.Errorf("bench signin: --real-from: %w", err)
	}
	if err := checkLoopbackURL(cfg.URL); err != nil {
		return fmt.Errorf("bench signin: --url: %w", err)
	}
	if cfg.Concurrency < 1 || cfg.Duration <= 0 || cfg.Every <= 0 || cfg.Sample <= 0 {
		return errors.New("bench signin: --concurrency, --duration, --every and --sample must be positive")
	}
	fmt.Fprintf(stderr, "bench signin: %d workers from %s (%d address(es)) for %s against %s; real sign-in from %s every %s (%s)\n",
		cfg.Concurrency, cfg.FloodAddrs[0], len(cfg.FloodAddrs), cfg.Duration, cfg.URL, cfg.RealAddr, cfg.Every, browserKind(cfg.Device))
	res, err := RunSignin(ctx, cfg)
	if err != nil {
		return err
	}
	WriteSigninText(stdout, res)
	return nil
}

// RunSignin runs one sign-in flood; it stops by itself after cfg.Duration
// (plus a second to see the memory settle).
func RunSignin(ctx context.Context, cfg SigninConfig) (SigninResult, error) {
	res := SigninResult{Flood: map[int]int{}}
	var device string // the real user's device cookie, renewed at each success
	if cfg.Device {
		a := realSignin(ctx, cfg, "")
		res.Setup = &a
		if !a.OK {
			return res, fmt.Errorf("bench signin: the real user's sign-in before the flood failed: code %d %s", a.Code, a.Err)
		}
		// A server that issues no device cookie (an older build) is
		// measured all the same, with a browser that has none.
		device, res.Device = a.Device, a.Device != ""
	}
	if cfg.PID > 0 {
		rss, _, err := procMemory(cfg.PID)
		if err != nil {
			return res, err
		}
		res.BaseRSS = rss
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	if cfg.PID > 0 {
		wg.Go(func() { sampleRSS(ctx, cancel, cfg, &res) })
	}
	var mu sync.Mutex
	clients := make([]*http.Client, len(cfg.FloodAddrs))
	for i, a := range cfg.FloodAddrs {
		clients[i] = boundClient(a, cfg.Concurrency, cfg.Timeout, true)
	}
	for w := range cfg.Concurrency {
		c := clients[w%len(clients)]
		wg.Go(func() {
			for ctx.Err() == nil {
				code, err := postSignin(ctx, c, cfg.URL, randomEmail(), fmt.Sprintf("guess-%016x", rand.Uint64()))
				mu.Lock()
				if err != nil && ctx.Err() != nil { // the run ended under it: not an answer
					res.FloodPending++
					mu.Unlock()
					return
				}
				res.FloodRequests++
				if err != nil {
					res.FloodErrors++
				} else {
					res.Flood[code]++
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(10 * time.Millisecond) // no hot loop on a refused connection
				}
			}
		})
	}
	wg.Go(func() {
		t := time.NewTicker(cfg.Every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if ctx.Err() != nil {
				return
			}
			a := realSignin(ctx, cfg, device)
			if a.Err != "" && ctx.Err() != nil {
				a.Err = errCut
			}
			if a.Device != "" {
				device = a.Device
			}
			mu.Lock()
			res.Real = append(res.Real, a)
			mu.Unlock()
		}
	})
	wg.Wait()
	res.Elapsed = time.Since(start)
	for _, c := range clients {
		c.CloseIdleConnections()
	}
	if cfg.PID > 0 {
		time.Sleep(time.Second)
		if rss, hwm, err := procMemory(cfg.PID); err == nil {
			res.AfterRSS, res.HWM = rss, hwm
		}
	}
	return res, nil
}

func sampleRSS(ctx context.Context, stop context.CancelFunc, cfg SigninConfig, res *SigninResult) {
	t := time.NewTicker(cfg.Sample)
	defer t.Stop()
	for {
		rss, _, err := procMemory(cfg.PID)
		if err != nil {
			res.Aborted = "server gone: " + err.Error()
			stop()
			return
		}
		res.Samples++
		res.PeakRSS = max(res.PeakRSS, rss)
		if cfg.AbortRSS > 0 && rss > cfg.AbortRSS {
			res.Aborted = fmt.Sprintf("RSS %d MiB passed --abort-rss-mb", rss>>20)
			stop()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// realSignin signs the real user in once, on a fresh connection,
// presenting device as the device cookie unless it is "".
func realSignin(ctx context.Context, cfg SigninConfig, device string) RealAttempt {
	c := boundClient(cfg.RealAddr, 1, cfg.Timeout, false)
	defer c.CloseIdleConnections()
	start := time.Now()
	req, err := signinRequest(ctx, cfg.URL, cfg.Email, cfg.Password)
	if err != nil {
		return RealAttempt{Err: err.Error()}
	}
	if device != "" {
		req.AddCookie(&http.Cookie{Name: deviceCookie, Value: device})
	}
	r, err := c.Do(req)
	a := RealAttempt{Latency: time.Since(start)}
	if err != nil {
		a.Err = err.Error()
		return a
	}
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	a.Code = r.StatusCode
	for _, ck := range r.Cookies() {
		switch {
		case ck.Value == "":
		case ck.Name == "vigil_session":
			a.OK = r.StatusCode == http.StatusSeeOther
		case ck.Name == deviceCookie:
			a.Device = ck.Value
		}
	}
	return a
}

func browserKind(device bool) string {
	if device {
		return "a returning browser with a device cookie"
	}
	return "a new browser each time"
}

func postSignin(ctx context.Context, c *http.Client, base, email, password string) (int, error) {
	req, err := signinRequest(ctx, base, email, password)
	if err != nil {
		return 0, err
	}
	r, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	return r.StatusCode, nil
}

// signinRequest is the sign-in form as the login page posts it: email,
// password and next, no CSRF token (there is no session yet; the server's
// cross-origin protection lets a request without browser Origin headers
// through).
func signinRequest(ctx context.Context, base, email, password string) (*http.Request, error) {
	form := url.Values{"email": {email}, "password": {password}, "next": {"/board"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// boundClient is an HTTP client whose connections leave from addr, and
// which does not follow redirects (a successful sign-in is a 303).
func boundClient(addr netip.Addr, conns int, timeout time.Duration, keepAlive bool) *http.Client {
	d := &net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)), Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConns: conns, MaxIdleConnsPerHost: conns,
			DisableKeepAlives: !keepAlive},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func randomEmail() string {
	return fmt.Sprintf("flood-%016x@bench.invalid", rand.Uint64())
}

// procMemory reads VmRSS and VmHWM of a process, in bytes.
func procMemory(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("server memory: %w", err)
	}
	defer f.Close()
	return parseProcStatus(f)
}

func parseProcStatus(r io.Reader) (rss, hwm int64, err error) {
	sc := bufio.NewScanner(r)
	found := 0
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("server memory: %s: %w", k, err)
		}
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
		found++
	}
	if err := sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("server memory: %w", err)
	}
	if found != 2 {
		return 0, 0, errors.New("server memory: no VmRSS and VmHWM in /proc status")
	}
	return rss, hwm, nil
}

func readFirstLine(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimRight(line, "\r")
	if line == "" {
		return "", errors.New("password file: first line is empty")
	}
	return line, nil
}

// A load test sends traffic only to this machine: every address it uses
// must be a loopback one.
func loopback(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return a, err
	}
	if !a.IsLoopback() {
		return a, fmt.Errorf("%s is not a loopback address", a)
	}
	return a, nil
}

func loopbackRange(first string, n int) ([]netip.Addr, error) {
	a, err := loopback(first)
	if err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, errors.New("--flood-addrs must be at least 1")
	}
	out := make([]netip.Addr, 0, n)
	for range n {
		if !a.IsLoopback() {
			return nil, fmt.Errorf("%d addresses from %s leave the loopback range", n, first)
		}
		out = append(out, a)
		a = a.Next()
	}
	return out, nil
}

func checkLoopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if _, err := loopback(host); err != nil {
		return err
	}
	return nil
}

// WriteSigninText prints a SigninResult for people.
func WriteSigninText(w io.Writer, r SigninResult) {
	mib := func(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
	fmt.Fprintf(w, "elapsed          %s\n", r.Elapsed.Round(time.Millisecond))
	if r.Samples > 0 {
		fmt.Fprintf(w, "server RSS       before %s, peak %s (%d samples), a second after %s; VmHWM %s\n",
			mib(r.BaseRSS), mib(r.PeakRSS), r.Samples, mib(r.AfterRSS), mib(r.HWM))
	}
	if r.Aborted != "" {
		fmt.Fprintf(w, "ABORTED          %s\n", r.Aborted)
	}
	codes := make([]int, 0, len(r.Flood))
	for c := range r.Flood {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", r.Flood[c], c))
	}
	fmt.Fprintf(w, "flood            %d answered (%s), %d failed, %d unanswered at the end; %.0f answers/s\n",
		r.FloodRequests-r.FloodErrors, strings.Join(parts, " "), r.FloodErrors, r.FloodPending,
		float64(r.FloodRequests-r.FloodErrors)/r.Elapsed.Seconds())
	ok, cut := 0, 0
	var lat []time.Duration
	var outcomes []string
	for _, a := range r.Real {
		if a.OK {
			ok++
			lat = append(lat, a.Latency)
		}
		if a.Err == errCut {
			cut++
		}
		switch {
		case a.Err != "":
			outcomes = append(outcomes, fmt.Sprintf("(%s after %s)", a.Err, a.Latency.Round(time.Millisecond)))
		default:
			outcomes = append(outcomes, strconv.Itoa(a.Code))
		}
	}
	slices.Sort(lat)
	if r.Setup != nil {
		fmt.Fprintf(w, "real browser     signed in before the flood (%d in %s), device cookie kept: %v\n",
			r.Setup.Code, r.Setup.Latency.Round(time.Millisecond), r.Device)
	}
	fmt.Fprintf(w, "real sign-ins    %d of %d answered succeeded, %d unanswered at the end; latency of successes p50 %s, max %s\n",
		ok, len(r.Real)-cut, cut, percentile(lat, 50).Round(time.Millisecond), percentile(lat, 100).Round(time.Millisecond))
	fmt.Fprintf(w, "real answers     %s\n", strings.Join(outcomes, " "))
}
