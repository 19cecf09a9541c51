// Package web serves vigil's HTTP API, the inbound webhooks that existing
// senders (Alertmanager, PagerDuty Events v2, Azure Monitor) can point at
// unchanged, health checks and Prometheus metrics.
package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/alertmanager"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/twoway"
	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// Ingester stores alerts durably.
type Ingester interface {
	Submit(ctx context.Context, actor string, alerts []alert.Alert) ([]store.IngestResult, error)
	// SetStatus changes a known alert's status at its sender's word.
	SetStatus(ctx context.Context, source, sourceID string, status alert.Status, actor, why string) (bool, error)
}

// Incidents stores and reads incidents.
type Incidents interface {
	UpsertIncident(ctx context.Context, proc *workitem.Process, actor string, in alert.Incident) (store.IncidentResult, error)
	GetIncident(ctx context.Context, id int64) (alert.Incident, error)
	ListIncidents(ctx context.Context, source string, after int64, limit int) ([]alert.Incident, error)
	IncidentVersions(ctx context.Context, id int64) ([]store.IncidentVersion, error)
}

// Store is what the handlers read directly.
type Store interface {
	ListAlerts(ctx context.Context, f store.AlertFilter) ([]alert.Alert, error)
	GetAlert(ctx context.Context, id int64) (alert.Alert, error)
	AlertVersions(ctx context.Context, id int64) ([]alert.Version, error)
	TokenByHash(ctx context.Context, hash string) (store.Token, error)
	ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error)
	IntegrationKeyByHash(ctx context.Context, hash string) (store.IntegrationKey, error)
	TouchIntegrationKey(ctx context.Context, id int64, at time.Time) error
	Ping(ctx context.Context) error

	// The outbox of writes to external systems.
	ListOutbox(ctx context.Context, state string, itemID, after int64, limit int) ([]outbox.Message, error)
	GetOutbox(ctx context.Context, id int64) (outbox.Message, error)
	RetryOutboxNow(ctx context.Context, id int64) error
	OutboxStats(ctx context.Context) ([]store.OutboxStat, error)
}

// Options configures the server.
type Options struct {
	Ingest    Ingester
	Store     Store
	Incidents Incidents
	Items     *workitem.Service
	Logger    *slog.Logger
	Clock     clock.Clock
	Registry  *prometheus.Registry
	// MaxBody caps request bodies that carry alerts; other bodies are
	// capped at 1 MiB.
	MaxBody int64
	Version string
	// Boards receives Azure Boards service hooks; nil when no mirror is configured.
	Boards BoardsHook
	// Jira receives Jira's signed webhooks; nil when no Jira mirror has a
	// webhook secret (the route answers 404).
	Jira JiraHook
	// UI adds the web interface's routes; nil serves the API alone.
	UI Pages
	// Connectors reports the sync modules' health; nil when sync is off.
	Connectors func() []twoway.Status
	// Keys manages integration keys for admins; nil answers 404.
	Keys KeyAdmin
	// Rules manages automation rules; nil answers 404.
	Rules RuleAdmin
	// Pager is on-call; nil answers 404.
	Pager Pager
	// Enricher runs enrichment; nil answers 404.
	Enricher Enricher
	// Intel is threat intelligence's indicators, feeds and entity
	// profiles; nil answers 404.
	Intel ThreatIntel
	// FeedInterval is how often feeds run, for feed health's staleness.
	FeedInterval time.Duration
	// Silences are Alertmanager's silences, kept as rules; with
	// LabelledAlerts they serve Alertmanager's API v2 (nil answers 404).
	Silences Silencer
	// Reports computes the reports (GET /api/v1/reports/{name}).
	Reports        Reports
	LabelledAlerts LabelledAlerts
	// Twilio verifies Twilio's requests; no auth token answers 404.
	Twilio TwilioHooks
	// Slack verifies Slack's interactivity requests; no signing secret
	// answers 404.
	Slack SlackHooks
	// Proxies finds the client's address behind trusted reverse proxies,
	// for the audit log; nil: the peer.
	Proxies *auth.Proxies
}

