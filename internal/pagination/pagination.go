// Package pagination turns list requests' page tokens into store pages and
// back. Tokens are opaque to clients: they name the list they belong to and
// the last store sequence number returned, so a token replayed on another
// list is refused instead of silently skipping records.
package pagination

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
)

// Page is a decoded list position.
type Page struct {
	scope  string
	after  int64
	limit  int
	newest bool
}

type token struct {
	Scope string `json:"o"`
	After int64  `json:"a"`
}

// Read decodes a request's page token (named field on the wire) and page
// size. scope names the list, e.g. "ListMembers/<collaboration id>";
// defaultLimit applies when maxResults is absent.
func Read(field string, tok *string, maxResults *int32, defaultLimit int, scope string) (Page, error) {
	p := Page{scope: scope, limit: defaultLimit}
	if maxResults != nil {
		p.limit = int(*maxResults)
	}
	if p.limit < 1 {
		p.limit = defaultLimit
	}
	if tok == nil || *tok == "" {
		return p, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(*tok)
	var t token
	if err == nil {
		err = json.Unmarshal(raw, &t)
	}
	if err != nil || t.Scope != scope || t.After < 0 {
		msg := fmt.Sprintf("The %s is not valid for this request", field)
		return p, fault.Invalid("FIELD_VALIDATION_FAILED", msg, fault.Field{Name: field, Message: msg})
	}
	p.after = t.After
	return p, nil
}

// NewestFirst makes the list run from the most recent record back.
func (p Page) NewestFirst() Page {
	p.newest = true
	return p
}

// Query returns the store page to read: one record more than the page holds,
// to learn whether another page follows.
func (p Page) Query() store.Page {
	return store.Page{After: p.after, Limit: p.limit + 1, Descending: p.newest}
}

// Next trims recs to the page and returns the token of the next page, or nil
// on the last page.
func (p Page) Next(recs []*store.Record) ([]*store.Record, *string) {
	if len(recs) <= p.limit {
		return recs, nil
	}
	recs = recs[:p.limit]
	raw, _ := json.Marshal(token{Scope: p.scope, After: recs[len(recs)-1].Seq})
	t := base64.RawURLEncoding.EncodeToString(raw)
	return recs, &t
}
