package app

import (
	"fmt"
	"net/http"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/enrich"
	"github.com/vigil-soc/vigil/internal/enrichment"
	"github.com/vigil-soc/vigil/internal/feeds"
)

// enrichProviders builds the configured enrichment providers: VirusTotal
// and AbuseIPDB with an API key, GeoIP with a database, each generic HTTP
// provider and Cortex analyzer, and vigil's own history unless turned
// off. Per-provider reuse times are returned by name.
func enrichProviders(cfg config.Enrichment, history enrichment.Profiles, clk clock.Clock) ([]enrich.Provider, map[string]time.Duration, error) {
	ttls := map[string]time.Duration{}
	hc := &http.Client{Timeout: 20 * time.Second}
	var ps []enrich.Provider
	if cfg.VirusTotal.APIKey != "" {
		vt, err := enrich.NewVirusTotal(enrich.VTConfig{BaseURL: cfg.VirusTotal.BaseURL, APIKey: cfg.VirusTotal.APIKey, HTTPClient: hc, Now: clk.Now})
		if err != nil {
			return nil, nil, fmt.Errorf("enrichment.virustotal: %w", err)
		}
		ps = append(ps, vt)
	}
	if cfg.AbuseIPDB.APIKey != "" {
		ab, err := enrich.NewAbuseIPDB(enrich.AbuseIPDBConfig{BaseURL: cfg.AbuseIPDB.BaseURL, APIKey: cfg.AbuseIPDB.APIKey, HTTPClient: hc, Now: clk.Now})
		if err != nil {
			return nil, nil, fmt.Errorf("enrichment.abuseipdb: %w", err)
		}
		ps = append(ps, ab)
	}
	if cfg.GeoIP.CityDB != "" || cfg.GeoIP.ASNDB != "" {
		g, err := enrich.NewGeoIP(enrich.GeoIPConfig{CityDB: cfg.GeoIP.CityDB, ASNDB: cfg.GeoIP.ASNDB, Now: clk.Now})
		if err != nil {
			return nil, nil, fmt.Errorf("enrichment.geoip: %w", err)
		}
		ps = append(ps, g)
	}
	for i, h := range cfg.HTTP {
		headers := map[string]string{}
		var secrets []string
		for k, v := range h.Headers {
			headers[k] = v
		}
		for k, v := range h.Secrets {
			headers[k] = v
			secrets = append(secrets, v)
		}
		m := h.Mapping
		p, err := enrich.NewHTTP(enrich.HTTPConfig{Name: h.Name, URLTemplate: h.URL, Method: h.Method, BodyTemplate: h.Body, Headers: headers,
			DataTypes: h.DataTypes, HTTPClient: hc, Now: clk.Now, Quota: enrich.Quota{PerMinute: h.PerMinute, PerDay: h.PerDay}, Secrets: secrets,
			Mapping: enrich.Mapping{Namespace: m.Namespace, Predicate: m.Predicate, Value: m.Value, Summary: m.Summary,
				Level: enrich.LevelMapping{Path: m.Level.Path, Values: m.Level.Values, MaliciousAt: m.Level.MaliciousAt,
					SuspiciousAt: m.Level.SuspiciousAt, SafeAt: m.Level.SafeAt, Default: m.Level.Default}}})
		if err != nil {
			return nil, nil, fmt.Errorf("enrichment.http[%d] (%s): %w", i, h.Name, err)
		}
		ps = append(ps, p)
		if h.CacheTTL > 0 {
			ttls[h.Name] = h.CacheTTL
		}
	}
	for i, c := range cfg.Cortex {
		cx, err := enrich.NewCortex(enrich.CortexConfig{Name: c.Name, Command: c.Command, DataTypes: c.DataTypes, Config: c.Config,
			Timeout: time.Duration(c.TimeoutS) * time.Second})
		if err != nil {
			return nil, nil, fmt.Errorf("enrichment.cortex[%d]: %w", i, err)
		}
		ps = append(ps, cx)
	}
	if cfg.HistoryOn() && history != nil {
		ps = append(ps, enrichment.NewHistory(history, clk.Now))
	}
	return ps, ttls, nil
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
	for i, c := range cfg.CSV {
		name := c.Name
		if name == "" {
			name = fmt.Sprintf("csv-%d", i+1)
		}
		var comment rune
		for _, r := range c.Comment {
			comment = r
		}
		hdr := http.Header{}
		for k, v := range c.Headers {
			hdr.Set(k, v)
		}
		f, err := feeds.NewCSVFile(feeds.CSVFileConfig{Name: name, Source: c.Source, HTTPClient: hc, Header: hdr, Now: clk.Now,
			CSV: feeds.CSVConfig{TypeColumn: c.TypeColumn, ValueColumn: c.ValueColumn, ConfidenceColumn: c.ConfidenceColumn,
				TagsColumn: c.TagsColumn, DefaultType: c.DefaultType, Comment: comment}})
		if err != nil {
			return nil, fmt.Errorf("threat_intel.csv[%d]: %w", i, err)
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
