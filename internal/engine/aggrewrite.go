package engine

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
)

// The AGGREGATION query that runs is two queries, one inside the other:
//
//	SELECT <the SELECT list over the inner columns> AS <the names DuckDB gives the original items>
//	FROM (
//	    SELECT <each grouping expression> AS __cr_g<i>,
//	           <each aggregate, and each output constraint's COUNT(DISTINCT col)> AS __cr_a<j>
//	    FROM <the joins> WHERE <the conditions> GROUP BY <the grouping expressions>
//	) AS __cr_q
//	WHERE __cr_a<k> >= <minimum> AND … AND <the HAVING condition over the inner columns>
//	ORDER BY <the ORDER BY over the inner columns>, 1, 2, …, n
//
// TRY can't hold an aggregate, so the aggregates run in the inner query and
// every expression the querier wrote over them runs in the outer one, where
// it can be evaluated error-free; the output constraints are plain
// comparisons of counts, so a group below a minimum is removed whatever the
// querier's HAVING says about it, in whatever order DuckDB evaluates the
// two. The final ORDER BY ends with every output column, so the order of
// the rows is a function of the released rows alone, not of how DuckDB's
// hash tables were laid out by groups that were removed.

const innerAlias = "__cr_q"

// aggRewrite holds the parts of the inner query.
type aggRewrite struct {
	a      *aggChecker
	s      *safety
	groups []node   // grouping expressions as written (aliases and positions resolved)
	gkeys  []string // their canonical forms
	gtypes []string // DuckDB type of a grouping expression that is a bare column, else ""
	aggs   []node   // aggregate calls as they run in the inner query
	akeys  map[string]int
	atypes []string // DuckDB type of the inner aggregate column, "" when unknown
}

// canon returns a form of an expression that is equal for expressions
// DuckDB would match: aliases and locations dropped, column references
// resolved to the table instance they name, function names lower-cased.
func (a *aggChecker) canon(n node) string {
	var conv func(v any) any
	conv = func(v any) any {
		switch t := v.(type) {
		case map[string]any:
			if str(t, "class") == "COLUMN_REF" {
				if in, col, err := a.f.resolve(t); err == nil {
					return map[string]any{"ref": strconv.Itoa(in.idx) + "." + col}
				}
				var names []string
				for _, s := range strs(t, "column_names") {
					names = append(names, strings.ToLower(s))
				}
				return map[string]any{"unresolved": strings.Join(names, ".")}
			}
			m := make(map[string]any, len(t))
			for k, x := range t {
				switch k {
				case "query_location", "alias":
					continue
				case "function_name":
					m[k] = strings.ToLower(fmt.Sprint(x))
					continue
				}
				m[k] = conv(x)
			}
			return m
		case []any:
			out := make([]any, len(t))
			for i, x := range t {
				out[i] = conv(x)
			}
			return out
		}
		return v
	}
	b, _ := json.Marshal(conv(n))
	return string(b)
}

// aliasTarget returns the SELECT item n names when n is a bare name that is
// no column of the query's tables but the alias of a SELECT item, else nil.
func (a *aggChecker) aliasTarget(n node, sel []node) node {
	if str(n, "class") != "COLUMN_REF" {
		return nil
	}
	names := strs(n, "column_names")
	if len(names) != 1 {
		return nil
	}
	if _, _, err := a.f.resolve(n); err == nil {
		return nil
	}
	for _, item := range sel {
		if strings.EqualFold(str(item, "alias"), names[0]) {
			return item
		}
	}
	return nil
}

// resolveAliases replaces references to SELECT aliases by the aliased
// expression (a copy, without its alias).
func (a *aggChecker) resolveAliases(n node, sel []node) node {
	if t := a.aliasTarget(n, sel); t != nil {
		c := copyNode(t)
		c["alias"] = ""
		return c
	}
	out := shallowCopy(n)
	for k, v := range n {
		out[k] = a.mapExprs(v, func(x node) node { return a.resolveAliases(x, sel) })
	}
	return out
}

