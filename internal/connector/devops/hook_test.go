package devops_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/connector/devops"
)

func TestParseHookFixture(t *testing.T) {
	raw, err := os.ReadFile("testdata/workitem_updated_hook.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := devops.ParseHook(raw)
	if err != nil {
		t.Fatal(err)
	}
	// Microsoft's sample has workItemId 0; the id is in resource.revision.
	want := devops.Change{BoardsID: 5, Rev: 2, OldState: "New", NewState: "Approved", ChangedBy: "Jamal Hartnett",
		Reason: "Approved by the Product Owner", Type: "Bug"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseHook(fixture)\n got %+v\nwant %+v", got, want)
	}
}

func TestParseHookErrors(t *testing.T) {
	raw, err := os.ReadFile("testdata/workitem_updated_hook.json")
	if err != nil {
		t.Fatal(err)
	}
	// Each case edits the fixture; the error must name what is wrong.
	for _, tc := range []struct {
		name string
		edit func(m map[string]any)
		want string
	}{
		{"other event", func(m map[string]any) { m["eventType"] = "workitem.created" }, "eventType"},
		{"no resource", func(m map[string]any) { delete(m, "resource") }, "resource is missing"},
		{"no revision", func(m map[string]any) { delete(res(m), "revision") }, "resource.revision.fields"},
		{"no id anywhere", func(m map[string]any) { delete(rev(m), "id") }, "resource.workItemId is missing"},
		{"id not a number", func(m map[string]any) { res(m)["workItemId"] = "five" }, "resource.workItemId"},
		{"no rev", func(m map[string]any) { delete(res(m), "rev"); delete(rev(m), "rev") }, "resource.rev is missing"},
		{"no type", func(m map[string]any) { delete(rev(m)["fields"].(map[string]any), "System.WorkItemType") }, "System.WorkItemType"},
		{"no state", func(m map[string]any) {
			delete(res(m)["fields"].(map[string]any), "System.State")
			delete(rev(m)["fields"].(map[string]any), "System.State")
		}, "System.State"},
	} {
		var m map[string]any
		json.Unmarshal(raw, &m)
		tc.edit(m)
		b, _ := json.Marshal(m)
		_, err := devops.ParseHook(b)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming %q", tc.name, err, tc.want)
		}
	}
	if _, err := devops.ParseHook([]byte("<html>")); err == nil {
		t.Error("ParseHook accepted HTML")
	}
}

func res(m map[string]any) map[string]any { return m["resource"].(map[string]any) }
func rev(m map[string]any) map[string]any { return res(m)["revision"].(map[string]any) }

// A real hook from the simulator: a user moves the mirror on the board.
func TestParseHookFromSimulator(t *testing.T) {
	t.Parallel()
	e := start(t, devops.Config{Types: map[string]string{"Problem": "Bug"}, States: map[string]string{"Verification": "Resolved"}})
	got := make(chan []byte, 8)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !devops.CheckBasicAuth(r, "vigil", "hook-secret") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		b, _ := io.ReadAll(r.Body)
		got <- b
	}))
	t.Cleanup(sink.Close)
	sub, _ := json.Marshal(map[string]string{"url": sink.URL + "/hooks/devops", "username": "vigil", "password": "hook-secret", "eventType": "workitem.updated"})
	resp, err := e.http.Post(e.srv.URL+"/sim/v1/devops/hooks", "application/json", bytes.NewReader(sub))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("subscribe: %d", resp.StatusCode)
	}
	next := func() devops.Change {
		t.Helper()
		select {
		case b := <-got:
			ch, err := devops.ParseHook(b)
			if err != nil {
				t.Fatalf("ParseHook: %v\n%s", err, b)
			}
			return ch
		case <-time.After(5 * time.Second):
			t.Fatal("no service hook delivery within 5s")
		}
		return devops.Change{}
	}

	id, bid := e.mirror("Problem", "New") // creating sends no hook
	e.portal(bid, "state", map[string]string{"state": "Active", "by": "Alice", "reason": "Investigating"})
	ch := next()
	want := devops.Change{BoardsID: bid, Rev: 2, OldState: "New", NewState: "Active", ChangedBy: "alice@contoso.com",
		Reason: "Investigating", Type: "Bug", Tags: []string{"vigil", "vigil-101"}, VigilID: id}
	if !reflect.DeepEqual(ch, want) {
		t.Errorf("portal move\n got %+v\nwant %+v", ch, want)
	}
	if w, err := e.c.WorkItemFor(context.Background(), ch); err != nil || w != id {
		t.Errorf("WorkItemFor = %d, %v; want %d", w, err, id)
	}

	// vigil's own write comes back too, as the PAT's user: how a consumer
	// recognises its echo.
	e.portal(bid, "edit", map[string]any{"fields": map[string]any{"System.Title": "renamed"}, "by": "Bob"})
	if ch := next(); ch.OldState != "Active" || ch.NewState != "Active" || ch.ChangedBy != "bob@contoso.com" {
		t.Errorf("title edit: %+v, want no state change by bob", ch)
	}
	if err := e.send(devops.OpUpdate, devops.UpdatePayload{WorkItemID: id, From: "Active", State: "Verification"}); err != nil {
		t.Fatal(err)
	}
	ch = next()
	if ch.NewState != "Resolved" || e.c.StateFromBoards(ch.NewState) != "Verification" || ch.ChangedBy != "vigil-automation@contoso.com" || ch.Rev != 4 {
		t.Errorf("vigil's move: %+v", ch)
	}

	// A tag typed on an item vigil does not mirror is only a hint.
	other, err := e.c.Create(context.Background(), "Issue", map[string]any{"System.Title": "x", "System.Tags": "vigil-" + "101"})
	if err != nil {
		t.Fatal(err)
	}
	if w, err := e.c.WorkItemFor(context.Background(), devops.Change{BoardsID: other.ID, VigilID: id}); err != nil || w != 0 {
		t.Errorf("WorkItemFor an unmirrored item = %d, %v; want 0", w, err)
	}
}

func TestCheckBasicAuth(t *testing.T) {
	for _, tc := range []struct {
		name       string
		user, pass string
		set        bool
		wantUser   string
		wantPass   string
		want       bool
	}{
		{"match", "vigil", "s3cret", true, "vigil", "s3cret", true},
		{"wrong password", "vigil", "s3cre", true, "vigil", "s3cret", false},
		{"wrong user", "admin", "s3cret", true, "vigil", "s3cret", false},
		{"no header", "", "", false, "vigil", "s3cret", false},
		{"nothing configured", "", "", true, "", "", false},
	} {
		r := httptest.NewRequest(http.MethodPost, "/hooks/devops", nil)
		if tc.set {
			r.SetBasicAuth(tc.user, tc.pass)
		}
		if got := devops.CheckBasicAuth(r, tc.wantUser, tc.wantPass); got != tc.want {
			t.Errorf("%s: CheckBasicAuth = %v, want %v", tc.name, got, tc.want)
		}
	}
}