// KeyAdmin creates, lists and revokes integration keys, checking that
// the actor is an admin.
type KeyAdmin interface {
	IntegrationKeys(ctx context.Context, actor auth.Actor) ([]store.IntegrationKey, error)
	CreateIntegrationKey(ctx context.Context, actor auth.Actor, name, source string) (string, store.IntegrationKey, error)
	RevokeIntegrationKey(ctx context.Context, actor auth.Actor, id int64) error
}

// Pages is a set of routes served beside the API (the web interface).
type Pages interface {
	Register(mux Mux)
}

// Server is vigil's HTTP server.
type Server struct {
	ingest    Ingester
	store     Store
	incidents Incidents
	items     *workitem.Service
	log       *slog.Logger
	clock     clock.Clock
	maxBody   int64
	version   string
	boards    BoardsHook
	jira      JiraHook
	ui        Pages
	health    func() []twoway.Status
	keys      KeyAdmin
	rules     RuleAdmin
	reports   Reports
	pager     Pager
	twilio    TwilioHooks
	enricher  Enricher
	intel     ThreatIntel
	// feedInterval is how often threat-intelligence feeds run.
	feedInterval time.Duration
	silences     Silencer
	labelled     LabelledAlerts
	started      time.Time
	slack        SlackHooks
	proxies      *auth.Proxies
	mux          *http.ServeMux
	patterns     []string // every pattern registered on mux, for Routes
	handler      http.Handler

	tokens   sync.Map // hash → cachedToken
	touched  sync.Map // integration key id → time.Time of the last recorded use
	warned   sync.Map // warnKey → time.Time of the last deprecation warning
	duration *prometheus.HistogramVec
}

type cachedToken struct {
	actor   auth.Actor
	expires time.Time
}

// tokenTTL bounds how long a revoked token keeps working through the cache.
const tokenTTL = 10 * time.Second

const smallBody = 1 << 20

