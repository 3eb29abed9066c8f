// Package protocol serves generated operation tables over AWS wire
// protocols. One generic handler serves every operation of a rest-json
// service: it routes on method and URI template, binds URI labels, query
// strings, headers and the JSON body into the generated input, validates it
// against the model, calls the service and encodes the output or the modeled
// error. Business logic never sees HTTP.
package protocol

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

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
	core
	router *router
	plans  map[*wire.Operation]*bindPlan
}

// NewRestJSON builds the handler for ops. It fails if a template or an input
// type uses a binding the layer does not implement, so such a model change
// is caught at start-up rather than on a request.
func NewRestJSON(ops []wire.Operation, codec *ErrorCodec, opts Options) (*RestJSON, error) {
	rt, err := newRouter(ops)
	if err != nil {
		return nil, err
	}
	h := &RestJSON{core: newCore(codec, opts, "application/json", false), router: rt, plans: map[*wire.Operation]*bindPlan{}}
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
	var op *wire.Operation
	defer h.recoverPanic(w, r, &op)
	rt, values, ok := h.router.match(r.Method, r.URL.EscapedPath())
	if !ok {
		h.writeRendered(w, r, Rendered{Code: codeUnknownOperation, Status: http.StatusNotFound,
			Body: map[string]any{h.codec.messageKey: fmt.Sprintf("No operation matches %s %s", r.Method, r.URL.Path)}})
		return
	}
	op = rt.op
	in, err := h.decode(op, rt, values, r)
	if err != nil {
		h.WriteError(w, r, err)
		return
	}
	h.call(w, r, op, in)
}

// decode builds and validates the operation's input from r.
func (h *RestJSON) decode(op *wire.Operation, rt *route, values []string, r *http.Request) (wire.Input, error) {
	in := op.NewInput()
	plan := h.plans[op]
	if plan.hasBody {
		if err := h.readBody(r, in); err != nil {
			return nil, err
		}
	}
	if errs := plan.bind(in, r, rt.labels, values, r.URL.Query()); len(errs) > 0 {
		return nil, validationError(errs)
	}
	return in, nil
}
