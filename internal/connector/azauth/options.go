package azauth

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/vigil-soc/vigil/internal/validation"
)

// Credential kinds: how vigil signs in to Entra ID. Each maps to one of
// azidentity's own credential types, so that token caching, retries and
// the wire protocol are azidentity's, not ours.
const (
	// KindSecret is an app registration's client secret
	// (ClientSecretCredential). The default.
	KindSecret = "secret"
	// KindCertificate is an app registration's certificate
	// (ClientCertificateCredential): a signed client assertion.
	KindCertificate = "certificate"
	// KindManagedIdentity is the host's managed identity
	// (ManagedIdentityCredential): IMDS on a VM or scale set, the
	// IDENTITY_ENDPOINT of App Service, Functions or Container Apps.
	KindManagedIdentity = "managed_identity"
	// KindWorkloadIdentity is workload identity federation
	// (WorkloadIdentityCredential): a token file another issuer writes,
	// e.g. the projected service account token of AKS workload identity.
	KindWorkloadIdentity = "workload_identity"
	// KindAzureCLI is whoever is logged in to Azure CLI
	// (AzureCLICredential), for development.
	KindAzureCLI = "azure_cli"
)

// Kinds lists every kind, default first.
var Kinds = []string{KindSecret, KindCertificate, KindManagedIdentity, KindWorkloadIdentity, KindAzureCLI}

// Options says how to sign in. Only the fields of the chosen Kind are
// read; Validate names the config key (as under sync.azure) of anything
// missing.
type Options struct {
	// Kind is one of Kinds; empty means KindSecret.
	Kind string
	// TenantID and ClientID identify the app registration (secret,
	// certificate, workload identity). Azure CLI passes TenantID as
	// --tenant when set. Managed identity ignores both.
	TenantID, ClientID string
	// ClientSecret is the app's secret (KindSecret).
	ClientSecret string
	// CertificatePEM holds the certificate and its private key, PEM or
	// PKCS#12, as azidentity.ParseCertificates reads them
	// (KindCertificate); CertificatePassword decrypts it.
	CertificatePEM      []byte
	CertificatePassword string
	// SendCertificateChain sends the x5c header, for subject name/issuer
	// authentication.
	SendCertificateChain bool
	// ManagedIdentityClientID or ManagedIdentityResourceID selects a
	// user-assigned identity; both empty means the system-assigned one.
	ManagedIdentityClientID   string
	ManagedIdentityResourceID string
	// FederatedTokenFile is the workload identity's token file
	// (AZURE_FEDERATED_TOKEN_FILE on AKS). It is read on every token
	// request, since the issuer rotates it.
	FederatedTokenFile string
	// AuthorityHost is Entra ID's address; empty for Azure's public
	// cloud, set for sovereign clouds and the simulator.
	AuthorityHost string
	// Transport, when set, carries every token request (the simulator's
	// client trusts its own CA).
	Transport policy.Transporter
	// DisableInstanceDiscovery skips Entra ID's instance discovery, which
	// a private authority (the simulator) cannot answer.
	DisableInstanceDiscovery bool
}

// WithDefaults fills what o leaves empty from a connector's own fields,
// so that a connector configured the old way (tenant, client, secret)
// signs in with a client secret as before.
func (o Options) WithDefaults(tenantID, clientID, clientSecret, authorityHost string, transport policy.Transporter) Options {
	if o.TenantID == "" {
		o.TenantID = tenantID
	}
	if o.ClientID == "" {
		o.ClientID = clientID
	}
	if o.ClientSecret == "" {
		o.ClientSecret = clientSecret
	}
	if o.AuthorityHost == "" {
		o.AuthorityHost = authorityHost
	}
	if o.Transport == nil {
		o.Transport = transport
	}
	if o.AuthorityHost != "" {
		o.DisableInstanceDiscovery = true
	}
	return o
}

func (o Options) kind() string {
	if o.Kind == "" {
		return KindSecret
	}
	return o.Kind
}

// Validate checks that the fields the kind needs are there. Errors are
// *validation.FieldError naming the key under sync.azure.
func (o Options) Validate() error {
	k := o.kind()
	need := func(key, v string) error {
		if strings.TrimSpace(v) == "" {
			return validation.NewFieldError(key, "is required for credential %s", k)
		}
		return nil
	}
	switch k {
	case KindSecret:
		for _, f := range []struct{ key, v string }{{"tenant_id", o.TenantID}, {"client_id", o.ClientID}, {"client_secret", o.ClientSecret}} {
			if err := need(f.key, f.v); err != nil {
				return err
			}
		}
	case KindCertificate:
		for _, f := range []struct{ key, v string }{{"tenant_id", o.TenantID}, {"client_id", o.ClientID}} {
			if err := need(f.key, f.v); err != nil {
				return err
			}
		}
		if len(o.CertificatePEM) == 0 {
			return validation.NewFieldError("certificate_file", "is required for credential certificate")
		}
		if _, _, err := azidentity.ParseCertificates(o.CertificatePEM, []byte(o.CertificatePassword)); err != nil {
			// ParseCertificates' message names no key material.
			return validation.NewFieldError("certificate_file", "want a certificate and its private key, PEM or PKCS#12: %v", err)
		}
	case KindManagedIdentity:
		if o.ManagedIdentityClientID != "" && o.ManagedIdentityResourceID != "" {
			return validation.NewFieldError("managed_identity_client_id", "and managed_identity_resource_id both select a user-assigned identity; set one")
		}
	case KindWorkloadIdentity:
		for _, f := range []struct{ key, v string }{{"tenant_id", o.TenantID}, {"client_id", o.ClientID}, {"federated_token_file", o.FederatedTokenFile}} {
			if err := need(f.key, f.v); err != nil {
				return err
			}
		}
	case KindAzureCLI:
	default:
		return validation.NewFieldError("credential", "%q: want one of %s", o.Kind, strings.Join(Kinds, ", "))
	}
	return nil
}

