package engine

import (
	"errors"
	"strings"
)

// The LIST rule, as documented for Clean Rooms:
//
//	SELECT DISTINCT column [AS alias], …
//	FROM t [AS a] [INNER] JOIN u [AS b] ON a.joincol = b.joincol [AND|OR …] …
//	[WHERE condition]
//	[LIMIT n]
//
// Output columns must be listColumns of their table. The query must join at
// least one table of the member who can query, and every other table must be
// joined to one of those, directly or transitively. WHERE may use =, <>, !=,
// <, >, <=, >=, NOT, IN, NOT IN, LIKE, NOT LIKE, IS [NOT] NULL, AND and OR, comparing a
// list or join column (optionally in arithmetic with constants) with
// constants; no functions, aggregates, CASE, subqueries or casts of columns.
// There is no GROUP BY, HAVING, ORDER BY or OFFSET.

type listChecker struct {
	c        *checker
	f        *fromClause
	listCols map[*tableUse]map[string]bool
	joinCols map[*tableUse]map[string]bool
}

func (c *checker) checkList(q node) error {
	if str(q, "type") != "SELECT_NODE" {
		return invalid("LIST rule: UNION, INTERSECT and EXCEPT are not allowed")
	}
	if len(arr(obj(q, "cte_map"), "map")) > 0 {
		return invalid("LIST rule: WITH (common table expressions) is not allowed")
	}
	distinct := false
	for _, m := range nodes(q, "modifiers") {
		switch str(m, "type") {
		case "DISTINCT_MODIFIER":
			if len(arr(m, "distinct_on_targets")) > 0 {
				return invalid("LIST rule: DISTINCT ON is not allowed; use SELECT DISTINCT")
			}
			distinct = true
		case "LIMIT_MODIFIER":
			if !isNull(m, "offset") {
				return invalid("LIST rule: OFFSET is not allowed")
			}
			if lim := obj(m, "limit"); lim != nil {
				if p, ok := positional(lim); !ok || p < 0 {
					return invalid("LIST rule: LIMIT takes a non-negative integer constant")
				}
			}
		case "ORDER_MODIFIER":
			return invalid("LIST rule: ORDER BY is not allowed")
		case "LIMIT_PERCENT_MODIFIER":
			return invalid("LIST rule: LIMIT … %% is not allowed")
		default:
			return invalid("LIST rule: %s is not allowed", strings.ToLower(str(m, "type")))
		}
	}
	if !distinct {
		return invalid("LIST rule: the query must be SELECT DISTINCT")
	}
	if len(nodes(q, "group_expressions")) > 0 || len(arr(q, "group_sets")) > 0 || str(q, "aggregate_handling") != "STANDARD_HANDLING" {
		return invalid("LIST rule: GROUP BY is not allowed")
	}
	if !isNull(q, "having") {
		return invalid("LIST rule: HAVING is not allowed")
	}
	if !isNull(q, "qualify") {
		return invalid("LIST rule: QUALIFY is not allowed")
	}
	if !isNull(q, "sample") {
		return invalid("LIST rule: USING SAMPLE is not allowed")
	}
	l := &listChecker{c: c, listCols: map[*tableUse]map[string]bool{}, joinCols: map[*tableUse]map[string]bool{}}
	for _, tu := range c.ordered {
		l.listCols[tu] = lowerSet(tu.table.Rule.List.ListColumns)
		l.joinCols[tu] = lowerSet(tu.table.Rule.List.JoinColumns)
	}
	f, err := c.collectFrom(obj(q, "from_table"), RuleList, func(tu *tableUse) map[string]bool { return l.joinCols[tu] })
	if err != nil {
		return err
	}
	l.f = f
	if len(f.insts) < 2 {
		return invalid("LIST rule: the query must join at least one table of the member who can query with the other tables")
	}
	joined := f.joinedToRunner(c.req.QueryRunner)
	ownsOne := false
	for i, in := range f.insts {
		if in.use.table.Owner == c.req.QueryRunner {
			ownsOne = true
		}
		if !joined[i] {
			return invalid("LIST rule: table %q must be joined, directly or transitively, to a table of the member who can query", in.use.key)
		}
	}
	if !ownsOne {
		return invalid("LIST rule: the query must join at least one table of the member who can query")
	}
	for _, item := range nodes(q, "select_list") {
		switch str(item, "class") {
		case "COLUMN_REF":
		case "STAR":
			return invalid("LIST rule: SELECT * is not allowed; list the columns")
		case "FUNCTION":
			if knownAggregates[strings.ToLower(str(item, "function_name"))] {
				return invalid("LIST rule: aggregate functions are not allowed")
			}
			return invalid("LIST rule: functions are not allowed in the SELECT list, only list columns")
		default:
			return invalid("LIST rule: the SELECT list may only hold list columns, not %s", describeClass(item))
		}
		in, col, err := f.resolve(item)
		if errors.Is(err, errNoColumn) {
			return invalid("LIST rule: column %q is not an allowed column of any table in the query", col)
		}
		if err != nil {
			return err
		}
		if !l.listCols[in.use][col] {
			return invalid("LIST rule: column %q of table %q is not a list column and can't be selected", col, in.use.key)
		}
	}
	if w := obj(q, "where_clause"); w != nil {
		if err := l.condition(w); err != nil {
			return err
		}
		// Conditions on the other member's columns run on rows that join
		// nothing: make them unable to fail (see safe.go).
		s := c.safety(func(ref node) string {
			in, col, err := f.resolve(ref)
			if err != nil || str(ref, "class") != "COLUMN_REF" {
				return ""
			}
			return colType(instCol{in, col})
		})
		q["where_clause"] = s.condition(w)
	}
	// Sort the output by every column, so that the rows returned (and which
	// ones a LIMIT keeps) are a function of the released rows alone.
	var orders []any
	for i := range nodes(q, "select_list") {
		orders = append(orders, c.e.orderItem(i+1))
	}
	var mods []any
	for _, m := range nodes(q, "modifiers") {
		if str(m, "type") == "LIMIT_MODIFIER" {
			mods = append(mods, c.e.orderModifier(orders))
			orders = nil
		}
		mods = append(mods, m)
	}
	if orders != nil {
		mods = append(mods, c.e.orderModifier(orders))
	}
	q["modifiers"] = mods
	return nil
}

