package devops_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/connector/devops"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/simulator"
)

var _ outbox.Target = (*devops.Client)(nil)

func TestNewValidates(t *testing.T) {
	ok := devops.Config{OrgURL: "https://dev.azure.com/contoso", Project: "SecOps", PAT: "x"}
	for _, tc := range []struct {
		name string
		mod  func(*devops.Config)
		refs devops.Refs
		want string
	}{
		{"relative URL", func(c *devops.Config) { c.OrgURL = "dev.azure.com/contoso" }, newRefs(), "organization URL"},
		{"no project", func(c *devops.Config) { c.Project = " " }, newRefs(), "project"},
		{"no PAT", func(c *devops.Config) { c.PAT = "" }, newRefs(), "personal access token"},
		{"no refs", func(*devops.Config) {}, nil, "refs"},
		{"valid", func(*devops.Config) {}, newRefs(), ""},
	} {
		cfg := ok
		tc.mod(&cfg)
		_, err := devops.New(cfg, tc.refs)
		if got := errText(err); (tc.want == "") != (err == nil) || !strings.Contains(got, tc.want) {
			t.Errorf("%s: New error = %q, want one mentioning %q", tc.name, got, tc.want)
		}
	}
}

func TestREST(t *testing.T) {
	t.Parallel()
	e := start(t, devops.Config{})
	ctx := context.Background()
	a, err := e.c.Create(ctx, "Issue", map[string]any{"System.Title": "a", "System.Tags": "vigil-42"})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == 0 || a.Rev != 1 || a.Type != "Issue" || a.State != "New" || a.Title != "a" || !slices.Equal(a.Tags, []string{"vigil-42"}) {
		t.Errorf("created %+v", a)
	}
	if _, err := e.c.Create(ctx, "Task", map[string]any{"System.Title": "b", "System.Tags": "vigil-4; other"}); err != nil {
		t.Fatal(err)
	}

	up, err := e.c.Update(ctx, a.ID, 1, map[string]any{"System.State": "Approved"})
	if err != nil || up.Rev != 2 || up.State != "Approved" {
		t.Fatalf("update with the current rev: %+v, %v", up, err)
	}
	_, err = e.c.Update(ctx, a.ID, 1, map[string]any{"System.State": "Active"})
	if !errors.Is(err, devops.ErrStale) {
		t.Errorf("update with a stale rev: err %v, want ErrStale", err)
	}
	if got := e.get(a.ID); got.State != "Approved" || got.Rev != 2 {
		t.Errorf("after the stale update: %s rev %d, want Approved rev 2", got.State, got.Rev)
	}
	if _, err := e.c.Get(ctx, 999); !errors.Is(err, devops.ErrNotFound) {
		t.Errorf("get a missing item: %v, want ErrNotFound", err)
	}

	for tag, want := range map[string]int{"vigil-42": 1, "VIGIL-4": 1, "vigil-7": 0, "it's": 0} {
		ids, err := e.c.FindByTag(ctx, tag)
		if err != nil || len(ids) != want {
			t.Errorf("FindByTag(%q) = %v, %v; want %d ids", tag, ids, err, want)
		}
	}
}

