package account

import (
	"context"
	"strings"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/store"
)

// Audit actions recorded by the service. They are stable names: admins
// filter and export the log by them.
const (
	AuditUserAdded    = "user.added"
	AuditUserRole     = "user.role_changed"
	AuditUserDisabled = "user.disabled"
	AuditUserEnabled  = "user.enabled"
	AuditUserPassword = "user.password_reset"
	AuditTokenCreated = "token.created"
	AuditTokenRevoked = "token.revoked"
	AuditKeyCreated   = "integration_key.created"
	AuditKeyRevoked   = "integration_key.revoked"
	AuditConfigLoaded = "config.loaded"
)

// redacted replaces a detail value that looks like a secret.
const redacted = "[redacted]"

// AuditActions lists the actions above, for the audit page's filter.
var AuditActions = []string{AuditUserAdded, AuditUserRole, AuditUserDisabled, AuditUserEnabled, AuditUserPassword,
	AuditTokenCreated, AuditTokenRevoked, AuditKeyCreated, AuditKeyRevoked, AuditConfigLoaded}

// secretWords mark detail keys whose values are never written to the log,
// whatever a caller passes: the log is read and exported by every admin,
// and a secret in it would outlive its revocation.
var secretWords = []string{"secret", "password", "token", "key", "hash", "dsn", "credential"}

// audit records one admin action by actor. It never fails the caller: the
// action has already happened, and refusing it afterwards would only hide
// it; a failed write is logged as an error instead. Detail values under a
// key that names a secret are replaced by "[redacted]".
func (s *Service) audit(ctx context.Context, actor auth.Actor, action, target string, detail map[string]any) {
	e := store.AuditEntry{Actor: actor.String(), Action: action, Target: target,
		Detail: scrubDetail(detail), IP: auth.ClientIP(ctx), At: s.clock.Now()}
	// The action is done even if the request that asked for it is gone.
	if err := s.st.RecordAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("audit entry not recorded", "action", action, "target", target, "actor", e.Actor, "err", err)
	}
}

// scrubDetail returns detail without secret-looking values. Keys that only
// describe a secret (its id, name or prefix) are kept, unless their value
// is a whole token or key.
func scrubDetail(detail map[string]any) map[string]any {
	if len(detail) == 0 {
		return nil
	}
	out := make(map[string]any, len(detail))
	for k, v := range detail {
		if secretKey(k) || secretValue(v) {
			v = redacted
		}
		out[k] = v
	}
	return out
}

// secretValue reports a whole vigil token or integration key, whatever
// key it came under; a key's hint (its prefix and four characters) is
// shorter and passes.
func secretValue(v any) bool {
	s, ok := v.(string)
	return ok && len(s) > len("vgx_")+4 && (strings.HasPrefix(s, "vgl_") || auth.IsIntegrationKey(s))
}

func secretKey(k string) bool {
	k = strings.ToLower(k)
	switch {
	case strings.HasSuffix(k, "_id"), strings.HasSuffix(k, "_name"), strings.HasSuffix(k, "_prefix"),
		strings.HasSuffix(k, "_sha256"), k == "prefix", k == "source":
		return false
	}
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// AuditLog lists audit entries matching f, newest first. Only admins may
// read it.
func (s *Service) AuditLog(ctx context.Context, actor auth.Actor, f store.AuditFilter) ([]store.AuditEntry, error) {
	if err := actor.Check(auth.ActionAdmin); err != nil {
		return nil, err
	}
	return s.st.ListAudit(ctx, f)
}
