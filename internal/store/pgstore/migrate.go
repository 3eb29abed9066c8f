package pgstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Migrations are the numbered files in migrations/, NNNN_name.sql, applied in
// order, each exactly once, and recorded in schema_migrations. A released
// migration is never edited: a schema change is a new file.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// migrateLockKey is the pg_advisory_xact_lock key that serializes migrations
// between replicas. Advisory locks are scoped to the current database, so
// replicas of different deployments sharing one server do not contend.
// The value is arbitrary but fixed forever ("cleanrms" in ASCII).
const migrateLockKey int64 = 0x636c65616e726d73

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations returns the embedded migrations in version order. Versions
// must start at 1 and have no gaps or duplicates.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		if !ok {
			return nil, fmt.Errorf("pgstore: migration %s: name is not NNNN_name.sql", base)
		}
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("pgstore: migration %s: bad version %q", base, num)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(base, ".sql"), sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("pgstore: migration %s: expected version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// SchemaVersion is the schema version this binary creates and understands.
func SchemaVersion() int {
	ms, err := loadMigrations(migrationFS)
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrate brings the database's schema up to the newest embedded version.
//
// Everything happens in one transaction that first takes an advisory
// transaction lock, so replicas starting together queue up: the first applies
// the pending migrations and commits (releasing the lock), the others then
// find nothing to do. PostgreSQL's DDL is transactional, so a failed
// migration leaves no trace and the next start tries again. A database whose
// version is newer than the binary's is refused, never downgraded.
func migrate(ctx context.Context, pool *pgxpool.Pool, ms []migration) error {
	known := 0
	if len(ms) > 0 {
		known = ms[len(ms)-1].version
	}
	return pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		// Migrations may legitimately run longer than a request.
		if _, err := tx.Exec(ctx, "SET LOCAL statement_timeout = 0"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrateLockKey); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer     PRIMARY KEY,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return err
		}
		var current int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
			return err
		}
		if current > known {
			return &schemaTooNewError{db: current, known: known}
		}
		for _, m := range ms[current:] {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("pgstore: migration %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
				return fmt.Errorf("pgstore: recording migration %s: %w", m.name, err)
			}
		}
		return nil
	})
}

type schemaTooNewError struct{ db, known int }

func (e *schemaTooNewError) Error() string {
	return fmt.Sprintf("pgstore: the database schema is at version %d but this cleanroomsd only knows versions up to %d; "+
		"it was migrated by a newer cleanroomsd: run that version (downgrades are not supported)", e.db, e.known)
}
