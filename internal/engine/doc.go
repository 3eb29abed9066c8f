package engine

// Rule semantics chosen where the Clean Rooms documentation is silent or
// ambiguous (analysis-rules.html, analysis-rules-aggregation.html,
// analysis-rules-list.html, analysis-rules-custom.html):
//
// Every rule type
//   - Every referenced table needs a rule and all must share one type; a
//     query that references no configured table is refused.
//   - "Most restrictive wins": the join operators allowed are those every
//     referenced table allows (no allowedJoinOperators means AND only); under
//     AGGREGATION the scalar functions allowed are those every referenced
//     table allows; every output constraint of every table occurrence applies
//     and the highest minimum per column wins.
//   - Configured tables are addressed by their association name only: no
//     schema or catalog qualification, no file paths, no table functions, no
//     VALUES lists, no TABLESAMPLE / USING SAMPLE, no PIVOT.
//   - Template parameters are written :name; positional ($1, ?) parameters
//     are refused, and so is a :name without a value.
//
// AGGREGATION
//   - COUNT(*) is refused: the documentation allows only columns as
//     aggregate arguments and aggregateColumns grants functions per column.
//     Count a column instead (COUNT(user_id) when COUNT is allowed on it).
//   - AVG(DISTINCT) is refused (the model has no AVG_DISTINCT).
//   - No LIMIT/OFFSET, DISTINCT, CTE, subquery, set operation, window
//     function, CASE, QUALIFY, ROLLUP/CUBE/GROUPING SETS or GROUP BY ALL: the
//     documented syntax has none of them.
//   - Arithmetic (+ - * / // %) is allowed on dimension values, on aggregate
//     results and in conditions; an expression may not combine an aggregate
//     with a dimension column. The allowed scalar functions may wrap
//     dimensions and aggregate results (the API says scalarFunctions apply to
//     "dimension columns and the output of aggregation").
//   - A bare constant is not a SELECT item; constants are fine as function
//     arguments and in conditions. CAST of a literal (DATE '…', INTERVAL …)
//     is a literal and needs no CAST permission.
//   - A column that is both a join column and a dimension column is treated
//     as a join column (never output, never filtered).
//   - Join conditions: equalities between join columns of two different
//     tables, combined with the allowed operators; INNER JOIN … ON only
//     (comma/CROSS, NATURAL, USING, outer, semi, anti, ASOF, POSITIONAL and
//     LATERAL joins are refused).
//   - joinRequired=QUERY_RUNNER is met when the table's owner is the query
//     runner or the table is joined, directly or transitively, to a table the
//     runner owns.
//   - Output constraints become HAVING COUNT(DISTINCT alias.column) >=
//     minimum, so rows below a threshold disappear silently, with or without
//     GROUP BY. Columns equated by the join (through ANDs, same type) share
//     one COUNT(DISTINCT) with the highest of their minimums.
//
// LIST
//   - SELECT DISTINCT of list columns (aliases allowed), INNER JOINs as for
//     AGGREGATION, optional WHERE and LIMIT n; no ORDER BY, OFFSET, GROUP BY,
//     HAVING or DISTINCT ON.
//   - The query must join at least two tables, one owned by the query runner,
//     and every table must be connected to a runner's table by the joins.
//   - WHERE compares list or join columns (optionally in arithmetic with
//     constants) with constants using =, <>, !=, <, >, <=, >=, [NOT] IN,
//     [NOT] LIKE, IS [NOT] NULL, NOT, AND, OR. BETWEEN, functions (CAST of a
//     column included), column-to-column comparisons and subqueries are
//     refused.
//
// CUSTOM
//   - Allowed when each table's allowedAnalyses holds the request's
//     TemplateARN, or holds ANY_QUERY with the query runner among
//     allowedAnalysisProviders (a template run by an allowed provider is also
//     an allowed query).
//   - disallowedOutputColumns are enforced by lineage: an output column
//     carries every base column its value is computed from, through aliases,
//     CTEs, derived tables, star expansion, whole-row references, functions,
//     CASE, casts, set operations, scalar and lateral subqueries, window
//     functions (their PARTITION BY and ORDER BY included) and aggregates.
//     Counting aggregates (count, count(*), approx_count_distinct, count_if,
//     regr_count) are the only ones whose result does not carry its argument.
//   - Lineage also follows values that conditions copy (see custom.go): an
//     equality (=, IS NOT DISTINCT FROM, IN, = ANY, USING, INTERSECT) gives
//     every column it compares what the other side carries; any other
//     comparison of a disallowed value with the rows of another relation
//     (<, BETWEEN, <>, LIKE, NOT IN, EXCEPT…) makes that relation's columns
//     and rows, and everything the SELECT outputs, carry it, so counting or
//     listing the rows it selects is refused.
//   - Filters with constants, join conditions, GROUP BY and ORDER BY may
//     use a disallowed column, as AWS's rule allows.
//   - Refused: WITH RECURSIVE, UNION BY NAME, lambdas, COLUMNS(…), SELECT *
//     REPLACE/RENAME, SELECT * over USING/NATURAL joins, and functions off the
//     allow-list (customFunctions: no file, setting, variable, sequence,
//     catalog, SQL-executing, sleeping or error-raising functions).
//   - Tables with differential privacy are refused until it is implemented.
//
// AGGREGATION and LIST
//   - No expression the querier wrote can fail on data (safe.go): the
//     aggregates run in an inner query, every other expression that could
//     fail is evaluated with TRY semantics (NULL on failure), comparisons
//     that can't fail are left for DuckDB to push into scans, join columns
//     must have comparable types, and results are sorted by every output
//     column so their order depends on the released rows only.
//
// Run-time errors never carry DuckDB's message when it can hold data
// (conversion, invalid input, out of range); binder and catalog messages,
// which only name columns and tables, are passed on.
