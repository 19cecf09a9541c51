package ui_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/account"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/ui"
	"github.com/vigil-soc/vigil/internal/workitem"
)

func TestSignedOutRequests(t *testing.T) {
	e := newEnv(t)
	c := e.newClient()
	tests := []struct {
		name, method, path string
		hdr                []string
		wantCode           int
		wantLocation       string // for redirects
		wantHXRedirect     string
	}{
		{"board page redirects to sign-in", "GET", "/board", nil, http.StatusSeeOther, "/login?next=%2Fboard", ""},
		{"item page keeps its query", "GET", "/items/7?before=3", nil, http.StatusSeeOther, "/login?next=%2Fitems%2F7%3Fbefore%3D3", ""},
		{"admin page", "GET", "/admin/users", nil, http.StatusSeeOther, "/login?next=%2Fadmin%2Fusers", ""},
		{"root goes to the board", "GET", "/", nil, http.StatusSeeOther, "/board", ""},
		{"htmx post", "POST", "/items/1/move", []string{"HX-Request", "true"}, http.StatusUnauthorized, "", "/login"},
		{"fetch post", "POST", "/items/1/move", []string{"X-Requested-With", "fetch"}, http.StatusUnauthorized, "", "/login"},
		{"htmx get", "GET", "/board/cards/1", []string{"HX-Request", "true"}, http.StatusUnauthorized, "", "/login"},
		{"plain form post", "POST", "/triage", nil, http.StatusUnauthorized, "", "/login"},
		{"assign to me", "POST", "/items/1/assign", []string{"HX-Request", "true"}, http.StatusUnauthorized, "", "/login"},
		{"admin root goes to the first admin page, which asks to sign in", "GET", "/admin", nil, http.StatusSeeOther, "/admin/process", ""},
		{"unknown session cookie", "GET", "/board", []string{"Cookie", "vigil_session=not-a-session"}, http.StatusSeeOther, "/login?next=%2Fboard", ""},
		{"sign-in page is public", "GET", "/login", nil, http.StatusOK, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var form url.Values
			if tt.method == "POST" {
				form = url.Values{"to": {"Approved"}}
			}
			r := c.do(t, tt.method, tt.path, form, tt.hdr...)
			if r.code != tt.wantCode {
				t.Fatalf("%s: got status %d, want %d", r, r.code, tt.wantCode)
			}
			if got := r.hdr.Get("Location"); got != tt.wantLocation {
				t.Errorf("got Location %q, want %q", got, tt.wantLocation)
			}
			if got := r.hdr.Get("HX-Redirect"); got != tt.wantHXRedirect {
				t.Errorf("got HX-Redirect %q, want %q", got, tt.wantHXRedirect)
			}
		})
	}
	t.Run("an unknown session cookie is cleared", func(t *testing.T) {
		r := c.get(t, "/board", "Cookie", "vigil_session=not-a-session")
		ck := cookieNamed(r.hdr, "vigil_session")
		if ck == nil || ck.MaxAge >= 0 {
			t.Errorf("got session cookie %v, want one that deletes it (MaxAge < 0)", ck)
		}
	})
}

