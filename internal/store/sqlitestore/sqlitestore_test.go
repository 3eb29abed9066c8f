package sqlitestore

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
	"github.com/cleanroomsd/cleanroomsd/internal/store/storetest"
)

func openAt(t testing.TB, path string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func harness(opts ...Option) storetest.Harness {
	return storetest.Harness{
		Open: func(t *testing.T) store.Store {
			return openAt(t, filepath.Join(t.TempDir(), "sub", "dir", "cleanroomsd.db"), opts...)
		},
		Reopen: func(t *testing.T, s store.Store) store.Store {
			ss := s.(*Store)
			if err := ss.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			return openAt(t, ss.Path(), opts...)
		},
	}
}

func TestContract(t *testing.T) {
	storetest.Run(t, harness())
}

// TestContractNoGroupCommit runs the suite with every Update committing on
// its own.
func TestContractNoGroupCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	storetest.Run(t, harness(WithMaxBatch(1), WithReadConns(1)))
}

func TestSchemaTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Pretend a newer binary migrated the file.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	newer := SchemaVersion() + 1
	if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", newer)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	}
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("Open error = %v, want one wrapping ErrSchemaTooNew", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprint(newer)) {
		t.Errorf("Open error %q does not name the file's version %d", err, newer)
	}
	// The version was left alone.
	db, err = sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != newer {
		t.Errorf("user_version after the failed Open = %d, want %d", v, newer)
	}
}

func TestMigrationsAndPragmas(t *testing.T) {
	if SchemaVersion() < 1 {
		t.Fatalf("SchemaVersion() = %d, want >= 1", SchemaVersion())
	}
	s := openAt(t, filepath.Join(t.TempDir(), "db"))
	var v int
	var mode string
	var sync int
	err := s.wconn.QueryRowContext(t.Context(), "PRAGMA user_version").Scan(&v)
	if err == nil {
		err = s.wconn.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode)
	}
	if err == nil {
		err = s.wconn.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&sync)
	}
	if err != nil {
		t.Fatal(err)
	}
	if v != SchemaVersion() {
		t.Errorf("user_version = %d, want %d", v, SchemaVersion())
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
	// NORMAL: the store fsyncs the WAL itself before acknowledging.
	if sync != 1 {
		t.Errorf("synchronous = %d, want 1 (NORMAL)", sync)
	}
	r, err := s.takeReader(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var queryOnly int
	err = r.conn.QueryRowContext(t.Context(), "PRAGMA query_only").Scan(&queryOnly)
	s.putReader(r, err)
	if err != nil {
		t.Fatal(err)
	}
	if queryOnly != 1 {
		t.Errorf("query_only on a read connection = %d, want 1", queryOnly)
	}
	// Reopening an up-to-date file changes nothing.
	path := s.Path()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openAt(t, path)
	if err := s2.wconn.QueryRowContext(t.Context(), "PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != SchemaVersion() {
		t.Errorf("user_version after reopen = %d, want %d", v, SchemaVersion())
	}
}

func TestQueriesUseIndexes(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "db"))
	queries := map[string]string{
		"get":          qGet,
		"get by key":   qGetByUniqueKey,
		"list":         mustQuery(false, store.Filter{}),
		"list parent":  mustQuery(false, store.Filter{Parent: "p"}),
		"list account": mustQuery(false, store.Filter{Account: "a"}),
		"list status":  mustQuery(false, store.Filter{Statuses: []string{"A", "B"}}),
		"count parent": mustQuery(true, store.Filter{Parent: "p"}),
	}
	for name, q := range queries {
		rows, err := s.wconn.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, make([]any, strings.Count(q, "?"))...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		joined := strings.Join(plan, "; ")
		if strings.Contains(joined, "SCAN records") && !strings.Contains(joined, "USING") {
			t.Errorf("%s: full table scan: %s", name, joined)
		}
		if strings.Contains(joined, "TEMP B-TREE") {
			t.Errorf("%s: sorts in a temporary b-tree: %s", name, joined)
		}
	}
}

