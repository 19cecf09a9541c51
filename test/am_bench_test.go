package test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAlertmanagerSideBySide measures vigil and Debian's Alertmanager
// in one run, on fresh servers, with the same payloads:
//
//   - GET /api/v2/alerts with 10,000 active alerts: 200 sequential
//     requests, p50 and p99 (vigil reads its store; Alertmanager its
//     memory);
//
//   - ingest of groups of 100 alerts for 5 s on 4 connections: vigil's
//     webhook receiver (one incident per group) against Alertmanager's own
//     POST /api/v2/alerts, which is how alerts reach it.
//
//     go test ./test -run '^$' -bench AlertmanagerSideBySide -benchtime 1x -count 3
func BenchmarkAlertmanagerSideBySide(b *testing.B) {
	amBin, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		b.Fatal("Debian's prometheus-alertmanager is needed (scripts/test installs it)")
	}
	for range b.N {
		b.StopTimer()
		// vigil.
		data := b.TempDir()
		vigil(b, "", "migrate", "--data", data)
		token := createToken(b, data, "admin")
		key := createKey(b, data, "bench", "alertmanager")
		s := startServer(b, freePort(b), "--data", data)
		// Alertmanager, with a receiver that sends nothing.
		amAddr := freePort(b)
		dir := b.TempDir()
		conf := filepath.Join(dir, "am.yml")
		os.WriteFile(conf, []byte("route: {receiver: blackhole}\nreceivers: [{name: blackhole}]\n"), 0o600)
		cmd := exec.Command(amBin, "--config.file="+conf, "--storage.path="+filepath.Join(dir, "data"), "--web.listen-address="+amAddr,
			"--cluster.listen-address=", "--log.level=warn")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		amURL := "http://" + amAddr
		waitReady(b, amURL+"/-/ready")

		// 10,000 active alerts in each.
		for i := 0; i < 10000; i += 500 {
			body := alertsBody(fmt.Sprintf("Load%d", i/500), 500, "")
			post(b, s.url+"/api/v2/alerts", token, body)
			post(b, amURL+"/api/v2/alerts", "", body)
		}
		vp50, vp99 := getLatency(b, s.url+"/api/v2/alerts", token, 10000)
		ap50, ap99 := getLatency(b, amURL+"/api/v2/alerts", "", 10000)
		b.ReportMetric(vp50, "vigil-get-p50-ms")
		b.ReportMetric(vp99, "vigil-get-p99-ms")
		b.ReportMetric(ap50, "am-get-p50-ms")
		b.ReportMetric(ap99, "am-get-p99-ms")

		var n atomic.Int64
		vRate := rate(5*time.Second, func(g int) {
			body := webhookBody(g, 100)
			post(b, s.url+"/api/v1/webhooks/alertmanager", key, body)
		}, &n)
		aRate := rate(5*time.Second, func(g int) {
			post(b, amURL+"/api/v2/alerts", "", alertsBody(fmt.Sprintf("Group%d", g), 100, ""))
		}, &n)
		b.ReportMetric(vRate, "vigil-webhook-alerts/s")
		b.ReportMetric(aRate, "am-alerts/s")
		cmd.Process.Kill()
		cmd.Wait()
		s.stop(b)
	}
}

func waitReady(b *testing.B, url string) {
	b.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatalf("%s not ready", url)
}

// alertsBody is n firing alerts of one alert name, as Prometheus posts them.
func alertsBody(name string, n int, extra string) []byte {
	var buf bytes.Buffer
	buf.WriteByte('[')
	start := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	end := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"labels":{"alertname":%q,"instance":"host-%d:9100","job":"node","severity":"warning"%s},"annotations":{"summary":"load"},"startsAt":%q,"endsAt":%q,"generatorURL":"http://prometheus:9090/graph"}`,
			name, i, extra, start, end)
	}
	buf.WriteByte(']')
	return buf.Bytes()
}

// webhookBody is Alertmanager's webhook notification for group g of n alerts.
func webhookBody(g, n int) []byte {
	var alerts []string
	start := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	for i := range n {
		alerts = append(alerts, fmt.Sprintf(`{"status":"firing","labels":{"alertname":"Group%d","instance":"host-%d:9100","job":"node","severity":"warning"},"annotations":{"summary":"load"},"startsAt":%q,"endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus:9090/graph","fingerprint":"x"}`, g, i, start))
	}
	return fmt.Appendf(nil, `{"version":"4","groupKey":"{}:{alertname=\"Group%d\"}","truncatedAlerts":0,"status":"firing","receiver":"vigil","groupLabels":{"alertname":"Group%d"},"commonLabels":{"alertname":"Group%d"},"commonAnnotations":{},"externalURL":"http://alertmanager:9093","alerts":[%s]}`,
		g, g, g, strings.Join(alerts, ","))
}

func post(b *testing.B, url, token string, body []byte) {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b.Errorf("POST %s: %d", url, res.StatusCode)
	}
}

// getLatency times 200 sequential GETs (after 5 to warm up), checking
// each answer holds want alerts.
func getLatency(b *testing.B, url, token string, want int) (p50, p99 float64) {
	var ds []float64
	for i := range 205 {
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		t0 := time.Now()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		d := time.Since(t0)
		if n := bytes.Count(body, []byte(`"fingerprint"`)); n != want {
			b.Fatalf("GET %s: %d alerts, want %d", url, n, want)
		}
		if i >= 5 {
			ds = append(ds, float64(d.Microseconds())/1000)
		}
	}
	slices.Sort(ds)
	return ds[len(ds)/2], ds[len(ds)*99/100]
}

// rate runs fn (one group of 100 alerts) on 4 connections for d and
// returns alerts per second.
func rate(d time.Duration, fn func(group int), n *atomic.Int64) float64 {
	n.Store(0)
	var next atomic.Int64
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	t0 := time.Now()
	for range 4 {
		wg.Go(func() {
			for time.Now().Before(stop) {
				fn(int(next.Add(1)))
				n.Add(100)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(t0).Seconds()
}
