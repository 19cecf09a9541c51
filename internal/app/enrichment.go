package app

import (
	"fmt"
	"net/http"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/enrich"
	"github.com/vigil-soc/vigil/internal/feeds"
)

// enrichProviders builds the configured enrichment providers: VirusTotal
// and AbuseIPDB with an API key, GeoIP with a database, and each Cortex
// analyzer. None configured: enrichment has nothing to run, and says so.
func enrichProviders(cfg config.Enrichment, clk clock.Clock) ([]enrich.Provider, error) {
	hc := &http.Client{Timeout: 20 * time.Second}
	var ps []enrich.Provider
	if cfg.VirusTotal.APIKey != "" {
		vt, err := enrich.NewVirusTotal(enrich.VTConfig{BaseURL: cfg.VirusTotal.BaseURL, APIKey: cfg.VirusTotal.APIKey, HTTPClient: hc, Now: clk.Now})
		if err != nil {
			return nil, fmt.Errorf("enrichment.virustotal: %w", err)
		}
		ps = append(ps, vt)
	}
	if cfg.AbuseIPDB.APIKey != "" {
		ab, err := enrich.NewAbuseIPDB(enrich.AbuseIPDBConfig{BaseURL: cfg.AbuseIPDB.BaseURL, APIKey: cfg.AbuseIPDB.APIKey, HTTPClient: hc, Now: clk.Now})
		if err != nil {
			return nil, fmt.Errorf("enrichment.abuseipdb: %w", err)
		}
		ps = append(ps, ab)
	}
	if cfg.GeoIP.CityDB != "" || cfg.GeoIP.ASNDB != "" {
		g, err := enrich.NewGeoIP(enrich.GeoIPConfig{CityDB: cfg.GeoIP.CityDB, ASNDB: cfg.GeoIP.ASNDB, Now: clk.Now})
		if err != nil {
			return nil, fmt.Errorf("enrichment.geoip: %w", err)
		}
		ps = append(ps, g)
	}
	for i, c := range cfg.Cortex {
		cx, err := enrich.NewCortex(enrich.CortexConfig{Name: c.Name, Command: c.Command, DataTypes: c.DataTypes, Config: c.Config,
			Timeout: time.Duration(c.TimeoutS) * time.Second})
		if err != nil {
			return nil, fmt.Errorf("enrichment.cortex[%d]: %w", i, err)
		}
		ps = append(ps, cx)
	}
	return ps, nil
}

// intelFeeds builds the configured indicator feeds.
func intelFeeds(cfg config.ThreatIntel, clk clock.Clock) ([]feeds.Feed, error) {
	hc := &http.Client{Timeout: 60 * time.Second}
	var fs []feeds.Feed
	if cfg.OTX.APIKey != "" {
		f, err := feeds.NewOTX(feeds.OTXConfig{BaseURL: cfg.OTX.BaseURL, APIKey: cfg.OTX.APIKey, HTTPClient: hc, Now: clk.Now})
		if err != nil {
			return nil, fmt.Errorf("threat_intel.otx: %w", err)
		}
		fs = append(fs, f)
	}
	if cfg.MISP.APIKey != "" {
		f, err := feeds.NewMISP(feeds.MISPConfig{BaseURL: cfg.MISP.BaseURL, APIKey: cfg.MISP.APIKey, HTTPClient: hc, Now: clk.Now})
		if err != nil {
			return nil, fmt.Errorf("threat_intel.misp: %w", err)
		}
		fs = append(fs, f)
	}
	if t := cfg.TAXII; t.APIRoot != "" {
		f, err := feeds.NewTAXII(feeds.TAXIIConfig{APIRoot: t.APIRoot, Collection: t.Collection, Username: t.Username, Password: t.Password,
			HTTPClient: hc, Now: clk.Now})
		if err != nil {
			return nil, fmt.Errorf("threat_intel.taxii: %w", err)
		}
		fs = append(fs, f)
	}
	for i, path := range cfg.STIXFiles {
		f, err := feeds.NewSTIXFile(fmt.Sprintf("stix-file-%d", i+1), path)
		if err != nil {
			return nil, fmt.Errorf("threat_intel.stix_files[%d]: %w", i, err)
		}
		fs = append(fs, f)
	}
	return fs, nil
}
