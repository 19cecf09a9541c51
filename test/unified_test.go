package test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestDemoUnifiedIncidents is the unified-incidents "done when" on the
// real binary: in `vigil demo`, whose simulated workspace shows each
// incident through Sentinel and through Graph's security/incidents, one
// incident is one item, and closing that item closes the incident once,
// through the API the configuration names and never through the other.
func TestDemoUnifiedIncidents(t *testing.T) {
	for _, tc := range []struct {
		api, write, notWrite, source string
	}{
		{api: "graph", write: "graph.incidents.update", notWrite: "sentinel.incidents.put", source: "graph"},
		{api: "sentinel", write: "sentinel.incidents.put", notWrite: "graph.incidents.update", source: "sentinel"},
	} {
		t.Run(tc.api, func(t *testing.T) {
			addr := freePort(t)
			info, token := startDemo(t, addr, "--incident-api", tc.api)
			p := newPortal(t, info)
			v := vigilAPI{base: "http://" + addr, token: token}
			const cycle = 3 * time.Second

			name := p.raise(t)
			inc := p.incidentOf(t, name)
			link := "xdr:" + *inc.Properties.ProviderIncidentID
			type row struct {
				ID         int64  `json:"id"`
				Source     string `json:"source"`
				SourceID   string `json:"source_id"`
				LinkKey    string `json:"link_key"`
				WorkItemID int64  `json:"workitem_id"`
			}
			var mine []row
			eventually(t, 4*cycle, "vigil holds the incident from "+tc.api, func() bool {
				var page struct {
					Items []row `json:"items"`
				}
				v.call(t, "GET", "/api/v1/incidents?limit=500", "", &page)
				mine = mine[:0]
				for _, in := range page.Items {
					if in.LinkKey == link {
						mine = append(mine, in)
					}
				}
				return len(mine) == 1 && mine[0].Source == tc.source && mine[0].WorkItemID != 0
			})
			time.Sleep(2 * cycle) // both views polled again: still one
			var page struct {
				Items []row `json:"items"`
			}
			v.call(t, "GET", "/api/v1/incidents?limit=500", "", &page)
			n := 0
			for _, in := range page.Items {
				if in.LinkKey == link || in.SourceID == *inc.Name || in.SourceID == *inc.Properties.ProviderIncidentID {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("%d incidents in vigil for Sentinel incident %s (Graph %s), want 1", n, *inc.Name, link)
			}
			item := mine[0].WorkItemID

			// Approved, Active (one write: the incident set in progress),
			// Verification; then count from the close.
			for _, to := range []string{"Approved", "Active", "Verification"} {
				if code := v.call(t, "POST", fmt.Sprintf("/api/v1/workitems/%d/transitions", item), fmt.Sprintf(`{"to":%q}`, to), nil); code != 200 {
					t.Fatalf("move item %d to %s: %d", item, to, code)
				}
			}
			time.Sleep(2 * cycle)
			seq := simSeq(t, p)
			if code := v.call(t, "POST", fmt.Sprintf("/api/v1/workitems/%d/transitions", item),
				`{"to":"Closed","reason":"false positive: test traffic"}`, nil); code != 200 {
				t.Fatalf("close item %d: %d", item, code)
			}
			eventually(t, 5*cycle, "closing the item closes the incident", func() bool {
				return string(*p.incident(t, *inc.Name).Properties.Status) == "Closed"
			})
			time.Sleep(2 * cycle) // the closure read back: nothing more is written
			writes, others := 0, 0
			for _, r := range simRequests(t, p, seq) {
				if r.Status >= 300 {
					continue
				}
				switch r.Route {
				case tc.write:
					writes++
				case tc.notWrite:
					others++
				}
			}
			if writes != 1 || others != 0 {
				t.Fatalf("%s answered %d times (want 1), %s %d times (want 0)", tc.write, writes, tc.notWrite, others)
			}
			want := map[string]string{"graph": "graph incident.update", "sentinel": "sentinel incident.close"}[tc.api]
			if tl := v.timeline(t, item); !strings.Contains(tl, "write-back done: "+want) {
				t.Fatalf("timeline lacks the write-back:\n%s", tl)
			}
		})
	}
}

type simRequest struct {
	Seq    int    `json:"seq"`
	Route  string `json:"route"`
	Status int    `json:"status"`
}

// simRequests reads the simulator's request log after seq.
func simRequests(t testing.TB, p *portal, seq int) []simRequest {
	t.Helper()
	res, err := p.http.Get(fmt.Sprintf("%s/sim/v1/requests?since=%d", p.info.ARMURL, seq))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var page struct {
		Value []simRequest `json:"value"`
	}
	if err := json.NewDecoder(res.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	return page.Value
}

func simSeq(t testing.TB, p *portal) int {
	t.Helper()
	rs := simRequests(t, p, 0)
	if len(rs) == 0 {
		return 0
	}
	return rs[len(rs)-1].Seq
}
