package simulator_test

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/simulator"
)

const (
	testRedirect = "https://vigil.example/auth/callback"
	testVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" // RFC 7636's example
	testNonce    = "n-0S6_WzA2Mj"
)

func testChallenge(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// noRedirects is the simulator's client, not following redirects so that
// a test sees where the authorize endpoint sends the browser.
func noRedirects(srv *simulator.Server) *http.Client {
	c := srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

func authorizeURL(srv *simulator.Server, kv ...string) string {
	q := url.Values{
		"client_id": {srv.Info.ClientID}, "redirect_uri": {testRedirect}, "response_type": {"code"},
		"scope": {"openid profile email"}, "state": {"st-123"}, "nonce": {testNonce},
		"code_challenge": {testChallenge(testVerifier)}, "code_challenge_method": {"S256"},
		"login_hint": {simulator.DefaultUserEmail},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			q.Del(kv[i])
		} else {
			q.Set(kv[i], kv[i+1])
		}
	}
	return srv.URL + "/" + srv.Info.TenantID + "/oauth2/v2.0/authorize?" + q.Encode()
}

// authorizeTo requests an authorize URL and returns where it redirects to.
func authorizeTo(t *testing.T, srv *simulator.Server, u string) url.Values {
	t.Helper()
	resp, err := noRedirects(srv).Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: status %d, want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != testRedirect {
		t.Fatalf("redirected to %s, want %s", got, testRedirect)
	}
	return loc.Query()
}

type tokenAnswer struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	AccessToken string `json:"access_token"`
	IDToken     string `json:"id_token"`
	TokenType   string `json:"token_type"`
	Scope       string `json:"scope"`
	ExpiresIn   int    `json:"expires_in"`
	Status      int    `json:"-"`
}

func redeem(t *testing.T, srv *simulator.Server, kv ...string) tokenAnswer {
	t.Helper()
	f := url.Values{"grant_type": {"authorization_code"}, "client_id": {srv.Info.ClientID}, "client_secret": {srv.Info.ClientSecret},
		"redirect_uri": {testRedirect}, "code_verifier": {testVerifier}}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			f.Del(kv[i])
		} else {
			f.Set(kv[i], kv[i+1])
		}
	}
	resp, err := srv.Client().PostForm(srv.URL+"/"+srv.Info.TenantID+"/oauth2/v2.0/token", f)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a tokenAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	a.Status = resp.StatusCode
	return a
}

func getJSON(t *testing.T, srv *simulator.Server, path string, v any) int {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(v)
	return resp.StatusCode
}

