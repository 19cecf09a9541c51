package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/connector/graph"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/simulator"
)

// Client is an outbox target.
var _ outbox.Target = (*graph.Client)(nil)

func message(op, id string, payload any) outbox.Message {
	b, _ := json.Marshal(payload)
	return outbox.Message{Target: graph.Target, Op: op, Resource: id, Payload: b}
}

// TestSend writes each operation twice, as the outbox does when the first
// answer is lost, and checks the tenant's state.
func TestSend(t *testing.T) {
	e := start(t, simulator.Options{}, false)
	c := e.client(t, nil)
	w := e.sim.World()
	ctx := context.Background()

	// read returns the alert as the connector maps it.
	read := func(t *testing.T, id string) alert.Alert {
		t.Helper()
		as, err := c.AlertsV2(ctx, graph.Query{Filter: fmt.Sprintf("id eq '%s'", id)})
		if err != nil || len(as) != 1 {
			t.Fatalf("read %s: %v (%d alerts)", id, err, len(as))
		}
		m, err := graph.Map(as[0])
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	readLegacy := func(t *testing.T, id string) graph.LegacyAlert {
		t.Helper()
		as, err := c.LegacyAlerts(ctx, graph.LegacyQuery{})
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(as, func(a graph.LegacyAlert) bool { return a.ID == id })
		if i < 0 {
			t.Fatalf("legacy alert %s not listed", id)
		}
		return as[i]
	}
	dfcStatus := func(t *testing.T, name string) string {
		a, _ := w.DefenderAlertByName(name)
		return a.Status
	}

	for _, tc := range []struct {
		name  string
		msg   func(dfc raised, other string) outbox.Message
		check func(t *testing.T, dfc raised, other string)
	}{
		{"update: in progress and assigned", func(dfc raised, _ string) outbox.Message {
			return message(graph.OpUpdate, dfc.GraphAlertID, graph.UpdatePayload{Status: "inProgress", AssignedTo: "alice@contoso.com"})
		}, func(t *testing.T, dfc raised, _ string) {
			// Graph passes the status on to Defender for Cloud.
			if got := dfcStatus(t, dfc.Name); got != simulator.DfCInProgress {
				t.Errorf("Defender status = %s, want InProgress", got)
			}
			if got := w.GraphAlertAnnotations(dfc.GraphAlertID).AssignedTo; got != "alice@contoso.com" {
				t.Errorf("assignedTo = %q", got)
			}
			if got := read(t, dfc.GraphAlertID).Status; got != alert.StatusInProgress {
				t.Errorf("read back as %s", got)
			}
		}},
		{"update in vigil's spelling", func(_ raised, other string) outbox.Message {
			return message(graph.OpUpdate, other, graph.UpdatePayload{Status: string(alert.StatusInProgress)})
		}, func(t *testing.T, _ raised, other string) {
			if got := read(t, other).Status; got != alert.StatusInProgress {
				t.Errorf("read back as %s", got)
			}
		}},
		{"update: resolved as a true positive", func(dfc raised, _ string) outbox.Message {
			return message(graph.OpUpdate, dfc.GraphAlertID, graph.UpdatePayload{Status: "resolved", Classification: "truePositive", Determination: "malware"})
		}, func(t *testing.T, dfc raised, _ string) {
			if got := dfcStatus(t, dfc.Name); got != simulator.DfCResolved {
				t.Errorf("Defender status = %s, want Resolved", got)
			}
			if got := read(t, dfc.GraphAlertID).Status; got != alert.StatusResolved {
				t.Errorf("read back as %s, want resolved", got)
			}
		}},
		{"update: resolved as a false positive reads back dismissed", func(_ raised, other string) outbox.Message {
			return message(graph.OpUpdate, other, graph.UpdatePayload{Status: "resolved", Classification: "FalsePositive", Determination: "notMalicious"})
		}, func(t *testing.T, _ raised, other string) {
			if n := w.GraphAlertAnnotations(other); n.Classification != "falsePositive" || n.Determination != "notMalicious" {
				t.Errorf("annotations = %+v", n)
			}
			if got := read(t, other).Status; got != alert.StatusDismissed {
				t.Errorf("read back as %s, want dismissed", got)
			}
		}},
		{"update: vigil's dismissed is resolved as benign", func(dfc raised, _ string) outbox.Message {
			return message(graph.OpUpdate, dfc.GraphAlertID, graph.UpdatePayload{Status: string(alert.StatusDismissed)})
		}, func(t *testing.T, dfc raised, _ string) {
			if n := w.GraphAlertAnnotations(dfc.GraphAlertID); n.Classification != "informationalExpectedActivity" {
				t.Errorf("classification = %q, want informationalExpectedActivity", n.Classification)
			}
			if got := read(t, dfc.GraphAlertID).Status; got != alert.StatusDismissed {
				t.Errorf("read back as %s, want dismissed", got)
			}
		}},
		{"comment once", func(dfc raised, _ string) outbox.Message {
			return message(graph.OpComment, dfc.GraphAlertID, graph.CommentPayload{Message: "Tracked as work item 42."})
		}, func(t *testing.T, dfc raised, _ string) {
			cs := w.GraphAlertAnnotations(dfc.GraphAlertID).Comments
			if len(cs) != 1 || cs[0].Comment != "Tracked as work item 42." {
				t.Errorf("comments = %+v, want the one comment once", cs)
			}
		}},
		{"legacy update with a comment", func(dfc raised, _ string) outbox.Message {
			return message(graph.OpLegacyUpdate, dfc.Name, graph.LegacyUpdatePayload{Status: "resolved", Feedback: "falsePositive",
				Comment: "Closed in vigil.", Provider: "ASC", Vendor: "Microsoft"})
		}, func(t *testing.T, dfc raised, _ string) {
			l := readLegacy(t, dfc.Name)
			if !slices.Equal(l.Comments, []string{"Closed in vigil."}) || l.Status != "resolved" || l.Feedback != "falsePositive" {
				t.Errorf("legacy alert: status %s, feedback %s, comments %q", l.Status, l.Feedback, l.Comments)
			}
			if m, _ := graph.MapLegacy(l); m.Status != alert.StatusDismissed {
				t.Errorf("mapped as %s, want dismissed", m.Status)
			}
			if got := dfcStatus(t, dfc.Name); got != simulator.DfCResolved {
				t.Errorf("Defender status = %s, want Resolved", got)
			}
		}},
		{"legacy update reads the provider", func(_ raised, other string) outbox.Message {
			return message(graph.OpLegacyUpdate, other, graph.LegacyUpdatePayload{Status: string(alert.StatusInProgress)})
		}, func(t *testing.T, _ raised, other string) {
			if l := readLegacy(t, other); l.Status != "inProgress" {
				t.Errorf("legacy status = %s", l.Status)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dfc := e.raiseDefender(t, simulator.AlertSpec{})
			other := e.raiseGraph(t, simulator.GraphAlertSpec{ServiceSource: "microsoftDefenderForIdentity"})
			m := tc.msg(dfc, other)
			for i := range 2 {
				if err := c.Send(ctx, m); err != nil {
					t.Fatalf("send %d: %v", i+1, err)
				}
			}
			tc.check(t, dfc, other)
		})
	}
}

// TestSendErrors: what the outbox retries and what it gives up on. Writes
// never wait on the service.
func TestSendErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		fault    *simulator.Fault
		msg      func(dfc raised) outbox.Message
		retry    bool
		after    time.Duration
		notFound bool
		contains string
		requests int64
	}{
		{"unknown alert", nil, func(raised) outbox.Message {
			return message(graph.OpUpdate, "da000_missing", graph.UpdatePayload{Status: "resolved"})
		}, false, 0, true, "404 NotFound", 1},
		{"invalid status", nil, func(d raised) outbox.Message {
			return message(graph.OpUpdate, d.GraphAlertID, graph.UpdatePayload{Status: "closed"})
		}, false, 0, false, "400 BadRequest", 1},
		{"legacy update for another provider", nil, func(d raised) outbox.Message {
			return message(graph.OpLegacyUpdate, d.Name, graph.LegacyUpdatePayload{Status: "resolved", Provider: "MCAS"})
		}, false, 0, true, "404", 1},
		{"unknown operation", nil, func(d raised) outbox.Message { return message("alert.explode", d.GraphAlertID, nil) },
			false, 0, false, "unknown operation", 0},
		{"bad payload", nil, func(d raised) outbox.Message {
			return outbox.Message{Target: graph.Target, Op: graph.OpUpdate, Resource: d.GraphAlertID, Payload: []byte(`[`)}
		}, false, 0, false, "payload", 0},
		{"empty update", nil, func(d raised) outbox.Message { return message(graph.OpUpdate, d.GraphAlertID, graph.UpdatePayload{}) },
			false, 0, false, "empty update", 0},
		{"not an id", nil, func(raised) outbox.Message {
			return message(graph.OpUpdate, "../alerts", graph.UpdatePayload{Status: "new"})
		},
			false, 0, false, "not an alert id", 0},
		{"throttled", &simulator.Fault{Endpoint: "graph.alerts_v2.update", Kind: simulator.FaultStatus, Status: 429, RetryAfter: 30},
			func(d raised) outbox.Message {
				return message(graph.OpUpdate, d.GraphAlertID, graph.UpdatePayload{Status: "resolved"})
			}, true, 30 * time.Second, false, "429", 1},
		{"unavailable", &simulator.Fault{Endpoint: "graph.", Kind: simulator.FaultStatus, Status: 503, RetryAfter: 7},
			func(d raised) outbox.Message {
				return message(graph.OpComment, d.GraphAlertID, graph.CommentPayload{Message: "hello"})
			}, true, 7 * time.Second, false, "503", 1},
		{"role not granted yet", &simulator.Fault{Endpoint: "graph.alerts.update", Kind: simulator.FaultInsufficientAccess},
			func(d raised) outbox.Message {
				return message(graph.OpLegacyUpdate, d.Name, graph.LegacyUpdatePayload{Status: "resolved", Provider: "ASC"})
			}, true, 0, false, "Authorization_RequestDenied", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, simulator.Options{}, false)
			c := e.client(t, nil)
			d := e.raiseDefender(t, simulator.AlertSpec{})
			if tc.fault != nil {
				e.fault(t, *tc.fault)
			}
			began := time.Now()
			err := c.Send(ctx, tc.msg(d))
			if err == nil {
				t.Fatal("send succeeded")
			}
			if took := time.Since(began); took > time.Second {
				t.Errorf("send took %s; writes must not wait", took)
			}
			var re *outbox.RetryableError
			if got := errors.As(err, &re); got != tc.retry {
				t.Errorf("retryable = %v, want %v: %v", got, tc.retry, err)
			} else if got && re.After != tc.after {
				t.Errorf("Retry-After = %s, want %s", re.After, tc.after)
			}
			if got := errors.Is(err, graph.ErrNotFound); got != tc.notFound {
				t.Errorf("errors.Is(err, ErrNotFound) = %v, want %v: %v", got, tc.notFound, err)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("err = %q, want it to contain %q", err, tc.contains)
			}
			if strings.Contains(err.Error(), e.srv.Info.ClientSecret) {
				t.Errorf("err names the client secret: %v", err)
			}
			if got := c.Requests(); got != tc.requests {
				t.Errorf("requests = %d, want %d", got, tc.requests)
			}
		})
	}
}
