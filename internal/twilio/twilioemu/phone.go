package twilioemu

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/vigil-soc/vigil/internal/twilio"
)

// Kinds of webhook the emulator sends, for ReplayLastKind.
const (
	KindSMS    = "sms"    // an inbound SMS (Reply)
	KindGather = "gather" // digits pressed (Press)
	KindStatus = "status" // a status callback
)

// webhook is one request the emulator sent, kept byte for byte for replay.
type webhook struct {
	url    string
	header http.Header
	body   []byte
}

// maxAnswer bounds what is read of a webhook's answer.
const maxAnswer = 64 << 10

// Reply sends an inbound SMS from the phone number from to the Twilio
// number to, as Twilio posts it to the number's messaging webhook (see
// SetSMSURL), signed. It returns the HTTP status and body (TwiML) of the
// answer; a <Message> in that TwiML is recorded as an SMS back to from.
func (s *Server) Reply(ctx context.Context, from, to, body string) (int, string, error) {
	s.mu.Lock()
	u, ok := s.smsURL[to]
	s.mu.Unlock()
	if !ok {
		return 0, "", fmt.Errorf("twilioemu: no SMS URL set for %s", to)
	}
	sid := "SM" + randHex()
	// The fields of Twilio's incoming-message webhook.
	f := url.Values{}
	f.Set("MessageSid", sid)
	f.Set("SmsMessageSid", sid)
	f.Set("SmsSid", sid)
	f.Set("AccountSid", s.accountSID)
	f.Set("From", from)
	f.Set("To", to)
	f.Set("Body", body)
	f.Set("NumMedia", "0")
	f.Set("NumSegments", fmt.Sprint(segments(body)))
	f.Set("SmsStatus", "received")
	f.Set("ApiVersion", apiVersion)
	for _, k := range []string{"FromCity", "FromState", "FromZip", "FromCountry", "ToCity", "ToState", "ToZip", "ToCountry"} {
		f.Set(k, "")
	}
	status, answer, err := s.postSigned(ctx, KindSMS, u, f)
	if err != nil {
		return 0, "", err
	}
	if status == http.StatusOK {
		s.recordReplies(to, from, answer)
	}
	return status, answer, nil
}

// recordReplies records each <Message> of a TwiML answer as an SMS sent by
// Twilio from the number to the phone.
func (s *Server) recordReplies(number, phone, answer string) {
	doc, err := parseTwiML(answer)
	if err != nil {
		return
	}
	now := s.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range doc.Messages {
		text := m.Body
		if text == "" {
			text = strings.TrimSpace(m.Text)
		}
		msg := Message{SID: "SM" + randHex(), From: number, To: phone, Body: text, Status: "delivered", At: now}
		s.msgIndex[msg.SID] = len(s.messages)
		s.messages = append(s.messages, msg)
	}
	if len(doc.Messages) > 0 {
		s.notifyLocked()
	}
}

