package test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/security/armsecurity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/securityinsights/armsecurityinsights/v2"
)

// portal is a script acting as a portal user through Microsoft's SDKs,
// knowing only the JSON line the demo printed.
type portal struct {
	info      simInfo
	http      *http.Client
	incidents *armsecurityinsights.IncidentsClient
	alerts    *armsecurity.AlertsClient
	// assessments and governance read Defender for Cloud's
	// recommendations and their owners.
	assessments *armsecurity.AssessmentsClient
	governance  *armsecurity.GovernanceAssignmentsClient
}

func newPortal(t testing.TB, info simInfo) *portal {
	t.Helper()
	pem, err := os.ReadFile(info.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 30 * time.Second}
	copts := azcore.ClientOptions{Transport: hc, Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: info.Authority,
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Audience: "https://management.azure.com", Endpoint: info.ARMURL}}}}
	cred, err := azidentity.NewClientSecretCredential(info.TenantID, info.ClientID, info.ClientSecret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: copts, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	p := &portal{info: info, http: hc}
	if p.incidents, err = armsecurityinsights.NewIncidentsClient(info.SubscriptionID, cred, &arm.ClientOptions{ClientOptions: copts}); err != nil {
		t.Fatal(err)
	}
	if p.alerts, err = armsecurity.NewAlertsClient(info.SubscriptionID, cred, &arm.ClientOptions{ClientOptions: copts}); err != nil {
		t.Fatal(err)
	}
	if p.assessments, err = armsecurity.NewAssessmentsClient(cred, &arm.ClientOptions{ClientOptions: copts}); err != nil {
		t.Fatal(err)
	}
	if p.governance, err = armsecurity.NewGovernanceAssignmentsClient(cred, &arm.ClientOptions{ClientOptions: copts}); err != nil {
		t.Fatal(err)
	}
	return p
}

