package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strconv"

	"github.com/cleanroomsd/cleanroomsd/internal/store/migration"
)

// The schema migrations, applied in order at Open. A file is named
// NNNN_description.sql, NNNN being the schema version it brings the database
// to; versions start at 1 and have no gaps. A migration, once released, is
// never edited: change the schema by adding the next file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrSchemaTooNew is wrapped by Open's error when the database was written by
// a newer cleanroomsd whose schema this binary does not know. Open never
// downgrades a schema.
var ErrSchemaTooNew = errors.New("database schema is newer than this cleanroomsd supports")

// migrations returns the embedded migrations in version order.
func migrations() ([]migration.Migration, error) {
	return migration.Load(migrationFiles, "migrations")
}

// SchemaVersion is the schema version this binary writes: the number of the
// last embedded migration.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		return 0
	}
	return migration.Latest(ms)
}

// migrate brings the database on conn to the latest schema version in one
// IMMEDIATE transaction. The version is kept in PRAGMA user_version, which is
// part of the transaction.
func migrate(ctx context.Context, conn *sql.Conn) (err error) {
	ms, err := migrations()
	if err != nil {
		return err
	}
	latest := migration.Latest(ms)
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer func() {
		if err != nil {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	var current int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if current > latest {
		return fmt.Errorf("%w: the database has schema version %d, this binary knows versions up to %d; run a newer cleanroomsd", ErrSchemaTooNew, current, latest)
	}
	for _, m := range ms[current:] {
		if _, err := conn.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("apply migration %s: %w", m.Name, err)
		}
		if _, err := conn.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(m.Version)); err != nil {
			return fmt.Errorf("record schema version %d: %w", m.Version, err)
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}
