package ui_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/account"
	"github.com/vigil-soc/vigil/internal/ui"
)

// offSite are next= and back= values that a browser (or a proxy that
// decodes the path before it) takes to another host.
var offSite = []string{
	"/%09/evil.example", // a browser drops the tab: //evil.example
	"/%0a/evil.example",
	"/%0D%0A/evil.example",
	"/%2F/evil.example",
	"/%5Cevil.example",
	"/%252F/evil.example",
	"/\t/evil.example",
	"/\n/evil.example",
	`/\evil.example`,
	"//evil.example",
	"/ /evil.example",
	"https://evil.example/board",
}

func TestSignInNextStaysOnSite(t *testing.T) {
	e := newEnv(t)
	for _, next := range offSite {
		t.Run(next, func(t *testing.T) {
			c := e.newClient()
			c.signIn(t, email[viewer], password, next).wantCode(t, http.StatusSeeOther).wantLocation(t, "/board")
			// The sign-in page does not carry it into its form either.
			c.get(t, "/login?"+url.Values{"next": {next}}.Encode()).wantCode(t, http.StatusOK).
				wantBody(t, `name="next" value="/board"`).wantNoBody(t, "evil.example")
		})
	}
	t.Run("a clean path is kept", func(t *testing.T) {
		e.newClient().signIn(t, email[viewer], password, "/board?q=a%20b").wantCode(t, http.StatusSeeOther).
			wantLocation(t, "/board?q=a%20b")
	})
}

func TestMoveBackStaysOnSite(t *testing.T) {
	e := newEnv(t)
	c := e.as(t, responder)
	for _, back := range offSite {
		t.Run(back, func(t *testing.T) {
			id := e.ingest(t, spec{title: "moved"})[0]
			// The reason form (no JavaScript) falls back to the board.
			c.get(t, idPath("/items/%d/move?", id)+url.Values{"to": {"Removed"}, "back": {back}}.Encode()).
				wantCode(t, http.StatusOK).wantBody(t, `name="back" value="/board"`).wantNoBody(t, "evil.example")
			// So does the form shown again when the reason is missing.
			c.post(t, idPath("/items/%d/move", id), url.Values{"to": {"Removed"}, "rev": {"1"}, "back": {back}}).
				wantCode(t, http.StatusBadRequest).wantBody(t, `name="back" value="/board"`).wantNoBody(t, "evil.example")
			// And a move goes to the board.
			c.post(t, idPath("/items/%d/move", id), url.Values{"to": {"Approved"}, "rev": {"1"}, "back": {back}}).
				wantCode(t, http.StatusSeeOther).wantLocation(t, "/board")
			if it := e.item(t, id); it.State != "Approved" {
				t.Errorf("got %s, want Approved", it.State)
			}
		})
	}
}

func TestLoginErrorCodes(t *testing.T) {
	e := newEnv(t)
	c := e.newClient()
	c.get(t, "/login?error=sso_expired").wantCode(t, http.StatusOK).wantBody(t, "the sign-in attempt expired; try again")
	c.get(t, "/login?error=throttled").wantCode(t, http.StatusOK).wantBody(t, account.ErrThrottled.Error())
	c.get(t, "/login").wantCode(t, http.StatusOK).wantNoBody(t, `class="error"`)
	for _, text := range []string{
		"<script>alert(1)</script>",
		"Your password expired. Call +1 555 0100 to reset it.",
		"the identity provider refused the sign-in: AADSTS50105",
	} {
		r := c.get(t, "/login?"+url.Values{"error": {text}}.Encode()).wantCode(t, http.StatusOK)
		r.wantBody(t, `class="error"`, "sign-in failed; try again")
		r.wantNoBody(t, text, "alert(1)", "&lt;script", "555 0100", "AADSTS")
	}
}

// fakeSSO is an identity provider that fails as told.
type fakeSSO struct {
	beginErr error
}

func (f *fakeSSO) Begin(context.Context) (string, ui.Attempt, error) {
	if f.beginErr != nil {
		return "", ui.Attempt{}, f.beginErr
	}
	return "https://idp.example/authorize", ui.Attempt{State: "s", Nonce: "n", Verifier: "v"}, nil
}

func (f *fakeSSO) Finish(context.Context, ui.Attempt, string, string) (account.Identity, error) {
	return account.Identity{}, errors.New("token exchange failed: <script>")
}

