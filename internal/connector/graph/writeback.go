package graph

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/outbox"
)

// Write-back operations (outbox.Message.Op). Message.Target is Target and
// Message.Resource the alert's id: the alerts_v2 id, or for
// OpLegacyUpdate the legacy id.
const (
	// OpUpdate sets an alerts_v2 alert's status, classification,
	// determination or assignee; payload UpdatePayload.
	OpUpdate = "alert.update"
	// OpComment adds a comment to an alerts_v2 alert; payload
	// CommentPayload.
	OpComment = "alert.comment"
	// OpLegacyUpdate updates a legacy alert; payload LegacyUpdatePayload.
	OpLegacyUpdate = "legacyAlert.update"
)

// UpdatePayload is OpUpdate's payload. Empty fields are left alone.
// Status takes Graph's spelling (new, inProgress, resolved) or vigil's
// (in_progress, dismissed, ...); vigil's dismissed is written as resolved
// with an informationalExpectedActivity (benign positive) classification
// unless one is given, so that it reads back as dismissed.
// Classification takes Graph's or Sentinel's spelling.
type UpdatePayload struct {
	Status         string `json:"status,omitempty"`
	Classification string `json:"classification,omitempty"`
	Determination  string `json:"determination,omitempty"`
	AssignedTo     string `json:"assignedTo,omitempty"`
}

// CommentPayload is OpComment's payload.
type CommentPayload struct {
	Message string `json:"message"`
}

// LegacyUpdatePayload is OpLegacyUpdate's payload. Status takes the legacy
// spelling (newAlert, inProgress, resolved) or vigil's; Feedback is
// truePositive, falsePositive or benignPositive. Comment is added to the
// alert's comments unless already there. Provider and Vendor are the
// alert's vendorInformation, which Graph needs to route the update; when
// Provider is empty it is read from the alert.
type LegacyUpdatePayload struct {
	Status   string `json:"status,omitempty"`
	Feedback string `json:"feedback,omitempty"`
	Comment  string `json:"comment,omitempty"`
	Provider string `json:"provider,omitempty"`
	Vendor   string `json:"vendor,omitempty"`
}

// Send performs one write-back; it makes Client an outbox.Target. Every
// operation is idempotent, so a resend after a lost answer is harmless:
// updates set values, and comments are only added when the same text is
// not there yet. Throttling, server errors, a role grant still propagating
// and network trouble come back as *outbox.RetryableError with the
// service's Retry-After: a write never waits on the service, only (like
// every request) for a slot of the client's own budget. A 401 is retried
// once at once with a new token.
func (c *Client) Send(ctx context.Context, m outbox.Message) error {
	id := strings.TrimSpace(m.Resource)
	if id == "" || strings.ContainsAny(id, "/?#") {
		return fmt.Errorf("graph %s: %q is not an alert id", m.Op, m.Resource)
	}
	var err error
	switch m.Op {
	case OpUpdate:
		var p UpdatePayload
		if err = decodePayload(m, &p); err == nil {
			err = c.update(ctx, id, p)
		}
	case OpComment:
		var p CommentPayload
		if err = decodePayload(m, &p); err == nil {
			err = c.comment(ctx, id, p, markerKey(m))
		}
	case OpIncidentUpdate:
		var p IncidentUpdatePayload
		if err = decodePayload(m, &p); err == nil {
			err = c.updateIncident(ctx, id, p, markerKey(m))
		}
	case OpIncidentComment:
		var p CommentPayload
		if err = decodePayload(m, &p); err == nil {
			err = c.incidentComment(ctx, id, p, markerKey(m))
		}
	case OpLegacyUpdate:
		var p LegacyUpdatePayload
		if err = decodePayload(m, &p); err == nil {
			err = c.legacyUpdate(ctx, id, p, markerKey(m))
		}
	default:
		return fmt.Errorf("graph: unknown operation %q", m.Op)
	}
	if err != nil {
		return fmt.Errorf("graph %s %s: %w", m.Op, id, err)
	}
	return nil
}

func decodePayload(m outbox.Message, v any) error {
	if err := json.Unmarshal(m.Payload, v); err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	return nil
}

func (c *Client) alertURL(id string) string {
	return c.base + "/security/alerts_v2/" + url.PathEscape(id)
}

func (c *Client) legacyURL(id string) string {
	return c.base + "/security/alerts/" + url.PathEscape(id)
}

// update PATCHes alerts_v2/{id}.
func (c *Client) update(ctx context.Context, id string, p UpdatePayload) error {
	body := map[string]string{}
	if p.Status != "" {
		st := p.Status
		if vs := alert.Status(strings.ToLower(st)); vs.Valid() {
			st = alert.StatusTo(alert.Graph, vs)
			if vs == alert.StatusDismissed && p.Classification == "" {
				p.Classification = "informationalExpectedActivity"
			}
		}
		body["status"] = st
	}
	if p.Classification != "" {
		body["classification"] = classificationV2(p.Classification)
	}
	if p.Determination != "" {
		body["determination"] = p.Determination
	}
	if p.AssignedTo != "" {
		body["assignedTo"] = p.AssignedTo
	}
	if len(body) == 0 {
		return errors.New("empty update")
	}
	_, err := c.do(ctx, call{method: http.MethodPatch, url: c.alertURL(id), body: body, write: true})
	return err
}

