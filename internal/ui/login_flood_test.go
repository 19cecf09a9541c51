package ui_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/account"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/ui"
)

// lookupStore counts the user lookups of sign-ins, which run with their
// password hash in a slot of the hash gate (so a sign-in that looked no
// one up hashed nothing), and holds the lookups of one email until
// released.
type lookupStore struct {
	*store.DB
	lookups atomic.Int64
	hold    string        // lookups of this email wait for release
	entered chan struct{} // a held lookup arrived
	release chan struct{}
}

func (s *lookupStore) UserByEmail(ctx context.Context, email string) (store.User, error) {
	s.lookups.Add(1)
	if email == s.hold {
		s.entered <- struct{}{}
		<-s.release
	}
	return s.DB.UserByEmail(ctx, email)
}

// withAccounts gives the env an account service on a lookupStore, with o.
func withAccounts(st **lookupStore, o account.Options) func(*ui.Options) {
	return func(uo *ui.Options) {
		*st = &lookupStore{DB: uo.Records.(*store.DB), hold: "held@example.com",
			entered: make(chan struct{}, 10), release: make(chan struct{})}
		uo.Accounts = account.New(*st, uo.Clock, o)
	}
}

// fromAddr is a client whose connections come from ip, another loopback
// address than the test server's other clients.
func (e *env) fromAddr(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 20 * time.Second,
		Transport:     &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 16},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func postLogin(t *testing.T, c *http.Client, base, mail, pass string) resp {
	t.Helper()
	form := url.Values{"email": {mail}, "password": {pass}, "next": {"/board"}}
	res, err := c.PostForm(base+"/login", form)
	if err != nil {
		t.Errorf("POST /login: %v", err)
		return resp{}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{method: "POST", path: "/login", code: res.StatusCode, hdr: res.Header, body: string(b)}
}

// With every password check slot taken and no queue, a sign-in is
// answered 429 with Retry-After and the sign-in page saying so, at once
// and without a hash; once the slot is free, sign-in works again.
func TestLoginBusy(t *testing.T) {
	var st *lookupStore
	e := newEnv(t, withAccounts(&st, account.Options{HashSlots: 1, HashQueue: -1, HashWait: 3 * time.Second}))
	held := make(chan resp, 1)
	go func() { held <- postLogin(t, e.fromAddr("127.0.0.3"), e.srv.URL, "held@example.com", "some password") }()
	select {
	case <-st.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("held sign-in never reached the store")
	}
	before := st.lookups.Load()
	start := time.Now()
	r := e.newClient().signIn(t, email[viewer], password, "/board")
	took := time.Since(start)
	r.wantCode(t, http.StatusTooManyRequests)
	if got := r.hdr.Get("Retry-After"); got != "3" {
		t.Errorf("Retry-After = %q, want %q (the gate's wait, in seconds)", got, "3")
	}
	r.wantBody(t, "Too many sign-ins are being checked right now", "try again in 3 seconds", email[viewer])
	if n := st.lookups.Load() - before; n != 0 {
		t.Errorf("refused sign-in looked up %d users (and hashed), want 0", n)
	}
	if took > 2*time.Second {
		t.Errorf("refusal took %v: with no queue it should be at once", took)
	}
	close(st.release)
	if r := <-held; r.code != http.StatusUnauthorized {
		t.Errorf("held sign-in: %v, want 401", r)
	}
	e.newClient().signIn(t, email[viewer], password, "/board").wantCode(t, http.StatusSeeOther)
}

// One address flooding the sign-in with random emails gets 20 password
// checks in 15 minutes, then 429s that cost no hash; a real user at
// another address signs in meanwhile.
func TestLoginFloodFromOneAddress(t *testing.T) {
	var st *lookupStore
	e := newEnv(t, withAccounts(&st, account.Options{}))
	flood := e.fromAddr("127.0.0.2")
	var mu sync.Mutex
	codes := map[int]int{}
	retryAfter := map[string]bool{}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 8 {
				r := postLogin(t, flood, e.srv.URL, fmt.Sprintf("flood-%d-%d@example.com", w, i), "guess-guess-guess")
				mu.Lock()
				codes[r.code]++
				if r.code == http.StatusTooManyRequests {
					retryAfter[r.hdr.Get("Retry-After")] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if codes[http.StatusUnauthorized] > 20 || codes[http.StatusUnauthorized]+codes[http.StatusTooManyRequests] != 64 {
		t.Errorf("64 flood attempts from one address answered %v, want at most 20 × 401 and the rest 429", codes)
	}
	if codes[http.StatusTooManyRequests] < 44 {
		t.Errorf("flood: %d × 429, want at least 44", codes[http.StatusTooManyRequests])
	}
	if n := st.lookups.Load(); n > 20 {
		t.Errorf("flood ran %d user lookups and hashes, want at most 20", n)
	}
	for ra := range retryAfter {
		if ra == "" || ra == "0" {
			t.Errorf("a 429 had Retry-After %q, want whole seconds > 0", ra)
		}
	}
	// Refused outright now, with the window's remainder as Retry-After.
	r := postLogin(t, flood, e.srv.URL, email[viewer], password)
	r.wantCode(t, http.StatusTooManyRequests)
	if got := r.hdr.Get("Retry-After"); got != "900" {
		t.Errorf("Retry-After after 20 failures = %q, want %q (15 minutes; the fake clock stands still)", got, "900")
	}
	// The real user, from 127.0.0.1.
	e.newClient().signIn(t, email[viewer], password, "/board").wantCode(t, http.StatusSeeOther).wantLocation(t, "/board")
	if strings.Contains(r.body, password) {
		t.Error("the sign-in page echoes the password")
	}
}
