package engine

import (
	"context"
	"regexp"
	"strconv"
	"strings"
)

// Error-free evaluation (AGGREGATION and LIST).
//
// DuckDB evaluates a query's expressions on rows and groups that never reach
// the output: WHERE conditions are pushed into the scan of the other
// member's table and run on rows that join nothing, HAVING conditions run on
// groups that an output constraint then removes, constant conversions run
// lazily on whatever rows reach them. An expression that can fail at run
// time (an overflow, LN of a negative number, a cast or an implicit
// conversion of a value) would turn the query's status into a bit about data
// the querier may not see. So under AGGREGATION and LIST every expression the
// querier wrote is made unable to fail on data:
//
//   - comparisons that can't fail are left alone (a column with a constant of
//     a type it compares with without converting the column, a literal whose
//     conversion to the column's type was verified at Check time, columns of
//     the same type), so DuckDB keeps pushing them into scans;
//   - every other condition, grouping expression and output expression is
//     evaluated with DuckDB's TRY semantics, where a failure on a row gives
//     NULL for that row instead of failing the query;
//   - aggregates, which TRY can't wrap, run in an inner query and can't fail:
//     COUNT, and SUM/AVG of integers and floats can't overflow, and SUM/AVG
//     of decimals that could overflow DuckDB's 128-bit accumulator
//     accumulate in DOUBLE (see wideDecimalDigits).

// wideDecimalDigits is the largest decimal precision whose SUM and AVG stay
// exact. DuckDB sums decimals in a signed 128-bit integer (about 1.7e38), so
// the sum of n values of precision p can overflow once n * 10^p exceeds it:
// with p <= 26 that takes more than 10^12 rows. Above it, SUM and AVG
// accumulate in DOUBLE.
const wideDecimalDigits = 26

var decimalTypeRE = regexp.MustCompile(`^DECIMAL\(([0-9]+),([0-9]+)\)$`)

func isIntegerType(t string) bool {
	switch t {
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT":
		return true
	}
	return false
}

func isFloatType(t string) bool { return t == "FLOAT" || t == "DOUBLE" }

func isNumericType(t string) bool {
	return isIntegerType(t) || isFloatType(t) || decimalTypeRE.MatchString(t)
}

// decimalPrecision returns p of DECIMAL(p,s), or 0.
func decimalPrecision(t string) int {
	m := decimalTypeRE.FindStringSubmatch(t)
	if m == nil {
		return 0
	}
	p, _ := strconv.Atoi(m[1])
	return p
}

// comparableTypes reports whether DuckDB compares values of the two types
// (DuckDB type names, as duckType returns them) without a conversion that
// can fail: the same type, two integer types, a floating point type with any
// number, or a date with a timestamp. Anything else (a string with a
// number, decimals of different scales, a decimal with an integer) may need
// a conversion that fails on some values.
func comparableTypes(a, b string) bool {
	switch {
	case a == "" || b == "":
		return false
	case a == b:
		return true
	case isIntegerType(a) && isIntegerType(b):
		return true
	case (isFloatType(a) && isNumericType(b)) || (isFloatType(b) && isNumericType(a)):
		return true
	case (a == "DATE" || a == "TIMESTAMP") && (b == "DATE" || b == "TIMESTAMP"):
		return true
	}
	return false
}

// constantTypeID returns the DuckDB type id of a plain constant, or "".
func constantTypeID(n node) string {
	if str(n, "class") != "CONSTANT" {
		return ""
	}
	return str(obj(obj(n, "value"), "type"), "id")
}

func isNullConstant(n node) bool {
	return str(n, "class") == "CONSTANT" && boolean(obj(n, "value"), "is_null")
}

// safety classifies the expressions of one AGGREGATION or LIST query.
type safety struct {
	e   *Engine
	ctx context.Context
	// colType returns the DuckDB type of a column reference, or "" when it
	// is not a bare column of known type.
	colType func(ref node) string
}

// literalConverts reports whether the string literal v converts to the
// DuckDB type t, evaluated once at Check time on no data: DuckDB converts a
// literal compared with a column lazily, on the rows that reach the
// comparison, so a literal that can't convert would fail only when some row
// (perhaps a hidden one) gets there.
func (s *safety) literalConverts(v, t string) bool {
	if t == "VARCHAR" {
		return true
	}
	var ok bool
	err := s.e.parser.QueryRowContext(s.ctx, "SELECT TRY_CAST(CAST(? AS VARCHAR) AS "+t+") IS NOT NULL", v).Scan(&ok)
	return err == nil && ok
}

