package browser

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vigil-soc/vigil/internal/app"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/simulator"
)

// TestSingleSignOn signs in through the simulated Entra ID's account
// picker: the authorization-code flow with PKCE, the ID token's app
// roles giving the vigil role, and the account created on first sign-in.
func TestSingleSignOn(t *testing.T) {
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	sim := simulator.New(simulator.Options{Logger: slog.New(slog.DiscardHandler)})
	srv, err := simulator.Listen(sim, "127.0.0.1:0", caFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	// The account picker is served over plain HTTP on loopback, as in
	// the demo: a browser does not trust the simulator's private CA.
	if _, err := srv.ServeBrowserPages("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	sim.AddUser("soc.lead@contoso.com", "Sam SOC Lead", "vigil.admin")
	sim.AddUser("intern@contoso.com", "Ira Intern") // no vigil app role

	cfg := config.Default()
	cfg.Data = dir
	cfg.Listen = "127.0.0.1:" + freePort(t)
	redirect := "http://" + cfg.Listen + "/login/sso/callback"
	if err := sim.AddRedirectURI(redirect); err != nil {
		t.Fatal(err)
	}
	cfg.OIDC = config.OIDC{Issuer: sim.Issuer(), ClientID: srv.Info.ClientID, ClientSecret: srv.Info.ClientSecret,
		RedirectURL: redirect, CAFile: caFile}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// A normal browser, which does not trust the simulator's CA: the
	// pages it opens are on plain HTTP, while vigil's side of the flow
	// (discovery, token exchange, keys) stays on TLS and verifies the CA.
	b := browser(t, 1280, 800)
	pick := func(email string) {
		t.Helper()
		pickAccount(t, b, a.URL(), email)
	}

	// A user without any vigil app role is refused.
	pick("intern@contoso.com")
	within(t, b, 20*time.Second, "refusal", chromedp.WaitVisible(chromedp.CSS(".login .error")))
	if got := text(t, b, ".login .error"); !strings.Contains(got, "may not sign in") && !strings.Contains(got, "failed") {
		t.Errorf("unmapped user's error = %q", got)
	}

	pick("soc.lead@contoso.com")
	within(t, b, 20*time.Second, "board after SSO", chromedp.WaitVisible(chromedp.ID("board")))
	if got := text(t, b, ".me .name"); got != "soc.lead@contoso.com" {
		t.Errorf("signed in as %q", got)
	}
	if got := text(t, b, ".me .role"); got != "admin" {
		t.Errorf("role = %q, want admin from the vigil.admin app role", got)
	}
	u, err := a.DB.UserByEmail(context.Background(), "soc.lead@contoso.com")
	if err != nil || u.External == "" || u.PasswordHash != "" {
		t.Errorf("SSO user = %+v, %v; want an external user without a password", u, err)
	}
}

// pickAccount signs in through the simulated Entra ID's account picker,
// checking on the way that the browser never left plain HTTP on
// loopback (no certificate to trust).
func pickAccount(t *testing.T, b context.Context, base, email string) {
	t.Helper()
	link := chromedp.CSS(`a[href*="` + strings.Split(email, "@")[0] + `"]`)
	within(t, b, 30*time.Second, "sign in as "+email+" through Entra ID",
		chromedp.Navigate(base+"/login"),
		chromedp.Click(chromedp.CSS("a.sso")),
		chromedp.WaitVisible(link),
	)
	picker := eval[string](t, b, "location.href")
	if !strings.HasPrefix(picker, "http://127.0.0.1:") || !strings.Contains(picker, "/oauth2/v2.0/authorize") {
		t.Errorf("the account picker is at %s, want the simulator's plain-HTTP loopback page", picker)
	}
	within(t, b, 30*time.Second, "pick "+email, chromedp.Click(link))
}

// TestDemoSignInWithEntra is the demo's "Sign in with Microsoft Entra ID"
// as a newcomer meets it: a normal Chromium, with no flag to ignore
// certificate errors, goes through the simulated tenant's account picker
// to the board.
func TestDemoSignInWithEntra(t *testing.T) {
	d := startDemo(t)
	b := browser(t, 1280, 800)
	pickAccount(t, b, d.base, "soc.lead@contoso.com")
	within(t, b, 20*time.Second, "the board after signing in with Entra ID", chromedp.WaitVisible(chromedp.ID("board")))
	if got := text(t, b, ".me .name"); got != "soc.lead@contoso.com" {
		t.Errorf("signed in as %q, want soc.lead@contoso.com", got)
	}
}