// mapExprs applies fn to every expression (a map with a class) directly
// inside v, copying the containers on the way.
func (a *aggChecker) mapExprs(v any, fn func(node) node) any {
	switch t := v.(type) {
	case map[string]any:
		if str(t, "class") != "" {
			return fn(t)
		}
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = a.mapExprs(x, fn)
		}
		return m
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = a.mapExprs(x, fn)
		}
		return out
	}
	return v
}

// groupIndex returns the grouping expression n is, or -1.
func (r *aggRewrite) groupIndex(n node) int {
	k := r.a.canon(n)
	for i, g := range r.gkeys {
		if g == k {
			return i
		}
	}
	return -1
}

// aggregate returns the index of the inner column computing the aggregate
// call n, adding it when new.
func (r *aggRewrite) aggregate(n node) int {
	k := r.a.canon(n)
	if i, ok := r.akeys[k]; ok {
		return i
	}
	inner := copyNode(n)
	inner["alias"] = ""
	typ := ""
	name := strings.ToLower(str(n, "function_name"))
	if ch := nodes(n, "children"); len(ch) == 1 {
		if in, col, err := r.a.f.resolve(ch[0]); err == nil {
			ct := colType(instCol{in, col})
			switch {
			case name == "count":
				typ = "BIGINT"
			case name == "avg":
				typ = "DOUBLE"
			case isIntegerType(ct):
				typ = "HUGEINT"
			case isFloatType(ct):
				typ = "DOUBLE"
			case decimalPrecision(ct) > 0:
				typ = "DECIMAL"
			}
			if (name == "sum" || name == "avg") && decimalPrecision(ct) > wideDecimalDigits {
				// DuckDB's exact decimal accumulator could overflow, and
				// an overflow on a hidden group would fail the query.
				inner["children"] = []any{castNode(copyNode(ch[0]), "DOUBLE")}
				typ = "DOUBLE"
			}
		}
	}
	r.akeys[k] = len(r.aggs)
	r.aggs = append(r.aggs, inner)
	r.atypes = append(r.atypes, typ)
	return len(r.aggs) - 1
}

// substitute rewrites an expression of the original query over the inner
// query's columns: grouping expressions and aggregates become references to
// the inner columns that compute them.
func (r *aggRewrite) substitute(n node) (node, error) {
	if i := r.groupIndex(n); i >= 0 {
		return columnRefNode(innerAlias, "__cr_g"+strconv.Itoa(i)), nil
	}
	switch str(n, "class") {
	case "FUNCTION":
		if aggregationFunctions[strings.ToLower(str(n, "function_name"))] {
			return columnRefNode(innerAlias, "__cr_a"+strconv.Itoa(r.aggregate(n))), nil
		}
	case "COLUMN_REF":
		if _, col, err := r.a.f.resolve(n); err == nil {
			return nil, invalid("AGGREGATION rule: column %q must appear in the GROUP BY clause or be used in an aggregate function", col)
		}
		return n, nil // a keyword such as current_date
	}
	var ferr error
	out := shallowCopy(n)
	for k, v := range n {
		out[k] = r.a.mapExprs(v, func(x node) node {
			y, err := r.substitute(x)
			if err != nil && ferr == nil {
				ferr = err
			}
			return y
		})
	}
	if ferr != nil {
		return nil, ferr
	}
	return out, nil
}

// innerType returns the DuckDB type of a reference to an inner column.
func (r *aggRewrite) innerType(ref node) string {
	names := strs(ref, "column_names")
	if str(ref, "class") != "COLUMN_REF" || len(names) != 2 || names[0] != innerAlias {
		return ""
	}
	col := names[1]
	i, err := strconv.Atoi(col[len("__cr_g"):])
	if err != nil {
		return ""
	}
	switch {
	case strings.HasPrefix(col, "__cr_g") && i < len(r.gtypes):
		return r.gtypes[i]
	case strings.HasPrefix(col, "__cr_a") && i < len(r.atypes):
		if t := r.atypes[i]; t != "DECIMAL" {
			return t
		}
	}
	return ""
}

