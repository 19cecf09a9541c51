package test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	smtp "github.com/emersion/go-smtp"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/securityinsights/armsecurityinsights/v2"
	"github.com/vigil-soc/vigil/internal/notify"
)

// gotMail is one message the test's SMTP server accepted, decoded.
type gotMail struct {
	at       time.Time
	from     string
	to       []string
	subject  string
	text     string // the text/plain part, transfer-decoded
	html     string
	received []byte
}

// mailbox is a real SMTP server (emersion/go-smtp) on 127.0.0.1 that keeps
// everything it accepts: vigil's email channel talks to it as to a relay.
type mailbox struct {
	addr string
	mu   sync.Mutex
	got  []gotMail
	// reject, when set, may refuse a message after its DATA, as a relay
	// in trouble would (451); refused messages are counted, not kept.
	reject   func(gotMail) error
	rejected []gotMail
}

// setReject installs a refusal rule.
func (mb *mailbox) setReject(f func(gotMail) error) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.reject = f
}

// refused returns the messages the server refused.
func (mb *mailbox) refused() []gotMail {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]gotMail(nil), mb.rejected...)
}

func startMailbox(t testing.TB) *mailbox {
	t.Helper()
	mb := &mailbox{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &mailSession{mb: mb}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mb.addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return mb
}

func (mb *mailbox) messages() []gotMail {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]gotMail(nil), mb.got...)
}

// waitFor returns the first message match accepts.
func (mb *mailbox) waitFor(t testing.TB, within time.Duration, what string, match func(gotMail) bool) gotMail {
	t.Helper()
	var found gotMail
	deadline := time.Now().Add(within)
	for {
		for _, m := range mb.messages() {
			if match(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			var subjects []string
			for _, m := range mb.messages() {
				subjects = append(subjects, fmt.Sprintf("%q to %v", m.subject, m.to))
			}
			t.Fatalf("%s: no such email within %s; the server has %d: %s", what, within, len(subjects), strings.Join(subjects, "; "))
			return found
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type mailSession struct {
	mb  *mailbox
	cur gotMail
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	s.cur = gotMail{from: from}
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := s.cur
	m.at, m.received = time.Now(), b
	if err := decodeMail(&m); err != nil {
		m.subject = "undecodable: " + err.Error()
	}
	s.mb.mu.Lock()
	defer s.mb.mu.Unlock()
	if s.mb.reject != nil {
		if err := s.mb.reject(m); err != nil {
			s.mb.rejected = append(s.mb.rejected, m)
			return err
		}
	}
	s.mb.got = append(s.mb.got, m)
	return nil
}

func (s *mailSession) Reset()        { s.cur = gotMail{} }
func (s *mailSession) Logout() error { return nil }

// decodeMail reads the subject and the text and HTML parts as a mail
// client would: quoted-printable would otherwise wrap a long link.
func decodeMail(m *gotMail) error {
	msg, err := mail.ReadMessage(bytes.NewReader(m.received))
	if err != nil {
		return err
	}
	dec := new(mime.WordDecoder)
	if m.subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return err
	}
	return decodePart(m, msg.Header, msg.Body)
}

type headerGetter interface{ Get(string) string }

func decodePart(m *gotMail, h headerGetter, body io.Reader) error {
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := decodePart(m, p.Header, p); err != nil {
				return err
			}
		}
	}
	var r io.Reader = body
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	switch mt {
	case "text/plain":
		m.text += string(b)
	case "text/html":
		m.html += string(b)
	}
	return nil
}

// hooked is one request the test's webhook receiver got.
type hooked struct {
	at     time.Time
	header http.Header
	body   []byte
	event  notify.Event
	status int // what the receiver answered
}

type hookReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []hooked // every request, answered 2xx or not
	// fail, when set, may answer a request with an error status and a
	// Retry-After; it returns 0 to accept.
	fail func(hooked) (status int, retryAfter string)
}

// setFail installs a failure rule.
func (h *hookReceiver) setFail(f func(hooked) (int, string)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fail = f
}

