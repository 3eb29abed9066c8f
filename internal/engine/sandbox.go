package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Execute runs a bound plan once in a fresh, sandboxed, in-memory DuckDB
// and writes its result as dir/result.parquet.
//
// The sandbox: extension autoinstall and autoload off, memory_limit,
// threads, a private temp_directory; one view per referenced table exposing
// only its allowed columns, typed as in Glue; then external access disabled
// except for exactly the table files (allowed_paths) and the output and
// spill directories (allowed_directories), and the configuration locked, so
// the query can't read other files, change settings or load extensions even
// if a check were bypassed.
//
// The result keeps exact types: DuckDB's 128-bit integers (the type of SUM
// over integers) are written as DECIMAL(38,0), which Parquet holds exactly,
// where DuckDB's Parquet writer would make them DOUBLE.
//
// Errors are *QueryError. A timeout (Config.Timeout or the context's
// deadline) matches ErrTimeout; a cancelled context gives CodeCancelled.
func (e *Engine) Execute(ctx context.Context, b *BoundPlan, dir string) (*Result, error) {
	if b == nil || b.plan == nil || b.plan.sql == "" {
		return nil, &QueryError{Code: CodeExecutionFailed, Message: "no plan to run"}
	}
	p := b.plan
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, &QueryError{Code: CodeExecutionFailed, Message: "invalid output directory", Err: err}
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, &QueryError{Code: CodeExecutionFailed, Message: "the output directory does not exist", Err: err}
	}
	if e.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.cfg.Timeout)
		defer cancel()
	}
	conn, closeSandbox, err := e.openSandbox(ctx, b, dir)
	if err != nil {
		return nil, err
	}
	defer closeSandbox()
	described, err := describe(ctx, conn, p.sql)
	if err != nil {
		return nil, e.runError(ctx, err, p)
	}
	exact := make([]string, len(described))
	cols := make([]Column, len(described))
	for i, c := range described {
		ref := "__cr_result." + quoteIdent(c.Name)
		exact[i] = ref
		typ := c.Type
		if typ == "HUGEINT" || typ == "UHUGEINT" {
			exact[i] = "CAST(" + ref + " AS DECIMAL(38,0))"
			typ = "DECIMAL(38,0)"
		}
		exact[i] += " AS " + quoteIdent(c.Name)
		cols[i] = Column{Name: c.Name, Type: hiveType(typ)}
	}
	file := filepath.Join(dir, "result.parquet")
	q := "SELECT " + strings.Join(exact, ", ") + " FROM (" + p.sql + ") AS __cr_result"
	if !uniqueNames(described) {
		// Columns of the same name can't be told apart by name: write
		// them as they are.
		q = p.sql
		for i := range cols {
			cols[i].Type = hiveType(described[i].Type)
		}
	}
	res, err := conn.ExecContext(ctx, "COPY ("+q+") TO "+quoteString(file)+" (FORMAT parquet)")
	if err != nil {
		os.Remove(file)
		return nil, e.runError(ctx, err, p)
	}
	n, _ := res.RowsAffected()
	return &Result{File: file, Rows: n, Columns: cols}, nil
}

func uniqueNames(cols []Column) bool {
	seen := map[string]bool{}
	for _, c := range cols {
		k := strings.ToLower(c.Name)
		if seen[k] {
			return false
		}
		seen[k] = true
	}
	return true
}

