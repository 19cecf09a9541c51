package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/account"
	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/ui"
	"github.com/vigil-soc/vigil/internal/web"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// t0 is the fake clock's start.
var t0 = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

const password = "correct horse battery staple"

// passwordHash is computed once for the whole package: argon2 costs a
// noticeable fraction of a second, and every user of every test server
// shares the password.
var passwordHash = sync.OnceValues(func() (string, error) { return auth.HashPassword(password) })

// Shorthands for the roles.
const (
	viewer    = auth.RoleViewer
	responder = auth.RoleResponder
	admin     = auth.RoleAdmin
)

// email is the address of the test user of each role.
var email = map[auth.Role]string{
	viewer:    "vic.viewer@example.com",
	responder: "rob.responder@example.com",
	admin:     "ana.admin@example.com",
}

// env is a running web interface: the real handlers behind web.Server on a
// real socket, a SQLite store, the work-item and account services, and one
// user per role.
type env struct {
	clk   *clock.Fake
	db    *store.DB
	items *workitem.Service
	ui    *ui.UI
	h     http.Handler
	srv   *httptest.Server
	users map[auth.Role]store.User

	mu      sync.Mutex
	clients map[auth.Role]*client
}

func newEnv(t testing.TB, opts ...func(*ui.Options)) *env {
	t.Helper()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	db := storetest.SQLite(t, clk)
	items := workitem.NewService(db, workitem.DefaultProcess(), clk)
	o := ui.Options{Items: items, Accounts: account.New(db, clk, account.Options{}), Records: db,
		ReasonPresets: []string{"false positive", "true positive"}, Clock: clk, Version: "test-1.0"}
	for _, f := range opts {
		f(&o)
	}
	u, err := ui.New(o)
	if err != nil {
		t.Fatalf("ui.New: %v", err)
	}
	h := web.New(web.Options{Store: db, Incidents: db, Items: items, Clock: clk, Version: "test-1.0", UI: u})
	srv := httptest.NewServer(h)
	// Cleanups run last-registered first: open streams end, then the
	// server stops, then storetest closes the database.
	t.Cleanup(srv.Close)
	t.Cleanup(u.Close)
	e := &env{clk: clk, db: db, items: items, ui: u, h: h, srv: srv, users: map[auth.Role]store.User{},
		clients: map[auth.Role]*client{}}
	hash, err := passwordHash()
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []auth.Role{viewer, responder, admin} {
		usr, err := db.AddUser(ctx, email[role], role, hash)
		if err != nil {
			t.Fatalf("AddUser(%s): %v", role, err)
		}
		e.users[role] = usr
	}
	return e
}

// actor is the user of role as the services see it.
func (e *env) actor(role auth.Role) auth.Actor {
	u := e.users[role]
	return auth.Actor{Kind: "user", ID: u.ID, Name: u.Email, Role: u.Role}
}

// client is a browser without JavaScript: it keeps cookies and does not
// follow redirects, so that tests see the 303s.
type client struct {
	e      *env
	http   *http.Client
	cookie string // the session token
	csrf   string
}

func (e *env) newClient() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, http: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// as returns a client signed in as the user of role, signing in through
// POST /login the first time.
func (e *env) as(t testing.TB, role auth.Role) *client {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if c := e.clients[role]; c != nil {
		return c
	}
	c := e.newClient()
	c.signIn(t, email[role], password, "/board").wantCode(t, http.StatusSeeOther)
	if c.cookie == "" {
		t.Fatalf("sign in as %s: no session cookie", role)
	}
	e.clients[role] = c
	return c
}

// signIn posts the sign-in form and keeps the session cookie it sets.
func (c *client) signIn(t testing.TB, mail, pass, next string) resp {
	t.Helper()
	r := c.do(t, "POST", "/login", url.Values{"email": {mail}, "password": {pass}, "next": {next}})
	u, _ := url.Parse(c.e.srv.URL)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == "vigil_session" {
			c.cookie, c.csrf = ck.Value, account.CSRFToken(ck.Value)
		}
	}
	return r
}

// resp is a response, read in full.
type resp struct {
	method, path string
	code         int
	hdr          http.Header
	body         string
}

func (r resp) String() string {
	b := r.body
	if len(b) > 600 {
		b = b[:600] + "…"
	}
	return fmt.Sprintf("%s %s → %d %s", r.method, r.path, r.code, strings.TrimSpace(b))
}

func (r resp) wantCode(t testing.TB, want int) resp {
	t.Helper()
	if r.code != want {
		t.Fatalf("%s: got status %d, want %d", r, r.code, want)
	}
	return r
}

// wantLocation fails unless the response redirects to want.
func (r resp) wantLocation(t testing.TB, want string) resp {
	t.Helper()
	if got := r.hdr.Get("Location"); got != want {
		t.Errorf("%s %s: got Location %q, want %q", r.method, r.path, got, want)
	}
	return r
}

// wantBody fails unless the body contains each of want.
func (r resp) wantBody(t testing.TB, want ...string) resp {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(r.body, w) {
			t.Errorf("%s: body lacks %q", r, w)
		}
	}
	return r
}

