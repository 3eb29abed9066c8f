package engine

import (
	"context"
	"regexp"
	"strings"
	"unicode/utf8"
)

// translateParams rewrites Clean Rooms template parameters (:name) into
// DuckDB's named parameter syntax ($name) so DuckDB's parser yields PARAMETER
// nodes. It only touches a colon that starts an identifier outside string
// literals, quoted identifiers, comments, brackets and braces, and that is not
// part of a :: cast or a := named argument. Values are never spliced here;
// they are bound into the syntax tree by bindParameters.
func translateParams(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	depth := 0 // [] and {} nesting
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\'' || c == '"':
			j := skipQuoted(s, i, c)
			b.WriteString(s[i:j])
			i = j
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				j = len(s) - i
			}
			b.WriteString(s[i : i+j])
			i += j
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			j := skipBlockComment(s, i)
			b.WriteString(s[i:j])
			i = j
		case c == '$':
			if j, ok := skipDollarQuoted(s, i); ok {
				b.WriteString(s[i:j])
				i = j
			} else {
				b.WriteByte(c)
				i++
			}
		case c == '[' || c == '{':
			depth++
			b.WriteByte(c)
			i++
		case c == ']' || c == '}':
			if depth > 0 {
				depth--
			}
			b.WriteByte(c)
			i++
		case c == ':' && depth == 0 && i+1 < len(s) && isIdentStart(s[i+1]) &&
			(i == 0 || (!isIdentChar(s[i-1]) && s[i-1] != ':')):
			b.WriteByte('$')
			i++
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

// skipQuoted returns the index after the literal opened by q at i; a doubled
// quote is an escaped quote.
func skipQuoted(s string, i int, q byte) int {
	for j := i + 1; j < len(s); j++ {
		if s[j] == q {
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(s)
}

func skipBlockComment(s string, i int) int {
	depth := 0
	for j := i; j+1 < len(s); j++ {
		switch {
		case s[j] == '/' && s[j+1] == '*':
			depth++
			j++
		case s[j] == '*' && s[j+1] == '/':
			depth--
			j++
			if depth == 0 {
				return j + 1
			}
		}
	}
	return len(s)
}

// skipDollarQuoted skips a $tag$…$tag$ string starting at i.
func skipDollarQuoted(s string, i int) (int, bool) {
	j := i + 1
	for j < len(s) && isIdentChar(s[j]) {
		j++
	}
	if j >= len(s) || s[j] != '$' {
		return 0, false
	}
	tag := s[i : j+1]
	if len(tag) > 2 && tag[1] >= '0' && tag[1] <= '9' {
		return 0, false // $1$ is not a tag
	}
	k := strings.Index(s[j+1:], tag)
	if k < 0 {
		return len(s), true
	}
	return j + 1 + k + len(tag), true
}

// awsParamTypes maps Clean Rooms analysis template parameter types to DuckDB
// types.
var awsParamTypes = map[string]string{
	"SMALLINT": "SMALLINT", "SHORT": "SMALLINT", "TINYINT": "TINYINT",
	"INTEGER": "INTEGER", "INT": "INTEGER", "BIGINT": "BIGINT", "LONG": "BIGINT",
	"DECIMAL": "DECIMAL(38,9)", "NUMERIC": "DECIMAL(38,9)",
	"REAL": "FLOAT", "FLOAT": "FLOAT", "DOUBLE": "DOUBLE", "DOUBLE_PRECISION": "DOUBLE",
	"BOOLEAN": "BOOLEAN",
	"CHAR":    "VARCHAR", "CHARACTER": "VARCHAR", "VARCHAR": "VARCHAR", "STRING": "VARCHAR",
	"DATE": "DATE", "TIMESTAMP": "TIMESTAMP", "TIMESTAMP_NTZ": "TIMESTAMP",
	"TIMESTAMPTZ": "TIMESTAMPTZ", "TIMESTAMP_LTZ": "TIMESTAMPTZ",
	"TIME": "TIME", "TIMETZ": "TIMETZ",
	"VARBYTE": "BLOB", "BINARY": "BLOB", "BYTE": "BLOB",
}

var paramTypeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z_ ]{0,40}(\(\s*[0-9]{1,2}\s*(,\s*[0-9]{1,2}\s*)?\))?$`)

// castType returns DuckDB's serialized form of a parameter type.
func (e *Engine) castType(ctx context.Context, name, typ string) (any, error) {
	t := strings.TrimSpace(typ)
	if m, ok := awsParamTypes[strings.ToUpper(t)]; ok {
		t = m
	}
	if !paramTypeRE.MatchString(t) {
		return nil, invalid("parameter :%s has an unsupported type %q", name, typ)
	}
	doc, err := e.parseSelect(ctx, "SELECT CAST(NULL AS "+t+")")
	if err != nil {
		return nil, invalid("parameter :%s has an unsupported type %q", name, typ)
	}
	sel := nodes(root(doc), "select_list")
	if len(sel) != 1 || str(sel[0], "class") != "CAST" {
		return nil, invalid("parameter :%s has an unsupported type %q", name, typ)
	}
	return sel[0]["cast_type"], nil
}

// bindParameters replaces every PARAMETER node by a constant holding the
// parameter's value (cast to its declared type when one is given).
func (e *Engine) bindParameters(ctx context.Context, doc node, req *Request) error {
	params := map[string]string{}
	for k, v := range req.Parameters {
		params[strings.ToLower(k)] = v
	}
	types := map[string]string{}
	for k, v := range req.ParameterTypes {
		types[strings.ToLower(k)] = v
	}
	var ferr error
	rewriteNodes(doc, func(n node) node {
		if ferr != nil || str(n, "class") != "PARAMETER" {
			return nil
		}
		id := strings.ToLower(str(n, "identifier"))
		v, ok := params[id]
		if !ok {
			if id != "" && id[0] >= '0' && id[0] <= '9' {
				ferr = invalid("positional parameters ($1, ?) are not supported; use :name template parameters")
			} else {
				ferr = invalid("parameter :%s has no value", id)
			}
			return nil
		}
		if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			ferr = invalid("parameter :%s is not valid UTF-8 text", id)
			return nil
		}
		c := constantNode("VARCHAR", v)
		c["alias"] = str(n, "alias")
		if t, ok := types[id]; ok && t != "" {
			ct, err := e.castType(ctx, id, t)
			if err != nil {
				ferr = err
				return nil
			}
			c["alias"] = ""
			return node{"class": "CAST", "type": "OPERATOR_CAST", "alias": str(n, "alias"), "query_location": invalidLocation,
				"child": c, "cast_type": ct, "try_cast": false}
		}
		return c
	})
	if ferr != nil {
		return ferr
	}
	for _, s := range arr(doc, "statements") {
		if m, ok := s.(map[string]any); ok {
			m["named_param_map"] = []any{}
		}
	}
	return nil
}

// rewriteNodes walks v depth first; where fn returns a non-nil node, that
// node replaces the visited one (and is not walked further).
func rewriteNodes(v any, fn func(node) node) {
	switch t := v.(type) {
	case map[string]any:
		for _, k := range keysOf(t) {
			x := t[k]
			if m, ok := x.(map[string]any); ok {
				if r := fn(m); r != nil {
					t[k] = r
					continue
				}
			}
			rewriteNodes(x, fn)
		}
	case []any:
		for i, x := range t {
			if m, ok := x.(map[string]any); ok {
				if r := fn(m); r != nil {
					t[i] = r
					continue
				}
			}
			rewriteNodes(x, fn)
		}
	}
}
