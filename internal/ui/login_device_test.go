package ui_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/account"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/ui"
)

// browser is a client with a cookie jar whose connections come from ip.
func (e *env) browser(ip string) *client {
	c := e.newClient()
	jar, _ := cookiejar.New(nil)
	c.http = e.fromAddr(ip)
	c.http.Jar = jar
	return c
}

func (c *client) hasDevice() bool {
	u, _ := url.Parse(c.e.srv.URL + "/login")
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == "vigil_device" && ck.Value != "" {
			return true
		}
	}
	return false
}

// wantDeviceCookie checks the Set-Cookie of a device cookie on r.
func wantDeviceCookie(t *testing.T, r resp) {
	t.Helper()
	var got string
	for _, sc := range r.hdr.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "vigil_device=") {
			got = sc
		}
	}
	if got == "" {
		t.Fatalf("sign-in set no vigil_device cookie; Set-Cookie: %q", r.hdr.Values("Set-Cookie"))
	}
	for _, want := range []string{"Path=/login", "HttpOnly", "SameSite=Lax", "Max-Age=7776000"} {
		if !strings.Contains(got, want) {
			t.Errorf("device cookie %q lacks %s", got, want)
		}
	}
}

// With every password check slot taken and no queue, a browser that has
// signed in before (it has a device cookie) still signs in; one that has
// not is refused with 429, as before.
func TestLoginDeviceCookieWhenBusy(t *testing.T) {
	var st *lookupStore
	e := newEnv(t, withAccounts(&st, account.Options{HashSlots: 1, HashQueue: -1}))
	returning := e.newClient()
	r := returning.signIn(t, email[viewer], password, "/board").wantCode(t, http.StatusSeeOther)
	wantDeviceCookie(t, r)
	if r := returning.do(t, "POST", "/logout", url.Values{"csrf": {returning.csrf}}); r.code != http.StatusSeeOther {
		t.Fatalf("sign out: %v", r)
	}
	if !returning.hasDevice() {
		t.Fatal("the device cookie did not outlive sign-out")
	}

	// Let the held sign-in go even if the test fails before the end, or
	// the server's shutdown would wait for it for ever.
	var release sync.Once
	free := func() { release.Do(func() { close(st.release) }) }
	defer free()
	held := make(chan resp, 1)
	go func() { held <- postLogin(t, e.fromAddr("127.0.0.3"), e.srv.URL, "held@example.com", "some password") }()
	select {
	case <-st.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("held sign-in never reached the store")
	}
	e.newClient().signIn(t, email[viewer], password, "/board").wantCode(t, http.StatusTooManyRequests)
	r = returning.signIn(t, email[viewer], password, "/items").wantCode(t, http.StatusSeeOther).wantLocation(t, "/items")
	wantDeviceCookie(t, r) // renewed
	// The cookie is the viewer's: signing in as someone else from that
	// browser is an untrusted attempt.
	e.newClient().signIn(t, email[responder], password, "/board").wantCode(t, http.StatusTooManyRequests)
	returning.signIn(t, email[responder], password, "/board").wantCode(t, http.StatusTooManyRequests)
	free()
	if r := <-held; r.code != http.StatusUnauthorized {
		t.Errorf("held sign-in: %v, want 401", r)
	}
}

// Behind a reverse proxy that vigil does not know, every client has the
// proxy's address: once guesses have used up its failures, sign-ins from
// new browsers are refused, and returning browsers still sign in.
func TestLoginDeviceCookieAddressLimited(t *testing.T) {
	var st *lookupStore
	e := newEnv(t, withAccounts(&st, account.Options{AddrFailures: 3}))
	returning := e.browser("127.0.0.5")
	returning.signIn(t, email[responder], password, "/board").wantCode(t, http.StatusSeeOther)
	guesser := e.browser("127.0.0.5")
	for range 3 {
		guesser.signIn(t, "ghost@example.com", "guess-guess", "/board").wantCode(t, http.StatusUnauthorized)
	}
	e.browser("127.0.0.5").signIn(t, email[responder], password, "/board").wantCode(t, http.StatusTooManyRequests)
	guesser.signIn(t, email[responder], password, "/board").wantCode(t, http.StatusTooManyRequests)
	returning.signIn(t, email[responder], password, "/board").wantCode(t, http.StatusSeeOther)
	// A wrong password from the returning browser is a plain failure.
	returning.signIn(t, email[responder], "wrong-wrong", "/board").wantCode(t, http.StatusUnauthorized)
}

// With the proxy in trusted_proxies, the address limit applies to the
// client it names: a guesser behind the proxy is limited, a user behind
// it is not. A client that is not the proxy cannot name another client.
func TestLoginTrustedProxy(t *testing.T) {
	var st *lookupStore
	proxies := auth.NewProxies([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})
	e := newEnv(t, withAccounts(&st, account.Options{AddrFailures: 3}), func(o *ui.Options) { o.Proxies = proxies })
	viaProxy := func(c *client, client, mail, pass string) resp {
		return c.do(t, "POST", "/login", url.Values{"email": {mail}, "password": {pass}, "next": {"/board"}},
			"X-Forwarded-For", "6.6.6.6, "+client)
	}
	proxy := e.newClient() // from 127.0.0.1, the trusted proxy
	for range 3 {
		viaProxy(proxy, "198.51.100.66", "ghost@example.com", "guess-guess").wantCode(t, http.StatusUnauthorized)
	}
	viaProxy(proxy, "198.51.100.66", email[viewer], password).wantCode(t, http.StatusTooManyRequests)
	viaProxy(e.newClient(), "203.0.113.5", email[viewer], password).wantCode(t, http.StatusSeeOther)

	// Not the proxy: its X-Forwarded-For is ignored, so rotating it does
	// not get a fresh count. (Other emails each time, so that no email's
	// own limit is what refuses.)
	direct := e.browser("127.0.0.9")
	for i := range 4 {
		want := http.StatusUnauthorized
		if i == 3 {
			want = http.StatusTooManyRequests
		}
		viaProxy(direct, "203.0.113."+itoa(int64(10+i)), "ghost"+itoa(int64(i))+"@example.com", "guess-guess").wantCode(t, want)
	}
}