// verifyJWT checks an RS256 JWT against the simulator's published keys
// and returns its claims.
func verifyJWT(t *testing.T, srv *simulator.Server, raw string) map[string]any {
	t.Helper()
	var jwks struct {
		Keys []struct{ Kty, Use, Kid, N, E, X5t string }
	}
	if code := getJSON(t, srv, "/"+srv.Info.TenantID+"/discovery/v2.0/keys", &jwks); code != 200 || len(jwks.Keys) != 1 {
		t.Fatalf("keys: %d %+v", code, jwks)
	}
	k := jwks.Keys[0]
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", raw)
	}
	var hdr struct{ Alg, Kid, Typ string }
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	json.Unmarshal(hb, &hdr)
	if hdr.Alg != "RS256" || hdr.Kid != k.Kid || k.Kty != "RSA" || k.Use != "sig" || k.X5t != k.Kid {
		t.Fatalf("header %+v, key %+v", hdr, k)
	}
	n, _ := base64.RawURLEncoding.DecodeString(k.N)
	e, _ := base64.RawURLEncoding.DecodeString(k.E)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("signature: %v", err)
	}
	var claims map[string]any
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if err := json.Unmarshal(cb, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func TestOpenIDDiscovery(t *testing.T) {
	srv := start(t, simulator.Options{})
	tenant := srv.Info.TenantID
	var doc map[string]any
	if code := getJSON(t, srv, "/"+tenant+"/v2.0/.well-known/openid-configuration", &doc); code != 200 {
		t.Fatalf("status %d", code)
	}
	b := srv.URL + "/" + tenant
	for k, want := range map[string]string{
		"issuer": b + "/v2.0", "authorization_endpoint": b + "/oauth2/v2.0/authorize",
		"token_endpoint": b + "/oauth2/v2.0/token", "jwks_uri": b + "/discovery/v2.0/keys",
	} {
		if doc[k] != want {
			t.Errorf("%s = %v, want %s", k, doc[k], want)
		}
	}
	if srv.Sim.Issuer() != b+"/v2.0" {
		t.Errorf("Issuer() = %s", srv.Sim.Issuer())
	}
	has := func(k, v string) bool {
		l, _ := doc[k].([]any)
		return slices.Contains(l, any(v))
	}
	if !has("response_types_supported", "code") || !has("id_token_signing_alg_values_supported", "RS256") ||
		!has("scopes_supported", "openid") || !has("subject_types_supported", "pairwise") || !has("claims_supported", "nonce") {
		t.Errorf("document = %v", doc)
	}
	// "organizations" publishes a templated issuer, as Entra ID does.
	getJSON(t, srv, "/organizations/v2.0/.well-known/openid-configuration", &doc)
	if doc["issuer"] != srv.URL+"/{tenantid}/v2.0" {
		t.Errorf("organizations issuer = %v", doc["issuer"])
	}
	var e struct{ Error, ErrorDescription string }
	if code := getJSON(t, srv, "/11111111-1111-1111-1111-111111111111/v2.0/.well-known/openid-configuration", &e); code != 400 || e.Error != "invalid_tenant" {
		t.Errorf("unknown tenant: %d %+v", code, e)
	}
}

func TestAuthorizationCodeFlow(t *testing.T) {
	clk := clock.NewFake(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	srv := start(t, simulator.Options{Clock: clk})
	if err := srv.Sim.AddRedirectURI(testRedirect); err != nil {
		t.Fatal(err)
	}
	admin := srv.Sim.AddUser("Alex.Admin@contoso.com", "Alex Admin", "vigil.admin", "other.role")

	q := authorizeTo(t, srv, authorizeURL(srv, "login_hint", "alex.admin@contoso.com"))
	if q.Get("state") != "st-123" || q.Get("code") == "" || q.Get("error") != "" {
		t.Fatalf("redirect query = %v", q)
	}
	a := redeem(t, srv, "code", q.Get("code"))
	if a.Status != 200 || a.AccessToken == "" || a.IDToken == "" || a.TokenType != "Bearer" || a.ExpiresIn != 3600 {
		t.Fatalf("token answer = %+v", a)
	}
	if a.Scope != "email openid profile https://graph.microsoft.com/User.Read" {
		t.Errorf("scope = %q", a.Scope)
	}
	c := verifyJWT(t, srv, a.IDToken)
	now := clk.Now().Unix()
	want := map[string]any{
		"iss": srv.Sim.Issuer(), "aud": srv.Info.ClientID, "tid": srv.Info.TenantID, "oid": admin.ObjectID,
		"preferred_username": "Alex.Admin@contoso.com", "email": "Alex.Admin@contoso.com", "name": "Alex Admin",
		"nonce": testNonce, "ver": "2.0", "iat": float64(now), "nbf": float64(now), "exp": float64(now + 3600),
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	if sub, _ := c["sub"].(string); len(sub) != 43 || sub == admin.ObjectID {
		t.Errorf("sub = %v, want a pairwise subject", c["sub"])
	}
	if roles, _ := c["roles"].([]any); len(roles) != 2 || roles[0] != "vigil.admin" {
		t.Errorf("roles = %v", c["roles"])
	}

	// The code is single use.
	if b := redeem(t, srv, "code", q.Get("code")); b.Status != 400 || b.Error != "invalid_grant" || !strings.HasPrefix(b.Description, "AADSTS54005") {
		t.Errorf("replayed code: %+v", b)
	}

	// The default analyst has the responder role; without the profile
	// and email scopes the token carries no name or email.
	q = authorizeTo(t, srv, authorizeURL(srv, "scope", "openid"))
	a = redeem(t, srv, "code", q.Get("code"))
	c = verifyJWT(t, srv, a.IDToken)
	if roles, _ := c["roles"].([]any); len(roles) != 1 || roles[0] != simulator.DefaultUserRole {
		t.Errorf("analyst roles = %v", c["roles"])
	}
	if _, ok := c["email"]; ok || c["name"] != nil || a.Scope != "openid https://graph.microsoft.com/User.Read" {
		t.Errorf("openid only: claims %v scope %q", c, a.Scope)
	}

	// A user without app roles gets no roles claim.
	srv.Sim.AddUser("nobody@contoso.com", "No Body")
	c = verifyJWT(t, srv, redeem(t, srv, "code", authorizeTo(t, srv, authorizeURL(srv, "login_hint", "nobody@contoso.com")).Get("code")).IDToken)
	if _, ok := c["roles"]; ok {
		t.Errorf("roles = %v, want none", c["roles"])
	}

	// A code expires after ten minutes.
	q = authorizeTo(t, srv, authorizeURL(srv))
	clk.Advance(10*time.Minute + time.Second)
	if b := redeem(t, srv, "code", q.Get("code")); b.Error != "invalid_grant" || !strings.HasPrefix(b.Description, "AADSTS70008") {
		t.Errorf("expired code: %+v", b)
	}

	// The access token is Graph's and works there.
	q = authorizeTo(t, srv, authorizeURL(srv))
	a = redeem(t, srv, "code", q.Get("code"))
	req, _ := http.NewRequest("GET", srv.Info.GraphURL+"/v1.0/security/alerts_v2", nil)
	req.Header.Set("Authorization", "Bearer "+a.AccessToken)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("graph with the sign-in access token: %d", resp.StatusCode)
	}
}

func TestTokenEndpointAuthorizationCodeErrors(t *testing.T) {
	srv := start(t, simulator.Options{})
	srv.Sim.AddRedirectURI(testRedirect)
	srv.Sim.AddRedirectURI("https://vigil.example/other")
	code := func() string { return authorizeTo(t, srv, authorizeURL(srv)).Get("code") }
	// spent: a redemption by the authenticated app spends the code even
	// when it fails; requests refused before the code is looked up do not.
	tests := []struct {
		name   string
		kv     []string
		status int
		err    string
		aadsts string
		spent  bool
	}{
		{"wrong verifier", []string{"code_verifier", strings.Repeat("a", 43)}, 400, "invalid_grant", "AADSTS501481", true},
		{"no verifier", []string{"code_verifier", ""}, 400, "invalid_request", "AADSTS900144", true},
		{"other redirect", []string{"redirect_uri", "https://vigil.example/other"}, 400, "invalid_grant", "AADSTS500112", true},
		{"no redirect", []string{"redirect_uri", ""}, 400, "invalid_request", "AADSTS900144", false},
		{"unknown code", []string{"code", "1.Anot-a-code"}, 400, "invalid_grant", "AADSTS9002313", false},
		{"no code", []string{"code", ""}, 400, "invalid_request", "AADSTS900144", false},
		{"wrong secret", []string{"client_secret", "nope"}, 401, "invalid_client", "AADSTS7000215", false},
		{"no secret", []string{"client_secret", ""}, 401, "invalid_client", "AADSTS7000218", false},
		{"unknown client", []string{"client_id", "00000000-0000-0000-0000-000000000000"}, 400, "unauthorized_client", "AADSTS700016", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := code()
			a := redeem(t, srv, append([]string{"code", c}, tt.kv...)...)
			if a.Status != tt.status || a.Error != tt.err || !strings.HasPrefix(a.Description, tt.aadsts) || a.IDToken != "" {
				t.Errorf("got %d %q %q, want %d %q %s…", a.Status, a.Error, a.Description, tt.status, tt.err, tt.aadsts)
			}
			again := redeem(t, srv, "code", c)
			if spent := again.Status != 200; spent != tt.spent {
				t.Errorf("redeem again = %d %s, want spent %v", again.Status, again.Description, tt.spent)
			} else if spent && !strings.HasPrefix(again.Description, "AADSTS54005") {
				t.Errorf("redeem again = %s, want AADSTS54005", again.Description)
			}
		})
	}
}

func TestAuthorizeErrors(t *testing.T) {
	srv := start(t, simulator.Options{})
	srv.Sim.AddRedirectURI(testRedirect)

	// What cannot be trusted is answered with an error page, never a redirect.
	pages := []struct {
		name, url, aadsts string
	}{
		{"unknown client", authorizeURL(srv, "client_id", "00000000-0000-0000-0000-000000000000"), "AADSTS700016"},
		{"no client", authorizeURL(srv, "client_id", ""), "AADSTS900144"},
		{"unregistered redirect", authorizeURL(srv, "redirect_uri", "https://evil.example/cb"), "AADSTS50011"},
		{"no redirect", authorizeURL(srv, "redirect_uri", ""), "AADSTS50011"},
		{"unknown tenant", strings.Replace(authorizeURL(srv), srv.Info.TenantID, "11111111-1111-1111-1111-111111111111", 1), "AADSTS90002"},
	}
	for _, tt := range pages {
		resp, err := noRedirects(srv).Get(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || resp.Header.Get("Location") != "" || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") || !bytes.Contains(body, []byte(tt.aadsts)) {
			t.Errorf("%s: %d location %q body %s", tt.name, resp.StatusCode, resp.Header.Get("Location"), body)
		}
	}

	// The rest goes back to the redirect URI, with the state.
	redirects := []struct {
		name      string
		kv        []string
		err       string
		aadsts    string
		wantState bool
	}{
		{"no response_type", []string{"response_type", ""}, "invalid_request", "AADSTS900144", true},
		{"token response", []string{"response_type", "token"}, "unsupported_response_type", "AADSTS700054", true},
		{"no openid", []string{"scope", "profile email"}, "invalid_scope", "AADSTS70011", true},
		{"no scope", []string{"scope", ""}, "invalid_request", "AADSTS900144", true},
		{"no state", []string{"state", ""}, "invalid_request", "AADSTS900144", false},
		{"no nonce", []string{"nonce", ""}, "invalid_request", "AADSTS900144", true},
		{"no PKCE", []string{"code_challenge", "", "code_challenge_method", ""}, "invalid_request", "AADSTS900144", true},
		{"plain PKCE", []string{"code_challenge_method", "plain"}, "invalid_request", "AADSTS9002313", true},
		{"short challenge", []string{"code_challenge", "abc"}, "invalid_request", "AADSTS501491", true},
		{"fragment mode", []string{"response_mode", "fragment"}, "invalid_request", "AADSTS9002313", true},
		{"unknown user", []string{"login_hint", "mallory@contoso.com"}, "invalid_request", "AADSTS50034", true},
	}
	for _, tt := range redirects {
		q := authorizeTo(t, srv, authorizeURL(srv, tt.kv...))
		if q.Get("error") != tt.err || !strings.HasPrefix(q.Get("error_description"), tt.aadsts) || q.Get("code") != "" {
			t.Errorf("%s: got %v, want %s %s", tt.name, q, tt.err, tt.aadsts)
		}
		if (q.Get("state") == "st-123") != tt.wantState {
			t.Errorf("%s: state = %q", tt.name, q.Get("state"))
		}
	}
}

func TestAuthorizeAccountPicker(t *testing.T) {
	srv := start(t, simulator.Options{})
	srv.Sim.AddRedirectURI(testRedirect)
	srv.Sim.AddUser("bob@contoso.com", "Bob <b>", "vigil.viewer")
	resp, err := noRedirects(srv).Get(authorizeURL(srv, "login_hint", ""))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("picker: %d %s", resp.StatusCode, body)
	}
	page := string(body)
	if !strings.Contains(page, "login_hint=bob%40contoso.com") || !strings.Contains(page, "login_hint=analyst%40contoso.com") || strings.Contains(page, "Bob <b>") {
		t.Errorf("picker page = %s", page)
	}
	// Following a link signs that user in.
	i := strings.Index(page, `href="`) + len(`href="`)
	link := html.UnescapeString(page[i : i+strings.Index(page[i:], `"`)])
	q := authorizeTo(t, srv, srv.URL+link)
	if q.Get("code") == "" {
		t.Errorf("link %s: %v", link, q)
	}
}

