package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/simulator"
	"github.com/vigil-soc/vigil/internal/twilio/twilioemu"
	"github.com/vigil-soc/vigil/internal/web"
)

// DemoInterval is how often the demo's pollers, reconciler and mirror run.
const DemoInterval = 3 * time.Second

// Demo runs a server with a throw-away data directory (unless keepData),
// the simulated Microsoft tenant embedded, and every connector pointed at
// it: Defender for Cloud and Sentinel are pulled, the reconciler keeps
// incidents in step with their Defender alerts, and work items are
// mirrored to Azure Boards, whose service hooks come back. The
// simulator's scenario raises alerts and acts as portal users, so the
// board fills as it would against a real tenant.
//
// It prints the simulator's one-line JSON (the keys `vigil simulate`
// prints), then a banner whose last line is an admin API token, so that a
// script can act as a portal user through Microsoft's SDKs while it
// watches vigil through its API.
func Demo(ctx context.Context, cfg config.Config, o DemoOptions, log *slog.Logger, out io.Writer) error {
	if !o.KeepData {
		dir, err := os.MkdirTemp("", "vigil-demo-")
		if err != nil {
			return fmt.Errorf("demo data dir: %w", err)
		}
		defer os.RemoveAll(dir)
		cfg.Data = dir
		cfg.DatabaseDSN = ""
		// A throw-away database need not survive power loss.
		cfg.SQLiteSynchronous = "NORMAL"
	}
	if err := os.MkdirAll(cfg.Data, 0o755); err != nil {
		return fmt.Errorf("demo data dir: %w", err)
	}
	caFile := filepath.Join(cfg.Data, "simulator-ca.pem")
	// The simulator's own lines (each scenario action) are routine: they
	// show with --log-level debug, not under the banner.
	sim := simulator.New(simulator.Options{Preload: 5, Logger: slog.New(quietBelowDebug{log.Handler()})})
	simSrv, err := simulator.Listen(sim, "127.0.0.1:0", caFile)
	if err != nil {
		return err
	}
	defer simSrv.Close()
	// A newcomer's browser does not trust the simulator's private CA: the
	// sign-in pages it opens are served over plain HTTP on loopback, the
	// rest stays on TLS.
	if _, err := simSrv.ServeBrowserPages("127.0.0.1:0"); err != nil {
		return err
	}
	if err := demoRecommendations(sim, simSrv.Info); err != nil {
		return err
	}
	info := simSrv.Info
	hookPassword := randomHex(16)
	cfg.Sync = DemoSync(info, hookPassword)
	if o.IncidentAPI != "" {
		cfg.Sync.IncidentAPI = o.IncidentAPI
	}
	if cfg.OIDC, err = demoSignIn(sim, info, &cfg, caFile); err != nil {
		return err
	}
	if len(cfg.Reports.SLOs) == 0 {
		// The SLO report has something to measure out of the box.
		cfg.Reports.SLOs = []config.SLO{
			{Name: "high-ack-15m", Metric: "ack", Severity: []string{"high", "critical"}, Target: 15 * time.Minute, Objective: 0.95},
			{Name: "resolve-1d", Metric: "resolve", Target: 24 * time.Hour, Objective: 0.9},
		}
	}

	stopIntel, err := demoIntel(&cfg)
	if err != nil {
		return err
	}
	defer stopIntel()

	// Phones: unless a Twilio account is configured, the demo texts and
	// calls an emulated one, so that SMS and voice contact methods work.
	var phones *twilioemu.Server
	if cfg.Paging.Twilio.AccountSID == "" {
		if phones, err = demoPhones(&cfg); err != nil {
			return err
		}
		defer phones.Close()
	}

	a, err := New(ctx, cfg, log, clock.Real{})
	if err != nil {
		return err
	}
	if err := a.Listen(); err != nil {
		a.DB.Close()
		return err
	}
	if phones != nil {
		// Replies to the demo's number come back to vigil, as the
		// number's messaging webhook would send them.
		phones.SetSMSURL(cfg.Paging.Twilio.From, baseURLOf(cfg, a.URL())+web.TwilioSMSPath)
	}
	token, _, err := a.DB.CreateToken(ctx, "demo-admin", auth.RoleAdmin)
	if err != nil {
		a.DB.Close()
		return err
	}
	login, err := demoUser(ctx, a)
	if err != nil {
		a.DB.Close()
		return err
	}
	// Azure Boards calls vigil back when someone moves a mirrored item.
	if err := subscribeHook(ctx, simSrv, a.URL()+"/api/v1/hooks/devops", cfg.Sync.DevOps.HookUser, hookPassword); err != nil {
		a.DB.Close()
		return err
	}
	if o.Scenario > 0 {
		go sim.NewScenario().Run(ctx, o.Scenario)
	}

	line, _ := json.Marshal(info)
	fmt.Fprintf(out, "%s\n", line)
	writeBanner(out, banner{URL: a.URL(), Data: cfg.Data, Login: login, Token: token, Sim: info, Preload: 5, Scenario: o.Scenario})
	return a.Run(ctx)
}

