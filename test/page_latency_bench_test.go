package test

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/twilio/twilioemu"
)

// The page latency benchmarks measure what a responder waits for: from
// the moment an alert is POSTed to `vigil serve` (SQLite,
// synchronous=FULL) to the moment the page's notification is handed to
// the channel. Alerts arrive open loop, 100 a second for 10 seconds,
// each routed by a service to a policy whose first step is one user;
// every alert is a new page. One run is one whole scenario, so run them
// with -benchtime 1x:
//
//	go test ./test -run '^$' -bench 'Benchmark(Page|SMS)Latency' -benchtime 1x -count 3
const (
	loadRate     = 100 // alerts a second
	loadDuration = 10 * time.Second
	loadUser     = "latency@example.com"
)

// loadTitle finds the alert number in a notification.
var loadTitle = regexp.MustCompile(`lat-(\d{5})`)

// pageLoad starts `vigil serve` with the paging section cfg (base_url is
// added), lets setup add the user's contact methods, routes a service to
// them, and posts the load. It returns when each alert was sent and how
// long each answer took; the server is stopped by the test's cleanup.
func pageLoad(b *testing.B, cfg string, setup func(v vigilAPI)) (sent []time.Time, answered []time.Duration) {
	b.Helper()
	data := b.TempDir()
	token := createToken(b, data, "admin")
	addr := freePort(b)
	base := "http://" + addr
	cfgFile := filepath.Join(b.TempDir(), "vigil.yaml")
	if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf("paging:\n  base_url: %s\n%s", base, cfg)), 0o600); err != nil {
		b.Fatal(err)
	}
	startServer(b, addr, "--data", data, "--config", cfgFile)
	v := vigilAPI{base: base, token: token}
	setup(v)
	v.put(b, "/api/v1/oncall/policies/latency", fmt.Sprintf(`{"name":"latency","steps":[
		{"delay_minutes":30,"targets":[{"type":"user","name":%q}]}]}`, loadUser))
	v.put(b, "/api/v1/oncall/services/latency", `{"name":"latency","policy":"latency","urgency":"high","condition":"source == \"latency\""}`)

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 200}}
	n := int(loadRate * loadDuration / time.Second)
	sent = make([]time.Time, n)
	answered = make([]time.Duration, n)
	var wg sync.WaitGroup
	var failMu sync.Mutex
	var failures []string
	b.StartTimer()
	tick := time.NewTicker(time.Second / loadRate)
	for i := range n {
		<-tick.C
		wg.Add(1)
		go func() { // open loop: a slow answer does not delay the next alert
			defer wg.Done()
			body := fmt.Sprintf(`{"source":"latency","source_id":"lat-%d","title":"lat-%05d","severity":"high"}`, i, i)
			req, _ := http.NewRequest("POST", base+"/api/v1/alerts", bytes.NewReader([]byte(body)))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			sent[i] = time.Now()
			res, err := client.Do(req)
			if err == nil {
				res.Body.Close()
				if res.StatusCode != 200 {
					err = fmt.Errorf("status %d", res.StatusCode)
				}
			}
			answered[i] = time.Since(sent[i])
			if err != nil {
				failMu.Lock()
				failures = append(failures, fmt.Sprintf("alert %d: %v", i, err))
				failMu.Unlock()
			}
		}()
	}
	tick.Stop()
	wg.Wait()
	if len(failures) > 0 {
		b.Fatalf("%d alerts failed, first: %s", len(failures), failures[0])
	}
	return sent, answered
}

// latencies turns receipt times of notifications (by the text that
// names their alert) into latencies from the alerts' sending.
func latencies(sent []time.Time, got map[string]time.Time) []time.Duration {
	var out []time.Duration
	for text, at := range got {
		if m := loadTitle.FindStringSubmatch(text); m != nil {
			i, _ := strconv.Atoi(m[1])
			out = append(out, at.Sub(sent[i]))
		}
	}
	return out
}

