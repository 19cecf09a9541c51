// Package browser tests vigil's web interface in a real browser: Debian's
// headless Chromium, driven with chromedp, against the whole app served
// on a loopback socket with an embedded SQLite store.
//
// scripts/test installs Chromium when it is missing; these tests fail
// (never skip) when it cannot be started. Screenshots go to
// artifacts/screenshots (or $VIGIL_ARTIFACTS/screenshots).
package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/app"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// env is a running vigil with users of each role.
type env struct {
	app  *app.App
	base string
}

const password = "correct horse battery"

var users = map[auth.Role]string{
	auth.RoleAdmin:     "ana.admin@example.com",
	auth.RoleResponder: "rob.responder@example.com",
	auth.RoleViewer:    "vic.viewer@example.com",
}

func start(t *testing.T) *env {
	t.Helper()
	return startWith(t, nil)
}

// startWith is start with the configuration changed by edit first.
func startWith(t *testing.T, edit func(*config.Config)) *env {
	t.Helper()
	cfg := config.Default()
	cfg.Data = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	if edit != nil {
		edit(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, log, clock.Real{})
	if err != nil {
		t.Fatalf("app: %v", err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("app run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("app did not stop within 30s")
		}
	})
	for role, email := range users {
		hash, err := auth.HashPassword(password)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.DB.AddUser(ctx, email, role, hash); err != nil {
			t.Fatal(err)
		}
	}
	return &env{app: a, base: a.URL()}
}

// ingest stores alerts as a sender would, and returns their items' ids.
func (e *env) ingest(t *testing.T, alerts ...alert.Alert) []int64 {
	t.Helper()
	now := time.Now()
	for i := range alerts {
		if alerts[i].Raw == nil {
			alerts[i].Raw = json.RawMessage(fmt.Sprintf(`{"title":%q}`, alerts[i].Title))
		}
		if err := alerts[i].Normalize(now); err != nil {
			t.Fatalf("normalize: %v", err)
		}
	}
	res, err := e.app.Pipeline.Submit(context.Background(), "token:test", alerts)
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	ids := make([]int64, len(res))
	for i, r := range res {
		ids[i] = r.WorkItemID
	}
	return ids
}

func newAlert(source, id, title string, sev alert.Severity, entities ...alert.Entity) alert.Alert {
	return alert.Alert{Source: source, SourceID: id, Title: title, Severity: sev, Entities: entities}
}

func (e *env) item(t *testing.T, id int64) workitem.Item {
	t.Helper()
	it, err := e.app.Items.Get(context.Background(), auth.System, id)
	if err != nil {
		t.Fatalf("get item %d: %v", id, err)
	}
	return it
}

// chromiumPath finds Debian's Chromium.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("VIGIL_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Chromium is not installed: run ./scripts/test, which installs Debian's chromium, or set VIGIL_CHROMIUM")
	return ""
}

// browser starts a headless Chromium of its own (its own cookies) with a
// 1280×800 window, and returns a tab context.
func browser(t *testing.T, width, height int) context.Context {
	t.Helper()
	return browserWith(t, width, height)
}

func browserWith(t *testing.T, width, height int, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("hide-scrollbars", true),
	)
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first Run starts the browser; it must not carry a timeout. Every
	// page then records Content-Security-Policy violations from its first
	// line, for cspViolations.
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `window.__csp = []; document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`})
		return err
	})); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// within runs actions with a deadline, so a broken page fails the test
// instead of hanging it.
func within(t *testing.T, ctx context.Context, d time.Duration, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := chromedp.Do(tctx, actions...); err != nil {
		shot(t, ctx, "failure-"+sanitize(t.Name()))
		t.Fatalf("%s: %v", what, err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		shot(t, ctx, "failure-"+sanitize(t.Name()))
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// signIn signs in through the sign-in page.
func (e *env) signIn(t *testing.T, ctx context.Context, email string) {
	t.Helper()
	within(t, ctx, 20*time.Second, "sign in as "+email,
		chromedp.Navigate(e.base+"/login"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.ID("board")),
	)
}

func artifacts(t *testing.T) string {
	dir := os.Getenv("VIGIL_ARTIFACTS")
	if dir == "" {
		wd, _ := os.Getwd()
		dir = filepath.Join(wd, "..", "..", "artifacts")
	}
	dir = filepath.Join(dir, "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts dir: %v", err)
	}
	return dir
}

// shot saves a full-page screenshot as an artifact.
func shot(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	return capture(t, ctx, name, chromedp.CaptureScreenshot())
}

// fullShot saves a screenshot of the whole page, beyond the viewport.
func fullShot(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	return capture(t, ctx, name, chromedp.FullScreenshot(100))
}

func capture(t *testing.T, ctx context.Context, name string, a chromedp.Action[[]byte]) string {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(tctx, a)
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return ""
	}
	ext := ".png"
	if len(png) > 2 && png[0] == 0xff && png[1] == 0xd8 {
		ext = ".jpg"
	}
	path := filepath.Join(artifacts(t), name+ext)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Errorf("save screenshot: %v", err)
	}
	t.Logf("screenshot: %s", path)
	return path
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' {
			return '-'
		}
		return r
	}, s)
}

// drag presses the mouse on from, moves it to to in steps slow enough for
// Sortable (which looks for the drop target every 50ms while dragging),
// and releases it there, as a person's hand would.
func drag(t *testing.T, ctx context.Context, from, to string) {
	t.Helper()
	pts := eval[[]float64](t, ctx, fmt.Sprintf(`(() => {
		const a = document.querySelector(%q).getBoundingClientRect();
		const b = document.querySelector(%q).getBoundingClientRect();
		return [a.x + a.width/2, a.y + a.height/2, b.x + b.width/2, b.y + Math.min(b.height/2, 40)];
	})()`, from, to))
	x0, y0, x1, y1 := pts[0], pts[1], pts[2], pts[3]
	steps := []chromedp.Action[chromedp.Void]{chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, x0, y0, chromedp.ButtonLeft, chromedp.ClickCount(1))}
	const n = 12
	for i := 1; i <= n; i++ {
		x, y := x0+(x1-x0)*float64(i)/n, y0+(y1-y0)*float64(i)/n
		steps = append(steps, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x, y, chromedp.ButtonLeft), chromedp.Sleep(40*time.Millisecond))
	}
	steps = append(steps, chromedp.Sleep(200*time.Millisecond),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, x1, y1, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	within(t, ctx, 20*time.Second, "drag "+from+" to "+to, steps...)
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// cspViolations lists what the page's Content-Security-Policy blocked.
func cspViolations(t *testing.T, ctx context.Context) []string {
	t.Helper()
	return eval[[]string](t, ctx, "window.__csp || []")
}
