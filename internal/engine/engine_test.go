package engine

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
)

func readCSV(t testing.TB, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// joined returns every (purchase, impression) pair sharing a user_id.
func joined() [][2]int {
	ps, is := purchRows(), impRows()
	byUser := map[int64][]int{}
	for k, r := range is {
		byUser[r.userID] = append(byUser[r.userID], k)
	}
	var out [][2]int
	for j, p := range ps {
		for _, k := range byUser[p.userID] {
			out = append(out, [2]int{j, k})
		}
	}
	return out
}

type aggGroup struct {
	pUsers, iUsers map[int64]bool
	revenue        float64
	imps           int64
	priceC         int64
}

func groupJoined(key func(p purchRow, i impRow) string, keep func(p purchRow, i impRow) bool) map[string]*aggGroup {
	ps, is := purchRows(), impRows()
	out := map[string]*aggGroup{}
	for _, pair := range joined() {
		p, i := ps[pair[0]], is[pair[1]]
		if keep != nil && !keep(p, i) {
			continue
		}
		k := key(p, i)
		g := out[k]
		if g == nil {
			g = &aggGroup{pUsers: map[int64]bool{}, iUsers: map[int64]bool{}}
			out[k] = g
		}
		g.pUsers[p.userID] = true
		g.iUsers[i.userID] = true
		g.revenue += p.amount
		g.imps += i.impressions
		g.priceC += p.priceC
	}
	return out
}

// passes applies the fixture's output constraints: 2 distinct purchase
// users and 3 distinct impression users per row.
func (g *aggGroup) passes() bool { return len(g.pUsers) >= 2 && len(g.iUsers) >= 3 }

func approx(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }

func TestAggregationMatchesIndependentComputation(t *testing.T) {
	e := engineForTest(t)
	variants := []struct {
		name string
		o    fixtureOpts
	}{
		{"csv-header", fixtureOpts{format: "csv", headerLines: 1}},
		{"csv-noheader", fixtureOpts{format: "csv", headerLines: 0}},
		{"csv-two-header-lines-split-files", fixtureOpts{format: "csv", headerLines: 2, split: true}},
		{"tsv-header-split-files", fixtureOpts{format: "tsv", headerLines: 1, split: true}},
		{"parquet", fixtureOpts{format: "parquet"}},
		{"parquet-split-files", fixtureOpts{format: "parquet", split: true}},
	}
	want := groupJoined(func(p purchRow, i impRow) string { return i.campaign }, nil)
	if want["rare"] == nil || want["rare"].passes() {
		t.Fatal("fixture: the rare campaign must exist and be below the threshold")
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			f := newFixture(t, v.o)
			aggRules(f)
			rows, res := runQuery(t, e, f.request(`SELECT i.campaign, COUNT(DISTINCT p.user_id) AS users, SUM(p.amount) AS revenue,
				SUM(i.impressions) AS imps FROM purchases p INNER JOIN impressions i ON p.user_id = i.user_id
				GROUP BY i.campaign ORDER BY i.campaign`), f.files)
			if got := strings.Join(rows[0], ","); got != "campaign,users,revenue,imps" {
				t.Fatalf("header %q", got)
			}
			var keys []string
			for k, g := range want {
				if g.passes() {
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			if len(rows)-1 != len(keys) || res.Rows != int64(len(keys)) {
				t.Fatalf("got %d rows (%d reported), want %d: %v", len(rows)-1, res.Rows, len(keys), rows)
			}
			for n, k := range keys {
				r, g := rows[n+1], want[k]
				rev, _ := strconv.ParseFloat(r[2], 64)
				if r[0] != k || r[1] != strconv.Itoa(len(g.pUsers)) || !approx(rev, g.revenue) || r[3] != strconv.FormatInt(g.imps, 10) {
					t.Errorf("row %v, want %s,%d,%v,%d", r, k, len(g.pUsers), g.revenue, g.imps)
				}
			}
			wantCols := []Column{{"campaign", "string"}, {"users", "bigint"}, {"revenue", "double"}, {"imps", "decimal(38,0)"}}
			if fmt.Sprint(res.Columns) != fmt.Sprint(wantCols) {
				t.Errorf("columns %v, want %v", res.Columns, wantCols)
			}
		})
	}
}

func TestThresholdsDropOnlySmallGroups(t *testing.T) {
	e := engineForTest(t)
	f := newFixture(t, fixtureOpts{format: "csv", headerLines: 1})
	aggRules(f)
	want := groupJoined(func(p purchRow, i impRow) string { return i.campaign + "|" + p.product + "|" + i.region }, nil)
	kept, dropped := 0, 0
	for _, g := range want {
		if g.passes() {
			kept++
		} else {
			dropped++
		}
	}
	if kept == 0 || dropped == 0 {
		t.Fatalf("fixture: want groups on both sides of the threshold, kept %d dropped %d", kept, dropped)
	}
	rows, _ := runQuery(t, e, f.request(`SELECT i.campaign, p.product, i.region, COUNT(DISTINCT i.user_id) AS n
		FROM purchases p JOIN impressions i ON p.user_id = i.user_id GROUP BY i.campaign, p.product, i.region`), f.files)
	got := map[string]string{}
	for _, r := range rows[1:] {
		got[r[0]+"|"+r[1]+"|"+r[2]] = r[3]
	}
	for k, g := range want {
		n, ok := got[k]
		if g.passes() != ok {
			t.Errorf("group %s (%d/%d distinct users): in output = %v", k, len(g.pUsers), len(g.iUsers), ok)
		}
		if ok && n != strconv.Itoa(len(g.iUsers)) {
			t.Errorf("group %s: n = %s, want %d", k, n, len(g.iUsers))
		}
	}
	if len(got) != kept {
		t.Errorf("%d rows, want %d", len(got), kept)
	}

	// Without GROUP BY the whole result is one row, dropped when small.
	rows, _ = runQuery(t, e, f.request(`SELECT COUNT(DISTINCT p.user_id) AS n FROM purchases p JOIN impressions i
		ON p.user_id = i.user_id WHERE i.campaign = 'rare'`), f.files)
	if len(rows) != 1 {
		t.Errorf("rare campaign total: got %v, want only the header", rows)
	}
	rows, _ = runQuery(t, e, f.request(`SELECT COUNT(DISTINCT p.user_id) AS n FROM purchases p JOIN impressions i
		ON p.user_id = i.user_id WHERE i.campaign = 'c1'`), f.files)
	c1 := groupJoined(func(p purchRow, i impRow) string { return i.campaign }, nil)["c1"]
	if len(rows) != 2 || rows[1][0] != strconv.Itoa(len(c1.pUsers)) {
		t.Errorf("c1 total: got %v, want %d", rows, len(c1.pUsers))
	}

	// A user's HAVING still applies with the constraints added to it.
	rows, _ = runQuery(t, e, f.request(`SELECT i.region, SUM(i.impressions) AS s FROM purchases p JOIN impressions i
		ON p.user_id = i.user_id GROUP BY i.region HAVING SUM(i.impressions) > 0 ORDER BY 1`), f.files)
	if len(rows) != 4 {
		t.Errorf("regions: %v", rows)
	}
}

func TestGlueTypesApplied(t *testing.T) {
	e := engineForTest(t)
	for _, format := range []string{"csv", "parquet"} {
		t.Run(format, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{format: format, headerLines: 1})
			aggRules(f)
			rows, res := runQuery(t, e, f.request(`SELECT p.day, EXTRACT(month FROM p.day) AS m, SUM(p.price) AS total
				FROM purchases p JOIN impressions i ON p.user_id = i.user_id GROUP BY p.day ORDER BY p.day`), f.files)
			wantCols := []Column{{"day", "date"}, {"m", "bigint"}, {"total", "decimal(38,2)"}}
			if fmt.Sprint(res.Columns) != fmt.Sprint(wantCols) {
				t.Errorf("columns %v, want %v", res.Columns, wantCols)
			}
			want := groupJoined(func(p purchRow, i impRow) string {
				return time.Date(2024, 1, 1+p.day, 0, 0, 0, 0, time.UTC).Format("2006-01-02")
			}, nil)
			n := 0
			for _, r := range rows[1:] {
				g := want[r[0]]
				if g == nil || !g.passes() {
					t.Errorf("unexpected row %v", r)
					continue
				}
				n++
				if r[1] != "1" {
					t.Errorf("month of %s = %s", r[0], r[1])
				}
				if r[2] != fmt.Sprintf("%d.%02d", g.priceC/100, g.priceC%100) {
					t.Errorf("total of %s = %s, want %d cents", r[0], r[2], g.priceC)
				}
			}
			if n == 0 {
				t.Error("no rows")
			}
		})
	}
}

