package app

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/account"
	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/connector/jira"
	"github.com/vigil-soc/vigil/internal/paging"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/web"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// The authorization matrix: every route of the composed server (the API,
// the compatibility endpoints, the hooks, health, metrics, profiling, the
// web interface and its static files), tried with every kind of
// credential, with the outcome written down for each. A route registered
// without a row fails the test, and so does a row for no route.
//
// Columns, in this order:
//
//	none      no credential at all
//	viewer    API routes: a viewer's API token; UI routes: a viewer's session
//	responder likewise for a responder
//	admin     likewise for an admin
//	key       an integration key: the one made for the route's sender on an
//	          ingest route (where the other senders' keys must be refused
//	          like no credential), else each of them (all must answer alike)
//	revoked   a revoked admin API token (on UI routes too, as a Bearer
//	          header, which the UI must ignore)
//
// Outcomes: "2xx" any success; a three-digit code exactly that status;
// "303>/login" a redirect to the sign-in page; "ok" authorized, whatever
// the handler then says about the request (anything but 401, 403, a
// redirect to sign in, or a server error).
//
// Bodies are minimal but valid enough to get past authentication: what is
// tested is who gets in, so a 400 or 404 after authorization counts as
// "in" and is written down as such.
type matrixRow struct {
	pattern string // as registered on the mux
	path    string // the request's path and query; {…} filled from fixtures
	body    string // for unsafe methods; {KEY} is replaced by the credential
	cells   string // six outcomes: none viewer responder admin key revoked
	fresh   bool   // sign in anew for each cell (the route ends the session)
	// cred says where the credential goes: "" a Bearer header, "body" the
	// body's {KEY} (PagerDuty's routing_key).
	cred string
	// check, when set, runs after each cell, for what the status alone
	// does not tell.
	check func(t *testing.T, e *matrixEnv, col string, res matrixResp)
}

// triageRefused checks that the viewer's bulk move was refused and left
// the item alone, and that the responder's (the next column) moved it.
func triageRefused(t *testing.T, e *matrixEnv, col string, res matrixResp) {
	t.Helper()
	id, _ := strconv.ParseInt(e.fixtures["{triage-item}"], 10, 64)
	it, err := e.db.GetWorkItem(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	switch col {
	case "viewer":
		if it.State != "New" || !strings.Contains(res.flash, "may not") {
			t.Errorf("POST /triage as viewer: item %s, flash %s; want it left New and the move refused", it.State, res.flash)
		}
	case "responder":
		if it.State != "Approved" {
			t.Errorf("POST /triage as responder: item %s, flash %s; want it moved to Approved", it.State, res.flash)
		}
	}
}

// badTokenIs404 returns a check that a public route whose secret path is
// the credential answers a wrong secret with 404 (tried once, with the
// none column).
func badTokenIs404(path string) func(t *testing.T, e *matrixEnv, col string, res matrixResp) {
	return func(t *testing.T, e *matrixEnv, col string, res matrixResp) {
		t.Helper()
		if col != "none" {
			return
		}
		if r := e.send(t, "GET", path, "", nil); r.code != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404 for a wrong token", path, r.code)
		}
	}
}

// ackLink checks the acknowledgement link's page: it shows the page in
// state want (a GET acknowledges nothing), and a forged or tampered
// token is 404.
func ackLink(want string) func(t *testing.T, e *matrixEnv, col string, res matrixResp) {
	return func(t *testing.T, e *matrixEnv, col string, res matrixResp) {
		t.Helper()
		if !strings.Contains(res.body, `<strong id="state">`+want+`</strong>`) {
			t.Errorf("ack link as %s: the page does not show state %s: %.300s", col, want, res.body)
		}
		if col != "none" {
			return
		}
		tok := e.fixtures["{ack}"]
		for _, bad := range []string{"x", tok + "x", "e30." + tok[strings.Index(tok, ".")+1:]} {
			for _, m := range []string{"GET", "POST"} {
				if r := e.send(t, m, "/ack/"+bad, "action=acknowledge", nil); r.code != http.StatusNotFound {
					t.Errorf("%s /ack/%s: status %d, want 404 for a bad token", m, bad, r.code)
				}
			}
		}
	}
}

// Abbreviations of the common rows.
const (
	read    = "401 2xx 2xx 2xx 401 401" // API reads: every role
	triage  = "401 403 ok ok 401 401"   // API changes: responders and admins
	adminOn = "401 403 403 ok 401 401"  // API admin operations
	page    = "303>/login 2xx 2xx 2xx 303>/login 303>/login"
	uiTri   = "401 403 ok ok 401 401"  // UI changes for responders and admins
	uiAdm   = "401 403 403 ok 401 401" // UI admin forms
	uiAdmG  = "303>/login 403 403 2xx 303>/login 303>/login"
	open    = "2xx 2xx 2xx 2xx 2xx 2xx" // no authentication
)

