package tiupload_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/intel"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/simulator"
	"github.com/vigil-soc/vigil/internal/tiupload"
	"github.com/vigil-soc/vigil/internal/validation"
)

// indicators renders n IP indicators as STIX objects at now.
func indicators(t *testing.T, n int, now time.Time) []json.RawMessage {
	t.Helper()
	out := make([]json.RawMessage, n)
	for i := range out {
		raw, err := tiupload.STIX(intel.Indicator{Type: intel.IP, Value: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1),
			Confidence: 70, Tags: []string{"otx"}, Feeds: []string{"otx"}, FirstSeen: now.Add(-time.Hour)}, now)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = raw
	}
	return out
}

// sendAll queues each batch as an outbox message and sends it.
func sendAll(t *testing.T, c *tiupload.Client, objs []json.RawMessage) int {
	t.Helper()
	batches := tiupload.Batches(objs, 0, 0)
	for i, b := range batches {
		m, err := tiupload.Message(b)
		if err != nil {
			t.Fatal(err)
		}
		m.ID = int64(i + 1)
		if err := c.Send(context.Background(), m); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	return len(batches)
}

func TestUploadInBatchesAndReupload(t *testing.T) {
	e := start(t)
	c := e.client(t, nil)
	objs := indicators(t, 250, e.clk.Now())
	if n := sendAll(t, c, objs); n != 3 {
		t.Errorf("%d batches, want 3", n)
	}
	stored := e.objects(t)
	if len(stored) != 250 {
		t.Fatalf("workspace holds %d objects, want 250", len(stored))
	}
	ids := map[string]bool{}
	for _, o := range stored {
		ids[o["id"].(string)] = true
	}
	for i, raw := range objs {
		var o struct{ ID, Pattern string }
		json.Unmarshal(raw, &o)
		if !ids[o.ID] {
			t.Fatalf("object %d (%s) missing", i, o.ID)
		}
	}

	// The same indicators, a minute later: updated, not duplicated.
	e.clk.Advance(time.Minute)
	again := indicators(t, 250, e.clk.Now())
	sendAll(t, c, again)
	stored = e.objects(t)
	if len(stored) != 250 {
		t.Fatalf("after re-upload the workspace holds %d objects, want 250", len(stored))
	}
	want := e.clk.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	for _, o := range stored {
		if o["modified"] != want {
			t.Fatalf("%v: modified %v, want %s (the newer version)", o["id"], o["modified"], want)
		}
	}
}

func TestUploadPartialAcceptance(t *testing.T) {
	e := start(t)
	c := e.client(t, nil)
	objs := indicators(t, 3, e.clk.Now())
	var bad map[string]any
	json.Unmarshal(objs[1], &bad)
	delete(bad, "pattern")
	objs[1], _ = json.Marshal(bad)

	res, err := c.Upload(context.Background(), objs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 2 || len(res.Errors) != 1 || res.Errors[0].Index != 1 ||
		len(res.Errors[0].Messages) != 1 || !strings.Contains(res.Errors[0].Messages[0], "Property=pattern") {
		t.Fatalf("result %+v", res)
	}
	if n := len(e.objects(t)); n != 2 {
		t.Errorf("stored %d, want 2", n)
	}

	// Through the outbox: the message is done, the rejected object logged
	// by index and id, and no credential is in the log.
	m, err := tiupload.Message(objs)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	log := e.log.String()
	if !strings.Contains(log, "index=1") || !strings.Contains(log, bad["id"].(string)) {
		t.Errorf("log lacks the rejected object: %s", log)
	}
	if strings.Contains(log, e.srv.Info.ClientSecret) || strings.Contains(log, "Bearer") {
		t.Errorf("log holds a credential: %s", log)
	}

	// Every object rejected: a plain error, so the message fails.
	delete(bad, "id")
	one, _ := json.Marshal(bad)
	res, err = c.Upload(context.Background(), []json.RawMessage{one})
	if err != nil || res.Accepted != 0 || len(res.Errors) != 1 {
		t.Fatalf("all rejected: %+v %v", res, err)
	}
	m, _ = tiupload.Message([]json.RawMessage{one})
	err = c.Send(context.Background(), m)
	var re *outbox.RetryableError
	if err == nil || errors.As(err, &re) || !strings.Contains(err.Error(), "all 1 objects rejected") {
		t.Errorf("Send of a rejected batch: %v", err)
	}
}

func TestUploadThrottled(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	objs := indicators(t, 1, e.clk.Now())

	// An injected 429 with Retry-After: retryable, with the service's wait.
	for _, status := range []int{429, 500, 503} {
		e.srv.Sim.Inject(simulator.Fault{Endpoint: "sentinel.tiupload", Kind: simulator.FaultStatus, Status: status, RetryAfter: 7, Times: 1})
		m, _ := tiupload.Message(objs)
		err := e.client(t, nil).Send(ctx, m)
		var re *outbox.RetryableError
		if !errors.As(err, &re) || re.After != 7*time.Second {
			t.Errorf("%d: err = %v, want retryable after 7s", status, err)
		}
	}

	// The client keeps to 100 requests a minute itself: the 101st is
	// retryable and never reaches the service.
	ct := &countingTransport{next: e.srv.Client()}
	c := e.client(t, func(cfg *tiupload.Config) { cfg.Transport = ct })
	path := "/workspaces/" + e.srv.Info.WorkspaceID + "/threat-intelligence-stix-objects:upload"
	for i := range 100 {
		if _, err := c.Upload(ctx, objs); err != nil {
			t.Fatalf("upload %d: %v", i, err)
		}
	}
	e.clk.Advance(20 * time.Second)
	_, err := c.Upload(ctx, objs)
	var re *outbox.RetryableError
	if !errors.As(err, &re) || re.After != 40*time.Second || ct.count(path) != 100 {
		t.Fatalf("101st: err %v, %d requests sent", err, ct.count(path))
	}

	// Another client of the same workspace meets the service's own limit:
	// the documented 429, retryable after its Retry-After.
	_, err = e.client(t, nil).Upload(ctx, objs)
	if !errors.As(err, &re) || re.After != 40*time.Second || !strings.Contains(err.Error(), "Rate limit is exceeded") {
		t.Fatalf("service 429: %v", err)
	}
	e.clk.Advance(40 * time.Second)
	if _, err := c.Upload(ctx, objs); err != nil {
		t.Errorf("after the window: %v", err)
	}
}

func TestUploadTokenExpiredEarly(t *testing.T) {
	e := start(t)
	c := e.client(t, nil)
	objs := indicators(t, 1, e.clk.Now())
	if _, err := c.Upload(context.Background(), objs); err != nil {
		t.Fatal(err)
	}
	e.srv.Sim.ExpireTokens()
	if res, err := c.Upload(context.Background(), objs); err != nil || res.Accepted != 1 {
		t.Fatalf("after the token expired: %+v %v", res, err)
	}
	// One refused with 401, then one with a new token.
	if n := e.srv.Sim.Hits("sentinel.tiupload"); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestUploadPermanentErrors(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	objs := indicators(t, 1, e.clk.Now())
	tests := []struct {
		name string
		edit func(*tiupload.Config)
		want string
	}{
		{"unknown workspace", func(c *tiupload.Config) { c.WorkspaceID = "00000000-0000-0000-0000-000000000000" }, "404"},
		{"insufficient access", nil, "403"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == "403" {
				e.srv.Sim.Inject(simulator.Fault{Endpoint: "sentinel.tiupload", Kind: simulator.FaultInsufficientAccess, Times: 1})
			}
			_, err := e.client(t, tt.edit).Upload(ctx, objs)
			var re *outbox.RetryableError
			if err == nil || errors.As(err, &re) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want a plain %s error", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), e.srv.Info.ClientSecret) {
				t.Errorf("error holds the secret: %v", err)
			}
		})
	}
	// A wrong secret: Entra ID refuses, which no retry mends; the error
	// does not hold the secret.
	_, err := e.client(t, func(c *tiupload.Config) { c.ClientSecret = "wrong-secret-value" }).Upload(ctx, objs)
	var re *outbox.RetryableError
	if err == nil || errors.As(err, &re) || strings.Contains(err.Error(), "wrong-secret-value") {
		t.Errorf("wrong secret: %v, want a plain error without the secret", err)
	}
	// A service that cannot be reached: retryable.
	_, err = e.client(t, func(c *tiupload.Config) { c.BaseURL = "https://127.0.0.1:1" }).Upload(ctx, objs)
	if !errors.As(err, &re) {
		t.Errorf("unreachable: %v, want retryable", err)
	}
	// Shutdown mid-send: retryable, so that the batch stays queued.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.client(t, nil).Upload(cctx, objs); !errors.As(err, &re) {
		t.Errorf("cancelled: %v, want retryable", err)
	}
	// Too many objects for one request are refused before sending.
	if _, err := e.client(t, nil).Upload(ctx, indicators(t, 101, e.clk.Now())); err == nil {
		t.Error("101 objects sent")
	}
}

