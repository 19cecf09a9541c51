package app

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/connector/defender"
	"github.com/vigil-soc/vigil/internal/connector/sentinel"
	"github.com/vigil-soc/vigil/internal/simulator"
)

// TestAzureCredentialFromConfig: a sync.azure section per credential
// kind, loaded as vigil loads it, signs the connectors in to the
// simulated tenant as buildSync builds them (azureCredential, the
// config's CA file, its authority).
func TestAzureCredentialFromConfig(t *testing.T) {
	dir := t.TempDir()
	caFile := filepath.Join(dir, "sim-ca.pem")
	srv, err := simulator.Listen(simulator.New(simulator.Options{}), "127.0.0.1:0", caFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	info := srv.Info
	srv.Sim.World().RaiseDefenderAlert(simulator.AlertSpec{})
	user := srv.Sim.AddManagedIdentity(simulator.ManagedIdentity{})

	// An app certificate, registered on the app, in one PEM file.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vigil"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if _, err := srv.Sim.AddCertificate(string(certPEM)); err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(dir, "vigil.pem")
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(certFile, append(certPEM, keyPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	endpoint, header := srv.Sim.ManagedIdentityEndpoint()

	for _, tc := range []struct{ name, azure, env string }{
		{"secret", "credential: secret, tenant_id: " + info.TenantID + ", client_id: " + info.ClientID + ", client_secret_env: SIM_SECRET", "SIM_SECRET=" + info.ClientSecret},
		{"certificate", "credential: certificate, tenant_id: " + info.TenantID + ", client_id: " + info.ClientID + ", certificate_file: " + certFile, ""},
		{"managed identity, system-assigned", "credential: managed_identity", ""},
		{"managed identity, user-assigned", "credential: managed_identity, managed_identity_client_id: " + user.ClientID, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("IDENTITY_ENDPOINT", endpoint)
			t.Setenv("IDENTITY_HEADER", header)
			conf := filepath.Join(t.TempDir(), "vigil.yaml")
			body := fmt.Sprintf("sync:\n  azure: {%s, authority_host: %q, arm_endpoint: %q, ca_file: %q}\n  defender:\n    - subscription_id: %s\n"+
				"  sentinel:\n    - {subscription_id: %s, resource_group: %s, workspace: %s}\n",
				tc.azure, info.Authority, info.ARMURL, caFile, info.SubscriptionID, info.SubscriptionID, info.ResourceGroup, info.Workspace)
			if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(conf, strings.Fields(tc.env), nil)
			if err != nil {
				t.Fatal(err)
			}
			az := cfg.Sync.Azure
			hc, err := httpClient(az.CAFile)
			if err != nil {
				t.Fatal(err)
			}
			d, err := defender.New(defender.Config{TenantID: az.TenantID, ClientID: az.ClientID, ClientSecret: az.ClientSecret, Credential: azureCredential(az),
				SubscriptionID: info.SubscriptionID, AuthorityHost: az.AuthorityHost, ARMEndpoint: az.ARMEndpoint, Transport: hc})
			if err != nil {
				t.Fatal(err)
			}
			if alerts, err := d.Alerts(context.Background()); err != nil || len(alerts) == 0 {
				t.Fatalf("Defender alerts = %d, %v", len(alerts), err)
			}
			s, err := sentinel.New(sentinel.Config{TenantID: az.TenantID, ClientID: az.ClientID, ClientSecret: az.ClientSecret, Credential: azureCredential(az),
				SubscriptionID: info.SubscriptionID, ResourceGroup: info.ResourceGroup, Workspace: info.Workspace,
				AuthorityHost: az.AuthorityHost, ARMEndpoint: az.ARMEndpoint, Transport: hc})
			if err != nil {
				t.Fatal(err)
			}
			if incs, err := s.IncidentsModifiedSince(context.Background(), time.Time{}); err != nil || len(incs) == 0 {
				t.Fatalf("Sentinel incidents = %d, %v", len(incs), err)
			}
		})
	}
}
