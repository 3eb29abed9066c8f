package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The fuzz target checks random SQL against the fixture's tables under each
// rule type. Properties:
//   - Check never panics and fails only with INVALID_QUERY;
//   - an accepted query runs or fails with a *QueryError;
//   - under AGGREGATION, an accepted query never outputs a join column value
//     (the fixture's e-mails are join columns of both tables) and outputs
//     exactly the groups whose COUNT(DISTINCT user_id) meets both tables'
//     minimums, verified by an independent query run straight on DuckDB.

// TestMain removes the shared fuzz fixture.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "engine-fuzz-")
	if err != nil {
		panic(err)
	}
	fuzzDir = dir
	code := m.Run()
	if fuzzDB != nil {
		fuzzDB.Close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

var aggVerified int

var (
	fuzzDir    string
	fuzzEngine *Engine
	fuzzOnce   sync.Once
	fuzzFix    map[string]*fixture
	fuzzDB     *sql.DB
)

func fuzzSetup(t testing.TB) {
	fuzzOnce.Do(func() {
		fuzzFix = map[string]*fixture{}
		for _, r := range []string{"agg", "list", "custom"} {
			f := newFixtureIn(t, fuzzDir, fixtureOpts{format: "csv", headerLines: 1})
			switch r {
			case "agg":
				aggRules(f)
			case "list":
				listRules(f)
			case "custom":
				customRules(f, "email", "region")
			}
			fuzzFix[r] = f
		}
		db, err := sql.Open("duckdb", "")
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"purchases", "impressions"} {
			s, err := testViewSQL(name, fuzzFix["agg"].tables[name], fuzzFix["agg"].files[name])
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(s); err != nil {
				t.Fatal(err)
			}
		}
		fuzzDB = db
		// Generated queries can be expensive (cross joins): bound them.
		fuzzEngine, err = New(Config{Threads: 1, MemoryLimit: "512MB", Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
	})
}

var (
	emailRE         = regexp.MustCompile(`u[0-9]+@a\.example`)
	regionValueRE   = regexp.MustCompile(`(^|[^a-z])r[0-2]($|[^0-9])`)
	regionLiteralRE = regexp.MustCompile(`(?i)r[0-2]|'r|chr|replace|translate|concat|\|\||format|printf|regexp|lpad|rpad|repeat`)
)

func checkFuzzQuery(t *testing.T, rules, q string) (accepted bool) {
	fuzzSetup(t)
	e := fuzzEngine
	f := fuzzFix[rules]
	req := f.request(q)
	req.Parameters = map[string]string{"p": "c1", "n": "3"}
	ctx := context.Background()
	p, err := e.Check(ctx, req)
	if err != nil {
		if !isInvalidQuery(err) || strings.Contains(err.Error(), "could not be checked") {
			t.Fatalf("Check(%q): error %v is not a rule violation", q, err)
		}
		return false
	}
	_, file, err := execute(ctx, t, e, p, f.files, "CSV")
	if err != nil {
		var qe *QueryError
		if !errors.As(err, &qe) {
			t.Fatalf("Execute(%q): %v is not a QueryError", q, err)
		}
		return true
	}
	rows := readCSV(t, file)
	if rules == "list" || rules == "agg" {
		for _, r := range rows[1:] {
			for _, cell := range r {
				if emailRE.MatchString(cell) {
					t.Fatalf("%s query %q output a join column value %q", rules, q, cell)
				}
			}
		}
	}
	if rules == "custom" && !regionLiteralRE.MatchString(q) {
		// impressions.region is a disallowed output column in the fuzz
		// fixture, and its values (r0, r1, r2) occur nowhere else.
		for _, r := range rows[1:] {
			for _, cell := range r {
				if regionValueRE.MatchString(cell) {
					t.Fatalf("CUSTOM query %q output a disallowed column value %q\nplan: %s", q, cell, p.SQL())
				}
			}
		}
	}
	if rules == "agg" {
		want, ok := expectedAggRows(t, e, req)
		if ok {
			aggVerified++
		}
		if ok && want != len(rows)-1 {
			t.Fatalf("AGGREGATION query %q returned %d rows, independent threshold computation says %d\nplan: %s", q, len(rows)-1, want, p.SQL())
		}
	}
	return true
}

// expectedAggRows recomputes, straight on DuckDB, how many rows an accepted
// AGGREGATION query must return: its groups (same FROM, WHERE, GROUP BY and
// user HAVING) whose distinct user counts meet every instance's minimum.
func expectedAggRows(t *testing.T, e *Engine, req *Request) (int, bool) {
	ctx := context.Background()
	doc, err := e.parseSelect(ctx, translateParams(req.SQL))
	if err != nil {
		return 0, false
	}
	if err := e.bindParameters(ctx, doc, req); err != nil {
		return 0, false
	}
	q := root(doc)
	sel := nodes(q, "select_list")
	var items []any
	for _, g := range nodes(q, "group_expressions") {
		if pos, ok := positional(g); ok {
			g = sel[pos-1]
		}
		items = append(items, g)
	}
	var mins []int
	var collect func(n node)
	collect = func(n node) {
		switch str(n, "type") {
		case "BASE_TABLE":
			alias := str(n, "alias")
			if alias == "" {
				alias = str(n, "table_name")
			}
			min := 2
			if strings.EqualFold(str(n, "table_name"), "impressions") {
				min = 3
			}
			items = append(items, functionNode("count", true, columnRefNode(alias, "user_id")))
			mins = append(mins, min)
		case "JOIN":
			collect(obj(n, "left"))
			collect(obj(n, "right"))
		}
	}
	collect(obj(q, "from_table"))
	for i := range items {
		if m, ok := items[i].(map[string]any); ok {
			m["alias"] = fmt.Sprintf("c%d", i)
		}
	}
	q["select_list"] = items
	q["modifiers"] = []any{}
	js, err := encodeJSON(doc)
	if err != nil {
		return 0, false
	}
	var text string
	if err := e.parser.QueryRow("SELECT json_deserialize_sql(CAST(? AS JSON))", js).Scan(&text); err != nil {
		return 0, false
	}
	rows, err := fuzzDB.Query(text)
	if err != nil {
		return 0, false // e.g. HAVING refers to a select alias
	}
	defer rows.Close()
	n := 0
	nGroup := len(items) - len(mins)
	for rows.Next() {
		vals := make([]any, len(items))
		ptrs := make([]any, len(items))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		pass := true
		for k, min := range mins {
			c, _ := vals[nGroup+k].(int64)
			if c < int64(min) {
				pass = false
			}
		}
		if pass {
			n++
		}
	}
	return n, rows.Err() == nil
}

// genAggQuery builds a random query near the AGGREGATION rule's shape:
// mostly valid, sometimes with a forbidden element.
func genAggQuery(r *rand.Rand) string {
	pick := func(xs ...string) string { return xs[r.Intn(len(xs))] }
	dims := []string{"i.campaign", "i.region", "p.product", "p.day", "UPPER(i.campaign)", "EXTRACT(dow FROM p.day)", "SUBSTRING(p.product, 1, 1)"}
	aggs := []string{"COUNT(DISTINCT p.user_id)", "COUNT(DISTINCT i.user_id)", "SUM(p.amount)", "AVG(p.amount)", "SUM(i.impressions)",
		"COUNT(p.user_id)", "ROUND(AVG(i.impressions), 1)", "SUM(p.price)"}
	bad := []string{"i.email", "p.user_id", "MAX(p.amount)", "string_agg(i.email, ',')", "COUNT(*)", "p.amount", "i.secret",
		"list(i.email)", "(SELECT 1)", "CASE WHEN true THEN i.email END"}
	var sel, group []string
	nd := r.Intn(3)
	for k := 0; k < nd; k++ {
		d := dims[r.Intn(len(dims))]
		sel = append(sel, d)
		group = append(group, d)
	}
	for k := 0; k < 1+r.Intn(3); k++ {
		sel = append(sel, aggs[r.Intn(len(aggs))])
	}
	if r.Intn(8) == 0 {
		sel = append(sel, bad[r.Intn(len(bad))])
	}
	r.Shuffle(len(sel), func(a, b int) { sel[a], sel[b] = sel[b], sel[a] })
	q := "SELECT " + strings.Join(sel, ", ") + " FROM purchases p " + pick("", "INNER ") + "JOIN impressions i ON " +
		pick("p.user_id = i.user_id", "p.email = i.email", "p.user_id = i.user_id AND p.email = i.email", "i.user_id = p.user_id")
	var where []string
	for k := 0; k < r.Intn(3); k++ {
		where = append(where, pick("i.region = 'r1'", "i.campaign <> 'c2'", "p.product IN ('p1', 'p3')", "p.day >= '2024-01-05'",
			"i.campaign LIKE 'c%'", "NOT (i.region = 'r0')", "i.campaign = :p", "p.product IS NOT NULL", "i.campaign = 'rare'"))
	}
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, pick(" AND ", " OR "))
	}
	if len(group) > 0 {
		q += " GROUP BY " + strings.Join(group, ", ")
	}
	if r.Intn(3) == 0 {
		q += " HAVING " + pick("SUM(p.amount) > 10", "COUNT(DISTINCT p.user_id) > 3", "AVG(i.impressions) < 4")
	}
	if r.Intn(3) == 0 {
		q += " ORDER BY 1"
	}
	return q
}

