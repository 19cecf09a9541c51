package sso_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/simulator"
	"github.com/vigil-soc/vigil/internal/sso"
)

const callback = "https://vigil.example/auth/oidc/callback"

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

type env struct {
	srv    *simulator.Server
	simClk *clock.Fake // the simulated Entra ID's clock
	clk    *clock.Fake // vigil's
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{simClk: clock.NewFake(t0), clk: clock.NewFake(t0)}
	srv, err := simulator.Listen(simulator.New(simulator.Options{Clock: e.simClk}), "127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.Sim.AddRedirectURI(callback); err != nil {
		t.Fatal(err)
	}
	srv.Sim.AddUser("alex@contoso.com", "Alex Admin", "vigil.admin", "vigil.viewer")
	srv.Sim.AddUser("vera@contoso.com", "Vera Viewer", "vigil.viewer")
	srv.Sim.AddUser("olga@contoso.com", "Olga Other", "finance.reader")
	srv.Sim.AddUser("nina@contoso.com", "Nina Norole")
	e.srv = srv
	return e
}

func (e *env) config(mod ...func(*sso.Config)) sso.Config {
	c := sso.Config{
		Issuer: e.srv.Sim.Issuer(), ClientID: e.srv.Info.ClientID, ClientSecret: e.srv.Info.ClientSecret,
		RedirectURL: callback, HTTPClient: e.srv.Client(), Clock: e.clk,
	}
	for _, m := range mod {
		m(&c)
	}
	return c
}

