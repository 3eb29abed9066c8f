package sqlitestore

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cleanroomsd/cleanroomsd/internal/store"
)

// The benchmarks report ops/s besides ns/op. Serial runs one Update at a
// time, so every Update waits for its own fsync; Parallel runs 32 callers
// (b.SetParallelism(16) on 2 CPUs), the shape of a busy HTTP server, where
// group commit shares fsyncs. NoGroupCommit is Parallel with MaxBatch 1.

func reportOps(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

var benchData = []byte(`{"membershipIdentifier":"0b5e4c8e-7c55-4f5e-9f0a-1a2b3c4d5e6f","collaborationArn":"arn:aws:cleanrooms:us-east-1:111122223333:collaboration/6f1b2c3d","memberAbilities":["CAN_QUERY","CAN_RECEIVE_RESULTS"],"status":"ACTIVE","queryLogStatus":"ENABLED"}`)

func benchStore(b *testing.B, opts ...Option) *Store {
	return openAt(b, filepath.Join(b.TempDir(), "bench.db"), opts...)
}

func insertOne(s *Store, id string) error {
	ctx := context.Background()
	return s.Update(ctx, func(tx store.Tx) error {
		now := time.Now()
		return tx.Insert(ctx, &store.Record{Kind: "bench", ID: id, Parent: "p", Account: "111122223333",
			Status: "ACTIVE", UniqueKey: "key-" + id, CreateTime: now, UpdateTime: now, Data: benchData})
	})
}

func BenchmarkUpdateInsert(b *testing.B) {
	var n atomic.Int64
	b.Run("Serial", func(b *testing.B) {
		s := benchStore(b)
		for b.Loop() {
			if err := insertOne(s, fmt.Sprint(n.Add(1))); err != nil {
				b.Fatal(err)
			}
		}
		reportOps(b)
	})
	parallel := func(b *testing.B, opts ...Option) {
		s := benchStore(b, opts...)
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := insertOne(s, fmt.Sprint(n.Add(1))); err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportOps(b)
	}
	b.Run("Parallel", func(b *testing.B) { parallel(b) })
	b.Run("ParallelNoGroupCommit", func(b *testing.B) { parallel(b, WithMaxBatch(1)) })
}

// BenchmarkUpdateMembership is the store's share of one CreateMembership:
// three reads (the collaboration, the caller's membership by unique key, a
// count), one insert and one update, in one Update, from 32 callers.
func BenchmarkUpdateMembership(b *testing.B) {
	for _, mode := range []struct {
		name string
		opts []Option
	}{{"GroupCommit", nil}, {"NoGroupCommit", []Option{WithMaxBatch(1)}}} {
		b.Run(mode.name, func(b *testing.B) {
			s := benchStore(b, mode.opts...)
			ctx := context.Background()
			const collabs = 64
			if err := s.Update(ctx, func(tx store.Tx) error {
				for i := range collabs {
					now := time.Now()
					if err := tx.Insert(ctx, &store.Record{Kind: "collaboration", ID: fmt.Sprint("c", i), Account: "111122223333",
						Status: "ACTIVE", CreateTime: now, UpdateTime: now, Data: benchData}); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					collab := fmt.Sprint("c", i%collabs)
					account := fmt.Sprint(100000000000 + i)
					err := s.Update(ctx, func(tx store.Tx) error {
						c, err := tx.Get(ctx, "collaboration", collab)
						if err != nil {
							return err
						}
						if _, err := tx.GetByUniqueKey(ctx, "membership", collab+"/"+account); err == nil {
							return fmt.Errorf("membership exists")
						}
						if _, err := tx.Count(ctx, "membership", store.Filter{Account: account}); err != nil {
							return err
						}
						now := time.Now()
						if err := tx.Insert(ctx, &store.Record{Kind: "membership", ID: fmt.Sprint("m", i), Parent: collab,
							Account: account, Status: "ACTIVE", UniqueKey: collab + "/" + account,
							CreateTime: now, UpdateTime: now, Data: benchData}); err != nil {
							return err
						}
						c.UpdateTime = now
						return tx.Update(ctx, c)
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportOps(b)
		})
	}
}

func BenchmarkViewGet(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	const records = 1000
	if err := s.Update(ctx, func(tx store.Tx) error {
		for i := range records {
			now := time.Now()
			if err := tx.Insert(ctx, &store.Record{Kind: "bench", ID: fmt.Sprint(i), CreateTime: now, UpdateTime: now, Data: benchData}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	get := func(i int64) error {
		return s.View(ctx, func(tx store.Tx) error {
			_, err := tx.Get(ctx, "bench", fmt.Sprint(i%records))
			return err
		})
	}
	b.Run("Serial", func(b *testing.B) {
		i := int64(0)
		for b.Loop() {
			i++
			if err := get(i); err != nil {
				b.Fatal(err)
			}
		}
		reportOps(b)
	})
	b.Run("Parallel", func(b *testing.B) {
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := get(n.Add(1)); err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportOps(b)
	})
}
