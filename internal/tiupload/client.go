package tiupload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/connector/azauth"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/validation"
)

// The documented endpoint.
const (
	// DefaultBaseURL is the upload API's host in Azure's public cloud.
	DefaultBaseURL = "https://api.ti.sentinel.azure.com"
	// APIVersion is the documented api-version.
	APIVersion = "2024-02-01-preview"
	// Scope is the token scope: the API takes ARM's audience.
	Scope = "https://management.azure.com/.default"
	// DefaultSourceSystem names vigil as the source of what it uploads.
	DefaultSourceSystem = "vigil"
	// reservedSourceSystem is refused by the service.
	reservedSourceSystem = "Microsoft Sentinel"
)

// maxAnswer bounds how much of an answer is read: the largest valid one
// is 100 per-object errors.
const maxAnswer = 1 << 20

// Config locates a workspace. AuthorityHost and BaseURL are empty for
// Azure's public cloud; the simulator sets them.
type Config struct {
	TenantID, ClientID, ClientSecret string
	// Credential says how to sign in (azauth.Options); what it leaves
	// empty comes from TenantID, ClientID, ClientSecret, AuthorityHost
	// and Transport, so the zero value signs in with the client secret.
	Credential    azauth.Options
	AuthorityHost string
	// BaseURL is the upload API's scheme and host (default
	// DefaultBaseURL).
	BaseURL string
	// WorkspaceID is the Log Analytics workspace id (a GUID) of the
	// Sentinel workspace.
	WorkspaceID string
	// SourceSystem names the source of the objects (default
	// DefaultSourceSystem); "Microsoft Sentinel" is reserved.
	SourceSystem string
	// Transport, when set, carries every request, token requests
	// included (the simulator's client trusts its own CA).
	Transport policy.Transporter
	Clock     clock.Clock
	Logger    *slog.Logger
}

// Client uploads STIX objects to one workspace. It is safe for concurrent
// use.
type Client struct {
	endpoint string // the upload URL with its api-version
	source   string
	pipeline runtime.Pipeline
	cred     *credential
	limiter  *limiter
	clock    clock.Clock
	log      *slog.Logger
}

// New builds a client. It does not contact the service: the first token
// is fetched with the first upload.
func New(cfg Config) (*Client, error) {
	co := cfg.Credential.WithDefaults(cfg.TenantID, cfg.ClientID, cfg.ClientSecret, cfg.AuthorityHost, cfg.Transport)
	// The upload API's tenant is always named by its authority.
	co.DisableInstanceDiscovery = true
	if err := co.Validate(); err != nil {
		return nil, fmt.Errorf("tiupload credential: %w", err)
	}
	switch {
	case cfg.WorkspaceID == "" || strings.ContainsAny(cfg.WorkspaceID, "/?#% "):
		return nil, validation.NewFieldError("workspace_id", "must be the workspace's id (a GUID), not %q", cfg.WorkspaceID)
	}
	if cfg.SourceSystem == "" {
		cfg.SourceSystem = DefaultSourceSystem
	}
	if strings.EqualFold(strings.TrimSpace(cfg.SourceSystem), reservedSourceSystem) {
		return nil, validation.NewFieldError("source_system", "%q is reserved by Microsoft Sentinel", cfg.SourceSystem)
	}
	base := strings.TrimSuffix(cfg.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		// The bearer token policy refuses anything but TLS, rightly.
		return nil, validation.NewFieldError("base_url", "must be an absolute https URL, not %q", cfg.BaseURL)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	opts := azcore.ClientOptions{Transport: cfg.Transport}
	if cfg.AuthorityHost != "" {
		opts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: cfg.AuthorityHost}
	}
	newCred := func() (azcore.TokenCredential, error) { return co.Credential(opts) }
	first, err := newCred()
	if err != nil {
		return nil, fmt.Errorf("tiupload credential: %w", err)
	}
	c := &Client{
		endpoint: base + "/workspaces/" + url.PathEscape(cfg.WorkspaceID) +
			"/threat-intelligence-stix-objects:upload?api-version=" + APIVersion,
		source:  cfg.SourceSystem,
		cred:    &credential{cur: first, fresh: newCred},
		limiter: &limiter{max: RequestsPerMinute, window: time.Minute},
		clock:   cfg.Clock,
		log:     cfg.Logger.With("component", "tiupload"),
	}
	// azcore's retries are off: a throttled upload goes back to the
	// outbox with the service's Retry-After instead of blocking a sender.
	popts := &policy.ClientOptions{Transport: cfg.Transport, Retry: policy.RetryOptions{MaxRetries: -1}}
	c.pipeline = runtime.NewPipeline("vigil-tiupload", "v1", runtime.PipelineOptions{
		PerRetry: []policy.Policy{runtime.NewBearerTokenPolicy(c.cred, []string{Scope}, nil)},
	}, popts)
	return c, nil
}

// Result is the service's answer to one upload.
type Result struct {
	// Accepted counts the objects the service took.
	Accepted int
	// Errors are the rejected objects, by index in the request.
	Errors []ObjectError
}

// ObjectError is one rejected object: its index in the request
// (recordIndex) and why (errorMessages).
type ObjectError struct {
	Index    int      `json:"recordIndex"`
	Messages []string `json:"errorMessages"`
}

// uploadBody is the request body.
type uploadBody struct {
	SourceSystem string            `json:"sourcesystem"`
	STIXObjects  []json.RawMessage `json:"stixobjects"`
}

