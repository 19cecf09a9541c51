// Package simulator is a simulated Microsoft tenant: Entra ID client
// credentials, Sentinel (Microsoft.SecurityInsights), Defender for Cloud
// (Microsoft.Security alerts), Graph security and Azure DevOps work items,
// speaking the real REST contracts over TLS so that Microsoft's own Go SDK
// clients run against it. It behaves as the real services do, including
// their gaps (a Defender for Cloud state change reaches the Sentinel alert
// but not the incident), and it can inject faults. See README.md.
package simulator

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
)

// Options configures a simulated tenant. Zero values get fixed defaults so
// that a seeded simulator is reproducible.
type Options struct {
	TenantID       string
	ClientID       string
	ClientSecret   string
	SubscriptionID string
	ResourceGroup  string
	Workspace      string
	DevOpsOrg      string
	DevOpsProject  string
	// TokenLifetime is how long issued access tokens live (default 1h).
	TokenLifetime time.Duration
	// GraphBudget is Graph's per-minute request budget per tenant
	// before it answers 429 (default 150).
	GraphBudget int
	// Seed makes generated alerts reproducible.
	Seed uint64
	// Preload raises a few Defender for Cloud alerts at start, each with
	// its Sentinel alert and incident.
	Preload int
	Clock   clock.Clock
	Logger  *slog.Logger
}

func (o *Options) defaults() {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&o.TenantID, "72f988bf-86f1-41af-91ab-2d7cd011db47")
	def(&o.ClientID, "0d1c2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f")
	def(&o.ClientSecret, "sim-secret-"+"b3JhbmdlLXRyZWUtbGFtcA")
	def(&o.SubscriptionID, "20ff7fc3-e762-44dd-bd96-b71116dcdc23")
	def(&o.ResourceGroup, "soc-rg")
	def(&o.Workspace, "soc-workspace")
	def(&o.DevOpsOrg, "contoso")
	def(&o.DevOpsProject, "SecOps")
	if o.TokenLifetime <= 0 {
		o.TokenLifetime = time.Hour
	}
	if o.GraphBudget <= 0 {
		o.GraphBudget = 150
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Simulator is a running simulated tenant. Its handler is safe for
// concurrent use; all state is in memory behind one lock, as the real
// services' consistency is what is being simulated, not their scale.
type Simulator struct {
	opt   Options
	clock clock.Clock
	log   *slog.Logger
	mux   *http.ServeMux

	tokens *tokenStore
	faults *faultTable
	world  *World
	// requests logs every request (requestlog.go).
	requests *requestLog
	// ids holds managed identities, certificates and federated
	// credentials (managedidentity.go, clientcert.go).
	ids *identityState
	// asm holds Defender for Cloud's assessments and governance
	// assignments (assessments.go).
	asm *assessStore

	// baseURL is filled when serving, for links such as nextLink.
	mu      sync.RWMutex
	baseURL string
	// browserURL, when set, is where a person's browser reaches the
	// interactive sign-in pages (see BrowserHandler); else baseURL.
	browserURL string
}

// New returns a simulator; call Handler or Serve.
func New(o Options) *Simulator {
	o.defaults()
	s := &Simulator{
		opt: o, clock: o.Clock, log: o.Logger.With("component", "simulator"),
		mux:    http.NewServeMux(),
		tokens: newTokenStore(),
		faults: newFaultTable(),

		requests: newRequestLog(),
		ids:      newIdentityState(),
		asm:      &assessStore{govs: map[string]*GovernanceAssignment{}},
	}
	s.world = newWorld(o, s.clock)
	s.routes()
	s.requestRoutes()
	for range o.Preload {
		s.world.RaiseDefenderAlert(AlertSpec{})
	}
	return s
}

// World is the simulated services' shared state.
func (s *Simulator) World() *World { return s.world }

// Options returns the effective options.
func (s *Simulator) Options() Options { return s.opt }

// Handler serves every simulated service on one host, by path.
func (s *Simulator) Handler() http.Handler { return s.requests.wrap(s.clock.Now, s.mux) }

// SetBaseURL tells the simulator the URL clients reach it at.
func (s *Simulator) SetBaseURL(u string) {
	s.mu.Lock()
	s.baseURL = strings.TrimSuffix(u, "/")
	s.mu.Unlock()
}

func (s *Simulator) base() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.baseURL
}

// SetBrowserURL tells the simulator where browsers reach BrowserHandler:
// the OpenID Connect discovery document then sends them there for the
// authorize endpoint (the account picker) and sign-out, while the
// issuer, token endpoint and keys stay at the base URL, on TLS.
func (s *Simulator) SetBrowserURL(u string) {
	s.mu.Lock()
	s.browserURL = strings.TrimSuffix(u, "/")
	s.mu.Unlock()
}

// browserBase is where the discovery document sends browsers.
func (s *Simulator) browserBase() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.browserURL != "" {
		return s.browserURL
	}
	return s.baseURL
}

