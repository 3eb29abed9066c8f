package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

// The Python suites have neither pyarrow nor pandas to write or read
// Parquet, so this test binary doubles as a small DuckDB command: when
// CLEANROOMSD_E2E_TOOL=duckdb is set, TestMain runs the SQL statements given
// as arguments instead of the tests, and prints the rows of the last one as
// one JSON array per line (every value as a string, NULL as null). The
// runner passes the binary's path to the suites in CLEANROOMSD_E2E_TOOL_BIN.
// The suites use it only to convert files (COPY … TO … (FORMAT parquet) and
// back) and to describe a Parquet file's schema; every expected result is
// computed in Python.
const (
	toolEnv    = "CLEANROOMSD_E2E_TOOL"
	toolBinEnv = "CLEANROOMSD_E2E_TOOL_BIN"
)

// runTool runs the DuckDB command and returns the process's exit status.
func runTool(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: CLEANROOMSD_E2E_TOOL=duckdb e2e.test SQL...")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		fmt.Fprintln(stderr, "duckdb:", err)
		return 1
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "duckdb:", err)
		return 1
	}
	defer conn.Close()
	for i, stmt := range args {
		if i < len(args)-1 {
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				fmt.Fprintf(stderr, "duckdb: %s: %v\n", stmt, err)
				return 1
			}
			continue
		}
		if err := printRows(ctx, conn, stmt, stdout); err != nil {
			fmt.Fprintf(stderr, "duckdb: %s: %v\n", stmt, err)
			return 1
		}
	}
	return 0
}

func printRows(ctx context.Context, conn *sql.Conn, stmt string, w io.Writer) error {
	rows, err := conn.QueryContext(ctx, stmt)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		out := make([]*string, len(cols))
		for i, v := range vals {
			if v != nil {
				s := toolString(v)
				out[i] = &s
			}
		}
		if err := enc.Encode(out); err != nil {
			return err
		}
	}
	return rows.Err()
}

// toolString formats a value as DuckDB would cast it to VARCHAR, for the
// types the suites read (dates and timestamps in particular).
func toolString(v any) string {
	switch v := v.(type) {
	case []byte:
		return string(v)
	case time.Time:
		if v.Hour() == 0 && v.Minute() == 0 && v.Second() == 0 && v.Nanosecond() == 0 {
			return v.Format("2006-01-02")
		}
		return v.Format("2006-01-02 15:04:05.999999")
	}
	return fmt.Sprint(v)
}

// toolMain runs the tool and exits when the environment asks for it.
func toolMain() {
	switch os.Getenv(toolEnv) {
	case "":
		return
	case "duckdb":
		os.Exit(runTool(os.Args[1:], os.Stdout, os.Stderr))
	default:
		fmt.Fprintf(os.Stderr, "%s=%q: unknown tool\n", toolEnv, os.Getenv(toolEnv))
		os.Exit(2)
	}
}

// toolBin is the path of this test binary, which runs the tool.
func toolBin(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("finding the test binary: %v", err)
	}
	return exe
}
