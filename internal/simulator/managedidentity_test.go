package simulator_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/vigil-soc/vigil/internal/simulator"
)

// imdsRedirect sends requests for IMDS's fixed link-local address to the
// simulator: MSAL Go has no setting for the IMDS endpoint, so a transport
// is the only way in.
type imdsRedirect struct {
	to     *url.URL
	client *http.Client
}

func (t imdsRedirect) Do(r *http.Request) (*http.Response, error) {
	if r.URL.Host == "169.254.169.254" {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host, r.Host = t.to.Scheme, t.to.Host, t.to.Host
	}
	return t.client.Do(r)
}

func managedIdentityCredential(t *testing.T, srv *simulator.Server, id azidentity.ManagedIDKind, transport policy.Transporter) *azidentity.ManagedIdentityCredential {
	t.Helper()
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ID: id, ClientOptions: azcore.ClientOptions{Transport: transport, Retry: policy.RetryOptions{MaxRetries: -1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func TestManagedIdentity(t *testing.T) {
	srv := start(t, simulator.Options{})
	user := srv.Sim.AddManagedIdentity(simulator.ManagedIdentity{})
	base, _ := url.Parse(srv.Info.ARMURL)
	endpoint, header := srv.Sim.ManagedIdentityEndpoint()
	for _, source := range []string{"AppService", "IMDS"} {
		for _, tc := range []struct {
			name    string
			id      azidentity.ManagedIDKind
			wantErr string
		}{
			{"system-assigned", nil, ""},
			{"user-assigned by client id", azidentity.ClientID(user.ClientID), ""},
			{"user-assigned by object id", azidentity.ObjectID(user.ObjectID), ""},
			{"user-assigned by resource id", azidentity.ResourceID(user.ResourceID), ""},
			{"unknown identity", azidentity.ClientID("11111111-2222-3333-4444-555555555555"), "Identity not found"},
		} {
			t.Run(source+"/"+tc.name, func(t *testing.T) {
				var transport policy.Transporter = srv.Client()
				if source == "AppService" {
					t.Setenv("IDENTITY_ENDPOINT", endpoint)
					t.Setenv("IDENTITY_HEADER", header)
				} else {
					t.Setenv("IDENTITY_ENDPOINT", "")
					t.Setenv("IDENTITY_HEADER", "")
					transport = imdsRedirect{to: base, client: srv.Client()}
				}
				cred := managedIdentityCredential(t, srv, tc.id, transport)
				if tc.wantErr != "" {
					_, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
						t.Fatalf("err = %v, want %q", err, tc.wantErr)
					}
					return
				}
				// The token is one ARM accepts.
				if status, body := armGet(t, srv, cred, "/subscriptions?api-version=2022-12-01"); status != 200 {
					t.Fatalf("GET /subscriptions = %d %v", status, body)
				}
			})
		}
	}
}

// Raw requests: the errors azidentity's probing and a misconfigured host
// see.
func TestManagedIdentityErrors(t *testing.T) {
	srv := start(t, simulator.Options{})
	_, header := srv.Sim.ManagedIdentityEndpoint()
	tests := []struct {
		name, path string
		headers    map[string]string
		status     int
		want       string
	}{
		{"imds probe without Metadata", "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com", nil, 400, "Required metadata header"},
		{"imds wrong api-version", "/metadata/identity/oauth2/token?api-version=2017-01-01&resource=https://management.azure.com", map[string]string{"Metadata": "true"}, 400, "api-version"},
		{"imds unknown resource", "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://example.com", map[string]string{"Metadata": "true"}, 400, "AADSTS500011"},
		{"imds missing resource", "/metadata/identity/oauth2/token?api-version=2018-02-01", map[string]string{"Metadata": "true"}, 400, "resource"},
		{"imds ok", "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/", map[string]string{"Metadata": "true"}, 200, `"expires_in"`},
		{"app service without header", "/msi/token?api-version=2019-08-01&resource=https://management.azure.com", nil, 401, "Unauthorized"},
		{"app service wrong header", "/msi/token?api-version=2019-08-01&resource=https://management.azure.com", map[string]string{"X-IDENTITY-HEADER": "nope"}, 401, "Unauthorized"},
		{"app service ok", "/msi/token?api-version=2019-08-01&resource=https://graph.microsoft.com", map[string]string{"X-IDENTITY-HEADER": header}, 200, `"expires_on"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.Info.ARMURL+tc.path, nil)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var sb strings.Builder
			buf := make([]byte, 4096)
			n, _ := resp.Body.Read(buf)
			sb.Write(buf[:n])
			if resp.StatusCode != tc.status || !strings.Contains(sb.String(), tc.want) {
				t.Fatalf("got %d %s, want %d containing %q", resp.StatusCode, sb.String(), tc.status, tc.want)
			}
		})
	}
}
