package simulator

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// This file is Entra ID's OpenID Connect sign-in (the authorization-code
// flow with PKCE) for the one application registered in the simulator:
// Options.ClientID with Options.ClientSecret, the same app that uses the
// client-credentials grant. There is no real user: the authorize endpoint
// signs in the simulated user named by login_hint.

// DefaultUser is the analyst every simulator starts with.
const (
	DefaultUserEmail = "analyst@contoso.com"
	DefaultUserName  = "Sam Analyst"
	DefaultUserRole  = "vigil.responder"
)

// codeLifetime is how long an authorization code may be redeemed, as
// Entra ID's codes.
const codeLifetime = 10 * time.Minute

// idTokenLifetime is the lifetime of ID tokens (Entra ID: one hour).
const idTokenLifetime = time.Hour

// EntraUser is a user of the simulated directory who can sign in.
type EntraUser struct {
	ObjectID string   `json:"objectId"`
	Email    string   `json:"email"`
	Name     string   `json:"name"`
	Roles    []string `json:"roles"` // app-role values assigned for the registered app
}

type codeGrant struct {
	clientID, redirectURI, challenge, nonce string
	scopes                                  []string
	user                                    EntraUser
	expires                                 time.Time
	used                                    bool
}

// signIn is the directory's interactive sign-in state.
type signIn struct {
	mu        sync.Mutex
	users     map[string]EntraUser // by lower-case email
	redirects map[string]bool
	codes     map[string]*codeGrant

	keyOnce sync.Once
	key     *rsa.PrivateKey
	kid     string
	certDER []byte
	keyErr  error
}

func newSignIn() *signIn {
	si := &signIn{users: map[string]EntraUser{}, redirects: map[string]bool{}, codes: map[string]*codeGrant{}}
	si.addUser(DefaultUserEmail, DefaultUserName, []string{DefaultUserRole})
	return si
}

func (si *signIn) addUser(email, name string, roles []string) EntraUser {
	email = strings.TrimSpace(email)
	u := EntraUser{ObjectID: entraGUID("user|" + strings.ToLower(email)), Email: email, Name: name, Roles: slices.Clone(roles)}
	if u.Roles == nil {
		u.Roles = []string{}
	}
	si.mu.Lock()
	si.users[strings.ToLower(email)] = u
	si.mu.Unlock()
	return u
}

// signingKey is generated on first use, not in New: most simulators never
// sign anyone in, and an RSA key takes a while to generate.
func (si *signIn) signingKey() (*rsa.PrivateKey, string, []byte, error) {
	si.keyOnce.Do(func() {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			si.keyErr = fmt.Errorf("signing key: %w", err)
			return
		}
		now := time.Now()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(now.UnixNano()),
			Subject:      pkix.Name{CommonName: "accounts.accesscontrol.windows.net"},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(5 * 365 * 24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			si.keyErr = fmt.Errorf("signing certificate: %w", err)
			return
		}
		// Entra ID's kid is the certificate's x5t.
		sum := sha1.Sum(der)
		si.key, si.kid, si.certDER = key, base64.RawURLEncoding.EncodeToString(sum[:]), der
	})
	return si.key, si.kid, si.certDER, si.keyErr
}

// AddUser registers a user who can sign in to the registered app, with the
// app roles assigned to them; an existing user of that email is replaced.
// Every simulator starts with DefaultUserEmail (role DefaultUserRole).
func (s *Simulator) AddUser(email, name string, roles ...string) EntraUser {
	return s.tokens.signin.addUser(email, name, roles)
}

// Users lists the directory's users by email.
func (s *Simulator) Users() []EntraUser {
	si := s.tokens.signin
	si.mu.Lock()
	defer si.mu.Unlock()
	out := make([]EntraUser, 0, len(si.users))
	for _, u := range si.users {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Email) < strings.ToLower(out[j].Email) })
	return out
}

// AddRedirectURI registers a redirect URI (reply URL) of the registered
// app. The authorize endpoint never redirects anywhere else.
func (s *Simulator) AddRedirectURI(uri string) error {
	u, err := url.Parse(uri)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" {
		return fmt.Errorf("%w: redirect URI %q must be an absolute URL without a fragment", ErrInvalidInput, uri)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return fmt.Errorf("%w: redirect URI %q must use https (http is allowed for localhost only)", ErrInvalidInput, uri)
	}
	si := s.tokens.signin
	si.mu.Lock()
	si.redirects[uri] = true
	si.mu.Unlock()
	return nil
}

