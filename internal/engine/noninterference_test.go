package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
)

// Noninterference: under AGGREGATION and LIST, the outcome of a query (its
// refusal, its failure code and message, or the bytes of its result) must
// be a function of what the rules release. The tests build pairs of
// datasets that differ only in what the querier may not learn, run the same
// query on both and require identical outcomes:
//
//   - "unjoined": the other member's table gets rows whose user ids match
//     no row of the querier's table, with extreme values in every column
//     (largest integers, huge doubles, far dates, strings that aren't
//     numbers). No row of the querier's joins them, so no output may depend
//     on them.
//   - "hidden group": one or two users (fewer than the minimum of 3
//     distinct users) are added to both tables with values of every
//     dimension that no other user has, and extreme aggregate values. A
//     query that groups by a dimension column puts them in groups of their
//     own, which the output constraint removes.
//   - "not allowed": values of a column outside the allowed columns.
//
// The queries come from a generator of AGGREGATION and LIST queries over
// every allowed scalar function, operator, constant type and column; the
// hand-written adversarial cases in leak_test.go use the same harness.

// The two tables: "advertiser" belongs to the member who can query,
// "publisher" to the other member.
var (
	niAdvCols = []Column{{"user_id", "bigint"}, {"seg", "string"}, {"n", "int"}}
	niPubCols = []Column{{"user_id", "bigint"}, {"region", "string"}, {"age", "int"}, {"score", "double"},
		{"day", "date"}, {"code", "string"}, {"spend", "bigint"}, {"small", "int"}, {"val", "double"},
		{"dec", "decimal(38,0)"}, {"price", "decimal(10,2)"}, {"secret", "string"}}
	niPubAllowed = []string{"user_id", "region", "age", "score", "day", "code", "spend", "small", "val", "dec", "price"}
)

var allScalarFunctions = []cleanroomsapi.ScalarFunctions{"ABS", "CAST", "CEILING", "COALESCE", "CONVERT", "CURRENT_DATE",
	"DATEADD", "EXTRACT", "FLOOR", "GETDATE", "LN", "LOG", "LOWER", "ROUND", "RTRIM", "SQRT", "SUBSTRING", "TO_CHAR",
	"TO_DATE", "TO_NUMBER", "TO_TIMESTAMP", "TRIM", "TRUNC", "UPPER"}

func niRules(rule string, tables map[string]*Table) {
	adv, pub := tables["advertiser"], tables["publisher"]
	switch rule {
	case RuleAggregation:
		adv.Rule = Rule{Type: RuleAggregation, Aggregation: &cleanroomsapi.AnalysisRuleAggregation{
			AggregateColumns: []cleanroomsapi.AggregateColumn{
				{ColumnNames: []string{"user_id"}, Function: cleanroomsapi.AggregateFunctionNameCountDistinct},
			},
			JoinColumns:      []string{"user_id"},
			DimensionColumns: []string{"seg", "n"},
			ScalarFunctions:  allScalarFunctions,
			OutputConstraints: []cleanroomsapi.AggregationConstraint{
				{ColumnName: "user_id", Minimum: ptr(int32(2)), Type: cleanroomsapi.AggregationTypeCountDistinct},
			},
		}}
		pub.Rule = Rule{Type: RuleAggregation, Aggregation: &cleanroomsapi.AnalysisRuleAggregation{
			AggregateColumns: []cleanroomsapi.AggregateColumn{
				{ColumnNames: []string{"user_id"}, Function: cleanroomsapi.AggregateFunctionNameCountDistinct},
				{ColumnNames: []string{"user_id"}, Function: cleanroomsapi.AggregateFunctionNameCount},
				{ColumnNames: []string{"spend", "small", "val", "dec", "price"}, Function: cleanroomsapi.AggregateFunctionNameSum},
				{ColumnNames: []string{"spend"}, Function: cleanroomsapi.AggregateFunctionNameSumDistinct},
				{ColumnNames: []string{"spend", "val", "dec"}, Function: cleanroomsapi.AggregateFunctionNameAvg},
			},
			JoinColumns:      []string{"user_id"},
			JoinRequired:     ptr(cleanroomsapi.JoinRequiredOptionQueryRunner),
			DimensionColumns: []string{"region", "age", "score", "day", "code"},
			ScalarFunctions:  allScalarFunctions,
			OutputConstraints: []cleanroomsapi.AggregationConstraint{
				{ColumnName: "user_id", Minimum: ptr(int32(3)), Type: cleanroomsapi.AggregationTypeCountDistinct},
			},
		}}
	case RuleList:
		adv.Rule = Rule{Type: RuleList, List: &cleanroomsapi.AnalysisRuleList{
			JoinColumns: []string{"user_id"}, ListColumns: []string{"seg", "n"}}}
		pub.Rule = Rule{Type: RuleList, List: &cleanroomsapi.AnalysisRuleList{
			JoinColumns: []string{"user_id"}, ListColumns: []string{"region", "age", "code", "day", "score"}}}
	}
}

