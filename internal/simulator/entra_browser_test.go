package simulator_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/simulator"
)

// TestBrowserPagesOverPlainHTTP: with ServeBrowserPages, the discovery
// document sends the browser to a plain-HTTP loopback listener for the
// account picker (a browser does not trust the simulator's private CA),
// while the issuer, token endpoint and keys stay on TLS; the code the
// plain page issues is redeemed on TLS, and the plain listener serves
// nothing else.
func TestBrowserPagesOverPlainHTTP(t *testing.T) {
	srv := start(t, simulator.Options{})
	if err := srv.Sim.AddRedirectURI(testRedirect); err != nil {
		t.Fatal(err)
	}
	plain, err := srv.ServeBrowserPages("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(plain, "http://127.0.0.1:") || plain != srv.BrowserURL {
		t.Fatalf("ServeBrowserPages = %q (BrowserURL %q), want http://127.0.0.1:PORT", plain, srv.BrowserURL)
	}
	tenant := srv.Info.TenantID
	var doc map[string]any
	if code := getJSON(t, srv, "/"+tenant+"/v2.0/.well-known/openid-configuration", &doc); code != 200 {
		t.Fatalf("discovery: status %d", code)
	}
	for k, want := range map[string]string{
		"issuer":                 srv.URL + "/" + tenant + "/v2.0",
		"token_endpoint":         srv.URL + "/" + tenant + "/oauth2/v2.0/token",
		"jwks_uri":               srv.URL + "/" + tenant + "/discovery/v2.0/keys",
		"authorization_endpoint": plain + "/" + tenant + "/oauth2/v2.0/authorize",
		"end_session_endpoint":   plain + "/" + tenant + "/oauth2/v2.0/logout",
	} {
		if doc[k] != want {
			t.Errorf("%s = %v, want %s", k, doc[k], want)
		}
	}

	// A browser with no trust in the CA: a plain client.
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	authorize := strings.Replace(authorizeURL(srv, "login_hint", ""), srv.URL, plain, 1)
	resp, err := browser.Get(authorize)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), simulator.DefaultUserEmail) {
		t.Fatalf("account picker over plain HTTP: %d\n%s", resp.StatusCode, page)
	}
	resp, err = browser.Get(strings.Replace(authorizeURL(srv), srv.URL, plain, 1))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize over plain HTTP: %d, Location %q; want a redirect with a code", resp.StatusCode, resp.Header.Get("Location"))
	}
	if a := redeem(t, srv, "code", loc.Query().Get("code")); a.Status != 200 || a.IDToken == "" {
		t.Errorf("redeeming the plain page's code on TLS: %+v", a)
	}

	// Nothing but the browser pages is served in the clear.
	for _, p := range []string{"/" + tenant + "/v2.0/.well-known/openid-configuration", "/" + tenant + "/discovery/v2.0/keys", "/sim/v1/entra/users"} {
		resp, err := browser.Get(plain + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s over plain HTTP: %d, want 404", p, resp.StatusCode)
		}
	}
	resp, err = browser.PostForm(plain+"/"+tenant+"/oauth2/v2.0/token", url.Values{"grant_type": {"client_credentials"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		t.Errorf("token endpoint over plain HTTP answered %d", resp.StatusCode)
	}
}

// TestBrowserPagesLoopbackOnly: the sign-in pages are never offered to a
// network in the clear.
func TestBrowserPagesLoopbackOnly(t *testing.T) {
	srv := start(t, simulator.Options{})
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "example.com:80", "nonsense"} {
		if u, err := srv.ServeBrowserPages(addr); err == nil {
			t.Errorf("ServeBrowserPages(%q) = %s, want a refusal", addr, u)
		}
	}
	if _, err := srv.ServeBrowserPages("[::1]:0"); err != nil && !strings.Contains(err.Error(), "listen") {
		t.Errorf("ServeBrowserPages([::1]:0): %v", err)
	}
}
