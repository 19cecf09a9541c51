package account

import (
	"context"
	"fmt"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/validation"
)

// Users lists every user, by email.
func (s *Service) Users(ctx context.Context, actor auth.Actor) ([]store.User, error) {
	if err := actor.Check(auth.ActionAdmin); err != nil {
		return nil, err
	}
	us, err := s.st.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	for i := range us {
		us[i] = public(us[i])
	}
	return us, nil
}

// AddUser creates a user who signs in with password.
func (s *Service) AddUser(ctx context.Context, actor auth.Actor, email string, role auth.Role, password string) (store.User, error) {
	if err := actor.Check(auth.ActionAdmin); err != nil {
		return store.User{}, err
	}
	if _, err := auth.ParseRole(string(role)); err != nil {
		return store.User{}, err
	}
	hash, err := hashPassword(password)
	if err != nil {
		return store.User{}, err
	}
	u, err := s.st.AddUser(ctx, email, role, hash)
	if err != nil {
		return store.User{}, err
	}
	s.log.Info("user added", "email", u.Email, "role", u.Role, "by", actor.String())
	s.audit(ctx, actor, AuditUserAdded, u.Email, map[string]any{"user_id": u.ID, "role": u.Role})
	return public(u), nil
}

// SetRole changes a user's role. Admins cannot demote themselves, and the
// last enabled admin cannot be demoted (a *validation.ConflictError).
func (s *Service) SetRole(ctx context.Context, actor auth.Actor, id int64, role auth.Role) (store.User, error) {
	if err := actor.Check(auth.ActionAdmin); err != nil {
		return store.User{}, err
	}
	if _, err := auth.ParseRole(string(role)); err != nil {
		return store.User{}, err
	}
	if self(actor, id) && role != auth.RoleAdmin {
		return store.User{}, validation.NewFieldError("role", "you cannot remove your own admin role; ask another admin")
	}
	var from auth.Role
	u, err := s.st.UpdateUser(ctx, id, func(u *store.User) error { from, u.Role = u.Role, role; return nil })
	if err != nil {
		return store.User{}, err
	}
	s.log.Info("user role set", "email", u.Email, "role", role, "by", actor.String())
	s.audit(ctx, actor, AuditUserRole, u.Email, map[string]any{"user_id": u.ID, "from": from, "to": role})
	return public(u), nil
}

// SetDisabled disables or enables a user. Disabling ends the user's
// sessions. Admins cannot disable themselves, and the last enabled admin
// cannot be disabled (a *validation.ConflictError).
func (s *Service) SetDisabled(ctx context.Context, actor auth.Actor, id int64, disabled bool) (store.User, error) {
	if err := actor.Check(auth.ActionAdmin); err != nil {
		return store.User{}, err
	}
	if self(actor, id) && disabled {
		return store.User{}, validation.NewFieldError("disabled", "you cannot disable your own account")
	}
	u, err := s.st.UpdateUser(ctx, id, func(u *store.User) error { u.Disabled = disabled; return nil })
	if err != nil {
		return store.User{}, err
	}
	if disabled {
		// Sessions of disabled users are refused anyway; deleting them
		// keeps them from coming back if the user is enabled again.
		if err := s.st.DeleteUserSessions(ctx, id); err != nil {
			return store.User{}, err
		}
	}
	s.log.Info("user disabled set", "email", u.Email, "disabled", disabled, "by", actor.String())
	action := AuditUserEnabled
	if disabled {
		action = AuditUserDisabled
	}
	s.audit(ctx, actor, action, u.Email, map[string]any{"user_id": u.ID})
	return public(u), nil
}

// ResetPassword sets a user's password and ends the user's sessions.
// Users who sign in through single sign-on have no password to reset.
func (s *Service) ResetPassword(ctx context.Context, actor auth.Actor, id int64, password string) error {
	if err := actor.Check(auth.ActionAdmin); err != nil {
		return err
	}
	hash, err := hashPassword(password)
	if err != nil {
		return err
	}
	u, err := s.st.UpdateUser(ctx, id, func(u *store.User) error {
		if u.External != "" {
			return &validation.ConflictError{Message: fmt.Sprintf("%s signs in through single sign-on and has no password", u.Email)}
		}
		u.PasswordHash = hash
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.st.DeleteUserSessions(ctx, id); err != nil {
		return err
	}
	s.log.Info("user password reset", "email", u.Email, "by", actor.String())
	s.audit(ctx, actor, AuditUserPassword, u.Email, map[string]any{"user_id": u.ID})
	return nil
}

// Tokens lists every API token, revoked ones included, newest first.
func (s *Service) Tokens(ctx context.Context, actor auth.Actor) ([]store.Token, error) {
	if err := actor.Check(auth.ActionAdmin); err != nil {
		return nil, err
	}
	return s.st.ListTokens(ctx)
}

// CreateToken creates an API token and returns its secret, which is shown
// once and cannot be recovered.
func (s *Service) CreateToken(ctx context.Context, actor auth.Actor, name string, role auth.Role) (string, store.Token, error) {
	if err := actor.Check(auth.ActionAdmin); err != nil {
		return "", store.Token{}, err
	}
	if _, err := auth.ParseRole(string(role)); err != nil {
		return "", store.Token{}, err
	}
	secret, t, err := s.st.CreateToken(ctx, name, role)
	if err != nil {
		return "", store.Token{}, err
	}
	s.log.Info("token created", "token_id", t.ID, "name", t.Name, "role", t.Role, "by", actor.String())
	s.audit(ctx, actor, AuditTokenCreated, tokenTarget(t.ID), map[string]any{"token_id": t.ID, "token_name": t.Name, "role": t.Role})
	return secret, t, nil
}

// RevokeToken revokes an API token; revoking a revoked one is no error.
func (s *Service) RevokeToken(ctx context.Context, actor auth.Actor, id int64) error {
	if err := actor.Check(auth.ActionAdmin); err != nil {
		return err
	}
	if err := s.st.RevokeToken(ctx, id); err != nil {
		return err
	}
	s.log.Info("token revoked", "token_id", id, "by", actor.String())
	s.audit(ctx, actor, AuditTokenRevoked, tokenTarget(id), map[string]any{"token_id": id})
	return nil
}

// tokenTarget names an API token in the audit log.
func tokenTarget(id int64) string { return fmt.Sprintf("token:%d", id) }

// self reports whether actor is user id.
func self(actor auth.Actor, id int64) bool { return actor.Kind == "user" && actor.ID == id }

// hashPassword hashes a new password, refusing a short one as a field error.
func hashPassword(password string) (string, error) {
	if len(password) < auth.MinPasswordLength {
		return "", validation.NewFieldError("password", "must be at least %d characters", auth.MinPasswordLength)
	}
	h, err := auth.HashPassword(password)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}

// public is u without its password hash, for the admin pages.
func public(u store.User) store.User {
	u.PasswordHash = ""
	return u
}