// New returns a server with all routes registered.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 10 << 20
	}
	s := &Server{
		ingest: o.Ingest, store: o.Store, incidents: o.Incidents, items: o.Items, log: o.Logger.With("component", "web"),
		clock: o.Clock, maxBody: o.MaxBody, version: o.Version, boards: o.Boards, ui: o.UI, health: o.Connectors, keys: o.Keys, rules: o.Rules, pager: o.Pager, proxies: o.Proxies, twilio: o.Twilio, slack: o.Slack, enricher: o.Enricher, intel: o.Intel, feedInterval: o.FeedInterval, silences: o.Silences, labelled: o.LabelledAlerts, reports: o.Reports, started: o.Clock.Now(), mux: http.NewServeMux(),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "vigil_http_request_duration_seconds", Help: "HTTP request latency by route and status code.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 15),
		}, []string{"route", "code"}),
	}
	s.jira = o.Jira
	reg := o.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	reg.MustRegister(s.duration)
	s.routes(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	s.handler = s.recoverer(s.instrument(s.mux))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// route is one API operation; the OpenAPI test walks this table.
type route struct {
	method, path string
	action       auth.Action // "" for unauthenticated routes
	handler      http.HandlerFunc
}

func (s *Server) table(metrics http.Handler) []route {
	return []route{
		{"GET", "/healthz", "", s.healthz},
		{"GET", "/readyz", "", s.readyz},
		{"GET", "/metrics", "", metrics.ServeHTTP},
		{"GET", "/api/v1/openapi.json", "", s.openapi},

		{"POST", "/api/v1/alerts", auth.ActionIngest, s.postAlerts},
		{"GET", "/api/v1/alerts", auth.ActionRead, s.listAlerts},
		{"GET", "/api/v1/alerts/{id}", auth.ActionRead, s.getAlert},
		{"GET", "/api/v1/alerts/{id}/versions", auth.ActionRead, s.alertVersions},

		{"POST", "/api/v1/incidents", auth.ActionIngest, s.postIncident},
		{"GET", "/api/v1/incidents", auth.ActionRead, s.listIncidents},
		{"GET", "/api/v1/incidents/{id}", auth.ActionRead, s.getIncident},
		{"GET", "/api/v1/incidents/{id}/versions", auth.ActionRead, s.incidentVersions},

		{"GET", "/api/v1/workitems", auth.ActionRead, s.listWorkItems},
		{"GET", "/api/v1/workitems/{id}", auth.ActionRead, s.getWorkItem},
		{"PATCH", "/api/v1/workitems/{id}", auth.ActionTriage, s.patchWorkItem},
		{"POST", "/api/v1/workitems/{id}/transitions", auth.ActionTriage, s.transition},
		{"GET", "/api/v1/workitems/{id}/timeline", auth.ActionRead, s.timeline},
		{"GET", "/api/v1/workitems/{id}/comments", auth.ActionRead, s.listComments},
		{"POST", "/api/v1/workitems/{id}/comments", auth.ActionTriage, s.addComment},
		{"GET", "/api/v1/workitems/{id}/tasks", auth.ActionRead, s.listTasks},
		{"POST", "/api/v1/workitems/{id}/tasks", auth.ActionTriage, s.addTask},
		{"PATCH", "/api/v1/workitems/{id}/tasks/{task}", auth.ActionTriage, s.patchTask},
		{"GET", "/api/v1/workitems/{id}/outbox", auth.ActionRead, s.itemOutbox},
		{"GET", "/api/v1/process", auth.ActionRead, s.process},

		{"GET", "/api/v1/outbox", auth.ActionRead, s.listOutbox},
		{"GET", "/api/v1/outbox/{id}", auth.ActionRead, s.getOutbox},
		{"POST", "/api/v1/outbox/{id}/retry", auth.ActionTriage, s.retryOutbox},
		{"GET", "/api/v1/connectors", auth.ActionRead, s.connectors},

		// Inbound compatibility.
		{"POST", "/api/v2/alerts", auth.ActionIngest, s.alertmanager},
		// Alertmanager's API v2 as amtool uses it; errors in its shape.
		{"GET", "/api/v2/alerts", auth.ActionRead, s.amGetAlerts},
		{"GET", "/api/v2/alerts/groups", auth.ActionRead, s.amGetGroups},
		{"GET", "/api/v2/silences", auth.ActionRead, s.amGetSilences},
		{"POST", "/api/v2/silences", auth.ActionTriage, s.amPostSilence},
		{"GET", "/api/v2/silence/{silenceID}", auth.ActionRead, s.amGetSilence},
		{"DELETE", "/api/v2/silence/{silenceID}", auth.ActionTriage, s.amDeleteSilence},
		{"GET", "/api/v2/status", auth.ActionRead, s.amStatus},
		{"GET", "/api/v2/receivers", auth.ActionRead, s.amReceivers},
		{"POST", "/v2/enqueue", "", s.pagerduty}, // the routing_key in the body is the credential
		{"POST", "/api/v1/webhooks/azure-monitor", auth.ActionIngest, s.azureMonitor},
		{"POST", AlertmanagerWebhookPath, auth.ActionIngest, s.alertmanagerWebhook},

		// Integration keys, for admins.
		{"GET", "/api/v1/integration-keys", auth.ActionAdmin, s.listKeys},
		{"POST", "/api/v1/integration-keys", auth.ActionAdmin, s.createKey},
		{"POST", "/api/v1/integration-keys/{id}/revoke", auth.ActionAdmin, s.revokeKey},
		{"GET", "/api/v1/audit", auth.ActionAdmin, s.listAudit},

		// Automation rules: read by all, changed by admins.
		{"GET", "/api/v1/rules", auth.ActionRead, s.listRules},
		{"POST", "/api/v1/rules", auth.ActionAdmin, s.saveRule},
		{"GET", "/api/v1/rules/vocabulary", auth.ActionRead, s.ruleVocabulary},
		{"POST", "/api/v1/rules/preview", auth.ActionRead, s.previewRule},
		{"GET", "/api/v1/rules/noise", auth.ActionRead, s.ruleNoise},
		// Reports: read by all.
		{"GET", "/api/v1/reports/{name}", auth.ActionRead, s.getReport},
		{"GET", "/api/v1/rules/{id}", auth.ActionRead, s.getRule},
		{"PUT", "/api/v1/rules/{id}", auth.ActionAdmin, s.saveRule},
		{"GET", "/api/v1/rules/{id}/versions", auth.ActionRead, s.ruleVersions},

		// On-call: definitions changed by admins; pages acted on by
		// responders; each person manages their own contact methods (the
		// service checks it is theirs).
		{"GET", "/api/v1/oncall/now", auth.ActionRead, s.onCallNow},
		{"POST", "/api/v1/heartbeats/{name}", auth.ActionIngest, s.beat},
		{"POST", "/api/v1/oncall/feeds", auth.ActionRead, s.createFeed},
		{"GET", "/api/v1/oncall/schedules/{name}/shifts", auth.ActionRead, s.scheduleShifts},
		{"GET", "/api/v1/oncall/{kind}", auth.ActionRead, s.listOnCall},
		{"GET", "/api/v1/oncall/{kind}/{name}", auth.ActionRead, s.getOnCall},
		{"PUT", "/api/v1/oncall/{kind}/{name}", auth.ActionAdmin, s.putOnCall},
		{"DELETE", "/api/v1/oncall/{kind}/{name}", auth.ActionAdmin, s.deleteOnCall},
		{"GET", "/api/v1/calendar/{token}", "", s.calendar}, // the secret path is the credential
		{"GET", "/api/v1/pages", auth.ActionRead, s.listPages},
		{"POST", "/api/v1/pages", auth.ActionTriage, s.createPage},
		{"GET", "/api/v1/pages/{id}", auth.ActionRead, s.getPage},
		{"POST", "/api/v1/pages/{id}/{action}", auth.ActionTriage, s.pageAction},
		{"GET", "/api/v1/users/{user}/contact-methods", auth.ActionRead, s.listContactMethods},
		{"POST", "/api/v1/users/{user}/contact-methods", auth.ActionRead, s.addContactMethod},
		{"POST", "/api/v1/contact-methods/{id}/verify", auth.ActionRead, s.verifyContactMethod},
		{"DELETE", "/api/v1/contact-methods/{id}", auth.ActionRead, s.deleteContactMethod},
		{"GET", "/api/v1/users/{user}/notification-rules", auth.ActionRead, s.getNotificationRules},
		{"PUT", "/api/v1/users/{user}/notification-rules", auth.ActionRead, s.putNotificationRules},
		{"POST", "/api/v1/contact-methods/{id}/test", auth.ActionRead, s.testContactMethod},
		{"POST", "/api/v1/workitems/{id}/enrich", auth.ActionTriage, s.enrichItem},
		{"GET", "/api/v1/workitems/{id}/enrichments", auth.ActionRead, s.itemEnrichments},
		// Threat intelligence: read by all; indicators expired or
		// allow-listed by responders (the service checks, and audits).
		{"GET", "/api/v1/indicators", auth.ActionRead, s.listIndicators},
		{"GET", "/api/v1/indicators/lookup", auth.ActionRead, s.getIndicator},
		{"POST", "/api/v1/indicators/{action}", auth.ActionTriage, s.indicatorAction},
		{"GET", "/api/v1/intel/feeds", auth.ActionRead, s.intelFeeds},
		{"GET", "/api/v1/entities", auth.ActionRead, s.entity},
		{"GET", "/api/v1/users/{user}/notifications", auth.ActionRead, s.userNotifications},
		{"GET", "/api/v1/pages/{id}/notifications", auth.ActionRead, s.pageNotifications},
		// A notification's acknowledgement link: its signed token is the
		// credential; GET shows, POST acts.
		{"GET", "/ack/{token}", "", s.ackLink},
		{"POST", "/ack/{token}", "", s.ackLink},

		// Callbacks from mirrored trackers; each authenticates its own way.
		{"POST", "/api/v1/hooks/devops", "", s.devopsHook},
		{"POST", JiraWebhookPath, "", s.jiraHook}, // the X-Hub-Signature is the credential
		// Replies and callbacks of notification channels, each verified
		// with the provider's own signature.
		{"POST", TwilioSMSPath, "", s.twilioSMS},
		{"POST", TwilioStatusPath, "", s.twilioStatus},
		{"POST", TwilioVoicePath, "", s.twilioVoice},
		{"POST", SlackInteractivityPath, "", s.slackInteractivity},

		// Profiling, for admins only: how to find where a slow server spends its time.
		{"GET", "/debug/pprof/", auth.ActionAdmin, pprof.Index},
		{"GET", "/debug/pprof/profile", auth.ActionAdmin, pprof.Profile},
		{"GET", "/debug/pprof/trace", auth.ActionAdmin, pprof.Trace},
		{"GET", "/debug/pprof/{name}", auth.ActionAdmin, pprof.Index},
	}
}

func (s *Server) routes(metrics http.Handler) {
	for _, rt := range s.table(metrics) {
		h := rt.handler
		if rt.action != "" {
			h = s.authenticate(rt.action, rt.path, h)
		}
		recorder{s}.HandleFunc(rt.method+" "+rt.path, h)
	}
	if s.ui != nil {
		s.ui.Register(recorder{s})
	}
	// Unknown /api/ paths answer JSON, not the mux's text 404; a known
	// path with the wrong method answers 405 with the methods it has.
	methods := map[string]bool{}
	for _, rt := range s.table(metrics) {
		methods[rt.method] = true
	}
	recorder{s}.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{"GET", "POST", "PATCH", "PUT", "DELETE"} {
			if !methods[m] || m == r.Method {
				continue
			}
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := s.mux.Handler(probe); pattern != "/api/" && pattern != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed",
				r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+strings.Join(allow, ", "), nil)
			return
		}
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path, nil)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.version})
}

