package simulator

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Client assertions at the token endpoint: grant_type=client_credentials
// with client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
// and client_assertion=<JWT>, instead of client_secret.
// https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials
// https://learn.microsoft.com/en-us/entra/workload-id/workload-identity-federation
//
// Two kinds, told apart by the issuer, as Entra ID does:
//   - a certificate credential (azidentity's ClientCertificateCredential):
//     iss = sub = the app's client id, aud = the token endpoint, signed
//     RS256 or PS256 (MSAL Go's default) by a certificate registered on
//     the app, found by the header's x5t (SHA-1) or x5t#S256 thumbprint;
//   - a federated credential (WorkloadIdentityCredential): iss and sub
//     match a federated identity credential registered on the app, aud is
//     one of its audiences (default api://AzureADTokenExchange).
//     Entra ID fetches the issuer's keys from its OpenID discovery; the
//     simulator, which has no outside network, takes the issuer's
//     certificate with the registration instead.
//
// Both are checked for exp and nbf with five minutes' skew, as Entra ID
// allows.

const (
	assertionType      = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	federatedAudience  = "api://AzureADTokenExchange"
	assertionClockSkew = 5 * time.Minute
)

type registeredCert struct {
	sha1, sha256 string // base64url thumbprints, as in x5t and x5t#S256
	key          *rsa.PublicKey
}

// FederatedCredential is a federated identity credential on the app.
type FederatedCredential struct {
	Issuer    string   `json:"issuer"`
	Subject   string   `json:"subject"`
	Audiences []string `json:"audiences,omitempty"`
	// Certificate is the PEM certificate whose key signs the issuer's
	// tokens (the simulator's stand-in for the issuer's JWKS).
	Certificate string `json:"certificate"`
	key         *rsa.PublicKey
}

func parseCertPEM(p string) (*x509.Certificate, *rsa.PublicKey, error) {
	b, _ := pem.Decode([]byte(p))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, nil, fmt.Errorf("%w: want a PEM CERTIFICATE block", ErrInvalidInput)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: parse certificate: %v", ErrInvalidInput, err)
	}
	k, ok := c.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, nil, fmt.Errorf("%w: only RSA certificates are supported", ErrInvalidInput)
	}
	return c, k, nil
}

// AddCertificate registers a PEM certificate on the app, as uploading it
// under Certificates & secrets does. It returns the x5t thumbprint.
func (s *Simulator) AddCertificate(certPEM string) (string, error) {
	c, k, err := parseCertPEM(certPEM)
	if err != nil {
		return "", err
	}
	h1, h256 := sha1.Sum(c.Raw), sha256.Sum256(c.Raw)
	rc := registeredCert{sha1: base64.RawURLEncoding.EncodeToString(h1[:]), sha256: base64.RawURLEncoding.EncodeToString(h256[:]), key: k}
	st := s.identities()
	st.mu.Lock()
	st.certs = append(st.certs, rc)
	st.mu.Unlock()
	return rc.sha1, nil
}

// AddFederatedCredential registers a federated identity credential on the app.
func (s *Simulator) AddFederatedCredential(fc FederatedCredential) error {
	if fc.Issuer == "" || fc.Subject == "" {
		return fmt.Errorf("%w: issuer and subject are required", ErrInvalidInput)
	}
	_, k, err := parseCertPEM(fc.Certificate)
	if err != nil {
		return err
	}
	fc.key = k
	if len(fc.Audiences) == 0 {
		fc.Audiences = []string{federatedAudience}
	}
	st := s.identities()
	st.mu.Lock()
	st.federated = append(st.federated, fc)
	st.mu.Unlock()
	return nil
}

