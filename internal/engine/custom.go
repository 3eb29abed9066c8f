package engine

import (
	"sort"
	"strings"
)

// The CUSTOM rule allows full SELECT syntax (CTEs, subqueries, window
// functions, outer joins, set operations) when every referenced table's rule
// allows the analysis: its allowedAnalyses holds the request's template ARN,
// or holds ANY_QUERY and its allowedAnalysisProviders holds the query runner.
// Every query still reads only configured tables, calls only allow-listed
// functions (no file, setting, catalog or SQL-executing functions) and never
// outputs a disallowedOutputColumns column: the checker tracks, for every
// output column, which base columns its value may carry, through aliases,
// expressions, CASE, casts, aggregates (except counts), window functions,
// scalar subqueries, derived tables, CTEs, set operations, star expansion and
// whole-row references. When it can't tell what a column carries it refuses.
// Tables with differential privacy are refused: cleanroomsd does not
// implement it yet and won't run such queries unprotected.

// lineage is the set of disallowed base columns ("table.column") a value may
// carry.
type lineage map[string]bool

func (l lineage) add(o lineage) lineage {
	if len(o) == 0 {
		return l
	}
	if l == nil {
		l = lineage{}
	}
	for k := range o {
		l[k] = true
	}
	return l
}

type colInfo struct {
	name string // lower-case
	lin  lineage
}

// union returns a new lineage holding both.
func union(a, b lineage) lineage { return lineage(nil).add(a).add(b) }

type relation struct {
	id    uintptr // the FROM item (table reference or subquery) it comes from
	alias string  // lower-case
	cols  []colInfo
	// rowLin is what the relation's rows (which exist, how many) may carry:
	// a relation joined to another on a comparison with a disallowed column
	// has rows that depend on that column's values.
	rowLin lineage
}

type scope struct {
	rels      []*relation
	aliases   map[string]lineage // select aliases visible to later select items
	aliasExpr map[string]node    // and their expressions
	parent    *scope
	hasUsing  bool    // a USING or NATURAL join merged columns
	selID     uintptr // the SELECT node the scope belongs to
}

type cteDef struct {
	cols   []colInfo
	rowLin lineage
}

type cteEnv struct {
	defs   map[string]cteDef
	parent *cteEnv
}

func (e *cteEnv) lookup(name string) (cteDef, bool) {
	for ; e != nil; e = e.parent {
		if c, ok := e.defs[name]; ok {
			return c, true
		}
	}
	return cteDef{}, false
}

// taint is what conditions of the query have made a FROM item carry beyond
// its columns' own values; it persists across the passes of the analysis.
type taint struct {
	cols map[string]lineage // per column: copied values
	all  lineage            // every column and the rows
}

type customChecker struct {
	c          *checker
	refUse     map[uintptr]*tableUse
	disallowed map[*tableUse]map[string]bool
	// taints are keyed by FROM item (relations) and SELECT node (rows of
	// the SELECT's output).
	taints  map[uintptr]*taint
	changed bool // a pass added to taints
	work    int  // expressions analysed, bounded by maxLineageWork
}

// maxLineageWork bounds the analysis of one query (expressions visited over
// all passes); a query beyond it is refused rather than checked partly.
const maxLineageWork = 2_000_000

// maxLineagePasses bounds the passes: each pass can only add lineage, and a
// query needs one pass per level of conditions that copy into each other.
const maxLineagePasses = 16

func (cc *customChecker) taintOf(id uintptr) *taint {
	t := cc.taints[id]
	if t == nil {
		t = &taint{cols: map[string]lineage{}}
		cc.taints[id] = t
	}
	return t
}

// grow adds o to *l, noting whether anything was new.
func (cc *customChecker) grow(l *lineage, o lineage) {
	for k := range o {
		if !(*l)[k] {
			*l = union(*l, lineage{k: true})
			cc.changed = true
		}
	}
}

