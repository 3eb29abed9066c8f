package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
)

var bg = context.Background()

func rec(kind, id string) *store.Record {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return &store.Record{Kind: kind, ID: id, CreateTime: now, UpdateTime: now, Data: []byte(`{"id":"` + id + `"}`)}
}

func wantKind(t *testing.T, err error, k fault.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want %v", k)
	}
	var fe *fault.Error
	if !errors.As(err, &fe) {
		t.Fatalf("got %T %v, want a *fault.Error of kind %v", err, err, k)
	}
	if fe.Kind != k {
		t.Fatalf("got kind %v (%v), want %v", fe.Kind, err, k)
	}
}

func mustUpdate(t *testing.T, s *Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Update(bg, fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// TestBasics covers the Tx methods; the shared contract suite (storetest)
// covers them more thoroughly.
func TestBasics(t *testing.T) {
	s, _ := openStore(t)
	a := rec("thing", "a")
	a.Parent, a.Account, a.Status, a.UniqueKey = "p1", "111", "ACTIVE", "key-a"
	a.CreateTime = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("x", 3600))
	b := rec("thing", "b")
	b.Parent, b.Status = "p1", "DELETED"
	var empty, null = rec("thing", "empty"), rec("thing", "null")
	empty.Data, null.Data = []byte{}, nil
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, r := range []*store.Record{a, b, empty, null} {
			if err := tx.Insert(bg, r); err != nil {
				return err
			}
		}
		return nil
	})
	if !(a.Seq > 0 && b.Seq > a.Seq && empty.Seq > b.Seq && null.Seq > empty.Seq) {
		t.Fatalf("seqs not increasing: %d %d %d %d", a.Seq, b.Seq, empty.Seq, null.Seq)
	}

	err := s.View(bg, func(tx store.Tx) error {
		got, err := tx.Get(bg, "thing", "a")
		if err != nil {
			return err
		}
		if got.CreateTime.Location() != time.UTC || !got.CreateTime.Equal(a.CreateTime.Truncate(time.Microsecond)) {
			t.Errorf("CreateTime = %v, want %v in UTC", got.CreateTime, a.CreateTime)
		}
		if got.Parent != "p1" || got.Account != "111" || got.Status != "ACTIVE" || got.UniqueKey != "key-a" ||
			got.Seq != a.Seq || !bytes.Equal(got.Data, a.Data) {
			t.Errorf("Get = %+v, want %+v", got, a)
		}
		if g, err := tx.Get(bg, "thing", "empty"); err != nil || g.Data == nil || len(g.Data) != 0 {
			t.Errorf("empty Data = %#v, %v", g.Data, err)
		}
		if g, err := tx.Get(bg, "thing", "null"); err != nil || g.Data != nil {
			t.Errorf("nil Data = %#v, %v", g.Data, err)
		}
		if g, err := tx.GetByUniqueKey(bg, "thing", "key-a"); err != nil || g.ID != "a" {
			t.Errorf("GetByUniqueKey = %v, %v", g, err)
		}
		_, err = tx.GetByUniqueKey(bg, "other", "key-a")
		wantKind(t, err, fault.NotFound)
		_, err = tx.GetByUniqueKey(bg, "thing", "")
		wantKind(t, err, fault.NotFound)
		_, err = tx.Get(bg, "thing", "zzz")
		wantKind(t, err, fault.NotFound)

		list, err := tx.List(bg, "thing", store.Filter{Parent: "p1"}, store.Page{Limit: 10})
		if err != nil || len(list) != 2 || list[0].ID != "a" || list[1].ID != "b" {
			t.Errorf("List parent = %v, %v", list, err)
		}
		list, err = tx.List(bg, "thing", store.Filter{}, store.Page{After: a.Seq, Limit: 2})
		if err != nil || len(list) != 2 || list[0].ID != "b" || list[1].ID != "empty" {
			t.Errorf("List page = %v, %v", list, err)
		}
		list, err = tx.List(bg, "thing", store.Filter{Statuses: []string{"DELETED", "X"}}, store.Page{Limit: 10})
		if err != nil || len(list) != 1 || list[0].ID != "b" {
			t.Errorf("List statuses = %v, %v", list, err)
		}
		list, err = tx.List(bg, "thing", store.Filter{Account: "111", Parent: "p1"}, store.Page{Limit: 10})
		if err != nil || len(list) != 1 || list[0].ID != "a" {
			t.Errorf("List account = %v, %v", list, err)
		}
		if n, err := tx.Count(bg, "thing", store.Filter{}); err != nil || n != 4 {
			t.Errorf("Count = %d, %v", n, err)
		}
		if n, err := tx.Count(bg, "thing", store.Filter{Parent: "p1", Statuses: []string{"ACTIVE"}}); err != nil || n != 1 {
			t.Errorf("Count filtered = %d, %v", n, err)
		}
		if n, err := tx.Count(bg, "nothing", store.Filter{}); err != nil || n != 0 {
			t.Errorf("Count empty kind = %d, %v", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Conflicts leave the transaction usable.
	mustUpdate(t, s, func(tx store.Tx) error {
		wantKind(t, tx.Insert(bg, rec("thing", "a")), fault.Conflict)
		dup := rec("thing", "c")
		dup.UniqueKey = "key-a"
		wantKind(t, tx.Insert(bg, dup), fault.Conflict)
		b2 := *b
		b2.UniqueKey = "key-a"
		wantKind(t, tx.Update(bg, &b2), fault.Conflict)
		wantKind(t, tx.Update(bg, rec("thing", "zzz")), fault.NotFound)
		wantKind(t, tx.Delete(bg, "thing", "zzz"), fault.NotFound)
		// Same id in another kind, same unique key in another kind: fine.
		other := rec("other", "a")
		other.UniqueKey = "key-a"
		if err := tx.Insert(bg, other); err != nil {
			return err
		}
		a2 := *a
		a2.Status, a2.Data, a2.UniqueKey = "INACTIVE", []byte(`{}`), "key-a2"
		a2.UpdateTime = a.UpdateTime.Add(time.Hour)
		a2.CreateTime = time.Time{}
		if err := tx.Update(bg, &a2); err != nil {
			return err
		}
		// Keeping one's own unique key is not a conflict.
		if err := tx.Update(bg, &a2); err != nil {
			return err
		}
		return tx.Delete(bg, "thing", "b")
	})
	err = s.View(bg, func(tx store.Tx) error {
		got, err := tx.Get(bg, "thing", "a")
		if err != nil {
			return err
		}
		if got.Status != "INACTIVE" || got.UniqueKey != "key-a2" || got.Seq != a.Seq ||
			!got.CreateTime.Equal(a.CreateTime.Truncate(time.Microsecond)) || !got.UpdateTime.Equal(a.UpdateTime.Add(time.Hour)) {
			t.Errorf("after Update: %+v", got)
		}
		_, err = tx.Get(bg, "thing", "b")
		wantKind(t, err, fault.NotFound)
		// A freed unique key can be reused.
		_, err = tx.GetByUniqueKey(bg, "thing", "key-a")
		wantKind(t, err, fault.NotFound)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestViewIsReadOnly(t *testing.T) {
	s, _ := openStore(t)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Insert(bg, rec("k", "x")) })
	err := s.View(bg, func(tx store.Tx) error {
		wantKind(t, tx.Insert(bg, rec("k", "y")), fault.Internal)
		wantKind(t, tx.Update(bg, rec("k", "x")), fault.Internal)
		wantKind(t, tx.Delete(bg, "k", "x"), fault.Internal)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The server enforces it too.
	err = s.View(bg, func(tx store.Tx) error {
		_, err := rawTx(tx).Exec(bg, "DELETE FROM records")
		return err
	})
	if pgCode(err) != codeReadOnlyTransaction {
		t.Errorf("DELETE in View: %v", err)
	}
	if err := s.View(bg, func(tx store.Tx) error { _, err := tx.Get(bg, "k", "x"); return err }); err != nil {
		t.Fatal(err)
	}
}

func TestErrorFromFnIsReturnedUnchangedAndRolledBack(t *testing.T) {
	s, _ := openStore(t)
	sentinel := errors.New("business rule")
	calls := 0
	err := s.Update(bg, func(tx store.Tx) error {
		calls++
		if err := tx.Insert(bg, rec("k", "x")); err != nil {
			return err
		}
		return sentinel
	})
	if err != sentinel || calls != 1 {
		t.Fatalf("Update = %v after %d calls, want the sentinel after 1", err, calls)
	}
	err = s.View(bg, func(tx store.Tx) error { _, err := tx.Get(bg, "k", "x"); return err })
	wantKind(t, err, fault.NotFound)
	if err := s.View(bg, func(store.Tx) error { return sentinel }); err != sentinel {
		t.Fatalf("View = %v", err)
	}
}

func TestPanicRollsBack(t *testing.T) {
	s, _ := openStore(t)
	func() {
		defer func() {
			if recover() != "boom" {
				t.Error("panic not propagated")
			}
		}()
		_ = s.Update(bg, func(tx store.Tx) error {
			_ = tx.Insert(bg, rec("k", "x"))
			panic("boom")
		})
	}()
	err := s.View(bg, func(tx store.Tx) error { _, err := tx.Get(bg, "k", "x"); return err })
	wantKind(t, err, fault.NotFound)
	if st := s.pool.Stat(); st.AcquiredConns() != 0 {
		t.Errorf("%d connections still acquired", st.AcquiredConns())
	}
}

// TestViewSeesOneSnapshot checks that a View does not see commits made after
// it began.
func TestViewSeesOneSnapshot(t *testing.T) {
	s, _ := openStore(t)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Insert(bg, rec("k", "1")) })
	err := s.View(bg, func(tx store.Tx) error {
		if n, _ := tx.Count(bg, "k", store.Filter{}); n != 1 {
			t.Errorf("count = %d", n)
		}
		mustUpdate(t, s, func(tx store.Tx) error { return tx.Insert(bg, rec("k", "2")) })
		if n, _ := tx.Count(bg, "k", store.Filter{}); n != 1 {
			t.Errorf("count after concurrent insert = %d, want 1", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSerializableCounter has concurrent read-modify-write transactions on
// one record; serialization failures must be retried so no increment is lost.
func TestSerializableCounter(t *testing.T) {
	s, _ := openStore(t, WithMaxAttempts(50))
	mustUpdate(t, s, func(tx store.Tx) error {
		r := rec("counter", "c")
		r.Data = []byte("0")
		return tx.Insert(bg, r)
	})
	const workers, each = 8, 10
	var attempts atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				errs <- s.Update(bg, func(tx store.Tx) error {
					attempts.Add(1)
					r, err := tx.Get(bg, "counter", "c")
					if err != nil {
						return err
					}
					var n int
					fmt.Sscan(string(r.Data), &n)
					r.Data = []byte(fmt.Sprint(n + 1))
					return tx.Update(bg, r)
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	_ = s.View(bg, func(tx store.Tx) error {
		r, err := tx.Get(bg, "counter", "c")
		if err != nil || string(r.Data) != fmt.Sprint(workers*each) {
			t.Errorf("counter = %s, %v; want %d", r.Data, err, workers*each)
		}
		return nil
	})
	t.Logf("%d increments took %d attempts", workers*each, attempts.Load())
}

// TestUniqueKeyRace: 32 concurrent Updates each read a "member" record,
// insert a record with the same UniqueKey and update the member; exactly one
// may succeed, the others fail with Conflict.
func TestUniqueKeyRace(t *testing.T) {
	s, _ := openStore(t)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Insert(bg, rec("member", "m")) })
	const n = 32
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = s.Update(bg, func(tx store.Tx) error {
				m, err := tx.Get(bg, "member", "m")
				if err != nil {
					return err
				}
				r := rec("membership", fmt.Sprint("ms-", i))
				r.UniqueKey = "account-1/collab-1"
				if err := tx.Insert(bg, r); err != nil {
					return err
				}
				m.Status = fmt.Sprint("JOINED-", i)
				return tx.Update(bg, m)
			})
		}()
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		wantKind(t, err, fault.Conflict)
	}
	if ok != 1 {
		t.Fatalf("%d Updates succeeded, want exactly 1", ok)
	}
	_ = s.View(bg, func(tx store.Tx) error {
		if n, err := tx.Count(bg, "membership", store.Filter{}); n != 1 || err != nil {
			t.Errorf("memberships = %d, %v", n, err)
		}
		w, err := tx.GetByUniqueKey(bg, "membership", "account-1/collab-1")
		if err != nil {
			return err
		}
		m, err := tx.Get(bg, "member", "m")
		if err != nil {
			return err
		}
		if "JOINED-"+strings.TrimPrefix(w.ID, "ms-") != m.Status {
			t.Errorf("member status %q does not match the winner %q", m.Status, w.ID)
		}
		return nil
	})
}

// TestConcurrentUniqueKeyUpdate races Update (not Insert) onto one unique
// key: one wins, the others see Conflict, none see Internal.
func TestConcurrentUniqueKeyUpdate(t *testing.T) {
	s, _ := openStore(t)
	const n = 8
	mustUpdate(t, s, func(tx store.Tx) error {
		for i := range n {
			if err := tx.Insert(bg, rec("k", fmt.Sprint(i))); err != nil {
				return err
			}
		}
		return nil
	})
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Update(bg, func(tx store.Tx) error {
				r, err := tx.Get(bg, "k", fmt.Sprint(i))
				if err != nil {
					return err
				}
				r.UniqueKey = "the-key"
				return tx.Update(bg, r)
			})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else {
			wantKind(t, err, fault.Conflict)
		}
	}
	if ok != 1 {
		t.Fatalf("%d succeeded, want 1", ok)
	}
}

// TestSeqOrder checks that an insert that begins after another committed
// gets a larger Seq, across stores (replicas) sharing the database.
func TestSeqOrder(t *testing.T) {
	s1, db := openStore(t)
	s2 := openDB(t, db)
	var last int64
	for i := range 20 {
		s := []*Store{s1, s2}[i%2]
		r := rec("k", fmt.Sprint(i))
		mustUpdate(t, s, func(tx store.Tx) error { return tx.Insert(bg, r) })
		if r.Seq <= last {
			t.Fatalf("insert %d got Seq %d after %d", i, r.Seq, last)
		}
		last = r.Seq
	}
	// Paging returns each record once, in order.
	var seen []string
	var after int64
	for {
		var page []*store.Record
		err := s2.View(bg, func(tx store.Tx) error {
			var err error
			page, err = tx.List(bg, "k", store.Filter{}, store.Page{After: after, Limit: 3})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, r := range page {
			seen = append(seen, r.ID)
			after = r.Seq
		}
	}
	if len(seen) != 20 || seen[0] != "0" || seen[19] != "19" {
		t.Fatalf("paged %v", seen)
	}
	err := s1.View(bg, func(tx store.Tx) error {
		_, err := tx.List(bg, "k", store.Filter{}, store.Page{})
		return err
	})
	wantKind(t, err, fault.Internal)
}

func TestReopenKeepsData(t *testing.T) {
	s, db := openStore(t)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Insert(bg, rec("k", "x")) })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wantKind(t, s.Update(bg, func(tx store.Tx) error { return nil }), fault.Unavailable)
	wantKind(t, s.Ping(bg), fault.Unavailable)
	s2 := openDB(t, db)
	if err := s2.View(bg, func(tx store.Tx) error { _, err := tx.Get(bg, "k", "x"); return err }); err != nil {
		t.Fatal(err)
	}
	if err := s2.Ping(bg); err != nil {
		t.Fatal(err)
	}
}

func schemaVersions(t *testing.T, s *Store) []int {
	t.Helper()
	rows, err := s.pool.Query(bg, "SELECT version FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// TestConcurrentOpenMigratesOnce starts four replicas at once on an empty
// database: all must open, and each migration must be applied once.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	db := newDB(t)
	const n = 4
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			stores[i], errs[i] = Open(bg, db.url, testOptions...)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		t.Cleanup(func() { _ = stores[i].Close() })
	}
	vs := schemaVersions(t, stores[0])
	if len(vs) != SchemaVersion() || vs[len(vs)-1] != SchemaVersion() {
		t.Fatalf("schema_migrations = %v, want 1..%d once each", vs, SchemaVersion())
	}
	for _, s := range stores {
		mustUpdate(t, s, func(tx store.Tx) error { return nil })
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	s, db := openStore(t)
	future := SchemaVersion() + 1
	if _, err := s.pool.Exec(bg, "INSERT INTO schema_migrations (version, name) VALUES ($1, 'from_the_future')", future); err != nil {
		t.Fatal(err)
	}
	_, err := Open(bg, db.url, testOptions...)
	if err == nil {
		t.Fatal("Open succeeded on a schema newer than the binary")
	}
	want := fmt.Sprintf("schema is at version %d but this cleanroomsd only knows versions up to %d", future, SchemaVersion())
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("Open: %v; want it to say %q", err, want)
	}
	t.Logf("Open: %v", err)
	// Nothing was downgraded.
	if vs := schemaVersions(t, s); vs[len(vs)-1] != future {
		t.Fatalf("schema versions now %v", vs)
	}
}

func TestLoadMigrations(t *testing.T) {
	ms, err := loadMigrations()
	if err != nil || len(ms) == 0 || ms[0].Version != 1 {
		t.Fatalf("loadMigrations = %v, %v", ms, err)
	}
}

// TestOutage cuts this test's database off (other tests share the server, so
// it is never restarted): calls must fail fast with Unavailable, and the same
// store must work again once the database accepts connections.
func TestOutage(t *testing.T) {
	s, db := openStore(t, WithMinConns(2))
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Insert(bg, rec("k", "x")) })

	adminExec(t, db.admin, "ALTER DATABASE "+db.name+" ALLOW_CONNECTIONS false")
	adminExec(t, db.admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", db.name)

	check := func(name string, call func(ctx context.Context) error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(bg, 30*time.Second)
		defer cancel()
		start := time.Now()
		err := call(ctx)
		took := time.Since(start)
		wantKind(t, err, fault.Unavailable)
		if took > 3*time.Second {
			t.Errorf("%s took %v to fail", name, took)
		}
		t.Logf("%s during the outage: %v after %v", name, err, took.Round(time.Millisecond))
	}
	for range 3 {
		check("View", func(ctx context.Context) error {
			return s.View(ctx, func(tx store.Tx) error { _, err := tx.Get(ctx, "k", "x"); return err })
		})
		check("Update", func(ctx context.Context) error {
			return s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, rec("k", "y")) })
		})
		check("Ping", s.Ping)
	}

	adminExec(t, db.admin, "ALTER DATABASE "+db.name+" ALLOW_CONNECTIONS true")
	start := time.Now()
	if err := s.View(bg, func(tx store.Tx) error { _, err := tx.Get(bg, "k", "x"); return err }); err != nil {
		t.Fatalf("after the outage: %v", err)
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Insert(bg, rec("k", "y")) })
	t.Logf("recovered in %v", time.Since(start).Round(time.Millisecond))
}

// TestServerClosesConnections terminates the store's idle connections while
// the database stays up: the next calls must succeed, on new connections,
// without the caller seeing an error.
func TestServerClosesConnections(t *testing.T) {
	s, db := openStore(t, WithMinConns(4))
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Insert(bg, rec("k", "x")) })
	// Check out all four connections so the pool holds four open ones.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.View(bg, func(tx store.Tx) error {
				_, err := rawTx(tx).Exec(bg, "SELECT pg_sleep(0.1)")
				return err
			})
		}()
	}
	wg.Wait()
	adminExec(t, db.admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", db.name)
	for i := range 8 {
		if err := s.View(bg, func(tx store.Tx) error { _, err := tx.Get(bg, "k", "x"); return err }); err != nil {
			t.Fatalf("View %d after the server closed the connections: %v", i, err)
		}
		mustUpdate(t, s, func(tx store.Tx) error { return tx.Insert(bg, rec("k", fmt.Sprint("y", i))) })
	}
}

