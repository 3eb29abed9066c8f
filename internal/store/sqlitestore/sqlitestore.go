// Package sqlitestore implements store.Store on an embedded SQLite database,
// the default metadata store of cleanroomsd. It uses modernc.org/sqlite, a
// pure-Go SQLite, through database/sql.
//
// # Layout
//
// All records live in one table, records, described by the numbered
// migrations embedded in the binary (migrations/*.sql). Open applies the
// migrations the file lacks in one transaction and keeps the schema version in
// PRAGMA user_version; a file whose version is newer than the binary knows is
// refused (ErrSchemaTooNew), never downgraded.
//
// # Durability
//
// The database runs in WAL mode with synchronous=NORMAL, so SQLite itself
// doesn't fsync at COMMIT; the store does, after the commit and outside the
// writer lock: an Update returns nil only once an fsync of the WAL that
// began after its COMMIT has finished, so it survives kill -9 and power
// loss. Commits are numbered and one fsync covers every commit made before
// it started, so concurrent Updates share fsyncs (group commit) while the
// next Updates already run on the writer.
//
// # Concurrency
//
// Writes go through one dedicated connection. Update takes the writer lock,
// so writers are serialized in this process and never see SQLITE_BUSY from
// each other, and runs fn, in the caller's goroutine, inside a BEGIN
// IMMEDIATE transaction. Because every Update runs alone on the single
// writer, reads inside fn see exactly the state fn's writes are based on:
// Update is serializable without ever needing to retry fn.
//
// By default each Update is its own transaction (a COMMIT that doesn't
// fsync is cheap). WithMaxBatch allows several Updates queued for the
// writer to share one transaction instead: each Update after the first
// then runs under its own SAVEPOINT and is rolled back to it when fn fails,
// so one fn's failure never affects another's writes, and the last Update
// of the group (the one that finds nobody queued, or that fills the group
// to the bound) commits for all of them. The only case in which fn is run
// a second time is when SQLite itself aborted a shared transaction (an I/O
// error, for instance): the Updates of the group that had succeeded are
// then rerun, at most three times in all.
//
// Reads (View) use a separate pool of query_only connections. Each View is
// one deferred read transaction, which in WAL mode sees a single snapshot
// from its first read on, and never waits for the writer.
//
// fn passed to Update must not call Update on the same Store: the writer lock
// is held while fn runs, so that would deadlock. Calling View is fine (it
// sees committed data only, not fn's writes).
//
// # Errors and cancellation
//
// Errors are *fault.Error values: Conflict for a UNIQUE violation, NotFound,
// Unavailable for a closed store or a database file that is locked or cannot
// be opened, Internal otherwise. A cancelled context is reported as Internal
// wrapping ctx.Err(), so errors.Is(err, context.Canceled) holds. Update checks
// its context before fn, before each statement, and after fn: an Update
// whose context ends before fn returns keeps nothing and returns an error.
// Statements on the writer are never interrupted mid-way, since
// sqlite3_interrupt could roll back a transaction other Updates share. An
// Update waiting for the writer lock waits until it gets it. A panic in fn
// rolls fn's writes back and goes on in the caller.
package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/store"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

var _ store.Store = (*Store)(nil)

// Store is a store.Store kept in one SQLite file. Create it with Open.
type Store struct {
	path string

	// The writer: one connection, used only with wmu held.
	wdb    *sql.DB
	wconn  *sql.Conn
	wstmts *stmtCache
	wmu    sync.Mutex
	// waiting counts the Updates queued for wmu; the holder of wmu commits
	// the open transaction when it is zero.
	waiting  atomic.Int64
	cur      *group // the open write transaction, or nil; guarded by wmu
	maxBatch int

	// Durability. Commits are numbered (committed, guarded by wmu) and an
	// fsync of the WAL makes every commit numbered up to synced durable.
	// syncMu serializes fsyncs; Updates whose commit an fsync already
	// covered don't wait for another.
	committed atomic.Uint64
	synced    atomic.Uint64
	syncMu    sync.Mutex
	wal       *os.File // the WAL file, opened at the first sync; guarded by syncMu

	// The readers: a pool of connections, each with its statements. An
	// entry is nil until first used, or after its connection broke.
	rdb   *sql.DB
	rpool chan *reader

	mu       sync.RWMutex // guards closed; held shared while entering a call
	closed   bool
	inflight sync.WaitGroup
}