func (f *fakeSSO) ProviderError(q url.Values) error {
	if q.Get("error") == "" {
		return nil
	}
	return errors.New(q.Get("error") + ": " + q.Get("error_description"))
}

func TestSSOErrorsAreCodes(t *testing.T) {
	sso := &fakeSSO{}
	e := newEnv(t, func(o *ui.Options) { o.SSO, o.SSOName = sso, "Test IdP" })

	t.Run("next is kept on site", func(t *testing.T) {
		r := e.newClient().get(t, "/login/sso?"+url.Values{"next": {"/%09/evil.example"}}.Encode())
		r.wantCode(t, http.StatusFound)
		ck := cookieNamed(r.hdr, "vigil_sso")
		if ck == nil {
			t.Fatalf("%s: no vigil_sso cookie", r)
		}
		b, err := base64.RawURLEncoding.DecodeString(ck.Value)
		var v struct{ Next string }
		if err == nil {
			err = json.Unmarshal(b, &v)
		}
		if err != nil || v.Next != "/board" {
			t.Errorf("got cookie next %q (%v), want /board", v.Next, err)
		}
	})
	t.Run("callback without an attempt", func(t *testing.T) {
		e.newClient().get(t, "/login/sso/callback?state=s&code=c").wantCode(t, http.StatusSeeOther).
			wantLocation(t, "/login?error=sso_expired")
	})
	t.Run("provider refusal", func(t *testing.T) {
		c := e.newClient()
		c.get(t, "/login/sso").wantCode(t, http.StatusFound)
		q := url.Values{"state": {"s"}, "error": {"access_denied"}, "error_description": {"<script>alert(1)</script> call +1 555 0100"}}
		r := c.get(t, "/login/sso/callback?"+q.Encode()).wantCode(t, http.StatusSeeOther).
			wantLocation(t, "/login?error=sso_refused")
		c.get(t, r.hdr.Get("Location")).wantCode(t, http.StatusOK).
			wantBody(t, "the identity provider refused the sign-in").wantNoBody(t, "555 0100", "alert(1)")
	})
	t.Run("failed exchange", func(t *testing.T) {
		c := e.newClient()
		c.get(t, "/login/sso").wantCode(t, http.StatusFound)
		c.get(t, "/login/sso/callback?state=s&code=c").wantCode(t, http.StatusSeeOther).
			wantLocation(t, "/login?error=sso_failed")
	})
	t.Run("provider unavailable", func(t *testing.T) {
		sso.beginErr = errors.New("discovery failed")
		defer func() { sso.beginErr = nil }()
		e.newClient().get(t, "/login/sso").wantCode(t, http.StatusSeeOther).wantLocation(t, "/login?error=sso_unavailable")
	})
}

// TestBoardFilterTextCap: a free-text filter longer than 256 characters
// is a 400 naming the field. A 50,000-byte q used to reach SQLite, which
// refused the LIKE pattern as too complex: a 500.
func TestBoardFilterTextCap(t *testing.T) {
	e := newEnv(t)
	e.ingest(t, spec{title: "findme"})
	c := e.as(t, viewer)
	long := strings.Repeat("a", 50_000)
	// want400 is wantCode for a long query: a failure quotes 200 bytes
	// of the path and the body, not all of them.
	want400 := func(t *testing.T, path string, hdr ...string) resp {
		t.Helper()
		r := c.get(t, path, hdr...)
		if r.code != http.StatusBadRequest {
			t.Fatalf("GET %.200s: got %d %.200s, want 400", path, r.code, r.body)
		}
		return r
	}
	for _, field := range []string{"q", "source", "assignee", "tag"} {
		for _, page := range []string{"/board", "/triage"} {
			t.Run(field+" on "+page, func(t *testing.T) {
				want400(t, page+"?"+url.Values{field: {long}}.Encode()).wantBody(t, field+": must be at most 256 characters")
				want400(t, page+"?"+url.Values{field: {strings.Repeat("x", 257)}}.Encode())
				// 256 characters, even of several bytes each, are allowed.
				c.get(t, page+"?"+url.Values{field: {strings.Repeat("é", 256)}}.Encode()).wantCode(t, http.StatusOK)
			})
		}
	}
	t.Run("htmx board fragment", func(t *testing.T) {
		want400(t, "/board?"+url.Values{"q": {long}}.Encode(), "HX-Request", "true", "HX-Target", "board").
			wantBody(t, "q: must be at most 256 characters")
	})
	t.Run("live card refresh", func(t *testing.T) {
		want400(t, "/board/cards/1?"+url.Values{"q": {long}}.Encode(), "HX-Request", "true").wantBody(t, "q: ")
	})
	t.Run("a short filter still works", func(t *testing.T) {
		if ids := cardIDs(c.get(t, "/board?q=findme").wantCode(t, http.StatusOK).body); len(ids) != 1 {
			t.Errorf("got cards %v, want the one match", ids)
		}
	})
}

