package cwlogs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"

	"github.com/cleanroomsd/cleanroomsd/internal/auth"
	"github.com/cleanroomsd/cleanroomsd/internal/cwlogs"
	"github.com/cleanroomsd/cleanroomsd/internal/identity"
	"github.com/cleanroomsd/cleanroomsd/internal/protocol"
	"github.com/cleanroomsd/cleanroomsd/internal/sdkhttp"
	"github.com/cleanroomsd/cleanroomsd/internal/store/sqlitestore"
)

const (
	acctA = "111111111111"
	acctB = "222222222222"
)

type env struct {
	t   *testing.T
	url string
	svc *cwlogs.Service
}

// newEnv serves a Service behind the awsJson handler, with dev-mode SigV4
// identities (the access key id is the account), every response checked
// against the model.
func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	svc := cwlogs.New(st, "us-east-1")
	h, err := cwlogs.NewHandler(svc, protocol.Options{CheckResponses: true})
	if err != nil {
		t.Fatal(err)
	}
	authn := auth.NewDev()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sc, ok := auth.Scope(r); !ok || sc.Service != "logs" {
			http.Error(w, "not signed for logs", http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			h.WriteError(w, r, err)
			return
		}
		c, err := authn.Authenticate(r, auth.PayloadHash(body))
		if err != nil {
			h.WriteError(w, r, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r.WithContext(identity.With(r.Context(), c)))
	}))
	t.Cleanup(func() {
		hs.Close()
		st.Close()
	})
	return &env{t: t, url: hs.URL, svc: svc}
}

func (e *env) client(account string) *cloudwatchlogs.Client {
	return cloudwatchlogs.New(cloudwatchlogs.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(e.url),
		Credentials:      credentials.NewStaticCredentialsProvider(account, "secret", ""),
		RetryMaxAttempts: 1,
		HTTPClient:       sdkhttp.Client(nil),
	})
}

var ctx = context.Background()

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// wantErr checks that err is the API error code whose message contains msg.
func wantErr(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want %s, got %v", code, err)
	}
	if ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), msg) {
		t.Fatalf("want %s containing %q, got %s: %s", code, msg, ae.ErrorCode(), ae.ErrorMessage())
	}
}

func ms(t time.Time) *int64 { return aws.Int64(t.UnixMilli()) }