func TestSendCreate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                string
		cfg                 devops.Config
		p                   devops.CreatePayload
		wantType, wantState string
		wantSev             string
		wantPrio            float64
	}{
		{"names as they are", devops.Config{},
			devops.CreatePayload{WorkItemID: 1, Type: "Issue", State: "New", Title: "Brute force on vm-01", Severity: "critical",
				Description: "5 failed <logins>\nfrom 10.0.0.1", URL: "https://vigil.example/workitems/1"},
			"Issue", "New", "1 - Critical", 1},
		{"mapped type and state", devops.Config{Types: map[string]string{"Problem": "Bug"}, States: map[string]string{"Verification": "Resolved"}},
			devops.CreatePayload{WorkItemID: 2, Type: "Problem", State: "Verification", Title: "Crypto miner", Severity: "medium"},
			"Bug", "Resolved", "3 - Medium", 2},
		{"no severity keeps the process default", devops.Config{},
			devops.CreatePayload{WorkItemID: 3, Type: "Problem", State: "Approved", Title: "Exposed storage"},
			"Problem", "Approved", "", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, tc.cfg)
			if err := e.send(devops.OpCreate, tc.p); err != nil {
				t.Fatal(err)
			}
			it := e.get(e.boardsID(tc.p.WorkItemID))
			wantTags := []string{"vigil", fmt.Sprintf("vigil-%d", tc.p.WorkItemID)}
			if it.Type != tc.wantType || it.State != tc.wantState || it.Title != tc.p.Title || !slices.Equal(it.Tags, wantTags) {
				t.Errorf("got %s %q in %s tagged %v, want %s %q in %s tagged %v", it.Type, it.Title, it.State, it.Tags, tc.wantType, tc.p.Title, tc.wantState, wantTags)
			}
			if sev, _ := it.Fields["Microsoft.VSTS.Common.Severity"].(string); sev != tc.wantSev || it.Fields["Microsoft.VSTS.Common.Priority"] != tc.wantPrio {
				t.Errorf("severity %q priority %v, want %q %v", sev, it.Fields["Microsoft.VSTS.Common.Priority"], tc.wantSev, tc.wantPrio)
			}
			desc, _ := it.Fields["System.Description"].(string)
			if !strings.Contains(desc, fmt.Sprintf("work item %d", tc.p.WorkItemID)) || strings.Contains(desc, "<logins>") {
				t.Errorf("description %q: want the vigil id, with the text escaped", desc)
			}
			if tc.p.URL != "" && !strings.Contains(desc, `href="`+tc.p.URL+`"`) {
				t.Errorf("description %q has no link to %s", desc, tc.p.URL)
			}
			// A resend once the ref is saved asks Boards nothing.
			before := e.srv.Sim.Hits("devops.wiql") + e.srv.Sim.Hits("devops.workitems.create")
			if err := e.send(devops.OpCreate, tc.p); err != nil || e.srv.Sim.Hits("devops.wiql")+e.srv.Sim.Hits("devops.workitems.create") != before {
				t.Errorf("resend: %v; Boards calls %d → %d, want none", err, before, e.srv.Sim.Hits("devops.wiql")+e.srv.Sim.Hits("devops.workitems.create"))
			}
		})
	}
}

// A create whose answer is lost is found again by its tag, not repeated.
func TestSendCreateAfterLostAnswer(t *testing.T) {
	t.Parallel()
	e := start(t, devops.Config{})
	lost := 0
	e.tr.loseAnswer = func(r *http.Request) bool {
		if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/workitems/") && lost == 0 {
			lost++
			return true
		}
		return false
	}
	p := devops.CreatePayload{WorkItemID: 7, Type: "Issue", State: "New", Title: "Impossible travel"}
	err := e.send(devops.OpCreate, p)
	var re *outbox.RetryableError
	if !errors.As(err, &re) {
		t.Fatalf("first send: %v, want a RetryableError", err)
	}
	if ref, _ := e.refs.ExternalRef(context.Background(), 7, devops.Target); ref != "" {
		t.Fatalf("ref saved after a lost answer: %q", ref)
	}
	if err := e.send(devops.OpCreate, p); err != nil {
		t.Fatalf("resend: %v", err)
	}
	ids, err := e.c.FindByTag(context.Background(), "vigil-7")
	if err != nil || len(ids) != 1 {
		t.Fatalf("items tagged vigil-7: %v %v, want exactly one", ids, err)
	}
	if got := e.boardsID(7); got != ids[0] {
		t.Errorf("saved ref %d, want the first attempt's item %d", got, ids[0])
	}
	if n := e.srv.Sim.Hits("devops.workitems.create"); n != 1 {
		t.Errorf("Boards saw %d creates, want 1", n)
	}
}

