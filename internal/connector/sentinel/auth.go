package sentinel

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	azruntime "github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// countPolicy counts calls (a page of a list is one), for Requests.
type countPolicy struct{ n *atomic.Int64 }

func (p countPolicy) Do(req *policy.Request) (*http.Response, error) {
	p.n.Add(1)
	return req.Next()
}

// APIError is a failure answered by the service, in a short form fit for
// an outbox message's last error and an item's timeline: status, ARM error
// code and message, without the request URL and body dump of azcore's
// ResponseError (which it wraps, for errors.As).
type APIError struct {
	StatusCode int
	Code       string
	Message    string
	err        *azcore.ResponseError
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

func (e *APIError) Unwrap() error { return e.err }

// Is makes a 404 match ErrNotFound.
func (e *APIError) Is(target error) bool {
	return target == ErrNotFound && e.StatusCode == http.StatusNotFound
}

// maxMessage bounds a service message kept in an error: timelines show it.
const maxMessage = 500

// apiErr shortens a service answer to an *APIError; other errors
// (network, context) are returned as they are.
func apiErr(err error) error {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return err
	}
	out := &APIError{StatusCode: re.StatusCode, Code: re.ErrorCode, err: re}
	if re.RawResponse != nil {
		if body, perr := azruntime.Payload(re.RawResponse); perr == nil {
			var v struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if json.Unmarshal(body, &v) == nil {
				out.Message = v.Error.Message
				if len(out.Message) > maxMessage {
					out.Message = strings.ToValidUTF8(out.Message[:maxMessage], "") + "…"
				}
				if out.Code == "" {
					out.Code = v.Error.Code
				}
			}
		}
	}
	return out
}
