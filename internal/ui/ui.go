// Package ui is vigil's web interface: the board, the triage queue, the
// item page and the admin pages, rendered on the server with html/template
// and enhanced with a little JavaScript (htmx, Sortable and app.js, all
// embedded, so the binary needs no build step and no npm).
//
// Every change goes through the domain services (workitem.Service,
// account.Service), which check the signed-in user's role themselves: the
// UI hides what a role may not do, but hiding is not the protection.
package ui

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/account"
	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/twoway"
	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Accounts signs users in and manages users and API tokens.
type Accounts interface {
	SignIn(ctx context.Context, email, password string, m account.Meta) (string, store.Session, error)
	IssueDevice(ctx context.Context, email string) (string, error)
	SignInExternal(ctx context.Context, id account.Identity, m account.Meta) (string, store.Session, error)
	Session(ctx context.Context, token string) (store.Session, auth.Actor, error)
	SignOut(ctx context.Context, token string) error
	Users(ctx context.Context, actor auth.Actor) ([]store.User, error)
	AddUser(ctx context.Context, actor auth.Actor, email string, role auth.Role, password string) (store.User, error)
	SetRole(ctx context.Context, actor auth.Actor, id int64, role auth.Role) (store.User, error)
	SetDisabled(ctx context.Context, actor auth.Actor, id int64, disabled bool) (store.User, error)
	Tokens(ctx context.Context, actor auth.Actor) ([]store.Token, error)
	CreateToken(ctx context.Context, actor auth.Actor, name string, role auth.Role) (string, store.Token, error)
	RevokeToken(ctx context.Context, actor auth.Actor, id int64) error
	IntegrationKeys(ctx context.Context, actor auth.Actor) ([]store.IntegrationKey, error)
	CreateIntegrationKey(ctx context.Context, actor auth.Actor, name, source string) (string, store.IntegrationKey, error)
	RevokeIntegrationKey(ctx context.Context, actor auth.Actor, id int64) error
	AuditLog(ctx context.Context, actor auth.Actor, f store.AuditFilter) ([]store.AuditEntry, error)
}

// Records reads what an item links to. Reads need only a signed-in user,
// which every role is.
type Records interface {
	GetAlert(ctx context.Context, id int64) (alert.Alert, error)
	ItemIncidents(ctx context.Context, itemID int64) ([]alert.Incident, error)
	GetIncident(ctx context.Context, id int64) (alert.Incident, error)
	ListOutbox(ctx context.Context, state string, itemID, after int64, limit int) ([]outbox.Message, error)
	OutboxStats(ctx context.Context) ([]store.OutboxStat, error)
	ChangedSince(ctx context.Context, since time.Time, limit int) ([]store.ItemChange, error)
	ItemSearchText(ctx context.Context, id int64) (string, error)
}

// SSO is an OpenID Connect provider (Entra ID); nil when not configured.
type SSO interface {
	Begin(ctx context.Context) (authURL string, a Attempt, err error)
	Finish(ctx context.Context, a Attempt, state, code string) (account.Identity, error)
	ProviderError(q url.Values) error
}

// Attempt is one sign-in attempt's secrets, kept in a short-lived cookie.
type Attempt struct {
	State, Nonce, Verifier string
	Created                time.Time
}

// Options configures the UI.
type Options struct {
	Items    *workitem.Service
	Accounts Accounts
	Records  Records
	// Rules manages automation rules; nil hides the rules pages.
	Rules Rules
	// Enricher runs enrichment on items; nil hides it.
	Enricher Enricher
	// Intel lists threat-intelligence matches; nil hides them.
	Intel Intel
	// IntelAdmin is the indicators page, feed health and the entity
	// page; nil hides them.
	IntelAdmin IntelAdmin
	// FeedInterval is how often feeds run, for feed health's staleness.
	FeedInterval time.Duration
	// Silences makes Alertmanager silences from the rules page; nil hides
	// the form.
	Silences Silencer
	// Reports computes the reports pages (internal/report); nil hides
	// them.
	Reports Reports
	// Pager is on-call (schedules, policies, services, pages); nil
	// hides the on-call pages.
	Pager   Pager
	SSO     SSO
	SSOName string // the sign-in button's label, e.g. "Microsoft Entra ID"
	// Connectors reports the sync modules' health; nil when sync is off.
	Connectors func() []twoway.Status
	// ReasonPresets are phrases offered when a move needs a reason; the
	// write-back picks the classification at the source from them.
	ReasonPresets []string
	// SecureCookies marks cookies Secure even on plain HTTP (behind a TLS
	// proxy). Requests that arrive over TLS always get Secure cookies.
	SecureCookies bool
	// Proxies finds the client's address behind trusted reverse proxies,
	// for sign-in limits, sessions and the audit log; nil: the peer.
	Proxies *auth.Proxies
	// PerColumn caps the cards rendered per board column (default 200);
	// the column's count is always exact, and "show all" lifts the cap.
	PerColumn int
	// LiveInterval is how often the change feed polls (default 1s).
	LiveInterval time.Duration
	// Notify, when set, tells the change feed of changes made through
	// any instance (PostgreSQL's LISTEN); the feed then reads when
	// notified and polls only every LiveSafetyInterval (default 10s).
	// Where it cannot notify (SQLite) the feed polls every LiveInterval.
	Notify             Notify
	LiveSafetyInterval time.Duration
	// StreamsPerSession and StreamsPerUser cap the open live-update
	// streams (GET /events) of one session and of one user, across
	// sessions (defaults 8 and 32); beyond them a stream is refused
	// with 429.
	StreamsPerSession int
	StreamsPerUser    int
	Clock             clock.Clock
	Logger            *slog.Logger
	Version           string
}