func matrix() []matrixRow {
	return []matrixRow{
		// Health, metrics and the API description: open to all.
		{pattern: "GET /healthz", path: "/healthz", cells: open},
		{pattern: "GET /readyz", path: "/readyz", cells: open},
		{pattern: "GET /metrics", path: "/metrics", cells: open},
		{pattern: "GET /api/v1/openapi.json", path: "/api/v1/openapi.json", cells: open},

		// The native API.
		{pattern: "POST /api/v1/alerts", path: "/api/v1/alerts", body: `{"source":"matrix","title":"t","severity":"low"}`, cells: "401 403 2xx 2xx 2xx 401"},
		{pattern: "GET /api/v1/alerts", path: "/api/v1/alerts", cells: read},
		{pattern: "GET /api/v1/alerts/{id}", path: "/api/v1/alerts/{alert}", cells: read},
		{pattern: "GET /api/v1/alerts/{id}/versions", path: "/api/v1/alerts/{alert}/versions", cells: read},
		{pattern: "POST /api/v1/incidents", path: "/api/v1/incidents", body: `{}`, cells: "401 403 400 400 400 401"},
		{pattern: "GET /api/v1/incidents", path: "/api/v1/incidents", cells: read},
		{pattern: "GET /api/v1/incidents/{id}", path: "/api/v1/incidents/{incident}", cells: read},
		{pattern: "GET /api/v1/incidents/{id}/versions", path: "/api/v1/incidents/{incident}/versions", cells: read},
		{pattern: "GET /api/v1/workitems", path: "/api/v1/workitems", cells: read},
		{pattern: "GET /api/v1/workitems/{id}", path: "/api/v1/workitems/{item}", cells: read},
		{pattern: "PATCH /api/v1/workitems/{id}", path: "/api/v1/workitems/{item}", body: `{}`, cells: triage},
		{pattern: "POST /api/v1/workitems/{id}/transitions", path: "/api/v1/workitems/{item}/transitions", body: `{}`, cells: triage},
		{pattern: "GET /api/v1/workitems/{id}/timeline", path: "/api/v1/workitems/{item}/timeline", cells: read},
		{pattern: "GET /api/v1/workitems/{id}/comments", path: "/api/v1/workitems/{item}/comments", cells: read},
		{pattern: "POST /api/v1/workitems/{id}/comments", path: "/api/v1/workitems/{item}/comments", body: `{"body":"seen"}`, cells: triage},
		{pattern: "POST /api/v1/workitems/{id}/enrich", path: "/api/v1/workitems/{item}/enrich", body: `{}`, cells: triage},
		{pattern: "GET /api/v1/workitems/{id}/enrichments", path: "/api/v1/workitems/{item}/enrichments", cells: read},
		{pattern: "GET /api/v1/indicators", path: "/api/v1/indicators", cells: read},
		{pattern: "GET /api/v1/indicators/lookup", path: "/api/v1/indicators/lookup?type=ip&value=192.0.2.1", cells: "401 404 404 404 401 401"},
		{pattern: "POST /api/v1/indicators/{action}", path: "/api/v1/indicators/expire", body: `{"type":"ip","value":"192.0.2.1"}`, cells: triage},
		{pattern: "GET /api/v1/intel/feeds", path: "/api/v1/intel/feeds", cells: read},
		{pattern: "GET /api/v1/entities", path: "/api/v1/entities?value=192.0.2.1", cells: read},
		{pattern: "GET /api/v1/workitems/{id}/tasks", path: "/api/v1/workitems/{item}/tasks", cells: read},
		{pattern: "POST /api/v1/workitems/{id}/tasks", path: "/api/v1/workitems/{item}/tasks", body: `{"title":"check"}`, cells: triage},
		{pattern: "PATCH /api/v1/workitems/{id}/tasks/{task}", path: "/api/v1/workitems/{item}/tasks/{task}", body: `{}`, cells: triage},
		{pattern: "GET /api/v1/workitems/{id}/outbox", path: "/api/v1/workitems/{item}/outbox", cells: read},
		{pattern: "GET /api/v1/process", path: "/api/v1/process", cells: read},
		{pattern: "GET /api/v1/outbox", path: "/api/v1/outbox", cells: read},
		{pattern: "GET /api/v1/outbox/{id}", path: "/api/v1/outbox/999", cells: "401 404 404 404 401 401"},
		{pattern: "POST /api/v1/outbox/{id}/retry", path: "/api/v1/outbox/999/retry", cells: "401 403 404 404 401 401"},
		{pattern: "GET /api/v1/connectors", path: "/api/v1/connectors", cells: read},
		{pattern: "GET /api/v1/integration-keys", path: "/api/v1/integration-keys", cells: adminOn},
		{pattern: "POST /api/v1/integration-keys", path: "/api/v1/integration-keys", body: `{}`, cells: adminOn},
		{pattern: "POST /api/v1/integration-keys/{id}/revoke", path: "/api/v1/integration-keys/{spare-key}/revoke", cells: adminOn},
		{pattern: "GET /api/v1/audit", path: "/api/v1/audit", cells: adminOn},
		{pattern: "GET /api/v1/rules", path: "/api/v1/rules", cells: read},
		{pattern: "POST /api/v1/rules", path: "/api/v1/rules", body: `{}`, cells: "401 403 403 400 401 401"},
		{pattern: "GET /api/v1/rules/vocabulary", path: "/api/v1/rules/vocabulary", cells: read},
		{pattern: "GET /api/v1/rules/noise", path: "/api/v1/rules/noise", cells: read},
		{pattern: "GET /api/v1/reports/{name}", path: "/api/v1/reports/response", cells: read},
		{pattern: "POST /api/v1/rules/preview", path: "/api/v1/rules/preview", body: `{}`, cells: "401 400 400 400 401 401"},
		{pattern: "GET /api/v1/rules/{id}", path: "/api/v1/rules/999", cells: "401 404 404 404 401 401"},
		{pattern: "PUT /api/v1/rules/{id}", path: "/api/v1/rules/999", body: `{}`, cells: "401 403 403 400 401 401"},
		{pattern: "GET /api/v1/rules/{id}/versions", path: "/api/v1/rules/999/versions", cells: "401 404 404 404 401 401"},

		// On-call: every role reads the definitions, the schedules and
		// the pages; admins change definitions; responders act on pages.
		{pattern: "GET /api/v1/oncall/now", path: "/api/v1/oncall/now", cells: read},
		{pattern: "POST /api/v1/heartbeats/{name}", path: "/api/v1/heartbeats/nope", cells: "401 403 404 404 401 401"},
		// A schedule's feed is for every role; a user's, only for
		// themself or an admin (below, with the contact methods).
		{pattern: "POST /api/v1/oncall/feeds", path: "/api/v1/oncall/feeds", body: `{"kind":"schedule","name":"matrix"}`, cells: read},
		{pattern: "GET /api/v1/oncall/schedules/{name}/shifts", path: "/api/v1/oncall/schedules/matrix/shifts", cells: read},
		{pattern: "GET /api/v1/oncall/{kind}", path: "/api/v1/oncall/policies", cells: read},
		{pattern: "GET /api/v1/oncall/{kind}/{name}", path: "/api/v1/oncall/services/matrix", cells: read},
		{pattern: "PUT /api/v1/oncall/{kind}/{name}", path: "/api/v1/oncall/teams/matrix-spare",
			body: `{"members":["responder@matrix.example"]}`, cells: "401 403 403 2xx 401 401"},
		{pattern: "DELETE /api/v1/oncall/{kind}/{name}", path: "/api/v1/oncall/teams/matrix-spare", cells: "401 403 403 2xx 401 401"},
		// The feed's secret path is its credential: any or no
		// Authorization header changes nothing, and a wrong token is 404.
		{pattern: "GET /api/v1/calendar/{token}", path: "/api/v1/calendar/{feed}.ics", cells: open,
			check: badTokenIs404("/api/v1/calendar/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.ics")},
		{pattern: "GET /api/v1/pages", path: "/api/v1/pages", cells: read},
		// The page item's page is open already: 200 with it, no second one.
		{pattern: "POST /api/v1/pages", path: "/api/v1/pages", body: `{"workitem_id":{page-item},"service":"matrix"}`, cells: "401 403 2xx 2xx 401 401"},
		{pattern: "GET /api/v1/pages/{id}", path: "/api/v1/pages/{page}", cells: read},
		{pattern: "POST /api/v1/pages/{id}/{action}", path: "/api/v1/pages/{page}/escalate", cells: "401 403 2xx 2xx 401 401"},
		// A user's contact methods, feeds and notification rules are
		// theirs: the route lets every role in, and the service then
		// allows only the user themself or an admin, so a role's token,
		// which is no user, is refused (a session would be the user).
		{pattern: "GET /api/v1/users/{user}/contact-methods", path: "/api/v1/users/viewer@matrix.example/contact-methods", cells: "401 403 403 2xx 401 401"},
		{pattern: "POST /api/v1/users/{user}/contact-methods", path: "/api/v1/users/viewer@matrix.example/contact-methods",
			body: `{"type":"email","value":"viewer@matrix.example"}`, cells: "401 403 403 2xx 401 401"},
		// The admin gets in, and the fixture's code is not 000000.
		{pattern: "POST /api/v1/contact-methods/{id}/verify", path: "/api/v1/contact-methods/{cm}/verify", body: `{"code":"000000"}`, cells: "401 403 403 400 401 401"},
		{pattern: "DELETE /api/v1/contact-methods/{id}", path: "/api/v1/contact-methods/{spare-cm}", cells: "401 403 403 2xx 401 401"},
		// Rules name only contact method ids and delays: every role reads them.
		{pattern: "GET /api/v1/users/{user}/notification-rules", path: "/api/v1/users/viewer@matrix.example/notification-rules", cells: read},
		{pattern: "PUT /api/v1/users/{user}/notification-rules", path: "/api/v1/users/viewer@matrix.example/notification-rules",
			body: `{"rules":[]}`, cells: "401 403 403 2xx 401 401"},
		// A test notification goes to the user's own verified method: the
		// admin gets in, and the fixture's method is not verified.
		{pattern: "POST /api/v1/contact-methods/{id}/test", path: "/api/v1/contact-methods/{cm}/test", cells: "401 403 403 409 401 401"},
		{pattern: "GET /api/v1/users/{user}/notifications", path: "/api/v1/users/viewer@matrix.example/notifications", cells: read},
		{pattern: "GET /api/v1/pages/{id}/notifications", path: "/api/v1/pages/{page}/notifications", cells: read},
		{pattern: "/api/", path: "/api/v1/no-such-thing", cells: "404 404 404 404 404 404"},

		// Inbound compatibility: each takes its own sender's key.
		{pattern: "POST /api/v2/alerts", path: "/api/v2/alerts", body: `[{"labels":{"alertname":"Matrix"}}]`, cells: "401 403 2xx 2xx 2xx 401"},
		{pattern: "POST /v2/enqueue", path: "/v2/enqueue", cred: "body",
			body:  `{"routing_key":"{KEY}","event_action":"trigger","payload":{"summary":"s","source":"h","severity":"info"}}`,
			cells: "400 400 2xx 2xx 2xx 400"},
		{pattern: "POST /api/v1/webhooks/azure-monitor", path: "/api/v1/webhooks/azure-monitor", body: `{}`, cells: "401 403 400 400 400 401"},
		{pattern: "GET /api/v2/alerts", path: "/api/v2/alerts", cells: read},
		{pattern: "GET /api/v2/alerts/groups", path: "/api/v2/alerts/groups", cells: read},
		{pattern: "GET /api/v2/silences", path: "/api/v2/silences", cells: read},
		{pattern: "POST /api/v2/silences", path: "/api/v2/silences", body: `{}`, cells: triage},
		{pattern: "GET /api/v2/silence/{silenceID}", path: "/api/v2/silence/0b1c2d3e-0000-4000-8000-000000000000", cells: "401 404 404 404 401 401"},
		{pattern: "DELETE /api/v2/silence/{silenceID}", path: "/api/v2/silence/0b1c2d3e-0000-4000-8000-000000000000", cells: triage},
		{pattern: "GET /api/v2/status", path: "/api/v2/status", cells: read},
		{pattern: "GET /api/v2/receivers", path: "/api/v2/receivers", cells: read},
		{pattern: "POST /api/v1/webhooks/alertmanager", path: "/api/v1/webhooks/alertmanager", body: `{}`, cells: "401 403 400 400 400 401"},
		// The Azure Boards service hook takes only its basic credentials
		// (tried with them in TestAuthzMatrix): no token or key gets in.
		{pattern: "POST /api/v1/hooks/devops", path: "/api/v1/hooks/devops", body: `{}`, cells: "401 401 401 401 401 401"},
		// The Jira webhook takes only its HMAC signature (tried with it in
		// TestAuthzMatrix): no token or key gets in.
		{pattern: "POST /api/v1/webhooks/jira", path: "/api/v1/webhooks/jira", body: `{}`, cells: "401 401 401 401 401 401"},
		// Channel callbacks take only their provider's signature (tried
		// with it in TestChannelHooksSigned): no token or key gets in.
		{pattern: "POST /api/v1/hooks/twilio/sms", path: "/api/v1/hooks/twilio/sms", body: "From=%2B15550001111&Body=1a", cells: "401 401 401 401 401 401"},
		{pattern: "POST /api/v1/hooks/twilio/status", path: "/api/v1/hooks/twilio/status", body: "MessageSid=SM1&MessageStatus=sent", cells: "401 401 401 401 401 401"},
		{pattern: "POST /api/v1/hooks/twilio/voice", path: "/api/v1/hooks/twilio/voice?t=x", body: "CallSid=CA1&Digits=1", cells: "401 401 401 401 401 401"},
		{pattern: "POST /api/v1/hooks/slack/interactivity", path: "/api/v1/hooks/slack/interactivity", body: "payload=%7B%7D", cells: "401 401 401 401 401 401"},

		// Profiling, for admins.
		{pattern: "GET /debug/pprof/", path: "/debug/pprof/", cells: adminOn},
		{pattern: "GET /debug/pprof/profile", path: "/debug/pprof/profile?seconds=1", cells: adminOn},
		{pattern: "GET /debug/pprof/trace", path: "/debug/pprof/trace?seconds=0.01", cells: adminOn},
		{pattern: "GET /debug/pprof/{name}", path: "/debug/pprof/goroutine", cells: adminOn},

		// The web interface: sessions, never tokens or keys.
		{pattern: "GET /static/", path: "/static/{asset}/app.css", cells: open},
		{pattern: "GET /{$}", path: "/", cells: "303>/board 303>/board 303>/board 303>/board 303>/board 303>/board"},
		{pattern: "GET /favicon.ico", path: "/favicon.ico", cells: "301 301 301 301 301 301"},
		{pattern: "GET /login", path: "/login", cells: open},
		// Signing in needs no credential but the password in the form.
		{pattern: "POST /login", path: "/login", body: "email=viewer%40matrix.example&password=correct+horse+battery+staple",
			cells: "303>/board 303>/board 303>/board 303>/board 303>/board 303>/board"},
		{pattern: "GET /login/sso", path: "/login/sso", cells: "404 404 404 404 404 404"},
		{pattern: "GET /login/sso/callback", path: "/login/sso/callback", cells: "404 404 404 404 404 404"},
		{pattern: "POST /logout", path: "/logout", fresh: true, cells: "401 303>/login 303>/login 303>/login 401 401"},
		{pattern: "GET /board", path: "/board", cells: page},
		{pattern: "GET /board/cards/{id}", path: "/board/cards/{item}", cells: page},
		// The move form is shown to every role; the move itself is refused.
		{pattern: "GET /items/{id}/move", path: "/items/{item}/move?to=Removed", cells: page},
		{pattern: "POST /items/{id}/move", path: "/items/{item}/move", body: "to=", cells: uiTri},
		{pattern: "POST /items/{id}/assign", path: "/items/{item}/assign", body: "", cells: uiTri},
		{pattern: "GET /triage", path: "/triage", cells: page},
		// The bulk action answers every role with a redirect and lists
		// what failed in the flash; that the viewer's move was refused is
		// checked on the item.
		{pattern: "POST /triage", path: "/triage", body: "id={triage-item}&to=Approved",
			cells: "401 303>/triage 303>/triage 303>/triage 401 401", check: triageRefused},
		{pattern: "GET /events", path: "/events", cells: page},
		{pattern: "GET /items/{id}", path: "/items/{item}", cells: page},
		{pattern: "POST /items/{id}/comments", path: "/items/{item}/comments", body: "body=", cells: uiTri},
		{pattern: "POST /items/{id}/enrich", path: "/items/{item}/enrich", body: "entity=", cells: uiTri},
		{pattern: "POST /items/{id}/tasks", path: "/items/{item}/tasks", body: "title=", cells: uiTri},
		{pattern: "POST /items/{id}/tasks/{task}", path: "/items/{item}/tasks/{task}", body: "", cells: uiTri},
		{pattern: "POST /items/{id}/fields", path: "/items/{item}/fields", body: "", cells: uiTri},
		{pattern: "POST /items/{id}/writes/{msg}/retry", path: "/items/{item}/writes/999/retry", body: "", cells: uiTri},
		// Automation rules: every role reads them and may preview; only
		// admins save.
		{pattern: "GET /indicators", path: "/indicators", cells: page},
		{pattern: "POST /indicators/{action}", path: "/indicators/expire", body: "type=ip&value=192.0.2.1", cells: uiTri},
		{pattern: "GET /entities", path: "/entities?value=192.0.2.1", cells: page},
		{pattern: "GET /rules", path: "/rules", cells: page},
		{pattern: "POST /rules/silences", path: "/rules/silences", body: "matchers=", cells: uiTri},
		{pattern: "POST /rules/silences/{id}/expire", path: "/rules/silences/nope/expire", body: "", cells: uiTri},
		{pattern: "GET /rules/new", path: "/rules/new?from_item={item}", cells: page},
		{pattern: "GET /rules/{id}", path: "/rules/999", cells: "303>/login 404 404 404 303>/login 303>/login"},
		{pattern: "POST /rules", path: "/rules", body: "name=", cells: uiAdm},
		{pattern: "POST /rules/{id}", path: "/rules/999", body: "name=", cells: uiAdm},
		{pattern: "POST /rules/preview", path: "/rules/preview", body: "", cells: "401 ok ok ok 401 401"},
		{pattern: "POST /rules/cel", path: "/rules/cel", body: "", cells: read},
		// Reports: every role reads them and downloads their CSV.
		{pattern: "GET /reports", path: "/reports", cells: "303>/login 303>/reports/response 303>/reports/response 303>/reports/response 303>/login 303>/login"},
		{pattern: "GET /reports/{$}", path: "/reports/", cells: "303>/login 303>/reports/response 303>/reports/response 303>/reports/response 303>/login 303>/login"},
		{pattern: "GET /reports/{name}", path: "/reports/flow", cells: page},
		{pattern: "GET /reports/{name}/export", path: "/reports/flow/export", cells: page},
		// On call: every role reads; admins save overrides and policies
		// (the empty forms are refused with 400 after authorization);
		// responders and admins act on pages (a page that does not exist
		// is 404 after authorization).
		{pattern: "GET /oncall", path: "/oncall", cells: page},
		{pattern: "GET /oncall/schedules/{name}", path: "/oncall/schedules/matrix?view=month", cells: page},
		{pattern: "POST /oncall/schedules/{name}/overrides", path: "/oncall/schedules/matrix/overrides", body: "user=", cells: uiAdm},
		{pattern: "POST /oncall/schedules/{name}/overrides/remove", path: "/oncall/schedules/matrix/overrides/remove", body: "kind=", cells: uiAdm},
		{pattern: "GET /oncall/policies", path: "/oncall/policies", cells: page},
		{pattern: "GET /oncall/policies/{name}", path: "/oncall/policies/matrix", cells: page},
		{pattern: "POST /oncall/policies/{name}", path: "/oncall/policies/matrix", body: "repeat=0", cells: uiAdm},
		{pattern: "GET /oncall/services", path: "/oncall/services", cells: page},
		{pattern: "GET /oncall/services/{name}", path: "/oncall/services/matrix", cells: page},
		// A spare name, so that no cell changes the service the other
		// rows page (op=save without a policy is refused with 400).
		{pattern: "POST /oncall/services/{name}", path: "/oncall/services/matrix-spare", body: "op=save", cells: uiAdm},
		{pattern: "GET /pages", path: "/pages", cells: page},
		{pattern: "POST /pages/{id}/acknowledge", path: "/pages/999999/acknowledge", body: "", cells: uiTri},
		{pattern: "POST /pages/{id}/resolve", path: "/pages/999999/resolve", body: "", cells: uiTri},
		// A person's notification settings: every role manages their
		// own; the service lets only the person and admins act on a
		// contact method (the fixture's belongs to the viewer, is not
		// verified, and its code is not 000000), so the responder is
		// refused and a test of it goes back with the 409 in the flash.
		{pattern: "GET /profile/notifications", path: "/profile/notifications", cells: page},
		{pattern: "POST /profile/notifications/methods", path: "/profile/notifications/methods", body: "type=email&value=", cells: "401 400 400 400 401 401"},
		{pattern: "POST /profile/notifications/methods/{id}/verify", path: "/profile/notifications/methods/{cm}/verify",
			body: "code=000000&user=viewer%40matrix.example", cells: "401 400 403 400 401 401"},
		{pattern: "POST /profile/notifications/methods/{id}/test", path: "/profile/notifications/methods/{cm}/test",
			body: "user=viewer%40matrix.example", cells: "401 303>/profile/notifications 403 303>/profile/notifications 401 401"},
		{pattern: "POST /profile/notifications/methods/{id}/delete", path: "/profile/notifications/methods/999999/delete", body: "", cells: "401 404 404 404 401 401"},
		{pattern: "POST /profile/notifications/rules", path: "/profile/notifications/rules", body: "",
			cells: "401 303>/profile/notifications 303>/profile/notifications 303>/profile/notifications 401 401"},
		// /admin leads to the first admin page, which checks.
		{pattern: "GET /admin", path: "/admin", cells: "303>/admin/ 303>/admin/ 303>/admin/ 303>/admin/ 303>/admin/ 303>/admin/"},
		{pattern: "GET /admin/{$}", path: "/admin/", cells: "303>/admin/ 303>/admin/ 303>/admin/ 303>/admin/ 303>/admin/ 303>/admin/"},
		{pattern: "GET /admin/process", path: "/admin/process", cells: uiAdmG},
		{pattern: "GET /admin/connectors", path: "/admin/connectors", cells: uiAdmG},
		{pattern: "GET /admin/users", path: "/admin/users", cells: uiAdmG},
		{pattern: "POST /admin/users", path: "/admin/users", body: "email=&role=viewer&password=", cells: uiAdm},
		{pattern: "POST /admin/users/{id}", path: "/admin/users/{spare-user}", body: "role=viewer", cells: uiAdm},
		{pattern: "POST /admin/tokens", path: "/admin/tokens", body: "name=&role=viewer", cells: uiAdm},
		{pattern: "POST /admin/tokens/{id}/revoke", path: "/admin/tokens/{spare-token}/revoke", body: "", cells: uiAdm},
		{pattern: "GET /admin/keys", path: "/admin/keys", cells: uiAdmG},
		{pattern: "POST /admin/keys", path: "/admin/keys", body: "name=&source=api", cells: uiAdm},
		{pattern: "POST /admin/keys/{id}/revoke", path: "/admin/keys/{spare-key}/revoke", body: "", cells: uiAdm},
		{pattern: "GET /admin/audit", path: "/admin/audit", cells: uiAdmG},
		{pattern: "GET /admin/audit/export", path: "/admin/audit/export", cells: uiAdmG},
		// A notification's acknowledgement link: its signed token is the
		// credential, whatever else comes with it; a forged one is 404.
		// Opening it changes nothing; the first POST acknowledges and the
		// others find it acknowledged already.
		{pattern: "GET /ack/{token}", path: "/ack/{ack}", cells: open, check: ackLink("triggered")},
		{pattern: "POST /ack/{token}", path: "/ack/{ack}", body: "action=acknowledge", cells: open, check: ackLink("acknowledged")},
		{pattern: "/", path: "/no-such-page", cells: "404 404 404 404 404 404"},
	}
}

