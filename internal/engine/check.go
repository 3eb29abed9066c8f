package engine

import (
	"context"
	"fmt"
	"reflect"
	"strings"
)

// tableUse is a configured table the query references.
type tableUse struct {
	key   string // lower-case association name
	table *Table
	view  string // the sandbox view that exposes it
	cols  []string
	colOK map[string]bool // lower-case allowed column names
}

// checker holds the state of one Check.
type checker struct {
	e        *Engine
	ctx      context.Context
	req      *Request
	ruleType string
	tables   map[string]*tableUse
	ordered  []*tableUse
	// refs are the BASE_TABLE nodes that name configured tables (as opposed
	// to common table expressions), rewritten to the sandbox views at the end.
	refs    []node
	refUses []*tableUse
	// cteNames are every CTE name defined anywhere in the query.
	cteNames map[string]bool
}

// cteScope is the set of common table expression names visible at a point.
type cteScope struct {
	names  map[string]bool
	parent *cteScope
}

func (s *cteScope) has(name string) bool {
	for ; s != nil; s = s.parent {
		if s.names[name] {
			return true
		}
	}
	return false
}

func isQueryNode(n node) bool {
	t := str(n, "type")
	return strings.HasSuffix(t, "_NODE") && str(n, "class") == ""
}

// forEachTableRef calls fn for every BASE_TABLE reference in v, with the CTE
// names visible there.
func forEachTableRef(v any, scope *cteScope, fn func(ref node, scope *cteScope) error) error {
	switch t := v.(type) {
	case map[string]any:
		if ctes := nodes(obj(t, "cte_map"), "map"); isQueryNode(t) && len(ctes) > 0 {
			// A CTE's body sees the CTEs defined before it (and itself when
			// recursive); the rest of the node sees them all.
			names := map[string]bool{}
			for _, e := range ctes {
				name := strings.ToLower(str(e, "key"))
				visible := map[string]bool{}
				for k := range names {
					visible[k] = true
				}
				v := obj(e, "value")
				if str(obj(obj(v, "query"), "node"), "type") == "RECURSIVE_CTE_NODE" {
					visible[name] = true
				}
				if err := forEachTableRef(v, &cteScope{names: visible, parent: scope}, fn); err != nil {
					return err
				}
				names[name] = true
			}
			inner := &cteScope{names: names, parent: scope}
			for _, k := range keysOf(t) {
				if k == "cte_map" {
					continue
				}
				if err := forEachTableRef(t[k], inner, fn); err != nil {
					return err
				}
			}
			return nil
		}
		if str(t, "type") == "BASE_TABLE" && str(t, "class") == "" {
			if err := fn(t, scope); err != nil {
				return err
			}
		}
		for _, k := range keysOf(t) {
			x := t[k]
			if err := forEachTableRef(x, scope, fn); err != nil {
				return err
			}
		}
	case []any:
		for _, x := range t {
			if err := forEachTableRef(x, scope, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// collectTableNames adds the names of the tables (not CTEs) doc references.
func collectTableNames(doc node, scope *cteScope, names map[string]bool) error {
	return forEachTableRef(doc, scope, func(ref node, scope *cteScope) error {
		name := strings.ToLower(str(ref, "table_name"))
		if str(ref, "schema_name") == "" && str(ref, "catalog_name") == "" && scope.has(name) {
			return nil
		}
		if str(ref, "schema_name") != "" || str(ref, "catalog_name") != "" {
			name = strings.ToLower(strings.Trim(str(ref, "catalog_name")+"."+str(ref, "schema_name"), ".")) + "." + name
		}
		names[name] = true
		return nil
	})
}

// check resolves the referenced tables, decides the rule type and runs the
// rule's checker.
func (c *checker) check(doc node) error {
	c.cteNames = map[string]bool{}
	err := forEachTableRef(doc, nil, func(ref node, scope *cteScope) error {
		name := str(ref, "table_name")
		lname := strings.ToLower(name)
		if s, cat := str(ref, "schema_name"), str(ref, "catalog_name"); s != "" || cat != "" {
			return invalid("table %q: only configured table associations can be queried, without a schema or catalog", strings.Trim(cat+"."+s, ".")+"."+name)
		}
		if scope.has(lname) {
			return nil // a common table expression
		}
		if strings.HasPrefix(lname, "__cr") {
			return invalid("table %q is not a configured table association of this collaboration", name)
		}
		t := c.req.Tables[lname]
		if t == nil {
			if strings.ContainsAny(name, "./\\'") {
				return invalid("%q is not a configured table association: file paths and other sources can't be queried", name)
			}
			return invalid("table %q is not a configured table association of this collaboration", name)
		}
		tu := c.tables[lname]
		if tu == nil {
			tu = &tableUse{key: lname, table: t, view: fmt.Sprintf("__cr_view_%d", len(c.ordered)), colOK: map[string]bool{}}
			for _, a := range t.Allowed {
				tu.cols = append(tu.cols, a)
				tu.colOK[strings.ToLower(a)] = true
			}
			c.tables[lname] = tu
			c.ordered = append(c.ordered, tu)
		}
		c.refs = append(c.refs, ref)
		c.refUses = append(c.refUses, tu)
		return nil
	})
	if err != nil {
		return err
	}
	if err := walkMaps(doc, func(n node) error {
		if isQueryNode(n) {
			for _, e := range nodes(obj(n, "cte_map"), "map") {
				k := strings.ToLower(str(e, "key"))
				if strings.HasPrefix(k, "__cr") {
					return invalid("common table expression names can't start with __cr")
				}
				c.cteNames[k] = true
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := walkMaps(doc, func(n node) error {
		if str(n, "class") == "" && str(n, "type") == "TABLE_FUNCTION" {
			return invalid("table function %s is not allowed: queries can only read configured tables", str(obj(n, "function"), "function_name"))
		}
		return nil
	}); err != nil {
		return err
	}
	if len(c.ordered) == 0 {
		return invalid("the query must reference at least one configured table")
	}
	for _, tu := range c.ordered {
		rt := tu.table.Rule.Type
		if rt == "" {
			return invalid("table %q has no analysis rule and can't be queried", tu.key)
		}
		if c.ruleType == "" {
			c.ruleType = rt
		} else if rt != c.ruleType {
			return invalid("queries can only reference configured tables with the same analysis rule type: %q has %s, %q has %s",
				c.ordered[0].key, c.ruleType, tu.key, rt)
		}
	}
	for _, tu := range c.ordered {
		r := tu.table.Rule
		ok := (r.Type == RuleAggregation && r.Aggregation != nil) || (r.Type == RuleList && r.List != nil) || (r.Type == RuleCustom && r.Custom != nil)
		if !ok {
			if r.Type == RuleAggregation || r.Type == RuleList || r.Type == RuleCustom {
				return invalid("table %q: its %s analysis rule has no policy", tu.key, r.Type)
			}
			return invalid("table %q: analysis rule type %s is not supported", tu.key, r.Type)
		}
	}
	q := root(doc)
	switch c.ruleType {
	case RuleAggregation:
		return c.checkAggregation(q)
	case RuleList:
		return c.checkList(q)
	default:
		return c.checkCustom(q)
	}
}

// safety returns the classifier of expressions that can fail, with colType
// giving the types of column references.
func (c *checker) safety(colType func(ref node) string) *safety {
	return &safety{e: c.e, ctx: c.ctx, colType: colType}
}

// rewriteTables points every configured-table reference at its sandbox view.
// The reference keeps its name as alias, so qualified column references still
// resolve; the view is catalog-qualified so no CTE can shadow it.
func (c *checker) rewriteTables(doc node) {
	for i, ref := range c.refs {
		if str(ref, "alias") == "" {
			ref["alias"] = str(ref, "table_name")
		}
		ref["table_name"] = c.refUses[i].view
		ref["schema_name"] = "main"
		ref["catalog_name"] = "memory"
	}
}

func walkMaps(v any, fn func(node) error) error {
	switch t := v.(type) {
	case map[string]any:
		if err := fn(t); err != nil {
			return err
		}
		for _, k := range keysOf(t) {
			x := t[k]
			if err := walkMaps(x, fn); err != nil {
				return err
			}
		}
	case []any:
		for _, x := range t {
			if err := walkMaps(x, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// Node types the sweep accepts. Expression nodes (with a class) are checked
// separately.
var sweepTypes = map[string]bool{
	"SELECT_NODE": true, "SET_OPERATION_NODE": true,
	"ORDER_MODIFIER": true, "LIMIT_MODIFIER": true, "DISTINCT_MODIFIER": true, "LIMIT_PERCENT_MODIFIER": true,
	"ORDER_DEFAULT": true, "ASCENDING": true, "DESCENDING": true,
	"BASE_TABLE": true, "JOIN": true, "SUBQUERY": true, "EMPTY": true, "EXPRESSION_LIST": true,
}

var sweepClasses = map[string]bool{
	"CONSTANT": true, "COLUMN_REF": true, "FUNCTION": true, "CAST": true, "COMPARISON": true,
	"CONJUNCTION": true, "OPERATOR": true, "BETWEEN": true, "CASE": true, "SUBQUERY": true,
	"WINDOW": true, "STAR": true, "COLLATE": true,
}

// sweep walks the whole tree and refuses anything outside the constructs
// every rule checker knows: table functions, unknown sources, lambdas,
// unbound parameters, functions off the allow-list, COLUMNS(…), and so on.
// It backs up the rule checkers; it never accepts what they refused.
func (c *checker) sweep(doc node) error {
	refs := map[uintptr]bool{}
	for _, r := range c.refs {
		refs[mapID(r)] = true
	}
	isRef := func(n node) bool { return refs[mapID(n)] }
	return walkMaps(doc, func(n node) error {
		if cls := str(n, "class"); cls != "" {
			if !sweepClasses[cls] {
				return invalid("%s is not allowed", describeClass(n))
			}
			switch cls {
			case "FUNCTION", "WINDOW":
				name := strings.ToLower(str(n, "function_name"))
				if str(n, "catalog") != "" || (str(n, "schema") != "" && str(n, "schema") != "main") {
					return invalid("function %q: qualified function names are not allowed", name)
				}
				if boolean(n, "export_state") {
					return invalid("EXPORT_STATE is not allowed")
				}
				if !customFunctions[name] {
					return invalid("function %s is not allowed", name)
				}
			case "STAR":
				if boolean(n, "columns") || !isNull(n, "expr") {
					return invalid("COLUMNS(…) is not allowed")
				}
				if len(arr(n, "replace_list")) > 0 || len(arr(n, "rename_list")) > 0 || len(arr(n, "qualified_exclude_list")) > 0 {
					return invalid("SELECT * REPLACE/RENAME is not allowed")
				}
				if c.ruleType != RuleCustom {
					return invalid("SELECT * is not allowed under the %s rule", c.ruleType)
				}
			}
			return nil
		}
		t, ok := n["type"].(string)
		if !ok {
			return nil
		}
		if strings.HasSuffix(t, "_TYPE_INFO") {
			return nil
		}
		if !sweepTypes[t] {
			return invalid("%s is not allowed", describeType(t))
		}
		switch t {
		case "BASE_TABLE":
			if !isNull(n, "sample") {
				return invalid("TABLESAMPLE is not allowed")
			}
			if !isNull(n, "at_clause") {
				return invalid("AT (time travel) clauses are not allowed")
			}
			if isRef(n) {
				return nil
			}
			if str(n, "schema_name") != "" || str(n, "catalog_name") != "" || !c.cteNames[strings.ToLower(str(n, "table_name"))] {
				return invalid("table %q is not a configured table association of this collaboration", str(n, "table_name"))
			}
		case "JOIN", "SUBQUERY", "EXPRESSION_LIST":
			if !isNull(n, "sample") {
				return invalid("TABLESAMPLE is not allowed")
			}
			if t == "EXPRESSION_LIST" {
				return invalid("VALUES lists are not supported")
			}
		case "SELECT_NODE":
			if !isNull(n, "sample") {
				return invalid("USING SAMPLE is not allowed")
			}
		}
		return nil
	})
}

// mapID identifies a map value (maps are references).
func mapID(m map[string]any) uintptr { return reflect.ValueOf(m).Pointer() }

func describeClass(n node) string {
	switch str(n, "class") {
	case "LAMBDA":
		return "a lambda function"
	case "PARAMETER":
		return "an unbound parameter"
	case "POSITIONAL_REFERENCE":
		return "a positional column reference (#n)"
	}
	return "the expression " + strings.ToLower(str(n, "type"))
}

func describeType(t string) string {
	switch t {
	case "TABLE_FUNCTION":
		return "a table function"
	case "PIVOT":
		return "PIVOT/UNPIVOT"
	case "RECURSIVE_CTE_NODE":
		return "WITH RECURSIVE"
	case "SHOW_REF":
		return "DESCRIBE/SHOW/SUMMARIZE"
	}
	return "the construct " + strings.ToLower(t)
}
