package jirasim_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/vigil-soc/vigil/internal/connector/jira"
	"github.com/vigil-soc/vigil/internal/connector/jira/jirasim"
)

// TestWebhookDelivery: with a webhook registered, a user's move and a move
// made through the REST API are each delivered, signed with the secret,
// as the event the connector parses, naming who moved the issue.
func TestWebhookDelivery(t *testing.T) {
	const secret = "delivery secret"
	var mu sync.Mutex
	var got []jira.Event
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := jira.VerifyWebhook(secret, body, r.Header); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		ev, err := jira.ParseWebhook(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
		io.WriteString(w, `{"result":"ok"}`)
	}))
	defer receiver.Close()

	sim := jirasim.New(jirasim.Options{})
	site := httptest.NewServer(sim)
	defer site.Close()
	if _, err := sim.MoveAsUser("SEC-1", "Done", "Mia"); err == nil {
		t.Fatal("MoveAsUser without a webhook registered: no error")
	}
	sim.SetWebhook(jirasim.Webhook{URL: receiver.URL, Secret: secret})

	call := func(method, path, body string) int {
		req, _ := http.NewRequest(method, site.URL+path, strings.NewReader(body))
		req.SetBasicAuth("vigil@example.com", "token")
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := call("POST", "/rest/api/3/issue", `{"fields":{"project":{"key":"SEC"},"issuetype":{"name":"Task"},"summary":"s","labels":["vigil-7"]}}`); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	// Through the API: delivered in the background, as the API account.
	if code := call("POST", "/rest/api/3/issue/SEC-1/transitions", `{"transition":{"id":"21"}}`); code != http.StatusNoContent {
		t.Fatalf("transition: %d", code)
	}
	ds := sim.Deliveries()
	if len(ds) != 1 || ds[0].Status != http.StatusOK || ds[0].AccountID != jirasim.APIAccountID || ds[0].Issue != "SEC-1" {
		t.Fatalf("deliveries after the API's move = %+v", ds)
	}
	// As a user: delivered at once, answered.
	d, err := sim.MoveAsUser("SEC-1", "Done", "Mia Krystof")
	if err != nil || d.Status != http.StatusOK || !strings.Contains(d.Answer, "ok") {
		t.Fatalf("MoveAsUser = %+v, %v", d, err)
	}
	if is, _ := sim.Issue("SEC-1"); is.Status != "Done" {
		t.Errorf("issue = %s, want Done", is.Status)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []jira.Event{
		{IssueKey: "SEC-1", WorkItemID: 7, FromStatus: "To Do", Status: "In Progress", Who: "vigil integration", AccountID: jirasim.APIAccountID},
		{IssueKey: "SEC-1", WorkItemID: 7, FromStatus: "In Progress", Status: "Done", Who: "Mia Krystof"},
	}
	if len(got) != len(want) {
		t.Fatalf("events received = %+v", got)
	}
	for i, w := range want {
		g := got[i]
		if g.Type != "jira:issue_updated" || !g.Moved || g.IssueKey != w.IssueKey || g.WorkItemID != w.WorkItemID ||
			g.FromStatus != w.FromStatus || g.Status != w.Status || g.Who != w.Who || (w.AccountID != "" && g.AccountID != w.AccountID) {
			t.Errorf("event %d = %+v, want %+v", i, g, w)
		}
	}
	// A wrong secret is answered 401, and recorded so.
	sim.SetWebhook(jirasim.Webhook{URL: receiver.URL, Secret: "wrong"})
	if d, err := sim.MoveAsUser("SEC-1", "To Do", "Mia"); err != nil || d.Status != http.StatusUnauthorized {
		t.Errorf("delivery signed with a wrong secret = %+v, %v; want 401", d, err)
	}
}
