package app

import (
	"fmt"
	"time"

	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/enrich/vtemu"
	"github.com/vigil-soc/vigil/internal/feeds/feedsemu"
)

// DemoOTXPulse is the pulse the demo's OTX emulator publishes a minute
// after the start, so that a newcomer sees the retro-hunt annotate
// alerts that arrived before it.
const DemoOTXPulse = "Demo: command-and-control infrastructure"

// demoIntel starts emulated VirusTotal and AlienVault OTX services and
// configures vigil for them, unless the configuration names real ones:
// "Enrich" on an item gets VirusTotal's verdicts on the scenario's
// addresses, the OTX pulse names addresses the scenario's alerts and
// telemetry use, and its indicators are hunted in the simulated
// workspace's telemetry and uploaded to it. The returned stop closes the
// emulators.
func demoIntel(cfg *config.Config) (stop func(), err error) {
	var closers []func()
	stop = func() {
		for _, c := range closers {
			c()
		}
	}
	if cfg.Enrichment.VirusTotal.APIKey == "" {
		key := randomHex(16)
		vt := vtemu.Start(key)
		closers = append(closers, vt.Close)
		for ip, st := range map[string]vtemu.Stats{
			"203.0.113.7":    {Malicious: 14, Suspicious: 2, Harmless: 55, Undetected: 23},
			"198.51.100.23":  {Malicious: 9, Harmless: 60, Undetected: 25},
			"203.0.113.44":   {Suspicious: 3, Harmless: 66, Undetected: 25},
			"192.0.2.15":     {Harmless: 72, Undetected: 22},
			"198.51.100.190": {Harmless: 70, Undetected: 24},
			"192.0.2.200":    {Harmless: 68, Undetected: 26},
		} {
			vt.AddIP(ip, st, map[string]any{"country": "NL", "as_owner": "Example Hosting"})
		}
		cfg.Enrichment.VirusTotal = config.KeyedAPI{APIKey: key, BaseURL: vt.BaseURL}
	}
	if cfg.ThreatIntel.OTX.APIKey == "" {
		key := randomHex(16)
		otx, err := feedsemu.NewOTXServer(key)
		if err != nil {
			stop()
			return nil, fmt.Errorf("demo: otx emulator: %w", err)
		}
		u, err := otx.Start()
		if err != nil {
			stop()
			return nil, fmt.Errorf("demo: otx emulator: %w", err)
		}
		closers = append(closers, func() { otx.Close() })
		cfg.ThreatIntel.OTX = config.KeyedAPI{APIKey: key, BaseURL: u}
		cfg.ThreatIntel.Interval = 30 * time.Second
		// The pulse appears a minute in: the alerts before it are found
		// by the retro-hunt, the ones after it as they arrive.
		t := time.AfterFunc(time.Minute, func() {
			now := time.Now()
			_ = otx.AddPulse(feedsemu.OTXPulse{ID: "demo-c2", Name: DemoOTXPulse, Created: now, Modified: now, Tags: []string{"c2", "demo"},
				Indicators: []feedsemu.OTXIndicator{
					{ID: 1, Indicator: "203.0.113.7", Type: "IPv4", Created: now, IsActive: 1},
					{ID: 2, Indicator: "198.51.100.23", Type: "IPv4", Created: now, IsActive: 1},
					{ID: 3, Indicator: "evil.example.com", Type: "domain", Created: now, IsActive: 1},
					{ID: 4, Indicator: "http://malware.example.net/payload.exe", Type: "URL", Created: now, IsActive: 1},
				}})
		})
		closers = append(closers, func() { t.Stop() })
	}
	if cfg.ThreatIntel.SentinelUpload == nil {
		cfg.ThreatIntel.SentinelUpload = &config.SentinelUpload{SourceSystem: "vigil demo"}
	}
	if cfg.ThreatIntel.Hunt == nil {
		cfg.ThreatIntel.Hunt = &config.Hunt{Interval: time.Minute, Lookback: 24 * time.Hour}
	}
	if cfg.ThreatIntel.RetroHunt == "" {
		cfg.ThreatIntel.RetroHunt = config.RetroAnnotate
	}
	return stop, nil
}
