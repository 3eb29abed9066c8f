package pgstore

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/cleanroomsd/cleanroomsd/internal/store"
)

func benchRecord(i int64) *store.Record {
	r := rec("bench", fmt.Sprint("r-", i))
	r.Parent, r.Account, r.Status, r.UniqueKey = "parent", "111122223333", "ACTIVE", fmt.Sprint("key-", i)
	r.Data = []byte(`{"name":"a bench record","description":"about two hundred bytes of JSON, like a small Clean Rooms resource","tags":{"a":"b"}}`)
	return r
}

// BenchmarkUpdateInsert measures one Update that inserts one record.
func BenchmarkUpdateInsert(b *testing.B) {
	s, _ := openStore(b)
	var n atomic.Int64
	b.ResetTimer()
	for b.Loop() {
		r := benchRecord(n.Add(1))
		if err := s.Update(bg, func(tx store.Tx) error { return tx.Insert(bg, r) }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdateInsertParallel is BenchmarkUpdateInsert from GOMAXPROCS
// goroutines (scale with -cpu).
func BenchmarkUpdateInsertParallel(b *testing.B) {
	s, _ := openStore(b)
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := benchRecord(n.Add(1))
			if err := s.Update(bg, func(tx store.Tx) error { return tx.Insert(bg, r) }); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkViewGet measures one View that gets one record out of 1000.
func BenchmarkViewGet(b *testing.B) {
	s, _ := openStore(b)
	const records = 1000
	if err := s.Update(bg, func(tx store.Tx) error {
		for i := range int64(records) {
			if err := tx.Insert(bg, benchRecord(i)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	var n int64
	b.ResetTimer()
	for b.Loop() {
		n++
		id := fmt.Sprint("r-", n%records)
		if err := s.View(bg, func(tx store.Tx) error { _, err := tx.Get(bg, "bench", id); return err }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkViewList measures a View listing a page of 50 records by parent.
func BenchmarkViewList(b *testing.B) {
	s, _ := openStore(b)
	if err := s.Update(bg, func(tx store.Tx) error {
		for i := range int64(1000) {
			if err := tx.Insert(bg, benchRecord(i)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := s.View(bg, func(tx store.Tx) error {
			_, err := tx.List(bg, "bench", store.Filter{Parent: "parent"}, store.Page{After: 500, Limit: 50})
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
}
