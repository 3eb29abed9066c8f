// Package pgtest gives tests a PostgreSQL database of their own. The server's
// URL (a user allowed to create databases) is in CLEANROOMS_TEST_POSTGRES_URL,
// e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable. Without
// it tests skip, except under CI=true, where a missing database fails them.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// URLEnv names the environment variable holding the server's URL.
const URLEnv = "CLEANROOMS_TEST_POSTGRES_URL"

// AdminURL returns the server's URL, or skips (fails under CI) without one.
func AdminURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(URLEnv)
	if u == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not set: CI must run the PostgreSQL tests", URLEnv)
		}
		tb.Skipf("%s is not set; skipping PostgreSQL tests", URLEnv)
	}
	return u
}

// Exec runs sql on a short-lived connection to admin.
func Exec(tb testing.TB, admin, sql string, args ...any) {
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

// Database creates an empty database with a random name, dropped (WITH
// FORCE, so lingering connections don't block it) when the test ends. It
// returns the database's URL, its name and the admin URL.
func Database(tb testing.TB) (dbURL, name, admin string) {
	tb.Helper()
	admin = AdminURL(tb)
	var b [8]byte
	_, _ = rand.Read(b[:])
	name = "cleanrooms_test_" + hex.EncodeToString(b[:])
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("%s must be a postgres:// URL", URLEnv)
	}
	u.Path = "/" + name
	Exec(tb, admin, "CREATE DATABASE "+name)
	tb.Cleanup(func() { Exec(tb, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	return u.String(), name, admin
}
