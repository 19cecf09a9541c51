package simulator

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Audiences of the simulated resources, keyed by the resource part of an
// OAuth scope ("<resource>/.default").
const (
	audARM          = "arm"
	audGraph        = "graph"
	audDevOps       = "devops"
	audLogAnalytics = "loganalytics"
)

var scopeAudience = map[string]string{
	"https://management.azure.com":               audARM,
	"https://management.azure.com/":              audARM,
	"https://management.core.windows.net":        audARM,
	"https://management.core.windows.net/":       audARM,
	"https://graph.microsoft.com":                audGraph,
	"499b84ac-1321-427f-aa17-267ca6975798":       audDevOps, // Azure DevOps' application id
	"https://app.vssps.visualstudio.com":         audDevOps,
	"https://app.vssps.visualstudio.com/":        audDevOps,
	"api://499b84ac-1321-427f-aa17-267ca6975798": audDevOps,
	"https://api.loganalytics.io":                audLogAnalytics,
	"https://api.loganalytics.io/":               audLogAnalytics,
}

type token struct {
	audience string
	expires  time.Time
}

type tokenStore struct {
	mu     sync.Mutex
	tokens map[string]token
	// signin is the interactive (OpenID Connect) sign-in state.
	signin *signIn
}

func newTokenStore() *tokenStore { return &tokenStore{tokens: map[string]token{}, signin: newSignIn()} }

func (ts *tokenStore) issue(aud string, expires time.Time) string {
	b := make([]byte, 24)
	rand.Read(b)
	// Opaque, but shaped like a JWT: some clients split on dots.
	t := "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString(b) + ".sim"
	ts.mu.Lock()
	ts.tokens[t] = token{audience: aud, expires: expires}
	ts.mu.Unlock()
	return t
}

func (ts *tokenStore) lookup(t string) (token, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	tok, ok := ts.tokens[t]
	return tok, ok
}

// expireAll makes every issued token expired now, as a token that
// outlives a long run does; clients must fetch a new one.
func (ts *tokenStore) expireAll(now time.Time) int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for k, t := range ts.tokens {
		t.expires = now.Add(-time.Second)
		ts.tokens[k] = t
	}
	return len(ts.tokens)
}

// entraError writes Entra ID's OAuth error shape.
func (s *Simulator) entraError(w http.ResponseWriter, code int, errCode string, aadsts int, desc string) {
	now := s.clock.Now().UTC()
	writeJSON(w, code, map[string]any{
		"error":             errCode,
		"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", aadsts, desc, newGUID(), newGUID(), now.Format("2006-01-02 15:04:05Z")),
		"error_codes":       []int{aadsts},
		"timestamp":         now.Format("2006-01-02 15:04:05Z"),
		"trace_id":          newGUID(),
		"correlation_id":    newGUID(),
		"error_uri":         "https://login.microsoftonline.com/error?code=" + fmt.Sprint(aadsts),
	})
}

