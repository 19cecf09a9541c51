package web

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/oncall"
	"github.com/vigil-soc/vigil/internal/paging"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/validation"
)

// Pager is on-call (internal/paging.Pager).
type Pager interface {
	Put(ctx context.Context, actor auth.Actor, kind, name string, raw json.RawMessage) (store.OnCallDef, bool, error)
	Get(ctx context.Context, actor auth.Actor, kind, name string) (store.OnCallDef, error)
	List(ctx context.Context, actor auth.Actor, kind string) ([]store.OnCallDef, error)
	Delete(ctx context.Context, actor auth.Actor, kind, name string) error
	WhoIsOnCall(ctx context.Context, actor auth.Actor, at time.Time) ([]paging.OnCall, error)
	Shifts(ctx context.Context, actor auth.Actor, name string, from, to time.Time) ([]oncall.Shift, error)
	CalendarFeed(ctx context.Context, actor auth.Actor, kind, name string) (string, store.CalendarFeed, error)
	CalendarICS(ctx context.Context, token string) ([]byte, error)

	Trigger(ctx context.Context, actor auth.Actor, itemID int64, service, urgency, groupKey string) (store.Page, bool, error)
	Pages(ctx context.Context, actor auth.Actor, f store.PageFilter) ([]store.Page, error)
	Page(ctx context.Context, actor auth.Actor, id int64) (store.Page, error)
	Acknowledge(ctx context.Context, actor auth.Actor, id int64, responder string) (store.Page, error)
	Resolve(ctx context.Context, actor auth.Actor, id int64) (store.Page, error)
	Escalate(ctx context.Context, actor auth.Actor, id int64) (store.Page, error)
	Reassign(ctx context.Context, actor auth.Actor, id int64, user string) (store.Page, error)
	CheckLink(ctx context.Context, token string) (paging.Link, error)
	Beat(ctx context.Context, actor auth.Actor, name string) error

	AddContactMethod(ctx context.Context, actor auth.Actor, c store.ContactMethod) (paging.NewContactMethod, error)
	VerifyContactMethod(ctx context.Context, actor auth.Actor, id int64, code string) (store.ContactMethod, error)
	ContactMethods(ctx context.Context, actor auth.Actor, user string) ([]store.ContactMethod, error)
	DeleteContactMethod(ctx context.Context, actor auth.Actor, id int64) error
	SetNotificationRules(ctx context.Context, actor auth.Actor, user string, rules []store.NotificationRule) ([]store.NotificationRule, error)
	NotificationRules(ctx context.Context, actor auth.Actor, user string) ([]store.NotificationRule, error)
	TestContactMethod(ctx context.Context, actor auth.Actor, id int64) (string, error)
	NotificationLog(ctx context.Context, actor auth.Actor, f store.NotificationFilter) ([]store.NotificationLogEntry, error)

	// Phone replies and provider callbacks (see twilio.go).
	Seen(ctx context.Context, provider, key string) (bool, error)
	Reply(ctx context.Context, from, body string) (string, error)
	Press(ctx context.Context, token, digits string) (string, error)
	Action(ctx context.Context, typ, value string, pageID int64, action string) (string, error)
	DeliveryStatus(ctx context.Context, provider, providerID, status, errText string) error
}

func (s *Server) pagerOff(w http.ResponseWriter) bool {
	if s.pager == nil {
		writeError(w, http.StatusNotFound, "not_found", "on-call is not enabled on this server", nil)
		return true
	}
	return false
}

// onCallKinds maps the URL's plural to the stored kind.
var onCallKinds = map[string]string{"schedules": paging.KindSchedule, "policies": paging.KindPolicy,
	"services": paging.KindService, "teams": paging.KindTeam, "heartbeats": paging.KindHeartbeat}

func kindOf(w http.ResponseWriter, r *http.Request) (string, bool) {
	k, ok := onCallKinds[r.PathValue("kind")]
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "no on-call collection "+r.PathValue("kind")+" (schedules, policies, services, teams)", nil)
	}
	return k, ok
}

