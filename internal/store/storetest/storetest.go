// Package storetest is the contract suite of store.Store. Every
// implementation runs it from its own tests:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, storetest.Harness{Open: openTempStore})
//	}
//
// The suite checks what the doc comments of package store promise. Where it
// reads more into them than they spell out (a Tx stays usable after a
// NotFound or Conflict answer; a panic in fn rolls back and propagates; a
// context cancelled before fn returns makes Update fail and keep nothing; the
// empty unique key finds nothing), the test's comment says so.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
)

// Harness tells the suite how to get stores.
type Harness struct {
	// Open returns a new, empty store. It arranges for the store to be
	// closed when t ends (t.Cleanup).
	Open func(t *testing.T) store.Store
	// Reopen, if set, closes s and opens the same data again. The suite
	// then checks that committed records survive.
	Reopen func(t *testing.T, s store.Store) store.Store
}

// Run runs the contract suite against the stores h opens.
func Run(t *testing.T, h Harness) {
	if h.Open == nil {
		t.Fatal("storetest: Harness.Open is nil")
	}
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"InsertGetRoundTrip", testRoundTrip},
		{"GetMissing", testGetMissing},
		{"ReadYourWrites", testReadYourWrites},
		{"SameIDInDifferentKinds", testSameIDDifferentKinds},
		{"SameUniqueKeyInDifferentKinds", testSameUniqueKeyDifferentKinds},
		{"EmptyUniqueKeyNeverConflicts", testEmptyUniqueKey},
		{"InsertDuplicateID", testInsertDuplicateID},
		{"InsertDuplicateUniqueKey", testInsertDuplicateUniqueKey},
		{"TxUsableAfterNotFoundAndConflict", testTxUsableAfterError},
		{"UpdateReplacesFields", testUpdateReplacesFields},
		{"UpdateMissing", testUpdateMissing},
		{"UpdateUniqueKeyTaken", testUpdateUniqueKeyTaken},
		{"UpdateKeepsOwnUniqueKey", testUpdateKeepsOwnUniqueKey},
		{"UpdateFreesOldUniqueKey", testUpdateFreesOldUniqueKey},
		{"Delete", testDelete},
		{"ListAndCountFilters", testListFilters},
		{"ListPaging", testListPaging},
		{"FnErrorRollsBack", testFnErrorRollsBack},
		{"FnPanicRollsBack", testFnPanic},
		{"ViewSeesCommitted", testViewSeesCommitted},
		{"ViewReturnsFnError", testViewReturnsFnError},
		{"ViewRejectsWrites", testViewRejectsWrites},
		{"ViewSnapshot", testViewSnapshot},
		{"SeqIncreasing", testSeqIncreasing},
		{"ConcurrentUniqueKeyRace", testConcurrentUniqueKey},
		{"ConcurrentLostUpdate", testLostUpdate},
		{"ConcurrentPaginationStability", testPaginationStability},
		{"ContextCancelled", testContextCancelled},
		{"ClaimEachOnce", testClaimEachOnce},
		{"Ping", testPing},
		{"Reopen", testReopen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

// when is an input time in a non-UTC zone with sub-millisecond digits, so
// that a store that keeps the zone, or loses milliseconds, is caught.
var when = time.Date(2024, 3, 5, 10, 20, 30, 123456789, time.FixedZone("IST", 5*3600+1800))

// unicodeData is a body a JSON-normalizing store would rewrite: odd spacing,
// unsorted keys, escapes, and characters outside ASCII and the BMP.
var unicodeData = []byte(`{"z": 1,   "a":[true,null], "name":"Zürich — 東京 🚀", "esc":"\u00e9\n"}`)

func rec(kind, id string) *store.Record {
	return &store.Record{
		Kind: kind, ID: id,
		CreateTime: when, UpdateTime: when,
		Data: []byte(`{"id":"` + id + `"}`),
	}
}

// update runs s.Update and fails the test on an error.
func update(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// insert inserts rs in one transaction; it sets their Seq.
func insert(t *testing.T, s store.Store, rs ...*store.Record) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		for _, r := range rs {
			if err := tx.Insert(t.Context(), r); err != nil {
				return fmt.Errorf("Insert %s/%s: %w", r.Kind, r.ID, err)
			}
		}
		return nil
	})
}

// get reads (kind, id) in a View.
func get(t *testing.T, s store.Store, kind, id string) (*store.Record, error) {
	t.Helper()
	var got *store.Record
	err := s.View(t.Context(), func(tx store.Tx) error {
		var err error
		got, err = tx.Get(t.Context(), kind, id)
		return err
	})
	return got, err
}

func mustGet(t *testing.T, s store.Store, kind, id string) *store.Record {
	t.Helper()
	r, err := get(t, s, kind, id)
	if err != nil {
		t.Fatalf("Get(%q, %q): %v", kind, id, err)
	}
	return r
}

func getByKey(t *testing.T, s store.Store, kind, key string) (*store.Record, error) {
	t.Helper()
	var got *store.Record
	err := s.View(t.Context(), func(tx store.Tx) error {
		var err error
		got, err = tx.GetByUniqueKey(t.Context(), kind, key)
		return err
	})
	return got, err
}

// wantKind fails the test unless err is a fault of kind want.
func wantKind(t *testing.T, what string, err error, want fault.Kind) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got nil error, want %v", what, want)
		return
	}
	var fe *fault.Error
	if !errors.As(err, &fe) {
		t.Errorf("%s: got %T %v, want a *fault.Error of kind %v", what, err, err, want)
		return
	}
	if got := fault.KindOf(err); got != want {
		t.Errorf("%s: got kind %v (%v), want %v", what, got, err, want)
	}
}

// wantAbsent fails the test unless (kind, id) does not exist.
func wantAbsent(t *testing.T, s store.Store, kind, id string) {
	t.Helper()
	r, err := get(t, s, kind, id)
	if err == nil {
		t.Errorf("Get(%q, %q) = %+v, want NotFound", kind, id, r)
		return
	}
	wantKind(t, fmt.Sprintf("Get(%q, %q)", kind, id), err, fault.NotFound)
}

