package cleanroomsapi

// Written by hand: which modeled error carries each fault kind. It is the one
// place that choice is made for Clean Rooms; protocol.NewErrorCodec checks
// that it covers every kind and names only modeled shapes.

import "github.com/cleanroomsd/cleanroomsd/internal/fault"

// ErrorTable maps fault kinds to Clean Rooms' modeled errors (use it as a
// protocol.ErrorTable).
func ErrorTable() map[fault.Kind]string {
	return map[fault.Kind]string{
		fault.Internal:      "InternalServerException",
		fault.Unavailable:   "InternalServerException",
		fault.Validation:    "ValidationException",
		fault.AccessDenied:  "AccessDeniedException",
		fault.NotFound:      "ResourceNotFoundException",
		fault.Conflict:      "ConflictException",
		fault.QuotaExceeded: "ServiceQuotaExceededException",
		fault.Throttled:     "ThrottlingException",
	}
}
