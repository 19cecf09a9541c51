package browser

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vigil-soc/vigil/internal/app"
	"github.com/vigil-soc/vigil/internal/config"
)

// demo is `vigil demo` run in-process: the simulated tenant, sync every
// 3 s, and what its banner printed.
type demo struct {
	base, password, token string
	sim                   struct {
		ARMURL string `json:"arm_url"`
		CAFile string `json:"ca_file"`
	}
	simHTTP *http.Client
}

func startDemo(t *testing.T) *demo {
	t.Helper()
	cfg := config.Default()
	cfg.Data = t.TempDir()
	cfg.Listen = "127.0.0.1:" + freePort(t)
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Demo(ctx, cfg, app.DemoOptions{KeepData: true}, slog.New(slog.NewTextHandler(io.Discard, nil)), pw)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("demo did not stop within 30s")
		}
	})
	d := &demo{base: "http://" + cfg.Listen}
	passwordRE := regexp.MustCompile(`with password ([0-9a-f]+)`)
	sc := bufio.NewScanner(pr)
	lines := make(chan string)
	go func() {
		defer close(lines)
		for sc.Scan() {
			lines <- sc.Text()
		}
		io.Copy(io.Discard, pr)
	}()
	deadline := time.After(60 * time.Second)
	var prev string
	for d.token == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("the demo stopped before printing its banner")
			}
			switch {
			case strings.HasPrefix(line, "{"):
				if err := json.Unmarshal([]byte(line), &d.sim); err != nil {
					t.Fatalf("simulator line %q: %v", line, err)
				}
			case passwordRE.MatchString(line):
				d.password = passwordRE.FindStringSubmatch(line)[1]
			case strings.HasPrefix(line, "vgl_") && strings.Contains(prev, "admin API token"):
				d.token = line
			}
			prev = line
		case <-deadline:
			t.Fatal("no banner from the demo within 60s")
		}
	}
	go func() {
		for range lines {
		}
	}()
	pem, err := os.ReadFile(d.sim.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	d.simHTTP = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return d
}

// simPost calls the simulator's control API, as a portal user's action.
func (d *demo) simPost(t *testing.T, path string, out any) {
	t.Helper()
	res, err := d.simHTTP.Post(d.sim.ARMURL+path, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("POST %s: %d %s", path, res.StatusCode, b)
	}
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

// itemOfAlert waits until vigil has pulled the Defender alert and returns
// its work item's id, through vigil's API.
func (d *demo) itemOfAlert(t *testing.T, name string) int64 {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", d.base+"/api/v1/alerts?source=defender&limit=500", nil)
		req.Header.Set("Authorization", "Bearer "+d.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Items []struct {
				SourceID   string `json:"source_id"`
				WorkItemID int64  `json:"workitem_id"`
			} `json:"items"`
		}
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.Items {
			if strings.EqualFold(a.SourceID, name) && a.WorkItemID != 0 {
				return a.WorkItemID
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("alert %s did not reach vigil within 20s", name)
	return 0
}

// TestDemoBoard is the demo as a newcomer sees it: sign in with the
// banner's password, watch Defender for Cloud alerts arrive on the board,
// and watch a card move by itself when the alert is dismissed in the
// (simulated) portal: a live update that comes from sync.
func TestDemoBoard(t *testing.T) {
	d := startDemo(t)
	ctx := browser(t, 1280, 800)
	within(t, ctx, 30*time.Second, "sign in to the demo",
		chromedp.Navigate(d.base+"/login"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), app.DemoEmail),
		chromedp.SendKeys(chromedp.ID("password"), d.password),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.ID("board")),
		// The preloaded alerts are on the board after the first poll.
		chromedp.WaitVisible(chromedp.CSS(`.cards[data-state="New"] .card`)),
		chromedp.WaitVisible(chromedp.CSS("#live.on")),
	)
	eval[any](t, ctx, "window.__noReload = 7")

	// Defender for Cloud raises an alert: its card appears.
	var raised struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	d.simPost(t, "/sim/v1/defender/alerts", &raised)
	if raised.Name == "" {
		raised.Name = raised.ID[strings.LastIndex(raised.ID, "/")+1:]
	}
	id := d.itemOfAlert(t, raised.Name)
	within(t, ctx, 20*time.Second, "the new alert's card appears", cardIn(id, "New"))

	// The alert came with its Sentinel incident, so its card is the
	// incident's: one finding, one work item. Its owner dismisses it in
	// the portal: the reconciler closes the incident, the item follows
	// to Closed, and the card moves without a reload.
	d.simPost(t, "/sim/v1/defender/alerts/"+raised.Name+"/dismiss", nil)
	within(t, ctx, 30*time.Second, "the card follows the dismissal", cardIn(id, "Closed"))
	if got := eval[int](t, ctx, "window.__noReload || 0"); got != 7 {
		t.Error("the board reloaded; the move must arrive as a live update")
	}
	shot(t, ctx, "demo-board")

	// The item page says why it moved.
	within(t, ctx, 20*time.Second, "open the dismissed item",
		chromedp.Navigate(fmt.Sprintf("%s/items/%d", d.base, id)),
		chromedp.WaitVisible(chromedp.ID("h-timeline")),
	)
	if tl := text(t, ctx, ".timeline"); !strings.Contains(tl, "moved from New to Closed") || !strings.Contains(strings.ToLower(tl), "dismissed") {
		t.Errorf("timeline does not explain the follow-up:\n%s", tl)
	}
	if links := text(t, ctx, ".links"); !strings.Contains(links, "Defender for Cloud") {
		t.Errorf("portal links = %q", links)
	}
	fullShot(t, ctx, "demo-item")

	// Connector health shows the sync modules' passes.
	within(t, ctx, 20*time.Second, "connector health",
		chromedp.Navigate(d.base+"/admin/connectors"),
		chromedp.WaitVisible(chromedp.ID("modules")),
	)
	if mods := text(t, ctx, "#modules"); !strings.Contains(mods, "poller") || strings.Contains(mods, "not yet") && !strings.Contains(mods, "ago") {
		t.Errorf("connector health:\n%s", mods)
	}
	shot(t, ctx, "demo-connectors")
}
