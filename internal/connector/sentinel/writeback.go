package sentinel

import (
	"context"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/securityinsights/armsecurityinsights/v2"

	"github.com/vigil-soc/vigil/internal/outbox"
)

// Write-back operations (outbox.Message.Op) on a Sentinel incident.
const (
	OpClose    = "incident.close"    // payload ClosePayload
	OpActivate = "incident.activate" // no payload
	OpOwner    = "incident.owner"    // payload OwnerPayload
	OpComment  = "incident.comment"  // payload CommentPayload
	OpFields   = "incident.fields"   // payload FieldsPayload
)

// FieldsPayload sets an incident's severity and its user labels. An empty
// Severity leaves it alone; Labels, when not nil, replaces the labels
// people set (LabelType User) and keeps those Sentinel set.
type FieldsPayload struct {
	Severity string    `json:"severity,omitempty"` // High, Medium, Low, Informational
	Labels   *[]string `json:"labels,omitempty"`
}

// ClosePayload closes an incident. Classification is one of TruePositive,
// FalsePositive, BenignPositive, Undetermined; BenignPositive needs a
// ClassificationReason (SuspiciousButExpected).
type ClosePayload struct {
	Classification       string `json:"classification"`
	ClassificationReason string `json:"classificationReason,omitempty"`
	Comment              string `json:"comment,omitempty"`
}

// OwnerPayload assigns an incident. Sentinel identifies the owner by
// ObjectID when given, else by Email; Name is what the portal shows. All
// empty unassigns.
type OwnerPayload struct {
	Email    string `json:"email,omitempty"`
	ObjectID string `json:"objectId,omitempty"`
	Name     string `json:"name,omitempty"`
}

// CommentPayload adds a comment to an incident.
type CommentPayload struct {
	Message string `json:"message"`
}

var _ outbox.Target = (*Client)(nil)

// etagTries bounds how often one Send re-reads an incident that keeps
// changing under it (409 on a stale etag) before leaving it to the outbox.
const etagTries = 3

