// Package pgstore implements store.Store on PostgreSQL, for deployments where
// several cleanroomsd replicas share one database.
//
// Records live in one table, records, created and upgraded by the versioned
// migrations embedded in migrations/ (applied by Open under an advisory
// lock). Update runs in SERIALIZABLE transactions and is retried on
// serialization failures and deadlocks; View runs in READ ONLY REPEATABLE
// READ transactions, which see one snapshot and never wait or fail on
// conflicts.
//
// # Seq
//
// Record.Seq comes from the identity column records.seq (a sequence with
// CACHE 1). nextval is not transactional: it hands out strictly increasing
// values in the order the calls happen, whatever the transactions do. An
// insert that committed before another insert began necessarily called
// nextval before it, so the later insert gets the larger Seq — which is what
// the contract promises. Concurrent transactions may commit in another order
// than their Seqs (T1 takes 10, T2 takes 11, T2 commits first), so a listing
// may see 11 and, later, 10 appear behind its cursor. Record 10 did not exist
// when that listing began, and the contract only promises that records that
// existed when the listing began are each returned exactly once, which
// paging by "seq > after ORDER BY seq" does: their Seqs are fixed and
// distinct, and a page never skips or repeats one. Rolled-back inserts and
// retried transactions leave gaps, which the contract allows.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
)

var _ store.Store = (*Store)(nil)

// Defaults for the Options.
const (
	DefaultConnectTimeout       = 5 * time.Second
	DefaultAcquireTimeout       = 5 * time.Second
	DefaultStatementTimeout     = 30 * time.Second
	DefaultIdleInTxTimeout      = 60 * time.Second
	DefaultHealthCheckPeriod    = 15 * time.Second
	DefaultMaxAttempts          = 10
	DefaultMinConns             = 1
	DefaultApplicationName      = "cleanroomsd"
	rollbackTimeout             = 5 * time.Second
	commitTimeout               = 10 * time.Second
	backoffBase                 = 2 * time.Millisecond
	backoffCap                  = 200 * time.Millisecond
	defaultMaxConnsPerGOMAXPROC = 4
)

type config struct {
	maxConns          int32
	minConns          int32
	connectTimeout    time.Duration
	acquireTimeout    time.Duration
	statementTimeout  time.Duration
	idleInTxTimeout   time.Duration
	healthCheckPeriod time.Duration
	maxAttempts       int
	applicationName   string
}

// Option configures Open.
type Option func(*config)

// WithMaxConns sets the pool's maximum number of connections (default
// 4×GOMAXPROCS, or pool_max_conns from the URL).
func WithMaxConns(n int32) Option { return func(c *config) { c.maxConns = n } }

// WithMinConns sets how many connections the pool keeps open when idle
// (default 1, or pool_min_conns from the URL).
func WithMinConns(n int32) Option { return func(c *config) { c.minConns = n } }

// WithConnectTimeout bounds establishing one connection (default 5 s, or
// connect_timeout from the URL).
func WithConnectTimeout(d time.Duration) Option { return func(c *config) { c.connectTimeout = d } }

// WithAcquireTimeout bounds waiting for a pooled connection, on top of the
// request's context (default 5 s). When it expires the call fails with
// fault.Unavailable.
func WithAcquireTimeout(d time.Duration) Option { return func(c *config) { c.acquireTimeout = d } }

// WithStatementTimeout sets the server-side statement_timeout of the store's
// sessions (default 30 s; 0 disables it).
func WithStatementTimeout(d time.Duration) Option { return func(c *config) { c.statementTimeout = d } }

// WithIdleInTransactionTimeout sets idle_in_transaction_session_timeout
// (default 60 s; 0 disables it).
func WithIdleInTransactionTimeout(d time.Duration) Option {
	return func(c *config) { c.idleInTxTimeout = d }
}

// WithHealthCheckPeriod sets how often the pool checks idle connections and
// replaces dead ones (default 15 s).
func WithHealthCheckPeriod(d time.Duration) Option {
	return func(c *config) { c.healthCheckPeriod = d }
}

// WithMaxAttempts sets how many times Update runs a transaction that keeps
// failing with serialization failures or deadlocks (default 10).
func WithMaxAttempts(n int) Option { return func(c *config) { c.maxAttempts = n } }

// WithApplicationName sets application_name, shown in pg_stat_activity
// (default "cleanroomsd").
func WithApplicationName(name string) Option { return func(c *config) { c.applicationName = name } }

// Store is a store.Store backed by PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
	cfg  config

	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup
	once     sync.Once
}

