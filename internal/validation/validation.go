// Package validation holds the errors whose messages are safe to show to
// API users. Anything else that reaches a handler is logged and answered
// with a generic 500, so internal details never leak.
package validation

import (
	"errors"
	"fmt"
	"strings"
)

// FieldError says which input field is wrong and why.
type FieldError struct {
	Field   string // JSON path, e.g. "[3].entities[0].value"
	Message string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Message) }

// NewFieldError returns a *FieldError.
func NewFieldError(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Prefix returns err with its field path prefixed, so that a nested
// validator can report "alerts[2].severity" without knowing its position.
func Prefix(prefix string, err error) error {
	var fe *FieldError
	if prefix == "" || !errors.As(err, &fe) {
		return err
	}
	field := fe.Field
	switch {
	case field == "":
		field = prefix
	case strings.HasPrefix(field, "["):
		field = prefix + field
	default:
		field = prefix + "." + field
	}
	return &FieldError{Field: field, Message: fe.Message}
}

// ConflictError is a request that is well-formed but not allowed in the
// current state, such as a transition the process forbids.
type ConflictError struct {
	Message string
	Allowed []string // the allowed alternatives, when there are any
}

func (e *ConflictError) Error() string { return e.Message }

// ForbiddenError is an action the actor's role does not permit.
type ForbiddenError struct{ Message string }

func (e *ForbiddenError) Error() string { return e.Message }

// ErrNotFound is returned when the requested object does not exist.
var ErrNotFound = errors.New("not found")

// ErrStale is returned when an optimistic-concurrency check (If-Match) fails.
var ErrStale = errors.New("stale revision")
