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
	// HTTP lists generic HTTP providers: a URL template and a mapping of
	// the JSON answer to a taxonomy.
	HTTP []HTTPProvider `koanf:"http"`
	// History, on by default, is vigil's own provider: how often an
	// entity was seen, in which items, with which outcomes.
	History *bool `koanf:"history"`
	// CacheTTL is how long a provider's report on an observable is reused
	// (default 24h).
	CacheTTL time.Duration `koanf:"cache_ttl"`
}

// HistoryOn reports whether vigil's own history provider runs.
func (e Enrichment) HistoryOn() bool { return e.History == nil || *e.History }

// HTTPProvider is a generic HTTP enrichment provider.
type HTTPProvider struct {
	Name      string   `koanf:"name"`
	URL       string   `koanf:"url"`    // a text/template over .DataType and .Data
	Method    string   `koanf:"method"` // default GET
	Body      string   `koanf:"body"`   // a text/template, for POST
	DataTypes []string `koanf:"data_types"`
	// Headers are sent as they are; HeadersEnv and HeadersFile name, per
	// header, the variable or file holding a secret value (an API key).
	Headers     map[string]string `koanf:"headers"`
	HeadersEnv  map[string]string `koanf:"headers_env"`
	HeadersFile map[string]string `koanf:"headers_file"`
	Mapping     struct {
		Level struct {
			Path         string            `koanf:"path"`
			Values       map[string]string `koanf:"values"`
			MaliciousAt  *float64          `koanf:"malicious_at"`
			SuspiciousAt *float64          `koanf:"suspicious_at"`
			SafeAt       *float64          `koanf:"safe_at"`
			Default      string            `koanf:"default"`
		} `koanf:"level"`
		Namespace string `koanf:"namespace"`
		Predicate string `koanf:"predicate"`
		Value     string `koanf:"value"`
		Summary   string `koanf:"summary"`
	} `koanf:"mapping"`
	PerMinute int `koanf:"per_minute"`
	PerDay    int `koanf:"per_day"`
	// CacheTTL is how long its reports are reused (default: the
	// section's cache_ttl); "0s" would mean the default too, so a
	// provider that must never be reused says "1ns".
	CacheTTL time.Duration `koanf:"cache_ttl"`
	// Secrets are the resolved HeadersEnv and HeadersFile values.
	Secrets map[string]string `koanf:"-"`
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
		"abuseipdb.api_key_env", "abuseipdb.api_key_file", "abuseipdb.base_url", "geoip.city_db", "geoip.asn_db", "cortex", "cache_ttl", "http", "history"} {
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
	for i := range e.HTTP {
		h := &e.HTTP[i]
		key := fmt.Sprintf("enrichment.http[%d]", i)
		if strings.TrimSpace(h.Name) == "" || h.URL == "" || len(h.DataTypes) == 0 {
			return fmt.Errorf("%s: name, url and data_types are required", key)
		}
		h.Secrets = map[string]string{}
		for name, env := range h.HeadersEnv {
			v, err := secret(key+".headers_env."+name, env, "", environ)
			if err != nil {
				return err
			}
			h.Secrets[name] = v
		}
		for name, file := range h.HeadersFile {
			v, err := secret(key+".headers_file."+name, "", file, environ)
			if err != nil {
				return err
			}
			h.Secrets[name] = v
		}
		if h.PerMinute < 0 || h.PerDay < 0 {
			return fmt.Errorf("%s: per_minute and per_day must not be negative", key)
		}
	}
	if e.CacheTTL < 0 {
		return fmt.Errorf("enrichment.cache_ttl: must not be negative")
	}
	return nil
}
