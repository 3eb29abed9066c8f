package glueapi

// Written by hand: which Glue error carries each fault kind.

import (
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/wire"
)

// ErrorTable maps fault kinds to Glue's errors (use it as a
// protocol.ErrorTable with ServedErrorShapes).
func ErrorTable() map[fault.Kind]string {
	return map[fault.Kind]string{
		fault.Internal:      "InternalServiceException",
		fault.Unavailable:   "InternalServiceException",
		fault.Validation:    "InvalidInputException",
		fault.AccessDenied:  "AccessDeniedException",
		fault.NotFound:      "EntityNotFoundException",
		fault.Conflict:      "AlreadyExistsException",
		fault.QuotaExceeded: "ResourceNumberLimitExceededException",
		fault.Throttled:     "ThrottlingException",
	}
}

// ServedErrorShapes is ErrorShapes plus AccessDeniedException and
// ThrottlingException, which Glue answers with although the served
// operations don't model them.
func ServedErrorShapes() map[string]wire.ErrorShape {
	shapes := ErrorShapes()
	shapes["AccessDeniedException"] = wire.ErrorShape{Name: "AccessDeniedException", Status: 400, Sender: true, Members: []string{"Message"}}
	shapes["ThrottlingException"] = wire.ErrorShape{Name: "ThrottlingException", Status: 400, Sender: true, Members: []string{"Message"}}
	return shapes
}