// taintColumn records that column col of relation r may carry lin.
func (cc *customChecker) taintColumn(r *relation, col string, lin lineage) {
	t := cc.taintOf(r.id)
	l := t.cols[col]
	cc.grow(&l, lin)
	t.cols[col] = l
	for i := range r.cols {
		if r.cols[i].name == col {
			r.cols[i].lin = union(r.cols[i].lin, lin)
		}
	}
}

// taintRelation records that every column and the rows of r may carry lin.
func (cc *customChecker) taintRelation(r *relation, lin lineage) {
	t := cc.taintOf(r.id)
	cc.grow(&t.all, lin)
	for i := range r.cols {
		r.cols[i].lin = union(r.cols[i].lin, lin)
	}
	r.rowLin = union(r.rowLin, lin)
}

// applyTaint gives a new relation what earlier passes recorded for it.
func (cc *customChecker) applyTaint(r *relation) {
	t := cc.taints[r.id]
	if t == nil {
		return
	}
	for i := range r.cols {
		r.cols[i].lin = union(union(r.cols[i].lin, t.cols[r.cols[i].name]), t.all)
	}
	r.rowLin = union(r.rowLin, t.all)
}

func (c *checker) checkCustom(q node) error {
	for _, tu := range c.ordered {
		r := tu.table.Rule.Custom
		if r.DifferentialPrivacy != nil {
			return invalid("CUSTOM rule of table %q uses differential privacy, which is not yet supported; the query was not run", tu.key)
		}
		ok := false
		anyQuery := false
		for _, a := range r.AllowedAnalyses {
			if c.req.TemplateARN != "" && a == c.req.TemplateARN {
				ok = true
			}
			if a == "ANY_QUERY" {
				anyQuery = true
			}
		}
		if anyQuery {
			for _, p := range r.AllowedAnalysisProviders {
				if p == c.req.QueryRunner {
					ok = true
				}
			}
		}
		if !ok {
			if c.req.TemplateARN != "" {
				return invalid("CUSTOM rule of table %q does not allow analysis template %s (allowedAnalyses)", tu.key, c.req.TemplateARN)
			}
			return invalid("CUSTOM rule of table %q does not allow ad hoc queries by account %s (allowedAnalyses/allowedAnalysisProviders)", tu.key, c.req.QueryRunner)
		}
	}
	cc := &customChecker{c: c, refUse: map[uintptr]*tableUse{}, disallowed: map[*tableUse]map[string]bool{}, taints: map[uintptr]*taint{}}
	for i, r := range c.refs {
		cc.refUse[mapID(r)] = c.refUses[i]
	}
	for _, tu := range c.ordered {
		cc.disallowed[tu] = lowerSet(tu.table.Rule.Custom.DisallowedOutputColumns)
	}
	// Conditions can make relations carry lineage that expressions
	// analysed earlier in the same pass have read, so the analysis runs
	// again until a pass adds nothing.
	var cols []colInfo
	for pass := 0; ; pass++ {
		if pass == maxLineagePasses {
			return invalid("CUSTOM rule: the query is too complex to check against disallowedOutputColumns")
		}
		cc.changed = false
		var err error
		if cols, _, err = cc.query(q, nil, nil); err != nil {
			return err
		}
		if !cc.changed {
			break
		}
	}
	for _, col := range cols {
		if len(col.lin) > 0 {
			var bad []string
			for k := range col.lin {
				bad = append(bad, k)
			}
			sort.Strings(bad)
			t, cname, _ := strings.Cut(bad[0], ".")
			return invalid("CUSTOM rule of table %q: column %q is a disallowed output column and can't appear in the query output, directly or derived (output column %q)", t, cname, col.name)
		}
	}
	return nil
}