// token answers the client-credentials and authorization-code grants at
// /{tenant}/oauth2/v2.0/token.
func (s *Simulator) token(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	if tenant != s.opt.TenantID && tenant != "organizations" {
		s.entraError(w, http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	if err := r.ParseForm(); err != nil {
		s.entraError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	gt := r.PostForm.Get("grant_type")
	if gt != "client_credentials" && gt != "authorization_code" {
		s.entraError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'.", gt))
		return
	}
	clientID, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		clientID, secret = u, p
	}
	if clientID != s.opt.ClientID {
		s.entraError(w, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", clientID, s.opt.TenantID))
		return
	}
	if !s.clientAssertion(w, r, clientID, &secret) { // clientcert.go
		return
	}
	if secret == "" {
		s.entraError(w, http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		return
	}
	if secret != s.opt.ClientSecret {
		s.entraError(w, http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+s.opt.ClientID+"'.")
		return
	}
	if gt == "authorization_code" {
		s.authorizationCodeGrant(w, r, clientID)
		return
	}
	scope := strings.TrimSpace(r.PostForm.Get("scope"))
	var aud string
	for _, sc := range strings.Fields(scope) {
		res := strings.TrimSuffix(sc, ".default")
		if a, ok := scopeAudience[strings.TrimSuffix(res, "/")]; ok {
			aud = a
		} else if a, ok := scopeAudience[res]; ok {
			aud = a
		}
	}
	if aud == "" {
		s.entraError(w, http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope))
		return
	}
	life := s.opt.TokenLifetime
	t := s.tokens.issue(aud, s.clock.Now().Add(life))
	secs := int(life / time.Second)
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": t,
	})
}

// openIDConfiguration is the tenant's OpenID Connect discovery document,
// which MSAL reads when pointed at a custom authority and OpenID Connect
// relying parties read to sign users in. For "organizations" and "common"
// the issuer is a template with {tenantid}, as Entra ID publishes it.
func (s *Simulator) openIDConfiguration(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	if !s.knownTenant(tenant) {
		s.entraError(w, http.StatusBadRequest, "invalid_tenant", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	b := s.base() + "/" + tenant
	// Pages a person's browser opens may be served apart, over plain
	// HTTP on loopback (Server.ServeBrowserPages).
	browser := s.browserBase() + "/" + tenant
	issuer := s.base() + "/{tenantid}/v2.0"
	if strings.EqualFold(tenant, s.opt.TenantID) {
		issuer = s.Issuer()
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        b + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              b + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                issuer,
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     s.base() + "/oidc/userinfo",
		"authorization_endpoint":                browser + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         b + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  browser + "/oauth2/v2.0/logout",
		"claims_supported": []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
			"msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"},
		"kerberos_endpoint":     b + "/kerberos",
		"tenant_region_scope":   "EU",
		"cloud_instance_name":   "microsoftonline.com",
		"cloud_graph_host_name": "graph.windows.net",
		"msgraph_host":          "graph.microsoft.com",
		"rbac_url":              "https://pas.windows.net",
	})
}

// instanceDiscovery answers MSAL's instance discovery, for clients that do
// not disable it.
func (s *Simulator) instanceDiscovery(w http.ResponseWriter, r *http.Request) {
	host := strings.TrimPrefix(s.base(), "https://")
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": s.base() + "/" + s.discoveryTenant(r) + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata":                  []map[string]any{{"preferred_network": host, "preferred_cache": host, "aliases": []string{host}}},
	})
}

// authorize checks the bearer token of a call to a resource of audience
// aud, answering as that resource does when it is missing, expired or for
// another resource.
func (s *Simulator) authorize(aud string, w http.ResponseWriter, r *http.Request) bool {
	h := r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || raw == "" {
		s.authError(aud, w, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
		return false
	}
	tok, found := s.tokens.lookup(raw)
	now := s.clock.Now()
	switch {
	case !found:
		s.authError(aud, w, "InvalidAuthenticationToken", "The access token is invalid.")
		return false
	case !now.Before(tok.expires):
		s.authError(aud, w, "ExpiredAuthenticationToken", fmt.Sprintf(
			"The access token expiry UTC time '%s' is earlier than current UTC time '%s'.",
			tok.expires.UTC().Format("1/2/2006 3:04:05 PM"), now.UTC().Format("1/2/2006 3:04:05 PM")))
		return false
	case tok.audience != aud:
		s.authError(aud, w, "InvalidAuthenticationTokenAudience", "The access token has been obtained for wrong audience or resource.")
		return false
	}
	return true
}

func (s *Simulator) authError(aud string, w http.ResponseWriter, code, msg string) {
	switch aud {
	case audGraph:
		if code == "ExpiredAuthenticationToken" {
			msg = "Lifetime validation failed, the token is expired."
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
		writeJSON(w, http.StatusUnauthorized, graphError("InvalidAuthenticationToken", msg, s.clock.Now()))
	case audDevOps:
		w.Header().Set("WWW-Authenticate", `Bearer authorization_uri=https://login.microsoftonline.com/`+s.opt.TenantID)
		writeJSON(w, http.StatusUnauthorized, devopsError("VssUnauthorizedException", "TF400813: The user is not authorized to access this resource. "+msg, 0))
	default:
		w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="https://login.windows.net/`+s.opt.TenantID+`", error="invalid_token", error_description="`+msg+`"`)
		writeJSON(w, http.StatusUnauthorized, armErrorBody(code, msg))
	}
}

func newGUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
