package paging

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/validation"
)

// VerifyTTL is how long a contact method's verification code works.
const VerifyTTL = 15 * time.Minute

// self checks that actor may manage user's contact methods: their own,
// or anyone's for an admin.
func self(actor auth.Actor, user string) error {
	if actor.Role == auth.RoleAdmin || (actor.Kind == "user" && strings.EqualFold(actor.Name, user)) {
		return nil
	}
	return &validation.ForbiddenError{Message: "only the user themself or an admin manages their contact methods"}
}

// NewContactMethod is what AddContactMethod returns: the method, and for
// a webhook the secret its receiver verifies signatures with (shown once
// here; it is derived again when needed, never stored).
type NewContactMethod struct {
	store.ContactMethod
	WebhookSecret string `json:"webhook_secret,omitempty"`
}

// AddContactMethod adds an unverified contact method and sends it a
// verification code (through the outbox): it is used for pages only once
// the code has been entered.
func (s *Pager) AddContactMethod(ctx context.Context, actor auth.Actor, c store.ContactMethod) (NewContactMethod, error) {
	c.User = strings.ToLower(strings.TrimSpace(c.User))
	if c.User == "" && actor.Kind == "user" {
		c.User = strings.ToLower(actor.Name)
	}
	if err := self(actor, c.User); err != nil {
		return NewContactMethod{}, err
	}
	c.Type, c.Value, c.Name = strings.ToLower(strings.TrimSpace(c.Type)), strings.TrimSpace(c.Value), strings.TrimSpace(c.Name)
	switch c.Type {
	case notify.TypeEmail:
		a, err := mail.ParseAddress(c.Value)
		if err != nil || a.Address != c.Value {
			return NewContactMethod{}, validation.NewFieldError("value", "must be an email address")
		}
	case notify.TypeWebhook:
		u, err := url.Parse(c.Value)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return NewContactMethod{}, validation.NewFieldError("value", "must be an http or https URL")
		}
	case notify.TypeSMS, notify.TypeVoice, notify.TypeSlack, notify.TypeTeams, notify.TypeNtfy:
		if c.Type == notify.TypeSMS || c.Type == notify.TypeVoice {
			c.Value = strings.NewReplacer(" ", "", "-", "", "(", "", ")", "", ".", "").Replace(c.Value)
		}
		if err := notify.ValidValue(c.Type, c.Value); err != nil {
			return NewContactMethod{}, validation.NewFieldError("value", "%v", err)
		}
	default:
		return NewContactMethod{}, validation.NewFieldError("type", "must be one of %s, not %q", strings.Join(notify.Types, ", "), c.Type)
	}
	now := s.o.Clock.Now()
	// The code is derived from the method's id and the server key, so
	// that the outbox holds none: it is filled in when the message is
	// sent (Prepare). Only its hash is stored, until it is used.
	added, err := s.st.AddContactMethod(ctx, c, "", now.Add(VerifyTTL))
	if err != nil {
		return NewContactMethod{}, err
	}
	code, err := s.verificationCode(ctx, added.ID)
	if err != nil {
		return NewContactMethod{}, err
	}
	if err := s.st.SetContactMethodCode(ctx, added.ID, hashCode(code), now.Add(VerifyTTL)); err != nil {
		return NewContactMethod{}, err
	}
	out := NewContactMethod{ContactMethod: added}
	if c.Type == notify.TypeWebhook {
		if out.WebhookSecret, err = s.webhookSecret(ctx, added.ID); err != nil {
			return out, err
		}
	}
	n := notify.Notification{ID: fmt.Sprintf("verify-%d", added.ID), Kind: notify.KindVerify,
		To:        notify.ContactMethod{ID: added.ID, Type: added.Type, Value: added.Value, Name: added.Name, User: added.User},
		Subject:   "[vigil] Your verification code",
		CreatedAt: now}
	m, err := notify.Message(n)
	if err != nil {
		return out, err
	}
	if _, err := s.st.Enqueue(ctx, []outbox.Message{m}, nil); err != nil {
		return out, err
	}
	if s.o.Poke != nil {
		s.o.Poke()
	}
	return out, nil
}

// verificationCode is a contact method's six-digit code, derived from
// its id and the shared key.
func (s *Pager) verificationCode(ctx context.Context, id int64) (string, error) {
	key, err := s.keys.get(ctx)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "vigil contact method code\x00%d", id)
	sum := m.Sum(nil)
	n := new(big.Int).SetBytes(sum[:8])
	return fmt.Sprintf("%06d", n.Mod(n, big.NewInt(1_000_000)).Int64()), nil
}

// Prepare completes a notification as it is sent (notify.Preparer): a
// page's signed acknowledgement link, a verification code. Neither is
// ever stored in the outbox.
func (s *Pager) Prepare(ctx context.Context, n *notify.Notification) error {
	switch n.Kind {
	case notify.KindVerify:
		code, err := s.verificationCode(ctx, n.To.ID)
		if err != nil {
			return err
		}
		n.Subject = "[vigil] Your verification code: " + code
		n.Text = fmt.Sprintf("Enter the code %s in vigil within %d minutes to start receiving pages here.\n", code, int(VerifyTTL.Minutes()))
	case notify.KindPage:
		if n.PageID == 0 || n.To.User == "" {
			return nil
		}
		token, err := s.LinkToken(ctx, n.PageID, n.To.User)
		if err != nil {
			return err
		}
		n.AckURL = s.o.BaseURL + "/ack/" + token
	}
	return nil
}

