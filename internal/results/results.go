// Package results turns a protected query's result, computed once by an
// executor (engine.Result: one Parquet file with exact types), into the
// formats its receivers asked for, and delivers them. Every receiver of a
// format gets the same bytes, and every format holds the same rows in the
// same order: an encoding never runs the query again.
package results

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/cleanroomsd/cleanroomsd/internal/objectstore"
	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Formats of result files, as the Clean Rooms API names them.
const (
	FormatCSV     = "CSV"
	FormatParquet = "PARQUET"
)

// FileName returns the name of a result file in format: result.csv or
// result.parquet.
func FileName(format string) string {
	if strings.EqualFold(format, FormatParquet) {
		return "result.parquet"
	}
	return "result.csv"
}

// ContentType returns the media type of a result file in format.
func ContentType(format string) string {
	if strings.EqualFold(format, FormatParquet) {
		return "application/vnd.apache.parquet"
	}
	return "text/csv"
}

// Encode writes the result held in the Parquet file src into dir in
// format (CSV with a header row, or Parquet) and returns the file's path.
// Parquet is src's own bytes; CSV is written by a fresh DuckDB that may read
// only src and write only in dir.
func Encode(ctx context.Context, src, format, dir string) (string, error) {
	dst := filepath.Join(dir, FileName(format))
	switch strings.ToUpper(format) {
	case FormatParquet:
		if a, b := filepath.Clean(src), filepath.Clean(dst); a == b {
			return dst, nil
		}
		return dst, copyFile(src, dst)
	case FormatCSV:
		return dst, toCSV(ctx, src, dst)
	}
	return "", fmt.Errorf("results: unsupported format %q", format)
}

func copyFile(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func toCSV(ctx context.Context, src, dst string) error {
	src, err := filepath.Abs(src)
	if err != nil {
		return err
	}
	dst, err = filepath.Abs(dst)
	if err != nil {
		return err
	}
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	dir := filepath.Dir(dst) + string(filepath.Separator)
	for _, s := range []string{
		"SET autoinstall_known_extensions=false",
		"SET autoload_known_extensions=false",
		"SET threads=1",
		"SET allowed_paths=[" + quote(src) + "]",
		"SET allowed_directories=[" + quote(dir) + "]",
		"SET enable_external_access=false",
		"SET lock_configuration=true",
		"COPY (SELECT * FROM read_parquet(" + quote(src) + ")) TO " + quote(dst) + " (FORMAT csv, HEADER true)",
	} {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			os.Remove(dst)
			return fmt.Errorf("results: encoding CSV: %w", err)
		}
	}
	return nil
}

// Target is one place a result file goes.
type Target struct {
	Account string // the receiving account, which must own Bucket
	Bucket  string
	Key     string
	Format  string
}

// BucketOwners tells which account owns an S3 bucket.
type BucketOwners interface {
	Owner(ctx context.Context, bucket string) (string, error)
}

// ErrBucket reports a target whose bucket is gone or belongs to another
// account.
type ErrBucket struct{ Bucket, Account string }

func (e *ErrBucket) Error() string {
	return fmt.Sprintf("the result bucket %s of account %s is not available", e.Bucket, e.Account)
}

// ErrWrite reports a result object that could not be written.
type ErrWrite struct {
	Bucket, Key string
	Err         error
}

func (e *ErrWrite) Error() string {
	return fmt.Sprintf("writing s3://%s/%s: %v", e.Bucket, e.Key, e.Err)
}
func (e *ErrWrite) Unwrap() error { return e.Err }

// Deliver writes the file encoded for each target's format (files, by
// format) to the target, after checking that the bucket still belongs to
// the receiving account.
func Deliver(ctx context.Context, objects objectstore.Store, owners BucketOwners, files map[string]string, targets []Target) error {
	for _, t := range targets {
		owner, err := owners.Owner(ctx, t.Bucket)
		if err != nil || owner != t.Account {
			return &ErrBucket{Bucket: t.Bucket, Account: t.Account}
		}
		local, ok := files[strings.ToUpper(t.Format)]
		if !ok {
			return fmt.Errorf("results: no %s encoding for s3://%s/%s", t.Format, t.Bucket, t.Key)
		}
		f, err := os.Open(local)
		if err != nil {
			return err
		}
		_, err = objects.Put(ctx, t.Bucket, t.Key, f, objectstore.PutOptions{ContentType: ContentType(t.Format)})
		f.Close()
		if err != nil {
			return &ErrWrite{Bucket: t.Bucket, Key: t.Key, Err: err}
		}
	}
	return nil
}