// readyz reports whether the database answers; a load balancer stops
// sending traffic when it does not.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("readiness check failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "database unreachable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// keyRoutes says which integration keys each ingest route takes: a key
// made for a source posts to that source's routes and nowhere else.
var keyRoutes = map[string]string{
	"/api/v2/alerts":                 auth.SourceAlertmanager,
	AlertmanagerWebhookPath:          auth.SourceAlertmanager,
	"/v2/enqueue":                    auth.SourcePagerDuty,
	"/api/v1/webhooks/azure-monitor": auth.SourceAzureMonitor,
	"/api/v1/alerts":                 auth.SourceAPI,
	"/api/v1/incidents":              auth.SourceAPI,
}

// authenticate resolves the Bearer token or integration key to an actor
// and checks that its role allows action on path. The domain services
// check again; this only turns a missing or wrong credential into 401
// before any work is done.
func (s *Server) authenticate(action auth.Action, path string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, inQuery := bearer(r), false
		if token == "" && path == "/api/v1/webhooks/azure-monitor" {
			// Azure Monitor action groups cannot send headers, so this one
			// endpoint also takes the credential in the query string.
			token, inQuery = r.URL.Query().Get("token"), true
		}
		if token == "" && path == AlertmanagerWebhookPath {
			// A webhook URL is often all a sender's form has room for
			// (Grafana's contact point, an Alertmanager without
			// http_config): the key may come as ?key=.
			token, inQuery = r.URL.Query().Get("key"), true
		}
		actor, ok := s.actorFor(r.Context(), token)
		if ok && actor.Kind == "key" && (action != auth.ActionIngest || keyRoutes[path] != actor.Source) {
			// An integration key is no credential outside its own ingest
			// route: it cannot read, and it cannot post as another sender.
			w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
			msg := "an integration key for " + actor.Source + " only posts alerts to " + keyEndpoint(actor.Source) + "; use an API token here"
			s.authError(w, path, http.StatusUnauthorized, msg)
			return
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
			s.authError(w, path, http.StatusUnauthorized, "a valid API token or integration key is required (Authorization: Bearer TOKEN)")
			return
		}
		if inQuery {
			s.deprecated(actor, "the credential in a webhook URL")
		}
		if err := actor.Check(action); err != nil {
			if strings.HasPrefix(path, "/api/v2/") {
				alertmanager.WriteError(w, http.StatusForbidden, err.Error())
				return
			}
			s.fail(w, r, err)
			return
		}
		next(w, r.WithContext(auth.WithClientIP(auth.WithActor(r.Context(), actor), s.proxies.ClientIP(r))))
	}
}

