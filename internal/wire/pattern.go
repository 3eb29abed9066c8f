package wire

import (
	"regexp"
	"time"

	"github.com/dlclark/regexp2"
)

// Pattern is a compiled model pattern. Model patterns are Java regular
// expressions; the generator translates each one and picks Go's linear-time
// RE2 engine when the translation compiles there, and regexp2 (a backtracking
// engine with lookaround) only for patterns that need lookaround.
type Pattern struct {
	Source string // the model's pattern, for messages
	re     *regexp.Regexp
	re2    *regexp2.Regexp
}

// patternTimeout bounds a backtracking match. Inputs are length-checked
// before they reach a pattern, so this only guards against pathological
// expressions.
const patternTimeout = 100 * time.Millisecond

// RE2Pattern compiles expr (already anchored and translated) with Go's regexp.
func RE2Pattern(source, expr string) *Pattern {
	return &Pattern{Source: source, re: regexp.MustCompile(expr)}
}

// BacktrackPattern compiles expr with regexp2 in its RE2-compatible syntax mode.
func BacktrackPattern(source, expr string) *Pattern {
	re := regexp2.MustCompile(expr, regexp2.RE2|regexp2.Unicode)
	re.MatchTimeout = patternTimeout
	return &Pattern{Source: source, re2: re}
}

// MatchString reports whether the whole of s matches.
func (p *Pattern) MatchString(s string) bool {
	if p.re != nil {
		return p.re.MatchString(s)
	}
	ok, err := p.re2.MatchString(s)
	return ok && err == nil
}
