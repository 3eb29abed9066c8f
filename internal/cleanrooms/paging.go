package cleanrooms

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/cleanroomsd/cleanroomsd/internal/store"
	"github.com/cleanroomsd/cleanroomsd/internal/wire"
)

// defaultPageSize is the page size when maxResults is absent; it is the
// largest maxResults the model allows.
const defaultPageSize = 100

// page is a decoded list position. A nextToken is opaque to clients: it
// names the operation it belongs to and the last store sequence number
// returned, so a token replayed on another operation is refused.
type page struct {
	op    string
	after int64
	limit int
}

type pageToken struct {
	Op    string `json:"o"`
	After int64  `json:"a"`
}

// readPage decodes a list request's nextToken and maxResults.
func readPage(token *string, maxResults *int32, op string) (page, error) {
	p := page{op: op, limit: defaultPageSize}
	if maxResults != nil {
		p.limit = int(*maxResults)
	}
	if token == nil || *token == "" {
		return p, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(*token)
	var t pageToken
	if err == nil {
		err = json.Unmarshal(raw, &t)
	}
	if err != nil || t.Op != op || t.After < 0 {
		return p, invalid("nextToken", "The nextToken is not valid for %s", op)
	}
	p.after = t.After
	return p, nil
}

// query returns the store page to read: one record more than the page
// holds, to learn whether another page follows.
func (p page) query() store.Page { return store.Page{After: p.after, Limit: p.limit + 1} }

// next trims recs to the page and returns the token for the next page, if
// there is one.
func (p page) next(recs []*store.Record) ([]*store.Record, *string) {
	if len(recs) <= p.limit {
		return recs, nil
	}
	recs = recs[:p.limit]
	raw, _ := json.Marshal(pageToken{Op: p.op, After: recs[len(recs)-1].Seq})
	tok := base64.RawURLEncoding.EncodeToString(raw)
	return recs, &tok
}

func ts(t time.Time) wire.Timestamp { return wire.NewTimestamp(t) }
