package summary_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	smtp "github.com/emersion/go-smtp"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/oncall"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/report"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/summary"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// mailbox is a real SMTP server (emersion/go-smtp) on 127.0.0.1 that
// keeps what it accepts; while tempFail is above zero it answers RCPT
// with a 451, as a greylisting relay does.
type mailbox struct {
	port     int
	mu       sync.Mutex
	tempFail int
	got      []received
}

type received struct {
	from string
	to   []string
	data []byte
}

func startMailbox(t *testing.T) *mailbox {
	t.Helper()
	mb := &mailbox{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{mb: mb}, nil }))
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout, srv.WriteTimeout = 5*time.Second, 5*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mb.port = l.Addr().(*net.TCPAddr).Port
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return mb
}

func (mb *mailbox) messages() []received {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]received(nil), mb.got...)
}

type session struct {
	mb  *mailbox
	cur received
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.cur = received{from: from}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.mb.mu.Lock()
	defer s.mb.mu.Unlock()
	if s.mb.tempFail > 0 {
		s.mb.tempFail--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "greylisted, try again later"}
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	s.mb.mu.Lock()
	s.mb.got = append(s.mb.got, s.cur)
	s.mb.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.cur = received{} }
func (s *session) Logout() error { return nil }

// parsed is one received email: its subject and decoded bodies.
type parsed struct {
	header    mail.Header
	subject   string
	text      string
	html      string
	messageID string
}

func parse(t *testing.T, raw []byte) parsed {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	out := parsed{header: m.Header, subject: subject, messageID: m.Header.Get("Message-ID")}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q: want multipart/alternative (%v)", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		// multipart.Part decodes quoted-printable itself.
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch ct {
		case "text/plain":
			out.text = strings.ReplaceAll(string(b), "\r\n", "\n")
		case "text/html":
			out.html = string(b)
		}
	}
	if out.text == "" || out.html == "" {
		t.Fatalf("want a text and an HTML part, got text %d bytes, html %d bytes", len(out.text), len(out.html))
	}
	return out
}

// teams is the on-call definitions the reports read: secops is ana and
// ben.
type teams struct{}

func (teams) Schedules(context.Context) ([]*oncall.Schedule, error) { return nil, nil }
func (teams) Teams(context.Context) (map[string][]string, error) {
	return map[string][]string{"secops": {"ana@example.com", "ben@example.com"}}, nil
}