// TestRandomAggregationQueries runs generated queries through the fuzz
// properties (the structured complement of FuzzCheck).
func TestRandomAggregationQueries(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	n := 60
	if testing.Short() {
		n = 15
	}
	accepted := 0
	for k := 0; k < n; k++ {
		q := genAggQuery(r)
		if checkFuzzQuery(t, "agg", q) {
			accepted++
		}
	}
	t.Logf("%d of %d generated queries accepted, %d verified against the independent threshold computation", accepted, n, aggVerified)
	if aggVerified < accepted/2 {
		t.Errorf("only %d accepted queries could be verified", aggVerified)
	}
	if accepted < n/3 {
		t.Errorf("only %d of %d generated queries were accepted", accepted, n)
	}
}

func FuzzCheck(f *testing.F) {
	r := rand.New(rand.NewSource(2))
	for k := 0; k < 30; k++ {
		f.Add(uint8(0), genAggQuery(r))
	}
	for _, c := range acceptCases {
		f.Add(ruleIndex(c.rules), c.sql)
	}
	for _, c := range rejectCases {
		f.Add(ruleIndex(c.rules), c.sql)
	}
	f.Fuzz(func(t *testing.T, rule uint8, q string) {
		checkFuzzQuery(t, []string{"agg", "list", "custom"}[int(rule)%3], q)
	})
}

func ruleIndex(r string) uint8 {
	switch r {
	case "list":
		return 1
	case "custom":
		return 2
	}
	return 0
}
