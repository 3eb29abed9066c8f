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

type relation struct {
	alias string // lower-case
	cols  []colInfo
}

type scope struct {
	rels     []*relation
	aliases  map[string]lineage // select aliases visible to later select items
	parent   *scope
	hasUsing bool // a USING or NATURAL join merged columns
}

type cteEnv struct {
	defs   map[string][]colInfo
	parent *cteEnv
}

func (e *cteEnv) lookup(name string) ([]colInfo, bool) {
	for ; e != nil; e = e.parent {
		if c, ok := e.defs[name]; ok {
			return c, true
		}
	}
	return nil, false
}

type customChecker struct {
	c          *checker
	refUse     map[uintptr]*tableUse
	disallowed map[*tableUse]map[string]bool
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
	cc := &customChecker{c: c, refUse: map[uintptr]*tableUse{}, disallowed: map[*tableUse]map[string]bool{}}
	for i, r := range c.refs {
		cc.refUse[mapID(r)] = c.refUses[i]
	}
	for _, tu := range c.ordered {
		cc.disallowed[tu] = lowerSet(tu.table.Rule.Custom.DisallowedOutputColumns)
	}
	cols, err := cc.query(q, nil, nil)
	if err != nil {
		return err
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

// query returns the output columns of a query node.
func (cc *customChecker) query(q node, outer *scope, env *cteEnv) ([]colInfo, error) {
	if ctes := nodes(obj(q, "cte_map"), "map"); len(ctes) > 0 {
		env = &cteEnv{defs: map[string][]colInfo{}, parent: env}
		for _, e := range ctes {
			name := strings.ToLower(str(e, "key"))
			v := obj(e, "value")
			body := obj(obj(v, "query"), "node")
			if body == nil {
				return nil, invalid("CUSTOM rule: unsupported common table expression %q", name)
			}
			cols, err := cc.query(body, outer, env)
			if err != nil {
				return nil, err
			}
			cols = renameCols(cols, strs(v, "aliases"))
			env.defs[name] = cols
		}
	}
	switch t := str(q, "type"); t {
	case "SELECT_NODE":
		return cc.selectNode(q, outer, env)
	case "SET_OPERATION_NODE":
		if str(q, "setop_type") == "UNION_BY_NAME" {
			return nil, invalid("CUSTOM rule: UNION BY NAME is not supported")
		}
		left, err := cc.query(obj(q, "left"), outer, env)
		if err != nil {
			return nil, err
		}
		right, err := cc.query(obj(q, "right"), outer, env)
		if err != nil {
			return nil, err
		}
		if len(left) != len(right) {
			return nil, invalid("CUSTOM rule: the sides of %s have different numbers of columns", str(q, "setop_type"))
		}
		out := make([]colInfo, len(left))
		for i := range left {
			out[i] = colInfo{name: left[i].name, lin: lineage(nil).add(left[i].lin).add(right[i].lin)}
		}
		return out, nil
	case "RECURSIVE_CTE_NODE":
		return nil, invalid("CUSTOM rule: WITH RECURSIVE is not supported")
	default:
		return nil, invalid("CUSTOM rule: %s is not allowed", describeType(t))
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

func (cc *customChecker) selectNode(q node, outer *scope, env *cteEnv) ([]colInfo, error) {
	sc := &scope{parent: outer, aliases: map[string]lineage{}}
	if err := cc.from(obj(q, "from_table"), sc, env); err != nil {
		return nil, err
	}
	var out []colInfo
	for _, item := range nodes(q, "select_list") {
		if str(item, "class") == "STAR" {
			cols, err := cc.star(item, sc)
			if err != nil {
				return nil, err
			}
			out = append(out, cols...)
			continue
		}
		lin, err := cc.lineage(item, sc, env)
		if err != nil {
			return nil, err
		}
		name := strings.ToLower(str(item, "alias"))
		if name == "" && str(item, "class") == "COLUMN_REF" {
			names := strs(item, "column_names")
			name = strings.ToLower(names[len(names)-1])
		}
		if name != "" {
			sc.aliases[name] = lineage(nil).add(lin)
		}
		out = append(out, colInfo{name: name, lin: lin})
	}
	return out, nil
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
			cols = append(cols, c...)
		} else {
			return invalid("table %q is not a configured table association of this collaboration", str(n, "table_name"))
		}
		sc.rels = append(sc.rels, &relation{alias: alias, cols: renameCols(cols, strs(n, "column_name_alias"))})
		return nil
	case "JOIN":
		if err := cc.from(obj(n, "left"), sc, env); err != nil {
			return err
		}
		if err := cc.from(obj(n, "right"), sc, env); err != nil {
			return err
		}
		if str(n, "ref_type") == "NATURAL" || len(arr(n, "using_columns")) > 0 {
			sc.hasUsing = true
		}
		return nil
	case "SUBQUERY":
		// A subquery in FROM may refer to the relations before it (LATERAL).
		cols, err := cc.query(obj(obj(n, "subquery"), "node"), sc, env)
		if err != nil {
			return err
		}
		sc.rels = append(sc.rels, &relation{alias: alias, cols: renameCols(cols, strs(n, "column_name_alias"))})
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
		cols, err := cc.query(obj(obj(n, "subquery"), "node"), sc, env)
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
			// must still resolve.
			_, err := cc.members(n, sc, env)
			return nil, err
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
