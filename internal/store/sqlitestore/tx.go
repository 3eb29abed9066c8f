package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
)

const recordCols = "kind, id, parent, account, status, unique_key, seq, create_time, update_time, data"

// The fixed statements. qGetByUniqueKey repeats the partial index's condition
// so that SQLite may use that index.
const (
	qGet            = "SELECT " + recordCols + " FROM records WHERE kind = ? AND id = ?"
	qGetByUniqueKey = "SELECT " + recordCols + " FROM records WHERE kind = ? AND unique_key = ? AND unique_key <> ''"
	qInsert         = "INSERT INTO records (kind, id, parent, account, status, unique_key, create_time, update_time, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
	qUpdate         = "UPDATE records SET parent = ?, account = ?, status = ?, unique_key = ?, update_time = ?, data = ? WHERE kind = ? AND id = ?"
	qDelete         = "DELETE FROM records WHERE kind = ? AND id = ?"
)

// tx implements store.Tx, on the writer connection inside Update (write) or
// on a read transaction inside View.
type tx struct {
	s     *Store
	write bool
	r     *reader // View only
	done  bool
	// lastErr is the last database error of a read transaction.
	lastErr error
	// broken is set, in a write transaction, by a database error other than
	// a constraint violation: SQLite may have rolled the transaction back,
	// so every later call fails too and fn's work is discarded.
	broken error
}

var _ store.Tx = (*tx)(nil)

// check is called first by every method.
func (t *tx) check(ctx context.Context, op string, writes bool) error {
	if t.done {
		return errorf("%s: transaction used after its function returned", op)
	}
	if writes && !t.write {
		return errorf("%s: write in a read-only transaction", op)
	}
	if t.broken != nil {
		return t.broken
	}
	if err := ctx.Err(); err != nil {
		return ctxErr(err)
	}
	return nil
}

