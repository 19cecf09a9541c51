package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Sync configures the connectors and the two-way sync. It is read from the
// file's `sync:` section only. Secrets are never written in it: each is
// named by an environment variable (`…_env`) or a file (`…_file`, e.g. a
// mounted Kubernetes secret), and is resolved into the fields tagged `-`.
type Sync struct {
	// Interval is how often pollers run (default 60s); Overlap is how far
	// back each delta poll starts again (default 5m); Resync is how often
	// a full re-read of open records runs (default 1h).
	Interval time.Duration `koanf:"interval"`
	Overlap  time.Duration `koanf:"overlap"`
	Resync   time.Duration `koanf:"resync"`
	// SentinelClosedState is where a work item goes when its Sentinel
	// incident is closed in Sentinel: Closed (default) or Verification.
	SentinelClosedState string `koanf:"sentinel_closed_state"`
	// Reconcile runs the Defender↔Sentinel reconciler (default true when
	// Sentinel is configured).
	Reconcile *bool `koanf:"reconcile"`
	// SentinelWorkItems makes a work item per Sentinel incident (default
	// true). Off, vigil only keeps incidents in step with Defender for
	// Cloud: the reconciler alone.
	SentinelWorkItems *bool `koanf:"sentinel_workitems"`
	// IncidentGrace is how long a Defender for Cloud alert waits for a
	// Sentinel incident that contains it before it gets a Problem item of
	// its own (default 10m; only while a workspace makes work items).
	// Negative: never wait.
	IncidentGrace time.Duration `koanf:"incident_grace"`
	// IncidentAPI is the API that incidents seen through both Sentinel and
	// Graph (sync.graph.incidents) are read from and written to: "graph"
	// (default when Graph incidents are pulled) or "sentinel". The other
	// view only fills in incidents the configured one has not shown yet.
	IncidentAPI string `koanf:"incident_api"`

	Azure    Azure               `koanf:"azure"`
	Sentinel []SentinelWorkspace `koanf:"sentinel"`
	Defender []DefenderScope     `koanf:"defender"`
	// Governance writes recommendation items' owners and due dates back
	// to Defender for Cloud.
	Governance *Governance       `koanf:"governance"`
	Graph      *GraphSync        `koanf:"graph"`
	DevOps     *DevOpsMirror     `koanf:"devops"`
	Freshdesk  *FreshdeskMirror  `koanf:"freshdesk"`
	ServiceNow *ServiceNowMirror `koanf:"servicenow"`
	Jira       *JiraMirror       `koanf:"jira"`
}

// Azure is the Entra ID app vigil signs in as.
type Azure struct {
	TenantID         string `koanf:"tenant_id"`
	ClientID         string `koanf:"client_id"`
	ClientSecretEnv  string `koanf:"client_secret_env"`
	ClientSecretFile string `koanf:"client_secret_file"`
	ClientSecret     string `koanf:"-"`
	// AuthorityHost, ARMEndpoint and GraphURL are empty for Azure's public
	// cloud; sovereign clouds and the simulator set them.
	AuthorityHost string `koanf:"authority_host"`
	ARMEndpoint   string `koanf:"arm_endpoint"`
	GraphURL      string `koanf:"graph_url"`
	// LogAnalyticsURL is the Log Analytics query API (default
	// https://api.loganalytics.io), TIUploadURL Sentinel's threat
	// intelligence upload API (default https://api.ti.sentinel.azure.com).
	LogAnalyticsURL string `koanf:"loganalytics_url"`
	TIUploadURL     string `koanf:"ti_upload_url"`
	// CAFile adds a CA to trust (the simulator's).
	CAFile string `koanf:"ca_file"`

	// Credential is how vigil signs in (azauth.Kinds): secret (default,
	// the client secret above), certificate, managed_identity,
	// workload_identity or azure_cli. See resolveCredential.
	Credential string `koanf:"credential"`
	// CertificateFile holds the app's certificate and private key (PEM,
	// or PKCS#12 decrypted with the password from
	// CertificatePasswordEnv/File): credential certificate.
	CertificateFile         string `koanf:"certificate_file"`
	CertificatePasswordEnv  string `koanf:"certificate_password_env"`
	CertificatePasswordFile string `koanf:"certificate_password_file"`
	// SendCertificateChain sends the certificate chain (x5c), for subject
	// name/issuer authentication.
	SendCertificateChain bool   `koanf:"send_certificate_chain"`
	Certificate          []byte `koanf:"-"`
	CertificatePassword  string `koanf:"-"`
	// ManagedIdentityClientID or ManagedIdentityResourceID selects a
	// user-assigned managed identity; neither means the system-assigned
	// one (credential managed_identity).
	ManagedIdentityClientID   string `koanf:"managed_identity_client_id"`
	ManagedIdentityResourceID string `koanf:"managed_identity_resource_id"`
	// FederatedTokenFile is the workload identity token file (default
	// $AZURE_FEDERATED_TOKEN_FILE, which AKS workload identity sets).
	FederatedTokenFile string `koanf:"federated_token_file"`
}

