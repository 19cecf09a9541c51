package twilioemu

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Delivery is one status callback the emulator posted, and what came of it.
type Delivery struct {
	Kind   string // "message" | "call"
	SID    string
	URL    string
	Form   url.Values
	Status int   // HTTP status of the answer; 0 when Err is set
	Err    error // transport error
}

// Deliveries returns every status callback posted so far, oldest first.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

// WaitDelivery blocks until a posted status callback matches f or ctx ends.
func (s *Server) WaitDelivery(ctx context.Context, f func(Delivery) bool) (Delivery, error) {
	for {
		s.mu.Lock()
		for _, d := range s.deliveries {
			if f(d) {
				s.mu.Unlock()
				return d, nil
			}
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return Delivery{}, fmt.Errorf("twilioemu: wait for status callback: %w", ctx.Err())
		case <-ch:
		}
	}
}

// sleep waits d, or reports false when the emulator closes first.
func (s *Server) sleep(d time.Duration) bool {
	if d <= 0 {
		return s.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// messageLifecycle moves a message to sent and then delivered (or
// undelivered), posting a status callback at each step when asked to.
func (s *Server) messageLifecycle(m Message, undeliverable bool) {
	defer s.wg.Done()
	final := "delivered"
	if undeliverable {
		final = "undelivered"
	}
	for _, st := range []string{"sent", final} {
		if !s.sleep(s.CallbackDelay) {
			return
		}
		s.mu.Lock()
		s.messages[s.msgIndex[m.SID]].Status = st
		s.notifyLocked()
		s.mu.Unlock()
		if m.StatusCallback == "" {
			continue
		}
		// The fields of Twilio's message status callback.
		f := url.Values{}
		f.Set("MessageSid", m.SID)
		f.Set("SmsSid", m.SID)
		f.Set("AccountSid", s.accountSID)
		f.Set("From", m.From)
		f.Set("To", m.To)
		f.Set("MessageStatus", st)
		f.Set("SmsStatus", st)
		f.Set("ApiVersion", apiVersion)
		if st == "undelivered" {
			f.Set("ErrorCode", "30003")
		}
		s.deliver("message", m.SID, m.StatusCallback, f)
	}
}

// callLifecycle rings and ends a call: initiated, ringing, in-progress and
// completed, or no-answer for an undeliverable number. Only the events the
// call asked for in StatusCallbackEvent are posted.
func (s *Server) callLifecycle(c Call, events []string, undeliverable bool) {
	defer s.wg.Done()
	type step struct{ event, status string }
	steps := []step{{"initiated", "initiated"}, {"ringing", "ringing"}, {"answered", "in-progress"}, {"completed", "completed"}}
	if undeliverable {
		steps = []step{{"initiated", "initiated"}, {"ringing", "ringing"}, {"completed", "no-answer"}}
	}
	seq := 0
	for _, st := range steps {
		if !s.sleep(s.CallbackDelay) {
			return
		}
		s.mu.Lock()
		s.calls[s.callIndex[c.SID]].Status = st.status
		s.notifyLocked()
		s.mu.Unlock()
		if c.StatusCallback == "" || !slices.Contains(events, st.event) {
			continue
		}
		// The fields of Twilio's call status callback.
		f := url.Values{}
		f.Set("CallSid", c.SID)
		f.Set("AccountSid", s.accountSID)
		f.Set("From", c.From)
		f.Set("To", c.To)
		f.Set("Caller", c.From)
		f.Set("Called", c.To)
		f.Set("CallStatus", st.status)
		f.Set("ApiVersion", apiVersion)
		f.Set("Direction", "outbound-api")
		f.Set("CallbackSource", "call-progress-events")
		f.Set("Timestamp", s.Now().UTC().Format(twilioTime))
		f.Set("SequenceNumber", strconv.Itoa(seq))
		seq++
		if st.event == "completed" {
			d := 0
			if st.status == "completed" {
				d = int(s.CallDuration / time.Second)
			}
			f.Set("CallDuration", strconv.Itoa(d))
			f.Set("Duration", strconv.Itoa((d+59)/60))
		}
		s.deliver("call", c.SID, c.StatusCallback, f)
	}
}

// deliver posts one signed status callback and records the outcome.
func (s *Server) deliver(kind, sid, u string, f url.Values) {
	status, _, err := s.postSigned(s.ctx, KindStatus, u, f)
	s.mu.Lock()
	s.deliveries = append(s.deliveries, Delivery{Kind: kind, SID: sid, URL: u, Form: f, Status: status, Err: err})
	s.notifyLocked()
	s.mu.Unlock()
}