// DemoPhoneNumber is the demo's Twilio number.
const DemoPhoneNumber = "+15005550006"

// demoPhones starts the Twilio emulator and configures vigil for it.
func demoPhones(cfg *config.Config) (*twilioemu.Server, error) {
	sid, token := "AC"+randomHex(16), randomHex(16)
	emu := twilioemu.New(sid, token)
	u, err := emu.Start()
	if err != nil {
		return nil, fmt.Errorf("twilio emulator: %w", err)
	}
	cfg.Paging.Twilio = config.Twilio{AccountSID: sid, AuthToken: token, From: DemoPhoneNumber, APIURL: u}
	if cfg.Paging.SMSProvider == "" {
		cfg.Paging.SMSProvider = "twilio"
	}
	return emu, nil
}

// baseURLOf is where Twilio reaches vigil: paging.base_url, or the
// address vigil listens on.
func baseURLOf(cfg config.Config, listening string) string {
	if cfg.Paging.BaseURL != "" {
		return cfg.Paging.BaseURL
	}
	return listening
}

// DemoOptions tunes the demo.
type DemoOptions struct {
	// KeepData keeps the data directory (one was given) instead of a
	// throw-away one.
	KeepData bool
	// Scenario is how often the simulated users act; 0 leaves the tenant
	// to a script.
	Scenario time.Duration
	// IncidentAPI is the API incidents are read from and written to:
	// "sentinel" (default) or "graph" (Graph's security/incidents, as
	// after Sentinel's move to the Defender portal).
	IncidentAPI string
}

// DemoSync is the sync configuration that points every connector at the
// simulator described by info.
func DemoSync(info simulator.Info, hookPassword string) config.Sync {
	s := config.Sync{
		Interval: DemoInterval, Overlap: time.Minute, Resync: 10 * time.Minute, SentinelClosedState: "Closed",
		Azure: config.Azure{TenantID: info.TenantID, ClientID: info.ClientID, ClientSecret: info.ClientSecret,
			AuthorityHost: info.Authority, ARMEndpoint: info.ARMURL, GraphURL: info.GraphURL, CAFile: info.CAFile,
			LogAnalyticsURL: info.LogAnalyticsURL, TIUploadURL: info.TIUploadURL},
		Sentinel: []config.SentinelWorkspace{{SubscriptionID: info.SubscriptionID, ResourceGroup: info.ResourceGroup, Workspace: info.Workspace,
			WorkspaceID: info.WorkspaceID}},
		// Its unhealthy assessments are Problem items, whose assignee and
		// due date go back as governance assignments.
		Defender: []config.DefenderScope{{SubscriptionID: info.SubscriptionID,
			Recommendations: &config.Recommendations{Enabled: true, Grouping: "recommendation"}}},
		Governance: &config.Governance{Enabled: true, DefaultDue: 30 * 24 * time.Hour},
		// Alerts of the other Defender products exist only in Graph: pull
		// and claim them. Defender for Cloud's come through its own API.
		// The simulated workspace is in the Defender portal: each incident
		// shows in Sentinel and in Graph's security/incidents, and is one
		// item, read from and written to Sentinel unless DemoOptions
		// names Graph.
		Graph:       &config.GraphSync{Filter: "serviceSource ne 'microsoftDefenderForCloud'", Claim: true, Incidents: true},
		IncidentAPI: "sentinel",
		DevOps: &config.DevOpsMirror{OrgURL: info.DevOpsURL + "/" + info.DevOpsOrg, Project: info.DevOpsProject,
			PAT: info.ClientSecret, HookUser: "vigil-hooks", HookPassword: hookPassword},
	}
	return s
}