func TestRedirectURIRegistration(t *testing.T) {
	srv := start(t, simulator.Options{})
	for _, bad := range []string{"", "/relative", "http://vigil.example/cb", "https://vigil.example/cb#frag"} {
		if err := srv.Sim.AddRedirectURI(bad); err == nil {
			t.Errorf("AddRedirectURI(%q) accepted", bad)
		}
	}
	// Through the control API, and a loopback URI matches on any port.
	resp, err := srv.Client().Post(srv.URL+"/sim/v1/entra/redirect-uris", "application/json", strings.NewReader(`{"uri":"http://127.0.0.1/auth/callback"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("register: %d", resp.StatusCode)
	}
	resp, err = srv.Client().Post(srv.URL+"/sim/v1/entra/users", "application/json", strings.NewReader(`{"email":"carol@contoso.com","name":"Carol","roles":["vigil.viewer"]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("add user: %d", resp.StatusCode)
	}
	var users struct{ Value []simulator.EntraUser }
	getJSON(t, srv, "/sim/v1/entra/users", &users)
	if len(users.Value) != 2 || users.Value[0].Email != simulator.DefaultUserEmail || users.Value[1].Roles[0] != "vigil.viewer" {
		t.Errorf("users = %+v", users.Value)
	}
	for u, ok := range map[string]bool{
		"http://127.0.0.1:51234/auth/callback": true, "http://127.0.0.1/auth/callback": true,
		"http://127.0.0.1:51234/other": false, "http://localhost:51234/auth/callback": false,
	} {
		resp, err := noRedirects(srv).Get(authorizeURL(srv, "redirect_uri", u, "login_hint", "carol@contoso.com"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.StatusCode == http.StatusFound && strings.HasPrefix(resp.Header.Get("Location"), u+"?"); got != ok {
			t.Errorf("%s: status %d location %q", u, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}
