package simulator_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/vigil-soc/vigil/internal/simulator"
)

// start serves a fresh simulator over TLS for one test.
func start(t *testing.T, o simulator.Options) *simulator.Server {
	t.Helper()
	srv, err := simulator.Listen(simulator.New(o), "127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// credential is how a real client authenticates: azidentity with the
// simulator as a custom authority, instance discovery off, trusting its CA.
func credential(t *testing.T, srv *simulator.Server, secret string) *azidentity.ClientSecretCredential {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(srv.Info.TenantID, srv.Info.ClientID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloudConfig(srv),
			Transport: srv.Client(),
		},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func cloudConfig(srv *simulator.Server) cloud.Configuration {
	return cloud.Configuration{
		ActiveDirectoryAuthorityHost: srv.Info.Authority,
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Audience: "https://management.azure.com", Endpoint: srv.Info.ARMURL},
		},
	}
}

func TestAzidentityClientSecret(t *testing.T) {
	srv := start(t, simulator.Options{})
	ctx := context.Background()
	tok, err := credential(t, srv, srv.Info.ClientSecret).GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	if tok.Token == "" || !tok.ExpiresOn.After(srv.Sim.Options().Clock.Now()) {
		t.Errorf("token = %+v", tok)
	}
	// A wrong secret is refused with Entra's error, which azidentity surfaces.
	_, err = credential(t, srv, "wrong").GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
	var authErr *azidentity.AuthenticationFailedError
	if !errors.As(err, &authErr) || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Errorf("wrong secret: %v, want an AuthenticationFailedError with AADSTS7000215", err)
	}
}
