// Package sentinel is the Microsoft Sentinel connector for one Log Analytics
// workspace. It reads incidents and their alerts with Microsoft's own
// resource-manager client (armsecurityinsights), maps them to vigil's model,
// and writes back to incidents (close, activate, owner, comment) for the
// outbox.
package sentinel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/securityinsights/armsecurityinsights/v2"

	"github.com/vigil-soc/vigil/internal/connector/azauth"
)

// Source is the alert and incident source name Sentinel gets in vigil.
const Source = "sentinel"

// defaultPageSize is the $top of incident lists: the service's largest
// page, so that a poll spends as few requests of the ARM budget as it can
// (the default page is 50).
const defaultPageSize = 1000

// Config locates a tenant and a Sentinel workspace. AuthorityHost and
// ARMEndpoint are empty for Azure's public cloud; the simulator sets them.
type Config struct {
	TenantID     string
	ClientID     string
	ClientSecret string
	// Credential says how to sign in (azauth.Options); what it leaves
	// empty comes from TenantID, ClientID, ClientSecret, AuthorityHost
	// and Transport, so the zero value signs in with the client secret.
	Credential     azauth.Options
	SubscriptionID string
	ResourceGroup  string
	Workspace      string
	AuthorityHost  string
	ARMEndpoint    string
	// Transport, when set, carries every request (the simulator's client
	// trusts its own CA).
	Transport policy.Transporter
	// WorkspaceID is the workspace's customerId GUID, which the Log
	// Analytics query API addresses it by; with it a full resync reads
	// SecurityIncident and SecurityAlert in a few queries (kql.go).
	// Empty: every resync uses the ARM lookups.
	WorkspaceID string
	// LogAnalyticsURL is the query API's base URL; empty for Azure's
	// public cloud (https://api.loganalytics.io).
	LogAnalyticsURL string
}

// String describes the workspace without the client secret, so that a
// config printed by mistake leaks nothing.
func (c Config) String() string {
	return fmt.Sprintf("sentinel workspace %s/%s/%s (tenant %s, client %s)", c.SubscriptionID, c.ResourceGroup, c.Workspace, c.TenantID, c.ClientID)
}

// LogValue keeps the secret out of slog output too.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("tenant", c.TenantID), slog.String("client", c.ClientID),
		slog.String("subscription", c.SubscriptionID), slog.String("resource_group", c.ResourceGroup), slog.String("workspace", c.Workspace))
}

// ErrNotFound is wrapped by errors for an incident (or workspace) the
// service does not know.
var ErrNotFound = errors.New("sentinel: not found")

// Client reads and writes one workspace's incidents.
type Client struct {
	incidents *armsecurityinsights.IncidentsClient
	comments  *armsecurityinsights.IncidentCommentsClient
	rg, ws    string
	// workspaceID is the workspace's ARM id, to check that a write-back
	// names an incident of this workspace.
	workspaceID string
	pageSize    int32
	requests    atomic.Int64
	// logs reads the workspace's tables (nil without a workspace id);
	// logParts is how many pages the last fast resync needed.
	logs     *logsClient
	logParts atomic.Int64
}

