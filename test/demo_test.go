package test

import (
	"bufio"
	"encoding/json"
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
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		code, body := get(t, "http://"+addr+"/api/v1/workitems?source=defender", token)
		var page struct {
			Items []struct {
				ID     int64  `json:"id"`
				Type   string `json:"type"`
				Source string `json:"source"`
				State  string `json:"state"`
			} `json:"items"`
		}
		if code == 200 && json.Unmarshal([]byte(body), &page) == nil && len(page.Items) >= 5 {
			if page.Items[0].Type != "Problem" {
				t.Errorf("a Defender alert's work item is a %s, want Problem", page.Items[0].Type)
			}
			for _, it := range page.Items {
				if it.State == "New" {
					closeAndSeeWriteBack(t, "http://"+addr, token, it.ID)
					return
				}
			}
			t.Fatal("no New item to close")
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("the demo board did not fill with the simulated tenant's Defender alerts within 30s")
}

// closeAndSeeWriteBack walks an item to Closed and waits for the outbox to
// resolve its Defender for Cloud alert in the simulated tenant, which the
// item's timeline reports.
func closeAndSeeWriteBack(t *testing.T, base, token string, id int64) {
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
