package test

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestDemo runs README's first command, `vigil demo`, and checks that the
// board fills with work items from the embedded simulated tenant through
// the Defender connector.
func TestDemo(t *testing.T) {
	addr := freePort(t)
	cmd := exec.Command(vigilBin, "demo", "--listen", addr)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	// The admin token is the banner's last line.
	tokens := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); strings.HasPrefix(l, "vgl_") {
				tokens <- l
			}
		}
	}()
	var token string
	select {
	case token = <-tokens:
	case <-time.After(60 * time.Second):
		t.Fatal("vigil demo printed no token")
	}
	v := vigilAPI{base: "http://" + addr, token: token}
	// The scenario raises Defender for Cloud alerts, each with its
	// Sentinel incident: one finding, one work item, the incident's.
	var f findings
	eventually(t, 45*time.Second, "the demo board fills with five findings", func() bool {
		f = v.findings(t)
		return len(f.incidents) >= 5
	})
	f.checkOnePerFinding(t)

	// Close one; the next polls read vigil's own close back, and must
	// not make a second item of it.
	in := f.incidents[0]
	id := in.WorkItemID
	closeAndSeeWriteBack(t, "http://"+addr, token, id)
	time.Sleep(3*3*time.Second + time.Second) // three sync cycles of 3 s
	if tl := v.timeline(t, id); strings.Contains(tl, "now tracked in work item") || strings.Contains(tl, "came back") {
		t.Errorf("the closed item was reopened by vigil's own write:\n%s", tl)
	}
	if n := v.successors(t, id); n != 0 {
		t.Errorf("%d items name the closed item %d as their previous one, want none", n, id)
	}
	if got := v.itemOfIncident(t, in.SourceID, time.Second); got != id {
		t.Errorf("incident %s is tracked by item %d after its close, want %d", in.SourceID, got, id)
	}
	v.findings(t).checkOnePerFinding(t)
}

// findings is what the demo's vigil holds of Defender alerts and Sentinel
// incidents.
type findings struct {
	alerts []struct {
		ID         int64  `json:"id"`
		SourceID   string `json:"source_id"`
		WorkItemID int64  `json:"workitem_id"`
	}
	incidents []struct {
		SourceID   string  `json:"source_id"`
		WorkItemID int64   `json:"workitem_id"`
		AlertIDs   []int64 `json:"alert_ids"`
	}
}

func (v vigilAPI) findings(t testing.TB) findings {
	t.Helper()
	var f findings
	var ap struct {
		Items []struct {
			ID         int64  `json:"id"`
			SourceID   string `json:"source_id"`
			WorkItemID int64  `json:"workitem_id"`
		} `json:"items"`
	}
	v.call(t, "GET", "/api/v1/alerts?source=defender&limit=500", "", &ap)
	f.alerts = ap.Items
	var ip struct {
		Items []struct {
			ID         int64  `json:"id"`
			SourceID   string `json:"source_id"`
			WorkItemID int64  `json:"workitem_id"`
		} `json:"items"`
	}
	v.call(t, "GET", "/api/v1/incidents?source=sentinel&limit=500", "", &ip)
	for _, in := range ip.Items {
		// The list leaves out members; one incident read gives them.
		var full struct {
			SourceID   string  `json:"source_id"`
			WorkItemID int64   `json:"workitem_id"`
			AlertIDs   []int64 `json:"alert_ids"`
		}
		v.call(t, "GET", fmt.Sprintf("/api/v1/incidents/%d", in.ID), "", &full)
		if full.WorkItemID != 0 && len(full.AlertIDs) > 0 {
			f.incidents = append(f.incidents, full)
		}
	}
	return f
}

// checkOnePerFinding: every Defender alert that an incident contains is
// on that incident's item, never on an item of its own.
func (f findings) checkOnePerFinding(t testing.TB) {
	t.Helper()
	itemOf := map[int64]int64{}
	for _, a := range f.alerts {
		itemOf[a.ID] = a.WorkItemID
	}
	for _, in := range f.incidents {
		for _, aid := range in.AlertIDs {
			if got, ok := itemOf[aid]; ok && got != in.WorkItemID {
				t.Errorf("Defender alert %d of incident %s is on item %d, want the incident's item %d", aid, in.SourceID, got, in.WorkItemID)
			}
		}
	}
}

// successors counts the items opened as successors of item id.
func (v vigilAPI) successors(t testing.TB, id int64) int {
	t.Helper()
	n := 0
	cursor := ""
	for {
		var page struct {
			Items []struct {
				PreviousID int64 `json:"previous_id"`
			} `json:"items"`
			Next string `json:"next_cursor"`
		}
		v.call(t, "GET", "/api/v1/workitems?limit=500"+cursor, "", &page)
		for _, it := range page.Items {
			if it.PreviousID == id {
				n++
			}
		}
		if page.Next == "" {
			return n
		}
		cursor = "&cursor=" + page.Next
	}
}

// closeAndSeeWriteBack walks an item to Closed and waits for the outbox to
// resolve its Defender for Cloud alert in the simulated tenant, which the
// item's timeline reports.
func closeAndSeeWriteBack(t testing.TB, base, token string, id int64) {
	t.Helper()
	for _, step := range []struct{ to, reason string }{{"Approved", ""}, {"Active", ""}, {"Verification", ""}, {"Closed", "TruePositive: handled"}} {
		body := fmt.Sprintf(`{"to":%q,"reason":%q}`, step.to, step.reason)
		req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/workitems/%d/transitions", base, id), strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("move item %d to %s: %d", id, step.to, resp.StatusCode)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		_, body := get(t, fmt.Sprintf("%s/api/v1/workitems/%d/timeline", base, id), token)
		if strings.Contains(body, "write-back done: defender alert.resolve") {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("closing the item did not resolve its Defender alert within 20s")
}
