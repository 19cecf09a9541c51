package notify

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/validation"
)

func assertField(t *testing.T, err error, field string) {
	t.Helper()
	var fe *validation.FieldError
	if !errors.As(err, &fe) || fe.Field != field {
		t.Fatalf("error = %v, want a field error on %q", err, field)
	}
}

type fakeChannel struct {
	typ string
	got []Notification
	err error
}

func (f *fakeChannel) Type() string { return f.typ }
func (f *fakeChannel) Send(_ context.Context, n Notification) (Receipt, error) {
	f.got = append(f.got, n)
	if f.err != nil {
		return Receipt{Provider: "fake"}, f.err
	}
	return Receipt{Provider: "fake", ProviderID: "f-" + n.ID, Status: StatusSent}, nil
}

func TestMessage(t *testing.T) {
	n := samplePage(ContactMethod{ID: 3, Type: TypeEmail, Value: "oncall@example.com"})
	m, err := Message(n)
	if err != nil {
		t.Fatal(err)
	}
	if m.Target != "notify" || m.Op != "notify.email" || m.Resource != "contact_method:3" ||
		m.IdemKey != "notify:"+n.ID || m.WorkItemID != 42 {
		t.Errorf("message = %+v", m)
	}
	var back Notification
	if err := json.Unmarshal(m.Payload, &back); err != nil || back.ID != n.ID || !back.CreatedAt.Equal(n.CreatedAt) || back.To != n.To {
		t.Errorf("payload does not round-trip: %s (%v)", m.Payload, err)
	}
	for _, key := range []string{`"work_item_id"`, `"ack_url"`, `"created_at"`, `"to":{"id":3,"type":"email"`} {
		if !strings.Contains(string(m.Payload), key) {
			t.Errorf("payload lacks %s: %s", key, m.Payload)
		}
	}
}

func TestMessageValidates(t *testing.T) {
	ok := samplePage(ContactMethod{ID: 3, Type: TypeWebhook, Value: "https://hooks.example/x"})
	tests := []struct {
		name  string
		edit  func(*Notification)
		field string
	}{
		{"no id", func(n *Notification) { n.ID = "" }, "id"},
		{"id with a space", func(n *Notification) { n.ID = "page 7" }, "id"},
		{"id too long", func(n *Notification) { n.ID = strings.Repeat("a", 201) }, "id"},
		{"unknown kind", func(n *Notification) { n.Kind = "sms" }, "kind"},
		{"unknown type", func(n *Notification) { n.To.Type = "pigeon" }, "to.type"},
		{"sms to a non-number", func(n *Notification) { n.To.Type = TypeSMS; n.To.Value = "555-1234" }, "to.value"},
		{"voice without a plus", func(n *Notification) { n.To.Type = TypeVoice; n.To.Value = "14155552345" }, "to.value"},
		{"no address", func(n *Notification) { n.To.Value = "" }, "to.value"},
		{"webhook to a file URL", func(n *Notification) { n.To.Value = "file:///etc/passwd" }, "to.value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := ok
			tt.edit(&n)
			_, err := Message(n)
			assertField(t, err, tt.field)
		})
	}
}

func TestTargetDispatches(t *testing.T) {
	email := &fakeChannel{typ: TypeEmail}
	hook := &fakeChannel{typ: TypeWebhook, err: &outbox.RetryableError{Err: errors.New("503")}}
	tg := NewTarget(email, hook)
	ctx := context.Background()

	m, _ := Message(samplePage(ContactMethod{ID: 3, Type: TypeEmail, Value: "oncall@example.com"}))
	if err := tg.Send(ctx, m); err != nil || len(email.got) != 1 || email.got[0].ID != "page-7.step-0.cm-3" {
		t.Fatalf("email: %v, %+v", err, email.got)
	}
	m, _ = Message(samplePage(ContactMethod{ID: 4, Type: TypeWebhook, Value: "https://hooks.example/x"}))
	var re *outbox.RetryableError
	if err := tg.Send(ctx, m); !errors.As(err, &re) || len(hook.got) != 1 {
		t.Fatalf("webhook: the channel's retryable error was not passed on: %v", err)
	}

	permanent := []struct {
		name string
		m    outbox.Message
	}{
		{"garbage payload", outbox.Message{Target: TargetName, Op: "notify.email", Payload: []byte("{")}},
		{"op does not match the contact method", func() outbox.Message {
			m, _ := Message(samplePage(ContactMethod{ID: 3, Type: TypeEmail, Value: "a@b.example"}))
			m.Op = "notify.webhook"
			return m
		}()},
		{"no channel for the type", func() outbox.Message {
			m, _ := Message(samplePage(ContactMethod{ID: 3, Type: TypeEmail, Value: "a@b.example"}))
			return m
		}()},
	}
	tg = NewTarget(hook) // no email channel
	for _, tt := range permanent {
		t.Run(tt.name, func(t *testing.T) {
			err := tg.Send(ctx, tt.m)
			if err == nil || errors.As(err, &re) {
				t.Fatalf("want a permanent error, got %v", err)
			}
		})
	}
}

func TestEventTypes(t *testing.T) {
	for kind, want := range map[string]string{
		KindPage: "page.triggered", KindAcknowledged: "page.acknowledged", KindResolved: "page.resolved",
		KindVerify: "contact_method.verify", KindTest: "contact_method.test",
	} {
		if got := EventType(kind); got != want {
			t.Errorf("EventType(%q) = %q, want %q", kind, got, want)
		}
	}
}

// second drops a Send's receipt, for tests about its error.
func second(_ Receipt, err error) error { return err }
