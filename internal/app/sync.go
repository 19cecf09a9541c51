package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/connector/defender"
	"github.com/vigil-soc/vigil/internal/connector/devops"
	"github.com/vigil-soc/vigil/internal/connector/freshdesk"
	"github.com/vigil-soc/vigil/internal/connector/graph"
	"github.com/vigil-soc/vigil/internal/connector/jira"
	"github.com/vigil-soc/vigil/internal/connector/sentinel"
	"github.com/vigil-soc/vigil/internal/connector/servicenow"
	"github.com/vigil-soc/vigil/internal/ingest"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/twoway"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// syncParts are the connectors and modules built from the sync section.
type syncParts struct {
	targets map[string]outbox.Target
	modules []twoway.Module
	// planners are the mirrors' planners, added to the write-back planner.
	planners []workitem.Planner
	// boards receives Azure Boards service hooks, when a mirror is configured.
	boards *twoway.BoardsHook
	// jira receives Jira's signed webhooks, when a mirror has a secret.
	jira *twoway.JiraHook
	// interval is how often each module runs.
	interval time.Duration
	// health records each module's passes (RunCycleWithHealth) for the
	// connector health page; never nil.
	health *twoway.Health
}

// byPrefix routes a write to the client whose ARM scope the resource id
// starts with (one client per subscription or workspace).
type byPrefix map[string]outbox.Target

func (b byPrefix) Send(ctx context.Context, m outbox.Message) error {
	res := strings.ToLower(m.Resource)
	for prefix, t := range b {
		if strings.HasPrefix(res, prefix) {
			return t.Send(ctx, m)
		}
	}
	return fmt.Errorf("no configured connector covers %s", m.Resource)
}

