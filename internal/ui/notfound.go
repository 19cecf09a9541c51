package ui

import (
	"net/http"
	"strings"

	"github.com/vigil-soc/vigil/internal/account"
)

// adminHome is the first admin page, where /admin leads.
const adminHome = "/admin/process"

// notFound answers a path no route serves with the styled error page,
// with the navigation when the request carries a valid session. A path
// that another method serves gets 405 and an Allow header instead, as
// the mux would answer without a catch-all.
func (u *UI) notFound(mux Mux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, msg := http.StatusNotFound, "There is no page at "+r.URL.Path+"."
		if allow := allowedMethods(mux, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			code, msg = http.StatusMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+strings.Join(allow, ", ")+"."
		}
		if isScript(r) || r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, msg, code)
			return
		}
		v := u.optionalView(r)
		v.Title, v.Error = http.StatusText(code), msg
		u.render(w, code, "error.html", v)
	})
}

// allowedMethods lists the methods some route other than the catch-all
// serves r's path with.
func allowedMethods(mux Mux, r *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	return allow
}

// optionalView is the view of a page that needs no session: signed in,
// it shows the navigation; signed out, a bare page.
func (u *UI) optionalView(r *http.Request) *view {
	v := &view{Asset: "/static/" + u.assetTag, Version: u.o.Version, req: r}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return v
	}
	if _, actor, err := u.o.Accounts.Session(r.Context(), c.Value); err == nil {
		v.Actor, v.CSRF = actor, account.CSRFToken(c.Value)
	}
	return v
}