func TestLogGroups(t *testing.T) {
	e := newEnv(t)
	c := e.client(acctA)
	for _, name := range []string{"/aws/cleanrooms", "/app/b", "/app/a", "App.Upper", "/app/c", "x_y-z#1"} {
		must[*cloudwatchlogs.CreateLogGroupOutput](t)(c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(name)}))
	}
	_, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/app/a")})
	var exists *types.ResourceAlreadyExistsException
	if !errors.As(err, &exists) {
		t.Fatalf("duplicate group: %v", err)
	}
	wantErr(t, err, "ResourceAlreadyExistsException", "The specified log group already exists")
	_, err = c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("bad name!")})
	var inv *types.InvalidParameterException
	if !errors.As(err, &inv) {
		t.Fatalf("bad name: %v", err)
	}
	wantErr(t, err, "InvalidParameterException", "logGroupName")
	_, err = c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("aws/mine")})
	wantErr(t, err, "InvalidParameterException", "aws/")
	_, err = c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(strings.Repeat("a", 513))})
	wantErr(t, err, "InvalidParameterException", "length")

	// All, sorted by name, over pages of 2.
	var names []string
	p := cloudwatchlogs.NewDescribeLogGroupsPaginator(c, &cloudwatchlogs.DescribeLogGroupsInput{Limit: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		out := must[*cloudwatchlogs.DescribeLogGroupsOutput](t)(p.NextPage(ctx))
		pages++
		for _, g := range out.LogGroups {
			names = append(names, *g.LogGroupName)
		}
	}
	want := []string{"/app/a", "/app/b", "/app/c", "/aws/cleanrooms", "App.Upper", "x_y-z#1"}
	if !slices.Equal(names, want) || pages != 3 {
		t.Fatalf("groups %v in %d pages, want %v in 3", names, pages, want)
	}

	out := must[*cloudwatchlogs.DescribeLogGroupsOutput](t)(c.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/aws/")}))
	if len(out.LogGroups) != 1 {
		t.Fatalf("prefix: %+v", out.LogGroups)
	}
	g := out.LogGroups[0]
	if *g.LogGroupName != "/aws/cleanrooms" || *g.Arn != "arn:aws:logs:us-east-1:111111111111:log-group:/aws/cleanrooms:*" ||
		*g.LogGroupArn != "arn:aws:logs:us-east-1:111111111111:log-group:/aws/cleanrooms" || g.CreationTime == nil ||
		*g.StoredBytes != 0 || g.LogGroupClass != types.LogGroupClassStandard {
		t.Fatalf("group: %+v", g)
	}
	out = must[*cloudwatchlogs.DescribeLogGroupsOutput](t)(c.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePattern: aws.String("upp")}))
	if len(out.LogGroups) != 1 || *out.LogGroups[0].LogGroupName != "App.Upper" {
		t.Fatalf("pattern: %+v", out.LogGroups)
	}
	out = must[*cloudwatchlogs.DescribeLogGroupsOutput](t)(c.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{
		LogGroupIdentifiers: []string{"/app/c", "arn:aws:logs:us-east-1:111111111111:log-group:/app/a", "/nope"}}))
	if len(out.LogGroups) != 2 || *out.LogGroups[0].LogGroupName != "/app/a" || *out.LogGroups[1].LogGroupName != "/app/c" {
		t.Fatalf("identifiers: %+v", out.LogGroups)
	}
	_, err = c.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/a"), LogGroupNamePattern: aws.String("a")})
	wantErr(t, err, "InvalidParameterException", "mutually exclusive")
	_, err = c.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{NextToken: aws.String("garbage")})
	wantErr(t, err, "InvalidParameterException", "nextToken")
	_, err = c.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{Limit: aws.Int32(51)})
	wantErr(t, err, "InvalidParameterException", "limit")

	// Delete; deletion protection.
	must[*cloudwatchlogs.DeleteLogGroupOutput](t)(c.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String("/app/b")}))
	_, err = c.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String("/app/b")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("delete twice: %v", err)
	}
	wantErr(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
	must[*cloudwatchlogs.CreateLogGroupOutput](t)(c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/kept"),
		DeletionProtectionEnabled: aws.Bool(true), Tags: map[string]string{"team": "data"}, LogGroupClass: types.LogGroupClassInfrequentAccess}))
	_, err = c.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String("/kept")})
	wantErr(t, err, "ValidationException", "deletion protection")
	out = must[*cloudwatchlogs.DescribeLogGroupsOutput](t)(c.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupClass: types.LogGroupClassInfrequentAccess}))
	if len(out.LogGroups) != 1 || *out.LogGroups[0].LogGroupName != "/kept" || !*out.LogGroups[0].DeletionProtectionEnabled {
		t.Fatalf("class filter: %+v", out.LogGroups)
	}
}

