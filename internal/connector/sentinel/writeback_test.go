package sentinel_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/connector/sentinel"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/simulator"
)

func payload(t *testing.T, v any) json.RawMessage {
	t.Helper()
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// outcome classifies a Send error the way the outbox sender does.
func outcome(err error) string {
	var ce *outbox.ConflictError
	var re *outbox.RetryableError
	switch {
	case err == nil:
		return "done"
	case errors.As(err, &ce):
		return "conflict"
	case errors.As(err, &re):
		return "retry"
	}
	return "failed"
}

func TestSend(t *testing.T) {
	e := start(t)
	closeAs := func(class, reason string) func(t *testing.T, name string) {
		return func(t *testing.T, name string) {
			e.control(t, "/sim/v1/sentinel/incidents/"+name+"/status", map[string]string{"Status": "Closed", "Classification": class, "ClassificationReason": reason})
		}
	}
	setStatus := func(s string) func(t *testing.T, name string) {
		return func(t *testing.T, name string) {
			e.control(t, "/sim/v1/sentinel/incidents/"+name+"/status", map[string]string{"Status": s})
		}
	}
	tests := []struct {
		name    string
		setup   func(t *testing.T, name string)
		op      string
		payload any
		want    string // outcome
		wantErr string // part of the error
		puts    int    // incident PUTs sent
		check   func(t *testing.T, inc simulator.Incident)
	}{
		{name: "close a new incident", op: sentinel.OpClose,
			payload: sentinel.ClosePayload{Classification: "TruePositive", ClassificationReason: "SuspiciousActivity", Comment: "contained"},
			want:    "done", puts: 1,
			check: func(t *testing.T, inc simulator.Incident) {
				if inc.Status != "Closed" || inc.Classification != "TruePositive" || inc.ClassificationReason != "SuspiciousActivity" || inc.ClassificationComment != "contained" {
					t.Errorf("incident = %s %s %s %q", inc.Status, inc.Classification, inc.ClassificationReason, inc.ClassificationComment)
				}
			}},
		{name: "close spelled in lower case", op: sentinel.OpClose,
			payload: sentinel.ClosePayload{Classification: "benignpositive", ClassificationReason: "suspiciousbutexpected"}, want: "done", puts: 1,
			check: func(t *testing.T, inc simulator.Incident) {
				if inc.Classification != "BenignPositive" || inc.ClassificationReason != "SuspiciousButExpected" {
					t.Errorf("classification = %s %s", inc.Classification, inc.ClassificationReason)
				}
			}},
		{name: "close an active incident", setup: setStatus("Active"), op: sentinel.OpClose,
			payload: sentinel.ClosePayload{Classification: "Undetermined"}, want: "done", puts: 1},
		{name: "close when already closed the same way", setup: closeAs("TruePositive", ""), op: sentinel.OpClose,
			payload: sentinel.ClosePayload{Classification: "TruePositive"}, want: "done", puts: 0},
		{name: "close when closed differently", setup: closeAs("FalsePositive", "InaccurateData"), op: sentinel.OpClose,
			payload: sentinel.ClosePayload{Classification: "TruePositive"}, want: "conflict", wantErr: "was already closed in Sentinel as FalsePositive", puts: 0,
			check: func(t *testing.T, inc simulator.Incident) {
				if inc.Classification != "FalsePositive" {
					t.Errorf("classification = %s, want FalsePositive kept", inc.Classification)
				}
			}},
		{name: "close as benign positive without reason", op: sentinel.OpClose,
			payload: sentinel.ClosePayload{Classification: "BenignPositive"}, want: "failed", wantErr: "needs a classificationReason"},
		{name: "close with an unknown classification", op: sentinel.OpClose,
			payload: sentinel.ClosePayload{Classification: "Fine"}, want: "failed", wantErr: `classification "Fine"`},
		{name: "close with a reason of another classification", op: sentinel.OpClose,
			payload: sentinel.ClosePayload{Classification: "TruePositive", ClassificationReason: "InaccurateData"},
			want:    "failed", wantErr: "400 Bad Request", puts: 1},
		{name: "close without payload", op: sentinel.OpClose, want: "failed", wantErr: "payload is required"},
		{name: "activate a new incident", op: sentinel.OpActivate, want: "done", puts: 1,
			check: func(t *testing.T, inc simulator.Incident) {
				if inc.Status != "Active" {
					t.Errorf("status = %s, want Active", inc.Status)
				}
			}},
		{name: "activate an active incident", setup: setStatus("Active"), op: sentinel.OpActivate, want: "done", puts: 0},
		{name: "activate a closed incident", setup: closeAs("TruePositive", ""), op: sentinel.OpActivate, want: "conflict",
			wantErr: "is closed in Sentinel (as TruePositive)", puts: 0,
			check: func(t *testing.T, inc simulator.Incident) {
				if inc.Status != "Closed" {
					t.Errorf("status = %s, want Closed kept", inc.Status)
				}
			}},
		{name: "set the owner", op: sentinel.OpOwner,
			payload: sentinel.OwnerPayload{Email: "alice@contoso.com", ObjectID: "2046feea-040d-4a46-9e2b-91c2941bfa70", Name: "Alice"},
			want:    "done", puts: 1,
			check: func(t *testing.T, inc simulator.Incident) {
				if o := inc.Owner; o.Email != "alice@contoso.com" || o.ObjectID != "2046feea-040d-4a46-9e2b-91c2941bfa70" || o.AssignedTo != "Alice" {
					t.Errorf("owner = %+v", o)
				}
			}},
		{name: "set the owner of a closed incident", setup: closeAs("BenignPositive", "SuspiciousButExpected"), op: sentinel.OpOwner,
			payload: sentinel.OwnerPayload{Email: "bob@contoso.com"}, want: "done", puts: 1,
			check: func(t *testing.T, inc simulator.Incident) {
				if inc.Owner.Email != "bob@contoso.com" || inc.Status != "Closed" || inc.Classification != "BenignPositive" || inc.ClassificationReason != "SuspiciousButExpected" {
					t.Errorf("incident = %+v", inc)
				}
			}},
		{name: "comment", op: sentinel.OpComment, payload: sentinel.CommentPayload{Message: "VirusTotal: 0/70"}, want: "done",
			check: func(t *testing.T, inc simulator.Incident) {
				if len(inc.Comments) != 1 || inc.Comments[0].Message != "VirusTotal: 0/70" || inc.Comments[0].Name != sentinel.CommentID("key:comment") {
					t.Errorf("comments = %+v", inc.Comments)
				}
			}},
		{name: "empty comment", op: sentinel.OpComment, payload: sentinel.CommentPayload{Message: " "}, want: "failed", wantErr: "empty message"},
		{name: "unknown operation", op: "incident.delete", want: "failed", wantErr: "unknown operation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := e.raise(t, nil).IncidentName
			if tt.setup != nil {
				tt.setup(t, name)
			}
			puts := e.srv.Sim.Hits("sentinel.incidents.put")
			err := e.c.Send(ctx, outbox.Message{Target: "sentinel", Op: tt.op, Resource: e.incidentID(name),
				Payload: payload(t, tt.payload), IdemKey: "key:" + strings.TrimPrefix(tt.op, "incident.")})
			if got := outcome(err); got != tt.want || (tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Send: %v (%s), want %s %q", err, got, tt.want, tt.wantErr)
			}
			if got := e.srv.Sim.Hits("sentinel.incidents.put") - puts; got != tt.puts {
				t.Errorf("incident PUTs = %d, want %d", got, tt.puts)
			}
			if tt.check != nil {
				tt.check(t, e.incident(t, name))
			}
		})
	}
}