func actorOf(r *http.Request) auth.Actor { return auth.FromContext(r.Context()) }

func (s *Server) listOnCall(w http.ResponseWriter, r *http.Request) {
	kind, ok := kindOf(w, r)
	if s.pagerOff(w) || !ok {
		return
	}
	ds, err := s.pager.List(r.Context(), actorOf(r), kind)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": ds})
}

func (s *Server) getOnCall(w http.ResponseWriter, r *http.Request) {
	kind, ok := kindOf(w, r)
	if s.pagerOff(w) || !ok {
		return
	}
	d, err := s.pager.Get(r.Context(), actorOf(r), kind, r.PathValue("name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) putOnCall(w http.ResponseWriter, r *http.Request) {
	kind, ok := kindOf(w, r)
	if s.pagerOff(w) || !ok {
		return
	}
	var raw json.RawMessage
	if err := decodeJSON(w, r, &raw); err != nil {
		s.fail(w, r, err)
		return
	}
	d, created, err := s.pager.Put(r.Context(), actorOf(r), kind, r.PathValue("name"), raw)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	writeJSON(w, code, d)
}

func (s *Server) deleteOnCall(w http.ResponseWriter, r *http.Request) {
	kind, ok := kindOf(w, r)
	if s.pagerOff(w) || !ok {
		return
	}
	if err := s.pager.Delete(r.Context(), actorOf(r), kind, r.PathValue("name")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// timeParam reads an RFC 3339 query parameter, def when absent.
func timeParam(r *http.Request, name string, def time.Time) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, validation.NewFieldError(name, "must be an RFC 3339 time such as 2026-12-05T09:00:00Z")
	}
	return t, nil
}

func (s *Server) onCallNow(w http.ResponseWriter, r *http.Request) {
	if s.pagerOff(w) {
		return
	}
	at, err := timeParam(r, "at", s.clock.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	oc, err := s.pager.WhoIsOnCall(r.Context(), actorOf(r), at)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"at": at.UTC(), "schedules": oc})
}

func (s *Server) scheduleShifts(w http.ResponseWriter, r *http.Request) {
	if s.pagerOff(w) {
		return
	}
	now := s.clock.Now()
	from, err := timeParam(r, "from", now)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	to, err := timeParam(r, "to", from.Add(7*24*time.Hour))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sh, err := s.pager.Shifts(r.Context(), actorOf(r), r.PathValue("name"), from, to)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"schedule": r.PathValue("name"), "from": from.UTC(), "to": to.UTC(), "shifts": sh})
}

// createFeed answers POST /api/v1/oncall/feeds {"kind": "user"|"schedule",
// "name": ...} with the feed's secret URL, shown this once.
func (s *Server) createFeed(w http.ResponseWriter, r *http.Request) {
	if s.pagerOff(w) {
		return
	}
	var body struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	token, f, err := s.pager.CalendarFeed(r.Context(), actorOf(r), body.Kind, body.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"feed": f, "path": "/api/v1/calendar/" + token + ".ics"})
}

// calendar serves an iCalendar feed; its secret path is the credential.
func (s *Server) calendar(w http.ResponseWriter, r *http.Request) {
	if s.pagerOff(w) {
		return
	}
	token := strings.TrimSuffix(r.PathValue("token"), ".ics")
	b, err := s.pager.CalendarICS(r.Context(), token)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Header().Set("Cache-Control", "private, max-age=300")
	w.Write(b)
}

func (s *Server) listPages(w http.ResponseWriter, r *http.Request) {
	if s.pagerOff(w) {
		return
	}
	f := store.PageFilter{}
	if st := r.URL.Query().Get("state"); st != "" {
		for _, v := range strings.Split(st, ",") {
			switch v {
			case store.PageTriggered, store.PageAcknowledged, store.PageResolved:
				f.States = append(f.States, v)
			default:
				s.fail(w, r, validation.NewFieldError("state", "must be triggered, acknowledged or resolved"))
				return
			}
		}
	}
	ps, err := s.pager.Pages(r.Context(), actorOf(r), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"pages": ps})
}