func TestSendUpdate(t *testing.T) {
	t.Parallel()
	type check func(t *testing.T, e *env, bid int, err error)
	wantState := func(state string) check {
		return func(t *testing.T, e *env, bid int, err error) {
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			if got := e.get(bid).State; got != state {
				t.Errorf("Boards state %s, want %s", got, state)
			}
		}
	}
	wantConflict := func(t *testing.T, e *env, bid int, err error) {
		var ce *outbox.ConflictError
		want := fmt.Sprintf("Azure Boards work item %d was moved to Active by alice@contoso.com", bid)
		if !errors.As(err, &ce) || ce.Reason != want {
			t.Fatalf("send: %v, want ConflictError %q", err, want)
		}
		if got := e.get(bid).State; got != "Active" {
			t.Errorf("Boards state %s, want the user's Active", got)
		}
	}
	moveAsAlice := func(e *env, bid int) { e.portal(bid, "state", map[string]string{"state": "Active", "by": "Alice"}) }
	for _, tc := range []struct {
		name        string
		cfg         devops.Config
		p           devops.UpdatePayload // WorkItemID is filled in
		arrange     func(e *env, bid int)
		check       check
		wantPatches int
	}{
		{name: "moves the state with its reason", p: devops.UpdatePayload{From: "New", State: "Approved", Reason: "Confirmed"},
			check: func(t *testing.T, e *env, bid int, err error) {
				wantState("Approved")(t, e, bid, err)
				if r := e.get(bid).Fields["System.Reason"]; r != "Confirmed" {
					t.Errorf("reason %v, want Confirmed", r)
				}
			}, wantPatches: 1},
		{name: "mapped state", cfg: devops.Config{States: map[string]string{"Approved": "Active"}},
			p: devops.UpdatePayload{From: "New", State: "Approved"}, check: wantState("Active"), wantPatches: 1},
		{name: "already in the state is a no-op", p: devops.UpdatePayload{From: "New", State: "Approved"},
			arrange: func(e *env, bid int) { e.portal(bid, "state", map[string]string{"state": "Approved", "by": "Bob"}) },
			check:   wantState("Approved"), wantPatches: 0},
		{name: "portal edit before the write is re-applied", p: devops.UpdatePayload{From: "New", State: "Approved"},
			arrange: func(e *env, bid int) {
				e.srv.Sim.Inject(simulator.Fault{Endpoint: "devops.workitems.update", Kind: simulator.FaultPortalEdit, Times: 1})
			},
			check: func(t *testing.T, e *env, bid int, err error) {
				wantState("Approved")(t, e, bid, err)
				if rev := e.get(bid).Rev; rev != 3 {
					t.Errorf("rev %d, want 3 (create, portal edit, vigil)", rev)
				}
			}, wantPatches: 2},
		{name: "moved by a user before the send", p: devops.UpdatePayload{From: "New", State: "Approved"},
			arrange: moveAsAlice, check: wantConflict, wantPatches: 0},
		{name: "moved by a user between read and write", p: devops.UpdatePayload{From: "New", State: "Approved"},
			arrange: func(e *env, bid int) {
				done := false
				e.tr.before = func(r *http.Request, _ []byte) *http.Response {
					if r.Method == http.MethodPatch && !done {
						done = true
						moveAsAlice(e, bid)
					}
					return nil
				}
			}, check: wantConflict, wantPatches: 1},
		{name: "edited before every write", p: devops.UpdatePayload{From: "New", State: "Approved"},
			arrange: func(e *env, bid int) {
				e.srv.Sim.Inject(simulator.Fault{Endpoint: "devops.workitems.update", Kind: simulator.FaultPortalEdit})
			},
			check: func(t *testing.T, e *env, bid int, err error) {
				if re := (*outbox.RetryableError)(nil); !errors.As(err, &re) {
					t.Fatalf("send: %v, want a RetryableError", err)
				}
			}, wantPatches: 3},
		{name: "reason the process refuses goes to the discussion", p: devops.UpdatePayload{From: "New", State: "Approved", Reason: "Benign: test account"},
			arrange: func(e *env, bid int) {
				e.tr.before = func(r *http.Request, body []byte) *http.Response {
					if r.Method == http.MethodPatch && strings.Contains(string(body), "System.Reason") {
						return ruleError("Reason")
					}
					return nil
				}
			},
			check: func(t *testing.T, e *env, bid int, err error) {
				wantState("Approved")(t, e, bid, err)
				it := e.get(bid)
				if h, _ := it.Fields["System.History"].(string); !strings.Contains(h, "Benign: test account") || it.Fields["System.Reason"] == "Benign: test account" {
					t.Errorf("history %q reason %v, want the reason in the history only", h, it.Fields["System.Reason"])
				}
			}, wantPatches: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, tc.cfg)
			id, bid := e.mirror("Issue", "New")
			if tc.arrange != nil {
				tc.arrange(e, bid)
			}
			before := e.srv.Sim.Hits("devops.workitems.update")
			tc.p.WorkItemID = id
			err := e.send(devops.OpUpdate, tc.p)
			tc.check(t, e, bid, err)
			if got := e.srv.Sim.Hits("devops.workitems.update") - before; got != tc.wantPatches {
				t.Errorf("Boards saw %d PATCHes, want %d", got, tc.wantPatches)
			}
		})
	}
}

