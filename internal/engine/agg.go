package engine

import (
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
)

// The AGGREGATION rule, as documented for Clean Rooms:
//
//	SELECT aggregate(column) [AS alias], … [, dimension | scalar(dimension) [AS alias], …]
//	FROM t [AS a] [[INNER] JOIN u [AS b] ON a.joincol = b.joincol [AND|OR …]] …
//	[WHERE condition on dimensions] [GROUP BY dimensions] [HAVING condition]
//	[ORDER BY dimensions, aggregates]
//
// Aggregates are COUNT, COUNT(DISTINCT), SUM, SUM(DISTINCT) and AVG over a
// bare column that the column's aggregateColumns entries allow; COUNT(*) is
// refused (only columns may be aggregated). Dimension columns may be wrapped
// in the scalar functions every referenced table allows, and in arithmetic;
// aggregate results may be wrapped in the allowed scalar functions and in
// arithmetic too. Join columns only appear in ON conditions and inside allowed
// aggregates. No DISTINCT, LIMIT, subqueries, CTEs, set operations, window
// functions, CASE, SELECT * or other aggregates. joinRequired=QUERY_RUNNER
// tables must be joined, directly or transitively, to a table of the query
// runner. Output constraints of every referenced table are enforced by
// adding COUNT(DISTINCT alias.column) >= minimum to HAVING, which silently
// drops the rows below the threshold.

type kind int

const (
	kConst kind = iota
	kDim
	kAgg
)

type clause int

const (
	clSelect clause = iota
	clWhere
	clGroup
	clHaving
	clOrder
	clAggArg
)

func (c clause) String() string {
	return [...]string{"SELECT", "WHERE", "GROUP BY", "HAVING", "ORDER BY", "an aggregate"}[c]
}

type aggPolicy struct {
	dims, joins map[string]bool
	fns         map[string]map[string]bool // column → allowed functions
}

type aggChecker struct {
	c        *checker
	f        *fromClause
	pol      map[*tableUse]*aggPolicy
	scalar   map[string]bool // allowed DuckDB function names
	enums    map[string]bool // allowed ScalarFunctions values
	aliases  map[string]kind // select aliases
	selKinds []kind
}