func TestLogStreams(t *testing.T) {
	e := newEnv(t)
	c := e.client(acctA)
	group := aws.String("/g")
	_, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: group, LogStreamName: aws.String("s")})
	wantErr(t, err, "ResourceNotFoundException", "log group does not exist")
	must[*cloudwatchlogs.CreateLogGroupOutput](t)(c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: group}))
	for _, s := range []string{"b/2", "a", "b/1", "c d é", "b/3"} {
		must[*cloudwatchlogs.CreateLogStreamOutput](t)(c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: group, LogStreamName: aws.String(s)}))
	}
	_, err = c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: group, LogStreamName: aws.String("a")})
	wantErr(t, err, "ResourceAlreadyExistsException", "log stream already exists")
	_, err = c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: group, LogStreamName: aws.String("no:colons")})
	wantErr(t, err, "InvalidParameterException", "logStreamName")

	now := time.Now()
	put := func(stream string, at time.Time) {
		must[*cloudwatchlogs.PutLogEventsOutput](t)(c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: group, LogStreamName: aws.String(stream),
			LogEvents: []types.InputLogEvent{{Timestamp: ms(at), Message: aws.String("m")}}}))
	}
	put("b/1", now.Add(-time.Minute))
	put("b/3", now.Add(-3*time.Minute))
	put("a", now.Add(-2*time.Minute))

	list := func(in *cloudwatchlogs.DescribeLogStreamsInput) []string {
		t.Helper()
		var names []string
		p := cloudwatchlogs.NewDescribeLogStreamsPaginator(c, in)
		for p.HasMorePages() {
			for _, s := range must[*cloudwatchlogs.DescribeLogStreamsOutput](t)(p.NextPage(ctx)).LogStreams {
				names = append(names, *s.LogStreamName)
			}
		}
		return names
	}
	for _, tc := range []struct {
		in   cloudwatchlogs.DescribeLogStreamsInput
		want []string
	}{
		{cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: group, Limit: aws.Int32(2)}, []string{"a", "b/1", "b/2", "b/3", "c d é"}},
		{cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: group, Limit: aws.Int32(2), Descending: aws.Bool(true)}, []string{"c d é", "b/3", "b/2", "b/1", "a"}},
		{cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: group, LogStreamNamePrefix: aws.String("b/"), Limit: aws.Int32(1)}, []string{"b/1", "b/2", "b/3"}},
		{cloudwatchlogs.DescribeLogStreamsInput{LogGroupIdentifier: aws.String("arn:aws:logs:us-east-1:111111111111:log-group:/g"), OrderBy: types.OrderByLastEventTime,
			Descending: aws.Bool(true), Limit: aws.Int32(2)}, []string{"b/1", "a", "b/3", "c d é", "b/2"}},
		{cloudwatchlogs.DescribeLogStreamsInput{LogGroupIdentifier: group, OrderBy: types.OrderByLastEventTime}, []string{"b/2", "c d é", "b/3", "a", "b/1"}},
	} {
		if got := list(&tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("DescribeLogStreams(%+v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	out := must[*cloudwatchlogs.DescribeLogStreamsOutput](t)(c.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: group, LogStreamNamePrefix: aws.String("b/1")}))
	s := out.LogStreams[0]
	if len(out.LogStreams) != 1 || *s.Arn != "arn:aws:logs:us-east-1:111111111111:log-group:/g:log-stream:b/1" ||
		*s.FirstEventTimestamp != now.Add(-time.Minute).UnixMilli() || *s.LastEventTimestamp != *s.FirstEventTimestamp || s.LastIngestionTime == nil {
		t.Fatalf("stream: %+v", out.LogStreams)
	}

	_, err = c.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: group, LogStreamNamePrefix: aws.String("b"), OrderBy: types.OrderByLastEventTime})
	wantErr(t, err, "InvalidParameterException", "LastEventTime")
	_, err = c.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: group, LogGroupIdentifier: group})
	wantErr(t, err, "InvalidParameterException", "mutually exclusive")
	_, err = c.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{})
	wantErr(t, err, "InvalidParameterException", "must be specified")
	_, err = c.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("/none")})
	wantErr(t, err, "ResourceNotFoundException", "log group does not exist")
	// A token of one listing is refused by another.
	first := must[*cloudwatchlogs.DescribeLogStreamsOutput](t)(c.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: group, Limit: aws.Int32(1)}))
	_, err = c.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: group, Descending: aws.Bool(true), NextToken: first.NextToken})
	wantErr(t, err, "InvalidParameterException", "nextToken")

	// Deleting the group deletes its streams and events.
	must[*cloudwatchlogs.DeleteLogGroupOutput](t)(c.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: group}))
	must[*cloudwatchlogs.CreateLogGroupOutput](t)(c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: group}))
	if got := list(&cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: group}); len(got) != 0 {
		t.Fatalf("streams survived their group: %v", got)
	}
	must[*cloudwatchlogs.CreateLogStreamOutput](t)(c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: group, LogStreamName: aws.String("a")}))
	ev := must[*cloudwatchlogs.GetLogEventsOutput](t)(c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: group, LogStreamName: aws.String("a")}))
	if len(ev.Events) != 0 {
		t.Fatalf("events survived their group: %+v", ev.Events)
	}
}