// comment POSTs alerts_v2/{id}/comments, unless an earlier attempt
// whose answer was lost already added it: the comment ends with a marker
// derived from the outbox message (key), looked for among the alert's
// comments first. Without a key (a message that was never queued) the
// same text already there counts as the earlier attempt.
func (c *Client) comment(ctx context.Context, id string, p CommentPayload, key string) error {
	msg := strings.TrimSpace(p.Message)
	if msg == "" {
		return errors.New("empty comment")
	}
	data, err := c.do(ctx, call{method: http.MethodGet, url: c.alertURL(id), write: true})
	if err != nil {
		return fmt.Errorf("read comments: %w", err)
	}
	have, err := parseAlertComments(data)
	if err != nil {
		return err
	}
	if key != "" && commentHasMarker(have, key) || key == "" && slices.Contains(have, msg) {
		return nil
	}
	_, err = c.do(ctx, call{method: http.MethodPost, url: c.alertURL(id) + "/comments", write: true,
		body: map[string]string{"@odata.type": "microsoft.graph.security.alertComment", "comment": withMarker(msg, key)}})
	return err
}

// parseAlertComments reads the comments of an alerts_v2 alert (GET
// alerts_v2/{id}), trimmed.
func parseAlertComments(data []byte) ([]string, error) {
	var a struct {
		Comments []Comment `json:"comments"`
	}
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("decode alert: %w", err)
	}
	out := make([]string, 0, len(a.Comments))
	for _, cm := range a.Comments {
		out = append(out, strings.TrimSpace(cm.Comment))
	}
	return out, nil
}

// markerKey names the write an outbox message carries, for the marker its
// comment ends with: a short hash of the idempotency key (the same
// logical write, whichever message row carries it), else of the message
// id; "" for a message that has neither.
func markerKey(m outbox.Message) string {
	k := m.IdemKey
	if k == "" && m.ID != 0 {
		k = fmt.Sprintf("outbox:%d", m.ID)
	}
	if k == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(k))
	return hex.EncodeToString(sum[:6])
}

// marker is the visible tag a comment carries. Graph comments are plain
// text (an HTML comment would show), and a short tag survives copying
// into the Defender portal.
func marker(key string) string { return "[vigil " + key + "]" }

// HasMarker reports whether a comment carries a vigil marker: vigil
// wrote it, and a poller reading it back must not take it for a person's.
func HasMarker(comment string) bool {
	i := strings.LastIndex(comment, "[vigil ")
	if i < 0 {
		return false
	}
	rest := comment[i+len("[vigil "):]
	if len(rest) < 13 || rest[12] != ']' {
		return false
	}
	_, err := hex.DecodeString(rest[:12])
	return err == nil
}

// withMarker ends text with key's marker; text alone when key is "".
func withMarker(text, key string) string {
	if key == "" {
		return text
	}
	return text + "\n\n" + marker(key)
}

// commentHasMarker reports whether one of comments carries key's marker:
// the write was made by an earlier attempt whose answer was lost.
func commentHasMarker(comments []string, key string) bool {
	if key == "" {
		return false
	}
	m := marker(key)
	return slices.ContainsFunc(comments, func(c string) bool { return strings.Contains(c, m) })
}

// legacyUpdate PATCHes security/alerts/{id}. The legacy API replaces the
// whole comments list, so a comment is appended to the list just read;
// a comment someone adds between the read and the write is lost, which
// the legacy API gives no way to prevent.
func (c *Client) legacyUpdate(ctx context.Context, id string, p LegacyUpdatePayload, key string) error {
	comment := strings.TrimSpace(p.Comment)
	if p.Status == "" && p.Feedback == "" && comment == "" {
		return errors.New("empty update")
	}
	body := map[string]any{}
	if p.Status != "" {
		st := p.Status
		if vs := alert.Status(strings.ToLower(st)); vs.Valid() {
			st = alert.StatusTo(alert.GraphLegacy, vs)
			if vs == alert.StatusDismissed && p.Feedback == "" {
				p.Feedback = "benignPositive"
			}
		}
		body["status"] = st
	}
	if p.Feedback != "" {
		body["feedback"] = canonical(p.Feedback, "unknown", "truePositive", "falsePositive", "benignPositive")
	}
	if comment != "" || p.Provider == "" {
		data, err := c.do(ctx, call{method: http.MethodGet, url: c.legacyURL(id), write: true})
		if err != nil {
			return fmt.Errorf("read legacy alert: %w", err)
		}
		var cur LegacyAlert
		if err := json.Unmarshal(data, &cur); err != nil {
			return fmt.Errorf("decode legacy alert: %w", err)
		}
		if p.Provider == "" {
			p.Provider, p.Vendor = cur.VendorInformation.Provider, or(p.Vendor, cur.VendorInformation.Vendor)
		}
		done := commentHasMarker(cur.Comments, key) ||
			key == "" && slices.ContainsFunc(cur.Comments, func(s string) bool { return strings.TrimSpace(s) == comment })
		if comment != "" && !done {
			body["comments"] = append(slices.Clip(cur.Comments), withMarker(comment, key))
		}
	}
	if len(body) == 0 {
		return nil // only a comment, and it is already there
	}
	if p.Provider == "" {
		return errors.New("alert has no vendorInformation provider")
	}
	body["vendorInformation"] = VendorInformation{Provider: p.Provider, Vendor: or(p.Vendor, "Microsoft")}
	_, err := c.do(ctx, call{method: http.MethodPatch, url: c.legacyURL(id), body: body, write: true})
	return err
}

// classificationV2 spells a classification as alerts_v2 does; Sentinel's
// spellings (BenignPositive, ...) are accepted too.
func classificationV2(s string) string {
	if g := alert.ClassificationToGraph(s); g != "unknown" || strings.EqualFold(s, "Undetermined") {
		return g
	}
	return canonical(s, "unknown", "falsePositive", "truePositive", "informationalExpectedActivity")
}

// canonical returns the member of an enum that s names, ignoring case, or
// s itself, for Graph to judge.
func canonical(s string, members ...string) string {
	for _, m := range members {
		if strings.EqualFold(m, s) {
			return m
		}
	}
	return s
}