func cookieNamed(h http.Header, name string) *http.Cookie {
	for _, ck := range (&http.Response{Header: h}).Cookies() {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

func TestSignIn(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, email, password, next string
		wantCode                    int
		wantLocation                string
		wantBody                    string
	}{
		{"wrong password", email[responder], "not the password at all", "/board", http.StatusUnauthorized, "", "wrong email or password"},
		{"unknown email", "nobody@example.com", password, "/board", http.StatusUnauthorized, "", "wrong email or password"},
		{"to next", email[responder], password, "/items/5?x=1", http.StatusSeeOther, "/items/5?x=1", ""},
		{"no next", email[viewer], password, "", http.StatusSeeOther, "/board", ""},
		{"protocol-relative next", email[viewer], password, "//evil.example/board", http.StatusSeeOther, "/board", ""},
		{"absolute next", email[viewer], password, "https://evil.example/board", http.StatusSeeOther, "/board", ""},
		{"backslash next", email[viewer], password, `/\evil.example`, http.StatusSeeOther, "/board", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.newClient()
			r := c.signIn(t, tt.email, tt.password, tt.next)
			if r.code != tt.wantCode {
				t.Fatalf("%s: got status %d, want %d", r, r.code, tt.wantCode)
			}
			r.wantLocation(t, tt.wantLocation).wantBody(t, tt.wantBody)
			ck := cookieNamed(r.hdr, "vigil_session")
			if tt.wantCode != http.StatusSeeOther {
				if ck != nil {
					t.Errorf("failed sign-in set a session cookie: %v", ck)
				}
				// The form keeps the email and the next page.
				r.wantBody(t, `value="`+tt.email+`"`, `name="next" value="`+tt.next+`"`)
				return
			}
			if ck == nil {
				t.Fatalf("%s: no session cookie", r)
			}
			if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure || ck.Path != "/" {
				t.Errorf("got cookie HttpOnly=%v SameSite=%v Secure=%v Path=%q, want HttpOnly, Lax, not Secure on plain HTTP, /",
					ck.HttpOnly, ck.SameSite, ck.Secure, ck.Path)
			}
			c.get(t, "/board").wantCode(t, http.StatusOK).wantBody(t, tt.email)
		})
	}

	t.Run("sign out ends the session", func(t *testing.T) {
		c := e.newClient()
		c.signIn(t, email[admin], password, "/board").wantCode(t, http.StatusSeeOther)
		old := c.cookie
		c.post(t, "/logout", nil).wantCode(t, http.StatusSeeOther).wantLocation(t, "/login?signed_out=1")
		c.get(t, "/login?signed_out=1").wantCode(t, http.StatusOK).wantBody(t, "You have signed out.")
		// The old cookie, replayed, is refused.
		r := e.newClient().get(t, "/board", "Cookie", "vigil_session="+old)
		r.wantCode(t, http.StatusSeeOther).wantLocation(t, "/login?next=%2Fboard")
	})
}