const ms = time.Millisecond

// checkTime checks that got holds want to the millisecond, in UTC.
func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if got.Location() != time.UTC {
		t.Errorf("%s: location is %v, want UTC", what, got.Location())
	}
	if g, w := got.Truncate(ms).UTC(), want.Truncate(ms).UTC(); !g.Equal(w) {
		t.Errorf("%s = %v, want %v (to the millisecond)", what, g, w)
	}
}

// checkRecord compares every field of got with want; want.Seq must be the
// Seq that Insert set.
func checkRecord(t *testing.T, what string, got, want *store.Record) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil record", what)
		return
	}
	for _, f := range []struct{ name, got, want string }{
		{"Kind", got.Kind, want.Kind},
		{"ID", got.ID, want.ID},
		{"Parent", got.Parent, want.Parent},
		{"Account", got.Account, want.Account},
		{"Status", got.Status, want.Status},
		{"UniqueKey", got.UniqueKey, want.UniqueKey},
	} {
		if f.got != f.want {
			t.Errorf("%s: %s = %q, want %q", what, f.name, f.got, f.want)
		}
	}
	if got.Seq != want.Seq || got.Seq <= 0 {
		t.Errorf("%s: Seq = %d, want %d (> 0)", what, got.Seq, want.Seq)
	}
	checkTime(t, what+": CreateTime", got.CreateTime, want.CreateTime)
	checkTime(t, what+": UpdateTime", got.UpdateTime, want.UpdateTime)
	if !bytes.Equal(got.Data, want.Data) {
		t.Errorf("%s: Data = %q, want %q", what, got.Data, want.Data)
	}
}

func ids(rs []*store.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func testRoundTrip(t *testing.T, h Harness) {
	created := when
	updated := when.Add(90*time.Minute + 456789*time.Nanosecond)
	cases := []struct {
		name string
		r    store.Record
	}{
		{"AllFields", store.Record{Kind: "membership", ID: "m-1", Parent: "collab-1", Account: "111122223333",
			Status: "ACTIVE", UniqueKey: "collab-1/111122223333", CreateTime: created, UpdateTime: updated, Data: unicodeData}},
		{"NilData", store.Record{Kind: "membership", ID: "m-nil", CreateTime: created, UpdateTime: updated}},
		{"EmptyData", store.Record{Kind: "membership", ID: "m-empty", CreateTime: created, UpdateTime: updated, Data: []byte{}}},
		{"OnlyKindAndID", store.Record{Kind: "k", ID: "only", CreateTime: created, UpdateTime: created, Data: []byte(`{}`)}},
		{"UnicodeColumns", store.Record{Kind: "kïnd", ID: "ïd-東京", Parent: "pärent", Account: "äccount", Status: "stätus",
			UniqueKey: "këy/🚀", CreateTime: created, UpdateTime: updated, Data: []byte(`[]`)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := h.Open(t)
			r := tc.r
			insert(t, s, &r)
			if r.Seq <= 0 {
				t.Fatalf("Insert set Seq = %d, want > 0", r.Seq)
			}
			checkRecord(t, "Get", mustGet(t, s, r.Kind, r.ID), &r)
			if r.UniqueKey != "" {
				got, err := getByKey(t, s, r.Kind, r.UniqueKey)
				if err != nil {
					t.Fatalf("GetByUniqueKey(%q, %q): %v", r.Kind, r.UniqueKey, err)
				}
				checkRecord(t, "GetByUniqueKey", got, &r)
			}
			var listed []*store.Record
			err := s.View(t.Context(), func(tx store.Tx) error {
				var err error
				listed, err = tx.List(t.Context(), r.Kind, store.Filter{}, store.Page{Limit: 10})
				return err
			})
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if len(listed) != 1 {
				t.Fatalf("List returned %d records, want 1", len(listed))
			}
			checkRecord(t, "List", listed[0], &r)
		})
	}
}

func testGetMissing(t *testing.T, h Harness) {
	s := h.Open(t)
	r := rec("k", "present")
	insert(t, s, r)
	_, err := get(t, s, "k", "absent")
	wantKind(t, `Get("k", "absent")`, err, fault.NotFound)
	_, err = get(t, s, "other", "present")
	wantKind(t, `Get("other", "present")`, err, fault.NotFound)
	_, err = getByKey(t, s, "k", "no-such-key")
	wantKind(t, `GetByUniqueKey("k", "no-such-key")`, err, fault.NotFound)
	// Records without a unique key have UniqueKey "", which means "none":
	// looking up the empty key finds nothing.
	_, err = getByKey(t, s, "k", "")
	wantKind(t, `GetByUniqueKey("k", "")`, err, fault.NotFound)
}

func testReadYourWrites(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := t.Context()
	r := rec("k", "a")
	r.UniqueKey = "key-a"
	r.Parent = "p"
	var got, byKey *store.Record
	var listed []*store.Record
	var n int
	update(t, s, func(tx store.Tx) error {
		if err := tx.Insert(ctx, r); err != nil {
			return err
		}
		var err error
		if got, err = tx.Get(ctx, "k", "a"); err != nil {
			return fmt.Errorf("Get: %w", err)
		}
		if byKey, err = tx.GetByUniqueKey(ctx, "k", "key-a"); err != nil {
			return fmt.Errorf("GetByUniqueKey: %w", err)
		}
		if listed, err = tx.List(ctx, "k", store.Filter{Parent: "p"}, store.Page{Limit: 5}); err != nil {
			return fmt.Errorf("List: %w", err)
		}
		if n, err = tx.Count(ctx, "k", store.Filter{Parent: "p"}); err != nil {
			return fmt.Errorf("Count: %w", err)
		}
		return nil
	})
	checkRecord(t, "Get in the inserting transaction", got, r)
	checkRecord(t, "GetByUniqueKey in the inserting transaction", byKey, r)
	if want := []string{"a"}; !slices.Equal(ids(listed), want) {
		t.Errorf("List in the inserting transaction = %v, want %v", ids(listed), want)
	}
	if n != 1 {
		t.Errorf("Count in the inserting transaction = %d, want 1", n)
	}
}

func testSameIDDifferentKinds(t *testing.T, h Harness) {
	s := h.Open(t)
	a, b := rec("kind-a", "same"), rec("kind-b", "same")
	a.Status, b.Status = "A", "B"
	insert(t, s, a)
	insert(t, s, b)
	checkRecord(t, "kind-a", mustGet(t, s, "kind-a", "same"), a)
	checkRecord(t, "kind-b", mustGet(t, s, "kind-b", "same"), b)
}

func testSameUniqueKeyDifferentKinds(t *testing.T, h Harness) {
	s := h.Open(t)
	a, b := rec("kind-a", "a"), rec("kind-b", "b")
	a.UniqueKey, b.UniqueKey = "shared", "shared"
	insert(t, s, a)
	insert(t, s, b)
	for _, want := range []*store.Record{a, b} {
		got, err := getByKey(t, s, want.Kind, "shared")
		if err != nil {
			t.Fatalf("GetByUniqueKey(%q, shared): %v", want.Kind, err)
		}
		checkRecord(t, "GetByUniqueKey "+want.Kind, got, want)
	}
}

func testEmptyUniqueKey(t *testing.T, h Harness) {
	s := h.Open(t)
	a, b := rec("k", "a"), rec("k", "b")
	insert(t, s, a, b) // both have UniqueKey ""
	c := rec("k", "c")
	c.UniqueKey = "c-key"
	insert(t, s, c)
	// Clearing c's key joins the other keyless records.
	c.UniqueKey = ""
	update(t, s, func(tx store.Tx) error { return tx.Update(t.Context(), c) })
	if got := mustGet(t, s, "k", "c").UniqueKey; got != "" {
		t.Errorf("after clearing, UniqueKey = %q, want empty", got)
	}
	_, err := getByKey(t, s, "k", "c-key")
	wantKind(t, "GetByUniqueKey of the cleared key", err, fault.NotFound)
}

// testDuplicate inserts first, then, in one transaction, a fresh record and
// dup; the transaction must fail with Conflict and leave nothing behind.
func testDuplicate(t *testing.T, h Harness, first, dup *store.Record) {
	s := h.Open(t)
	insert(t, s, first)
	fresh := rec(dup.Kind, "fresh")
	var insertErr error
	err := s.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.Insert(t.Context(), fresh); err != nil {
			return fmt.Errorf("Insert fresh: %w", err)
		}
		insertErr = tx.Insert(t.Context(), dup)
		return insertErr
	})
	wantKind(t, "Insert of the duplicate", insertErr, fault.Conflict)
	wantKind(t, "Update", err, fault.Conflict)
	wantAbsent(t, s, fresh.Kind, fresh.ID)
	checkRecord(t, "the first record", mustGet(t, s, first.Kind, first.ID), first)
	if dup.ID != first.ID {
		wantAbsent(t, s, dup.Kind, dup.ID)
	}
}

