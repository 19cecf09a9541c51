package ui

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/account"
)

type loginData struct {
	Email   string
	Next    string
	SSO     bool
	SSOName string
}

// safeNext keeps a post-sign-in redirect on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/board"
	}
	return next
}

func (u *UI) loginView(r *http.Request) *view {
	return &view{Title: "Sign in", Asset: "/static/" + u.assetTag, Version: u.o.Version, req: r}
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	v := u.loginView(r)
	if msg := r.URL.Query().Get("error"); msg != "" {
		v.Error = msg
	}
	if r.URL.Query().Get("signed_out") == "1" {
		v.Flash = "You have signed out."
	}
	v.Data = loginData{Next: safeNext(r.URL.Query().Get("next")), SSO: u.o.SSO != nil, SSOName: u.o.SSOName}
	u.render(w, http.StatusOK, "login.html", v)
}

func meta(r *http.Request) account.Meta {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	ua := r.UserAgent()
	if len(ua) > 256 {
		ua = ua[:256]
	}
	return account.Meta{UserAgent: ua, IP: ip}
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	email, password := r.PostFormValue("email"), r.PostFormValue("password")
	next := safeNext(r.PostFormValue("next"))
	token, _, err := u.o.Accounts.SignIn(r.Context(), email, password, meta(r))
	if err != nil {
		code, msg := errorStatus(err)
		if code >= 500 {
			u.log.Error("sign-in failed", "err", err)
		}
		v := u.loginView(r)
		v.Error = msg
		v.Data = loginData{Email: email, Next: next, SSO: u.o.SSO != nil, SSOName: u.o.SSOName}
		u.render(w, code, "login.html", v)
		return
	}
	u.startSession(w, r, token)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (u *UI) startSession(w http.ResponseWriter, r *http.Request, token string) {
	// The cookie lives for the session's whole lifetime; the server ends
	// an idle session earlier, and the cookie is then refused.
	u.setCookie(w, r, sessionCookie, token, 7*24*time.Hour)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request, v *view) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := u.o.Accounts.SignOut(r.Context(), c.Value); err != nil {
			u.log.Warn("sign-out", "err", err)
		}
	}
	u.clearCookie(w, r, sessionCookie)
	http.Redirect(w, r, "/login?signed_out=1", http.StatusSeeOther)
}

// OpenID Connect sign-in: the attempt's state, nonce and PKCE verifier
// wait in a short-lived cookie bound to the callback path.
const ssoCookie = "vigil_sso"

type ssoCookieValue struct {
	Attempt
	Next string
}

func (u *UI) ssoBegin(w http.ResponseWriter, r *http.Request) {
	if u.o.SSO == nil {
		http.NotFound(w, r)
		return
	}
	authURL, a, err := u.o.SSO.Begin(r.Context())
	if err != nil {
		u.log.Warn("single sign-on unavailable", "err", err)
		http.Redirect(w, r, "/login?error="+url.QueryEscape("single sign-on is unavailable right now; try again or sign in with a password"), http.StatusSeeOther)
		return
	}
	b, _ := json.Marshal(ssoCookieValue{Attempt: a, Next: safeNext(r.URL.Query().Get("next"))})
	http.SetCookie(w, &http.Cookie{Name: ssoCookie, Value: base64.RawURLEncoding.EncodeToString(b), Path: "/login/sso",
		MaxAge: 600, HttpOnly: true, Secure: u.secureRequest(r), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, authURL, http.StatusFound)
}

func (u *UI) ssoCallback(w http.ResponseWriter, r *http.Request) {
	if u.o.SSO == nil {
		http.NotFound(w, r)
		return
	}
	fail := func(msg string, err error) {
		u.log.Warn("single sign-on failed", "reason", msg, "err", err)
		http.Redirect(w, r, "/login?error="+url.QueryEscape(msg), http.StatusSeeOther)
	}
	c, err := r.Cookie(ssoCookie)
	http.SetCookie(w, &http.Cookie{Name: ssoCookie, Path: "/login/sso", MaxAge: -1, HttpOnly: true, Secure: u.secureRequest(r)})
	if err != nil {
		fail("the sign-in attempt expired; try again", err)
		return
	}
	var cv ssoCookieValue
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err == nil {
		err = json.Unmarshal(b, &cv)
	}
	if err != nil {
		fail("the sign-in attempt is invalid; try again", err)
		return
	}
	q := r.URL.Query()
	if perr := u.o.SSO.ProviderError(q); perr != nil {
		fail("the identity provider refused the sign-in: "+perr.Error(), perr)
		return
	}
	id, err := u.o.SSO.Finish(r.Context(), cv.Attempt, q.Get("state"), q.Get("code"))
	if err != nil {
		fail("single sign-on failed; try again or ask an admin", err)
		return
	}
	token, _, err := u.o.Accounts.SignInExternal(r.Context(), id, meta(r))
	if err != nil {
		msg := "your account may not sign in to vigil; ask an admin"
		if errors.Is(err, account.ErrThrottled) {
			msg = account.ErrThrottled.Error()
		}
		fail(msg, err)
		return
	}
	u.startSession(w, r, token)
	http.Redirect(w, r, safeNext(cv.Next), http.StatusSeeOther)
}
