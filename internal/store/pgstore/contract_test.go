package pgstore

import (
	"testing"

	"github.com/cleanroomsd/cleanroomsd/internal/store"
	"github.com/cleanroomsd/cleanroomsd/internal/store/storetest"
)

// TestContract runs the shared store contract suite. Every Open gets a fresh
// database of its own.
func TestContract(t *testing.T) {
	adminURL(t)
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T) store.Store {
			s, db := openStore(t)
			dbOf.Store(s, db)
			return s
		},
		Reopen: func(t *testing.T, s store.Store) store.Store {
			v, ok := dbOf.Load(s)
			if !ok {
				t.Fatal("Reopen: not a store from Open")
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			s2 := openDB(t, v.(*testDB))
			dbOf.Store(s2, v)
			return s2
		},
	})
}
