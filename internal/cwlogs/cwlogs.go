// Package cwlogs implements the part of Amazon CloudWatch Logs that clean
// room members need to read their query logs (log groups, log streams and
// their events) over the metadata store, so every replica serves the same
// logs. It implements logsapi.Service and knows nothing of HTTP; Append lets
// other services write events.
//
// Records:
//
//   - a log group: kind "cwlgroup", ID "account:name", Account the owner;
//   - a log stream: kind "cwlstream", ID "<group id>|<hash of the name>",
//     Parent the group's ID (stream names may be long and any Unicode, so
//     they are hashed to keep keys short);
//   - a batch of events: kind "cwlbatch", Parent the stream's ID. A write
//     (PutLogEvents or Append) is added to the stream's newest batch while
//     that stays under tailMaxEvents and tailMaxBytes, else stored as a new
//     batch, so a stream written one event at a time (as query logs are)
//     is still read in a few records. Events are ordered by timestamp, then
//     by their batch's store Seq, then by their place in the batch: that
//     triple is the key pagination tokens carry, so tokens stay valid as
//     new events arrive, whatever their timestamps.
package cwlogs

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cleanroomsd/cleanroomsd/internal/api/logsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/identity"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
)

// Record kinds.
const (
	kindGroup  = "cwlgroup"
	kindStream = "cwlstream"
	kindBatch  = "cwlbatch"
)

// CloudWatch Logs' page sizes and limits.
const (
	describeDefaultLimit = 50
	eventsDefaultLimit   = 10000
	maxResponseBytes     = 1 << 20 // GetLogEvents/FilterLogEvents answer at most 1 MB of events
	maxBatchBytes        = 1048576 // PutLogEvents: sum of UTF-8 message sizes plus 26 bytes per event
	eventOverhead        = 26
	maxBatchEvents       = 10000
	maxBatchSpan         = 24 * time.Hour
	maxEventAge          = 14 * 24 * time.Hour
	maxEventFuture       = 2 * time.Hour
	listPage             = 1000 // store page size when reading everything under a parent
	tailMaxEvents        = 500
	tailMaxBytes         = 64 << 10
)

// Service serves the CloudWatch Logs subset.
type Service struct {
	logsapi.UnimplementedService
	store  store.Store
	region string
	now    func() time.Time
}

var _ logsapi.Service = (*Service)(nil)

// New returns a Service over st; region goes into ARNs.
func New(st store.Store, region string) *Service {
	if region == "" {
		region = "us-east-1"
	}
	return &Service{store: st, region: region, now: time.Now}
}

// groupData is a log group's record body.
type groupData struct {
	Name               string            `json:"name"`
	Created            int64             `json:"created"`
	KmsKeyID           *string           `json:"kmsKeyId,omitempty"`
	Class              string            `json:"class"`
	Tags               map[string]string `json:"tags,omitempty"`
	DeletionProtection bool              `json:"deletionProtection,omitempty"`
	StoredBytes        int64             `json:"storedBytes"`
}

// streamData is a log stream's record body.
type streamData struct {
	Name          string `json:"name"`
	Created       int64  `json:"created"`
	First         *int64 `json:"first,omitempty"`
	Last          *int64 `json:"last,omitempty"`
	LastIngestion *int64 `json:"lastIngestion,omitempty"`
	// Tail is the ID of the stream's newest batch, with its size: small
	// writes are added to it rather than stored as batches of their own.
	Tail       string `json:"tail,omitempty"`
	TailEvents int    `json:"tailEvents,omitempty"`
	TailBytes  int    `json:"tailBytes,omitempty"`
}

// batchData is a batch of events, in the order they were written; an
// event's place in it never changes, so neither does its key.
type batchData struct {
	Events []batchEvent `json:"e"`
}

type batchEvent struct {
	T int64  `json:"t"` // timestamp
	M string `json:"m"` // message
	I int64  `json:"i"` // ingestion time
}

func groupID(account, name string) string { return account + ":" + name }

func streamID(gid, name string) string {
	h := sha256.Sum256([]byte(name))
	return gid + "|" + hex.EncodeToString(h[:16])
}

