package jirasim

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"
)

// Webhook is an admin webhook (Jira settings → System → WebHooks) for
// jira:issue_updated, saved with a secret so that each delivery is signed.
type Webhook struct {
	URL    string
	Secret string
	// Client delivers; nil: one with a 10-second timeout.
	Client *http.Client
}

// Delivery is one webhook call the site made and how it was answered.
type Delivery struct {
	Issue     string
	AccountID string // who made the change
	Status    int    // the answer's status; 0 when the call failed
	Answer    string // the answer's body, or the transport error
}

// APIAccountID is the account id of the API token's account: changes
// made through the REST API are delivered as made by it, as Jira does.
const APIAccountID = "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077"

// apiUser is its display name.
const apiUser = "vigil integration"

// SetWebhook registers the site's webhook; a zero Webhook removes it.
// From then on every status change is delivered: a user's (MoveAsUser)
// at once, the API's (a transition vigil makes) in the background, as Jira
// delivers webhooks asynchronously.
func (s *Server) SetWebhook(h Webhook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h.Client == nil {
		h.Client = &http.Client{Timeout: 10 * time.Second}
	}
	s.hook = h
}

// MoveAsUser acts as a Jira user moving an issue to a status, and
// delivers the signed webhook to the registered URL, returning how it was
// answered.
func (s *Server) MoveAsUser(key, to, user string) (Delivery, error) {
	s.mu.Lock()
	h := s.hook
	if h.URL == "" {
		s.mu.Unlock()
		return Delivery{}, fmt.Errorf("no webhook registered")
	}
	body, header, err := s.userTransition(key, to, user, userAccountID, h.Secret)
	s.mu.Unlock()
	if err != nil {
		return Delivery{}, err
	}
	return s.deliver(h, key, userAccountID, body, header), nil
}

// Deliveries returns the webhook calls made so far, oldest first; it
// waits for those under way.
func (s *Server) Deliveries() []Delivery {
	s.sending.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deliveries)
}

// apiMoved delivers, in the background, the webhook of a status change
// made through the REST API; the caller holds s.mu.
func (s *Server) apiMoved(is *Issue, from string) {
	h := s.hook
	if h.URL == "" || from == is.Status {
		return
	}
	body, header, err := s.issueUpdated(is, from, apiUser, APIAccountID, h.Secret)
	if err != nil {
		return
	}
	key := is.Key
	s.sending.Add(1)
	go func() {
		defer s.sending.Done()
		s.deliver(h, key, APIAccountID, body, header)
	}()
}

func (s *Server) deliver(h Webhook, key, accountID string, body []byte, header http.Header) Delivery {
	d := Delivery{Issue: key, AccountID: accountID}
	req, err := http.NewRequest(http.MethodPost, h.URL, bytes.NewReader(body))
	if err == nil {
		req.Header = header
		var res *http.Response
		if res, err = h.Client.Do(req); err == nil {
			b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
			res.Body.Close()
			d.Status, d.Answer = res.StatusCode, string(b)
		}
	}
	if err != nil {
		d.Answer = err.Error()
	}
	s.mu.Lock()
	s.deliveries = append(s.deliveries, d)
	s.mu.Unlock()
	return d
}