// wantNoBody fails if the body contains any of unwanted.
func (r resp) wantNoBody(t testing.TB, unwanted ...string) resp {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(r.body, w) {
			t.Errorf("%s %s: body contains %q, want it absent", r.method, r.path, w)
		}
	}
	return r
}

// do sends a request; a non-nil form is sent as an urlencoded body. hdr
// is pairs of header name and value.
func (c *client) do(t testing.TB, method, path string, form url.Values, hdr ...string) resp {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.e.srv.URL+path, body)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp{method: method, path: path, code: res.StatusCode, hdr: res.Header, body: string(b)}
}

func (c *client) get(t testing.TB, path string, hdr ...string) resp {
	t.Helper()
	return c.do(t, "GET", path, nil, hdr...)
}

// post sends a form with the session's CSRF token added.
func (c *client) post(t testing.TB, path string, form url.Values, hdr ...string) resp {
	t.Helper()
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	f.Set("csrf", c.csrf)
	return c.do(t, "POST", path, f, hdr...)
}

// spec describes an alert to ingest; zero fields get defaults.
type spec struct {
	source, id, title string
	sev               alert.Severity
	entities          []alert.Entity
	raw               string
}

// alertSeq numbers alerts that need a unique source id.
var alertSeq atomic.Int64

// ingest stores alerts as a sender would and returns their items' ids.
func (e *env) ingest(t testing.TB, specs ...spec) []int64 {
	t.Helper()
	alerts := make([]alert.Alert, len(specs))
	for i, s := range specs {
		if s.source == "" {
			s.source = "suricata"
		}
		if s.title == "" {
			s.title = fmt.Sprintf("alert %d", i)
		}
		if s.id == "" {
			s.id = fmt.Sprintf("%s-%d", s.source, alertSeq.Add(1))
		}
		if s.raw == "" {
			s.raw = fmt.Sprintf(`{"id":%q,"title":%q}`, s.id, s.title)
		}
		a := alert.Alert{Source: s.source, SourceID: s.id, Title: s.title, Severity: s.sev, Entities: s.entities,
			Raw: json.RawMessage(s.raw)}
		if err := a.Normalize(e.clk.Now()); err != nil {
			t.Fatalf("normalize %+v: %v", s, err)
		}
		alerts[i] = a
	}
	res, err := e.db.Ingest(context.Background(), e.items.Process(), "token:test", alerts)
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	ids := make([]int64, len(res))
	for i, r := range res {
		ids[i] = r.WorkItemID
	}
	return ids
}

// item reads an item as vigil itself.
func (e *env) item(t testing.TB, id int64) workitem.Item {
	t.Helper()
	it, err := e.items.Get(context.Background(), auth.System, id)
	if err != nil {
		t.Fatalf("get item %d: %v", id, err)
	}
	return it
}

// move moves an item as vigil itself.
func (e *env) move(t testing.TB, id int64, to, reason string) workitem.Item {
	t.Helper()
	it, err := e.items.Transition(context.Background(), auth.System, id, to, reason, 0)
	if err != nil {
		t.Fatalf("move %d to %s: %v", id, to, err)
	}
	return it
}

// set changes an item's assignee and tags as vigil itself.
func (e *env) set(t testing.TB, id int64, assignee string, tags ...string) {
	t.Helper()
	p := workitem.Patch{Assignee: &assignee}
	if tags != nil {
		p.Tags = &tags
	}
	if _, err := e.items.Update(context.Background(), auth.System, id, p, 0); err != nil {
		t.Fatalf("update %d: %v", id, err)
	}
}

func (e *env) timeline(t testing.TB, id int64) []workitem.Entry {
	t.Helper()
	tl, err := e.db.Timeline(context.Background(), id, 0, 0)
	if err != nil {
		t.Fatalf("timeline %d: %v", id, err)
	}
	return tl
}

var (
	cardRE  = regexp.MustCompile(`<li class="card [^"]*" id="card-(\d+)"`)
	countRE = regexp.MustCompile(`data-count="(\w+)" aria-label="[\d,]+ items">([\d,]+)<`)
	moreRE  = regexp.MustCompile(`<a class="more" href="([^"]*)">Show (\d+) more</a>`)
	csrfRE  = regexp.MustCompile(`<body data-csrf="([^"]*)"`)
	// triageRowRE finds the rows of the triage queue.
	triageRowRE = regexp.MustCompile(`<tr id="triage-(\d+)">`)
)

// cardIDs lists the ids of the cards on a board page, in page order.
func cardIDs(body string) []int64 {
	var out []int64
	for _, m := range cardRE.FindAllStringSubmatch(body, -1) {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		out = append(out, id)
	}
	return out
}

// counts reads the column counts of a board page.
func counts(body string) map[string]int {
	out := map[string]int{}
	for _, m := range countRE.FindAllStringSubmatch(body, -1) {
		out[m[1]], _ = strconv.Atoi(strings.ReplaceAll(m[2], ",", "")) // 12,345
	}
	return out
}

func sorted(ids []int64) []int64 {
	s := slices.Clone(ids)
	slices.Sort(s)
	return s
}

func idPath(format string, id int64) string { return fmt.Sprintf(format, id) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
