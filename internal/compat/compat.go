// Package compat maps the inbound payloads of third-party alert senders
// (Prometheus Alertmanager API v2, PagerDuty Events API v2, Azure Monitor's
// common alert schema) onto vigil's alert model, so that those senders can
// be pointed at vigil without changing them. It only parses and maps; the
// HTTP handlers live elsewhere.
package compat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/validation"
)

// jsonSyntaxMessage describes a JSON decoding error with a line and column,
// because a byte offset alone is hard to find in a pretty-printed body.
func jsonSyntaxMessage(body []byte, err error) string {
	if len(bytes.TrimSpace(body)) == 0 {
		return "is empty"
	}
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return "is not valid JSON: " + err.Error()
	}
	// Offset counts the bytes read, including the offending one.
	at := int(se.Offset) - 1
	if at < 0 {
		at = 0
	}
	if at > len(body) {
		at = len(body)
	}
	line := 1 + bytes.Count(body[:at], []byte("\n"))
	col := at - bytes.LastIndexByte(body[:at], '\n')
	return fmt.Sprintf("is not valid JSON: syntax error at line %d, column %d (byte %d): %s", line, col, at, se.Error())
}

// typeMessage words a JSON type mismatch for a user.
func typeMessage(te *json.UnmarshalTypeError) string {
	want := "a different type"
	switch te.Type.Kind() {
	case reflect.String:
		want = "a string"
	case reflect.Slice:
		want = "an array"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		want = "an object"
	}
	return fmt.Sprintf("must be %s, not %s", want, te.Value)
}

// truncate shortens s to at most max bytes on a rune boundary, marking the
// cut. Senders such as Alertmanager accept summaries of any length, and
// rejecting the alert over its title would lose the page; Raw keeps the
// full text.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const mark = "…"
	cut := max - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// parseRFC3339 parses a strict RFC 3339 timestamp; the fractional seconds
// are optional and may have any number of digits (Azure sends seven).
func parseRFC3339(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s)
}

// parseLenientTime accepts RFC 3339, ISO 8601 offsets without a colon
// ("+0000", as in PagerDuty's own examples) and timestamps without any zone,
// which are read as UTC because that is what naive senders (Python's
// datetime.utcnow().isoformat()) mean.
func parseLenientTime(s string) (time.Time, error) {
	for _, layout := range []string{
		time.RFC3339Nano,
		"2006-01-02T15:04:05.999999999Z0700",
		"2006-01-02T15:04:05.999999999",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO 8601 date-time", s)
}

// notAfter returns t, or limit when t is later. A sender whose clock runs
// ahead of vigil's would otherwise produce first_seen after last_seen, which
// Normalize rejects, and the alert would be lost over clock skew.
func notAfter(t, limit time.Time) time.Time {
	if t.After(limit) {
		return limit
	}
	return t
}

// locationEntities turns a free-form location, such as an Alertmanager
// instance label or a PagerDuty source, into entities. It returns nothing
// for strings that are neither an address nor a host name (PagerDuty's own
// example source is "monitoringtool:cloudvendor:...:cluster/api-stats"),
// because a junk entity would be enriched and pivoted on.
func locationEntities(s string) []alert.Entity {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil
		}
		// Entities are sent to enrichment services; credentials in the
		// URL must not go with them.
		u.User = nil
		out := []alert.Entity{{Kind: alert.EntityURL, Value: u.String()}}
		return append(out, hostEntities(u.Hostname())...)
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return hostEntities(s)
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		return hostEntities(host)
	}
	return hostEntities(s)
}

// hostEntities returns an ip entity for an address literal, a host entity
// for a host name, and nothing for loopback or unspecified addresses: every
// self-scraping Prometheus reports localhost, and one shared entity would
// link unrelated alerts.
func hostEntities(h string) []alert.Entity {
	h = strings.TrimSuffix(strings.Trim(h, "[]"), ".")
	if a, err := netip.ParseAddr(h); err == nil {
		if a.IsLoopback() || a.IsUnspecified() {
			return nil
		}
		return []alert.Entity{{Kind: alert.EntityIP, Value: a.WithZone("").String()}}
	}
	if !isHostName(h) || strings.EqualFold(h, "localhost") {
		return nil
	}
	return []alert.Entity{{Kind: alert.EntityHost, Value: strings.ToLower(h)}}
}

// isHostName is deliberately loose (underscores occur in real internal
// names) but rejects anything with spaces, slashes or colons.
func isHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// entitySet collects entities without duplicates, up to alert.MaxEntities,
// so that a sender listing many targets degrades instead of being rejected.
type entitySet struct {
	list []alert.Entity
	seen map[string]bool
}

func (s *entitySet) add(es ...alert.Entity) {
	for _, e := range es {
		key := string(e.Kind) + "\x00" + strings.ToLower(e.Value)
		if e.Value == "" || s.seen[key] || len(s.list) >= alert.MaxEntities {
			continue
		}
		if s.seen == nil {
			s.seen = map[string]bool{}
		}
		s.seen[key] = true
		s.list = append(s.list, e)
	}
}

// fieldErr is a shorthand that keeps the call sites readable.
func fieldErr(field, format string, args ...any) *validation.FieldError {
	return &validation.FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}
