package cwlogs

import (
	"testing"

	"github.com/cleanroomsd/cleanroomsd/internal/fault"
)

func TestCompilePattern(t *testing.T) {
	for _, tc := range []struct {
		pattern, msg string
		want         bool
	}{
		{"", "anything", true},
		{"   ", "anything", true},
		{"ERROR", "[ERROR] x", true},
		{"ERROR", "[error] x", false},
		{"ERROR Exception", "ERROR: IllegalArgumentException", true},
		{"ERROR Exception", "ERROR only", false},
		{`"a b"`, "xa by", true},
		{`"a b"`, "a  b", false},
		{`"say \"hi\""`, `they say "hi"`, true},
		{"?a ?b", "only b", true},
		{"?a ?b", "neither", false},
		{"x ?a ?b", "b x", true},
		{"x ?a ?b", "a b", false},
		{"x -y", "x", true},
		{"x -y", "x y", false},
		{"%^[0-9]+$%", "12345", true},
		{"%^[0-9]+$%", "12a45", false},
		{`{ $.code = 200 }`, `{"code": 200}`, true},
		{`{ $.code = 200 }`, `{"code": "200"}`, true},
		{`{ $.code = "200" }`, `{"code": 200}`, true},
		{`{ $.code != 200 }`, `{"code": 404}`, true},
		{`{ $.code != 200 }`, `{"other": 1}`, false},
		{`{ $.n >= 1.5 }`, `{"n": 1.5}`, true},
		{`{ $.n < 1.5 }`, `{"n": "1"}`, false},
		{`{ $.s = "a*c" }`, "{\"s\": \"a\\nb\\nc\"}", true},
		{`{ $.s = "*" }`, `{"s": ""}`, true},
		{`{ $.s = "*" }`, `{"t": ""}`, false},
		{`{ $.a.b[2].c = x }`, `{"a":{"b":[0,1,{"c":"x"}]}}`, true},
		{`{ $.a.b[3].c = x }`, `{"a":{"b":[0,1,{"c":"x"}]}}`, false},
		{`{ $.a = 1 && ($.b = 2 || $.c = 3) }`, `{"a":1,"c":3}`, true},
		{`{ $.a = 1 && ($.b = 2 || $.c = 3) }`, `{"a":1,"c":4}`, false},
		{`{ $.a = 1 || $.b = 2 && $.c = 3 }`, `{"a":1}`, true},
		{`{ $.f IS FALSE }`, `{"f": false}`, true},
		{`{ $.f IS FALSE }`, `{"f": "false"}`, false},
		{`{ $.x NOT EXISTS }`, `{"y": null}`, true},
		{`{ $.y IS NULL }`, `{"y": null}`, true},
		{`{ $.y IS NULL }`, `{}`, false},
		{`{ $.a = 1 }`, `not json {"a":1}`, false},
		{`{ $.a = 1 }`, `[{"a":1}]`, false},
		{`{ $.a = 1 }`, `{"a":1`, false},
	} {
		m, err := compilePattern(tc.pattern)
		if err != nil {
			t.Errorf("compilePattern(%q): %v", tc.pattern, err)
			continue
		}
		if got := m(tc.msg); got != tc.want {
			t.Errorf("pattern %q on %q: %t, want %t", tc.pattern, tc.msg, got, tc.want)
		}
	}
}

func TestCompilePatternErrors(t *testing.T) {
	for _, p := range []string{
		`{ $.a = 1`, `{ a = 1 }`, `{ $.a }`, `{ $.a = }`, `{ $.a > "x" }`, `{ $. = 1 }`, `{ $.a[x] = 1 }`,
		`{ $.a = 1 && }`, `{ ($.a = 1 }`, `{ $.a IS MAYBE }`, `{ $.a = %[% }`, `{ $.a = 1 } x`,
		`"open`, `?`, `- x`, `%[%`, `[a, b]`,
	} {
		if _, err := compilePattern(p); fault.KindOf(err) != fault.Validation {
			t.Errorf("compilePattern(%q) = %v, want a validation error", p, err)
		}
	}
}