func TestListMatchesIndependentComputation(t *testing.T) {
	e := engineForTest(t)
	for _, format := range []string{"csv", "parquet"} {
		t.Run(format, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{format: format, headerLines: 1})
			listRules(f)
			rows, _ := runQuery(t, e, f.request(`SELECT DISTINCT p.product, i.region AS reg FROM purchases p
				INNER JOIN impressions i ON p.user_id = i.user_id WHERE i.region <> 'r0' AND p.product IN ('p1', 'p2')`), f.files)
			want := map[string]bool{}
			ps, is := purchRows(), impRows()
			for _, pair := range joined() {
				p, i := ps[pair[0]], is[pair[1]]
				if i.region != "r0" && (p.product == "p1" || p.product == "p2") {
					want[p.product+","+i.region] = true
				}
			}
			got := map[string]bool{}
			for _, r := range rows[1:] {
				got[strings.Join(r, ",")] = true
			}
			if strings.Join(rows[0], ",") != "product,reg" || fmt.Sprint(sortedKeys(got)) != fmt.Sprint(sortedKeys(want)) || len(rows)-1 != len(want) {
				t.Errorf("got %v, want %v", rows, sortedKeys(want))
			}
			rows, _ = runQuery(t, e, f.request(`SELECT DISTINCT i.campaign FROM purchases p JOIN impressions i
				ON p.user_id = i.user_id LIMIT 2`), f.files)
			if len(rows) != 3 {
				t.Errorf("LIMIT 2: %v", rows)
			}
		})
	}
}