// openSandbox opens the fresh database of one query, with the plan's views,
// and locks it down. Files may be written only under outDir.
func (e *Engine) openSandbox(ctx context.Context, b *BoundPlan, outDir string) (*sql.Conn, func(), error) {
	p := b.plan
	var views []string
	var files []string
	for i := range p.tables {
		t := &p.tables[i]
		stmt, fs, err := viewSQL(t, b.files[i])
		if err != nil {
			return nil, nil, &QueryError{Code: CodeTableError, Message: fmt.Sprintf("table %q: %v", t.name, err)}
		}
		views = append(views, stmt)
		files = append(files, fs...)
	}
	tmp, err := os.MkdirTemp(e.cfg.TempDir, "cleanroomsd-query-")
	if err != nil {
		return nil, nil, &QueryError{Code: CodeExecutionFailed, Message: "could not create the spill directory", Retryable: true, Err: err}
	}
	fdb, err := e.takeDB(ctx)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, nil, &QueryError{Code: CodeExecutionFailed, Message: "could not open the query database", Retryable: true, Err: err}
	}
	conn := fdb.conn
	// The database is closed and the spill directory removed in the
	// background: the result file is complete when Execute returns.
	closeAll := func() {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			fdb.close()
			os.RemoveAll(tmp)
		}()
	}
	setup := []string{"SET temp_directory=" + quoteString(tmp)}
	for _, t := range p.tables {
		if strings.EqualFold(t.format.Kind, "parquet") {
			setup = append(setup, "SET parquet_metadata_cache=true")
			break
		}
	}
	setup = append(setup, views...)
	if len(files) == 0 {
		files = []string{}
	}
	setup = append(setup,
		"SET allowed_paths="+stringList(files),
		"SET allowed_directories="+stringList([]string{dirPrefix(outDir), dirPrefix(tmp)}),
		"SET enable_external_access=false",
		"SET lock_configuration=true",
	)
	for _, s := range setup {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			closeAll()
			return nil, nil, e.runError(ctx, err, p)
		}
	}
	return conn, closeAll, nil
}

// freshDB is a new, unused in-memory DuckDB database with one connection.
type freshDB struct {
	db   *sql.DB
	conn *sql.Conn
}

func (f *freshDB) close() {
	f.conn.Close()
	f.db.Close()
}

// newFreshDB opens a database with extension autoinstall and autoload off,
// and the engine's threads and memory limit.
func (e *Engine) newFreshDB(ctx context.Context) (*freshDB, error) {
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	setup := []string{
		"SET autoinstall_known_extensions=false",
		"SET autoload_known_extensions=false",
		"SET threads=" + strconv.Itoa(e.cfg.Threads),
	}
	if e.cfg.MemoryLimit != "" {
		setup = append(setup, "SET memory_limit="+quoteString(e.cfg.MemoryLimit))
	}
	for _, s := range setup {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			conn.Close()
			db.Close()
			return nil, err
		}
	}
	return &freshDB{db: db, conn: conn}, nil
}

// takeDB returns a fresh database: the one opened ahead of time when there
// is one (opening a DuckDB instance costs milliseconds), else a new one.
// Every database serves exactly one query.
func (e *Engine) takeDB(ctx context.Context) (*freshDB, error) {
	select {
	case f := <-e.spare:
		return f, nil
	default:
		return e.newFreshDB(ctx)
	}
}

// keepSpare keeps one fresh database open ahead of time until the engine
// closes.
func (e *Engine) keepSpare() {
	defer e.wg.Done()
	for {
		f, err := e.newFreshDB(context.Background())
		if err != nil {
			select {
			case <-e.done:
				return
			case <-time.After(time.Second):
				continue
			}
		}
		select {
		case e.spare <- f:
		case <-e.done:
			f.close()
			return
		}
	}
}

