package paging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/validation"
)

// method adds a verified contact method.
func (h *harness) method(user, typ, value string) int64 {
	h.t.Helper()
	c, err := h.db.AddContactMethod(h.ctx, store.ContactMethod{User: user, Type: typ, Value: value}, hashCode("123456"), h.clk.Now().Add(time.Hour))
	if err != nil {
		h.t.Fatal(err)
	}
	if ok, err := h.db.VerifyContactMethod(h.ctx, c.ID, hashCode("123456")); !ok || err != nil {
		h.t.Fatalf("verify: %v %v", ok, err)
	}
	return c.ID
}

// phoneHarness: ana has an SMS number (notified at once) and a voice
// number (only by fall-through), on a one-step policy.
func phoneHarness(t *testing.T) (h *harness, sms, voice int64) {
	h = newHarness(t, time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	sms = h.method("ana@example.com", notify.TypeSMS, "+15550001111")
	voice = h.method("ana@example.com", notify.TypeVoice, "+15550002222")
	if err := h.db.SetNotificationRules(h.ctx, "ana@example.com", []store.NotificationRule{{ContactMethodID: sms}}); err != nil {
		t.Fatal(err)
	}
	h.put(KindPolicy, "p", Policy{Name: "p", Steps: []Step{{DelayMinutes: 5, Targets: []Target{{Type: TargetUser, Name: "ana@example.com"}}}}})
	h.put(KindService, "s", Service{Name: "s", Policy: "p", Urgency: UrgencyHigh})
	return h, sms, voice
}

// pending returns the pending notifications of an item, decoded.
func (h *harness) pending(itemID int64) []notify.Notification {
	h.t.Helper()
	ms, err := h.db.ListOutbox(h.ctx, outbox.Pending, itemID, 0, 100)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []notify.Notification
	for _, m := range ms {
		var n notify.Notification
		if m.Target == notify.TargetName && json.Unmarshal(m.Payload, &n) == nil {
			out = append(out, n)
		}
	}
	return out
}

func TestSMSReplies(t *testing.T) {
	h, _, _ := phoneHarness(t)
	p := h.page("s", alert.SeverityHigh)
	other := h.page("s", alert.SeverityHigh)
	tests := []struct {
		name, from, body string
		want             string
		state            string // the page's state after, "" = unchecked
	}{
		{"garbage", "+15550001111", "hello?", ReplyHelp, store.PageTriggered},
		{"unknown number", "+15559999999", fmt.Sprintf("%da", p.ID), "not a verified contact method", store.PageTriggered},
		{"unknown page", "+15550001111", "99999a", "page 99999 does not exist", ""},
		{"acknowledge", "+15550001111", fmt.Sprintf(" %dA please", p.ID), fmt.Sprintf("acknowledged page %d", p.ID), store.PageAcknowledged},
		{"acknowledge again", "+15550001111", fmt.Sprintf("%da", p.ID), "already acknowledged by ana@example.com", store.PageAcknowledged},
		{"close", "+15550001111", fmt.Sprintf("%dc", p.ID), fmt.Sprintf("closed page %d", p.ID), store.PageResolved},
		{"close a resolved page", "+15550001111", fmt.Sprintf("%dc", p.ID), "already resolved", store.PageResolved},
		{"escalate", "+15550001111", fmt.Sprintf("#%de", other.ID), fmt.Sprintf("escalated page %d", other.ID), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.p.Reply(h.ctx, tt.from, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("answer = %q, want it to contain %q", got, tt.want)
			}
			if len(got) > 160 {
				t.Errorf("answer is %d characters, more than one SMS", len(got))
			}
			if tt.state != "" {
				if now, _ := h.db.GetPage(h.ctx, p.ID); now.State != tt.state {
					t.Errorf("page %d is %s, want %s", p.ID, now.State, tt.state)
				}
			}
		})
	}
	it, _ := h.items.Get(h.ctx, auth.System, p.WorkItemID)
	if it.Assignee != "ana@example.com" {
		t.Errorf("item after an SMS acknowledgement: assignee %q, want ana", it.Assignee)
	}
}