func (s *Service) groupARN(account, name string) string {
	return fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", s.region, account, name)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func ptr[T any](v T) *T { return &v }

// caller returns the caller's account.
func caller(ctx context.Context) (string, error) {
	c, ok := identity.From(ctx)
	if !ok || c.AccountID == "" {
		return "", fault.Newf(fault.Internal, "request has no authenticated caller")
	}
	return c.AccountID, nil
}

func invalid(format string, args ...any) error {
	return fault.Newf(fault.Validation, format, args...)
}

func groupNotFound() error {
	return fault.Newf(fault.NotFound, "The specified log group does not exist.")
}
func streamNotFound() error {
	return fault.Newf(fault.NotFound, "The specified log stream does not exist.")
}

// resolveGroup returns the log group name a request names with
// logGroupName or logGroupIdentifier (a name or an ARN), exactly one of
// which must be given. An ARN of another account names a group the caller
// cannot see.
func (s *Service) resolveGroup(account string, name, ident *string) (string, error) {
	switch {
	case name != nil && ident != nil:
		return "", invalid("LogGroupName and LogGroupIdentifier are mutually exclusive parameters.")
	case name != nil:
		return *name, nil
	case ident == nil:
		return "", invalid("Either LogGroupName or LogGroupIdentifier must be specified.")
	}
	id := *ident
	if !strings.HasPrefix(id, "arn:") {
		return id, nil
	}
	// arn:PARTITION:logs:REGION:ACCOUNT:log-group:NAME[:*]
	parts := strings.SplitN(id, ":", 7)
	if len(parts) != 7 || parts[2] != "logs" || parts[5] != "log-group" || parts[6] == "" {
		return "", invalid("Invalid log group identifier %s.", id)
	}
	if parts[4] != account {
		return "", groupNotFound()
	}
	return strings.TrimSuffix(parts[6], ":*"), nil
}

func getGroup(ctx context.Context, tx store.Tx, account, name string) (*store.Record, *groupData, error) {
	rec, err := tx.Get(ctx, kindGroup, groupID(account, name))
	if fault.KindOf(err) == fault.NotFound {
		return nil, nil, groupNotFound()
	}
	if err != nil {
		return nil, nil, err
	}
	var g groupData
	if err := json.Unmarshal(rec.Data, &g); err != nil {
		return nil, nil, fault.Wrap(fault.Internal, err, "stored log group %s is corrupt", rec.ID)
	}
	return rec, &g, nil
}

func getStream(ctx context.Context, tx store.Tx, gid, name string) (*store.Record, *streamData, error) {
	rec, err := tx.Get(ctx, kindStream, streamID(gid, name))
	if fault.KindOf(err) == fault.NotFound {
		return nil, nil, streamNotFound()
	}
	if err != nil {
		return nil, nil, err
	}
	var st streamData
	if err := json.Unmarshal(rec.Data, &st); err != nil {
		return nil, nil, fault.Wrap(fault.Internal, err, "stored log stream %s is corrupt", rec.ID)
	}
	return rec, &st, nil
}

// listAll returns every record of kind under f, in Seq order.
func listAll(ctx context.Context, tx store.Tx, kind string, f store.Filter) ([]*store.Record, error) {
	var all []*store.Record
	var after int64
	for {
		recs, err := tx.List(ctx, kind, f, store.Page{After: after, Limit: listPage})
		if err != nil {
			return nil, err
		}
		all = append(all, recs...)
		if len(recs) < listPage {
			return all, nil
		}
		after = recs[len(recs)-1].Seq
	}
}

func (s *Service) CreateLogGroup(ctx context.Context, in *logsapi.CreateLogGroupInput) (*logsapi.CreateLogGroupOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(in.LogGroupName, "aws/") {
		return nil, invalid("Log group names cannot start with 'aws/'.")
	}
	g := groupData{Name: in.LogGroupName, Created: ms(s.now()), KmsKeyID: in.KmsKeyId, Class: string(logsapi.LogGroupClassStandard),
		Tags: in.Tags}
	if in.LogGroupClass != nil {
		g.Class = string(*in.LogGroupClass)
	}
	if in.DeletionProtectionEnabled != nil {
		g.DeletionProtection = *in.DeletionProtectionEnabled
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		return insertGroup(ctx, tx, account, &g)
	})
	if err != nil {
		return nil, err
	}
	return &logsapi.CreateLogGroupOutput{}, nil
}

func insertGroup(ctx context.Context, tx store.Tx, account string, g *groupData) error {
	data, _ := json.Marshal(g)
	now := time.UnixMilli(g.Created).UTC()
	err := tx.Insert(ctx, &store.Record{Kind: kindGroup, ID: groupID(account, g.Name), Account: account,
		CreateTime: now, UpdateTime: now, Data: data})
	if fault.KindOf(err) == fault.Conflict {
		return fault.Newf(fault.Conflict, "The specified log group already exists")
	}
	return err
}

func insertStream(ctx context.Context, tx store.Tx, account, gid string, st *streamData) error {
	data, _ := json.Marshal(st)
	now := time.UnixMilli(st.Created).UTC()
	err := tx.Insert(ctx, &store.Record{Kind: kindStream, ID: streamID(gid, st.Name), Parent: gid, Account: account,
		CreateTime: now, UpdateTime: now, Data: data})
	if fault.KindOf(err) == fault.Conflict {
		return fault.Newf(fault.Conflict, "The specified log stream already exists")
	}
	return err
}