// columns names the matrix's columns.
var columns = []string{"none", "viewer", "responder", "admin", "key", "revoked"}

// matrixEnv is the composed server with one credential of each kind.
type matrixEnv struct {
	h        http.Handler
	routes   []string
	fixtures map[string]string // {name} in paths → value
	tokens   map[auth.Role]string
	sessions map[auth.Role]string // session cookie values
	keys     map[string]string    // source → integration key
	revoked  string
	accounts *account.Service
	db       *store.DB
	hookUser string
	hookPass string
}

const matrixPassword = "correct horse battery staple"

// jiraMatrixSecret is the Jira webhook secret of the matrix.
const jiraMatrixSecret = "jira webhook secret of the matrix"

func newMatrixEnv(t *testing.T) *matrixEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := config.Default()
	cfg.Data = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	// A Boards mirror, so that its service hook is live; nothing calls
	// out, as the sync cycle does not run.
	cfg.Sync.DevOps = &config.DevOpsMirror{OrgURL: "https://devops.invalid/org", Project: "p", PAT: "pat",
		HookUser: "hooks", HookPassword: "hook password of the matrix"}
	// A Jira mirror with a webhook secret, so that its webhook is live.
	cfg.Sync.Jira = &config.JiraMirror{URL: "https://jira.invalid", Email: "vigil@matrix.example", APIToken: "jira token of the matrix",
		Project: "SEC", WebhookSecret: jiraMatrixSecret}
	// Twilio and Slack, so that their hooks are live and verify; nothing
	// is sent to them.
	cfg.Paging.Twilio = config.Twilio{AccountSID: "ACmatrix", AuthToken: "twilio token of the matrix", From: "+15550000000", APIURL: "http://127.0.0.1:9"}
	cfg.Paging.SMSProvider = "twilio"
	cfg.Paging.Slack = config.Slack{BotToken: "xoxb-matrix", SigningSecret: "slack secret of the matrix", APIURL: "http://127.0.0.1:9"}
	a, err := New(ctx, cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	done := make(chan struct{})
	go func() { a.Pipeline.Run(ctx); close(done) }()
	t.Cleanup(func() {
		a.UI.Close()
		cancel()
		<-done
		a.DB.Close()
	})
	srv, ok := a.server.Handler.(*web.Server)
	if !ok {
		t.Fatalf("the app's handler is a %T, want *web.Server", a.server.Handler)
	}
	e := &matrixEnv{h: srv, routes: srv.Routes(), fixtures: map[string]string{}, tokens: map[auth.Role]string{},
		sessions: map[auth.Role]string{}, keys: map[string]string{}, accounts: a.Accounts, db: a.DB,
		hookUser: "hooks", hookPass: "hook password of the matrix"}
	e.setup(t, ctx, a)
	return e
}

