package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"runtime/debug"
	"strconv"

	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/wire"
)

// core is what the JSON protocols share once an operation is chosen:
// body decoding, validation, the call, output encoding and error rendering.
type core struct {
	codec       *ErrorCodec
	opts        Options
	contentType string
	// typeInBody also names the error type in the body's __type member, as
	// the awsJson protocols do.
	typeInBody bool
}

func newCore(codec *ErrorCodec, opts Options, contentType string, typeInBody bool) core {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 8 << 20
	}
	return core{codec: codec, opts: opts, contentType: contentType, typeInBody: typeInBody}
}

// recoverPanic turns a panic in a handler into a logged 500.
func (c *core) recoverPanic(w http.ResponseWriter, r *http.Request, op **wire.Operation) {
	p := recover()
	if p == nil {
		return
	}
	if p == http.ErrAbortHandler {
		panic(p)
	}
	name := ""
	if *op != nil {
		name = (*op).Name
	}
	c.opts.Logger.ErrorContext(r.Context(), "handler panicked", "operation", name,
		"requestId", RequestID(r.Context()), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	c.WriteError(w, r, &fault.Error{Kind: fault.Internal})
}

// readBody decodes the request's JSON body into in.
func (c *core) readBody(r *http.Request, in any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, c.opts.MaxBodyBytes+1))
	if err != nil {
		return fault.Newf(fault.Validation, "could not read the request body: %v", err)
	}
	if int64(len(body)) > c.opts.MaxBodyBytes {
		return fault.Newf(fault.Validation, "request body exceeds %d bytes", c.opts.MaxBodyBytes)
	}
	return decodeBody(body, in)
}

// call validates in, runs the operation and writes its output or error.
func (c *core) call(w http.ResponseWriter, r *http.Request, op *wire.Operation, in wire.Input) {
	var v wire.Validator
	in.Validate(&v)
	if !v.OK() {
		c.WriteError(w, r, validationError(v.Errors))
		return
	}
	out, err := op.Call(r.Context(), in)
	if err != nil {
		c.WriteError(w, r, err)
		return
	}
	c.writeOutput(w, r, op, out)
}

// decodeBody decodes a JSON object body into in. An empty body is an empty
// object, as AWS services treat it.
func decodeBody(body []byte, in any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	if body[0] != '{' {
		return fault.Invalid("FIELD_VALIDATION_FAILED", "The request body must be a JSON object")
	}
	if err := json.Unmarshal(body, in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			path := te.Field
			if path == "" {
				path = "body"
			}
			msg := fmt.Sprintf("Member must be of type %s, not a JSON %s", jsonKind(te.Type), te.Value)
			return fault.Invalid("FIELD_VALIDATION_FAILED", fmt.Sprintf("1 validation error detected: Value at '%s' failed to satisfy constraint: %s", path, msg),
				fault.Field{Name: path, Message: msg})
		}
		return fault.Invalid("FIELD_VALIDATION_FAILED", "The request body is not valid JSON: "+err.Error())
	}
	return nil
}

// jsonKind names the JSON kind that decodes into t, for messages; Go type
// names (cleanroomsapi.MemberAbility) mean nothing to clients.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "list"
	case reflect.Map:
		return "map"
	case reflect.Struct:
		return "structure"
	}
	return t.Kind().String()
}

func validationError(errs []wire.FieldError) *fault.Error {
	v := wire.Validator{Errors: errs}
	fields := make([]fault.Field, len(errs))
	for i, e := range errs {
		fields[i] = fault.Field{Name: e.Path, Message: e.Message}
	}
	return fault.Invalid("FIELD_VALIDATION_FAILED", v.Summary(), fields...)
}

func (c *core) writeOutput(w http.ResponseWriter, r *http.Request, op *wire.Operation, out any) {
	if c.opts.CheckResponses {
		if in, ok := out.(wire.Input); ok {
			var v wire.Validator
			in.Validate(&v)
			if !v.OK() {
				c.opts.Logger.ErrorContext(r.Context(), "response breaks the model", "operation", op.Name, "errors", v.Summary())
				c.WriteError(w, r, &fault.Error{Kind: fault.Internal, Message: "response of " + op.Name + " breaks the model: " + v.Summary()})
				return
			}
		}
	}
	if op.SuccessCode == http.StatusNoContent {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	body, err := json.Marshal(out)
	if err != nil {
		c.WriteError(w, r, fault.Wrap(fault.Internal, err, ""))
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", c.contentType)
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(op.SuccessCode)
	w.Write(body)
}

// WriteError writes err as the service's modeled error.
func (c *core) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := fault.As(err)
	rd := c.codec.Render(e)
	if rd.Status >= 500 && rd.Status != http.StatusNotImplemented {
		c.opts.Logger.ErrorContext(r.Context(), "request failed", "requestId", RequestID(r.Context()),
			"method", r.Method, "path", r.URL.Path, "error", e.Error())
	}
	c.writeRendered(w, r, rd)
}

func (c *core) writeRendered(w http.ResponseWriter, r *http.Request, rd Rendered) {
	if c.typeInBody {
		rd.Body["__type"] = rd.Code
	}
	body, _ := json.Marshal(rd.Body)
	hdr := w.Header()
	hdr.Set("Content-Type", c.contentType)
	hdr.Set("X-Amzn-ErrorType", rd.Code)
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rd.Status)
	w.Write(body)
}
