package sentinel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	azruntime "github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// renewingCredential hands out tokens from an azidentity credential and
// replaces that credential once the service has refused its token.
//
// Why: a token can stop working before the expiry it was issued with (it
// was revoked, or the simulator expired every token). azcore's
// BearerTokenPolicy does drop its cached token on a 401, but the token it
// asks for next comes from MSAL's cache inside azidentity, which still
// holds the refused token until its stated expiry, up to an hour later.
// Every request would get 401 until then. A new azidentity credential has
// an empty cache, so it fetches a fresh token.
type renewingCredential struct {
	newCred func() (azcore.TokenCredential, error)

	mu   sync.Mutex
	cred azcore.TokenCredential
	// refused is the last token a service answered 401 to; it is never
	// handed out again. Only compared, never logged.
	refused string
}

func newRenewingCredential(newCred func() (azcore.TokenCredential, error)) (*renewingCredential, error) {
	cred, err := newCred()
	if err != nil {
		return nil, err
	}
	return &renewingCredential{newCred: newCred, cred: cred}, nil
}

// GetToken implements azcore.TokenCredential.
func (r *renewingCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	r.mu.Lock()
	cred, refused := r.cred, r.refused
	r.mu.Unlock()
	tk, err := cred.GetToken(ctx, opts)
	if err != nil || refused == "" || tk.Token != refused {
		return tk, err
	}
	r.mu.Lock()
	if r.cred == cred { // not already replaced by a concurrent caller
		fresh, err := r.newCred()
		if err != nil {
			r.mu.Unlock()
			return azcore.AccessToken{}, fmt.Errorf("renew credential: %w", err)
		}
		r.cred = fresh
	}
	cred = r.cred
	r.mu.Unlock()
	return cred.GetToken(ctx, opts)
}

// refuse records that a service answered 401 to token.
func (r *renewingCredential) refuse(token string) {
	r.mu.Lock()
	r.refused = token
	r.mu.Unlock()
}

// rejectPolicy tells the credential which token a 401 refused. It runs
// after the bearer-token policy, per try, so it sees the header that was
// sent.
type rejectPolicy struct{ cred *renewingCredential }

func (p rejectPolicy) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		if tok, ok := strings.CutPrefix(req.Raw().Header.Get("Authorization"), "Bearer "); ok && tok != "" {
			p.cred.refuse(tok)
		}
	}
	return resp, err
}

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