func testInsertDuplicateID(t *testing.T, h Harness) {
	first := rec("k", "dup")
	first.UniqueKey = "first-key"
	dup := rec("k", "dup")
	dup.UniqueKey = "other-key"
	dup.Status = "SECOND"
	testDuplicate(t, h, first, dup)
}

func testInsertDuplicateUniqueKey(t *testing.T, h Harness) {
	first := rec("k", "first")
	first.UniqueKey = "taken"
	dup := rec("k", "second")
	dup.UniqueKey = "taken"
	testDuplicate(t, h, first, dup)
}

// testTxUsableAfterError: a NotFound or Conflict from a Tx method is an
// answer, not a failure of the transaction; fn may go on and commit. (The
// contract describes these errors as results of the method; nothing says
// they end the transaction.)
func testTxUsableAfterError(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := t.Context()
	existing := rec("k", "existing")
	existing.UniqueKey = "key"
	insert(t, s, existing)
	created := rec("k", "created")
	var getErr, dupIDErr, dupKeyErr, updErr error
	update(t, s, func(tx store.Tx) error {
		_, getErr = tx.Get(ctx, "k", "missing")
		dupIDErr = tx.Insert(ctx, rec("k", "existing"))
		dupKey := rec("k", "other")
		dupKey.UniqueKey = "key"
		dupKeyErr = tx.Insert(ctx, dupKey)
		updErr = tx.Update(ctx, rec("k", "missing"))
		return tx.Insert(ctx, created)
	})
	wantKind(t, "Get of a missing record", getErr, fault.NotFound)
	wantKind(t, "Insert of a duplicate id", dupIDErr, fault.Conflict)
	wantKind(t, "Insert of a duplicate key", dupKeyErr, fault.Conflict)
	wantKind(t, "Update of a missing record", updErr, fault.NotFound)
	checkRecord(t, "record inserted after the errors", mustGet(t, s, "k", "created"), created)
	checkRecord(t, "existing record", mustGet(t, s, "k", "existing"), existing)
	wantAbsent(t, s, "k", "other")
	wantAbsent(t, s, "k", "missing")
}

