package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
	"github.com/vigil-soc/vigil/internal/validation"
)

func TestAuditLog(t *testing.T) {
	clk := clock.NewFake(t0)
	storetest.ForEach(t, clk, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		start := clk.Now() // the clock is shared by both databases' runs
		add := func(e store.AuditEntry) {
			t.Helper()
			if err := db.RecordAudit(ctx, e); err != nil {
				t.Fatalf("RecordAudit(%+v): %v", e, err)
			}
		}
		add(store.AuditEntry{Actor: "root@example.org", Action: "user.added", Target: "bob@example.org",
			Detail: map[string]any{"role": "responder", "user_id": 2}, IP: "192.0.2.7"})
		clk.Advance(time.Minute)
		add(store.AuditEntry{Actor: "root@example.org", Action: "token.created", Target: "token:1"})
		add(store.AuditEntry{Actor: "cli", Action: "user.added", Target: "carol@example.org"})

		all, err := db.ListAudit(ctx, store.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := auditTargets(all), []string{"carol@example.org", "token:1", "bob@example.org"}; !slices.Equal(got, want) {
			t.Errorf("ListAudit targets = %v, want %v (newest first)", got, want)
		}
		first := all[2]
		if !first.At.Equal(start) || first.Actor != "root@example.org" || first.IP != "192.0.2.7" ||
			first.Detail["role"] != "responder" || first.Detail["user_id"] != float64(2) {
			t.Errorf("first entry = %+v, want it as recorded at the start", first)
		}
		if all[1].Detail == nil || len(all[1].Detail) != 0 {
			t.Errorf("entry without detail has Detail %#v, want an empty map", all[1].Detail)
		}

		byAction, err := db.ListAudit(ctx, store.AuditFilter{Action: "user.added"})
		if got, want := auditTargets(byAction), []string{"carol@example.org", "bob@example.org"}; err != nil || !slices.Equal(got, want) {
			t.Errorf("ListAudit(action user.added) = %v, %v; want %v", got, err, want)
		}
		byActor, err := db.ListAudit(ctx, store.AuditFilter{Actor: "cli"})
		if got, want := auditTargets(byActor), []string{"carol@example.org"}; err != nil || !slices.Equal(got, want) {
			t.Errorf("ListAudit(actor cli) = %v, %v; want %v", got, err, want)
		}
		page1, err := db.ListAudit(ctx, store.AuditFilter{Limit: 2})
		if err != nil || len(page1) != 2 {
			t.Fatalf("first page = %v, %v; want 2 entries", page1, err)
		}
		page2, err := db.ListAudit(ctx, store.AuditFilter{Limit: 2, After: page1[1].ID})
		if got, want := auditTargets(page2), []string{"bob@example.org"}; err != nil || !slices.Equal(got, want) {
			t.Errorf("second page = %v, %v; want %v", got, err, want)
		}

		last, ok, err := db.LastAudit(ctx, "token.created")
		if err != nil || !ok || last.Target != "token:1" {
			t.Errorf("LastAudit(token.created) = %+v, %v, %v; want token:1", last, ok, err)
		}
		if _, ok, err := db.LastAudit(ctx, "config.loaded"); err != nil || ok {
			t.Errorf("LastAudit(config.loaded) = %v, %v; want none", ok, err)
		}

		var fe *validation.FieldError
		if err := db.RecordAudit(ctx, store.AuditEntry{Action: "user.added"}); !errors.As(err, &fe) || fe.Field != "actor" {
			t.Errorf("entry without actor: error = %v, want a FieldError on actor", err)
		}
		if err := db.RecordAudit(ctx, store.AuditEntry{Actor: "cli"}); !errors.As(err, &fe) || fe.Field != "action" {
			t.Errorf("entry without action: error = %v, want a FieldError on action", err)
		}
	})
}

func auditTargets(es []store.AuditEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Target
	}
	return out
}
