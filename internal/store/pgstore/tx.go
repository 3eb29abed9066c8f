package pgstore

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
)

// tx implements store.Tx on one pgx transaction.
type tx struct {
	s        *Store
	conn     *pgxpool.Conn
	ptx      pgx.Tx
	readOnly bool

	// outcome records whether a failed statement means the whole attempt
	// may be retried; firstErr is the first statement error seen.
	outcome  outcome
	firstErr error
}

var _ store.Tx = (*tx)(nil)

const recordColumns = "kind, id, parent, account, status, unique_key, seq, create_time, update_time, data"

// fail classifies a statement error and remembers whether it makes the
// attempt retryable.
func (t *tx) fail(ctx context.Context, err error, format string, args ...any) error {
	if t.firstErr == nil {
		t.firstErr = err
	}
	if o := t.s.retryability(ctx, t.conn, err); o > t.outcome {
		t.outcome = o
	}
	return classify(err, format, args...)
}

func (t *tx) writable(op string) error {
	if t.readOnly {
		return fault.Newf(fault.Internal, "pgstore: %s in a read-only transaction", op)
	}
	return nil
}

func scanRecord(row pgx.Row) (*store.Record, error) {
	r := new(store.Record)
	if err := row.Scan(&r.Kind, &r.ID, &r.Parent, &r.Account, &r.Status, &r.UniqueKey,
		&r.Seq, &r.CreateTime, &r.UpdateTime, &r.Data); err != nil {
		return nil, err
	}
	r.CreateTime = r.CreateTime.UTC()
	r.UpdateTime = r.UpdateTime.UTC()
	return r, nil
}

// Get implements store.Tx.
func (t *tx) Get(ctx context.Context, kind, id string) (*store.Record, error) {
	r, err := scanRecord(t.ptx.QueryRow(ctx,
		"SELECT "+recordColumns+" FROM records WHERE kind = $1 AND id = $2", kind, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fault.Missing(kind, id, "%s %q not found", kind, id)
	}
	if err != nil {
		return nil, t.fail(ctx, err, "pgstore: get %s %q", kind, id)
	}
	return r, nil
}

// GetByUniqueKey implements store.Tx.
func (t *tx) GetByUniqueKey(ctx context.Context, kind, key string) (*store.Record, error) {
	if key == "" {
		return nil, fault.Missing(kind, "", "%s with an empty unique key not found", kind)
	}
	r, err := scanRecord(t.ptx.QueryRow(ctx,
		"SELECT "+recordColumns+" FROM records WHERE kind = $1 AND unique_key = $2 AND unique_key <> ''", kind, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fault.Missing(kind, "", "%s with unique key %q not found", kind, key)
	}
	if err != nil {
		return nil, t.fail(ctx, err, "pgstore: get %s by unique key %q", kind, key)
	}
	return r, nil
}

// Insert implements store.Tx.
//
// ON CONFLICT DO NOTHING (no conflict target: every unique index is an
// arbiter) reports a clash with a visible record without raising an error,
// so the transaction stays usable after a Conflict. A clash with a record
// that a concurrent transaction committed but our snapshot cannot see makes
// PostgreSQL raise serialization_failure instead, and the retry sees it.
func (t *tx) Insert(ctx context.Context, r *store.Record) error {
	if err := t.writable("insert"); err != nil {
		return err
	}
	var seq int64
	err := t.ptx.QueryRow(ctx, `INSERT INTO records
		(kind, id, parent, account, status, unique_key, create_time, update_time, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT DO NOTHING
		RETURNING seq`,
		r.Kind, r.ID, r.Parent, r.Account, r.Status, r.UniqueKey, r.CreateTime, r.UpdateTime, r.Data,
	).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return t.conflict(ctx, r)
	}
	if err != nil {
		return t.writeFailed(ctx, err, r, "insert")
	}
	r.Seq = seq
	return nil
}

// conflict builds the Conflict error for r, saying which key is taken.
func (t *tx) conflict(ctx context.Context, r *store.Record) error {
	var idTaken bool
	if err := t.ptx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM records WHERE kind = $1 AND id = $2)",
		r.Kind, r.ID).Scan(&idTaken); err != nil {
		return t.fail(ctx, err, "pgstore: insert %s %q", r.Kind, r.ID)
	}
	if idTaken {
		return fault.Conflicting("", r.Kind, r.ID, "%s %q already exists", r.Kind, r.ID)
	}
	return fault.Conflicting("", r.Kind, r.ID, "another %s has unique key %q", r.Kind, r.UniqueKey)
}

