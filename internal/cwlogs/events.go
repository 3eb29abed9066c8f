package cwlogs

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/cleanroomsd/cleanroomsd/internal/api/logsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
	"github.com/cleanroomsd/cleanroomsd/internal/wire"
)

// Event is a log event that another service writes with Append.
type Event struct {
	Time    time.Time
	Message string
}

// key orders events: by timestamp, then by the batch's store Seq (ingestion
// order), then by place in the batch. It is unique per event.
type key struct {
	ts  int64
	seq int64
	idx int64
}

func (a key) less(b key) bool {
	if a.ts != b.ts {
		return a.ts < b.ts
	}
	if a.seq != b.seq {
		return a.seq < b.seq
	}
	return a.idx < b.idx
}

// next is the smallest key after k.
func (k key) next() key { return key{k.ts, k.seq, k.idx + 1} }

// digits renders k as a fixed-width decimal string (ordered like k).
func (k key) digits() string { return fmt.Sprintf("%019d%019d%06d", k.ts, k.seq, k.idx) }

func parseDigits(s string) (key, bool) {
	if len(s) != 44 {
		return key{}, false
	}
	var k key
	var err error
	for _, f := range []struct {
		dst  *int64
		from int
		to   int
	}{{&k.ts, 0, 19}, {&k.seq, 19, 38}, {&k.idx, 38, 44}} {
		if *f.dst, err = strconv.ParseInt(s[f.from:f.to], 10, 64); err != nil || *f.dst < 0 {
			return key{}, false
		}
	}
	return k, true
}

// An event as read back.
type event struct {
	k        key
	stream   string
	msg      string
	ingested int64
}

func (e *event) size() int { return len(e.msg) + eventOverhead }

// timeRange bounds event timestamps: [start, end) or [start, end].
type timeRange struct {
	start, end   *int64
	endInclusive bool
}

func (r timeRange) has(ts int64) bool {
	if r.start != nil && ts < *r.start {
		return false
	}
	if r.end != nil && (ts > *r.end || (ts == *r.end && !r.endInclusive)) {
		return false
	}
	return true
}

// loadEvents returns the events of a stream within r that match, sorted.
func loadEvents(ctx context.Context, tx store.Tx, sid, stream string, r timeRange, match matcher, out []event) ([]event, error) {
	recs, err := listAll(ctx, tx, kindBatch, store.Filter{Parent: sid})
	if err != nil {
		return nil, err
	}
	for _, rec := range recs {
		var b batchData
		if err := json.Unmarshal(rec.Data, &b); err != nil {
			return nil, fault.Wrap(fault.Internal, err, "stored log events %s are corrupt", rec.ID)
		}
		for i, e := range b.Events {
			if !r.has(e.T) || (match != nil && !match(e.M)) {
				continue
			}
			out = append(out, event{k: key{e.T, rec.Seq, int64(i)}, stream: stream, msg: e.M, ingested: e.I})
		}
	}
	return out, nil
}

func sortEvents(evs []event) {
	sort.Slice(evs, func(i, j int) bool { return evs[i].k.less(evs[j].k) })
}

// writeBatch stores events (sorted by timestamp) in the stream, adding them
// to its newest batch when that stays small, and updates the stream's and
// group's statistics.
func writeBatch(ctx context.Context, tx store.Tx, account string, grec *store.Record, g *groupData,
	srec *store.Record, st *streamData, events []batchEvent, now time.Time) error {
	if len(events) == 0 {
		return nil
	}
	ingested := ms(now)
	size := 0
	for i := range events {
		events[i].I = ingested
		size += len(events[i].M) + eventOverhead
	}
	appended := false
	if st.Tail != "" && st.TailEvents+len(events) <= tailMaxEvents && st.TailBytes+size <= tailMaxBytes {
		rec, err := tx.Get(ctx, kindBatch, st.Tail)
		switch {
		case err == nil:
			var b batchData
			if err := json.Unmarshal(rec.Data, &b); err != nil {
				return fault.Wrap(fault.Internal, err, "stored log events %s are corrupt", rec.ID)
			}
			b.Events = append(b.Events, events...)
			rec.Data, _ = json.Marshal(b)
			rec.UpdateTime = now
			if err := tx.Update(ctx, rec); err != nil {
				return err
			}
			st.TailEvents += len(events)
			st.TailBytes += size
			appended = true
		case fault.KindOf(err) != fault.NotFound:
			return err
		}
	}
	if !appended {
		id := srec.ID + "|" + uuid.NewString()
		data, _ := json.Marshal(batchData{Events: events})
		if err := tx.Insert(ctx, &store.Record{Kind: kindBatch, ID: id, Parent: srec.ID,
			Account: account, CreateTime: now, UpdateTime: now, Data: data}); err != nil {
			return err
		}
		st.Tail, st.TailEvents, st.TailBytes = id, len(events), size
	}
	first, last := events[0].T, events[len(events)-1].T
	if st.First == nil || first < *st.First {
		st.First = ptr(first)
	}
	if st.Last == nil || last > *st.Last {
		st.Last = ptr(last)
	}
	st.LastIngestion = ptr(ingested)
	srec.Data, _ = json.Marshal(st)
	srec.UpdateTime = now
	if err := tx.Update(ctx, srec); err != nil {
		return err
	}
	g.StoredBytes += int64(size)
	grec.Data, _ = json.Marshal(g)
	grec.UpdateTime = now
	return tx.Update(ctx, grec)
}

