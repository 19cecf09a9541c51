// Package app wires vigil's parts together and owns their lifecycle.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/vigil-soc/vigil/internal/account"
	"github.com/vigil-soc/vigil/internal/amconfig"
	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/engine"
	"github.com/vigil-soc/vigil/internal/enrichment"
	"github.com/vigil-soc/vigil/internal/ingest"
	"github.com/vigil-soc/vigil/internal/inhibit"
	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/paging"
	"github.com/vigil-soc/vigil/internal/report"
	"github.com/vigil-soc/vigil/internal/rules"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/summary"
	"github.com/vigil-soc/vigil/internal/threatintel"
	"github.com/vigil-soc/vigil/internal/twoway"
	"github.com/vigil-soc/vigil/internal/ui"
	"github.com/vigil-soc/vigil/internal/web"
	"github.com/vigil-soc/vigil/internal/workitem"
	"github.com/vigil-soc/vigil/internal/writeback"
)

// Version is set at build time with -ldflags "-X …/app.Version=…".
var Version = "dev"

// App is a running vigil server.
type App struct {
	cfg      config.Config
	log      *slog.Logger
	clock    clock.Clock
	DB       *store.DB
	Pipeline *ingest.Pipeline
	// Rules manages automation rules and installs them for the ingest.
	Rules *rules.Service
	// Pager is on-call: schedules, escalation policies, services, pages.
	Pager *paging.Pager
	// Intel is threat intelligence: indicators, feeds, matching.
	Intel *threatintel.Service
	// Reports computes the reports; reportModule keeps their facts.
	Reports      *report.Service
	reportModule *report.Module
	// summaries queues the weekly summary emails; nil when none is
	// configured.
	summaries *summary.Module
	// intelFeeds is how many feeds are configured.
	intelFeeds int
	// intelOut are the modules that upload indicators to Sentinel and
	// hunt its telemetry, when configured.
	intelOut intelOutputs
	poker    *enginePoker
	Items    *workitem.Service
	Accounts *account.Service
	UI       *ui.UI
	// Targets are the connectors that write back, by outbox target name;
	// fill it before Run.
	Targets map[string]outbox.Target
	sender  *outbox.Sender
	sync    *syncParts
	// engineHealth records the engine's own modules (outbox, sync,
	// sessions); metrics exports every pass, sync's modules' too.
	engineHealth *engine.Health
	metrics      *engine.Metrics
	server       *http.Server
	listener     net.Listener
	// reg is the registry /metrics serves.
	reg *prometheus.Registry
}

// NewLogger builds the process logger from the configuration.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// OpenStore opens the configured database and runs migrations.
func OpenStore(ctx context.Context, cfg config.Config, log *slog.Logger, clk clock.Clock) (*store.DB, error) {
	db, err := store.Open(ctx, store.Options{DSN: cfg.DatabaseDSN, DataDir: cfg.Data,
		Synchronous: cfg.SQLiteSynchronous, Logger: log, Clock: clk})
	if err != nil {
		return nil, fmt.Errorf("open database (%s): %w", config.RedactDSN(cfg.DatabaseDSN), err)
	}
	return db, nil
}

// LoadProcess returns the configured work-item process.
func LoadProcess(cfg config.Config) (*workitem.Process, error) {
	if cfg.ProcessFile == "" {
		return workitem.DefaultProcess(), nil
	}
	return workitem.LoadProcess(cfg.ProcessFile)
}

