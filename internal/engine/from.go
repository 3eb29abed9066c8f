package engine

import (
	"errors"
	"sort"
	"strings"

	"github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
)

// instance is one occurrence of a configured table in a FROM clause.
type instance struct {
	alias string // lower-case name the query uses for it
	use   *tableUse
	idx   int
}

// fromClause is the FROM clause of an AGGREGATION or LIST query: configured
// tables combined with INNER JOIN … ON equality of join columns.
type fromClause struct {
	rule    string
	insts   []*instance
	byAlias map[string]*instance
	edges   [][2]int
	eq      [][2]instCol    // equalities that hold on every joined row
	ops     map[string]bool // join operators every table allows
}

// instCol is a column of a table instance.
type instCol struct {
	inst *instance
	col  string
}

var errNoColumn = errors.New("no such column")

// collectFrom walks the FROM tree of an AGGREGATION or LIST query.
func (c *checker) collectFrom(n node, rule string, joinCols func(*tableUse) map[string]bool) (*fromClause, error) {
	f := &fromClause{rule: rule, byAlias: map[string]*instance{}}
	refs := map[uintptr]*tableUse{}
	for i, r := range c.refs {
		refs[mapID(r)] = c.refUses[i]
	}
	var walk func(n node) ([]*instance, error)
	walk = func(n node) ([]*instance, error) {
		switch t := str(n, "type"); t {
		case "BASE_TABLE":
			tu := refs[mapID(n)]
			if tu == nil {
				return nil, invalid("%s rule: table %q is not a configured table association", rule, str(n, "table_name"))
			}
			if len(arr(n, "column_name_alias")) > 0 {
				return nil, invalid("%s rule: column aliases on tables (AS t(a, b)) are not allowed", rule)
			}
			alias := strings.ToLower(str(n, "alias"))
			if alias == "" {
				alias = strings.ToLower(str(n, "table_name"))
			}
			if strings.HasPrefix(alias, "__cr") {
				return nil, invalid("%s rule: table aliases can't start with __cr", rule)
			}
			if f.byAlias[alias] != nil {
				return nil, invalid("%s rule: table alias %q is used twice", rule, alias)
			}
			in := &instance{alias: alias, use: tu, idx: len(f.insts)}
			f.insts = append(f.insts, in)
			f.byAlias[alias] = in
			return []*instance{in}, nil
		case "JOIN":
			jt, rt := str(n, "join_type"), str(n, "ref_type")
			switch {
			case rt == "CROSS":
				return nil, invalid("%s rule: CROSS JOIN and comma-separated tables are not allowed; use INNER JOIN … ON", rule)
			case rt == "NATURAL":
				return nil, invalid("%s rule: NATURAL JOIN is not allowed; use INNER JOIN … ON", rule)
			case rt != "REGULAR":
				return nil, invalid("%s rule: %s JOIN is not allowed; use INNER JOIN … ON", rule, rt)
			case jt != "INNER":
				return nil, invalid("%s rule: %s JOIN is not allowed, only INNER JOIN", rule, jt)
			case len(arr(n, "using_columns")) > 0:
				return nil, invalid("%s rule: JOIN … USING is not allowed; use INNER JOIN … ON", rule)
			case isNull(n, "condition"):
				return nil, invalid("%s rule: an INNER JOIN needs an ON condition", rule)
			}
			l, err := walk(obj(n, "left"))
			if err != nil {
				return nil, err
			}
			r, err := walk(obj(n, "right"))
			if err != nil {
				return nil, err
			}
			scope := append(append([]*instance{}, l...), r...)
			if err := f.checkJoinCondition(obj(n, "condition"), scope, joinCols, true); err != nil {
				return nil, err
			}
			return scope, nil
		case "EMPTY":
			return nil, invalid("%s rule: the query must read a configured table in FROM", rule)
		case "SUBQUERY":
			return nil, invalid("%s rule: subqueries are not allowed", rule)
		case "TABLE_FUNCTION":
			return nil, invalid("%s rule: table functions are not allowed", rule)
		case "EXPRESSION_LIST":
			return nil, invalid("%s rule: VALUES lists are not allowed", rule)
		default:
			return nil, invalid("%s rule: %s is not allowed in FROM", rule, describeType(t))
		}
	}
	// The join operators every referenced table allows (most restrictive
	// control wins; a rule without allowedJoinOperators allows AND).
	f.ops = map[string]bool{"AND": true, "OR": true}
	for _, tu := range c.ordered {
		var ops []cleanroomsapi.JoinOperator
		switch {
		case tu.table.Rule.Aggregation != nil && rule == RuleAggregation:
			ops = tu.table.Rule.Aggregation.AllowedJoinOperators
		case tu.table.Rule.List != nil && rule == RuleList:
			ops = tu.table.Rule.List.AllowedJoinOperators
		}
		if len(ops) == 0 {
			ops = []cleanroomsapi.JoinOperator{cleanroomsapi.JoinOperatorAnd}
		}
		allowed := map[string]bool{}
		for _, o := range ops {
			allowed[string(o)] = true
		}
		for o := range f.ops {
			if !allowed[o] {
				delete(f.ops, o)
			}
		}
	}
	if _, err := walk(n); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *fromClause) opsList() string {
	var s []string
	for o := range f.ops {
		s = append(s, o)
	}
	sort.Strings(s)
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// checkJoinCondition accepts equality comparisons of join columns of two
// different tables, combined with the allowed operators.
// conj is true while only ANDs lead from the ON root to cond: equalities
// found there hold for every joined row and are recorded in f.eq.
func (f *fromClause) checkJoinCondition(cond node, scope []*instance, joinCols func(*tableUse) map[string]bool, conj bool) error {
	switch str(cond, "class") {
	case "CONJUNCTION":
		op := strings.TrimPrefix(str(cond, "type"), "CONJUNCTION_")
		if !f.ops[op] {
			return invalid("%s rule: join operator %s is not allowed in join conditions (allowedJoinOperators of the tables: %s)", f.rule, op, f.opsList())
		}
		for _, ch := range nodes(cond, "children") {
			if err := f.checkJoinCondition(ch, scope, joinCols, conj && op == "AND"); err != nil {
				return err
			}
		}
		return nil
	case "COMPARISON":
		if str(cond, "type") != "COMPARE_EQUAL" {
			break
		}
		l, r := obj(cond, "left"), obj(cond, "right")
		if str(l, "class") != "COLUMN_REF" || str(r, "class") != "COLUMN_REF" {
			break
		}
		li, lc, err := f.resolveIn(l, scope)
		if err != nil {
			return f.noColumn(err, lc)
		}
		ri, rc, err := f.resolveIn(r, scope)
		if err != nil {
			return f.noColumn(err, rc)
		}
		for _, x := range []struct {
			in  *instance
			col string
		}{{li, lc}, {ri, rc}} {
			if !joinCols(x.in.use)[x.col] {
				return invalid("%s rule: column %q of table %q is not a join column and can't be used in a join condition", f.rule, x.col, x.in.use.key)
			}
		}
		if li == ri {
			return invalid("%s rule: a join condition must compare join columns of two different tables", f.rule)
		}
		// A join of columns of different types makes DuckDB convert one
		// side, on every row of its table (rows that join nothing
		// included), and a conversion that can fail would tell whether
		// such a row exists.
		if lt, rt := colType(instCol{li, lc}), colType(instCol{ri, rc}); lt != "" && rt != "" && !comparableTypes(lt, rt) {
			return invalid("%s rule: join columns %s.%s (%s) and %s.%s (%s) have types that can't be compared without converting values; join columns of the same type",
				f.rule, li.alias, lc, strings.ToLower(lt), ri.alias, rc, strings.ToLower(rt))
		}
		f.edges = append(f.edges, [2]int{li.idx, ri.idx})
		if conj {
			f.eq = append(f.eq, [2]instCol{{li, lc}, {ri, rc}})
		}
		return nil
	}
	return invalid("%s rule: join conditions may only compare join columns for equality (a.col = b.col), combined with %s", f.rule, f.opsList())
}

// noColumn turns errNoColumn into a rule violation.
func (f *fromClause) noColumn(err error, col string) error {
	if errors.Is(err, errNoColumn) {
		return invalid("%s rule: column %q is not an allowed column of the tables joined at this point", f.rule, col)
	}
	return err
}

// resolve finds the table instance and lower-case column a COLUMN_REF names.
// It returns errNoColumn when no table has an unqualified column of that name.
func (f *fromClause) resolve(ref node) (*instance, string, error) {
	return f.resolveIn(ref, f.insts)
}

func (f *fromClause) resolveIn(ref node, scope []*instance) (*instance, string, error) {
	names := strs(ref, "column_names")
	switch len(names) {
	case 1:
		col := strings.ToLower(names[0])
		var found *instance
		for _, in := range scope {
			if in.use.colOK[col] {
				if found != nil {
					return nil, "", invalid("%s rule: column %q is ambiguous; qualify it with its table", f.rule, col)
				}
				found = in
			}
		}
		if found == nil {
			return nil, col, errNoColumn
		}
		return found, col, nil
	case 2:
		alias, col := strings.ToLower(names[0]), strings.ToLower(names[1])
		var in *instance
		for _, x := range scope {
			if x.alias == alias {
				in = x
			}
		}
		if in == nil {
			return nil, "", invalid("%s rule: %q is not a table of the query at this point", f.rule, names[0])
		}
		if !in.use.colOK[col] {
			return nil, "", invalid("%s rule: %q is not an allowed column of table %q", f.rule, col, in.use.key)
		}
		return in, col, nil
	}
	return nil, "", invalid("%s rule: column reference %q is not allowed", f.rule, strings.Join(names, "."))
}

// components groups instances connected by join equalities.
func (f *fromClause) components() []int {
	parent := make([]int, len(f.insts))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for _, e := range f.edges {
		a, b := find(e[0]), find(e[1])
		if a != b {
			parent[a] = b
		}
	}
	out := make([]int, len(f.insts))
	for i := range out {
		out[i] = find(i)
	}
	return out
}

// joinedToRunner reports, per instance, whether it is owned by the query
// runner or joined (directly or transitively) to a table the runner owns.
func (f *fromClause) joinedToRunner(runner string) []bool {
	comp := f.components()
	has := map[int]bool{}
	for i, in := range f.insts {
		if in.use.table.Owner == runner {
			has[comp[i]] = true
		}
	}
	out := make([]bool, len(f.insts))
	for i := range f.insts {
		out[i] = has[comp[i]]
	}
	return out
}

func lowerSet(cols []string) map[string]bool {
	m := make(map[string]bool, len(cols))
	for _, c := range cols {
		m[strings.ToLower(c)] = true
	}
	return m
}

// isConstExpr reports whether n is a constant: literals, casts of literals,
// and the functions DuckDB uses to build INTERVAL literals.
func isConstExpr(n node) bool {
	switch str(n, "class") {
	case "CONSTANT":
		return true
	case "CAST":
		return isConstExpr(obj(n, "child"))
	case "FUNCTION":
		if !literalFunctions[strings.ToLower(str(n, "function_name"))] || !isNull(n, "filter") ||
			len(arr(obj(n, "order_bys"), "orders")) > 0 || boolean(n, "distinct") || boolean(n, "export_state") {
			return false
		}
		for _, ch := range nodes(n, "children") {
			if !isConstExpr(ch) {
				return false
			}
		}
		return true
	}
	return false
}
