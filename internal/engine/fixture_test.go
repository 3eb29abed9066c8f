package engine

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/results"
	_ "github.com/duckdb/duckdb-go/v2"
)

// The fixture: two parties.
//
// The advertiser (accountA, the member who can query) owns "purchases":
// row j in [0, nPurch): user_id = (3j) mod 250, product = 'p' || j mod 4,
// amount = j mod 50 + 0.5, day = 2024-01-01 + (j mod 30) days,
// price = (j mod 1000) / 100 as decimal(10,2), email = 'u' || user_id || '@a.example'.
//
// The publisher (accountB) owns "impressions": row i in [0, nImp):
// user_id = i mod 200, campaign = 'rare' for users 0 and 1 else 'c' || user_id mod 5,
// impressions = i mod 7 + 1, region = 'r' || user_id mod 3,
// secret = 's' || i, email = 'u' || user_id || '@a.example'.
//
// The same formulas are computed in Go (purchRows, impRows) so expected
// results are independent of the engine.
const (
	accountA = "111111111111"
	accountB = "222222222222"
	nPurch   = 300
	nImp     = 400
)

type purchRow struct {
	userID  int64
	product string
	amount  float64
	day     int // days after 2024-01-01
	priceC  int64
	email   string
}

type impRow struct {
	userID      int64
	campaign    string
	impressions int64
	region      string
	secret      string
	email       string
}

func purchRows() []purchRow {
	var out []purchRow
	for j := int64(0); j < nPurch; j++ {
		u := (3 * j) % 250
		out = append(out, purchRow{userID: u, product: fmt.Sprintf("p%d", j%4), amount: float64(j%50) + 0.5,
			day: int(j % 30), priceC: j % 1000, email: fmt.Sprintf("u%d@a.example", u)})
	}
	return out
}

func impRows() []impRow {
	var out []impRow
	for i := int64(0); i < nImp; i++ {
		u := i % 200
		c := fmt.Sprintf("c%d", u%5)
		if u < 2 {
			c = "rare"
		}
		out = append(out, impRow{userID: u, campaign: c, impressions: i%7 + 1, region: fmt.Sprintf("r%d", u%3),
			secret: fmt.Sprintf("s%d", i), email: fmt.Sprintf("u%d@a.example", u)})
	}
	return out
}

const purchSQL = `SELECT (3*j) % 250 AS user_id, 'p' || (j % 4) AS product, (j % 50) + 0.5 AS amount,
	DATE '2024-01-01' + CAST(j % 30 AS INTEGER) AS day, CAST((j % 1000) / 100 AS DECIMAL(10,2)) AS price,
	'u' || ((3*j) % 250) || '@a.example' AS email FROM range({N}) r(j)`

const impSQL = `SELECT i % 200 AS user_id, CASE WHEN i % 200 < 2 THEN 'rare' ELSE 'c' || (i % 200 % 5) END AS campaign,
	i % 7 + 1 AS impressions, 'r' || (i % 200 % 3) AS region, 's' || i AS secret,
	'u' || (i % 200) || '@a.example' AS email FROM range({N}) t(i)`

var purchCols = []Column{{"user_id", "bigint"}, {"product", "string"}, {"amount", "double"}, {"day", "date"}, {"price", "decimal(10,2)"}, {"email", "string"}}
var impCols = []Column{{"user_id", "bigint"}, {"campaign", "varchar(20)"}, {"impressions", "int"}, {"region", "char(2)"}, {"secret", "string"}, {"email", "string"}}

// writeData writes the result of query to path with COPY options.
func writeData(t testing.TB, query, path, opts string) {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("COPY (" + query + ") TO '" + path + "' " + opts); err != nil {
		t.Fatal(err)
	}
}

// dropHeader rewrites a CSV file with extra header lines or none.
func setHeaderLines(t testing.TB, path string, n int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	body := strings.Join(lines[1:], "")
	var head string
	for i := 0; i < n; i++ {
		head += lines[0]
	}
	if err := os.WriteFile(path, []byte(head+body), 0o644); err != nil {
		t.Fatal(err)
	}
}

type fixture struct {
	dir    string
	tables map[string]*Table
	files  map[string][]string // each table's data files, by table name
}

type fixtureOpts struct {
	format      string // csv, tsv, parquet
	headerLines int
	split       bool // write the publisher's data in two files
}

