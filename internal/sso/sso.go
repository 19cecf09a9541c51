// Package sso signs users in to vigil with OpenID Connect (the
// authorization-code flow with PKCE), typically against Entra ID, and maps
// their app roles to vigil's roles. It is the relying party only: the web
// layer keeps the Attempt in a short-lived cookie between Begin and Finish
// and makes its own session from the Identity.
//
// Nothing here logs, and no error carries the client secret, the
// authorization code or a token.
package sso

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/vigil-soc/vigil/internal/clock"
)

// vigil's roles, as internal/auth spells them.
const (
	RoleViewer    = "viewer"
	RoleResponder = "responder"
	RoleAdmin     = "admin"
)

// AttemptTTL is how long a sign-in attempt may take, from Begin to Finish.
// The cookie holding the Attempt should not outlive it.
const AttemptTTL = 10 * time.Minute

// Errors Finish returns, wrapped; test with errors.Is.
var (
	ErrStateMismatch  = errors.New("sso: state does not match the sign-in attempt")
	ErrNonceMismatch  = errors.New("sso: ID token nonce does not match the sign-in attempt")
	ErrAttemptExpired = errors.New("sso: sign-in attempt expired")
	ErrNoRole         = errors.New("sso: user has no app role that maps to a vigil role")
	ErrExchange       = errors.New("sso: code exchange failed")
	ErrInvalidToken   = errors.New("sso: ID token is invalid")
)

// Config configures the relying party.
type Config struct {
	// Issuer is the OpenID Connect issuer, for Entra ID
	// https://login.microsoftonline.com/<tenant id>/v2.0.
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is vigil's callback, registered with the provider.
	RedirectURL string
	// Scopes default to openid, profile and email; openid is always sent.
	Scopes []string
	// RoleClaim names the ID-token claim holding the user's app roles
	// (default "roles", Entra ID's app roles). A string or a list.
	RoleClaim string
	// App-role values mapped to vigil's roles; the highest matching role
	// wins. Defaults: vigil.admin, vigil.responder, vigil.viewer.
	AdminRoles, ResponderRoles, ViewerRoles []string
	// DefaultRole is the role of a user with no matching app role; ""
	// refuses them.
	DefaultRole string
	// HTTPClient talks to the provider, e.g. to trust a private CA (the
	// simulator's). Default http.DefaultClient.
	HTTPClient *http.Client
	// Clock checks token expiry and attempt age (default the wall clock).
	Clock clock.Clock
}

// Provider is a configured relying party. It is safe for concurrent use.
type Provider struct {
	cfg      Config
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
	issuer   string
}

// New discovers the provider at c.Issuer and returns a relying party.
func New(ctx context.Context, c Config) (*Provider, error) {
	if err := c.defaults(); err != nil {
		return nil, err
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, c.HTTPClient), c.Issuer)
	if err != nil {
		return nil, fmt.Errorf("sso: discover %s: %w", c.Issuer, err)
	}
	ep := p.Endpoint()
	// Entra ID lists client_secret_post first; sending the secret in the
	// body avoids auto-detection, which would send the code twice after a
	// refusal.
	ep.AuthStyle = oauth2.AuthStyleInParams
	return &Provider{
		cfg: c, issuer: c.Issuer,
		oauth: oauth2.Config{
			ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURL: c.RedirectURL,
			Endpoint: ep, Scopes: c.Scopes,
		},
		verifier: p.Verifier(&oidc.Config{
			ClientID:             c.ClientID,
			SupportedSigningAlgs: []string{oidc.RS256},
			Now:                  c.Clock.Now,
		}),
	}, nil
}

