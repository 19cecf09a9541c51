package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAzureCredential(t *testing.T) {
	dir := t.TempDir()
	certFile := filepath.Join(dir, "vigil.pem")
	os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\n"), 0o600)
	write := func(azure string) string {
		p := filepath.Join(dir, "vigil.yaml")
		os.WriteFile(p, []byte("sync:\n  azure:\n"+azure+"  defender:\n    - subscription_id: s\n"), 0o600)
		return p
	}
	tests := []struct {
		name, azure, env string
		want             string // error substring; "" = valid
		check            func(t *testing.T, a Azure)
	}{
		{"secret by default", "    tenant_id: t\n    client_id: c\n    client_secret_env: S\n", "S=s3cret", "", func(t *testing.T, a Azure) {
			if a.CredentialKind() != AzureSecret || a.ClientSecret != "s3cret" {
				t.Errorf("kind %s secret %q", a.CredentialKind(), a.ClientSecret)
			}
		}},
		{"secret missing", "    tenant_id: t\n    client_id: c\n", "", "client_secret_env or client_secret_file", nil},
		{"secret without tenant", "    credential: secret\n    client_id: c\n    client_secret_env: S\n", "S=x", "tenant_id", nil},
		{"unknown credential", "    credential: password\n", "", `sync.azure.credential "password"`, nil},
		{"certificate", "    credential: certificate\n    tenant_id: t\n    client_id: c\n    certificate_file: " + certFile +
			"\n    certificate_password_env: PW\n    send_certificate_chain: true\n", "PW=pfx-pass", "", func(t *testing.T, a Azure) {
			if !strings.HasPrefix(string(a.Certificate), "-----BEGIN CERTIFICATE") || a.CertificatePassword != "pfx-pass" || !a.SendCertificateChain || a.ClientSecret != "" {
				t.Errorf("certificate not resolved: %d bytes, password %q, chain %v", len(a.Certificate), a.CertificatePassword, a.SendCertificateChain)
			}
		}},
		{"certificate needs a file", "    credential: certificate\n    tenant_id: t\n    client_id: c\n", "", "sync.azure.certificate_file: required for sync.azure.credential certificate", nil},
		{"certificate file unreadable", "    credential: certificate\n    tenant_id: t\n    client_id: c\n    certificate_file: " + filepath.Join(dir, "nope") + "\n", "", "sync.azure.certificate_file: open", nil},
		{"certificate password env unset", "    credential: certificate\n    tenant_id: t\n    client_id: c\n    certificate_file: " + certFile + "\n    certificate_password_env: PW\n", "", "PW is not set", nil},
		{"managed identity needs no secret", "    credential: managed_identity\n", "", "", func(t *testing.T, a Azure) {
			if a.CredentialKind() != AzureManagedIdentity || a.ManagedIdentityClientID != "" {
				t.Errorf("got %+v", a)
			}
		}},
		{"managed identity ignores an unset secret env", "    credential: managed_identity\n    client_secret_env: UNSET\n    managed_identity_client_id: mi-1\n", "", "", func(t *testing.T, a Azure) {
			if a.ManagedIdentityClientID != "mi-1" {
				t.Errorf("client id %q", a.ManagedIdentityClientID)
			}
		}},
		{"managed identity by resource id", "    credential: managed_identity\n    managed_identity_resource_id: /subscriptions/s/rg/id\n", "", "", nil},
		{"managed identity both ids", "    credential: managed_identity\n    managed_identity_client_id: a\n    managed_identity_resource_id: b\n", "", "sync.azure.managed_identity_client_id and sync.azure.managed_identity_resource_id", nil},
		{"workload identity from AKS env", "    credential: workload_identity\n", "AZURE_TENANT_ID=t AZURE_CLIENT_ID=c AZURE_FEDERATED_TOKEN_FILE=/var/run/secrets/azure/tokens/azure-identity-token", "", func(t *testing.T, a Azure) {
			if a.TenantID != "t" || a.ClientID != "c" || a.FederatedTokenFile != "/var/run/secrets/azure/tokens/azure-identity-token" {
				t.Errorf("got %+v", a)
			}
		}},
		{"workload identity file wins over env", "    credential: workload_identity\n    tenant_id: t\n    client_id: c\n    federated_token_file: /f\n", "AZURE_FEDERATED_TOKEN_FILE=/env", "", func(t *testing.T, a Azure) {
			if a.FederatedTokenFile != "/f" {
				t.Errorf("file %q", a.FederatedTokenFile)
			}
		}},
		{"workload identity without a token file", "    credential: workload_identity\n    tenant_id: t\n    client_id: c\n", "", "sync.azure.federated_token_file: required", nil},
		{"workload identity without ids", "    credential: workload_identity\n    federated_token_file: /f\n", "", "sync.azure.tenant_id, sync.azure.client_id: required", nil},
		{"azure cli needs nothing", "    credential: azure_cli\n", "", "", nil},
		{"unknown azure key", "    credential: azure_cli\n    certificate: x\n", "", `unknown key "sync.azure.certificate"`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(write(tc.azure), strings.Fields(tc.env), nil)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, c.Sync.Azure)
			}
			if s := c.String(); strings.Contains(s, "pfx-pass") || strings.Contains(s, "s3cret") {
				t.Errorf("String() shows a secret: %s", s)
			}
		})
	}
}
