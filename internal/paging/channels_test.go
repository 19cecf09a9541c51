package paging

import (
	"encoding/json"
	"errors"
	"fmt"
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