// UI serves the web interface.
type UI struct {
	o      Options
	log    *slog.Logger
	clock  clock.Clock
	tmpl   *template.Template
	static http.Handler
	// assetTag busts browser caches when the embedded assets change.
	assetTag string
	feed     *Feed
	streams  *streamLimiter
}

// New parses the templates and prepares the change feed; call Run to
// start the feed.
func New(o Options) (*UI, error) {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.PerColumn <= 0 {
		o.PerColumn = 200
	}
	if o.LiveInterval <= 0 {
		o.LiveInterval = time.Second
	}
	if o.LiveSafetyInterval <= 0 {
		o.LiveSafetyInterval = 10 * time.Second
	}
	if o.StreamsPerSession <= 0 {
		o.StreamsPerSession = defaultStreamsPerSession
	}
	if o.StreamsPerUser <= 0 {
		o.StreamsPerUser = defaultStreamsPerUser
	}
	u := &UI{o: o, log: o.Logger.With("component", "ui"), clock: o.Clock}
	tmpl, err := template.New("").Funcs(u.funcs()).Funcs(ruleFuncs()).Funcs(u.oncallFuncs()).Funcs(u.profileFuncs()).Funcs(u.enrichFuncs()).Funcs(u.reportFuncs()).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse templates: %w", err)
	}
	u.tmpl = tmpl
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	u.assetTag, err = hashFS(sub)
	if err != nil {
		return nil, err
	}
	u.static = http.StripPrefix("/static/"+u.assetTag+"/", http.FileServerFS(sub))
	u.feed = NewFeed(o.Records, o.Clock, o.LiveInterval, u.log)
	if o.Notify != nil {
		u.feed.Listen(o.Notify, o.LiveSafetyInterval)
	}
	u.streams = newStreamLimiter(o.StreamsPerSession, o.StreamsPerUser)
	return u, nil
}

// Run runs the change feed until ctx is done.
func (u *UI) Run(ctx context.Context) { u.feed.Run(ctx) }

// Close ends open live-update streams (call it on server shutdown, as
// http.Server.Shutdown does not end long-lived responses by itself).
func (u *UI) Close() { u.feed.Close() }

// Feed is the change feed, for tests and for pokes after local writes.
func (u *UI) Feed() *Feed { return u.feed }

