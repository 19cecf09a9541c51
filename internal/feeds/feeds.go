package feeds

import (
	"context"
	"time"
)

// Indicator is what a feed yields: raw, not yet normalised.
type Indicator struct {
	Type       string    // "ip", "cidr", "domain", "url", "md5", "sha1", "sha256", "email"
	Value      string    // trimmed, otherwise as the feed sent it
	Confidence int       // 0–100; DefaultConfidence when the feed says nothing
	Tags       []string  // feed tags/labels, in feed order, without duplicates
	FirstSeen  time.Time // zero when unknown
	ValidUntil time.Time // zero: none
	Ref        string    // the pulse/event/object id it came from
}

// Result is one pass's outcome.
type Result struct {
	Indicators []Indicator
	Skipped    int    // malformed or unsupported entries
	Pages      int    // pages (HTTP responses or files) read
	Cursor     string // opaque; store it and pass it back next time
}

// Feed is one source. Pass fetches everything since cursor ("" = from the
// beginning, bounded by the feed's Since if set).
type Feed interface {
	Name() string
	Pass(ctx context.Context, cursor string) (Result, error)
}

// DefaultConfidence is used when a feed carries no confidence of its own.
const DefaultConfidence = 50

// Indicator types.
const (
	TypeIP     = "ip"
	TypeCIDR   = "cidr"
	TypeDomain = "domain"
	TypeURL    = "url"
	TypeMD5    = "md5"
	TypeSHA1   = "sha1"
	TypeSHA256 = "sha256"
	TypeEmail  = "email"
)

// maxPageBytes bounds one HTTP page, so a broken server cannot exhaust memory.
const maxPageBytes = 64 << 20

// maxPages bounds one pass, so a server whose `next` loops cannot spin forever.
const maxPages = 100000

func nowFunc(f func() time.Time) func() time.Time {
	if f == nil {
		return time.Now
	}
	return f
}