// all returns every request received so far.
func (h *hookReceiver) all() []hooked {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hooked(nil), h.got...)
}

func startHookReceiver(t testing.TB) *hookReceiver {
	t.Helper()
	h := &hookReceiver{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		x := hooked{at: time.Now(), header: r.Header.Clone(), body: b, status: http.StatusNoContent}
		_ = json.Unmarshal(b, &x.event)
		h.mu.Lock()
		retryAfter := ""
		if h.fail != nil {
			if code, ra := h.fail(x); code != 0 {
				x.status, retryAfter = code, ra
			}
		}
		h.got = append(h.got, x)
		h.mu.Unlock()
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(x.status)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) waitFor(t testing.TB, within time.Duration, what string, match func(hooked) bool) hooked {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		h.mu.Lock()
		got := append([]hooked(nil), h.got...)
		h.mu.Unlock()
		for _, x := range got {
			if x.status < 300 && match(x) {
				return x
			}
		}
		if time.Now().After(deadline) {
			var types []string
			for _, x := range got {
				types = append(types, x.event.Type)
			}
			t.Fatalf("%s: no such webhook within %s; received %v", what, within, types)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startDemo runs `vigil demo` with extra arguments and returns the
// simulator's line, the admin token and vigil's URL.
func startDemo(t testing.TB, addr string, args ...string) (simInfo, string) {
	t.Helper()
	cmd := exec.Command(vigilBin, append([]string{"demo", "--listen", addr, "--scenario", "0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			t.Logf("vigil demo stderr:\n%s", stderr.String())
		}
	})
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var info simInfo
	var token string
	timeout := time.After(60 * time.Second)
	for token == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("vigil demo exited early:\n%s", stderr.String())
			}
			if strings.HasPrefix(l, "{") {
				if err := json.Unmarshal([]byte(l), &info); err != nil {
					t.Fatalf("first line %q: %v", l, err)
				}
			}
			if strings.HasPrefix(l, "vgl_") {
				token = l
			}
		case <-timeout:
			t.Fatal("vigil demo printed no token")
		}
	}
	go func() { // keep the pipe drained
		for range lines {
		}
	}()
	return info, token
}

type apiPage struct {
	ID         int64  `json:"id"`
	Service    string `json:"service"`
	WorkItemID int64  `json:"workitem_id"`
	Title      string `json:"title"`
	State      string `json:"state"`
	AckBy      string `json:"ack_by"`
}

func (v vigilAPI) pageOfItem(t testing.TB, item int64) (apiPage, bool) {
	t.Helper()
	var out struct {
		Pages []apiPage `json:"pages"`
	}
	if code := v.call(t, "GET", "/api/v1/pages", "", &out); code != 200 {
		t.Fatalf("GET /api/v1/pages: %d", code)
	}
	for _, p := range out.Pages {
		if p.WorkItemID == item {
			return p, true
		}
	}
	return apiPage{}, false
}

func (v vigilAPI) page(t testing.TB, id int64) apiPage {
	t.Helper()
	var p apiPage
	if code := v.call(t, "GET", fmt.Sprintf("/api/v1/pages/%d", id), "", &p); code != 200 {
		t.Fatalf("GET page %d: %d", id, code)
	}
	return p
}

func (v vigilAPI) put(t testing.TB, path, body string) {
	t.Helper()
	var out json.RawMessage
	if code := v.call(t, "PUT", path, body, &out); code != 201 && code != 200 {
		t.Fatalf("PUT %s: %d %s", path, code, out)
	}
}

var codeRE = regexp.MustCompile(`Your verification code: (\d{6})`)