// stream opens GET /events for c and waits until it is subscribed; the
// returned func closes it.
func (c *client) stream(t *testing.T) (code int, retryAfter string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", c.e.srv.URL+"/events", nil)
	res, err := c.http.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET /events: %v", err)
	}
	stop = func() { cancel(); res.Body.Close() }
	if res.StatusCode != http.StatusOK {
		stop()
		return res.StatusCode, res.Header.Get("Retry-After"), func() {}
	}
	br := bufio.NewReader(res.Body)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			stop()
			t.Fatalf("stream ended before it was subscribed: %v", err)
		}
		if strings.HasPrefix(line, ": connected") {
			return res.StatusCode, "", stop
		}
	}
}

// TestEventsStreamCaps: a session holds at most StreamsPerSession live
// streams and a user at most StreamsPerUser across sessions; the next
// one is a 429 with Retry-After until one closes.
func TestEventsStreamCaps(t *testing.T) {
	e := newEnv(t, func(o *ui.Options) { o.StreamsPerSession, o.StreamsPerUser = 2, 3 })
	a := e.as(t, viewer)
	wantRefused := func(t *testing.T, c *client) {
		t.Helper()
		code, retry, _ := c.stream(t)
		if code != http.StatusTooManyRequests || retry == "" {
			t.Fatalf("got %d with Retry-After %q, want 429 with Retry-After", code, retry)
		}
	}
	// waitOpen retries until a stream opens: a closed stream's slot is
	// freed when its handler notices the client went away.
	waitOpen := func(t *testing.T, c *client) func() {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, _, stop := c.stream(t)
			if code == http.StatusOK {
				return stop
			}
			if time.Now().After(deadline) {
				t.Fatalf("no stream opened after a slot was freed: %d", code)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	var stops []func()
	defer func() {
		for _, s := range stops {
			s()
		}
	}()
	for range 2 {
		code, _, stop := a.stream(t)
		if code != http.StatusOK {
			t.Fatalf("stream within the cap: got %d", code)
		}
		stops = append(stops, stop)
	}
	wantRefused(t, a)

	// Another session of the same user has its own per-session cap, but
	// shares the per-user one.
	b := e.newClient()
	b.signIn(t, email[viewer], password, "/board").wantCode(t, http.StatusSeeOther)
	code, _, stop := b.stream(t)
	if code != http.StatusOK {
		t.Fatalf("second session's first stream: got %d", code)
	}
	stops = append(stops, stop)
	wantRefused(t, b)

	// Another user is not affected.
	other := e.as(t, responder)
	code, _, stop = other.stream(t)
	if code != http.StatusOK {
		t.Fatalf("another user's stream: got %d", code)
	}
	stops = append(stops, stop)

	// Closing one of a's streams frees a slot for a.
	stops[0]()
	stops[0] = func() {}
	stops = append(stops, waitOpen(t, a))
	wantRefused(t, a)
}

// A link cannot make a page say something: outcomes of forms travel in a
// cookie only vigil sets, never in the URL.
func TestNoTextFromTheURL(t *testing.T) {
	e := newEnv(t)
	lie := "Call +1 555 0100 to verify your account"
	for _, path := range []string{
		"/admin/users?done=" + url.QueryEscape(lie),
		"/admin/keys?done=" + url.QueryEscape(lie),
		"/triage?moved=3&to=" + url.QueryEscape(lie) + "&failed=" + url.QueryEscape(lie),
	} {
		e.as(t, admin).get(t, path).wantCode(t, http.StatusOK).wantNoBody(t, lie)
	}
}
