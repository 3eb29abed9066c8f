package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/cleanroomsd/cleanroomsd/internal/sdkhttp"
)

func (ts *testServer) logsClient(account string) *cloudwatchlogs.Client {
	return cloudwatchlogs.New(cloudwatchlogs.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(ts.url),
		Credentials:      credentials.NewStaticCredentialsProvider(account, "secret-"+account, ""),
		RetryMaxAttempts: 1,
		HTTPClient:       sdkhttp.Client(nil),
	})
}

// TestCloudWatchLogs reaches the logs service on the shared endpoint.
func TestCloudWatchLogs(t *testing.T) {
	ts := start(t)
	ctx := context.Background()
	a, b := ts.logsClient(acctA), ts.logsClient(acctB)
	if _, err := a.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/mine")}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("/mine"), LogStreamName: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("/mine"), LogStreamName: aws.String("s"),
		LogEvents: []types.InputLogEvent{{Timestamp: aws.Int64(time.Now().UnixMilli()), Message: aws.String("hello")}}}); err != nil {
		t.Fatal(err)
	}
	out, err := a.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/mine"), FilterPattern: aws.String("hello")})
	if err != nil || len(out.Events) != 1 {
		t.Fatalf("%v %+v", err, out)
	}
	_, err = b.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/mine")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("B: %v", err)
	}
}