// PutLogEvents stores a batch of events. As on AWS, events older than 14
// days or more than 2 hours in the future are not stored but reported in
// rejectedLogEventsInfo, and the sequence token is ignored.
func (s *Service) PutLogEvents(ctx context.Context, in *logsapi.PutLogEventsInput) (*logsapi.PutLogEventsOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if len(in.LogEvents) > maxBatchEvents {
		return nil, invalid("The batch of log events in a single PutLogEvents request cannot contain more than %d events.", maxBatchEvents)
	}
	size := 0
	for i, e := range in.LogEvents {
		size += len(e.Message) + eventOverhead
		if i > 0 && *e.Timestamp < *in.LogEvents[i-1].Timestamp {
			return nil, invalid("Log events in a single PutLogEvents request must be in chronological order.")
		}
	}
	if size > maxBatchBytes {
		return nil, invalid("Upload too large: %d bytes exceeds limit of %d", size, maxBatchBytes)
	}
	if n := len(in.LogEvents); n > 0 && *in.LogEvents[n-1].Timestamp-*in.LogEvents[0].Timestamp > maxBatchSpan.Milliseconds() {
		return nil, invalid("The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
	}
	now := s.now()
	oldest, newest := ms(now.Add(-maxEventAge)), ms(now.Add(maxEventFuture))
	out := &logsapi.PutLogEventsOutput{}
	var keep []batchEvent
	var info logsapi.RejectedLogEventsInfo
	for i, e := range in.LogEvents {
		switch {
		case *e.Timestamp < oldest:
			info.TooOldLogEventEndIndex = ptr(int32(i))
		case *e.Timestamp > newest:
			if info.TooNewLogEventStartIndex == nil {
				info.TooNewLogEventStartIndex = ptr(int32(i))
			}
		default:
			keep = append(keep, batchEvent{T: *e.Timestamp, M: e.Message})
		}
	}
	if info.TooOldLogEventEndIndex != nil || info.TooNewLogEventStartIndex != nil {
		out.RejectedLogEventsInfo = &info
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		grec, g, err := getGroup(ctx, tx, account, in.LogGroupName)
		if err != nil {
			return err
		}
		srec, st, err := getStream(ctx, tx, grec.ID, in.LogStreamName)
		if err != nil {
			return err
		}
		return writeBatch(ctx, tx, account, grec, g, srec, st, keep, now.UTC())
	})
	if err != nil {
		return nil, err
	}
	// Sequence tokens are no longer checked by AWS either; one is still
	// returned for clients that read it.
	out.NextSequenceToken = ptr(fmt.Sprintf("%056d", now.UnixNano()))
	return out, nil
}

