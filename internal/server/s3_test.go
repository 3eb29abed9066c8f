package server_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cleanrooms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/cleanroomsd/cleanroomsd/internal/sdkhttp"
)

func (ts *testServer) s3(account string) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(ts.url),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(account, "secret-"+account, ""),
		HTTPClient:   sdkhttp.Client(nil),
	})
}

// TestS3SharesTheEndpoint checks that S3 requests reach the S3 handler on
// the same port as Clean Rooms, untouched by the Clean Rooms routing.
func TestS3SharesTheEndpoint(t *testing.T) {
	ctx := context.Background()
	ts := start(t)
	a, b := ts.s3(acctA), ts.s3(acctB)
	// A bucket named like the health check, and keys a path cleaner would change.
	must(a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("healthz")})).ok(t)
	keys := []string{"data/part-0.csv", "a/../b.csv", "x//y.csv", "./z.csv"}
	for _, k := range keys {
		must(a.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("healthz"), Key: aws.String(k), Body: strings.NewReader("id,v\n1," + k + "\n")})).ok(t)
	}
	for _, k := range keys {
		out := must(a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("healthz"), Key: aws.String(k)})).ok(t)
		body, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if string(body) != "id,v\n1,"+k+"\n" {
			t.Errorf("key %q read back %q", k, body)
		}
	}
	// Buckets belong to their creator.
	_, err := b.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("healthz"), Key: aws.String(keys[0])})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
		t.Errorf("another account's read: %v, want AccessDenied", err)
	}
	if l := must(b.ListBuckets(ctx, &s3.ListBucketsInput{})).ok(t); len(l.Buckets) != 0 {
		t.Errorf("B lists %d buckets", len(l.Buckets))
	}
	// Clean Rooms still answers on the same endpoint.
	must(ts.client(acctA).ListCollaborations(ctx, &cleanrooms.ListCollaborationsInput{})).ok(t)
}