func newFixture(t testing.TB, o fixtureOpts) *fixture {
	t.Helper()
	return newFixtureIn(t, t.TempDir(), o)
}

func newFixtureIn(t testing.TB, dir string, o fixtureOpts) *fixture {
	t.Helper()
	f := &fixture{dir: dir, tables: map[string]*Table{}, files: map[string][]string{}}
	var fmtP Format
	ext := "csv"
	copyOpts := "(FORMAT csv, HEADER true)"
	switch o.format {
	case "parquet":
		fmtP = Format{Kind: "parquet"}
		ext = "parquet"
		copyOpts = "(FORMAT parquet)"
	case "tsv":
		fmtP = Format{Kind: "csv", Delimiter: "\t", HeaderLines: o.headerLines}
		copyOpts = "(FORMAT csv, HEADER true, DELIMITER '\t')"
	default:
		fmtP = Format{Kind: "csv", Delimiter: ",", HeaderLines: o.headerLines}
	}
	pfile := filepath.Join(dir, "purchases."+ext)
	writeData(t, dataSQL(purchSQL, nPurch), pfile, copyOpts)
	var ifiles []string
	if o.split {
		a, b := filepath.Join(dir, "imp1."+ext), filepath.Join(dir, "imp2."+ext)
		writeData(t, dataSQL(impSQL, nImp)+" WHERE i < 150", a, copyOpts)
		writeData(t, dataSQL(impSQL, nImp)+" WHERE i >= 150", b, copyOpts)
		ifiles = []string{a, b}
	} else {
		a := filepath.Join(dir, "impressions."+ext)
		writeData(t, dataSQL(impSQL, nImp), a, copyOpts)
		ifiles = []string{a}
	}
	if o.format != "parquet" {
		for _, p := range append([]string{pfile}, ifiles...) {
			setHeaderLines(t, p, o.headerLines)
		}
	}
	f.tables["purchases"] = &Table{Name: "purchases", Owner: accountA, Columns: purchCols,
		Allowed: []string{"user_id", "product", "amount", "day", "price", "email"}, Format: fmtP}
	f.tables["impressions"] = &Table{Name: "impressions", Owner: accountB, Columns: impCols,
		Allowed: []string{"user_id", "campaign", "impressions", "region", "email"}, Format: fmtP}
	f.files["purchases"], f.files["impressions"] = []string{pfile}, ifiles
	return f
}

func dataSQL(q string, n int) string { return strings.ReplaceAll(q, "{N}", fmt.Sprint(n)) }

func ptr[T any](v T) *T { return &v }

func aggRules(f *fixture) {
	f.tables["purchases"].Rule = Rule{Type: RuleAggregation, Aggregation: &cleanroomsapi.AnalysisRuleAggregation{
		AggregateColumns: []cleanroomsapi.AggregateColumn{
			{ColumnNames: []string{"user_id"}, Function: cleanroomsapi.AggregateFunctionNameCountDistinct},
			{ColumnNames: []string{"user_id"}, Function: cleanroomsapi.AggregateFunctionNameCount},
			{ColumnNames: []string{"amount", "price"}, Function: cleanroomsapi.AggregateFunctionNameSum},
			{ColumnNames: []string{"amount"}, Function: cleanroomsapi.AggregateFunctionNameAvg},
		},
		JoinColumns:      []string{"user_id", "email"},
		DimensionColumns: []string{"product", "day"},
		ScalarFunctions:  []cleanroomsapi.ScalarFunctions{"ABS", "CAST", "EXTRACT", "LOWER", "UPPER", "ROUND", "TRUNC", "COALESCE", "CURRENT_DATE", "SUBSTRING"},
		OutputConstraints: []cleanroomsapi.AggregationConstraint{
			{ColumnName: "user_id", Minimum: ptr(int32(2)), Type: cleanroomsapi.AggregationTypeCountDistinct},
		},
	}}
	f.tables["impressions"].Rule = Rule{Type: RuleAggregation, Aggregation: &cleanroomsapi.AnalysisRuleAggregation{
		AggregateColumns: []cleanroomsapi.AggregateColumn{
			{ColumnNames: []string{"user_id"}, Function: cleanroomsapi.AggregateFunctionNameCountDistinct},
			{ColumnNames: []string{"impressions"}, Function: cleanroomsapi.AggregateFunctionNameSum},
			{ColumnNames: []string{"impressions"}, Function: cleanroomsapi.AggregateFunctionNameAvg},
		},
		JoinColumns:      []string{"user_id", "email"},
		JoinRequired:     ptr(cleanroomsapi.JoinRequiredOptionQueryRunner),
		DimensionColumns: []string{"campaign", "region"},
		ScalarFunctions:  []cleanroomsapi.ScalarFunctions{"ABS", "CAST", "EXTRACT", "LOWER", "UPPER", "ROUND", "TRUNC", "COALESCE", "CURRENT_DATE", "SUBSTRING"},
		OutputConstraints: []cleanroomsapi.AggregationConstraint{
			{ColumnName: "user_id", Minimum: ptr(int32(3)), Type: cleanroomsapi.AggregationTypeCountDistinct},
		},
	}}
}