func TestVoicePress(t *testing.T) {
	h, _, _ := phoneHarness(t)
	p := h.page("s", alert.SeverityHigh)
	token, err := h.p.LinkToken(h.ctx, p.ID, "ana@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if say, err := h.p.Press(h.ctx, token, "9"); err != nil || say != "" {
		t.Errorf("press 9 = %q, %v; want \"\" (ask again)", say, err)
	}
	if _, err := h.p.Press(h.ctx, token[:len(token)-2]+"xx", "1"); !errors.Is(err, ErrBadLink) {
		t.Errorf("press with a forged token: %v, want ErrBadLink", err)
	}
	say, err := h.p.Press(h.ctx, token, "1")
	if err != nil || !strings.Contains(say, "acknowledged") {
		t.Fatalf("press 1 = %q, %v", say, err)
	}
	if now, _ := h.db.GetPage(h.ctx, p.ID); now.State != store.PageAcknowledged || now.AckBy != "ana@example.com" {
		t.Errorf("page after pressing 1: %s by %q", now.State, now.AckBy)
	}
}

// TestFallThrough: an SMS that fails for good, or is reported
// undelivered, pages the person's next contact method at once; the
// notification log keeps each send, its provider id and status.
func TestFallThrough(t *testing.T) {
	for _, how := range []string{"send fails", "undelivered"} {
		t.Run(how, func(t *testing.T) {
			h, sms, voice := phoneHarness(t)
			p := h.page("s", alert.SeverityHigh) // deliver() completes the SMS in the outbox
			ms, _ := h.db.ListOutbox(h.ctx, "", p.WorkItemID, 0, 10)
			var n notify.Notification
			for _, m := range ms {
				if m.Target == notify.TargetName {
					_ = json.Unmarshal(m.Payload, &n)
				}
			}
			if n.To.ID != sms {
				t.Fatalf("first notification went to %+v, want the SMS method %d", n.To, sms)
			}
			switch how {
			case "send fails":
				err := errors.New("twilio: 400 code 21211 invalid To")
				if e := h.p.RecordSend(h.ctx, n, notify.Receipt{Provider: "twilio", Status: notify.StatusFailed}, err, true, 3*time.Millisecond); e != nil {
					t.Fatal(e)
				}
			case "undelivered":
				if e := h.p.RecordSend(h.ctx, n, notify.Receipt{Provider: "twilio", ProviderID: "SM1", Status: notify.StatusSent}, nil, false, 3*time.Millisecond); e != nil {
					t.Fatal(e)
				}
				if len(h.pending(p.WorkItemID)) != 0 {
					t.Fatal("a successful send fell through")
				}
				if e := h.p.DeliveryStatus(h.ctx, "twilio", "SM1", notify.StatusUndelivered, "30003 unreachable"); e != nil {
					t.Fatal(e)
				}
				// A late "delivered" does not move it back.
				if e := h.p.DeliveryStatus(h.ctx, "twilio", "SM1", notify.StatusDelivered, ""); e != nil {
					t.Fatal(e)
				}
			}
			next := h.pending(p.WorkItemID)
			if len(next) != 1 || next[0].To.ID != voice || next[0].Kind != notify.KindPage {
				t.Fatalf("after the SMS failed: pending %+v, want one page notification to voice method %d", next, voice)
			}
			log, err := h.p.NotificationLog(h.ctx, admin, store.NotificationFilter{PageID: p.ID})
			if err != nil || len(log) != 1 {
				t.Fatalf("notification log = %+v, %v", log, err)
			}
			want := map[string]string{"send fails": notify.StatusFailed, "undelivered": notify.StatusUndelivered}[how]
			if e := log[0]; e.Status != want || e.ContactMethodID != sms || e.Channel != notify.TypeSMS || e.Attempts != 1 || e.SendTime != 3 {
				t.Errorf("log entry = %+v, want %s", e, want)
			}
			tl := strings.Join(mustTimeline(t, h, p.WorkItemID), "\n")
			if !strings.Contains(tl, fmt.Sprintf("trying their voice (contact method %d) now", voice)) {
				t.Errorf("the timeline does not tell the fall-through:\n%s", tl)
			}
			// The voice call fails too: nothing else to try, and it says so.
			if e := h.p.RecordSend(h.ctx, next[0], notify.Receipt{Provider: "twilio"}, errors.New("no"), true, time.Millisecond); e != nil {
				t.Fatal(e)
			}
			tl = strings.Join(mustTimeline(t, h, p.WorkItemID), "\n")
			if !strings.Contains(tl, "who has no other contact method to try") {
				t.Errorf("the timeline does not say the methods ran out:\n%s", tl)
			}
		})
	}
}

