package simulator_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/vigil-soc/vigil/internal/simulator"
)

func TestClientCertificateCredential(t *testing.T) {
	srv := start(t, simulator.Options{})
	cert, key, certPEM := selfSignedCert(t, "vigil")
	if resp := postSim(t, srv, "/sim/v1/entra/certificates", map[string]string{"certificate": certPEM}); resp.StatusCode != 201 {
		t.Fatalf("register certificate: %d", resp.StatusCode)
	}
	other, otherKey, _ := selfSignedCert(t, "stranger")
	for _, tc := range []struct {
		name     string
		sendX5c  bool
		register bool
		wantErr  string
	}{
		{"registered certificate", false, true, ""},
		{"registered certificate with x5c", true, true, ""},
		{"unregistered certificate", false, false, "AADSTS700027"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, k := cert, key
			if !tc.register {
				c, k = other, otherKey
			}
			cred, err := azidentity.NewClientCertificateCredential(srv.Info.TenantID, srv.Info.ClientID, []*x509.Certificate{c}, k,
				&azidentity.ClientCertificateCredentialOptions{
					ClientOptions:            azcore.ClientOptions{Cloud: cloudConfig(srv), Transport: srv.Client()},
					DisableInstanceDiscovery: true, SendCertificateChain: tc.sendX5c,
				})
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != "" {
				_, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %s", err, tc.wantErr)
				}
				return
			}
			if status, body := armGet(t, srv, cred, "/subscriptions?api-version=2022-12-01"); status != 200 {
				t.Fatalf("GET /subscriptions = %d %v", status, body)
			}
		})
	}
}

// signJWT makes a compact RS256 JWS, as a Kubernetes service account
// token is.
func signJWT(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": "k1"})
	c, _ := json.Marshal(claims)
	signed := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestWorkloadIdentityCredential(t *testing.T) {
	srv := start(t, simulator.Options{})
	_, issuerKey, issuerPEM := selfSignedCert(t, "oidc.cluster.local")
	const issuer, subject = "https://oidc.cluster.local", "system:serviceaccount:soc:vigil"
	if resp := postSim(t, srv, "/sim/v1/entra/federated-credentials", map[string]any{
		"issuer": issuer, "subject": subject, "certificate": issuerPEM}); resp.StatusCode != 204 {
		t.Fatalf("register federated credential: %d", resp.StatusCode)
	}
	_, strangerKey, _ := selfSignedCert(t, "stranger")
	now := time.Now()
	for _, tc := range []struct {
		name    string
		key     *rsa.PrivateKey
		claims  map[string]any
		wantErr string
	}{
		{"matching credential", issuerKey, map[string]any{"iss": issuer, "sub": subject, "aud": []string{"api://AzureADTokenExchange"}}, ""},
		{"other subject", issuerKey, map[string]any{"iss": issuer, "sub": "system:serviceaccount:soc:other", "aud": "api://AzureADTokenExchange"}, "AADSTS70021"},
		{"other audience", issuerKey, map[string]any{"iss": issuer, "sub": subject, "aud": "api://elsewhere"}, "AADSTS700212"},
		{"wrong signer", strangerKey, map[string]any{"iss": issuer, "sub": subject, "aud": "api://AzureADTokenExchange"}, "AADSTS50027"},
		{"expired", issuerKey, map[string]any{"iss": issuer, "sub": subject, "aud": "api://AzureADTokenExchange", "exp": now.Add(-time.Hour).Unix()}, "AADSTS700024"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := tc.claims["exp"]; !ok {
				tc.claims["exp"] = now.Add(time.Hour).Unix()
			}
			tc.claims["nbf"] = now.Add(-time.Minute).Unix()
			file := filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(file, []byte(signJWT(t, tc.key, tc.claims)), 0o600); err != nil {
				t.Fatal(err)
			}
			cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
				ClientID: srv.Info.ClientID, TenantID: srv.Info.TenantID, TokenFilePath: file,
				ClientOptions:            azcore.ClientOptions{Cloud: cloudConfig(srv), Transport: srv.Client()},
				DisableInstanceDiscovery: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != "" {
				_, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %s", err, tc.wantErr)
				}
				return
			}
			if status, body := armGet(t, srv, cred, "/subscriptions?api-version=2022-12-01"); status != 200 {
				t.Fatalf("GET /subscriptions = %d %v", status, body)
			}
		})
	}
}

// Raw token requests with assertions azidentity would never send.
func TestClientAssertionErrors(t *testing.T) {
	srv := start(t, simulator.Options{})
	endpoint := srv.Info.Authority + srv.Info.TenantID + "/oauth2/v2.0/token"
	_, key, _ := selfSignedCert(t, "unregistered")
	now := time.Now()
	selfSigned := signJWT(t, key, map[string]any{"iss": srv.Info.ClientID, "sub": srv.Info.ClientID, "aud": endpoint, "exp": now.Add(time.Hour).Unix()})
	for _, tc := range []struct {
		name, assertionType, assertion string
		want                           string
	}{
		{"wrong assertion type", "urn:example", selfSigned, "AADSTS700023"},
		{"malformed", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "not-a-jwt", "AADSTS50027"},
		{"no thumbprint matches", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", selfSigned, "AADSTS700027"},
		{"no federated credential", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
			signJWT(t, key, map[string]any{"iss": "https://issuer.example", "sub": "x", "aud": "api://AzureADTokenExchange", "exp": now.Add(time.Hour).Unix()}), "AADSTS70021"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {srv.Info.ClientID},
				"scope": {"https://management.azure.com/.default"}, "client_assertion_type": {tc.assertionType}, "client_assertion": {tc.assertion}}
			resp, err := srv.Client().PostForm(endpoint, form)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				ErrorDescription string `json:"error_description"`
			}
			json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != 401 || !strings.Contains(body.ErrorDescription, tc.want) {
				t.Fatalf("got %d %q, want 401 %s", resp.StatusCode, body.ErrorDescription, tc.want)
			}
		})
	}
}
