package defender_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/connector/defender"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/simulator"
)

func startSim(t *testing.T) (*simulator.Server, defender.Config) {
	t.Helper()
	srv, err := simulator.Listen(simulator.New(simulator.Options{}), "127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	info := srv.Info
	return srv, defender.Config{TenantID: info.TenantID, ClientID: info.ClientID, ClientSecret: info.ClientSecret,
		SubscriptionID: info.SubscriptionID, AuthorityHost: info.Authority, ARMEndpoint: info.ARMURL, Transport: srv.Client()}
}

func vmID(srv *simulator.Server, name string) string {
	return "/subscriptions/" + srv.Info.SubscriptionID + "/resourceGroups/" + srv.Info.ResourceGroup +
		"/providers/Microsoft.Compute/virtualMachines/" + name
}

func TestAssessmentsAndGovernanceAgainstSimulator(t *testing.T) {
	srv, cfg := startSim(t)
	ctx := context.Background()
	for _, a := range []simulator.Assessment{
		{Name: "k-disk", DisplayName: "Disk encryption should be applied", Severity: "High", ResourceID: vmID(srv, "vm1")},
		{Name: "k-disk", DisplayName: "Disk encryption should be applied", Severity: "High", ResourceID: vmID(srv, "vm2")},
		{Name: "k-mfa", DisplayName: "MFA should be enabled", ResourceID: vmID(srv, "vm1"), Status: "Healthy"},
	} {
		if _, err := srv.Sim.RaiseAssessment(a); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := defender.NewRecommendations(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Throttled once: azcore waits Retry-After and reads again.
	srv.Sim.Inject(simulator.Fault{Endpoint: "defender.assessments.list", Kind: simulator.FaultStatus, Status: 429, RetryAfter: 1, Times: 1})
	start := time.Now()
	got, err := rec.Assessments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 900*time.Millisecond {
		t.Errorf("the 429's Retry-After was not waited for")
	}
	if len(got) != 3 || got[0].Status != "Unhealthy" || got[2].Status != "Healthy" || got[0].ResourceID != vmID(srv, "vm1") ||
		got[0].StatusChanged.IsZero() || !strings.HasSuffix(got[1].ID, "/providers/Microsoft.Security/assessments/k-disk") {
		t.Fatalf("assessments = %+v", got)
	}
	withMeta, err := rec.WithMetadata(ctx, got[0])
	if err != nil || withMeta.Severity != "High" {
		t.Fatalf("metadata: %+v %v", withMeta, err)
	}

	// The governance write goes through the "defender" target.
	c, err := defender.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	due := time.Date(2030, 3, 1, 0, 0, 0, 0, time.UTC)
	msg := func(op string, p defender.GovernancePayload) outbox.Message {
		b, _ := json.Marshal(p)
		return outbox.Message{Target: "defender", Op: op, Resource: got[0].ID, Payload: b}
	}
	assign := msg(defender.OpGovernanceAssign, defender.GovernancePayload{AssignmentKey: "k1", Owner: "ana@contoso.com", RemediationDueDate: due, Notify: true})
	if err := c.Send(ctx, assign); err == nil {
		t.Fatal("sent governance without AttachGovernance")
	}
	defender.AttachGovernance(c, rec)
	for range 2 { // a resend replaces the same assignment
		if err := c.Send(ctx, assign); err != nil {
			t.Fatal(err)
		}
	}
	gs := srv.Sim.GovernanceAssignments()
	if len(gs) != 1 || gs[0].Owner != "ana@contoso.com" || gs[0].RemediationDueDate != "2030-03-01T00:00:00.0000000Z" ||
		gs[0].DisableOwnerEmailNotification || !strings.EqualFold(gs[0].ResourceID, vmID(srv, "vm1")) {
		t.Fatalf("governance in the simulator = %+v", gs)
	}
	read, err := rec.GovernanceAssignments(ctx, got[0].ID)
	if err != nil || len(read) != 1 || read[0].Key != "k1" || !read[0].RemediationDueDate.Equal(due) {
		t.Fatalf("read back = %+v %v", read, err)
	}
	// Throttled write: retryable with the service's wait.
	srv.Sim.Inject(simulator.Fault{Endpoint: "defender.governance.put", Kind: simulator.FaultStatus, Status: 429, RetryAfter: 7, Times: 1})
	err = c.Send(ctx, assign)
	var re *outbox.RetryableError
	if !asRetryable(err, &re) || re.After != 7*time.Second {
		t.Fatalf("throttled put: %v, want retryable after 7s", err)
	}
	unassign := msg(defender.OpGovernanceUnassign, defender.GovernancePayload{AssignmentKey: "k1"})
	for range 2 { // deleting what is gone succeeds
		if err := c.Send(ctx, unassign); err != nil {
			t.Fatal(err)
		}
	}
	if gs := srv.Sim.GovernanceAssignments(); len(gs) != 0 {
		t.Fatalf("after unassign: %+v", gs)
	}
	// Bad messages are permanent errors.
	for _, m := range []outbox.Message{
		msg(defender.OpGovernanceAssign, defender.GovernancePayload{AssignmentKey: "k1", Owner: "a@b.c"}), // no due date
		msg(defender.OpGovernanceAssign, defender.GovernancePayload{Owner: "a@b.c", RemediationDueDate: due}),
		{Target: "defender", Op: defender.OpGovernanceAssign, Resource: "/subscriptions/x", Payload: []byte(`{}`)},
	} {
		if err := c.Send(ctx, m); err == nil || asRetryable(err, &re) {
			t.Errorf("%+v: %v, want a permanent error", m, err)
		}
	}
}

func asRetryable(err error, re **outbox.RetryableError) bool {
	r, ok := err.(*outbox.RetryableError)
	if ok {
		*re = r
	}
	return ok
}

func TestParseAssessmentID(t *testing.T) {
	for _, tc := range []struct{ id, scope, name string }{
		{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/providers/Microsoft.Security/assessments/k",
			"subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm", "k"},
		{"/subscriptions/s/providers/Microsoft.Security/assessments/k", "subscriptions/s", "k"},
		{"/subscriptions/s/providers/Microsoft.Security/assessments/k/x", "", ""},
		{"/providers/Microsoft.Security/assessments/k", "", ""},
		{"/subscriptions/../providers/Microsoft.Security/assessments/k", "", ""},
		{"nothing", "", ""},
	} {
		scope, name, err := defender.ParseAssessmentID(tc.id)
		if scope != tc.scope || name != tc.name || (err == nil) != (tc.scope != "") {
			t.Errorf("%s: %q %q %v", tc.id, scope, name, err)
		}
	}
}

// fixtureBodies are the response bodies of Microsoft's examples that the
// simulator serves.
func fixtureBodies(t testing.TB) [][]byte {
	files, _ := filepath.Glob("../../simulator/testdata/defender/recommendations/assessment*.json")
	if len(files) == 0 {
		t.Fatal("no assessment fixtures")
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var fx struct {
			Responses map[string]struct{ Body json.RawMessage }
		}
		if err := json.Unmarshal(b, &fx); err != nil {
			t.Fatal(err)
		}
		out = append(out, fx.Responses["200"].Body)
	}
	return out
}

func TestParseAssessmentFixtures(t *testing.T) {
	for _, b := range fixtureBodies(t) {
		if strings.Contains(string(b), `"value"`) {
			as, next, err := defender.ParseAssessmentsPage(b)
			if err != nil || len(as) != 2 || next != "" || as[0].Status != "Healthy" || as[1].Status != "NotApplicable" ||
				!strings.HasSuffix(as[1].ResourceID, "/vmss2") {
				t.Errorf("list: %+v %q %v", as, next, err)
			}
			continue
		}
		a, err := defender.ParseAssessment(b)
		if err != nil || a.Name != "21300918-b2e3-0346-785f-c77ff57d243b" || a.Cause != "OffByPolicy" {
			t.Errorf("get: %+v %v", a, err)
		}
	}
	for _, bad := range []string{`{"value":[{"id":"x"}]}`, `{"value":[{"id":"/a/providers/Microsoft.Security/assessments/n","name":"n","properties":{"status":{"code":"Odd"}}}]}`, `[`} {
		if _, _, err := defender.ParseAssessmentsPage([]byte(bad)); err == nil {
			t.Errorf("%s parsed", bad)
		}
	}
}

func FuzzParseAssessmentsPage(f *testing.F) {
	for _, b := range fixtureBodies(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		as, _, err := defender.ParseAssessmentsPage(b)
		if err != nil {
			return
		}
		for _, a := range as {
			scope, name, err := defender.ParseAssessmentID(a.ID)
			if err == nil && (name != a.Name && !strings.EqualFold(name, a.Name)) {
				t.Fatalf("id %q names %q, assessment says %q (scope %q)", a.ID, name, a.Name, scope)
			}
			switch a.Status {
			case defender.AssessmentHealthy, defender.AssessmentUnhealthy, defender.AssessmentNotApplicable:
			default:
				t.Fatalf("status %q accepted", a.Status)
			}
		}
	})
}

// TestAssessmentsFollowNextLink reads past the simulator's page of 50.
func TestAssessmentsFollowNextLink(t *testing.T) {
	srv, cfg := startSim(t)
	for i := range 120 {
		if _, err := srv.Sim.RaiseAssessment(simulator.Assessment{Name: "k", DisplayName: "Endpoint protection should be installed",
			ResourceID: vmID(srv, "vm"+strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := defender.NewRecommendations(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := rec.Assessments(context.Background())
	if err != nil || len(got) != 120 || got[119].ResourceID != vmID(srv, "vm119") {
		t.Fatalf("%d assessments, %v", len(got), err)
	}
}
