// Package graph is the Microsoft Graph security connector: it reads
// alerts_v2 and the legacy security/alerts API, maps them to vigil alerts,
// and writes triage back (status, classification, assignment, comments)
// through the outbox.
//
// It speaks plain REST over an azcore pipeline instead of msgraph-sdk-go:
// the connector needs five calls, and the SDK costs minutes of build time.
// Every request passes through one place (Client.do) that spends the
// tenant's request budget, honours throttling, retries a role grant that
// has not propagated yet, and recovers from a revoked or expired token.
package graph

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/connector/azauth"
)

// Source is the alert source name Graph alerts get in vigil.
const Source = "graph"

// Target is the outbox target Client.Send serves.
const Target = Source

// DefaultGraphURL is Microsoft Graph in Azure's public cloud.
const DefaultGraphURL = "https://graph.microsoft.com"

// DefaultBudget is Graph's documented per-app, per-tenant request rate for
// the security API (150 requests a minute).
const DefaultBudget = 150

// scope is requested whatever GraphURL is: tokens are for Graph's app id
// URI, and the simulator maps it to its Graph audience too.
const scope = "https://graph.microsoft.com/.default"

// Config locates a tenant. AuthorityHost and GraphURL are empty for
// Azure's public cloud; the simulator sets them.
type Config struct {
	TenantID     string
	ClientID     string
	ClientSecret string
	// Credential says how to sign in (azauth.Options); what it leaves
	// empty comes from TenantID, ClientID, ClientSecret, AuthorityHost
	// and Transport, so the zero value signs in with the client secret.
	Credential    azauth.Options
	AuthorityHost string
	GraphURL      string
	// Transport, when set, carries every request, token requests
	// included (the simulator's client trusts its own CA).
	Transport policy.Transporter
	// Budget is how many requests the client makes per sliding minute
	// (default DefaultBudget). Graph's limit is per app and tenant, so
	// use one Client per tenant.
	Budget int
	Clock  clock.Clock
	Logger *slog.Logger
}

// Client talks to one tenant's Graph security API. It is safe for
// concurrent use.
type Client struct {
	base     string // GraphURL + "/v1.0"
	host     string // nextLinks must stay on it, or the token would leak
	pipeline runtime.Pipeline
	cred     *credential
	limiter  *limiter
	clock    clock.Clock
	log      *slog.Logger
	requests atomic.Int64
	waiting  atomic.Int32 // goroutines in sleep, for tests driving a fake clock
	pageSize int          // $top; the documented maximum unless a test lowers it
	// legacyPageSize is the legacy API's $top maximum.
	legacyPageSize int
}

// New builds a client. It does not contact the tenant: the first token is
// fetched with the first request.
func New(cfg Config) (*Client, error) {
	co := cfg.Credential.WithDefaults(cfg.TenantID, cfg.ClientID, cfg.ClientSecret, cfg.AuthorityHost, cfg.Transport)
	if err := co.Validate(); err != nil {
		return nil, fmt.Errorf("graph credential: %w", err)
	}
	base := strings.TrimSuffix(cfg.GraphURL, "/")
	if base == "" {
		base = DefaultGraphURL
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("graph: url %q must be an absolute https URL", cfg.GraphURL)
	}
	if cfg.Budget <= 0 {
		cfg.Budget = DefaultBudget
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	opts := azcore.ClientOptions{Transport: cfg.Transport}
	if cfg.AuthorityHost != "" {
		opts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: cfg.AuthorityHost}
	}
	newCred := func() (azcore.TokenCredential, error) { return co.Credential(opts) }
	first, err := newCred()
	if err != nil {
		return nil, fmt.Errorf("graph credential: %w", err)
	}
	cred := &credential{cur: first, fresh: newCred}
	// azcore's retries are off: they would bypass the budget and block a
	// write on Retry-After. Client.do retries instead.
	popts := &policy.ClientOptions{Transport: cfg.Transport, Retry: policy.RetryOptions{MaxRetries: -1}}
	c := &Client{
		base: base + "/v1.0", host: u.Host, cred: cred,
		limiter: newLimiter(cfg.Budget, time.Minute), clock: cfg.Clock,
		log:      cfg.Logger.With("component", "graph"),
		pageSize: 2000, legacyPageSize: 1000,
	}
	// The counter comes after the token policy, so that a request that
	// never left (no token) is not counted.
	c.pipeline = runtime.NewPipeline("vigil-graph", "v1", runtime.PipelineOptions{
		PerRetry: []policy.Policy{runtime.NewBearerTokenPolicy(cred, []string{scope}, nil), countPolicy{&c.requests}},
	}, popts)
	return c, nil
}

// countPolicy counts the requests that go out.
type countPolicy struct{ n *atomic.Int64 }

func (p countPolicy) Do(req *policy.Request) (*http.Response, error) {
	p.n.Add(1)
	return req.Next()
}

// Requests reports how many HTTP requests the client has sent to Graph
// (token requests not included).
func (c *Client) Requests() int64 { return c.requests.Load() }

// credential hands out tokens from an azidentity credential and can start
// over with a new one. azcore's BearerTokenPolicy drops its own cached
// token on a 401, but asks the same credential again, and MSAL inside it
// returns its cached token until the expiry the token endpoint announced:
// a token revoked or expired early at the service (the simulator's
// tokens/expire) would be served again and again. A fresh azidentity
// credential has an empty MSAL cache, so it fetches a new token.
type credential struct {
	mu    sync.Mutex
	cur   azcore.TokenCredential
	fresh func() (azcore.TokenCredential, error)
}

func (c *credential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	cur := c.cur
	c.mu.Unlock()
	return cur.GetToken(ctx, opts)
}

// reset makes the next GetToken go to the token endpoint.
func (c *credential) reset() error {
	n, err := c.fresh()
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.cur = n
	c.mu.Unlock()
	return nil
}
