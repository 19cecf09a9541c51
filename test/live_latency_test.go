package test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/store/storetest"
)

// liveMovesEnv sets how many moves TestLiveAcrossInstances makes; the
// benchmark in docs/benchmarks.md runs 50, three times.
const liveMovesEnv = "VIGIL_LIVE_MOVES"

// liveMoveGap spaces the moves as people on a board would; it also keeps
// each move clear of the feed's pacing of notified reads (200 ms), so
// that what is measured is one move's way, not a queue.
const liveMoveGap = 300 * time.Millisecond

// TestLiveAcrossInstances runs two `vigil serve` processes on one
// PostgreSQL database, opens the live-update stream of a signed-in user
// on the second, moves work items through the API of the first, and
// measures the time from each move's API answer to its event on the
// other instance's stream. The issue asks for 1 s at the median.
func TestLiveAcrossInstances(t *testing.T) {
	moves := 20
	if v := os.Getenv(liveMovesEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("%s=%q: want a positive number", liveMovesEnv, v)
		}
		moves = n
	}
	dsn := storetest.PostgresDSN(t)
	token := createTokenDSN(t, dsn)
	const email, password = "board@example.org", "correct horse battery staple"
	vigil(t, password+"\n", "user", "add", "--dsn", dsn, "--email", email, "--role", "viewer")
	a := startServer(t, freePort(t), "--dsn", dsn, "--data", t.TempDir())
	b := startServer(t, freePort(t), "--dsn", dsn, "--data", t.TempDir())

	items := liveItems(t, a.url, token, (moves+2)/3)
	events := watchEvents(t, b.url, email, password)
	// Let the stream settle: the new items' own events pass first.
	drain(events, time.Second)

	var fromAnswer, fromRequest []time.Duration
	steps := []string{"Approved", "Active", "Verification"}
	for i := range moves {
		id, to := items[i/len(steps)], steps[i%len(steps)]
		sent := time.Now()
		rev := liveMove(t, a.url, token, id, to)
		answered := time.Now()
		at := awaitEvent(t, events, id, rev, 5*time.Second)
		// The event may beat the answer's last bytes; it cannot come
		// before the request.
		fromAnswer = append(fromAnswer, max(at.Sub(answered), 0))
		fromRequest = append(fromRequest, at.Sub(sent))
		time.Sleep(liveMoveGap)
	}
	med := median(fromAnswer)
	t.Logf("%d moves on instance A seen on instance B: from the API answer median %s, p90 %s, max %s; from the request median %s",
		moves, ms(med), ms(quantile(fromAnswer, 0.9)), ms(slices.Max(fromAnswer)), ms(median(fromRequest)))
	// The issue asks for 1 s. Polling every second, as the feed did
	// before LISTEN/NOTIFY, gives about 500 ms at the median and would
	// pass that; a notified read takes a few milliseconds, so a quarter
	// of a second tells the two apart with room for a loaded machine.
	if med > 250*time.Millisecond {
		t.Errorf("median latency %s, want at most 250ms (notified, not polled)", med)
	}
}

// liveEvent is one "item" event of the stream, with when it arrived.
type liveEvent struct {
	ID  int64 `json:"id"`
	Rev int   `json:"rev"`
	at  time.Time
}

// liveItems ingests n alerts through base and returns their work items.
func liveItems(t testing.TB, base, token string, n int) []int64 {
	t.Helper()
	var batch []map[string]any
	for i := range n {
		batch = append(batch, map[string]any{"source": "e2e", "source_id": fmt.Sprintf("live-%d", i),
			"title": "Live update", "severity": "high"})
	}
	body, _ := json.Marshal(batch)
	var ans struct {
		Results []struct {
			WorkItemID int64 `json:"workitem_id"`
		} `json:"results"`
	}
	liveAPI(t, "POST", base+"/api/v1/alerts", token, string(body), &ans)
	var ids []int64
	for _, r := range ans.Results {
		ids = append(ids, r.WorkItemID)
	}
	if len(ids) != n {
		t.Fatalf("ingest returned %d work items, want %d", len(ids), n)
	}
	return ids
}

// liveMove moves item id to state through base and returns its new rev.
func liveMove(t testing.TB, base, token string, id int64, to string) int {
	t.Helper()
	var it struct {
		Rev   int    `json:"rev"`
		State string `json:"state"`
	}
	liveAPI(t, "POST", fmt.Sprintf("%s/api/v1/workitems/%d/transitions", base, id), token, fmt.Sprintf(`{"to":%q}`, to), &it)
	if it.State != to {
		t.Fatalf("move of item %d: state %q, want %q", id, it.State, to)
	}
	return it.Rev
}

func liveAPI(t testing.TB, method, url, token, body string, out any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s: %s", method, url, res.Status, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
}

// watchEvents signs in to base as a browser would and streams its
// /events; the channel yields each item event as it arrives.
func watchEvents(t testing.TB, base, email, password string) <-chan liveEvent {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.PostForm(base+"/login", url.Values{"email": {email}, "password": {password}})
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %s, want 303", res.Status)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/events", nil)
	res, err = hc.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("open /events: %v %v", err, res)
	}
	connected := make(chan struct{})
	events := make(chan liveEvent, 1000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(res.Body)
		var name string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == ": connected":
				close(connected)
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && name == "item":
				e := liveEvent{at: time.Now()}
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &e) == nil {
					events <- e
				}
			}
		}
	}()
	t.Cleanup(func() { cancel(); res.Body.Close(); <-done })
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("/events did not say it is connected within 10s")
	}
	return events
}

// drain discards events until none has come for quiet.
func drain(events <-chan liveEvent, quiet time.Duration) {
	for {
		select {
		case <-events:
		case <-time.After(quiet):
			return
		}
	}
}

// awaitEvent returns when the event of item id at rev arrived.
func awaitEvent(t testing.TB, events <-chan liveEvent, id int64, rev int, within time.Duration) time.Time {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case e := <-events:
			if e.ID == id && e.Rev == rev {
				return e.at
			}
		case <-deadline:
			t.Fatalf("no event for item %d at rev %d within %s", id, rev, within)
		}
	}
}

func median(ds []time.Duration) time.Duration { return quantile(ds, 0.5) }

// quantile returns the q-quantile of ds (nearest rank).
func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