// buildSync builds the connectors the configuration names. items is
// filled in later (the service needs the mirrors' planners first).
func buildSync(cfg config.Sync, db *store.DB, pipe *ingest.Pipeline, proc *workitem.Process, items *followerRef,
	log *slog.Logger, clk clock.Clock) (*syncParts, error) {
	p := &syncParts{targets: map[string]outbox.Target{}, interval: cfg.Interval, health: twoway.NewHealth(clk)}
	if !cfg.Enabled() {
		return p, nil
	}
	p.health.Redact(cfg.Azure.ClientSecret, cfg.Azure.CertificatePassword)
	hc, err := httpClient(cfg.Azure.CAFile)
	if err != nil {
		return nil, err
	}
	var transport policy.Transporter = hc
	az := cfg.Azure
	window := twoway.Window{Overlap: cfg.Overlap, Resync: cfg.Resync}

	if len(cfg.Defender) > 0 {
		route := byPrefix{}
		for _, d := range cfg.Defender {
			c, err := defender.New(defender.Config{TenantID: az.TenantID, ClientID: az.ClientID, ClientSecret: az.ClientSecret, Credential: azureCredential(az),
				SubscriptionID: d.SubscriptionID, AuthorityHost: az.AuthorityHost, ARMEndpoint: az.ARMEndpoint, Transport: transport})
			if err != nil {
				return nil, err
			}
			route["/subscriptions/"+strings.ToLower(d.SubscriptionID)+"/"] = c
			sink := twoway.FollowingSink(pipe, items, "connector:defender", defender.Source, cfg.SentinelClosedState, cfg.Grace(), log)
			p.modules = append(p.modules, named{name: "defender:" + d.SubscriptionID, kind: "poller", m: defender.NewPoller(c, sink, log, clk.Now)})
			if r := d.Recommendations; r != nil && r.Enabled {
				m, err := recommendations(cfg, d, c, pipe, db, proc, items, transport, log, clk)
				if err != nil {
					return nil, err
				}
				p.modules = append(p.modules, m)
			}
		}
		p.targets[defender.Source] = route
	}
	if len(cfg.Sentinel) > 0 {
		route := byPrefix{}
		for _, w := range cfg.Sentinel {
			c, err := sentinel.New(sentinel.Config{TenantID: az.TenantID, ClientID: az.ClientID, ClientSecret: az.ClientSecret, Credential: azureCredential(az),
				SubscriptionID: w.SubscriptionID, ResourceGroup: w.ResourceGroup, Workspace: w.Workspace,
				AuthorityHost: az.AuthorityHost, ARMEndpoint: az.ARMEndpoint, Transport: transport,
				WorkspaceID: w.WorkspaceID, LogAnalyticsURL: az.LogAnalyticsURL})
			if err != nil {
				return nil, err
			}
			route[strings.ToLower(fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.OperationalInsights/workspaces/%s/",
				w.SubscriptionID, w.ResourceGroup, w.Workspace))] = c
			p.modules = append(p.modules, twoway.NewSentinelPoller(c, db, items, proc, twoway.SentinelOptions{
				Name: w.Workspace, Window: window, ClosedState: cfg.SentinelClosedState,
				NoWorkItems: cfg.SentinelWorkItems != nil && !*cfg.SentinelWorkItems, Clock: clk, Logger: log,
				Secondary: cfg.IncidentAPI == "graph" && cfg.Graph != nil && cfg.Graph.Incidents}))
		}
		p.targets[sentinel.Source] = route
	}
	if g := cfg.Graph; g != nil {
		c, err := graph.New(graph.Config{TenantID: az.TenantID, ClientID: az.ClientID, ClientSecret: az.ClientSecret, Credential: azureCredential(az),
			AuthorityHost: az.AuthorityHost, GraphURL: az.GraphURL, Transport: transport, Budget: g.Budget, Clock: clk, Logger: log})
		if err != nil {
			return nil, err
		}
		p.targets[graph.Target] = c
		p.modules = append(p.modules, twoway.NewGraphPoller(c, pipe, db, twoway.GraphOptions{
			Filter: g.Filter, LegacyProvider: g.LegacyProvider, Claim: g.Claim, Window: window, Clock: clk, Logger: log,
			Defender: defenderAlerts(cfg, db)}))
		if g.Incidents {
			// After the alerts, so that an incident's Graph alerts are
			// stored when it links them.
			p.modules = append(p.modules, twoway.NewGraphIncidentPoller(c, db, items, proc, twoway.GraphIncidentOptions{
				Window: window, ClosedState: cfg.SentinelClosedState, Clock: clk, Logger: log,
				Secondary: cfg.IncidentAPI == "sentinel" && len(cfg.Sentinel) > 0}))
		}
	}
	if len(cfg.Defender) > 0 && cfg.Grace() > 0 {
		// Defender alerts that no incident claimed in time get their own
		// Problem items.
		p.modules = append(p.modules, twoway.NewHeldAlerts(db, proc, log))
	}
	if cfg.ReconcileOn() {
		p.modules = append(p.modules, twoway.NewReconciler(db, log))
	}
	if d := cfg.DevOps; d != nil {
		c, err := devops.New(devops.Config{OrgURL: d.OrgURL, Project: d.Project, PAT: d.PAT, Transport: hc.Transport, Logger: log}, db)
		if err != nil {
			return nil, err
		}
		p.health.Redact(d.PAT, d.HookPassword)
		p.addMirror(devops.Target, c, twoway.Boards{BaseURL: d.BaseURL}, db, proc, log)
		p.boards = twoway.NewBoardsHook(c, items, d.HookUser, d.HookPassword, log)
	}
	if f := cfg.Freshdesk; f != nil {
		c, err := freshdesk.New(freshdesk.Config{URL: f.URL, APIKey: f.APIKey, HTTPClient: hc, RequesterEmail: f.RequesterEmail}, db)
		if err != nil {
			return nil, err
		}
		p.health.Redact(f.APIKey)
		p.addMirror(freshdesk.Target, c, twoway.Tickets{System: freshdesk.Target}, db, proc, log)
	}
	if n := cfg.ServiceNow; n != nil {
		c, err := servicenow.New(servicenow.Config{URL: n.URL, User: n.User, Password: n.Password, HTTPClient: hc}, db)
		if err != nil {
			return nil, err
		}
		p.health.Redact(n.Password)
		p.addMirror(servicenow.Target, c, twoway.Tickets{System: servicenow.Target}, db, proc, log)
	}
	if j := cfg.Jira; j != nil {
		states := jira.DefaultStates()
		for k, v := range j.States {
			states[k] = v
		}
		c, err := jira.New(jira.Config{BaseURL: j.URL, Email: j.Email, APIToken: j.APIToken, Project: j.Project,
			IssueType: j.IssueType, States: states, KeyPrefix: j.KeyPrefix, HTTPClient: hc, Clock: clk}, db)
		if err != nil {
			return nil, err
		}
		p.health.Redact(j.APIToken, j.WebhookSecret)
		p.addMirror(jira.Target, c, twoway.Tickets{System: jira.Target}, db, proc, log)
		if j.WebhookSecret != "" {
			p.jira = twoway.NewJiraHook(c, db, items, twoway.JiraHookOptions{Secret: j.WebhookSecret,
				KeyPrefix: j.KeyPrefix, AccountID: j.AccountID}, log)
		}
	}
	// Registered now, the modules show on the health page before their
	// first pass.
	p.health.Register(p.modules...)
	return p, nil
}

// addMirror registers a tracker's connector, its create pass and its
// planner.
func (p *syncParts) addMirror(target string, c outbox.Target, t twoway.Tracker, db *store.DB, proc *workitem.Process, log *slog.Logger) {
	p.targets[target] = c
	m := twoway.NewMirror(t, db, proc, log)
	p.modules = append(p.modules, m)
	p.planners = append(p.planners, m)
}

