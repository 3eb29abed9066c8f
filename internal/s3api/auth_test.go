package s3api

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cleanroomsd/cleanroomsd/internal/auth"
)

var strictAccounts = []auth.Account{
	{AccountID: acctA, AccessKeyID: "AKIDACCOUNTA", SecretAccessKey: "secret-a"},
	{AccountID: acctB, AccessKeyID: "AKIDACCOUNTB", SecretAccessKey: "secret-b"},
}

// TestStrictAuth runs with signature verification on: real signatures pass
// (signed payloads over http, aws-chunked trailers over TLS, presigned
// URLs), and every failure is S3's error with S3's status.
func TestStrictAuth(t *testing.T) {
	for _, tls := range []bool{false, true} {
		e := newEnv(t, envOptions{auth: auth.NewStrict(strictAccounts), tls: tls})
		a := e.clientWithKeys("AKIDACCOUNTA", "secret-a")
		b := e.clientWithKeys("AKIDACCOUNTB", "secret-b")
		createBucket(t, a, "strict-bucket")
		body := randomData(11, 200_000)
		must(a.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("strict-bucket"), Key: aws.String("dir/k ü"), Body: bytes.NewReader(body)}))
		got, _ := getBytes(t, a, &s3.GetObjectInput{Bucket: aws.String("strict-bucket"), Key: aws.String("dir/k ü")})
		if !bytes.Equal(got, body) {
			t.Fatal("round trip differs")
		}
		data := randomData(12, 6<<20)
		uploadMultipart(t, a, "strict-bucket", "mp", data, 5<<20)
		must(a.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: aws.String("strict-bucket"), Delete: deleteOf("mp")}))
		_, err := b.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("strict-bucket"), Key: aws.String("dir/k ü")})
		wantCode(t, "other account", err, "AccessDenied", 403)

		_, err = e.clientWithKeys("AKIDACCOUNTA", "wrong").ListBuckets(bg, &s3.ListBucketsInput{})
		wantCode(t, "wrong secret", err, "SignatureDoesNotMatch", 403)
		_, err = e.clientWithKeys("AKIDUNKNOWN", "x").ListBuckets(bg, &s3.ListBucketsInput{})
		wantCode(t, "unknown key", err, "InvalidAccessKeyId", 403)
		_, err = e.clientWithKeys("AKIDACCOUNTA", "wrong").PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("strict-bucket"), Key: aws.String("x"), Body: strings.NewReader("x")})
		wantCode(t, "PutObject with a wrong secret", err, "SignatureDoesNotMatch", 403)
		_, err = a.ListBuckets(bg, &s3.ListBucketsInput{}, func(o *s3.Options) {
			o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
		})
		if err != nil {
			t.Fatalf("UNSIGNED-PAYLOAD: %v", err)
		}

		// Anonymous.
		resp, err := e.srv.Client().Get(e.srv.URL + "/strict-bucket/dir/k%20%C3%BC")
		if err != nil {
			t.Fatal(err)
		}
		rb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || !strings.Contains(string(rb), "<Code>AccessDenied</Code>") {
			t.Fatalf("anonymous: %d %s", resp.StatusCode, rb)
		}

		// A correctly signed request whose body is not the signed one.
		signed := []byte("signed body")
		req, _ := http.NewRequest(http.MethodPut, e.srv.URL+"/strict-bucket/tampered", bytes.NewReader([]byte("other body!")))
		hash := auth.PayloadHash(signed)
		req.Header.Set("X-Amz-Content-Sha256", hash)
		signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		if err := signer.SignHTTP(bg, aws.Credentials{AccessKeyID: "AKIDACCOUNTA", SecretAccessKey: "secret-a"}, req, hash, "s3", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err = e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		rb, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(rb), "<Code>XAmzContentSHA256Mismatch</Code>") {
			t.Fatalf("tampered body: %d %s", resp.StatusCode, rb)
		}
		if _, err := a.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("strict-bucket"), Key: aws.String("tampered")}); err == nil {
			t.Fatal("tampered body stored")
		}

		// A signature made an hour ago.
		req, _ = http.NewRequest(http.MethodGet, e.srv.URL+"/", nil)
		req.Header.Set("X-Amz-Content-Sha256", auth.PayloadHash(nil))
		signer.SignHTTP(bg, aws.Credentials{AccessKeyID: "AKIDACCOUNTA", SecretAccessKey: "secret-a"}, req, auth.PayloadHash(nil), "s3", "us-east-1", time.Now().Add(-time.Hour))
		resp, err = e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		rb, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || !strings.Contains(string(rb), "<Code>RequestTimeTooSkewed</Code>") {
			t.Fatalf("old signature: %d %s", resp.StatusCode, rb)
		}

		// Presigned URLs.
		ps := s3.NewPresignClient(a)
		get := must(ps.PresignGetObject(bg, &s3.GetObjectInput{Bucket: aws.String("strict-bucket"), Key: aws.String("dir/k ü")}))
		resp, err = e.srv.Client().Get(get.URL)
		if err != nil {
			t.Fatal(err)
		}
		rb, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(rb, body) {
			t.Fatalf("presigned GET: %d", resp.StatusCode)
		}
		resp, err = e.srv.Client().Get(strings.Replace(get.URL, "X-Amz-Signature=", "X-Amz-Signature=0", 1))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Fatalf("presigned GET with a bad signature: %d", resp.StatusCode)
		}
	}
}
