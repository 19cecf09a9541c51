package ui

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/vigil-soc/vigil/internal/account"
)

type loginData struct {
	Email   string
	Next    string
	SSO     bool
	SSOName string
}

// safeNext keeps a post-sign-in redirect on this site: anything but a
// clean local path (safeLocalPath) goes to the board.
func safeNext(next string) string {
	if p, ok := safeLocalPath(next); ok {
		return p
	}
	return "/board"
}

func (u *UI) loginView(r *http.Request) *view {
	return &view{Title: "Sign in", Asset: "/static/" + u.assetTag, Version: u.o.Version, req: r}
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	v := u.loginView(r)
	// error= is a code with a fixed message, never text to show.
	v.Error = loginErrorMessage(r.URL.Query().Get("error"))
	if r.URL.Query().Get("signed_out") == "1" {
		v.Flash = "You have signed out."
	}
	v.Data = loginData{Next: safeNext(r.URL.Query().Get("next")), SSO: u.o.SSO != nil, SSOName: u.o.SSOName}
	u.render(w, http.StatusOK, "login.html", v)
}

// meta is who signs in from where: the client's address is found behind
// trusted proxies as the audit log finds it.
func (u *UI) meta(r *http.Request) account.Meta {
	ip := u.o.Proxies.ClientIP(r)
	ua := r.UserAgent()
	if len(ua) > 256 {
		ua = ua[:256]
	}
	return account.Meta{UserAgent: ua, IP: ip}
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	email, password := r.PostFormValue("email"), r.PostFormValue("password")
	next := safeNext(r.PostFormValue("next"))
	m := u.meta(r)
	m.Device = presentedDevice(r)
	token, _, err := u.o.Accounts.SignIn(r.Context(), email, password, m)
	if err != nil {
		code, msg, quiet := signInRefusal(w, r, err)
		if quiet {
			w.WriteHeader(code)
			return
		}
		if code >= 500 {
			u.log.Error("sign-in failed", "err", err)
		}
		v := u.loginView(r)
		v.Error = msg
		v.Data = loginData{Email: email, Next: next, SSO: u.o.SSO != nil, SSOName: u.o.SSOName}
		u.render(w, code, "login.html", v)
		return
	}
	u.rememberDevice(w, r, email)
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
		http.Redirect(w, r, loginErrorURL(loginErrSSOUnavailable), http.StatusSeeOther)
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
	fail := func(code string, err error) {
		u.log.Warn("single sign-on failed", "reason", code, "err", err)
		http.Redirect(w, r, loginErrorURL(code), http.StatusSeeOther)
	}
	c, err := r.Cookie(ssoCookie)
	http.SetCookie(w, &http.Cookie{Name: ssoCookie, Path: "/login/sso", MaxAge: -1, HttpOnly: true, Secure: u.secureRequest(r)})
	if err != nil {
		fail(loginErrSSOExpired, err)
		return
	}
	var cv ssoCookieValue
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err == nil {
		err = json.Unmarshal(b, &cv)
	}
	if err != nil {
		fail(loginErrSSOInvalid, err)
		return
	}
	q := r.URL.Query()
	if perr := u.o.SSO.ProviderError(q); perr != nil {
		// The provider's text comes from the callback URL: logged, not shown.
		fail(loginErrSSORefused, perr)
		return
	}
	id, err := u.o.SSO.Finish(r.Context(), cv.Attempt, q.Get("state"), q.Get("code"))
	if err != nil {
		fail(loginErrSSOFailed, err)
		return
	}
	token, _, err := u.o.Accounts.SignInExternal(r.Context(), id, u.meta(r))
	if err != nil {
		code := loginErrAccountRefused
		if errors.Is(err, account.ErrThrottled) {
			code = loginErrThrottled
		}
		fail(code, err)
		return
	}
	u.startSession(w, r, token)
	http.Redirect(w, r, safeNext(cv.Next), http.StatusSeeOther)
}