// query returns the output columns of a query node, and what its rows
// carry.
func (cc *customChecker) query(q node, outer *scope, env *cteEnv) ([]colInfo, lineage, error) {
	if ctes := nodes(obj(q, "cte_map"), "map"); len(ctes) > 0 {
		env = &cteEnv{defs: map[string]cteDef{}, parent: env}
		for _, e := range ctes {
			name := strings.ToLower(str(e, "key"))
			v := obj(e, "value")
			body := obj(obj(v, "query"), "node")
			if body == nil {
				return nil, nil, invalid("CUSTOM rule: unsupported common table expression %q", name)
			}
			cols, rl, err := cc.query(body, outer, env)
			if err != nil {
				return nil, nil, err
			}
			env.defs[name] = cteDef{cols: renameCols(cols, strs(v, "aliases")), rowLin: rl}
		}
	}
	switch t := str(q, "type"); t {
	case "SELECT_NODE":
		return cc.selectNode(q, outer, env)
	case "SET_OPERATION_NODE":
		if str(q, "setop_type") == "UNION_BY_NAME" {
			return nil, nil, invalid("CUSTOM rule: UNION BY NAME is not supported")
		}
		left, lrl, err := cc.query(obj(q, "left"), outer, env)
		if err != nil {
			return nil, nil, err
		}
		right, rrl, err := cc.query(obj(q, "right"), outer, env)
		if err != nil {
			return nil, nil, err
		}
		if len(left) != len(right) {
			return nil, nil, invalid("CUSTOM rule: the sides of %s have different numbers of columns", str(q, "setop_type"))
		}
		rl := union(lrl, rrl)
		if st := str(q, "setop_type"); st != "UNION" {
			// INTERSECT and EXCEPT keep or drop each row of the left side
			// by comparing it with the right side: which rows come out
			// depends on every column of both.
			for i := range left {
				rl = union(rl, union(left[i].lin, right[i].lin))
			}
		}
		out := make([]colInfo, len(left))
		for i := range left {
			out[i] = colInfo{name: left[i].name, lin: union(union(left[i].lin, right[i].lin), rl)}
		}
		return out, rl, nil
	case "RECURSIVE_CTE_NODE":
		return nil, nil, invalid("CUSTOM rule: WITH RECURSIVE is not supported")
	default:
		return nil, nil, invalid("CUSTOM rule: %s is not allowed", describeType(t))
	}
}

func renameCols(cols []colInfo, names []string) []colInfo {
	if len(names) == 0 {
		return cols
	}
	out := append([]colInfo(nil), cols...)
	for i, n := range names {
		if i < len(out) {
			out[i].name = strings.ToLower(n)
		}
	}
	return out
}

func (cc *customChecker) selectNode(q node, outer *scope, env *cteEnv) ([]colInfo, lineage, error) {
	id := mapID(q)
	sc := &scope{parent: outer, aliases: map[string]lineage{}, aliasExpr: map[string]node{}, selID: id}
	if err := cc.from(obj(q, "from_table"), sc, env); err != nil {
		return nil, nil, err
	}
	var out []colInfo
	for _, item := range nodes(q, "select_list") {
		if str(item, "class") == "STAR" {
			cols, err := cc.star(item, sc)
			if err != nil {
				return nil, nil, err
			}
			out = append(out, cols...)
			continue
		}
		lin, err := cc.lineage(item, sc, env)
		if err != nil {
			return nil, nil, err
		}
		name := strings.ToLower(str(item, "alias"))
		if name == "" && str(item, "class") == "COLUMN_REF" {
			names := strs(item, "column_names")
			name = strings.ToLower(names[len(names)-1])
		}
		if name != "" {
			sc.aliases[name] = lineage(nil).add(lin)
			sc.aliasExpr[name] = item
		}
		out = append(out, colInfo{name: name, lin: lin})
	}
	// The conditions come after the SELECT list, whose aliases they may
	// use; what they record reaches the SELECT list in the next pass.
	for _, k := range []string{"where_clause", "having", "qualify"} {
		if h := obj(q, k); h != nil {
			if err := cc.condition(h, sc, env, false); err != nil {
				return nil, nil, err
			}
		}
	}
	// What the rows carry: the rows of every relation read, and the
	// conditions of this SELECT that compare rows of different relations
	// with a disallowed column. Every output column carries it: which rows
	// come out, and how many, is part of what each value tells.
	var rl lineage
	if t := cc.taints[id]; t != nil {
		rl = union(rl, t.all)
	}
	for _, r := range sc.rels {
		rl = union(rl, r.rowLin)
	}
	for i := range out {
		out[i].lin = union(out[i].lin, rl)
	}
	return out, rl, nil
}

