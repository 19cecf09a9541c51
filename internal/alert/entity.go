package alert

import (
	"net/netip"
	"net/url"
	"strings"
	"unicode"

	"github.com/vigil-soc/vigil/internal/validation"
)

// EntityKind is the type of an entity, after Sentinel's entity types.
type EntityKind string

// Entity kinds.
const (
	EntityIP            EntityKind = "ip"
	EntityHost          EntityKind = "host"
	EntityAccount       EntityKind = "account"
	EntityURL           EntityKind = "url"
	EntityDomain        EntityKind = "domain"
	EntityFileHash      EntityKind = "filehash"
	EntityCloudResource EntityKind = "cloud_resource"
)

// EntityKinds lists every valid kind.
var EntityKinds = []EntityKind{EntityIP, EntityHost, EntityAccount, EntityURL, EntityDomain, EntityFileHash, EntityCloudResource}

// Entity is a typed observable attached to an alert: the thing enrichment
// looks up and analysts pivot on.
type Entity struct {
	Kind  EntityKind `json:"kind"`
	Value string     `json:"value"`
	// Attrs holds kind-specific details: "algorithm" for a file hash,
	// "upn" or "sid" for an account, "type" for a cloud resource.
	Attrs map[string]string `json:"attrs,omitempty"`
}

// hashLengths maps a hex digest length to its algorithm, so that a hash
// without an algorithm can still be labelled.
var hashLengths = map[int]string{32: "MD5", 40: "SHA1", 64: "SHA256"}

// Validate checks the entity and normalizes its value in place.
func (e *Entity) Validate() error {
	e.Value = strings.TrimSpace(e.Value)
	if e.Value == "" {
		return validation.NewFieldError("value", "must not be empty")
	}
	switch e.Kind {
	case EntityIP:
		a, err := netip.ParseAddr(e.Value)
		if err != nil {
			return validation.NewFieldError("value", "%q is not an IP address", e.Value)
		}
		e.Value = a.String()
	case EntityHost, EntityDomain:
		// Trailing dots (the DNS root) do not change a name. All of them
		// go, with any space between them, so that validating again
		// changes nothing, and a name of dots alone is refused rather than
		// stored empty (found by FuzzParseAlerts).
		e.Value = strings.ToLower(strings.TrimRightFunc(e.Value, func(r rune) bool { return r == '.' || unicode.IsSpace(r) }))
		if e.Value == "" {
			return validation.NewFieldError("value", "must not be empty")
		}
	case EntityURL:
		u, err := url.Parse(e.Value)
		if err != nil || u.Scheme == "" {
			return validation.NewFieldError("value", "%q is not an absolute URL", e.Value)
		}
	case EntityFileHash:
		v := strings.ToLower(e.Value)
		for _, c := range v {
			if !strings.ContainsRune("0123456789abcdef", c) {
				return validation.NewFieldError("value", "file hash must be hexadecimal")
			}
		}
		e.Value = v
		if e.Attrs["algorithm"] == "" {
			if alg, ok := hashLengths[len(v)]; ok {
				if e.Attrs == nil {
					e.Attrs = map[string]string{}
				}
				e.Attrs["algorithm"] = alg
			}
		}
	case EntityAccount, EntityCloudResource:
	default:
		return validation.NewFieldError("kind", "unknown entity kind %q (want one of %s)", e.Kind, kindList())
	}
	return nil
}

func kindList() string {
	s := make([]string, len(EntityKinds))
	for i, k := range EntityKinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// keyKinds are the kinds an analyst tells alerts apart by, in the order a
// card prefers them when an alert has several.
var keyKinds = []EntityKind{EntityHost, EntityAccount, EntityIP}

// KeyEntity is the entity an alert leads with, as "kind value" ("host
// vm-web-01"): the first host, account or IP in the sender's order, else
// the first entity of any kind, else "".
func KeyEntity(es []Entity) string {
	for _, e := range es {
		for _, k := range keyKinds {
			if e.Kind == k {
				return string(e.Kind) + " " + e.Value
			}
		}
	}
	if len(es) > 0 {
		return string(es[0].Kind) + " " + es[0].Value
	}
	return ""
}

// SearchText is what the board's search matches for an item: its title
// and its alerts' entity values, lower-cased, one per line.
func SearchText(title string, entitySets ...[]Entity) string {
	var sb strings.Builder
	sb.WriteString(strings.ToLower(title))
	seen := map[string]bool{}
	for _, es := range entitySets {
		for _, e := range es {
			v := strings.ToLower(e.Value)
			if v == "" || seen[v] {
				continue
			}
			seen[v] = true
			sb.WriteByte('\n')
			sb.WriteString(v)
		}
	}
	return sb.String()
}
