package intel

import "time"

// Types of indicator and of entity value.
const (
	IP     = "ip"
	CIDR   = "cidr"
	Domain = "domain"
	URL    = "url"
	MD5    = "md5"
	SHA1   = "sha1"
	SHA256 = "sha256"
	Email  = "email"
)

// Types lists every indicator type, in a stable order.
var Types = []string{IP, CIDR, Domain, URL, MD5, SHA1, SHA256, Email}

// Indicator is one known-bad value with what the feeds say about it.
type Indicator struct {
	Type, Value string   // Value normalised (see Normalize)
	Feeds       []string // source feeds (deduplicated across feeds)
	Confidence  int      // 0–100; the max across feeds
	Tags        []string
	FirstSeen   time.Time
	LastSeen    time.Time
	ValidUntil  time.Time // zero: no expiry
}

// Key identifies an indicator: its type and normalised value.
type Key struct{ Type, Value string }

// Ways a match was found (Match.Via).
const (
	ViaExact        = "exact"
	ViaCIDR         = "cidr"
	ViaParentDomain = "parent-domain"
	ViaURLHost      = "url-host"
	ViaEmailDomain  = "email-domain"
)

// Match is one indicator that matched an entity.
type Match struct {
	Indicator Indicator
	Matched   string // the entity value as normalised
	Via       string // ViaExact, ViaCIDR, ViaParentDomain, ViaURLHost or ViaEmailDomain
}
