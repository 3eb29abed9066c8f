package cleanrooms

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	api "github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
)

// This file reads analysis templates' SQL text without a SQL parser: it
// finds the :name parameters, and, when no SQLAnalyzer is configured, the
// tables a query references (fallbackAnalyzer).

type tokenKind int

const (
	tokIdent  tokenKind = iota // unquoted identifier or keyword
	tokQuoted                  // "quoted" or `quoted` identifier
	tokString                  // 'string literal'
	tokNumber
	tokParam // :name
	tokPunct
)

type token struct {
	kind tokenKind
	text string // identifiers and parameters without quotes or colon
}

func (t token) is(kw string) bool { return t.kind == tokIdent && strings.EqualFold(t.text, kw) }

func (t token) punct(p string) bool { return t.kind == tokPunct && t.text == p }

// tokenize splits SQL text into tokens, dropping whitespace and comments.
func tokenize(sql string) ([]token, error) {
	var out []token
	rs := []rune(sql)
	identStart := func(r rune) bool { return r == '_' || unicode.IsLetter(r) }
	identPart := func(r rune) bool { return r == '_' || r == '$' || unicode.IsLetter(r) || unicode.IsDigit(r) }
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '-' && i+1 < len(rs) && rs[i+1] == '-':
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
		case r == '/' && i+1 < len(rs) && rs[i+1] == '*':
			end := strings.Index(string(rs[i+2:]), "*/")
			if end < 0 {
				return nil, fmt.Errorf("unterminated /* comment")
			}
			i += 2 + len([]rune(string(rs[i+2:])[:end])) + 2
		case r == '\'' || r == '"' || r == '`':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(rs) {
					return nil, fmt.Errorf("unterminated %c quote", r)
				}
				if rs[j] == r {
					if j+1 < len(rs) && rs[j+1] == r { // doubled quote
						b.WriteRune(r)
						j += 2
						continue
					}
					break
				}
				b.WriteRune(rs[j])
				j++
			}
			kind := tokQuoted
			if r == '\'' {
				kind = tokString
			}
			out = append(out, token{kind: kind, text: b.String()})
			i = j + 1
		case r == ':' && i+1 < len(rs) && rs[i+1] == ':': // a cast, x::type
			out = append(out, token{kind: tokPunct, text: "::"})
			i += 2
		case r == ':' && i+1 < len(rs) && identStart(rs[i+1]):
			j := i + 1
			for j < len(rs) && identPart(rs[j]) {
				j++
			}
			out = append(out, token{kind: tokParam, text: string(rs[i+1 : j])})
			i = j
		case identStart(r):
			j := i
			for j < len(rs) && identPart(rs[j]) {
				j++
			}
			out = append(out, token{kind: tokIdent, text: string(rs[i:j])})
			i = j
		case unicode.IsDigit(r):
			j := i
			for j < len(rs) && (unicode.IsDigit(rs[j]) || rs[j] == '.' || unicode.IsLetter(rs[j])) {
				j++
			}
			out = append(out, token{kind: tokNumber, text: string(rs[i:j])})
			i = j
		default:
			out = append(out, token{kind: tokPunct, text: string(r)})
			i++
		}
	}
	return out, nil
}

// sqlParameters returns the :name parameters SQL text uses, each once, in
// order of first use.
func sqlParameters(sql string) ([]string, error) {
	toks, err := tokenize(sql)
	if err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	for _, t := range toks {
		if t.kind == tokParam && !seen[strings.ToLower(t.text)] {
			seen[strings.ToLower(t.text)] = true
			out = append(out, t.text)
		}
	}
	return out, nil
}

// statementKeywords start statements other than queries.
var statementKeywords = map[string]bool{
	"INSERT": true, "UPDATE": true, "DELETE": true, "MERGE": true, "CREATE": true, "DROP": true, "ALTER": true,
	"TRUNCATE": true, "GRANT": true, "REVOKE": true, "COPY": true, "UNLOAD": true, "CALL": true, "EXECUTE": true,
}

// notAliases are keywords that may follow a table name and are not its alias.
var notAliases = map[string]bool{
	"WHERE": true, "JOIN": true, "INNER": true, "LEFT": true, "RIGHT": true, "FULL": true, "OUTER": true, "CROSS": true,
	"NATURAL": true, "ON": true, "USING": true, "GROUP": true, "ORDER": true, "HAVING": true, "LIMIT": true, "OFFSET": true,
	"UNION": true, "EXCEPT": true, "INTERSECT": true, "MINUS": true, "WINDOW": true, "QUALIFY": true, "FETCH": true,
	"SEMI": true, "ANTI": true, "TABLESAMPLE": true,
}