// writeFailed handles a write's error. A unique violation that slipped past
// the statement's own check came from a concurrent transaction that our
// snapshot cannot see: it is a serialization conflict in disguise, so the
// attempt is retried (the next run of fn sees the winner). It is still
// reported to fn as a Conflict, in case fn returns it.
func (t *tx) writeFailed(ctx context.Context, err error, r *store.Record, op string) error {
	fe := t.fail(ctx, err, "pgstore: %s %s %q", op, r.Kind, r.ID)
	if pgCode(err) == codeUniqueViolation {
		t.outcome = max(t.outcome, conflicted)
		return fault.Conflicting("", r.Kind, r.ID, "%s %q: unique key %q is taken", r.Kind, r.ID, r.UniqueKey)
	}
	return fe
}

// Update implements store.Tx. The statement checks the new unique key itself
// (NOT EXISTS) so that a taken key is reported without aborting the
// transaction.
func (t *tx) Update(ctx context.Context, r *store.Record) error {
	if err := t.writable("update"); err != nil {
		return err
	}
	// One round trip: the CTE says whether the record exists and whether
	// the key is taken; the UPDATE runs only when neither stops it.
	var exists, keyTaken, updated bool
	err := t.ptx.QueryRow(ctx, `WITH
		target AS (SELECT 1 FROM records WHERE kind = $1 AND id = $2),
		taken AS (SELECT 1 FROM records WHERE kind = $1 AND $6 <> '' AND unique_key = $6 AND id <> $2),
		upd AS (
			UPDATE records SET parent = $3, account = $4, status = $5, unique_key = $6, update_time = $7, data = $8
			WHERE kind = $1 AND id = $2 AND NOT EXISTS (SELECT 1 FROM taken)
			RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM target), EXISTS (SELECT 1 FROM taken), EXISTS (SELECT 1 FROM upd)`,
		r.Kind, r.ID, r.Parent, r.Account, r.Status, r.UniqueKey, r.UpdateTime, r.Data,
	).Scan(&exists, &keyTaken, &updated)
	if err != nil {
		return t.writeFailed(ctx, err, r, "update")
	}
	switch {
	case !exists:
		return fault.Missing(r.Kind, r.ID, "%s %q not found", r.Kind, r.ID)
	case keyTaken:
		return fault.Conflicting("", r.Kind, r.ID, "another %s has unique key %q", r.Kind, r.UniqueKey)
	case !updated:
		return fault.Newf(fault.Internal, "pgstore: update %s %q: no row updated", r.Kind, r.ID)
	}
	return nil
}

// Delete implements store.Tx.
func (t *tx) Delete(ctx context.Context, kind, id string) error {
	if err := t.writable("delete"); err != nil {
		return err
	}
	tag, err := t.ptx.Exec(ctx, "DELETE FROM records WHERE kind = $1 AND id = $2", kind, id)
	if err != nil {
		return t.fail(ctx, err, "pgstore: delete %s %q", kind, id)
	}
	if tag.RowsAffected() == 0 {
		return fault.Missing(kind, id, "%s %q not found", kind, id)
	}
	return nil
}

// where builds the WHERE clause for kind and f, appending to args.
func where(kind string, f store.Filter, args []any) (string, []any) {
	var b strings.Builder
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	b.WriteString("kind = " + arg(kind))
	if f.Parent != "" {
		b.WriteString(" AND parent = " + arg(f.Parent))
	}
	if f.Account != "" {
		b.WriteString(" AND account = " + arg(f.Account))
	}
	if len(f.Statuses) > 0 {
		b.WriteString(" AND status = ANY(" + arg(f.Statuses) + ")")
	}
	return b.String(), args
}

// List implements store.Tx.
func (t *tx) List(ctx context.Context, kind string, f store.Filter, p store.Page) ([]*store.Record, error) {
	if p.Limit <= 0 {
		return nil, fault.Newf(fault.Internal, "pgstore: list %s: page limit %d is not positive", kind, p.Limit)
	}
	cond, args := where(kind, f, nil)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	q := "SELECT " + recordColumns + " FROM records WHERE " + cond
	switch {
	case !p.Descending:
		q += " AND seq > " + arg(p.After) + " ORDER BY seq"
	case p.After > 0:
		q += " AND seq < " + arg(p.After) + " ORDER BY seq DESC"
	default:
		q += " ORDER BY seq DESC"
	}
	q += " LIMIT " + arg(p.Limit)
	rows, err := t.ptx.Query(ctx, q, args...)
	if err != nil {
		return nil, t.fail(ctx, err, "pgstore: list %s", kind)
	}
	defer rows.Close()
	var out []*store.Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, t.fail(ctx, err, "pgstore: list %s", kind)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, t.fail(ctx, err, "pgstore: list %s", kind)
	}
	return out, nil
}

// Count implements store.Tx.
func (t *tx) Count(ctx context.Context, kind string, f store.Filter) (int, error) {
	cond, args := where(kind, f, nil)
	var n int64
	if err := t.ptx.QueryRow(ctx, "SELECT count(*) FROM records WHERE "+cond, args...).Scan(&n); err != nil {
		return 0, t.fail(ctx, err, "pgstore: count %s", kind)
	}
	return int(n), nil
}
