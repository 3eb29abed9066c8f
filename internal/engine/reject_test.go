package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
)

const (
	jAgg = " FROM purchases p JOIN impressions i ON p.user_id = i.user_id"
	agg1 = "SELECT COUNT(DISTINCT p.user_id) AS n"
	tmpl = "arn:aws:cleanrooms:us-east-1:111111111111:membership/m/analysistemplate/t1"
)

type rejectCase struct {
	name  string
	rules string // agg, list, custom
	sql   string
	want  string // a substring of the error message (case-insensitive)
	setup func(f *fixture, r *Request)
}

var rejectCases = []rejectCase{
	// AGGREGATION: columns and their roles.
	{"agg/select join column", "agg", "SELECT p.user_id, COUNT(DISTINCT i.user_id)" + jAgg + " GROUP BY p.user_id", "join column \"user_id\"", nil},
	{"agg/select join column alias", "agg", "SELECT i.email AS e, SUM(i.impressions)" + jAgg + " GROUP BY i.email", "join column \"email\"", nil},
	{"agg/join column in where", "agg", agg1 + jAgg + " WHERE p.user_id = 5", "join column", nil},
	{"agg/join column in group by", "agg", agg1 + jAgg + " GROUP BY i.email", "join column", nil},
	{"agg/join column in order by", "agg", agg1 + jAgg + " ORDER BY i.user_id", "join column", nil},
	{"agg/join column in having", "agg", agg1 + jAgg + " HAVING i.user_id > 3", "join column", nil},
	{"agg/join column under scalar", "agg", "SELECT lower(i.email), COUNT(DISTINCT p.user_id)" + jAgg + " GROUP BY 1", "join column", nil},
	{"agg/aggregate column as dimension", "agg", "SELECT p.amount, COUNT(DISTINCT p.user_id)" + jAgg + " GROUP BY p.amount", "aggregate column", nil},
	{"agg/aggregate column in where", "agg", agg1 + jAgg + " WHERE p.amount > 10", "aggregate column", nil},
	{"agg/not allowed column", "agg", "SELECT SUM(i.secret)" + jAgg, "not an allowed column", nil},
	{"agg/unknown column", "agg", "SELECT COUNT(DISTINCT nosuch)" + jAgg, "nosuch", nil},
	{"agg/whole row reference", "agg", "SELECT i, COUNT(DISTINCT p.user_id)" + jAgg + " GROUP BY i", "\"i\"", nil},
	{"agg/three part column", "agg", "SELECT main.i.region, COUNT(DISTINCT p.user_id)" + jAgg + " GROUP BY 1", "column reference", nil},
	// AGGREGATION: aggregate functions.
	{"agg/max", "agg", "SELECT MAX(p.amount)" + jAgg, "MAX", nil},
	{"agg/min", "agg", "SELECT MIN(i.impressions)" + jAgg, "MIN", nil},
	{"agg/string_agg", "agg", "SELECT string_agg(i.email, ',')" + jAgg, "STRING_AGG", nil},
	{"agg/list", "agg", "SELECT list(i.email)" + jAgg, "LIST", nil},
	{"agg/array_agg", "agg", "SELECT array_agg(p.product)" + jAgg, "ARRAY_AGG", nil},
	{"agg/any_value", "agg", "SELECT any_value(i.email), COUNT(DISTINCT p.user_id)" + jAgg, "ANY_VALUE", nil},
	{"agg/sum not allowed on column", "agg", "SELECT SUM(p.user_id)" + jAgg, "SUM is not allowed on column \"user_id\"", nil},
	{"agg/count not allowed on column", "agg", "SELECT COUNT(i.impressions)" + jAgg, "COUNT is not allowed on column \"impressions\"", nil},
	{"agg/avg distinct", "agg", "SELECT AVG(DISTINCT p.amount)" + jAgg, "AVG(DISTINCT", nil},
	{"agg/count star", "agg", "SELECT COUNT(*)" + jAgg, "COUNT(*)", nil},
	{"agg/expression in aggregate", "agg", "SELECT SUM(p.amount * 2)" + jAgg, "only a column", nil},
	{"agg/cast in aggregate", "agg", "SELECT SUM(CAST(p.amount AS INT))" + jAgg, "only a column", nil},
	{"agg/nested aggregate", "agg", "SELECT SUM(COUNT(DISTINCT p.user_id))" + jAgg, "only a column", nil},
	{"agg/filter clause", "agg", "SELECT COUNT(DISTINCT p.user_id) FILTER (WHERE i.email = 'x')" + jAgg, "FILTER", nil},
	{"agg/order by in aggregate", "agg", "SELECT SUM(p.amount ORDER BY p.product)" + jAgg, "ORDER BY inside", nil},
	{"agg/no aggregate", "agg", "SELECT p.product" + jAgg + " GROUP BY p.product", "at least one aggregate", nil},
	{"agg/constant select", "agg", "SELECT 1, COUNT(DISTINCT p.user_id)" + jAgg, "constants", nil},
	{"agg/aggregate in where", "agg", agg1 + jAgg + " WHERE SUM(p.amount) > 1", "not allowed in WHERE", nil},
	{"agg/aggregate in group by", "agg", agg1 + jAgg + " GROUP BY SUM(p.amount)", "not allowed in GROUP BY", nil},
	{"agg/mix aggregate and dimension", "agg", "SELECT COUNT(DISTINCT p.user_id) + length(p.product)" + jAgg + " GROUP BY p.product", "length", nil},
	{"agg/mix aggregate and dimension arithmetic", "agg", "SELECT SUM(p.amount) + EXTRACT(day FROM p.day)" + jAgg + " GROUP BY p.day", "combine", nil},
	{"agg/export state", "agg", "SELECT SUM(p.amount) EXPORT_STATE" + jAgg, "EXPORT_STATE", nil},
	// AGGREGATION: scalar functions and constructs.
	{"agg/scalar not allowed", "agg", "SELECT RTRIM(p.product), COUNT(DISTINCT p.user_id)" + jAgg + " GROUP BY 1", "rtrim", nil},
	{"agg/length not allowed", "agg", agg1 + jAgg + " GROUP BY length(p.product)", "length", nil},
	{"agg/regexp in where", "agg", agg1 + jAgg + " WHERE regexp_matches(p.product, 'p')", "regexp_matches", nil},
	{"agg/cast not allowed", "agg", "SELECT CAST(p.day AS VARCHAR), COUNT(DISTINCT p.user_id)" + jAgg + " GROUP BY 1", "CAST", func(f *fixture, r *Request) {
		f.tables["purchases"].Rule.Aggregation.ScalarFunctions = []cleanroomsapi.ScalarFunctions{"ABS"}
	}},
	{"agg/case", "agg", "SELECT CASE WHEN p.product = 'p1' THEN 1 ELSE 0 END, COUNT(DISTINCT p.user_id)" + jAgg + " GROUP BY 1", "CASE", nil},
	{"agg/struct pack", "agg", "SELECT {'e': i.campaign}, COUNT(DISTINCT p.user_id)" + jAgg + " GROUP BY 1", "struct_pack", nil},
	{"agg/to_json", "agg", "SELECT to_json(i.campaign), COUNT(DISTINCT p.user_id)" + jAgg + " GROUP BY 1", "to_json", nil},
	{"agg/array indexing", "agg", "SELECT [i.campaign][1], COUNT(DISTINCT p.user_id)" + jAgg + " GROUP BY 1", "array indexing", nil},
	{"agg/lambda", "agg", "SELECT list_transform([1], x -> x + 1), COUNT(DISTINCT p.user_id)" + jAgg, "list_transform", nil},
	{"agg/window function", "agg", "SELECT COUNT(DISTINCT p.user_id) OVER ()" + jAgg, "window", nil},
	{"agg/row_number", "agg", "SELECT row_number() OVER (ORDER BY p.product), COUNT(DISTINCT p.user_id)" + jAgg, "window", nil},
	{"agg/select star", "agg", "SELECT *" + jAgg, "SELECT *", nil},
	{"agg/select table star", "agg", "SELECT i.*, COUNT(DISTINCT p.user_id)" + jAgg, "SELECT *", nil},
	{"agg/columns expression", "agg", "SELECT COLUMNS('e.*'), COUNT(DISTINCT p.user_id)" + jAgg, "COLUMNS", nil},
	{"agg/distinct", "agg", "SELECT DISTINCT COUNT(DISTINCT p.user_id)" + jAgg, "SELECT DISTINCT", nil},
	{"agg/limit", "agg", agg1 + jAgg + " LIMIT 1", "LIMIT", nil},
	{"agg/qualify", "agg", "SELECT p.product, COUNT(DISTINCT p.user_id)" + jAgg + " GROUP BY 1 QUALIFY p.product = 'x'", "QUALIFY", nil},
	{"agg/rollup", "agg", "SELECT p.product, COUNT(DISTINCT p.user_id)" + jAgg + " GROUP BY ROLLUP (p.product)", "ROLLUP", nil},
	{"agg/grouping sets", "agg", "SELECT p.product, COUNT(DISTINCT p.user_id)" + jAgg + " GROUP BY GROUPING SETS ((p.product), ())", "GROUPING SETS", nil},
	{"agg/group by all", "agg", "SELECT p.product, COUNT(DISTINCT p.user_id)" + jAgg + " GROUP BY ALL", "GROUP BY ALL", nil},
	{"agg/tablesample", "agg", agg1 + " FROM purchases p TABLESAMPLE 10% JOIN impressions i ON p.user_id = i.user_id", "TABLESAMPLE", nil},
	{"agg/using sample", "agg", agg1 + jAgg + " USING SAMPLE 10", "SAMPLE", nil},
	{"agg/is distinct from", "agg", agg1 + jAgg + " WHERE p.product IS DISTINCT FROM 'x'", "distinct", nil},
	{"agg/like escape", "agg", agg1 + jAgg + " WHERE p.product LIKE 'p!%' ESCAPE '!'", "like_escape", nil},
	{"agg/in subquery", "agg", agg1 + jAgg + " WHERE p.product IN (SELECT campaign FROM impressions)", "subqueries", nil},
	{"agg/exists", "agg", agg1 + jAgg + " WHERE EXISTS (SELECT 1 FROM impressions)", "subqueries", nil},
	{"agg/scalar subquery", "agg", "SELECT (SELECT SUM(impressions) FROM impressions), COUNT(DISTINCT p.user_id)" + jAgg, "subqueries", nil},
	{"agg/getenv", "agg", "SELECT getenv('HOME'), COUNT(DISTINCT p.user_id)" + jAgg, "getenv", nil},
	{"agg/current_setting", "agg", agg1 + jAgg + " WHERE p.product = current_setting('temp_directory')", "current_setting", nil},
	{"agg/json_serialize_sql", "agg", "SELECT json_serialize_sql('SELECT 1'), COUNT(DISTINCT p.user_id)" + jAgg, "json_serialize_sql", nil},
	{"agg/nextval", "agg", "SELECT nextval('s'), COUNT(DISTINCT p.user_id)" + jAgg, "nextval", nil},
	{"agg/version", "agg", "SELECT version(), COUNT(DISTINCT p.user_id)" + jAgg, "version", nil},
	{"agg/qualified function", "agg", "SELECT system.main.lower(p.product), COUNT(DISTINCT p.user_id)" + jAgg + " GROUP BY 1", "qualified", nil},
	{"agg/positional reference", "agg", "SELECT #1, COUNT(DISTINCT p.user_id)" + jAgg, "positional", nil},
	// AGGREGATION: joins.
	{"agg/left join", "agg", agg1 + " FROM purchases p LEFT JOIN impressions i ON p.user_id = i.user_id", "LEFT JOIN", nil},
	{"agg/full join", "agg", agg1 + " FROM purchases p FULL JOIN impressions i ON p.user_id = i.user_id", "FULL JOIN", nil},
	{"agg/semi join", "agg", agg1 + " FROM purchases p SEMI JOIN impressions i ON p.user_id = i.user_id", "SEMI JOIN", nil},
	{"agg/anti join", "agg", agg1 + " FROM purchases p ANTI JOIN impressions i ON p.user_id = i.user_id", "ANTI JOIN", nil},
	{"agg/comma join", "agg", agg1 + " FROM purchases p, impressions i WHERE p.user_id = i.user_id", "CROSS JOIN", nil},
	{"agg/cross join", "agg", agg1 + " FROM purchases p CROSS JOIN impressions i", "CROSS JOIN", nil},
	{"agg/natural join", "agg", agg1 + " FROM purchases p NATURAL JOIN impressions i", "NATURAL JOIN", nil},
	{"agg/using join", "agg", "SELECT COUNT(DISTINCT user_id) FROM purchases p JOIN impressions i USING (user_id)", "USING", nil},
	{"agg/asof join", "agg", agg1 + " FROM purchases p ASOF JOIN impressions i ON p.user_id >= i.user_id", "ASOF", nil},
	{"agg/positional join", "agg", agg1 + " FROM purchases p POSITIONAL JOIN impressions i", "POSITIONAL", nil},
	{"agg/lateral", "agg", agg1 + " FROM purchases p, LATERAL (SELECT p.user_id) s", "CROSS JOIN", nil},
	{"agg/join on non-join column", "agg", agg1 + " FROM purchases p JOIN impressions i ON p.product = i.campaign", "not a join column", nil},
	{"agg/join inequality", "agg", agg1 + " FROM purchases p JOIN impressions i ON p.user_id < i.user_id", "equality", nil},
	{"agg/join extra predicate", "agg", agg1 + " FROM purchases p JOIN impressions i ON p.user_id = i.user_id AND i.campaign = 'c1'", "equality", nil},
	{"agg/join or not allowed", "agg", agg1 + " FROM purchases p JOIN impressions i ON p.user_id = i.user_id OR p.email = i.email", "join operator OR", nil},
	{"agg/join same table", "agg", agg1 + " FROM purchases p JOIN impressions i ON p.user_id = p.user_id", "two different tables", nil},
	{"agg/join function of column", "agg", agg1 + " FROM purchases p JOIN impressions i ON lower(p.email) = i.email", "equality", nil},
	{"agg/join required", "agg", "SELECT COUNT(DISTINCT user_id) FROM impressions", "joinRequired", nil},
	{"agg/join subquery", "agg", agg1 + " FROM purchases p JOIN (SELECT * FROM impressions) i ON p.user_id = i.user_id", "subqueries", nil},
	// AGGREGATION: query shape.
	{"agg/cte", "agg", "WITH x AS (SELECT * FROM impressions) SELECT COUNT(DISTINCT user_id) FROM x", "WITH", nil},
	{"agg/union", "agg", agg1 + jAgg + " UNION SELECT COUNT(DISTINCT i.user_id)" + jAgg, "UNION", nil},
	{"agg/except", "agg", agg1 + jAgg + " EXCEPT " + agg1 + jAgg, "EXCEPT", nil},
	{"agg/values", "agg", "SELECT COUNT(DISTINCT x) FROM (VALUES (1)) v(x)", "configured table", nil},
	{"agg/mixed rule types", "agg", agg1 + jAgg, "same analysis rule type", func(f *fixture, r *Request) {
		f.tables["purchases"].Rule = Rule{Type: RuleList, List: &cleanroomsapi.AnalysisRuleList{JoinColumns: []string{"user_id"}, ListColumns: []string{"product"}}}
	}},
	{"agg/table without rule", "agg", agg1 + jAgg, "no analysis rule", func(f *fixture, r *Request) { f.tables["purchases"].Rule = Rule{} }},
	{"agg/no table", "agg", "SELECT 1", "at least one configured table", nil},

	// Reading files, catalogs and settings; statements other than SELECT.
	{"file/read_csv", "agg", "SELECT COUNT(*) FROM read_csv('/etc/passwd')", "table function read_csv", nil},
	{"file/read_csv_auto", "custom", "SELECT * FROM read_csv_auto('/etc/passwd')", "table function", nil},
	{"file/read_parquet", "custom", "SELECT * FROM read_parquet('/tmp/x.parquet')", "table function", nil},
	{"file/read_text", "custom", "SELECT * FROM read_text('/etc/passwd')", "table function", nil},
	{"file/read_blob", "custom", "SELECT * FROM read_blob('/etc/hostname')", "table function", nil},
	{"file/read_json", "custom", "SELECT * FROM read_json('/etc/x.json')", "table function", nil},
	{"file/glob", "custom", "SELECT * FROM glob('/etc/*')", "table function", nil},
	{"file/path as table", "custom", "SELECT * FROM 'file.csv'", "file paths", nil},
	{"file/absolute path as table", "custom", "SELECT * FROM '/etc/passwd'", "file paths", nil},
	{"file/path join", "custom", "SELECT * FROM impressions JOIN '/etc/passwd' x ON true", "file paths", nil},
	{"file/read_csv in subquery", "custom", "SELECT region FROM impressions WHERE region IN (SELECT * FROM read_csv('/etc/passwd'))", "table function", nil},
	{"file/read_csv in cte", "custom", "WITH x AS (SELECT * FROM read_csv('/etc/passwd')) SELECT region FROM impressions, x", "table function", nil},
	{"file/read_text scalar", "custom", "SELECT read_text('/etc/passwd') FROM impressions", "read_text", nil},
	{"table function/range", "custom", "SELECT * FROM range(10)", "table function range", nil},
	{"table function/generate_series", "custom", "SELECT * FROM generate_series(1, 10)", "table function generate_series", nil},
	{"table function/generate_series scalar", "custom", "SELECT generate_series(1, 10) FROM impressions", "generate_series", nil},
	{"table function/duckdb_settings", "custom", "SELECT * FROM duckdb_settings()", "table function duckdb_settings", nil},
	{"table function/duckdb_tables", "custom", "SELECT * FROM duckdb_tables()", "table function", nil},
	{"table function/sniff_csv", "custom", "SELECT * FROM sniff_csv('/etc/passwd')", "table function", nil},
	{"table function/query", "custom", "SELECT * FROM query('SELECT 42')", "table function", nil},
	{"table function/query_table", "custom", "SELECT * FROM query_table('impressions')", "table function", nil},
	{"table function/unnest", "custom", "SELECT * FROM impressions, unnest([1, 2])", "table function", nil},
	{"table function/sql_auto_complete", "custom", "SELECT * FROM sql_auto_complete('SEL')", "table function", nil},
	{"catalog/information_schema", "custom", "SELECT * FROM information_schema.tables", "schema or catalog", nil},
	{"catalog/pg_catalog", "custom", "SELECT * FROM pg_catalog.pg_class", "schema or catalog", nil},
	{"catalog/duckdb_tables view", "custom", "SELECT * FROM duckdb_tables", "not a configured table", nil},
	{"catalog/sqlite_master", "custom", "SELECT * FROM sqlite_master", "not a configured table", nil},
	{"catalog/qualified association", "custom", "SELECT region FROM main.impressions", "schema or catalog", nil},
	{"catalog/catalog qualified", "custom", "SELECT region FROM memory.main.impressions", "schema or catalog", nil},
	{"catalog/unknown table", "custom", "SELECT * FROM secrets", "not a configured table", nil},
	{"catalog/internal view name", "custom", "SELECT * FROM __cr_view_0", "not a configured table", nil},
	{"settings/getenv", "custom", "SELECT getenv('HOME') FROM impressions", "getenv", nil},
	{"settings/current_setting", "custom", "SELECT current_setting('temp_directory') FROM impressions", "current_setting", nil},
	{"settings/getvariable", "custom", "SELECT getvariable('x') FROM impressions", "getvariable", nil},
	{"settings/json_deserialize_sql", "custom", "SELECT json_deserialize_sql('{}') FROM impressions", "json_deserialize_sql", nil},
	{"settings/sleep", "custom", "SELECT sleep_ms(100000) FROM impressions", "sleep_ms", nil},
	{"settings/error", "custom", "SELECT error(region) FROM impressions", "error", nil},
	{"stmt/copy", "custom", "COPY impressions TO '/tmp/x.csv'", "only a single SELECT", nil},
	{"stmt/copy select", "custom", "COPY (SELECT * FROM impressions) TO '/tmp/x.csv'", "only a single SELECT", nil},
	{"stmt/attach", "custom", "ATTACH '/tmp/x.db' AS x", "only a single SELECT", nil},
	{"stmt/detach", "custom", "DETACH x", "only a single SELECT", nil},
	{"stmt/install", "custom", "INSTALL httpfs", "only a single SELECT", nil},
	{"stmt/load", "custom", "LOAD httpfs", "only a single SELECT", nil},
	{"stmt/pragma", "custom", "PRAGMA version", "only a single SELECT", nil},
	{"stmt/set", "custom", "SET enable_external_access = true", "only a single SELECT", nil},
	{"stmt/reset", "custom", "RESET lock_configuration", "only a single SELECT", nil},
	{"stmt/call", "custom", "CALL pragma_version()", "only a single SELECT", nil},
	{"stmt/export", "custom", "EXPORT DATABASE '/tmp/x'", "only a single SELECT", nil},
	{"stmt/import", "custom", "IMPORT DATABASE '/tmp/x'", "only a single SELECT", nil},
	{"stmt/create table", "custom", "CREATE TABLE x AS SELECT * FROM impressions", "only a single SELECT", nil},
	{"stmt/create view", "custom", "CREATE VIEW v AS SELECT * FROM read_csv('/etc/passwd')", "only a single SELECT", nil},
	{"stmt/create macro", "custom", "CREATE MACRO m(x) AS x", "only a single SELECT", nil},
	{"stmt/create table macro", "custom", "CREATE MACRO t() AS TABLE SELECT * FROM read_csv('/etc/passwd')", "only a single SELECT", nil},
	{"stmt/insert", "custom", "INSERT INTO impressions VALUES (1)", "only a single SELECT", nil},
	{"stmt/update", "custom", "UPDATE impressions SET region = 'x'", "only a single SELECT", nil},
	{"stmt/delete", "custom", "DELETE FROM impressions", "only a single SELECT", nil},
	{"stmt/drop", "custom", "DROP TABLE impressions", "only a single SELECT", nil},
	{"stmt/begin", "custom", "BEGIN TRANSACTION", "only a single SELECT", nil},
	{"stmt/checkpoint", "custom", "CHECKPOINT", "only a single SELECT", nil},
	{"stmt/use", "custom", "USE memory", "only a single SELECT", nil},
	{"stmt/describe", "custom", "DESCRIBE impressions", "", nil},
	{"stmt/show tables", "custom", "SHOW TABLES", "", nil},
	{"stmt/summarize", "custom", "SUMMARIZE impressions", "", nil},
	{"stmt/pivot", "custom", "PIVOT impressions ON region USING sum(impressions)", "", nil},
	{"stmt/explain", "custom", "EXPLAIN SELECT region FROM impressions", "only a single SELECT", nil},
	{"stmt/two selects", "custom", "SELECT region FROM impressions; SELECT region FROM impressions", "exactly one SELECT", nil},
	{"stmt/select then copy", "custom", "SELECT region FROM impressions; COPY impressions TO '/tmp/x.csv'", "only a single SELECT", nil},
	{"stmt/comment then statement", "custom", "SELECT region FROM impressions -- harmless\n; DROP TABLE impressions", "only a single SELECT", nil},
	{"stmt/block comment then statement", "custom", "SELECT region FROM impressions /* ; */ ; ATTACH '/tmp/x.db'", "only a single SELECT", nil},
	{"stmt/syntax error", "custom", "SELEC region FROM impressions", "could not be parsed", nil},
	{"stmt/empty", "custom", "   ", "empty", nil},
	{"stmt/only comment", "custom", "-- nothing", "", nil},
	{"stmt/nul byte", "custom", "SELECT region FROM impressions\x00; DROP TABLE x", "NUL", nil},
	{"param/missing", "custom", "SELECT region FROM impressions WHERE region = :r", "parameter :r has no value", nil},
	{"param/positional", "custom", "SELECT region FROM impressions WHERE region = $1", "positional parameters", nil},
	{"param/question mark", "custom", "SELECT region FROM impressions WHERE region = ?", "positional parameters", nil},
	{"param/bad type", "custom", "SELECT region FROM impressions WHERE region = :r", "unsupported type", func(f *fixture, r *Request) {
		r.Parameters = map[string]string{"r": "x"}
		r.ParameterTypes = map[string]string{"r": "VARCHAR); DROP TABLE x; --"}
	}},

	// LIST.
	{"list/no distinct", "list", "SELECT p.product" + jAgg, "SELECT DISTINCT", nil},
	{"list/join column output", "list", "SELECT DISTINCT i.email" + jAgg, "not a list column", nil},
	{"list/unknown column", "list", "SELECT DISTINCT i.secret" + jAgg, "not an allowed column", nil},
	{"list/aggregate", "list", "SELECT DISTINCT COUNT(i.campaign)" + jAgg, "aggregate", nil},
	{"list/string_agg", "list", "SELECT DISTINCT string_agg(i.campaign, ',')" + jAgg, "aggregate", nil},
	{"list/function in select", "list", "SELECT DISTINCT upper(i.campaign)" + jAgg, "functions are not allowed", nil},
	{"list/cast in select", "list", "SELECT DISTINCT CAST(p.day AS VARCHAR)" + jAgg, "only hold list columns", nil},
	{"list/case in select", "list", "SELECT DISTINCT CASE WHEN true THEN i.email END" + jAgg, "only hold list columns", nil},
	{"list/struct in select", "list", "SELECT DISTINCT {'e': i.email}" + jAgg, "functions are not allowed", nil},
	{"list/select star", "list", "SELECT DISTINCT *" + jAgg, "SELECT *", nil},
	{"list/window", "list", "SELECT DISTINCT lag(i.email) OVER ()" + jAgg, "only hold list columns", nil},
	{"list/single table", "list", "SELECT DISTINCT campaign FROM impressions", "must join", nil},
	{"list/no table of query runner", "list", "SELECT DISTINCT i.campaign" + jAgg, "member who can query", func(f *fixture, r *Request) { r.QueryRunner = "333333333333" }},
	{"list/function in where", "list", "SELECT DISTINCT i.campaign" + jAgg + " WHERE upper(i.campaign) = 'C1'", "function upper", nil},
	{"list/column vs column", "list", "SELECT DISTINCT i.campaign" + jAgg + " WHERE i.campaign = p.product", "compare a column with constants", nil},
	{"list/between", "list", "SELECT DISTINCT i.campaign" + jAgg + " WHERE p.day BETWEEN '2024-01-01' AND '2024-02-01'", "BETWEEN", nil},
	{"list/not allowed column in where", "list", "SELECT DISTINCT i.campaign" + jAgg + " WHERE i.secret = 'x'", "not an allowed column", nil},
	{"list/subquery in where", "list", "SELECT DISTINCT i.campaign" + jAgg + " WHERE i.region IN (SELECT region FROM impressions)", "subqueries", nil},
	{"list/case in where", "list", "SELECT DISTINCT i.campaign" + jAgg + " WHERE CASE WHEN i.region = 'r1' THEN true END", "CASE", nil},
	{"list/lambda in where", "list", "SELECT DISTINCT i.campaign" + jAgg + " WHERE list_contains(list_transform([1], x -> x), 1)", "function list_contains", nil},
	{"list/group by", "list", "SELECT DISTINCT i.campaign" + jAgg + " GROUP BY i.campaign", "GROUP BY", nil},
	{"list/having", "list", "SELECT DISTINCT i.campaign" + jAgg + " HAVING true", "", nil},
	{"list/order by", "list", "SELECT DISTINCT i.campaign" + jAgg + " ORDER BY 1", "ORDER BY", nil},
	{"list/offset", "list", "SELECT DISTINCT i.campaign" + jAgg + " LIMIT 1 OFFSET 2", "OFFSET", nil},
	{"list/limit expression", "list", "SELECT DISTINCT i.campaign" + jAgg + " LIMIT (SELECT 1)", "LIMIT", nil},
	{"list/distinct on", "list", "SELECT DISTINCT ON (i.campaign) i.campaign" + jAgg, "DISTINCT ON", nil},
	{"list/cte", "list", "WITH x AS (SELECT campaign, user_id FROM impressions) SELECT DISTINCT x.campaign FROM purchases p JOIN x ON p.user_id = x.user_id", "WITH", nil},
	{"list/union", "list", "SELECT DISTINCT i.campaign" + jAgg + " UNION SELECT DISTINCT i.region" + jAgg, "UNION", nil},
	{"list/left join", "list", "SELECT DISTINCT i.campaign FROM purchases p LEFT JOIN impressions i ON p.user_id = i.user_id", "LEFT JOIN", nil},
	{"list/join non-join column", "list", "SELECT DISTINCT i.campaign FROM purchases p JOIN impressions i ON p.product = i.campaign", "not a join column", nil},
	{"list/getenv", "list", "SELECT DISTINCT i.campaign" + jAgg + " WHERE getenv('HOME') = 'x'", "getenv", nil},

	// CUSTOM: lineage of disallowed output columns (impressions.email).
	{"custom/direct", "custom", "SELECT email FROM impressions", "\"email\" is a disallowed output column", nil},
	{"custom/quoted upper case", "custom", `SELECT "EMAIL" FROM impressions`, "disallowed output column", nil},
	{"custom/qualified", "custom", "SELECT impressions.email FROM impressions", "disallowed output column", nil},
	{"custom/alias", "custom", "SELECT email AS x FROM impressions", "disallowed output column", nil},
	{"custom/function", "custom", "SELECT upper(email) FROM impressions", "disallowed output column", nil},
	{"custom/hash", "custom", "SELECT md5(email) FROM impressions", "disallowed output column", nil},
	{"custom/concat", "custom", "SELECT region || email FROM impressions", "disallowed output column", nil},
	{"custom/coalesce", "custom", "SELECT coalesce(NULL, email) FROM impressions", "disallowed output column", nil},
	{"custom/regexp", "custom", "SELECT regexp_extract(email, '(.*)@', 1) FROM impressions", "disallowed output column", nil},
	{"custom/case", "custom", "SELECT CASE WHEN region = 'r1' THEN email END FROM impressions", "disallowed output column", nil},
	{"custom/scalar subquery", "custom", "SELECT (SELECT max(email) FROM impressions) AS m", "disallowed output column", nil},
	{"custom/correlated subquery", "custom", "SELECT (SELECT i.email) FROM impressions i", "disallowed output column", nil},
	{"custom/string_agg", "custom", "SELECT string_agg(email, ',') FROM impressions", "disallowed output column", nil},
	{"custom/list", "custom", "SELECT list(email) FROM impressions", "disallowed output column", nil},
	{"custom/max group by", "custom", "SELECT region, max(email) FROM impressions GROUP BY region", "disallowed output column", nil},
	{"custom/arg_max", "custom", "SELECT arg_max(email, impressions) FROM impressions", "disallowed output column", nil},
	{"custom/any_value", "custom", "SELECT any_value(email) FROM impressions", "disallowed output column", nil},
	{"custom/window", "custom", "SELECT first_value(email) OVER (PARTITION BY region) FROM impressions", "disallowed output column", nil},
	{"custom/lag", "custom", "SELECT lag(email) OVER (ORDER BY user_id) FROM impressions", "disallowed output column", nil},
	{"custom/union", "custom", "SELECT region FROM impressions UNION SELECT email FROM impressions", "disallowed output column", nil},
	{"custom/union second branch", "custom", "SELECT product FROM purchases UNION ALL SELECT email FROM impressions", "disallowed output column", nil},
	{"custom/intersect", "custom", "SELECT email FROM purchases INTERSECT SELECT email FROM impressions", "disallowed output column", nil},
	{"custom/star", "custom", "SELECT * FROM impressions", "disallowed output column", nil},
	{"custom/table star", "custom", "SELECT i.* FROM impressions i", "disallowed output column", nil},
	{"custom/star exclude other", "custom", "SELECT * EXCLUDE (region) FROM impressions", "disallowed output column", nil},
	{"custom/star replace", "custom", "SELECT * REPLACE (1 AS product) FROM purchases", "REPLACE", nil},
	{"custom/columns", "custom", "SELECT COLUMNS('e.*') FROM purchases", "COLUMNS", nil},
	{"custom/cte", "custom", "WITH x AS (SELECT email AS e FROM impressions) SELECT e FROM x", "disallowed output column", nil},
	{"custom/cte column aliases", "custom", "WITH x(a, b) AS (SELECT region, email FROM impressions) SELECT b FROM x", "disallowed output column", nil},
	{"custom/cte star", "custom", "WITH x AS (SELECT * FROM impressions) SELECT * FROM x", "disallowed output column", nil},
	{"custom/nested cte", "custom", "WITH x AS (SELECT email FROM impressions), y AS (SELECT email AS z FROM x) SELECT lower(z) FROM y", "disallowed output column", nil},
	{"custom/derived table", "custom", "SELECT e FROM (SELECT email AS e FROM impressions) s", "disallowed output column", nil},
	{"custom/derived table rename", "custom", "SELECT s.c FROM (SELECT email FROM impressions) s(c)", "disallowed output column", nil},
	{"custom/derived star", "custom", "SELECT * FROM (SELECT * FROM impressions)", "disallowed output column", nil},
	{"custom/table alias rename", "custom", "SELECT x.e FROM impressions AS x(a, b, c, d, e)", "disallowed output column", nil},
	{"custom/whole row", "custom", "SELECT i FROM impressions i", "disallowed output column", nil},
	{"custom/whole row to_json", "custom", "SELECT to_json(i) FROM impressions i", "disallowed output column", nil},
	{"custom/struct", "custom", "SELECT {'e': email} FROM impressions", "disallowed output column", nil},
	{"custom/struct field", "custom", "SELECT s.x.e FROM (SELECT {'e': email} AS x FROM impressions) s", "disallowed output column", nil},
	{"custom/array index", "custom", "SELECT [email][1] FROM impressions", "disallowed output column", nil},
	{"custom/left join", "custom", "SELECT p.product, i.email FROM purchases p LEFT JOIN impressions i ON p.user_id = i.user_id", "disallowed output column", nil},
	{"custom/using star", "custom", "SELECT * FROM purchases p JOIN impressions i USING (user_id)", "USING", nil},
	{"custom/lateral", "custom", "SELECT v.x FROM impressions i, LATERAL (SELECT i.email AS x) v", "disallowed output column", nil},
	{"custom/values lateral", "custom", "SELECT v.x FROM impressions i, (VALUES (i.email)) v(x)", "VALUES", nil},
	{"custom/values", "custom", "SELECT v.x, count(*) AS n FROM (VALUES ('r1')) v(x) JOIN impressions i ON i.region = v.x GROUP BY v.x", "VALUES", nil},
	{"custom/select alias reuse", "custom", "SELECT email AS a, lower(a) AS b FROM impressions", "disallowed output column", nil},
	{"custom/order by does not hide", "custom", "SELECT email FROM impressions ORDER BY 1 LIMIT 1", "disallowed output column", nil},
	{"custom/lambda", "custom", "SELECT list_transform([region], x -> x) FROM impressions", "lambda", nil},
	{"custom/recursive cte", "custom", "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT n FROM r, impressions", "RECURSIVE", nil},
	{"custom/union by name", "custom", "SELECT region FROM impressions UNION BY NAME SELECT region FROM impressions", "UNION BY NAME", nil},
	{"custom/pivot", "custom", "SELECT * FROM (PIVOT impressions ON region USING sum(impressions))", "", nil},
	{"custom/unknown column", "custom", "SELECT nosuch FROM impressions", "can't be resolved", nil},
	{"custom/cte named like a view", "custom", "WITH __cr_view_0 AS (SELECT 1) SELECT region FROM impressions", "__cr", nil},
	{"custom/ad hoc not allowed", "custom", "SELECT region FROM impressions", "does not allow ad hoc queries", func(f *fixture, r *Request) { r.QueryRunner = accountB }},
	{"custom/template not allowed", "custom", "SELECT p.product FROM purchases p JOIN impressions i ON p.user_id = i.user_id", "does not allow analysis template", func(f *fixture, r *Request) {
		r.QueryRunner = accountB
		r.TemplateARN = tmpl
	}},
	{"custom/differential privacy", "custom", "SELECT count(*) FROM impressions", "differential privacy", func(f *fixture, r *Request) {
		f.tables["impressions"].Rule.Custom.DifferentialPrivacy = &cleanroomsapi.DifferentialPrivacyConfiguration{Columns: []cleanroomsapi.DifferentialPrivacyColumn{{Name: "user_id"}}}
	}},
}

