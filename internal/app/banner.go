package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/vigil-soc/vigil/internal/numfmt"
	"github.com/vigil-soc/vigil/internal/simulator"
)

// banner is what the demo prints once it is up.
type banner struct {
	URL, Data string
	// Login says how to sign in with the demo's local admin.
	Login string
	Token string
	Sim   simulator.Info
	// Preload is how many Defender for Cloud alerts the tenant starts
	// with; Scenario how often its users act (0: never).
	Preload  int
	Scenario time.Duration
}

// writeBanner prints the demo's banner. Every example in it is meant to
// be pasted into a shell as printed (test/demo_banner_test.go runs each
// one against a running demo and checks it does what its label says), so
// a URL with a query is quoted, and a placeholder (ID, NAME) says where
// its value comes from. The admin token is alone on the last line, for
// scripts.
func writeBanner(w io.Writer, b banner) {
	auth := `-H "Authorization: Bearer $VIGIL_TOKEN"`
	scenario := fmt.Sprintf("Its scenario raises more every %s and acts as portal users.", b.Scenario)
	if b.Scenario <= 0 {
		scenario = "Its scenario is off (--scenario 0): act as its users through /sim/v1."
	}
	fmt.Fprintf(w, `
vigil demo is running at %[1]s  (data in %[2]s)

  The board:    %[1]s/board
                %[3]s,
                or use "Sign in with Microsoft Entra ID" (the simulated tenant's account picker)

The simulated Microsoft tenant is at %[4]s (the JSON line above has
its credentials; its CA is in %[5]s).
It started with %[6]s, each in a Sentinel incident.
%[7]s
Every %[8]s vigil pulls Defender for Cloud, Sentinel and Graph, closes the Sentinel
incidents that Defender for Cloud has settled, and mirrors work items to the tenant's
Azure Boards project %[9]s/%[10]s.

Try the API with the demo's admin token:

  export VIGIL_TOKEN=%[11]s

  Work items:       curl %[12]s %[1]s/api/v1/workitems
  New ones:         curl %[12]s '%[1]s/api/v1/workitems?state=New'
  Approve one (ID: the "id" of a New item):
                    curl %[12]s -d '{"to":"Approved"}' %[1]s/api/v1/workitems/ID/transitions
  Write-backs:      curl %[12]s %[1]s/api/v1/outbox
  Defender alerts:  curl %[12]s '%[1]s/api/v1/alerts?source=defender'
  Dismiss one in the Defender for Cloud portal (NAME: its "source_id"); within a few
  seconds vigil closes its work item (Removed or Closed) and its Sentinel incident:
                    curl --cacert %[5]s -X POST %[4]s/sim/v1/defender/alerts/NAME/dismiss
  API docs:         %[1]s/api/v1/openapi.json

Press Ctrl-C to stop.

An admin API token for this demo:
%[11]s
`, b.URL, b.Data, b.Login, b.Sim.ARMURL, b.Sim.CAFile, numfmt.Count(b.Preload, "Defender for Cloud alert", "Defender for Cloud alerts"),
		scenario, DemoInterval, b.Sim.DevOpsOrg, b.Sim.DevOpsProject, b.Token, auth)
}

// quietBelowDebug passes a handler's warnings and errors, and its info
// lines only when it logs debug: the demo's simulator reports each
// scenario action at info, which belongs under --log-level debug there.
type quietBelowDebug struct{ h slog.Handler }

func (q quietBelowDebug) Enabled(ctx context.Context, l slog.Level) bool {
	if l < slog.LevelWarn && !q.h.Enabled(ctx, slog.LevelDebug) {
		return false
	}
	return q.h.Enabled(ctx, l)
}

func (q quietBelowDebug) Handle(ctx context.Context, r slog.Record) error { return q.h.Handle(ctx, r) }
func (q quietBelowDebug) WithAttrs(as []slog.Attr) slog.Handler {
	return quietBelowDebug{q.h.WithAttrs(as)}
}
func (q quietBelowDebug) WithGroup(n string) slog.Handler { return quietBelowDebug{q.h.WithGroup(n)} }
