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
)

// BenchmarkPageLatency measures what a responder waits for: from the
// moment an alert is POSTed to `vigil serve` (SQLite, synchronous=FULL)
// to the moment the page's email is accepted by an SMTP server and its
// webhook is received. Alerts arrive open loop, 100 a second for 10
// seconds, each routed by a service to a policy whose first step is one
// user with an email and a webhook; every alert is a new page. One run
// is one whole scenario, so run it with -benchtime 1x:
//
//	go test ./test -run '^$' -bench BenchmarkPageLatency -benchtime 1x -count 3
func BenchmarkPageLatency(b *testing.B) {
	const (
		rate     = 100 // alerts a second
		duration = 10 * time.Second
		user     = "latency@example.com"
	)
	for range b.N {
		b.StopTimer()
		mb := startMailbox(b)
		hooks := startHookReceiver(b)
		data := b.TempDir()
		token := createToken(b, data, "admin")
		addr := freePort(b)
		base := "http://" + addr
		host, port, _ := net.SplitHostPort(mb.addr)
		cfgFile := filepath.Join(b.TempDir(), "vigil.yaml")
		cfg := fmt.Sprintf("paging:\n  base_url: %s\n  smtp:\n    host: %s\n    port: %s\n    from: pager@vigil.example\n    tls: none\n", base, host, port)
		if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
			b.Fatal(err)
		}
		srv := startServer(b, addr, "--data", data, "--config", cfgFile)
		v := vigilAPI{base: base, token: token}
		addVerified(b, v, mb, hooks, user, "email", user)
		addVerified(b, v, mb, hooks, user, "webhook", hooks.srv.URL+"/pager")
		v.put(b, "/api/v1/oncall/policies/latency", fmt.Sprintf(`{"name":"latency","steps":[
			{"delay_minutes":30,"targets":[{"type":"user","name":%q}]}]}`, user))
		v.put(b, "/api/v1/oncall/services/latency", `{"name":"latency","policy":"latency","urgency":"high","condition":"source == \"latency\""}`)

		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 200}}
		n := int(rate * duration / time.Second)
		sent := make([]time.Time, n)
		answered := make([]time.Duration, n)
		var wg sync.WaitGroup
		var failMu sync.Mutex
		var failures []string
		b.StartTimer()
		tick := time.NewTicker(time.Second / rate)
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
		// Let the last pages drain.
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) && (len(mb.messages()) < n+1 || countHooks(hooks, 0) < n) {
			time.Sleep(50 * time.Millisecond)
		}
		b.StopTimer()
		if len(failures) > 0 {
			b.Fatalf("%d alerts failed, first: %s", len(failures), failures[0])
		}

		title := regexp.MustCompile(`lat-(\d{5})`)
		index := func(s string) int {
			m := title.FindStringSubmatch(s)
			if m == nil {
				return -1
			}
			i, _ := strconv.Atoi(m[1])
			return i
		}
		var email, hook []time.Duration
		for _, m := range mb.messages() {
			if i := index(m.subject); i >= 0 {
				email = append(email, m.at.Sub(sent[i]))
			}
		}
		for _, x := range hooks.all() {
			if i := index(x.event.Data.Title); i >= 0 && x.status < 300 && x.event.Type == "page.triggered" {
				hook = append(hook, x.at.Sub(sent[i]))
			}
		}
		if len(email) != n || len(hook) != n {
			b.Fatalf("%d emails and %d webhooks for %d pages, want one each", len(email), len(hook), n)
		}
		msf := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		b.ReportMetric(msf(quantile(answered, 0.99)), "ingest-p99-ms")
		b.ReportMetric(msf(quantile(email, 0.50)), "email-p50-ms")
		b.ReportMetric(msf(quantile(email, 0.99)), "email-p99-ms")
		b.ReportMetric(msf(quantile(hook, 0.50)), "webhook-p50-ms")
		b.ReportMetric(msf(quantile(hook, 0.99)), "webhook-p99-ms")
		b.ReportMetric(float64(n), "pages")
		srv.stop(b)
	}
}