// SentinelWorkspace names one Log Analytics workspace with Sentinel.
type SentinelWorkspace struct {
	SubscriptionID string `koanf:"subscription_id"`
	ResourceGroup  string `koanf:"resource_group"`
	Workspace      string `koanf:"workspace"`
	// WorkspaceID is the workspace's id (a GUID, "customerId"): the Log
	// Analytics query API and the threat-intelligence upload API address
	// a workspace by it. Hunting and indicator upload need it.
	WorkspaceID string `koanf:"workspace_id"`
}

// DefenderScope names one subscription whose Defender for Cloud alerts are pulled.
type DefenderScope struct {
	SubscriptionID string `koanf:"subscription_id"`
	// Recommendations makes the subscription's unhealthy assessments
	// Problem items.
	Recommendations *Recommendations `koanf:"recommendations"`
}

// Recommendations reads Defender for Cloud's assessments
// (Microsoft.Security/assessments) of one subscription.
type Recommendations struct {
	Enabled bool `koanf:"enabled"`
	// Grouping is "recommendation" (one Problem per recommendation, with
	// its affected resources; the default) or "resource" (one per
	// recommendation and resource).
	Grouping string `koanf:"grouping"`
	// ResyncEvery is how many polls apart every assessment is looked at
	// again, not only those whose status changed (default 60).
	ResyncEvery int `koanf:"resync_every"`
}

// Governance writes a recommendation item's assignee and due date back
// as the assessments' governance assignments.
type Governance struct {
	Enabled bool `koanf:"enabled"`
	// DefaultDue is the remediation due date, from the assignment, of an
	// item that has no due date (default 720h): Defender for Cloud needs
	// one on every assignment.
	DefaultDue time.Duration `koanf:"default_due"`
	// GracePeriod keeps an overdue recommendation out of the secure score.
	GracePeriod bool `koanf:"grace_period"`
	// Notify lets Defender for Cloud e-mail the owner and their manager.
	Notify bool `koanf:"notify"`
}

// RecommendationsOn reports whether any subscription's recommendations
// are read.
func (s Sync) RecommendationsOn() bool {
	for _, d := range s.Defender {
		if d.Recommendations != nil && d.Recommendations.Enabled {
			return true
		}
	}
	return false
}

// GraphSync pulls Graph security alerts.
type GraphSync struct {
	// Filter selects alerts_v2 alerts, e.g. "serviceSource eq 'microsoftDefenderForCloud'".
	Filter string `koanf:"filter"`
	// LegacyProvider pulls the legacy alerts API instead, by provider (e.g. ASC).
	LegacyProvider string `koanf:"legacy_provider"`
	// Claim sets each pulled new alert inProgress at the source, exactly once.
	Claim bool `koanf:"claim"`
	// Budget is requests per minute (default 150, Graph's per-tenant limit).
	Budget int `koanf:"budget"`
	// Incidents pulls the unified incidents (security/incidents, with
	// their alerts): Defender XDR's, and Sentinel's for a workspace in the
	// Defender portal. Each is an Issue item, synced both ways.
	Incidents bool `koanf:"incidents"`
}