func (s *Service) CreateLogStream(ctx context.Context, in *logsapi.CreateLogStreamInput) (*logsapi.CreateLogStreamOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	st := streamData{Name: in.LogStreamName, Created: ms(s.now())}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if _, _, err := getGroup(ctx, tx, account, in.LogGroupName); err != nil {
			return err
		}
		return insertStream(ctx, tx, account, groupID(account, in.LogGroupName), &st)
	})
	if err != nil {
		return nil, err
	}
	return &logsapi.CreateLogStreamOutput{}, nil
}

// DeleteLogGroup deletes a log group with its streams and events.
func (s *Service) DeleteLogGroup(ctx context.Context, in *logsapi.DeleteLogGroupInput) (*logsapi.DeleteLogGroupOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	gid := groupID(account, in.LogGroupName)
	err = s.store.Update(ctx, func(tx store.Tx) error {
		_, g, err := getGroup(ctx, tx, account, in.LogGroupName)
		if err != nil {
			return err
		}
		if g.DeletionProtection {
			// DeleteLogGroup models ValidationException for this case.
			return &fault.Error{Kind: fault.Validation, Code: "ValidationException",
				Message: "Log group " + g.Name + " has deletion protection enabled and cannot be deleted."}
		}
		streams, err := listAll(ctx, tx, kindStream, store.Filter{Parent: gid})
		if err != nil {
			return err
		}
		for _, st := range streams {
			batches, err := listAll(ctx, tx, kindBatch, store.Filter{Parent: st.ID})
			if err != nil {
				return err
			}
			for _, b := range batches {
				if err := tx.Delete(ctx, kindBatch, b.ID); err != nil {
					return err
				}
			}
			if err := tx.Delete(ctx, kindStream, st.ID); err != nil {
				return err
			}
		}
		return tx.Delete(ctx, kindGroup, gid)
	})
	if err != nil {
		return nil, err
	}
	return &logsapi.DeleteLogGroupOutput{}, nil
}

// pageToken is the opaque nextToken of the Describe operations: the sort
// key of the last item returned and a scope naming the listing.
type pageToken struct {
	Scope string `json:"s"`
	Name  string `json:"n"`
	Time  int64  `json:"t,omitempty"`
}

func encodeToken(t pageToken) *string {
	raw, _ := json.Marshal(t)
	return ptr(base64.RawURLEncoding.EncodeToString(raw))
}