// ruleError is Azure DevOps' answer to a value the process does not allow.
func ruleError(field string) *http.Response {
	body := `{"$id":"1","innerException":null,"message":"TF401320: Rule Error for field ` + field +
		`. Error code: Required, HasValues, LimitedToValues, AllowsOldValue, InvalidListValue.","typeName":"Microsoft.TeamFoundation.WorkItemTracking.Server.RuleValidationException, Microsoft.TeamFoundation.WorkItemTracking.Server","typeKey":"RuleValidationException","errorCode":0,"eventId":3200}`
	return &http.Response{StatusCode: http.StatusBadRequest, Header: http.Header{"Content-Type": {"application/json; charset=utf-8"}},
		Body: io.NopCloser(strings.NewReader(body))}
}

func TestSendBeforeCreate(t *testing.T) {
	t.Parallel()
	e := start(t, devops.Config{})
	for _, tc := range []struct {
		op string
		p  any
	}{
		{devops.OpUpdate, devops.UpdatePayload{WorkItemID: 9, From: "New", State: "Approved"}},
		{devops.OpComment, devops.CommentPayload{WorkItemID: 9, Message: "hello"}},
	} {
		err := e.send(tc.op, tc.p)
		var re *outbox.RetryableError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), "not created yet") {
			t.Errorf("%s before the create: %v, want a RetryableError saying not created yet", tc.op, err)
		}
	}
}

func TestSendComment(t *testing.T) {
	t.Parallel()
	e := start(t, devops.Config{})
	id, bid := e.mirror("Problem", "New")
	if err := e.send(devops.OpComment, devops.CommentPayload{WorkItemID: id, Message: "VirusTotal: 3/70 <malicious>\nsee report"}); err != nil {
		t.Fatal(err)
	}
	it := e.get(bid)
	if h := it.Fields["System.History"]; h != "VirusTotal: 3/70 &lt;malicious&gt;<br>see report" || it.Rev != 2 {
		t.Errorf("history %q rev %d, want the escaped comment at rev 2", h, it.Rev)
	}
	if err := e.send(devops.OpComment, devops.CommentPayload{WorkItemID: id}); err == nil {
		t.Error("empty comment accepted")
	}
}

