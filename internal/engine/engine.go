// Package engine checks SQL against AWS Clean Rooms analysis rules and runs the
// checked query, sandboxed, on an embedded DuckDB.
//
// The flow is Check then Run:
//
//   - Check parses the query with DuckDB's own parser (json_serialize_sql),
//     binds template parameters into the syntax tree as typed constants,
//     enforces the analysis rules of every configured table the query
//     references (AGGREGATION, LIST or CUSTOM, see the rule files), rewrites
//     the tree where a rule demands it (aggregation output constraints become
//     HAVING COUNT(DISTINCT …) >= minimum) and regenerates SQL from the checked
//     tree with json_deserialize_sql. The regenerated SQL is parsed once more
//     and must give back exactly the checked tree, so what runs is what was
//     checked. The raw query text is never executed.
//   - Run opens a fresh in-memory DuckDB database for the plan, exposes each
//     referenced table as a view holding only its allowed columns (typed as in
//     the Glue catalog), then disables external access except for exactly the
//     table's files and the output directory, locks the configuration and
//     COPYs the regenerated query into out.Dir.
//
// Rule violations are *fault.Error values of kind Validation with reason
// INVALID_QUERY; their messages name the rule and the offending column or
// construct and never contain data. Run failures are *QueryError values with a
// code suitable for ProtectedQueryError; a timeout matches ErrTimeout.
package engine

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	duckdb "github.com/duckdb/duckdb-go/v2"
)

// ReasonInvalidQuery is the fault reason of every rule violation.
const ReasonInvalidQuery = "INVALID_QUERY"

// Rule types, as in the Clean Rooms model.
const (
	RuleAggregation = string(cleanroomsapi.AnalysisRuleTypeAggregation)
	RuleList        = string(cleanroomsapi.AnalysisRuleTypeList)
	RuleCustom      = string(cleanroomsapi.AnalysisRuleTypeCustom)
)

// Error codes of QueryError. Clean Rooms documents MALFORMED_QUERY for
// queries that are not valid; the others are cleanroomsd's.
const (
	CodeExecutionFailed = "QUERY_EXECUTION_FAILED" // the query failed while running
	CodeTimedOut        = "QUERY_TIMED_OUT"        // the query ran longer than Config.Timeout
	CodeCancelled       = "QUERY_CANCELLED"        // the caller's context was cancelled
	CodeTableError      = "TABLE_CONFIGURATION_ERROR"
)

// ErrTimeout matches (errors.Is) the error Run returns when the query ran out
// of time (Config.Timeout or the context's deadline).
var ErrTimeout = errors.New("engine: protected query timed out")

// QueryError is a failure of Run. Code and Message are safe to show the
// query runner: the message never carries values from the data (DuckDB's own
// messages may, for example in conversion errors, so they are kept in Err,
// which is for logs only).
type QueryError struct {
	Code      string
	Message   string
	Retryable bool
	Err       error
}

func (e *QueryError) Error() string {
	s := e.Code + ": " + e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *QueryError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrTimeout) true for timeouts.
func (e *QueryError) Is(target error) bool {
	return target == ErrTimeout && e.Code == CodeTimedOut
}

// Column is a column of a Glue table. Type is a Hive type: string,
// varchar(n), char(n), int, integer, bigint, smallint, tinyint, double,
// float, real, decimal(p,s), boolean, date, timestamp, binary.
type Column struct {
	Name string
	Type string
}

// Format says how a table's files are stored.
type Format struct {
	Kind        string // "csv" or "parquet"
	Delimiter   string // CSV field delimiter, default ","
	HeaderLines int    // CSV lines to skip at the top of each file (skip.header.line.count)
	Quote       string // CSV quote character, default `"`
	Escape      string // CSV escape character, default the quote character
}

// Table is one configured table association of the collaboration, as the
// check sees it: what the query may read and under which rule. Where its
// data lives is bound to a checked plan separately (Plan.Bind).
type Table struct {
	Name    string   // association name, as used in SQL (a case-insensitive identifier)
	Owner   string   // the owning account
	Columns []Column // every column of the Glue table, in file order (CSV is read by position, Parquet by name)
	Allowed []string // the configured table's allowedColumns: the only columns a query sees
	Format  Format
	Rule    Rule // the configured table's analysis rule; Type "" means none and the table can't be queried
}

// Rule is a configured table's analysis rule: Type is AGGREGATION, LIST or
// CUSTOM and the matching policy is set.
type Rule struct {
	Type        string
	Aggregation *cleanroomsapi.AnalysisRuleAggregation
	List        *cleanroomsapi.AnalysisRuleList
	Custom      *cleanroomsapi.AnalysisRuleCustom
}