func rejectFixture(t testing.TB, rules string) *fixture {
	f := &fixture{tables: map[string]*Table{}}
	// Check never reads files; the paths only have to look real.
	f.tables["purchases"] = &Table{Name: "purchases", Owner: accountA, Columns: purchCols,
		Allowed: []string{"user_id", "product", "amount", "day", "price", "email"}, Format: Format{Kind: "csv", HeaderLines: 1}}
	f.tables["impressions"] = &Table{Name: "impressions", Owner: accountB, Columns: impCols,
		Allowed: []string{"user_id", "campaign", "impressions", "region", "email"}, Format: Format{Kind: "csv", HeaderLines: 1}}
	switch rules {
	case "agg":
		aggRules(f)
	case "list":
		listRules(f)
	case "custom":
		customRules(f, "email")
	default:
		t.Fatalf("rules %q", rules)
	}
	return f
}

func TestRejectedQueries(t *testing.T) {
	e := engineForTest(t)
	if len(rejectCases) < 80 {
		t.Fatalf("only %d cases", len(rejectCases))
	}
	seen := map[string]bool{}
	for _, tc := range rejectCases {
		if seen[tc.name] {
			t.Fatalf("duplicate case %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			f := rejectFixture(t, tc.rules)
			req := f.request(tc.sql)
			if tc.setup != nil {
				tc.setup(f, req)
			}
			p, err := e.Check(context.Background(), req)
			if err == nil {
				t.Fatalf("accepted, would run: %s", p.SQL())
			}
			if p != nil {
				t.Fatal("a plan came back with the error")
			}
			if !isInvalidQuery(err) {
				t.Fatalf("error %v (%T) is not INVALID_QUERY", err, err)
			}
			var fe *fault.Error
			errors.As(err, &fe)
			if !strings.Contains(strings.ToLower(fe.Message), strings.ToLower(tc.want)) {
				t.Errorf("message %q does not mention %q", fe.Message, tc.want)
			}
		})
	}
	t.Logf("%d rejected queries", len(rejectCases))
}

