package cwlogs

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cleanroomsd/cleanroomsd/internal/api/logsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/identity"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
	"github.com/cleanroomsd/cleanroomsd/internal/store/sqlitestore"
)

// TestSmallWritesShareBatches writes one event at a time, as the query
// runner does, and checks that events land in few records while their IDs
// and order stay what they were when first read.
func TestSmallWritesShareBatches(t *testing.T) {
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := New(st, "us-east-1")
	const account, group = "111111111111", "/aws/cleanrooms"
	ctx := identity.With(context.Background(), identity.Caller{AccountID: account})
	base := time.Now().Add(-time.Hour)
	filter := func() []logsapi.FilteredLogEvent {
		t.Helper()
		out, err := s.FilterLogEvents(ctx, &logsapi.FilterLogEventsInput{LogGroupName: ptr(group)})
		if err != nil {
			t.Fatal(err)
		}
		return out.Events
	}
	const n = 1200
	var firstIDs []string
	for i := range n {
		// Timestamps go back and forth; reading sorts them.
		ts := base.Add(time.Duration((i*7919)%n) * time.Millisecond)
		if err := s.Append(ctx, account, group, "m", []Event{{Time: ts, Message: fmt.Sprint("event ", i)}}); err != nil {
			t.Fatal(err)
		}
		if i == 9 {
			for _, e := range filter() {
				firstIDs = append(firstIDs, *e.EventId+"="+*e.Message)
			}
		}
	}
	// A PutLogEvents write joins the tail too.
	if _, err := s.CreateLogStream(ctx, &logsapi.CreateLogStreamInput{LogGroupName: group, LogStreamName: "p"}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := s.PutLogEvents(ctx, &logsapi.PutLogEventsInput{LogGroupName: group, LogStreamName: "p",
			LogEvents: []logsapi.InputLogEvent{{Timestamp: ptr(base.UnixMilli() + int64(i)), Message: "put"}}}); err != nil {
			t.Fatal(err)
		}
	}

	var batches int
	st.View(ctx, func(tx store.Tx) error {
		batches, err = tx.Count(ctx, kindBatch, store.Filter{Account: account})
		return err
	})
	if want := (n+tailMaxEvents-1)/tailMaxEvents + 1; batches != want {
		t.Fatalf("%d events in %d batches, want %d", n+3, batches, want)
	}
	evs := filter()
	if len(evs) != n+3 {
		t.Fatalf("read %d events", len(evs))
	}
	ids := map[string]bool{}
	for i, e := range evs {
		if i > 0 && *e.Timestamp < *evs[i-1].Timestamp {
			t.Fatalf("event %d out of order", i)
		}
		ids[*e.EventId+"="+*e.Message] = true
	}
	for _, id := range firstIDs {
		if !ids[id] {
			t.Fatalf("event %s changed its ID", id)
		}
	}
}

// TestConcurrentAppends appends to one stream from several goroutines: no
// event is lost when writes share the tail batch.
func TestConcurrentAppends(t *testing.T) {
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := New(st, "us-east-1")
	const account, group = "111111111111", "/aws/cleanrooms"
	ctx := identity.With(context.Background(), identity.Caller{AccountID: account})
	const workers, each = 6, 40
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for i := range each {
				if err := s.Append(ctx, account, group, "m", []Event{{Time: time.Now(), Message: fmt.Sprintf("w%d-%d", w, i)}}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	out, err := s.FilterLogEvents(ctx, &logsapi.FilterLogEventsInput{LogGroupName: ptr(group)})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range out.Events {
		seen[*e.Message] = true
	}
	if len(out.Events) != workers*each || len(seen) != workers*each {
		t.Fatalf("%d events, %d distinct, want %d", len(out.Events), len(seen), workers*each)
	}
}