func TestPutLogEvents(t *testing.T) {
	e := newEnv(t)
	c := e.client(acctA)
	group, stream := aws.String("/g"), aws.String("s")
	now := time.Now()
	evs := func(ts ...time.Time) []types.InputLogEvent {
		var out []types.InputLogEvent
		for i, t := range ts {
			out = append(out, types.InputLogEvent{Timestamp: ms(t), Message: aws.String(fmt.Sprint("event ", i))})
		}
		return out
	}
	_, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: group, LogStreamName: stream, LogEvents: evs(now)})
	wantErr(t, err, "ResourceNotFoundException", "log group does not exist")
	must[*cloudwatchlogs.CreateLogGroupOutput](t)(c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: group}))
	_, err = c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: group, LogStreamName: stream, LogEvents: evs(now)})
	wantErr(t, err, "ResourceNotFoundException", "log stream does not exist")
	must[*cloudwatchlogs.CreateLogStreamOutput](t)(c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: group, LogStreamName: stream}))

	_, err = c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: group, LogStreamName: stream, LogEvents: evs(now, now.Add(-time.Second))})
	wantErr(t, err, "InvalidParameterException", "chronological order")
	_, err = c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: group, LogStreamName: stream, LogEvents: evs(now.Add(-25*time.Hour), now)})
	wantErr(t, err, "InvalidParameterException", "24 hours")
	_, err = c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: group, LogStreamName: stream, LogEvents: []types.InputLogEvent{}})
	wantErr(t, err, "InvalidParameterException", "logEvents")
	_, err = c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: group, LogStreamName: stream,
		LogEvents: []types.InputLogEvent{{Timestamp: ms(now), Message: aws.String("")}}})
	wantErr(t, err, "InvalidParameterException", "message")
	big := strings.Repeat("x", 600_000)
	_, err = c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: group, LogStreamName: stream,
		LogEvents: []types.InputLogEvent{{Timestamp: ms(now), Message: &big}, {Timestamp: ms(now), Message: &big}}})
	wantErr(t, err, "InvalidParameterException", "too large")

	// Too old and too new events are rejected, the rest stored.
	out := must[*cloudwatchlogs.PutLogEventsOutput](t)(c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: group, LogStreamName: stream,
		SequenceToken: aws.String("ignored"),
		LogEvents:     evs(now.Add(-14*24*time.Hour-2*time.Hour), now.Add(-14*24*time.Hour-time.Hour), now.Add(-14*24*time.Hour+time.Hour))}))
	if out.RejectedLogEventsInfo == nil || *out.RejectedLogEventsInfo.TooOldLogEventEndIndex != 1 || out.RejectedLogEventsInfo.TooNewLogEventStartIndex != nil ||
		out.NextSequenceToken == nil {
		t.Fatalf("old: %+v", out)
	}
	out = must[*cloudwatchlogs.PutLogEventsOutput](t)(c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: group, LogStreamName: stream,
		LogEvents: evs(now, now.Add(3*time.Hour))}))
	if out.RejectedLogEventsInfo == nil || *out.RejectedLogEventsInfo.TooNewLogEventStartIndex != 1 || out.RejectedLogEventsInfo.TooOldLogEventEndIndex != nil {
		t.Fatalf("new: %+v", out.RejectedLogEventsInfo)
	}
	got := must[*cloudwatchlogs.GetLogEventsOutput](t)(c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: group, LogStreamName: stream, StartFromHead: aws.Bool(true)}))
	if len(got.Events) != 2 || *got.Events[0].Message != "event 2" || *got.Events[1].Message != "event 0" ||
		*got.Events[1].Timestamp != now.UnixMilli() || got.Events[1].IngestionTime == nil {
		t.Fatalf("stored: %+v", got.Events)
	}
	groups := must[*cloudwatchlogs.DescribeLogGroupsOutput](t)(c.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{}))
	if want := int64(len("event 2") + len("event 0") + 2*26); *groups.LogGroups[0].StoredBytes != want {
		t.Fatalf("storedBytes %d, want %d", *groups.LogGroups[0].StoredBytes, want)
	}
}