// Open connects to the PostgreSQL database at url (a postgres:// URL or a
// key=value connection string, as libpq and pgx accept), applies pending
// migrations and returns the store. It fails if the database cannot be
// reached (the error has kind fault.Unavailable) or if its schema was
// migrated by a newer cleanroomsd than this one.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	cfg := config{
		minConns:          DefaultMinConns,
		connectTimeout:    DefaultConnectTimeout,
		acquireTimeout:    DefaultAcquireTimeout,
		statementTimeout:  DefaultStatementTimeout,
		idleInTxTimeout:   DefaultIdleInTxTimeout,
		healthCheckPeriod: DefaultHealthCheckPeriod,
		maxAttempts:       DefaultMaxAttempts,
		applicationName:   DefaultApplicationName,
	}
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fault.Wrap(fault.Internal, err, "pgstore: bad database URL")
	}
	// Settings given in the URL win over our defaults; Options win over both.
	if !strings.Contains(url, "pool_max_conns") {
		cfg.maxConns = int32(defaultMaxConnsPerGOMAXPROC * runtime.GOMAXPROCS(0))
	} else {
		cfg.maxConns = pc.MaxConns
	}
	if strings.Contains(url, "pool_min_conns") {
		cfg.minConns = pc.MinConns
	}
	if strings.Contains(url, "connect_timeout") {
		cfg.connectTimeout = pc.ConnConfig.ConnectTimeout
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.maxConns < 1 {
		cfg.maxConns = 1
	}
	if cfg.minConns > cfg.maxConns {
		cfg.minConns = cfg.maxConns
	}
	if cfg.maxAttempts < 1 {
		cfg.maxAttempts = 1
	}

	pc.MaxConns = cfg.maxConns
	pc.MinConns = cfg.minConns
	pc.HealthCheckPeriod = cfg.healthCheckPeriod
	pc.ConnConfig.ConnectTimeout = cfg.connectTimeout
	rp := pc.ConnConfig.RuntimeParams
	if _, ok := rp["application_name"]; !ok && cfg.applicationName != "" {
		rp["application_name"] = cfg.applicationName
	}
	if _, ok := rp["statement_timeout"]; !ok {
		rp["statement_timeout"] = strconv.FormatInt(cfg.statementTimeout.Milliseconds(), 10)
	}
	if _, ok := rp["idle_in_transaction_session_timeout"]; !ok {
		rp["idle_in_transaction_session_timeout"] = strconv.FormatInt(cfg.idleInTxTimeout.Milliseconds(), 10)
	}
	// Timestamps are stored as timestamptz; a UTC session keeps logs and
	// ad-hoc queries unambiguous (values are converted to UTC on read anyway).
	if _, ok := rp["timezone"]; !ok {
		rp["timezone"] = "UTC"
	}

	ms, err := loadMigrations()
	if err != nil {
		return nil, fault.Wrap(fault.Internal, err, "pgstore: embedded migrations")
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, classify(err, "pgstore: open")
	}
	if err := migrate(ctx, pool, ms); err != nil {
		pool.Close()
		var tooNew *schemaTooNewError
		if errors.As(err, &tooNew) {
			return nil, fault.Wrap(fault.Internal, err, "")
		}
		return nil, classify(err, "pgstore: migrating the schema")
	}
	return &Store{pool: pool, cfg: cfg}, nil
}

// Pool returns the underlying connection pool, for diagnostics and tests.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// enter registers an in-flight call, or fails once Close has begun.
func (s *Store) enter() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fault.Newf(fault.Unavailable, "pgstore: the store is closed")
	}
	s.inflight.Add(1)
	return nil
}

// Transaction modes.
const (
	modeUpdate = iota // SERIALIZABLE, read-write
	modeView          // REPEATABLE READ, read-only
	modeClaim         // READ COMMITTED, read-write, on a row locked FOR UPDATE SKIP LOCKED
)

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	return s.run(ctx, modeUpdate, fn)
}

// View implements store.Store.
func (s *Store) View(ctx context.Context, fn func(tx store.Tx) error) error {
	return s.run(ctx, modeView, fn)
}

// Claim implements store.Store with SELECT … FOR UPDATE SKIP LOCKED in a
// READ COMMITTED transaction: the row lock, held until commit, is what
// keeps the record to this claimer; serializable isolation would add
// nothing but false conflicts between claimers that skipped each other's
// rows. A serializable Update of the same record waits for the lock and is
// then retried by the store, so it sees the claim.
func (s *Store) Claim(ctx context.Context, kind string, f store.Filter, fn func(tx store.Tx, r *store.Record) error) (bool, error) {
	claimed := false
	err := s.run(ctx, modeClaim, func(stx store.Tx) error {
		claimed = false
		t := stx.(*tx)
		cond, args := where(kind, f, nil)
		row := t.ptx.QueryRow(ctx, "SELECT "+recordColumns+" FROM records WHERE "+cond+" ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED", args...)
		r, err := scanRecord(row)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return t.fail(ctx, err, "pgstore: claim %s", kind)
		}
		if err := fn(t, r); err != nil {
			return err
		}
		claimed = true
		return nil
	})
	return claimed, err
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.inflight.Done()
	conn, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if err := conn.Ping(ctx); err != nil {
		return classify(err, "pgstore: ping")
	}
	return nil
}

// Close implements store.Store: new calls fail at once, calls in flight
// (including their retries) finish, then the pool is closed.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.inflight.Wait()
		s.pool.Close()
	})
	return nil
}