// niData is one dataset: CSV rows (without header) of each table.
type niData struct {
	adv, pub [][]string
}

func (d niData) clone() niData {
	return niData{adv: append([][]string(nil), d.adv...), pub: append([][]string(nil), d.pub...)}
}

// niBase is the released part every dataset shares: 60 users, each in both
// tables, with values small enough that every sum is exact in any order.
func niBase() niData {
	var d niData
	for u := 0; u < 60; u++ {
		d.adv = append(d.adv, []string{strconv.Itoa(u), "s" + strconv.Itoa(u%4), strconv.Itoa(u % 7)})
		for k := 0; k < 2; k++ {
			d.pub = append(d.pub, []string{strconv.Itoa(u), "r" + strconv.Itoa(u%3), strconv.Itoa(20 + u%50),
				strconv.FormatFloat(float64(u%8)*0.25, 'f', -1, 64), fmt.Sprintf("2024-01-%02d", 1+u%20),
				strconv.Itoa(100 + u%9), strconv.Itoa(u*10 + k), strconv.Itoa(u % 100),
				strconv.FormatFloat(float64(u%16)*0.5, 'f', -1, 64), strconv.Itoa(u * 3),
				fmt.Sprintf("%d.25", u%10), "secret-" + strconv.Itoa(u)})
		}
	}
	return d
}

// Extreme values, all valid for their Glue types.
var (
	niExtremeInts    = []string{"2147483647", "-2147483648", "0", "-1", "1000000"}
	niExtremeBigints = []string{"9223372036854775807", "-9223372036854775808", "0", "-1", "4611686018427387904"}
	niExtremeDoubles = []string{"1e308", "-1e308", "0", "-0.5", "1e-300", "123456789.75"}
	niExtremeDates   = []string{"9999-12-31", "0001-01-01", "1970-01-01", "2262-04-11"}
	niExtremeStrings = []string{"zz", "", "-", "99999999999999999999", "1e400", "NaN", "é😀", "2024-13-45", "%_"}
	niExtremeDecs    = []string{"99999999999999999999999999999999999999", "-99999999999999999999999999999999999999", "0", "1"}
	niExtremePrices  = []string{"99999999.99", "-99999999.99", "0.01"}
)

func pickOf(r *rand.Rand, xs []string) string { return xs[r.Intn(len(xs))] }

// niHiddenPubRow is a publisher row for user u with extreme values.
func niHiddenPubRow(r *rand.Rand, u int, region, age, score, day, code string) []string {
	if region == "" {
		region = pickOf(r, niExtremeStrings)
	}
	if age == "" {
		age = pickOf(r, niExtremeInts)
	}
	if score == "" {
		score = pickOf(r, niExtremeDoubles)
	}
	if day == "" {
		day = pickOf(r, niExtremeDates)
	}
	if code == "" {
		code = pickOf(r, niExtremeStrings)
	}
	return []string{strconv.Itoa(u), region, age, score, day, code, pickOf(r, niExtremeBigints), pickOf(r, niExtremeInts),
		pickOf(r, niExtremeDoubles), pickOf(r, niExtremeDecs), pickOf(r, niExtremePrices), pickOf(r, niExtremeStrings)}
}