// Issuer is the issuer of the ID tokens the simulator signs:
// https://<host>/<tenant>/v2.0.
func (s *Simulator) Issuer() string { return s.base() + "/" + s.opt.TenantID + "/v2.0" }

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// redirectAllowed reports whether uri is registered. As Entra ID does for
// loopback addresses, the port of an http://localhost or 127.0.0.1 URI is
// ignored.
func (si *signIn) redirectAllowed(uri string) bool {
	if uri == "" {
		return false
	}
	si.mu.Lock()
	defer si.mu.Unlock()
	if si.redirects[uri] {
		return true
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || !isLoopback(u.Hostname()) {
		return false
	}
	for r := range si.redirects {
		ru, err := url.Parse(r)
		if err == nil && ru.Scheme == "http" && ru.Hostname() == u.Hostname() && ru.Path == u.Path && ru.RawQuery == u.RawQuery {
			return true
		}
	}
	return false
}

func (si *signIn) user(email string) (EntraUser, bool) {
	si.mu.Lock()
	defer si.mu.Unlock()
	u, ok := si.users[strings.ToLower(strings.TrimSpace(email))]
	return u, ok
}

func (si *signIn) issueCode(g *codeGrant) string {
	b := make([]byte, 48)
	rand.Read(b)
	code := "1.A" + base64.RawURLEncoding.EncodeToString(b)
	si.mu.Lock()
	defer si.mu.Unlock()
	for c, old := range si.codes { // forget long-dead codes
		if old.expires.Before(g.expires.Add(-24 * time.Hour)) {
			delete(si.codes, c)
		}
	}
	si.codes[code] = g
	return code
}

type redeemResult int

const (
	redeemOK redeemResult = iota
	redeemUnknown
	redeemUsed
	redeemExpired
)

// redeem uses up a code: any redemption attempt spends it, so that a
// stolen code cannot be tried against many verifiers.
func (si *signIn) redeem(code string, now time.Time) (codeGrant, redeemResult) {
	si.mu.Lock()
	defer si.mu.Unlock()
	g, ok := si.codes[code]
	switch {
	case !ok:
		return codeGrant{}, redeemUnknown
	case g.used:
		return codeGrant{}, redeemUsed
	case !now.Before(g.expires):
		return codeGrant{}, redeemExpired
	}
	g.used = true
	return *g, redeemOK
}

func (s *Simulator) knownTenant(tenant string) bool {
	return strings.EqualFold(tenant, s.opt.TenantID) || tenant == "organizations" || tenant == "common"
}

// aadDescription is the error_description Entra ID writes: the AADSTS
// code, the message and the trace lines.
func (s *Simulator) aadDescription(aadsts int, desc string) string {
	now := s.clock.Now().UTC()
	return fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", aadsts, desc, newGUID(), newGUID(), now.Format("2006-01-02 15:04:05Z"))
}

var errorPage = template.Must(template.New("error").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Sign in to your account</title></head>
<body><h1>Sign in</h1><p>Sorry, but we're having trouble signing you in.</p>
<p id="error">{{.}}</p></body></html>
`))

// signInErrorPage answers as Entra ID does when it cannot trust the
// request enough to redirect: an HTML page, never a redirect.
func (s *Simulator) signInErrorPage(w http.ResponseWriter, aadsts int, desc string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusBadRequest)
	errorPage.Execute(w, s.aadDescription(aadsts, desc))
}

var pickPage = template.Must(template.New("pick").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Sign in to your account</title></head>
<body><h1>Pick an account</h1><ul>
{{range .}}<li><a href="{{.URL}}">{{.Name}} &lt;{{.Email}}&gt;</a></li>
{{end}}</ul></body></html>
`))

