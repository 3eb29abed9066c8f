package pgstore

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cleanroomsd/cleanroomsd/internal/fault"
)

// SQLSTATE codes the store treats specially.
const (
	codeUniqueViolation      = "23505"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeReadOnlyTransaction  = "25006"
)

// pgCode returns the SQLSTATE of err, or "" when the server did not report one.
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// isSerializationConflict reports whether err says the transaction lost a
// conflict with a concurrent one and running it again may succeed.
func isSerializationConflict(err error) bool {
	switch pgCode(err) {
	case codeSerializationFailure, codeDeadlockDetected:
		return true
	}
	return false
}

// unavailableCode reports whether SQLSTATE code means the server cannot serve
// us right now: connection exceptions (class 08), the server shutting down or
// terminating our backend (57P01 admin_shutdown, 57P02 crash_shutdown,
// 57P03 cannot_connect_now), resource exhaustion (class 53, e.g. 53300
// too_many_connections), a statement or lock timeout (57014, 55P03) and
// idle_in_transaction_session_timeout (25P03).
func unavailableCode(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"):
		return true
	}
	switch code {
	case "57P01", "57P02", "57P03", "57P05", "57014", "55P03", "25P03":
		return true
	}
	return false
}

// isUnavailable reports whether err means the database cannot be reached.
func isUnavailable(err error) bool {
	// Any failure to establish a connection, including the server refusing
	// it (too many clients, the database not accepting connections,
	// starting up or shutting down).
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	if code := pgCode(err); code != "" {
		return unavailableCode(code)
	}
	var ne net.Error
	switch {
	case errors.As(err, &ne),
		pgconn.Timeout(err),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE),
		errors.Is(err, pgconn.ErrConnClosed):
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "closed pool") ||
		strings.Contains(msg, "connection refused")
}

// classify turns a driver error into a *fault.Error. Errors that already are
// *fault.Error are returned as they are.
func classify(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	var fe *fault.Error
	if errors.As(err, &fe) {
		return err
	}
	switch {
	case pgCode(err) == codeUniqueViolation:
		return fault.Wrap(fault.Conflict, err, format, args...)
	case isSerializationConflict(err):
		return fault.Wrap(fault.Internal, err, format+": the transaction conflicted with a concurrent one", args...)
	case errors.Is(err, context.Canceled):
		// The caller gave up; keep context.Canceled in the chain for errors.Is.
		return fault.Wrap(fault.Internal, err, format+": cancelled", args...)
	case isUnavailable(err):
		return fault.Wrap(fault.Unavailable, err, format+": the PostgreSQL store is unavailable", args...)
	}
	return fault.Wrap(fault.Internal, err, format, args...)
}