func (c *Config) defaults() error {
	var errs []error
	if c.Issuer == "" || c.ClientID == "" || c.ClientSecret == "" || c.RedirectURL == "" {
		errs = append(errs, errors.New("issuer, client id, client secret and redirect URL are required"))
	}
	if u, err := url.Parse(c.Issuer); c.Issuer != "" && (err != nil || u.Scheme != "https" || u.Host == "") {
		errs = append(errs, fmt.Errorf("issuer %q: want an https URL", c.Issuer))
	}
	if u, err := url.Parse(c.RedirectURL); c.RedirectURL != "" && (err != nil || !u.IsAbs() || u.Host == "") {
		errs = append(errs, fmt.Errorf("redirect URL %q: want an absolute URL", c.RedirectURL))
	}
	switch c.DefaultRole {
	case "", RoleViewer, RoleResponder, RoleAdmin:
	default:
		errs = append(errs, fmt.Errorf("default role %q: want viewer, responder, admin or empty", c.DefaultRole))
	}
	if len(errs) > 0 {
		return fmt.Errorf("sso: config: %w", errors.Join(errs...))
	}
	if len(c.Scopes) == 0 {
		c.Scopes = []string{oidc.ScopeOpenID, "profile", "email"}
	} else if !slices.Contains(c.Scopes, oidc.ScopeOpenID) {
		c.Scopes = append([]string{oidc.ScopeOpenID}, c.Scopes...)
	}
	if c.RoleClaim == "" {
		c.RoleClaim = "roles"
	}
	if c.AdminRoles == nil {
		c.AdminRoles = []string{"vigil.admin"}
	}
	if c.ResponderRoles == nil {
		c.ResponderRoles = []string{"vigil.responder"}
	}
	if c.ViewerRoles == nil {
		c.ViewerRoles = []string{"vigil.viewer"}
	}
	if c.HTTPClient == nil {
		c.HTTPClient = http.DefaultClient
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	return nil
}

// Attempt is one sign-in in progress: the secrets Finish checks the
// provider's answer against. Keep it in a Secure, HttpOnly, SameSite=Lax
// cookie that lives AttemptTTL, and delete the cookie in the callback.
type Attempt struct {
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"` // PKCE code verifier
	Created  time.Time `json:"c"`
}

// Encode renders the attempt as a cookie value.
func (a Attempt) Encode() string {
	b, _ := json.Marshal(a)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeAttempt reads a cookie value made by Encode.
func DecodeAttempt(s string) (Attempt, error) {
	var a Attempt
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &a)
	}
	if err != nil || a.State == "" || a.Nonce == "" || len(a.Verifier) < 43 || a.Created.IsZero() {
		return Attempt{}, errors.New("sso: malformed sign-in attempt cookie")
	}
	return a, nil
}

// Begin starts a sign-in: it returns the URL to redirect the browser to
// and the attempt to keep until the provider redirects back.
func (p *Provider) Begin() (authURL string, a Attempt) {
	a = Attempt{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), Created: p.cfg.Clock.Now()}
	authURL = p.oauth.AuthCodeURL(a.State, oidc.Nonce(a.Nonce), oauth2.S256ChallengeOption(a.Verifier))
	return authURL, a
}

// Identity is a signed-in user.
type Identity struct {
	Issuer, Subject, Email, Name string
	Role                         string // "viewer", "responder" or "admin"
	// ObjectID is Entra ID's oid claim: the user's object id in the
	// tenant, by which a Sentinel incident's owner is set ("" elsewhere).
	ObjectID string
}