// BrowserHandler serves only the pages a person's browser opens while
// signing in: the authorize endpoint, which shows the account picker and
// redirects back to the app. It holds no secret and takes no credential
// (those go to the token endpoint, server to server), so it may be served
// over plain HTTP on loopback, where a browser that does not trust the
// simulator's private CA still opens it (see Server.ServeBrowserPages).
func (s *Simulator) BrowserHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/authorize", func(w http.ResponseWriter, r *http.Request) {
		// The same route name as on TLS, so that a test's faults apply.
		if r, ok := s.applyFaults("entra.authorize", "", w, r); ok {
			s.authorizeEndpoint(w, r)
		}
	})
	return mux
}

// Info is everything a client needs, printed by `vigil simulate` as one
// JSON line under exactly these keys.
type Info struct {
	Authority      string `json:"authority"`
	TenantID       string `json:"tenant_id"`
	ClientID       string `json:"client_id"`
	ClientSecret   string `json:"client_secret"`
	ARMURL         string `json:"arm_url"`
	GraphURL       string `json:"graph_url"`
	DevOpsURL      string `json:"devops_url"`
	SubscriptionID string `json:"subscription_id"`
	ResourceGroup  string `json:"resource_group"`
	Workspace      string `json:"workspace"`
	DevOpsOrg      string `json:"devops_org"`
	DevOpsProject  string `json:"devops_project"`
	CAFile         string `json:"ca_file"`
	// LogAnalyticsURL and WorkspaceID address the Log Analytics query API.
	LogAnalyticsURL string `json:"loganalytics_url"`
	WorkspaceID     string `json:"workspace_id"`
	// TIUploadURL is the threat-intelligence upload API's base URL
	// (api.ti.sentinel.azure.com in Azure); it takes WorkspaceID.
	TIUploadURL string `json:"ti_upload_url"`
}

// Info describes the simulator served at base with its CA in caFile.
func (s *Simulator) Info(caFile string) Info {
	b := s.base()
	return Info{
		// azidentity appends the tenant to the authority host.
		Authority: b + "/", TenantID: s.opt.TenantID, ClientID: s.opt.ClientID, ClientSecret: s.opt.ClientSecret,
		ARMURL: b, GraphURL: b + "/graph", DevOpsURL: b + "/devops",
		SubscriptionID: s.opt.SubscriptionID, ResourceGroup: s.opt.ResourceGroup, Workspace: s.opt.Workspace,
		DevOpsOrg: s.opt.DevOpsOrg, DevOpsProject: s.opt.DevOpsProject, CAFile: caFile,
		LogAnalyticsURL: b, WorkspaceID: s.laWorkspaceGUID(),
		TIUploadURL: b,
	}
}

// Server is a simulator listening with TLS.
type Server struct {
	Sim  *Simulator
	CA   *CA
	URL  string
	Info Info
	// BrowserURL is the plain-HTTP listener of ServeBrowserPages; "" when
	// there is none.
	BrowserURL string
	srv        *http.Server
	ln         net.Listener
	browser    *http.Server
}

// Listen starts serving the simulator over TLS on addr ("127.0.0.1:0" for
// any port) and writes the CA certificate to caFile (when not empty).
func Listen(s *Simulator, addr, caFile string) (*Server, error) {
	ca, err := NewCA()
	if err != nil {
		return nil, err
	}
	if caFile != "" {
		if err := os.WriteFile(caFile, ca.CertPEM, 0o644); err != nil {
			return nil, fmt.Errorf("write CA file: %w", err)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	url := "https://" + ln.Addr().String()
	s.SetBaseURL(url)
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{ca.Server}, MinVersion: tls.VersionTLS12},
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("simulator serve", "err", err)
		}
	}()
	return &Server{Sim: s, CA: ca, URL: url, Info: s.Info(caFile), srv: srv, ln: ln}, nil
}

// ServeBrowserPages serves the interactive sign-in pages (BrowserHandler)
// over plain HTTP on the loopback address addr ("127.0.0.1:0" for any
// port), and makes the discovery document send browsers there. A person
// who signs in with a normal browser then never meets the private CA,
// which the browser does not trust; everything an app calls server to
// server (the issuer, token endpoint, keys and every API) stays on TLS,
// as Azure's SDK and OpenID Connect libraries require. It returns the
// listener's URL (also in BrowserURL). Only loopback addresses are
// accepted: these pages must not be offered to a network in the clear.
func (sv *Server) ServeBrowserPages(addr string) (string, error) {
	if sv.browser != nil {
		return "", fmt.Errorf("simulator browser pages: already served at %s", sv.BrowserURL)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("simulator browser pages: address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("simulator browser pages: address %q is not loopback; plain HTTP is for this machine only", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("simulator browser pages: listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           sv.Sim.BrowserHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(sv.Sim.log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			sv.Sim.log.Error("simulator browser pages serve", "err", err)
		}
	}()
	sv.browser, sv.BrowserURL = srv, "http://"+ln.Addr().String()
	sv.Sim.SetBrowserURL(sv.BrowserURL)
	return sv.BrowserURL, nil
}

// Client returns an HTTP client that trusts the simulator's CA.
func (sv *Server) Client() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: sv.CA.ClientTLS()}, Timeout: 30 * time.Second}
}

// Close stops the server.
func (sv *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var berr error
	if sv.browser != nil {
		berr = sv.browser.Shutdown(ctx)
	}
	return errors.Join(sv.srv.Shutdown(ctx), berr)
}

// writeJSON writes v with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":{"code":"InternalServerError","message":"marshal"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	w.Write(b)
}