// stmtCtx returns the context a statement runs with. Statements on the writer
// are never interrupted: sqlite3_interrupt may roll back the whole write
// transaction, which other Updates share. A cancelled context is noticed by
// check instead, before each statement, and after fn returns.
func (t *tx) stmtCtx(ctx context.Context) context.Context {
	if t.write {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// stmt returns the prepared statement for q, or nil when q is not cached.
func (t *tx) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if t.write {
		return t.s.wstmts.get(ctx, q)
	}
	return t.r.stmts.get(ctx, q)
}

func (t *tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	ctx = t.stmtCtx(ctx)
	st, err := t.stmt(ctx, q)
	switch {
	case err != nil:
		return nil, err
	case st != nil:
		return st.QueryContext(ctx, args...)
	case t.write:
		return t.s.wconn.QueryContext(ctx, q, args...)
	default:
		return t.r.conn.QueryContext(ctx, q, args...)
	}
}

func (t *tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx = t.stmtCtx(ctx)
	st, err := t.s.wstmts.get(ctx, q)
	if err != nil {
		return nil, err
	}
	if st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.s.wconn.ExecContext(ctx, q, args...)
}

// fail classifies a database error and, on the writer, marks the
// transaction broken.
func (t *tx) fail(ctx context.Context, op string, err error) error {
	if !t.write {
		t.lastErr = err
		if cerr := ctx.Err(); cerr != nil {
			return ctxErr(cerr)
		}
		return storeErr(op, err)
	}
	e := storeErr(op, err)
	t.broken = e
	return e
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// blob returns data for the NOT NULL data column: nil is stored as empty.
func blob(data []byte) []byte {
	if data == nil {
		return []byte{}
	}
	return data
}

func scanRecords(rows *sql.Rows, capHint int) ([]*store.Record, error) {
	defer rows.Close()
	out := make([]*store.Record, 0, capHint)
	for rows.Next() {
		r := new(store.Record)
		var ct, ut int64
		if err := rows.Scan(&r.Kind, &r.ID, &r.Parent, &r.Account, &r.Status, &r.UniqueKey, &r.Seq, &ct, &ut, &r.Data); err != nil {
			return nil, err
		}
		r.CreateTime = fromMicros(ct)
		r.UpdateTime = fromMicros(ut)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, rows.Close()
}

func (t *tx) getOne(ctx context.Context, op, q, kind, key string) (*store.Record, bool, error) {
	rows, err := t.query(ctx, q, kind, key)
	if err != nil {
		return nil, false, t.fail(ctx, op, err)
	}
	rs, err := scanRecords(rows, 1)
	if err != nil {
		return nil, false, t.fail(ctx, op, err)
	}
	if len(rs) == 0 {
		return nil, false, nil
	}
	return rs[0], true, nil
}

// Get implements store.Tx.
func (t *tx) Get(ctx context.Context, kind, id string) (*store.Record, error) {
	if err := t.check(ctx, "get", false); err != nil {
		return nil, err
	}
	r, ok, err := t.getOne(ctx, "get", qGet, kind, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fault.Missing(kind, id, "%s %q not found", kind, id)
	}
	return r, nil
}

// GetByUniqueKey implements store.Tx. No record has the empty key.
func (t *tx) GetByUniqueKey(ctx context.Context, kind, key string) (*store.Record, error) {
	if err := t.check(ctx, "get by unique key", false); err != nil {
		return nil, err
	}
	if key == "" {
		return nil, fault.Missing(kind, "", "%s with an empty unique key not found", kind)
	}
	r, ok, err := t.getOne(ctx, "get by unique key", qGetByUniqueKey, kind, key)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fault.Missing(kind, "", "%s with unique key %q not found", kind, key)
	}
	return r, nil
}

// writeErr classifies the error of an INSERT or UPDATE of r.
func (t *tx) writeErr(ctx context.Context, op string, r *store.Record, err error) error {
	if sqliteCode(err) != sqliteConstraint {
		return t.fail(ctx, op, err)
	}
	// A failed constraint aborts the statement only; the transaction goes on.
	msg := fmt.Sprintf("sqlitestore: %s %q already exists", r.Kind, r.ID)
	if strings.Contains(err.Error(), "unique_key") {
		msg = fmt.Sprintf("sqlitestore: %s unique key %q is taken", r.Kind, r.UniqueKey)
	}
	return &fault.Error{Kind: fault.Conflict, Message: msg, ResourceType: r.Kind, ResourceID: r.ID, Err: err}
}

// Insert implements store.Tx.
func (t *tx) Insert(ctx context.Context, r *store.Record) error {
	if err := t.check(ctx, "insert", true); err != nil {
		return err
	}
	if r == nil || r.Kind == "" || r.ID == "" {
		return errorf("insert: a record needs a kind and an id")
	}
	res, err := t.exec(ctx, qInsert, r.Kind, r.ID, r.Parent, r.Account, r.Status, r.UniqueKey,
		micros(r.CreateTime), micros(r.UpdateTime), blob(r.Data))
	if err != nil {
		return t.writeErr(ctx, "insert", r, err)
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return t.fail(ctx, "insert", err)
	}
	r.Seq = seq
	return nil
}

// Update implements store.Tx.
func (t *tx) Update(ctx context.Context, r *store.Record) error {
	if err := t.check(ctx, "update", true); err != nil {
		return err
	}
	if r == nil {
		return errorf("update: nil record")
	}
	res, err := t.exec(ctx, qUpdate, r.Parent, r.Account, r.Status, r.UniqueKey,
		micros(r.UpdateTime), blob(r.Data), r.Kind, r.ID)
	if err != nil {
		return t.writeErr(ctx, "update", r, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return t.fail(ctx, "update", err)
	}
	if n == 0 {
		return fault.Missing(r.Kind, r.ID, "%s %q not found", r.Kind, r.ID)
	}
	return nil
}

// Delete implements store.Tx.
func (t *tx) Delete(ctx context.Context, kind, id string) error {
	if err := t.check(ctx, "delete", true); err != nil {
		return err
	}
	res, err := t.exec(ctx, qDelete, kind, id)
	if err != nil {
		return t.fail(ctx, "delete", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return t.fail(ctx, "delete", err)
	}
	if n == 0 {
		return fault.Missing(kind, id, "%s %q not found", kind, id)
	}
	return nil
}

// filterQuery builds the SELECT (or count) of the records of kind matching
// f, with its arguments. A List query ends with "seq > ? ORDER BY seq LIMIT
// ?", whose two arguments the caller appends.
func filterQuery(count bool, kind string, f store.Filter, p store.Page) (string, []any) {
	var b strings.Builder
	args := make([]any, 0, 5+len(f.Statuses))
	if count {
		b.WriteString("SELECT count(*) FROM records WHERE kind = ?")
	} else {
		b.WriteString("SELECT " + recordCols + " FROM records WHERE kind = ?")
	}
	args = append(args, kind)
	if f.Parent != "" {
		b.WriteString(" AND parent = ?")
		args = append(args, f.Parent)
	}
	if f.Account != "" {
		b.WriteString(" AND account = ?")
		args = append(args, f.Account)
	}
	switch len(f.Statuses) {
	case 0:
	case 1:
		b.WriteString(" AND status = ?")
		args = append(args, f.Statuses[0])
	default:
		b.WriteString(" AND status IN (?")
		b.WriteString(strings.Repeat(", ?", len(f.Statuses)-1))
		b.WriteString(")")
		for _, st := range f.Statuses {
			args = append(args, st)
		}
	}
	switch {
	case count:
	case !p.Descending:
		b.WriteString(" AND seq > ? ORDER BY seq LIMIT ?")
		args = append(args, p.After, p.Limit)
	case p.After > 0:
		b.WriteString(" AND seq < ? ORDER BY seq DESC LIMIT ?")
		args = append(args, p.After, p.Limit)
	default:
		b.WriteString(" ORDER BY seq DESC LIMIT ?")
		args = append(args, p.Limit)
	}
	return b.String(), args
}

// List implements store.Tx.
func (t *tx) List(ctx context.Context, kind string, f store.Filter, p store.Page) ([]*store.Record, error) {
	if err := t.check(ctx, "list", false); err != nil {
		return nil, err
	}
	if p.Limit <= 0 {
		return nil, errorf("list: page limit is %d, want > 0", p.Limit)
	}
	q, args := filterQuery(false, kind, f, p)
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, t.fail(ctx, "list", err)
	}
	rs, err := scanRecords(rows, min(p.Limit, 64))
	if err != nil {
		return nil, t.fail(ctx, "list", err)
	}
	return rs, nil
}

// Count implements store.Tx.
func (t *tx) Count(ctx context.Context, kind string, f store.Filter) (int, error) {
	if err := t.check(ctx, "count", false); err != nil {
		return 0, err
	}
	q, args := filterQuery(true, kind, f, store.Page{})
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return 0, t.fail(ctx, "count", err)
	}
	defer rows.Close()
	n := 0
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, t.fail(ctx, "count", err)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, t.fail(ctx, "count", err)
	}
	return n, nil
}