func (c *checker) checkAggregation(q node) error {
	const rule = RuleAggregation
	if str(q, "type") != "SELECT_NODE" {
		return invalid("AGGREGATION rule: UNION, INTERSECT and EXCEPT are not allowed")
	}
	if len(arr(obj(q, "cte_map"), "map")) > 0 {
		return invalid("AGGREGATION rule: WITH (common table expressions) is not allowed")
	}
	for _, m := range nodes(q, "modifiers") {
		switch str(m, "type") {
		case "ORDER_MODIFIER":
		case "DISTINCT_MODIFIER":
			return invalid("AGGREGATION rule: SELECT DISTINCT is not allowed")
		case "LIMIT_MODIFIER", "LIMIT_PERCENT_MODIFIER":
			return invalid("AGGREGATION rule: LIMIT and OFFSET are not allowed")
		default:
			return invalid("AGGREGATION rule: %s is not allowed", strings.ToLower(str(m, "type")))
		}
	}
	if !isNull(q, "qualify") {
		return invalid("AGGREGATION rule: QUALIFY is not allowed")
	}
	if !isNull(q, "sample") {
		return invalid("AGGREGATION rule: USING SAMPLE is not allowed")
	}
	if str(q, "aggregate_handling") != "STANDARD_HANDLING" {
		return invalid("AGGREGATION rule: GROUP BY ALL is not allowed; list the dimension columns")
	}
	a := &aggChecker{c: c, pol: map[*tableUse]*aggPolicy{}, aliases: map[string]kind{}}
	// Policies, and the scalar functions every table allows.
	var enums map[string]bool
	for _, tu := range c.ordered {
		r := tu.table.Rule.Aggregation
		p := &aggPolicy{dims: lowerSet(r.DimensionColumns), joins: lowerSet(r.JoinColumns), fns: map[string]map[string]bool{}}
		for _, ac := range r.AggregateColumns {
			for _, col := range ac.ColumnNames {
				col = strings.ToLower(col)
				if p.fns[col] == nil {
					p.fns[col] = map[string]bool{}
				}
				p.fns[col][string(ac.Function)] = true
			}
		}
		a.pol[tu] = p
		mine := map[string]bool{}
		for _, s := range r.ScalarFunctions {
			mine[string(s)] = true
		}
		if enums == nil {
			enums = mine
		} else {
			for k := range enums {
				if !mine[k] {
					delete(enums, k)
				}
			}
		}
	}
	a.enums = enums
	a.scalar = map[string]bool{}
	for e := range enums {
		for _, fn := range scalarFunctionNames[e] {
			a.scalar[fn] = true
		}
	}
	f, err := c.collectFrom(obj(q, "from_table"), rule, func(tu *tableUse) map[string]bool { return a.pol[tu].joins })
	if err != nil {
		return err
	}
	a.f = f

	// SELECT list.
	sel := nodes(q, "select_list")
	nAgg := 0
	for _, item := range sel {
		k, err := a.value(item, clSelect)
		if err != nil {
			return err
		}
		if k == kConst {
			return invalid("AGGREGATION rule: the SELECT list may only hold aggregates and dimension columns, not constants")
		}
		if k == kAgg {
			nAgg++
		}
		a.selKinds = append(a.selKinds, k)
		if al := strings.ToLower(str(item, "alias")); al != "" {
			a.aliases[al] = k
		}
	}
	if nAgg == 0 {
		return invalid("AGGREGATION rule: the SELECT list needs at least one aggregate function (COUNT, SUM, AVG)")
	}
	if w := obj(q, "where_clause"); w != nil {
		if err := a.boolean(w, clWhere); err != nil {
			return err
		}
	}
	groups := nodes(q, "group_expressions")
	if err := checkGroupSets(q, len(groups)); err != nil {
		return err
	}
	for _, g := range groups {
		if pos, ok := positional(g); ok {
			if pos < 1 || pos > len(a.selKinds) || a.selKinds[pos-1] != kDim {
				return invalid("AGGREGATION rule: GROUP BY %d must name a dimension column of the SELECT list", pos)
			}
			continue
		}
		k, err := a.value(g, clGroup)
		if err != nil {
			return err
		}
		if k != kDim {
			return invalid("AGGREGATION rule: GROUP BY may only list dimension columns")
		}
	}
	if h := obj(q, "having"); h != nil {
		if err := a.boolean(h, clHaving); err != nil {
			return err
		}
	}
	for _, m := range nodes(q, "modifiers") {
		for _, o := range nodes(m, "orders") {
			e := obj(o, "expression")
			if pos, ok := positional(e); ok {
				if pos < 1 || pos > len(a.selKinds) {
					return invalid("AGGREGATION rule: ORDER BY %d is out of range", pos)
				}
				continue
			}
			if _, err := a.value(e, clOrder); err != nil {
				return err
			}
		}
	}
	// joinRequired.
	joined := f.joinedToRunner(c.req.QueryRunner)
	for i, in := range f.insts {
		r := in.use.table.Rule.Aggregation
		if r.JoinRequired != nil && *r.JoinRequired == cleanroomsapi.JoinRequiredOptionQueryRunner && !joined[i] {
			return invalid("AGGREGATION rule of table %q requires it to be joined to a table of the member who can query (joinRequired: QUERY_RUNNER)", in.use.key)
		}
	}
	return a.rewrite(q)
}

// checkGroupSets refuses ROLLUP, CUBE and GROUPING SETS: the only grouping
// set must be all of the GROUP BY expressions.
func checkGroupSets(q node, n int) error {
	sets := arr(q, "group_sets")
	if n == 0 && len(sets) == 0 {
		return nil
	}
	if len(sets) != 1 {
		return invalid("ROLLUP, CUBE and GROUPING SETS are not allowed")
	}
	set, _ := sets[0].([]any)
	if len(set) != n {
		return invalid("ROLLUP, CUBE and GROUPING SETS are not allowed")
	}
	seen := map[string]bool{}
	for _, v := range set {
		seen[jsonNumber(v)] = true
	}
	for i := 0; i < n; i++ {
		if !seen[strconv.Itoa(i)] {
			return invalid("ROLLUP, CUBE and GROUPING SETS are not allowed")
		}
	}
	return nil
}

