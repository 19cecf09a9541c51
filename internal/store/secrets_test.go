package store_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/store/storetest"
)

// The first value stored under a name stays: a later one, from this
// instance or another, reads it back instead of replacing it.
func TestSharedSecretKeepsFirst(t *testing.T) {
	storetest.ForEach(t, clock.NewFake(t0), func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		first, err := db.SharedSecret(ctx, "k", []byte("first-value"))
		if err != nil {
			t.Fatal(err)
		}
		second, err := db.SharedSecret(ctx, "k", []byte("second-value"))
		if err != nil {
			t.Fatal(err)
		}
		if string(first) != "first-value" || string(second) != "first-value" {
			t.Errorf("got %q then %q, want %q both times", first, second, "first-value")
		}
		other, err := db.SharedSecret(ctx, "other", []byte("other-value"))
		if err != nil || string(other) != "other-value" {
			t.Errorf("other name: got %q, %v; want its own value", other, err)
		}
		if _, err := db.SharedSecret(ctx, "k", nil); err == nil {
			t.Error("empty fresh value accepted")
		}
	})
}

// Several instances starting at once on one PostgreSQL database all end
// up with the same secret, whichever inserted it.
func TestSharedSecretAcrossInstances(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	ctx := context.Background()
	const n = 6
	dbs := make([]*store.DB, n)
	for i := range dbs {
		db, err := store.Open(ctx, store.Options{DSN: dsn, Clock: clock.NewFake(t0)})
		if err != nil {
			t.Fatalf("open instance %d: %v", i, err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	got := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() { got[i], errs[i] = db.SharedSecret(ctx, "device", []byte{byte('a' + i), 1, 2, 3}) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("instance %d: %v", i, errs[i])
		}
		if !bytes.Equal(got[i], got[0]) {
			t.Errorf("instance %d got %x, instance 0 got %x: want one shared secret", i, got[i], got[0])
		}
	}
}
