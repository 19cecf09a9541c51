package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/intel"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/validation"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// TestIndicatorAdministration covers the indicators page's queries, expiry
// and the allow-list (which survives a feed re-sending the value), the
// changes every instance's matcher refreshes from, and the entity
// profile, on both databases.
func TestIndicatorAdministration(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		inds := []intel.Indicator{
			{Type: intel.IP, Value: "203.0.113.7", Feeds: []string{"otx"}, Confidence: 80, FirstSeen: t0, LastSeen: t0},
			{Type: intel.Domain, Value: "evil.example", Feeds: []string{"misp"}, Confidence: 60, FirstSeen: t0, LastSeen: t0},
			{Type: intel.Domain, Value: "cdn.example", Feeds: []string{"otx", "misp"}, Confidence: 40, FirstSeen: t0, LastSeen: t0},
		}
		if _, err := db.UpsertIndicators(ctx, inds); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		t1 := clk.Now()
		if err := db.ExpireIndicator(ctx, intel.Domain, "evil.example"); err != nil {
			t.Fatal(err)
		}
		if err := db.Allowlist(ctx, intel.Domain, "cdn.example", "our CDN", "ana@example.com"); err != nil {
			t.Fatal(err)
		}
		if err := db.ExpireIndicator(ctx, intel.Domain, "nothing.example"); !errors.Is(err, validation.ErrNotFound) {
			t.Errorf("expire unknown: %v", err)
		}
		// A feed re-sends the allow-listed value: it stays allow-listed.
		clk.Advance(time.Minute)
		if _, err := db.UpsertIndicators(ctx, inds[2:]); err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct {
			name string
			q    store.IndicatorQuery
			want []string
		}{
			{"all", store.IndicatorQuery{}, []string{"cdn.example", "evil.example", "203.0.113.7"}},
			{"active", store.IndicatorQuery{State: store.IndicatorActive}, []string{"203.0.113.7"}},
			{"expired", store.IndicatorQuery{State: store.IndicatorExpired}, []string{"evil.example"}},
			{"allowlisted", store.IndicatorQuery{State: store.IndicatorAllowlisted}, []string{"cdn.example"}},
			{"text", store.IndicatorQuery{Text: "EXAMPLE"}, []string{"cdn.example", "evil.example"}},
			{"type", store.IndicatorQuery{Type: intel.IP}, []string{"203.0.113.7"}},
			{"feed", store.IndicatorQuery{Feed: "misp"}, []string{"cdn.example", "evil.example"}},
			{"page", store.IndicatorQuery{Limit: 1, Offset: 1}, []string{"evil.example"}},
		} {
			rows, total, err := db.SearchIndicators(ctx, tc.q, clk.Now())
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			var got []string
			for _, r := range rows {
				got = append(got, r.Value)
			}
			if len(got) != len(tc.want) || (tc.q.Limit == 0 && total != len(tc.want)) {
				t.Errorf("%s: got %v (total %d), want %v", tc.name, got, total, tc.want)
				continue
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
					break
				}
			}
		}
		if _, _, err := db.SearchIndicators(ctx, store.IndicatorQuery{Type: "hostname"}, t0); !isField(err, "type") {
			t.Errorf("bad type: %v", err)
		}
		r, err := db.IndicatorOf(ctx, intel.Domain, "cdn.example", clk.Now())
		if err != nil || r.State != store.IndicatorAllowlisted || r.AllowReason != "our CDN" || r.AllowedBy != "ana@example.com" {
			t.Errorf("indicator = %+v, %v", r, err)
		}
		b, _ := json.Marshal(r)
		var flat map[string]any
		_ = json.Unmarshal(b, &flat)
		if flat["value"] != "cdn.example" || flat["state"] != "allowlisted" {
			t.Errorf("json = %s", b)
		}

		// The changes since t1: the expired and the allow-listed, not live.
		live := map[string]bool{}
		if err := db.IndicatorChanges(ctx, clk.Now(), t1, func(in intel.Indicator, ok bool) { live[in.Value] = ok }); err != nil {
			t.Fatal(err)
		}
		if len(live) != 2 || live["evil.example"] || live["cdn.example"] {
			t.Errorf("changes = %v", live)
		}
		var loaded []string
		if err := db.Indicators(ctx, clk.Now(), time.Time{}, func(in intel.Indicator) { loaded = append(loaded, in.Value) }); err != nil || len(loaded) != 1 {
			t.Errorf("live indicators = %v, %v", loaded, err)
		}
		if err := db.Unallowlist(ctx, intel.Domain, "cdn.example"); err != nil {
			t.Fatal(err)
		}
		if err := db.Unallowlist(ctx, intel.Domain, "cdn.example"); !errors.Is(err, validation.ErrNotFound) {
			t.Errorf("second removal: %v", err)
		}
		if counts, err := db.IndicatorCounts(ctx, clk.Now()); err != nil || counts["otx"] != 2 || counts["misp"] != 1 {
			t.Errorf("counts = %v, %v", counts, err)
		}

		// The entity profile: two items carry 203.0.113.7, one carries
		// 203.0.113.70 (a longer value containing it), which is not counted.
		var ids []int64
		for i, ip := range []string{"203.0.113.7", "203.0.113.7", "203.0.113.70"} {
			a := alert.Alert{Source: "api", SourceID: []string{"p1", "p2", "p3"}[i], Title: "beacon " + ip, Severity: alert.SeverityHigh,
				Entities: []alert.Entity{{Kind: alert.EntityIP, Value: ip}}}
			if err := a.Normalize(clk.Now()); err != nil {
				t.Fatal(err)
			}
			res, err := db.Ingest(ctx, workitem.DefaultProcess(), "test", []alert.Alert{a})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, res[0].WorkItemID)
		}
		if _, err := db.RecordMatch(ctx, store.TIMatch{WorkItemID: ids[0], Entity: "203.0.113.7", Type: intel.IP, Value: "203.0.113.7", Feeds: []string{"otx"}}); err != nil {
			t.Fatal(err)
		}
		p, err := db.EntityProfileOf(ctx, "203.0.113.7")
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) != 2 || p.Items[0].ID != ids[1] || len(p.Alerts) != 2 || len(p.Matches) != 1 || p.Kinds[0] != "ip" || p.FirstSeen.IsZero() || p.Sightings != 2 {
			t.Errorf("profile = %+v", p)
		}
		if _, err := db.EntityProfileOf(ctx, " "); !isField(err, "value") {
			t.Errorf("empty value: %v", err)
		}
	})
}

func isField(err error, field string) bool {
	var fe *validation.FieldError
	return errors.As(err, &fe) && fe.Field == field
}
