package config

import (
	"fmt"
	"strings"
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
	// CSV lists CSV indicator lists, in files or at URLs.
	CSV []CSVFeed `koanf:"csv"`
	// RetroHunt says what a retro-hunt match does: "annotate" (the
	// default) the item where the entity was seen; "open" a new item for
	// it, linked to that one; "open_if_closed" annotate an open item and
	// open a new one when the item is closed.
	RetroHunt string `koanf:"retro_hunt"`
	// SentinelUpload pushes the indicators to every Sentinel workspace
	// of sync.sentinel that has a workspace_id, through the STIX-objects
	// upload API.
	SentinelUpload *SentinelUpload `koanf:"sentinel_upload"`
	// Hunt matches the indicators against the workspaces' network
	// telemetry through the Log Analytics query API.
	Hunt *Hunt `koanf:"hunt"`
}

// SentinelUpload selects the indicators uploaded to Sentinel.
type SentinelUpload struct {
	MinConfidence int      `koanf:"min_confidence"`
	Feeds         []string `koanf:"feeds"` // empty: every feed
	SourceSystem  string   `koanf:"source_system"`
}

// Hunt is the scheduled hunt over workspace telemetry.
type Hunt struct {
	// Interval is how often it runs (default 1h); Lookback how far back
	// each run reads (default Interval plus 10 minutes, for ingestion
	// delay).
	Interval time.Duration `koanf:"interval"`
	Lookback time.Duration `koanf:"lookback"`
	// MinConfidence leaves weaker indicators out of the queries.
	MinConfidence int `koanf:"min_confidence"`
}

// Retro-hunt modes.
const (
	RetroAnnotate     = "annotate"
	RetroOpen         = "open"
	RetroOpenIfClosed = "open_if_closed"
)

// CSVFeed is one CSV indicator list.
type CSVFeed struct {
	Name             string `koanf:"name"`
	Source           string `koanf:"source"` // a path, or an http(s) URL
	TypeColumn       string `koanf:"type_column"`
	ValueColumn      string `koanf:"value_column"`
	ConfidenceColumn string `koanf:"confidence_column"`
	TagsColumn       string `koanf:"tags_column"`
	DefaultType      string `koanf:"default_type"`
	Comment          string `koanf:"comment"` // one character; lines starting with it are skipped
	// HeaderEnv names, per request header, the variable holding its
	// secret value (an API key for a URL).
	HeaderEnv map[string]string `koanf:"header_env"`
	Headers   map[string]string `koanf:"-"`
}

func init() {
	for _, k := range []string{"interval", "otx.api_key_env", "otx.api_key_file", "otx.base_url", "misp.api_key_env", "misp.api_key_file",
		"misp.base_url", "taxii.api_root", "taxii.collection", "taxii.username", "taxii.password_env", "taxii.password_file", "stix_files", "csv", "retro_hunt",
		"sentinel_upload.min_confidence", "sentinel_upload.feeds", "sentinel_upload.source_system",
		"hunt.interval", "hunt.lookback", "hunt.min_confidence"} {
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
	switch t.RetroHunt {
	case "":
		t.RetroHunt = RetroAnnotate
	case RetroAnnotate, RetroOpen, RetroOpenIfClosed:
	default:
		return fmt.Errorf("threat_intel.retro_hunt %q: want annotate, open or open_if_closed", t.RetroHunt)
	}
	if u := t.SentinelUpload; u != nil {
		if u.MinConfidence < 0 || u.MinConfidence > 100 {
			return fmt.Errorf("threat_intel.sentinel_upload.min_confidence %d: want 0 to 100", u.MinConfidence)
		}
		if strings.EqualFold(strings.TrimSpace(u.SourceSystem), "Microsoft Sentinel") {
			return fmt.Errorf("threat_intel.sentinel_upload.source_system: %q is reserved by Microsoft", u.SourceSystem)
		}
	}
	if h := t.Hunt; h != nil {
		if h.Interval == 0 {
			h.Interval = time.Hour
		}
		if h.Interval < 5*time.Second {
			return fmt.Errorf("threat_intel.hunt.interval: at least 5s")
		}
		if h.Lookback == 0 {
			h.Lookback = h.Interval + 10*time.Minute
		}
		if h.Lookback < h.Interval {
			return fmt.Errorf("threat_intel.hunt.lookback: at least the interval (%s), or hits between runs are missed", h.Interval)
		}
	}
	for i := range t.CSV {
		c := &t.CSV[i]
		key := fmt.Sprintf("threat_intel.csv[%d]", i)
		if c.Source == "" {
			return fmt.Errorf("%s.source: required", key)
		}
		if len([]rune(c.Comment)) > 1 {
			return fmt.Errorf("%s.comment %q: one character", key, c.Comment)
		}
		c.Headers = map[string]string{}
		for h, env := range c.HeaderEnv {
			v, err := secret(key+".header_env."+h, env, "", environ)
			if err != nil {
				return err
			}
			c.Headers[h] = v
		}
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