// Send performs one write-back on an incident; the outbox calls it. Every
// operation is idempotent, because a message is sent again when an answer
// was lost: state changes read the incident first and do nothing when it
// is already as wanted, and a comment has an id derived from the message's
// idempotency key, so a resend overwrites it.
//
// Incident updates carry the etag just read. When someone changed the
// incident in between (409), Send reads it again and applies the change
// only if it is still valid; a change no longer valid (the incident was
// closed differently meanwhile) is an *outbox.ConflictError.
func (c *Client) Send(ctx context.Context, m outbox.Message) error {
	name, err := c.incidentName(m.Resource)
	if err != nil {
		return fmt.Errorf("sentinel %s: %w", m.Op, err)
	}
	ctx = noRetry(ctx)
	switch m.Op {
	case OpClose:
		var p ClosePayload
		if err := decode(m, &p); err != nil {
			return err
		}
		class, reason, err := closeValues(p)
		if err != nil {
			return fmt.Errorf("sentinel %s on incident %s: %w", m.Op, name, err)
		}
		return c.update(ctx, m.Op, name, func(s Snapshot, props *armsecurityinsights.IncidentProperties) (bool, error) {
			if strings.EqualFold(s.Status, string(armsecurityinsights.IncidentStatusClosed)) {
				if strings.EqualFold(s.Classification, string(class)) {
					return false, nil // closed as asked, by an earlier try or by someone else
				}
				return false, &outbox.ConflictError{Reason: fmt.Sprintf("%s was already closed in Sentinel as %s", s.ref(), s.Classification)}
			}
			props.Status = to.Ptr(armsecurityinsights.IncidentStatusClosed)
			props.Classification = to.Ptr(class)
			props.ClassificationReason = reason
			props.ClassificationComment = nil
			if p.Comment != "" {
				props.ClassificationComment = to.Ptr(p.Comment)
			}
			return true, nil
		})
	case OpActivate:
		return c.update(ctx, m.Op, name, func(s Snapshot, props *armsecurityinsights.IncidentProperties) (bool, error) {
			switch {
			case strings.EqualFold(s.Status, string(armsecurityinsights.IncidentStatusClosed)):
				// A sync write never reopens: closing is a decision a
				// person made in Sentinel, and it wins.
				return false, &outbox.ConflictError{Reason: fmt.Sprintf("%s is closed in Sentinel (as %s); it is not reopened", s.ref(), s.Classification)}
			case strings.EqualFold(s.Status, string(armsecurityinsights.IncidentStatusActive)):
				return false, nil
			}
			props.Status = to.Ptr(armsecurityinsights.IncidentStatusActive)
			return true, nil
		})
	case OpOwner:
		var p OwnerPayload
		if err := decode(m, &p); err != nil {
			return err
		}
		return c.update(ctx, m.Op, name, func(s Snapshot, props *armsecurityinsights.IncidentProperties) (bool, error) {
			if sameOwner(props.Owner, p) {
				return false, nil
			}
			props.Owner = &armsecurityinsights.IncidentOwnerInfo{Email: nonEmpty(p.Email), ObjectID: nonEmpty(p.ObjectID), AssignedTo: nonEmpty(p.Name)}
			return true, nil
		})
	case OpFields:
		var p FieldsPayload
		if err := decode(m, &p); err != nil {
			return err
		}
		return c.updateIncident(ctx, m.Op, name, func(inc *armsecurityinsights.Incident, props *armsecurityinsights.IncidentProperties) (bool, error) {
			return applyFields(inc.Properties.Labels, props, p)
		})
	case OpComment:
		var p CommentPayload
		if err := decode(m, &p); err != nil {
			return err
		}
		if strings.TrimSpace(p.Message) == "" {
			return fmt.Errorf("sentinel %s on incident %s: empty message", m.Op, name)
		}
		key := m.IdemKey
		if key == "" {
			// Still deterministic for the same message resent.
			key = m.Op + "\x00" + m.Resource + "\x00" + string(m.Payload)
		}
		_, err := c.comments.CreateOrUpdate(ctx, c.rg, c.ws, name, commentID(key),
			armsecurityinsights.IncidentComment{Properties: &armsecurityinsights.IncidentCommentProperties{Message: to.Ptr(p.Message)}}, nil)
		return wrap(m.Op, "incident "+name, err)
	}
	return fmt.Errorf("sentinel: unknown operation %q", m.Op)
}

// update reads the incident, lets change decide and edit its writable
// properties, and writes them back with the etag read. On a stale etag it
// starts over, so that change decides again on what is now there.
func (c *Client) update(ctx context.Context, op, name string,
	change func(s Snapshot, props *armsecurityinsights.IncidentProperties) (bool, error)) error {
	return c.updateIncident(ctx, op, name, func(inc *armsecurityinsights.Incident, props *armsecurityinsights.IncidentProperties) (bool, error) {
		return change(Describe(inc), props)
	})
}

// updateIncident is update for a change that needs the incident as read
// (its labels' types, which the writable copy leaves out).
func (c *Client) updateIncident(ctx context.Context, op, name string,
	change func(inc *armsecurityinsights.Incident, props *armsecurityinsights.IncidentProperties) (bool, error)) error {
	ref := "incident " + name
	for range etagTries {
		resp, err := c.incidents.Get(ctx, c.rg, c.ws, name, nil)
		if err != nil {
			return wrap(op, ref, err)
		}
		inc := &resp.Incident
		if inc.Properties == nil {
			return fmt.Errorf("sentinel %s on %s: incident without properties", op, ref)
		}
		ref = Describe(inc).ref()
		body := writable(inc)
		ok, err := change(inc, body.Properties)
		if err != nil || !ok {
			return err
		}
		_, err = c.incidents.CreateOrUpdate(ctx, c.rg, c.ws, name, body, nil)
		if isStale(err) {
			continue
		}
		return wrap(op, ref, err)
	}
	return &outbox.RetryableError{Err: fmt.Errorf("sentinel %s on %s: the incident changed under %d tries in a row (409 on a stale etag)", op, ref, etagTries)}
}