func TestTestNotification(t *testing.T) {
	h, sms, _ := phoneHarness(t)
	ana := auth.Actor{Kind: "user", Name: "ana@example.com", Role: auth.RoleViewer}
	ben := auth.Actor{Kind: "user", Name: "ben@example.com", Role: auth.RoleResponder}
	id, err := h.p.TestContactMethod(h.ctx, ana, sms)
	if err != nil || !strings.HasPrefix(id, fmt.Sprintf("test-%d.", sms)) {
		t.Fatalf("test notification: %q, %v", id, err)
	}
	var ce *validation.ConflictError
	if _, err := h.p.TestContactMethod(h.ctx, ana, sms); !errors.As(err, &ce) {
		t.Errorf("a second test within the minute: %v, want a conflict", err)
	}
	var fe *validation.ForbiddenError
	if _, err := h.p.TestContactMethod(h.ctx, ben, sms); !errors.As(err, &fe) {
		t.Errorf("ben testing ana's method: %v, want forbidden", err)
	}
	h.clk.Advance(time.Minute)
	if _, err := h.p.TestContactMethod(h.ctx, admin, sms); err != nil {
		t.Errorf("an admin's test a minute later: %v", err)
	}
}

// fakeSMS records the texts it is asked to send.
type fakeSMS struct{ texts []string }

func (f *fakeSMS) Name() string { return "fake" }
func (f *fakeSMS) SendSMS(_ context.Context, to, body string) (notify.Receipt, error) {
	f.texts = append(f.texts, body)
	return notify.Receipt{ProviderID: fmt.Sprintf("SM%d", len(f.texts)), Status: notify.StatusSent}, nil
}