func TestParametersBind(t *testing.T) {
	e := engineForTest(t)
	f := newFixture(t, fixtureOpts{format: "csv", headerLines: 1})
	aggRules(f)
	q := `SELECT COUNT(DISTINCT p.user_id) AS n FROM purchases p JOIN impressions i ON p.user_id = i.user_id
		WHERE i.campaign = :camp AND p.day >= :since`
	byCampaign := groupJoined(func(p purchRow, i impRow) string { return i.campaign }, func(p purchRow, i impRow) bool { return p.day >= 10 })
	for _, camp := range []string{"c2", "c3"} {
		req := f.request(q)
		req.Parameters = map[string]string{"camp": camp, "since": "2024-01-11"}
		req.ParameterTypes = map[string]string{"since": "DATE"}
		rows, _ := runQuery(t, e, req, f.files)
		if len(rows) != 2 || rows[1][0] != strconv.Itoa(len(byCampaign[camp].pUsers)) {
			t.Errorf("camp %s: %v, want %d", camp, rows, len(byCampaign[camp].pUsers))
		}
	}
	// A value is a value: quotes don't escape the literal.
	req := f.request(q)
	req.Parameters = map[string]string{"camp": "c1' OR '1'='1", "since": "2024-01-01"}
	rows, _ := runQuery(t, e, req, f.files)
	if len(rows) != 1 {
		t.Errorf("injection attempt matched rows: %v", rows)
	}
	// Missing values and positional parameters are refused.
	req = f.request(q)
	req.Parameters = map[string]string{"camp": "c1"}
	if _, err := e.Check(context.Background(), req); !isInvalidQuery(err) {
		t.Errorf("missing parameter: %v", err)
	}
	req = f.request(`SELECT COUNT(DISTINCT p.user_id) FROM purchases p JOIN impressions i ON p.user_id = i.user_id WHERE i.campaign = ?`)
	if _, err := e.Check(context.Background(), req); !isInvalidQuery(err) {
		t.Errorf("positional parameter: %v", err)
	}
	// A :name inside a string literal or after :: is not a parameter.
	if got := translateParams(`SELECT ':x', a::int, "b:c", x[1:n], {'k':v} FROM t WHERE y = :p -- :q`); got != `SELECT ':x', a::int, "b:c", x[1:n], {'k':v} FROM t WHERE y = $p -- :q` {
		t.Errorf("translateParams: %s", got)
	}
}

func isInvalidQuery(err error) bool {
	var fe *fault.Error
	return errors.As(err, &fe) && fe.Kind == fault.Validation && fe.Reason == ReasonInvalidQuery
}