func TestSendOwnerUnchanged(t *testing.T) {
	e := start(t)
	name := e.raise(t, nil).IncidentName
	tests := []struct {
		name    string
		payload sentinel.OwnerPayload
		puts    int
	}{
		{"assign", sentinel.OwnerPayload{Email: "alice@contoso.com", ObjectID: "2046feea-040d-4a46-9e2b-91c2941bfa70", Name: "Alice"}, 1},
		{"same object id, other display name", sentinel.OwnerPayload{ObjectID: "2046FEEA-040D-4A46-9E2B-91C2941BFA70", Name: "Alice Doe"}, 0},
		{"same email", sentinel.OwnerPayload{Email: "Alice@Contoso.com"}, 0},
		{"someone else", sentinel.OwnerPayload{Email: "bob@contoso.com"}, 1},
		{"unassign", sentinel.OwnerPayload{}, 1},
		{"unassign again", sentinel.OwnerPayload{}, 0},
	}
	for _, tt := range tests {
		puts := e.srv.Sim.Hits("sentinel.incidents.put")
		if err := e.c.Send(ctx, outbox.Message{Op: sentinel.OpOwner, Resource: e.incidentID(name), Payload: payload(t, tt.payload)}); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := e.srv.Sim.Hits("sentinel.incidents.put") - puts; got != tt.puts {
			t.Errorf("%s: PUTs = %d, want %d", tt.name, got, tt.puts)
		}
	}
}

