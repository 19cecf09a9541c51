package simulator

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Managed identity endpoints, as azidentity's ManagedIdentityCredential
// (v1.15.0, through MSAL Go's apps/managedidentity v1.10.1) calls them:
//
//   - IMDS: GET /metadata/identity/oauth2/token?api-version=2018-02-01
//     &resource=…[&client_id=…|&object_id=…|&msi_res_id=…] with header
//     "Metadata: true". MSAL Go always sends it to
//     http://169.254.169.254; a test reaches the simulator with a
//     transport that rewrites that host (see managedidentity_test.go).
//     https://learn.microsoft.com/en-us/entra/identity/managed-identities-azure-resources/how-to-use-vm-token#get-a-token-using-http
//   - App Service: GET $IDENTITY_ENDPOINT?api-version=2019-08-01&resource=…
//     [&client_id=…|&object_id=…|&mi_res_id=…] with header
//     X-IDENTITY-HEADER: $IDENTITY_HEADER. Setting IDENTITY_ENDPOINT and
//     IDENTITY_HEADER is the practical way to point any azidentity at the
//     simulator.
//     https://learn.microsoft.com/en-us/azure/app-service/overview-managed-identity#rest-endpoint-reference
//
// Decided where the sources are silent: the simulated host has one
// system-assigned identity and any number of user-assigned ones
// (registered with AddManagedIdentity or POST /sim/v1/entra/managed-identities);
// an identity that is not registered gets 400 "invalid_request" on both
// endpoints, and a wrong X-IDENTITY-HEADER gets 401. Tokens come from the
// same store as client-credential tokens, so the resource APIs accept them.

// ManagedIdentity is one identity of the simulated host.
type ManagedIdentity struct {
	ClientID   string `json:"client_id"`
	ObjectID   string `json:"object_id"`
	ResourceID string `json:"resource_id,omitempty"`
}

// identityState is the simulator's credential state beyond the app's
// secret: the host's managed identities, and the certificates and
// federated credentials registered on the app.
type identityState struct {
	mu           sync.Mutex
	header       string
	system       ManagedIdentity
	userAssigned []ManagedIdentity
	certs        []registeredCert
	federated    []FederatedCredential
}

// newIdentityState makes a host with a system-assigned identity and a
// random X-IDENTITY-HEADER secret.
func newIdentityState() *identityState {
	b := make([]byte, 16)
	rand.Read(b)
	return &identityState{header: hex.EncodeToString(b), system: ManagedIdentity{ClientID: newGUID(), ObjectID: newGUID()}}
}

func (s *Simulator) identities() *identityState { return s.ids }

// ManagedIdentityEndpoint returns the App Service style endpoint and the
// secret header value a client sets as IDENTITY_ENDPOINT and
// IDENTITY_HEADER. The simulator must be serving.
func (s *Simulator) ManagedIdentityEndpoint() (endpoint, header string) {
	return s.base() + "/msi/token", s.identities().header
}

// SystemAssignedIdentity returns the host's system-assigned identity.
func (s *Simulator) SystemAssignedIdentity() ManagedIdentity { return s.identities().system }

// AddManagedIdentity registers a user-assigned identity; empty ids are
// generated. The resource id defaults to one in the simulated resource group.
func (s *Simulator) AddManagedIdentity(mi ManagedIdentity) ManagedIdentity {
	if mi.ClientID == "" {
		mi.ClientID = newGUID()
	}
	if mi.ObjectID == "" {
		mi.ObjectID = newGUID()
	}
	if mi.ResourceID == "" {
		mi.ResourceID = "/subscriptions/" + s.opt.SubscriptionID + "/resourceGroups/" + s.opt.ResourceGroup +
			"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-" + mi.ClientID[:8]
	}
	st := s.identities()
	st.mu.Lock()
	st.userAssigned = append(st.userAssigned, mi)
	st.mu.Unlock()
	return mi
}

// findIdentity resolves the selector of a token request: none means the
// system-assigned identity.
func (st *identityState) findIdentity(clientID, objectID, resourceID string) (ManagedIdentity, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if clientID == "" && objectID == "" && resourceID == "" {
		return st.system, true
	}
	for _, mi := range st.userAssigned {
		if (clientID != "" && strings.EqualFold(mi.ClientID, clientID)) ||
			(objectID != "" && strings.EqualFold(mi.ObjectID, objectID)) ||
			(resourceID != "" && strings.EqualFold(mi.ResourceID, resourceID)) {
			return mi, true
		}
	}
	return ManagedIdentity{}, false
}

