package account

import (
	"context"

	"github.com/vigil-soc/vigil/internal/auth"
)

// AuditForTest records an audit entry as the service's own actions do.
func (s *Service) AuditForTest(ctx context.Context, actor auth.Actor, action, target string, detail map[string]any) {
	s.audit(ctx, actor, action, target, detail)
}
