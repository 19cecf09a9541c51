package tiupload

import (
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/intel"
)

// namespace is the UUIDv5 namespace of vigil's indicator ids: the UUIDv5
// of "https://github.com/vigil-soc/vigil/tiupload/indicator" in RFC 9562's
// URL namespace. Changing it would make every indicator a new object in
// every workspace it was pushed to.
var namespace = uuidV5(urlNamespace, "https://github.com/vigil-soc/vigil/tiupload/indicator")

// urlNamespace is RFC 9562's predefined URL namespace.
var urlNamespace = [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}

// uuidV5 is RFC 9562's name-based UUID with SHA-1.
func uuidV5(ns [16]byte, name string) [16]byte {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = (u[6] & 0x0f) | 0x50
	u[8] = (u[8] & 0x3f) | 0x80
	return u
}

func uuidString(u [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// IndicatorID is the STIX id vigil gives an indicator: the same type and
// normalised value always give the same id.
func IndicatorID(typ, value string) string {
	return "indicator--" + uuidString(uuidV5(namespace, typ+":"+value))
}

// stixTime is STIX 2.1's timestamp: UTC, "Z", milliseconds (the
// documentation's examples use millisecond precision).
func stixTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// QuoteLiteral writes s as a STIX patterning string literal: in single
// quotes, with backslash and single quote escaped by a backslash (STIX 2.1
// part 5, "Constants"). Nothing else needs escaping inside the literal.
func QuoteLiteral(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || c == '\'' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('\'')
	return b.String()
}

// Pattern is the STIX pattern of an indicator whose value is already
// normalised: one comparison of the observable's value (a network
// address or range, a domain, a URL, a file hash or an email address).
func Pattern(typ, value string) (string, error) {
	var path string
	switch typ {
	case intel.IP:
		a, err := netip.ParseAddr(value)
		if err != nil {
			return "", fmt.Errorf("ip %q: %w", value, err)
		}
		path = "ipv6-addr:value"
		if a.Is4() {
			path = "ipv4-addr:value"
		}
	case intel.CIDR:
		p, err := netip.ParsePrefix(value)
		if err != nil {
			return "", fmt.Errorf("cidr %q: %w", value, err)
		}
		// STIX writes a network range as the address object's value in
		// CIDR notation.
		path = "ipv6-addr:value"
		if p.Addr().Is4() {
			path = "ipv4-addr:value"
		}
	case intel.Domain:
		path = "domain-name:value"
	case intel.URL:
		path = "url:value"
	case intel.MD5:
		// Hash names with a hyphen must be quoted in an object path;
		// MD5 need not be.
		path = "file:hashes.MD5"
	case intel.SHA1:
		path = "file:hashes.'SHA-1'"
	case intel.SHA256:
		path = "file:hashes.'SHA-256'"
	case intel.Email:
		path = "email-addr:value"
	default:
		return "", fmt.Errorf("indicator type %q has no STIX pattern", typ)
	}
	return "[" + path + " = " + QuoteLiteral(value) + "]", nil
}

// stixIndicator is the STIX 2.1 indicator SDO as the upload API takes it.
// Field order is the documentation's.
type stixIndicator struct {
	Type           string   `json:"type"`
	SpecVersion    string   `json:"spec_version"`
	ID             string   `json:"id"`
	Created        string   `json:"created"`
	Modified       string   `json:"modified"`
	Labels         []string `json:"labels,omitempty"`
	Confidence     *int     `json:"confidence,omitempty"`
	Name           string   `json:"name"`
	Description    string   `json:"description,omitempty"`
	IndicatorTypes []string `json:"indicator_types"`
	Pattern        string   `json:"pattern"`
	PatternType    string   `json:"pattern_type"`
	PatternVersion string   `json:"pattern_version"`
	ValidFrom      string   `json:"valid_from"`
	ValidUntil     string   `json:"valid_until,omitempty"`
	Revoked        bool     `json:"revoked,omitempty"`
}

// STIX renders one indicator as a STIX 2.1 indicator SDO for the upload
// API. now is the version's "modified" time, and its "created" and
// "valid_from" when the indicator has no first sighting. Tags become
// labels (shown as Tags in Sentinel) and feeds the description.
func STIX(ind intel.Indicator, now time.Time) (json.RawMessage, error) {
	return render(ind, now, false)
}

// Revoked renders an indicator that must no longer be used (allow-listed
// in vigil) as a new version with "revoked": true, which STIX consumers,
// Sentinel included, treat as withdrawn.
func Revoked(ind intel.Indicator, now time.Time) (json.RawMessage, error) {
	ind.ValidUntil = time.Time{} // a revoked object needs no valid window
	return render(ind, now, true)
}

func render(ind intel.Indicator, now time.Time, revoked bool) (json.RawMessage, error) {
	value, err := intel.Normalize(ind.Type, ind.Value)
	if err != nil {
		return nil, fmt.Errorf("stix indicator %s %q: %w", ind.Type, ind.Value, err)
	}
	pattern, err := Pattern(ind.Type, value)
	if err != nil {
		return nil, fmt.Errorf("stix indicator: %w", err)
	}
	if ind.Confidence < 0 || ind.Confidence > 100 {
		return nil, fmt.Errorf("stix indicator %s %q: confidence %d is outside 0-100", ind.Type, value, ind.Confidence)
	}
	now = now.UTC().Truncate(time.Millisecond)
	first := now
	if !ind.FirstSeen.IsZero() && ind.FirstSeen.Before(now) {
		// created must not come after modified.
		first = ind.FirstSeen.UTC().Truncate(time.Millisecond)
	}
	o := stixIndicator{
		Type: "indicator", SpecVersion: "2.1", ID: IndicatorID(ind.Type, value),
		Created: stixTime(first), Modified: stixTime(now),
		Name: value, IndicatorTypes: []string{"malicious-activity"},
		Pattern: pattern, PatternType: "stix", PatternVersion: "2.1",
		ValidFrom: stixTime(first), Revoked: revoked,
	}
	if labels := nonEmpty(ind.Tags); len(labels) > 0 {
		o.Labels = labels
	}
	if feeds := nonEmpty(ind.Feeds); len(feeds) > 0 {
		o.Description = "vigil indicator from feeds: " + strings.Join(feeds, ", ")
	}
	if ind.Confidence > 0 {
		c := ind.Confidence
		o.Confidence = &c
	}
	if !ind.ValidUntil.IsZero() {
		until := ind.ValidUntil.UTC().Truncate(time.Millisecond)
		if !until.After(first) {
			return nil, fmt.Errorf("stix indicator %s %q: %w", ind.Type, value, ErrExpiredBeforeValid)
		}
		o.ValidUntil = stixTime(until)
	}
	b, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("stix indicator %s %q: %w", ind.Type, value, err)
	}
	return b, nil
}

// ErrExpiredBeforeValid says an indicator's valid_until is not after its
// valid_from, which STIX forbids; such an indicator is not uploaded.
var ErrExpiredBeforeValid = errors.New("valid_until is not after valid_from")

// nonEmpty returns the non-empty strings of s, sorted and without
// duplicates, so that the same indicator renders the same bytes.
func nonEmpty(s []string) []string {
	var out []string
	for _, v := range s {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