func testUpdateReplacesFields(t *testing.T, h Harness) {
	s := h.Open(t)
	orig := &store.Record{Kind: "k", ID: "a", Parent: "p1", Account: "acct1", Status: "CREATING",
		UniqueKey: "key1", CreateTime: when, UpdateTime: when, Data: []byte(`{"v":1}`)}
	insert(t, s, orig)
	later := when.Add(time.Hour + 789*time.Microsecond)
	changed := &store.Record{Kind: "k", ID: "a", Parent: "p2", Account: "acct2", Status: "ACTIVE",
		UniqueKey: "key2", UpdateTime: later, Data: unicodeData,
		// Both must be ignored:
		CreateTime: when.Add(-24 * time.Hour), Seq: orig.Seq + 1000}
	update(t, s, func(tx store.Tx) error { return tx.Update(t.Context(), changed) })
	want := &store.Record{Kind: "k", ID: "a", Parent: "p2", Account: "acct2", Status: "ACTIVE",
		UniqueKey: "key2", Seq: orig.Seq, CreateTime: orig.CreateTime, UpdateTime: later, Data: unicodeData}
	checkRecord(t, "after Update", mustGet(t, s, "k", "a"), want)

	// Data can be emptied.
	changed.Data = nil
	update(t, s, func(tx store.Tx) error { return tx.Update(t.Context(), changed) })
	if got := mustGet(t, s, "k", "a").Data; len(got) != 0 {
		t.Errorf("after Update with nil Data, Data = %q, want empty", got)
	}
}

func testUpdateMissing(t *testing.T, h Harness) {
	s := h.Open(t)
	insert(t, s, rec("other-kind", "a"))
	var updErr error
	err := s.Update(t.Context(), func(tx store.Tx) error {
		updErr = tx.Update(t.Context(), rec("k", "a"))
		return updErr
	})
	wantKind(t, "Tx.Update of a missing record", updErr, fault.NotFound)
	wantKind(t, "Update", err, fault.NotFound)
	wantAbsent(t, s, "k", "a")
}

func testUpdateUniqueKeyTaken(t *testing.T, h Harness) {
	s := h.Open(t)
	a, b := rec("k", "a"), rec("k", "b")
	a.UniqueKey, b.UniqueKey = "key-a", "key-b"
	insert(t, s, a, b)
	steal := *b
	steal.UniqueKey = "key-a"
	steal.Status = "CHANGED"
	var updErr error
	err := s.Update(t.Context(), func(tx store.Tx) error {
		updErr = tx.Update(t.Context(), &steal)
		return updErr
	})
	wantKind(t, "Tx.Update to a taken key", updErr, fault.Conflict)
	wantKind(t, "Update", err, fault.Conflict)
	checkRecord(t, "owner of the key", mustGet(t, s, "k", "a"), a)
	checkRecord(t, "record that tried to take it", mustGet(t, s, "k", "b"), b)
}

func testUpdateKeepsOwnUniqueKey(t *testing.T, h Harness) {
	s := h.Open(t)
	a := rec("k", "a")
	a.UniqueKey = "mine"
	insert(t, s, a)
	a.Status = "ACTIVE"
	a.Data = []byte(`{"v":2}`)
	update(t, s, func(tx store.Tx) error { return tx.Update(t.Context(), a) })
	checkRecord(t, "after Update keeping the key", mustGet(t, s, "k", "a"), a)
}

func testUpdateFreesOldUniqueKey(t *testing.T, h Harness) {
	s := h.Open(t)
	a := rec("k", "a")
	a.UniqueKey = "old"
	insert(t, s, a)
	a.UniqueKey = "new"
	update(t, s, func(tx store.Tx) error { return tx.Update(t.Context(), a) })
	b := rec("k", "b")
	b.UniqueKey = "old"
	insert(t, s, b)
	for key, wantID := range map[string]string{"old": "b", "new": "a"} {
		got, err := getByKey(t, s, "k", key)
		if err != nil {
			t.Errorf("GetByUniqueKey(%q): %v", key, err)
			continue
		}
		if got.ID != wantID {
			t.Errorf("GetByUniqueKey(%q).ID = %q, want %q", key, got.ID, wantID)
		}
	}
}

func testDelete(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := t.Context()
	a := rec("k", "a")
	a.UniqueKey = "key-a"
	other := rec("other", "a")
	other.UniqueKey = "key-a"
	insert(t, s, a, other)

	update(t, s, func(tx store.Tx) error { return tx.Delete(ctx, "k", "a") })
	wantAbsent(t, s, "k", "a")
	_, err := getByKey(t, s, "k", "key-a")
	wantKind(t, "GetByUniqueKey of the deleted record's key", err, fault.NotFound)
	checkRecord(t, "same id in another kind", mustGet(t, s, "other", "a"), other)

	var delErr error
	err = s.Update(ctx, func(tx store.Tx) error {
		delErr = tx.Delete(ctx, "k", "a")
		return delErr
	})
	wantKind(t, "Tx.Delete of a deleted record", delErr, fault.NotFound)
	wantKind(t, "Update", err, fault.NotFound)

	// The id and the key are free again; the new record is a new insert.
	again := rec("k", "a")
	again.UniqueKey = "key-a"
	insert(t, s, again)
	if again.Seq <= a.Seq {
		t.Errorf("re-inserted record has Seq %d, want > %d (the deleted one's)", again.Seq, a.Seq)
	}
	got, err := getByKey(t, s, "k", "key-a")
	if err != nil {
		t.Fatalf("GetByUniqueKey after re-insert: %v", err)
	}
	checkRecord(t, "re-inserted record", got, again)
}

// seedList inserts a grid of records for the List and Count tests.
func seedList(t *testing.T, s store.Store) []*store.Record {
	var rs []*store.Record
	parents := []string{"p1", "p2", ""}
	accounts := []string{"acct1", "acct2"}
	statuses := []string{"ACTIVE", "DELETED", "CREATING", ""}
	i := 0
	for range 2 {
		for _, p := range parents {
			for _, a := range accounts {
				for _, st := range statuses {
					r := rec("item", fmt.Sprintf("item-%03d", i))
					r.Parent, r.Account, r.Status = p, a, st
					rs = append(rs, r)
					i++
				}
			}
		}
	}
	// Records of other kinds with the same columns must never show up.
	noise := rec("noise", "noise-1")
	noise.Parent, noise.Account, noise.Status = "p1", "acct1", "ACTIVE"
	// Insert in a few transactions, interleaving the kinds.
	insert(t, s, rs[:10]...)
	insert(t, s, noise)
	insert(t, s, rs[10:]...)
	return rs
}