func hashCode(code string) string {
	h := sha256.Sum256([]byte("vigil contact method code\x00" + code))
	return hex.EncodeToString(h[:])
}

// VerifyContactMethod checks a verification code.
func (s *Pager) VerifyContactMethod(ctx context.Context, actor auth.Actor, id int64, code string) (store.ContactMethod, error) {
	c, err := s.st.GetContactMethod(ctx, id)
	if err != nil {
		return store.ContactMethod{}, err
	}
	if err := self(actor, c.User); err != nil {
		return store.ContactMethod{}, err
	}
	ok, err := s.st.VerifyContactMethod(ctx, id, hashCode(strings.TrimSpace(code)))
	if err != nil {
		return store.ContactMethod{}, err
	}
	if !ok {
		return store.ContactMethod{}, validation.NewFieldError("code", "is wrong or has expired: add the contact method again for a new code")
	}
	return s.st.GetContactMethod(ctx, id)
}

// ContactMethods lists a user's contact methods: their own, or anyone's
// for an admin. Others may not read them: a webhook's URL is often itself
// a credential (a Slack or Teams incoming webhook), and addresses are
// personal.
func (s *Pager) ContactMethods(ctx context.Context, actor auth.Actor, user string) ([]store.ContactMethod, error) {
	if err := self(actor, user); err != nil {
		return nil, err
	}
	return s.st.ContactMethods(ctx, strings.ToLower(user))
}

// DeleteContactMethod deletes one.
func (s *Pager) DeleteContactMethod(ctx context.Context, actor auth.Actor, id int64) error {
	c, err := s.st.GetContactMethod(ctx, id)
	if err != nil {
		return err
	}
	if err := self(actor, c.User); err != nil {
		return err
	}
	return s.st.DeleteContactMethod(ctx, id)
}

// SetNotificationRules replaces a user's notification rules: "email at
// once, webhook after 2 minutes".
func (s *Pager) SetNotificationRules(ctx context.Context, actor auth.Actor, user string, rules []store.NotificationRule) ([]store.NotificationRule, error) {
	user = strings.ToLower(user)
	if err := self(actor, user); err != nil {
		return nil, err
	}
	cms, err := s.st.ContactMethods(ctx, user)
	if err != nil {
		return nil, err
	}
	mine := map[int64]bool{}
	for _, c := range cms {
		mine[c.ID] = true
	}
	for i, r := range rules {
		if !mine[r.ContactMethodID] {
			return nil, validation.NewFieldError(fmt.Sprintf("rules[%d].contact_method_id", i), "is not one of %s's contact methods", user)
		}
		if r.DelayMinutes < 0 || r.DelayMinutes > 24*60 {
			return nil, validation.NewFieldError(fmt.Sprintf("rules[%d].delay_minutes", i), "must be between 0 and 1440")
		}
		rules[i].User = user
	}
	if err := s.st.SetNotificationRules(ctx, user, rules); err != nil {
		return nil, err
	}
	return s.st.NotificationRules(ctx, user)
}

// NotificationRules returns a user's notification rules.
func (s *Pager) NotificationRules(ctx context.Context, actor auth.Actor, user string) ([]store.NotificationRule, error) {
	if err := actor.Check(auth.ActionRead); err != nil {
		return nil, err
	}
	return s.st.NotificationRules(ctx, strings.ToLower(user))
}

// TestContactMethod sends a test notification to a verified contact
// method, at most one a minute: the notification's id is the method and
// the minute, so that the outbox's idempotency key refuses a second.
func (s *Pager) TestContactMethod(ctx context.Context, actor auth.Actor, id int64) (string, error) {
	c, err := s.st.GetContactMethod(ctx, id)
	if err != nil {
		return "", err
	}
	if err := self(actor, c.User); err != nil {
		return "", err
	}
	if !c.Verified() {
		return "", &validation.ConflictError{Message: fmt.Sprintf("contact method %d is not verified yet", id)}
	}
	now := s.o.Clock.Now()
	n := notify.Notification{ID: fmt.Sprintf("test-%d.m%d", c.ID, now.Unix()/60), Kind: notify.KindTest,
		To:      notify.ContactMethod{ID: c.ID, Type: c.Type, Value: c.Value, Name: c.Name, User: c.User},
		Subject: "[vigil] Test notification", Text: fmt.Sprintf("A test of your %s contact method %q, sent by %s.\n", c.Type, c.Name, actor.Name),
		CreatedAt: now}
	m, err := notify.Message(n)
	if err != nil {
		return "", err
	}
	queued, err := s.st.Enqueue(ctx, []outbox.Message{m}, nil)
	if err != nil {
		return "", err
	}
	if queued == 0 {
		return "", &validation.ConflictError{Message: "a test notification went to this contact method less than a minute ago"}
	}
	if s.o.Poke != nil {
		s.o.Poke()
	}
	return n.ID, nil
}
