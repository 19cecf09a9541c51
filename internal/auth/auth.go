// Package auth defines who is acting (Actor), what each role may do, API
// tokens and password hashing. Permission checks live in the domain
// services that change data, not only in HTTP handlers.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/vigil-soc/vigil/internal/validation"
)

// Role is a user's or token's level of access.
type Role string

// Roles, least privileged first.
const (
	RoleViewer    Role = "viewer"
	RoleResponder Role = "responder"
	RoleAdmin     Role = "admin"
	// RoleIntegration is an integration key's: it may ingest alerts from
	// one sender and do nothing else. No user or API token has it.
	RoleIntegration Role = "integration"
)

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case RoleViewer, RoleResponder, RoleAdmin:
		return r, nil
	}
	return "", validation.NewFieldError("role", "unknown role %q (want viewer, responder or admin)", s)
}

// Action is something an actor may be allowed to do.
type Action string

// Actions.
const (
	ActionRead   Action = "read"   // see alerts, items, timelines
	ActionIngest Action = "ingest" // post alerts
	ActionTriage Action = "triage" // move, edit, comment, tasks
	ActionAdmin  Action = "admin"  // users, tokens, process
)

// Allows reports whether role r permits action a.
func (r Role) Allows(a Action) bool {
	switch r {
	case RoleAdmin:
		return true
	case RoleResponder:
		return a == ActionRead || a == ActionIngest || a == ActionTriage
	case RoleViewer:
		return a == ActionRead
	case RoleIntegration:
		return a == ActionIngest
	}
	return false
}

// Actor is who performs an action: a user, an API token, an integration
// key or vigil itself.
type Actor struct {
	Kind string // "user", "token", "key" or "system"
	ID   int64
	Name string
	Role Role
	// Source is the one sender an integration key may ingest for (see
	// KeySources); empty for every other kind of actor.
	Source string
}

// String is the actor's name as the timeline shows it.
func (a Actor) String() string {
	switch a.Kind {
	case "token":
		return "token:" + a.Name
	case "key":
		return "key:" + a.Name
	case "system":
		return "vigil"
	}
	return a.Name
}

// System is vigil itself, acting for ingest, sync and automation.
var System = Actor{Kind: "system", Name: "vigil", Role: RoleAdmin}

// Check returns a *validation.ForbiddenError when the actor may not do a.
func (a Actor) Check(act Action) error {
	if a.Role.Allows(act) {
		return nil
	}
	return &validation.ForbiddenError{Message: fmt.Sprintf("role %s may not %s", orNone(a.Role), act)}
}

func orNone(r Role) string {
	if r == "" {
		return "(none)"
	}
	return string(r)
}

type ctxKey struct{}

// WithActor returns a context carrying the actor.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, ctxKey{}, a)
}

// FromContext returns the actor in ctx; the zero Actor (no role) if none.
func FromContext(ctx context.Context) Actor {
	a, _ := ctx.Value(ctxKey{}).(Actor)
	return a
}

// tokenPrefix makes vigil tokens recognizable to secret scanners.
const tokenPrefix = "vgl_"

// NewToken returns a new random API token.
func NewToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// HashToken returns the stored form of a token. Tokens carry 256 random
// bits, so a fast hash is enough: there is nothing to brute-force, and a
// slow one would cost every API request.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
