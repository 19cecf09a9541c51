package web

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/paging"
	"github.com/vigil-soc/vigil/internal/twilio"
	"github.com/vigil-soc/vigil/internal/validation"
)

// TwilioHooks verify Twilio's requests to vigil: inbound SMS replies,
// status callbacks and the digits pressed on a call.
type TwilioHooks struct {
	// AuthToken signs every request Twilio makes (X-Twilio-Signature).
	AuthToken string
	// AccountSID, when set, is the only account whose requests act.
	AccountSID string
	// BaseURL is vigil's address as Twilio was given it: the signature
	// covers the full URL, which a proxy in front of vigil would change.
	BaseURL string
}

// Paths of the Twilio hooks, which vigil gives Twilio when it sends.
const (
	TwilioSMSPath    = "/api/v1/hooks/twilio/sms"
	TwilioStatusPath = "/api/v1/hooks/twilio/status"
	TwilioVoicePath  = "/api/v1/hooks/twilio/voice"
)

// twilioRequest verifies a Twilio request and returns its form; it
// answers and returns false when the request is refused.
func (s *Server) twilioRequest(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if s.pager == nil || s.twilio.AuthToken == "" {
		writeError(w, http.StatusNotFound, "not_found", "no Twilio account is configured (paging.twilio)", nil)
		return nil, false
	}
	form, err := twilio.VerifyRequest(r, s.twilio.AuthToken, s.twilio.BaseURL+r.URL.RequestURI())
	switch {
	case errors.Is(err, twilio.ErrUnsigned):
		s.refused(r, "twilio", "unsigned")
		writeError(w, http.StatusUnauthorized, "unauthorized", "the request has no X-Twilio-Signature", nil)
		return nil, false
	case errors.Is(err, twilio.ErrBadSignature):
		s.refused(r, "twilio", "bad signature")
		writeError(w, http.StatusForbidden, "forbidden", "the request's X-Twilio-Signature does not verify", nil)
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, "bad_request", err.Error(), nil)
		return nil, false
	}
	// A request signed with our token but for another account is not
	// ours to act on.
	if acct := form.Get("AccountSid"); acct != "" && s.twilio.AccountSID != "" && acct != s.twilio.AccountSID {
		s.refused(r, "twilio", "another account: "+acct)
		writeError(w, http.StatusForbidden, "forbidden", "the request is for another Twilio account", nil)
		return nil, false
	}
	return form, true
}

// refused logs an inbound request that was refused: somebody is forging
// or replaying a provider's requests, or a secret is misconfigured.
func (s *Server) refused(r *http.Request, provider, why string) {
	s.log.Warn("inbound provider request refused", "provider", provider, "reason", why, "path", r.URL.Path, "remote", r.RemoteAddr)
}

// replayed refuses a request whose key was seen before.
func (s *Server) replayed(w http.ResponseWriter, r *http.Request, provider, key string) bool {
	seen, err := s.pager.Seen(r.Context(), provider, key)
	if err != nil {
		s.fail(w, r, err)
		return true
	}
	if seen {
		s.refused(r, provider, "replayed "+key)
		writeError(w, http.StatusForbidden, "forbidden", "this request was already received: a replay is refused", nil)
		return true
	}
	return false
}

func writeTwiML(w http.ResponseWriter, twiml string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(twiml))
}

// twilioSMS is POST /api/v1/hooks/twilio/sms: a text to vigil's Twilio
// number. A reply such as "12a" acts on page 12; the answer goes back in
// the same conversation as TwiML.
func (s *Server) twilioSMS(w http.ResponseWriter, r *http.Request) {
	form, ok := s.twilioRequest(w, r)
	if !ok {
		return
	}
	in, err := twilio.ParseInbound(form)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if s.replayed(w, r, "twilio-sms", in.MessageSID) {
		return
	}
	answer, err := s.pager.Reply(r.Context(), in.From, in.Body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeTwiML(w, twilio.Message(answer))
}

// twilioStatus is POST /api/v1/hooks/twilio/status: a message's or a
// call's delivery status. Twilio repeats callbacks; a repeat changes
// nothing, because a status only moves forward.
func (s *Server) twilioStatus(w http.ResponseWriter, r *http.Request) {
	form, ok := s.twilioRequest(w, r)
	if !ok {
		return
	}
	st, err := twilio.ParseStatus(form)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if status := twilioDelivery(st); status != "" {
		errText := ""
		if st.ErrorCode != "" {
			errText = "Twilio error " + st.ErrorCode
			if st.ErrorMessage != "" {
				errText += ": " + st.ErrorMessage
			}
		} else if status == notify.StatusUndelivered || status == notify.StatusFailed {
			errText = st.Kind + " " + st.Status
		}
		err := s.pager.DeliveryStatus(r.Context(), "twilio", st.SID, status, errText)
		if err != nil && !isNotFound(err) { // a message vigil did not send: nothing to update
			s.fail(w, r, err)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// twilioDelivery maps a Twilio status to vigil's delivery status, or ""
// for the steps in between. An answered call is delivered; a busy or
// unanswered one did not reach the person.
func twilioDelivery(st twilio.Status) string {
	switch st.Status {
	case "sent":
		return notify.StatusSent
	case "delivered", "read", "in-progress", "completed":
		return notify.StatusDelivered
	case "undelivered", "busy", "no-answer":
		return notify.StatusUndelivered
	case "failed", "canceled":
		return notify.StatusFailed
	}
	return ""
}

// twilioVoice is POST /api/v1/hooks/twilio/voice?t=TOKEN: the digit
// pressed on a page's call. The token is the page's signed link, so the
// press is tied to one page and one person.
func (s *Server) twilioVoice(w http.ResponseWriter, r *http.Request) {
	form, ok := s.twilioRequest(w, r)
	if !ok {
		return
	}
	g, err := twilio.ParseGather(form)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if s.replayed(w, r, "twilio-voice", g.CallSID+":"+g.Digits) {
		return
	}
	token := r.URL.Query().Get("t")
	say, err := s.pager.Press(r.Context(), token, g.Digits)
	if errors.Is(err, paging.ErrBadLink) {
		writeTwiML(w, twilio.Say("This page's link has expired. Open vigil to act on it. Goodbye."))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if say == "" {
		writeTwiML(w, twilio.SayGather("Press 1 to acknowledge. Press 2 to escalate.", s.twilio.BaseURL+r.URL.RequestURI(), 1,
			"We did not get an answer. Goodbye."))
		return
	}
	writeTwiML(w, twilio.Say(say+" Goodbye."))
}

func isNotFound(err error) bool { return errors.Is(err, validation.ErrNotFound) }
