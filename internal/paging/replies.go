package paging

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/validation"
)

// Replies from phones. An SMS reply names a page and an action by a short
// code, as GoAlert's do: "12a" acknowledges page 12, "12c" closes
// (resolves) it, "12e" escalates it. The sender is the person whose
// verified SMS or voice contact method has the number the reply came
// from; a number nobody verified acts on nothing. A pressed key on a call
// is tied to its page and person by the signed token in the URL the
// digit is posted to. Every answer is a short text for the same channel,
// also when nothing was done, so that the person knows.

var replyRE = regexp.MustCompile(`^\s*#?(\d{1,12})\s*([aAcCeE])\b`)

// ReplyHelp is the answer to a reply vigil cannot read.
const ReplyHelp = "vigil: reply with the page number and a letter: 12a acknowledges page 12, 12c closes it, 12e escalates it."

// InboundMemory is how long the keys of inbound requests are kept to
// refuse replays: Slack's requests expire after 5 minutes anyway; Twilio's
// carry no time, so a message sid is remembered for a month.
const InboundMemory = 30 * 24 * time.Hour

// pruneInbound forgets the keys older than InboundMemory, at most once an
// hour (the escalation module calls it every pass).
func (s *Pager) pruneInbound(ctx context.Context) error {
	now := s.o.Clock.Now()
	if last := s.lastPrune.Load(); last != 0 && now.Sub(time.Unix(0, last)) < time.Hour {
		return nil
	}
	s.lastPrune.Store(now.UnixNano())
	_, err := s.st.PruneInbound(ctx, now.Add(-InboundMemory))
	return err
}

// Seen records an inbound provider request by key and reports whether it
// was seen before: a replay, to refuse.
func (s *Pager) Seen(ctx context.Context, provider, key string) (bool, error) {
	first, err := s.st.FirstInbound(ctx, provider, key)
	return !first, err
}

// Reply acts on an SMS reply from the number from and returns the text
// to answer with.
func (s *Pager) Reply(ctx context.Context, from, body string) (string, error) {
	user, err := s.userByNumber(ctx, from)
	if err != nil {
		return "", err
	}
	if user == "" {
		s.log.Warn("sms reply from a number no one verified", "from", maskNumber(from))
		return "vigil: this number is not a verified contact method, so the reply does nothing.", nil
	}
	m := replyRE.FindStringSubmatch(body)
	if m == nil {
		return ReplyHelp, nil
	}
	id, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return ReplyHelp, nil
	}
	return s.act(ctx, user, id, strings.ToLower(m[2]), "sms")
}

// Press acts on a key pressed during a call whose gather URL carried
// token, and returns what the call says next; "" asks again.
func (s *Pager) Press(ctx context.Context, token, digits string) (string, error) {
	link, err := s.CheckLink(ctx, token)
	if err != nil {
		return "", err
	}
	switch strings.TrimSpace(digits) {
	case "1":
		return s.act(ctx, link.User, link.Page, "a", "voice")
	case "2":
		return s.act(ctx, link.User, link.Page, "e", "voice")
	}
	return "", nil
}

// Action acts on a page for the person whose verified contact method of
// type typ has value (the Slack member who pressed a button): action is
// "a" (acknowledge), "c" (close) or "e" (escalate). It returns the answer
// to show that person.
func (s *Pager) Action(ctx context.Context, typ, value string, pageID int64, action string) (string, error) {
	user, err := s.userByValue(ctx, value, typ)
	if err != nil {
		return "", err
	}
	if user == "" {
		return fmt.Sprintf("vigil: %s is not a verified %s contact method of any vigil user, so this does nothing.", value, typ), nil
	}
	switch action {
	case "a", "c", "e":
	default:
		return "", validation.NewFieldError("action", "unknown action %q", action)
	}
	return s.act(ctx, user, pageID, action, typ)
}

func (s *Pager) userByNumber(ctx context.Context, number string) (string, error) {
	return s.userByValue(ctx, number, notify.TypeSMS, notify.TypeVoice)
}

func (s *Pager) userByValue(ctx context.Context, value string, types ...string) (string, error) {
	for _, typ := range types {
		cms, err := s.st.ContactMethodsByValue(ctx, typ, value)
		if err != nil {
			return "", err
		}
		if len(cms) > 0 {
			return cms[0].User, nil
		}
	}
	return "", nil
}

// act performs a phone action on a page for user; errors a person can do
// something about become the answer, the rest are returned.
func (s *Pager) act(ctx context.Context, user string, id int64, action, via string) (string, error) {
	actor := auth.Actor{Kind: "user", Name: user, Role: auth.RoleResponder}
	p, err := s.st.GetPage(ctx, id)
	if errors.Is(err, validation.ErrNotFound) {
		return fmt.Sprintf("vigil: page %d does not exist.", id), nil
	}
	if err != nil {
		return "", err
	}
	if p.State == store.PageResolved {
		return fmt.Sprintf("vigil: page %d is already resolved.", id), nil
	}
	s.log.Info("phone action", "page", id, "user", user, "action", action, "via", via)
	switch action {
	case "a":
		if p.State == store.PageAcknowledged {
			return fmt.Sprintf("vigil: page %d is already acknowledged by %s.", id, p.AckBy), nil
		}
		if _, err := s.Acknowledge(ctx, actor, id, user); err != nil {
			return s.refusal(id, err)
		}
		return fmt.Sprintf("vigil: acknowledged page %d (%s). It is yours.", id, shortTitle(p.Title)), nil
	case "c":
		if _, err := s.Resolve(ctx, actor, id); err != nil {
			return s.refusal(id, err)
		}
		return fmt.Sprintf("vigil: closed page %d (%s).", id, shortTitle(p.Title)), nil
	default:
		if _, err := s.Escalate(ctx, actor, id); err != nil {
			return s.refusal(id, err)
		}
		return fmt.Sprintf("vigil: escalated page %d to the next step.", id), nil
	}
}

func (s *Pager) refusal(id int64, err error) (string, error) {
	var ce *validation.ConflictError
	if errors.As(err, &ce) {
		return "vigil: " + ce.Message + ".", nil
	}
	var fe *validation.ForbiddenError
	if errors.As(err, &fe) {
		return fmt.Sprintf("vigil: you may not act on page %d.", id), nil
	}
	return "", err
}

func shortTitle(t string) string {
	if r := []rune(t); len(r) > 60 {
		return string(r[:59]) + "…"
	}
	return t
}