// Failures are retryable or not as the outbox needs, and never show the PAT.
func TestSendErrors(t *testing.T) {
	t.Parallel()
	create := devops.CreatePayload{WorkItemID: 1, Type: "Issue", State: "New", Title: "t"}
	for _, tc := range []struct {
		name      string
		cfg       devops.Config
		fault     *simulator.Fault
		p         devops.CreatePayload
		retryable bool
		after     time.Duration
		wantText  string
	}{
		{name: "throttled", fault: &simulator.Fault{Endpoint: "devops.", Kind: simulator.FaultStatus, Status: 429, RetryAfter: 7, Times: 1},
			p: create, retryable: true, after: 7 * time.Second, wantText: "429"},
		{name: "unavailable", fault: &simulator.Fault{Endpoint: "devops.wiql", Kind: simulator.FaultStatus, Status: 503, Times: 1},
			p: create, retryable: true, wantText: "503"},
		{name: "permission propagating", fault: &simulator.Fault{Endpoint: "devops.", Kind: simulator.FaultInsufficientAccess, Times: 1},
			p: create, retryable: true, wantText: "403"},
		{name: "PAT not accepted", cfg: devops.Config{PAT: "wrong-pat-value"}, p: create, retryable: true, wantText: "401"},
		{name: "state outside the process", p: devops.CreatePayload{WorkItemID: 1, Type: "Issue", State: "Bogus", Title: "t"},
			wantText: "TF401320: Rule Error for field State"},
		{name: "type outside the process", p: devops.CreatePayload{WorkItemID: 1, Type: "Incident", State: "New", Title: "t"},
			wantText: "VS402323"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, tc.cfg)
			if tc.fault != nil {
				e.srv.Sim.Inject(*tc.fault)
			}
			err := e.send(devops.OpCreate, tc.p)
			if err == nil {
				t.Fatal("send succeeded")
			}
			var re *outbox.RetryableError
			if errors.As(err, &re) != tc.retryable {
				t.Errorf("error %v: retryable %v, want %v", err, !tc.retryable, tc.retryable)
			}
			if re != nil && re.After != tc.after {
				t.Errorf("After %v, want %v", re.After, tc.after)
			}
			for _, pat := range []string{e.srv.Info.ClientSecret, "wrong-pat-value"} {
				if strings.Contains(err.Error(), pat) {
					t.Errorf("error shows the PAT: %v", err)
				}
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q, want it to contain %q", err, tc.wantText)
			}
		})
	}

	// Network trouble is retryable.
	c, err := devops.New(devops.Config{OrgURL: "https://127.0.0.1:1/contoso", Project: "SecOps", PAT: "p"}, newRefs())
	if err != nil {
		t.Fatal(err)
	}
	var re *outbox.RetryableError
	if _, err := c.Get(context.Background(), 1); err == nil {
		t.Error("get from a closed port succeeded")
	} else if err := c.Send(context.Background(), outbox.Message{Op: devops.OpComment, WorkItemID: 1, Payload: []byte(`{"message":"x"}`)}); !errors.As(err, &re) {
		t.Errorf("send without a ref: %v, want retryable", err)
	}
	refs := newRefs()
	refs.SaveExternalRef(context.Background(), 1, devops.Target, "5")
	c, _ = devops.New(devops.Config{OrgURL: "https://127.0.0.1:1/contoso", Project: "SecOps", PAT: "p"}, refs)
	if err := c.Send(context.Background(), outbox.Message{Op: devops.OpComment, WorkItemID: 1, Payload: []byte(`{"message":"x"}`)}); !errors.As(err, &re) {
		t.Errorf("send to a closed port: %v, want retryable", err)
	}
	if err := c.Send(context.Background(), outbox.Message{Op: "workitem.delete", WorkItemID: 1, Payload: []byte(`{}`)}); err == nil || errors.As(err, &re) {
		t.Errorf("unknown op: %v, want a permanent error", err)
	}
}

// Azure DevOps answers a call it cannot authenticate with 203 and a
// sign-in page; vigil's own store failing is worth retrying too.
func TestSendSignInPageAndStoreTrouble(t *testing.T) {
	t.Parallel()
	e := start(t, devops.Config{})
	e.tr.before = func(*http.Request, []byte) *http.Response {
		return &http.Response{StatusCode: http.StatusNonAuthoritativeInfo, Header: http.Header{"Content-Type": {"text/html; charset=utf-8"}},
			Body: io.NopCloser(strings.NewReader("<html>Sign in</html>"))}
	}
	err := e.send(devops.OpCreate, devops.CreatePayload{WorkItemID: 1, Type: "Issue", Title: "t"})
	var re *outbox.RetryableError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "not accepted") {
		t.Errorf("sign-in page: %v, want a retryable error about the PAT", err)
	}
	e.tr.before = nil
	e.refs.fail = errors.New("database is locked")
	if err := e.send(devops.OpCreate, devops.CreatePayload{WorkItemID: 1, Type: "Issue", Title: "t"}); !errors.As(err, &re) {
		t.Errorf("refs failing: %v, want retryable", err)
	}
}

func TestStateFromBoards(t *testing.T) {
	c, err := devops.New(devops.Config{OrgURL: "https://dev.azure.com/contoso", Project: "SecOps", PAT: "x",
		States: map[string]string{"Verification": "Resolved", "Approved": "New", "New": "New", "Triage": "Active", "Hold": "Active"}}, newRefs())
	if err != nil {
		t.Fatal(err)
	}
	for boards, want := range map[string]string{
		"Resolved": "Verification", "resolved": "Verification", // Boards ignores case
		"New":    "New",    // several map to New: the one named New
		"Active": "Hold",   // several, none named Active: the first alphabetically
		"Closed": "Closed", // unmapped: the same name
	} {
		if got := c.StateFromBoards(boards); got != want {
			t.Errorf("StateFromBoards(%q) = %q, want %q", boards, got, want)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
