package notify

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode/utf8"
)

// SMSProvider sends text messages. Twilio and the templated HTTP gateway
// implement it; a provider reports its own id for the message in the
// Receipt, so that its delivery callbacks can be matched later.
type SMSProvider interface {
	Name() string
	SendSMS(ctx context.Context, to, body string) (Receipt, error)
}

// VoiceProvider places phone calls that read a script aloud and, when
// the script asks, take one keypad digit.
type VoiceProvider interface {
	Name() string
	Call(ctx context.Context, to string, s VoiceScript) (Receipt, error)
}

// VoiceScript is what a call says. Token, when set, is the page's signed
// link token: the provider puts it in the URL the pressed digit is posted
// to, so that the answer is tied to one page and one person without any
// state kept for the call.
type VoiceScript struct {
	Say    string
	Gather bool // take a digit: 1 acknowledges, 2 escalates
	Token  string
}

// SMS is the channel for TypeSMS.
type SMS struct{ p SMSProvider }

// NewSMS returns the SMS channel sending through p.
func NewSMS(p SMSProvider) *SMS { return &SMS{p: p} }

// Type is TypeSMS.
func (s *SMS) Type() string { return TypeSMS }

// Send texts n's short form.
func (s *SMS) Send(ctx context.Context, n Notification) (Receipt, error) {
	r, err := s.p.SendSMS(ctx, n.To.Value, SMSText(n))
	if r.Provider == "" {
		r.Provider = s.p.Name()
	}
	if err != nil {
		return r, fmt.Errorf("sms %s to contact method %d: %w", n.ID, n.To.ID, err)
	}
	return r, nil
}

// DefaultSMSLimits keep a phone from buzzing without pause: pages held
// back go out together (Bundles).
var DefaultSMSLimits = Limits{PerMethod: []Limit{{N: 2, Per: time.Minute}, {N: 10, Per: 15 * time.Minute}}}

// DefaultVoiceLimits: a call takes a minute to answer; more would ring
// over each other.
var DefaultVoiceLimits = Limits{PerMethod: []Limit{{N: 1, Per: time.Minute}, {N: 5, Per: 15 * time.Minute}}}

// Limits are DefaultSMSLimits.
func (s *SMS) Limits() Limits { return DefaultSMSLimits }

// Bundles: several pages fit one text.
func (s *SMS) Bundles() bool { return true }

// Voice is the channel for TypeVoice.
type Voice struct{ p VoiceProvider }

// NewVoice returns the voice channel calling through p.
func NewVoice(p VoiceProvider) *Voice { return &Voice{p: p} }

// Type is TypeVoice.
func (v *Voice) Type() string { return TypeVoice }

// Limits are DefaultVoiceLimits.
func (v *Voice) Limits() Limits { return DefaultVoiceLimits }

// Send calls and reads n.
func (v *Voice) Send(ctx context.Context, n Notification) (Receipt, error) {
	r, err := v.p.Call(ctx, n.To.Value, Script(n))
	if r.Provider == "" {
		r.Provider = v.p.Name()
	}
	if err != nil {
		return r, fmt.Errorf("call %s to contact method %d: %w", n.ID, n.To.ID, err)
	}
	return r, nil
}

// maxSMS keeps a text to two GSM segments, so that it arrives whole and
// costs at most two messages.
const maxSMS = 306

// ReplyCodes is how an SMS reply names a page and an action, as GoAlert
// does: "12a" acknowledges page 12, "12c" closes (resolves) it and "12e"
// escalates it.
const ReplyCodes = "a acknowledges, c closes, e escalates"

// SMSText is the text message for n. A page's text leads with its number
// and the reply codes, so that a person can act from the lock screen; the
// title is shortened, never the codes.
func SMSText(n Notification) string {
	switch {
	case n.Kind == KindPage && len(n.Bundle) > 0:
		return bundleText(n)
	case n.Kind == KindPage:
		head := fmt.Sprintf("vigil page %d %s: ", n.PageID, strings.ToUpper(n.Urgency))
		tail := fmt.Sprintf(" Reply %da to ack, %dc to close, %de to escalate.", n.PageID, n.PageID, n.PageID)
		if n.AckURL != "" {
			tail += " " + n.AckURL
		}
		return head + shorten(n.Title, maxSMS-len(head)-len(tail)) + tail
	case n.Kind == KindAcknowledged || n.Kind == KindResolved:
		return shorten(fmt.Sprintf("vigil page %d %s: %s", n.PageID, n.Kind, strings.TrimSpace(n.Text)), maxSMS)
	default: // verification, test: the subject carries the code or the purpose
		return shorten(strings.TrimPrefix(n.Subject, "[vigil] ")+" (vigil)", maxSMS)
	}
}

// bundleText lists several pages in one text: each number and a short
// title, then the reply codes once. Titles shrink to fit; numbers stay.
func bundleText(n Notification) string {
	pages := append([]BundledPage{{PageID: n.PageID, Title: n.Title, Urgency: n.Urgency}}, n.Bundle...)
	head := fmt.Sprintf("vigil: %d pages. ", len(pages))
	tail := fmt.Sprintf(" Reply with a number and a, c or e: %da acknowledges page %d.", n.PageID, n.PageID)
	room := maxSMS - len(head) - len(tail)
	per := max(room/len(pages)-12, 8)
	var parts []string
	for _, p := range pages {
		parts = append(parts, fmt.Sprintf("%d %s: %s", p.PageID, strings.ToUpper(p.Urgency), shorten(p.Title, per)))
	}
	return head + shorten(strings.Join(parts, "; ")+".", room) + tail
}

// Script is what a call about n says. Only a page gathers a digit.
func Script(n Notification) VoiceScript {
	switch n.Kind {
	case KindPage:
		return VoiceScript{
			Say: fmt.Sprintf("This is vigil. Page %d, %s urgency. %s. Press 1 to acknowledge. Press 2 to escalate.",
				n.PageID, n.Urgency, shorten(n.Title, 200)),
			Gather: true, Token: linkToken(n.AckURL),
		}
	case KindVerify:
		code := lastWord(n.Subject)
		return VoiceScript{Say: "This is vigil. Your verification code is " + spaced(code) + ". Again: " + spaced(code) + "."}
	default:
		return VoiceScript{Say: "This is vigil. " + shorten(strings.TrimPrefix(n.Subject, "[vigil] "), 300) + "."}
	}
}

// linkToken is the token at the end of an acknowledgement link.
func linkToken(ackURL string) string {
	if ackURL == "" {
		return ""
	}
	return path.Base(ackURL)
}

func lastWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

// spaced reads digits one by one: "1 2 3" rather than "one hundred…".
func spaced(s string) string { return strings.Join(strings.Split(s, ""), " ") }

// shorten cuts s to at most max bytes on a rune boundary, with an ellipsis.
func shorten(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= max {
		return s
	}
	if max < 4 {
		return ""
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