// TestSandboxBlocksFilesWithoutCheck runs plans that never went through
// Check: the sandbox alone must stop them.
func TestSandboxBlocksFilesWithoutCheck(t *testing.T) {
	e := engineForTest(t)
	f := newFixture(t, fixtureOpts{format: "csv", headerLines: 1})
	customRules(f)
	secret := filepath.Join(t.TempDir(), "secret.csv")
	if err := os.WriteFile(secret, []byte("s\nTOP-SECRET\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	imp := f.tables["impressions"]
	tables := []planTable{{key: "impressions", name: "impressions", view: "__cr_view_0", columns: imp.Columns, allowed: imp.Allowed, format: imp.Format}}
	bind := func(q string) *BoundPlan {
		return &BoundPlan{plan: &Plan{sql: q, tables: tables}, files: [][]string{f.files["impressions"]}}
	}
	for _, q := range []string{
		"SELECT * FROM read_csv('/etc/passwd')",
		"SELECT * FROM read_csv(" + quoteString(secret) + ")",
		"SELECT * FROM " + quoteString(secret),
		"SELECT * FROM read_text('/etc/hostname')",
		"SELECT * FROM glob('/*')",
		"SELECT current_setting('enable_external_access')::VARCHAR AS v WHERE current_setting('lock_configuration') AND NOT current_setting('enable_external_access') AND false",
	} {
		dir := t.TempDir()
		res, err := e.Execute(context.Background(), bind(q), dir)
		if strings.HasPrefix(q, "SELECT current_setting") {
			// The settings are in force: the query runs and yields nothing.
			if err != nil || res.Rows != 0 {
				t.Errorf("%s: %v %+v", q, err, res)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: ran, %d rows", q, res.Rows)
			continue
		}
		var qe *QueryError
		if !errors.As(err, &qe) || !strings.Contains(qe.Err.Error(), "Permission Error") {
			t.Errorf("%s: %v, want a permission error", q, err)
		}
		if strings.Contains(err.Error(), "TOP-SECRET") || strings.Contains(err.Error(), "root:") {
			t.Errorf("%s: error leaks data: %v", q, err)
		}
	}
	// Inside the sandbox nothing can be changed back, loaded or attached,
	// and COPY can only write under the output directory.
	out := t.TempDir()
	conn, closeSandbox, err := e.openSandbox(context.Background(), bind(""), out)
	if err != nil {
		t.Fatal(err)
	}
	defer closeSandbox()
	for _, q := range []string{
		"SET enable_external_access=true", "SET lock_configuration=false", "RESET lock_configuration",
		"SET allowed_paths=['/etc/passwd']", "LOAD httpfs", "INSTALL httpfs", "ATTACH " + quoteString(secret+".db"),
		"COPY (SELECT 1) TO " + quoteString(filepath.Join(filepath.Dir(secret), "x.csv")),
		"COPY (SELECT 1) TO " + quoteString(out+"/../x.csv"),
		"SELECT * FROM read_csv('/etc/passwd')",
		"CREATE VIEW v AS SELECT * FROM read_csv(" + quoteString(secret) + ")",
	} {
		if _, err := conn.ExecContext(context.Background(), q); err == nil {
			t.Errorf("sandbox allowed %s", q)
		}
	}
	if _, err := conn.ExecContext(context.Background(), "COPY (SELECT region FROM __cr_view_0) TO "+quoteString(filepath.Join(out, "ok.csv"))); err != nil {
		t.Errorf("COPY into the output directory: %v", err)
	}
}