// Request is one query to check.
type Request struct {
	SQL string
	// Parameters are analysis template parameter values, written :name in
	// the SQL. They are bound into the syntax tree as constants, never
	// spliced into SQL text.
	Parameters map[string]string
	// ParameterTypes optionally gives the template's declared type of a
	// parameter (VARCHAR, INTEGER, DECIMAL(10,2), DATE, …); the value is then
	// CAST to it. Without a type the value is a string literal, which DuckDB
	// converts implicitly where the context needs.
	ParameterTypes map[string]string
	// Tables holds every table association of the collaboration by
	// lower-case name.
	Tables map[string]*Table
	// QueryRunner is the account of the member who can query.
	QueryRunner string
	// TemplateARN is set when the query comes from an analysis template.
	TemplateARN string
}

// Plan is a checked query. It names the tables it reads and keeps its own
// copy of what the check relied on (columns, types, formats), so it never
// changes after Check, whatever the caller does with its tables. Bind gives
// it the tables' data.
type Plan struct {
	sql      string
	ruleType string
	tables   []planTable // in view order
}

// planTable is a table a plan reads, as it was checked.
type planTable struct {
	key     string // lower-case association name
	name    string // association name
	view    string // the sandbox view that exposes it
	columns []Column
	allowed []string
	format  Format
}

// SQL returns the query regenerated from the checked syntax tree, over the
// sandbox's view names: exactly what runs (for logs).
func (p *Plan) SQL() string { return p.sql }

// RuleType returns the analysis rule type shared by every referenced table.
func (p *Plan) RuleType() string { return p.ruleType }

// Tables returns the association names the query references, sorted.
func (p *Plan) Tables() []string {
	var out []string
	for _, t := range p.tables {
		out = append(out, t.key)
	}
	sortStrings(out)
	return out
}

// Source says where a table's data is: local files today, all in the
// table's format.
type Source struct {
	Files []string
}

// BoundPlan is a checked plan with the data of every table it reads.
type BoundPlan struct {
	plan  *Plan
	files [][]string // per plan table
}

// Plan returns the checked plan.
func (b *BoundPlan) Plan() *Plan { return b.plan }

// Bind returns the plan bound to the data of the tables it reads, keyed by
// association name (case-insensitive). Every table the plan reads needs a
// source with at least one file.
func (p *Plan) Bind(sources map[string]Source) (*BoundPlan, error) {
	byKey := map[string]Source{}
	for k, v := range sources {
		byKey[strings.ToLower(k)] = v
	}
	b := &BoundPlan{plan: p}
	for _, t := range p.tables {
		src, ok := byKey[t.key]
		if !ok || len(src.Files) == 0 {
			return nil, &QueryError{Code: CodeTableError, Message: fmt.Sprintf("table %q has no data files", t.name)}
		}
		b.files = append(b.files, append([]string(nil), src.Files...))
	}
	return b, nil
}

// Executor runs a bound plan once. The engine's executor runs it in a
// fresh, sandboxed DuckDB; another executor (out of process, remote) can
// implement the same contract without touching the checker.
type Executor interface {
	// Execute runs the query once and writes its result as one Parquet
	// file in dir (an existing directory). Errors are *QueryError; a
	// timeout matches ErrTimeout.
	Execute(ctx context.Context, b *BoundPlan, dir string) (*Result, error)
}

// Result is a query's result, computed once: every receiver and every
// format is an encoding of it (package results).
type Result struct {
	// File is a Parquet file holding every row, in the result's order, with
	// exact types: integer sums are DECIMAL(38,0), never floating point.
	File    string
	Rows    int64
	Columns []Column // result columns, with Hive type names
}

var _ Executor = (*Engine)(nil)

// Config tunes the engine.
type Config struct {
	MemoryLimit string        // DuckDB memory_limit per query, e.g. "1GB"; default DuckDB's (80% of RAM)
	Threads     int           // DuckDB threads per query; default the number of CPUs
	Timeout     time.Duration // per Run; 0 means only the context's deadline applies
	TempDir     string        // parent of the per-query spill directories; default os.TempDir()
}

// Engine checks and runs queries. It is safe for concurrent use.
type Engine struct {
	cfg    Config
	parser *sql.DB

	protos *protos

	spare chan *freshDB // a database opened ahead of time
	done  chan struct{}
	wg    sync.WaitGroup // keepSpare and background closes
	once  sync.Once
}

