package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/connector/defender"
	"github.com/vigil-soc/vigil/internal/simulator"
)

// Demo runs a server with a throw-away data directory (unless keepData),
// an admin token printed to out, and the simulated Microsoft tenant
// embedded: its scenario engine raises Defender for Cloud alerts and acts
// as portal users, and vigil's Defender connector pulls them in, so the
// board fills as it would against a real tenant.
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

	sim := simulator.New(simulator.Options{Preload: 5, Logger: log})
	simSrv, err := simulator.Listen(sim, "127.0.0.1:0", "")
	if err != nil {
		a.DB.Close()
		return err
	}
	defer simSrv.Close()
	info := simSrv.Info
	client, err := defender.New(defender.Config{TenantID: info.TenantID, ClientID: info.ClientID, ClientSecret: info.ClientSecret,
		SubscriptionID: info.SubscriptionID, AuthorityHost: info.Authority, ARMEndpoint: info.ARMURL, Transport: simSrv.Client()})
	if err != nil {
		a.DB.Close()
		return err
	}
	sink := func(ctx context.Context, as []alert.Alert) error {
		_, err := a.Pipeline.Submit(ctx, "connector:defender", as)
		return err
	}
	// Closing a Defender item in vigil resolves the alert in the tenant.
	a.Targets["defender"] = client
	go sim.NewScenario().Run(ctx, 4*time.Second)
	go defender.NewPoller(client, sink, log, time.Now).Run(ctx, 3*time.Second)

	fmt.Fprintf(out, `
vigil demo is running at %[1]s  (data in %[2]s)

The simulated Microsoft tenant is at %[4]s: its scenario raises Defender for Cloud
alerts and acts as portal users, and vigil's Defender connector pulls them in.

  Work items:   curl -H "Authorization: Bearer $VIGIL_TOKEN" %[1]s/api/v1/workitems
  Send alert:   curl -H "Authorization: Bearer $VIGIL_TOKEN" -d '{"source":"api","title":"Test alert","severity":"high"}' %[1]s/api/v1/alerts
  API docs:     %[1]s/api/v1/openapi.json
  Press Ctrl-C to stop.

An admin API token for this demo (export VIGIL_TOKEN=...):
%[3]s
`, a.URL(), cfg.Data, token, info.ARMURL)
	return a.Run(ctx)
}
