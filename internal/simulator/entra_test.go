package simulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
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

// TestTokenEndpointErrors checks Entra ID's answers to bad client
// credential requests: status, OAuth error code and AADSTS number.
func TestTokenEndpointErrors(t *testing.T) {
	srv := start(t, simulator.Options{})
	info := srv.Info
	form := func(kv ...string) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}, "client_id": {info.ClientID},
			"client_secret": {info.ClientSecret}, "scope": {"https://management.azure.com/.default"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name   string
		tenant string
		form   url.Values
		status int
		code   string
		aadsts string
	}{
		{"ok", info.TenantID, form(), 200, "", ""},
		{"wrong secret", info.TenantID, form("client_secret", "nope"), 401, "invalid_client", "AADSTS7000215"},
		{"unknown client", info.TenantID, form("client_id", "00000000-0000-0000-0000-000000000000"), 400, "unauthorized_client", "AADSTS700016"},
		{"unknown tenant", "11111111-1111-1111-1111-111111111111", form(), 400, "invalid_request", "AADSTS90002"},
		{"bad grant", info.TenantID, form("grant_type", "password"), 400, "unsupported_grant_type", "AADSTS70003"},
		{"bad scope", info.TenantID, form("scope", "https://example.com/.default"), 400, "invalid_scope", "AADSTS1002012"},
		{"graph scope", info.TenantID, form("scope", "https://graph.microsoft.com/.default"), 200, "", ""},
		{"devops scope", info.TenantID, form("scope", "499b84ac-1321-427f-aa17-267ca6975798/.default"), 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := srv.Client().PostForm(strings.TrimSuffix(info.Authority, "/")+"/"+tt.tenant+"/oauth2/v2.0/token", tt.form)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
				Codes       []int  `json:"error_codes"`
				AccessToken string `json:"access_token"`
				ExpiresIn   int    `json:"expires_in"`
			}
			json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tt.status || body.Error != tt.code || !strings.HasPrefix(body.Description, tt.aadsts) {
				t.Errorf("got %d %q %q, want %d %q %s…", resp.StatusCode, body.Error, body.Description, tt.status, tt.code, tt.aadsts)
			}
			if tt.status == 200 && (body.AccessToken == "" || body.ExpiresIn != 3600) {
				t.Errorf("token answer = %+v", body)
			}
		})
	}
}
