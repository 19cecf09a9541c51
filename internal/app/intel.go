package app

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/loganalytics"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/threatintel"
	"github.com/vigil-soc/vigil/internal/tiupload"
)

// intelOutputs are threat intelligence's engine modules that reach the
// Sentinel workspaces: the indicator upload (and its outbox targets, one
// per workspace) and the telemetry hunt.
type intelOutputs struct {
	upload  *threatintel.Uploader
	hunt    *threatintel.Hunter
	targets map[string]outbox.Target
}

// huntWorkspaces are the workspaces hunting and upload can address: the
// synced Sentinel workspaces that have a workspace_id.
func huntWorkspaces(cfg config.Sync) []config.SentinelWorkspace {
	var out []config.SentinelWorkspace
	for _, w := range cfg.Sentinel {
		if w.WorkspaceID != "" {
			out = append(out, w)
		}
	}
	return out
}

func buildIntelOutputs(cfg config.Config, db *store.DB, ti *threatintel.Service, clk clock.Clock, log *slog.Logger) (intelOutputs, error) {
	out := intelOutputs{targets: map[string]outbox.Target{}}
	tic := cfg.ThreatIntel
	if tic.SentinelUpload == nil && tic.Hunt == nil {
		return out, nil
	}
	ws := huntWorkspaces(cfg.Sync)
	if len(ws) == 0 {
		return out, fmt.Errorf("threat_intel: sentinel_upload and hunt need a sync.sentinel workspace with its workspace_id")
	}
	hc, err := httpClient(cfg.Sync.Azure.CAFile)
	if err != nil {
		return out, err
	}
	az := cfg.Sync.Azure
	if u := tic.SentinelUpload; u != nil {
		var names []string
		for _, w := range ws {
			c, err := tiupload.New(tiupload.Config{TenantID: az.TenantID, ClientID: az.ClientID, ClientSecret: az.ClientSecret, Credential: azureCredential(az),
				AuthorityHost: az.AuthorityHost, BaseURL: az.TIUploadURL, WorkspaceID: w.WorkspaceID, SourceSystem: u.SourceSystem,
				Transport: hc, Clock: clk, Logger: log})
			if err != nil {
				return out, fmt.Errorf("threat_intel.sentinel_upload (%s): %w", w.Workspace, err)
			}
			name := tiupload.Target + ":" + w.WorkspaceID
			out.targets[name] = c
			names = append(names, name)
		}
		ti.Track(threatintel.UploadName, tic.Interval)
		out.upload = threatintel.NewUploader(db, threatintel.UploadOptions{MinConfidence: u.MinConfidence, Feeds: u.Feeds, Targets: names, Clock: clk, Log: log})
	}
	if h := tic.Hunt; h != nil {
		hunter, err := newHunter(cfg, ws, hc, ti, db, clk, log)
		if err != nil {
			return out, err
		}
		out.hunt = hunter
		ti.Track(threatintel.HuntName, h.Interval)
	}
	return out, nil
}

// newHunter builds the telemetry hunt over the workspaces, with one query
// client for the tenant.
func newHunter(cfg config.Config, ws []config.SentinelWorkspace, hc *http.Client, ti *threatintel.Service, db *store.DB, clk clock.Clock, log *slog.Logger) (*threatintel.Hunter, error) {
	az := cfg.Sync.Azure
	q, err := loganalytics.New(loganalytics.Config{TenantID: az.TenantID, ClientID: az.ClientID, ClientSecret: az.ClientSecret, Credential: azureCredential(az),
		AuthorityHost: az.AuthorityHost, BaseURL: az.LogAnalyticsURL, Transport: hc, Clock: clk, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("threat_intel.hunt: %w", err)
	}
	var hws []threatintel.HuntWorkspace
	for _, w := range ws {
		hws = append(hws, threatintel.HuntWorkspace{Name: w.Workspace, ID: w.WorkspaceID, Q: q})
	}
	h := cfg.ThreatIntel.Hunt
	return threatintel.NewHunter(ti, hws, db, threatintel.HuntOptions{Lookback: h.Lookback, MinConfidence: h.MinConfidence, Clock: clk, Log: log}), nil
}
