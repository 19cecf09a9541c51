// Package storetest opens throw-away stores for tests on both databases.
//
// PostgreSQL comes from VIGIL_TEST_POSTGRES_DSN, which scripts/test sets
// after starting a private cluster. Without it the PostgreSQL half of a
// suite fails rather than skips: the store must be proven on both.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
)

// EnvDSN names the variable holding the admin DSN of the test cluster.
const EnvDSN = "VIGIL_TEST_POSTGRES_DSN"

// ForEach runs fn as a subtest against a fresh SQLite store and a fresh
// PostgreSQL database.
func ForEach(t *testing.T, clk clock.Clock, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t, clk)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t, clk)) })
}

// SQLite opens a store in a temporary directory.
func SQLite(t testing.TB, clk clock.Clock) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Options{DataDir: t.TempDir(), Synchronous: "NORMAL", Clock: clk})
	if err != nil {
		t.Fatalf("open sqlite store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Postgres creates a uniquely named database on the test cluster, opens a
// store on it and drops it when the test ends.
func Postgres(t testing.TB, clk clock.Clock) *store.DB {
	t.Helper()
	dsn := PostgresDSN(t)
	db, err := store.Open(context.Background(), store.Options{DSN: dsn, Clock: clk})
	if err != nil {
		t.Fatalf("open postgres store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresDSN creates an empty database and returns its DSN.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvDSN)
	if admin == "" {
		t.Fatalf("%s is not set: run the suite with scripts/test, which starts a PostgreSQL cluster", EnvDSN)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvDSN, err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "vigil_test_" + hex.EncodeToString(b)
	conn, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("connect to test cluster: %v", err)
	}
	if _, err := conn.Exec("CREATE DATABASE " + name); err != nil {
		conn.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		conn.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		conn.Close()
	})
	u.Path = "/" + name
	return u.String()
}
