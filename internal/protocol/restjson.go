// Package protocol serves generated operation tables over AWS wire
// protocols. One generic handler serves every operation of a rest-json
// service: it routes on method and URI template, binds URI labels, query
// strings, headers and the JSON body into the generated input, validates it
// against the model, calls the service and encodes the output or the modeled
// error. Business logic never sees HTTP.
package protocol

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"

	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/wire"
)

// Options tune a protocol handler.
type Options struct {
	Logger *slog.Logger
	// CheckResponses validates every output against the model and answers a
	// violation with a 500, so tests catch an incomplete response.
	CheckResponses bool
	// MaxBodyBytes bounds a request body (default 8 MiB).
	MaxBodyBytes int64
}

// RestJSON serves one rest-json service.
type RestJSON struct {
	router *router
	plans  map[*wire.Operation]*bindPlan
	codec  *ErrorCodec
	opts   Options
}

// NewRestJSON builds the handler for ops. It fails if a template or an input
// type uses a binding the layer does not implement, so such a model change
// is caught at start-up rather than on a request.
func NewRestJSON(ops []wire.Operation, codec *ErrorCodec, opts Options) (*RestJSON, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 8 << 20
	}
	rt, err := newRouter(ops)
	if err != nil {
		return nil, err
	}
	h := &RestJSON{router: rt, plans: map[*wire.Operation]*bindPlan{}, codec: codec, opts: opts}
	for i := range ops {
		op := &ops[i]
		labels := labelsOf(op.RequestURI)
		plan, err := newBindPlan(op, labels)
		if err != nil {
			return nil, err
		}
		h.plans[op] = plan
	}
	return h, nil
}

func labelsOf(uri string) []string {
	var labels []string
	for _, seg := range splitPath(uri) {
		if len(seg) > 2 && seg[0] == '{' {
			l := seg[1 : len(seg)-1]
			if l[len(l)-1] == '+' {
				l = l[:len(l)-1]
			}
			labels = append(labels, l)
		}
	}
	return labels
}

type requestIDKey struct{}

// WithRequestID returns a context carrying the request's ID.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request ID in ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// ServeHTTP serves one request.
func (h *RestJSON) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var opName string
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			h.opts.Logger.ErrorContext(r.Context(), "handler panicked", "operation", opName,
				"requestId", RequestID(r.Context()), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			h.WriteError(w, r, &fault.Error{Kind: fault.Internal})
		}
	}()

	rt, values, ok := h.router.match(r.Method, r.URL.EscapedPath())
	if !ok {
		h.writeRendered(w, r, Rendered{Code: codeUnknownOperation, Status: http.StatusNotFound,
			Body: map[string]any{h.codec.messageKey: fmt.Sprintf("No operation matches %s %s", r.Method, r.URL.Path)}})
		return
	}
	op := rt.op
	opName = op.Name
	in, err := h.decode(op, rt, values, r)
	if err != nil {
		h.WriteError(w, r, err)
		return
	}
	out, err := op.Call(r.Context(), in)
	if err != nil {
		h.WriteError(w, r, err)
		return
	}
	h.writeOutput(w, r, op, out)
}

// decode builds and validates the operation's input from r.
func (h *RestJSON) decode(op *wire.Operation, rt *route, values []string, r *http.Request) (wire.Input, error) {
	in := op.NewInput()
	plan := h.plans[op]
	if plan.hasBody {
		body, err := io.ReadAll(io.LimitReader(r.Body, h.opts.MaxBodyBytes+1))
		if err != nil {
			return nil, fault.Newf(fault.Validation, "could not read the request body: %v", err)
		}
		if int64(len(body)) > h.opts.MaxBodyBytes {
			return nil, fault.Newf(fault.Validation, "request body exceeds %d bytes", h.opts.MaxBodyBytes)
		}
		if err := decodeBody(body, in); err != nil {
			return nil, err
		}
	}
	if errs := plan.bind(in, r, rt.labels, values, r.URL.Query()); len(errs) > 0 {
		return nil, validationError(errs)
	}
	var v wire.Validator
	in.Validate(&v)
	if !v.OK() {
		return nil, validationError(v.Errors)
	}
	return in, nil
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
			msg := fmt.Sprintf("Member must be of type %s, not a JSON %s", jsonKind(te.Type.String()), te.Value)
			return fault.Invalid("FIELD_VALIDATION_FAILED", fmt.Sprintf("1 validation error detected: Value at '%s' failed to satisfy constraint: %s", path, msg),
				fault.Field{Name: path, Message: msg})
		}
		return fault.Invalid("FIELD_VALIDATION_FAILED", "The request body is not valid JSON: "+err.Error())
	}
	return nil
}

func jsonKind(goType string) string {
	switch goType {
	case "string":
		return "string"
	case "bool", "*bool":
		return "boolean"
	case "int32", "int64", "float32", "float64", "*int32", "*int64", "*float32", "*float64":
		return "number"
	}
	if len(goType) > 2 && goType[:2] == "[]" {
		return "list"
	}
	if len(goType) > 4 && goType[:4] == "map[" {
		return "map"
	}
	return goType
}

func validationError(errs []wire.FieldError) *fault.Error {
	v := wire.Validator{Errors: errs}
	fields := make([]fault.Field, len(errs))
	for i, e := range errs {
		fields[i] = fault.Field{Name: e.Path, Message: e.Message}
	}
	return fault.Invalid("FIELD_VALIDATION_FAILED", v.Summary(), fields...)
}

func (h *RestJSON) writeOutput(w http.ResponseWriter, r *http.Request, op *wire.Operation, out any) {
	if h.opts.CheckResponses {
		if in, ok := out.(wire.Input); ok {
			var v wire.Validator
			in.Validate(&v)
			if !v.OK() {
				h.opts.Logger.ErrorContext(r.Context(), "response breaks the model", "operation", op.Name, "errors", v.Summary())
				h.WriteError(w, r, &fault.Error{Kind: fault.Internal, Message: "response of " + op.Name + " breaks the model: " + v.Summary()})
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
		h.WriteError(w, r, fault.Wrap(fault.Internal, err, ""))
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(op.SuccessCode)
	w.Write(body)
}

// WriteError writes err as the service's modeled error.
func (h *RestJSON) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := fault.As(err)
	rd := h.codec.Render(e)
	if rd.Status >= 500 && rd.Status != http.StatusNotImplemented {
		h.opts.Logger.ErrorContext(r.Context(), "request failed", "requestId", RequestID(r.Context()),
			"method", r.Method, "path", r.URL.Path, "error", e.Error())
	}
	h.writeRendered(w, r, rd)
}

func (h *RestJSON) writeRendered(w http.ResponseWriter, r *http.Request, rd Rendered) {
	body, _ := json.Marshal(rd.Body)
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("X-Amzn-ErrorType", rd.Code)
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rd.Status)
	w.Write(body)
}