// Press answers call sid and presses digits: it finds the <Gather action>
// of the call's inline TwiML and posts the digits there, signed. It
// returns the HTTP status and body (TwiML) of the answer.
func (s *Server) Press(ctx context.Context, sid, digits string) (int, string, error) {
	s.mu.Lock()
	i, ok := s.callIndex[sid]
	var c Call
	if ok {
		c = s.calls[i]
	}
	s.mu.Unlock()
	if !ok {
		return 0, "", fmt.Errorf("twilioemu: no call %s", sid)
	}
	if c.Status == "no-answer" {
		return 0, "", fmt.Errorf("twilioemu: call %s was not answered", sid)
	}
	doc, err := parseTwiML(c.Twiml)
	if err != nil {
		return 0, "", fmt.Errorf("twilioemu: call %s TwiML: %w", sid, err)
	}
	if len(doc.Gathers) == 0 || doc.Gathers[0].Action == "" {
		return 0, "", fmt.Errorf("twilioemu: call %s has no <Gather action>", sid)
	}
	g := doc.Gathers[0]
	if g.Method != "" && !strings.EqualFold(g.Method, http.MethodPost) {
		return 0, "", fmt.Errorf("twilioemu: <Gather method=%q> not supported, only POST", g.Method)
	}
	if u, err := url.Parse(g.Action); err != nil || !u.IsAbs() {
		return 0, "", fmt.Errorf("twilioemu: <Gather action=%q> must be an absolute URL", g.Action)
	}
	// The fields Twilio posts to a <Gather> action.
	f := url.Values{}
	f.Set("CallSid", c.SID)
	f.Set("AccountSid", s.accountSID)
	f.Set("From", c.From)
	f.Set("To", c.To)
	f.Set("Caller", c.From)
	f.Set("Called", c.To)
	f.Set("Digits", digits)
	f.Set("FinishedOnKey", "")
	f.Set("CallStatus", "in-progress")
	f.Set("Direction", "outbound-api")
	f.Set("ApiVersion", apiVersion)
	f.Set("msg", "Gather End")
	return s.postSigned(ctx, KindGather, g.Action, f)
}

// ReplayLast re-sends the last webhook the emulator sent (an inbound SMS,
// a key press or a status callback) byte for byte with the same headers,
// as an attacker who captured it would.
func (s *Server) ReplayLast(ctx context.Context) (int, string, error) {
	s.mu.Lock()
	w := s.last
	s.mu.Unlock()
	return s.replay(ctx, w)
}

// ReplayLastKind is ReplayLast for the last webhook of one kind (KindSMS,
// KindGather, KindStatus), so a test is not at the mercy of a status
// callback arriving between its Reply and its replay.
func (s *Server) ReplayLastKind(ctx context.Context, kind string) (int, string, error) {
	s.mu.Lock()
	w := s.lastByKind[kind]
	s.mu.Unlock()
	return s.replay(ctx, w)
}

func (s *Server) replay(ctx context.Context, w *webhook) (int, string, error) {
	if w == nil {
		return 0, "", errors.New("twilioemu: nothing to replay")
	}
	return s.send(ctx, w)
}

// postSigned posts form to u the way Twilio posts webhooks: form-encoded,
// signed with X-Twilio-Signature over u exactly as given, with a fresh
// idempotency token. It is recorded for ReplayLast.
func (s *Server) postSigned(ctx context.Context, kind, u string, form url.Values) (int, string, error) {
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	h.Set("User-Agent", "TwilioProxy/1.1")
	h.Set(twilio.SignatureHeader, twilio.Signature(s.authToken, u, form))
	h.Set(twilio.IdempotencyHeader, randHex()[:16]+"-"+randHex())
	w := &webhook{url: u, header: h, body: []byte(form.Encode())}
	s.mu.Lock()
	s.last = w
	s.lastByKind[kind] = w
	s.mu.Unlock()
	return s.send(ctx, w)
}

func (s *Server) send(ctx context.Context, w *webhook) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(w.body))
	if err != nil {
		return 0, "", fmt.Errorf("twilioemu: webhook: %w", err)
	}
	req.Header = w.header.Clone()
	resp, err := s.HTTPClient.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("twilioemu: webhook: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return resp.StatusCode, "", fmt.Errorf("twilioemu: webhook answer: %w", err)
	}
	return resp.StatusCode, string(b), nil
}

// twimlDoc is the part of TwiML the emulator acts on.
type twimlDoc struct {
	XMLName xml.Name `xml:"Response"`
	Gathers []struct {
		Action string `xml:"action,attr"`
		Method string `xml:"method,attr"`
	} `xml:"Gather"`
	Messages []struct {
		Text string `xml:",chardata"`
		Body string `xml:"Body"`
	} `xml:"Message"`
}

func parseTwiML(s string) (twimlDoc, error) {
	var d twimlDoc
	if err := xml.Unmarshal([]byte(s), &d); err != nil {
		return twimlDoc{}, err
	}
	return d, nil
}