func (e *env) provider(t *testing.T, mod ...func(*sso.Config)) *sso.Provider {
	t.Helper()
	p, err := sso.New(context.Background(), e.config(mod...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// authorize plays the browser: it follows authURL with a login hint and
// returns the query the simulated Entra ID redirects back with.
func (e *env) authorize(t *testing.T, authURL, user string) url.Values {
	t.Helper()
	c := e.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(authURL + "&login_hint=" + url.QueryEscape(user))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), callback+"?") {
		t.Fatalf("authorize: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query()
}

// signIn runs a whole sign-in as user.
func (e *env) signIn(t *testing.T, p *sso.Provider, user string) (sso.Identity, error) {
	t.Helper()
	authURL, a := p.Begin()
	q := e.authorize(t, authURL, user)
	if err := sso.ProviderError(q); err != nil {
		t.Fatalf("provider error: %v", err)
	}
	return p.Finish(context.Background(), a, q.Get("state"), q.Get("code"))
}

// noSecrets fails if an error shows the client secret or the code.
func noSecrets(t *testing.T, err error, e *env, code string) {
	t.Helper()
	if err == nil {
		return
	}
	if strings.Contains(err.Error(), e.srv.Info.ClientSecret) || (code != "" && strings.Contains(err.Error(), code)) {
		t.Errorf("error leaks a secret: %v", err)
	}
}

func TestFullFlow(t *testing.T) {
	e := newEnv(t)
	p := e.provider(t)
	authURL, a := p.Begin()
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Path != "/"+e.srv.Info.TenantID+"/oauth2/v2.0/authorize" || q.Get("client_id") != e.srv.Info.ClientID ||
		q.Get("redirect_uri") != callback || q.Get("response_type") != "code" || q.Get("scope") != "openid profile email" ||
		q.Get("state") != a.State || q.Get("nonce") != a.Nonce || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		t.Fatalf("auth URL = %s", authURL)
	}
	if strings.Contains(authURL, a.Verifier) || strings.Contains(authURL, e.srv.Info.ClientSecret) {
		t.Fatal("the auth URL carries the verifier or the secret")
	}
	if !a.Created.Equal(t0) {
		t.Errorf("Created = %s", a.Created)
	}

	// The attempt survives the cookie.
	a2, err := sso.DecodeAttempt(a.Encode())
	if err != nil || a2 != a {
		t.Fatalf("DecodeAttempt = %+v, %v; want %+v", a2, err, a)
	}

	back := e.authorize(t, authURL, simulator.DefaultUserEmail)
	e.clk.Advance(30 * time.Second)
	id, err := p.Finish(context.Background(), a2, back.Get("state"), back.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	want := sso.Identity{Issuer: e.srv.Sim.Issuer(), Email: simulator.DefaultUserEmail, Name: simulator.DefaultUserName, Role: sso.RoleResponder}
	sub, oid := id.Subject, id.ObjectID
	id.Subject, id.ObjectID = "", ""
	if id != want || sub == "" || len(oid) != 36 || oid == sub {
		t.Errorf("identity = %+v (sub %q, oid %q), want %+v with a subject and an object id", id, sub, oid, want)
	}
	// The subject is stable across sign-ins.
	again, err := e.signIn(t, p, simulator.DefaultUserEmail)
	if err != nil || again.Subject != sub {
		t.Errorf("second sign-in: %+v, %v; want subject %q", again, err, sub)
	}

	// The code was spent by the first Finish.
	_, err = p.Finish(context.Background(), a2, back.Get("state"), back.Get("code"))
	if !errors.Is(err, sso.ErrExchange) || !strings.Contains(err.Error(), "AADSTS54005") {
		t.Errorf("replayed code: %v, want ErrExchange with AADSTS54005", err)
	}
	noSecrets(t, err, e, back.Get("code"))
}

func TestRoleMapping(t *testing.T) {
	e := newEnv(t)
	custom := func(c *sso.Config) {
		c.AdminRoles, c.ResponderRoles, c.ViewerRoles = []string{"finance.reader"}, []string{"vigil.admin"}, nil
	}
	tests := []struct {
		name   string
		user   string
		mod    func(*sso.Config)
		role   string
		refuse bool
	}{
		{"admin beats viewer", "alex@contoso.com", nil, sso.RoleAdmin, false},
		{"responder", simulator.DefaultUserEmail, nil, sso.RoleResponder, false},
		{"viewer", "vera@contoso.com", nil, sso.RoleViewer, false},
		{"unmapped role refused", "olga@contoso.com", nil, "", true},
		{"no role refused", "nina@contoso.com", nil, "", true},
		{"unmapped role gets default", "olga@contoso.com", func(c *sso.Config) { c.DefaultRole = sso.RoleViewer }, sso.RoleViewer, false},
		{"no role gets default", "nina@contoso.com", func(c *sso.Config) { c.DefaultRole = sso.RoleViewer }, sso.RoleViewer, false},
		{"custom admin values", "olga@contoso.com", custom, sso.RoleAdmin, false},
		{"custom responder values", "alex@contoso.com", custom, sso.RoleResponder, false},
		{"other claim: default", "alex@contoso.com", func(c *sso.Config) { c.RoleClaim, c.DefaultRole = "groups", sso.RoleViewer }, sso.RoleViewer, false},
		{"other claim: refused", "alex@contoso.com", func(c *sso.Config) { c.RoleClaim = "groups" }, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mods []func(*sso.Config)
			if tt.mod != nil {
				mods = append(mods, tt.mod)
			}
			id, err := e.signIn(t, e.provider(t, mods...), tt.user)
			if tt.refuse {
				if !errors.Is(err, sso.ErrNoRole) {
					t.Errorf("got %+v, %v; want ErrNoRole", id, err)
				}
				return
			}
			if err != nil || id.Role != tt.role {
				t.Errorf("got %+v, %v; want role %s", id, err, tt.role)
			}
		})
	}

	// MapRole alone, with a single-string claim's values.
	p := e.provider(t)
	for _, tt := range []struct {
		values []string
		want   string
	}{
		{nil, ""}, {[]string{"x"}, ""}, {[]string{"vigil.viewer", "vigil.responder"}, sso.RoleResponder},
		{[]string{"vigil.admin"}, sso.RoleAdmin}, {[]string{"VIGIL.ADMIN"}, ""},
	} {
		if got := p.MapRole(tt.values); got != tt.want {
			t.Errorf("MapRole(%v) = %q, want %q", tt.values, got, tt.want)
		}
	}
}

func TestFinishRefuses(t *testing.T) {
	e := newEnv(t)
	p := e.provider(t)
	ctx := context.Background()
	user := simulator.DefaultUserEmail

	t.Run("wrong state", func(t *testing.T) {
		authURL, a := p.Begin()
		q := e.authorize(t, authURL, user)
		for _, st := range []string{"forged", ""} {
			if _, err := p.Finish(ctx, a, st, q.Get("code")); !errors.Is(err, sso.ErrStateMismatch) {
				t.Errorf("state %q: %v, want ErrStateMismatch", st, err)
			}
		}
		// Another attempt's state (a login CSRF) is refused too.
		_, other := p.Begin()
		if _, err := p.Finish(ctx, other, q.Get("state"), q.Get("code")); !errors.Is(err, sso.ErrStateMismatch) {
			t.Errorf("other attempt: %v", err)
		}
		// Nothing was exchanged: the code still works for its own attempt.
		if _, err := p.Finish(ctx, a, q.Get("state"), q.Get("code")); err != nil {
			t.Errorf("after refusals: %v", err)
		}
	})

	t.Run("wrong nonce", func(t *testing.T) {
		authURL, a := p.Begin()
		q := e.authorize(t, authURL, user)
		a.Nonce = "another-nonce"
		_, err := p.Finish(ctx, a, q.Get("state"), q.Get("code"))
		if !errors.Is(err, sso.ErrNonceMismatch) {
			t.Errorf("got %v, want ErrNonceMismatch", err)
		}
	})

	t.Run("wrong verifier", func(t *testing.T) {
		authURL, a := p.Begin()
		q := e.authorize(t, authURL, user)
		_, b := p.Begin()
		a.Verifier = b.Verifier
		_, err := p.Finish(ctx, a, q.Get("state"), q.Get("code"))
		if !errors.Is(err, sso.ErrExchange) || !strings.Contains(err.Error(), "invalid_grant") || !strings.Contains(err.Error(), "AADSTS501481") {
			t.Errorf("got %v, want ErrExchange invalid_grant AADSTS501481", err)
		}
		noSecrets(t, err, e, q.Get("code"))
		if strings.Contains(err.Error(), a.Verifier) {
			t.Errorf("error shows the verifier: %v", err)
		}
	})

	t.Run("no code", func(t *testing.T) {
		_, a := p.Begin()
		if _, err := p.Finish(ctx, a, a.State, ""); !errors.Is(err, sso.ErrExchange) {
			t.Errorf("got %v, want ErrExchange", err)
		}
	})

	t.Run("wrong secret", func(t *testing.T) {
		bad := e.provider(t, func(c *sso.Config) { c.ClientSecret = "not-the-secret-value" })
		authURL, a := bad.Begin()
		q := e.authorize(t, authURL, user)
		_, err := bad.Finish(ctx, a, q.Get("state"), q.Get("code"))
		if !errors.Is(err, sso.ErrExchange) || !strings.Contains(err.Error(), "AADSTS7000215") || strings.Contains(err.Error(), "not-the-secret-value") {
			t.Errorf("got %v", err)
		}
		noSecrets(t, err, e, q.Get("code"))
	})

	t.Run("attempt expired", func(t *testing.T) {
		authURL, a := p.Begin()
		q := e.authorize(t, authURL, user)
		e.clk.Advance(sso.AttemptTTL + time.Second)
		defer e.clk.Set(t0)
		if _, err := p.Finish(ctx, a, q.Get("state"), q.Get("code")); !errors.Is(err, sso.ErrAttemptExpired) {
			t.Errorf("got %v, want ErrAttemptExpired", err)
		}
	})

	t.Run("expired ID token", func(t *testing.T) {
		// vigil's clock is two hours ahead of Entra ID's: the one-hour
		// ID token is already expired when it arrives.
		e.clk.Set(t0.Add(2 * time.Hour))
		defer e.clk.Set(t0)
		authURL, a := p.Begin()
		q := e.authorize(t, authURL, user)
		_, err := p.Finish(ctx, a, q.Get("state"), q.Get("code"))
		var expired *oidc.TokenExpiredError
		if !errors.Is(err, sso.ErrInvalidToken) || !errors.As(err, &expired) {
			t.Errorf("got %v, want ErrInvalidToken wrapping TokenExpiredError", err)
		}
	})

	t.Run("token for another app", func(t *testing.T) {
		// A provider configured with another client id cannot redeem the
		// simulator app's code (Entra ID refuses an unknown app).
		other := e.provider(t, func(c *sso.Config) { c.ClientID = "11111111-2222-3333-4444-555555555555" })
		_, a := other.Begin()
		authURL, real := p.Begin()
		q := e.authorize(t, authURL, user)
		a.State, a.Verifier, a.Nonce = real.State, real.Verifier, real.Nonce
		if _, err := other.Finish(ctx, a, q.Get("state"), q.Get("code")); !errors.Is(err, sso.ErrExchange) || !strings.Contains(err.Error(), "AADSTS700016") {
			t.Errorf("got %v", err)
		}
	})
}

func TestProviderError(t *testing.T) {
	if err := sso.ProviderError(url.Values{"code": {"x"}, "state": {"y"}}); err != nil {
		t.Errorf("no error: %v", err)
	}
	// A real one: an unknown user, from the simulated Entra ID.
	e := newEnv(t)
	p := e.provider(t)
	authURL, a := p.Begin()
	q := e.authorize(t, authURL, "mallory@contoso.com")
	err := sso.ProviderError(q)
	var ae *sso.AuthError
	if !errors.As(err, &ae) || ae.Code != "invalid_request" || !strings.HasPrefix(ae.Description, "AADSTS50034") {
		t.Errorf("got %#v", err)
	}
	if q.Get("state") != a.State {
		t.Errorf("state = %q, want the attempt's", q.Get("state"))
	}
	// Provider text is made safe for logs.
	err = sso.ProviderError(url.Values{"error": {"access_denied"}, "error_description": {"line1\r\nforged log line\x00" + strings.Repeat("x", 1000)}})
	if !errors.As(err, &ae) || ae.Code != "access_denied" || strings.ContainsAny(err.Error(), "\r\n\x00") || len(ae.Description) > 420 {
		t.Errorf("got %q", err)
	}
}

func TestNewRefuses(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tests := []struct {
		name string
		mod  func(*sso.Config)
		want string
	}{
		{"http issuer", func(c *sso.Config) { c.Issuer = strings.Replace(c.Issuer, "https:", "http:", 1) }, "want an https URL"},
		{"no secret", func(c *sso.Config) { c.ClientSecret = "" }, "are required"},
		{"no redirect", func(c *sso.Config) { c.RedirectURL = "" }, "are required"},
		{"relative redirect", func(c *sso.Config) { c.RedirectURL = "/cb" }, "absolute URL"},
		{"bad default role", func(c *sso.Config) { c.DefaultRole = "root" }, "default role"},
		{"untrusted CA", func(c *sso.Config) { c.HTTPClient = nil }, "certificate"},
		{"issuer mismatch", func(c *sso.Config) { c.Issuer = e.srv.URL + "/organizations/v2.0" }, "discover"},
	}
	for _, tt := range tests {
		_, err := sso.New(ctx, e.config(tt.mod))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
		noSecrets(t, err, e, "")
	}
}

func TestDecodeAttempt(t *testing.T) {
	for _, bad := range []string{"", "!!", "e30", sso.Attempt{State: "s", Nonce: "n", Verifier: "short", Created: t0}.Encode()} {
		if _, err := sso.DecodeAttempt(bad); err == nil {
			t.Errorf("DecodeAttempt(%q) accepted", bad)
		}
	}
}
