package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/vigil-soc/vigil/internal/ingest"
	"github.com/vigil-soc/vigil/internal/validation"
)

// apiError is the body of every error answer.
type apiError struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// Allowed is omitted when nil but kept when empty: a conflict on a
	// final state answers "allowed": [] (omitempty would drop it).
	Allowed []string `json:"allowed,omitzero"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, code int, kind, msg string, fe *errorBody) {
	body := errorBody{Code: kind, Message: msg}
	if fe != nil {
		body.Field, body.Allowed = fe.Field, fe.Allowed
	}
	writeJSON(w, code, apiError{Error: body})
}

// fail maps an error to its status: user-safe errors say what is wrong;
// anything else is logged and answered with a bare 500 so that internal
// details never reach the client.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var (
		fe   *validation.FieldError
		ce   *validation.ConflictError
		fbe  *validation.ForbiddenError
		mbe  *http.MaxBytesError
		body = &errorBody{}
	)
	switch {
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("request body exceeds %d bytes", mbe.Limit), &errorBody{Field: "body"})
	case errors.As(err, &fe):
		body.Field = fe.Field
		writeError(w, http.StatusBadRequest, "invalid", fe.Error(), body)
	case errors.As(err, &ce):
		body.Allowed = ce.Allowed
		if body.Allowed == nil {
			body.Allowed = []string{}
		}
		writeError(w, http.StatusConflict, "conflict", ce.Message, body)
	case errors.As(err, &fbe):
		writeError(w, http.StatusForbidden, "forbidden", fbe.Message, nil)
	case errors.Is(err, validation.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", notFoundText(err), nil)
	case errors.Is(err, validation.ErrStale):
		writeError(w, http.StatusPreconditionFailed, "stale", "the item changed since you read it; reload and retry", nil)
	case errors.Is(err, ingest.ErrStopped):
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "vigil is shutting down; retry", nil)
	case errors.Is(err, r.Context().Err()) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		w.WriteHeader(499)
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "internal error", nil)
	}
}

// notFoundText keeps the "work item 7" part of a wrapped not-found error,
// which names only what the client asked for.
func notFoundText(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "+validation.ErrNotFound.Error()); i > 0 {
		if j := strings.LastIndex(msg[:i], ": "); j >= 0 {
			return msg[j+2:]
		}
		return msg
	}
	return "not found"
}

// readBody reads a capped body.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, validation.NewFieldError("body", "could not read request body: %v", err)
	}
	return b, nil
}

// decodeJSON decodes a small JSON object strictly: unknown fields are
// errors, so a typo such as "resaon" is reported instead of ignored.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	b, err := readBody(w, r, smallBody)
	if err != nil {
		return err
	}
	return unmarshalStrict(b, v, "")
}

func unmarshalStrict(b []byte, v any, prefix string) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonFieldError(err, prefix)
	}
	return checkEnd(b, dec, prefix)
}

// checkEnd fails unless only white space follows the value the decoder
// has read. Decoder.More is not enough: it reports false before a stray
// ']' or '}', so that `{...}]` would pass.
func checkEnd(b []byte, dec *json.Decoder, prefix string) error {
	if len(bytes.TrimSpace(b[dec.InputOffset():])) > 0 {
		return validation.NewFieldError(orBody(prefix), "unexpected data after the JSON value")
	}
	return nil
}

func orBody(prefix string) string {
	if prefix == "" {
		return "body"
	}
	return prefix
}

// jsonFieldError turns encoding/json's errors into field errors that name
// the offending field as a JSON path.
func jsonFieldError(err error, prefix string) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return validation.NewFieldError(orBody(prefix), "malformed JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return validation.NewFieldError(orBody(prefix), "expected %s, got JSON %s", te.Type, te.Value)
		}
		return validation.NewFieldError(join(prefix, field), "expected %s, got JSON %s", te.Type, te.Value)
	case errors.Is(err, io.EOF):
		return validation.NewFieldError(orBody(prefix), "is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return validation.NewFieldError(orBody(prefix), "malformed JSON: unexpected end")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		if name == "" {
			// A key "" has no path of its own, and an empty error.field
			// would name nothing; name the object holding it (found by
			// FuzzParseAlerts).
			return validation.NewFieldError(orBody(prefix), `unknown field ""`)
		}
		return validation.NewFieldError(join(prefix, name), "unknown field")
	}
	var fe *validation.FieldError
	if errors.As(err, &fe) {
		return validation.Prefix(prefix, err)
	}
	return validation.NewFieldError(orBody(prefix), "invalid JSON: %v", err)
}

func join(prefix, field string) string {
	if prefix == "" {
		return field
	}
	return prefix + "." + field
}

// pathID parses a numeric path parameter.
func pathID(r *http.Request, name string) (int64, error) {
	v := r.PathValue(name)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, validation.NewFieldError(name, "must be a positive integer, got %q", v)
	}
	return id, nil
}

// page reads ?limit= and ?cursor=.
func page(r *http.Request) (limit int, after int64, err error) {
	q := r.URL.Query()
	limit = 100
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 500 {
			return 0, 0, validation.NewFieldError("limit", "must be an integer from 1 to 500")
		}
	}
	if v := q.Get("cursor"); v != "" {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 1 {
			return 0, 0, validation.NewFieldError("cursor", "is not a cursor returned by this API")
		}
	}
	return limit, after, nil
}

// listPage is the envelope of every list answer. NextCursor is empty on
// the last page.
type listPage[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func newPage[T any](items []T, limit int, id func(T) int64) listPage[T] {
	if items == nil {
		items = []T{}
	}
	p := listPage[T]{Items: items}
	if len(items) == limit && limit > 0 {
		p.NextCursor = strconv.FormatInt(id(items[len(items)-1]), 10)
	}
	return p
}
