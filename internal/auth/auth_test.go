package auth

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/validation"
)

func TestParseRole(t *testing.T) {
	tests := []struct {
		in      string
		want    Role
		wantErr bool
	}{
		{"viewer", RoleViewer, false},
		{"responder", RoleResponder, false},
		{"admin", RoleAdmin, false},
		// Config files and CLI flags are typed by people.
		{"Admin", RoleAdmin, false},
		{"  RESPONDER \n", RoleResponder, false},
		{"", "", true},
		{"root", "", true},
		{"administrator", "", true},
	}
	for _, tt := range tests {
		got, err := ParseRole(tt.in)
		if tt.wantErr {
			var fe *validation.FieldError
			if !errors.As(err, &fe) || fe.Field != "role" {
				t.Errorf("ParseRole(%q) error = %v, want *validation.FieldError on role", tt.in, err)
			}
			if got != "" {
				t.Errorf("ParseRole(%q) = %q with an error, want empty role", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseRole(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestRoleAllows(t *testing.T) {
	// The full matrix: each role may do exactly what its row says.
	actions := []Action{ActionRead, ActionIngest, ActionTriage, ActionAdmin}
	tests := []struct {
		role Role
		want []bool // read, ingest, triage, admin
	}{
		{RoleViewer, []bool{true, false, false, false}},
		{RoleResponder, []bool{true, true, true, false}},
		{RoleAdmin, []bool{true, true, true, true}},
		// No role (an unauthenticated request) may do nothing.
		{"", []bool{false, false, false, false}},
		// An unknown role (a stale row after a rename) is denied, not
		// mistaken for some default.
		{"superuser", []bool{false, false, false, false}},
		// Roles are exact: ParseRole is what normalizes case.
		{"Admin", []bool{false, false, false, false}},
	}
	for _, tt := range tests {
		for i, a := range actions {
			if got := tt.role.Allows(a); got != tt.want[i] {
				t.Errorf("Role(%q).Allows(%s) = %v, want %v", tt.role, a, got, tt.want[i])
			}
		}
	}
	// An unknown action is denied to everyone but admin, which may do
	// everything by definition.
	if RoleResponder.Allows("delete") || RoleViewer.Allows("delete") {
		t.Error("a non-admin role allows an unknown action")
	}
}

func TestActorCheck(t *testing.T) {
	tests := []struct {
		name      string
		actor     Actor
		act       Action
		wantErr   bool
		wantInMsg []string
	}{
		{"viewer reads", Actor{Kind: "user", Name: "v", Role: RoleViewer}, ActionRead, false, nil},
		{"viewer triages", Actor{Kind: "user", Name: "v", Role: RoleViewer}, ActionTriage, true, []string{"viewer", "triage"}},
		{"responder administers", Actor{Kind: "token", Name: "ci", Role: RoleResponder}, ActionAdmin, true, []string{"responder", "admin"}},
		{"responder ingests", Actor{Kind: "token", Name: "ci", Role: RoleResponder}, ActionIngest, false, nil},
		// The zero actor (no authentication) has no role and says so.
		{"no role", Actor{}, ActionRead, true, []string{"(none)", "read"}},
		{"system", System, ActionAdmin, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.actor.Check(tt.act)
			if !tt.wantErr {
				if err != nil {
					t.Errorf("Check(%s) = %v, want nil", tt.act, err)
				}
				return
			}
			var fe *validation.ForbiddenError
			if !errors.As(err, &fe) {
				t.Fatalf("Check(%s) = %v (%T), want *validation.ForbiddenError", tt.act, err, err)
			}
			for _, s := range tt.wantInMsg {
				if !strings.Contains(fe.Error(), s) {
					t.Errorf("message %q does not contain %q", fe.Error(), s)
				}
			}
		})
	}
}

func TestActorString(t *testing.T) {
	tests := []struct {
		actor Actor
		want  string
	}{
		{Actor{Kind: "user", Name: "alice@example.com"}, "alice@example.com"},
		// Tokens are marked so that the timeline tells automation from people.
		{Actor{Kind: "token", Name: "sentinel-sync"}, "token:sentinel-sync"},
		{System, "vigil"},
		{Actor{Kind: "system", Name: "other"}, "vigil"},
	}
	for _, tt := range tests {
		if got := tt.actor.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.actor, got, tt.want)
		}
	}
}

func TestActorContext(t *testing.T) {
	a := Actor{Kind: "user", ID: 3, Name: "bob", Role: RoleResponder}
	if got := FromContext(WithActor(context.Background(), a)); got != a {
		t.Errorf("FromContext(WithActor(a)) = %+v, want %+v", got, a)
	}
	// Without an actor the zero Actor comes back, which Check denies.
	got := FromContext(context.Background())
	if got != (Actor{}) {
		t.Errorf("FromContext(empty) = %+v, want zero Actor", got)
	}
	if got.Check(ActionRead) == nil {
		t.Error("the zero Actor from an empty context may read")
	}
}

func TestNewToken(t *testing.T) {
	// vgl_ and 43 base64url characters (256 bits, unpadded).
	form := regexp.MustCompile(`^vgl_[A-Za-z0-9_-]{43}$`)
	seen := map[string]bool{}
	for range 1000 {
		tok := NewToken()
		if !form.MatchString(tok) {
			t.Fatalf("NewToken() = %q, want vgl_ and 43 base64url characters", tok)
		}
		if seen[tok] {
			t.Fatalf("NewToken() returned %q twice", tok)
		}
		seen[tok] = true
	}
}

func TestHashToken(t *testing.T) {
	tok := "vgl_example"
	h := HashToken(tok)
	// The stored form must be stable across calls and restarts, since
	// lookups are by hash.
	if again := HashToken(tok); again != h {
		t.Errorf("HashToken not stable: %s then %s", h, again)
	}
	// Known answer (sha256sum of "vgl_example"): tokens hashed by an
	// earlier release must still be found.
	if want := "21e999c767e50cff8634f5910b66b8ce86e24b5da6b6e7c2e29abe0e8b7bb927"; h != want {
		t.Errorf("HashToken(%q) = %s, want %s", tok, h, want)
	}
	if HashToken(tok+"x") == h || HashToken("") == h {
		t.Error("different tokens hash alike")
	}
	// The hash must not contain the token.
	if strings.Contains(h, tok) {
		t.Errorf("HashToken(%q) = %q contains the token", tok, h)
	}
}
