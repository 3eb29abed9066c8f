package pgstore

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cleanroomsd/cleanroomsd/internal/store/migration"
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

// loadMigrations returns the embedded migrations in version order.
func loadMigrations() ([]migration.Migration, error) {
	ms, err := migration.Load(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	return ms, nil
}

// SchemaVersion is the schema version this binary creates and understands.
func SchemaVersion() int {
	ms, err := loadMigrations()
	if err != nil {
		return 0
	}
	return migration.Latest(ms)
}

// migrate brings the database's schema up to the newest embedded version.
//
// Everything happens in one transaction that first takes an advisory
// transaction lock, so replicas starting together queue up: the first applies
// the pending migrations and commits (releasing the lock), the others then
// find nothing to do. PostgreSQL's DDL is transactional, so a failed
// migration leaves no trace and the next start tries again. A database whose
// version is newer than the binary's is refused, never downgraded.
func migrate(ctx context.Context, pool *pgxpool.Pool, ms []migration.Migration) error {
	known := migration.Latest(ms)
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
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("pgstore: migration %s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name); err != nil {
				return fmt.Errorf("pgstore: recording migration %s: %w", m.Name, err)
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