func (s *Server) createPage(w http.ResponseWriter, r *http.Request) {
	if s.pagerOff(w) {
		return
	}
	var body struct {
		WorkItemID int64  `json:"workitem_id"`
		Service    string `json:"service"`
		Urgency    string `json:"urgency"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if body.WorkItemID <= 0 {
		s.fail(w, r, validation.NewFieldError("workitem_id", "is required"))
		return
	}
	p, created, err := s.pager.Trigger(r.Context(), actorOf(r), body.WorkItemID, body.Service, body.Urgency, "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if p.ID == 0 {
		writeError(w, http.StatusConflict, "conflict", "no page: the service is in a maintenance window (see the item's timeline)", nil)
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	writeJSON(w, code, p)
}

func (s *Server) getPage(w http.ResponseWriter, r *http.Request) {
	if s.pagerOff(w) {
		return
	}
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.pager.Page(r.Context(), actorOf(r), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) pageAction(w http.ResponseWriter, r *http.Request) {
	if s.pagerOff(w) {
		return
	}
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var body struct {
		User string `json:"user"`
	}
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, &body); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	actor := actorOf(r)
	var p store.Page
	switch r.PathValue("action") {
	case "acknowledge":
		p, err = s.pager.Acknowledge(r.Context(), actor, id, body.User)
	case "resolve":
		p, err = s.pager.Resolve(r.Context(), actor, id)
	case "escalate":
		p, err = s.pager.Escalate(r.Context(), actor, id)
	case "reassign":
		p, err = s.pager.Reassign(r.Context(), actor, id, body.User)
	default:
		writeError(w, http.StatusNotFound, "not_found", "no page action "+r.PathValue("action")+" (acknowledge, resolve, escalate, reassign)", nil)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) listContactMethods(w http.ResponseWriter, r *http.Request) {
	if s.pagerOff(w) {
		return
	}
	cs, err := s.pager.ContactMethods(r.Context(), actorOf(r), r.PathValue("user"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"contact_methods": cs})
}

func (s *Server) addContactMethod(w http.ResponseWriter, r *http.Request) {
	if s.pagerOff(w) {
		return
	}
	// Only what a client may set: decoding into store.ContactMethod took
	// "verified_at" too, and the answer then showed an unverified method
	// as verified.
	var body struct {
		Type  string `json:"type"`
		Value string `json:"value"`
		Name  string `json:"name"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	c := store.ContactMethod{User: r.PathValue("user"), Type: body.Type, Value: body.Value, Name: body.Name}
	added, err := s.pager.AddContactMethod(r.Context(), actorOf(r), c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, added)
}

func (s *Server) verifyContactMethod(w http.ResponseWriter, r *http.Request) {
	if s.pagerOff(w) {
		return
	}
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var body struct {
		Code string `json:"code"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.pager.VerifyContactMethod(r.Context(), actorOf(r), id, body.Code)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) deleteContactMethod(w http.ResponseWriter, r *http.Request) {
	if s.pagerOff(w) {
		return
	}
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.pager.DeleteContactMethod(r.Context(), actorOf(r), id); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getNotificationRules(w http.ResponseWriter, r *http.Request) {
	if s.pagerOff(w) {
		return
	}
	rs, err := s.pager.NotificationRules(r.Context(), actorOf(r), r.PathValue("user"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"rules": rs})
}

func (s *Server) putNotificationRules(w http.ResponseWriter, r *http.Request) {
	if s.pagerOff(w) {
		return
	}
	var body struct {
		Rules []struct {
			ContactMethodID int64 `json:"contact_method_id"`
			DelayMinutes    int   `json:"delay_minutes"`
		} `json:"rules"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	rules := make([]store.NotificationRule, len(body.Rules))
	for i, x := range body.Rules {
		rules[i] = store.NotificationRule{ContactMethodID: x.ContactMethodID, DelayMinutes: x.DelayMinutes}
	}
	rs, err := s.pager.SetNotificationRules(r.Context(), actorOf(r), r.PathValue("user"), rules)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"rules": rs})
}

