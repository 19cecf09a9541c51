package app

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/account"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/sso"
	"github.com/vigil-soc/vigil/internal/ui"
)

// singleSignOn adapts the OpenID Connect relying party to the UI. It
// discovers the provider on first use, and again after a failure, so an
// identity provider that is down when vigil starts delays only SSO
// sign-ins, never the server.
type singleSignOn struct {
	cfg sso.Config
	// objectIDs records each Entra ID user's object id, for the owner of
	// the Sentinel incidents they take (nil: not recorded).
	objectIDs interface {
		SetEntraObjectID(ctx context.Context, email, objectID string) error
	}

	mu sync.Mutex
	p  *sso.Provider
}

func newSingleSignOn(c config.OIDC, clk clock.Clock) (*singleSignOn, error) {
	client, err := httpClientFor("oidc.ca_file", c.CAFile)
	if err != nil {
		return nil, err
	}
	return &singleSignOn{cfg: sso.Config{Issuer: c.Issuer, ClientID: c.ClientID, ClientSecret: c.ClientSecret,
		RedirectURL: c.RedirectURL, RoleClaim: c.RoleClaim, AdminRoles: c.AdminRoles, ResponderRoles: c.ResponderRoles,
		ViewerRoles: c.ViewerRoles, DefaultRole: c.DefaultRole, HTTPClient: client, Clock: clk}}, nil
}

func (s *singleSignOn) provider(ctx context.Context) (*sso.Provider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil {
		return s.p, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := sso.New(ctx, s.cfg)
	if err != nil {
		return nil, err
	}
	s.p = p
	return p, nil
}

func (s *singleSignOn) Begin(ctx context.Context) (string, ui.Attempt, error) {
	p, err := s.provider(ctx)
	if err != nil {
		return "", ui.Attempt{}, err
	}
	authURL, a := p.Begin()
	return authURL, ui.Attempt{State: a.State, Nonce: a.Nonce, Verifier: a.Verifier, Created: a.Created}, nil
}

func (s *singleSignOn) Finish(ctx context.Context, a ui.Attempt, state, code string) (account.Identity, error) {
	p, err := s.provider(ctx)
	if err != nil {
		return account.Identity{}, err
	}
	id, err := p.Finish(ctx, sso.Attempt{State: a.State, Nonce: a.Nonce, Verifier: a.Verifier, Created: a.Created}, state, code)
	if err != nil {
		return account.Identity{}, err
	}
	role, err := auth.ParseRole(id.Role)
	if err != nil {
		return account.Identity{}, fmt.Errorf("oidc role: %w", err)
	}
	if s.objectIDs != nil && id.ObjectID != "" && id.Email != "" {
		if err := s.objectIDs.SetEntraObjectID(ctx, id.Email, id.ObjectID); err != nil {
			return account.Identity{}, err
		}
	}
	return account.Identity{Issuer: id.Issuer, Subject: id.Subject, Email: id.Email, Name: id.Name, Role: role}, nil
}

func (s *singleSignOn) ProviderError(q url.Values) error { return sso.ProviderError(q) }
