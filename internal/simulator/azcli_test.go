package simulator_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/simulator"
)

// discoveryProxy starts simulator.NewDiscoveryProxy in front of srv.
func discoveryProxy(t *testing.T, srv *simulator.Server) (proxyURL string, caPEM []byte) {
	t.Helper()
	p, err := simulator.NewDiscoveryProxy(srv.Sim, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p.URL, p.CAPEM
}

// TestInstanceDiscoveryThroughProxy checks, without Azure CLI, the path
// MSAL Python takes: instance discovery at login.microsoftonline.com,
// reached through the proxy, names the simulator's tenant discovery
// endpoint for the tenant asked about, with the simulator's host as alias.
func TestInstanceDiscoveryThroughProxy(t *testing.T) {
	srv := start(t, simulator.Options{})
	proxyURL, loginCA := discoveryProxy(t, srv)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(loginCA)
	pu, _ := url.Parse(proxyURL)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	host := strings.TrimPrefix(srv.URL, "https://")
	for _, tc := range []struct{ name, authHost, tenant, want string }{
		{"tenant id", srv.URL, srv.Info.TenantID, srv.Info.TenantID},
		// MSAL Python 1.20 (az 2.45) sends the authority host without its
		// port, and api-version 1.0.
		{"tenant id, no port", "https://127.0.0.1", srv.Info.TenantID, srv.Info.TenantID},
		{"organizations", srv.URL, "organizations", "organizations"},
		{"unknown tenant", srv.URL, "contoso.example", srv.Info.TenantID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"api-version": {"1.0"}, "authorization_endpoint": {tc.authHost + "/" + tc.tenant + "/oauth2/v2.0/authorize"}}
			resp, err := client.Get("https://login.microsoftonline.com/common/discovery/instance?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				TenantDiscoveryEndpoint string `json:"tenant_discovery_endpoint"`
				Metadata                []struct {
					Aliases []string `json:"aliases"`
				} `json:"metadata"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if want := srv.URL + "/" + tc.want + "/v2.0/.well-known/openid-configuration"; body.TenantDiscoveryEndpoint != want {
				t.Errorf("tenant_discovery_endpoint = %q, want %q", body.TenantDiscoveryEndpoint, want)
			}
			if len(body.Metadata) != 1 || len(body.Metadata[0].Aliases) == 0 || body.Metadata[0].Aliases[0] != host {
				t.Errorf("metadata = %+v, want alias %s", body.Metadata, host)
			}
		})
	}
}

func TestAzureCLICloudConfig(t *testing.T) {
	var cfg struct {
		Endpoints map[string]string `json:"endpoints"`
	}
	if err := json.Unmarshal([]byte(simulator.AzureCLICloudConfig("https://127.0.0.1:8443/")), &cfg); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"activeDirectory": "https://127.0.0.1:8443", "resourceManager": "https://127.0.0.1:8443/",
		"activeDirectoryResourceId": "https://management.core.windows.net/"} {
		if cfg.Endpoints[k] != want {
			t.Errorf("%s = %q, want %q", k, cfg.Endpoints[k], want)
		}
	}
}

// TestAzureCLISetup checks the files and commands `vigil simulate
// --az-proxy` hands to a person: the CA bundle trusts both the simulator
// and the discovery proxy's login.microsoftonline.com, the cloud config
// points at the simulator, and a value that needs quoting is quoted.
func TestAzureCLISetup(t *testing.T) {
	secret := "it's a secret"
	srv := start(t, simulator.Options{ClientSecret: secret})
	p, err := simulator.NewDiscoveryProxy(srv.Sim, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	dir := t.TempDir()
	cmds, err := simulator.AzureCLISetup(srv, p, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"export AZURE_CONFIG_DIR=" + filepath.Join(dir, "azure"),
		"export REQUESTS_CA_BUNDLE=" + filepath.Join(dir, "az-ca.pem"),
		"export HTTPS_PROXY=" + p.URL,
		"export NO_PROXY=127.0.0.1,localhost",
		"az cloud register --name VigilSimulator --cloud-config @" + filepath.Join(dir, "az-cloud.json"),
		"az cloud set --name VigilSimulator",
		"az login --service-principal --username " + srv.Info.ClientID + ` --password 'it'\''s a secret' --tenant ` + srv.Info.TenantID,
		"az security alert list",
	}
	if strings.Join(cmds, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(cmds, "\n"), strings.Join(want, "\n"))
	}
	if fi, err := os.Stat(filepath.Join(dir, "azure")); err != nil || !fi.IsDir() {
		t.Errorf("az profile directory: %v", err)
	}
	bundle, err := os.ReadFile(filepath.Join(dir, "az-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(bundle)
	pu, _ := url.Parse(p.URL)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	for _, u := range []string{srv.URL + "/common/discovery/instance", "https://" + simulator.LoginHost + "/common/discovery/instance"} {
		resp, err := client.Get(u + "?api-version=1.0")
		if err != nil {
			t.Fatalf("%s with the bundle: %v", u, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %s", u, resp.Status)
		}
	}
	cloud, err := os.ReadFile(filepath.Join(dir, "az-cloud.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(cloud)) != simulator.AzureCLICloudConfig(srv.URL) {
		t.Errorf("az-cloud.json = %s", cloud)
	}
}

func TestDiscoveryProxyLoopbackOnly(t *testing.T) {
	srv := start(t, simulator.Options{})
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:0", "example.com:0", "nonsense"} {
		if p, err := simulator.NewDiscoveryProxy(srv.Sim, addr); err == nil {
			p.Close()
			t.Errorf("NewDiscoveryProxy(%q) accepted a non-loopback address", addr)
		}
	}
}