// New returns an engine. It opens a private, locked-down DuckDB used only to
// parse and regenerate SQL.
func New(cfg Config) (*Engine, error) {
	if cfg.Threads < 0 {
		return nil, fmt.Errorf("engine: negative Threads")
	}
	if cfg.Threads == 0 {
		cfg.Threads = runtime.NumCPU()
	}
	if cfg.TempDir == "" {
		cfg.TempDir = os.TempDir()
	}
	abs, err := filepath.Abs(cfg.TempDir)
	if err != nil {
		return nil, fmt.Errorf("engine: temp dir: %w", err)
	}
	cfg.TempDir = abs
	if cfg.MemoryLimit != "" && !memoryLimitRE.MatchString(cfg.MemoryLimit) {
		return nil, fmt.Errorf("engine: invalid MemoryLimit %q", cfg.MemoryLimit)
	}
	conn, err := duckdb.NewConnector("", nil)
	if err != nil {
		return nil, fmt.Errorf("engine: open parser database: %w", err)
	}
	db := sql.OpenDB(conn)
	// One statement list configures the whole (shared) parser database.
	for _, s := range []string{
		"SET autoinstall_known_extensions=false",
		"SET autoload_known_extensions=false",
		"SET threads=1",
		"SET enable_external_access=false",
		"SET lock_configuration=true",
	} {
		if _, err := db.Exec(s); err != nil {
			db.Close()
			return nil, fmt.Errorf("engine: configure parser database: %w", err)
		}
	}
	db.SetMaxOpenConns(runtime.GOMAXPROCS(0))
	db.SetMaxIdleConns(runtime.GOMAXPROCS(0))
	ps, err := parseProtos(context.Background(), db)
	if err != nil {
		db.Close()
		return nil, err
	}
	e := &Engine{cfg: cfg, parser: db, protos: ps, spare: make(chan *freshDB, 1), done: make(chan struct{})}
	e.wg.Add(1)
	go e.keepSpare()
	return e, nil
}

// Close releases the engine's databases. Runs in progress must have
// returned.
func (e *Engine) Close() error {
	e.once.Do(func() { close(e.done) })
	e.wg.Wait()
	for {
		select {
		case f := <-e.spare:
			f.close()
		default:
			return e.parser.Close()
		}
	}
}

// invalid returns a rule violation.
func invalid(format string, args ...any) *fault.Error {
	return fault.Invalid(ReasonInvalidQuery, fmt.Sprintf(format, args...))
}

// failClosed makes sure a checker failure is a refusal.
func failClosed(err error) error {
	var fe *fault.Error
	if errors.As(err, &fe) {
		return err
	}
	return invalid("the query could not be checked against the analysis rules")
}

// Analysis is what a query's text says about itself, read exactly as Check
// reads it: the engine is the only reader of SQL in cleanroomsd.
type Analysis struct {
	// Tables are the lower-case names of the tables the query reads
	// (common table expressions excluded), sorted, without duplicates.
	Tables []string
	// Parameters are the template parameters (:name) the query uses, each
	// once (case-insensitively), as first written, in order of first use.
	Parameters []string
}

// Analyze parses sqlText, which must be one SELECT statement (anything else,
// or a parse error, is INVALID_QUERY), with template parameters unbound.
func (e *Engine) Analyze(ctx context.Context, sqlText string) (*Analysis, error) {
	doc, err := e.parseSelect(ctx, translateParams(sqlText))
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	if err := collectTableNames(doc, nil, names); err != nil {
		return nil, err
	}
	type use struct {
		name string
		at   int64
	}
	first := map[string]use{}
	if err := walkMaps(doc, func(n node) error {
		if str(n, "class") != "PARAMETER" {
			return nil
		}
		id := str(n, "identifier")
		if id != "" && id[0] >= '0' && id[0] <= '9' {
			return invalid("positional parameters ($1, ?) are not supported; use :name template parameters")
		}
		at, _ := n["query_location"].(json.Number).Int64()
		k := strings.ToLower(id)
		if u, ok := first[k]; !ok || at < u.at {
			first[k] = use{id, at}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	uses := make([]use, 0, len(first))
	for _, u := range first {
		uses = append(uses, u)
	}
	sort.Slice(uses, func(i, j int) bool { return uses[i].at < uses[j].at })
	a := &Analysis{Tables: sortedKeys(names)}
	for _, u := range uses {
		a.Parameters = append(a.Parameters, u.name)
	}
	return a, nil
}

// Check parses req.SQL, enforces the analysis rules of the tables it
// references and returns the plan to run. Every rule violation is a
// fault.Invalid("INVALID_QUERY", …) error.
func (e *Engine) Check(ctx context.Context, req *Request) (*Plan, error) {
	if req == nil || strings.TrimSpace(req.SQL) == "" {
		return nil, invalid("the query is empty")
	}
	stmt, err := e.parseSelect(ctx, translateParams(req.SQL))
	if err != nil {
		return nil, err
	}
	if err := e.bindParameters(ctx, stmt, req); err != nil {
		return nil, err
	}
	c := &checker{e: e, ctx: ctx, req: req, tables: map[string]*tableUse{}}
	if err := c.check(stmt); err != nil {
		return nil, failClosed(err)
	}
	// Defence in depth: whatever the rule checker accepted must also pass a
	// walk of the whole tree for forbidden constructs.
	if err := c.sweep(stmt); err != nil {
		return nil, failClosed(err)
	}
	c.rewriteTables(stmt)
	sqlOut, err := e.regenerate(ctx, stmt)
	if err != nil {
		return nil, err
	}
	p := &Plan{sql: sqlOut, ruleType: c.ruleType}
	for _, tu := range c.ordered {
		t := tu.table
		p.tables = append(p.tables, planTable{key: tu.key, name: t.Name, view: tu.view,
			columns: append([]Column(nil), t.Columns...), allowed: append([]string(nil), t.Allowed...), format: t.Format})
	}
	return p, nil
}