// describe returns the result columns of the query, with DuckDB types.
func describe(ctx context.Context, conn *sql.Conn, q string) ([]Column, error) {
	rows, err := conn.QueryContext(ctx, "DESCRIBE "+q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var cols []Column
	for rows.Next() {
		vals := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		name, _ := vals[0].(string)
		typ, _ := vals[1].(string)
		cols = append(cols, Column{Name: name, Type: typ})
	}
	return cols, rows.Err()
}

var viewNameRE = regexp.MustCompile(`__cr_view_[0-9]+`)

// runError turns a DuckDB failure into a QueryError whose message carries
// no data: only binder and catalog errors (which name columns and tables,
// never values) keep DuckDB's text.
func (e *Engine) runError(ctx context.Context, err error, p *Plan) *QueryError {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &QueryError{Code: CodeTimedOut, Message: "the query ran longer than its time limit", Err: err}
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return &QueryError{Code: CodeCancelled, Message: "the query was cancelled", Err: err}
	}
	var de *duckdb.Error
	if errors.As(err, &de) {
		switch de.Type {
		case duckdb.ErrorTypeBinder, duckdb.ErrorTypeCatalog:
			msg := oneLine(de.Msg)
			msg = viewNameRE.ReplaceAllStringFunc(msg, func(v string) string {
				for _, t := range p.tables {
					if t.view == v {
						return t.name
					}
				}
				return "table"
			})
			return &QueryError{Code: CodeExecutionFailed, Message: msg, Err: err}
		case duckdb.ErrorTypeOutOfMemory:
			return &QueryError{Code: CodeExecutionFailed, Message: "the query needs more memory than its limit", Err: err}
		case duckdb.ErrorTypeInterrupt:
			return &QueryError{Code: CodeCancelled, Message: "the query was interrupted", Err: err}
		case duckdb.ErrorTypeConversion, duckdb.ErrorTypeInvalidInput:
			return &QueryError{Code: CodeExecutionFailed, Message: "the query failed while running: a value could not be converted (check column types and casts)", Err: err}
		case duckdb.ErrorTypeOutOfRange, duckdb.ErrorTypeDivideByZero:
			return &QueryError{Code: CodeExecutionFailed, Message: "the query failed while running: a value was out of range", Err: err}
		case duckdb.ErrorTypeIO, duckdb.ErrorTypePermission:
			return &QueryError{Code: CodeTableError, Message: "a table's data could not be read", Err: err}
		}
	}
	return &QueryError{Code: CodeExecutionFailed, Message: "the query failed while running", Err: err}
}

// viewSQL builds the CREATE VIEW statement exposing a table's allowed
// columns over its files, and returns the files it reads.
func viewSQL(t *planTable, dataFiles []string) (string, []string, error) {
	if len(dataFiles) == 0 {
		return "", nil, errors.New("the table has no data files")
	}
	var files []string
	for _, f := range dataFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			return "", nil, err
		}
		if strings.ContainsAny(abs, "*?[{\x00") {
			return "", nil, fmt.Errorf("data file path %q contains glob characters", f)
		}
		files = append(files, abs)
	}
	types := map[string]string{}
	var all []string
	for _, c := range t.columns {
		dt, err := duckType(c.Type)
		if err != nil {
			return "", nil, fmt.Errorf("column %q: %v", c.Name, err)
		}
		lc := strings.ToLower(c.Name)
		if _, dup := types[lc]; dup {
			return "", nil, fmt.Errorf("column %q appears twice", c.Name)
		}
		types[lc] = dt
		all = append(all, c.Name)
	}
	var sel []string
	for _, a := range t.allowed {
		dt, ok := types[strings.ToLower(a)]
		if !ok {
			return "", nil, fmt.Errorf("allowed column %q is not a column of the table", a)
		}
		if strings.ToLower(t.format.Kind) == "parquet" {
			// Parquet files carry their own types. A value that doesn't fit
			// the Glue type reads as NULL: a failing conversion would fail
			// the query only when DuckDB happened to read that row, which
			// depends on the query's joins and filters (row groups are
			// pruned with them), and so tell the querier about a row it
			// can't see.
			sel = append(sel, "TRY_CAST("+quoteIdent(a)+" AS "+dt+") AS "+quoteIdent(a))
		} else {
			sel = append(sel, quoteIdent(a))
		}
	}
	if len(sel) == 0 {
		return "", nil, errors.New("the table has no allowed columns")
	}
	var src string
	switch strings.ToLower(t.format.Kind) {
	case "parquet":
		src = "read_parquet(" + stringList(files) + ", binary_as_string=true)"
	case "csv", "":
		delim := t.format.Delimiter
		if delim == "" {
			delim = ","
		}
		var cols []string
		for _, c := range all {
			cols = append(cols, quoteString(c)+": "+quoteString(types[strings.ToLower(c)]))
		}
		opts := []string{
			"header=" + strconv.FormatBool(t.format.HeaderLines > 0),
			"delim=" + quoteString(delim),
			"columns={" + strings.Join(cols, ", ") + "}",
			"auto_detect=false",
		}
		if t.format.HeaderLines > 1 {
			opts = append(opts, "skip="+strconv.Itoa(t.format.HeaderLines-1))
		}
		if t.format.Quote != "" {
			opts = append(opts, "quote="+quoteString(t.format.Quote))
		}
		if t.format.Escape != "" {
			opts = append(opts, "escape="+quoteString(t.format.Escape))
		}
		src = "read_csv(" + stringList(files) + ", " + strings.Join(opts, ", ") + ")"
	default:
		return "", nil, fmt.Errorf("unsupported data format %q", t.format.Kind)
	}
	return "CREATE VIEW " + quoteIdent(t.view) + " AS SELECT " + strings.Join(sel, ", ") + " FROM " + src, files, nil
}