func TestGetLogEvents(t *testing.T) {
	e := newEnv(t)
	c := e.client(acctA)
	group, stream := aws.String("/g"), aws.String("s")
	must[*cloudwatchlogs.CreateLogGroupOutput](t)(c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: group}))
	must[*cloudwatchlogs.CreateLogStreamOutput](t)(c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: group, LogStreamName: stream}))
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	// Three batches whose timestamps interleave: 0..9 with even ones first.
	for _, idx := range [][]int{{0, 2, 4, 6, 8}, {1, 3, 5}, {7, 9}} {
		var evs []types.InputLogEvent
		for _, i := range idx {
			evs = append(evs, types.InputLogEvent{Timestamp: ms(base.Add(time.Duration(i) * time.Second)), Message: aws.String(fmt.Sprint("e", i))})
		}
		must[*cloudwatchlogs.PutLogEventsOutput](t)(c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: group, LogStreamName: stream, LogEvents: evs}))
	}
	msgs := func(evs []types.OutputLogEvent) string {
		var s []string
		for _, e := range evs {
			s = append(s, *e.Message)
		}
		return strings.Join(s, ",")
	}
	get := func(in cloudwatchlogs.GetLogEventsInput) *cloudwatchlogs.GetLogEventsOutput {
		t.Helper()
		in.LogGroupName, in.LogStreamName = group, stream
		return must[*cloudwatchlogs.GetLogEventsOutput](t)(c.GetLogEvents(ctx, &in))
	}

	if got := msgs(get(cloudwatchlogs.GetLogEventsInput{}).Events); got != "e0,e1,e2,e3,e4,e5,e6,e7,e8,e9" {
		t.Fatalf("all: %s", got)
	}
	// Without startFromHead the newest events come, oldest first.
	tail := get(cloudwatchlogs.GetLogEventsInput{Limit: aws.Int32(3)})
	if got := msgs(tail.Events); got != "e7,e8,e9" {
		t.Fatalf("tail: %s", got)
	}
	// Backward from there.
	back := get(cloudwatchlogs.GetLogEventsInput{Limit: aws.Int32(3), NextToken: tail.NextBackwardToken})
	if got := msgs(back.Events); got != "e4,e5,e6" {
		t.Fatalf("back: %s", got)
	}
	back = get(cloudwatchlogs.GetLogEventsInput{Limit: aws.Int32(5), NextToken: back.NextBackwardToken})
	if got := msgs(back.Events); got != "e0,e1,e2,e3" {
		t.Fatalf("back 2: %s", got)
	}
	end := get(cloudwatchlogs.GetLogEventsInput{NextToken: back.NextBackwardToken})
	if len(end.Events) != 0 || *end.NextBackwardToken != *back.NextBackwardToken {
		t.Fatalf("at the head: %+v, token %s then %s", end.Events, *back.NextBackwardToken, *end.NextBackwardToken)
	}
	// ...and forward again from the backward page.
	fwd := get(cloudwatchlogs.GetLogEventsInput{Limit: aws.Int32(2), NextToken: back.NextForwardToken})
	if got := msgs(fwd.Events); got != "e4,e5" {
		t.Fatalf("forward from back: %s", got)
	}
	// At the end the forward token comes back unchanged, and new events
	// appear behind it.
	last := get(cloudwatchlogs.GetLogEventsInput{NextToken: tail.NextForwardToken})
	if len(last.Events) != 0 || *last.NextForwardToken != *tail.NextForwardToken {
		t.Fatalf("at the end: %+v", last)
	}
	must[*cloudwatchlogs.PutLogEventsOutput](t)(c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: group, LogStreamName: stream,
		LogEvents: []types.InputLogEvent{{Timestamp: ms(base.Add(20 * time.Second)), Message: aws.String("e20")}}}))
	if got := msgs(get(cloudwatchlogs.GetLogEventsInput{NextToken: tail.NextForwardToken}).Events); got != "e20" {
		t.Fatalf("after new event: %s", got)
	}

	// startTime inclusive, endTime exclusive.
	if got := msgs(get(cloudwatchlogs.GetLogEventsInput{StartTime: ms(base.Add(3 * time.Second)), EndTime: ms(base.Add(6 * time.Second))}).Events); got != "e3,e4,e5" {
		t.Fatalf("range: %s", got)
	}

	// The SDK's paginator reads the stream forward in pages and, told to,
	// stops on the repeated token (without StopOnDuplicateToken it follows
	// the stream forever, on AWS too).
	var all []string
	p := cloudwatchlogs.NewGetLogEventsPaginator(c, &cloudwatchlogs.GetLogEventsInput{LogGroupName: group, LogStreamName: stream,
		StartFromHead: aws.Bool(true), Limit: aws.Int32(4)}, func(o *cloudwatchlogs.GetLogEventsPaginatorOptions) { o.StopOnDuplicateToken = true })
	for pages := 0; p.HasMorePages(); pages++ {
		if pages == 10 {
			t.Fatal("the paginator does not stop")
		}
		out := must[*cloudwatchlogs.GetLogEventsOutput](t)(p.NextPage(ctx))
		if m := msgs(out.Events); m != "" {
			all = append(all, m)
		}
	}
	if got := strings.Join(all, "|"); got != "e0,e1,e2,e3|e4,e5,e6,e7|e8,e9,e20" {
		t.Fatalf("paginator: %s", got)
	}

	_, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: group, LogStreamName: stream, NextToken: aws.String("f/123/s")})
	wantErr(t, err, "InvalidParameterException", "nextToken")
	_, err = c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: group, LogStreamName: aws.String("other")})
	wantErr(t, err, "ResourceNotFoundException", "log stream does not exist")
	_, err = c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/other"), LogStreamName: stream})
	wantErr(t, err, "ResourceNotFoundException", "log group does not exist")
	_, err = c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: group, LogStreamName: stream, Limit: aws.Int32(10001)})
	wantErr(t, err, "InvalidParameterException", "limit")
}