// subscribeHook creates the simulator's workitem.updated subscription, as
// an admin does in Azure DevOps' project settings.
func subscribeHook(ctx context.Context, srv *simulator.Server, url, user, password string) error {
	body, _ := json.Marshal(map[string]string{"url": url, "username": user, "password": password, "eventType": "workitem.updated"})
	req, err := http.NewRequestWithContext(ctx, "POST", srv.URL+"/sim/v1/devops/hooks", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := srv.Client().Do(req)
	if err != nil {
		return fmt.Errorf("subscribe Azure Boards hook: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		b, _ := io.ReadAll(res.Body)
		return fmt.Errorf("subscribe Azure Boards hook: %s: %s", res.Status, b)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// DemoEmail is the demo's admin user.
const DemoEmail = "admin@vigil.demo"

// demoUser creates the demo's admin user with a fresh password and says
// how to sign in; with kept data, the user from an earlier run stays.
func demoUser(ctx context.Context, a *App) (string, error) {
	password := randomHex(8)
	hash, err := auth.HashPassword(password)
	if err != nil {
		return "", err
	}
	if _, err := a.DB.AddUser(ctx, DemoEmail, auth.RoleAdmin, hash); err != nil {
		if _, gerr := a.DB.UserByEmail(ctx, DemoEmail); gerr == nil {
			return "sign in as " + DemoEmail + " with the password of the earlier run", nil
		}
		return "", fmt.Errorf("demo user: %w", err)
	}
	return "sign in as " + DemoEmail + " with password " + password, nil
}

// demoSignIn points single sign-on at the simulated Entra ID, whose
// account picker signs in its users: an analyst (responder), a SOC lead
// (admin) and an auditor (viewer), by their app roles.
func demoSignIn(sim *simulator.Simulator, info simulator.Info, cfg *config.Config, caFile string) (config.OIDC, error) {
	// The redirect URL names vigil's port, so it must be known now.
	if strings.HasSuffix(cfg.Listen, ":0") {
		l, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return config.OIDC{}, fmt.Errorf("demo listen: %w", err)
		}
		cfg.Listen = l.Addr().String()
		l.Close()
	}
	redirect := "http://" + cfg.Listen + "/login/sso/callback"
	if err := sim.AddRedirectURI(redirect); err != nil {
		return config.OIDC{}, err
	}
	sim.AddUser("soc.lead@contoso.com", "Sam SOC Lead", "vigil.admin")
	sim.AddUser("auditor@contoso.com", "Avery Auditor", "vigil.viewer")
	return config.OIDC{Issuer: sim.Issuer(), ClientID: info.ClientID, ClientSecret: info.ClientSecret,
		RedirectURL: redirect, CAFile: caFile}, nil
}

// demoRecommendations gives the simulated subscription a few unhealthy
// assessments, as a new subscription has: two recommendations, one on
// two machines.
func demoRecommendations(sim *simulator.Simulator, info simulator.Info) error {
	rg := "/subscriptions/" + info.SubscriptionID + "/resourceGroups/" + info.ResourceGroup + "/providers/"
	for _, a := range []simulator.Assessment{
		{DisplayName: "Machines should have vulnerability findings resolved", Severity: "High",
			ResourceID: rg + "Microsoft.Compute/virtualMachines/vm-web-01"},
		{DisplayName: "Machines should have vulnerability findings resolved", Severity: "High",
			ResourceID: rg + "Microsoft.Compute/virtualMachines/vm-db-01"},
		{DisplayName: "Storage accounts should restrict network access using virtual network rules", Severity: "Medium",
			ResourceID: rg + "Microsoft.Storage/storageAccounts/stvigildemo"},
	} {
		if _, err := sim.RaiseAssessment(a); err != nil {
			return fmt.Errorf("demo recommendations: %w", err)
		}
	}
	return nil
}
