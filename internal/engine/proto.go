package engine

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// protos are syntax tree nodes of shapes the rewrites build, taken from
// DuckDB's own parser at start-up so that they always have every member the
// running DuckDB's serializer expects.
type protos struct {
	sel       node // an empty SELECT_NODE (FROM nothing)
	subquery  node // a subquery in FROM
	order     node // an ORDER_MODIFIER
	orderItem node // one ascending ORDER BY term
}

func parseProtos(ctx context.Context, db *sql.DB) (*protos, error) {
	var out string
	if err := db.QueryRowContext(ctx, "SELECT CAST(json_serialize_sql('SELECT 1 FROM (SELECT 1) AS q ORDER BY 1') AS VARCHAR)").Scan(&out); err != nil {
		return nil, err
	}
	doc, err := decodeJSON(out)
	if err != nil || boolean(doc, "error") || len(arr(doc, "statements")) != 1 {
		return nil, fmt.Errorf("engine: unexpected parser output %q", out)
	}
	q := root(doc)
	sub := obj(q, "from_table")
	mods := nodes(q, "modifiers")
	if str(sub, "type") != "SUBQUERY" || len(mods) != 1 || len(nodes(mods[0], "orders")) != 1 {
		return nil, fmt.Errorf("engine: unexpected parser output %q", out)
	}
	sel := obj(obj(sub, "subquery"), "node")
	if str(sel, "type") != "SELECT_NODE" {
		return nil, fmt.Errorf("engine: unexpected parser output %q", out)
	}
	p := &protos{sel: copyNode(sel), subquery: copyNode(sub), order: copyNode(mods[0]), orderItem: copyNode(nodes(mods[0], "orders")[0])}
	p.sel["select_list"] = []any{}
	obj(p.subquery, "subquery")["node"] = nil
	p.order["orders"] = []any{}
	return p, nil
}

// selectNode returns a new SELECT node with no items, FROM nothing.
func (e *Engine) selectNode() node { return copyNode(e.protos.sel) }

// subqueryRef returns FROM (inner) AS alias.
func (e *Engine) subqueryRef(inner node, alias string) node {
	r := copyNode(e.protos.subquery)
	r["alias"] = alias
	obj(r, "subquery")["node"] = inner
	return r
}

// orderModifier returns ORDER BY orders.
func (e *Engine) orderModifier(orders []any) node {
	m := copyNode(e.protos.order)
	m["orders"] = orders
	return m
}

// orderItem returns the ORDER BY term for output column pos (1-based).
func (e *Engine) orderItem(pos int) node {
	o := copyNode(e.protos.orderItem)
	o["expression"] = constantNode("INTEGER", json.Number(strconv.Itoa(pos)))
	return o
}

// expressionName returns the name DuckDB gives a SELECT item without an
// alias: a column's name, else the expression as DuckDB prints it.
func (e *Engine) expressionName(ctx context.Context, item node) (string, error) {
	if str(item, "class") == "COLUMN_REF" {
		names := strs(item, "column_names")
		if len(names) > 0 {
			return names[len(names)-1], nil
		}
	}
	x := copyNode(item)
	x["alias"] = ""
	sel := e.selectNode()
	sel["select_list"] = []any{x}
	js, err := encodeJSON(node{"error": false, "statements": []any{node{"node": sel, "named_param_map": []any{}}}})
	if err != nil {
		return "", fmt.Errorf("engine: encode syntax tree: %w", err)
	}
	var out string
	if err := e.parser.QueryRowContext(ctx, "SELECT json_deserialize_sql(CAST(? AS JSON))", js).Scan(&out); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", invalid("the query uses a construct cleanroomsd cannot regenerate: %s", oneLine(err.Error()))
	}
	name, ok := strings.CutPrefix(out, "SELECT ")
	if !ok {
		return "", invalid("the query uses a construct cleanroomsd cannot regenerate faithfully")
	}
	return name, nil
}