// niUnjoined adds publisher rows no advertiser row joins.
func niUnjoined(r *rand.Rand, d niData) niData {
	d = d.clone()
	for k := 0; k < 1+r.Intn(4); k++ {
		d.pub = append(d.pub, niHiddenPubRow(r, 1000+r.Intn(1000), "", "", "", "", ""))
	}
	return d
}

// niHiddenGroup adds one or two users to both tables whose dimension values
// no other user has: any grouping by a dimension column puts them alone.
func niHiddenGroup(r *rand.Rand, d niData) niData {
	d = d.clone()
	fresh := []struct{ region, age, score, day, code, seg, n string }{
		{"hidden-a", "-7", "-1e300", "1000-01-01", "zz", "hidden-seg", "-70000"},
		{"99999999999999999999", "2147483647", "1e308", "9999-12-31", "-", "99999999999999999999", "2147483647"},
		{"", "-2147483648", "-0.75", "0001-01-01", "NaN", "", "-2147483648"},
	}
	f := fresh[r.Intn(len(fresh))]
	for k := 0; k < 1+r.Intn(2); k++ {
		u := 5000 + r.Intn(1000) + 1000*k
		d.adv = append(d.adv, []string{strconv.Itoa(u), f.seg, f.n})
		for j := 0; j < 1+r.Intn(3); j++ {
			d.pub = append(d.pub, niHiddenPubRow(r, u, f.region, f.age, f.score, f.day, f.code))
		}
	}
	return d
}

// niNotAllowed changes the publisher's column outside allowedColumns.
func niNotAllowed(r *rand.Rand, d niData) niData {
	d = d.clone()
	for i, row := range d.pub {
		row = append([]string(nil), row...)
		row[len(row)-1] = pickOf(r, niExtremeStrings)
		d.pub[i] = row
	}
	return d
}

// niWorld is a dataset written to files, with its tables.
type niWorld struct {
	tables map[string]*Table
	files  map[string][]string
}