// writable copies the properties a PUT may carry. The PUT replaces the
// incident, so everything an analyst set (description, owner, labels)
// goes back as read; read-only ones (number, additionalData, …) stay out.
func writable(inc *armsecurityinsights.Incident) armsecurityinsights.Incident {
	p := inc.Properties
	out := &armsecurityinsights.IncidentProperties{
		Title: p.Title, Description: p.Description, Severity: p.Severity, Status: p.Status,
		Classification: p.Classification, ClassificationReason: p.ClassificationReason, ClassificationComment: p.ClassificationComment,
		FirstActivityTimeUTC: p.FirstActivityTimeUTC, LastActivityTimeUTC: p.LastActivityTimeUTC,
	}
	if p.Owner != nil {
		o := *p.Owner
		out.Owner = &o
	}
	if p.Labels != nil {
		out.Labels = make([]*armsecurityinsights.IncidentLabel, 0, len(p.Labels))
		for _, l := range p.Labels {
			if l != nil && l.LabelName != nil {
				// labelType is read-only.
				out.Labels = append(out.Labels, &armsecurityinsights.IncidentLabel{LabelName: l.LabelName})
			}
		}
	}
	return armsecurityinsights.Incident{Etag: inc.Etag, Properties: out}
}

// closeValues checks a close payload against Sentinel's enums before any
// request, and spells them as the service does.
func closeValues(p ClosePayload) (armsecurityinsights.IncidentClassification, *armsecurityinsights.IncidentClassificationReason, error) {
	var class armsecurityinsights.IncidentClassification
	for _, v := range armsecurityinsights.PossibleIncidentClassificationValues() {
		if strings.EqualFold(string(v), p.Classification) {
			class = v
		}
	}
	if class == "" {
		return "", nil, fmt.Errorf("classification %q is not one of TruePositive, FalsePositive, BenignPositive, Undetermined", p.Classification)
	}
	if p.ClassificationReason == "" {
		if class == armsecurityinsights.IncidentClassificationBenignPositive {
			return "", nil, errors.New("classification BenignPositive needs a classificationReason")
		}
		return class, nil, nil
	}
	for _, v := range armsecurityinsights.PossibleIncidentClassificationReasonValues() {
		if strings.EqualFold(string(v), p.ClassificationReason) {
			return class, to.Ptr(v), nil
		}
	}
	return "", nil, fmt.Errorf("classificationReason %q is not valid", p.ClassificationReason)
}

// sameOwner reports whether the incident is already assigned as asked:
// by object id when the payload has one, else by email (or UPN).
func sameOwner(cur *armsecurityinsights.IncidentOwnerInfo, p OwnerPayload) bool {
	var id, email, upn string
	if cur != nil {
		id, email, upn = str(cur.ObjectID), str(cur.Email), str(cur.UserPrincipalName)
	}
	switch {
	case p.ObjectID != "":
		return strings.EqualFold(id, p.ObjectID)
	case p.Email != "":
		return strings.EqualFold(email, p.Email) || strings.EqualFold(upn, p.Email)
	}
	return id == "" && email == "" && upn == ""
}

// commentID is a name-based UUID (version 5, SHA-1) of the message's
// idempotency key, so that a resent comment lands on the same id.
func commentID(key string) string {
	h := sha1.New()
	h.Write(commentNamespace[:])
	h.Write([]byte(key))
	b := h.Sum(nil)[:16]
	b[6] = (b[6] & 0x0f) | 0x50
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// commentNamespace is vigil's UUID namespace for Sentinel comment ids
// (random, fixed forever: changing it would duplicate resent comments).
var commentNamespace = [16]byte{0x6f, 0x1d, 0x2a, 0x94, 0x3c, 0x57, 0x4e, 0x0b, 0x9a, 0x61, 0xd2, 0x48, 0x0e, 0x73, 0xb5, 0xc9}

// incidentName takes the incident's name out of its ARM id, which must be
// in this client's workspace (compared without case, as ARM does).
func (c *Client) incidentName(id string) (string, error) {
	prefix := c.workspaceID + "/providers/Microsoft.SecurityInsights/incidents/"
	if len(id) <= len(prefix) || !strings.EqualFold(id[:len(prefix)], prefix) {
		return "", fmt.Errorf("%q is not an incident of workspace %s", id, c.ws)
	}
	name := strings.TrimSuffix(id[len(prefix):], "/")
	if name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("%q is not an incident id", id)
	}
	return name, nil
}