// condition checks a WHERE condition of a LIST query.
func (l *listChecker) condition(n node) error {
	switch str(n, "class") {
	case "CONJUNCTION":
		for _, ch := range nodes(n, "children") {
			if err := l.condition(ch); err != nil {
				return err
			}
		}
		return nil
	case "OPERATOR":
		ch := nodes(n, "children")
		switch str(n, "type") {
		case "OPERATOR_NOT":
			if len(ch) == 1 {
				return l.condition(ch[0])
			}
		case "OPERATOR_IS_NULL", "OPERATOR_IS_NOT_NULL":
			if len(ch) == 1 {
				return l.columnSide(ch[0])
			}
		case "COMPARE_IN", "COMPARE_NOT_IN":
			if len(ch) >= 2 {
				if err := l.columnSide(ch[0]); err != nil {
					return err
				}
				for _, x := range ch[1:] {
					if !isConstExpr(x) {
						return invalid("LIST rule: IN lists may only hold constants")
					}
				}
				return nil
			}
		}
		return invalid("LIST rule: %s is not allowed in WHERE", operatorName(n))
	case "COMPARISON":
		if !comparisonTypes[str(n, "type")] {
			return invalid("LIST rule: %s is not allowed in WHERE", strings.ToLower(str(n, "type")))
		}
		left, right := obj(n, "left"), obj(n, "right")
		switch {
		case isConstExpr(right):
			return l.columnSide(left)
		case isConstExpr(left):
			return l.columnSide(right)
		}
		return invalid("LIST rule: WHERE comparisons must compare a column with constants")
	case "FUNCTION":
		name := str(n, "function_name")
		if boolean(n, "is_operator") && (name == "~~" || name == "!~~") {
			ch := nodes(n, "children")
			if len(ch) != 2 || !isConstExpr(ch[1]) {
				return invalid("LIST rule: LIKE patterns must be constants")
			}
			return l.columnSide(ch[0])
		}
		if knownAggregates[strings.ToLower(name)] {
			return invalid("LIST rule: aggregate functions are not allowed")
		}
		return invalid("LIST rule: function %s is not allowed; list queries can only use comparison and mathematical operators", name)
	case "BETWEEN":
		return invalid("LIST rule: BETWEEN is not allowed; use >= and <=")
	case "CASE":
		return invalid("LIST rule: CASE expressions are not allowed")
	case "SUBQUERY":
		return invalid("LIST rule: subqueries are not allowed")
	case "COLUMN_REF":
		return l.columnSide(n)
	}
	return invalid("LIST rule: %s is not allowed in WHERE", describeClass(n))
}

// columnSide checks the column side of a comparison: a list or join column,
// optionally in arithmetic with constants.
func (l *listChecker) columnSide(n node) error {
	switch str(n, "class") {
	case "COLUMN_REF":
		in, col, err := l.f.resolve(n)
		if errors.Is(err, errNoColumn) {
			return invalid("LIST rule: column %q is not an allowed column of any table in the query", col)
		}
		if err != nil {
			return err
		}
		if !l.listCols[in.use][col] && !l.joinCols[in.use][col] {
			return invalid("LIST rule: column %q of table %q is neither a list nor a join column", col, in.use.key)
		}
		return nil
	case "CONSTANT":
		return nil
	case "FUNCTION":
		name := str(n, "function_name")
		if boolean(n, "is_operator") && arithmeticOperators[name] && isNull(n, "filter") && !boolean(n, "distinct") {
			for _, ch := range nodes(n, "children") {
				if err := l.columnSide(ch); err != nil {
					return err
				}
			}
			return nil
		}
		if knownAggregates[strings.ToLower(name)] {
			return invalid("LIST rule: aggregate functions are not allowed")
		}
		return invalid("LIST rule: function %s is not allowed; list queries can only use comparison and mathematical operators", name)
	case "CAST":
		if isConstExpr(n) {
			return nil
		}
		return invalid("LIST rule: CAST of a column is not allowed")
	case "SUBQUERY":
		return invalid("LIST rule: subqueries are not allowed")
	case "CASE":
		return invalid("LIST rule: CASE expressions are not allowed")
	case "WINDOW":
		return invalid("LIST rule: window functions are not allowed")
	}
	return invalid("LIST rule: %s is not allowed in WHERE", describeClass(n))
}
