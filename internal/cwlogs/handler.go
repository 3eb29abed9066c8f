package cwlogs

import (
	"context"
	"encoding/json"

	"github.com/cleanroomsd/cleanroomsd/internal/api/logsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/protocol"
	"github.com/cleanroomsd/cleanroomsd/internal/wire"
)

// ErrorTable maps fault kinds to CloudWatch Logs' errors, for
// protocol.NewErrorCodec with ErrorShapes.
func ErrorTable() protocol.ErrorTable {
	return protocol.ErrorTable{
		fault.Internal:      "ServiceUnavailableException",
		fault.Unavailable:   "ServiceUnavailableException",
		fault.Validation:    "InvalidParameterException",
		fault.AccessDenied:  "AccessDeniedException",
		fault.NotFound:      "ResourceNotFoundException",
		fault.Conflict:      "ResourceAlreadyExistsException",
		fault.QuotaExceeded: "LimitExceededException",
		fault.Throttled:     "ThrottlingException",
	}
}

// ErrorShapes returns the error shapes the codec renders: the modeled ones
// of the served operations, plus AccessDeniedException and
// ThrottlingException, which CloudWatch Logs answers with but these
// operations do not model. botocore's logs model gives its error shapes no
// message member, yet the service sends one ({"__type": ..., "message": ...})
// and the SDKs read it, so every shape gets "message".
func ErrorShapes() map[string]wire.ErrorShape {
	shapes := logsapi.ErrorShapes()
	shapes["AccessDeniedException"] = wire.ErrorShape{Name: "AccessDeniedException", Status: 400, Sender: true}
	shapes["ThrottlingException"] = wire.ErrorShape{Name: "ThrottlingException", Status: 400, Sender: true}
	for name, s := range shapes {
		has := false
		for _, m := range s.Members {
			if m == "message" || m == "Message" {
				has = true
			}
		}
		if !has {
			s.Members = append([]string{"message"}, s.Members...)
		}
		shapes[name] = s
	}
	return shapes
}

// NewHandler returns the awsJson 1.1 handler serving s with CloudWatch
// Logs' errors.
func NewHandler(s logsapi.Service, opts protocol.Options) (*protocol.JSONRPC, error) {
	codec, err := protocol.NewErrorCodec(ErrorTable(), ErrorShapes())
	if err != nil {
		return nil, err
	}
	ops := logsapi.Operations(s)
	for i := range ops {
		keys := alwaysSent[ops[i].Name]
		if keys == nil {
			continue
		}
		call := ops[i].Call
		ops[i].Call = func(ctx context.Context, in wire.Input) (any, error) {
			out, err := call(ctx, in)
			if err != nil {
				return nil, err
			}
			return withLists{out.(wire.Input), keys}, nil
		}
	}
	return protocol.NewJSONRPC(ops, logsapi.TargetPrefix, logsapi.JSONVersion, codec, opts)
}

// alwaysSent names the output lists CloudWatch Logs sends even when empty
// ({"logGroups": []}); clients index them without checking, as in
// resp["logGroups"]. The model does not mark them required, so the
// generated types omit empty lists.
var alwaysSent = map[string][]string{
	"DescribeLogGroups":  {"logGroups"},
	"DescribeLogStreams": {"logStreams"},
	"GetLogEvents":       {"events"},
	"FilterLogEvents":    {"events", "searchedLogStreams"},
}

// withLists is an output that marshals with its always-sent lists present.
type withLists struct {
	out  wire.Input
	keys []string
}

func (w withLists) Validate(v *wire.Validator) { w.out.Validate(v) }

func (w withLists) MarshalJSON() ([]byte, error) {
	raw, err := json.Marshal(w.out)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	for _, k := range w.keys {
		if _, ok := m[k]; !ok {
			m[k] = json.RawMessage("[]")
		}
	}
	return json.Marshal(m)
}