// TestSessionCookieSecure: the session cookie is Secure when the request
// came over TLS or the UI is told it sits behind a TLS proxy.
func TestSessionCookieSecure(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name          string
		target        string
		secureCookies bool
		want          bool
	}{
		{"plain HTTP", "http://vigil.test/login", false, false},
		{"TLS", "https://vigil.test/login", false, true},
		{"plain HTTP behind a TLS proxy", "http://vigil.test/login", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ui.New(ui.Options{Items: e.items, Accounts: account.New(e.db, e.clk, account.Options{}), Records: e.db,
				Clock: e.clk, SecureCookies: tt.secureCookies})
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			u.Register(mux)
			form := url.Values{"email": {email[viewer]}, "password": {password}, "next": {"/board"}}
			req := httptest.NewRequest("POST", tt.target, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != http.StatusSeeOther {
				t.Fatalf("POST %s: got %d, want 303: %s", tt.target, rec.Code, rec.Body)
			}
			ck := cookieNamed(rec.Header(), "vigil_session")
			if ck == nil {
				t.Fatal("no session cookie")
			}
			if ck.Secure != tt.want {
				t.Errorf("got Secure=%v, want %v", ck.Secure, tt.want)
			}
			if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
				t.Errorf("got HttpOnly=%v SameSite=%v, want HttpOnly and Lax", ck.HttpOnly, ck.SameSite)
			}
		})
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	id := e.ingest(t, spec{title: "csrf target"})[0]
	c := e.as(t, responder)
	other := e.as(t, admin)
	path := idPath("/items/%d/move", id)
	if got := csrfRE.FindStringSubmatch(c.get(t, "/board").body); got == nil || got[1] != c.csrf {
		t.Fatalf("got data-csrf %v on the board, want the session's token %q", got, c.csrf)
	}
	tests := []struct {
		name     string
		form     url.Values
		hdr      []string
		wantCode int
		wantBody string
	}{
		{"no token", url.Values{"to": {"Approved"}}, nil, http.StatusForbidden, "did not come from vigil"},
		{"wrong token", url.Values{"to": {"Approved"}, "csrf": {"wrong"}}, nil, http.StatusForbidden, "did not come from vigil"},
		{"wrong token in the header", url.Values{"to": {"Approved"}}, []string{"X-CSRF-Token", "wrong", "X-Requested-With", "fetch"},
			http.StatusForbidden, "did not come from vigil"},
		{"another session's token", url.Values{"to": {"Approved"}, "csrf": {other.csrf}}, nil, http.StatusForbidden, "did not come from vigil"},
		{"cross-site fetch with a valid token", url.Values{"to": {"Approved"}, "csrf": {c.csrf}},
			[]string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden, ""},
		{"foreign origin with a valid token", url.Values{"to": {"Approved"}, "csrf": {c.csrf}},
			[]string{"Origin", "https://evil.example"}, http.StatusForbidden, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.do(t, "POST", path, tt.form, tt.hdr...).wantCode(t, tt.wantCode).wantBody(t, tt.wantBody)
			if it := e.item(t, id); it.State != "New" || it.Rev != 1 {
				t.Errorf("got item in %s at rev %d after a refused move, want New at rev 1", it.State, it.Rev)
			}
		})
	}
	t.Run("same origin with the token", func(t *testing.T) {
		c.do(t, "POST", path, url.Values{"to": {"Approved"}, "csrf": {c.csrf}}, "Sec-Fetch-Site", "same-origin", "Origin", e.srv.URL).
			wantCode(t, http.StatusSeeOther)
		if it := e.item(t, id); it.State != "Approved" {
			t.Errorf("got item in %s, want Approved", it.State)
		}
	})
	t.Run("token in the header", func(t *testing.T) {
		c.do(t, "POST", path, url.Values{"to": {"Active"}}, "X-CSRF-Token", c.csrf, "X-Requested-With", "fetch").
			wantCode(t, http.StatusOK)
		if it := e.item(t, id); it.State != "Active" {
			t.Errorf("got item in %s, want Active", it.State)
		}
	})
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	id := e.ingest(t, spec{})[0]
	anon := e.newClient()
	c := e.as(t, admin)
	pages := []struct {
		name string
		get  func() resp
		code int
	}{
		{"sign-in page", func() resp { return anon.get(t, "/login") }, http.StatusOK},
		{"board", func() resp { return c.get(t, "/board") }, http.StatusOK},
		{"item", func() resp { return c.get(t, idPath("/items/%d", id)) }, http.StatusOK},
		{"admin", func() resp { return c.get(t, "/admin/users") }, http.StatusOK},
		{"error page", func() resp { return c.get(t, "/items/999999") }, http.StatusNotFound},
		{"refused post", func() resp { return c.do(t, "POST", idPath("/items/%d/move", id), url.Values{}) }, http.StatusForbidden},
	}
	want := map[string]string{
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "no-store",
		"Referrer-Policy":        "same-origin",
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			r := p.get().wantCode(t, p.code)
			for k, v := range want {
				if got := r.hdr.Get(k); got != v {
					t.Errorf("got %s %q, want %q", k, got, v)
				}
			}
			csp := r.hdr.Get("Content-Security-Policy")
			for _, d := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'self'"} {
				if !strings.Contains(csp, d) {
					t.Errorf("got CSP %q, want it to contain %q", csp, d)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("got CSP %q, want no unsafe-inline or unsafe-eval", csp)
			}
		})
	}
}

var assetRE = regexp.MustCompile(`href="/static/([0-9a-f]+)/app\.css"`)

func TestStaticAssets(t *testing.T) {
	e := newEnv(t)
	c := e.newClient()
	m := assetRE.FindStringSubmatch(c.get(t, "/login").body)
	if m == nil {
		t.Fatal("the sign-in page links no /static/<tag>/app.css")
	}
	tag := m[1]
	tests := []struct {
		path, wantType string
		wantCode       int
	}{
		{"/static/" + tag + "/app.css", "text/css", http.StatusOK},
		{"/static/" + tag + "/app.js", "javascript", http.StatusOK},
		{"/static/" + tag + "/vendor/htmx-2.0.11.min.js", "javascript", http.StatusOK},
		{"/static/" + tag + "/favicon.svg", "image/svg+xml", http.StatusOK},
		{"/static/" + tag + "/missing.js", "", http.StatusNotFound},
		{"/static/000000000000/app.css", "", http.StatusNotFound},
		{"/static/app.css", "", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := c.get(t, tt.path).wantCode(t, tt.wantCode)
			if tt.wantCode != http.StatusOK {
				return
			}
			if got := r.hdr.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
				t.Errorf("got Cache-Control %q, want immutable caching", got)
			}
			if got := r.hdr.Get("Content-Type"); !strings.Contains(got, tt.wantType) {
				t.Errorf("got Content-Type %q, want %s", got, tt.wantType)
			}
			if got := r.hdr.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("got X-Content-Type-Options %q, want nosniff", got)
			}
			if len(r.body) == 0 {
				t.Error("empty asset")
			}
		})
	}
	t.Run("favicon", func(t *testing.T) {
		c.get(t, "/favicon.ico").wantCode(t, http.StatusMovedPermanently).wantLocation(t, "/static/"+tag+"/favicon.svg")
	})
}

