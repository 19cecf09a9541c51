package loadgen

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRunSpreadsOverURLs: with several comma-separated URLs (instances
// on one database, no load balancer), requests go to each in turn, and
// no alert is sent twice across them.
func TestRunSpreadsOverURLs(t *testing.T) {
	servers := make([]*fakeServer, 3)
	urls := make([]string, len(servers))
	for i := range servers {
		servers[i] = newFakeServer(t, FormatVigil)
		urls[i] = servers[i].start().URL + "/"
	}
	res := runTimed(t, Config{URL: strings.Join(urls, ", "), Format: FormatVigil, Batch: 5, Concurrency: 3,
		Duration: 300 * time.Millisecond, Seed: 7}, 2*time.Second)

	total := 0
	seen := map[string]bool{}
	for i, f := range servers {
		f.mu.Lock()
		n := f.requests
		ids := append([]string(nil), f.ids...)
		f.mu.Unlock()
		// Round robin: each server gets a third, give or take the
		// requests in flight when the run ended.
		if want := int(res.Requests) / len(servers); n < want-3 || n > want+3 {
			t.Errorf("server %d got %d of %d requests, want about %d", i, n, res.Requests, want)
		}
		total += n
		for _, id := range ids {
			if seen[id] {
				t.Errorf("alert %s sent twice", id)
			}
			seen[id] = true
		}
	}
	if int64(total) != res.Requests || res.Errors != 0 {
		t.Errorf("servers counted %d requests, result says %d with %d errors", total, res.Requests, res.Errors)
	}
}

func TestMainRejectsBadURLInList(t *testing.T) {
	var stdout, stderr strings.Builder
	for _, urls := range []string{"http://127.0.0.1:8080,127.0.0.1:8081", ",", "http://127.0.0.1:8080,ftp://x"} {
		if err := Main(context.Background(), []string{"--url", urls}, &stdout, &stderr); err == nil {
			t.Errorf("--url %q accepted", urls)
		}
	}
}