func decodeToken(tok *string, scope string) (*pageToken, error) {
	if tok == nil {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(*tok)
	var t pageToken
	if err == nil {
		err = json.Unmarshal(raw, &t)
	}
	if err != nil || t.Scope != scope {
		return nil, invalid("The specified nextToken is invalid.")
	}
	return &t, nil
}

func limitOf(l *int32, def int) int {
	if l == nil || *l < 1 {
		return def
	}
	return int(*l)
}

func (s *Service) DescribeLogGroups(ctx context.Context, in *logsapi.DescribeLogGroupsInput) (*logsapi.DescribeLogGroupsOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	prefix, pattern := deref(in.LogGroupNamePrefix), strings.ToLower(deref(in.LogGroupNamePattern))
	if in.LogGroupNamePrefix != nil && in.LogGroupNamePattern != nil {
		return nil, invalid("LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive parameters.")
	}
	var idents map[string]bool
	if in.LogGroupIdentifiers != nil {
		if in.LogGroupNamePrefix != nil || in.LogGroupNamePattern != nil {
			return nil, invalid("LogGroupIdentifiers cannot be used with LogGroupNamePrefix or LogGroupNamePattern.")
		}
		idents = map[string]bool{}
		for _, id := range in.LogGroupIdentifiers {
			name, err := s.resolveGroup(account, nil, &id)
			if fault.KindOf(err) == fault.NotFound {
				continue // another account's group: never listed
			}
			if err != nil {
				return nil, err
			}
			idents[name] = true
		}
	}
	scope := fmt.Sprintf("DescribeLogGroups/%s/%s/%s", prefix, pattern, deref((*string)(in.LogGroupClass)))
	tok, err := decodeToken(in.NextToken, scope)
	if err != nil {
		return nil, err
	}
	limit := limitOf(in.Limit, describeDefaultLimit)

	var groups []groupData
	err = s.store.View(ctx, func(tx store.Tx) error {
		groups = groups[:0]
		recs, err := listAll(ctx, tx, kindGroup, store.Filter{Account: account})
		if err != nil {
			return err
		}
		for _, rec := range recs {
			var g groupData
			if err := json.Unmarshal(rec.Data, &g); err != nil {
				return fault.Wrap(fault.Internal, err, "stored log group %s is corrupt", rec.ID)
			}
			switch {
			case !strings.HasPrefix(g.Name, prefix),
				pattern != "" && !strings.Contains(strings.ToLower(g.Name), pattern),
				idents != nil && !idents[g.Name],
				in.LogGroupClass != nil && g.Class != string(*in.LogGroupClass),
				tok != nil && g.Name <= tok.Name:
				continue
			}
			groups = append(groups, g)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].Name < groups[j].Name })
	out := &logsapi.DescribeLogGroupsOutput{LogGroups: []logsapi.LogGroup{}}
	if len(groups) > limit {
		groups = groups[:limit]
		out.NextToken = encodeToken(pageToken{Scope: scope, Name: groups[limit-1].Name})
	}
	for _, g := range groups {
		out.LogGroups = append(out.LogGroups, s.logGroup(account, g))
	}
	return out, nil
}

func (s *Service) logGroup(account string, g groupData) logsapi.LogGroup {
	arn := s.groupARN(account, g.Name)
	lg := logsapi.LogGroup{
		LogGroupName: ptr(g.Name), CreationTime: ptr(g.Created), MetricFilterCount: ptr(int32(0)),
		Arn: ptr(arn + ":*"), LogGroupArn: ptr(arn), StoredBytes: ptr(g.StoredBytes), KmsKeyId: g.KmsKeyID,
		LogGroupClass: ptr(logsapi.LogGroupClass(g.Class)), DeletionProtectionEnabled: ptr(g.DeletionProtection),
	}
	return lg
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (s *Service) DescribeLogStreams(ctx context.Context, in *logsapi.DescribeLogStreamsInput) (*logsapi.DescribeLogStreamsOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	group, err := s.resolveGroup(account, in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	byTime := in.OrderBy != nil && *in.OrderBy == logsapi.OrderByLasteventtime
	if byTime && in.LogStreamNamePrefix != nil {
		return nil, invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
	}
	desc := in.Descending != nil && *in.Descending
	prefix := deref(in.LogStreamNamePrefix)
	gid := groupID(account, group)
	scope := fmt.Sprintf("DescribeLogStreams/%s/%t/%t/%s", gid, byTime, desc, prefix)
	tok, err := decodeToken(in.NextToken, scope)
	if err != nil {
		return nil, err
	}
	limit := limitOf(in.Limit, describeDefaultLimit)

	var streams []streamData
	err = s.store.View(ctx, func(tx store.Tx) error {
		streams = streams[:0]
		if _, _, err := getGroup(ctx, tx, account, group); err != nil {
			return err
		}
		recs, err := listAll(ctx, tx, kindStream, store.Filter{Parent: gid})
		if err != nil {
			return err
		}
		for _, rec := range recs {
			var st streamData
			if err := json.Unmarshal(rec.Data, &st); err != nil {
				return fault.Wrap(fault.Internal, err, "stored log stream %s is corrupt", rec.ID)
			}
			if strings.HasPrefix(st.Name, prefix) {
				streams = append(streams, st)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	lastTime := func(st streamData) int64 {
		if st.Last == nil {
			return 0
		}
		return *st.Last
	}
	// less orders streams as the request asks; the token is the last
	// stream's sort key, and the next page starts after it.
	less := func(a, b streamData) bool {
		if byTime && lastTime(a) != lastTime(b) {
			return lastTime(a) < lastTime(b)
		}
		return a.Name < b.Name
	}
	if desc {
		asc := less
		less = func(a, b streamData) bool { return asc(b, a) }
	}
	sort.Slice(streams, func(i, j int) bool { return less(streams[i], streams[j]) })
	if tok != nil {
		mark := streamData{Name: tok.Name}
		if byTime {
			mark.Last = ptr(tok.Time)
		}
		i := sort.Search(len(streams), func(i int) bool { return less(mark, streams[i]) })
		streams = streams[i:]
	}
	out := &logsapi.DescribeLogStreamsOutput{LogStreams: []logsapi.LogStream{}}
	if len(streams) > limit {
		streams = streams[:limit]
		last := streams[limit-1]
		out.NextToken = encodeToken(pageToken{Scope: scope, Name: last.Name, Time: lastTime(last)})
	}
	arn := s.groupARN(account, group)
	for _, st := range streams {
		out.LogStreams = append(out.LogStreams, logsapi.LogStream{
			LogStreamName: ptr(st.Name), CreationTime: ptr(st.Created), FirstEventTimestamp: st.First,
			LastEventTimestamp: st.Last, LastIngestionTime: st.LastIngestion,
			Arn: ptr(arn + ":log-stream:" + st.Name), StoredBytes: ptr(int64(0)),
		})
	}
	return out, nil
}
