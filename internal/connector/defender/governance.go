package defender

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/security/armsecurity"

	"github.com/vigil-soc/vigil/internal/outbox"
)

// Governance write-back operations (target "defender"). The message's
// Resource is the assessment's ARM id; its payload a GovernancePayload.
const (
	// OpGovernanceAssign puts the assessment's governance assignment:
	// the item's assignee as owner, its due date as remediationDueDate.
	OpGovernanceAssign = "governance.assign"
	// OpGovernanceUnassign deletes it (the item lost its assignee).
	OpGovernanceUnassign = "governance.unassign"
)

// GovernancePayload is what a governance write carries.
type GovernancePayload struct {
	// AssignmentKey names the assignment; it is derived from the work
	// item, so that a resend replaces the same assignment.
	AssignmentKey      string    `json:"assignmentKey"`
	Owner              string    `json:"owner,omitempty"`
	RemediationDueDate time.Time `json:"remediationDueDate,omitzero"`
	IsGracePeriod      bool      `json:"isGracePeriod,omitempty"`
	// Notify lets Defender for Cloud e-mail the owner and their manager.
	Notify bool `json:"notify,omitempty"`
}

// AttachGovernance makes c, as the "defender" outbox target, send the
// governance operations through r: one target per subscription carries
// both the alert writes and the governance writes. Call it before the
// outbox starts.
func AttachGovernance(c *Client, r *Recommendations) { c.gov = r }

// IsGovernanceOp reports whether op is a governance operation.
func IsGovernanceOp(op string) bool { return op == OpGovernanceAssign || op == OpGovernanceUnassign }

// sendGovernance is Client.Send for the governance operations.
func (c *Client) sendGovernance(ctx context.Context, m outbox.Message) error {
	if c.gov == nil {
		return fmt.Errorf("defender: %s: governance write-back is not configured (AttachGovernance)", m.Op)
	}
	return c.gov.Send(ctx, m)
}

// Send performs one governance write. Both are idempotent: a put replaces
// the assignment of the same key, a delete of a missing one succeeds.
func (r *Recommendations) Send(ctx context.Context, m outbox.Message) error {
	scope, name, err := ParseAssessmentID(m.Resource)
	if err != nil {
		return err
	}
	var p GovernancePayload
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		return fmt.Errorf("defender: governance payload: %w", err)
	}
	if p.AssignmentKey == "" || strings.ContainsAny(p.AssignmentKey, "/?#") {
		return fmt.Errorf("defender: governance payload without a valid assignmentKey")
	}
	switch m.Op {
	case OpGovernanceAssign:
		if p.Owner == "" || p.RemediationDueDate.IsZero() {
			return fmt.Errorf("defender: a governance assignment needs an owner and a due date")
		}
		body := armsecurity.GovernanceAssignment{Properties: &armsecurity.GovernanceAssignmentProperties{
			Owner:              to.Ptr(p.Owner),
			RemediationDueDate: to.Ptr(p.RemediationDueDate.UTC()),
			IsGracePeriod:      to.Ptr(p.IsGracePeriod),
			GovernanceEmailNotification: &armsecurity.GovernanceEmailNotification{
				DisableManagerEmailNotification: to.Ptr(!p.Notify),
				DisableOwnerEmailNotification:   to.Ptr(!p.Notify),
			},
		}}
		_, err = r.gov.CreateOrUpdate(ctx, scope, name, p.AssignmentKey, body, nil)
	case OpGovernanceUnassign:
		_, err = r.gov.Delete(ctx, scope, name, p.AssignmentKey, nil)
		var re *azcore.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			err = nil // already gone
		}
	default:
		return fmt.Errorf("defender: unknown operation %q", m.Op)
	}
	return classifyGovernance(err)
}

// classifyGovernance is classify, and a 409 or 412 is retried too: the
// write carries the whole wanted state, so sending it again after the
// conflicting change settles is the re-read.
func classifyGovernance(err error) error {
	var re *azcore.ResponseError
	if errors.As(err, &re) && (re.StatusCode == http.StatusConflict || re.StatusCode == http.StatusPreconditionFailed) {
		return &outbox.RetryableError{Err: fmt.Errorf("defender: %d %s", re.StatusCode, re.ErrorCode)}
	}
	return classify(err)
}

// GovernanceAssignment is one assignment as read back.
type GovernanceAssignment struct {
	Key                string
	Owner              string
	RemediationDueDate time.Time
	IsGracePeriod      bool
}

// GovernanceAssignments lists the assignments of an assessment (by its
// ARM id).
func (r *Recommendations) GovernanceAssignments(ctx context.Context, assessmentID string) ([]GovernanceAssignment, error) {
	scope, name, err := ParseAssessmentID(assessmentID)
	if err != nil {
		return nil, err
	}
	var out []GovernanceAssignment
	pager := r.gov.NewListPager(scope, name, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list governance assignments: %w", err)
		}
		for _, g := range page.Value {
			if g == nil || g.Name == nil || g.Properties == nil {
				continue
			}
			ga := GovernanceAssignment{Key: *g.Name, Owner: str(g.Properties.Owner)}
			if g.Properties.RemediationDueDate != nil {
				ga.RemediationDueDate = g.Properties.RemediationDueDate.UTC()
			}
			if g.Properties.IsGracePeriod != nil {
				ga.IsGracePeriod = *g.Properties.IsGracePeriod
			}
			out = append(out, ga)
		}
	}
	return out, nil
}

// ParseAssessmentID splits an assessment's ARM id into its scope (the
// assessed resource's id, without the leading slash, as the SDK's
// {scope} wants it) and its name.
func ParseAssessmentID(id string) (scope, name string, err error) {
	const marker = "/providers/microsoft.security/assessments/"
	i := strings.LastIndex(strings.ToLower(id), marker)
	if i <= 0 {
		return "", "", fmt.Errorf("defender: %q is not an assessment id", id)
	}
	scope, name = strings.TrimPrefix(id[:i], "/"), id[i+len(marker):]
	if scope == "" || name == "" || strings.ContainsAny(name, "/?#") || strings.Contains(scope, "..") || strings.ContainsAny(scope, "?#") {
		return "", "", fmt.Errorf("defender: %q is not an assessment id", id)
	}
	return scope, name, nil
}