// Append writes events to account's stream, creating the group and stream
// if needed; with no events it only creates them. Events are stored in
// timestamp order, in batches within PutLogEvents' limits; none of
// PutLogEvents' age limits apply. The names follow CloudWatch Logs' rules.
func (s *Service) Append(ctx context.Context, account, group, stream string, events []Event) error {
	var v wire.Validator
	(&logsapi.CreateLogStreamInput{LogGroupName: group, LogStreamName: stream}).Validate(&v)
	if !v.OK() {
		return fault.Newf(fault.Validation, "%s", v.Summary())
	}
	sorted := make([]batchEvent, 0, len(events))
	for _, e := range events {
		if e.Message == "" {
			return invalid("a log event's message must not be empty")
		}
		if len(e.Message)+eventOverhead > maxBatchBytes {
			return invalid("a log event's message exceeds %d bytes", maxBatchBytes-eventOverhead)
		}
		sorted = append(sorted, batchEvent{T: max(ms(e.Time), 0), M: e.Message})
	}
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].T < sorted[j].T })
	// Split into batches PutLogEvents could have sent.
	var batches [][]batchEvent
	for start := 0; start < len(sorted); {
		end, size := start, 0
		for end < len(sorted) && end-start < maxBatchEvents && size+len(sorted[end].M)+eventOverhead <= maxBatchBytes {
			size += len(sorted[end].M) + eventOverhead
			end++
		}
		batches = append(batches, sorted[start:end])
		start = end
	}
	now := s.now()
	return s.store.Update(ctx, func(tx store.Tx) error {
		gid := groupID(account, group)
		grec, g, err := getGroup(ctx, tx, account, group)
		if fault.KindOf(err) == fault.NotFound {
			if err := insertGroup(ctx, tx, account, &groupData{Name: group, Created: ms(now),
				Class: string(logsapi.LogGroupClassStandard)}); err != nil {
				return err
			}
			grec, g, err = getGroup(ctx, tx, account, group)
		}
		if err != nil {
			return err
		}
		srec, st, err := getStream(ctx, tx, gid, stream)
		if fault.KindOf(err) == fault.NotFound {
			if err := insertStream(ctx, tx, account, gid, &streamData{Name: stream, Created: ms(now)}); err != nil {
				return err
			}
			srec, st, err = getStream(ctx, tx, gid, stream)
		}
		if err != nil {
			return err
		}
		for _, b := range batches {
			if err := writeBatch(ctx, tx, account, grec, g, srec, st, b, now.UTC()); err != nil {
				return err
			}
		}
		return nil
	})
}