// New opens the store and builds the server; it listens once Start is called.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, clk clock.Clock) (*App, error) {
	if clk == nil {
		clk = clock.Real{}
	}
	proc, err := LoadProcess(cfg)
	if err != nil {
		return nil, err
	}
	db, err := OpenStore(ctx, cfg, log, clk)
	if err != nil {
		return nil, err
	}
	recordConfig(ctx, db, cfg, log)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ops := newOpsMetrics(reg, proc, clk, log)
	writers := 1
	if db.Dialect() == store.Postgres {
		writers = 4
	}
	// Alertmanager's inhibit rules: a stage before the store, and an
	// observer that explains each inhibition.
	var inhibitRules []amconfig.InhibitRule
	for _, r := range cfg.Alertmanager.InhibitRules {
		inhibitRules = append(inhibitRules, r.Parsed)
	}
	inhibition := inhibit.New(inhibitRules, db, clk.Now, log)
	if err := inhibition.Load(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("inhibit rules: %w", err)
	}
	pipe := ingest.New(db, proc, ingest.Options{Writers: writers, Logger: log, Registry: reg}, inhibition)
	follow := &followerRef{}
	sy, err := buildSync(cfg.Sync, db, pipe, proc, follow, log, clk)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sync: %w", err)
	}
	planner := writeback.New(db).With(sy.planners...).WithOwners(sentinelOwners{db: db, emails: cfg.Paging.SentinelOwners}).
		WithIncidentAPI(cfg.Sync.IncidentAPI)
	var plan workitem.Planner = planner
	if g := cfg.Sync.Governance; g != nil && g.Enabled {
		plan = twoway.NewGovernancePlanner(planner, db, twoway.GovernanceOptions{
			DefaultDue: g.DefaultDue, GracePeriod: g.GracePeriod, Notify: g.Notify, Clock: clk})
	}
	items := workitem.NewService(db, proc, clk).WithPlanner(plan)
	follow.svc = items
	follower := &sourceFollower{items: items, log: log.With("component", "source-follower")}
	pipe.React(follower)
	targets := map[string]outbox.Target{}
	for name, t := range sy.targets {
		targets[name] = t
	}
	// What a rule's hit leaves for after commit: the write-backs of a
	// close at creation, playbooks and pages.
	ruleTarget := rules.NewTarget(db, planner)
	targets[automation.Target] = ruleTarget
	accounts := account.New(db, clk, accountOptions(cfg.Login, log))
	proxies, err := trustedProxies(cfg)
	if err != nil {
		db.Close()
		return nil, err
	}
	uo := ui.Options{Items: items, Accounts: accounts, Records: db, Proxies: proxies, Notify: db.ListenChanges,
		ReasonPresets: writeback.ReasonPresets(), SecureCookies: cfg.SecureCookies, Clock: clk, Logger: log, Version: Version}
	metrics := engine.NewMetrics(reg)
	sy.health.Export(metrics)
	engineHealth := engine.NewHealth(clk)
	var self *App // the connector page's list reads the app built below
	if len(sy.modules) > 0 {
		// The connector-health page lists the sync modules, then the
		// engine's own (the sync pass as a whole, the outbox, sessions).
		uo.Connectors = func() []twoway.Status { return self.connectors() }
	}
	if cfg.OIDC.Enabled() {
		s, err := newSingleSignOn(cfg.OIDC, clk)
		if s != nil {
			s.objectIDs = db
		}
		if err != nil {
			db.Close()
			return nil, err
		}
		uo.SSO, uo.SSOName = s, "Microsoft Entra ID"
	}
	ruleSvc := rules.New(db, proc, clk, log)
	// Update triggers: rules hear the items service's committed changes
	// and act through it.
	ruleSvc.Act(items, db)
	db.ObserveIncidents(ruleSvc)
	follower.rules = ruleSvc
	// On-call: pages follow their items (a closed item resolves its page),
	// routing pages new items, and a rule's page action pages a service.
	poker := &enginePoker{}
	pager := paging.New(db, items, paging.Options{BaseURL: baseURL(cfg), Clock: clk, Logger: log, Poke: poker.poke("outbox"),
		Health: func() []paging.Health { return connectorHealth(self.connectors(), clk.Now()) }, SelfService: cfg.Paging.SelfService,
		ConnectorFailure: time.Duration(cfg.Paging.ConnectorFailureMinutes) * time.Minute, Registry: reg, Notifications: ops.notifications})
	// Every committed change may have queued write-backs (an owner for
	// Sentinel, a state for Boards): the outbox sender is woken at once
	// rather than at its next tick.
	items.Observe(observers{ruleSvc, pager, ops.times, pokeOnChange(poker.poke("outbox"))})
	db.ObserveIncidents(pager)
	follower.pager = pager
	ruleTarget.Use(pager)
	nt, err := notifyTarget(cfg.Paging, baseURL(cfg), pager, db, clk, log)
	if err != nil {
		db.Close()
		return nil, err
	}
	targets[notify.TargetName] = nt.Count(ops.notifications)
	// Enrichment: by hand, and as a rule's playbook action.
	providers, ttls, err := enrichProviders(cfg.Enrichment, db, clk)
	if err != nil {
		db.Close()
		return nil, err
	}
	enricher := enrichment.New(db, items, providers, enrichment.Options{Clock: clk, Logger: log, TTL: cfg.Enrichment.CacheTTL, TTLs: ttls, Poke: poker.poke("outbox")})
	targets[enrichment.Target] = enricher
	ruleTarget.Use(enricher)
	// Threat intelligence: feeds, the matcher on every ingest, retro-hunts.
	tiFeeds, err := intelFeeds(cfg.ThreatIntel, clk)
	if err != nil {
		db.Close()
		return nil, err
	}
	ti := threatintel.New(db, items, tiFeeds, clk, log)
	ti.OpenItems(pipe, cfg.ThreatIntel.RetroHunt)
	if err := ti.Load(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("threat intelligence: %w", err)
	}
	follower.intel = ti
	if len(inhibitRules) > 0 {
		follower.inhibit = inhibition
	}
	targets[threatintel.Target] = ti
	intelOut, err := buildIntelOutputs(cfg, db, ti, clk, log)
	if err != nil {
		db.Close()
		return nil, err
	}
	for name, t := range intelOut.targets {
		targets[name] = t
	}
	// Rules read ti.* through the matcher. (One matcher per process: the
	// last app built wins, which only tests ever do twice.)
	automation.ThreatIntel = ti.Facts
	if _, err := ruleSvc.Reload(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("automation rules: %w", err)
	}
	uo.Rules = ruleSvc
	uo.Pager = pager
	uo.Enricher = enricher
	uo.Intel = ti
	uo.IntelAdmin, uo.FeedInterval = ti, cfg.ThreatIntel.Interval
	uo.Silences = ruleSvc
	reports, reportModule := newReports(cfg.Reports, db, proc, report.Options{Clock: clk, Logger: log})
	uo.Reports = reports
	summaries, summaryTarget, err := newSummaries(cfg, db, reports, clk, log)
	if err != nil {
		db.Close()
		return nil, err
	}
	targets[summary.TargetName] = summaryTarget
	face, err := ui.New(uo)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("web interface: %w", err)
	}
	opts := web.Options{Rules: ruleSvc, Pager: pager, Ingest: pipe, Store: db, Incidents: db, Items: items, Logger: log, Clock: clk,
		Registry: reg, MaxBody: cfg.MaxBodyBytes, Version: Version, UI: face, Connectors: uo.Connectors, Keys: accounts, Proxies: proxies, Enricher: enricher,
		Intel: ti, FeedInterval: cfg.ThreatIntel.Interval, Silences: ruleSvc, LabelledAlerts: db, Reports: reports,
		Twilio: web.TwilioHooks{AuthToken: cfg.Paging.Twilio.AuthToken, AccountSID: cfg.Paging.Twilio.AccountSID, BaseURL: baseURL(cfg)},
		Slack:  web.SlackHooks{SigningSecret: cfg.Paging.Slack.SigningSecret}}
	if sy.boards != nil {
		opts.Boards = sy.boards
	}
	if sy.jira != nil {
		opts.Jira = sy.jira
	}
	srv := web.New(opts)
	a := &App{
		cfg: cfg, log: log, clock: clk, DB: db, Rules: ruleSvc, Pager: pager, Intel: ti, intelFeeds: len(tiFeeds), intelOut: intelOut, poker: poker, Pipeline: pipe, Items: items, Accounts: accounts, UI: face, sync: sy,
		Targets: targets, sender: outbox.NewSender(db, targets, clk, log), engineHealth: engineHealth, metrics: metrics,
		Reports: reports, reportModule: reportModule, summaries: summaries, reg: reg,
		server: &http.Server{
			Handler:           srv,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.With("component", "http").Handler(), slog.LevelWarn),
		},
	}
	self = a
	a.shareHealth()
	ops.collect(a)
	// Shutdown waits for responses to finish; live-update streams end
	// only when told to.
	a.server.RegisterOnShutdown(face.Close)
	return a, nil
}