// rewrite turns the checked AGGREGATION query q into the two-level query
// described above, in place.
func (a *aggChecker) rewrite(q node) error {
	sel := nodes(q, "select_list")
	s := a.c.safety(func(ref node) string {
		in, col, err := a.f.resolve(ref)
		if err != nil || str(ref, "class") != "COLUMN_REF" {
			return ""
		}
		return colType(instCol{in, col})
	})
	r := &aggRewrite{a: a, s: s, akeys: map[string]int{}}

	// Grouping expressions, with positions and aliases resolved to the
	// SELECT items they name.
	for _, g := range nodes(q, "group_expressions") {
		var expr node
		if pos, ok := positional(g); ok {
			expr = copyNode(sel[pos-1])
		} else if t := a.aliasTarget(g, sel); t != nil {
			expr = copyNode(t)
		} else {
			expr = copyNode(g)
		}
		expr["alias"] = ""
		r.groups = append(r.groups, expr)
		r.gkeys = append(r.gkeys, a.canon(expr))
		r.gtypes = append(r.gtypes, s.colType(expr))
	}

	// The names DuckDB gives the SELECT items, kept on the outer items.
	names := make([]string, len(sel))
	for i, item := range sel {
		if al := str(item, "alias"); al != "" {
			names[i] = al
			continue
		}
		name, err := a.c.e.expressionName(a.c.ctx, item)
		if err != nil {
			return err
		}
		names[i] = name
	}

	// The outer SELECT list.
	var outerSel []any
	for i, item := range sel {
		x := copyNode(item)
		x["alias"] = ""
		y, err := r.substitute(x)
		if err != nil {
			return err
		}
		y = s.value(y)
		y["alias"] = names[i]
		outerSel = append(outerSel, y)
	}

	// HAVING, over the inner columns.
	var having node
	if h := obj(q, "having"); h != nil {
		y, err := r.substitute(a.resolveAliases(h, sel))
		if err != nil {
			return err
		}
		outer := &safety{e: s.e, ctx: s.ctx, colType: r.innerType}
		having = outer.condition(y)
	}

	// The outer ORDER BY: the querier's, then every output column.
	outerAliases := map[string]bool{}
	for _, item := range sel {
		if al := str(item, "alias"); al != "" {
			outerAliases[strings.ToLower(al)] = true
		}
	}
	var orders []any
	for _, m := range nodes(q, "modifiers") {
		for _, o := range nodes(m, "orders") {
			e := obj(o, "expression")
			oc := copyNode(o)
			names := strs(e, "column_names")
			switch _, isPos := positional(e); {
			case isPos:
			case str(e, "class") == "COLUMN_REF" && len(names) == 1 && outerAliases[strings.ToLower(names[0])]:
			default:
				y, err := r.substitute(e)
				if err != nil {
					return err
				}
				oc["expression"] = s.value(y)
			}
			orders = append(orders, oc)
		}
	}
	for i := range sel {
		orders = append(orders, a.c.e.orderItem(i+1))
	}

	// The outer conditions: the output constraints, then HAVING. They are
	// added last so that their counts reuse the aggregates the query
	// already computes.
	conds, err := a.thresholds(r)
	if err != nil {
		return err
	}
	if str(having, "type") == "CONJUNCTION_AND" {
		conds = append(conds, nodes(having, "children")...) // DuckDB's parser flattens nested ANDs
	} else if having != nil {
		conds = append(conds, having)
	}

	// The inner query.
	inner := a.c.e.selectNode()
	var innerSel []any
	var groupRefs []any
	var groupSet []any
	for i, g := range r.groups {
		x := s.value(g)
		x["alias"] = "__cr_g" + strconv.Itoa(i)
		innerSel = append(innerSel, x)
		groupRefs = append(groupRefs, constantNode("INTEGER", json.Number(strconv.Itoa(i+1))))
		groupSet = append(groupSet, json.Number(strconv.Itoa(i)))
	}
	for j, ag := range r.aggs {
		x := copyNode(ag)
		x["alias"] = "__cr_a" + strconv.Itoa(j)
		innerSel = append(innerSel, x)
	}
	inner["select_list"] = innerSel
	inner["from_table"] = q["from_table"]
	if w := obj(q, "where_clause"); w != nil {
		inner["where_clause"] = s.condition(w)
	}
	if len(groupRefs) > 0 {
		inner["group_expressions"] = groupRefs
		inner["group_sets"] = []any{groupSet}
	}

	q["select_list"] = outerSel
	q["from_table"] = a.c.e.subqueryRef(inner, innerAlias)
	q["where_clause"] = nil
	if len(conds) == 1 {
		q["where_clause"] = conds[0]
	} else if len(conds) > 1 {
		q["where_clause"] = andNode(conds...)
	}
	q["group_expressions"] = []any{}
	q["group_sets"] = []any{}
	q["having"] = nil
	q["modifiers"] = []any{a.c.e.orderModifier(orders)}
	return nil
}