// authError answers a refused credential: on Alertmanager's API v2 in its
// shape (a JSON string, which amtool shows), elsewhere in vigil's.
func (s *Server) authError(w http.ResponseWriter, path string, status int, msg string) {
	if strings.HasPrefix(path, "/api/v2/") {
		alertmanager.WriteError(w, status, msg)
		return
	}
	writeError(w, status, "unauthorized", msg, nil)
}

// keyEndpoint names the routes a key of source posts to, for messages.
func keyEndpoint(source string) string {
	var paths []string
	for p, src := range keyRoutes {
		if src == source {
			paths = append(paths, "POST "+p)
		}
	}
	slices.Sort(paths)
	return strings.Join(paths, " and ")
}

// deprecationEvery is how often one API token used where an integration
// key belongs is logged again.
const deprecationEvery = time.Hour

// warnKey is one token used in one deprecated place.
type warnKey struct {
	id    int64
	where string
}

// deprecated warns that an API token was used as a sender's credential
// (a PagerDuty routing_key, an Azure Monitor token=): it works for now,
// but the sender's configuration holds a token that can do far more than
// ingest. The warning names the token, never its secret.
func (s *Server) deprecated(actor auth.Actor, where string) {
	if actor.Kind != "token" {
		return
	}
	now := s.clock.Now()
	key := warnKey{actor.ID, where}
	if v, ok := s.warned.Load(key); ok && now.Sub(v.(time.Time)) < deprecationEvery {
		return
	}
	s.warned.Store(key, now)
	s.log.Warn("deprecated: an API token is used as "+where+"; create an integration key for this sender and revoke the token from its configuration",
		"token_id", actor.ID, "token", actor.Name)
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// actorFor looks a token or integration key up, through a short-lived
// cache: every ingest request authenticates, and the lookup should not
// cost a query each time.
func (s *Server) actorFor(ctx context.Context, secret string) (auth.Actor, bool) {
	if secret == "" {
		return auth.Actor{}, false
	}
	hash := auth.HashToken(secret)
	now := s.clock.Now()
	if v, ok := s.tokens.Load(hash); ok {
		c := v.(cachedToken)
		if now.Before(c.expires) {
			return c.actor, true
		}
		s.tokens.Delete(hash)
	}
	var actor auth.Actor
	var err error
	if auth.IsIntegrationKey(secret) {
		var k store.IntegrationKey
		if k, err = s.store.IntegrationKeyByHash(ctx, hash); err == nil {
			actor = auth.Actor{Kind: "key", ID: k.ID, Name: k.Name, Role: auth.RoleIntegration, Source: k.Source}
			s.touchKey(ctx, k.ID, now)
		}
	} else {
		var t store.Token
		if t, err = s.store.TokenByHash(ctx, hash); err == nil {
			actor = auth.Actor{Kind: "token", ID: t.ID, Name: t.Name, Role: t.Role}
		}
	}
	if err != nil {
		if !errors.Is(err, validation.ErrNotFound) {
			s.log.Error("credential lookup failed", "err", err)
		}
		return auth.Actor{}, false
	}
	s.tokens.Store(hash, cachedToken{actor: actor, expires: now.Add(tokenTTL)})
	return actor, true
}

// keyTouchEvery bounds how often a key's last use is written: the admin
// page shows it to the minute, and a busy sender must not cost a write
// per request.
const keyTouchEvery = time.Minute

func (s *Server) touchKey(ctx context.Context, id int64, now time.Time) {
	if v, ok := s.touched.Load(id); ok && now.Sub(v.(time.Time)) < keyTouchEvery {
		return
	}
	s.touched.Store(id, now)
	if err := s.store.TouchIntegrationKey(ctx, id, now); err != nil {
		s.log.Warn("could not record an integration key's use", "key_id", id, "err", err)
	}
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument records latency per route pattern (not per raw path, which
// would explode the label space).
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		s.duration.WithLabelValues(route, strconv.Itoa(sw.code)).Observe(time.Since(start).Seconds())
	})
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				writeError(w, http.StatusInternalServerError, "internal", "internal error", nil)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