// fallbackAnalyzer stands in for the query engine's SQL parser when none is
// configured. It is a tokenizer, not a parser: it refuses text that is not
// one SELECT (or WITH ... SELECT) statement and reports the names that
// follow FROM and JOIN in query context, leaving out common table
// expressions, subqueries and table functions. It can over-report (a name
// the engine would read differently) but it does not miss a plain table
// reference, which is the conservative direction for access checks.
type fallbackAnalyzer struct{}

func (fallbackAnalyzer) ReferencedTables(_ context.Context, sql string) ([]string, error) {
	toks, err := tokenize(sql)
	if err != nil {
		return nil, err
	}
	for i, t := range toks {
		if t.punct(";") && i != len(toks)-1 {
			return nil, fmt.Errorf("the text holds more than one statement; an analysis template is one query")
		}
	}
	if n := len(toks); n > 0 && toks[n-1].punct(";") {
		toks = toks[:n-1]
	}
	first := 0
	for first < len(toks) && toks[first].punct("(") {
		first++
	}
	if first == len(toks) || !(toks[first].is("SELECT") || toks[first].is("WITH")) {
		return nil, fmt.Errorf("only a SELECT query (optionally with WITH) is allowed")
	}
	for _, t := range toks {
		if t.kind == tokIdent && statementKeywords[strings.ToUpper(t.text)] {
			return nil, fmt.Errorf("only a SELECT query is allowed; the text contains %s", strings.ToUpper(t.text))
		}
	}
	name := func(t token) bool { return t.kind == tokIdent || t.kind == tokQuoted }

	// Common table expressions: "name [(columns)] AS (" after WITH,
	// RECURSIVE or a comma.
	ctes := map[string]bool{}
	for i := 1; i < len(toks); i++ {
		prev := toks[i-1]
		if !name(toks[i]) || !(prev.is("WITH") || prev.is("RECURSIVE") || prev.punct(",")) {
			continue
		}
		j := i + 1
		if j < len(toks) && toks[j].punct("(") {
			for j < len(toks) && !toks[j].punct(")") {
				j++
			}
			j++
		}
		if j+1 < len(toks) && toks[j].is("AS") && toks[j+1].punct("(") {
			ctes[strings.ToLower(toks[i].text)] = true
		}
	}

	var tables []string
	seen := map[string]bool{}
	query := []bool{true} // per parenthesis depth: does it hold a query?
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.punct("("):
			query = append(query, i+1 < len(toks) && (toks[i+1].is("SELECT") || toks[i+1].is("WITH")))
			continue
		case t.punct(")"):
			if len(query) > 1 {
				query = query[:len(query)-1]
			}
			continue
		case !query[len(query)-1] || !(t.is("FROM") || t.is("JOIN")):
			continue
		}
		list := t.is("FROM")
		j := i + 1
		for j < len(toks) {
			if toks[j].is("LATERAL") || toks[j].is("ONLY") {
				j++
				continue
			}
			if !name(toks[j]) {
				break // a subquery or anything else
			}
			ref := toks[j].text
			j++
			for j+1 < len(toks) && toks[j].punct(".") && name(toks[j+1]) {
				ref += "." + toks[j+1].text
				j += 2
			}
			if j < len(toks) && toks[j].punct("(") {
				break // a table function
			}
			if key := strings.ToLower(ref); !ctes[key] && !seen[key] {
				seen[key] = true
				tables = append(tables, ref)
			}
			if !list {
				break
			}
			if j < len(toks) && toks[j].is("AS") {
				j++
			}
			if j < len(toks) && name(toks[j]) && !notAliases[strings.ToUpper(toks[j].text)] {
				j++
			}
			if j < len(toks) && toks[j].punct(",") {
				j++
				continue
			}
			break
		}
	}
	return tables, nil
}

// Parameter values.

var (
	decimalRE = regexp.MustCompile(`^[+-]?(\d+(\.\d*)?|\.\d+)$`)
	zoneRE    = regexp.MustCompile(`(Z|[+-]\d{2}(:?\d{2})?)$`)
)

