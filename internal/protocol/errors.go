package protocol

import (
	"fmt"
	"net/http"

	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/wire"
)

// ErrorTable maps each fault kind to the name of the service's modeled error
// shape that carries it. It is the one place a service's errors are chosen;
// NewErrorCodec checks that it covers every kind.
type ErrorTable map[fault.Kind]string

// Errors that no service models but every AWS JSON service answers with.
const (
	codeNotImplemented   = "NotImplementedException"
	codeUnknownOperation = "UnknownOperationException"
)

// ErrorCodec renders fault errors as a service's modeled errors.
type ErrorCodec struct {
	table  ErrorTable
	shapes map[string]wire.ErrorShape
	// messageKey is "message" or "Message", whichever the service's shapes use.
	messageKey string
}

// NewErrorCodec checks table against the modeled shapes: every kind must map
// to a shape the model has, except NotImplemented and Unauthenticated, which
// no model describes and which are rendered with fixed codes.
func NewErrorCodec(table ErrorTable, shapes map[string]wire.ErrorShape) (*ErrorCodec, error) {
	c := &ErrorCodec{table: table, shapes: shapes, messageKey: "message"}
	for _, k := range fault.Kinds() {
		if k == fault.NotImplemented || k == fault.Unauthenticated {
			continue
		}
		name, ok := table[k]
		if !ok {
			return nil, fmt.Errorf("error table has no entry for kind %s", k)
		}
		s, ok := shapes[name]
		if !ok {
			return nil, fmt.Errorf("error table maps %s to %s, which the model does not define", k, name)
		}
		for _, m := range s.Members {
			if m == "Message" {
				c.messageKey = "Message"
			}
		}
	}
	return c, nil
}

// Rendered is an error ready to be written: its wire type, status and body.
type Rendered struct {
	Code   string
	Status int
	Body   map[string]any
}

// Render turns err into the modeled error the client sees. Internal details
// (the wrapped cause) never reach the body.
func (c *ErrorCodec) Render(err error) Rendered {
	e := fault.As(err)
	if e.Message == "" && (e.Kind == fault.Internal || e.Kind == fault.Unavailable) {
		// Say nothing about the cause; it is logged, not sent.
		e = &fault.Error{Kind: e.Kind, Message: "An internal error occurred. Try again.", Err: e.Err}
	}
	switch {
	case e.Code != "":
		status := statusOf(e.Kind)
		if s, ok := c.shapes[e.Code]; ok {
			status = s.Status
		}
		return Rendered{Code: e.Code, Status: status, Body: map[string]any{c.messageKey: e.Message}}
	case e.Kind == fault.NotImplemented:
		return Rendered{Code: codeNotImplemented, Status: http.StatusNotImplemented, Body: map[string]any{c.messageKey: e.Message}}
	}
	name := c.table[e.Kind]
	shape := c.shapes[name]
	body := map[string]any{}
	for _, m := range shape.Members {
		switch m {
		case "message", "Message":
			body[m] = e.Message
		case "reason":
			if e.Reason != "" {
				body[m] = e.Reason
			} else if e.Kind == fault.Validation {
				body[m] = "FIELD_VALIDATION_FAILED"
			}
		case "fieldList":
			if len(e.Fields) > 0 {
				list := make([]map[string]string, len(e.Fields))
				for i, f := range e.Fields {
					list[i] = map[string]string{"name": f.Name, "message": f.Message}
				}
				body[m] = list
			}
		case "resourceId":
			body[m] = e.ResourceID
		case "resourceType":
			if e.ResourceType != "" {
				body[m] = e.ResourceType
			}
		case "quotaName":
			body[m] = e.QuotaName
		case "quotaValue":
			body[m] = e.QuotaValue
		}
	}
	return Rendered{Code: name, Status: shape.Status, Body: body}
}

// statusOf is the status for errors that carry their own code.
func statusOf(k fault.Kind) int {
	switch k {
	case fault.Unauthenticated, fault.AccessDenied:
		return http.StatusForbidden
	case fault.NotFound:
		return http.StatusNotFound
	case fault.Validation:
		return http.StatusBadRequest
	case fault.NotImplemented:
		return http.StatusNotImplemented
	case fault.Unavailable:
		return http.StatusServiceUnavailable
	case fault.Throttled:
		return http.StatusTooManyRequests
	case fault.Conflict:
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}