// named gives a module a name of the configuration's choosing, and a
// kind for the health page.
type named struct {
	name, kind string
	m          interface{ UpdateAll(context.Context) error }
}

func (n named) Name() string                        { return n.name }
func (n named) Kind() string                        { return n.kind }
func (n named) UpdateAll(ctx context.Context) error { return n.m.UpdateAll(ctx) }

// followerRef lets connectors built before the work-item service reach it.
type followerRef struct{ svc *workitem.Service }

func (f *followerRef) Follow(ctx context.Context, id int64, to, origin, cause string, data any) (workitem.Item, bool, error) {
	return f.svc.Follow(ctx, id, to, origin, cause, data)
}

func (f *followerRef) FollowAssignee(ctx context.Context, id int64, assignee, origin, cause string) (workitem.Item, bool, error) {
	return f.svc.FollowAssignee(ctx, id, assignee, origin, cause)
}

func (f *followerRef) FollowComment(ctx context.Context, id int64, origin, author, body string, at time.Time) (workitem.Comment, bool, error) {
	return f.svc.FollowComment(ctx, id, origin, author, body, at)
}

// httpClient returns the client connectors use: the system's roots, plus
// caFile's certificates when set (the simulator's CA).
func httpClient(caFile string) (*http.Client, error) {
	return httpClientFor("sync.azure.ca_file", caFile)
}

// httpClientFor is httpClient with the config key that named caFile, for
// its errors.
func httpClientFor(key, caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s %s: no certificate found", key, caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}, nil
}

// sourceFollower moves an item whose alerts were all resolved at their
// source to the process's on_source_resolved state (ingest's reactor).
type sourceFollower struct {
	items *workitem.Service
	log   *slog.Logger
	// rules hears every committed batch (the alert.updated trigger);
	// pager routes the new items to services.
	rules ingest.IngestObserver
	pager ingest.IngestObserver
	// intel matches the new alerts' entities against the indicators.
	intel ingest.IngestObserver
	// inhibit writes each inhibition on the inhibiting item's timeline.
	inhibit ingest.IngestObserver
}

// Ingested passes a committed batch to the rules, then to paging.
func (f *sourceFollower) Ingested(ctx context.Context, alerts []alert.Alert, results []store.IngestResult) {
	if f.rules != nil {
		f.rules.Ingested(ctx, alerts, results)
	}
	if f.intel != nil {
		f.intel.Ingested(ctx, alerts, results)
	}
	if f.inhibit != nil {
		f.inhibit.Ingested(ctx, alerts, results)
	}
	if f.pager != nil {
		f.pager.Ingested(ctx, alerts, results)
	}
}

func (f *sourceFollower) SourceResolved(ctx context.Context, itemID int64, source, cause string) {
	_, moved, err := f.items.FollowSourceResolved(ctx, itemID, source, cause)
	switch {
	case err != nil:
		f.log.Warn("could not move an item resolved at its source", "workitem", itemID, "err", err)
	case moved:
		f.log.Info("work item follows its source's resolution", "workitem", itemID, "to", f.items.Process().OnSourceResolved)
	}
}

// recommendations builds the module that makes one subscription's
// unhealthy assessments Problem items, and lets its Defender client, the
// subscription's outbox target, write their governance assignments.
func recommendations(cfg config.Sync, d config.DefenderScope, c *defender.Client, pipe *ingest.Pipeline, db *store.DB,
	proc *workitem.Process, items *followerRef, transport policy.Transporter, log *slog.Logger, clk clock.Clock) (*twoway.Recommendations, error) {
	az := cfg.Azure
	rec, err := defender.NewRecommendations(defender.Config{TenantID: az.TenantID, ClientID: az.ClientID, ClientSecret: az.ClientSecret,
		Credential: azureCredential(az), SubscriptionID: d.SubscriptionID, AuthorityHost: az.AuthorityHost, ARMEndpoint: az.ARMEndpoint, Transport: transport})
	if err != nil {
		return nil, err
	}
	defender.AttachGovernance(c, rec)
	return twoway.NewRecommendations(rec, pipe, db, proc, twoway.RecommendationOptions{
		Subscription: d.SubscriptionID, Grouping: d.Recommendations.Grouping, ResyncEvery: d.Recommendations.ResyncEvery,
		Grace: cfg.Grace(), Items: items, ClosedState: cfg.SentinelClosedState, Clock: clk, Logger: log})
}

// defenderAlerts is where the Graph poller looks for a Defender for Cloud
// alert that the Defender connector already stored, so that one finding
// is not stored twice; nil without that connector.
func defenderAlerts(cfg config.Sync, db *store.DB) twoway.DefenderAlerts {
	if len(cfg.Defender) == 0 {
		return nil
	}
	return db
}