func jsonNumber(v any) string {
	if n, ok := v.(json.Number); ok {
		return n.String()
	}
	return ""
}

// positional returns the position an integer constant in GROUP BY or ORDER
// BY stands for.
func positional(n node) (int, bool) {
	if str(n, "class") != "CONSTANT" {
		return 0, false
	}
	v := obj(n, "value")
	switch str(obj(v, "type"), "id") {
	case "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER":
	default:
		return 0, false
	}
	i, err := strconv.Atoi(jsonNumber(v["value"]))
	if err != nil {
		return -1, true
	}
	return i, true
}

func combine(kinds ...kind) (kind, error) {
	out := kConst
	dim, agg := false, false
	for _, k := range kinds {
		if k == kDim {
			dim = true
		}
		if k == kAgg {
			agg = true
		}
		if k > out {
			out = k
		}
	}
	if dim && agg {
		return 0, invalid("AGGREGATION rule: an expression can't combine aggregates with dimension columns")
	}
	return out, nil
}

func (a *aggChecker) allowedScalars() string {
	var s []string
	for e := range a.enums {
		s = append(s, e)
	}
	sort.Strings(s)
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// value checks a value expression and returns its kind.
func (a *aggChecker) value(n node, cl clause) (kind, error) {
	switch cls := str(n, "class"); cls {
	case "CONSTANT":
		return kConst, nil
	case "CAST":
		k, err := a.value(obj(n, "child"), cl)
		if err != nil || k == kConst {
			return k, err
		}
		if !a.enums["CAST"] && !a.enums["CONVERT"] {
			return 0, invalid("AGGREGATION rule: CAST is not an allowed scalar function (scalarFunctions: %s)", a.allowedScalars())
		}
		return k, nil
	case "COLUMN_REF":
		return a.column(n, cl)
	case "FUNCTION":
		return a.function(n, cl)
	case "OPERATOR":
		if str(n, "type") == "OPERATOR_COALESCE" {
			if !a.enums["COALESCE"] {
				return 0, invalid("AGGREGATION rule: COALESCE is not an allowed scalar function (scalarFunctions: %s)", a.allowedScalars())
			}
			return a.children(n, cl)
		}
		switch str(n, "type") {
		case "COMPARE_IN", "COMPARE_NOT_IN", "OPERATOR_NOT", "OPERATOR_IS_NULL", "OPERATOR_IS_NOT_NULL":
			return 0, invalid("AGGREGATION rule: %s is only allowed as a condition in WHERE or HAVING", operatorName(n))
		}
		return 0, invalid("AGGREGATION rule: %s is not allowed", operatorName(n))
	case "CASE":
		return 0, invalid("AGGREGATION rule: CASE expressions are not allowed")
	case "SUBQUERY":
		return 0, invalid("AGGREGATION rule: subqueries are not allowed")
	case "WINDOW":
		return 0, invalid("AGGREGATION rule: window functions (OVER) are not allowed")
	case "STAR":
		return 0, invalid("AGGREGATION rule: SELECT * is not allowed; select aggregates and dimension columns")
	case "COMPARISON", "CONJUNCTION", "BETWEEN":
		return 0, invalid("AGGREGATION rule: conditions are only allowed in WHERE and HAVING")
	case "LAMBDA":
		return 0, invalid("AGGREGATION rule: lambda functions are not allowed")
	default:
		return 0, invalid("AGGREGATION rule: %s is not allowed", describeClass(n))
	}
}

func (a *aggChecker) children(n node, cl clause) (kind, error) {
	var ks []kind
	for _, ch := range nodes(n, "children") {
		k, err := a.value(ch, cl)
		if err != nil {
			return 0, err
		}
		ks = append(ks, k)
	}
	return combine(ks...)
}

func (a *aggChecker) column(n node, cl clause) (kind, error) {
	in, col, err := a.f.resolve(n)
	if errors.Is(err, errNoColumn) {
		names := strs(n, "column_names")
		if len(names) == 1 {
			name := strings.ToLower(names[0])
			if (cl == clGroup || cl == clHaving || cl == clOrder) && a.aliases != nil {
				if k, ok := a.aliases[name]; ok {
					if cl == clGroup && k != kDim {
						return 0, invalid("AGGREGATION rule: GROUP BY %q must name a dimension column", name)
					}
					return k, nil
				}
			}
			if e, ok := keywordFunctions[name]; ok {
				if !a.enums[e] {
					return 0, invalid("AGGREGATION rule: %s is not an allowed scalar function (scalarFunctions: %s)", e, a.allowedScalars())
				}
				return kConst, nil
			}
		}
		return 0, invalid("AGGREGATION rule: column %q is not an allowed column of any table in the query", col)
	}
	if err != nil {
		return 0, err
	}
	p := a.pol[in.use]
	switch {
	case p.joins[col]:
		return 0, invalid("AGGREGATION rule: join column %q of table %q can't be used in %s; join columns are only for join conditions and allowed aggregates", col, in.use.key, cl)
	case p.dims[col]:
		return kDim, nil
	case p.fns[col] != nil:
		return 0, invalid("AGGREGATION rule: column %q of table %q is an aggregate column, not a dimension; it can only be used inside an allowed aggregate function", col, in.use.key)
	default:
		return 0, invalid("AGGREGATION rule: column %q of table %q is neither a dimension, aggregate nor join column of its analysis rule", col, in.use.key)
	}
}

func (a *aggChecker) function(n node, cl clause) (kind, error) {
	name := strings.ToLower(str(n, "function_name"))
	if aggregationFunctions[name] {
		if cl == clWhere || cl == clGroup {
			return 0, invalid("AGGREGATION rule: aggregate functions are not allowed in %s", cl)
		}
		if cl == clAggArg {
			return 0, invalid("AGGREGATION rule: aggregate functions can't be nested")
		}
		return kAgg, a.aggregate(n, name)
	}
	if knownAggregates[name] {
		return 0, invalid("AGGREGATION rule: aggregate function %s is not allowed; only COUNT, COUNT(DISTINCT), SUM, SUM(DISTINCT) and AVG", strings.ToUpper(name))
	}
	if !isNull(n, "filter") || len(arr(obj(n, "order_bys"), "orders")) > 0 || boolean(n, "distinct") || boolean(n, "export_state") {
		return 0, invalid("AGGREGATION rule: function %s is used with a clause that is not allowed", name)
	}
	if isConstExpr(n) {
		return kConst, nil
	}
	if boolean(n, "is_operator") && arithmeticOperators[name] {
		return a.children(n, cl)
	}
	if a.scalar[name] && !boolean(n, "is_operator") {
		return a.children(n, cl)
	}
	if boolean(n, "is_operator") {
		return 0, invalid("AGGREGATION rule: operator %s is not allowed here", name)
	}
	return 0, invalid("AGGREGATION rule: function %s is not an allowed scalar function (scalarFunctions: %s)", name, a.allowedScalars())
}

// aggregate checks one COUNT/SUM/AVG call against aggregateColumns.
func (a *aggChecker) aggregate(n node, name string) error {
	if name == "count_star" {
		return invalid("AGGREGATION rule: COUNT(*) is not allowed; only columns may be aggregated, e.g. COUNT(column)")
	}
	if !isNull(n, "filter") {
		return invalid("AGGREGATION rule: FILTER clauses on aggregates are not allowed")
	}
	if len(arr(obj(n, "order_bys"), "orders")) > 0 {
		return invalid("AGGREGATION rule: ORDER BY inside aggregate functions is not allowed")
	}
	if boolean(n, "export_state") {
		return invalid("AGGREGATION rule: EXPORT_STATE is not allowed")
	}
	ch := nodes(n, "children")
	if len(ch) != 1 || str(ch[0], "class") != "COLUMN_REF" {
		return invalid("AGGREGATION rule: only a column is allowed as the argument of %s", strings.ToUpper(name))
	}
	in, col, err := a.f.resolve(ch[0])
	if errors.Is(err, errNoColumn) {
		return invalid("AGGREGATION rule: column %q is not an allowed column of any table in the query", col)
	}
	if err != nil {
		return err
	}
	fn := strings.ToUpper(name)
	if boolean(n, "distinct") {
		if name == "avg" {
			return invalid("AGGREGATION rule: AVG(DISTINCT …) is not supported")
		}
		fn += "_DISTINCT"
	}
	if !a.pol[in.use].fns[col][fn] {
		return invalid("AGGREGATION rule: %s is not allowed on column %q of table %q (aggregateColumns)", strings.ReplaceAll(fn, "_", " "), col, in.use.key)
	}
	return nil
}

var comparisonTypes = map[string]bool{
	"COMPARE_EQUAL": true, "COMPARE_NOTEQUAL": true, "COMPARE_LESSTHAN": true, "COMPARE_GREATERTHAN": true,
	"COMPARE_LESSTHANOREQUALTO": true, "COMPARE_GREATERTHANOREQUALTO": true,
}

// boolean checks a WHERE or HAVING condition.
func (a *aggChecker) boolean(n node, cl clause) error {
	switch str(n, "class") {
	case "CONJUNCTION":
		for _, ch := range nodes(n, "children") {
			if err := a.boolean(ch, cl); err != nil {
				return err
			}
		}
		return nil
	case "OPERATOR":
		ch := nodes(n, "children")
		switch str(n, "type") {
		case "OPERATOR_NOT":
			if len(ch) != 1 {
				break
			}
			return a.boolean(ch[0], cl)
		case "OPERATOR_IS_NULL", "OPERATOR_IS_NOT_NULL":
			if len(ch) != 1 {
				break
			}
			_, err := a.value(ch[0], cl)
			return err
		case "COMPARE_IN", "COMPARE_NOT_IN":
			if len(ch) < 2 {
				break
			}
			if _, err := a.value(ch[0], cl); err != nil {
				return err
			}
			for _, x := range ch[1:] {
				if !isConstExpr(x) {
					return invalid("AGGREGATION rule: IN lists may only hold constants")
				}
			}
			return nil
		case "OPERATOR_COALESCE":
			_, err := a.value(n, cl)
			return err
		}
		return invalid("AGGREGATION rule: %s is not allowed in %s", operatorName(n), cl)
	case "COMPARISON":
		if !comparisonTypes[str(n, "type")] {
			return invalid("AGGREGATION rule: %s is not allowed in %s", strings.ToLower(str(n, "type")), cl)
		}
		if _, err := a.value(obj(n, "left"), cl); err != nil {
			return err
		}
		_, err := a.value(obj(n, "right"), cl)
		return err
	case "BETWEEN":
		for _, k := range []string{"input", "lower", "upper"} {
			if _, err := a.value(obj(n, k), cl); err != nil {
				return err
			}
		}
		return nil
	case "FUNCTION":
		name := str(n, "function_name")
		if boolean(n, "is_operator") && (name == "~~" || name == "!~~") {
			ch := nodes(n, "children")
			if len(ch) != 2 || !isConstExpr(ch[1]) {
				return invalid("AGGREGATION rule: LIKE patterns must be constants")
			}
			_, err := a.value(ch[0], cl)
			return err
		}
	}
	_, err := a.value(n, cl)
	return err
}

func operatorName(n node) string {
	switch str(n, "type") {
	case "COMPARE_IN":
		return "IN"
	case "COMPARE_NOT_IN":
		return "NOT IN"
	case "OPERATOR_NOT":
		return "NOT"
	case "OPERATOR_IS_NULL":
		return "IS NULL"
	case "OPERATOR_IS_NOT_NULL":
		return "IS NOT NULL"
	case "ARRAY_EXTRACT", "ARRAY_SLICE":
		return "array indexing"
	case "STRUCT_EXTRACT":
		return "struct field access"
	}
	return strings.ToLower(str(n, "type"))
}

// colType returns the DuckDB type of an instance's column, or "".
func colType(c instCol) string {
	for _, col := range c.inst.use.table.Columns {
		if strings.EqualFold(col.Name, c.col) {
			t, err := duckType(col.Type)
			if err != nil {
				return ""
			}
			return t
		}
	}
	return ""
}