// Listen binds the listen address; Addr is known afterwards.
func (a *App) Listen() error {
	l, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.cfg.Listen, err)
	}
	a.listener = l
	return nil
}

// Addr is the bound address (useful with port 0).
func (a *App) Addr() string { return a.listener.Addr().String() }

// Run serves until ctx is cancelled, then shuts down in order: stop taking
// requests and finish those in flight, let the ingest writers commit what
// is queued, close the database.
func (a *App) Run(ctx context.Context) error {
	if a.listener == nil {
		if err := a.Listen(); err != nil {
			return err
		}
	}
	pctx, stopPipeline := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { a.Pipeline.Run(pctx) })
	// Background work is the engine's: each module's pass is idempotent
	// and resumes from its cursor, so the engine stops with the request
	// context, and a write cut short is claimed again after its lease
	// and resent (sends are idempotent).
	eng := a.buildEngine()
	logRole(a.log, a.cfg.Role, eng)
	wg.Go(func() { eng.Run(ctx) })
	if a.cfg.Role == config.RoleEngine {
		a.server.Handler = engineOnly(a.server.Handler)
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- a.server.Serve(a.listener) }()
	a.log.Info("vigil listening", "addr", "http://"+a.Addr(), "version", Version, "config", a.cfg.String())

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	a.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if serr := a.server.Shutdown(sctx); serr != nil {
		a.log.Warn("http shutdown", "err", serr)
	}
	stopPipeline()
	wg.Wait()
	if cerr := a.DB.Close(); cerr != nil {
		a.log.Warn("close database", "err", cerr)
	}
	return err
}

// URL is the base URL clients use.
func (a *App) URL() string {
	addr := a.Addr()
	if strings.HasPrefix(addr, "[::]") || strings.HasPrefix(addr, "0.0.0.0") {
		_, port, _ := net.SplitHostPort(addr)
		addr = "127.0.0.1:" + port
	}
	return "http://" + addr
}
