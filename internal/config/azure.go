package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Azure credential kinds (sync.azure.credential); the same names as
// azauth's, which builds the azidentity credential from them.
const (
	AzureSecret           = "secret"
	AzureCertificate      = "certificate"
	AzureManagedIdentity  = "managed_identity"
	AzureWorkloadIdentity = "workload_identity"
	AzureCLI              = "azure_cli"
)

// CredentialKind is Credential with its default.
func (a Azure) CredentialKind() string {
	if a.Credential == "" {
		return AzureSecret
	}
	return a.Credential
}

// lookupEnv returns the value of name in environ.
func lookupEnv(environ []string, name string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// resolveCredential reads the secrets the chosen credential needs and
// checks that it has what it needs; it reads nothing the credential does
// not use, so a managed identity deployment needs no secret at all.
// Every error names its key under sync.azure.
func (a *Azure) resolveCredential(environ []string) error {
	var errs []error
	need := func(keys ...string) {
		var missing []string
		for _, k := range keys {
			var v string
			switch k {
			case "tenant_id":
				v = a.TenantID
			case "client_id":
				v = a.ClientID
			case "certificate_file":
				v = a.CertificateFile
			case "federated_token_file":
				v = a.FederatedTokenFile
			}
			if strings.TrimSpace(v) == "" {
				missing = append(missing, "sync.azure."+k)
			}
		}
		if len(missing) > 0 {
			errs = append(errs, fmt.Errorf("%s: required for sync.azure.credential %s", strings.Join(missing, ", "), a.CredentialKind()))
		}
	}
	switch a.CredentialKind() {
	case AzureSecret:
		v, err := secret("sync.azure.client_secret", a.ClientSecretEnv, a.ClientSecretFile, environ)
		if err != nil {
			return err
		}
		a.ClientSecret = v
		if a.TenantID == "" || a.ClientID == "" || a.ClientSecret == "" {
			return errors.New("sync.azure: tenant_id, client_id and a client secret (client_secret_env or client_secret_file) are required for sync.azure.credential secret")
		}
	case AzureCertificate:
		need("tenant_id", "client_id", "certificate_file")
		if a.CertificateFile != "" {
			b, err := os.ReadFile(a.CertificateFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("sync.azure.certificate_file: %w", err))
			}
			a.Certificate = b
		}
		pw, err := secret("sync.azure.certificate_password", a.CertificatePasswordEnv, a.CertificatePasswordFile, environ)
		if err != nil {
			errs = append(errs, err)
		}
		a.CertificatePassword = pw
	case AzureManagedIdentity:
		if a.ManagedIdentityClientID != "" && a.ManagedIdentityResourceID != "" {
			errs = append(errs, errors.New("sync.azure.managed_identity_client_id and sync.azure.managed_identity_resource_id both select a user-assigned identity: set one, or neither for the system-assigned identity"))
		}
	case AzureWorkloadIdentity:
		// AKS workload identity injects these three into the pod.
		for _, d := range []struct {
			dst *string
			env string
		}{{&a.TenantID, "AZURE_TENANT_ID"}, {&a.ClientID, "AZURE_CLIENT_ID"}, {&a.FederatedTokenFile, "AZURE_FEDERATED_TOKEN_FILE"}} {
			if *d.dst == "" {
				*d.dst = lookupEnv(environ, d.env)
			}
		}
		need("tenant_id", "client_id", "federated_token_file")
	case AzureCLI:
	default:
		errs = append(errs, fmt.Errorf("sync.azure.credential %q: want secret, certificate, managed_identity, workload_identity or azure_cli", a.Credential))
	}
	return errors.Join(errs...)
}
