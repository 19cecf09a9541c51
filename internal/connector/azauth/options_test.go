package azauth_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/vigil-soc/vigil/internal/connector/azauth"
	"github.com/vigil-soc/vigil/internal/simulator"
	"github.com/vigil-soc/vigil/internal/validation"
)

// newCert makes an RSA key and a self-signed certificate; it returns the
// key, the certificate PEM and the certificate+key PEM.
func newCert(t *testing.T, cn string) (*rsa.PrivateKey, []byte, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return key, certPEM, append(append([]byte{}, certPEM...), keyPEM...)
}

// signJWT signs claims RS256, as a workload identity issuer (the AKS
// OIDC issuer) does.
func signJWT(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signed := enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + enc(claims)
	h := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestValidate(t *testing.T) {
	_, _, certKey := newCert(t, "vigil")
	tests := []struct {
		name  string
		o     azauth.Options
		field string // "" = valid
	}{
		{"secret", azauth.Options{TenantID: "t", ClientID: "c", ClientSecret: "s"}, ""},
		{"secret is the default kind", azauth.Options{TenantID: "t", ClientID: "c"}, "client_secret"},
		{"secret without tenant", azauth.Options{Kind: "secret", ClientID: "c", ClientSecret: "s"}, "tenant_id"},
		{"secret without client", azauth.Options{Kind: "secret", TenantID: "t", ClientSecret: "s"}, "client_id"},
		{"unknown kind", azauth.Options{Kind: "password"}, "credential"},
		{"certificate", azauth.Options{Kind: "certificate", TenantID: "t", ClientID: "c", CertificatePEM: certKey}, ""},
		{"certificate missing", azauth.Options{Kind: "certificate", TenantID: "t", ClientID: "c"}, "certificate_file"},
		{"certificate without key", azauth.Options{Kind: "certificate", TenantID: "t", ClientID: "c", CertificatePEM: certKey[:strings.Index(string(certKey), "-----BEGIN RSA")]}, "certificate_file"},
		{"certificate garbage", azauth.Options{Kind: "certificate", TenantID: "t", ClientID: "c", CertificatePEM: []byte("nope")}, "certificate_file"},
		{"certificate without client", azauth.Options{Kind: "certificate", TenantID: "t", CertificatePEM: certKey}, "client_id"},
		{"managed identity needs nothing", azauth.Options{Kind: "managed_identity"}, ""},
		{"managed identity by client id", azauth.Options{Kind: "managed_identity", ManagedIdentityClientID: "x"}, ""},
		{"managed identity by resource id", azauth.Options{Kind: "managed_identity", ManagedIdentityResourceID: "/x"}, ""},
		{"managed identity both ids", azauth.Options{Kind: "managed_identity", ManagedIdentityClientID: "x", ManagedIdentityResourceID: "/x"}, "managed_identity_client_id"},
		{"workload identity", azauth.Options{Kind: "workload_identity", TenantID: "t", ClientID: "c", FederatedTokenFile: "/f"}, ""},
		{"workload identity without file", azauth.Options{Kind: "workload_identity", TenantID: "t", ClientID: "c"}, "federated_token_file"},
		{"workload identity without tenant", azauth.Options{Kind: "workload_identity", ClientID: "c", FederatedTokenFile: "/f"}, "tenant_id"},
		{"azure cli needs nothing", azauth.Options{Kind: "azure_cli"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				if _, err := tc.o.NewCredential(); err != nil {
					t.Fatalf("NewCredential = %v", err)
				}
				return
			}
			var fe *validation.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("Validate = %v, want a field error on %s", err, tc.field)
			}
			if _, err := tc.o.NewCredential(); !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("NewCredential = %v, want the same field error", err)
			}
		})
	}
}

func TestRedaction(t *testing.T) {
	_, _, certKey := newCert(t, "vigil")
	for _, o := range []azauth.Options{
		{TenantID: "tenant-1", ClientID: "client-1", ClientSecret: "s3cret-value"},
		{Kind: "certificate", TenantID: "tenant-1", ClientID: "client-1", CertificatePEM: certKey, CertificatePassword: "s3cret-value"},
		{Kind: "managed_identity", ManagedIdentityClientID: "mi-1", ClientSecret: "s3cret-value"},
	} {
		var buf strings.Builder
		slog.New(slog.NewTextHandler(&buf, nil)).Info("cfg", "credential", o)
		for _, out := range []string{o.String(), fmt.Sprint(o), fmt.Sprintf("%v", o), buf.String()} {
			if strings.Contains(out, "s3cret-value") || strings.Contains(out, "PRIVATE KEY") || strings.Contains(out, "BEGIN") {
				t.Errorf("secret in %q", out)
			}
			if !strings.Contains(out, "1") {
				t.Errorf("%q names no id", out)
			}
		}
	}
}

