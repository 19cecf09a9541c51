package defender

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/writeback"
)

// Send performs one write-back on a Defender for Cloud alert; the outbox
// calls it. The state actions are idempotent at the source (resolving a
// resolved alert succeeds), so a resend after a lost answer is harmless.
func (c *Client) Send(ctx context.Context, m outbox.Message) error {
	if IsGovernanceOp(m.Op) { // recommendations' owners (governance.go)
		return c.sendGovernance(ctx, m)
	}
	location, name, err := parseAlertID(m.Resource)
	if err != nil {
		return err
	}
	switch m.Op {
	case writeback.OpResolve:
		_, err = c.writes.UpdateSubscriptionLevelStateToResolve(ctx, location, name, nil)
	case writeback.OpDismiss:
		_, err = c.writes.UpdateSubscriptionLevelStateToDismiss(ctx, location, name, nil)
	case writeback.OpInProgress:
		_, err = c.writes.UpdateSubscriptionLevelStateToInProgress(ctx, location, name, nil)
	default:
		return fmt.Errorf("defender: unknown operation %q", m.Op)
	}
	return classify(err)
}

// classify marks the failures worth retrying, with the service's
// Retry-After: throttling, server errors, and 401/403, which Azure answers
// while a new role assignment propagates.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return &outbox.RetryableError{Err: err} // network trouble
	}
	switch code := re.StatusCode; {
	case code == http.StatusTooManyRequests, code >= 500, code == http.StatusUnauthorized, code == http.StatusForbidden,
		code == http.StatusRequestTimeout:
		var after time.Duration
		if re.RawResponse != nil {
			if secs, perr := strconv.Atoi(re.RawResponse.Header.Get("Retry-After")); perr == nil {
				after = time.Duration(secs) * time.Second
			}
		}
		return &outbox.RetryableError{Err: fmt.Errorf("defender: %d %s", code, re.ErrorCode), After: after}
	}
	return fmt.Errorf("defender: %d %s", re.StatusCode, re.ErrorCode)
}

// parseAlertID takes the location and name out of an alert's ARM id
// (…/providers/Microsoft.Security/locations/{location}/alerts/{name}).
func parseAlertID(id string) (location, name string, err error) {
	_, rest, ok := strings.Cut(id, "/locations/")
	location, name, ok2 := strings.Cut(rest, "/alerts/")
	if !ok || !ok2 || location == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("defender: %q is not an alert id", id)
	}
	return location, name, nil
}
