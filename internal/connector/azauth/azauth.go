// Package azauth keeps Azure SDK clients signed in when a service refuses
// a token before its stated expiry (revoked, or expired by the simulator).
package azauth

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Renewing hands out tokens from an azidentity credential and
// replaces that credential once the service has refused its token.
//
// Why: a token can stop working before the expiry it was issued with (it
// was revoked, or the simulator expired every token). azcore's
// BearerTokenPolicy does drop its cached token on a 401, but the token it
// asks for next comes from MSAL's cache inside azidentity, which still
// holds the refused token until its stated expiry, up to an hour later.
// Every request would get 401 until then. A new azidentity credential has
// an empty cache, so it fetches a fresh token.
type Renewing struct {
	newCred func() (azcore.TokenCredential, error)

	mu   sync.Mutex
	cred azcore.TokenCredential
	// refused is the last token a service answered 401 to; it is never
	// handed out again. Only compared, never logged.
	refused string
}

func NewRenewing(newCred func() (azcore.TokenCredential, error)) (*Renewing, error) {
	cred, err := newCred()
	if err != nil {
		return nil, err
	}
	return &Renewing{newCred: newCred, cred: cred}, nil
}

// GetToken implements azcore.TokenCredential.
func (r *Renewing) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
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
	tk, err = cred.GetToken(ctx, opts)
	if err != nil || tk.Token != refused || opts.Claims != "" {
		return tk, err
	}
	// Managed identity: MSAL keeps managed identity tokens in one cache
	// for the whole process, so a new credential hands out the refused
	// token again. A request with claims skips that cache (MSAL Go
	// apps/managedidentity, AcquireToken); the claims are a token
	// revocation challenge, which is what a refused token is (only the
	// managed identity client reads them, to skip its cache; it sends
	// none to the identity endpoint).
	opts.Claims = `{"access_token":{"nbf":{"essential":true}}}`
	return cred.GetToken(ctx, opts)
}

// refuse records that a service answered 401 to token.
func (r *Renewing) refuse(token string) {
	r.mu.Lock()
	r.refused = token
	r.mu.Unlock()
}

// Policy returns the pipeline policy that tells the credential which
// token a 401 refused. Add it to PerRetryPolicies, after the bearer-token
// policy, so that it sees the header that was sent.
func (r *Renewing) Policy() policy.Policy { return rejectPolicy{r} }

// rejectPolicy tells the credential which token a 401 refused. It runs
// after the bearer-token policy, per try, so it sees the header that was
// sent.
type rejectPolicy struct{ cred *Renewing }

func (p rejectPolicy) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		if tok, ok := strings.CutPrefix(req.Raw().Header.Get("Authorization"), "Bearer "); ok && tok != "" {
			p.cred.refuse(tok)
		}
	}
	return resp, err
}