func TestFilterLogEvents(t *testing.T) {
	e := newEnv(t)
	c := e.client(acctA)
	group := aws.String("/aws/cleanrooms")
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
	// Two streams with interleaved timestamps, written with Append.
	must0 := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must0(e.svc.Append(ctx, acctA, *group, "m1", []cwlogs.Event{
		{Time: at(1), Message: `{"status":"STARTED","queryText":"SELECT 1","eventId":"q1","rows":10,"ok":true}`},
		{Time: at(4), Message: `{"status":"COMPLETED","eventId":"q1","rows":20,"errorCode":null}`},
		{Time: at(6), Message: "ERROR disk full on node-1"},
	}))
	must0(e.svc.Append(ctx, acctA, *group, "m2", []cwlogs.Event{
		{Time: at(5), Message: "WARN slow query q2"},
		{Time: at(2), Message: `{"status":"FAILED","eventId":"q2","rows":0,"tables":["a","b"],"nested":{"k":"v"}}`},
		{Time: at(3), Message: "ERROR [query] q2 failed: access denied"},
	}))
	must0(e.svc.Append(ctx, acctA, *group, "other", []cwlogs.Event{{Time: at(7), Message: "from other"}}))

	filter := func(in cloudwatchlogs.FilterLogEventsInput) string {
		t.Helper()
		in.LogGroupName = group
		var parts []string
		p := cloudwatchlogs.NewFilterLogEventsPaginator(c, &in)
		for p.HasMorePages() {
			out := must[*cloudwatchlogs.FilterLogEventsOutput](t)(p.NextPage(ctx))
			for _, ev := range out.Events {
				if ev.EventId == nil || ev.IngestionTime == nil {
					t.Fatalf("event without id or ingestion time: %+v", ev)
				}
				parts = append(parts, fmt.Sprintf("%s@%d", *ev.LogStreamName, (*ev.Timestamp-base.UnixMilli())/1000))
			}
		}
		return strings.Join(parts, " ")
	}
	for _, tc := range []struct {
		pattern string
		in      cloudwatchlogs.FilterLogEventsInput
		want    string
	}{
		{"", cloudwatchlogs.FilterLogEventsInput{}, "m1@1 m2@2 m2@3 m1@4 m2@5 m1@6 other@7"},
		{"", cloudwatchlogs.FilterLogEventsInput{Limit: aws.Int32(2)}, "m1@1 m2@2 m2@3 m1@4 m2@5 m1@6 other@7"},
		{"ERROR", cloudwatchlogs.FilterLogEventsInput{}, "m2@3 m1@6"},
		{"ERROR q2", cloudwatchlogs.FilterLogEventsInput{}, "m2@3"},
		{`"disk full"`, cloudwatchlogs.FilterLogEventsInput{}, "m1@6"},
		{`"full disk"`, cloudwatchlogs.FilterLogEventsInput{}, ""},
		{"?WARN ?disk", cloudwatchlogs.FilterLogEventsInput{}, "m2@5 m1@6"},
		{"ERROR -disk", cloudwatchlogs.FilterLogEventsInput{}, "m2@3"},
		{"Disk", cloudwatchlogs.FilterLogEventsInput{}, ""},
		{"%q[0-9] (crashed|slow)%", cloudwatchlogs.FilterLogEventsInput{}, ""},
		{"%q[0-9]:? failed%", cloudwatchlogs.FilterLogEventsInput{}, "m2@3"},
		{`{ $.status = "COMPLETED" }`, cloudwatchlogs.FilterLogEventsInput{}, "m1@4"},
		{`{ $.status != "COMPLETED" }`, cloudwatchlogs.FilterLogEventsInput{}, "m1@1 m2@2"},
		{`{ $.status = "*ED" && $.rows > 5 }`, cloudwatchlogs.FilterLogEventsInput{}, "m1@1 m1@4"},
		{`{ ($.eventId = q2) || ($.rows >= 20) }`, cloudwatchlogs.FilterLogEventsInput{}, "m2@2 m1@4"},
		{`{ $.tables[1] = "b" }`, cloudwatchlogs.FilterLogEventsInput{}, "m2@2"},
		{`{ $.nested.k = "v" }`, cloudwatchlogs.FilterLogEventsInput{}, "m2@2"},
		{`{ $.errorCode IS NULL }`, cloudwatchlogs.FilterLogEventsInput{}, "m1@4"},
		{`{ $.queryText NOT EXISTS }`, cloudwatchlogs.FilterLogEventsInput{}, "m2@2 m1@4"},
		{`{ $.ok IS TRUE }`, cloudwatchlogs.FilterLogEventsInput{}, "m1@1"},
		{`{ $.eventId = %^q[12]$% && $.rows = 0 }`, cloudwatchlogs.FilterLogEventsInput{}, "m2@2"},
		// Time range: both ends inclusive.
		{"", cloudwatchlogs.FilterLogEventsInput{StartTime: ms(at(2)), EndTime: ms(at(5))}, "m2@2 m2@3 m1@4 m2@5"},
		{"", cloudwatchlogs.FilterLogEventsInput{StartTime: ms(at(8))}, ""},
		// Streams.
		{"", cloudwatchlogs.FilterLogEventsInput{LogStreamNames: []string{"m2", "other"}, Limit: aws.Int32(1)}, "m2@2 m2@3 m2@5 other@7"},
		{"", cloudwatchlogs.FilterLogEventsInput{LogStreamNamePrefix: aws.String("m")}, "m1@1 m2@2 m2@3 m1@4 m2@5 m1@6"},
	} {
		in := tc.in
		if tc.pattern != "" {
			in.FilterPattern = aws.String(tc.pattern)
		}
		if got := filter(in); got != tc.want {
			t.Errorf("pattern %q %+v: got %q, want %q", tc.pattern, tc.in, got, tc.want)
		}
	}

	// A page ends where the limit does, and nextToken resumes there.
	out := must[*cloudwatchlogs.FilterLogEventsOutput](t)(c.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: group, Limit: aws.Int32(7)}))
	if len(out.Events) != 7 || out.NextToken != nil {
		t.Fatalf("exact page: %d events, token %v", len(out.Events), out.NextToken)
	}
	out = must[*cloudwatchlogs.FilterLogEventsOutput](t)(c.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: group, Limit: aws.Int32(3)}))
	if len(out.Events) != 3 || out.NextToken == nil {
		t.Fatalf("first page: %d events, token %v", len(out.Events), out.NextToken)
	}

	for _, tc := range []struct {
		in         cloudwatchlogs.FilterLogEventsInput
		code, want string
	}{
		{cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/none")}, "ResourceNotFoundException", "log group does not exist"},
		{cloudwatchlogs.FilterLogEventsInput{LogGroupName: group, LogStreamNames: []string{"m1", "nope"}}, "ResourceNotFoundException", "log stream does not exist"},
		{cloudwatchlogs.FilterLogEventsInput{LogGroupName: group, LogStreamNames: []string{"m1"}, LogStreamNamePrefix: aws.String("m")}, "InvalidParameterException", "both"},
		{cloudwatchlogs.FilterLogEventsInput{LogGroupName: group, FilterPattern: aws.String(`{ $.a = "x" `)}, "InvalidParameterException", "filter pattern"},
		{cloudwatchlogs.FilterLogEventsInput{LogGroupName: group, FilterPattern: aws.String(`{ $.a > "x" }`)}, "InvalidParameterException", "filter pattern"},
		{cloudwatchlogs.FilterLogEventsInput{LogGroupName: group, FilterPattern: aws.String(`[ip, user]`)}, "InvalidParameterException", "not supported"},
		{cloudwatchlogs.FilterLogEventsInput{LogGroupName: group, FilterPattern: aws.String(`"open`)}, "InvalidParameterException", "unterminated"},
		{cloudwatchlogs.FilterLogEventsInput{LogGroupName: group, NextToken: aws.String("nope")}, "InvalidParameterException", "nextToken"},
		{cloudwatchlogs.FilterLogEventsInput{LogGroupName: group, Limit: aws.Int32(0)}, "InvalidParameterException", "limit"},
	} {
		_, err := c.FilterLogEvents(ctx, &tc.in)
		wantErr(t, err, tc.code, tc.want)
	}
}