func (s *Simulator) managedIdentityRoutes() {
	s.handle("GET /metadata/identity/oauth2/token", "mi.imds", "", s.imdsToken)
	s.handle("GET /msi/token", "mi.appservice", "", s.appServiceToken)
	s.handle("POST /sim/v1/entra/managed-identities", "sim.entra.mi.add", "", func(w http.ResponseWriter, r *http.Request) {
		var mi ManagedIdentity
		if err := decodeJSON(r, &mi); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want {client_id, object_id, resource_id}"})
			return
		}
		writeJSON(w, http.StatusCreated, s.AddManagedIdentity(mi))
	})
	s.handle("GET /sim/v1/entra/managed-identities", "sim.entra.mi.list", "", func(w http.ResponseWriter, r *http.Request) {
		ep, h := s.ManagedIdentityEndpoint()
		st := s.identities()
		st.mu.Lock()
		defer st.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"identity_endpoint": ep, "identity_header": h,
			"system_assigned": st.system, "user_assigned": append([]ManagedIdentity{}, st.userAssigned...)})
	})
}

func miError(w http.ResponseWriter, code int, errCode, desc string) {
	writeJSON(w, code, map[string]string{"error": errCode, "error_description": desc})
}

// imdsToken is IMDS's token endpoint.
func (s *Simulator) imdsToken(w http.ResponseWriter, r *http.Request) {
	// azidentity probes IMDS without the header to learn that it is
	// there; IMDS answers 400.
	if r.Header.Get("Metadata") != "true" {
		miError(w, http.StatusBadRequest, "invalid_request", "Required metadata header not specified")
		return
	}
	q := r.URL.Query()
	if q.Get("api-version") != "2018-02-01" && q.Get("api-version") != "2019-08-01" {
		miError(w, http.StatusBadRequest, "invalid_request", "Invalid api-version "+strconv.Quote(q.Get("api-version")))
		return
	}
	s.miToken(w, q.Get("resource"), q.Get("client_id"), q.Get("object_id"), q.Get("msi_res_id"), true)
}

// appServiceToken is App Service's identity endpoint.
func (s *Simulator) appServiceToken(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-IDENTITY-HEADER") != s.identities().header {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"statusCode": 401, "message": "Unauthorized: X-IDENTITY-HEADER is missing or wrong."})
		return
	}
	q := r.URL.Query()
	if q.Get("api-version") != "2019-08-01" {
		miError(w, http.StatusBadRequest, "invalid_request", "Invalid api-version "+strconv.Quote(q.Get("api-version")))
		return
	}
	s.miToken(w, q.Get("resource"), q.Get("client_id"), q.Get("object_id"), q.Get("mi_res_id"), false)
}

func (s *Simulator) miToken(w http.ResponseWriter, resource, clientID, objectID, resID string, imds bool) {
	if resource == "" {
		miError(w, http.StatusBadRequest, "invalid_request", "Required query variable 'resource' is missing")
		return
	}
	aud, ok := scopeAudience[strings.TrimSuffix(resource, "/")]
	if !ok {
		aud, ok = scopeAudience[resource]
	}
	if !ok {
		miError(w, http.StatusBadRequest, "invalid_resource", fmt.Sprintf("AADSTS500011: The resource principal named %s was not found in the tenant named %s.", resource, s.opt.TenantID))
		return
	}
	mi, ok := s.identities().findIdentity(clientID, objectID, resID)
	if !ok {
		miError(w, http.StatusBadRequest, "invalid_request", "Identity not found")
		return
	}
	now := s.clock.Now()
	life := s.opt.TokenLifetime
	exp := now.Add(life)
	body := map[string]any{
		"access_token": s.tokens.issue(aud, exp),
		"expires_on":   strconv.FormatInt(exp.Unix(), 10),
		"resource":     resource,
		"token_type":   "Bearer",
		"client_id":    mi.ClientID,
	}
	if imds {
		// IMDS's shape has the relative times too, as strings.
		secs := strconv.Itoa(int(life / time.Second))
		body["expires_in"], body["ext_expires_in"] = secs, secs
		body["not_before"] = strconv.FormatInt(now.Unix(), 10)
		body["refresh_token"] = ""
	}
	writeJSON(w, http.StatusOK, body)
}