func TestSendCommentResend(t *testing.T) {
	e := start(t)
	name := e.raise(t, nil).IncidentName
	msg := outbox.Message{Op: sentinel.OpComment, Resource: e.incidentID(name), IdemKey: "workitem:7:comment:1",
		Payload: payload(t, sentinel.CommentPayload{Message: "Enriched: GeoIP NL"})}
	for range 2 { // the first answer was lost, say
		if err := e.c.Send(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.incident(t, name).Comments; len(got) != 1 {
		t.Fatalf("comments after a resend = %d, want 1", len(got))
	}
	other := msg
	other.IdemKey = "workitem:7:comment:2"
	if err := e.c.Send(ctx, other); err != nil {
		t.Fatal(err)
	}
	if got := e.incident(t, name).Comments; len(got) != 2 || got[0].Name == got[1].Name {
		t.Errorf("comments = %+v, want two with distinct ids", got)
	}
}

func TestCommentID(t *testing.T) {
	a, b := sentinel.CommentID("k1"), sentinel.CommentID("k2")
	if a != sentinel.CommentID("k1") || a == b {
		t.Errorf("CommentID not deterministic per key: %s %s", a, b)
	}
	// A version 5 UUID: Sentinel wants a GUID for a comment id.
	if len(a) != 36 || a[14] != '5' || !strings.ContainsRune("89ab", rune(a[19])) || strings.Count(a, "-") != 4 {
		t.Errorf("CommentID = %s, want a version 5 UUID", a)
	}
}

func TestSendStaleETag(t *testing.T) {
	closeMsg := func(e *env, name string) outbox.Message {
		return outbox.Message{Op: sentinel.OpClose, Resource: e.incidentID(name),
			Payload: payload(t, sentinel.ClosePayload{Classification: "TruePositive", ClassificationReason: "SuspiciousActivity"})}
	}
	t.Run("a portal edit: re-read and write again", func(t *testing.T) {
		e := start(t)
		name := e.raise(t, nil).IncidentName
		e.fault(t, simulator.Fault{Endpoint: "sentinel.incidents.put", Kind: simulator.FaultPortalEdit, Times: 1})
		if err := e.c.Send(ctx, closeMsg(e, name)); err != nil {
			t.Fatal(err)
		}
		inc := e.incident(t, name)
		if inc.Status != "Closed" || inc.Classification != "TruePositive" {
			t.Errorf("incident = %s %s, want Closed TruePositive", inc.Status, inc.Classification)
		}
		// The edit's label survived the PUT: the second try wrote what it
		// read after the edit.
		if !slices.ContainsFunc(inc.Labels, func(l map[string]any) bool { return l["labelName"] == "edited-in-portal" }) {
			t.Errorf("labels = %v, want the portal's edit kept", inc.Labels)
		}
		if g, p := e.srv.Sim.Hits("sentinel.incidents.get"), e.srv.Sim.Hits("sentinel.incidents.put"); g != 2 || p != 2 {
			t.Errorf("gets, puts = %d, %d; want 2, 2", g, p)
		}
	})
	t.Run("closed differently meanwhile: conflict", func(t *testing.T) {
		e := start(t)
		name := e.raise(t, nil).IncidentName
		// An analyst closes the incident between our read and our write.
		closeFirst := once(func() {
			e.control(t, "/sim/v1/sentinel/incidents/"+name+"/status", map[string]string{"Status": "Closed", "Classification": "FalsePositive", "ClassificationReason": "IncorrectAlertLogic"})
		})
		c := e.client(t, hookTransport{next: e.srv.Client(), before: func(r *http.Request) {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/incidents/") {
				closeFirst()
			}
		}})
		err := c.Send(ctx, closeMsg(e, name))
		var ce *outbox.ConflictError
		if !errors.As(err, &ce) || !strings.Contains(ce.Reason, "was already closed in Sentinel as FalsePositive") {
			t.Fatalf("Send: %v, want a conflict", err)
		}
		if inc := e.incident(t, name); inc.Classification != "FalsePositive" {
			t.Errorf("classification = %s, want the analyst's FalsePositive", inc.Classification)
		}
	})
	t.Run("edited on every try: retry later", func(t *testing.T) {
		e := start(t)
		name := e.raise(t, nil).IncidentName
		e.fault(t, simulator.Fault{Endpoint: "sentinel.incidents.put", Kind: simulator.FaultPortalEdit})
		err := e.c.Send(ctx, closeMsg(e, name))
		if outcome(err) != "retry" || !strings.Contains(err.Error(), "409") {
			t.Fatalf("Send: %v, want a RetryableError", err)
		}
		if p := e.srv.Sim.Hits("sentinel.incidents.put"); p != 3 {
			t.Errorf("puts = %d, want 3", p)
		}
		if inc := e.incident(t, name); inc.Status != "New" {
			t.Errorf("status = %s, want New", inc.Status)
		}
	})
}

func TestSendFaults(t *testing.T) {
	tests := []struct {
		name      string
		fault     simulator.Fault
		op        string
		want      string
		wantAfter time.Duration
	}{
		{"throttled read", simulator.Fault{Endpoint: "sentinel.incidents.get", Kind: simulator.FaultStatus, Status: 429, RetryAfter: 7, Times: 1},
			sentinel.OpActivate, "retry", 7 * time.Second},
		{"throttled write", simulator.Fault{Endpoint: "sentinel.incidents.put", Kind: simulator.FaultStatus, Status: 429, RetryAfter: 30, Times: 1},
			sentinel.OpActivate, "retry", 30 * time.Second},
		{"throttled comment", simulator.Fault{Endpoint: "sentinel.comments.put", Kind: simulator.FaultStatus, Status: 429, RetryAfter: 5, Times: 1},
			sentinel.OpComment, "retry", 5 * time.Second},
		{"service unavailable", simulator.Fault{Endpoint: "sentinel.", Kind: simulator.FaultStatus, Status: 503, Times: 1},
			sentinel.OpActivate, "retry", 0},
		{"server error", simulator.Fault{Endpoint: "sentinel.comments.put", Kind: simulator.FaultStatus, Status: 500, Times: 1},
			sentinel.OpComment, "retry", 0},
		{"role assignment not propagated", simulator.Fault{Endpoint: "sentinel.incidents.get", Kind: simulator.FaultInsufficientAccess, Times: 1},
			sentinel.OpActivate, "retry", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := start(t)
			name := e.raise(t, nil).IncidentName
			e.fault(t, tt.fault)
			msg := outbox.Message{Op: tt.op, Resource: e.incidentID(name), IdemKey: "k", Payload: payload(t, sentinel.CommentPayload{Message: "hi"})}
			t0 := time.Now()
			err := e.c.Send(ctx, msg)
			if got := outcome(err); got != tt.want {
				t.Fatalf("Send: %v (%s), want %s", err, got, tt.want)
			}
			var re *outbox.RetryableError
			if errors.As(err, &re) && re.After != tt.wantAfter {
				t.Errorf("After = %s, want %s", re.After, tt.wantAfter)
			}
			// Writes do not retry inside the SDK: the outbox waits instead.
			if d := time.Since(t0); d > time.Second {
				t.Errorf("Send took %s; the SDK must not retry writes", d)
			}
			if !strings.Contains(err.Error(), "sentinel "+tt.op+" on incident ") {
				t.Errorf("error %q does not name the operation and incident", err)
			}
			// The fault was used up: the outbox's retry succeeds.
			if err := e.c.Send(ctx, msg); err != nil {
				t.Errorf("retry: %v", err)
			}
		})
	}
}