// DevOpsMirror mirrors work items to Azure Boards.
type DevOpsMirror struct {
	OrgURL  string `koanf:"org_url"`
	Project string `koanf:"project"`
	PATEnv  string `koanf:"pat_env"`
	PATFile string `koanf:"pat_file"`
	PAT     string `koanf:"-"`
	// HookUser and the hook password authenticate the service hooks Azure
	// DevOps sends to /api/v1/hooks/devops (basic auth).
	HookUser         string `koanf:"hook_user"`
	HookPasswordEnv  string `koanf:"hook_password_env"`
	HookPasswordFile string `koanf:"hook_password_file"`
	HookPassword     string `koanf:"-"`
	// BaseURL is vigil's own address, for the link back on each Boards item.
	BaseURL string `koanf:"base_url"`
}

// FreshdeskMirror mirrors work items to Freshdesk tickets.
type FreshdeskMirror struct {
	URL            string `koanf:"url"`
	APIKeyEnv      string `koanf:"api_key_env"`
	APIKeyFile     string `koanf:"api_key_file"`
	APIKey         string `koanf:"-"`
	RequesterEmail string `koanf:"requester_email"`
}

// ServiceNowMirror mirrors work items to ServiceNow incidents.
type ServiceNowMirror struct {
	URL          string `koanf:"url"`
	User         string `koanf:"user"`
	PasswordEnv  string `koanf:"password_env"`
	PasswordFile string `koanf:"password_file"`
	Password     string `koanf:"-"`
}

// Enabled reports whether anything is configured to sync.
func (s Sync) Enabled() bool {
	return len(s.Sentinel) > 0 || len(s.Defender) > 0 || s.Graph != nil || s.DevOps != nil || s.Freshdesk != nil || s.ServiceNow != nil || s.Jira != nil
}

// Grace is how long a Defender for Cloud alert waits for its Sentinel
// incident: IncidentGrace while a workspace makes a work item per
// incident, else nothing (no incident item could take the alert).
func (s Sync) Grace() time.Duration {
	if len(s.Sentinel) == 0 || (s.SentinelWorkItems != nil && !*s.SentinelWorkItems) || s.IncidentGrace < 0 {
		return 0
	}
	return s.IncidentGrace
}

// ReconcileOn reports whether the reconciler runs.
func (s Sync) ReconcileOn() bool {
	if s.Reconcile != nil {
		return *s.Reconcile
	}
	return len(s.Sentinel) > 0
}