// New signs in through azidentity with cfg.Credential (by default the
// client secret).
//
// Reads and writes share one pipeline, so one token cache: reads retry
// in the SDK (honouring Retry-After up to a minute), while writes turn
// the SDK's retries off per call (see noRetry), since the outbox retries
// them itself with backoff that survives restarts.
func New(cfg Config) (*Client, error) {
	// The credential's own fields are checked by azauth (NewRenewing
	// below builds the first credential).
	for _, f := range []struct{ name, v string }{{"subscription id", cfg.SubscriptionID}, {"resource group", cfg.ResourceGroup}, {"workspace", cfg.Workspace}} {
		if strings.TrimSpace(f.v) == "" {
			return nil, fmt.Errorf("sentinel: %s is required", f.name)
		}
	}
	base := azcore.ClientOptions{Transport: cfg.Transport}
	if cfg.AuthorityHost != "" || cfg.ARMEndpoint != "" {
		base.Cloud = cloud.Configuration{
			ActiveDirectoryAuthorityHost: cfg.AuthorityHost,
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: {Audience: "https://management.azure.com", Endpoint: cfg.ARMEndpoint},
			},
		}
	}
	co := cfg.Credential.WithDefaults(cfg.TenantID, cfg.ClientID, cfg.ClientSecret, cfg.AuthorityHost, cfg.Transport)
	newCred := func() (azcore.TokenCredential, error) { return co.Credential(base) }
	cred, err := azauth.NewRenewing(newCred)
	if err != nil {
		return nil, fmt.Errorf("sentinel credential: %w", err)
	}
	c := &Client{rg: cfg.ResourceGroup, ws: cfg.Workspace, pageSize: defaultPageSize,
		workspaceID: "/subscriptions/" + cfg.SubscriptionID + "/resourceGroups/" + cfg.ResourceGroup +
			"/providers/Microsoft.OperationalInsights/workspaces/" + cfg.Workspace}

	opts := base
	opts.Retry = policy.RetryOptions{
		// ARM asks for waits of several seconds when it throttles; a
		// shorter cap would make azcore give up on a 429 at once.
		MaxRetries: 4, MaxRetryDelay: 60 * time.Second,
		// 401 joins azcore's defaults: after one, the credential hands
		// out a fresh token (see azauth.Renewing), so a retry succeeds
		// when the service has dropped a token before its stated expiry.
		StatusCodes: []int{http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusUnauthorized},
	}
	opts.PerCallPolicies = append(opts.PerCallPolicies, countPolicy{&c.requests})
	// After the bearer-token policy, so that it sees which token a 401
	// refused.
	opts.PerRetryPolicies = append(opts.PerRetryPolicies, cred.Policy())
	f, err := armsecurityinsights.NewClientFactory(cfg.SubscriptionID, cred, &arm.ClientOptions{ClientOptions: opts})
	if err != nil {
		return nil, fmt.Errorf("sentinel clients: %w", err)
	}
	c.incidents, c.comments = f.NewIncidentsClient(), f.NewIncidentCommentsClient()
	if cfg.WorkspaceID != "" {
		// The same credential, asked for the query API's scope.
		if c.logs, err = newLogsClient(cfg.LogAnalyticsURL, cfg.WorkspaceID, cfg.Transport, cred, cred.Policy()); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// noRetry turns the SDK's retries off for one write call.
func noRetry(ctx context.Context) context.Context {
	return policy.WithRetryOptions(ctx, policy.RetryOptions{MaxRetries: -1})
}

// Requests reports how many requests this client has sent to ARM: one per
// call or page, whatever the SDK retried inside it, and not counting token
// requests to Entra ID.
func (c *Client) Requests() int64 { return c.requests.Load() }

// IncidentsModifiedSince lists the incidents modified at or after since,
// oldest change first, following nextLink. A zero since lists them all.
// The bound is inclusive so that a poll starting from the last change it
// saw misses nothing modified in the same instant; callers see that
// incident again.
func (c *Client) IncidentsModifiedSince(ctx context.Context, since time.Time) ([]*armsecurityinsights.Incident, error) {
	opts := &armsecurityinsights.IncidentsClientListOptions{
		Orderby: to.Ptr("properties/lastModifiedTimeUtc asc"),
		Top:     to.Ptr(c.pageSize),
	}
	if !since.IsZero() {
		opts.Filter = to.Ptr("properties/lastModifiedTimeUtc ge " + since.UTC().Format(time.RFC3339Nano))
	}
	out, err := c.list(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("list sentinel incidents modified since %s: %w", since.UTC().Format(time.RFC3339), err)
	}
	return out, nil
}

// OpenIncidents lists the incidents that are not closed, for a periodic
// full resync that catches what a delta poll could have missed.
func (c *Client) OpenIncidents(ctx context.Context) ([]*armsecurityinsights.Incident, error) {
	out, err := c.list(ctx, &armsecurityinsights.IncidentsClientListOptions{
		Filter: to.Ptr("properties/status ne 'Closed'"),
		Top:    to.Ptr(c.pageSize),
	})
	if err != nil {
		return nil, fmt.Errorf("list open sentinel incidents: %w", err)
	}
	return out, nil
}

func (c *Client) list(ctx context.Context, opts *armsecurityinsights.IncidentsClientListOptions) ([]*armsecurityinsights.Incident, error) {
	var out []*armsecurityinsights.Incident
	pager := c.incidents.NewListPager(c.rg, c.ws, opts)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, apiErr(err)
		}
		out = append(out, page.Value...)
	}
	return out, nil
}

// Incident reads one incident by name (its GUID).
func (c *Client) Incident(ctx context.Context, name string) (*armsecurityinsights.Incident, error) {
	resp, err := c.incidents.Get(ctx, c.rg, c.ws, name, nil)
	if err != nil {
		return nil, fmt.Errorf("get sentinel incident %s: %w", name, apiErr(err))
	}
	return &resp.Incident, nil
}

// IncidentAlerts lists an incident's alerts. The result is never nil, so
// that Map can tell "no alerts" from "alerts not read".
func (c *Client) IncidentAlerts(ctx context.Context, name string) ([]*armsecurityinsights.SecurityAlert, error) {
	resp, err := c.incidents.ListAlerts(ctx, c.rg, c.ws, name, nil)
	if err != nil {
		return nil, fmt.Errorf("list alerts of sentinel incident %s: %w", name, apiErr(err))
	}
	if resp.Value == nil {
		return []*armsecurityinsights.SecurityAlert{}, nil
	}
	return resp.Value, nil
}
