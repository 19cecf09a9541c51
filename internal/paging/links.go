package paging

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Acknowledgement links: each notification carries a link that works
// without signing in, signed with a key shared by every instance
// (store.SharedSecret) and expiring. Opening it shows the page; only the
// button on that page (a POST) acts, so that a mail scanner that follows
// links acknowledges nothing.

// LinkTTL is how long a notification's link works.
const LinkTTL = 24 * time.Hour

const linkKeyName = "paging-links"

// ErrBadLink is a link that is malformed, forged or expired.
var ErrBadLink = errors.New("this link is not valid or has expired")

// Link is what a signed link carries.
type Link struct {
	Page    int64  `json:"p"`
	User    string `json:"u"` // who the notification went to: the responder
	Expires int64  `json:"e"` // Unix seconds
}

type linkKeys struct {
	st interface {
		SharedSecret(ctx context.Context, name string, fresh []byte) ([]byte, error)
	}
	mu  sync.Mutex
	key []byte
}

func (k *linkKeys) get(ctx context.Context) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key != nil {
		return k.key, nil
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	key, err := k.st.SharedSecret(ctx, linkKeyName, fresh)
	if err != nil {
		return nil, fmt.Errorf("link key: %w", err)
	}
	k.key = key
	return key, nil
}

func sign(key []byte, payload string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("vigil page link\x00" + payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// LinkToken signs a link for page and user, valid for LinkTTL.
func (s *Pager) LinkToken(ctx context.Context, page int64, user string) (string, error) {
	key, err := s.keys.get(ctx)
	if err != nil {
		return "", err
	}
	b, _ := json.Marshal(Link{Page: page, User: user, Expires: s.o.Clock.Now().Add(LinkTTL).Unix()})
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + sign(key, payload), nil
}

// CheckLink verifies a link token and returns what it carries.
func (s *Pager) CheckLink(ctx context.Context, token string) (Link, error) {
	payload, sig, ok := strings.Cut(token, ".")
	if !ok || len(token) > 1024 {
		return Link{}, ErrBadLink
	}
	key, err := s.keys.get(ctx)
	if err != nil {
		return Link{}, err
	}
	if !hmac.Equal([]byte(sig), []byte(sign(key, payload))) {
		return Link{}, ErrBadLink
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return Link{}, ErrBadLink
	}
	var l Link
	if json.Unmarshal(b, &l) != nil || l.Page <= 0 || l.User == "" {
		return Link{}, ErrBadLink
	}
	if s.o.Clock.Now().Unix() > l.Expires {
		return Link{}, ErrBadLink
	}
	return l, nil
}

// webhookSecret derives a webhook contact method's signing secret from
// the shared key: nothing to store, the same on every instance, and shown
// to its owner when they add the method.
func (s *Pager) webhookSecret(ctx context.Context, contactMethodID int64) (string, error) {
	key, err := s.keys.get(ctx)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "vigil webhook secret\x00%d", contactMethodID)
	return "whsec_" + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// WebhookSecret is the lookup package notify's webhook channel signs with.
func (s *Pager) WebhookSecret(ctx context.Context, contactMethodID int64) (string, error) {
	return s.webhookSecret(ctx, contactMethodID)
}