func mustQuery(count bool, f store.Filter) string {
	q, _ := filterQuery(count, "k", f, store.Page{Limit: 1})
	return q
}

func TestCloseWaitsForInFlight(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	inFn := make(chan struct{})
	release := make(chan struct{})
	updateErr := make(chan error, 1)
	go func() {
		updateErr <- s.Update(context.Background(), func(tx store.Tx) error {
			close(inFn)
			<-release
			return tx.Insert(context.Background(), &store.Record{Kind: "k", ID: "slow", CreateTime: time.Now(), UpdateTime: time.Now()})
		})
	}()
	<-inFn
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while an Update was in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	// New calls are refused while closing.
	wait := time.Now().Add(5 * time.Second)
	for {
		err := s.View(t.Context(), func(store.Tx) error { return nil })
		if fault.KindOf(err) == fault.Unavailable {
			break
		}
		if time.Now().After(wait) {
			t.Fatalf("View during Close: err = %v, want Unavailable", err)
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-updateErr; err != nil {
		t.Fatalf("in-flight Update: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	err = s.Update(t.Context(), func(store.Tx) error { return nil })
	if fault.KindOf(err) != fault.Unavailable {
		t.Errorf("Update after Close: err = %v, want Unavailable", err)
	}
	s2 := openAt(t, path)
	if err := s2.View(t.Context(), func(tx store.Tx) error {
		_, err := tx.Get(t.Context(), "k", "slow")
		return err
	}); err != nil {
		t.Errorf("the Update that Close waited for was not kept: %v", err)
	}
}

// TestGroupCommitIsolatesFailures runs many concurrent Updates of which every
// third fails after writing: the failures must leave nothing, the others
// everything, whatever groups they were committed in.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "db"))
	ctx := t.Context()
	errFail := errors.New("planned failure")
	const n = 300
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = s.Update(ctx, func(tx store.Tx) error {
				r := &store.Record{Kind: "k", ID: fmt.Sprint(i), UniqueKey: fmt.Sprint("key-", i), CreateTime: time.Now(), UpdateTime: time.Now()}
				if err := tx.Insert(ctx, r); err != nil {
					return err
				}
				if i%3 == 0 {
					return errFail
				}
				return nil
			})
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		_, getErr := getRecord(t, s, "k", fmt.Sprint(i))
		if i%3 == 0 {
			if err != errFail {
				t.Errorf("update %d: err = %v, want the planned failure", i, err)
			}
			if fault.KindOf(getErr) != fault.NotFound {
				t.Errorf("record %d of a failed Update: Get err = %v, want NotFound", i, getErr)
			}
		} else {
			if err != nil {
				t.Errorf("update %d: %v", i, err)
			}
			if getErr != nil {
				t.Errorf("record %d of a committed Update: %v", i, getErr)
			}
		}
	}
}

func getRecord(t *testing.T, s store.Store, kind, id string) (*store.Record, error) {
	var r *store.Record
	err := s.View(t.Context(), func(tx store.Tx) error {
		var err error
		r, err = tx.Get(t.Context(), kind, id)
		return err
	})
	return r, err
}

// TestUpdateCallsViewAndGoexit: fn of an Update may call View, and a
// t.FailNow-style runtime.Goexit in fn releases the writer.
func TestUpdateCallsViewAndGoexit(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "db"))
	ctx := t.Context()
	err := s.Update(ctx, func(tx store.Tx) error {
		return s.View(ctx, func(vtx store.Tx) error {
			_, err := vtx.Count(ctx, "k", store.Filter{})
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Update(ctx, func(tx store.Tx) error {
			if err := tx.Insert(ctx, &store.Record{Kind: "k", ID: "goexit"}); err != nil {
				return err
			}
			runtime.Goexit()
			return nil
		})
	}()
	<-done
	if _, err := getRecord(t, s, "k", "goexit"); fault.KindOf(err) != fault.NotFound {
		t.Errorf("record of an fn that called Goexit: err = %v, want NotFound", err)
	}
	if err := s.Update(ctx, func(tx store.Tx) error {
		return tx.Insert(ctx, &store.Record{Kind: "k", ID: "after"})
	}); err != nil {
		t.Fatalf("Update after a Goexit: %v", err)
	}
}

const childEnv = "SQLITESTORE_KILL_CHILD_DB"

// TestKill9Durability runs a child process that acknowledges Updates on
// stdout as they return nil, kills it with SIGKILL in the middle of its
// work, and checks that every acknowledged record is in the database.
func TestKill9Durability(t *testing.T) {
	if path := os.Getenv(childEnv); path != "" {
		killChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), "db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9Durability$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	var acked []string
	sc := bufio.NewScanner(out)
	const wantAcks = 400
	deadline := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		id, ok := strings.CutPrefix(sc.Text(), "ack ")
		if !ok {
			continue
		}
		acked = append(acked, id)
		if len(acked) == wantAcks {
			break
		}
	}
	if len(acked) < wantAcks {
		t.Fatalf("child acknowledged %d records before its output ended, want %d", len(acked), wantAcks)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Take the acks the child printed before it died: they count too.
	for sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			acked = append(acked, id)
		}
	}
	killed = true
	werr := cmd.Wait()
	var exitErr *exec.ExitError
	if !errors.As(werr, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v", werr)
	}

	s := openAt(t, path)
	present := 0
	err = s.View(t.Context(), func(tx store.Tx) error {
		n, err := tx.Count(t.Context(), "ack", store.Filter{})
		present = n
		if err != nil {
			return err
		}
		for _, id := range acked {
			if _, err := tx.Get(t.Context(), "ack", id); err != nil {
				return fmt.Errorf("acknowledged record %s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d acknowledged records all present; %d records in the database", len(acked), present)
}

// killChild is the child of TestKill9Durability: several writers insert
// records and print each one's ID once Update has returned nil, until
// killed (or after 30 s, so it never outlives its parent for long).
func killChild(path string) {
	s, err := Open(context.Background(), path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	stop := time.Now().Add(30 * time.Second)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				id := fmt.Sprintf("w%d-%06d", w, i)
				err := s.Update(context.Background(), func(tx store.Tx) error {
					now := time.Now()
					return tx.Insert(context.Background(), &store.Record{
						Kind: "ack", ID: id, UniqueKey: "key-" + id,
						CreateTime: now, UpdateTime: now, Data: []byte(`{"payload":"` + strings.Repeat("x", 200) + `"}`),
					})
				})
				if err != nil {
					fmt.Fprintln(os.Stderr, "child update:", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Printf("ack %s\n", id)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	os.Exit(0)
}

// TestUpdatesAreSyncedBeforeTheyReturn checks that every Update that
// returned nil is covered by an fsync of the WAL: the store counts commits
// and the commits its fsyncs covered.
func TestUpdatesAreSyncedBeforeTheyReturn(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				before := s.committed.Load() // this Update's commit will be numbered higher
				err := s.Update(t.Context(), func(tx store.Tx) error {
					return tx.Insert(t.Context(), &store.Record{Kind: "k", ID: fmt.Sprintf("%d-%d", w, i)})
				})
				if err != nil {
					t.Error(err)
					return
				}
				if synced := s.synced.Load(); synced <= before {
					t.Errorf("an Update returned before an fsync covered its commit: synced %d, commits before it %d", synced, before)
					return
				}
			}
		}()
	}
	wg.Wait()
	if s.synced.Load() != s.committed.Load() {
		t.Errorf("at rest: synced %d of %d commits", s.synced.Load(), s.committed.Load())
	}
	t.Logf("%d commits for 400 Updates", s.committed.Load())
}