func TestNewValidation(t *testing.T) {
	ok := tiupload.Config{TenantID: "t", ClientID: "c", ClientSecret: "s", WorkspaceID: "w"}
	tests := []struct {
		name, field string
		edit        func(*tiupload.Config)
	}{
		{"tenant", "tenant_id", func(c *tiupload.Config) { c.TenantID = "" }},
		{"client", "client_id", func(c *tiupload.Config) { c.ClientID = "" }},
		{"secret", "client_secret", func(c *tiupload.Config) { c.ClientSecret = "" }},
		{"workspace", "workspace_id", func(c *tiupload.Config) { c.WorkspaceID = "" }},
		{"workspace path", "workspace_id", func(c *tiupload.Config) { c.WorkspaceID = "a/b" }},
		{"reserved source", "source_system", func(c *tiupload.Config) { c.SourceSystem = "microsoft sentinel" }},
		{"plain http", "base_url", func(c *tiupload.Config) { c.BaseURL = "http://example.com" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.edit(&cfg)
			_, err := tiupload.New(cfg)
			var fe *validation.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Errorf("err = %v, want a field error on %s", err, tt.field)
			}
		})
	}
	if _, err := tiupload.New(ok); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestMessage(t *testing.T) {
	objs := indicators(t, 3, t0)
	m, err := tiupload.Message(objs)
	if err != nil {
		t.Fatal(err)
	}
	var id struct{ ID string }
	json.Unmarshal(objs[0], &id)
	if m.Target != tiupload.Target || m.Op != tiupload.OpUpload || m.Resource != id.ID || !strings.HasPrefix(m.IdemKey, "ti-upload/") {
		t.Errorf("message %+v", m)
	}
	m2, _ := tiupload.Message(indicators(t, 3, t0))
	m3, _ := tiupload.Message(indicators(t, 3, t0.Add(time.Second)))
	if m2.IdemKey != m.IdemKey || m3.IdemKey == m.IdemKey {
		t.Errorf("idempotency keys %s %s %s: the same batch must share one, a new version not", m.IdemKey, m2.IdemKey, m3.IdemKey)
	}
	for name, bad := range map[string][]json.RawMessage{
		"empty":      nil,
		"101":        indicators(t, 101, t0),
		"not JSON":   {json.RawMessage(`{`)},
		"not object": {json.RawMessage(`[1]`)},
	} {
		if _, err := tiupload.Message(bad); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	c, err := tiupload.New(tiupload.Config{TenantID: "t", ClientID: "c", ClientSecret: "s", WorkspaceID: "w"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(context.Background(), outbox.Message{Target: tiupload.Target, Op: "other"}); err == nil {
		t.Error("unknown operation sent")
	}
}

func TestMessages(t *testing.T) {
	e := start(t)
	c := e.client(t, nil)
	now := e.clk.Now()
	var inds []intel.Indicator
	for i := range 205 {
		inds = append(inds, intel.Indicator{Type: intel.Domain, Value: fmt.Sprintf("host%d.example.com", i)})
	}
	inds = append(inds, intel.Indicator{Type: intel.IP, Value: "not an ip"},
		intel.Indicator{Type: intel.IP, Value: "192.0.2.1", FirstSeen: now.Add(-time.Hour), ValidUntil: now.Add(-2 * time.Hour)})
	msgs, skipped := tiupload.Messages(inds, now)
	if len(msgs) != 3 || len(skipped) != 2 {
		t.Fatalf("%d messages, %d skipped (%v)", len(msgs), len(skipped), skipped)
	}
	for _, m := range msgs {
		if err := c.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.objects(t)); n != 205 {
		t.Errorf("stored %d, want 205", n)
	}
}