// openPage ingests an alert and pages it, leaving its notifications to
// the outbox sender.
func (h *harness) openPage(service string) store.Page {
	h.t.Helper()
	h.seq++
	a := alert.Alert{Source: "api", SourceID: fmt.Sprintf("a%d", h.seq), Title: fmt.Sprintf("alert %d", h.seq), Severity: alert.SeverityHigh}
	if err := a.Normalize(h.clk.Now()); err != nil {
		h.t.Fatal(err)
	}
	res, err := h.db.Ingest(h.ctx, h.items.Process(), "test", []alert.Alert{a})
	if err != nil {
		h.t.Fatal(err)
	}
	p, _, err := h.p.Trigger(h.ctx, auth.System, res[0].WorkItemID, service, "", "")
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// TestRateLimitAndBundling runs the real outbox sender and notify target
// on a fake clock: two texts a minute reach ana's phone; the pages after
// that wait for the window and then go out as one text.
func TestRateLimitAndBundling(t *testing.T) {
	h, _, _ := phoneHarness(t)
	sms := &fakeSMS{}
	log := slog.New(slog.DiscardHandler)
	target := notify.NewTarget(notify.NewSMS(sms)).Prepare(h.p.Prepare).Record(h.p, h.clk.Now, log).Limit(h.db, nil)
	sender := outbox.NewSender(h.db, map[string]outbox.Target{notify.TargetName: target}, h.clk, log)
	t0 := h.clk.Now()
	step := func(at time.Duration) {
		t.Helper()
		h.clk.Advance(t0.Add(at).Sub(h.clk.Now()))
		_ = sender.UpdateAll(h.ctx)
	}
	var pages []store.Page
	for i, at := range []time.Duration{0, 10 * time.Second, 20 * time.Second, 30 * time.Second} {
		step(at)
		pages = append(pages, h.openPage("s"))
		step(at)
		if want := min(i+1, 2); len(sms.texts) != want {
			t.Fatalf("after page %d at +%s: %d texts, want %d (2 a minute)", i+1, at, len(sms.texts), want)
		}
	}
	held := h.pending(pages[2].WorkItemID)
	if len(held) != 1 {
		t.Fatalf("page 3's notification is not held: %+v", held)
	}
	step(59 * time.Second)
	if len(sms.texts) != 2 {
		t.Fatalf("a text went out before the window reopened: %q", sms.texts)
	}
	step(60 * time.Second)
	if len(sms.texts) != 3 {
		t.Fatalf("when the window reopened: %d texts, want 3 (pages 3 and 4 in one): %q", len(sms.texts), sms.texts)
	}
	bundle := sms.texts[2]
	for _, want := range []string{"vigil: 2 pages.", fmt.Sprintf("%d HIGH: alert 3", pages[2].ID), fmt.Sprintf("%d HIGH: alert 4", pages[3].ID)} {
		if !strings.Contains(bundle, want) {
			t.Errorf("bundled text %q lacks %q", bundle, want)
		}
	}
	if len(h.pending(pages[3].WorkItemID)) != 0 {
		t.Error("page 4's notification is still pending after it went out in the bundle")
	}
	log4, _ := h.p.NotificationLog(h.ctx, admin, store.NotificationFilter{PageID: pages[3].ID})
	if len(log4) != 1 || log4[0].ProviderID != "SM3" || log4[0].Status != notify.StatusSent {
		t.Errorf("page 4's notification log = %+v, want sent as SM3", log4)
	}
	tl := strings.Join(mustTimeline(t, h, pages[3].WorkItemID), "\n")
	if !strings.Contains(tl, fmt.Sprintf("bundled with page #%d", pages[2].ID)) || !strings.Contains(tl, "held until") {
		t.Errorf("page 4's timeline does not tell the hold and the bundle:\n%s", tl)
	}
	step(61 * time.Second)
	if len(sms.texts) != 3 {
		t.Errorf("texts after the bundle: %q", sms.texts)
	}
}

// TestSlackUpdatedInPlace: a page's Slack message is re-rendered when the
// page changes, wherever the change came from, and a Slack member's
// button acts as the vigil user who verified that member id.
func TestSlackUpdatedInPlace(t *testing.T) {
	h := newHarness(t, time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	slackID := h.method("ana@example.com", notify.TypeSlack, "U024BE7LH")
	h.put(KindPolicy, "p", Policy{Name: "p", Steps: []Step{{DelayMinutes: 5, Targets: []Target{{Type: TargetUser, Name: "ana@example.com"}}}}})
	h.put(KindService, "s", Service{Name: "s", Policy: "p", Urgency: UrgencyHigh})
	p := h.page("s", alert.SeverityHigh)
	ms, _ := h.db.ListOutbox(h.ctx, "", p.WorkItemID, 0, 10)
	var n notify.Notification
	_ = json.Unmarshal(ms[0].Payload, &n)
	if n.To.ID != slackID {
		t.Fatalf("the page went to %+v, want the Slack method", n.To)
	}
	if err := h.p.RecordSend(h.ctx, n, notify.Receipt{Provider: "slack", ProviderID: "C1/1712345678.000100", Status: notify.StatusSent}, nil, false, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if got, err := h.p.Action(h.ctx, notify.TypeSlack, "U999", p.ID, "a"); err != nil || !strings.Contains(got, "not a verified slack contact method") {
		t.Errorf("a button pressed by an unknown member: %q, %v", got, err)
	}
	got, err := h.p.Action(h.ctx, notify.TypeSlack, "U024BE7LH", p.ID, "a")
	if err != nil || !strings.Contains(got, "acknowledged page") {
		t.Fatalf("the acknowledge button: %q, %v", got, err)
	}
	upd := h.pending(p.WorkItemID)
	if len(upd) != 1 || upd[0].Kind != notify.KindAcknowledged || upd[0].UpdateOf != "C1/1712345678.000100" || upd[0].By != "ana@example.com" {
		t.Fatalf("after the acknowledgement the outbox holds %+v, want one in-place update of the Slack message", upd)
	}
	h.deliver()
	if _, err := h.p.Resolve(h.ctx, admin, p.ID); err != nil {
		t.Fatal(err)
	}
	if upd := h.pending(p.WorkItemID); len(upd) != 1 || upd[0].Kind != notify.KindResolved || upd[0].UpdateOf == "" {
		t.Errorf("after resolving in vigil: %+v, want the Slack message updated again", upd)
	}
}

// TestReplayKeysPruned: a request key is refused while remembered, and
// forgotten after InboundMemory by the escalation module's pass.
func TestReplayKeysPruned(t *testing.T) {
	h := newHarness(t, time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	if seen, err := h.p.Seen(h.ctx, "twilio-sms", "SM1"); seen || err != nil {
		t.Fatalf("first sight: seen %v, %v", seen, err)
	}
	if seen, _ := h.p.Seen(h.ctx, "twilio-sms", "SM1"); !seen {
		t.Fatal("the same key again was not refused")
	}
	if err := h.p.UpdateAll(h.ctx); err != nil {
		t.Fatal(err)
	}
	h.clk.Advance(InboundMemory + time.Hour)
	if err := h.p.UpdateAll(h.ctx); err != nil {
		t.Fatal(err)
	}
	if seen, _ := h.p.Seen(h.ctx, "twilio-sms", "SM1"); seen {
		t.Error("a key older than InboundMemory is still remembered")
	}
}
