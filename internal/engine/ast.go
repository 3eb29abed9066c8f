package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// node is one object of DuckDB's JSON syntax tree.
type node = map[string]any

// MaxQueryBytes caps the query text (Clean Rooms allows 500 KB on Spark).
const MaxQueryBytes = 512 << 10

// invalidLocation is DuckDB's "no query location" marker.
const invalidLocation = json.Number("18446744073709551615")

var memoryLimitRE = regexp.MustCompile(`^(?i)[0-9]+(\.[0-9]+)?\s*(b|kb|kib|mb|mib|gb|gib|tb|tib)$`)

func obj(n node, k string) node {
	if n == nil {
		return nil
	}
	m, _ := n[k].(map[string]any)
	return m
}

func arr(n node, k string) []any {
	if n == nil {
		return nil
	}
	a, _ := n[k].([]any)
	return a
}

func str(n node, k string) string {
	if n == nil {
		return ""
	}
	s, _ := n[k].(string)
	return s
}

func boolean(n node, k string) bool {
	if n == nil {
		return false
	}
	b, _ := n[k].(bool)
	return b
}

// isNull reports whether key k is absent or JSON null.
func isNull(n node, k string) bool {
	v, ok := n[k]
	return !ok || v == nil
}

// nodes returns the objects of an array member.
func nodes(n node, k string) []node {
	var out []node
	for _, v := range arr(n, k) {
		if m, ok := v.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func strs(n node, k string) []string {
	var out []string
	for _, v := range arr(n, k) {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func decodeJSON(s string) (node, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var n node
	if err := d.Decode(&n); err != nil {
		return nil, err
	}
	return n, nil
}

func encodeJSON(n node) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(n); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}

// serialize runs DuckDB's parser on text and returns the JSON document.
func (e *Engine) serialize(ctx context.Context, text string) (node, error) {
	var out string
	err := e.parser.QueryRowContext(ctx, "SELECT CAST(json_serialize_sql(CAST(? AS VARCHAR)) AS VARCHAR)", text).Scan(&out)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("engine: parser: %w", err)
	}
	doc, err := decodeJSON(out)
	if err != nil {
		return nil, invalid("the query could not be parsed (%v)", err)
	}
	return doc, nil
}

// parseSelect parses text, which must be exactly one SELECT statement, and
// returns the document (with its single statement).
func (e *Engine) parseSelect(ctx context.Context, text string) (node, error) {
	if len(text) > MaxQueryBytes {
		return nil, invalid("the query is longer than %d bytes", MaxQueryBytes)
	}
	if strings.ContainsRune(text, 0) {
		return nil, invalid("the query contains a NUL character")
	}
	if !utf8.ValidString(text) {
		return nil, invalid("the query is not valid UTF-8")
	}
	doc, err := e.serialize(ctx, text)
	if err != nil {
		return nil, err
	}
	if boolean(doc, "error") {
		msg := str(doc, "error_message")
		if strings.Contains(msg, "Only SELECT statements") {
			return nil, invalid("only a single SELECT statement is allowed")
		}
		return nil, invalid("the query could not be parsed: %s", oneLine(msg))
	}
	st := arr(doc, "statements")
	if len(st) != 1 {
		return nil, invalid("exactly one SELECT statement is allowed, the query has %d", len(st))
	}
	s, _ := st[0].(map[string]any)
	if s == nil || obj(s, "node") == nil {
		return nil, invalid("only a single SELECT statement is allowed")
	}
	return doc, nil
}

// root returns the top query node of a parsed document.
func root(doc node) node {
	s, _ := arr(doc, "statements")[0].(map[string]any)
	return obj(s, "node")
}

// regenerate turns the checked document back into SQL with
// json_deserialize_sql and verifies that parsing that SQL gives back the same
// tree, so the text that runs means exactly what was checked.
func (e *Engine) regenerate(ctx context.Context, doc node) (string, error) {
	js, err := encodeJSON(doc)
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
	again, err := e.parseSelect(ctx, out)
	if err != nil {
		return "", invalid("the query uses a construct cleanroomsd cannot regenerate faithfully")
	}
	if !reflect.DeepEqual(stripLocations(root(doc)), stripLocations(root(again))) {
		return "", invalid("the query uses a construct cleanroomsd cannot regenerate faithfully")
	}
	return out, nil
}

// stripLocations returns a copy of v without query_location members, for
// comparing trees.
func stripLocations(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			if k == "query_location" {
				continue
			}
			m[k] = stripLocations(x)
		}
		return m
	case []any:
		a := make([]any, len(t))
		for i, x := range t {
			a[i] = stripLocations(x)
		}
		return a
	default:
		return v
	}
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortStrings(s []string) { sort.Strings(s) }

// Constructors of tree nodes used by rewrites.

func constantNode(typeID string, value any) node {
	return node{
		"class": "CONSTANT", "type": "VALUE_CONSTANT", "alias": "", "query_location": invalidLocation,
		"value": node{"type": node{"id": typeID, "type_info": nil}, "is_null": false, "value": value},
	}
}

func columnRefNode(names ...string) node {
	a := make([]any, len(names))
	for i, n := range names {
		a[i] = n
	}
	return node{"class": "COLUMN_REF", "type": "COLUMN_REF", "alias": "", "query_location": invalidLocation, "column_names": a}
}

func functionNode(name string, distinct bool, children ...node) node {
	ch := make([]any, len(children))
	for i, c := range children {
		ch[i] = c
	}
	return node{
		"class": "FUNCTION", "type": "FUNCTION", "alias": "", "query_location": invalidLocation,
		"function_name": name, "schema": "", "catalog": "", "children": ch, "filter": nil,
		"order_bys": node{"type": "ORDER_MODIFIER", "orders": []any{}},
		"distinct":  distinct, "is_operator": false, "export_state": false,
	}
}

func comparisonNode(typ string, left, right node) node {
	return node{"class": "COMPARISON", "type": typ, "alias": "", "query_location": invalidLocation, "left": left, "right": right}
}

func andNode(children ...node) node {
	ch := make([]any, len(children))
	for i, c := range children {
		ch[i] = c
	}
	return node{"class": "CONJUNCTION", "type": "CONJUNCTION_AND", "alias": "", "query_location": invalidLocation, "children": ch}
}

// keysOf returns a map's keys in sorted order, so walks are deterministic.
func keysOf(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
