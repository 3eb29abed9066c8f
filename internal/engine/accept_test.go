package engine

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
)

type acceptCase struct {
	name  string
	rules string
	sql   string
	setup func(f *fixture, r *Request)
	// direct, when set, is the same query to run straight on DuckDB over
	// the fixture files; the outputs must be equal.
	direct string
}

var acceptCases = []acceptCase{
	{name: "agg/filters and having", rules: "agg", sql: `SELECT i.campaign, COUNT(DISTINCT p.user_id) AS n FROM purchases AS p INNER JOIN impressions AS i
		ON p.user_id = i.user_id WHERE i.region IN ('r1', 'r2') AND p.product LIKE 'p%' GROUP BY i.campaign
		HAVING COUNT(DISTINCT p.user_id) > 1 ORDER BY n DESC, i.campaign`},
	{name: "agg/scalar over aggregate", rules: "agg", sql: `SELECT UPPER(i.campaign) AS c, ROUND(AVG(p.amount), 2) AS a FROM purchases p
		JOIN impressions i ON p.user_id = i.user_id GROUP BY UPPER(i.campaign) ORDER BY c`},
	{name: "agg/arithmetic of aggregates", rules: "agg", sql: `SELECT EXTRACT(dow FROM p.day) AS d, SUM(p.amount) / COUNT(DISTINCT p.user_id) AS per_user
		FROM purchases p JOIN impressions i ON p.user_id = i.user_id GROUP BY 1 ORDER BY 1`},
	{name: "agg/group by alias", rules: "agg", sql: `SELECT CAST(p.day AS VARCHAR) AS d, SUM(i.impressions) AS s FROM purchases p
		JOIN impressions i ON p.user_id = i.user_id GROUP BY d ORDER BY d`},
	{name: "agg/coalesce", rules: "agg", sql: `SELECT COALESCE(i.region, 'none') AS r, COUNT(DISTINCT i.user_id) AS n FROM purchases p
		JOIN impressions i ON p.user_id = i.user_id GROUP BY 1 ORDER BY 1`},
	{name: "agg/dates", rules: "agg", sql: `SELECT SUM(p.amount) AS s FROM purchases p JOIN impressions i ON p.user_id = i.user_id
		WHERE p.day >= DATE '2024-01-10' AND p.day < CURRENT_DATE AND p.day < current_date + INTERVAL 1 DAY`},
	{name: "agg/between not is null", rules: "agg", sql: `SELECT SUM(p.amount) AS s FROM purchases p JOIN impressions i ON p.user_id = i.user_id
		WHERE p.day BETWEEN '2024-01-01' AND '2024-01-31' AND NOT (i.region = 'r0') AND i.campaign IS NOT NULL`},
	{name: "agg/two join columns", rules: "agg", sql: `SELECT p.product, COUNT(DISTINCT i.user_id) AS n, SUM(i.impressions) AS s, AVG(i.impressions) AS a
		FROM purchases p JOIN impressions i ON p.user_id = i.user_id AND p.email = i.email GROUP BY p.product
		ORDER BY AVG(i.impressions) DESC, p.product`},
	{name: "agg/or join when allowed", rules: "agg", sql: `SELECT COUNT(DISTINCT p.user_id) AS n FROM purchases p
		JOIN impressions i ON p.user_id = i.user_id OR p.email = i.email`, setup: func(f *fixture, r *Request) {
		for _, t := range f.tables {
			t.Rule.Aggregation.AllowedJoinOperators = []cleanroomsapi.JoinOperator{"AND", "OR"}
		}
	}},
	{name: "agg/three instances", rules: "agg", sql: `SELECT i.region, COUNT(DISTINCT p.user_id) AS n FROM purchases p
		JOIN impressions i ON p.user_id = i.user_id JOIN purchases p2 ON p2.email = i.email GROUP BY i.region ORDER BY 1`},
	{name: "agg/own table alone", rules: "agg", sql: `SELECT product, SUM(amount) AS s FROM purchases GROUP BY product ORDER BY product`,
		direct: `SELECT product, SUM(amount) AS s FROM purchases GROUP BY product HAVING COUNT(DISTINCT user_id) >= 2 ORDER BY product`},
	{name: "agg/substring and date_trunc", rules: "agg", sql: `SELECT SUBSTRING(i.campaign, 1, 1) AS c0, date_trunc('month', p.day) AS m,
		COUNT(DISTINCT p.user_id) AS n FROM purchases p JOIN impressions i ON p.user_id = i.user_id GROUP BY 1, 2 ORDER BY 1, 2`, setup: func(f *fixture, r *Request) {
		for _, t := range f.tables {
			t.Rule.Aggregation.ScalarFunctions = append(t.Rule.Aggregation.ScalarFunctions, "TRUNC")
		}
	}},
	{name: "agg/parameter", rules: "agg", sql: `SELECT COUNT(DISTINCT p.user_id) AS n FROM purchases p JOIN impressions i ON p.user_id = i.user_id
		WHERE i.region = :region`, setup: func(f *fixture, r *Request) { r.Parameters = map[string]string{"region": "r2"} }},
	{name: "agg/query runner owns joinRequired table", rules: "agg", sql: `SELECT COUNT(DISTINCT user_id) AS n FROM impressions`,
		setup: func(f *fixture, r *Request) { r.QueryRunner = accountB }},

	{name: "list/or and like", rules: "list", sql: `SELECT DISTINCT p.product, i.campaign FROM purchases p JOIN impressions i
		ON p.user_id = i.user_id AND p.email = i.email WHERE i.region = 'r1' OR (p.product <> 'p0' AND i.campaign NOT LIKE 'rare%') LIMIT 100`},
	{name: "list/arithmetic on join column", rules: "list", sql: `SELECT DISTINCT p.day FROM impressions i JOIN purchases p ON i.email = p.email
		WHERE p.day >= '2024-01-15' AND i.user_id + 1 > 10`},
	{name: "list/in and is not null", rules: "list", sql: `SELECT DISTINCT i.campaign AS c FROM purchases p JOIN impressions i ON p.user_id = i.user_id
		WHERE i.region IS NOT NULL AND i.campaign IN ('c1', 'c2')`},

	{name: "custom/count of disallowed", rules: "custom", sql: `SELECT region, count(DISTINCT email) AS n FROM impressions GROUP BY region ORDER BY region`},
	{name: "custom/join on disallowed in cte", rules: "custom", sql: `WITH x AS (SELECT email, campaign FROM impressions)
		SELECT x.campaign, count(*) AS n FROM x JOIN purchases p ON x.email = p.email GROUP BY 1 ORDER BY 1`},
	{name: "custom/window and left join", rules: "custom", sql: `SELECT p.product, i.region, row_number() OVER (PARTITION BY p.product ORDER BY i.region) AS rn
		FROM purchases p LEFT JOIN impressions i ON p.user_id = i.user_id WHERE i.email LIKE 'u1%' ORDER BY 1, 2, 3 LIMIT 5`},
	{name: "custom/union", rules: "custom", sql: `SELECT region FROM impressions UNION SELECT product FROM purchases ORDER BY 1`},
	{name: "custom/star exclude", rules: "custom", sql: `SELECT * EXCLUDE (email) FROM impressions ORDER BY user_id, campaign LIMIT 3`},
	{name: "custom/other table's email", rules: "custom", sql: `SELECT email FROM purchases ORDER BY email LIMIT 3`},
	{name: "custom/in subquery", rules: "custom", sql: `SELECT campaign FROM impressions WHERE email IN (SELECT email FROM purchases) GROUP BY campaign ORDER BY 1`},
	{name: "custom/scalar subquery count", rules: "custom", sql: `SELECT (SELECT count(*) FROM impressions) AS n`},
	{name: "custom/filter and group by all", rules: "custom", sql: `SELECT campaign, count(*) FILTER (WHERE email LIKE '%1%') AS n FROM impressions GROUP BY ALL ORDER BY 1`},
	{name: "custom/table column aliases", rules: "custom", sql: `SELECT x.c, x.b FROM impressions AS x(a, b, c) ORDER BY 1, 2 LIMIT 4`},
	{name: "custom/template", rules: "custom", sql: `SELECT campaign, sum(impressions) AS s FROM impressions GROUP BY campaign ORDER BY 1`,
		setup: func(f *fixture, r *Request) {
			r.QueryRunner = accountB
			r.TemplateARN = tmpl
		}},
	{name: "custom/using join columns", rules: "custom", sql: `SELECT user_id, p.product FROM purchases p JOIN impressions i USING (user_id) ORDER BY 1, 2 LIMIT 5`},
	{name: "custom/cte shadows nothing", rules: "custom", sql: `WITH impressions AS (SELECT region FROM impressions) SELECT region FROM impressions ORDER BY 1 LIMIT 2`},
}