// Finish completes the sign-in attempt a with the state and code the
// provider redirected back with (check ProviderError first): it checks
// the state, exchanges the code, verifies the ID token (signature,
// issuer, audience, expiry, nonce) and maps the user's roles.
func (p *Provider) Finish(ctx context.Context, a Attempt, state, code string) (Identity, error) {
	now := p.cfg.Clock.Now()
	switch {
	case a.State == "" || subtle.ConstantTimeCompare([]byte(a.State), []byte(state)) != 1:
		return Identity{}, ErrStateMismatch
	case now.Sub(a.Created) > AttemptTTL || a.Created.After(now.Add(time.Minute)):
		return Identity{}, fmt.Errorf("%w: started %s ago", ErrAttemptExpired, now.Sub(a.Created).Round(time.Second))
	case code == "":
		return Identity{}, fmt.Errorf("%w: the provider sent no code", ErrExchange)
	}
	ctx = oidc.ClientContext(ctx, p.cfg.HTTPClient)
	tok, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(a.Verifier))
	if err != nil {
		return Identity{}, exchangeError(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Identity{}, fmt.Errorf("%w: the token response has no id_token", ErrExchange)
	}
	idt, err := p.verifier.Verify(ctx, raw)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(a.Nonce)) != 1 {
		return Identity{}, ErrNonceMismatch
	}
	var claims map[string]json.RawMessage
	if err := idt.Claims(&claims); err != nil {
		return Identity{}, fmt.Errorf("%w: claims: %w", ErrInvalidToken, err)
	}
	str := func(k string) string {
		var s string
		json.Unmarshal(claims[k], &s)
		return s
	}
	id := Identity{Issuer: idt.Issuer, Subject: idt.Subject, Email: str("email"), Name: str("name"), ObjectID: str("oid")}
	if id.Email == "" {
		// Entra ID's preferred_username is the UPN, an email address for
		// most members; it is not verified, so only used as a display
		// fallback.
		if u := str("preferred_username"); strings.Contains(u, "@") {
			id.Email = u
		}
	}
	if id.Name == "" {
		id.Name = id.Email
	}
	roles, err := roleValues(claims[p.cfg.RoleClaim])
	if err != nil {
		return Identity{}, fmt.Errorf("%w: claim %q: %w", ErrInvalidToken, p.cfg.RoleClaim, err)
	}
	id.Role = p.MapRole(roles)
	if id.Role == "" {
		return Identity{}, fmt.Errorf("%w (user %s, %s %v)", ErrNoRole, id.Email, p.cfg.RoleClaim, roles)
	}
	return id, nil
}

// MapRole maps app-role values to the highest vigil role they grant, or
// DefaultRole when none does.
func (p *Provider) MapRole(values []string) string {
	has := func(want []string) bool {
		return slices.ContainsFunc(values, func(v string) bool { return slices.Contains(want, v) })
	}
	switch {
	case has(p.cfg.AdminRoles):
		return RoleAdmin
	case has(p.cfg.ResponderRoles):
		return RoleResponder
	case has(p.cfg.ViewerRoles):
		return RoleViewer
	}
	return p.cfg.DefaultRole
}

// roleValues reads a role claim that is a list of strings, one string or
// absent.
func roleValues(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil {
		return list, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err != nil {
		return nil, errors.New("want a string or a list of strings")
	}
	return strings.Fields(one), nil
}

// exchangeError keeps the provider's error code and description, but not
// the response body verbatim.
func exchangeError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		if re.ErrorCode != "" {
			return fmt.Errorf("%w: HTTP %d %s: %s", ErrExchange, status, re.ErrorCode, clean(re.ErrorDescription))
		}
		return fmt.Errorf("%w: HTTP %d", ErrExchange, status)
	}
	// A transport error: its URL is the token endpoint, which holds no
	// secret (they travel in the body).
	return fmt.Errorf("%w: %w", ErrExchange, err)
}

// AuthError is an error the provider redirected back with instead of a
// code, such as access_denied when the user declined.
type AuthError struct {
	Code        string // OAuth error, e.g. access_denied, invalid_request
	Description string // e.g. Entra ID's "AADSTS50034: …"
}

func (e *AuthError) Error() string {
	if e.Description == "" {
		return "sso: identity provider refused sign-in: " + e.Code
	}
	return "sso: identity provider refused sign-in: " + e.Code + ": " + e.Description
}

// ProviderError returns the error in the query of the provider's redirect
// to the callback (error and error_description), or nil when there is
// none. The values are cleaned for logging.
func ProviderError(q url.Values) error {
	code := q.Get("error")
	if code == "" {
		return nil
	}
	return &AuthError{Code: clean(code), Description: clean(q.Get("error_description"))}
}

// clean keeps provider text printable and short, as it may come from a
// forged redirect.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 400 {
		s = string(r[:400]) + "…"
	}
	return s
}

func random() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