func startSim(t *testing.T) *simulator.Server {
	t.Helper()
	srv, err := simulator.Listen(simulator.New(simulator.Options{}), "127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// armWorks checks that cred's token is one the simulated ARM accepts.
func armWorks(t *testing.T, srv *simulator.Server, cred azcore.TokenCredential) {
	t.Helper()
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.Info.ARMURL+"/subscriptions?api-version=2022-12-01", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /subscriptions with the token = %d", resp.StatusCode)
	}
}

// TestTokens signs in with each kind against the simulator and uses the
// token. Not parallel: managed identity and Azure CLI read the process
// environment.
func TestTokens(t *testing.T) {
	srv := startSim(t)
	info := srv.Info
	base := azauth.Options{TenantID: info.TenantID, ClientID: info.ClientID, AuthorityHost: info.Authority,
		Transport: srv.Client(), DisableInstanceDiscovery: true}

	_, certPEM, certKey := newCert(t, "vigil-app")
	if _, err := srv.Sim.AddCertificate(string(certPEM)); err != nil {
		t.Fatal(err)
	}
	issuerKey, issuerPEM, _ := newCert(t, "oidc.cluster.local")
	const issuer, subject = "https://oidc.cluster.local", "system:serviceaccount:soc:vigil"
	if err := srv.Sim.AddFederatedCredential(simulator.FederatedCredential{Issuer: issuer, Subject: subject, Certificate: string(issuerPEM)}); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "azure-identity-token")
	now := time.Now()
	if err := os.WriteFile(tokenFile, []byte(signJWT(t, issuerKey, map[string]any{"iss": issuer, "sub": subject,
		"aud": []string{"api://AzureADTokenExchange"}, "exp": now.Add(time.Hour).Unix(), "nbf": now.Add(-time.Minute).Unix()})), 0o600); err != nil {
		t.Fatal(err)
	}
	user := srv.Sim.AddManagedIdentity(simulator.ManagedIdentity{})
	endpoint, header := srv.Sim.ManagedIdentityEndpoint()

	with := func(f func(*azauth.Options)) azauth.Options {
		o := base
		f(&o)
		return o
	}
	tests := []struct {
		name string
		o    azauth.Options
	}{
		{"secret", with(func(o *azauth.Options) { o.ClientSecret = info.ClientSecret })},
		{"certificate", with(func(o *azauth.Options) { o.Kind, o.CertificatePEM = azauth.KindCertificate, certKey })},
		{"certificate with chain", with(func(o *azauth.Options) {
			o.Kind, o.CertificatePEM, o.SendCertificateChain = azauth.KindCertificate, certKey, true
		})},
		{"workload identity", with(func(o *azauth.Options) { o.Kind, o.FederatedTokenFile = azauth.KindWorkloadIdentity, tokenFile })},
		{"managed identity system-assigned", with(func(o *azauth.Options) { o.Kind = azauth.KindManagedIdentity })},
		{"managed identity by client id", with(func(o *azauth.Options) {
			o.Kind, o.ManagedIdentityClientID = azauth.KindManagedIdentity, user.ClientID
		})},
		{"managed identity by resource id", with(func(o *azauth.Options) {
			o.Kind, o.ManagedIdentityResourceID = azauth.KindManagedIdentity, user.ResourceID
		})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.o.Kind == azauth.KindManagedIdentity {
				t.Setenv("IDENTITY_ENDPOINT", endpoint)
				t.Setenv("IDENTITY_HEADER", header)
			}
			cred, err := tc.o.NewCredential()
			if err != nil {
				t.Fatal(err)
			}
			armWorks(t, srv, cred)
		})
	}

	// Failures come from the service, through azidentity.
	failures := []struct {
		name, want string
		o          azauth.Options
	}{
		{"wrong secret", "AADSTS7000215", with(func(o *azauth.Options) { o.ClientSecret = "wrong" })},
		{"unregistered certificate", "AADSTS700027", with(func(o *azauth.Options) {
			_, _, other := newCert(t, "stranger")
			o.Kind, o.CertificatePEM = azauth.KindCertificate, other
		})},
		{"unknown user-assigned identity", "Identity not found", with(func(o *azauth.Options) {
			o.Kind, o.ManagedIdentityClientID = azauth.KindManagedIdentity, "11111111-2222-3333-4444-555555555555"
		})},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("IDENTITY_ENDPOINT", endpoint)
			t.Setenv("IDENTITY_HEADER", header)
			cred, err := tc.o.NewCredential()
			if err != nil {
				t.Fatal(err)
			}
			_, err = cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("GetToken = %v, want %s", err, tc.want)
			}
		})
	}
}