var (
	hiveDecimalRE = regexp.MustCompile(`^decimal\s*\(\s*([0-9]{1,2})\s*(?:,\s*([0-9]{1,2})\s*)?\)$`)
	hiveSizedRE   = regexp.MustCompile(`^(varchar|char)\s*\(\s*[0-9]+\s*\)$`)
)

// duckType maps a Hive (Glue) column type to a DuckDB type.
func duckType(hive string) (string, error) {
	h := strings.ToLower(strings.TrimSpace(hive))
	switch h {
	case "string", "varchar", "char":
		return "VARCHAR", nil
	case "int", "integer":
		return "INTEGER", nil
	case "bigint":
		return "BIGINT", nil
	case "smallint":
		return "SMALLINT", nil
	case "tinyint":
		return "TINYINT", nil
	case "double", "double precision":
		return "DOUBLE", nil
	case "float", "real":
		return "FLOAT", nil
	case "decimal":
		return "DECIMAL(10,0)", nil // Hive's default precision and scale
	case "boolean":
		return "BOOLEAN", nil
	case "date":
		return "DATE", nil
	case "timestamp":
		return "TIMESTAMP", nil
	case "binary":
		return "BLOB", nil
	}
	if hiveSizedRE.MatchString(h) {
		return "VARCHAR", nil
	}
	if m := hiveDecimalRE.FindStringSubmatch(h); m != nil {
		p, _ := strconv.Atoi(m[1])
		s := 0
		if m[2] != "" {
			s, _ = strconv.Atoi(m[2])
		}
		if p < 1 || p > 38 || s > p {
			return "", fmt.Errorf("invalid type %q", hive)
		}
		return fmt.Sprintf("DECIMAL(%d,%d)", p, s), nil
	}
	return "", fmt.Errorf("unsupported type %q", hive)
}

// hiveType maps a DuckDB result type back to a Hive type name.
func hiveType(duck string) string {
	d := strings.ToUpper(strings.TrimSpace(duck))
	switch d {
	case "VARCHAR":
		return "string"
	case "INTEGER":
		return "int"
	case "BIGINT":
		return "bigint"
	case "SMALLINT":
		return "smallint"
	case "TINYINT":
		return "tinyint"
	case "DOUBLE":
		return "double"
	case "FLOAT":
		return "float"
	case "BOOLEAN":
		return "boolean"
	case "DATE":
		return "date"
	case "TIMESTAMP", "TIMESTAMP WITH TIME ZONE":
		return "timestamp"
	case "BLOB":
		return "binary"
	case "HUGEINT", "UHUGEINT":
		return "decimal(38,0)"
	case "UBIGINT":
		return "decimal(20,0)"
	case "UINTEGER":
		return "bigint"
	case "USMALLINT":
		return "int"
	case "UTINYINT":
		return "smallint"
	}
	if strings.HasPrefix(d, "DECIMAL") {
		return strings.ToLower(strings.ReplaceAll(d, " ", ""))
	}
	return strings.ToLower(d)
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func stringList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = quoteString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func dirPrefix(d string) string {
	d = filepath.Clean(d)
	if !strings.HasSuffix(d, string(filepath.Separator)) {
		d += string(filepath.Separator)
	}
	return d
}
