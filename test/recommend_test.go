package test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/security/armsecurity"
)

// TestDemoRecommendationProblem is the recommendations "done when" on
// the real binary: in `vigil demo`, an unhealthy Defender for Cloud
// recommendation is a Problem; assigning it with a due date writes the
// governance assignment that Defender for Cloud's own views read (checked
// with Microsoft's SDK, as the portal would); and the Problem closes when
// the simulator assesses its resources Healthy.
func TestDemoRecommendationProblem(t *testing.T) {
	addr := freePort(t)
	info, token := startDemo(t, addr)
	p := newPortal(t, info)
	v := vigilAPI{base: "http://" + addr, token: token}
	const cycle = 3 * time.Second
	const title = "Machines should have vulnerability findings resolved"

	type item struct {
		ID       int64    `json:"id"`
		Type     string   `json:"type"`
		Title    string   `json:"title"`
		State    string   `json:"state"`
		Severity string   `json:"severity"`
		AlertIDs []int64  `json:"alert_ids"`
		Tags     []string `json:"tags"`
	}
	var it item
	eventually(t, 5*cycle, "the recommendation is a Problem", func() bool {
		var page struct {
			Items []item `json:"items"`
		}
		v.call(t, "GET", "/api/v1/workitems?source=defender-recommendation&limit=100", "", &page)
		for _, x := range page.Items {
			if x.Title == title {
				it = x
				return true
			}
		}
		return false
	})
	if it.Type != "Problem" || it.Severity != "high" || it.State != "New" {
		t.Fatalf("item = %+v, want a new high Problem", it)
	}

	// The analyst takes it, due mid-January.
	if code := v.call(t, "PATCH", fmt.Sprintf("/api/v1/workitems/%d", it.ID),
		`{"assignee":"ana@contoso.com","due_date":"2027-01-15"}`, nil); code != 200 {
		t.Fatalf("assign: %d", code)
	}
	// Defender for Cloud's view: each unhealthy machine's assessment has
	// the owner and the due date.
	ctx := context.Background()
	var names []string
	var ids []string
	pager := p.assessments.NewListPager("subscriptions/"+info.SubscriptionID, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.Value {
			if a.Properties != nil && a.Properties.DisplayName != nil && *a.Properties.DisplayName == title {
				names = append(names, *a.Name)
				ids = append(ids, *a.ID)
			}
		}
	}
	if len(ids) != 2 {
		t.Fatalf("%d assessments of %q, want 2 (two machines)", len(ids), title)
	}
	eventually(t, 4*cycle, "governance assignments written", func() bool {
		for _, id := range ids {
			scope := strings.TrimPrefix(id[:strings.Index(strings.ToLower(id), "/providers/microsoft.security/assessments/")], "/")
			gp := p.governance.NewListPager(scope, names[0], nil)
			var got []*armsecurity.GovernanceAssignment
			for gp.More() {
				page, err := gp.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, page.Value...)
			}
			if len(got) != 1 || got[0].Properties == nil || *got[0].Properties.Owner != "ana@contoso.com" ||
				!got[0].Properties.RemediationDueDate.Equal(time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC)) {
				return false
			}
		}
		return true
	})

	// Both machines patched: Defender for Cloud assesses them Healthy, and
	// the Problem closes.
	res, err := p.http.Post(p.info.ARMURL+"/sim/v1/defender/assessments/"+names[0]+"/health", "application/json",
		strings.NewReader(`{"status":"Healthy"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("mark healthy: %s", res.Status)
	}
	eventually(t, 5*cycle, "the Problem closes", func() bool {
		var got item
		v.call(t, "GET", fmt.Sprintf("/api/v1/workitems/%d", it.ID), "", &got)
		return got.State == "Closed"
	})
	if tl := v.timeline(t, it.ID); !strings.Contains(tl, "Healthy") || !strings.Contains(tl, "governance") {
		t.Fatalf("the timeline does not explain the governance write and the close:\n%s", tl)
	}
}