func TestViewerCannotChangeItems(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.ingest(t, spec{title: "read only"})[0]
	task, err := e.items.AddTask(ctx, auth.System, id, "check the host")
	if err != nil {
		t.Fatal(err)
	}
	msg := enqueueFailed(t, e, id, "sentinel-close-1")
	before, tlBefore := e.item(t, id), len(e.timeline(t, id))
	c := e.as(t, viewer)
	tests := []struct {
		name, path string
		form       url.Values
	}{
		{"move", idPath("/items/%d/move", id), url.Values{"to": {"Approved"}}},
		{"move with a reason", idPath("/items/%d/move", id), url.Values{"to": {"Removed"}, "reason": {"noise"}}},
		{"comment", idPath("/items/%d/comments", id), url.Values{"body": {"looks bad"}}},
		{"add task", idPath("/items/%d/tasks", id), url.Values{"title": {"another"}}},
		{"tick task", idPath("/items/%d/tasks/", id) + itoa(task.ID), url.Values{"done": {"true"}}},
		{"fields", idPath("/items/%d/fields", id), url.Values{"assignee": {"vic"}, "severity": {"critical"}, "tags": {"x"}}},
		{"retry write", idPath("/items/%d/writes/", id) + itoa(msg.ID) + "/retry", url.Values{}},
		{"assign to me", idPath("/items/%d/assign", id), url.Values{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.post(t, tt.path, tt.form).wantCode(t, http.StatusForbidden).wantBody(t, "role viewer may not triage")
			c.post(t, tt.path, tt.form, "HX-Request", "true").wantCode(t, http.StatusForbidden)
		})
	}
	after := e.item(t, id)
	if after.Rev != before.Rev || after.State != before.State || after.Assignee != "" || len(after.Tags) != 0 {
		t.Errorf("got item %+v after refused changes, want it unchanged (%+v)", after, before)
	}
	if n := len(e.timeline(t, id)); n != tlBefore {
		t.Errorf("got %d timeline entries, want %d", n, tlBefore)
	}
	if cs, _ := e.db.Comments(ctx, id); len(cs) != 0 {
		t.Errorf("got comments %+v, want none", cs)
	}
	if ts, _ := e.db.Tasks(ctx, id); len(ts) != 1 || ts[0].Done {
		t.Errorf("got tasks %+v, want the one open task", ts)
	}
	if m, _ := e.db.GetOutbox(ctx, msg.ID); m.State != outbox.Failed {
		t.Errorf("got write in state %s, want it still failed", m.State)
	}
	t.Run("pages hide the forms", func(t *testing.T) {
		r := c.get(t, idPath("/items/%d", id)).wantCode(t, http.StatusOK)
		r.wantNoBody(t, idPath(`action="/items/%d/move"`, id), idPath(`action="/items/%d/comments"`, id), "Retry now")
		r.wantBody(t, "<fieldset disabled>")
		c.get(t, "/board").wantCode(t, http.StatusOK).wantNoBody(t, `data-movable="true"`, `class="moves"`)
	})
}