func decode(m outbox.Message, v any) error {
	if len(m.Payload) == 0 {
		return fmt.Errorf("sentinel %s: payload is required", m.Op)
	}
	if err := json.Unmarshal(m.Payload, v); err != nil {
		return fmt.Errorf("sentinel %s: bad payload: %w", m.Op, err)
	}
	return nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// isStale reports a write refused for a stale etag: Sentinel answers 409
// (412 is what an If-Match precondition would get).
func isStale(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && (re.StatusCode == http.StatusConflict || re.StatusCode == http.StatusPreconditionFailed)
}

// wrap names the operation and the incident in an error, and classifies
// it for the outbox.
func wrap(op, ref string, err error) error {
	if err == nil {
		return nil
	}
	err = classify(err)
	var re *outbox.RetryableError
	if errors.As(err, &re) {
		return &outbox.RetryableError{Err: fmt.Errorf("sentinel %s on %s: %w", op, ref, re.Err), After: re.After}
	}
	return fmt.Errorf("sentinel %s on %s: %w", op, ref, err)
}

// classify marks the failures worth retrying, with the service's
// Retry-After: throttling, server errors, timeouts, network trouble, and
// 401/403. A 401 means the token was refused before its stated expiry;
// the credential renews it for the next call. A 403 is what Azure answers
// while a new role assignment propagates.
func classify(err error) error {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		// Network trouble, or a deadline or shutdown cut the call short:
		// it may not have happened, so it is tried again.
		return &outbox.RetryableError{Err: err}
	}
	short := apiErr(err)
	switch code := re.StatusCode; {
	case code == http.StatusTooManyRequests, code >= 500, code == http.StatusUnauthorized, code == http.StatusForbidden,
		code == http.StatusRequestTimeout:
		var after time.Duration
		if re.RawResponse != nil {
			after = outbox.RetryAfter(re.RawResponse.Header.Get("Retry-After"), time.Now())
		}
		return &outbox.RetryableError{Err: short, After: after}
	}
	return short
}

// applyFields edits props as p asks and reports whether anything changed.
// read are the labels as read, with their types.
func applyFields(read []*armsecurityinsights.IncidentLabel, props *armsecurityinsights.IncidentProperties, p FieldsPayload) (bool, error) {
	changed := false
	if p.Severity != "" {
		var sev armsecurityinsights.IncidentSeverity
		for _, v := range armsecurityinsights.PossibleIncidentSeverityValues() {
			if strings.EqualFold(string(v), p.Severity) {
				sev = v
			}
		}
		if sev == "" {
			return false, fmt.Errorf("sentinel: unknown severity %q", p.Severity)
		}
		if props.Severity == nil || *props.Severity != sev {
			props.Severity, changed = to.Ptr(sev), true
		}
	}
	if p.Labels != nil {
		// Labels Sentinel set (AutoAssigned) stay; the write carries
		// names only, as writable does (labelType is read-only).
		kept := []*armsecurityinsights.IncidentLabel{} // not nil: an empty list clears
		var user []*armsecurityinsights.IncidentLabel
		for _, l := range read {
			if l == nil || l.LabelName == nil {
				continue
			}
			if l.LabelType != nil && *l.LabelType != armsecurityinsights.IncidentLabelTypeUser {
				kept = append(kept, &armsecurityinsights.IncidentLabel{LabelName: l.LabelName})
				continue
			}
			user = append(user, l)
		}
		want := map[string]bool{}
		for _, n := range *p.Labels {
			want[strings.ToLower(n)] = true
		}
		same := len(user) == len(want)
		for _, l := range user {
			same = same && want[strings.ToLower(*l.LabelName)]
		}
		if !same {
			for _, n := range *p.Labels {
				kept = append(kept, &armsecurityinsights.IncidentLabel{LabelName: to.Ptr(n)})
			}
			props.Labels, changed = kept, true
		}
	}
	return changed, nil
}
