package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/enrich/vtemu"
	"github.com/vigil-soc/vigil/internal/feeds/feedsemu"
	"github.com/vigil-soc/vigil/internal/simulator"
)

// TestThreatIntelEndToEnd is issue 16's "done when", on the real binary
// (`vigil serve`) against the simulated tenant and emulated OTX and
// VirusTotal:
//   - an OTX pulse arriving after an alert leads, within one feed
//     interval, to a match on that alert's item (the retro-hunt): the
//     tag, a timeline entry, and a comment mirrored to the Sentinel
//     incident, read back from Sentinel;
//   - "Enrich" on the item gives a VirusTotal summary comment from the
//     emulator, and a Cortex-contract analyzer's taxonomy as the
//     entity's verdict;
//   - the indicators reach the workspace through the STIX-objects upload
//     API, and the hunt over the workspace's telemetry turns a device
//     that talked to the indicator into an alert.
func TestThreatIntelEndToEnd(t *testing.T) {
	data := t.TempDir()
	caFile := filepath.Join(data, "sim-ca.pem")
	sim := simulator.New(simulator.Options{})
	srv, err := simulator.Listen(sim, "127.0.0.1:0", caFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	info := srv.Info

	otx, err := feedsemu.NewOTXServer("otx-e2e-key")
	if err != nil {
		t.Fatal(err)
	}
	otxURL, err := otx.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { otx.Close() })
	vt := vtemu.Start("vt-e2e-key")
	t.Cleanup(vt.Close)
	vt.AddIP("203.0.113.7", vtemu.Stats{Malicious: 14, Suspicious: 1, Harmless: 55, Undetected: 24}, map[string]any{"country": "NL"})

	analyzer, err := filepath.Abs("testdata/cortex_reputation.sh")
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(data, "vigil.yaml")
	if err := os.WriteFile(conf, fmt.Appendf(nil, `sync:
  interval: 1s
  azure:
    tenant_id: %s
    client_id: %s
    client_secret_env: E2E_SIM_SECRET
    authority_host: %s
    arm_endpoint: %s
    graph_url: %s
    loganalytics_url: %s
    ti_upload_url: %s
    ca_file: %s
  sentinel:
    - {subscription_id: %s, resource_group: %s, workspace: %s, workspace_id: %s}
  defender:
    - {subscription_id: %s}
enrichment:
  virustotal: {api_key_env: E2E_VT_KEY, base_url: %s}
  cortex:
    - {name: Reputation_1_0, command: [sh, %s], data_types: [ip]}
threat_intel:
  interval: 2s
  otx: {api_key_env: E2E_OTX_KEY, base_url: %s}
  sentinel_upload: {source_system: vigil-e2e}
  hunt: {interval: 5s, lookback: 24h}
`, info.TenantID, info.ClientID, info.Authority, info.ARMURL, info.GraphURL, info.LogAnalyticsURL, info.TIUploadURL, caFile,
		info.SubscriptionID, info.ResourceGroup, info.Workspace, info.WorkspaceID, info.SubscriptionID, vt.BaseURL, analyzer, otxURL), 0o600); err != nil {
		t.Fatal(err)
	}
	token := createToken(t, data, "admin")
	t.Setenv("E2E_SIM_SECRET", info.ClientSecret)
	t.Setenv("E2E_VT_KEY", "vt-e2e-key")
	t.Setenv("E2E_OTX_KEY", "otx-e2e-key")
	addr := freePort(t)
	s := startServer(t, addr, "--data", data, "--config", conf)
	v := vigilAPI{base: s.url, token: token}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("vigil's log:\n%s", s.logs.String())
		}
	})

	// An alert about 203.0.113.7, before any intelligence names it: a
	// Defender for Cloud alert (which carries the entities) and its
	// Sentinel incident, one item.
	a := sim.World().RaiseDefenderAlert(simulator.AlertSpec{IP: "203.0.113.7", Host: "vm-web-01"})
	id := v.itemOfIncident(t, a.IncidentName, 30*time.Second)
	eventually(t, 30*time.Second, "the Defender alert joins the incident's item", func() bool {
		var page struct {
			Items []struct {
				WorkItemID int64 `json:"workitem_id"`
			} `json:"items"`
		}
		v.call(t, "GET", "/api/v1/alerts?source=defender&limit=10", "", &page)
		return len(page.Items) == 1 && page.Items[0].WorkItemID == id
	})

	// The pulse arrives; within one feed interval (2 s, plus the time to
	// apply it) the item is matched, tagged, and commented.
	now := time.Now()
	if err := otx.AddPulse(feedsemu.OTXPulse{ID: "e2e", Name: "E2E C2", Created: now, Modified: now, Tags: []string{"c2"},
		Indicators: []feedsemu.OTXIndicator{{ID: 1, Indicator: "203.0.113.7", Type: "IPv4", Created: now, IsActive: 1}}}); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, 20*time.Second, "the retro-hunt matches the earlier alert", func() bool {
		return strings.Contains(v.timeline(t, id), "matches indicator ip 203.0.113.7")
	})
	t.Logf("retro-hunt match %s after the pulse", took.Round(100*time.Millisecond))
	var item struct {
		Tags []string `json:"tags"`
	}
	v.call(t, "GET", fmt.Sprintf("/api/v1/workitems/%d", id), "", &item)
	if !strings.Contains(strings.Join(item.Tags, ","), "ti-match") {
		t.Errorf("item tags = %v, want ti-match", item.Tags)
	}
	eventually(t, 20*time.Second, "the match's comment reaches the Sentinel incident", func() bool {
		return incidentComment(sim, a.IncidentName, "Threat intelligence: ip 203.0.113.7 is a known indicator")
	})

	// Enrich: VirusTotal's summary as a comment, mirrored to Sentinel; the
	// Cortex analyzer's taxonomy as the entity's verdict.
	if code := v.call(t, "POST", fmt.Sprintf("/api/v1/workitems/%d/enrich", id), `{"entity":"203.0.113.7"}`, nil); code != 202 {
		t.Fatalf("enrich: %d", code)
	}
	var reports struct {
		Enrichments []struct{ Provider, Verdict, Summary string } `json:"enrichments"`
	}
	eventually(t, 30*time.Second, "VirusTotal's and the analyzer's reports", func() bool {
		v.call(t, "GET", fmt.Sprintf("/api/v1/workitems/%d/enrichments", id), "", &reports)
		got := map[string]string{}
		for _, r := range reports.Enrichments {
			got[r.Provider] = r.Verdict
		}
		return got["VirusTotal"] == "malicious" && got["Reputation_1_0"] == "malicious"
	})
	eventually(t, 20*time.Second, "VirusTotal's summary reaches the Sentinel incident", func() bool {
		return incidentComment(sim, a.IncidentName, "VirusTotal")
	})

	// The indicator in the workspace, through the upload API.
	eventually(t, 30*time.Second, "the indicator is uploaded to Sentinel", func() bool {
		for _, o := range sim.World().TIObjects() {
			if o["name"] == "203.0.113.7" && strings.Contains(fmt.Sprint(o["pattern"]), "203.0.113.7") {
				return true
			}
		}
		return false
	})

	// A device talks to the indicator; the hunt finds it in the
	// workspace's telemetry.
	sim.World().AddNetworkEvent(simulator.NetworkEvent{TimeGenerated: time.Now().UTC(), DeviceID: "dev-e2e", DeviceName: "ws-e2e-07",
		ActionType: "ConnectionSuccess", RemoteIP: "203.0.113.7", RemotePort: 443, LocalIP: "10.0.9.7", InitiatingProcessFileName: "beacon.exe"})
	eventually(t, 30*time.Second, "the hunt opens an alert for the device", func() bool {
		var page struct {
			Items []struct {
				Title string `json:"title"`
			} `json:"items"`
		}
		v.call(t, "GET", "/api/v1/alerts?source=ti-hunt&limit=100", "", &page)
		for _, a := range page.Items {
			if strings.Contains(a.Title, "ws-e2e-07 talked to known indicator 203.0.113.7") {
				return true
			}
		}
		return false
	})
}

// incidentComment reports whether the simulated Sentinel incident has a
// comment containing text.
func incidentComment(sim *simulator.Simulator, name, text string) bool {
	inc, ok := sim.World().IncidentByName(name)
	if !ok {
		return false
	}
	for _, c := range inc.Comments {
		if strings.Contains(c.Message, text) {
			return true
		}
	}
	return false
}
