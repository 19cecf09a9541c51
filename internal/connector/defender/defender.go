// Package defender reads Microsoft Defender for Cloud security alerts with
// Microsoft's own resource-manager client (armsecurity) and maps them to
// vigil alerts. It is the first half of the Defender connector: the pull;
// write-back comes with the sync engine.
package defender

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/security/armsecurity"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/connector/azauth"
)

// Source is the alert source name Defender for Cloud alerts get in vigil.
const Source = "defender"

// Config locates a tenant and a subscription. AuthorityHost and
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
	AuthorityHost  string
	ARMEndpoint    string
	// Transport, when set, carries every request (the simulator's client
	// trusts its own CA).
	Transport policy.Transporter
}

// Client lists one subscription's Defender for Cloud alerts.
type Client struct {
	alerts *armsecurity.AlertsClient
	// writes has the SDK's retries off: the outbox retries writes itself,
	// with backoff that survives restarts, instead of blocking in a call.
	writes *armsecurity.AlertsClient
	// gov sends the governance operations (AttachGovernance); nil when
	// recommendations are not configured.
	gov *Recommendations
}

// New signs in through azidentity with cfg.Credential (by default the
// client secret).
func New(cfg Config) (*Client, error) {
	cred, opts, err := signIn(cfg)
	if err != nil {
		return nil, err
	}
	c, err := armsecurity.NewAlertsClient(cfg.SubscriptionID, cred, &arm.ClientOptions{ClientOptions: opts})
	if err != nil {
		return nil, fmt.Errorf("defender alerts client: %w", err)
	}
	wopts := opts
	wopts.Retry = policy.RetryOptions{MaxRetries: -1}
	w, err := armsecurity.NewAlertsClient(cfg.SubscriptionID, cred, &arm.ClientOptions{ClientOptions: wopts})
	if err != nil {
		return nil, fmt.Errorf("defender alerts client: %w", err)
	}
	return &Client{alerts: c, writes: w}, nil
}

// signIn returns the credential and the client options every Defender
// for Cloud client of cfg uses: ARM (or the simulator) as the cloud,
// azcore retries for reads, and a token the service refused before its
// stated expiry replaced (see azauth), after which a 401 is retried once.
func signIn(cfg Config) (*azauth.Renewing, azcore.ClientOptions, error) {
	opts := azcore.ClientOptions{Transport: cfg.Transport, Retry: policy.RetryOptions{
		// ARM asks for waits of several seconds when it throttles; a
		// shorter cap would make azcore give up on a 429 at once.
		MaxRetries: 4, MaxRetryDelay: 60 * time.Second,
	}}
	if cfg.AuthorityHost != "" || cfg.ARMEndpoint != "" {
		opts.Cloud = cloud.Configuration{
			ActiveDirectoryAuthorityHost: cfg.AuthorityHost,
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: {Audience: "https://management.azure.com", Endpoint: cfg.ARMEndpoint},
			},
		}
	}
	credOpts := opts
	co := cfg.Credential.WithDefaults(cfg.TenantID, cfg.ClientID, cfg.ClientSecret, cfg.AuthorityHost, cfg.Transport)
	cred, err := azauth.NewRenewing(func() (azcore.TokenCredential, error) { return co.Credential(credOpts) })
	if err != nil {
		return nil, opts, fmt.Errorf("defender credential: %w", err)
	}
	opts.PerRetryPolicies = append(opts.PerRetryPolicies, cred.Policy())
	opts.Retry.StatusCodes = []int{http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusUnauthorized}
	return cred, opts, nil
}

// Alerts lists every alert of the subscription, following nextLink.
func (c *Client) Alerts(ctx context.Context) ([]*armsecurity.Alert, error) {
	var out []*armsecurity.Alert
	pager := c.alerts.NewListPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list defender alerts: %w", err)
		}
		out = append(out, page.Value...)
	}
	return out, nil
}

// Status maps Defender for Cloud's spelling to vigil's (Active is new),
// through the one table in package alert.
func Status(s armsecurity.AlertStatus) alert.Status {
	if st, ok := alert.StatusFrom(alert.Defender, string(s)); ok {
		return st
	}
	return alert.StatusNew
}

// Severity maps Defender for Cloud's severity.
func Severity(s armsecurity.AlertSeverity) alert.Severity {
	switch s {
	case armsecurity.AlertSeverityHigh:
		return alert.SeverityHigh
	case armsecurity.AlertSeverityLow:
		return alert.SeverityLow
	case armsecurity.AlertSeverityInformational:
		return alert.SeverityInformational
	}
	return alert.SeverityMedium
}

// Map converts an alert; its name (the systemAlertId) is the source id.
func Map(a *armsecurity.Alert) (alert.Alert, error) {
	if a == nil || a.Name == nil || a.Properties == nil {
		return alert.Alert{}, fmt.Errorf("defender alert without name or properties")
	}
	p := a.Properties
	out := alert.Alert{
		Source: Source, SourceID: *a.Name, Product: "Microsoft Defender for Cloud",
		Title: str(p.AlertDisplayName), Description: str(p.Description),
	}
	if p.Severity != nil {
		out.Severity = Severity(*p.Severity)
	}
	if p.Status != nil {
		out.Status = Status(*p.Status)
	}
	if p.StartTimeUTC != nil {
		out.FirstSeen = p.StartTimeUTC.UTC()
	}
	if p.ProcessingEndTimeUTC != nil {
		out.LastSeen = p.ProcessingEndTimeUTC.UTC()
	}
	if out.LastSeen.Before(out.FirstSeen) {
		out.LastSeen = out.FirstSeen
	}
	for _, e := range p.Entities {
		out.Entities = append(out.Entities, entities(e)...)
	}
	raw, err := json.Marshal(a)
	if err != nil {
		return out, fmt.Errorf("defender alert %s: %w", *a.Name, err)
	}
	out.Raw = raw
	return out, nil
}

// entities maps one Defender entity (type plus free-form properties) to
// vigil's typed entities; types vigil does not model are skipped.
func entities(e *armsecurity.AlertEntity) []alert.Entity {
	if e == nil || e.Type == nil {
		return nil
	}
	get := func(k string) string {
		s, _ := e.AdditionalProperties[k].(string)
		return s
	}
	var out []alert.Entity
	add := func(kind alert.EntityKind, v string) {
		if v != "" {
			out = append(out, alert.Entity{Kind: kind, Value: v})
		}
	}
	switch strings.ToLower(*e.Type) {
	case "ip":
		add(alert.EntityIP, get("address"))
	case "host":
		add(alert.EntityHost, get("hostName"))
	case "account":
		name := get("name")
		if suffix := get("upnSuffix"); suffix != "" && !strings.Contains(name, "@") {
			name += "@" + suffix
		}
		add(alert.EntityAccount, name)
	case "azure-resource":
		add(alert.EntityCloudResource, strings.ToLower(get("resourceId")))
	case "url":
		add(alert.EntityURL, get("url"))
	case "dns":
		add(alert.EntityDomain, get("domainName"))
	case "file":
		for _, h := range []string{"sha256", "sha1", "md5"} {
			add(alert.EntityFileHash, get(h))
		}
	}
	return out
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
