package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The tests need a PostgreSQL server whose URL (with a superuser, or a user
// allowed to create databases) is in CLEANROOMS_TEST_POSTGRES_URL, e.g.
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable. Without it
// they skip, except in CI (CI=true), where a missing database is a failure.
const urlEnv = "CLEANROOMS_TEST_POSTGRES_URL"

func adminURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(urlEnv)
	if u == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not set: CI must run the PostgreSQL store tests", urlEnv)
		}
		tb.Skipf("%s is not set; skipping PostgreSQL tests", urlEnv)
	}
	return u
}

// testDB is a database created for one test and dropped after it.
type testDB struct {
	name  string
	url   string // URL of the test database
	admin string // URL of the admin database
}

// adminExec runs sql on a short-lived connection to the admin database.
func adminExec(tb testing.TB, admin, sql string, args ...any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("connecting to the admin database: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

// newDB creates an empty database with a random name, dropped (WITH FORCE,
// so lingering connections do not block it) when the test ends.
func newDB(tb testing.TB) *testDB {
	tb.Helper()
	admin := adminURL(tb)
	var b [8]byte
	_, _ = rand.Read(b[:])
	name := "cleanrooms_test_" + hex.EncodeToString(b[:])
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("%s must be a postgres:// URL", urlEnv)
	}
	u.Path = "/" + name
	adminExec(tb, admin, "CREATE DATABASE "+name)
	tb.Cleanup(func() { adminExec(tb, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	return &testDB{name: name, url: u.String(), admin: admin}
}

// testOptions keep each test store small: the shared server has a limited
// number of connections and other test processes use it too.
var testOptions = []Option{WithMaxConns(4), WithMinConns(0)}

// openDB opens a store on db, closed when the test ends.
func openDB(tb testing.TB, db *testDB, opts ...Option) *Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, db.url, append(append([]Option{}, testOptions...), opts...)...)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// openStore opens a store on a fresh database.
func openStore(tb testing.TB, opts ...Option) (*Store, *testDB) {
	tb.Helper()
	db := newDB(tb)
	return openDB(tb, db, opts...), db
}

// dbOf remembers which test database each harness store uses, for Reopen.
var dbOf sync.Map // *Store -> *testDB