func writeCSVRows(t testing.TB, path string, header []Column, rows [][]string) {
	t.Helper()
	var b bytes.Buffer
	for i, c := range header {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(c.Name)
	}
	b.WriteByte('\n')
	for _, r := range rows {
		for i, v := range r {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"` + strings.ReplaceAll(v, `"`, `""`) + `"`)
		}
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func newNIWorld(t testing.TB, dir, rule string, d niData, parquet bool) *niWorld {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	format := Format{Kind: "csv", Delimiter: ",", HeaderLines: 1}
	files := map[string]string{}
	for name, tbl := range map[string]struct {
		cols []Column
		rows [][]string
	}{"advertiser": {niAdvCols, d.adv}, "publisher": {niPubCols, d.pub}} {
		path := filepath.Join(dir, name+".csv")
		writeCSVRows(t, path, tbl.cols, tbl.rows)
		files[name] = path
		if parquet {
			var cols []string
			for _, c := range tbl.cols {
				dt, _ := duckType(c.Type)
				cols = append(cols, quoteString(c.Name)+": "+quoteString(dt))
			}
			pq := filepath.Join(dir, name+".parquet")
			writeData(t, "SELECT * FROM read_csv("+quoteString(path)+", header=true, auto_detect=false, columns={"+strings.Join(cols, ", ")+"})", pq, "(FORMAT parquet)")
			files[name] = pq
			format = Format{Kind: "parquet"}
		}
	}
	w := &niWorld{tables: map[string]*Table{
		"advertiser": {Name: "advertiser", Owner: accountA, Columns: niAdvCols, Allowed: []string{"user_id", "seg", "n"}, Format: format},
		"publisher":  {Name: "publisher", Owner: accountB, Columns: niPubCols, Allowed: niPubAllowed, Format: format},
	}, files: map[string][]string{"advertiser": {files["advertiser"]}, "publisher": {files["publisher"]}}}
	niRules(rule, w.tables)
	return w
}

// outcome is everything the querier observes of one query.
type outcome struct {
	status string // REFUSED, FAILED or SUCCESS
	detail string // the refusal or failure code and message, or the result
}

func (o outcome) String() string {
	d := o.detail
	if len(d) > 2000 {
		d = d[:2000] + "…"
	}
	return o.status + ": " + d
}

func runOutcome(t testing.TB, e *Engine, w *niWorld, sql string) outcome {
	t.Helper()
	ctx := context.Background()
	req := &Request{SQL: sql, Tables: w.tables, QueryRunner: accountA}
	p, err := e.Check(ctx, req)
	if err != nil {
		var fe *fault.Error
		if !errors.As(err, &fe) {
			t.Fatalf("Check(%q): %v is not a rule violation", sql, err)
		}
		return outcome{"REFUSED", fe.Message}
	}
	_, file, err := execute(ctx, t, e, p, w.files, "CSV")
	if err != nil {
		var qe *QueryError
		if !errors.As(err, &qe) {
			t.Fatalf("Execute(%q): %v is not a QueryError", sql, err)
		}
		return outcome{"FAILED", qe.Code + ": " + qe.Message}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return outcome{"SUCCESS", string(b)}
}

// niPair is two worlds that differ only in what the querier may not learn.
type niPair struct {
	kind string
	a, b *niWorld
}

// niPairs builds the dataset pairs of one rule type.
func niPairs(t testing.TB, rule string, r *rand.Rand, n int) []niPair {
	t.Helper()
	return niPairsIn(t, t.TempDir(), rule, r, n)
}

func niPairsIn(t testing.TB, dir, rule string, r *rand.Rand, n int) []niPair {
	t.Helper()
	base := niBase()
	var out []niPair
	for k := 0; k < n; k++ {
		kind := []string{"unjoined", "hidden group", "not allowed"}[k%3]
		if rule == RuleList && kind == "hidden group" {
			kind = "unjoined"
		}
		var da, db niData
		switch kind {
		case "unjoined":
			da, db = niUnjoined(r, base), niUnjoined(r, base)
			if r.Intn(3) == 0 {
				da = base
			}
		case "hidden group":
			da, db = niHiddenGroup(r, base), niHiddenGroup(r, base)
			if r.Intn(3) == 0 {
				da = base
			}
		default:
			da, db = niNotAllowed(r, base), niNotAllowed(r, base)
		}
		parquet := k%3 == 2
		out = append(out, niPair{kind: kind,
			a: newNIWorld(t, filepath.Join(dir, fmt.Sprintf("%d-a", k)), rule, da, parquet),
			b: newNIWorld(t, filepath.Join(dir, fmt.Sprintf("%d-b", k)), rule, db, parquet)})
	}
	return out
}

// checkNoninterference runs q on both worlds of the pair and fails the test
// when the outcomes differ. It returns the outcome on the first world.
func checkNoninterference(t testing.TB, e *Engine, p niPair, q string) outcome {
	t.Helper()
	oa := runOutcome(t, e, p.a, q)
	ob := runOutcome(t, e, p.b, q)
	if oa != ob {
		t.Errorf("%s pair: the outcome of\n  %s\ndepends on data the rules hide:\n  one dataset: %s\n  the other:   %s", p.kind, q, oa, ob)
	}
	return oa
}

// niQueryGen generates queries for the noninterference tests.
type niQueryGen struct {
	r *rand.Rand
}

func (g *niQueryGen) pick(xs ...string) string { return xs[g.r.Intn(len(xs))] }

// constant returns a literal of a random type: some convert to every
// column's type, some to none.
func (g *niQueryGen) constant() string {
	return g.pick("0", "1", "3", "-1", "7", "100", "2147483647", "9223372036854775807", "99999999999999999999",
		"0.5", "1e308", "-2.5", "'5'", "'abc'", "'2024-01-05'", "'2024-13-45'", "'r1'", "'s2'", "''", "'104'",
		"DATE '2024-01-10'", "TIMESTAMP '2024-01-10 10:00:00'", "NULL", "CAST('7' AS INTEGER)", "1.25", "'1e400'")
}

// dimension returns a dimension expression: mostly well typed (so that it
// binds), over every allowed function and operator.
func (g *niQueryGen) dimension(rule string) string {
	strCols := []string{"a.seg", "b.region", "b.code"}
	numCols := []string{"a.n", "b.age", "b.score"}
	if rule == RuleList {
		numCols = append(numCols, "a.user_id", "b.user_id")
		switch g.r.Intn(6) {
		case 0, 1:
			return g.pick(numCols...) + " " + g.pick("+", "-", "*", "/", "//", "%") + " " + g.pick("2", "1000000", "2147483647", "0", "9223372036854775807", "0.5", "-1")
		case 2:
			return g.pick("2", "-1", "1000000000", "0") + " " + g.pick("*", "-", "/", "%") + " " + g.pick(numCols...)
		case 3:
			return g.pick(strCols...)
		case 4:
			return "b.day"
		}
		return g.pick(numCols...)
	}
	switch g.r.Intn(12) {
	case 0, 1:
		return g.pick(strCols...)
	case 2:
		return g.pick(numCols...)
	case 3:
		return "b.day"
	case 4:
		return g.pick("LOWER", "UPPER", "TRIM", "RTRIM") + "(" + g.pick(strCols...) + ")"
	case 5:
		return g.pick("ABS", "ROUND", "FLOOR", "CEILING", "TRUNC", "LN", "LOG", "SQRT") + "(" + g.pick(numCols...) + ")"
	case 6:
		return "(" + g.pick(numCols...) + " " + g.pick("+", "-", "*", "/", "//", "%") + " " + g.pick("0", "2", "-1", "2147483647", "9223372036854775807", "0.5", "1e308") + ")"
	case 7:
		return "CAST(" + g.pick(append(strCols, numCols...)...) + " AS " + g.pick("INTEGER", "BIGINT", "DOUBLE", "DATE", "VARCHAR", "SMALLINT", "DECIMAL(4,1)", "TINYINT") + ")"
	case 8:
		d := g.pick(strCols...)
		return g.pick("SUBSTRING("+d+", "+g.pick("1", "0", "-3", "2147483647")+", "+g.pick("2", "-1", "100")+")",
			"COALESCE("+d+", "+g.pick("'x'", "'1'")+")", "strptime("+d+", '%Y-%m-%d')", "to_timestamp(CAST("+d+" AS BIGINT))")
	case 9:
		return g.pick("EXTRACT(year FROM b.day)", "strftime(b.day, '%Y')", "date_add(b.day, INTERVAL "+g.pick("1000", "3", "300000")+" YEAR)",
			"date_trunc('month', b.day)", "date_add(b.day, INTERVAL 9999 YEAR)", "(b.day - INTERVAL 3000 YEAR)")
	case 10:
		return g.pick("LN", "SQRT", "LOG", "ABS") + "(" + g.pick(numCols...) + " " + g.pick("-", "*", "+") + " " + g.pick("25", "3", "-100", "2147483647") + ")"
	}
	return "CAST(" + g.pick("b.code", "a.seg", "b.region") + " AS " + g.pick("INTEGER", "DATE", "DOUBLE", "BIGINT") + ")"
}

// condition returns a WHERE condition over dimensions.
func (g *niQueryGen) condition(rule string, depth int) string {
	if depth < 2 && g.r.Intn(4) == 0 {
		return "(" + g.condition(rule, depth+1) + " " + g.pick("AND", "OR") + " " + g.condition(rule, depth+1) + ")"
	}
	if depth < 2 && g.r.Intn(8) == 0 {
		return "NOT (" + g.condition(rule, depth+1) + ")"
	}
	d := g.dimension(rule)
	switch g.r.Intn(6) {
	case 0:
		var cs []string
		for k := 0; k < 1+g.r.Intn(3); k++ {
			cs = append(cs, g.constant())
		}
		return d + g.pick(" IN ", " NOT IN ") + "(" + strings.Join(cs, ", ") + ")"
	case 1:
		return d + g.pick(" LIKE ", " NOT LIKE ") + g.pick("'r%'", "'1%'", "'%'", "'s_'")
	case 2:
		if rule == RuleList {
			return d + " >= " + g.constant()
		}
		return d + " BETWEEN " + g.constant() + " AND " + g.constant()
	case 3:
		return d + g.pick(" IS NULL", " IS NOT NULL")
	}
	return d + " " + g.pick("=", "<>", "<", ">", "<=", ">=") + " " + g.constant()
}

// aggregate returns an aggregate expression.
func (g *niQueryGen) aggregate() string {
	a := g.pick("COUNT(DISTINCT b.user_id)", "COUNT(DISTINCT a.user_id)", "SUM(b.spend)", "SUM(b.small)", "SUM(b.dec)",
		"SUM(b.price)", "SUM(b.val)", "AVG(b.val)", "AVG(b.spend)", "AVG(b.dec)", "COUNT(b.user_id)", "SUM(DISTINCT b.spend)")
	switch g.r.Intn(8) {
	case 0:
		return "(" + a + " " + g.pick("*", "+", "-", "/", "%", "//") + " " + g.constant() + ")"
	case 1:
		return g.pick("LN", "SQRT", "LOG", "ABS", "ROUND", "FLOOR") + "(" + a + " " + g.pick("-", "*", "+") + " " + g.constant() + ")"
	case 2:
		return "CAST(" + a + " AS " + g.pick("INTEGER", "SMALLINT", "TINYINT", "DECIMAL(5,1)", "VARCHAR", "DATE") + ")"
	case 3:
		return "(" + a + " / " + g.aggregate() + ")"
	}
	return a
}

// aggregation returns an AGGREGATION query and whether it groups by a bare
// dimension column (so that hidden users form groups of their own).
func (g *niQueryGen) aggregation() (string, bool) {
	var sel, group []string
	rawGroup := false
	for k := 0; k < g.r.Intn(3); k++ {
		d := g.dimension(RuleAggregation)
		if !strings.ContainsAny(d, "( ") {
			rawGroup = true
		}
		sel = append(sel, d)
		group = append(group, d)
	}
	if g.r.Intn(3) == 0 {
		// A grouping column not in the output.
		d := g.pick("a.seg", "b.region", "b.age", "b.day", "b.code")
		group = append(group, d)
		rawGroup = true
	}
	for k := 0; k < 1+g.r.Intn(3); k++ {
		sel = append(sel, g.aggregate())
	}
	for i := range sel {
		if g.r.Intn(3) == 0 {
			sel[i] += " AS c" + strconv.Itoa(i)
		}
	}
	q := "SELECT " + strings.Join(sel, ", ") + " FROM advertiser a JOIN publisher b ON a.user_id = b.user_id"
	if g.r.Intn(3) > 0 {
		q += " WHERE " + g.condition(RuleAggregation, 0)
	}
	if len(group) > 0 {
		q += " GROUP BY " + strings.Join(group, ", ")
	}
	if g.r.Intn(2) == 0 {
		q += " HAVING " + g.aggregate() + " " + g.pick("=", "<>", "<", ">", "<=", ">=") + " " + g.constant()
		if g.r.Intn(2) == 0 {
			q += " " + g.pick("AND", "OR") + " " + g.aggregate() + " > " + g.constant()
		}
	}
	if g.r.Intn(2) == 0 {
		q += " ORDER BY " + g.pick("1", g.aggregate(), "1 DESC")
	}
	return q, rawGroup && len(group) > 0
}

// list returns a LIST query.
func (g *niQueryGen) list() string {
	cols := []string{"a.seg", "a.n", "b.region", "b.age", "b.code", "b.day", "b.score"}
	g.r.Shuffle(len(cols), func(i, j int) { cols[i], cols[j] = cols[j], cols[i] })
	q := "SELECT DISTINCT " + strings.Join(cols[:1+g.r.Intn(3)], ", ") + " FROM advertiser a JOIN publisher b ON a.user_id = b.user_id"
	if g.r.Intn(4) > 0 {
		q += " WHERE " + g.condition(RuleList, 0)
	}
	if g.r.Intn(3) == 0 {
		q += " LIMIT " + g.pick("1", "3", "10")
	}
	return q
}

// niTally counts what a run of the generator exercised.
type niTally struct {
	accepted, refused, failed, succeeded int
}

func (n *niTally) add(o outcome) {
	switch o.status {
	case "REFUSED":
		n.refused++
	case "FAILED":
		n.failed++
		n.accepted++
	default:
		n.succeeded++
		n.accepted++
	}
}

func TestNoninterferenceGenerated(t *testing.T) {
	e := engineForTest(t)
	for _, rule := range []string{RuleAggregation, RuleList} {
		t.Run(rule, func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewSource(20261203))
			pairs := niPairs(t, rule, r, 3)
			g := &niQueryGen{r: r}
			n := 70
			if rule == RuleList {
				n = 50
			}
			if testing.Short() {
				n = 20
			}
			var tally niTally
			for k := 0; k < n; k++ {
				var q string
				grouped := true
				if rule == RuleAggregation {
					q, grouped = g.aggregation()
				} else {
					q = g.list()
				}
				for _, p := range pairs {
					if p.kind == "hidden group" && !grouped {
						continue
					}
					o := checkNoninterference(t, e, p, q)
					if p == pairs[0] {
						tally.add(o)
					}
				}
				if t.Failed() {
					break
				}
			}
			t.Logf("%s: %d queries, %d accepted (%d succeeded, %d failed on data-independent errors), %d refused",
				rule, n, tally.accepted, tally.succeeded, tally.failed, tally.refused)
			if tally.succeeded < n/3 {
				t.Errorf("only %d of %d generated queries succeeded: the generator is too far from the rule", tally.succeeded, n)
			}
		})
	}
}

// FuzzNoninterference runs a query generated from the fuzzer's seed on
// every dataset pair.
func FuzzNoninterference(f *testing.F) {
	for s := int64(0); s < 8; s++ {
		f.Add(s, s%2 == 0)
	}
	e, err := New(Config{MemoryLimit: "512MB", Threads: 2})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { e.Close() })
	dir, err := os.MkdirTemp("", "ni-fuzz-")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { os.RemoveAll(dir) })
	pairs := map[string][]niPair{}
	f.Fuzz(func(t *testing.T, seed int64, aggregation bool) {
		rule := RuleList
		if aggregation {
			rule = RuleAggregation
		}
		if pairs[rule] == nil {
			pairs[rule] = niPairsIn(t, filepath.Join(dir, rule), rule, rand.New(rand.NewSource(7)), 6)
		}
		g := &niQueryGen{r: rand.New(rand.NewSource(seed))}
		q, grouped := g.list(), true
		if aggregation {
			q, grouped = g.aggregation()
		}
		for _, p := range pairs[rule] {
			if p.kind == "hidden group" && !grouped {
				continue
			}
			checkNoninterference(t, e, p, q)
		}
	})
}