func at(t *testing.T, loc *time.Location, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func ptr(t time.Time) *time.Time { return &t }

// fact is an item of the reports: created at created, acknowledged ack
// later and closed closed later (0: not yet).
func fact(id int64, sev, who, rule string, created time.Time, ack, closed time.Duration, class string) report.Fact {
	f := report.Fact{ItemID: id, Type: "Issue", Source: "sentinel", Severity: sev, Assignee: who, Rule: rule, Created: created,
		State: "New", StateSince: created, Acted: ack > 0}
	if ack > 0 {
		f.AckAt, f.AckBy, f.State, f.StateSince = ptr(created.Add(ack)), who, "Active", created.Add(ack)
	}
	if closed > 0 {
		f.ClosedAt, f.ClosedBy, f.State, f.StateSince, f.Class = ptr(created.Add(closed)), who, "Closed", created.Add(closed), class
	}
	return f
}

type harness struct {
	t       *testing.T
	clk     *clock.Fake
	db      *store.DB
	svc     *report.Service
	target  *summary.Target
	mb      *mailbox
	sums    []summary.Summary
	mod     *summary.Module
	sender  *outbox.Sender
	log     *slog.Logger
	baseURL string
}

// restart builds the module and the outbox sender anew on the same
// database, as a restarted (or second) instance does.
func (h *harness) restart() {
	h.mod = summary.New(h.db, h.svc, h.sums, summary.Options{BaseURL: h.baseURL, Mail: h.target.Configured(), Clock: h.clk, Logger: h.log})
	h.sender = outbox.NewSender(h.db, map[string]outbox.Target{summary.TargetName: h.target}, h.clk, h.log)
}

// pass runs the module, then the outbox, as the engine does.
func (h *harness) pass() {
	h.t.Helper()
	ctx := context.Background()
	if err := h.mod.UpdateAll(ctx); err != nil {
		h.t.Fatalf("summary pass: %v", err)
	}
	if err := h.sender.UpdateAll(ctx); err != nil {
		h.t.Fatalf("outbox pass: %v", err)
	}
}

func (h *harness) outbox() []outbox.Message {
	h.t.Helper()
	ms, err := h.db.ListOutbox(context.Background(), "", 0, 0, 100)
	if err != nil {
		h.t.Fatal(err)
	}
	return ms
}

func TestWeeklySummaryEndToEnd(t *testing.T) {
	ctx := context.Background()
	hel, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(at(t, hel, "2026-11-27 10:00")) // a Friday
	h := &harness{t: t, clk: clk, db: storetest.SQLite(t, clk), mb: startMailbox(t), baseURL: "https://vigil.example",
		log: slog.New(slog.DiscardHandler)}
	h.svc = report.New(h.db, teams{}, workitem.DefaultProcess(), report.Options{Clock: clk, Logger: h.log, TimeZone: "Europe/Helsinki",
		SLOs: []report.SLO{{Name: "high-ack", Metric: report.MetricAck, Severity: []string{"high", "critical"}, Target: 15 * time.Minute, Objective: 0.95}}})
	h.target, err = summary.NewTarget(summary.SMTP{Host: "127.0.0.1", Port: h.mb.port, From: "vigil <vigil@vigil.example>", TLS: notify.TLSNone,
		Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h.sums = []summary.Summary{{Team: "secops", To: []string{"lead@example.com", "deputy@example.com"},
		Schedule: summary.Schedule{Weekday: time.Monday, Hour: 8, Loc: hel}}}
	h.restart()

	// Week 48 (23–29 November): four of secops' items, one of another
	// team's, and one from the week before.
	day := func(s string) time.Time { return at(t, hel, s) }
	facts := []report.Fact{
		fact(101, "high", "ana@example.com", "Brute force", day("2026-11-23 10:00"), 5*time.Minute, 2*time.Hour, report.FalsePositive),
		fact(102, "high", "ben@example.com", "Brute force", day("2026-11-24 11:00"), 40*time.Minute, 3*time.Hour, report.FalsePositive),
		fact(103, "critical", "ana@example.com", "Impossible travel", day("2026-11-25 23:30"), 0, 0, ""),
		fact(104, "low", "ben@example.com", `Rule <b>"bold"</b>`, day("2026-11-29 23:59"), time.Minute, 0, ""),
		fact(105, "high", "zed@example.com", "Brute force", day("2026-11-24 12:00"), 0, 0, ""),
		fact(106, "high", "ana@example.com", "Brute force", day("2026-11-22 23:59"), 0, 0, ""),
	}
	if _, err := h.db.WriteReportFacts(ctx, facts, clk.Now()); err != nil {
		t.Fatal(err)
	}

	// First pass, on the Friday before: week 47 was due last Monday,
	// before the summary existed, so it is not mailed four days late.
	h.pass()
	if n := len(h.mb.messages()); n != 0 {
		t.Fatalf("a summary configured mid-week mailed %d emails at once, want 0", n)
	}
	if v, _ := h.db.Cursor(ctx, summary.CursorName("secops")); v != "2026-W47" {
		t.Fatalf("cursor = %q, want 2026-W47", v)
	}

	// Monday 07:59: not yet.
	clk.Set(day("2026-11-30 07:59"))
	h.pass()
	if n := len(h.mb.messages()); n != 0 {
		t.Fatalf("%d emails before the hour, want 0", n)
	}

	// 08:00: the relay greylists the first attempt; the outbox retries
	// with backoff and the email arrives once.
	h.mb.mu.Lock()
	h.mb.tempFail = 1
	h.mb.mu.Unlock()
	clk.Set(day("2026-11-30 08:00").Add(20 * time.Second))
	h.pass()
	if n := len(h.mb.messages()); n != 0 {
		t.Fatalf("%d emails through a greylisting relay, want 0", n)
	}
	ms := h.outbox()
	if len(ms) != 1 || ms[0].State != outbox.Pending || ms[0].Attempts != 1 || ms[0].IdemKey != "summary:secops:2026-W48" {
		t.Fatalf("outbox = %+v, want one pending message with one attempt, key summary:secops:2026-W48", ms)
	}
	if strings.Contains(string(ms[0].Payload), "password") {
		t.Error("the payload mentions a password")
	}
	clk.Advance(outbox.MaxDelay)
	h.pass()
	got := h.mb.messages()
	if len(got) != 1 {
		t.Fatalf("%d emails after the retry, want 1", len(got))
	}
	if strings.Join(got[0].to, ",") != "lead@example.com,deputy@example.com" {
		t.Errorf("recipients %q, want the leads", got[0].to)
	}
	m := parse(t, got[0].data)
	if m.subject != "vigil weekly summary — secops — 2026-W48" {
		t.Errorf("subject %q", m.subject)
	}
	if m.header.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("Auto-Submitted %q", m.header.Get("Auto-Submitted"))
	}
	// Items 101–104: three acknowledged, two resolved. high-ack: 101 met,
	// 102 late, 103 never acknowledged: one in three.
	for _, want := range []string{
		"Mon 23 Nov 2026 to Sun 29 Nov 2026 (Europe/Helsinki)",
		"Items created: 4", "Acknowledged:  3", "Resolved:      2",
		"Time to acknowledge (MTTA)", "Time to resolve (MTTR)",
		"high-ack: high/critical acknowledged within 15.0 min, objective 95.0%",
		"attainment 33.3%, breached (1 met, 2 missed, 0 pending)",
		"#102 high, ben@example.com, created Tue 24 Nov 11:00, took 40.0 min: https://vigil.example/items/102",
		"#103 critical, ana@example.com, created Wed 25 Nov 23:30, took not yet (overdue): https://vigil.example/items/103",
		"1. Brute force: 2 items, 2 closed: 2 false positive, 0 benign positive, noise 100.0%; median TTR 2.5 h",
		"2. Impossible travel: 1 item, 0 closed: 0 false positive, 0 benign positive, noise no data; median TTR no data",
	} {
		if !strings.Contains(m.text, want) {
			t.Errorf("text body lacks %q:\n%s", want, m.text)
		}
	}
	for _, unwanted := range []string{"#105", "#106", "#101 "} {
		if strings.Contains(m.text, unwanted) {
			t.Errorf("text body lists %q", unwanted)
		}
	}
	for _, want := range []string{
		`<a href="https://vigil.example/items/102">#102</a>`,
		`<td>Rule &lt;b&gt;&#34;bold&#34;&lt;/b&gt;</td>`,
		"<b>33.3%</b>",
	} {
		if !strings.Contains(m.html, want) {
			t.Errorf("HTML body lacks %q:\n%s", want, m.html)
		}
	}
	if strings.Contains(m.html, "<b>\"bold\"</b>") {
		t.Error("a rule's name reached the HTML unescaped")
	}

	// A second pass, and a restart, send nothing more this week.
	clk.Advance(time.Hour)
	h.pass()
	h.restart()
	h.pass()
	// A crash between queueing and recording the week: the cursor is
	// behind, but the week's idempotency key is taken.
	if err := h.db.SetCursor(ctx, summary.CursorName("secops"), "2026-W47"); err != nil {
		t.Fatal(err)
	}
	h.restart()
	h.pass()
	clk.Set(day("2026-12-06 23:00"))
	h.pass()
	if n := len(h.mb.messages()); n != 1 {
		t.Fatalf("%d emails in week 49, want 1", n)
	}
	if n := len(h.outbox()); n != 1 {
		t.Fatalf("%d outbox messages, want 1", n)
	}

	// The next Monday sends week 49's: no item, so no figures.
	clk.Set(day("2026-12-07 08:00"))
	h.pass()
	got = h.mb.messages()
	if len(got) != 2 {
		t.Fatalf("%d emails after the next Monday, want 2", len(got))
	}
	m2 := parse(t, got[1].data)
	if m2.subject != "vigil weekly summary — secops — 2026-W49" {
		t.Errorf("subject %q", m2.subject)
	}
	if m2.messageID == m.messageID {
		t.Errorf("both weeks' emails have Message-ID %s", m.messageID)
	}
	for _, want := range []string{"Items created: 0", "attainment no data (0 pending)", "NOISIEST DETECTION RULES\n  no data"} {
		if !strings.Contains(m2.text, want) {
			t.Errorf("an empty week's text lacks %q:\n%s", want, m2.text)
		}
	}
}

// TestNoMailServer: summaries without a relay log a warning and leave
// the engine pass and the outbox alone.
func TestNoMailServer(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
	db := storetest.SQLite(t, clk)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	target, err := summary.NewTarget(summary.SMTP{})
	if err != nil {
		t.Fatal(err)
	}
	svc := report.New(db, teams{}, workitem.DefaultProcess(), report.Options{Clock: clk, Logger: log})
	m := summary.New(db, svc, []summary.Summary{{To: []string{"lead@example.com"}, Schedule: summary.Schedule{Weekday: time.Monday, Hour: 8, Loc: time.UTC}}},
		summary.Options{Mail: target.Configured(), Clock: clk, Logger: log})
	for range 3 {
		if err := m.UpdateAll(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "no SMTP server"); n != 1 {
		t.Errorf("warned %d times, want once:\n%s", n, logs.String())
	}
	ms, err := db.ListOutbox(context.Background(), "", 0, 0, 10)
	if err != nil || len(ms) != 0 {
		t.Errorf("outbox = %v, %v; want empty", ms, err)
	}
	if err := target.Send(context.Background(), outbox.Message{Target: summary.TargetName, Payload: []byte("{}")}); err == nil {
		t.Error("a target without a relay sent")
	}
}