// star expands * or t.* (with EXCLUDE).
func (cc *customChecker) star(item node, sc *scope) ([]colInfo, error) {
	excl := lowerSet(strs(item, "exclude_list"))
	rel := strings.ToLower(str(item, "relation_name"))
	if sc.hasUsing && rel == "" {
		return nil, invalid("CUSTOM rule: SELECT * over a USING or NATURAL join is not supported; list the columns")
	}
	var out []colInfo
	found := rel == ""
	for _, r := range sc.rels {
		if rel != "" && r.alias != rel {
			continue
		}
		found = true
		for _, c := range r.cols {
			if !excl[c.name] {
				out = append(out, c)
			}
		}
	}
	if !found {
		return nil, invalid("CUSTOM rule: %s.* does not name a table of the query", rel)
	}
	return out, nil
}

// from adds the relations of a FROM tree to sc.
func (cc *customChecker) from(n node, sc *scope, env *cteEnv) error {
	if n == nil {
		return nil
	}
	alias := strings.ToLower(str(n, "alias"))
	switch t := str(n, "type"); t {
	case "EMPTY":
		return nil
	case "BASE_TABLE":
		name := strings.ToLower(str(n, "table_name"))
		if alias == "" {
			alias = name
		}
		var cols []colInfo
		var rl lineage
		if tu := cc.refUse[mapID(n)]; tu != nil {
			for _, col := range tu.cols {
				lc := strings.ToLower(col)
				var lin lineage
				if cc.disallowed[tu][lc] {
					lin = lineage{tu.key + "." + lc: true}
				}
				cols = append(cols, colInfo{name: lc, lin: lin})
			}
		} else if c, ok := env.lookup(name); ok && str(n, "schema_name") == "" && str(n, "catalog_name") == "" {
			cols = append(cols, c.cols...)
			rl = c.rowLin
		} else {
			return invalid("table %q is not a configured table association of this collaboration", str(n, "table_name"))
		}
		cc.addRelation(sc, n, alias, cols, rl)
		return nil
	case "JOIN":
		if err := cc.from(obj(n, "left"), sc, env); err != nil {
			return err
		}
		mid := len(sc.rels)
		if err := cc.from(obj(n, "right"), sc, env); err != nil {
			return err
		}
		if str(n, "ref_type") == "NATURAL" || len(arr(n, "using_columns")) > 0 {
			sc.hasUsing = true
			cc.usingJoin(n, sc.rels[:mid], sc.rels[mid:])
		}
		if cond := obj(n, "condition"); cond != nil {
			return cc.condition(cond, sc, env, false)
		}
		return nil
	case "SUBQUERY":
		// A subquery in FROM may refer to the relations before it (LATERAL).
		cols, rl, err := cc.query(obj(obj(n, "subquery"), "node"), sc, env)
		if err != nil {
			return err
		}
		cc.addRelation(sc, n, alias, cols, rl)
		return nil
	case "EXPRESSION_LIST":
		// DuckDB does not regenerate VALUES lists faithfully.
		return invalid("CUSTOM rule: VALUES lists are not supported")
	default:
		return invalid("CUSTOM rule: %s is not allowed in FROM", describeType(t))
	}
}