// authorizeEndpoint is GET /{tenant}/oauth2/v2.0/authorize.
func (s *Simulator) authorizeEndpoint(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	q := r.URL.Query()
	si := s.tokens.signin
	if !s.knownTenant(tenant) {
		s.signInErrorPage(w, 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	clientID := q.Get("client_id")
	switch {
	case clientID == "":
		s.signInErrorPage(w, 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	case clientID != s.opt.ClientID:
		s.signInErrorPage(w, 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, s.opt.TenantID))
		return
	}
	redirectURI := q.Get("redirect_uri")
	if !si.redirectAllowed(redirectURI) {
		s.signInErrorPage(w, 50011, fmt.Sprintf("The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this.", redirectURI, clientID))
		return
	}
	// From here on the redirect URI is trusted: errors go back to it.
	state := q.Get("state")
	back := func(params url.Values) {
		u, _ := url.Parse(redirectURI)
		rq := u.Query()
		for k, vs := range params {
			rq[k] = vs
		}
		if state != "" {
			rq.Set("state", state)
		}
		u.RawQuery = rq.Encode()
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	fail := func(errCode string, aadsts int, desc string) {
		back(url.Values{"error": {errCode}, "error_description": {s.aadDescription(aadsts, desc)},
			"error_uri": {"https://login.microsoftonline.com/error?code=" + fmt.Sprint(aadsts)}})
	}
	missing := func(p string) {
		fail("invalid_request", 900144, "The request body must contain the following parameter: '"+p+"'.")
	}
	if rm := q.Get("response_mode"); rm != "" && rm != "query" {
		fail("invalid_request", 9002313, fmt.Sprintf("Invalid request. Request is malformed or invalid. The simulator supports response_mode 'query' only, not '%s'.", rm))
		return
	}
	rt := q.Get("response_type")
	switch {
	case rt == "":
		missing("response_type")
		return
	case rt != "code":
		fail("unsupported_response_type", 700054, fmt.Sprintf("response_type '%s' is not enabled for the application.", rt))
		return
	}
	scopes := strings.Fields(q.Get("scope"))
	switch {
	case len(scopes) == 0:
		missing("scope")
		return
	case !slices.Contains(scopes, "openid"):
		fail("invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid. The scope must include 'openid'.")
		return
	}
	nonce, challenge := q.Get("nonce"), q.Get("code_challenge")
	switch {
	case state == "":
		missing("state")
		return
	case nonce == "":
		missing("nonce")
		return
	case challenge == "":
		missing("code_challenge")
		return
	case q.Get("code_challenge_method") != "S256":
		fail("invalid_request", 9002313, "Invalid request. Request is malformed or invalid. code_challenge_method must be 'S256'.")
		return
	case len(challenge) != 43 || strings.Trim(challenge, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "":
		fail("invalid_request", 501491, "Invalid size of Code_Challenge parameter.")
		return
	}
	hint := q.Get("login_hint")
	if hint == "" {
		// No real user to ask: list the simulated users to pick from.
		type link struct{ URL, Name, Email string }
		var links []link
		for _, u := range s.Users() {
			lq := r.URL.Query()
			lq.Set("login_hint", u.Email)
			links = append(links, link{URL: r.URL.Path + "?" + lq.Encode(), Name: u.Name, Email: u.Email})
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		pickPage.Execute(w, links)
		return
	}
	user, ok := si.user(hint)
	if !ok {
		fail("invalid_request", 50034, fmt.Sprintf("The user account {EUII Hidden} does not exist in the '%s' directory. To sign into this application, the account must be added to the directory.", s.opt.TenantID))
		return
	}
	code := si.issueCode(&codeGrant{
		clientID: clientID, redirectURI: redirectURI, challenge: challenge, nonce: nonce,
		scopes: scopes, user: user, expires: s.clock.Now().Add(codeLifetime),
	})
	back(url.Values{"code": {code}, "session_state": {newGUID()}})
}

// authorizationCodeGrant answers grant_type=authorization_code for the
// authenticated client clientID.
func (s *Simulator) authorizationCodeGrant(w http.ResponseWriter, r *http.Request, clientID string) {
	form := r.PostForm
	code, redirectURI, verifier := form.Get("code"), form.Get("redirect_uri"), form.Get("code_verifier")
	missing := func(p string) {
		s.entraError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: '"+p+"'.")
	}
	switch {
	case code == "":
		missing("code")
		return
	case redirectURI == "":
		missing("redirect_uri")
		return
	}
	now := s.clock.Now()
	g, res := s.tokens.signin.redeem(code, now)
	switch res {
	case redeemUnknown:
		s.entraError(w, http.StatusBadRequest, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
		return
	case redeemUsed:
		s.entraError(w, http.StatusBadRequest, "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
		return
	case redeemExpired:
		s.entraError(w, http.StatusBadRequest, "invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")
		return
	}
	switch {
	case g.clientID != clientID:
		s.entraError(w, http.StatusBadRequest, "invalid_grant", 70000, "Provided grant is invalid or malformed.")
		return
	case g.redirectURI != redirectURI:
		s.entraError(w, http.StatusBadRequest, "invalid_grant", 500112, fmt.Sprintf("The reply address '%s' does not match the reply address '%s' provided when requesting Authorization code.", redirectURI, g.redirectURI))
		return
	case verifier == "":
		missing("code_verifier")
		return
	}
	sum := sha256.Sum256([]byte(verifier))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(g.challenge)) != 1 {
		s.entraError(w, http.StatusBadRequest, "invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
		return
	}
	idToken, err := s.signIDToken(g, now)
	if err != nil {
		s.entraError(w, http.StatusInternalServerError, "server_error", 90033, "A transient error has occurred. Please try again.")
		return
	}
	life := s.opt.TokenLifetime
	// The access token is for Graph (User.Read), as Entra ID issues for
	// an OpenID Connect sign-in without a resource scope.
	access := s.tokens.issue(audGraph, now.Add(life))
	var granted []string
	for _, sc := range []string{"email", "openid", "profile"} {
		if slices.Contains(g.scopes, sc) {
			granted = append(granted, sc)
		}
	}
	granted = append(granted, "https://graph.microsoft.com/User.Read")
	secs := int(life / time.Second)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type": "Bearer", "scope": strings.Join(granted, " "), "expires_in": secs, "ext_expires_in": secs,
		"access_token": access, "id_token": idToken,
	})
}

// signIDToken makes Entra ID's v2.0 ID token for a redeemed code.
func (s *Simulator) signIDToken(g codeGrant, now time.Time) (string, error) {
	key, kid, _, err := s.tokens.signin.signingKey()
	if err != nil {
		return "", err
	}
	u := g.user
	claims := map[string]any{
		"aud": g.clientID, "iss": s.Issuer(),
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(idTokenLifetime).Unix(),
		"nonce": g.nonce, "oid": u.ObjectID, "tid": s.opt.TenantID, "ver": "2.0",
		// sub is pairwise: stable for this user and this app only.
		"sub": pairwiseSubject(u.ObjectID, g.clientID),
		"sid": entraGUID("sid|" + u.ObjectID), "uti": randomB64(16), "rh": "0.A" + randomB64(24) + ".",
	}
	if slices.Contains(g.scopes, "profile") {
		claims["name"] = u.Name
		claims["preferred_username"] = u.Email
	}
	if slices.Contains(g.scopes, "email") {
		claims["email"] = u.Email
	}
	if len(u.Roles) > 0 {
		claims["roles"] = u.Roles
	}
	return signJWT(key, kid, claims)
}

func signJWT(key *rsa.PrivateKey, kid string, claims map[string]any) (string, error) {
	h, err := json.Marshal(map[string]string{"typ": "JWT", "alg": "RS256", "kid": kid})
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signed := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// keys is GET /{tenant}/discovery/v2.0/keys, Entra ID's JWKS.
func (s *Simulator) keys(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	if !s.knownTenant(tenant) {
		s.entraError(w, http.StatusBadRequest, "invalid_tenant", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	key, kid, der, err := s.tokens.signin.signingKey()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	issuer := s.Issuer()
	if !strings.EqualFold(tenant, s.opt.TenantID) {
		issuer = s.base() + "/{tenantid}/v2.0"
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]any{{
		"kty": "RSA", "use": "sig", "kid": kid, "x5t": kid,
		"n":   base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
		"x5c": []string{base64.StdEncoding.EncodeToString(der)}, "cloud_instance_name": "microsoftonline.com",
		"issuer": issuer,
	}}})
}

func pairwiseSubject(oid, clientID string) string {
	sum := sha256.Sum256([]byte("sub|" + oid + "|" + clientID))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:43]
}

func randomB64(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// entraGUID derives a stable GUID from seed.
func entraGUID(seed string) string {
	b := sha256.Sum256([]byte(seed))
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
