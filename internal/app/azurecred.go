package app

import (
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/connector/azauth"
)

// azureCredential is how every Azure connector signs in, from
// sync.azure. Each connector fills the authority and transport from its
// own config (azauth.Options.WithDefaults).
func azureCredential(az config.Azure) azauth.Options {
	return azauth.Options{
		Kind:     az.CredentialKind(),
		TenantID: az.TenantID, ClientID: az.ClientID, ClientSecret: az.ClientSecret,
		CertificatePEM: az.Certificate, CertificatePassword: az.CertificatePassword, SendCertificateChain: az.SendCertificateChain,
		ManagedIdentityClientID: az.ManagedIdentityClientID, ManagedIdentityResourceID: az.ManagedIdentityResourceID,
		FederatedTokenFile: az.FederatedTokenFile,
	}
}
