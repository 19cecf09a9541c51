package ui

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/twoway"
	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// The admin pages. Each operation is checked by the domain service; the
// page checks first only to show a clear 403 instead of a half-empty page.

func (u *UI) admin(w http.ResponseWriter, r *http.Request, v *view) bool {
	if err := v.Actor.Check(auth.ActionAdmin); err != nil {
		u.fail(w, r, v, err)
		return false
	}
	return true
}

type processData struct {
	Process *workitem.Process
	Moves   map[string][]move
	Types   []typeRow
}

type typeRow struct{ Source, Type string }

func (u *UI) adminProcess(w http.ResponseWriter, r *http.Request, v *view) {
	if !u.admin(w, r, v) {
		return
	}
	p := u.o.Items.Process()
	d := processData{Process: p, Moves: u.moves()}
	for src, t := range p.Types {
		d.Types = append(d.Types, typeRow{src, string(t)})
	}
	sortRows(d.Types)
	v.Title, v.Nav, v.Data = "Process", "admin", d
	u.render(w, http.StatusOK, "process.html", v)
}

// sortRows orders sources by name, with "default" last.
func sortRows(rows []typeRow) {
	slices.SortFunc(rows, func(a, b typeRow) int {
		if (a.Source == "default") != (b.Source == "default") {
			if a.Source == "default" {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Source, b.Source)
	})
}

type connectorsData struct {
	Enabled bool
	Modules []twoway.Status
	Outbox  []store.OutboxStat
}

// adminConnectors shows what the sync engine last did. It reads only what
// the engine recorded and the outbox table: no page waits on an external
// API.
func (u *UI) adminConnectors(w http.ResponseWriter, r *http.Request, v *view) {
	if !u.admin(w, r, v) {
		return
	}
	d := connectorsData{Enabled: u.o.Connectors != nil}
	if u.o.Connectors != nil {
		d.Modules = u.o.Connectors()
	}
	var err error
	if d.Outbox, err = u.o.Records.OutboxStats(r.Context()); err != nil {
		u.fail(w, r, v, err)
		return
	}
	v.Title, v.Nav, v.Data = "Connector health", "admin", d
	u.render(w, http.StatusOK, "connectors.html", v)
}

type usersData struct {
	Users    []store.User
	Tokens   []store.Token
	Roles    []auth.Role
	NewToken string
	NewName  string
}

var roles = []auth.Role{auth.RoleViewer, auth.RoleResponder, auth.RoleAdmin}

func (u *UI) adminUsers(w http.ResponseWriter, r *http.Request, v *view) {
	u.renderUsers(w, r, v, http.StatusOK, "", "")
}

func (u *UI) renderUsers(w http.ResponseWriter, r *http.Request, v *view, code int, newToken, newName string) {
	if !u.admin(w, r, v) {
		return
	}
	users, err := u.o.Accounts.Users(r.Context(), v.Actor)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	tokens, err := u.o.Accounts.Tokens(r.Context(), v.Actor)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	if v.Flash == "" {
		v.Flash = u.takeFlash(w, r).Text
	}
	v.Title, v.Nav = "Users and API tokens", "admin"
	v.Data = usersData{Users: users, Tokens: tokens, Roles: roles, NewToken: newToken, NewName: newName}
	u.render(w, code, "users.html", v)
}

// done shows msg once on the users page.
func (u *UI) done(w http.ResponseWriter, r *http.Request, msg string) {
	u.setFlash(w, r, flash{Text: msg})
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
}

func (u *UI) adminAddUser(w http.ResponseWriter, r *http.Request, v *view) {
	role, err := auth.ParseRole(r.PostFormValue("role"))
	var usr store.User
	if err == nil {
		usr, err = u.o.Accounts.AddUser(r.Context(), v.Actor, r.PostFormValue("email"), role, r.PostFormValue("password"))
	}
	if err != nil {
		u.formError(w, r, v, err)
		return
	}
	u.done(w, r, "Added "+usr.Email+" as "+string(usr.Role)+".")
}

// formError shows the users page again with the error, for a form that
// failed validation.
func (u *UI) formError(w http.ResponseWriter, r *http.Request, v *view, err error) {
	code, msg := errorStatus(err)
	if code >= 500 {
		u.fail(w, r, v, err)
		return
	}
	v.Error = msg
	u.renderUsers(w, r, v, code, "", "")
}

func (u *UI) adminUpdateUser(w http.ResponseWriter, r *http.Request, v *view) {
	id, err := pathID(r, "id")
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	var usr store.User
	switch {
	case r.PostFormValue("role") != "":
		var role auth.Role
		if role, err = auth.ParseRole(r.PostFormValue("role")); err == nil {
			usr, err = u.o.Accounts.SetRole(r.Context(), v.Actor, id, role)
		}
	case r.PostFormValue("disabled") != "":
		var disabled bool
		if disabled, err = strconv.ParseBool(r.PostFormValue("disabled")); err != nil {
			err = validation.NewFieldError("disabled", "must be true or false")
		} else {
			usr, err = u.o.Accounts.SetDisabled(r.Context(), v.Actor, id, disabled)
		}
	}
	if err != nil {
		u.formError(w, r, v, err)
		return
	}
	state := "enabled"
	if usr.Disabled {
		state = "disabled"
	}
	u.done(w, r, "Updated "+usr.Email+": "+string(usr.Role)+", "+state+".")
}

func (u *UI) adminCreateToken(w http.ResponseWriter, r *http.Request, v *view) {
	role, err := auth.ParseRole(r.PostFormValue("role"))
	var secret string
	var tok store.Token
	if err == nil {
		secret, tok, err = u.o.Accounts.CreateToken(r.Context(), v.Actor, r.PostFormValue("name"), role)
	}
	if err != nil {
		u.formError(w, r, v, err)
		return
	}
	// The secret is shown once, on this response, and never stored.
	v.Flash = "Created token " + tok.Name + ". Copy it now: it will not be shown again."
	u.renderUsers(w, r, v, http.StatusOK, secret, tok.Name)
}

func (u *UI) adminRevokeToken(w http.ResponseWriter, r *http.Request, v *view) {
	id, err := pathID(r, "id")
	if err == nil {
		err = u.o.Accounts.RevokeToken(r.Context(), v.Actor, id)
	}
	if err != nil {
		u.formError(w, r, v, err)
		return
	}
	u.done(w, r, "Revoked the token.")
}