// checkParameterValue reports whether v is a literal of parameter type typ.
func checkParameterValue(typ api.ParameterType, v string) error {
	s := strings.TrimSpace(v)
	intOf := func(bits int) error {
		_, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			return fmt.Errorf("%q is not a %d-bit integer", v, bits)
		}
		return nil
	}
	floatOf := func(bits int) error {
		f, err := strconv.ParseFloat(s, bits)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return fmt.Errorf("%q is not a finite number", v)
		}
		return nil
	}
	switch typ {
	case api.ParameterTypeTinyint, api.ParameterTypeByte:
		return intOf(8)
	case api.ParameterTypeSmallint, api.ParameterTypeShort:
		return intOf(16)
	case api.ParameterTypeInteger, api.ParameterTypeInt:
		return intOf(32)
	case api.ParameterTypeBigint, api.ParameterTypeLong:
		return intOf(64)
	case api.ParameterTypeDecimal, api.ParameterTypeNumeric:
		if !decimalRE.MatchString(s) {
			return fmt.Errorf("%q is not a decimal number", v)
		}
		return nil
	case api.ParameterTypeReal, api.ParameterTypeFloat:
		return floatOf(32)
	case api.ParameterTypeDoublePrecision, api.ParameterTypeDouble:
		return floatOf(64)
	case api.ParameterTypeBoolean:
		switch strings.ToLower(s) {
		case "true", "false", "t", "f", "yes", "no", "1", "0":
			return nil
		}
		return fmt.Errorf("%q is not a boolean (true or false)", v)
	case api.ParameterTypeChar, api.ParameterTypeCharacter, api.ParameterTypeVarchar, api.ParameterTypeString:
		return nil
	case api.ParameterTypeDate:
		if _, err := time.Parse("2006-01-02", s); err != nil {
			return fmt.Errorf("%q is not a date (YYYY-MM-DD)", v)
		}
		return nil
	case api.ParameterTypeTimestamp, api.ParameterTypeTimestampNtz:
		if parses(s, localLayouts) {
			return nil
		}
		if parses(s, zonedLayouts) {
			return fmt.Errorf("%q has a time zone; %s values have none", v, typ)
		}
		return fmt.Errorf("%q is not a timestamp (YYYY-MM-DD HH:MM:SS)", v)
	case api.ParameterTypeTimestamptz, api.ParameterTypeTimestampLtz:
		if parses(s, localLayouts) || parses(s, zonedLayouts) {
			return nil
		}
		return fmt.Errorf("%q is not a timestamp (YYYY-MM-DD HH:MM:SS[+ZZ:ZZ])", v)
	case api.ParameterTypeTime, api.ParameterTypeTimetz:
		t := s
		if typ == api.ParameterTypeTimetz {
			t = zoneRE.ReplaceAllString(t, "")
		}
		for _, layout := range []string{"15:04:05.999999999", "15:04:05", "15:04"} {
			if _, err := time.Parse(layout, t); err == nil {
				return nil
			}
		}
		return fmt.Errorf("%q is not a time (HH:MM:SS)", v)
	case api.ParameterTypeVarbyte, api.ParameterTypeBinary:
		h := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
		if _, err := hex.DecodeString(h); err != nil {
			return fmt.Errorf("%q is not hexadecimal bytes", v)
		}
		return nil
	}
	return fmt.Errorf("unknown parameter type %s", typ)
}

// Timestamp layouts, after a space between date and time becomes a T.
var (
	localLayouts = []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"}
	zonedLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z07", "2006-01-02T15:04:05Z07", "2006-01-02T15:04Z07:00"}
)

func parses(s string, layouts []string) bool {
	norm := strings.Replace(s, " ", "T", 1)
	for _, layout := range layouts {
		if _, err := time.Parse(layout, norm); err == nil {
			return true
		}
	}
	return false
}

// queryError turns an analyzer's failure into a ValidationException.
func queryError(err error) error {
	var fe *fault.Error
	if errors.As(err, &fe) {
		if fe.Kind == fault.Validation && len(fe.Fields) == 0 {
			e := *fe
			e.Fields = []fault.Field{{Name: "source.text", Message: fe.Message}}
			return &e
		}
		return fe
	}
	msg := "The analysis template's SQL is not a valid query: " + err.Error()
	return fault.Invalid(string(api.ValidationExceptionReasonInvalidQuery), msg, fault.Field{Name: "source.text", Message: msg})
}