// GetLogEvents reads one stream. Tokens name a position between events:
// f/POS reads forward from it, b/POS backward. At either end the same token
// comes back, which is how clients know to stop.
func (s *Service) GetLogEvents(ctx context.Context, in *logsapi.GetLogEventsInput) (*logsapi.GetLogEventsOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	group, err := s.resolveGroup(account, in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	forward := in.StartFromHead != nil && *in.StartFromHead
	var pos *key
	if in.NextToken != nil {
		dir, rest, _ := strings.Cut(*in.NextToken, "/")
		digits, suffix, _ := strings.Cut(rest, "/")
		k, ok := parseDigits(digits)
		if !ok || (dir != "f" && dir != "b") || suffix != "s" {
			return nil, invalid("The specified nextToken is invalid.")
		}
		forward, pos = dir == "f", &k
	}
	limit := limitOf(in.Limit, eventsDefaultLimit)
	r := timeRange{start: in.StartTime, end: in.EndTime}

	var evs []event
	err = s.store.View(ctx, func(tx store.Tx) error {
		grec, _, err := getGroup(ctx, tx, account, group)
		if err != nil {
			return err
		}
		srec, _, err := getStream(ctx, tx, grec.ID, in.LogStreamName)
		if err != nil {
			return err
		}
		evs, err = loadEvents(ctx, tx, srec.ID, in.LogStreamName, r, nil, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	sortEvents(evs)

	var page []event
	var from key // the position before the page
	switch {
	case forward:
		i := 0
		if pos != nil {
			from = *pos
			i = sort.Search(len(evs), func(i int) bool { return !evs[i].k.less(from) })
		}
		page = headOf(evs[i:], limit)
	default:
		j := len(evs)
		if pos != nil {
			j = sort.Search(len(evs), func(i int) bool { return !evs[i].k.less(*pos) })
		}
		page = tailOf(evs[:j], limit)
		if len(page) == 0 && pos != nil {
			from = *pos
		}
	}
	out := &logsapi.GetLogEventsOutput{Events: []logsapi.OutputLogEvent{}}
	for _, e := range page {
		out.Events = append(out.Events, logsapi.OutputLogEvent{Timestamp: ptr(e.k.ts), Message: ptr(e.msg), IngestionTime: ptr(e.ingested)})
	}
	if len(page) == 0 {
		// Nothing here: both tokens stay where the request was.
		out.NextForwardToken = ptr("f/" + from.digits() + "/s")
		out.NextBackwardToken = ptr("b/" + from.digits() + "/s")
		return out, nil
	}
	out.NextForwardToken = ptr("f/" + page[len(page)-1].k.next().digits() + "/s")
	out.NextBackwardToken = ptr("b/" + page[0].k.digits() + "/s")
	return out, nil
}

// headOf returns the first events that fit limit and the response size.
func headOf(evs []event, limit int) []event {
	size := 0
	for i := range evs {
		if i == limit || size+evs[i].size() > maxResponseBytes {
			return evs[:i]
		}
		size += evs[i].size()
	}
	return evs
}

// tailOf returns the last events that fit limit and the response size.
func tailOf(evs []event, limit int) []event {
	size := 0
	for i := len(evs) - 1; i >= 0; i-- {
		if len(evs)-1-i == limit || size+evs[i].size() > maxResponseBytes {
			return evs[i+1:]
		}
		size += evs[i].size()
	}
	return evs
}

// filterToken is FilterLogEvents' nextToken: the position of the next page.
const filterTokenPrefix = "F"

// FilterLogEvents searches a group's streams (all, those named, or those
// with a prefix) for events in [startTime, endTime] matching the filter
// pattern, returned in timestamp order across streams.
func (s *Service) FilterLogEvents(ctx context.Context, in *logsapi.FilterLogEventsInput) (*logsapi.FilterLogEventsOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	group, err := s.resolveGroup(account, in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if in.LogStreamNames != nil && in.LogStreamNamePrefix != nil {
		return nil, invalid("Cannot specify both logStreamNames and logStreamNamePrefix.")
	}
	match, err := compilePattern(deref(in.FilterPattern))
	if err != nil {
		return nil, err
	}
	var from key
	if in.NextToken != nil {
		k, ok := parseDigits(strings.TrimPrefix(*in.NextToken, filterTokenPrefix))
		if !ok || !strings.HasPrefix(*in.NextToken, filterTokenPrefix) {
			return nil, invalid("The specified nextToken is invalid.")
		}
		from = k
	}
	limit := limitOf(in.Limit, eventsDefaultLimit)
	r := timeRange{start: in.StartTime, end: in.EndTime, endInclusive: true}
	var names map[string]bool
	if in.LogStreamNames != nil {
		names = map[string]bool{}
		for _, n := range in.LogStreamNames {
			names[n] = true
		}
	}
	prefix := deref(in.LogStreamNamePrefix)

	var evs []event
	err = s.store.View(ctx, func(tx store.Tx) error {
		evs = evs[:0]
		grec, _, err := getGroup(ctx, tx, account, group)
		if err != nil {
			return err
		}
		streams, err := listAll(ctx, tx, kindStream, store.Filter{Parent: grec.ID})
		if err != nil {
			return err
		}
		found := 0
		for _, srec := range streams {
			var st streamData
			if err := json.Unmarshal(srec.Data, &st); err != nil {
				return fault.Wrap(fault.Internal, err, "stored log stream %s is corrupt", srec.ID)
			}
			if (names != nil && !names[st.Name]) || !strings.HasPrefix(st.Name, prefix) {
				continue
			}
			found++
			// Streams whose events all lie outside the range are skipped unread.
			if st.First == nil || (r.end != nil && *st.First > *r.end) || (r.start != nil && *st.Last < *r.start) {
				continue
			}
			if evs, err = loadEvents(ctx, tx, srec.ID, st.Name, r, match, evs); err != nil {
				return err
			}
		}
		if names != nil && found < len(names) {
			return streamNotFound()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortEvents(evs)
	i := sort.Search(len(evs), func(i int) bool { return !evs[i].k.less(from) })
	page := headOf(evs[i:], limit)
	out := &logsapi.FilterLogEventsOutput{Events: []logsapi.FilteredLogEvent{}, SearchedLogStreams: []logsapi.SearchedLogStream{}}
	for _, e := range page {
		out.Events = append(out.Events, logsapi.FilteredLogEvent{LogStreamName: ptr(e.stream), Timestamp: ptr(e.k.ts),
			Message: ptr(e.msg), IngestionTime: ptr(e.ingested), EventId: ptr(eventID(e.k))})
	}
	if len(page) > 0 && i+len(page) < len(evs) {
		out.NextToken = ptr(filterTokenPrefix + page[len(page)-1].k.next().digits())
	}
	return out, nil
}

// eventID is an event's unique, stable ID: its key, as digits.
func eventID(k key) string { return k.digits() }