// Upload sends objs (1 to MaxObjects STIX objects) in one request. A
// throttled request, a server error, a network failure and a spent client
// budget come back as *outbox.RetryableError; objects the service
// rejected come back in Result.Errors with a nil error.
func (c *Client) Upload(ctx context.Context, objs []json.RawMessage) (Result, error) {
	if len(objs) == 0 {
		return Result{}, errors.New("tiupload: nothing to upload")
	}
	if len(objs) > MaxObjects {
		return Result{}, fmt.Errorf("tiupload: %d objects in one upload; the service takes at most %d", len(objs), MaxObjects)
	}
	body, err := json.Marshal(uploadBody{SourceSystem: c.source, STIXObjects: objs})
	if err != nil {
		return Result{}, fmt.Errorf("tiupload: encode request: %w", err)
	}
	refreshed := false
	for {
		if wait := c.limiter.reserve(c.clock.Now()); wait > 0 {
			return Result{}, &outbox.RetryableError{
				Err:   fmt.Errorf("tiupload: the client's budget of %d requests a minute is spent", RequestsPerMinute),
				After: wait,
			}
		}
		status, hdr, answer, err := c.post(ctx, body)
		if err != nil {
			var afe *azidentity.AuthenticationFailedError
			if ctx.Err() == nil && errors.As(err, &afe) && afe.RawResponse != nil &&
				afe.RawResponse.StatusCode >= 400 && afe.RawResponse.StatusCode < 500 &&
				afe.RawResponse.StatusCode != http.StatusTooManyRequests {
				// Entra ID refused the app (a wrong secret, an unknown
				// tenant): asking again cannot help.
				return Result{}, fmt.Errorf("tiupload: %w", err)
			}
			// The network, Entra ID being unavailable, or shutdown (the
			// batch must stay queued, not fail).
			return Result{}, &outbox.RetryableError{Err: fmt.Errorf("tiupload: %w", err)}
		}
		if status == http.StatusUnauthorized && !refreshed {
			// The token expired or was revoked early; azcore has
			// dropped it, and reset makes sure the next one is new.
			refreshed = true
			c.log.Info("upload token refused; fetching a new one")
			if err := c.cred.reset(); err != nil {
				return Result{}, fmt.Errorf("tiupload credential: %w", err)
			}
			continue
		}
		return c.interpret(status, hdr, answer, len(objs))
	}
}

// post sends one request and reads its answer.
func (c *Client) post(ctx context.Context, body []byte) (int, http.Header, []byte, error) {
	req, err := runtime.NewRequest(ctx, http.MethodPost, c.endpoint)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("build request: %w", err)
	}
	if err := req.SetBody(streaming.NopCloser(bytes.NewReader(body)), "application/json"); err != nil {
		return 0, nil, nil, fmt.Errorf("build request: %w", err)
	}
	res, err := c.pipeline.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("upload: %w", err)
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read answer: %w", err)
	}
	return res.StatusCode, res.Header, answer, nil
}

// interpret turns an answer into a Result or an error.
func (c *Client) interpret(status int, hdr http.Header, body []byte, n int) (Result, error) {
	switch {
	case status == http.StatusOK:
		res, err := DecodeResult(body, n)
		if err != nil {
			// The service took the request; which objects it took is
			// unknown. Sending them again would only update them.
			c.log.Warn("upload answer not understood; counting every object as accepted", "status", status, "err", err)
			return Result{Accepted: n}, nil
		}
		return res, nil
	case status == http.StatusBadRequest:
		if res, err := DecodeResult(body, n); err == nil && len(res.Errors) > 0 {
			return res, nil
		}
		return Result{}, fmt.Errorf("tiupload: bad request (400): %s", serviceMessage(body))
	case status == http.StatusTooManyRequests || status >= 500:
		now := c.clock.Now()
		after := outbox.RetryAfter(hdr.Get("Retry-After"), now)
		if after == 0 {
			after = retryAfterInMessage(body)
		}
		return Result{}, &outbox.RetryableError{
			Err:   fmt.Errorf("tiupload: %d %s: %s", status, http.StatusText(status), serviceMessage(body)),
			After: after,
		}
	default:
		return Result{}, fmt.Errorf("tiupload: %d %s: %s", status, http.StatusText(status), serviceMessage(body))
	}
}

// credential hands out tokens from an azidentity credential and can start
// over with a new one: MSAL inside a credential would return its cached
// token, refused by the service, until the expiry it was issued with.
type credential struct {
	mu    sync.Mutex
	cur   azcore.TokenCredential
	fresh func() (azcore.TokenCredential, error)
}

func (c *credential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	cur := c.cur
	c.mu.Unlock()
	return cur.GetToken(ctx, opts)
}

func (c *credential) reset() error {
	n, err := c.fresh()
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.cur = n
	c.mu.Unlock()
	return nil
}

// limiter keeps to max requests in any sliding window.
type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	sent   []time.Time // oldest first, within the window
}

// reserve takes a slot at now and returns 0, or returns how long until a
// slot frees without taking one.
func (l *limiter) reserve(now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := 0
	for i < len(l.sent) && !now.Before(l.sent[i].Add(l.window)) {
		i++
	}
	l.sent = l.sent[i:]
	if len(l.sent) >= l.max {
		return l.sent[0].Add(l.window).Sub(now)
	}
	l.sent = append(l.sent, now)
	return 0
}