// reader is a read connection with its prepared statements.
type reader struct {
	conn  *sql.Conn
	stmts *stmtCache
}

// group is one write transaction shared by the Updates that ran in it.
type group struct {
	n     int           // Updates whose writes are in the transaction
	done  chan struct{} // closed when the transaction has ended (and is durable)
	err   error         // how it ended: nil when committed
	retry bool          // SQLite aborted it; its Updates should run again
	seq   uint64        // its commit's number, once committed
}

type options struct {
	readConns int
	maxBatch  int
}

// Option configures Open.
type Option func(*options)

// WithReadConns sets how many read connections View may use at once
// (default 4).
func WithReadConns(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.readConns = n
		}
	}
}

// WithMaxBatch sets how many Updates at most share one transaction
// (default 1: each Update commits on its own; fsyncs are shared either
// way). Sharing transactions saves COMMIT statements but makes every
// member wait for the group's last one.
func WithMaxBatch(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxBatch = n
		}
	}
}

// The SQLite busy timeout. With one writer per process a wait only happens
// when another process has the file open (a backup, the sqlite3 shell).
const busyTimeoutMillis = 10000

// Open opens the store kept in the SQLite file at path, creating the file
// and its parent directories if they are missing, and brings its schema up
// to date.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := options{readConns: 4, maxBatch: 1}
	for _, opt := range opts {
		opt(&o)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fault.Wrap(fault.Internal, err, "sqlitestore: resolve path %q", path)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "sqlitestore: create directory for %s", abs)
	}
	s := &Store{path: abs, maxBatch: o.maxBatch}
	if err := s.open(ctx, abs, o); err != nil {
		s.closeResources()
		return nil, err
	}
	return s, nil
}

func dsn(abs string, params url.Values) string {
	u := url.URL{Scheme: "file", OmitHost: true, Path: abs}
	return u.String() + "?" + params.Encode()
}