func (e *matrixEnv) setup(t *testing.T, ctx context.Context, a *App) {
	t.Helper()
	db := a.DB
	hash, err := auth.HashPassword(matrixPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []auth.Role{auth.RoleViewer, auth.RoleResponder, auth.RoleAdmin} {
		secret, _, err := db.CreateToken(ctx, "matrix-"+string(role), role)
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[role] = secret
		if _, err := db.AddUser(ctx, string(role)+"@matrix.example", role, hash); err != nil {
			t.Fatal(err)
		}
		e.sessions[role] = e.signIn(t, role)
	}
	secret, tok, err := db.CreateToken(ctx, "matrix-revoked", auth.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	e.revoked = secret
	for _, src := range auth.KeySources {
		k, _, err := db.CreateIntegrationKey(ctx, "matrix-"+src, src, "test")
		if err != nil {
			t.Fatal(err)
		}
		e.keys[src] = k
	}
	// Things for the admin rows to act on, apart from the credentials
	// above, so that revoking or demoting them changes nothing else.
	_, spareTok, err := db.CreateToken(ctx, "spare", auth.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	_, spareKey, err := db.CreateIntegrationKey(ctx, "spare", auth.SourceAPI, "test")
	if err != nil {
		t.Fatal(err)
	}
	spareUser, err := db.AddUser(ctx, "spare@matrix.example", auth.RoleViewer, hash)
	if err != nil {
		t.Fatal(err)
	}
	e.fixtures["{spare-token}"] = itoa(spareTok.ID)
	e.fixtures["{spare-key}"] = itoa(spareKey.ID)
	e.fixtures["{spare-user}"] = itoa(spareUser.ID)

	res, err := a.Pipeline.Submit(ctx, "matrix", []alert.Alert{{Source: "matrix", SourceID: "a1", Title: "fixture", Severity: alert.SeverityHigh}})
	if err != nil || len(res) != 1 {
		t.Fatalf("ingest the fixture alert: %v, %v", res, err)
	}
	e.fixtures["{alert}"] = itoa(res[0].AlertID)
	res2, err := a.Pipeline.Submit(ctx, "matrix", []alert.Alert{{Source: "matrix", SourceID: "a2", Title: "to triage", Severity: alert.SeverityLow}})
	if err != nil || len(res2) != 1 {
		t.Fatalf("ingest the triage fixture: %v, %v", res2, err)
	}
	e.fixtures["{triage-item}"] = itoa(res2[0].WorkItemID)
	e.fixtures["{item}"] = itoa(res[0].WorkItemID)
	inc, err := db.UpsertIncident(ctx, workitem.DefaultProcess(), "matrix", alert.Incident{Source: "matrix", SourceID: "i1", Title: "fixture"})
	if err != nil {
		t.Fatalf("upsert the fixture incident: %v", err)
	}
	e.fixtures["{incident}"] = itoa(inc.IncidentID)
	task, err := db.AddTask(ctx, workitem.Task{WorkItemID: res[0].WorkItemID, Title: "fixture"}, "matrix")
	if err != nil {
		t.Fatalf("add the fixture task: %v", err)
	}
	e.fixtures["{task}"] = itoa(task.ID)
	e.setupOnCall(t, ctx, a)

	// The static files' path carries a content tag; the sign-in page
	// links to it.
	r := e.send(t, "GET", "/login", "", nil)
	m := regexp.MustCompile(`/static/([0-9a-f]+)/app\.css`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no stylesheet link on the sign-in page: %.300s", r.body)
	}
	e.fixtures["{asset}"] = m[1]
}

// setupOnCall makes what the on-call rows act on: a team, a schedule, a
// policy and a service named matrix; two items with a page each (one for
// the API, one for the acknowledgement link); a calendar feed; contact
// methods.
func (e *matrixEnv) setupOnCall(t *testing.T, ctx context.Context, a *App) {
	t.Helper()
	defs := []struct{ kind, body string }{
		{paging.KindTeam, `{"members":["responder@matrix.example"]}`},
		{paging.KindSchedule, `{"time_zone":"UTC","layers":[{"name":"l1","type":"daily","start":"2026-01-01T09:00",
			"time_zone":"UTC","participants":["responder@matrix.example","admin@matrix.example"]}]}`},
		{paging.KindPolicy, `{"repeat":0,"steps":[{"delay_minutes":5,"targets":[{"type":"schedule","name":"matrix"}]},
			{"delay_minutes":5,"targets":[{"type":"team","name":"matrix"}]}]}`},
		{paging.KindService, `{"policy":"matrix","urgency":"high"}`},
	}
	for _, d := range defs {
		if _, _, err := a.Pager.Put(ctx, auth.System, d.kind, "matrix", []byte(d.body)); err != nil {
			t.Fatalf("put %s matrix: %v", d.kind, err)
		}
	}
	for i, name := range []string{"{page}", "{ack-page}"} {
		res, err := a.Pipeline.Submit(ctx, "matrix", []alert.Alert{{Source: "matrix", SourceID: fmt.Sprintf("p%d", i), Title: "paged", Severity: alert.SeverityHigh}})
		if err != nil || len(res) != 1 {
			t.Fatalf("ingest a paged fixture: %v, %v", res, err)
		}
		p, _, err := a.Pager.Trigger(ctx, auth.System, res[0].WorkItemID, "matrix", "", "")
		if err != nil {
			t.Fatalf("page the fixture: %v", err)
		}
		e.fixtures[name] = itoa(p.ID)
		if name == "{page}" {
			e.fixtures["{page-item}"] = itoa(res[0].WorkItemID)
		}
	}
	ackPage, _ := strconv.ParseInt(e.fixtures["{ack-page}"], 10, 64)
	tok, err := a.Pager.LinkToken(ctx, ackPage, "responder@matrix.example")
	if err != nil {
		t.Fatal(err)
	}
	e.fixtures["{ack}"] = tok
	feed, _, err := a.Pager.CalendarFeed(ctx, auth.System, paging.KindSchedule, "matrix")
	if err != nil {
		t.Fatal(err)
	}
	e.fixtures["{feed}"] = feed
	for i, name := range []string{"{cm}", "{spare-cm}"} {
		cm, err := a.Pager.AddContactMethod(ctx, auth.System, store.ContactMethod{User: "viewer@matrix.example", Type: "email",
			Value: fmt.Sprintf("viewer+%d@matrix.example", i)})
		if err != nil {
			t.Fatal(err)
		}
		e.fixtures[name] = itoa(cm.ID)
	}
}

func (e *matrixEnv) signIn(t *testing.T, role auth.Role) string {
	t.Helper()
	tok, _, err := e.accounts.SignIn(context.Background(), string(role)+"@matrix.example", matrixPassword, account.Meta{IP: "192.0.2.1"})
	if err != nil {
		t.Fatalf("sign in as %s: %v", role, err)
	}
	return tok
}

type matrixResp struct {
	code  int
	loc   string
	body  string
	flash string // the flash message's cookie, decoded
}

// send runs one request through the handler. setup adds the credential.
func (e *matrixEnv) send(t *testing.T, method, path, body string, setup func(*http.Request)) matrixResp {
	t.Helper()
	// Live-update streams and profiles end with the request's context.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if path == "/events" {
		ctx, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
	}
	var rd io.Reader
	if method != "GET" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequestWithContext(ctx, method, path, rd)
	if method != "GET" {
		ct := "application/json"
		if !strings.HasPrefix(path, "/api/") && path != "/v2/enqueue" {
			ct = "application/x-www-form-urlencoded"
		}
		req.Header.Set("Content-Type", ct)
	}
	if setup != nil {
		setup(req)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	res := matrixResp{code: w.Code, loc: w.Header().Get("Location"), body: w.Body.String()}
	for _, c := range w.Result().Cookies() {
		if c.Name == "vigil_flash" {
			b, _ := base64.RawURLEncoding.DecodeString(c.Value)
			res.flash = string(b)
		}
	}
	return res
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// isUI reports whether a route belongs to the web interface, which takes
// sessions, rather than to the API, which takes tokens.
func isUI(pattern string) bool {
	_, path, _ := strings.Cut(pattern, " ")
	if path == "" {
		path = pattern
	}
	for _, p := range []string{"/api/", "/v2/", "/debug/", "/healthz", "/readyz", "/metrics"} {
		if strings.HasPrefix(path, p) {
			return false
		}
	}
	return true
}

// keySource is the sender whose integration key a route takes; "" for
// routes that take none.
func keySource(pattern string) string {
	switch pattern {
	case "POST /api/v2/alerts", "POST /api/v1/webhooks/alertmanager":
		return auth.SourceAlertmanager
	case "POST /v2/enqueue":
		return auth.SourcePagerDuty
	case "POST /api/v1/webhooks/azure-monitor":
		return auth.SourceAzureMonitor
	case "POST /api/v1/alerts", "POST /api/v1/incidents":
		return auth.SourceAPI
	}
	return ""
}

func TestAuthzMatrix(t *testing.T) {
	e := newMatrixEnv(t)
	rows := matrix()

	// Every registered route has a row, and every row a route.
	have := map[string]bool{}
	for _, r := range rows {
		if have[r.pattern] {
			t.Errorf("two rows for %q", r.pattern)
		}
		have[r.pattern] = true
	}
	for _, p := range e.routes {
		if !have[p] {
			t.Errorf("route %q has no row in the authorization matrix: add one with the outcome for each credential", p)
		}
	}
	for _, r := range rows {
		if !slices.Contains(e.routes, r.pattern) {
			t.Errorf("row %q names no registered route", r.pattern)
		}
	}

	discover := os.Getenv("VIGIL_MATRIX_DISCOVER") != ""
	for _, r := range rows {
		want := strings.Fields(r.cells)
		if len(want) != len(columns) {
			t.Errorf("row %q has %d cells, want %d", r.pattern, len(want), len(columns))
			continue
		}
		var got []string
		for i, col := range columns {
			for _, c := range e.credentials(t, r, col) {
				res := e.try(t, r, c)
				if discover {
					got = append(got, fmt.Sprintf("%d%s", res.code, map[bool]string{true: ">" + res.loc}[res.loc != ""]))
				}
				if err := check(want[i], res); err != nil {
					t.Errorf("%s as %s: %v", r.pattern, c.name, err)
				}
				if r.check != nil {
					r.check(t, e, col, res)
				}
			}
		}
		if discover {
			t.Logf("%-45s %s", r.pattern, strings.Join(got, " "))
		}
		// Another sender's key is no credential here at all.
		if src := keySource(r.pattern); src != "" {
			for _, other := range auth.KeySources {
				if other == src {
					continue
				}
				c := credential{name: other + " key", bearer: e.keys[other], secret: e.keys[other]}
				if err := check(want[0], e.try(t, r, c)); err != nil {
					t.Errorf("%s as %s (refused like no credential): %v", r.pattern, c.name, err)
				}
			}
		}
	}

	// The Boards hook with its own basic credentials gets in.
	res := e.send(t, "POST", "/api/v1/hooks/devops", `{}`, func(req *http.Request) { req.SetBasicAuth(e.hookUser, e.hookPass) })
	if res.code == http.StatusUnauthorized || res.code == http.StatusForbidden || res.code >= 500 {
		t.Errorf("POST /api/v1/hooks/devops with the hook's credentials: status %d, want it let in", res.code)
	}
	// The Jira webhook signed with its secret gets in (and is answered
	// for its body: an issue vigil does not mirror).
	jiraBody := `{"webhookEvent":"jira:issue_updated","issue":{"key":"SEC-1","fields":{}},"changelog":{"items":[{"field":"status","toString":"Done"}]}}`
	res = e.send(t, "POST", "/api/v1/webhooks/jira", jiraBody, func(req *http.Request) {
		req.Header.Set(jira.SignatureHeader, fmt.Sprintf("sha256=%x", jira.Sign(jiraMatrixSecret, []byte(jiraBody))))
	})
	if res.code != http.StatusOK {
		t.Errorf("POST /api/v1/webhooks/jira signed with the secret: status %d, want 200", res.code)
	}
}

// credential is one way of presenting a column's credential.
type credential struct {
	name    string
	session string // a UI session cookie
	bearer  string // an API token or key as a Bearer header
	secret  string // the secret for the route's own place (routing_key)
}

// credentials returns how column col is tried on row r: once, or for the
// key column on a route that takes no key, once per key (each must be
// refused alike).
func (e *matrixEnv) credentials(t *testing.T, r matrixRow, col string) []credential {
	t.Helper()
	ui := isUI(r.pattern)
	role := map[string]auth.Role{"viewer": auth.RoleViewer, "responder": auth.RoleResponder, "admin": auth.RoleAdmin}[col]
	switch {
	case col == "none":
		return []credential{{name: col}}
	case role != "" && ui:
		s := e.sessions[role]
		if r.fresh {
			s = e.signIn(t, role)
		}
		return []credential{{name: col + " session", session: s}}
	case role != "":
		return []credential{{name: col + " token", bearer: e.tokens[role], secret: e.tokens[role]}}
	case col == "revoked":
		return []credential{{name: "revoked token", bearer: e.revoked, secret: e.revoked}}
	}
	if src := keySource(r.pattern); src != "" {
		return []credential{{name: src + " key", bearer: e.keys[src], secret: e.keys[src]}}
	}
	var out []credential
	for _, src := range auth.KeySources {
		out = append(out, credential{name: src + " key", bearer: e.keys[src], secret: e.keys[src]})
	}
	return out
}

// try sends row r's request with credential c.
func (e *matrixEnv) try(t *testing.T, r matrixRow, c credential) matrixResp {
	t.Helper()
	method, _, ok := strings.Cut(r.pattern, " ")
	if !ok {
		method = "GET" // a catch-all
	}
	path, body := r.path, r.body
	for k, v := range e.fixtures {
		path, body = strings.ReplaceAll(path, k, v), strings.ReplaceAll(body, k, v)
	}
	if r.cred == "body" {
		body = strings.ReplaceAll(body, "{KEY}", c.secret)
	}
	return e.send(t, method, path, body, func(req *http.Request) {
		if c.session != "" {
			req.AddCookie(&http.Cookie{Name: "vigil_session", Value: c.session})
			if method != "GET" {
				req.Header.Set("X-CSRF-Token", account.CSRFToken(c.session))
			}
		}
		if c.bearer != "" && r.cred == "" {
			req.Header.Set("Authorization", "Bearer "+c.bearer)
		}
	})
}

// check compares a response with a cell's outcome.
func check(want string, r matrixResp) error {
	switch {
	case want == "2xx":
		if r.code/100 == 2 {
			return nil
		}
	case want == "ok":
		if r.code != 401 && r.code != 403 && r.code < 500 && !strings.HasPrefix(r.loc, "/login") {
			return nil
		}
	case strings.Contains(want, ">"):
		code, loc, _ := strings.Cut(want, ">")
		if itoa(int64(r.code)) == code && strings.HasPrefix(r.loc, loc) {
			return nil
		}
	default:
		if itoa(int64(r.code)) == want {
			return nil
		}
	}
	if _, err := url.Parse(r.loc); err == nil && r.loc != "" {
		return fmt.Errorf("got %d → %s, want %s", r.code, r.loc, want)
	}
	b := r.body
	if len(b) > 200 {
		b = b[:200] + "…"
	}
	return fmt.Errorf("got %d %s, want %s", r.code, strings.TrimSpace(b), want)
}

// TestAuthzMatrixCatchesNewRoutes checks the matrix's own guard: a route
// registered without a row is reported.
func TestAuthzMatrixCatchesNewRoutes(t *testing.T) {
	srv := web.New(web.Options{UI: extraPages{}})
	if !slices.Contains(srv.Routes(), "GET /matrix-extra") {
		t.Fatalf("Routes() = %v, want it to list the pattern the pages registered", srv.Routes())
	}
	rows := map[string]bool{}
	for _, r := range matrix() {
		rows[r.pattern] = true
	}
	if rows["GET /matrix-extra"] {
		t.Fatal("the matrix has a row for the test's extra route")
	}
}

// extraPages registers one route the matrix does not know.
type extraPages struct{}

func (extraPages) Register(mux web.Mux) {
	mux.HandleFunc("GET /matrix-extra", func(w http.ResponseWriter, r *http.Request) {})
}
