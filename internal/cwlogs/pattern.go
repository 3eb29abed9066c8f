package cwlogs

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/cleanroomsd/cleanroomsd/internal/fault"
)

// matcher reports whether a log event's message matches a filter pattern.
type matcher func(msg string) bool

// compilePattern compiles a CloudWatch Logs filter pattern. It supports the
// forms of the filter and pattern syntax that matter for reading logs:
//
//   - the empty pattern, which matches every event;
//   - terms: words or "quoted phrases", all of which must appear in the
//     message (case-sensitive); a term written ?term matches when any of the
//     ?-terms appears, and -term excludes messages containing it;
//   - %regex%, matched anywhere in the message;
//   - JSON patterns { $.a.b[0] = "value" }, with = and != against strings
//     (* is a wildcard) or numbers, < <= > >= against numbers, IS NULL,
//     NOT EXISTS, IS TRUE, IS FALSE, && and || and parentheses. A message
//     that is not a JSON object matches no JSON pattern.
//
// Space-delimited patterns ([ip, user, ...]) are refused as invalid.
func compilePattern(p string) (matcher, error) {
	p = strings.TrimSpace(p)
	switch {
	case p == "":
		return func(string) bool { return true }, nil
	case strings.HasPrefix(p, "{"):
		return compileJSONPattern(p)
	case strings.HasPrefix(p, "["):
		return nil, invalidPattern("space-delimited filter patterns ([...]) are not supported by cleanroomsd")
	case len(p) >= 2 && p[0] == '%' && p[len(p)-1] == '%':
		re, err := regexp.Compile(p[1 : len(p)-1])
		if err != nil {
			return nil, invalidPattern("invalid regular expression: " + err.Error())
		}
		return re.MatchString, nil
	}
	return compileTerms(p)
}

func invalidPattern(msg string) error {
	return fault.Newf(fault.Validation, "Invalid filter pattern: %s", msg)
}

// compileTerms compiles the unstructured-term form.
func compileTerms(p string) (matcher, error) {
	var all, any, none []string
	for i := 0; i < len(p); {
		r := rune(p[i])
		if unicode.IsSpace(r) {
			i++
			continue
		}
		mod := byte(0)
		if p[i] == '?' || p[i] == '-' {
			mod = p[i]
			i++
			if i == len(p) || unicode.IsSpace(rune(p[i])) {
				return nil, invalidPattern(fmt.Sprintf("%q must be followed by a term", string(mod)))
			}
		}
		var term string
		if p[i] == '"' {
			s, n, err := quoted(p[i:])
			if err != nil {
				return nil, err
			}
			term, i = s, i+n
		} else {
			j := i
			for j < len(p) && !unicode.IsSpace(rune(p[j])) {
				j++
			}
			term, i = p[i:j], j
		}
		if term == "" {
			continue
		}
		switch mod {
		case '?':
			any = append(any, term)
		case '-':
			none = append(none, term)
		default:
			all = append(all, term)
		}
	}
	return func(msg string) bool {
		for _, t := range all {
			if !strings.Contains(msg, t) {
				return false
			}
		}
		for _, t := range none {
			if strings.Contains(msg, t) {
				return false
			}
		}
		if len(any) == 0 {
			return true
		}
		for _, t := range any {
			if strings.Contains(msg, t) {
				return true
			}
		}
		return false
	}, nil
}

// quoted reads a double-quoted string at the start of s (backslash escapes
// the next character) and returns its content and the bytes consumed.
func quoted(s string) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), i + 1, nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", 0, invalidPattern("unterminated quoted string")
}

// ---- JSON patterns ----

type jsonExpr interface {
	eval(doc any) bool
}

type andExpr struct{ l, r jsonExpr }
type orExpr struct{ l, r jsonExpr }

func (e andExpr) eval(d any) bool { return e.l.eval(d) && e.r.eval(d) }
func (e orExpr) eval(d any) bool  { return e.l.eval(d) || e.r.eval(d) }

// step is one selector step: a member name or an array index.
type step struct {
	name  string
	index int // -1 for a member step
}

type selector []step