func (s *Simulator) clientCertRoutes() {
	s.handle("POST /sim/v1/entra/certificates", "sim.entra.certs.add", "", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Certificate string `json:"certificate"`
		}
		if err := decodeJSON(r, &body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want {certificate}: a PEM certificate"})
			return
		}
		x5t, err := s.AddCertificate(body.Certificate)
		if err != nil {
			simError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]string{"x5t": x5t})
	})
	s.handle("POST /sim/v1/entra/federated-credentials", "sim.entra.federated.add", "", func(w http.ResponseWriter, r *http.Request) {
		var fc FederatedCredential
		if err := decodeJSON(r, &fc); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want {issuer, subject, audiences, certificate}"})
			return
		}
		if err := s.AddFederatedCredential(fc); err != nil {
			simError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// assertion is a parsed, not yet verified, client assertion.
type assertion struct {
	Header struct {
		Alg     string `json:"alg"`
		X5t     string `json:"x5t"`
		X5tS256 string `json:"x5t#S256"`
	}
	Claims struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
		Exp float64         `json:"exp"`
		Nbf float64         `json:"nbf"`
	}
	signed, sig []byte
}

// parseAssertion splits and decodes a compact JWS. It checks shape only.
func parseAssertion(raw string) (*assertion, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a compact JWS")
	}
	var a assertion
	for i, dst := range []any{&a.Header, &a.Claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return nil, fmt.Errorf("part %d: %w", i, err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			return nil, fmt.Errorf("part %d: %w", i, err)
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	a.signed, a.sig = []byte(parts[0]+"."+parts[1]), sig
	return &a, nil
}

// audiences reads aud, a string or an array of strings.
func (a *assertion) audiences() []string {
	var one string
	if json.Unmarshal(a.Claims.Aud, &one) == nil {
		return []string{one}
	}
	var many []string
	json.Unmarshal(a.Claims.Aud, &many)
	return many
}

func (a *assertion) verify(k *rsa.PublicKey) error {
	h := sha256.Sum256(a.signed)
	switch a.Header.Alg {
	case "RS256":
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], a.sig)
	case "PS256":
		return rsa.VerifyPSS(k, crypto.SHA256, h[:], a.sig, nil)
	}
	return fmt.Errorf("unsupported alg %q", a.Header.Alg)
}

// checkClientAssertion authenticates the app by client_assertion. It
// writes Entra ID's error and returns false when the assertion fails.
func (s *Simulator) checkClientAssertion(w http.ResponseWriter, r *http.Request, clientID string) bool {
	fail := func(aadsts int, desc string) bool {
		s.entraError(w, http.StatusUnauthorized, "invalid_client", aadsts, desc)
		return false
	}
	if r.PostForm.Get("client_assertion_type") != assertionType {
		return fail(700023, "Invalid client assertion type. Expected '"+assertionType+"'.")
	}
	a, err := parseAssertion(r.PostForm.Get("client_assertion"))
	if err != nil {
		return fail(50027, "JWT token is invalid or malformed.")
	}
	now := s.clock.Now()
	if a.Claims.Exp == 0 || now.After(time.Unix(int64(a.Claims.Exp), 0).Add(assertionClockSkew)) ||
		(a.Claims.Nbf != 0 && now.Add(assertionClockSkew).Before(time.Unix(int64(a.Claims.Nbf), 0))) {
		return fail(700024, "Client assertion is not within its valid time range.")
	}
	st := s.identities()
	st.mu.Lock()
	certs, feds := slices.Clone(st.certs), slices.Clone(st.federated)
	st.mu.Unlock()
	if a.Claims.Iss == clientID && a.Claims.Sub == clientID {
		if !slices.Contains(a.audiences(), s.base()+r.URL.Path) {
			return fail(700212, "Client assertion audience claim does not match the token endpoint.")
		}
		for _, c := range certs {
			if thumbprintIs(a.Header.X5t, c.sha1) || thumbprintIs(a.Header.X5tS256, c.sha256) {
				if a.verify(c.key) != nil {
					return fail(700027, "Client assertion failed signature validation.")
				}
				return true
			}
		}
		return fail(700027, "Client assertion contains an invalid signature. [Reason - The key was not found.]")
	}
	for _, fc := range feds {
		if fc.Issuer != a.Claims.Iss || fc.Subject != a.Claims.Sub {
			continue
		}
		if !slices.ContainsFunc(a.audiences(), func(x string) bool { return slices.Contains(fc.Audiences, x) }) {
			return fail(700212, "No matching federated identity record found for presented assertion audience.")
		}
		if a.verify(fc.key) != nil {
			return fail(50027, "JWT token failed signature validation.")
		}
		return true
	}
	return fail(70021, fmt.Sprintf("No matching federated identity record found for presented assertion. Assertion Issuer: '%s'. Assertion Subject: '%s'.", a.Claims.Iss, a.Claims.Sub))
}

// clientAssertion is the token endpoint's hook: a request with a
// client_assertion and no secret is authenticated by the assertion, which
// then stands for the secret. It returns false when it has answered.
func (s *Simulator) clientAssertion(w http.ResponseWriter, r *http.Request, clientID string, secret *string) bool {
	if *secret != "" || !r.PostForm.Has("client_assertion") {
		return true
	}
	if !s.checkClientAssertion(w, r, clientID) {
		return false
	}
	*secret = s.opt.ClientSecret
	return true
}

// thumbprintIs compares a header thumbprint with a registered one.
// RFC 7515 says base64url, but MSAL Go sends standard base64 with padding,
// and Entra ID accepts both; so does the simulator.
func thumbprintIs(header, registered string) bool {
	if header == "" {
		return false
	}
	want, _ := base64.RawURLEncoding.DecodeString(registered)
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if got, err := enc.DecodeString(header); err == nil {
			return string(got) == string(want)
		}
	}
	return false
}
