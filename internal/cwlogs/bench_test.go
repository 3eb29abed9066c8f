package cwlogs

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cleanroomsd/cleanroomsd/internal/api/logsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/identity"
	"github.com/cleanroomsd/cleanroomsd/internal/store/sqlitestore"
)

// BenchmarkFilterLogEvents reads a query-log-sized group: 5000 events in
// 5 streams, one Append per event (the query runner's pattern, the worst
// case for batching), with no pattern and with a JSON pattern matching 1%.
func BenchmarkFilterLogEvents(b *testing.B) {
	st, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "m.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	s := New(st, "us-east-1")
	const account, group = "111111111111", "/aws/cleanrooms"
	ctx := identity.With(context.Background(), identity.Caller{AccountID: account})
	base := time.Now().Add(-time.Hour)
	for i := range 5000 {
		msg := fmt.Sprintf(`{"eventId":"q%d","status":"COMPLETED","queryText":"SELECT COUNT(DISTINCT id) FROM t WHERE x = %d","rows":%d}`, i, i, i%100)
		if err := s.Append(ctx, account, group, fmt.Sprintf("membership-%d", i%5), []Event{{Time: base.Add(time.Duration(i) * time.Millisecond), Message: msg}}); err != nil {
			b.Fatal(err)
		}
	}
	for _, pattern := range []string{"", `{ $.rows = 7 }`} {
		b.Run(fmt.Sprintf("pattern=%q", pattern), func(b *testing.B) {
			for b.Loop() {
				out, err := s.FilterLogEvents(ctx, &logsapi.FilterLogEventsInput{LogGroupName: ptr(group), FilterPattern: ptr(pattern)})
				if err != nil {
					b.Fatal(err)
				}
				if want := map[string]int{"": 5000}[pattern]; want != 0 && len(out.Events) != want {
					b.Fatalf("%d events", len(out.Events))
				}
			}
		})
	}
}