func TestAdminPages(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	resp := e.as(t, responder)
	adm := e.as(t, admin)

	t.Run("responder is refused", func(t *testing.T) {
		for _, p := range []string{"/admin/users", "/admin/process", "/admin/connectors"} {
			resp.get(t, p).wantCode(t, http.StatusForbidden).wantBody(t, "role responder may not admin")
		}
		resp.post(t, "/admin/users", url.Values{"email": {"eve@example.com"}, "password": {password}, "role": {"admin"}}).
			wantCode(t, http.StatusForbidden)
		resp.post(t, "/admin/tokens", url.Values{"name": {"sneaky"}, "role": {"admin"}}).wantCode(t, http.StatusForbidden)
		resp.post(t, idPath("/admin/users/%d", e.users[responder].ID), url.Values{"role": {"admin"}}).wantCode(t, http.StatusForbidden)
		if u, err := e.db.UserByEmail(ctx, "eve@example.com"); err == nil {
			t.Errorf("a responder added user %+v", u)
		}
		if toks, _ := e.db.ListTokens(ctx); len(toks) != 0 {
			t.Errorf("a responder created tokens %+v", toks)
		}
		if u, _ := e.db.UserByEmail(ctx, email[responder]); u.Role != responder {
			t.Errorf("a responder made themselves %s", u.Role)
		}
	})

	t.Run("process and connectors", func(t *testing.T) {
		adm.get(t, "/admin/process").wantCode(t, http.StatusOK).wantBody(t, "reason required", "→ Approved", "Problem")
		adm.get(t, "/admin/connectors").wantCode(t, http.StatusOK).wantBody(t, "Sync is not configured")
	})

	t.Run("add a user", func(t *testing.T) {
		r := adm.post(t, "/admin/users", url.Values{"email": {"new.responder@example.com"}, "password": {password}, "role": {"responder"}})
		r.wantCode(t, http.StatusSeeOther)
		if loc := r.hdr.Get("Location"); loc != "/admin/users" {
			t.Errorf("got Location %q, want /admin/users", loc)
		}
		adm.get(t, "/admin/users").wantBody(t, "Added new.responder@example.com as responder.")
		adm.get(t, "/admin/users").wantNoBody(t, "Added new.responder@example.com")
		u, err := e.db.UserByEmail(ctx, "new.responder@example.com")
		if err != nil || u.Role != responder {
			t.Fatalf("got user %+v, %v; want a responder", u, err)
		}
		adm.get(t, "/admin/users").wantCode(t, http.StatusOK).wantBody(t, "new.responder@example.com")
	})

	t.Run("a bad user form shows the page again", func(t *testing.T) {
		adm.post(t, "/admin/users", url.Values{"email": {"x@example.com"}, "password": {password}, "role": {"overlord"}}).
			wantCode(t, http.StatusBadRequest).wantBody(t, "unknown role", `id="users"`)
	})

	var secret string
	t.Run("create a token", func(t *testing.T) {
		r := adm.post(t, "/admin/tokens", url.Values{"name": {"prometheus"}, "role": {"responder"}}).wantCode(t, http.StatusOK)
		m := regexp.MustCompile(`<code id="new-token">([^<]+)</code>`).FindStringSubmatch(r.body)
		if m == nil {
			t.Fatalf("%s: no new token shown", r)
		}
		secret = m[1]
		tok, err := e.db.TokenByHash(ctx, auth.HashToken(secret))
		if err != nil || tok.Name != "prometheus" || tok.Role != responder {
			t.Fatalf("got token %+v, %v; want the responder token prometheus", tok, err)
		}
		again := adm.get(t, "/admin/users").wantCode(t, http.StatusOK).wantBody(t, "prometheus")
		again.wantNoBody(t, secret, `id="new-token"`)
	})

	t.Run("revoke the token", func(t *testing.T) {
		toks, err := e.db.ListTokens(ctx)
		if err != nil || len(toks) != 1 {
			t.Fatalf("got tokens %+v, %v; want one", toks, err)
		}
		adm.post(t, idPath("/admin/tokens/%d/revoke", toks[0].ID), nil).wantCode(t, http.StatusSeeOther)
		if _, err := e.db.TokenByHash(ctx, auth.HashToken(secret)); err == nil {
			t.Error("the revoked token still authenticates")
		}
		adm.get(t, "/admin/users").wantCode(t, http.StatusOK).wantBody(t, "revoked ")
	})

	t.Run("disable and enable a user", func(t *testing.T) {
		id := e.users[viewer].ID
		adm.post(t, idPath("/admin/users/%d", id), url.Values{"disabled": {"true"}}).wantCode(t, http.StatusSeeOther)
		if u, _ := e.db.UserByEmail(ctx, email[viewer]); !u.Disabled {
			t.Error("got the viewer enabled, want disabled")
		}
		// A malformed value is refused, not read as "enable".
		adm.post(t, idPath("/admin/users/%d", id), url.Values{"disabled": {"maybe"}}).wantCode(t, http.StatusBadRequest).
			wantBody(t, "disabled: must be true or false")
		if u, _ := e.db.UserByEmail(ctx, email[viewer]); !u.Disabled {
			t.Error("a malformed disabled value enabled the viewer")
		}
		adm.post(t, idPath("/admin/users/%d", id), url.Values{"disabled": {"false"}}).wantCode(t, http.StatusSeeOther)
		if u, _ := e.db.UserByEmail(ctx, email[viewer]); u.Disabled {
			t.Error("got the viewer disabled, want enabled")
		}
	})

	t.Run("an admin cannot demote themselves", func(t *testing.T) {
		adm.post(t, idPath("/admin/users/%d", e.users[admin].ID), url.Values{"role": {"viewer"}}).
			wantCode(t, http.StatusBadRequest).wantBody(t, "cannot remove your own admin role")
	})
}