// The acknowledgement page: a notification's link opens it without
// signing in. GET only shows the page and a button; the POST acts, so a
// mail scanner that follows links acknowledges nothing.
var ackPage = template.Must(template.New("ack").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>Page #{{.Page.ID}} · vigil</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem}button{font-size:1.1rem;padding:.6rem 1.2rem;margin-right:.5rem}.muted{color:#555}</style>
</head><body>
<h1>Page #{{.Page.ID}}: {{.Page.Title}}</h1>
<p>Service <strong>{{.Page.Service}}</strong>, {{.Page.Urgency}} urgency, severity {{.Page.Severity}}. State: <strong id="state">{{.Page.State}}</strong>{{if .Page.AckBy}}, acknowledged by {{.Page.AckBy}}{{end}}.</p>
{{if .Done}}<p id="done">{{.Done}}</p>{{end}}
{{if .Err}}<p id="error" role="alert">{{.Err}}</p>{{end}}
{{if ne .Page.State "resolved"}}<form method="post">
{{if eq .Page.State "triggered"}}<button name="action" value="acknowledge" id="ack">Acknowledge as {{.User}}</button>{{end}}
<button name="action" value="resolve" id="resolve">Resolve</button>
</form>{{end}}
<p class="muted">Opening this link does nothing by itself. <a href="/items/{{.Page.WorkItemID}}">Open the work item</a> (sign-in needed).</p>
</body></html>`))

type ackView struct {
	Page      store.Page
	User      string
	Done, Err string
}

func (s *Server) ackLink(w http.ResponseWriter, r *http.Request) {
	if s.pagerOff(w) {
		return
	}
	ctx := r.Context()
	link, err := s.pager.CheckLink(ctx, r.PathValue("token"))
	if err != nil {
		if !errors.Is(err, paging.ErrBadLink) {
			// Reading the signing key failed: the database's error
			// is logged, not shown to whoever holds the link.
			s.fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, err.Error()+"\n")
		return
	}
	responder := auth.Actor{Kind: "user", Name: link.User, Role: auth.RoleResponder}
	v := ackView{User: link.User}
	if r.Method == http.MethodPost {
		var p store.Page
		switch r.FormValue("action") {
		case "acknowledge":
			p, err = s.pager.Acknowledge(ctx, responder, link.Page, link.User)
			v.Done = "Acknowledged: the escalation has stopped, and the work item is yours."
		case "resolve":
			p, err = s.pager.Resolve(ctx, responder, link.Page)
			v.Done = "Resolved."
		default:
			err = validation.NewFieldError("action", "must be acknowledge or resolve")
		}
		if err != nil && !refusal(err) {
			s.fail(w, r, err) // logged; its text is not for the page
			return
		}
		if err != nil {
			v.Done, v.Err = "", err.Error()
		} else {
			v.Page = p
		}
	}
	if v.Page.ID == 0 {
		if v.Page, err = s.pager.Page(ctx, auth.System, link.Page); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if v.Err != "" {
		w.WriteHeader(http.StatusConflict)
	}
	ackPage.Execute(w, v)
}

// refusal reports whether err says why an action is not allowed (shown
// on the acknowledgement page), rather than that something broke.
func refusal(err error) bool {
	var fe *validation.FieldError
	var ce *validation.ConflictError
	var fbe *validation.ForbiddenError
	return errors.As(err, &fe) || errors.As(err, &ce) || errors.As(err, &fbe) || errors.Is(err, validation.ErrNotFound)
}

// beat answers POST /api/v1/heartbeats/{name}: a heartbeat monitor's
// sender checking in.
func (s *Server) beat(w http.ResponseWriter, r *http.Request) {
	if s.pagerOff(w) {
		return
	}
	if err := s.pager.Beat(r.Context(), actorOf(r), r.PathValue("name")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
