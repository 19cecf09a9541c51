package config

import (
	"fmt"
	"strings"
	"time"
)

// Enrichment configures the enrichment providers (the file's enrichment:
// section). API keys come from an environment variable or a file only.
type Enrichment struct {
	VirusTotal KeyedAPI `koanf:"virustotal"`
	AbuseIPDB  KeyedAPI `koanf:"abuseipdb"`
	GeoIP      struct {
		CityDB string `koanf:"city_db"`
		ASNDB  string `koanf:"asn_db"`
	} `koanf:"geoip"`
	// Cortex lists Cortex analyzers to run unchanged (job directories).
	Cortex []CortexAnalyzer `koanf:"cortex"`
	// CacheTTL is how long a provider's report on an observable is reused
	// (default 24h).
	CacheTTL time.Duration `koanf:"cache_ttl"`
}

// KeyedAPI is a provider reached with an API key.
type KeyedAPI struct {
	APIKeyEnv  string `koanf:"api_key_env"`
	APIKeyFile string `koanf:"api_key_file"`
	APIKey     string `koanf:"-"`
	// BaseURL replaces the provider's public API (tests, a proxy).
	BaseURL string `koanf:"base_url"`
}

// CortexAnalyzer is one Cortex analyzer's command.
type CortexAnalyzer struct {
	Name      string         `koanf:"name"`
	Command   []string       `koanf:"command"`
	DataTypes []string       `koanf:"data_types"`
	Config    map[string]any `koanf:"config"`
	TimeoutS  int            `koanf:"timeout_seconds"`
}

func init() {
	for _, k := range []string{"virustotal.api_key_env", "virustotal.api_key_file", "virustotal.base_url",
		"abuseipdb.api_key_env", "abuseipdb.api_key_file", "abuseipdb.base_url", "geoip.city_db", "geoip.asn_db", "cortex", "cache_ttl"} {
		pagingKeys["enrichment."+k] = true
	}
}

func (e *Enrichment) resolve(environ []string) error {
	for _, p := range []struct {
		name string
		api  *KeyedAPI
	}{{"virustotal", &e.VirusTotal}, {"abuseipdb", &e.AbuseIPDB}} {
		key := "enrichment." + p.name
		if p.api.APIKeyEnv != "" && p.api.APIKeyFile != "" {
			return fmt.Errorf("%s: set api_key_env or api_key_file, not both", key)
		}
		v, err := secret(key+".api_key", p.api.APIKeyEnv, p.api.APIKeyFile, environ)
		if err != nil {
			return err
		}
		p.api.APIKey = v
		if p.api.BaseURL != "" {
			if err := httpURL(key+".base_url", p.api.BaseURL); err != nil {
				return err
			}
		}
	}
	for i, c := range e.Cortex {
		if strings.TrimSpace(c.Name) == "" || len(c.Command) == 0 || len(c.DataTypes) == 0 {
			return fmt.Errorf("enrichment.cortex[%d]: name, command and data_types are required", i)
		}
	}
	if e.CacheTTL < 0 {
		return fmt.Errorf("enrichment.cache_ttl: must not be negative")
	}
	return nil
}