// lineage returns the disallowed base columns expression n may carry.
func (cc *customChecker) lineage(n node, sc *scope, env *cteEnv) (lineage, error) {
	if n == nil {
		return nil, nil
	}
	if cc.work++; cc.work > maxLineageWork {
		return nil, invalid("CUSTOM rule: the query is too complex to check against disallowedOutputColumns")
	}
	switch str(n, "class") {
	case "CONSTANT":
		return nil, nil
	case "COLUMN_REF":
		return cc.columnLineage(n, sc)
	case "STAR":
		return nil, invalid("CUSTOM rule: * is only allowed as a SELECT item")
	case "LAMBDA":
		return nil, invalid("CUSTOM rule: lambda functions are not allowed")
	case "SUBQUERY":
		cols, _, err := cc.query(obj(obj(n, "subquery"), "node"), sc, env)
		if err != nil {
			return nil, err
		}
		var lin lineage
		for _, c := range cols {
			lin = lin.add(c.lin)
		}
		if ch := obj(n, "child"); ch != nil {
			l, err := cc.lineage(ch, sc, env)
			if err != nil {
				return nil, err
			}
			lin = lin.add(l)
		}
		return lin, nil
	case "FUNCTION":
		if countFunctions[strings.ToLower(str(n, "function_name"))] {
			// A count carries no value of what it counts; its arguments
			// must still resolve. Its FILTER is a condition on the rows
			// counted: comparing them with a disallowed column makes the
			// count carry it, as a join on such a comparison would.
			if _, err := cc.members(n, sc, env); err != nil {
				return nil, err
			}
			if f := obj(n, "filter"); f != nil {
				return cc.filterLineage(f, sc, env)
			}
			return nil, nil
		}
	}
	return cc.members(n, sc, env)
}

