// Package fault defines the error values that business logic, storage and the
// protocol layer exchange. An error has a Kind that says what went wrong in
// terms every layer understands; the protocol layer maps kinds to a service's
// modeled error shapes in one table, so no handler chooses wire names.
package fault

import (
	"errors"
	"fmt"
)

// Kind classifies an error independently of any wire protocol.
type Kind int

// The kinds. Their order is not significant; the zero value is Internal so an
// unclassified error is never mistaken for a client error.
const (
	Internal        Kind = iota // a server-side failure; the client may retry
	Validation                  // the request is malformed or breaks a rule
	AccessDenied                // the caller may not act on the resource, or it is invisible to them
	NotFound                    // the resource does not exist for this caller
	Conflict                    // the resource's state forbids the request
	QuotaExceeded               // a service quota would be exceeded
	Throttled                   // too many requests
	NotImplemented              // the operation is modeled but not served
	Unauthenticated             // the request's credentials are missing or wrong
	Unavailable                 // a dependency (the store) cannot be reached right now
)

var kindNames = [...]string{
	Internal:        "Internal",
	Validation:      "Validation",
	AccessDenied:    "AccessDenied",
	NotFound:        "NotFound",
	Conflict:        "Conflict",
	QuotaExceeded:   "QuotaExceeded",
	Throttled:       "Throttled",
	NotImplemented:  "NotImplemented",
	Unauthenticated: "Unauthenticated",
	Unavailable:     "Unavailable",
}

// Kinds lists every kind, for tables that must cover them all.
func Kinds() []Kind {
	ks := make([]Kind, len(kindNames))
	for i := range ks {
		ks[i] = Kind(i)
	}
	return ks
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Field names one invalid input member and why it is invalid.
type Field struct {
	Name    string
	Message string
}

// Error is the error value used across cleanroomsd.
type Error struct {
	Kind    Kind
	Message string

	// Code overrides the wire error type chosen from Kind. It is set only for
	// protocol-level errors that no service models (for example SigV4 failures
	// such as InvalidSignatureException).
	Code string

	// Reason is the modeled reason enum value (ValidationException,
	// AccessDeniedException and ConflictException carry one).
	Reason string
	// Fields lists invalid members for Validation errors.
	Fields []Field
	// ResourceID and ResourceType identify the resource for NotFound and Conflict.
	ResourceID   string
	ResourceType string
	// QuotaName and QuotaValue describe the quota for QuotaExceeded.
	QuotaName  string
	QuotaValue float64

	// Err is the underlying cause. It is logged, never sent to clients.
	Err error
}

func (e *Error) Error() string {
	msg := e.Kind.String()
	if e.Code != "" {
		msg = e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error of the same kind, so that
// errors.Is(err, fault.ErrNotFound) style sentinels work.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && t.Code == "" && t.Message == "" && t.Err == nil
}

// Sentinels for errors.Is. They carry only a kind.
var (
	ErrNotFound      = &Error{Kind: NotFound}
	ErrConflict      = &Error{Kind: Conflict}
	ErrAccessDenied  = &Error{Kind: AccessDenied}
	ErrValidation    = &Error{Kind: Validation}
	ErrQuotaExceeded = &Error{Kind: QuotaExceeded}
	ErrUnavailable   = &Error{Kind: Unavailable}
)

// KindOf returns the kind of err, or Internal when err carries none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// As returns err as an *Error, wrapping an unclassified error as Internal.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: Internal, Err: err}
}

// Newf returns an error of kind k with a formatted message.
func Newf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of kind k whose cause is err.
func Wrap(k Kind, err error, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...), Err: err}
}

// Invalid returns a Validation error with the modeled reason and fields.
func Invalid(reason, message string, fields ...Field) *Error {
	return &Error{Kind: Validation, Reason: reason, Message: message, Fields: fields}
}

// Missing returns a NotFound error naming the resource.
func Missing(resourceType, resourceID, format string, args ...any) *Error {
	return &Error{Kind: NotFound, ResourceType: resourceType, ResourceID: resourceID, Message: fmt.Sprintf(format, args...)}
}

// Conflicting returns a Conflict error naming the resource and the reason.
func Conflicting(reason, resourceType, resourceID, format string, args ...any) *Error {
	return &Error{Kind: Conflict, Reason: reason, ResourceType: resourceType, ResourceID: resourceID, Message: fmt.Sprintf(format, args...)}
}

// Denied returns an AccessDenied error.
func Denied(format string, args ...any) *Error {
	return &Error{Kind: AccessDenied, Message: fmt.Sprintf(format, args...)}
}

// Quota returns a QuotaExceeded error naming the quota and its value.
func Quota(name string, value float64) *Error {
	return &Error{Kind: QuotaExceeded, QuotaName: name, QuotaValue: value,
		Message: fmt.Sprintf("Quota %q of %g exceeded", name, value)}
}

// Unimplemented returns the error for a modeled operation that is not served.
func Unimplemented(operation string) *Error {
	return &Error{Kind: NotImplemented, Message: fmt.Sprintf("operation %s is not implemented by cleanroomsd", operation)}
}