// get returns the selected value and whether it exists.
func (s selector) get(doc any) (any, bool) {
	v := doc
	for _, st := range s {
		if st.index >= 0 {
			arr, ok := v.([]any)
			if !ok || st.index >= len(arr) {
				return nil, false
			}
			v = arr[st.index]
			continue
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[st.name]; !ok {
			return nil, false
		}
	}
	return v, true
}

type compareExpr struct {
	sel selector
	op  string
	// One of these is the operand.
	str  *string        // a string, possibly with * wildcards
	glob *regexp.Regexp // str compiled, when it has wildcards
	re   *regexp.Regexp // a %regex% operand
	num  *float64       // a number (str then holds its text)
	kind string         // "null", "notexists", "true", "false" for the IS and NOT EXISTS forms
}

func (e compareExpr) eval(doc any) bool {
	v, ok := e.sel.get(doc)
	switch e.kind {
	case "null":
		return ok && v == nil
	case "notexists":
		return !ok
	case "true":
		b, isBool := v.(bool)
		return ok && isBool && b
	case "false":
		b, isBool := v.(bool)
		return ok && isBool && !b
	}
	if !ok {
		return false
	}
	var eq bool
	switch {
	case e.num != nil:
		n, isNum := number(v)
		if !isNum {
			// = and != also compare a number's text with a string value.
			s, isStr := v.(string)
			if !isStr || (e.op != "=" && e.op != "!=") {
				return false
			}
			return (s == *e.str) == (e.op == "=")
		}
		switch e.op {
		case "<":
			return n < *e.num
		case "<=":
			return n <= *e.num
		case ">":
			return n > *e.num
		case ">=":
			return n >= *e.num
		}
		eq = n == *e.num
	case e.re != nil:
		s, isStr := scalarString(v)
		eq = isStr && e.re.MatchString(s)
	default:
		s, isStr := scalarString(v)
		if !isStr {
			return false
		}
		if e.glob != nil {
			eq = e.glob.MatchString(s)
		} else {
			eq = s == *e.str
		}
	}
	if e.op == "!=" {
		return !eq
	}
	return eq
}

func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// scalarString returns strings as they are and numbers and booleans as
// written, so { $.code = 200 } and { $.code = "200" } both match 200.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

func compileJSONPattern(p string) (matcher, error) {
	if !strings.HasSuffix(p, "}") {
		return nil, invalidPattern("a JSON filter pattern must end with }")
	}
	toks, err := lexJSONPattern(p[1 : len(p)-1])
	if err != nil {
		return nil, err
	}
	ps := &jsonParser{toks: toks}
	expr, err := ps.or()
	if err != nil {
		return nil, err
	}
	if ps.pos != len(ps.toks) {
		return nil, invalidPattern(fmt.Sprintf("unexpected %q", ps.toks[ps.pos].text))
	}
	return func(msg string) bool {
		msg = strings.TrimSpace(msg)
		if !strings.HasPrefix(msg, "{") {
			return false
		}
		dec := json.NewDecoder(strings.NewReader(msg))
		dec.UseNumber()
		var doc any
		if err := dec.Decode(&doc); err != nil {
			return false
		}
		return expr.eval(doc)
	}, nil
}

type tokKind int

const (
	tkSel tokKind = iota
	tkOp
	tkString
	tkRegex
	tkWord
	tkLParen
	tkRParen
	tkAnd
	tkOr
)

type tok struct {
	kind tokKind
	text string
}

func lexJSONPattern(s string) ([]tok, error) {
	var toks []tok
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, tok{tkLParen, "("})
			i++
		case c == ')':
			toks = append(toks, tok{tkRParen, ")"})
			i++
		case strings.HasPrefix(s[i:], "&&"):
			toks = append(toks, tok{tkAnd, "&&"})
			i += 2
		case strings.HasPrefix(s[i:], "||"):
			toks = append(toks, tok{tkOr, "||"})
			i += 2
		case strings.HasPrefix(s[i:], "!="), strings.HasPrefix(s[i:], "<="), strings.HasPrefix(s[i:], ">="):
			toks = append(toks, tok{tkOp, s[i : i+2]})
			i += 2
		case c == '=' || c == '<' || c == '>':
			toks = append(toks, tok{tkOp, s[i : i+1]})
			i++
		case c == '"':
			str, n, err := quoted(s[i:])
			if err != nil {
				return nil, err
			}
			toks = append(toks, tok{tkString, str})
			i += n
		case c == '%':
			j := strings.IndexByte(s[i+1:], '%')
			if j < 0 {
				return nil, invalidPattern("unterminated %regex%")
			}
			toks = append(toks, tok{tkRegex, s[i+1 : i+1+j]})
			i += j + 2
		case c == '$':
			j := i + 1
			for j < len(s) && !strings.ContainsRune(" \t\r\n()=!<>&|", rune(s[j])) {
				j++
			}
			toks = append(toks, tok{tkSel, s[i:j]})
			i = j
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n()=!<>&|\"", rune(s[j])) {
				j++
			}
			if j == i {
				return nil, invalidPattern(fmt.Sprintf("unexpected %q", string(c)))
			}
			toks = append(toks, tok{tkWord, s[i:j]})
			i = j
		}
	}
	return toks, nil
}

type jsonParser struct {
	toks []tok
	pos  int
}

func (p *jsonParser) peek() *tok {
	if p.pos < len(p.toks) {
		return &p.toks[p.pos]
	}
	return nil
}

