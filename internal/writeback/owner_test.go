package writeback_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/connector/sentinel"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/workitem"
	"github.com/vigil-soc/vigil/internal/writeback"
)

type owners map[string]sentinel.OwnerPayload

func (o owners) SentinelOwner(_ context.Context, a string) (sentinel.OwnerPayload, error) {
	if p, ok := o[a]; ok {
		return p, nil
	}
	return sentinel.OwnerPayload{Email: a}, nil
}

// TestAssignOwner: assigning an item writes its Sentinel incidents' owner
// as the directory says: by object id for a user who signed in with
// Entra ID, by the mapped email for one whose address differs.
func TestAssignOwner(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	db := storetest.SQLite(t, clk)
	in := alert.Incident{Source: "sentinel", SourceID: "inc-1", Title: "t", Severity: alert.SeverityHigh, Status: alert.StatusNew,
		Ref: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w/providers/Microsoft.SecurityInsights/incidents/inc-1"}
	if err := in.Normalize(clk.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := db.UpsertIncident(ctx, workitem.DefaultProcess(), "sentinel", in)
	if err != nil {
		t.Fatal(err)
	}
	it, _ := db.GetWorkItem(ctx, res.WorkItemID)
	p := writeback.New(db).WithOwners(owners{"ana@example.com": {Email: "ana@contoso.onmicrosoft.com", ObjectID: "oid-ana"}})
	for _, tc := range []struct {
		to   string
		want sentinel.OwnerPayload
	}{
		{"ana@example.com", sentinel.OwnerPayload{Email: "ana@contoso.onmicrosoft.com", ObjectID: "oid-ana"}},
		{"ben@example.com", sentinel.OwnerPayload{Email: "ben@example.com"}},
	} {
		msgs, err := p.PlanAssign(ctx, it, "", tc.to)
		if err != nil || len(msgs) != 1 || msgs[0].Op != sentinel.OpOwner {
			t.Fatalf("PlanAssign(%s) = %+v, %v", tc.to, msgs, err)
		}
		var got sentinel.OwnerPayload
		json.Unmarshal(msgs[0].Payload, &got)
		if got != tc.want {
			t.Errorf("owner for %s = %+v, want %+v", tc.to, got, tc.want)
		}
	}
}
