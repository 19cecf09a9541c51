package test

import (
	"bufio"
	"encoding/json"
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
				Type   string `json:"type"`
				Source string `json:"source"`
			} `json:"items"`
		}
		if code == 200 && json.Unmarshal([]byte(body), &page) == nil && len(page.Items) >= 5 {
			if page.Items[0].Type != "Problem" {
				t.Errorf("a Defender alert's work item is a %s, want Problem", page.Items[0].Type)
			}
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("the demo board did not fill with the simulated tenant's Defender alerts within 30s")
}