func (p *jsonParser) next() *tok {
	t := p.peek()
	if t != nil {
		p.pos++
	}
	return t
}

func (p *jsonParser) or() (jsonExpr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for t := p.peek(); t != nil && t.kind == tkOr; t = p.peek() {
		p.pos++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = orExpr{l, r}
	}
	return l, nil
}

func (p *jsonParser) and() (jsonExpr, error) {
	l, err := p.primary()
	if err != nil {
		return nil, err
	}
	for t := p.peek(); t != nil && t.kind == tkAnd; t = p.peek() {
		p.pos++
		r, err := p.primary()
		if err != nil {
			return nil, err
		}
		l = andExpr{l, r}
	}
	return l, nil
}

func (p *jsonParser) primary() (jsonExpr, error) {
	t := p.next()
	switch {
	case t == nil:
		return nil, invalidPattern("the JSON filter pattern ends too early")
	case t.kind == tkLParen:
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c == nil || c.kind != tkRParen {
			return nil, invalidPattern("missing )")
		}
		return e, nil
	case t.kind != tkSel:
		return nil, invalidPattern(fmt.Sprintf("expected a selector such as $.field, found %q", t.text))
	}
	sel, err := parseSelector(t.text)
	if err != nil {
		return nil, err
	}
	op := p.next()
	if op == nil {
		return nil, invalidPattern("missing operator after " + t.text)
	}
	if op.kind == tkWord {
		// IS NULL, IS TRUE, IS FALSE, NOT EXISTS.
		w := p.next()
		if w == nil || w.kind != tkWord {
			return nil, invalidPattern("incomplete " + op.text + " clause")
		}
		switch strings.ToUpper(op.text) + " " + strings.ToUpper(w.text) {
		case "IS NULL":
			return compareExpr{sel: sel, kind: "null"}, nil
		case "IS TRUE":
			return compareExpr{sel: sel, kind: "true"}, nil
		case "IS FALSE":
			return compareExpr{sel: sel, kind: "false"}, nil
		case "NOT EXISTS":
			return compareExpr{sel: sel, kind: "notexists"}, nil
		}
		return nil, invalidPattern(fmt.Sprintf("unknown clause %s %s", op.text, w.text))
	}
	if op.kind != tkOp {
		return nil, invalidPattern(fmt.Sprintf("expected an operator, found %q", op.text))
	}
	val := p.next()
	if val == nil {
		return nil, invalidPattern("missing value after " + op.text)
	}
	e := compareExpr{sel: sel, op: op.text}
	numeric := op.text != "=" && op.text != "!="
	switch val.kind {
	case tkRegex:
		if numeric {
			return nil, invalidPattern(op.text + " needs a number")
		}
		re, err := regexp.Compile(val.text)
		if err != nil {
			return nil, invalidPattern("invalid regular expression: " + err.Error())
		}
		e.re = re
	case tkString, tkWord:
		if f, err := strconv.ParseFloat(val.text, 64); err == nil && val.kind == tkWord {
			e.num, e.str = &f, &val.text
			break
		}
		if numeric {
			return nil, invalidPattern(op.text + " needs a number")
		}
		s := val.text
		e.str = &s
		if strings.Contains(s, "*") {
			parts := strings.Split(s, "*")
			for i := range parts {
				parts[i] = regexp.QuoteMeta(parts[i])
			}
			e.glob = regexp.MustCompile("(?s)^" + strings.Join(parts, ".*") + "$")
		}
	default:
		return nil, invalidPattern(fmt.Sprintf("expected a value, found %q", val.text))
	}
	return e, nil
}

// parseSelector parses $.a.b[0].c.
func parseSelector(s string) (selector, error) {
	if !strings.HasPrefix(s, "$") {
		return nil, invalidPattern("a selector starts with $")
	}
	var sel selector
	rest := s[1:]
	for rest != "" {
		switch rest[0] {
		case '.':
			j := 1
			for j < len(rest) && rest[j] != '.' && rest[j] != '[' {
				j++
			}
			if j == 1 {
				return nil, invalidPattern("empty member name in " + s)
			}
			sel = append(sel, step{name: rest[1:j], index: -1})
			rest = rest[j:]
		case '[':
			j := strings.IndexByte(rest, ']')
			if j < 0 {
				return nil, invalidPattern("missing ] in " + s)
			}
			n, err := strconv.Atoi(rest[1:j])
			if err != nil || n < 0 {
				return nil, invalidPattern("array index must be a non-negative integer in " + s)
			}
			sel = append(sel, step{index: n})
			rest = rest[j+1:]
		default:
			return nil, invalidPattern("invalid selector " + s)
		}
	}
	if len(sel) == 0 {
		return nil, invalidPattern("a selector names a field, as in $.field")
	}
	return sel, nil
}