func TestSendBadResource(t *testing.T) {
	e := start(t)
	tests := []struct {
		name, resource, want string
	}{
		{"another workspace", strings.Replace(e.incidentID("abc"), e.srv.Info.Workspace, "other-ws", 1), "is not an incident of workspace"},
		{"not an incident", e.incidentID("") + "x/comments/y", "is not an incident id"},
		{"empty", "", "is not an incident of workspace"},
	}
	for _, tt := range tests {
		err := e.c.Send(ctx, outbox.Message{Op: sentinel.OpActivate, Resource: tt.resource})
		if outcome(err) != "failed" || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want a permanent error %q", tt.name, err, tt.want)
		}
	}
	// Case does not matter in ARM ids.
	name := e.raise(t, nil).IncidentName
	if err := e.c.Send(ctx, outbox.Message{Op: sentinel.OpActivate, Resource: strings.ToUpper(e.incidentID("")) + name}); err != nil {
		t.Errorf("upper-case id: %v", err)
	}
	// An incident deleted at the source: permanent, and says so.
	err := e.c.Send(ctx, outbox.Message{Op: sentinel.OpActivate, Resource: e.incidentID("00000000-0000-0000-0000-000000000000")})
	if outcome(err) != "failed" || !errors.Is(err, sentinel.ErrNotFound) {
		t.Errorf("unknown incident: %v, want a permanent ErrNotFound", err)
	}
}