// raise makes Defender for Cloud raise an alert (the simulator's control
// API; there is no SDK call for "an attack happened") and returns its name.
func (p *portal) raise(t testing.TB) string {
	t.Helper()
	res, err := p.http.Post(p.info.ARMURL+"/sim/v1/defender/alerts", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var a struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if err := json.NewDecoder(res.Body).Decode(&a); err != nil || res.StatusCode/100 != 2 {
		t.Fatalf("raise alert: %d %v", res.StatusCode, err)
	}
	if a.Name == "" {
		a.Name = a.ID[strings.LastIndex(a.ID, "/")+1:]
	}
	return a.Name
}

// incidentOf finds the Sentinel incident of a Defender alert through the
// SDK: the incident whose alert's providerAlertId is the alert name.
func (p *portal) incidentOf(t testing.TB, alertName string) *armsecurityinsights.Incident {
	t.Helper()
	ctx := context.Background()
	pager := p.incidents.NewListPager(p.info.ResourceGroup, p.info.Workspace, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, inc := range page.Value {
			as, err := p.incidents.ListAlerts(ctx, p.info.ResourceGroup, p.info.Workspace, *inc.Name, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range as.Value {
				if a.Properties != nil && a.Properties.ProviderAlertID != nil && *a.Properties.ProviderAlertID == alertName {
					return inc
				}
			}
		}
	}
	t.Fatalf("no Sentinel incident for alert %s", alertName)
	return nil
}

func (p *portal) incident(t testing.TB, name string) *armsecurityinsights.Incident {
	t.Helper()
	r, err := p.incidents.Get(context.Background(), p.info.ResourceGroup, p.info.Workspace, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &r.Incident
}

func (p *portal) alertStatus(t testing.TB, name string) string {
	t.Helper()
	r, err := p.alerts.GetSubscriptionLevel(context.Background(), "westeurope", name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return string(*r.Properties.Status)
}

// vigilAPI watches vigil through its API.
type vigilAPI struct {
	base, token string
}

func (v vigilAPI) call(t testing.TB, method, path, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, v.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+v.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return res.StatusCode
}

// itemOfIncident waits until vigil has pulled the Sentinel incident and
// returns its work item id.
func (v vigilAPI) itemOfIncident(t testing.TB, name string, within time.Duration) int64 {
	t.Helper()
	var id int64
	eventually(t, within, "vigil pulls incident "+name, func() bool {
		var page struct {
			Items []struct {
				SourceID   string `json:"source_id"`
				WorkItemID int64  `json:"workitem_id"`
			} `json:"items"`
		}
		v.call(t, "GET", "/api/v1/incidents?source=sentinel&limit=200", "", &page)
		for _, in := range page.Items {
			if in.SourceID == name {
				id = in.WorkItemID
				return id != 0
			}
		}
		return false
	})
	return id
}

func (v vigilAPI) timeline(t testing.TB, id int64) string {
	t.Helper()
	var page struct {
		Items []struct {
			Message string `json:"message"`
		} `json:"items"`
	}
	v.call(t, "GET", fmt.Sprintf("/api/v1/workitems/%d/timeline?limit=500", id), "", &page)
	var b strings.Builder
	for _, e := range page.Items {
		b.WriteString(e.Message + "\n")
	}
	return b.String()
}

func (v vigilAPI) walkToClosed(t testing.TB, id int64, reason string) {
	t.Helper()
	for _, step := range []struct{ to, reason string }{{"Approved", ""}, {"Active", ""}, {"Verification", ""}, {"Closed", reason}} {
		if code := v.call(t, "POST", fmt.Sprintf("/api/v1/workitems/%d/transitions", id),
			fmt.Sprintf(`{"to":%q,"reason":%q}`, step.to, step.reason), nil); code != 200 {
			t.Fatalf("move item %d to %s: %d", id, step.to, code)
		}
	}
}

func eventually(t testing.TB, within time.Duration, what string, ok func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if ok() {
			return time.Since(start)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s", what, within)
	return 0
}

// TestDemoTwoWay is the sync issue's "done when", on the real binary:
// `vigil demo` prints the simulator's JSON line and an admin token; a
// script acting as portal users through Microsoft's SDKs then sees
//   - a Defender for Cloud alert dismissed in the portal close its
//     Sentinel incident as BenignPositive, the decision on the timeline;
//   - a work item closed in vigil close its incident and resolve its alert;
//   - the mirrored Azure Boards item closed in Boards do the same.
func TestDemoTwoWay(t *testing.T) {
	addr := freePort(t)
	cmd := exec.Command(vigilBin, "demo", "--listen", addr, "--scenario", "0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			t.Logf("vigil demo stderr:\n%s", stderr.String())
		}
	})
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var info simInfo
	var token string
	timeout := time.After(60 * time.Second)
	for token == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("vigil demo exited early")
			}
			if strings.HasPrefix(l, "{") {
				if err := json.Unmarshal([]byte(l), &info); err != nil {
					t.Fatalf("first line %q: %v", l, err)
				}
			}
			if strings.HasPrefix(l, "vgl_") {
				token = l
			}
		case <-timeout:
			t.Fatal("vigil demo printed no token")
		}
	}
	if info.TenantID == "" || info.CAFile == "" || info.DevOpsURL == "" {
		t.Fatalf("simulator line = %+v, want the keys vigil simulate prints", info)
	}
	p := newPortal(t, info)
	v := vigilAPI{base: "http://" + addr, token: token}
	ctx := context.Background()
	const cycle = 3 * time.Second // the demo's poll interval

	// 1. Dismissed in Defender for Cloud → incident closed as BenignPositive.
	dismissed := p.raise(t)
	inc := p.incidentOf(t, dismissed)
	item := v.itemOfIncident(t, *inc.Name, 4*cycle)
	if _, err := p.alerts.UpdateSubscriptionLevelStateToDismiss(ctx, "westeurope", dismissed, nil); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, 2*cycle, "the dismissed alert's incident closes", func() bool {
		got := p.incident(t, *inc.Name)
		return *got.Properties.Status == armsecurityinsights.IncidentStatusClosed
	})
	t.Logf("dismissal → incident closed in %s (poll interval %s)", took.Round(100*time.Millisecond), cycle)
	got := p.incident(t, *inc.Name)
	if c := got.Properties.Classification; c == nil || *c != armsecurityinsights.IncidentClassificationBenignPositive {
		t.Errorf("incident classification = %v, want BenignPositive", c)
	}
	if c := got.Properties.ClassificationComment; c == nil || !strings.Contains(*c, "dismissed in Defender for Cloud") {
		t.Errorf("closure comment = %v, want the reconciler's explanation", c)
	}
	eventually(t, 3*cycle, "the decision and the follow-up are on the timeline", func() bool {
		tl := v.timeline(t, item)
		return strings.Contains(tl, "reconciler: close Sentinel incident") && strings.Contains(tl, "BenignPositive") &&
			regexp.MustCompile(`moved from New to Closed: incident \d+ closed in Sentinel as BenignPositive`).MatchString(tl)
	})

	// 2. A work item closed in vigil → incident closed, alert resolved.
	resolved := p.raise(t)
	inc2 := p.incidentOf(t, resolved)
	item2 := v.itemOfIncident(t, *inc2.Name, 4*cycle)
	v.walkToClosed(t, item2, "true positive: host reimaged")
	eventually(t, 5*cycle, "closing the item closes incident and resolves alert", func() bool {
		got := p.incident(t, *inc2.Name)
		return *got.Properties.Status == armsecurityinsights.IncidentStatusClosed && p.alertStatus(t, resolved) == "Resolved"
	})
	if c := p.incident(t, *inc2.Name).Properties.Classification; c == nil || *c != armsecurityinsights.IncidentClassificationTruePositive {
		t.Errorf("classification from the reason 'true positive' = %v, want TruePositive", c)
	}

	// 3. The mirrored Azure Boards item closed in Boards → the same.
	viaBoards := p.raise(t)
	inc3 := p.incidentOf(t, viaBoards)
	item3 := v.itemOfIncident(t, *inc3.Name, 4*cycle)
	var boardsID string
	eventually(t, 4*cycle, "the item is mirrored to Azure Boards", func() bool {
		m := regexp.MustCompile(`mirrored as devops (\d+)`).FindStringSubmatch(v.timeline(t, item3))
		if m != nil {
			boardsID = m[1]
		}
		return m != nil
	})
	res, err := p.http.Post(fmt.Sprintf("%s/sim/v1/devops/workitems/%s/state", info.ARMURL, boardsID), "application/json",
		strings.NewReader(`{"state":"Closed","by":"Alice","reason":"Fixed"}`))
	if err != nil || res.StatusCode/100 != 2 {
		t.Fatalf("close Boards item %s: %v %v", boardsID, res.Status, err)
	}
	res.Body.Close()
	eventually(t, 5*cycle, "closing the Boards item closes incident and resolves alert", func() bool {
		got := p.incident(t, *inc3.Name)
		return *got.Properties.Status == armsecurityinsights.IncidentStatusClosed && p.alertStatus(t, viaBoards) == "Resolved"
	})
	tl := v.timeline(t, item3)
	if !strings.Contains(tl, "Azure Boards work item "+boardsID+" moved to Closed by alice@contoso.com") {
		t.Errorf("timeline lacks the Boards cause:\n%s", tl)
	}
	if strings.Contains(tl, "devops workitem.update") {
		t.Errorf("the move that came from Boards was echoed back to Boards:\n%s", tl)
	}
}