// NewCredential validates o and builds the azidentity credential, with
// token requests sent through Transport to AuthorityHost.
func (o Options) NewCredential() (azcore.TokenCredential, error) {
	return o.Credential(azcore.ClientOptions{})
}

// Credential is NewCredential on a connector's own client options (retry
// settings, policies); Transport and AuthorityHost, when set, override
// theirs. Each call returns a new credential with an empty token cache,
// which is what Renewing needs after a 401.
func (o Options) Credential(base azcore.ClientOptions) (azcore.TokenCredential, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Transport != nil {
		base.Transport = o.Transport
	}
	if o.AuthorityHost != "" {
		host := o.AuthorityHost
		if !strings.HasSuffix(host, "/") {
			host += "/"
		}
		base.Cloud.ActiveDirectoryAuthorityHost = host
	}
	var (
		cred azcore.TokenCredential
		err  error
	)
	switch o.kind() {
	case KindSecret:
		cred, err = azidentity.NewClientSecretCredential(o.TenantID, o.ClientID, o.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: base, DisableInstanceDiscovery: o.DisableInstanceDiscovery})
	case KindCertificate:
		certs, key, perr := azidentity.ParseCertificates(o.CertificatePEM, []byte(o.CertificatePassword))
		if perr != nil {
			return nil, validation.NewFieldError("certificate_file", "%v", perr)
		}
		cred, err = azidentity.NewClientCertificateCredential(o.TenantID, o.ClientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: base, DisableInstanceDiscovery: o.DisableInstanceDiscovery,
				SendCertificateChain: o.SendCertificateChain})
	case KindManagedIdentity:
		// Managed identity endpoints are not Entra ID: no authority, no
		// instance discovery. The endpoint comes from the environment
		// (IDENTITY_ENDPOINT/IDENTITY_HEADER, else IMDS).
		mo := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: base}
		switch {
		case o.ManagedIdentityClientID != "":
			mo.ID = azidentity.ClientID(o.ManagedIdentityClientID)
		case o.ManagedIdentityResourceID != "":
			mo.ID = azidentity.ResourceID(o.ManagedIdentityResourceID)
		}
		cred, err = azidentity.NewManagedIdentityCredential(mo)
	case KindWorkloadIdentity:
		cred, err = azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientOptions: base,
			TenantID: o.TenantID, ClientID: o.ClientID, TokenFilePath: o.FederatedTokenFile, DisableInstanceDiscovery: o.DisableInstanceDiscovery})
	case KindAzureCLI:
		// Azure CLI holds its own sign-in and talks to Entra ID itself;
		// azidentity runs `az account get-access-token` per request.
		cred, err = azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: o.TenantID})
	}
	if err != nil {
		return nil, fmt.Errorf("azure credential %s: %w", o.kind(), err)
	}
	return cred, nil
}

// String describes the credential without its secrets (client secret,
// certificate key and password), so that a config printed by mistake
// leaks nothing.
func (o Options) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "azure credential %s", o.kind())
	for _, f := range o.fields() {
		fmt.Fprintf(&b, " %s=%s", f.Key, f.Value)
	}
	return b.String()
}

// LogValue keeps the secrets out of slog output too.
func (o Options) LogValue() slog.Value {
	return slog.GroupValue(append([]slog.Attr{slog.String("kind", o.kind())}, o.fields()...)...)
}

// fields are the non-secret settings of the kind.
func (o Options) fields() []slog.Attr {
	var out []slog.Attr
	add := func(k, v string) {
		if v != "" {
			out = append(out, slog.String(k, v))
		}
	}
	switch o.kind() {
	case KindManagedIdentity:
		add("managed_identity_client_id", o.ManagedIdentityClientID)
		add("managed_identity_resource_id", o.ManagedIdentityResourceID)
	case KindWorkloadIdentity:
		add("tenant", o.TenantID)
		add("client", o.ClientID)
		add("federated_token_file", o.FederatedTokenFile)
	case KindAzureCLI:
		add("tenant", o.TenantID)
	default:
		add("tenant", o.TenantID)
		add("client", o.ClientID)
	}
	add("authority", o.AuthorityHost)
	return out
}