// TestAzureCLI runs azidentity's AzureCLICredential against a fake `az`
// on PATH that prints what Azure CLI 2.45 prints for
// `az account get-access-token -o json` (expiresOn in local time, no
// expires_on: that field came in 2.54), with a token the simulator
// issued. The real az against `vigil simulate` is covered by the
// simulator's Azure CLI test.
func TestAzureCLI(t *testing.T) {
	srv := startSim(t)
	info := srv.Info
	secretCred, err := azauth.Options{TenantID: info.TenantID, ClientID: info.ClientID, ClientSecret: info.ClientSecret,
		AuthorityHost: info.Authority, Transport: srv.Client(), DisableInstanceDiscovery: true}.NewCredential()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := secretCred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	argsFile := filepath.Join(dir, "args")
	out, _ := json.Marshal(map[string]string{
		"accessToken":  tok.Token,
		"expiresOn":    time.Now().Add(time.Hour).Local().Format("2006-01-02 15:04:05.000000"),
		"subscription": info.SubscriptionID,
		"tenant":       info.TenantID,
		"tokenType":    "Bearer",
	})
	script := "#!/bin/sh\nprintf '%s\\n' \"$*\" > '" + argsFile + "'\ncat <<'EOF'\n" + string(out) + "\nEOF\n"
	if err := os.WriteFile(filepath.Join(dir, "az"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))

	cred, err := azauth.Options{Kind: azauth.KindAzureCLI, TenantID: info.TenantID}.NewCredential()
	if err != nil {
		t.Fatal(err)
	}
	armWorks(t, srv, cred)
	args, err := os.ReadFile(argsFile)
	if err != nil {
		t.Fatal(err)
	}
	if want := "account get-access-token -o json --resource https://management.azure.com --tenant " + info.TenantID; strings.TrimSpace(string(args)) != want {
		t.Errorf("az was run with %q, want %q", args, want)
	}
}

// TestRenewingManagedIdentity: MSAL keeps managed identity tokens in one
// cache per process, so a new credential alone would hand out a refused
// token again; Renewing must still get a fresh one.
func TestRenewingManagedIdentity(t *testing.T) {
	srv := startSim(t)
	endpoint, header := srv.Sim.ManagedIdentityEndpoint()
	t.Setenv("IDENTITY_ENDPOINT", endpoint)
	t.Setenv("IDENTITY_HEADER", header)
	o := azauth.Options{Kind: azauth.KindManagedIdentity, Transport: srv.Client()}
	r, err := azauth.NewRenewing(o.NewCredential)
	if err != nil {
		t.Fatal(err)
	}
	scope := policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}}
	first, err := r.GetToken(context.Background(), scope)
	if err != nil {
		t.Fatal(err)
	}
	srv.Sim.ExpireTokens()
	// ARM refuses the token; the policy tells Renewing so.
	pl := runtime.NewPipeline("test", "v1", runtime.PipelineOptions{PerRetry: []policy.Policy{runtime.NewBearerTokenPolicy(r, []string{scope.Scopes[0]}, nil), r.Policy()}},
		&policy.ClientOptions{Transport: srv.Client(), Retry: policy.RetryOptions{MaxRetries: -1}})
	req, err := runtime.NewRequest(context.Background(), http.MethodGet, srv.Info.ARMURL+"/subscriptions?api-version=2022-12-01")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := pl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("ARM with an expired token = %d, want 401", resp.StatusCode)
	}
	next, err := r.GetToken(context.Background(), scope)
	if err != nil {
		t.Fatal(err)
	}
	if next.Token == first.Token {
		t.Fatal("Renewing handed out the refused managed identity token again")
	}
	armWorks(t, srv, r)
}