// members unions the lineage of every expression inside n.
func (cc *customChecker) members(n node, sc *scope, env *cteEnv) (lineage, error) {
	var lin lineage
	var walk func(v any) error
	walk = func(v any) error {
		switch t := v.(type) {
		case map[string]any:
			if str(t, "class") != "" {
				l, err := cc.lineage(t, sc, env)
				if err != nil {
					return err
				}
				lin = lin.add(l)
				return nil
			}
			for _, k := range keysOf(t) {
				x := t[k]
				if err := walk(x); err != nil {
					return err
				}
			}
		case []any:
			for _, x := range t {
				if err := walk(x); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, k := range keysOf(n) {
		v := n[k]
		if k == "class" || k == "type" || k == "alias" {
			continue
		}
		if err := walk(v); err != nil {
			return nil, err
		}
	}
	return lin, nil
}

// columnLineage resolves a column reference the way DuckDB does (columns of
// the FROM relations, then whole-row references to a relation, then earlier
// select aliases, then the outer query) and returns what it may carry. When
// the name matches several columns all their lineages are unioned.
func (cc *customChecker) columnLineage(n node, sc *scope) (lineage, error) {
	names := strs(n, "column_names")
	if len(names) == 0 {
		return nil, invalid("CUSTOM rule: empty column reference")
	}
	for i := range names {
		names[i] = strings.ToLower(names[i])
	}
	for s := sc; s != nil; s = s.parent {
		var lin lineage
		found := false
		// Qualified: relation.column[.field…]
		if len(names) >= 2 {
			for _, r := range s.rels {
				if r.alias != names[0] {
					continue
				}
				for _, c := range r.cols {
					if c.name == names[1] {
						lin = lin.add(c.lin)
						found = true
					}
				}
				if !found {
					return nil, invalid("CUSTOM rule: %q is not a column of %q", names[1], names[0])
				}
			}
		}
		// Unqualified column[.field…]
		if !found {
			for _, r := range s.rels {
				for _, c := range r.cols {
					if c.name == names[0] {
						lin = lin.add(c.lin)
						found = true
					}
				}
			}
		}
		// Whole-row reference to a relation.
		if !found && len(names) == 1 {
			for _, r := range s.rels {
				if r.alias == names[0] {
					for _, c := range r.cols {
						lin = lin.add(c.lin)
					}
					found = true
				}
			}
		}
		if !found && s == sc {
			if l, ok := s.aliases[names[0]]; ok {
				lin, found = lineage(nil).add(l), true
			}
		}
		if found {
			return lin, nil
		}
	}
	if len(names) == 1 {
		if _, ok := keywordFunctions[names[0]]; ok {
			return nil, nil
		}
	}
	return nil, invalid("CUSTOM rule: column %q can't be resolved", strings.Join(names, "."))
}

// addRelation adds the relation a FROM item n reads to sc, with what earlier
// passes recorded for it.
func (cc *customChecker) addRelation(sc *scope, n node, alias string, cols []colInfo, rowLin lineage) {
	r := &relation{id: mapID(n), alias: alias, cols: renameCols(append([]colInfo(nil), cols...), strs(n, "column_name_alias")), rowLin: rowLin}
	cc.applyTaint(r)
	sc.rels = append(sc.rels, r)
}

// usingJoin: JOIN … USING (c) and NATURAL JOIN equate the columns of that
// name on both sides; each may then carry what the other does.
func (cc *customChecker) usingJoin(n node, left, right []*relation) {
	names := strs(n, "using_columns")
	if str(n, "ref_type") == "NATURAL" {
		names = nil
		seen := map[string]bool{}
		for _, r := range left {
			for _, c := range r.cols {
				seen[c.name] = true
			}
		}
		for _, r := range right {
			for _, c := range r.cols {
				if seen[c.name] {
					names = append(names, c.name)
				}
			}
		}
	}
	for _, name := range names {
		name = strings.ToLower(name)
		var lin lineage
		for _, r := range append(append([]*relation{}, left...), right...) {
			for _, c := range r.cols {
				if c.name == name {
					lin = union(lin, c.lin)
				}
			}
		}
		if len(lin) == 0 {
			continue
		}
		for _, r := range append(append([]*relation{}, left...), right...) {
			cc.taintColumn(r, name, lin)
		}
	}
}

// A condition (JOIN … ON, WHERE, HAVING, QUALIFY) is allowed to read a
// disallowed column: AWS's rule lets filters and join conditions use it.
// What a condition must not do is copy the column's values into what the
// query outputs. Two flows do:
//
//   - Equality (=, IS NOT DISTINCT FROM, IN, = ANY, USING): on every row
//     that passes, the compared expressions hold the same value, so every
//     column read on either side carries what the other side carries. A
//     relation joined on v = f(disallowed) gives v the disallowed values.
//   - Any other comparison between a disallowed value and the rows of
//     another relation (<, <>, BETWEEN, LIKE, NOT IN, functions…) selects,
//     for each row, a range of the other relation's rows: counting them or
//     listing them rebuilds the value. Every column and the rows of each
//     relation the condition reads then carry it, and so does everything
//     the SELECT outputs.
//
// A comparison of a disallowed column with constants, or with other
// columns of its own row, is a filter: it carries nothing.

// condition analyses a condition and records what it makes relations carry.
func (cc *customChecker) condition(n node, sc *scope, env *cteEnv, negated bool) error {
	return cc.eachPredicate(n, negated, func(p node, negated bool) error {
		lin, eq, targets, rels, err := cc.predicate(p, sc, env, negated)
		if err != nil || len(lin) == 0 {
			return err
		}
		if eq {
			for _, t := range targets {
				cc.taintColumn(t.rel, t.col, lin)
			}
			return nil
		}
		if rels < 2 {
			return nil
		}
		for _, t := range targets {
			cc.taintRelation(t.rel, lin)
		}
		if sc.selID != 0 {
			cc.grow(&cc.taintOf(sc.selID).all, lin)
		}
		return nil
	})
}

// filterLineage returns what a count's FILTER makes the count carry: the
// lineage of its comparisons of a disallowed value with other relations'
// rows.
func (cc *customChecker) filterLineage(n node, sc *scope, env *cteEnv) (lineage, error) {
	var out lineage
	err := cc.eachPredicate(n, false, func(p node, negated bool) error {
		lin, eq, _, rels, err := cc.predicate(p, sc, env, negated)
		if err == nil && !eq && rels >= 2 {
			out = union(out, lin)
		}
		return err
	})
	return out, err
}

// eachPredicate calls fn for every atomic condition under AND, OR and NOT.
func (cc *customChecker) eachPredicate(n node, negated bool, fn func(p node, negated bool) error) error {
	switch str(n, "class") {
	case "CONJUNCTION":
		for _, ch := range nodes(n, "children") {
			if err := cc.eachPredicate(ch, negated, fn); err != nil {
				return err
			}
		}
		return nil
	case "OPERATOR":
		if ch := nodes(n, "children"); str(n, "type") == "OPERATOR_NOT" && len(ch) == 1 {
			return cc.eachPredicate(ch[0], !negated, fn)
		}
	}
	return fn(n, negated)
}

// colTarget is a column of a relation in scope.
type colTarget struct {
	rel *relation
	col string
}

// predicate analyses one atomic condition: what it reads (lin), whether it
// is an equality, the columns it reads in scope, and how many relations
// (relations in scope, plus one per subquery operand) it compares.
func (cc *customChecker) predicate(p node, sc *scope, env *cteEnv, negated bool) (lin lineage, eq bool, targets []colTarget, rels int, err error) {
	if lin, err = cc.lineage(p, sc, env); err != nil {
		return nil, false, nil, 0, err
	}
	switch str(p, "class") {
	case "COMPARISON":
		eq = str(p, "type") == "COMPARE_EQUAL" || str(p, "type") == "COMPARE_NOT_DISTINCT_FROM"
	case "OPERATOR":
		eq = str(p, "type") == "COMPARE_IN"
	case "SUBQUERY":
		eq = str(p, "subquery_type") == "ANY" && str(p, "comparison_type") == "COMPARE_EQUAL"
	}
	eq = eq && !negated
	subs := 0
	cc.collectTargets(p, sc, &targets, &subs, 0)
	seen := map[*relation]bool{}
	for _, t := range targets {
		seen[t.rel] = true
	}
	return lin, eq, targets, len(seen) + subs, nil
}

// collectTargets adds the columns in scope that the expression n reads
// (not inside its subqueries, which are counted in subs).
func (cc *customChecker) collectTargets(n node, sc *scope, out *[]colTarget, subs *int, depth int) {
	if depth > 64 {
		return
	}
	switch str(n, "class") {
	case "SUBQUERY":
		*subs++
		if ch := obj(n, "child"); ch != nil {
			cc.collectTargets(ch, sc, out, subs, depth+1)
		}
		return
	case "COLUMN_REF":
		cc.refTargets(n, sc, out, subs, depth)
		return
	}
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			if str(t, "class") != "" {
				cc.collectTargets(t, sc, out, subs, depth+1)
				return
			}
			for _, k := range keysOf(t) {
				walk(t[k])
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	for _, k := range keysOf(n) {
		if k == "class" || k == "type" || k == "alias" {
			continue
		}
		walk(n[k])
	}
}

// refTargets resolves a column reference as columnLineage does and adds the
// columns it names; a select alias adds the columns of its expression.
func (cc *customChecker) refTargets(n node, sc *scope, out *[]colTarget, subs *int, depth int) {
	names := strs(n, "column_names")
	for i := range names {
		names[i] = strings.ToLower(names[i])
	}
	if len(names) == 0 {
		return
	}
	for s := sc; s != nil; s = s.parent {
		found := false
		if len(names) >= 2 {
			for _, r := range s.rels {
				if r.alias != names[0] {
					continue
				}
				for _, c := range r.cols {
					if c.name == names[1] {
						*out = append(*out, colTarget{r, c.name})
						found = true
					}
				}
			}
		}
		if !found {
			for _, r := range s.rels {
				for _, c := range r.cols {
					if c.name == names[0] {
						*out = append(*out, colTarget{r, c.name})
						found = true
					}
				}
			}
		}
		if !found && len(names) == 1 {
			for _, r := range s.rels {
				if r.alias == names[0] {
					for _, c := range r.cols {
						*out = append(*out, colTarget{r, c.name})
					}
					found = true
				}
			}
		}
		if !found && s == sc {
			if x, ok := s.aliasExpr[names[0]]; ok && x != nil {
				cc.collectTargets(x, sc, out, subs, depth+1)
				found = true
			}
		}
		if found {
			return
		}
	}
}
