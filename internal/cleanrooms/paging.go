package cleanrooms

import (
	"time"

	"github.com/cleanroomsd/cleanroomsd/internal/pagination"
	"github.com/cleanroomsd/cleanroomsd/internal/wire"
)

// defaultPageSize is the page size when maxResults is absent; it is the
// largest maxResults the model allows.
const defaultPageSize = 100

// readPage decodes a list request's nextToken and maxResults for the list
// named scope.
func readPage(token *string, maxResults *int32, scope string) (pagination.Page, error) {
	return pagination.Read("nextToken", token, maxResults, defaultPageSize, scope)
}

func ts(t time.Time) wire.Timestamp { return wire.NewTimestamp(t) }