func TestAcceptedQueries(t *testing.T) {
	e := engineForTest(t)
	fixtures := map[string]*fixture{}
	for _, tc := range acceptCases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{format: "csv", headerLines: 1})
			switch tc.rules {
			case "agg":
				aggRules(f)
			case "list":
				listRules(f)
			case "custom":
				customRules(f, "email")
			}
			fixtures[tc.rules] = f
			req := f.request(tc.sql)
			if tc.setup != nil {
				tc.setup(f, req)
			}
			rows, _ := runQuery(t, e, req, f.files)
			direct := tc.direct
			if direct == "" && tc.rules == "custom" {
				direct = tc.sql
			}
			if direct != "" {
				want := runDirect(t, f, direct)
				if fmt.Sprint(rows[1:]) != fmt.Sprint(want) {
					t.Errorf("engine %v\ndirect %v", rows[1:], want)
				}
			}
		})
	}
}

// runDirect runs a query straight on DuckDB over the fixture's files (all
// columns, no rules) and returns the rows as strings, formatted by CSV.
func runDirect(t testing.TB, f *fixture, q string) [][]string {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, name := range []string{"purchases", "impressions"} {
		s, err := testViewSQL(name, f.tables[name], f.files[name])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir() + "/direct.csv"
	if _, err := db.Exec("COPY (" + q + ") TO '" + out + "' (FORMAT csv, HEADER true)"); err != nil {
		t.Fatalf("direct %s: %v", q, err)
	}
	rows := readCSV(t, out)
	return rows[1:]
}

func TestAnalyze(t *testing.T) {
	e := engineForTest(t)
	got, err := e.Analyze(context.Background(), `WITH x AS (SELECT * FROM Impressions) SELECT :Region, x.user_id::date, ':b', ":c"
		/* :e */ FROM x JOIN purchases p ON x.user_id = p.user_id -- :d
		WHERE p.product IN (SELECT product FROM "Other Table") AND p.day > :since AND x.region = :region`)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Tables, ",") != "impressions,other table,purchases" {
		t.Errorf("tables %q", got.Tables)
	}
	if strings.Join(got.Parameters, ",") != "Region,since" {
		t.Errorf("parameters %q", got.Parameters)
	}
	for _, bad := range []string{"DROP TABLE x", "SELECT 1; SELECT 2", "SELECT $1 FROM t", "SELECT ? FROM t"} {
		if _, err := e.Analyze(context.Background(), bad); !isInvalidQuery(err) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
