package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// amBinaries finds Debian's Alertmanager and amtool, which scripts/test
// installs.
func amBinaries(t *testing.T) (alertmanagerBin, amtoolBin string) {
	t.Helper()
	am, err1 := exec.LookPath("prometheus-alertmanager")
	if err1 != nil {
		am, err1 = exec.LookPath("alertmanager")
	}
	tool, err2 := exec.LookPath("amtool")
	if err1 != nil || err2 != nil {
		t.Fatalf("Alertmanager and amtool are needed (Debian's prometheus-alertmanager; scripts/test installs it): %v %v", err1, err2)
	}
	return am, tool
}

// amtoolRun runs amtool against vigil with an API token in an HTTP
// config file, as a user configures it.
type amtoolRun struct {
	bin, url, httpConfig string
}

func (a amtoolRun) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(a.bin, append([]string{"--alertmanager.url=" + a.url, "--http.config.file=" + a.httpConfig}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String() + errb.String(), fmt.Errorf("amtool %s: %w: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

func (a amtoolRun) must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := a.run(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAmtoolAgainstVigil: Alertmanager's own command-line client, unchanged,
// against vigil: alert add and query (with a matcher), silence add, query
// and expire; an alert matching amtool's silence makes no item and is
// listed as silenced; check-config accepts the configuration the importer
// reads.
func TestAmtoolAgainstVigil(t *testing.T) {
	_, tool := amBinaries(t)
	data := t.TempDir()
	vigil(t, "", "migrate", "--data", data)
	token := createToken(t, data, "responder")
	addr := freePort(t)
	s := startServer(t, addr, "--data", data)
	httpConf := filepath.Join(data, "amtool-http.yml")
	if err := os.WriteFile(httpConf, []byte("authorization:\n  type: Bearer\n  credentials: "+token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	am := amtoolRun{bin: tool, url: s.url, httpConfig: httpConf}
	v := vigilAPI{base: s.url, token: token}

	am.must(t, "alert", "add", "alertname=AmtoolDisk", "instance=db-1:9100", "severity=critical", "--annotation=summary=disk full")
	out := am.must(t, "alert", "query", "alertname=AmtoolDisk", "-o", "json")
	var alerts []struct {
		Labels map[string]string `json:"labels"`
		Status struct {
			State      string   `json:"state"`
			SilencedBy []string `json:"silencedBy"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &alerts); err != nil || len(alerts) != 1 || alerts[0].Labels["instance"] != "db-1:9100" {
		t.Fatalf("amtool alert query: %v %s", err, out)
	}

	id := strings.TrimSpace(am.must(t, "silence", "add", "alertname=AmtoolNoise", "instance=~web-.*", "--author=ana", "--comment=deploying", "--duration=1h"))
	if len(id) < 8 {
		t.Fatalf("amtool silence add printed %q, want the id", id)
	}
	out = am.must(t, "silence", "query", "-o", "json")
	if !strings.Contains(out, id) || !strings.Contains(out, `"active"`) {
		t.Fatalf("amtool silence query: %s", out)
	}
	// An alert the silence matches: no New item, listed as silenced.
	items := func() int {
		var page struct {
			Items []struct{ ID int64 } `json:"items"`
		}
		v.call(t, "GET", "/api/v1/workitems?limit=100", "", &page)
		return len(page.Items)
	}
	before := items()
	am.must(t, "alert", "add", "alertname=AmtoolNoise", "instance=web-7:9100")
	if n := items(); n != before {
		t.Errorf("a silenced alert made an item: %d items, want %d", n, before)
	}
	out = am.must(t, "alert", "query", "--silenced", "alertname=AmtoolNoise", "-o", "json")
	if err := json.Unmarshal([]byte(out), &alerts); err != nil || len(alerts) != 1 || alerts[0].Status.State != "suppressed" ||
		len(alerts[0].Status.SilencedBy) != 1 || alerts[0].Status.SilencedBy[0] != id {
		t.Errorf("amtool alert query --silenced: %v %s", err, out)
	}
	// A bad matcher: amtool shows vigil's message.
	if out, err := am.run(t, "alert", "query", `alertname=~"(`); err == nil {
		t.Errorf("a bad matcher was accepted: %s", out)
	}

	am.must(t, "silence", "expire", id)
	time.Sleep(1100 * time.Millisecond) // the expiry is "now"; Alertmanager calls it expired after
	out = am.must(t, "silence", "query", "--expired", "-o", "json")
	if !strings.Contains(out, id) || !strings.Contains(out, `"expired"`) {
		t.Errorf("after amtool silence expire: %s", out)
	}

	// check-config on the configuration `vigil import alertmanager-config`
	// reads.
	cfg, err := filepath.Abs("testdata/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(tool, "check-config", cfg).CombinedOutput(); err != nil {
		t.Errorf("amtool check-config %s: %v\n%s", cfg, err, out)
	}
}

// TestAlertmanagerWebhookFromRealAlertmanager: Debian's Alertmanager, with
// a webhook_config pointing at vigil, delivers a group of two alerts:
// vigil stores it as one item; when the alerts resolve, Alertmanager's
// resolved notification resolves them in vigil.
func TestAlertmanagerWebhookFromRealAlertmanager(t *testing.T) {
	amBin, _ := amBinaries(t)
	data := t.TempDir()
	vigil(t, "", "migrate", "--data", data)
	token := createToken(t, data, "admin")
	key := createKey(t, data, "alertmanager", "alertmanager")
	addr := freePort(t)
	s := startServer(t, addr, "--data", data)
	v := vigilAPI{base: s.url, token: token}

	amAddr := freePort(t)
	cluster := freePort(t)
	amDir := t.TempDir()
	conf := filepath.Join(amDir, "alertmanager.yml")
	if err := os.WriteFile(conf, fmt.Appendf(nil, `route:
  receiver: vigil
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: vigil
    webhook_configs:
      - url: %s/api/v1/webhooks/alertmanager
        send_resolved: true
        http_config:
          authorization: {type: Bearer, credentials: %s}
`, s.url, key), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(amBin, "--config.file="+conf, "--storage.path="+filepath.Join(amDir, "data"), "--web.listen-address="+amAddr,
		"--cluster.listen-address=127.0.0.1:"+strings.Split(cluster, ":")[1], "--log.level=warn")
	var amLog bytes.Buffer
	cmd.Stdout, cmd.Stderr = &amLog, &amLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	eventually(t, 20*time.Second, "Alertmanager is ready", func() bool {
		res, err := http.Get("http://" + amAddr + "/-/ready")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	post := func(endsAt string) {
		body := fmt.Sprintf(`[{"labels":{"alertname":"RealAMDisk","instance":"db-1:9100","severity":"critical"},"annotations":{"summary":"disk"},"startsAt":%q%s},
			{"labels":{"alertname":"RealAMDisk","instance":"db-2:9100","severity":"critical"},"annotations":{"summary":"disk"},"startsAt":%q%s}]`,
			time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), endsAt, time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), endsAt)
		res, err := http.Post("http://"+amAddr+"/api/v2/alerts", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("Alertmanager took the alerts with %d", res.StatusCode)
		}
	}
	post("")
	type alertRow struct {
		WorkItemID int64  `json:"workitem_id"`
		Status     string `json:"status"`
	}
	var page struct {
		Items []alertRow `json:"items"`
	}
	eventually(t, 30*time.Second, "Alertmanager's group reaches vigil as one item", func() bool {
		v.call(t, "GET", "/api/v1/alerts?source=alertmanager", "", &page)
		return len(page.Items) == 2 && page.Items[0].WorkItemID != 0 && page.Items[0].WorkItemID == page.Items[1].WorkItemID
	})
	item := page.Items[0].WorkItemID
	post(fmt.Sprintf(`,"endsAt":%q`, time.Now().UTC().Format(time.RFC3339)))
	eventually(t, 30*time.Second, "the resolved notification resolves both alerts", func() bool {
		v.call(t, "GET", "/api/v1/alerts?source=alertmanager", "", &page)
		return len(page.Items) == 2 && page.Items[0].Status == "resolved" && page.Items[1].Status == "resolved"
	})
	if tl := v.timeline(t, item); !strings.Contains(strings.ToLower(tl), "resolved") {
		t.Errorf("the item's timeline does not record the resolution:\n%s", tl)
	}
	if t.Failed() {
		t.Logf("alertmanager's log:\n%s\nvigil's log:\n%s", amLog.String(), s.logs.String())
	}
}
