package threatintel_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/intel"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/threatintel"
)

// TestUploaderQueuesChanges: the upload module queues every indicator
// changed since its cursor as STIX objects, in batches of at most 100,
// for each workspace: live ones as they are, an expired one with its
// valid_until, an allow-listed one revoked; below the minimum confidence
// nothing. Passes with no change queue nothing.
func TestUploaderQueuesChanges(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	db := storetest.SQLite(t, clk)
	var inds []intel.Indicator
	for i := range 150 {
		inds = append(inds, intel.Indicator{Type: intel.IP, Value: "198.51.100." + itoa(i%250), Feeds: []string{"otx"}, Confidence: 80, FirstSeen: clk.Now(), LastSeen: clk.Now()})
	}
	inds = append(inds, intel.Indicator{Type: intel.Domain, Value: "weak.example", Feeds: []string{"otx"}, Confidence: 10, FirstSeen: clk.Now(), LastSeen: clk.Now()})
	if _, err := db.UpsertIndicators(ctx, inds); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if err := db.ExpireIndicator(ctx, intel.IP, "198.51.100.1"); err != nil {
		t.Fatal(err)
	}
	if err := db.Allowlist(ctx, intel.IP, "198.51.100.2", "ours", "ana"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	up := threatintel.NewUploader(db, threatintel.UploadOptions{MinConfidence: 50, Targets: []string{"ti-upload:ws1", "ti-upload:ws2"}, Clock: clk})
	if err := up.UpdateAll(ctx); err != nil {
		t.Fatal(err)
	}
	msgs, err := db.ListOutbox(ctx, outbox.Pending, 0, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 4 { // 150 objects: two batches, for two workspaces
		t.Fatalf("%d messages, want 4", len(msgs))
	}
	byValue := map[string]map[string]any{}
	for _, m := range msgs {
		if m.Target != "ti-upload:ws1" {
			continue
		}
		var objs []map[string]any
		if err := json.Unmarshal(m.Payload, &objs); err != nil || len(objs) > 100 {
			t.Fatalf("batch: %d objects, %v", len(objs), err)
		}
		for _, o := range objs {
			byValue[o["name"].(string)] = o
		}
	}
	if len(byValue) != 150 || byValue["weak.example"] != nil {
		t.Errorf("uploaded %d values (weak one: %v), want 150 without it", len(byValue), byValue["weak.example"] != nil)
	}
	if o := byValue["198.51.100.1"]; o == nil || o["valid_until"] == nil {
		t.Errorf("expired indicator = %v", o)
	}
	if o := byValue["198.51.100.2"]; o == nil || o["revoked"] != true {
		t.Errorf("allow-listed indicator = %v", o)
	}
	// Each change is queued once.
	for range 2 {
		clk.Advance(5 * time.Minute)
		if err := up.UpdateAll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if again, _ := db.ListOutbox(ctx, outbox.Pending, 0, 0, 100); len(again) != 4 {
		t.Errorf("passes with no change queued %d more messages", len(again)-4)
	}
}

func itoa(i int) string { return fmtInt(i) }

func fmtInt(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
