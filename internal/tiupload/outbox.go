package tiupload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/intel"
	"github.com/vigil-soc/vigil/internal/outbox"
)

// Target is the outbox target Client.Send serves.
const Target = "ti-upload"

// OpUpload is the operation of a Message: upload one batch.
const OpUpload = "stix.upload"

var _ outbox.Target = (*Client)(nil)

// Message is an outbox message carrying one batch (1 to MaxObjects STIX
// objects, made by Batches). Its payload is the objects' JSON array, its
// resource the first object's id, and its idempotency key a hash of the
// payload: queueing the same batch twice sends it once.
func Message(objs []json.RawMessage) (outbox.Message, error) {
	if len(objs) == 0 {
		return outbox.Message{}, errors.New("tiupload message: no objects")
	}
	if len(objs) > MaxObjects {
		return outbox.Message{}, fmt.Errorf("tiupload message: %d objects; a batch holds at most %d", len(objs), MaxObjects)
	}
	for i, o := range objs {
		if t := bytes.TrimSpace(o); len(t) == 0 || t[0] != '{' || !json.Valid(t) {
			return outbox.Message{}, fmt.Errorf("tiupload message: object %d is not a JSON object", i)
		}
	}
	payload, err := json.Marshal(objs)
	if err != nil {
		return outbox.Message{}, fmt.Errorf("tiupload message: %w", err)
	}
	sum := sha256.Sum256(payload)
	return outbox.Message{
		Target: Target, Op: OpUpload, Resource: objectID(objs[0]),
		Payload: payload, IdemKey: "ti-upload/" + hex.EncodeToString(sum[:16]),
	}, nil
}

// Send uploads the batch a Message carries; it makes Client an
// outbox.Target. Throttling, server errors and network trouble come back
// as *outbox.RetryableError with the service's wait. Objects the service
// rejects are logged by index and id and not retried (they would be
// rejected again); when it rejects every object the message fails, so
// that the failure shows in the outbox.
func (c *Client) Send(ctx context.Context, m outbox.Message) error {
	if m.Op != OpUpload {
		return fmt.Errorf("tiupload: unknown operation %q", m.Op)
	}
	var objs []json.RawMessage
	if err := json.Unmarshal(m.Payload, &objs); err != nil {
		return fmt.Errorf("tiupload message %d: payload: %w", m.ID, err)
	}
	res, err := c.Upload(ctx, objs)
	if err != nil {
		return fmt.Errorf("tiupload message %d: %w", m.ID, err)
	}
	for _, e := range res.Errors {
		id := ""
		if e.Index >= 0 && e.Index < len(objs) {
			id = objectID(objs[e.Index])
		}
		c.log.Warn("STIX object rejected by the upload API", "message", m.ID, "index", e.Index, "id", id,
			"errors", strings.Join(e.Messages, "; "))
	}
	if res.Accepted == 0 {
		first := "no reason given"
		if len(res.Errors) > 0 && len(res.Errors[0].Messages) > 0 {
			first = res.Errors[0].Messages[0]
		}
		return fmt.Errorf("tiupload message %d: all %d objects rejected (first: %s)", m.ID, len(objs), first)
	}
	return nil
}

// objectID is a STIX object's id, or "" when it has none.
func objectID(o json.RawMessage) string {
	var v struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(o, &v) != nil {
		return ""
	}
	return v.ID
}

// Messages renders indicators as STIX objects at now and batches them
// (Batches with the documented limits) into outbox messages. An indicator
// that cannot be rendered (a malformed value, an expiry before its first
// sighting) is left out, and its error returned in skipped, so that one
// bad indicator does not hold back the others.
func Messages(inds []intel.Indicator, now time.Time) (msgs []outbox.Message, skipped []error) {
	objs := make([]json.RawMessage, 0, len(inds))
	for _, ind := range inds {
		o, err := STIX(ind, now)
		if err != nil {
			skipped = append(skipped, err)
			continue
		}
		objs = append(objs, o)
	}
	for _, b := range Batches(objs, MaxObjects, MaxBytes) {
		m, err := Message(b)
		if err != nil {
			// STIX renders JSON objects, which Message takes.
			skipped = append(skipped, err)
			continue
		}
		msgs = append(msgs, m)
	}
	return msgs, skipped
}
