package protocol

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"time"

	"github.com/cleanroomsd/cleanroomsd/internal/wire"
)

// bindPlan says how to fill one input type from a request: which fields come
// from URI labels, the query string and headers, and whether a JSON body
// holds the rest. Plans are built once per operation from the struct tags the
// generator writes, so binding never inspects tags per request.
type bindPlan struct {
	fields []fieldBinding
	// hasBody is true when some member travels in the JSON body.
	hasBody bool
}

type fieldBinding struct {
	index    []int
	location string // "uri", "querystring" or "header"
	name     string // wire name: label, query key or header name
	set      func(field reflect.Value, values []string) error
}

var timestampType = reflect.TypeFor[wire.Timestamp]()

func newBindPlan(op *wire.Operation, labels []string) (*bindPlan, error) {
	t := reflect.TypeOf(op.NewInput())
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("%s: input is %s, want a pointer to a struct", op.Name, t)
	}
	t = t.Elem()
	plan := &bindPlan{}
	uriNames := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		loc := f.Tag.Get("location")
		if loc == "" {
			if f.Tag.Get("json") != "-" {
				plan.hasBody = true
			}
			continue
		}
		name := f.Tag.Get("locationName")
		set, err := setterFor(f.Type, loc)
		if err != nil {
			return nil, fmt.Errorf("%s: member %s: %w", op.Name, name, err)
		}
		if loc == "header" {
			name = http.CanonicalHeaderKey(name)
		}
		if loc == "uri" {
			uriNames[name] = true
		}
		plan.fields = append(plan.fields, fieldBinding{index: f.Index, location: loc, name: name, set: set})
	}
	for _, l := range labels {
		if !uriNames[l] {
			return nil, fmt.Errorf("%s: URI label {%s} binds no input member", op.Name, l)
		}
	}
	if len(labels) != len(uriNames) {
		return nil, fmt.Errorf("%s: %d uri members but %d labels in %s", op.Name, len(uriNames), len(labels), op.RequestURI)
	}
	return plan, nil
}

// bind fills in's non-body members. labels are the route's label names and
// values their decoded values.
func (p *bindPlan) bind(in wire.Input, r *http.Request, labels, values []string, query url.Values) []wire.FieldError {
	v := reflect.ValueOf(in).Elem()
	var errs []wire.FieldError
	for i := range p.fields {
		fb := &p.fields[i]
		var raw []string
		switch fb.location {
		case "uri":
			for j, l := range labels {
				if l == fb.name {
					raw = []string{values[j]}
				}
			}
		case "querystring":
			raw = query[fb.name]
		case "header":
			raw = r.Header.Values(fb.name)
		}
		if len(raw) == 0 {
			continue
		}
		if err := fb.set(v.FieldByIndex(fb.index), raw); err != nil {
			errs = append(errs, wire.FieldError{Path: fb.name, Message: err.Error()})
		}
	}
	return errs
}

// setterFor returns a function that parses wire text into a field of type t.
func setterFor(t reflect.Type, location string) (func(reflect.Value, []string) error, error) {
	ptr := t.Kind() == reflect.Pointer
	base := t
	if ptr {
		base = t.Elem()
	}
	if base.Kind() == reflect.Slice && base.Elem().Kind() == reflect.String && !ptr {
		return func(f reflect.Value, raw []string) error {
			s := reflect.MakeSlice(base, len(raw), len(raw))
			for i, x := range raw {
				s.Index(i).SetString(x)
			}
			f.Set(s)
			return nil
		}, nil
	}
	var parse func(string) (reflect.Value, error)
	switch {
	case base == timestampType:
		parse = func(s string) (reflect.Value, error) {
			tm, err := parseWireTime(s, location)
			if err != nil {
				return reflect.Value{}, err
			}
			return reflect.ValueOf(wire.Timestamp{Time: tm}), nil
		}
	case base.Kind() == reflect.String:
		parse = func(s string) (reflect.Value, error) {
			return reflect.ValueOf(s).Convert(base), nil
		}
	case base.Kind() == reflect.Bool:
		parse = func(s string) (reflect.Value, error) {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return reflect.Value{}, fmt.Errorf("Member must be a boolean")
			}
			return reflect.ValueOf(b), nil
		}
	case base.Kind() == reflect.Int32 || base.Kind() == reflect.Int64:
		bits := base.Bits()
		parse = func(s string) (reflect.Value, error) {
			n, err := strconv.ParseInt(s, 10, bits)
			if err != nil {
				return reflect.Value{}, fmt.Errorf("Member must be an integer")
			}
			return reflect.ValueOf(n).Convert(base), nil
		}
	case base.Kind() == reflect.Float32 || base.Kind() == reflect.Float64:
		bits := base.Bits()
		parse = func(s string) (reflect.Value, error) {
			n, err := strconv.ParseFloat(s, bits)
			if err != nil {
				return reflect.Value{}, fmt.Errorf("Member must be a number")
			}
			return reflect.ValueOf(n).Convert(base), nil
		}
	default:
		return nil, fmt.Errorf("unsupported %s member type %s", location, t)
	}
	return func(f reflect.Value, raw []string) error {
		x, err := parse(raw[0])
		if err != nil {
			return err
		}
		if ptr {
			p := reflect.New(base)
			p.Elem().Set(x)
			f.Set(p)
		} else {
			f.Set(x)
		}
		return nil
	}, nil
}

// parseWireTime parses a timestamp outside a body: RFC 3339 in query strings
// and labels, HTTP dates in headers, and epoch seconds in either.
func parseWireTime(s, location string) (time.Time, error) {
	if location == "header" {
		if t, err := http.ParseTime(s); err == nil {
			return t, nil
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.UnixMilli(int64(f * 1000)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("Member must be a timestamp")
}