func TestUnreachableServer(t *testing.T) {
	adminURL(t)
	start := time.Now()
	// Port 1 on loopback: nothing listens there, the connection is refused.
	_, err := Open(bg, "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable", WithConnectTimeout(2*time.Second))
	wantKind(t, err, fault.Unavailable)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Open took %v to fail", took)
	}
}

func TestCancelledContext(t *testing.T) {
	s, db := openStore(t)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Insert(bg, rec("k", "x")) })

	ctx, cancel := context.WithCancel(bg)
	cancel()
	calls := 0
	err := s.Update(ctx, func(tx store.Tx) error { calls++; return nil })
	if err == nil || calls != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("Update with a cancelled ctx: %v after %d calls", err, calls)
	}
	if err := s.View(ctx, func(tx store.Tx) error { return nil }); err == nil {
		t.Fatal("View with a cancelled ctx succeeded")
	}

	// A query stuck behind a lock returns when its context ends.
	lock, err := pgx.Connect(bg, db.url)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close(bg)
	ltx, err := lock.Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ltx.Exec(bg, "LOCK TABLE records IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	for _, update := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(bg, 200*time.Millisecond)
		start := time.Now()
		fn := func(tx store.Tx) error { _, err := tx.Get(ctx, "k", "x"); return err }
		if update {
			err = s.Update(ctx, fn)
		} else {
			err = s.View(ctx, fn)
		}
		cancel()
		if err == nil {
			t.Fatal("a blocked query succeeded")
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("update=%v: blocked query returned after %v", update, took)
		}
		wantKind(t, err, fault.Unavailable) // deadline exceeded
	}
	// Client going away (cancel, not deadline) during a long query.
	ctx, cancel = context.WithCancel(bg)
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err = s.View(ctx, func(tx store.Tx) error {
		_, err := rawTx(tx).Exec(ctx, "SELECT pg_sleep(10)")
		return err
	})
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("cancelled pg_sleep: %v after %v", err, time.Since(start))
	}
	_ = ltx.Rollback(bg)
	if err := s.View(bg, func(tx store.Tx) error { _, err := tx.Get(bg, "k", "x"); return err }); err != nil {
		t.Fatal(err)
	}
}