// acquire takes a connection from the pool, waiting at most the acquire
// timeout (and never past ctx).
func (s *Store) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	actx := ctx
	if s.cfg.acquireTimeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, s.cfg.acquireTimeout)
		defer cancel()
	}
	conn, err := s.pool.Acquire(actx)
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, fault.Wrap(fault.Unavailable, err,
				"pgstore: no database connection became available within %s", s.cfg.acquireTimeout)
		}
		return nil, classify(err, "pgstore: connecting")
	}
	return conn, nil
}

// outcome says whether a failed attempt may be run again.
type outcome int

const (
	final      outcome = iota // return the error
	conflicted                // serialization failure or deadlock: run fn again
	brokenConn                // the connection died before commit: run fn again on another
)

// run runs fn in a transaction, retrying as the store.Store contract allows.
func (s *Store) run(ctx context.Context, mode int, fn func(tx store.Tx) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.inflight.Done()

	broken := 0
	for attempt := 1; ; attempt++ {
		err, out := s.attempt(ctx, mode, fn)
		switch out {
		case final:
			return err
		case conflicted:
			if attempt >= s.cfg.maxAttempts {
				return err
			}
		case brokenConn:
			// Every pooled connection may be dead (after a server restart
			// say), and each is found out at once: try them all, plus a
			// new one, without pausing. A failure to connect is final.
			broken++
			if broken > int(s.cfg.maxConns) {
				return err
			}
			attempt--
			continue
		}
		if ctx.Err() != nil {
			return err
		}
		if !sleep(ctx, backoff(attempt)) {
			return err
		}
	}
}

// backoff returns a jittered delay before attempt+1: "full jitter" over an
// exponentially growing window, 2 ms, 4 ms, ... capped at 200 ms.
func backoff(attempt int) time.Duration {
	window := backoffBase << min(attempt-1, 16)
	if window > backoffCap || window <= 0 {
		window = backoffCap
	}
	return window/2 + rand.N(window/2+1)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// attempt runs fn once in a fresh transaction.
func (s *Store) attempt(ctx context.Context, mode int, fn func(tx store.Tx) error) (err error, out outcome) {
	conn, err := s.acquire(ctx)
	if err != nil {
		return err, final
	}
	released := false
	release := func() {
		if !released {
			released = true
			conn.Release()
		}
	}
	defer release()

	readOnly := mode == modeView
	opts := pgx.TxOptions{IsoLevel: pgx.Serializable, AccessMode: pgx.ReadWrite}
	switch mode {
	case modeView:
		opts = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	case modeClaim:
		opts = pgx.TxOptions{IsoLevel: pgx.ReadCommitted, AccessMode: pgx.ReadWrite}
	}
	ptx, err := conn.BeginTx(ctx, opts)
	if err != nil {
		return classify(err, "pgstore: begin"), s.retryability(ctx, conn, err)
	}
	t := &tx{s: s, conn: conn, ptx: ptx, readOnly: readOnly}

	rollback := func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		_ = ptx.Rollback(rctx)
	}
	defer func() {
		if p := recover(); p != nil {
			rollback()
			release()
			panic(p)
		}
	}()

	if ferr := fn(t); ferr != nil {
		rollback()
		return ferr, t.outcome
	}
	// A caller that has gone away gets no commit. Once COMMIT is sent it is
	// not interrupted (a commit cut short by a cancelled context would leave
	// its outcome unknown); it is bounded by commitTimeout instead.
	if cerr := ctx.Err(); cerr != nil {
		rollback()
		return classify(cerr, "pgstore: commit"), final
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if cerr := ptx.Commit(cctx); cerr != nil {
		if errors.Is(cerr, pgx.ErrTxCommitRollback) {
			// A statement failed and fn carried on and returned nil: the
			// server had already aborted the transaction.
			if t.outcome != final {
				return classify(t.firstErr, "pgstore: commit"), t.outcome
			}
			return fault.Wrap(fault.Internal, t.firstErr, "pgstore: commit: the transaction was aborted by an earlier error"), final
		}
		if isSerializationConflict(cerr) {
			return classify(cerr, "pgstore: commit"), conflicted
		}
		// Any other failure (the connection breaking, the client going away)
		// leaves the outcome unknown: report it, never retry.
		return classify(cerr, "pgstore: commit"), final
	}
	return nil, final
}

// retryability says whether an error seen before commit allows running fn
// again: a serialization conflict, or a connection that broke under us
// (typically one the server closed while it sat in the pool) while the
// request is still wanted. A failure to establish a new connection is
// final: the server is down and retrying would only delay the answer.
func (s *Store) retryability(ctx context.Context, conn *pgxpool.Conn, err error) outcome {
	if isSerializationConflict(err) {
		return conflicted
	}
	if ctx.Err() == nil && conn.Conn().IsClosed() && isUnavailable(err) {
		return brokenConn
	}
	return final
}

// String describes the store for logs, without credentials.
func (s *Store) String() string {
	cc := s.pool.Config().ConnConfig
	return fmt.Sprintf("postgres://%s:%d/%s", cc.Host, cc.Port, cc.Database)
}
