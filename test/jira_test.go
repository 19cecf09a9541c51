package test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/connector/jira"
	"github.com/vigil-soc/vigil/internal/connector/jira/jirasim"
)

// TestJiraRoundTrip is the Jira mirror's "done when", on the real binary
// against jirasim on a real socket: an ingested alert's work item gets a
// Jira issue; moving the item in vigil transitions the issue (and the
// webhook Jira sends for vigil's own move changes nothing); a user
// closing the issue in Jira makes jirasim deliver its signed webhook, and
// the item follows, on its timeline; a webhook with a wrong signature is
// refused and changes nothing.
func TestJiraRoundTrip(t *testing.T) {
	const secret = "jira webhook secret of the e2e test"
	sim := jirasim.New(jirasim.Options{Email: "vigil@example.com", APIToken: "jira-api-token-e2e"})
	site := httptest.NewServer(sim)
	defer site.Close()

	data := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(data, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tokenFile := write("jira-token", "jira-api-token-e2e\n")
	secretFile := write("jira-hook-secret", secret+"\n")
	cfg := write("vigil.yaml", fmt.Sprintf(`sync:
  interval: 1s
  jira:
    url: %s
    email: vigil@example.com
    api_token_file: %s
    project: SEC
    webhook_secret_file: %s
    account_id: %s
`, site.URL, tokenFile, secretFile, jirasim.APIAccountID))
	vigil(t, "", "migrate", "--data", data)
	token := createToken(t, data, "admin")
	s := startServer(t, freePort(t), "--data", data, "--config", cfg)
	v := vigilAPI{base: s.url, token: token}
	hookURL := s.url + "/api/v1/webhooks/jira"
	sim.SetWebhook(jirasim.Webhook{URL: hookURL, Secret: secret})
	defer func() {
		if t.Failed() {
			t.Logf("vigil's log:\n%s", s.logs.String())
		}
	}()

	// An alert → a work item → a Jira issue labelled with it.
	var ans struct {
		Results []struct {
			WorkItemID int64 `json:"workitem_id"`
		} `json:"results"`
	}
	if code := v.call(t, "POST", "/api/v1/alerts",
		`[{"source":"e2e","source_id":"jira-1","title":"Jira round trip","severity":"high"}]`, &ans); code != 200 || len(ans.Results) != 1 || ans.Results[0].WorkItemID == 0 {
		t.Fatalf("ingest: %d %+v", code, ans)
	}
	id := ans.Results[0].WorkItemID
	label := fmt.Sprintf("vigil-%d", id)
	var key string
	eventually(t, 20*time.Second, "the item's Jira issue is created", func() bool {
		for _, is := range sim.Issues() {
			if labels, _ := is.Fields["labels"].([]any); len(labels) > 0 && fmt.Sprint(labels...) == label {
				key = is.Key
				return true
			}
		}
		return false
	})

	// Moved in vigil, the issue transitions in Jira.
	for _, to := range []string{"Approved", "Active"} {
		if code := v.call(t, "POST", fmt.Sprintf("/api/v1/workitems/%d/transitions", id), fmt.Sprintf(`{"to":%q}`, to), nil); code != 200 {
			t.Fatalf("move item %d to %s: %d", id, to, code)
		}
	}
	eventually(t, 20*time.Second, "issue "+key+" goes In Progress", func() bool {
		is, _ := sim.Issue(key)
		return is.Status == "In Progress"
	})
	// Jira's webhook for vigil's own transition came back and did nothing.
	own := false
	for _, d := range sim.Deliveries() {
		if d.AccountID == jirasim.APIAccountID {
			if d.Status != http.StatusOK || !strings.Contains(d.Answer, "vigil's own change") {
				t.Errorf("delivery of vigil's own move answered %d %s", d.Status, d.Answer)
			}
			own = true
		}
	}
	if !own {
		t.Errorf("jirasim delivered no webhook for vigil's own transition: %+v", sim.Deliveries())
	}

	// A forged or unsigned webhook closing the issue is refused.
	forged := fmt.Sprintf(`{"timestamp":%d,"webhookEvent":"jira:issue_updated","user":{"accountId":"x","displayName":"Mallory"},
		"issue":{"id":"1","key":%q,"fields":{"labels":[%q],"status":{"name":"Done"}}},
		"changelog":{"items":[{"field":"status","fieldId":"status","fromString":"In Progress","toString":"Done"}]}}`,
		time.Now().UnixMilli(), key, label)
	for name, sig := range map[string]string{
		"wrong secret": fmt.Sprintf("sha256=%x", jira.Sign("not the secret", []byte(forged))),
		"unsigned":     "",
	} {
		req, _ := http.NewRequest("POST", hookURL, strings.NewReader(forged))
		req.Header.Set("Content-Type", "application/json")
		if sig != "" {
			req.Header.Set(jira.SignatureHeader, sig)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s webhook: %d, want 401", name, res.StatusCode)
		}
	}
	if st := itemState(t, v, id); st != "Active" {
		t.Fatalf("after refused webhooks the item is %s, want Active still", st)
	}

	// A user closes the issue in Jira; the item follows.
	d, err := sim.MoveAsUser(key, "Done", "Mia Krystof")
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != http.StatusOK || !strings.Contains(d.Answer, "moved to Closed") {
		t.Fatalf("vigil answered jirasim's signed webhook %d %s, want the item moved to Closed", d.Status, d.Answer)
	}
	if st := itemState(t, v, id); st != "Closed" {
		t.Fatalf("item %d is %s after the issue was closed in Jira, want Closed", id, st)
	}
	if tl := v.timeline(t, id); !strings.Contains(tl, fmt.Sprintf("Jira issue %s moved to Done by Mia Krystof", key)) {
		t.Errorf("the timeline does not say the item followed Jira:\n%s", tl)
	}
	// Nothing goes back to Jira: vigil does not transition the issue again.
	before := sim.Hits("POST /rest/api/3/issue/{key}/transitions")
	time.Sleep(3 * time.Second) // three sync intervals
	if after := sim.Hits("POST /rest/api/3/issue/{key}/transitions"); after != before {
		t.Errorf("vigil transitioned issue %s again after following it (%d → %d)", key, before, after)
	}
	if is, _ := sim.Issue(key); is.Status != "Done" {
		t.Errorf("issue %s = %s, want Done", key, is.Status)
	}
	// The credentials never show in vigil's log.
	for _, c := range []string{"jira-api-token-e2e", secret} {
		if strings.Contains(s.logs.String(), c) {
			t.Errorf("vigil's log shows a credential %q", c)
		}
	}
}

func itemState(t testing.TB, v vigilAPI, id int64) string {
	t.Helper()
	var it struct {
		State string `json:"state"`
	}
	if code := v.call(t, "GET", fmt.Sprintf("/api/v1/workitems/%d", id), "", &it); code != 200 {
		t.Fatalf("get item %d: %d", id, code)
	}
	return it.State
}
