package pgstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cleanroomsd/cleanroomsd/internal/store/pgstore/pgtest"
)

// testDB is a database created for one test and dropped after it.
type testDB struct {
	name  string
	url   string // URL of the test database
	admin string // URL of the admin database
}

func adminURL(tb testing.TB) string { return pgtest.AdminURL(tb) }

func adminExec(tb testing.TB, admin, sql string, args ...any) {
	tb.Helper()
	pgtest.Exec(tb, admin, sql, args...)
}

// newDB creates an empty database for the test (see pgtest.Database).
func newDB(tb testing.TB) *testDB {
	tb.Helper()
	u, name, admin := pgtest.Database(tb)
	return &testDB{name: name, url: u, admin: admin}
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
