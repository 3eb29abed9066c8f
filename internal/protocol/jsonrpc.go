package protocol

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/cleanroomsd/cleanroomsd/internal/wire"
)

// JSONRPC serves one awsJson 1.0/1.1 service: every request is a POST whose
// X-Amz-Target header names the operation as Prefix.Operation and whose body
// is the input. Errors name their type in the body's __type as well.
type JSONRPC struct {
	core
	prefix string
	ops    map[string]*wire.Operation
}

// NewJSONRPC builds the handler for ops under targetPrefix (e.g. AWSGlue).
func NewJSONRPC(ops []wire.Operation, targetPrefix, jsonVersion string, codec *ErrorCodec, opts Options) (*JSONRPC, error) {
	if targetPrefix == "" || jsonVersion == "" {
		return nil, fmt.Errorf("an awsJson service needs a target prefix and a JSON version")
	}
	h := &JSONRPC{core: newCore(codec, opts, "application/x-amz-json-"+jsonVersion, true), prefix: targetPrefix, ops: map[string]*wire.Operation{}}
	for i := range ops {
		h.ops[ops[i].Name] = &ops[i]
	}
	return h, nil
}

// ServeHTTP serves one request.
func (h *JSONRPC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var op *wire.Operation
	defer h.recoverPanic(w, r, &op)
	target := r.Header.Get("X-Amz-Target")
	prefix, name, ok := strings.Cut(target, ".")
	if ok && prefix == h.prefix {
		op = h.ops[name]
	}
	if op == nil || r.Method != http.MethodPost {
		h.writeRendered(w, r, Rendered{Code: codeUnknownOperation, Status: http.StatusBadRequest,
			Body: map[string]any{h.codec.messageKey: fmt.Sprintf("No operation %q is served here", target)}})
		return
	}
	in := op.NewInput()
	if err := h.readBody(r, in); err != nil {
		h.WriteError(w, r, err)
		return
	}
	h.call(w, r, op, in)
}