func matches(r *store.Record, f store.Filter) bool {
	return (f.Parent == "" || r.Parent == f.Parent) &&
		(f.Account == "" || r.Account == f.Account) &&
		(len(f.Statuses) == 0 || slices.Contains(f.Statuses, r.Status))
}

var listFilters = []store.Filter{
	{},
	{Parent: "p1"},
	{Parent: "p2"},
	{Account: "acct2"},
	{Statuses: []string{"ACTIVE"}},
	{Statuses: []string{"ACTIVE", "CREATING"}},
	{Statuses: []string{"NO-SUCH-STATUS"}},
	{Parent: "p1", Account: "acct1"},
	{Parent: "p2", Statuses: []string{"DELETED", "ACTIVE"}},
	{Account: "acct1", Statuses: []string{"CREATING"}},
	{Parent: "p1", Account: "acct2", Statuses: []string{"ACTIVE", "DELETED", "CREATING"}},
	{Parent: "no-such-parent"},
}

func testListFilters(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := t.Context()
	all := seedList(t, s)
	for _, f := range listFilters {
		t.Run(fmt.Sprintf("%+v", f), func(t *testing.T) {
			var want []string
			for _, r := range all {
				if matches(r, f) {
					want = append(want, r.ID)
				}
			}
			var got []*store.Record
			var n int
			err := s.View(ctx, func(tx store.Tx) error {
				var err error
				if got, err = tx.List(ctx, "item", f, store.Page{Limit: 1000}); err != nil {
					return fmt.Errorf("List: %w", err)
				}
				if n, err = tx.Count(ctx, "item", f); err != nil {
					return fmt.Errorf("Count: %w", err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			// seedList inserts in ID order, so increasing Seq is ID order.
			if !slices.Equal(ids(got), want) {
				t.Errorf("List IDs = %v, want %v", ids(got), want)
			}
			for i := 1; i < len(got); i++ {
				if got[i].Seq <= got[i-1].Seq {
					t.Errorf("List: Seq %d follows %d, want increasing", got[i].Seq, got[i-1].Seq)
				}
			}
			if n != len(want) {
				t.Errorf("Count = %d, want %d", n, len(want))
			}
		})
	}
}

// listPages pages through kind with f, one View per page.
func listPages(ctx context.Context, s store.Store, kind string, f store.Filter, limit int) ([]*store.Record, error) {
	var out []*store.Record
	after := int64(0)
	for pages := 0; ; pages++ {
		if pages > 10000 {
			return out, errors.New("paging does not end")
		}
		var page []*store.Record
		err := s.View(ctx, func(tx store.Tx) error {
			var err error
			page, err = tx.List(ctx, kind, f, store.Page{After: after, Limit: limit})
			return err
		})
		if err != nil {
			return out, err
		}
		if len(page) > limit {
			return out, fmt.Errorf("List returned %d records, Limit is %d", len(page), limit)
		}
		if len(page) == 0 {
			return out, nil
		}
		for _, r := range page {
			if r.Seq <= after {
				return out, fmt.Errorf("List after %d returned Seq %d", after, r.Seq)
			}
			after = r.Seq
		}
		out = append(out, page...)
	}
}

func testListPaging(t *testing.T, h Harness) {
	s := h.Open(t)
	all := seedList(t, s)
	for _, f := range listFilters {
		for _, limit := range []int{1, 3, 1000} {
			t.Run(fmt.Sprintf("%+v/Limit=%d", f, limit), func(t *testing.T) {
				var want []string
				for _, r := range all {
					if matches(r, f) {
						want = append(want, r.ID)
					}
				}
				got, err := listPages(t.Context(), s, "item", f, limit)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(ids(got), want) {
					t.Errorf("paged IDs = %v, want %v", ids(got), want)
				}
			})
		}
	}
	t.Run("Descending", func(t *testing.T) {
		for _, f := range listFilters {
			var want []string
			for i := len(all) - 1; i >= 0; i-- {
				if matches(all[i], f) {
					want = append(want, all[i].ID)
				}
			}
			var got []*store.Record
			before := int64(0)
			for pages := 0; pages < 10000; pages++ {
				var page []*store.Record
				err := s.View(t.Context(), func(tx store.Tx) error {
					var err error
					page, err = tx.List(t.Context(), "item", f, store.Page{After: before, Limit: 2, Descending: true})
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				for _, r := range page {
					if before != 0 && r.Seq >= before {
						t.Fatalf("%+v: descending List before %d returned Seq %d", f, before, r.Seq)
					}
					before = r.Seq
				}
				got = append(got, page...)
			}
			if !slices.Equal(ids(got), want) {
				t.Errorf("%+v: descending paged IDs = %v, want %v", f, ids(got), want)
			}
		}
	})
	t.Run("AfterLast", func(t *testing.T) {
		last := all[len(all)-1].Seq
		var got []*store.Record
		err := s.View(t.Context(), func(tx store.Tx) error {
			var err error
			got, err = tx.List(t.Context(), "item", store.Filter{}, store.Page{After: last, Limit: 10})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Errorf("List after the last Seq = %v, want none", ids(got))
		}
	})
}

var errSentinel = errors.New("storetest: sentinel error from fn")

func testFnErrorRollsBack(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := t.Context()
	kept, doomed := rec("k", "kept"), rec("k", "doomed")
	kept.UniqueKey = "kept-key"
	insert(t, s, kept, doomed)
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Insert(ctx, rec("k", "new")); err != nil {
			return err
		}
		changed := *kept
		changed.Status = "CHANGED"
		changed.UniqueKey = "changed-key"
		if err := tx.Update(ctx, &changed); err != nil {
			return err
		}
		if err := tx.Delete(ctx, "k", "doomed"); err != nil {
			return err
		}
		return errSentinel
	})
	if err != errSentinel { // the contract says "unchanged"
		t.Errorf("Update returned %v, want fn's error unchanged (%v)", err, errSentinel)
	}
	if !errors.Is(err, errSentinel) {
		t.Errorf("errors.Is(Update error, sentinel) = false")
	}
	wantAbsent(t, s, "k", "new")
	checkRecord(t, "updated record", mustGet(t, s, "k", "kept"), kept)
	checkRecord(t, "deleted record", mustGet(t, s, "k", "doomed"), doomed)
	if _, err := getByKey(t, s, "k", "changed-key"); fault.KindOf(err) != fault.NotFound {
		t.Errorf("GetByUniqueKey of the rolled-back key: err = %v, want NotFound", err)
	}

	// A fault from fn comes back as it was too.
	fe := fault.Conflicting("SomeReason", "k", "kept", "custom")
	err = s.Update(ctx, func(tx store.Tx) error { return fe })
	if err != error(fe) {
		t.Errorf("Update returned %v, want fn's *fault.Error unchanged", err)
	}
}

// testFnPanic: a panic in fn reaches the caller of Update, and the store
// stays usable with nothing of fn's writes kept. (The contract says nothing
// of panics; the HTTP layer recovers them and must not wedge the store.)
func testFnPanic(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := t.Context()
	got := func() (v any) {
		defer func() { v = recover() }()
		_ = s.Update(ctx, func(tx store.Tx) error {
			if err := tx.Insert(ctx, rec("k", "from-panicking-fn")); err != nil {
				return err
			}
			panic("storetest panic")
		})
		return nil
	}()
	if got != "storetest panic" {
		t.Errorf("recovered %v, want the panic value of fn", got)
	}
	wantAbsent(t, s, "k", "from-panicking-fn")
	after := rec("k", "after")
	insert(t, s, after)
	checkRecord(t, "record inserted after the panic", mustGet(t, s, "k", "after"), after)
}

func testViewSeesCommitted(t *testing.T, h Harness) {
	s := h.Open(t)
	a := rec("k", "a")
	insert(t, s, a)
	checkRecord(t, "View after the first commit", mustGet(t, s, "k", "a"), a)
	a.Status = "ACTIVE"
	update(t, s, func(tx store.Tx) error { return tx.Update(t.Context(), a) })
	checkRecord(t, "View after the second commit", mustGet(t, s, "k", "a"), a)
	update(t, s, func(tx store.Tx) error { return tx.Delete(t.Context(), "k", "a") })
	wantAbsent(t, s, "k", "a")
}

func testViewReturnsFnError(t *testing.T, h Harness) {
	s := h.Open(t)
	err := s.View(t.Context(), func(tx store.Tx) error { return errSentinel })
	if err != errSentinel { // the contract says "unchanged"
		t.Errorf("View returned %v, want fn's error unchanged", err)
	}
}

func testViewRejectsWrites(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := t.Context()
	existing := rec("k", "existing")
	insert(t, s, existing)
	var insErr, updErr, delErr error
	err := s.View(ctx, func(tx store.Tx) error {
		insErr = tx.Insert(ctx, rec("k", "new"))
		changed := *existing
		changed.Status = "CHANGED"
		updErr = tx.Update(ctx, &changed)
		delErr = tx.Delete(ctx, "k", "existing")
		return nil // ignore the errors: nothing may persist anyway
	})
	if err != nil {
		t.Errorf("View: %v", err)
	}
	wantKind(t, "Insert in View", insErr, fault.Internal)
	wantKind(t, "Update in View", updErr, fault.Internal)
	wantKind(t, "Delete in View", delErr, fault.Internal)
	wantAbsent(t, s, "k", "new")
	checkRecord(t, "record written to in View", mustGet(t, s, "k", "existing"), existing)
}

func testViewSnapshot(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := t.Context()
	a := rec("k", "a")
	insert(t, s, a)
	var before, after *store.Record
	var countBefore, countAfter int
	var listAfter []*store.Record
	var writeErr error
	err := s.View(ctx, func(tx store.Tx) error {
		var err error
		if before, err = tx.Get(ctx, "k", "a"); err != nil {
			return err
		}
		if countBefore, err = tx.Count(ctx, "k", store.Filter{}); err != nil {
			return err
		}
		// Commit changes from another goroutine while this View is open.
		done := make(chan struct{})
		go func() {
			defer close(done)
			writeErr = s.Update(ctx, func(tx store.Tx) error {
				changed := *a
				changed.Status = "CHANGED"
				if err := tx.Update(ctx, &changed); err != nil {
					return err
				}
				return tx.Insert(ctx, rec("k", "b"))
			})
		}()
		<-done
		if after, err = tx.Get(ctx, "k", "a"); err != nil {
			return err
		}
		if countAfter, err = tx.Count(ctx, "k", store.Filter{}); err != nil {
			return err
		}
		listAfter, err = tx.List(ctx, "k", store.Filter{}, store.Page{Limit: 10})
		return err
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	if writeErr != nil {
		t.Fatalf("concurrent Update: %v", writeErr)
	}
	checkRecord(t, "Get before the concurrent commit", before, a)
	checkRecord(t, "Get after the concurrent commit, same View", after, a)
	if countBefore != 1 || countAfter != 1 {
		t.Errorf("Count before/after the concurrent commit = %d/%d, want 1/1", countBefore, countAfter)
	}
	if want := []string{"a"}; !slices.Equal(ids(listAfter), want) {
		t.Errorf("List after the concurrent commit = %v, want %v", ids(listAfter), want)
	}
	if got := mustGet(t, s, "k", "a").Status; got != "CHANGED" {
		t.Errorf("a new View sees Status %q, want CHANGED", got)
	}
}

func testSeqIncreasing(t *testing.T, h Harness) {
	s := h.Open(t)
	var last int64
	check := func(r *store.Record) {
		t.Helper()
		if r.Seq <= last {
			t.Errorf("%s/%s: Seq %d, want > %d", r.Kind, r.ID, r.Seq, last)
		}
		last = r.Seq
	}
	for i := range 6 {
		r := rec([]string{"a", "b", "c"}[i%3], fmt.Sprintf("r%d", i))
		insert(t, s, r)
		check(r)
	}
	batch := []*store.Record{rec("a", "x1"), rec("b", "x2"), rec("a", "x3")}
	insert(t, s, batch...)
	for _, r := range batch {
		check(r)
	}
	// Deleting the newest record does not let its Seq be reused.
	update(t, s, func(tx store.Tx) error { return tx.Delete(t.Context(), "a", "x3") })
	r := rec("a", "after-delete")
	insert(t, s, r)
	check(r)
	// A rolled-back insert does not matter either way, but what follows is
	// still larger than everything committed.
	_ = s.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.Insert(t.Context(), rec("c", "rolled-back")); err != nil {
			return err
		}
		return errSentinel
	})
	r = rec("c", "after-rollback")
	insert(t, s, r)
	check(r)
}

func testConcurrentUniqueKey(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := t.Context()
	const n = 32
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = s.Update(ctx, func(tx store.Tx) error {
				r := rec("k", fmt.Sprintf("racer-%02d", i))
				r.UniqueKey = "the-key"
				return tx.Insert(ctx, r)
			})
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("racers %d and %d both inserted the key", winner, i)
		case err == nil:
			winner = i
		default:
			wantKind(t, fmt.Sprintf("racer %d", i), err, fault.Conflict)
		}
	}
	if winner < 0 {
		t.Fatal("no racer inserted the key")
	}
	got, err := getByKey(t, s, "k", "the-key")
	if err != nil {
		t.Fatalf("GetByUniqueKey: %v", err)
	}
	if want := fmt.Sprintf("racer-%02d", winner); got.ID != want {
		t.Errorf("key owner = %q, want %q", got.ID, want)
	}
	var n2 int
	if err := s.View(ctx, func(tx store.Tx) error {
		var err error
		n2, err = tx.Count(ctx, "k", store.Filter{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n2 != 1 {
		t.Errorf("Count = %d, want 1", n2)
	}
}

type counter struct {
	N int `json:"n"`
}

func testLostUpdate(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := t.Context()
	c := rec("counter", "c")
	c.Data = []byte(`{"n":0}`)
	insert(t, s, c)
	const workers, increments = 16, 10
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range increments {
				// fn may run more than once: it keeps no state across runs.
				err := s.Update(ctx, func(tx store.Tx) error {
					r, err := tx.Get(ctx, "counter", "c")
					if err != nil {
						return err
					}
					var v counter
					if err := json.Unmarshal(r.Data, &v); err != nil {
						return err
					}
					v.N++
					if r.Data, err = json.Marshal(v); err != nil {
						return err
					}
					return tx.Update(ctx, r)
				})
				if err != nil {
					t.Errorf("worker %d, increment %d: %v", w, i, err)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	var v counter
	if err := json.Unmarshal(mustGet(t, s, "counter", "c").Data, &v); err != nil {
		t.Fatal(err)
	}
	if want := workers * increments; v.N != want {
		t.Errorf("counter = %d, want %d (lost updates)", v.N, want)
	}
}

func testPaginationStability(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := t.Context()
	const seeded = 200
	seed := make(map[string]bool)
	var rs []*store.Record
	for i := range seeded {
		r := rec("page", fmt.Sprintf("seed-%03d", i))
		r.Parent = "p"
		rs = append(rs, r)
		seed[r.ID] = true
	}
	for i := 0; i < seeded; i += 50 {
		insert(t, s, rs[i:i+50]...)
	}

	// The inserter signals each commit; the lister waits for one after
	// every page, so that records are inserted between pages, besides
	// during them.
	stop := make(chan struct{})
	committed := make(chan struct{}, 1)
	inserterDone := make(chan struct{})
	inserted := 0
	var insertErr error
	go func() {
		defer close(inserterDone)
		for i := 0; i < 5000; i++ { // bounded; normally stopped long before
			select {
			case <-stop:
				return
			default:
			}
			r := rec("page", fmt.Sprintf("new-%04d", i))
			r.Parent = "p"
			if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, r) }); err != nil {
				insertErr = err
				return
			}
			inserted++
			select {
			case committed <- struct{}{}:
			default:
			}
		}
	}()
	var got []*store.Record
	var pageErr error
	after := int64(0)
paging:
	for pages := 0; pages < 10000; pages++ {
		var page []*store.Record
		pageErr = s.View(ctx, func(tx store.Tx) error {
			var err error
			page, err = tx.List(ctx, "page", store.Filter{Parent: "p"}, store.Page{After: after, Limit: 7})
			return err
		})
		if pageErr != nil || len(page) == 0 {
			break
		}
		if len(page) > 7 {
			t.Errorf("List returned %d records, Limit is 7", len(page))
		}
		for _, r := range page {
			if r.Seq <= after {
				t.Errorf("List after %d returned Seq %d", after, r.Seq)
			}
			after = r.Seq
		}
		got = append(got, page...)
		select {
		case <-committed:
		case <-inserterDone:
		case <-time.After(10 * time.Second):
			pageErr = errors.New("the inserter made no progress for 10 s")
			break paging
		}
	}
	close(stop)
	<-inserterDone
	if pageErr != nil {
		t.Fatalf("paging: %v", pageErr)
	}
	if insertErr != nil {
		t.Fatalf("concurrent insert: %v", insertErr)
	}
	seen := make(map[string]int)
	for _, r := range got {
		seen[r.ID]++
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("record %s listed %d times, want once", id, n)
		}
	}
	missing := 0
	for id := range seed {
		if seen[id] == 0 {
			missing++
			if missing <= 10 {
				t.Errorf("seeded record %s not listed", id)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d seeded records not listed", missing, seeded)
	}
	t.Logf("listed %d records while %d were inserted concurrently", len(got), inserted)
}

// testContextCancelled: a context that ends before the commit makes Update
// fail and keep nothing, whether it ended before the call or while fn ran.
// (database/sql rolls a transaction back when its context ends, so this is
// what a database/sql-based store does anyway.)
func testContextCancelled(t *testing.T, h Harness) {
	t.Run("BeforeUpdate", func(t *testing.T) {
		s := h.Open(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := s.Update(ctx, func(tx store.Tx) error {
			return tx.Insert(ctx, rec("k", "a"))
		})
		if err == nil {
			t.Error("Update with a cancelled context returned nil")
		}
		wantAbsent(t, s, "k", "a")
	})
	t.Run("DuringUpdate", func(t *testing.T) {
		s := h.Open(t)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		err := s.Update(ctx, func(tx store.Tx) error {
			if err := tx.Insert(ctx, rec("k", "a")); err != nil {
				return err
			}
			cancel()
			return nil
		})
		if err == nil {
			t.Error("Update whose context was cancelled before commit returned nil")
		}
		wantAbsent(t, s, "k", "a")
		// The store is still usable.
		b := rec("k", "b")
		insert(t, s, b)
		checkRecord(t, "record inserted afterwards", mustGet(t, s, "k", "b"), b)
	})
	t.Run("View", func(t *testing.T) {
		s := h.Open(t)
		insert(t, s, rec("k", "a"))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := s.View(ctx, func(tx store.Tx) error {
			_, err := tx.Get(ctx, "k", "a")
			return err
		})
		if err == nil {
			t.Error("View with a cancelled context returned nil")
		}
	})
}

func testPing(t *testing.T, h Harness) {
	s := h.Open(t)
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func testReopen(t *testing.T, h Harness) {
	if h.Reopen == nil {
		t.Skip("the harness has no Reopen")
	}
	s := h.Open(t)
	ctx := t.Context()
	a, b, c := rec("k", "a"), rec("k", "b"), rec("other", "a")
	a.UniqueKey = "key-a"
	a.Data = unicodeData
	b.Status = "ACTIVE"
	insert(t, s, a, b)
	insert(t, s, c)
	doomed := rec("k", "doomed")
	insert(t, s, doomed)
	update(t, s, func(tx store.Tx) error { return tx.Delete(ctx, "k", "doomed") })

	s = h.Reopen(t, s)
	checkRecord(t, "k/a after reopen", mustGet(t, s, "k", "a"), a)
	checkRecord(t, "k/b after reopen", mustGet(t, s, "k", "b"), b)
	checkRecord(t, "other/a after reopen", mustGet(t, s, "other", "a"), c)
	wantAbsent(t, s, "k", "doomed")
	got, err := listPages(ctx, s, "k", store.Filter{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b"}; !slices.Equal(ids(got), want) {
		t.Errorf("List after reopen = %v, want %v", ids(got), want)
	}
	// Uniqueness and Seq order carry over.
	var dupErr error
	err = s.Update(ctx, func(tx store.Tx) error {
		r := rec("k", "dup")
		r.UniqueKey = "key-a"
		dupErr = tx.Insert(ctx, r)
		return dupErr
	})
	wantKind(t, "Insert of a taken key after reopen", dupErr, fault.Conflict)
	wantKind(t, "Update", err, fault.Conflict)
	d := rec("k", "d")
	insert(t, s, d)
	if d.Seq <= doomed.Seq {
		t.Errorf("insert after reopen got Seq %d, want > %d (every earlier insert, deleted ones included)", d.Seq, doomed.Seq)
	}
}

// testClaimEachOnce: N claimers race over M queued records; every record is
// claimed exactly once, in Seq order per claimer, and a Claim with nothing
// left reports false without running fn.
func testClaimEachOnce(t *testing.T, h Harness) {
	s := h.Open(t)
	const m, n = 40, 8
	var rs []*store.Record
	for i := 0; i < m; i++ {
		r := rec("job", fmt.Sprintf("j%02d", i))
		r.Status = "ready"
		rs = append(rs, r)
	}
	other := rec("job", "done-already")
	other.Status = "done"
	insert(t, s, append(rs, other)...)
	ctx := t.Context()
	var mu sync.Mutex
	claims := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last int64
			for {
				var got *store.Record
				ok, err := s.Claim(ctx, "job", store.Filter{Statuses: []string{"ready"}}, func(tx store.Tx, r *store.Record) error {
					got = r
					r.Status = "taken"
					r.UpdateTime = when
					return tx.Update(ctx, r)
				})
				if err != nil {
					errs <- err
					return
				}
				if !ok {
					return
				}
				if got.Seq <= last {
					errs <- fmt.Errorf("claimer got seq %d after %d", got.Seq, last)
					return
				}
				last = got.Seq
				mu.Lock()
				claims[got.ID]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(claims) != m {
		t.Fatalf("%d records claimed, want %d", len(claims), m)
	}
	for id, c := range claims {
		if c != 1 {
			t.Errorf("%s claimed %d times", id, c)
		}
	}
	ran := false
	ok, err := s.Claim(ctx, "job", store.Filter{Statuses: []string{"ready"}}, func(store.Tx, *store.Record) error { ran = true; return nil })
	if err != nil || ok || ran {
		t.Errorf("Claim with nothing left: %v %v, fn ran %v", ok, err, ran)
	}
	// An error from fn rolls the claim back: the record stays claimable.
	r := rec("job", "again")
	r.Status = "ready"
	insert(t, s, r)
	boom := errors.New("boom")
	if _, err := s.Claim(ctx, "job", store.Filter{Statuses: []string{"ready"}}, func(tx store.Tx, r *store.Record) error {
		r.Status = "taken"
		if err := tx.Update(ctx, r); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("Claim returned %v, want fn's error", err)
	}
	ok, err = s.Claim(ctx, "job", store.Filter{Statuses: []string{"ready"}}, func(tx store.Tx, r *store.Record) error {
		if r.ID != "again" {
			return fmt.Errorf("claimed %s", r.ID)
		}
		r.Status = "taken"
		return tx.Update(ctx, r)
	})
	if err != nil || !ok {
		t.Errorf("the rolled-back claim: %v %v", ok, err)
	}
}