// operandSafe reports whether comparing the column reference col (of type
// t) with the operand x can't fail on any row.
func (s *safety) operandSafe(t string, x node) bool {
	if isNullConstant(x) {
		return true
	}
	if str(x, "class") == "COLUMN_REF" {
		return comparableTypes(t, s.colType(x))
	}
	id := constantTypeID(x)
	switch {
	case id == "VARCHAR":
		v, ok := obj(x, "value")["value"].(string)
		return ok && s.literalConverts(v, t)
	case isIntegerType(id):
		return isIntegerType(t) || isFloatType(t)
	case id == "DOUBLE" || id == "FLOAT" || strings.HasPrefix(id, "DECIMAL"):
		return isFloatType(t)
	case id == "BOOLEAN":
		return t == "BOOLEAN"
	}
	// A typed literal, CAST('2024-01-01' AS DATE): safe when the literal
	// converts and the result compares with the column.
	if str(x, "class") == "CAST" && !boolean(x, "try_cast") {
		ch := obj(x, "child")
		ct, ok := castTypeName(obj(x, "cast_type"))
		if !ok || constantTypeID(ch) != "VARCHAR" {
			return false
		}
		v, ok := obj(ch, "value")["value"].(string)
		return ok && s.literalConverts(v, ct) && comparableTypes(t, ct)
	}
	return false
}

// castTypeName returns the DuckDB name of a serialized type without
// parameters.
func castTypeName(t node) (string, bool) {
	switch id := str(t, "id"); id {
	case "DATE", "TIMESTAMP", "VARCHAR", "BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "DOUBLE", "FLOAT":
		if t["type_info"] != nil && id != "VARCHAR" {
			return "", false
		}
		return id, true
	}
	return "", false
}

// predicateSafe reports whether an atomic condition can't fail on any row.
func (s *safety) predicateSafe(n node) bool {
	switch str(n, "class") {
	case "COLUMN_REF":
		return s.colType(n) == "BOOLEAN"
	case "COMPARISON":
		l, r := obj(n, "left"), obj(n, "right")
		if t := s.colType(l); t != "" {
			return s.operandSafe(t, r)
		}
		if t := s.colType(r); t != "" {
			return s.operandSafe(t, l)
		}
		return false
	case "BETWEEN":
		t := s.colType(obj(n, "input"))
		return t != "" && s.operandSafe(t, obj(n, "lower")) && s.operandSafe(t, obj(n, "upper"))
	case "OPERATOR":
		ch := nodes(n, "children")
		switch str(n, "type") {
		case "OPERATOR_IS_NULL", "OPERATOR_IS_NOT_NULL":
			return len(ch) == 1 && (s.colType(ch[0]) != "" || str(ch[0], "class") == "CONSTANT")
		case "COMPARE_IN", "COMPARE_NOT_IN":
			if len(ch) < 2 {
				return false
			}
			t := s.colType(ch[0])
			if t == "" {
				return false
			}
			for _, x := range ch[1:] {
				if !s.operandSafe(t, x) {
					return false
				}
			}
			return true
		}
	case "FUNCTION":
		name := str(n, "function_name")
		ch := nodes(n, "children")
		if boolean(n, "is_operator") && (name == "~~" || name == "!~~") && len(ch) == 2 {
			return s.colType(ch[0]) == "VARCHAR" && constantTypeID(ch[1]) == "VARCHAR"
		}
	}
	return false
}

// condition returns cond with every atomic condition that could fail
// wrapped in TRY. AND, OR and NOT are kept outside, so the safe parts of a
// condition still reach DuckDB's filter pushdown.
func (s *safety) condition(cond node) node {
	switch str(cond, "class") {
	case "CONJUNCTION":
		out := shallowCopy(cond)
		var ch []any
		for _, c := range nodes(cond, "children") {
			ch = append(ch, s.condition(c))
		}
		out["children"] = ch
		return out
	case "OPERATOR":
		if str(cond, "type") == "OPERATOR_NOT" {
			if ch := nodes(cond, "children"); len(ch) == 1 {
				out := shallowCopy(cond)
				out["children"] = []any{s.condition(ch[0])}
				return out
			}
		}
	}
	if s.predicateSafe(cond) {
		return cond
	}
	return tryNode(cond)
}

// value returns a value expression, wrapped in TRY unless it is a bare
// column or a constant (which can't fail).
func (s *safety) value(n node) node {
	switch str(n, "class") {
	case "COLUMN_REF", "CONSTANT":
		return n
	}
	return tryNode(n)
}

// tryNode wraps an expression in DuckDB's TRY(…), moving its alias to the
// wrapper.
func tryNode(n node) node {
	inner := shallowCopy(n)
	alias := str(inner, "alias")
	inner["alias"] = ""
	return node{"class": "OPERATOR", "type": "OPERATOR_TRY", "alias": alias, "query_location": invalidLocation,
		"children": []any{inner}}
}

func shallowCopy(n node) node {
	out := make(node, len(n))
	for k, v := range n {
		out[k] = v
	}
	return out
}

// deepCopy copies a syntax tree.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		a := make([]any, len(t))
		for i, x := range t {
			a[i] = deepCopy(x)
		}
		return a
	default:
		return v
	}
}

func copyNode(n node) node {
	c, _ := deepCopy(n).(map[string]any)
	return c
}