func listRules(f *fixture) {
	f.tables["purchases"].Rule = Rule{Type: RuleList, List: &cleanroomsapi.AnalysisRuleList{
		JoinColumns: []string{"user_id", "email"},
		ListColumns: []string{"product", "day"},
	}}
	f.tables["impressions"].Rule = Rule{Type: RuleList, List: &cleanroomsapi.AnalysisRuleList{
		JoinColumns: []string{"user_id", "email"},
		ListColumns: []string{"campaign", "region"},
	}}
}

func customRules(f *fixture, disallowed ...string) {
	f.tables["purchases"].Rule = Rule{Type: RuleCustom, Custom: &cleanroomsapi.AnalysisRuleCustom{
		AllowedAnalyses: []string{"ANY_QUERY"}, AllowedAnalysisProviders: []string{accountA},
	}}
	f.tables["impressions"].Rule = Rule{Type: RuleCustom, Custom: &cleanroomsapi.AnalysisRuleCustom{
		AllowedAnalyses: []string{"ANY_QUERY", "arn:aws:cleanrooms:us-east-1:111111111111:membership/m/analysistemplate/t1"}, AllowedAnalysisProviders: []string{accountA},
		DisallowedOutputColumns: disallowed,
	}}
}

func (f *fixture) request(sqlText string) *Request {
	return &Request{SQL: sqlText, Tables: f.tables, QueryRunner: accountA}
}

var testEngine *Engine

func engineForTest(t testing.TB) *Engine {
	t.Helper()
	if testEngine == nil {
		e, err := New(Config{MemoryLimit: "1GB", Threads: 2, TempDir: os.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		testEngine = e
	}
	return testEngine
}

// runQuery checks and runs a query over files, returning the CSV rows
// (header first).
func runQuery(t testing.TB, e *Engine, req *Request, files map[string][]string) ([][]string, *Result) {
	t.Helper()
	ctx := context.Background()
	p, err := e.Check(ctx, req)
	if err != nil {
		t.Fatalf("Check(%q): %v", req.SQL, err)
	}
	res, csvFile, err := execute(ctx, t, e, p, files, "CSV")
	if err != nil {
		t.Fatalf("Execute(%q) [%s]: %v", req.SQL, p.SQL(), err)
	}
	return readCSV(t, csvFile), res
}

// testViewSQL is the sandbox's view of table t over files, named name.
func testViewSQL(name string, t *Table, files []string) (string, error) {
	s, _, err := viewSQL(&planTable{key: strings.ToLower(name), name: t.Name, view: name, columns: t.Columns, allowed: t.Allowed, format: t.Format}, files)
	return s, err
}

// execute binds p to files (by table name), executes it once and encodes
// the result in format; it returns the result and the encoded file.
func execute(ctx context.Context, t testing.TB, e *Engine, p *Plan, files map[string][]string, format string) (*Result, string, error) {
	t.Helper()
	sources := map[string]Source{}
	for name, fs := range files {
		sources[name] = Source{Files: fs}
	}
	b, err := p.Bind(sources)
	if err != nil {
		return nil, "", err
	}
	dir, err := os.MkdirTemp(t.TempDir(), "run")
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Execute(ctx, b, dir)
	if err != nil {
		return nil, "", err
	}
	encDir := filepath.Join(dir, "enc")
	if err := os.Mkdir(encDir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := results.Encode(ctx, res.File, format, encDir)
	if err != nil {
		t.Fatalf("encoding %s: %v", format, err)
	}
	return res, out, nil
}
