package server_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cleanrooms"
	"github.com/aws/smithy-go"

	crs "github.com/cleanroomsd/cleanroomsd/internal/cleanrooms"
	"github.com/cleanroomsd/cleanroomsd/internal/sdkhttp"
	"github.com/cleanroomsd/cleanroomsd/internal/server"
)

// Accounts the tests act as. In dev mode a 12-digit access key id is the
// caller's account.
const (
	acctA = "111111111111"
	acctB = "222222222222"
	acctC = "333333333333"
	acctD = "444444444444"
)

type testServer struct {
	url  string
	srv  *server.Server
	hs   *httptest.Server
	once *sync.Once
}

// start runs a server on a fresh embedded store with every response checked
// against the model.
func start(t *testing.T, mutate ...func(*server.Config)) *testServer {
	t.Helper()
	cfg := server.Config{
		DataDir:        t.TempDir(),
		Region:         "us-east-1",
		Quotas:         crs.DefaultQuotas(),
		CheckResponses: true,
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if url := os.Getenv("CLEANROOMS_SERVER_TEST_POSTGRES_URL"); url != "" {
		cfg.DatabaseURL = url
	}
	for _, m := range mutate {
		m(&cfg)
	}
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	ts := &testServer{url: hs.URL, srv: srv, hs: hs, once: &sync.Once{}}
	t.Cleanup(func() { ts.closeNow(t) })
	return ts
}

// closeNow stops the server as SIGTERM would: no new requests, running
// queries handed back, store closed. Later calls do nothing.
func (ts *testServer) closeNow(t *testing.T) {
	ts.once.Do(func() {
		ts.hs.Close()
		if err := ts.srv.Close(); err != nil {
			t.Errorf("closing the server: %v", err)
		}
	})
}

// client returns an SDK client that signs as account (dev mode: the key id
// is the account).
func (ts *testServer) client(account string) *cleanrooms.Client {
	return ts.clientWithKeys(account, "secret-"+account)
}

func (ts *testServer) clientWithKeys(keyID, secret string) *cleanrooms.Client {
	return cleanrooms.New(cleanrooms.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(ts.url),
		Credentials:      credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		RetryMaxAttempts: 1,
		HTTPClient:       sdkhttp.Client(nil),
	})
}

// apiError describes a failed call: the modeled error code and HTTP status.
type apiError struct {
	code   string
	status int
	err    error
}

func errorOf(t *testing.T, err error) apiError {
	t.Helper()
	if err == nil {
		t.Fatal("call succeeded, want an error")
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an API error", err)
	}
	out := apiError{code: ae.ErrorCode(), err: err}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		out.status = re.HTTPStatusCode()
	}
	return out
}

// wantError asserts err is the modeled error code with the given status.
func wantError(t *testing.T, err error, code string, status int) apiError {
	t.Helper()
	got := errorOf(t, err)
	if got.code != code || got.status != status {
		t.Fatalf("got %s (%d): %v; want %s (%d)", got.code, got.status, err, code, status)
	}
	return got
}

// result holds a call's value and error so that must(call).ok(t) can fail
// the test in one expression.
type result[T any] struct {
	v   T
	err error
}

func must[T any](v T, err error) result[T] { return result[T]{v, err} }

func (r result[T]) ok(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}