// enqueueFailed queues a write-back for item id and marks it failed.
func enqueueFailed(t testing.TB, e *env, id int64, key string) outbox.Message {
	t.Helper()
	ctx := context.Background()
	_, err := e.db.Enqueue(ctx, []outbox.Message{{WorkItemID: id, Target: "sentinel", Op: "incident.close",
		Resource: "incident-" + key, IdemKey: key}},
		[]workitem.Entry{{Actor: "vigil", Kind: workitem.KindSync, Message: "queued write-back " + key}})
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	msgs, err := e.db.ListOutbox(ctx, "", id, 0, 100)
	if err != nil || len(msgs) == 0 {
		t.Fatalf("list outbox: %v, %v", msgs, err)
	}
	m := msgs[0]
	if err := e.db.FailOutbox(ctx, m.ID, "403 Forbidden: the app lacks Microsoft Sentinel Responder"); err != nil {
		t.Fatal(err)
	}
	m, err = e.db.GetOutbox(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestUnknownRoutes: /admin leads to the first admin page; every other
// unknown page is the styled 404 (with the navigation when signed in),
// while the API keeps answering JSON and a known path with another
// method still answers 405.
func TestUnknownRoutes(t *testing.T) {
	e := newEnv(t)
	signedOut := e.newClient()
	adm := e.as(t, admin)

	for _, p := range []string{"/admin", "/admin/"} {
		adm.get(t, p).wantCode(t, http.StatusSeeOther).wantLocation(t, "/admin/process")
	}

	styled := []string{`<section class="empty error-page">`, "<h1>Not Found</h1>", "Back to the board", `rel="stylesheet"`}
	tests := []struct {
		name   string
		c      *client
		path   string
		want   []string
		absent []string
	}{
		{"signed in", adm, "/nope", append(styled, "There is no page at /nope.", `<nav aria-label="Main">`), nil},
		{"deeper path", adm, "/board/x/y", append(styled, "There is no page at /board/x/y."), nil},
		{"under admin", adm, "/admin/nope", styled, nil},
		{"signed out", signedOut, "/nope", styled, []string{`<nav aria-label="Main">`}},
		{"escaped", adm, "/%3Cscript%3E", styled, []string{"<script>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.c.get(t, tt.path).wantCode(t, http.StatusNotFound).wantBody(t, tt.want...).wantNoBody(t, tt.absent...)
			if ct := r.hdr.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("got Content-Type %q, want HTML", ct)
			}
			if r.hdr.Get("Content-Security-Policy") == "" {
				t.Error("the 404 page lacks the UI's security headers")
			}
		})
	}
	t.Run("the API keeps its JSON errors", func(t *testing.T) {
		r := signedOut.get(t, "/api/v1/nope").wantCode(t, http.StatusNotFound).wantBody(t, `"code":"not_found"`)
		if ct := r.hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("got Content-Type %q, want JSON", ct)
		}
	})
	t.Run("a known path with another method is 405", func(t *testing.T) {
		r := adm.do(t, "DELETE", "/board", nil).wantCode(t, http.StatusMethodNotAllowed)
		if got := r.hdr.Get("Allow"); got != "GET" {
			t.Errorf("got Allow %q, want GET", got)
		}
	})
}
