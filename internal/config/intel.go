package config

import (
	"fmt"
	"time"
)

// ThreatIntel configures the indicator feeds (the file's threat_intel:
// section). Keys and passwords come from an environment variable or a
// file only.
type ThreatIntel struct {
	// Interval is how often the feeds are asked for news (default 15m).
	Interval time.Duration `koanf:"interval"`
	OTX      KeyedAPI      `koanf:"otx"`
	MISP     KeyedAPI      `koanf:"misp"`
	TAXII    struct {
		APIRoot      string `koanf:"api_root"`
		Collection   string `koanf:"collection"`
		Username     string `koanf:"username"`
		PasswordEnv  string `koanf:"password_env"`
		PasswordFile string `koanf:"password_file"`
		Password     string `koanf:"-"`
	} `koanf:"taxii"`
	// STIXFiles are STIX 2.1 bundles on disk, read again when they change.
	STIXFiles []string `koanf:"stix_files"`
}

func init() {
	for _, k := range []string{"interval", "otx.api_key_env", "otx.api_key_file", "otx.base_url", "misp.api_key_env", "misp.api_key_file",
		"misp.base_url", "taxii.api_root", "taxii.collection", "taxii.username", "taxii.password_env", "taxii.password_file", "stix_files"} {
		pagingKeys["threat_intel."+k] = true
	}
}

func (t *ThreatIntel) resolve(environ []string) error {
	if t.Interval == 0 {
		t.Interval = 15 * time.Minute
	}
	if t.Interval < time.Second {
		return fmt.Errorf("threat_intel.interval: at least 1s")
	}
	for _, p := range []struct {
		name string
		api  *KeyedAPI
	}{{"otx", &t.OTX}, {"misp", &t.MISP}} {
		key := "threat_intel." + p.name
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
	if t.MISP.APIKey != "" && t.MISP.BaseURL == "" {
		return fmt.Errorf("threat_intel.misp.base_url: required with a MISP key")
	}
	pw, err := secret("threat_intel.taxii.password", t.TAXII.PasswordEnv, t.TAXII.PasswordFile, environ)
	if err != nil {
		return err
	}
	t.TAXII.Password = pw
	if t.TAXII.APIRoot != "" {
		if err := httpURL("threat_intel.taxii.api_root", t.TAXII.APIRoot); err != nil {
			return err
		}
		if t.TAXII.Collection == "" {
			return fmt.Errorf("threat_intel.taxii.collection: required with an api_root")
		}
	}
	return nil
}
