package engine

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Benchmarks. BenchmarkTwoPartyJoin joins and aggregates two parties'
// tables of ENGINE_BENCH_ROWS rows each (default 1,000,000; set 10000000 for
// the 10M target) through Check+Run, and the same SQL straight on DuckDB over
// the same files (views with the same reader options, a warm database), and
// reports both times and their ratio. The data is generated once per format
// with DuckDB's COPY; normal test runs never generate it.
//
//	go test -run '^$' -bench . -benchtime 5x ./internal/engine/
//	ENGINE_BENCH_ROWS=10000000 go test -run '^$' -bench TwoPartyJoin -benchtime 3x -timeout 1h ./internal/engine/

const benchSQL = `SELECT i.campaign, COUNT(DISTINCT p.user_id) AS users, SUM(p.amount) AS revenue, SUM(i.impressions) AS imps
FROM purchases p INNER JOIN impressions i ON p.user_id = i.user_id GROUP BY i.campaign ORDER BY i.campaign`

func benchRows() int {
	if n, err := strconv.Atoi(os.Getenv("ENGINE_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

var benchFixtures = map[string]*fixture{}

func benchFixture(b *testing.B, format string) *fixture { return benchFixtureT(b, format) }

func benchFixtureT(b testing.TB, format string) *fixture {
	n := benchRows()
	key := fmt.Sprintf("%s-%d", format, n)
	if f := benchFixtures[key]; f != nil {
		return f
	}
	dir := filepath.Join(fuzzDir, key)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	users := n / 2
	purch := fmt.Sprintf(`SELECT (j * 7919) %% %d AS user_id, 'p' || (j %% 20) AS product, (j %% 1000) / 10.0 AS amount,
		DATE '2024-01-01' + CAST(j %% 365 AS INTEGER) AS day, CAST((j %% 1000) / 100 AS DECIMAL(10,2)) AS price,
		'u' || ((j * 7919) %% %d) || '@a.example' AS email FROM range(%d) r(j)`, users, users, n)
	imp := fmt.Sprintf(`SELECT (i * 104729) %% %d AS user_id, 'c' || (i %% 50) AS campaign, i %% 7 + 1 AS impressions,
		'r' || (i %% 10) AS region, 's' || i AS secret, 'u' || ((i * 104729) %% %d) || '@a.example' AS email
		FROM range(%d) t(i)`, users, users, n)
	ext, opts, fm := "csv", "(FORMAT csv, HEADER true)", Format{Kind: "csv", Delimiter: ",", HeaderLines: 1}
	if format == "parquet" {
		ext, opts, fm = "parquet", "(FORMAT parquet)", Format{Kind: "parquet"}
	}
	start := time.Now()
	pf, imf := filepath.Join(dir, "purchases."+ext), filepath.Join(dir, "impressions."+ext)
	writeData(b, purch, pf, opts)
	writeData(b, imp, imf, opts)
	b.Logf("generated %d rows per table as %s in %v", n, format, time.Since(start).Round(time.Millisecond))
	f := &fixture{dir: dir, tables: map[string]*Table{
		"purchases": {Name: "purchases", Owner: accountA, Columns: purchCols,
			Allowed: []string{"user_id", "product", "amount", "day", "price", "email"}, Format: fm},
		"impressions": {Name: "impressions", Owner: accountB, Columns: impCols,
			Allowed: []string{"user_id", "campaign", "impressions", "region", "email"}, Format: fm},
	}, files: map[string][]string{"purchases": {pf}, "impressions": {imf}}}
	aggRules(f)
	benchFixtures[key] = f
	return f
}

func BenchmarkTwoPartyJoin(b *testing.B) {
	for _, format := range []string{"parquet", "csv"} {
		b.Run(format, func(b *testing.B) {
			f := benchFixture(b, format)
			e, err := New(Config{})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			direct, err := sql.Open("duckdb", "")
			if err != nil {
				b.Fatal(err)
			}
			defer direct.Close()
			for _, name := range []string{"purchases", "impressions"} {
				s, err := testViewSQL(name, f.tables[name], f.files[name])
				if err != nil {
					b.Fatal(err)
				}
				if _, err := direct.Exec(s); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			out := b.TempDir()
			runEngine := func() {
				p, err := e.Check(ctx, f.request(benchSQL))
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := execute(ctx, b, e, p, f.files, "CSV"); err != nil {
					b.Fatal(err)
				}
			}
			runDirect := func() {
				if _, err := direct.Exec("COPY (" + benchSQL + ") TO '" + filepath.Join(out, "direct.csv") + "' (FORMAT csv, HEADER true)"); err != nil {
					b.Fatal(err)
				}
			}
			runEngine() // warm the file cache for both
			runDirect()
			var te, td time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s := time.Now()
				runDirect()
				td += time.Since(s)
				s = time.Now()
				runEngine()
				te += time.Since(s)
			}
			b.ReportMetric(float64(te.Nanoseconds())/float64(b.N), "engine-ns/op")
			b.ReportMetric(float64(td.Nanoseconds())/float64(b.N), "direct-ns/op")
			b.ReportMetric(float64(te)/float64(td), "ratio")
			b.ReportMetric(float64(benchRows()), "rows/table")
		})
	}
}

// BenchmarkSmallQuery measures a small query end to end (Check, a fresh
// sandbox, views, COPY to CSV).
func BenchmarkSmallQuery(b *testing.B) {
	e, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	f := newFixture(b, fixtureOpts{format: "csv", headerLines: 1})
	aggRules(f)
	ctx := context.Background()
	q := `SELECT i.campaign, COUNT(DISTINCT p.user_id) AS users, SUM(p.amount) AS revenue FROM purchases p
		JOIN impressions i ON p.user_id = i.user_id WHERE i.region <> 'r0' GROUP BY i.campaign ORDER BY 1`
	var tc time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := time.Now()
		p, err := e.Check(ctx, f.request(q))
		if err != nil {
			b.Fatal(err)
		}
		tc += time.Since(s)
		if _, _, err := execute(ctx, b, e, p, f.files, "CSV"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(tc.Nanoseconds())/float64(b.N), "check-ns/op")
}
