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
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vigil-soc/vigil/internal/alert"
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
	// UI adds the web interface's routes; nil serves the API alone.
	UI Pages
	// Connectors reports the sync modules' health; nil when sync is off.
	Connectors func() []twoway.Status
}

// Pages is a set of routes served beside the API (the web interface).
type Pages interface {
	Register(mux *http.ServeMux)
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
	ui        Pages
	health    func() []twoway.Status
	mux       *http.ServeMux
	handler   http.Handler

	tokens   sync.Map // hash → cachedToken
	duration *prometheus.HistogramVec
}

type cachedToken struct {
	tok     store.Token
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
		clock: o.Clock, maxBody: o.MaxBody, version: o.Version, boards: o.Boards, ui: o.UI, health: o.Connectors, mux: http.NewServeMux(),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "vigil_http_request_duration_seconds", Help: "HTTP request latency by route and status code.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 15),
		}, []string{"route", "code"}),
	}
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
		{"POST", "/v2/enqueue", "", s.pagerduty}, // the routing_key in the body is the credential
		{"POST", "/api/v1/webhooks/azure-monitor", auth.ActionIngest, s.azureMonitor},

		// Callbacks from mirrored trackers; each authenticates its own way.
		{"POST", "/api/v1/hooks/devops", "", s.devopsHook},

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
			h = s.authenticate(rt.action, h)
		}
		s.mux.HandleFunc(rt.method+" "+rt.path, h)
	}
	if s.ui != nil {
		s.ui.Register(s.mux)
	}
	// Unknown /api/ paths answer JSON, not the mux's text 404; a known
	// path with the wrong method answers 405 with the methods it has.
	methods := map[string]bool{}
	for _, rt := range s.table(metrics) {
		methods[rt.method] = true
	}
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
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

// authenticate resolves the Bearer token to an actor and checks that its
// role allows action. The domain services check again; this only turns
// a missing or wrong credential into 401 before any work is done.
func (s *Server) authenticate(action auth.Action, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := bearer(r)
		if token == "" && r.URL.Path == "/api/v1/webhooks/azure-monitor" {
			// Azure Monitor action groups cannot send headers, so this one
			// endpoint also takes the token in the query string.
			token = r.URL.Query().Get("token")
		}
		actor, ok := s.actorFor(r.Context(), token)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "a valid API token is required (Authorization: Bearer TOKEN)", nil)
			return
		}
		if err := actor.Check(action); err != nil {
			s.fail(w, r, err)
			return
		}
		next(w, r.WithContext(auth.WithActor(r.Context(), actor)))
	}
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// actorFor looks a token up, through a short-lived cache: every ingest
// request authenticates, and the lookup should not cost a query each time.
func (s *Server) actorFor(ctx context.Context, token string) (auth.Actor, bool) {
	if token == "" {
		return auth.Actor{}, false
	}
	hash := auth.HashToken(token)
	now := s.clock.Now()
	if v, ok := s.tokens.Load(hash); ok {
		c := v.(cachedToken)
		if now.Before(c.expires) {
			return tokenActor(c.tok), true
		}
		s.tokens.Delete(hash)
	}
	tok, err := s.store.TokenByHash(ctx, hash)
	if err != nil {
		if !errors.Is(err, validation.ErrNotFound) {
			s.log.Error("token lookup failed", "err", err)
		}
		return auth.Actor{}, false
	}
	s.tokens.Store(hash, cachedToken{tok: tok, expires: now.Add(tokenTTL)})
	return tokenActor(tok), true
}

func tokenActor(t store.Token) auth.Actor {
	return auth.Actor{Kind: "token", ID: t.ID, Name: t.Name, Role: t.Role}
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
