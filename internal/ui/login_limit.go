package ui

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/vigil-soc/vigil/internal/account"
)

// signInRefusal maps a failed sign-in to its status and message. A
// refusal to be retried (the busy hash gate, a throttled email or
// address) is 429 with Retry-After in whole seconds, as RFC 9110 wants.
// quiet is true when the client went away while it waited: nobody reads
// the answer, and logging each would let a flood of abandoned attempts
// flood the log.
func signInRefusal(w http.ResponseWriter, r *http.Request, err error) (code int, msg string, quiet bool) {
	if after, ok := account.RetryAfter(err); ok {
		secs := max(1, int(math.Ceil(after.Seconds())))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		if errors.Is(err, account.ErrBusy) {
			return http.StatusTooManyRequests, busyMessage(time.Duration(secs) * time.Second), false
		}
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return http.StatusServiceUnavailable, "the sign-in was abandoned", true
	}
	code, msg = errorStatus(err)
	return code, msg, false
}

func busyMessage(after time.Duration) string {
	n := int(after / time.Second)
	unit := "seconds"
	if n == 1 {
		unit = "second"
	}
	return fmt.Sprintf("Too many sign-ins are being checked right now. Your password was not checked: try again in %d %s.", n, unit)
}
