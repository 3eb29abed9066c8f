package cleanrooms

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	api "github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
	"github.com/cleanroomsd/cleanroomsd/internal/store/pgstore"
	"github.com/cleanroomsd/cleanroomsd/internal/store/pgstore/pgtest"
	"github.com/cleanroomsd/cleanroomsd/internal/store/sqlitestore"
)

// queueStores returns the stores the queue must work on: the embedded one,
// and PostgreSQL when the test database is configured (required under CI).
func queueStores(t *testing.T) map[string]func(t *testing.T) store.Store {
	stores := map[string]func(t *testing.T) store.Store{
		"sqlite": func(t *testing.T) store.Store {
			s, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
	if os.Getenv(pgtest.URLEnv) == "" && os.Getenv("CI") != "true" {
		return stores // PostgreSQL is optional outside CI
	}
	stores["postgres"] = func(t *testing.T) store.Store {
		dbURL, _, _ := pgtest.Database(t)
		s, err := pgstore.Open(context.Background(), dbURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	return stores
}

// TestEachQueryIsClaimedOnce has two runners (as on two replicas) claim
// queued queries concurrently from one store: every query is claimed by
// exactly one of them, once.
func TestEachQueryIsClaimedOnce(t *testing.T) {
	for name, open := range queueStores(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			ctx := context.Background()
			const queries = 40
			err := st.Update(ctx, func(tx store.Tx) error {
				for i := 0; i < queries; i++ {
					q := &protectedQuery{rec: &store.Record{Kind: kindProtectedQuery, ID: fmt.Sprintf("q%03d", i), Parent: "m", Account: "111111111111",
						Status: string(api.ProtectedQueryStatusSubmitted), CreateTime: time.Now(), UpdateTime: time.Now()}}
					q.rec.Data = encode(q.data)
					if err := tx.Insert(ctx, q.rec); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			runners := []*Service{
				New(Config{Store: st, Queries: QueryConfig{Instance: "replica-1"}}),
				New(Config{Store: st, Queries: QueryConfig{Instance: "replica-2"}}),
			}
			var mu sync.Mutex
			claims := map[string][]string{}
			var wg sync.WaitGroup
			for _, r := range runners {
				for w := 0; w < 3; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							q, err := r.claimQuery(ctx)
							if err != nil {
								t.Error(err)
								return
							}
							if q == nil {
								return
							}
							mu.Lock()
							claims[q.rec.ID] = append(claims[q.rec.ID], r.queries.Instance)
							mu.Unlock()
						}
					}()
				}
			}
			wg.Wait()
			if len(claims) != queries {
				t.Errorf("%d queries claimed, want %d", len(claims), queries)
			}
			perRunner := map[string]int{}
			for id, by := range claims {
				if len(by) != 1 {
					t.Errorf("query %s claimed %d times (%v)", id, len(by), by)
				}
				perRunner[by[0]]++
			}
			// Every claimed query is STARTED under its claimant's lease.
			err = st.View(ctx, func(tx store.Tx) error {
				for id, by := range claims {
					rec, err := tx.Get(ctx, kindProtectedQuery, id)
					if err != nil {
						return err
					}
					q, err := protectedQueryOf(rec)
					if err != nil {
						return err
					}
					if q.status() != api.ProtectedQueryStatusStarted || q.data.LeaseOwner != by[0] || q.data.Attempts != 1 {
						t.Errorf("query %s: %s, lease %q, attempts %d", id, q.status(), q.data.LeaseOwner, q.data.Attempts)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("claims per runner: %v", perRunner)
		})
	}
}