func TestTimeout(t *testing.T) {
	e, err := New(Config{Threads: 2, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	f := newFixture(t, fixtureOpts{format: "csv", headerLines: 1})
	customRules(f)
	p, err := e.Check(context.Background(), f.request(`SELECT sum(a.impressions * b.impressions * c.impressions * d.impressions) AS s
		FROM impressions a, impressions b, impressions c, impressions d`))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, _, err = execute(context.Background(), t, e, p, f.files, "CSV")
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	var qe *QueryError
	if !errors.As(err, &qe) || qe.Code != CodeTimedOut {
		t.Errorf("err = %#v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timeout took %v", d)
	}
	// A cancelled context is not a timeout.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	_, _, err = execute(ctx, t, e, p, f.files, "CSV")
	if errors.Is(err, ErrTimeout) || !errors.As(err, &qe) || qe.Code != CodeCancelled {
		t.Errorf("cancelled: %v", err)
	}
}

func TestParquetOutput(t *testing.T) {
	e := engineForTest(t)
	f := newFixture(t, fixtureOpts{format: "csv", headerLines: 1})
	aggRules(f)
	p, err := e.Check(context.Background(), f.request(`SELECT i.region, COUNT(DISTINCT i.user_id) AS n FROM purchases p JOIN impressions i ON p.user_id = i.user_id GROUP BY i.region`))
	if err != nil {
		t.Fatal(err)
	}
	res, file, err := execute(context.Background(), t, e, p, f.files, "PARQUET")
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 3 || !strings.HasSuffix(file, ".parquet") {
		t.Fatalf("result %+v", res)
	}
	b, err := os.ReadFile(file)
	if err != nil || len(b) < 8 || string(b[:4]) != "PAR1" {
		t.Fatalf("not a parquet file: %v", err)
	}
}

func TestEquatedConstraintColumnsShareOneCount(t *testing.T) {
	e := engineForTest(t)
	f := rejectFixture(t, "agg")
	p, err := e.Check(context.Background(), f.request(`SELECT i.campaign, COUNT(DISTINCT p.user_id) AS n FROM purchases p
		JOIN impressions i ON p.user_id = i.user_id GROUP BY i.campaign`))
	if err != nil {
		t.Fatal(err)
	}
	// One count, the query's own, holds both tables' minimums (the higher, 3).
	if strings.Count(p.SQL(), "count(DISTINCT") != 1 || !strings.Contains(p.SQL(), "count(DISTINCT p.user_id) AS __cr_a0") ||
		!strings.Contains(p.SQL(), "(__cr_q.__cr_a0 >= 3)") {
		t.Errorf("plan %s", p.SQL())
	}
	// Joined on e-mail, the user_id columns are not equated: both counts.
	p, err = e.Check(context.Background(), f.request(`SELECT i.campaign, COUNT(DISTINCT p.user_id) AS n FROM purchases p
		JOIN impressions i ON p.email = i.email GROUP BY i.campaign`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.SQL(), "count(DISTINCT p.user_id) AS __cr_a0") || !strings.Contains(p.SQL(), "count(DISTINCT i.user_id) AS __cr_a1") ||
		!strings.Contains(p.SQL(), "(__cr_q.__cr_a0 >= 2)") || !strings.Contains(p.SQL(), "(__cr_q.__cr_a1 >= 3)") {
		t.Errorf("plan %s", p.SQL())
	}
}

func TestCSVQuoteAndEscape(t *testing.T) {
	e := engineForTest(t)
	dir := t.TempDir()
	a := dir + "/a.csv"
	b := dir + "/b.csv"
	// Quote ' and escape \: the segment holds the delimiter and a quote.
	var sa, sb strings.Builder
	sa.WriteString("id|seg\n")
	for i := 0; i < 6; i++ {
		fmt.Fprintf(&sa, "%d|'x|y \\'q\\''\n", i)
		fmt.Fprintf(&sb, "%d|n\n", i)
	}
	if err := os.WriteFile(a, []byte(sa.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cols := []Column{{"id", "int"}, {"seg", "string"}}
	rule := func() Rule {
		return Rule{Type: RuleList, List: &cleanroomsapi.AnalysisRuleList{JoinColumns: []string{"id"}, ListColumns: []string{"seg"}}}
	}
	tables := map[string]*Table{
		"a": {Name: "a", Owner: accountA, Columns: cols, Allowed: []string{"id", "seg"},
			Format: Format{Kind: "csv", Delimiter: "|", HeaderLines: 1, Quote: "'", Escape: "\\"}, Rule: rule()},
		"b": {Name: "b", Owner: accountB, Columns: cols, Allowed: []string{"id", "seg"},
			Format: Format{Kind: "csv", Delimiter: "|"}, Rule: rule()},
	}
	rows, _ := runQuery(t, e, &Request{SQL: "SELECT DISTINCT a.seg FROM a JOIN b ON a.id = b.id", Tables: tables, QueryRunner: accountA},
		map[string][]string{"a": {a}, "b": {b}})
	if len(rows) != 2 || rows[1][0] != "x|y 'q'" {
		t.Errorf("rows %q", rows)
	}
}

func TestConcurrentChecksAndRuns(t *testing.T) {
	e := engineForTest(t)
	f := newFixture(t, fixtureOpts{format: "parquet"})
	aggRules(f)
	want := groupJoined(func(p purchRow, i impRow) string { return i.region }, nil)
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func(g int) {
			region := fmt.Sprintf("r%d", g%3)
			req := f.request("SELECT COUNT(DISTINCT i.user_id) AS n FROM purchases p JOIN impressions i ON p.user_id = i.user_id WHERE i.region = :r")
			req.Parameters = map[string]string{"r": region}
			p, err := e.Check(context.Background(), req)
			if err != nil {
				errs <- err
				return
			}
			_, file, err := execute(context.Background(), t, e, p, f.files, "CSV")
			if err != nil {
				errs <- err
				return
			}
			b, _ := os.ReadFile(file)
			if got, exp := strings.TrimSpace(string(b)), fmt.Sprintf("n\n%d", len(want[region].iUsers)); got != exp {
				errs <- fmt.Errorf("%s: %q, want %q", region, got, exp)
				return
			}
			errs <- nil
		}(g)
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// Sums of integers are exact in every format: DuckDB's 128-bit SUM is
// written as DECIMAL(38,0), which CSV and Parquet both hold exactly (DuckDB's
// Parquet writer alone would make it DOUBLE and round 2^53 + 1).
func TestIntegerSumsExactInEveryFormat(t *testing.T) {
	e := engineForTest(t)
	dir := t.TempDir()
	cols := []Column{{"id", "bigint"}, {"g", "string"}, {"v", "bigint"}}
	var rows [][]string
	for i := 0; i < 6; i++ {
		rows = append(rows, []string{strconv.Itoa(i), "g", "9007199254740993"}) // 2^53 + 1
	}
	path := filepath.Join(dir, "t.csv")
	writeCSVRows(t, path, cols, rows)
	tables := map[string]*Table{"t": {Name: "t", Owner: accountA, Columns: cols, Allowed: []string{"id", "g", "v"},
		Format: Format{Kind: "csv", Delimiter: ",", HeaderLines: 1},
		Rule:   Rule{Type: RuleCustom, Custom: &cleanroomsapi.AnalysisRuleCustom{AllowedAnalyses: []string{"ANY_QUERY"}, AllowedAnalysisProviders: []string{accountA}}}}}
	p, err := e.Check(context.Background(), &Request{SQL: "SELECT g, SUM(v) AS s, SUM(TRY_CAST(v AS INTEGER) % 7) AS small FROM t GROUP BY g", Tables: tables, QueryRunner: accountA})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]string{"t": {path}}
	res, csvFile, err := execute(context.Background(), t, e, p, files, "CSV")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(res.Columns); got != "[{g string} {s decimal(38,0)} {small decimal(38,0)}]" {
		t.Errorf("columns %s", got)
	}
	if got := readCSV(t, csvFile); fmt.Sprint(got) != "[[g s small] [g 54043195528445958 ]]" {
		t.Errorf("CSV %v", got)
	}
	_, pqFile, err := execute(context.Background(), t, e, p, files, "PARQUET")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var typ, val string
	if err := db.QueryRow("SELECT typeof(s), CAST(s AS VARCHAR) FROM read_parquet("+quoteString(pqFile)+")").Scan(&typ, &val); err != nil {
		t.Fatal(err)
	}
	if typ != "DECIMAL(38,0)" || val != "54043195528445958" {
		t.Errorf("Parquet holds %s %s, want DECIMAL(38,0) 54043195528445958", typ, val)
	}
}
