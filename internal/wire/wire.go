// Package wire is the runtime that generated API packages build on: the
// operation table the protocol layer serves, the timestamp and document types
// of the JSON protocols, and the collector that generated validators report to.
// It knows no service; generated code fills these types in.
package wire

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Input is implemented by every generated operation input.
type Input interface {
	// Validate reports every model constraint the value breaks.
	Validate(v *Validator)
}

// Operation is one modeled operation, bound to the service that serves it.
type Operation struct {
	Name string
	// Method and RequestURI are the HTTP binding (rest protocols only).
	Method     string
	RequestURI string
	// SuccessCode is the modeled status of a successful response.
	SuccessCode int
	// Errors names the modeled error shapes the operation may return.
	Errors []string
	// NewInput returns a new, empty input value (a pointer to a struct).
	NewInput func() Input
	// Call runs the operation on the bound service.
	Call func(ctx context.Context, in Input) (any, error)
}

// ErrorShape describes a modeled error structure.
type ErrorShape struct {
	Name   string
	Status int
	// Members are the wire names of the shape's members (message included).
	Members []string
	// Sender is true for client faults.
	Sender bool
}

// Timestamp is a model timestamp. JSON protocols carry it as epoch seconds,
// with a fraction when the time has sub-second precision.
type Timestamp struct{ time.Time }

// NewTimestamp returns t truncated to the millisecond precision AWS returns.
func NewTimestamp(t time.Time) Timestamp { return Timestamp{t.Truncate(time.Millisecond)} }

// MarshalJSON writes epoch seconds.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	ms := t.UnixMilli()
	if ms%1000 == 0 {
		return strconv.AppendInt(nil, ms/1000, 10), nil
	}
	return strconv.AppendFloat(nil, float64(ms)/1000, 'f', -1, 64), nil
}

// UnmarshalJSON accepts epoch seconds as a number, or a string holding epoch
// seconds or an RFC 3339 date, the forms AWS JSON protocols accept.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if unq, err := strconv.Unquote(s); err == nil {
		if tm, err := time.Parse(time.RFC3339Nano, unq); err == nil {
			t.Time = tm
			return nil
		}
		s = unq
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("invalid timestamp %s", b)
	}
	sec, frac := math.Modf(f)
	t.Time = time.Unix(int64(sec), int64(math.Round(frac*1e3))*int64(time.Millisecond)).UTC()
	return nil
}

// Document is an untyped JSON value (a Smithy document).
type Document = json.RawMessage

// FieldError is one broken constraint.
type FieldError struct {
	Path    string // member path, e.g. "members[0].accountId"
	Message string // e.g. "Member must not be null"
}

// Validator collects constraint failures; generated validators report to it.
// The zero value is ready to use.
type Validator struct {
	Errors []FieldError
}

// OK reports whether nothing failed.
func (v *Validator) OK() bool { return len(v.Errors) == 0 }

// Add records a failure at path.
func (v *Validator) Add(path, message string) {
	v.Errors = append(v.Errors, FieldError{Path: path, Message: message})
}

// Missing records an absent required member.
func (v *Validator) Missing(path string) { v.Add(path, "Member must not be null") }

// Summary renders the failures the way AWS services do.
func (v *Validator) Summary() string {
	var b strings.Builder
	n := len(v.Errors)
	if n == 1 {
		b.WriteString("1 validation error detected: ")
	} else {
		fmt.Fprintf(&b, "%d validation errors detected: ", n)
	}
	for i, e := range v.Errors {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "Value at '%s' failed to satisfy constraint: %s", e.Path, e.Message)
	}
	return b.String()
}

// Join appends a member name to a path.
func Join(path, member string) string {
	if path == "" {
		return member
	}
	return path + "." + member
}

// Index appends a list index to a path.
func Index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// Key appends a map key to a path.
func Key(path, key string) string { return path + "[" + strconv.Quote(key) + "]" }

// Length checks a length (runes, elements or entries) against optional bounds;
// a negative bound is absent.
func (v *Validator) Length(path string, n, min, max int) {
	if min >= 0 && n < min {
		v.Add(path, "Member must have length greater than or equal to "+strconv.Itoa(min))
	}
	if max >= 0 && n > max {
		v.Add(path, "Member must have length less than or equal to "+strconv.Itoa(max))
	}
}

// Range checks a number against optional bounds (NaN means absent).
func (v *Validator) Range(path string, x, min, max float64) {
	if !math.IsNaN(min) && x < min {
		v.Add(path, "Member must have value greater than or equal to "+strconv.FormatFloat(min, 'f', -1, 64))
	}
	if !math.IsNaN(max) && x > max {
		v.Add(path, "Member must have value less than or equal to "+strconv.FormatFloat(max, 'f', -1, 64))
	}
}

// Enum records a value outside an enum's set.
func (v *Validator) Enum(path string, values []string) {
	v.Add(path, "Member must satisfy enum value set: ["+strings.Join(values, ", ")+"]")
}

// Pattern checks s against a model pattern.
func (v *Validator) Pattern(path string, p *Pattern, s string) {
	if !p.MatchString(s) {
		v.Add(path, "Member must satisfy regular expression pattern: "+p.Source)
	}
}

// Union checks that exactly one member of a union is set.
func (v *Validator) Union(path string, set int) {
	if set != 1 {
		v.Add(path, "Member must have exactly one member set, found "+strconv.Itoa(set))
	}
}