func (s *Store) open(ctx context.Context, abs string, o options) error {
	wp := url.Values{}
	wp.Set("_busy_timeout", strconv.Itoa(busyTimeoutMillis))
	wp.Set("_journal_mode", "WAL")
	// NORMAL: SQLite doesn't fsync at COMMIT; the store fsyncs the WAL itself
	// after releasing the writer (syncCommitted) and acknowledges an Update
	// only then, so writes stay durable while one fsync serves many commits.
	wp.Set("_synchronous", "NORMAL")
	wdb, err := sql.Open("sqlite", dsn(abs, wp))
	if err != nil {
		return fault.Wrap(fault.Internal, err, "sqlitestore: open %s", abs)
	}
	s.wdb = wdb
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	s.wconn, err = wdb.Conn(ctx)
	if err != nil {
		return fault.Wrap(fault.Unavailable, err, "sqlitestore: open %s", abs)
	}
	var mode string
	if err := s.wconn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fault.Wrap(fault.Unavailable, err, "sqlitestore: open %s", abs)
	}
	if mode != "wal" {
		return fault.Newf(fault.Internal, "sqlitestore: %s: journal_mode is %q, want wal", abs, mode)
	}
	var syncMode int
	if err := s.wconn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&syncMode); err != nil {
		return fault.Wrap(fault.Unavailable, err, "sqlitestore: open %s", abs)
	}
	if syncMode != 1 { // NORMAL; durability comes from syncCommitted
		return fault.Newf(fault.Internal, "sqlitestore: %s: synchronous is %d, want NORMAL (1)", abs, syncMode)
	}
	if err := migrate(ctx, s.wconn); err != nil {
		return fault.Wrap(fault.Internal, err, "sqlitestore: %s", abs)
	}
	if err := s.syncWAL(); err != nil {
		return fault.Wrap(fault.Unavailable, err, "sqlitestore: %s", abs)
	}
	// Make the file's directory entry durable: SQLite syncs the directory
	// when it creates the WAL, but not for the database file itself.
	if err := syncDir(filepath.Dir(abs)); err != nil {
		return fault.Wrap(fault.Unavailable, err, "sqlitestore: sync directory of %s", abs)
	}
	s.wstmts = newStmtCache(s.wconn.PrepareContext)

	rp := url.Values{}
	rp.Set("_busy_timeout", strconv.Itoa(busyTimeoutMillis))
	rp.Set("_query_only", "1")
	rdb, err := sql.Open("sqlite", dsn(abs, rp))
	if err != nil {
		return fault.Wrap(fault.Internal, err, "sqlitestore: open %s", abs)
	}
	s.rdb = rdb
	rdb.SetMaxOpenConns(o.readConns)
	rdb.SetMaxIdleConns(o.readConns)
	rdb.SetConnMaxLifetime(0)
	rdb.SetConnMaxIdleTime(0)
	s.rpool = make(chan *reader, o.readConns)
	for range o.readConns {
		s.rpool <- nil
	}

	// Prepare the fixed statements now, so that a broken schema shows at
	// Open and the first requests do not pay for it.
	for _, q := range writerStmts {
		if _, err := s.wstmts.get(ctx, q); err != nil {
			return fault.Wrap(fault.Internal, err, "sqlitestore: prepare %q", q)
		}
	}
	r, err := s.takeReader(ctx)
	if err != nil {
		return err
	}
	s.putReader(r, nil)
	return nil
}

// The statements prepared when a connection opens. The transaction control
// statements must be among them: they are run through the statement cache,
// which may fill up with List queries.
var (
	writerStmts = []string{qGet, qGetByUniqueKey, qInsert, qUpdate, qDelete,
		"BEGIN IMMEDIATE", "COMMIT", "ROLLBACK", "SAVEPOINT u", "RELEASE u", "ROLLBACK TO u"}
	readerStmts = []string{qGet, qGetByUniqueKey, "BEGIN", "ROLLBACK"}
)

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// enter registers a call in flight, or fails when the store is closed.
func (s *Store) enter() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return fault.Newf(fault.Unavailable, "sqlitestore: store is closed")
	}
	s.inflight.Add(1)
	return nil
}

// maxAttempts bounds how often Update runs fn when SQLite aborts a shared
// transaction under it.
const maxAttempts = 3

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.inflight.Done()
	for attempt := 1; ; attempt++ {
		retry, err := s.updateOnce(ctx, fn)
		if !retry || attempt == maxAttempts {
			return err
		}
	}
}

// Claim implements store.Store. SQLite has a single writer: the oldest
// matching record, read and changed in one write transaction, can't be
// taken by anyone else in between.
func (s *Store) Claim(ctx context.Context, kind string, f store.Filter, fn func(tx store.Tx, r *store.Record) error) (bool, error) {
	claimed := false
	err := s.Update(ctx, func(tx store.Tx) error {
		claimed = false
		recs, err := tx.List(ctx, kind, f, store.Page{Limit: 1})
		if err != nil || len(recs) == 0 {
			return err
		}
		if err := fn(tx, recs[0]); err != nil {
			return err
		}
		claimed = true
		return nil
	})
	return claimed, err
}

