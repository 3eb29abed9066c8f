// Package store defines the metadata store that every cleanroomsd replica
// shares. It holds records: small JSON documents with a few indexed columns,
// read and written in serializable transactions. Business logic gives the
// records their meaning; the store guarantees identity, uniqueness, ordering
// and atomicity, the same way in every implementation:
//
//   - sqlitestore: the embedded default, a SQLite file in the data directory;
//   - pgstore: PostgreSQL, shared by several replicas.
//
// storetest holds the contract suite both must pass.
package store

import (
	"context"
	"time"
)

// Record is one stored resource.
type Record struct {
	// Kind names the record type, e.g. "collaboration". (Kind, ID) is unique.
	Kind string
	// ID identifies the record within its kind.
	ID string
	// Parent is the ID of the record that owns this one ("" if none). Indexed.
	Parent string
	// Account is the AWS account that owns the record ("" if none). Indexed.
	Account string
	// Status is the record's lifecycle status, for filtering ("" if none).
	Status string
	// UniqueKey, when not empty, is unique among records of the same Kind. It
	// expresses rules such as "one membership per account and collaboration".
	UniqueKey string
	// Seq is assigned by the store when the record is inserted and never
	// changes. Every later insert gets a larger Seq than every insert that
	// committed before it began, so a list ordered by Seq and resumed after
	// the last Seq seen returns each record that existed when listing began
	// exactly once.
	Seq int64
	// CreateTime and UpdateTime are kept as given, with at least millisecond
	// precision, in UTC.
	CreateTime time.Time
	UpdateTime time.Time
	// Data is the record's body (JSON), opaque to the store.
	Data []byte
}

// Filter narrows a List or Count. Empty fields match everything.
type Filter struct {
	Parent   string
	Account  string
	Statuses []string // any of these statuses
}

// Page bounds a List: records with Seq > After, at most Limit of them; or,
// when Descending, records with Seq < After (every record when After is 0),
// newest first.
type Page struct {
	After      int64
	Limit      int // must be > 0
	Descending bool
}

// Tx is a transaction. Its methods may only be used inside the function
// passed to Store.Update or Store.View, and never concurrently.
//
// Errors: methods return *fault.Error values whose Kind says what happened:
// fault.NotFound for a missing record, fault.Conflict for a uniqueness
// violation, fault.Unavailable when the store cannot be reached, and
// fault.Internal for anything else. Writes inside View fail with
// fault.Internal. A NotFound or Conflict leaves the transaction usable: the
// function may go on and commit. Data is returned byte for byte as stored.
type Tx interface {
	// Get returns the record (kind, id), or a NotFound error.
	Get(ctx context.Context, kind, id string) (*Record, error)
	// GetByUniqueKey returns the record of kind whose UniqueKey is key, or a
	// NotFound error (always for an empty key).
	GetByUniqueKey(ctx context.Context, kind, key string) (*Record, error)
	// Insert stores a new record and sets r.Seq. It fails with Conflict if a
	// record with the same (Kind, ID), or the same (Kind, UniqueKey) when
	// UniqueKey is not empty, exists.
	Insert(ctx context.Context, r *Record) error
	// Update replaces Parent, Account, Status, UniqueKey, UpdateTime and Data
	// of the record (r.Kind, r.ID); CreateTime and Seq are kept. It fails with
	// NotFound if the record does not exist and with Conflict if the new
	// UniqueKey is taken by another record.
	Update(ctx context.Context, r *Record) error
	// Delete removes the record (kind, id), or fails with NotFound.
	Delete(ctx context.Context, kind, id string) error
	// List returns the records of kind matching f, in increasing Seq order
	// starting after p.After (decreasing and before it when p.Descending),
	// at most p.Limit of them. A Limit below 1 is an Internal error.
	List(ctx context.Context, kind string, f Filter, p Page) ([]*Record, error)
	// Count returns how many records of kind match f.
	Count(ctx context.Context, kind string, f Filter) (int, error)
}

// Store is the metadata store. It is safe for concurrent use.
type Store interface {
	// Update runs fn in a serializable read-write transaction and commits it
	// when fn returns nil; the commit is durable when Update returns nil.
	// When fn returns an error the transaction is rolled back and that error
	// is returned unchanged; a panic in fn rolls back and propagates; a
	// context cancelled while fn runs makes Update fail and keep nothing. If
	// the transaction conflicts with a concurrent one, the store may roll
	// back and run fn again, so fn must have no effects outside tx and must
	// not keep state across runs. fn must not call Update on the same store.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// View runs fn in a read-only transaction that sees one consistent
	// snapshot.
	View(ctx context.Context, fn func(tx Tx) error) error
	// Claim is the queue primitive. It takes the oldest record (lowest Seq)
	// of kind matching f that no concurrent Claim holds and runs fn with
	// it in a read-write transaction, committing when fn returns nil.
	// A record is never handed to two claimers: concurrent claimers, on
	// any number of replicas, each get a different record (PostgreSQL skips
	// the rows other claimers hold; SQLite's single writer takes one claim
	// at a time).
	// fn must make the record stop matching f (change its Status, say), or
	// the next Claim takes it again. Claim reports false, without running
	// fn, when no record is free. fn follows Update's rules: no effects
	// outside tx, and it may run again.
	Claim(ctx context.Context, kind string, f Filter, fn func(tx Tx, r *Record) error) (bool, error)
	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
	// Close releases the store's resources. In-flight transactions finish
	// first.
	Close() error
}