func TestStatementTimeout(t *testing.T) {
	s, _ := openStore(t, WithStatementTimeout(100*time.Millisecond))
	start := time.Now()
	err := s.View(bg, func(tx store.Tx) error {
		_, err := rawTx(tx).Exec(bg, "SELECT pg_sleep(5)")
		return classify(err, "sleep")
	})
	wantKind(t, err, fault.Unavailable)
	if time.Since(start) > 2*time.Second {
		t.Fatalf("statement_timeout did not fire: %v", time.Since(start))
	}
}

// rawTx returns the pgx transaction under a store.Tx, to run statements the
// Tx interface does not offer.
func rawTx(t store.Tx) pgx.Tx { return t.(*tx).ptx }

func TestAcquireTimeout(t *testing.T) {
	s, _ := openStore(t, WithMaxConns(1), WithAcquireTimeout(200*time.Millisecond))
	hold := make(chan struct{})
	held := make(chan struct{})
	go func() {
		_ = s.View(bg, func(tx store.Tx) error { close(held); <-hold; return nil })
	}()
	<-held
	start := time.Now()
	err := s.View(bg, func(tx store.Tx) error { return nil })
	close(hold)
	wantKind(t, err, fault.Unavailable)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("acquire took %v", took)
	}
}

func TestCloseWaitsForInFlight(t *testing.T) {
	s, _ := openStore(t)
	inside := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Update(bg, func(tx store.Tx) error {
			close(inside)
			time.Sleep(300 * time.Millisecond)
			return tx.Insert(bg, rec("k", "x"))
		})
	}()
	<-inside
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 200*time.Millisecond {
		t.Fatal("Close did not wait for the in-flight Update")
	}
	if err := <-done; err != nil {
		t.Fatalf("in-flight Update: %v", err)
	}
	wantKind(t, s.View(bg, func(tx store.Tx) error { return nil }), fault.Unavailable)
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want fault.Kind
	}{
		{&pgconn.PgError{Code: "23505"}, fault.Conflict},
		{&pgconn.PgError{Code: "40001"}, fault.Internal},
		{&pgconn.PgError{Code: "40P01"}, fault.Internal},
		{&pgconn.PgError{Code: "08006"}, fault.Unavailable},
		{&pgconn.PgError{Code: "57P01"}, fault.Unavailable},
		{&pgconn.PgError{Code: "57P03"}, fault.Unavailable},
		{&pgconn.PgError{Code: "53300"}, fault.Unavailable},
		{&pgconn.PgError{Code: "42601"}, fault.Internal},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), fault.Unavailable},
		{fmt.Errorf("x: %w", context.Canceled), fault.Internal},
		{errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), fault.Unavailable},
		{errors.New("something else"), fault.Internal},
		{fault.Newf(fault.NotFound, "x"), fault.NotFound},
	} {
		if got := fault.KindOf(classify(c.err, "op")); got != c.want {
			t.Errorf("classify(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if !isSerializationConflict(fmt.Errorf("w: %w", &pgconn.PgError{Code: "40001"})) {
		t.Error("wrapped 40001 not seen")
	}
}

func TestBackoff(t *testing.T) {
	for a := 1; a < 40; a++ {
		if d := backoff(a); d <= 0 || d > backoffCap {
			t.Fatalf("backoff(%d) = %v", a, d)
		}
	}
}

func TestTimes(t *testing.T) {
	s, _ := openStore(t)
	times := map[string]time.Time{
		"zero":  {},
		"nanos": time.Date(2025, 1, 2, 3, 4, 5, 999_999_999, time.UTC),
		"zone":  time.Date(2025, 1, 2, 3, 4, 5, 6_000_000, time.FixedZone("UTC-5", -5*3600)),
		"far":   time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		for id, tm := range times {
			r := rec("k", id)
			r.CreateTime, r.UpdateTime = tm, tm
			if err := tx.Insert(bg, r); err != nil {
				return err
			}
		}
		return nil
	})
	_ = s.View(bg, func(tx store.Tx) error {
		for id, tm := range times {
			r, err := tx.Get(bg, "k", id)
			if err != nil {
				t.Fatal(err)
			}
			if r.CreateTime.Location() != time.UTC || r.UpdateTime.Location() != time.UTC ||
				r.CreateTime.Sub(tm).Abs() >= time.Microsecond || !r.UpdateTime.Equal(r.CreateTime) {
				t.Errorf("%s: stored %v, got %v / %v", id, tm, r.CreateTime, r.UpdateTime)
			}
		}
		return nil
	})
}