// updateOnce runs fn once in the shared write transaction and waits for that
// transaction to end. retry reports that SQLite aborted the transaction after
// fn succeeded, so fn's writes are lost and fn may be run again.
func (s *Store) updateOnce(ctx context.Context, fn func(tx store.Tx) error) (retry bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, ctxErr(err)
	}
	s.waiting.Add(1)
	s.wmu.Lock()
	s.waiting.Add(-1)

	g, savepoint, err := s.joinLocked()
	if err != nil {
		ended := s.endLocked()
		s.wmu.Unlock()
		s.syncCommitted(ended)
		return false, err
	}
	t := &tx{s: s, write: true}
	returned := false
	defer func() {
		if !returned { // fn panicked or called runtime.Goexit: undo its writes
			t.done = true
			s.leaveLocked(g, savepoint, false)
			ended := s.endLocked()
			s.wmu.Unlock()
			s.syncCommitted(ended)
		}
	}()
	ferr := fn(t)
	returned = true
	t.done = true
	if ferr == nil {
		if t.broken != nil {
			ferr = t.broken
		} else if cerr := ctx.Err(); cerr != nil {
			ferr = ctxErr(cerr)
		}
	}
	kept := s.leaveLocked(g, savepoint, ferr == nil)
	ended := s.endLocked()
	s.wmu.Unlock()
	s.syncCommitted(ended)
	if ferr != nil {
		return false, ferr
	}
	<-g.done
	if !kept || g.retry {
		return true, g.err
	}
	return false, g.err
}

// joinLocked makes the caller part of the open write transaction, beginning
// one if none is open. Every member but the first gets a savepoint, so that
// its failure can be undone alone.
func (s *Store) joinLocked() (g *group, savepoint bool, err error) {
	if s.cur == nil {
		if _, err := s.wexec("BEGIN IMMEDIATE"); err != nil {
			return nil, false, storeErr("begin transaction", err)
		}
		s.cur = &group{done: make(chan struct{})}
		return s.cur, false, nil
	}
	if _, err := s.wexec("SAVEPOINT u"); err != nil {
		err = storeErr("savepoint", err)
		s.abortLocked(err)
		return nil, false, err
	}
	return s.cur, true, nil
}

// leaveLocked ends the caller's part of the write transaction: its writes
// stay when ok, and are undone otherwise. It reports whether they stayed.
func (s *Store) leaveLocked(g *group, savepoint, ok bool) bool {
	if s.cur != g {
		return false // the transaction was aborted under fn
	}
	switch {
	case !savepoint && ok:
		g.n++
		return true
	case !savepoint:
		// The first member failed: nothing else is in the transaction.
		_, _ = s.wexec("ROLLBACK")
		s.cur = nil
		close(g.done)
		return false
	case ok:
		if _, err := s.wexec("RELEASE u"); err != nil {
			s.abortLocked(storeErr("release savepoint", err))
			return false
		}
		g.n++
		return true
	default:
		if _, err := s.wexec("ROLLBACK TO u"); err != nil {
			// SQLite rolled the whole transaction back (an I/O error, say).
			s.abortLocked(storeErr("roll back to savepoint", err))
			return false
		}
		if _, err := s.wexec("RELEASE u"); err != nil {
			s.abortLocked(storeErr("release savepoint", err))
		}
		return false
	}
}

// endLocked commits the open write transaction unless more Updates are
// queued to join it. A committed transaction is returned for the caller to
// make durable with syncCommitted once it has released the writer; a
// transaction that ended otherwise is finished here.
func (s *Store) endLocked() *group {
	g := s.cur
	if g == nil || (s.waiting.Load() > 0 && g.n < s.maxBatch) {
		return nil
	}
	s.cur = nil
	if g.n == 0 {
		_, _ = s.wexec("ROLLBACK")
	} else if _, err := s.wexec("COMMIT"); err != nil {
		g.err = storeErr("commit", err)
		// A failed COMMIT can leave the transaction open; end it.
		_, _ = s.wexec("ROLLBACK")
	} else {
		g.seq = s.committed.Add(1)
		return g
	}
	close(g.done)
	return nil
}

