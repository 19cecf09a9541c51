// Package outbox is the durable queue of writes to external systems
// (resolve a Defender for Cloud alert, close a Sentinel incident, …). A
// message is written in the same transaction as the change that caused
// it, so it is never lost and never sent for a change that did not
// commit; a sender delivers it later with retries, backoff and
// Retry-After, and an idempotency key keeps it from being queued twice.
package outbox

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// States of a message.
const (
	Pending = "pending" // waiting to be sent (again)
	Done    = "done"    // delivered
	Failed  = "failed"  // given up on; visible to users, who can retry it
	// Cancelled: superseded before it was sent (the work item that queued
	// it was merged into another, whose own writes carry the change).
	Cancelled = "cancelled"
)

// Message is one write to an external system.
type Message struct {
	ID         int64           `json:"id"`
	WorkItemID int64           `json:"workitem_id,omitempty"`
	Target     string          `json:"target"`   // "defender", "sentinel", "graph", "devops", …
	Op         string          `json:"op"`       // e.g. "alert.resolve", "incident.close"
	Resource   string          `json:"resource"` // the external id written to
	Payload    json.RawMessage `json:"payload,omitempty"`
	// IdemKey identifies the logical write: enqueueing a message whose key
	// is already queued does nothing.
	IdemKey   string     `json:"idem_key"`
	State     string     `json:"state"`
	Attempts  int        `json:"attempts"`
	NextAt    time.Time  `json:"next_at"`
	LastError string     `json:"last_error,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	DoneAt    *time.Time `json:"done_at,omitempty"`
}

// Backoff bounds.
const (
	BaseDelay = 2 * time.Second
	MaxDelay  = 10 * time.Minute
	// MaxAttempts is how many failed sends make a message Failed.
	MaxAttempts = 12
)

// Backoff returns how long to wait before attempt n+1 after n failed
// attempts: exponential with full jitter (so that many messages failing
// together do not retry together), never less than the service's
// Retry-After.
func Backoff(attempts int, retryAfter time.Duration, rnd *rand.Rand) time.Duration {
	ceiling := BaseDelay << min(max(attempts-1, 0), 20)
	if ceiling > MaxDelay || ceiling <= 0 {
		ceiling = MaxDelay
	}
	d := time.Duration(rnd.Int64N(int64(ceiling))) + BaseDelay/2
	return max(d, retryAfter)
}

// RetryAfter reads a Retry-After header value: whole or fractional seconds
// (Graph sends "2.128") or an HTTP date; 0 when absent or past.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