// waitCount waits up to 30 s for count() to reach n.
func waitCount(n int, count func() int) {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && count() < n; {
		time.Sleep(50 * time.Millisecond)
	}
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkPageLatency: the user has a verified email (a real SMTP
// server, go-smtp) and a verified signed webhook.
func BenchmarkPageLatency(b *testing.B) {
	for range b.N {
		b.StopTimer()
		mb := startMailbox(b)
		hooks := startHookReceiver(b)
		host, port, _ := net.SplitHostPort(mb.addr)
		sent, answered := pageLoad(b, fmt.Sprintf("  smtp:\n    host: %s\n    port: %s\n    from: pager@vigil.example\n    tls: none\n", host, port),
			func(v vigilAPI) {
				addVerified(b, v, mb, hooks, loadUser, "email", loadUser)
				addVerified(b, v, mb, hooks, loadUser, "webhook", hooks.srv.URL+"/pager")
			})
		n := len(sent)
		waitCount(n+1, func() int { return len(mb.messages()) })
		waitCount(n, func() int { return countHooks(hooks, 0) })
		b.StopTimer()
		emails, webhooks := map[string]time.Time{}, map[string]time.Time{}
		for _, m := range mb.messages() {
			emails[m.subject] = m.at
		}
		for _, x := range hooks.all() {
			if x.status < 300 && x.event.Type == "page.triggered" {
				webhooks[x.event.Data.Title] = x.at
			}
		}
		email, hook := latencies(sent, emails), latencies(sent, webhooks)
		if len(email) != n || len(hook) != n {
			b.Fatalf("%d emails and %d webhooks for %d pages, want one each", len(email), len(hook), n)
		}
		b.ReportMetric(msf(quantile(answered, 0.99)), "ingest-p99-ms")
		b.ReportMetric(msf(quantile(email, 0.50)), "email-p50-ms")
		b.ReportMetric(msf(quantile(email, 0.99)), "email-p99-ms")
		b.ReportMetric(msf(quantile(hook, 0.50)), "webhook-p50-ms")
		b.ReportMetric(msf(quantile(hook, 0.99)), "webhook-p99-ms")
		b.ReportMetric(float64(n), "pages")
	}
}

// BenchmarkSMSLatency: the user has a verified SMS number; texts go to
// the Twilio emulator, which posts its status callbacks back to vigil
// as Twilio does (two per text, part of the load). The per-number rate
// limit is off: one phone cannot take 100 texts a second, and with the
// limit on they would be bundled, which is the point of it; what is
// measured here is the path itself.
func BenchmarkSMSLatency(b *testing.B) {
	const phone = "+15551239999"
	for range b.N {
		b.StopTimer()
		emu := twilioemu.New("ACbench0000000000000000000000000001", "bench token")
		u, err := emu.Start()
		if err != nil {
			b.Fatal(err)
		}
		tokenFile := filepath.Join(b.TempDir(), "twilio-token")
		if err := os.WriteFile(tokenFile, []byte("bench token"), 0o600); err != nil {
			b.Fatal(err)
		}
		cfg := fmt.Sprintf("  twilio:\n    account_sid: ACbench0000000000000000000000000001\n    auth_token_file: %s\n    from: \"+15005550006\"\n    api_url: %s\n  rate_limits:\n    sms: \"off\"\n", tokenFile, u)
		sent, answered := pageLoad(b, cfg, func(v vigilAPI) { addPhone(b, v, emu, loadUser, "sms", phone) })
		n := len(sent)
		count := func() int {
			c := 0
			for _, m := range emu.Messages() {
				if loadTitle.MatchString(m.Body) {
					c++
				}
			}
			return c
		}
		waitCount(n, count)
		b.StopTimer()
		texts := map[string]time.Time{}
		for _, m := range emu.Messages() {
			texts[m.Body] = m.At
		}
		sms := latencies(sent, texts)
		if len(sms) != n {
			b.Fatalf("%d texts for %d pages, want one each", len(sms), n)
		}
		b.ReportMetric(msf(quantile(answered, 0.99)), "ingest-p99-ms")
		b.ReportMetric(msf(quantile(sms, 0.50)), "sms-p50-ms")
		b.ReportMetric(msf(quantile(sms, 0.99)), "sms-p99-ms")
		b.ReportMetric(float64(n), "pages")
		emu.Close()
	}
}