// syncCommitted makes the committed transaction g durable and tells its
// Updates. It runs without the writer lock, so the next transaction's
// Updates proceed during the fsync, and one fsync covers every commit made
// before it started.
func (s *Store) syncCommitted(g *group) {
	if g == nil {
		return
	}
	if s.synced.Load() < g.seq {
		s.syncMu.Lock()
		if s.synced.Load() < g.seq {
			// Every commit numbered up to upTo has returned, so its WAL
			// frames are written; the fsync makes them durable.
			upTo := s.committed.Load()
			if err := s.syncWALLocked(); err != nil {
				g.err = storeErr("sync the WAL", err)
			} else {
				s.synced.Store(upTo)
			}
		}
		s.syncMu.Unlock()
	}
	close(g.done)
}

// syncWAL fsyncs the WAL file.
func (s *Store) syncWAL() error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	return s.syncWALLocked()
}

func (s *Store) syncWALLocked() error {
	if s.wal == nil {
		// SQLite keeps the WAL file (same inode, rewritten from the start
		// after checkpoints) for as long as connections are open, which is
		// the store's lifetime; fsync flushes the inode whichever
		// descriptor wrote it.
		f, err := os.OpenFile(s.path+"-wal", os.O_RDWR, 0)
		if errors.Is(err, os.ErrNotExist) {
			return nil // no WAL yet: nothing was written since it was last reset
		}
		if err != nil {
			return err
		}
		s.wal = f
	}
	return s.wal.Sync()
}

// abortLocked rolls the open write transaction back and tells its members to
// run again.
func (s *Store) abortLocked(cause error) {
	g := s.cur
	if g == nil {
		return
	}
	s.cur = nil
	_, _ = s.wexec("ROLLBACK")
	g.err = cause
	g.retry = true
	close(g.done)
}

// takeReader takes a read connection from the pool, opening it if needed.
func (s *Store) takeReader(ctx context.Context) (*reader, error) {
	var r *reader
	select {
	case r = <-s.rpool:
	case <-ctx.Done():
		return nil, ctxErr(ctx.Err())
	}
	if r != nil {
		return r, nil
	}
	conn, err := s.rdb.Conn(ctx)
	if err != nil {
		s.rpool <- nil
		if cerr := ctx.Err(); cerr != nil {
			return nil, ctxErr(cerr)
		}
		return nil, fault.Wrap(fault.Unavailable, err, "sqlitestore: open read connection")
	}
	r = &reader{conn: conn}
	r.stmts = newStmtCache(conn.PrepareContext)
	for _, q := range readerStmts {
		if _, err := r.stmts.get(ctx, q); err != nil {
			_ = r.close()
			s.rpool <- nil
			return nil, storeErr("prepare", err)
		}
	}
	return r, nil
}

// putReader returns r to the pool; err is the last error seen on it, and a
// connection that database/sql gave up on is replaced.
func (s *Store) putReader(r *reader, err error) {
	if err != nil && (errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn)) {
		_ = r.close()
		r = nil
	}
	s.rpool <- r
}

func (r *reader) close() error {
	return errors.Join(r.stmts.close(), r.conn.Close())
}

// View implements store.Store.
func (s *Store) View(ctx context.Context, fn func(tx store.Tx) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.inflight.Done()
	if err := ctx.Err(); err != nil {
		return ctxErr(err)
	}
	r, err := s.takeReader(ctx)
	if err != nil {
		return err
	}
	t := &tx{s: s, r: r}
	defer func() {
		t.done = true
		// A deferred transaction: SQLite takes its snapshot at the first
		// read and keeps it until the ROLLBACK.
		_, rerr := r.stmts.exec(context.Background(), "ROLLBACK")
		s.putReader(r, cmpErr(t.lastErr, rerr))
	}()
	if _, err := r.stmts.exec(ctx, "BEGIN"); err != nil {
		t.lastErr = err
		if cerr := ctx.Err(); cerr != nil {
			return ctxErr(cerr)
		}
		return storeErr("begin read transaction", err)
	}
	return fn(t)
}