// thresholds adds the output constraints' counts to the inner query and
// returns the outer conditions enforcing them: COUNT(DISTINCT alias.col) >=
// minimum for every output constraint of every table instance in the query,
// the highest minimum per column winning. Columns that an INNER JOIN
// equates (an equality reached through ANDs only, between columns of the
// same type) hold the same values on every joined row, so they have the same
// distinct count: one COUNT(DISTINCT) with the highest of their minimums
// enforces all of their constraints, and it is the one the query already
// computes when it does.
func (a *aggChecker) thresholds(r *aggRewrite) ([]node, error) {
	parent := map[instCol]instCol{}
	var find func(x instCol) instCol
	find = func(x instCol) instCol {
		p, ok := parent[x]
		if !ok || p == x {
			return x
		}
		root := find(p)
		parent[x] = root
		return root
	}
	for _, e := range a.f.eq {
		if colType(e[0]) != "" && colType(e[0]) == colType(e[1]) {
			ra, rb := find(e[0]), find(e[1])
			if ra != rb {
				parent[ra] = rb
			}
		}
	}
	// Columns the query already counts distinct.
	counted := map[instCol]bool{}
	for _, ag := range r.aggs {
		if str(ag, "function_name") == "count" && boolean(ag, "distinct") {
			if ch := nodes(ag, "children"); len(ch) == 1 {
				if in, col, err := a.f.resolve(ch[0]); err == nil {
					counted[instCol{in, col}] = true
				}
			}
		}
	}
	mins := map[instCol]int64{}
	rep := map[instCol]instCol{}
	var order []instCol
	for _, in := range a.f.insts {
		for _, oc := range in.use.table.Rule.Aggregation.OutputConstraints {
			if oc.Type != cleanroomsapi.AggregationTypeCountDistinct {
				return nil, invalid("AGGREGATION rule of table %q: output constraint type %s is not supported", in.use.key, oc.Type)
			}
			col := strings.ToLower(oc.ColumnName)
			if !in.use.colOK[col] {
				return nil, invalid("AGGREGATION rule of table %q: output constraint column %q is not an allowed column of the table", in.use.key, col)
			}
			min := int64(2)
			if oc.Minimum != nil {
				min = int64(*oc.Minimum)
			}
			k := instCol{in, col}
			cls := find(k)
			if _, ok := mins[cls]; !ok {
				order = append(order, cls)
				rep[cls] = k
			}
			if counted[k] && !counted[rep[cls]] {
				rep[cls] = k
			}
			if min > mins[cls] {
				mins[cls] = min
			}
		}
	}
	var conds []node
	for _, cls := range order {
		k := rep[cls]
		j := r.aggregate(functionNode("count", true, columnRefNode(k.inst.alias, k.col)))
		conds = append(conds, comparisonNode("COMPARE_GREATERTHANOREQUALTO", columnRefNode(innerAlias, "__cr_a"+strconv.Itoa(j)),
			constantNode("INTEGER", json.Number(strconv.FormatInt(mins[cls], 10)))))
	}
	return conds, nil
}

func castNode(child node, typeID string) node {
	return node{"class": "CAST", "type": "OPERATOR_CAST", "alias": "", "query_location": invalidLocation,
		"child": child, "cast_type": node{"id": typeID, "type_info": nil}, "try_cast": false}
}