// secret reads a secret from the named environment variable or file.
func secret(what, env, file string, environ []string) (string, error) {
	if env != "" {
		for _, kv := range environ {
			if name, val, ok := strings.Cut(kv, "="); ok && name == env {
				return val, nil
			}
		}
		return "", fmt.Errorf("%s: environment variable %s is not set", what, env)
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", nil
}

// resolve reads every secret and fills the defaults.
func (s *Sync) resolve(environ []string) error {
	var errs []error
	read := func(dst *string, what, env, file string) {
		v, err := secret(what, env, file, environ)
		if err != nil {
			errs = append(errs, err)
		}
		*dst = v
	}
	if s.Interval <= 0 {
		s.Interval = 60 * time.Second
	}
	if s.Overlap <= 0 {
		s.Overlap = 5 * time.Minute
	}
	if s.Resync <= 0 {
		s.Resync = time.Hour
	}
	if s.SentinelClosedState == "" {
		s.SentinelClosedState = "Closed"
	}
	if s.IncidentGrace == 0 {
		s.IncidentGrace = 10 * time.Minute
	}
	if len(s.Sentinel) > 0 || len(s.Defender) > 0 || s.Graph != nil {
		if err := s.Azure.resolveCredential(environ); err != nil {
			errs = append(errs, err)
		}
	}
	for i, w := range s.Sentinel {
		if w.SubscriptionID == "" || w.ResourceGroup == "" || w.Workspace == "" {
			errs = append(errs, fmt.Errorf("sync.sentinel[%d]: subscription_id, resource_group and workspace are required", i))
		}
	}
	for i, d := range s.Defender {
		if d.SubscriptionID == "" {
			errs = append(errs, fmt.Errorf("sync.defender[%d]: subscription_id is required", i))
		}
		if r := d.Recommendations; r != nil {
			switch r.Grouping {
			case "":
				r.Grouping = "recommendation"
			case "recommendation", "resource":
			default:
				errs = append(errs, fmt.Errorf("sync.defender[%d].recommendations.grouping %q: want recommendation or resource", i, r.Grouping))
			}
			if r.ResyncEvery < 0 {
				errs = append(errs, fmt.Errorf("sync.defender[%d].recommendations.resync_every: must not be negative", i))
			}
		}
	}
	if g := s.Governance; g != nil && g.Enabled {
		if g.DefaultDue == 0 {
			g.DefaultDue = 720 * time.Hour
		}
		if g.DefaultDue < 0 {
			errs = append(errs, errors.New("sync.governance.default_due: must be positive"))
		}
		if !s.RecommendationsOn() {
			errs = append(errs, errors.New("sync.governance needs a sync.defender entry with recommendations.enabled: true"))
		}
	}
	if d := s.DevOps; d != nil {
		read(&d.PAT, "sync.devops.pat", d.PATEnv, d.PATFile)
		read(&d.HookPassword, "sync.devops.hook_password", d.HookPasswordEnv, d.HookPasswordFile)
		if d.OrgURL == "" || d.Project == "" || d.PAT == "" {
			errs = append(errs, errors.New("sync.devops: org_url, project and a PAT (pat_env or pat_file) are required"))
		}
		if d.HookUser == "" || d.HookPassword == "" {
			errs = append(errs, errors.New("sync.devops: hook_user and a hook password are required, so that service hooks are authenticated"))
		}
	}
	if f := s.Freshdesk; f != nil {
		read(&f.APIKey, "sync.freshdesk.api_key", f.APIKeyEnv, f.APIKeyFile)
		if f.URL == "" || f.APIKey == "" {
			errs = append(errs, errors.New("sync.freshdesk: url and an API key are required"))
		}
	}
	if n := s.ServiceNow; n != nil {
		read(&n.Password, "sync.servicenow.password", n.PasswordEnv, n.PasswordFile)
		if n.URL == "" || n.User == "" || n.Password == "" {
			errs = append(errs, errors.New("sync.servicenow: url, user and a password are required"))
		}
	}
	if s.Jira != nil {
		if err := s.Jira.resolve(environ); err != nil {
			errs = append(errs, err)
		}
	}
	switch {
	case s.IncidentAPI == "" && s.Graph != nil && s.Graph.Incidents:
		s.IncidentAPI = "graph"
	case s.IncidentAPI == "":
		s.IncidentAPI = "sentinel"
	case s.IncidentAPI != "graph" && s.IncidentAPI != "sentinel":
		errs = append(errs, fmt.Errorf("sync.incident_api %q: want graph or sentinel", s.IncidentAPI))
	case s.IncidentAPI == "graph" && (s.Graph == nil || !s.Graph.Incidents):
		errs = append(errs, errors.New("sync.incident_api graph needs sync.graph.incidents: true"))
	}
	switch s.SentinelClosedState {
	case "Closed", "Verification":
	default:
		errs = append(errs, fmt.Errorf("sync.sentinel_closed_state %q: want Closed or Verification", s.SentinelClosedState))
	}
	return errors.Join(errs...)
}

// syncKeys are the keys the sync section may hold, flattened as koanf
// flattens them (lists are leaves).
var syncKeys = map[string]bool{}

func init() {
	for _, k := range []string{"interval", "overlap", "resync", "sentinel_closed_state", "reconcile", "sentinel_workitems", "sentinel", "defender",
		"azure.tenant_id", "azure.client_id", "azure.client_secret_env", "azure.client_secret_file", "azure.authority_host",
		"azure.arm_endpoint", "azure.graph_url", "azure.ca_file", "azure.loganalytics_url", "azure.ti_upload_url",
		"azure.credential", "azure.certificate_file", "azure.certificate_password_env", "azure.certificate_password_file",
		"azure.send_certificate_chain", "azure.managed_identity_client_id", "azure.managed_identity_resource_id", "azure.federated_token_file",
		"governance.enabled", "governance.default_due", "governance.grace_period", "governance.notify",
		"graph.filter", "graph.legacy_provider", "graph.claim", "graph.budget", "graph.incidents", "incident_api",
		"devops.org_url", "devops.project", "devops.pat_env", "devops.pat_file", "devops.hook_user",
		"devops.hook_password_env", "devops.hook_password_file", "devops.base_url",
		"freshdesk.url", "freshdesk.api_key_env", "freshdesk.api_key_file", "freshdesk.requester_email",
		"servicenow.url", "servicenow.user", "servicenow.password_env", "servicenow.password_file"} {
		syncKeys["sync."+k] = true
	}
}