func hashFS(fsys fs.FS) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		h.Write([]byte(path))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash assets: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// Register adds the UI's routes to mux. Every route but sign-in and the
// static assets needs a session; every unsafe method is checked against
// cross-origin requests and for the session's CSRF token.
func (u *UI) Register(mux Mux) {
	cop := http.NewCrossOriginProtection()
	handle := func(pattern string, h http.Handler) { mux.Handle(pattern, cop.Handler(u.secure(h))) }
	page := func(pattern string, fn func(http.ResponseWriter, *http.Request, *view)) {
		handle(pattern, u.signedIn(fn))
	}
	mux.Handle("GET /static/", u.assets())
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/board", http.StatusSeeOther) })
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/static/"+u.assetTag+"/favicon.svg", http.StatusMovedPermanently)
	})

	handle("GET /login", http.HandlerFunc(u.loginPage))
	handle("POST /login", http.HandlerFunc(u.login))
	handle("GET /login/sso", http.HandlerFunc(u.ssoBegin))
	handle("GET /login/sso/callback", http.HandlerFunc(u.ssoCallback))
	page("POST /logout", u.logout)

	page("GET /board", u.board)
	page("GET /board/cards/{id}", u.card)
	page("GET /items/{id}/move", u.moveForm)
	page("POST /items/{id}/move", u.move)
	page("POST /items/{id}/assign", u.assign)
	page("GET /triage", u.triage)
	page("POST /triage", u.triageAction)
	page("GET /events", u.events)

	page("GET /items/{id}", u.item)
	page("POST /items/{id}/comments", u.addComment)
	page("POST /items/{id}/enrich", u.enrich)
	page("POST /items/{id}/tasks", u.addTask)
	page("POST /items/{id}/tasks/{task}", u.toggleTask)
	page("POST /items/{id}/fields", u.updateFields)
	page("POST /items/{id}/writes/{msg}/retry", u.retryWrite)

	page("GET /indicators", u.indicators)
	page("POST /indicators/{action}", u.indicatorAction)
	page("GET /entities", u.entityPage)

	page("GET /rules", u.rulesList)
	page("POST /rules/silences", u.silenceAdd)
	page("POST /rules/silences/{id}/expire", u.silenceExpire)
	page("GET /rules/new", u.ruleNew)
	page("GET /rules/{id}", u.ruleEdit)
	page("POST /rules", u.ruleSave)
	page("POST /rules/{id}", u.ruleSave)
	page("POST /rules/preview", u.rulePreview)
	page("POST /rules/cel", u.ruleCEL)

	page("GET /reports", u.reportsIndex)
	page("GET /reports/{$}", u.reportsIndex)
	page("GET /reports/{name}", u.reportPage)
	page("GET /reports/{name}/export", u.reportExport)

	page("GET /oncall", u.oncallNow)
	page("GET /oncall/schedules/{name}", u.scheduleCal)
	page("POST /oncall/schedules/{name}/overrides", u.addOverride)
	page("POST /oncall/schedules/{name}/overrides/remove", u.removeOverride)
	page("GET /oncall/policies", u.policiesList)
	page("GET /oncall/policies/{name}", u.policyEdit)
	page("POST /oncall/policies/{name}", u.policySave)
	page("GET /oncall/services", u.servicesList)
	page("GET /oncall/services/{name}", u.serviceEdit)
	page("POST /oncall/services/{name}", u.serviceSave)
	page("GET /pages", u.pagesList)
	page("POST /pages/{id}/acknowledge", u.pageAction("acknowledge"))
	page("POST /pages/{id}/resolve", u.pageAction("resolve"))
	page("GET /profile/notifications", u.profileNotifications)
	page("POST /profile/notifications/methods", u.addMethod)
	page("POST /profile/notifications/methods/{id}/verify", u.verifyMethod)
	page("POST /profile/notifications/methods/{id}/test", u.testMethod)
	page("POST /profile/notifications/methods/{id}/delete", u.deleteMethod)
	page("POST /profile/notifications/rules", u.saveRules)

	handle("GET /admin", http.RedirectHandler(adminHome, http.StatusSeeOther))
	handle("GET /admin/{$}", http.RedirectHandler(adminHome, http.StatusSeeOther))
	page("GET /admin/process", u.adminProcess)
	page("GET /admin/connectors", u.adminConnectors)
	page("GET /admin/users", u.adminUsers)
	page("POST /admin/users", u.adminAddUser)
	page("POST /admin/users/{id}", u.adminUpdateUser)
	page("POST /admin/tokens", u.adminCreateToken)
	page("POST /admin/tokens/{id}/revoke", u.adminRevokeToken)
	page("GET /admin/keys", u.adminKeys)
	page("POST /admin/keys", u.adminCreateKey)
	page("POST /admin/keys/{id}/revoke", u.adminRevokeKey)
	page("GET /admin/audit", u.adminAudit)
	page("GET /admin/audit/export", u.adminAuditExport)

	// Everything else is the styled 404 page (or 405 for a known path
	// with another method). "/" is the least specific pattern, so the
	// API's own "/api/" catch-all keeps answering JSON under /api/.
	handle("/", u.notFound(mux))
}

// secure sets the headers every UI response carries.
func (u *UI) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "+
			"connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self' https:")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

func (u *UI) assets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/static/"+u.assetTag+"/") {
			http.NotFound(w, r)
			return
		}
		// The tag in the path changes with the content, so the files
		// can be cached for good.
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		u.static.ServeHTTP(w, r)
	})
}

// view is what every page template gets.
type view struct {
	Title   string
	Nav     string
	Actor   auth.Actor
	CSRF    string
	Asset   string // "/static/<tag>"
	Flash   string
	Error   string
	Version string
	// OnCall shows the on-call pages in the navigation.
	OnCall bool
	Data   any
	req    *http.Request
}

