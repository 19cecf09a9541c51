package simulator_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/simulator"
)

// discoveryProxy makes login.microsoftonline.com reachable for a client
// that cannot be told to skip instance discovery (MSAL Python in Azure CLI
// 2.45 asks https://login.microsoftonline.com/common/discovery/instance for
// any authority it does not know). It is an HTTP CONNECT proxy that sends
// that one host to a TLS listener serving the simulator with a
// certificate for login.microsoftonline.com, and tunnels everything else
// as asked. The simulator's answer there names the simulator's own
// endpoints, so MSAL carries on against it.
func discoveryProxy(t *testing.T, srv *simulator.Server) (proxyURL string, caPEM []byte) {
	t.Helper()
	ca, err := simulator.NewCA("login.microsoftonline.com")
	if err != nil {
		t.Fatal(err)
	}
	tlsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	login := &http.Server{Handler: srv.Sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	login.TLSConfig = &tls.Config{Certificates: []tls.Certificate{ca.Server}, MinVersion: tls.VersionTLS12}
	go login.ServeTLS(tlsLn, "", "")
	t.Cleanup(func() { login.Close() })

	proxy := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		target := r.Host
		if strings.HasPrefix(target, "login.microsoftonline.com:") {
			target = tlsLn.Addr().String()
		}
		up, err := net.DialTimeout("tcp", target, 10*time.Second)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			up.Close()
			return
		}
		conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
		go func() { io.Copy(up, buf); up.Close() }()
		io.Copy(conn, bufio.NewReader(up))
		conn.Close()
	})}
	pLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go proxy.Serve(pLn)
	t.Cleanup(func() { proxy.Close() })
	return "http://" + pLn.Addr().String(), ca.CertPEM
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
	for _, tc := range []struct{ name, tenant, want string }{
		{"tenant id", srv.Info.TenantID, srv.Info.TenantID},
		{"organizations", "organizations", "organizations"},
		{"unknown tenant", "contoso.example", srv.Info.TenantID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"api-version": {"1.1"}, "authorization_endpoint": {srv.URL + "/" + tc.tenant + "/oauth2/v2.0/authorize"}}
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