func TestAccountIsolation(t *testing.T) {
	e := newEnv(t)
	a, b := e.client(acctA), e.client(acctB)
	if err := e.svc.Append(ctx, acctA, "/aws/cleanrooms", "m", []cwlogs.Event{{Time: time.Now(), Message: "secret"}}); err != nil {
		t.Fatal(err)
	}
	groups := must[*cloudwatchlogs.DescribeLogGroupsOutput](t)(b.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{}))
	if len(groups.LogGroups) != 0 {
		t.Fatalf("B sees A's groups: %+v", groups.LogGroups)
	}
	_, err := b.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/aws/cleanrooms")})
	wantErr(t, err, "ResourceNotFoundException", "log group does not exist")
	_, err = b.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupIdentifier: aws.String("arn:aws:logs:us-east-1:111111111111:log-group:/aws/cleanrooms"),
		LogStreamName: aws.String("m")})
	wantErr(t, err, "ResourceNotFoundException", "log group does not exist")
	out := must[*cloudwatchlogs.DescribeLogGroupsOutput](t)(b.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{
		LogGroupIdentifiers: []string{"arn:aws:logs:us-east-1:111111111111:log-group:/aws/cleanrooms"}}))
	if len(out.LogGroups) != 0 {
		t.Fatalf("B lists A's group by ARN: %+v", out.LogGroups)
	}
	_, err = b.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String("/aws/cleanrooms")})
	wantErr(t, err, "ResourceNotFoundException", "log group does not exist")

	// B's own group of the same name is separate.
	must[*cloudwatchlogs.CreateLogGroupOutput](t)(b.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/aws/cleanrooms")}))
	must[*cloudwatchlogs.CreateLogStreamOutput](t)(b.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("/aws/cleanrooms"), LogStreamName: aws.String("m")}))
	fb := must[*cloudwatchlogs.FilterLogEventsOutput](t)(b.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/aws/cleanrooms")}))
	fa := must[*cloudwatchlogs.FilterLogEventsOutput](t)(a.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/aws/cleanrooms")}))
	if len(fb.Events) != 0 || len(fa.Events) != 1 || *fa.Events[0].Message != "secret" {
		t.Fatalf("A sees %+v, B sees %+v", fa.Events, fb.Events)
	}
}

func TestAppend(t *testing.T) {
	e := newEnv(t)
	c := e.client(acctA)
	// No events: the group and stream are created, as Clean Rooms creates
	// the log group when a membership is created.
	if err := e.svc.Append(ctx, acctA, "/aws/cleanrooms", "ms-1", nil); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Append(ctx, acctA, "/aws/cleanrooms", "ms-1", nil); err != nil {
		t.Fatalf("again: %v", err)
	}
	streams := must[*cloudwatchlogs.DescribeLogStreamsOutput](t)(c.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("/aws/cleanrooms")}))
	if len(streams.LogStreams) != 1 || *streams.LogStreams[0].LogStreamName != "ms-1" || streams.LogStreams[0].FirstEventTimestamp != nil {
		t.Fatalf("streams: %+v", streams.LogStreams)
	}

	// More events than one PutLogEvents may carry, out of order.
	base := time.Now().Add(-time.Hour)
	var evs []cwlogs.Event
	for i := 12_000 - 1; i >= 0; i-- {
		evs = append(evs, cwlogs.Event{Time: base.Add(time.Duration(i) * time.Millisecond), Message: fmt.Sprintf(`{"n":%d}`, i)})
	}
	if err := e.svc.Append(ctx, acctA, "/aws/cleanrooms", "ms-1", evs); err != nil {
		t.Fatal(err)
	}
	n := 0
	p := cloudwatchlogs.NewFilterLogEventsPaginator(c, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/aws/cleanrooms")})
	for p.HasMorePages() {
		for _, ev := range must[*cloudwatchlogs.FilterLogEventsOutput](t)(p.NextPage(ctx)).Events {
			if want := fmt.Sprintf(`{"n":%d}`, n); *ev.Message != want {
				t.Fatalf("event %d is %s", n, *ev.Message)
			}
			n++
		}
	}
	if n != 12_000 {
		t.Fatalf("read %d events", n)
	}
	streams = must[*cloudwatchlogs.DescribeLogStreamsOutput](t)(c.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("/aws/cleanrooms")}))
	if s := streams.LogStreams[0]; *s.FirstEventTimestamp != base.UnixMilli() || *s.LastEventTimestamp != base.Add(11_999*time.Millisecond).UnixMilli() {
		t.Fatalf("stream: %+v", s)
	}

	for _, tc := range []struct{ group, stream, msg string }{
		{"bad group!", "s", "x"},
		{"/g", "a:b", "x"},
		{"/g", "", "x"},
		{"/g", "s", ""},
	} {
		err := e.svc.Append(ctx, acctA, tc.group, tc.stream, []cwlogs.Event{{Time: time.Now(), Message: tc.msg}})
		if err == nil {
			t.Errorf("Append(%q, %q, %q) succeeded", tc.group, tc.stream, tc.msg)
		}
	}
}

// TestUnsignedForOtherService checks the error a client sees for an
// operation the handler does not serve.
func TestUnknownOperation(t *testing.T) {
	e := newEnv(t)
	_, err := e.client(acctA).PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String("/g"), RetentionInDays: aws.Int32(1)})
	wantErr(t, err, "UnknownOperationException", "PutRetentionPolicy")
}