// CanTriage reports whether the user may move and edit items.
func (v *view) CanTriage() bool { return v.Actor.Role.Allows(auth.ActionTriage) }

// IsAdmin reports whether the user may see the admin pages.
func (v *view) IsAdmin() bool { return v.Actor.Role.Allows(auth.ActionAdmin) }

const sessionCookie = "vigil_session"

// signedIn resolves the session cookie; without a valid one, pages
// redirect to /login and htmx or fetch calls get 401. Unsafe methods must
// carry the session's CSRF token.
func (u *UI) signedIn(fn func(http.ResponseWriter, *http.Request, *view)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		var actor auth.Actor
		if err == nil {
			_, actor, err = u.o.Accounts.Session(r.Context(), c.Value)
		}
		if err != nil {
			if c != nil {
				u.clearCookie(w, r, sessionCookie)
			}
			if r.Method == http.MethodGet && !isScript(r) {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			w.Header().Set("HX-Redirect", "/login")
			http.Error(w, "your session has ended; sign in again", http.StatusUnauthorized)
			return
		}
		v := &view{Actor: actor, CSRF: account.CSRFToken(c.Value), Asset: "/static/" + u.assetTag,
			Version: u.o.Version, OnCall: u.o.Pager != nil, req: r}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			got := r.Header.Get("X-CSRF-Token")
			if got == "" {
				got = r.PostFormValue("csrf")
			}
			if !account.CheckCSRF(c.Value, got) {
				u.fail(w, r, v, &validation.ForbiddenError{Message: "the form has expired or did not come from vigil; reload the page and try again"})
				return
			}
		}
		fn(w, r.WithContext(auth.WithClientIP(auth.WithActor(r.Context(), actor), u.o.Proxies.ClientIP(r))), v)
	})
}

// isScript reports a request made by htmx or app.js rather than by a
// page navigation.
func isScript(r *http.Request) bool {
	return r.Header.Get("HX-Request") == "true" || r.Header.Get("X-Requested-With") == "fetch"
}

func (u *UI) secureRequest(r *http.Request) bool {
	return u.o.SecureCookies || r.TLS != nil
}

func (u *UI) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: int(maxAge.Seconds()),
		HttpOnly: true, Secure: u.secureRequest(r), SameSite: http.SameSiteLaxMode})
}

func (u *UI) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: u.secureRequest(r), SameSite: http.SameSiteLaxMode})
}

// render writes a whole page, or only its named block for htmx requests
// that ask for a fragment.
func (u *UI) render(w http.ResponseWriter, code int, name string, v *view) {
	u.renderData(w, code, name, v)
}

// renderData executes a template on any data: a fragment such as one card.
func (u *UI) renderData(w http.ResponseWriter, code int, name string, data any) {
	buf := getBuffer()
	defer putBuffer(buf)
	if err := u.tmpl.ExecuteTemplate(buf, name, data); err != nil {
		u.log.Error("render", "template", name, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

// fail answers err: a fragment with the message for scripts, the error
// page for navigations. Messages of validation errors are safe to show;
// anything else is logged and shown as a generic error.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, v *view, err error) {
	code, msg := errorStatus(err)
	if code >= 500 {
		u.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if isScript(r) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		w.Write([]byte(msg))
		return
	}
	v.Title, v.Error = http.StatusText(code), msg
	u.render(w, code, "error.html", v)
}

func errorStatus(err error) (int, string) {
	var fe *validation.FieldError
	var ce *validation.ConflictError
	var fb *validation.ForbiddenError
	switch {
	case errors.As(err, &fe):
		return http.StatusBadRequest, fe.Error()
	case errors.As(err, &ce):
		return http.StatusConflict, ce.Error()
	case errors.As(err, &fb):
		return http.StatusForbidden, fb.Error()
	case errors.Is(err, validation.ErrNotFound):
		return http.StatusNotFound, "not found"
	case errors.Is(err, validation.ErrStale):
		return http.StatusConflict, "someone else changed this item meanwhile; it has been reloaded"
	case errors.Is(err, account.ErrThrottled):
		return http.StatusTooManyRequests, account.ErrThrottled.Error()
	case errors.Is(err, account.ErrBadCredentials):
		return http.StatusUnauthorized, account.ErrBadCredentials.Error()
	}
	return http.StatusInternalServerError, "something went wrong on the server; it has been logged"
}

// back redirects to the page the form was on (same origin only), or to
// fallback.
func back(w http.ResponseWriter, r *http.Request, fallback string) {
	if ref := localPath(r.PostFormValue("back")); ref != "" {
		fallback = ref
	}
	http.Redirect(w, r, fallback, http.StatusSeeOther)
}
