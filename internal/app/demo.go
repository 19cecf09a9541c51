package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/config"
)

// demoAlerts are realistic sample alerts, as Defender for Cloud, Sentinel
// and Prometheus raise them. The simulated Microsoft tenant replaces them.
var demoAlerts = []alert.Alert{
	{Source: "defender", Product: "Microsoft Defender for Cloud", Title: "Suspicious PowerShell command line",
		Severity: alert.SeverityHigh, Description: "A PowerShell process ran an encoded command typical of download cradles.",
		Entities: []alert.Entity{{Kind: alert.EntityHost, Value: "vm-web-01"}, {Kind: alert.EntityAccount, Value: "svc-deploy@contoso.com"}}},
	{Source: "defender", Product: "Microsoft Defender for Cloud", Title: "Digital currency mining related behavior detected",
		Severity: alert.SeverityHigh, Entities: []alert.Entity{{Kind: alert.EntityHost, Value: "aks-nodepool1-3131"},
			{Kind: alert.EntityIP, Value: "203.0.113.77"}}},
	{Source: "defender", Product: "Microsoft Defender for Cloud", Title: "Access from a suspicious IP to a storage account",
		Severity: alert.SeverityMedium, Entities: []alert.Entity{{Kind: alert.EntityIP, Value: "198.51.100.23"},
			{Kind: alert.EntityCloudResource, Value: "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/prod/providers/microsoft.storage/storageaccounts/contosodata"}}},
	{Source: "sentinel", Product: "Azure Sentinel", Title: "Brute force attack against Azure Portal",
		Severity: alert.SeverityMedium, Entities: []alert.Entity{{Kind: alert.EntityAccount, Value: "alice@contoso.com"},
			{Kind: alert.EntityIP, Value: "192.0.2.200"}}},
	{Source: "sentinel", Product: "Azure Sentinel", Title: "Impossible travel activity",
		Severity: alert.SeverityMedium, Entities: []alert.Entity{{Kind: alert.EntityAccount, Value: "bob@contoso.com"},
			{Kind: alert.EntityIP, Value: "198.51.100.9"}, {Kind: alert.EntityIP, Value: "203.0.113.14"}}},
	{Source: "sentinel", Product: "Azure Sentinel", Title: "Malicious URL clicked in email",
		Severity: alert.SeverityHigh, Entities: []alert.Entity{{Kind: alert.EntityURL, Value: "http://login-contoso.example.net/o365"},
			{Kind: alert.EntityAccount, Value: "carol@contoso.com"}}},
	{Source: "alertmanager", Product: "Prometheus", Title: "SSH login from unusual source on bastion",
		Severity: alert.SeverityLow, Entities: []alert.Entity{{Kind: alert.EntityHost, Value: "bastion-01"}}},
	{Source: "defender", Product: "Microsoft Defender for Endpoint", Title: "Known malware hash executed",
		Severity: alert.SeverityCritical, Entities: []alert.Entity{{Kind: alert.EntityHost, Value: "laptop-fin-042"},
			{Kind: alert.EntityFileHash, Value: "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"}}},
}

// Demo runs a server with a throw-away data directory (unless cfg.Data is
// set), an admin token printed to out, and sample alerts arriving.
func Demo(ctx context.Context, cfg config.Config, keepData bool, log *slog.Logger, out io.Writer) error {
	if !keepData {
		dir, err := os.MkdirTemp("", "vigil-demo-")
		if err != nil {
			return fmt.Errorf("demo data dir: %w", err)
		}
		defer os.RemoveAll(dir)
		cfg.Data = dir
		cfg.DatabaseDSN = ""
		// A throw-away database need not survive power loss.
		cfg.SQLiteSynchronous = "NORMAL"
	}
	a, err := New(ctx, cfg, log, clock.Real{})
	if err != nil {
		return err
	}
	if err := a.Listen(); err != nil {
		a.DB.Close()
		return err
	}
	token, _, err := a.DB.CreateToken(ctx, "demo-admin", auth.RoleAdmin)
	if err != nil {
		a.DB.Close()
		return err
	}
	fmt.Fprintf(out, `
vigil demo is running at %[1]s  (data in %[2]s)

  Work items:   curl -H "Authorization: Bearer $VIGIL_TOKEN" %[1]s/api/v1/workitems
  Send alert:   curl -H "Authorization: Bearer $VIGIL_TOKEN" -d '{"source":"api","title":"Test alert","severity":"high"}' %[1]s/api/v1/alerts
  API docs:     %[1]s/api/v1/openapi.json
  Press Ctrl-C to stop.

An admin API token for this demo (export VIGIL_TOKEN=...):
%[3]s
`, a.URL(), cfg.Data, token)

	go feedDemo(ctx, a, log)
	return a.Run(ctx)
}

// feedDemo ingests the samples, then re-fires a random one now and then so
// that timelines grow the way they do in production.
func feedDemo(ctx context.Context, a *App, log *slog.Logger) {
	submit := func(as ...alert.Alert) {
		for i := range as {
			as[i].Normalize(time.Now())
		}
		if _, err := a.Pipeline.Submit(ctx, "demo", as); err != nil && ctx.Err() == nil {
			log.Warn("demo ingest", "err", err)
		}
	}
	samples := make([]alert.Alert, len(demoAlerts))
	copy(samples, demoAlerts)
	for i := range samples {
		samples[i].SourceID = fmt.Sprintf("demo-%d", i+1)
	}
	submit(samples...)
	t := time.NewTicker(15 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a := samples[rand.IntN(len(samples))]
			a.Entities = append([]alert.Entity(nil), a.Entities...)
			a.FirstSeen, a.LastSeen = time.Time{}, time.Time{}
			submit(a)
		}
	}
}
