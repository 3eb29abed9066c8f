package s3api

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/cleanroomsd/cleanroomsd/internal/auth"
	"github.com/cleanroomsd/cleanroomsd/internal/objectstore/fsobjects"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
	"github.com/cleanroomsd/cleanroomsd/internal/store/sqlitestore"
)

const (
	acctA = "111111111111"
	acctB = "222222222222"
)

var bg = context.Background()

// env is a Handler with real stores behind an HTTP test server.
type env struct {
	dir     string
	meta    store.Store
	objects *fsobjects.Store
	handler *Handler
	srv     *httptest.Server
	// seen receives a copy of each request the server gets (headers only),
	// for tests that check what clients send.
	seen chan *http.Request
}

type envOptions struct {
	region string
	auth   *auth.Authenticator
	tls    bool
}

func newEnv(t *testing.T, opts envOptions) *env {
	t.Helper()
	dir := t.TempDir()
	meta, err := sqlitestore.Open(bg, filepath.Join(dir, "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	objs, err := fsobjects.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{dir: dir, meta: meta, objects: objs, seen: make(chan *http.Request, 1000)}
	e.handler = New(Config{Meta: meta, Objects: objs, Auth: opts.auth, Region: opts.region})
	// The tiny wrapper a server puts in front: it only records requests.
	wrapper := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case e.seen <- r.Clone(context.Background()):
		default:
		}
		e.handler.ServeHTTP(w, r)
	})
	if opts.tls {
		e.srv = httptest.NewTLSServer(wrapper)
	} else {
		e.srv = httptest.NewServer(wrapper)
	}
	t.Cleanup(e.srv.Close)
	return e
}

// drainSeen forgets the requests recorded so far.
func (e *env) drainSeen() {
	for {
		select {
		case <-e.seen:
		default:
			return
		}
	}
}

// client returns an aws-sdk-go-v2 S3 client for the account (its access
// key id, dev mode) or for explicit credentials.
func (e *env) client(account string, optFns ...func(*s3.Options)) *s3.Client {
	return e.clientWithKeys(account, "x", optFns...)
}

func (e *env) clientWithKeys(keyID, secret string, optFns ...func(*s3.Options)) *s3.Client {
	o := s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(e.srv.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		HTTPClient:   e.srv.Client(),
		Retryer:      aws.NopRetryer{},
		// What config.LoadDefaultConfig gives: flexible checksums on.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	}
	return s3.New(o, optFns...)
}

// errCode returns the S3 error code and HTTP status of err.
func errCode(err error) (string, int) {
	if err == nil {
		return "", 0
	}
	code, status := "", 0
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

func wantCode(t *testing.T, what string, err error, code string, status int) {
	t.Helper()
	gotCode, gotStatus := errCode(err)
	if gotCode != code || gotStatus != status {
		t.Fatalf("%s: got %q/%d (%v), want %q/%d", what, gotCode, gotStatus, err, code, status)
	}
}

// must returns v, or panics with err: Go cannot pass a call's two results
// along with a *testing.T, and a panic fails the test with its stack.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// randomData returns n deterministic pseudo-random bytes.
func randomData(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// genReader yields n pseudo-random bytes without holding them, for tests
// that must not keep a large body in memory.
type genReader struct {
	r    *rand.Rand
	left int64
	md5  interface {
		io.Writer
		Sum([]byte) []byte
	}
}

func newGenReader(seed uint64, n int64) *genReader {
	return &genReader{r: rand.New(rand.NewPCG(seed, seed+1)), left: n, md5: md5.New()}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	for i := range p {
		p[i] = byte(g.r.Uint32())
	}
	g.left -= int64(len(p))
	g.md5.Write(p)
	return len(p), nil
}

func (g *genReader) hexMD5() string { return hex.EncodeToString(g.md5.Sum(nil)) }

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}
