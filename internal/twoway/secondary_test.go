package twoway_test

import (
	"context"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/connector/graph"
	"github.com/vigil-soc/vigil/internal/connector/sentinel"
	"github.com/vigil-soc/vigil/internal/twoway"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// secondaryView is one of the two incident pollers, alone over the
// harness's store: nothing else can store the incident for it.
type secondaryView struct {
	name   string // the source the poller stores incidents as
	cursor string // the poller's watermark cursor
	poller func(h *harness, secondary bool) twoway.Module
	// changed reads the incident's change time as the poller reads it
	// (lastModifiedTimeUtc, lastUpdateDateTime).
	changed func(t *testing.T, h *harness, incident string) time.Time
}

var secondaryViews = []secondaryView{
	{
		name: "sentinel", cursor: "sentinel:ws:modified",
		poller: func(h *harness, secondary bool) twoway.Module {
			return twoway.NewSentinelPoller(h.sentinel, h.db, h.items, h.proc, twoway.SentinelOptions{Name: "ws",
				RequestsPerSecond: -1, Clock: h.clk, Logger: h.log, Secondary: secondary})
		},
		changed: func(t *testing.T, h *harness, incident string) time.Time {
			t.Helper()
			list, err := h.sentinel.OpenIncidents(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, inc := range list {
				if s := sentinel.Describe(inc); s.Name == incident {
					return s.LastModified
				}
			}
			t.Fatalf("Sentinel does not list incident %s", incident)
			return time.Time{}
		},
	},
	{
		name: "graph", cursor: "graph:incidents:updated",
		poller: func(h *harness, secondary bool) twoway.Module {
			return twoway.NewGraphIncidentPoller(h.graph, h.db, h.items, h.proc, twoway.GraphIncidentOptions{
				Clock: h.clk, Logger: h.log, Secondary: secondary})
		},
		changed: func(t *testing.T, h *harness, _ string) time.Time {
			t.Helper()
			list, err := h.graph.Incidents(context.Background(), graph.IncidentQuery{Open: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 1 {
				t.Fatalf("Graph lists %d incidents, want the one raised", len(list))
			}
			return list[0].LastUpdateDateTime
		},
	},
}

// TestSecondaryIncidentWait: the secondary view leaves an incident created
// less than two minutes ago (by its clock) to a later poll: not stored, not
// marked seen, its watermark held before the incident's change; the poll
// after the wait stores it, once. The configured view stores it at once.
func TestSecondaryIncidentWait(t *testing.T) {
	for _, v := range secondaryViews {
		for _, tc := range []struct {
			name      string
			secondary bool
			first     int // incidents (and items) stored by the first poll
		}{
			{name: "secondary", secondary: true, first: 0},
			{name: "configured", secondary: false, first: 1},
		} {
			t.Run(v.name+"/"+tc.name, func(t *testing.T) {
				h := newHarness(t)
				ctx := context.Background()
				_, incName := h.raise(1)
				// The incident was created 30 s ago by the poller's clock.
				h.clk.Set(h.incident(incName).Created.Add(30 * time.Second))
				p := v.poller(h, tc.secondary)
				changed := v.changed(t, h, incName)

				poll := func() {
					t.Helper()
					if err := p.UpdateAll(ctx); err != nil {
						t.Fatalf("%s poll: %v", p.Name(), err)
					}
				}
				stored := func(when string, want int) {
					t.Helper()
					incs, err := h.db.ListIncidents(ctx, "", 0, 100)
					if err != nil {
						t.Fatal(err)
					}
					items, err := h.items.List(ctx, analyst, workitem.Filter{})
					if err != nil {
						t.Fatal(err)
					}
					if len(incs) != want || len(items) != want {
						var got []string
						for _, in := range incs {
							got = append(got, in.Source+"/"+in.SourceID)
						}
						t.Fatalf("%s: %d incidents %v and %d work items stored, want %d of each", when, len(incs), got, len(items), want)
					}
					for _, in := range incs {
						if in.Source != v.name || in.SourceID == "" {
							t.Fatalf("%s: incident stored as %s/%s, want source %s", when, in.Source, in.SourceID, v.name)
						}
					}
				}
				cursor := func() time.Time {
					t.Helper()
					mark, err := h.db.Cursor(ctx, v.cursor)
					if err != nil {
						t.Fatal(err)
					}
					at, err := time.Parse(time.RFC3339Nano, mark)
					if err != nil {
						t.Fatalf("cursor %s = %q: %v", v.cursor, mark, err)
					}
					return at
				}

				poll()
				stored("first poll, incident 30s old", tc.first)
				if mark := cursor(); tc.secondary && !mark.Before(changed) {
					t.Fatalf("first poll: cursor %s moved to %s, want it held before the deferred incident's change %s",
						v.cursor, mark.Format(time.RFC3339Nano), changed.Format(time.RFC3339Nano))
				}

				h.clk.Advance(3 * time.Minute)
				poll()
				stored("after 3 minutes", 1)
				if mark := cursor(); mark.Before(changed) {
					t.Fatalf("after 3 minutes: cursor %s is %s, still before the stored incident's change %s",
						v.cursor, mark.Format(time.RFC3339Nano), changed.Format(time.RFC3339Nano))
				}

				h.clk.Advance(3 * time.Minute)
				poll()
				stored("a poll later", 1)
			})
		}
	}
}
