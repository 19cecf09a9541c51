package account

import (
	"context"
	"fmt"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/store"
)

// IntegrationKeys lists every integration key, revoked ones included,
// newest first. Only admins see them.
func (s *Service) IntegrationKeys(ctx context.Context, actor auth.Actor) ([]store.IntegrationKey, error) {
	if err := actor.Check(auth.ActionAdmin); err != nil {
		return nil, err
	}
	return s.st.ListIntegrationKeys(ctx)
}

// CreateIntegrationKey creates a key that may only ingest alerts from
// source, and returns its secret, which is shown once and cannot be
// recovered.
func (s *Service) CreateIntegrationKey(ctx context.Context, actor auth.Actor, name, source string) (string, store.IntegrationKey, error) {
	if err := actor.Check(auth.ActionAdmin); err != nil {
		return "", store.IntegrationKey{}, err
	}
	secret, k, err := s.st.CreateIntegrationKey(ctx, name, source, actor.String())
	if err != nil {
		return "", store.IntegrationKey{}, err
	}
	s.log.Info("integration key created", "key_id", k.ID, "name", k.Name, "source", k.Source, "by", actor.String())
	s.audit(ctx, actor, AuditKeyCreated, keyTarget(k), map[string]any{"key_name": k.Name, "source": k.Source, "prefix": k.Hint})
	return secret, k, nil
}

// RevokeIntegrationKey revokes a key: its sender is refused from then on
// (within the API's few seconds of credential caching). Revoking a
// revoked key again is no error.
func (s *Service) RevokeIntegrationKey(ctx context.Context, actor auth.Actor, id int64) error {
	if err := actor.Check(auth.ActionAdmin); err != nil {
		return err
	}
	k, err := s.st.GetIntegrationKey(ctx, id)
	if err != nil {
		return err
	}
	if k.RevokedAt != nil {
		return nil
	}
	if err := s.st.RevokeIntegrationKey(ctx, id); err != nil {
		return err
	}
	s.log.Info("integration key revoked", "key_id", id, "name", k.Name, "by", actor.String())
	s.audit(ctx, actor, AuditKeyRevoked, keyTarget(k), map[string]any{"key_name": k.Name, "source": k.Source, "prefix": k.Hint})
	return nil
}

func keyTarget(k store.IntegrationKey) string {
	return fmt.Sprintf("integration key %d (%s)", k.ID, k.Name)
}