// cmpErr returns a if it is not nil, else b.
func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.inflight.Done()
	r, err := s.takeReader(ctx)
	if err != nil {
		return err
	}
	var one int
	err = r.conn.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	s.putReader(r, err)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return ctxErr(cerr)
		}
		return fault.Wrap(fault.Unavailable, err, "sqlitestore: ping")
	}
	return nil
}

// Close implements store.Store: it waits for the Updates and Views in flight,
// then closes the database. Calls after Close fail with fault.Unavailable.
// Closing twice is harmless.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.inflight.Wait()
	return s.closeResources()
}

func (s *Store) closeResources() error {
	var errs []error
	if s.wal != nil {
		errs = append(errs, s.wal.Close())
	}
	if s.wstmts != nil {
		errs = append(errs, s.wstmts.close())
	}
	if s.rpool != nil {
	drain:
		for {
			select {
			case r := <-s.rpool:
				if r != nil {
					errs = append(errs, r.close())
				}
			default:
				break drain
			}
		}
	}
	if s.wconn != nil {
		errs = append(errs, s.wconn.Close())
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fault.Wrap(fault.Internal, err, "sqlitestore: close %s", s.path)
	}
	return nil
}

// stmtCache keeps prepared statements by SQL text. Queries built from a
// Filter vary, so the cache is bounded; past the bound get returns nil and
// the caller runs the query unprepared.
type stmtCache struct {
	prepare func(ctx context.Context, query string) (*sql.Stmt, error)
	mu      sync.Mutex
	m       map[string]*sql.Stmt
}

const maxCachedStmts = 256

func newStmtCache(prepare func(ctx context.Context, query string) (*sql.Stmt, error)) *stmtCache {
	return &stmtCache{prepare: prepare, m: make(map[string]*sql.Stmt)}
}

func (c *stmtCache) get(ctx context.Context, q string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok {
		return st, nil
	}
	if len(c.m) >= maxCachedStmts {
		return nil, nil
	}
	st, err := c.prepare(ctx, q)
	if err != nil {
		return nil, err
	}
	c.m[q] = st
	return st, nil
}

// exec runs q, a statement without arguments, prepared once.
func (c *stmtCache) exec(ctx context.Context, q string) (sql.Result, error) {
	st, err := c.get(ctx, q)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, errorf("statement cache full")
	}
	return st.ExecContext(ctx)
}

// wexec runs a transaction control statement on the writer.
func (s *Store) wexec(q string) (sql.Result, error) {
	return s.wstmts.exec(context.Background(), q)
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for q, st := range c.m {
		errs = append(errs, st.Close())
		delete(c.m, q)
	}
	return errors.Join(errs...)
}

// ctxErr reports a cancelled or expired context; errors.Is(err, ctx.Err())
// holds for the result.
func ctxErr(err error) error {
	return fault.Wrap(fault.Internal, err, "sqlitestore")
}

// SQLite primary result codes (the low byte of an extended code).
const (
	sqliteBusy       = 5
	sqliteLocked     = 6
	sqliteCantOpen   = 14
	sqliteConstraint = 19
)

// sqliteCode returns the primary SQLite result code in err, or 0.
func sqliteCode(err error) int {
	var e interface{ Code() int }
	if errors.As(err, &e) {
		return e.Code() & 0xff
	}
	return 0
}

// storeErr classifies an error from the database.
func storeErr(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ctxErr(err)
	}
	switch sqliteCode(err) {
	case sqliteBusy, sqliteLocked, sqliteCantOpen:
		return fault.Wrap(fault.Unavailable, err, "sqlitestore: %s", op)
	}
	if errors.Is(err, sql.ErrConnDone) {
		return fault.Wrap(fault.Unavailable, err, "sqlitestore: %s", op)
	}
	return fault.Wrap(fault.Internal, err, "sqlitestore: %s", op)
}

func errorf(format string, args ...any) error {
	return &fault.Error{Kind: fault.Internal, Message: "sqlitestore: " + fmt.Sprintf(format, args...)}
}