// TestOnCallEndToEnd is the on-call issue's end-to-end test on the real
// binary: a Sentinel incident routed to a service becomes a page, an
// email at a real SMTP server and a signed webhook; the email's link
// acknowledges it (GET only shows it); the responder becomes the
// incident's owner in the simulator; closing the item resolves the page.
func TestOnCallEndToEnd(t *testing.T) {
	const responder = "oncall@example.com"
	const cycle = 3 * time.Second // the demo's poll interval
	mb := startMailbox(t)
	hooks := startHookReceiver(t)

	addr := freePort(t)
	base := "http://" + addr
	host, port, _ := net.SplitHostPort(mb.addr)
	cfgFile := filepath.Join(t.TempDir(), "vigil.yaml")
	cfg := fmt.Sprintf("paging:\n  base_url: %s\n  smtp:\n    host: %s\n    port: %s\n    from: \"vigil pager <pager@vigil.example>\"\n    tls: none\n",
		base, host, port)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	info, token := startDemo(t, addr, "--config", cfgFile)
	p := newPortal(t, info)
	v := vigilAPI{base: base, token: token}

	// Contact methods, each verified with the code it received.
	var email, hook struct {
		ID            int64  `json:"id"`
		VerifiedAt    any    `json:"verified_at"`
		WebhookSecret string `json:"webhook_secret"`
	}
	if code := v.call(t, "POST", "/api/v1/users/"+responder+"/contact-methods",
		`{"type":"email","value":"`+responder+`","name":"work mail"}`, &email); code != 201 {
		t.Fatalf("add email contact method: %d", code)
	}
	if code := v.call(t, "POST", "/api/v1/users/"+responder+"/contact-methods",
		fmt.Sprintf(`{"type":"webhook","value":%q,"name":"chat"}`, hooks.srv.URL+"/pager?token=abc"), &hook); code != 201 {
		t.Fatalf("add webhook contact method: %d", code)
	}
	if email.ID == 0 || hook.ID == 0 || email.VerifiedAt != nil || hook.VerifiedAt != nil {
		t.Fatalf("added methods = %+v, %+v: want ids, unverified", email, hook)
	}
	if !strings.HasPrefix(hook.WebhookSecret, notify.SecretPrefix) || email.WebhookSecret != "" {
		t.Fatalf("webhook_secret = %q (email's %q): want a whsec_ secret for the webhook only", hook.WebhookSecret, email.WebhookSecret)
	}
	verifyMail := mb.waitFor(t, 10*time.Second, "verification email", func(m gotMail) bool {
		return codeRE.MatchString(m.subject) && len(m.to) == 1 && m.to[0] == responder
	})
	if !strings.HasPrefix(verifyMail.subject, "[vigil] Your verification code: ") {
		t.Errorf("verification subject = %q", verifyMail.subject)
	}
	verifyHook := hooks.waitFor(t, 10*time.Second, "verification webhook", func(x hooked) bool {
		return x.event.Type == "contact_method.verify"
	})
	checkSigned(t, hook.WebhookSecret, verifyHook)
	if verifyHook.event.Data.ContactMethodID != hook.ID || !codeRE.MatchString(verifyHook.event.Data.Subject) ||
		!strings.Contains(verifyHook.event.Data.Text, codeRE.FindStringSubmatch(verifyHook.event.Data.Subject)[1]) {
		t.Errorf("verification webhook data = %+v: want the method's id and the code in subject and text", verifyHook.event.Data)
	}
	for _, c := range []struct {
		id   int64
		code string
	}{{email.ID, codeRE.FindStringSubmatch(verifyMail.subject)[1]}, {hook.ID, codeRE.FindStringSubmatch(verifyHook.event.Data.Subject)[1]}} {
		var got struct {
			VerifiedAt *time.Time `json:"verified_at"`
		}
		if code := v.call(t, "POST", fmt.Sprintf("/api/v1/contact-methods/%d/verify", c.id), `{"code":"000000x"}`, nil); code != 400 {
			t.Errorf("verify %d with a wrong code: %d, want 400", c.id, code)
		}
		if code := v.call(t, "POST", fmt.Sprintf("/api/v1/contact-methods/%d/verify", c.id), fmt.Sprintf(`{"code":%q}`, c.code), &got); code != 200 || got.VerifiedAt == nil {
			t.Fatalf("verify contact method %d: %d, verified_at %v", c.id, code, got.VerifiedAt)
		}
	}

	// Schedule → policy → service routing Sentinel's incidents.
	yesterday := time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Hour)
	v.put(t, "/api/v1/oncall/schedules/primary", fmt.Sprintf(`{"name":"primary","time_zone":"UTC","layers":[
		{"name":"daily","type":"daily","shift_length":1,"start":%q,"time_zone":"UTC","participants":[%q]}]}`,
		yesterday.Format(time.RFC3339), responder))
	v.put(t, "/api/v1/oncall/policies/soc", `{"name":"soc","repeat":0,"steps":[
		{"delay_minutes":5,"targets":[{"type":"schedule","name":"primary"}]}]}`)
	v.put(t, "/api/v1/oncall/services/sentinel",
		`{"name":"sentinel","policy":"soc","urgency":"high","condition":"source == \"sentinel\""}`)
	var now struct {
		Schedules json.RawMessage `json:"schedules"`
	}
	if v.call(t, "GET", "/api/v1/oncall/now", "", &now); !strings.Contains(string(now.Schedules), responder) {
		t.Fatalf("who is on call = %s, want %s on primary", now.Schedules, responder)
	}

	// A Defender for Cloud alert → Sentinel incident → vigil → page.
	alertName := p.raise(t)
	inc := p.incidentOf(t, alertName)
	var item int64
	var seenAt time.Time
	deadline := time.Now().Add(5 * cycle)
	for item == 0 {
		var list struct {
			Items []struct {
				SourceID   string `json:"source_id"`
				WorkItemID int64  `json:"workitem_id"`
			} `json:"items"`
		}
		v.call(t, "GET", "/api/v1/incidents?source=sentinel&limit=200", "", &list)
		for _, in := range list.Items {
			if in.SourceID == *inc.Name && in.WorkItemID != 0 {
				item, seenAt = in.WorkItemID, time.Now()
			}
		}
		if item == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("vigil did not pull incident %s within %s", *inc.Name, 5*cycle)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	var pg apiPage
	eventually(t, 5*time.Second, "a page for the incident's item", func() bool {
		var ok bool
		pg, ok = v.pageOfItem(t, item)
		return ok
	})
	if pg.Service != "sentinel" || pg.State != "triggered" || pg.Title == "" {
		t.Fatalf("page = %+v: want a triggered page on service sentinel with the item's title", pg)
	}
	// The demo's preloaded incidents page too, under the same titles:
	// the page's email is the one that links to its item.
	itemLink := regexp.MustCompile(regexp.QuoteMeta(fmt.Sprintf("%s/items/%d", base, item)) + `\b`)
	pageMail := mb.waitFor(t, 10*time.Second, "the page's email", func(m gotMail) bool {
		return itemLink.MatchString(m.text) && len(m.to) == 1 && m.to[0] == responder
	})
	if !strings.Contains(pageMail.subject, pg.Title) {
		t.Errorf("the page's email subject = %q, want the title %q in it", pageMail.subject, pg.Title)
	}
	var created struct {
		CreatedAt time.Time `json:"created_at"`
	}
	v.call(t, "GET", fmt.Sprintf("/api/v1/workitems/%d", item), "", &created)
	t.Logf("incident visible in vigil → email accepted by the SMTP server: %s after the item's created_at, %s after the API first listed it (polled every 20 ms; negative: the email came first)",
		pageMail.at.Sub(created.CreatedAt).Round(time.Millisecond), pageMail.at.Sub(seenAt).Round(time.Millisecond))
	ackRE := regexp.MustCompile(regexp.QuoteMeta(base) + `/ack/[A-Za-z0-9._~-]+`)
	ackURL := ackRE.FindString(pageMail.text)
	if ackURL == "" {
		t.Fatalf("the page's email has no %s/ack/ link; text part:\n%s", base, pageMail.text)
	}
	if !strings.Contains(pageMail.html, ackURL) {
		t.Errorf("the HTML part lacks the link %s", ackURL)
	}
	pageHook := hooks.waitFor(t, 10*time.Second, "the page's webhook", func(x hooked) bool {
		return x.event.Type == "page.triggered" && x.event.Data.PageID == pg.ID
	})
	checkSigned(t, hook.WebhookSecret, pageHook)
	if d := pageHook.event.Data; d.WorkItemID != item || d.Title != pg.Title || d.Service != "sentinel" ||
		d.ContactMethodID != hook.ID || !ackRE.MatchString(d.AckURL) {
		t.Errorf("page.triggered data = %+v", d)
	}
	if pageHook.header.Get(notify.HeaderWebhookID) != pageHook.event.Data.NotificationID {
		t.Errorf("webhook-id %q, notification id %q: want the same", pageHook.header.Get(notify.HeaderWebhookID), pageHook.event.Data.NotificationID)
	}
	t.Logf("incident visible in vigil → webhook received: %s", pageHook.at.Sub(seenAt).Round(time.Millisecond))

	// The link: GET shows, POST acts.
	res, err := http.Get(ackURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "Acknowledge") || !strings.Contains(string(body), `value="acknowledge"`) {
		t.Fatalf("GET ack link: %d, want 200 with an Acknowledge button:\n%s", res.StatusCode, body)
	}
	if got := v.page(t, pg.ID); got.State != "triggered" {
		t.Fatalf("after GET on the link the page is %s, want still triggered", got.State)
	}
	res, err = http.PostForm(ackURL, url.Values{"action": {"acknowledge"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "acknowledged") {
		t.Fatalf("POST acknowledge on the link: %d:\n%s", res.StatusCode, body)
	}
	if got := v.page(t, pg.ID); got.State != "acknowledged" || got.AckBy != responder {
		t.Fatalf("after the POST the page = %+v, want acknowledged by %s", got, responder)
	}
	// The link again: the state shows, the button is gone, and a second
	// press (a double click) changes nothing.
	res, err = http.Get(ackURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "acknowledged by "+responder) || strings.Contains(string(body), `value="acknowledge"`) {
		t.Errorf("GET ack link after acknowledging: %d, want the state and no Acknowledge button:\n%s", res.StatusCode, body)
	}
	res, err = http.PostForm(ackURL, url.Values{"action": {"acknowledge"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := v.page(t, pg.ID); res.StatusCode != 200 || got.State != "acknowledged" || got.AckBy != responder {
		t.Errorf("second acknowledge: %d, page %+v", res.StatusCode, got)
	}
	var wi struct {
		Assignee string `json:"assignee"`
		State    string `json:"state"`
	}
	if code := v.call(t, "GET", fmt.Sprintf("/api/v1/workitems/%d", item), "", &wi); code != 200 || wi.Assignee != responder || wi.State != "Active" {
		t.Fatalf("item %d after acknowledgement: %d assignee %q state %q, want %s and Active\ntimeline:\n%s",
			item, code, wi.Assignee, wi.State, responder, v.timeline(t, item))
	}

	// The responder is the incident's owner in Sentinel, and it is Active.
	took := eventually(t, 4*cycle, "the Sentinel incident's owner is the responder and its status Active", func() bool {
		got := p.incident(t, *inc.Name)
		o := got.Properties.Owner
		owner := o != nil && ((o.Email != nil && strings.EqualFold(*o.Email, responder)) ||
			(o.AssignedTo != nil && strings.EqualFold(*o.AssignedTo, responder)))
		return owner && got.Properties.Status != nil && *got.Properties.Status == armsecurityinsights.IncidentStatusActive
	})
	t.Logf("acknowledgement → Sentinel owner and status Active in %s", took.Round(100*time.Millisecond))
	// The acknowledgement's walk (New → Approved → Active) is mirrored to
	// Azure Boards; Boards' hooks for those moves must not pull the item
	// back to a state it has passed.
	time.Sleep(time.Second) // the last hook's round trip
	if code := v.call(t, "GET", fmt.Sprintf("/api/v1/workitems/%d", item), "", &wi); code != 200 || wi.State != "Active" || wi.Assignee != responder {
		t.Errorf("item %d a while after acknowledgement: state %q assignee %q, want Active and %s", item, wi.State, wi.Assignee, responder)
	}
	if tl := v.timeline(t, item); strings.Contains(tl, "moved from Active to Approved") {
		t.Errorf("the Boards hook of vigil's own move to Approved pulled the acknowledged item back from Active:\n%s", tl)
	}

	// A second acknowledgement, by someone else, of a page already
	// acknowledged changes nothing: the page stays the responder's, and
	// so does the item.
	var again apiPage
	if code := v.call(t, "POST", fmt.Sprintf("/api/v1/pages/%d/acknowledge", pg.ID), `{"user":"other@example.com"}`, &again); code != 200 && code != 409 {
		t.Errorf("acknowledge an acknowledged page: %d, want 200 (no change) or 409", code)
	}
	v.call(t, "GET", fmt.Sprintf("/api/v1/workitems/%d", item), "", &wi)
	if got := v.page(t, pg.ID); got.AckBy != responder || wi.Assignee != responder {
		t.Errorf("after other@example.com acknowledged the acknowledged page: page ack_by %q, item assignee %q; want both %s",
			got.AckBy, wi.Assignee, responder)
	}

	// Closing the item resolves the page; the walk starts from Active, so
	// the first moves of walkToClosed are skipped.
	for _, step := range []struct{ to, reason string }{{"Verification", ""}, {"Closed", "true positive: host isolated"}} {
		if code := v.call(t, "POST", fmt.Sprintf("/api/v1/workitems/%d/transitions", item),
			fmt.Sprintf(`{"to":%q,"reason":%q}`, step.to, step.reason), nil); code != 200 {
			t.Fatalf("move item %d to %s: %d", item, step.to, code)
		}
	}
	eventually(t, 5*time.Second, "closing the item resolves the page", func() bool {
		return v.page(t, pg.ID).State == "resolved"
	})
	if tl := v.timeline(t, item); !strings.Contains(tl, fmt.Sprintf("page #%d acknowledged by %s", pg.ID, responder)) ||
		!strings.Contains(tl, fmt.Sprintf("page #%d resolved", pg.ID)) {
		t.Errorf("the timeline lacks the page's acknowledgement or resolution:\n%s", tl)
	}
	// The link of a resolved page shows it, with nothing left to press;
	// a forged link shows nothing.
	res, err = http.Get(ackURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), ">resolved<") || strings.Contains(string(body), "<form") {
		t.Errorf("GET ack link of the resolved page: %d, want its state and no form:\n%s", res.StatusCode, body)
	}
	res, err = http.PostForm(ackURL, url.Values{"action": {"acknowledge"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusConflict || v.page(t, pg.ID).State != "resolved" {
		t.Errorf("POST acknowledge on the resolved page's link: %d, want 409 and the page still resolved", res.StatusCode)
	}
	forged := ackURL[:len(ackURL)-4] + "AAAA"
	if ackURL[len(ackURL)-4:] == "AAAA" {
		forged = ackURL[:len(ackURL)-4] + "BBBB"
	}
	for _, u := range []string{forged, base + "/ack/nonsense"} {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", u, res.StatusCode)
		}
	}

	// One email for the page: none sent twice, none after the acknowledgement.
	n := 0
	for _, m := range mb.messages() {
		if itemLink.MatchString(m.text) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d emails link to item %d, want 1 (the page's)", n, item)
	}
}

// checkSigned verifies a received webhook with the method's secret, as
// its receiver would.
func checkSigned(t testing.TB, secret string, x hooked) {
	t.Helper()
	if err := notify.Verify(secret, x.header, x.body, time.Now(), 5*time.Minute); err != nil {
		t.Errorf("webhook %s signature: %v (headers %v)", x.event.Type, err, x.header)
	}
	if err := notify.Verify(notify.NewSecret([]byte("some other key")), x.header, x.body, time.Now(), 5*time.Minute); err == nil {
		t.Errorf("webhook %s verifies with a wrong secret too", x.event.Type)
	}
}
