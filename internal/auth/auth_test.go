package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/identity"
)

const (
	acctA   = "111111111111"
	keyA    = "AKIAIOSFODNN7EXAMPLE"
	secretA = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	acctB   = "222222222222"
	keyB    = "AKIAI44QH8DHBEXAMPLE"
	secretB = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
	region  = "us-east-1"

	emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	arnPath   = "/tags/arn%3Aaws%3Acleanrooms%3Aus-east-1%3A111111111111%3Acollaboration%2Fabc"
	jsonBody  = `{"name":"collab","description":"d","members":[],"creatorMemberAbilities":[],"creatorDisplayName":"me","queryLogStatus":"ENABLED"}`
)

var signTime = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

func testAccounts() []Account {
	return []Account{
		{AccountID: acctA, AccessKeyID: keyA, SecretAccessKey: secretA},
		{AccountID: acctB, AccessKeyID: keyB, SecretAccessKey: secretB},
	}
}

func at(t time.Time) Option { return WithClock(func() time.Time { return t }) }

// harness is a real HTTP server whose handler authenticates every request the
// way the cleanroomsd server will: hash the body, call Authenticate.
type harness struct {
	t       *testing.T
	srv     *httptest.Server
	authn   atomic.Pointer[Authenticator]
	hook    atomic.Pointer[func(*http.Request, []byte)]
	results chan result
}

type result struct {
	caller identity.Caller
	err    error
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, results: make(chan result, 1)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			h.results <- result{err: fmt.Errorf("reading body: %w", err)}
			return
		}
		if f := h.hook.Load(); f != nil {
			(*f)(r, body)
		}
		c, err := h.authn.Load().Authenticate(r, PayloadHash(body))
		h.results <- result{c, err}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) send(a *Authenticator, req *http.Request) (identity.Caller, error) {
	h.t.Helper()
	h.authn.Store(a)
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatalf("sending request: %v", err)
	}
	resp.Body.Close()
	r := <-h.results
	return r.caller, r.err
}

// --- requests shaped like aws-sdk-go-v2's, signed with its signer ---

func newRequest(method, rawURL, body string) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, rawURL, rd)
	if err != nil {
		panic(err)
	}
	return req
}

// jsonPost is CreateCollaboration as aws-sdk-go-v2 sends it.
func jsonPost(base string) *http.Request {
	req := newRequest(http.MethodPost, base+"/collaborations", jsonBody)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "aws-sdk-go-v2/1.47.7 os/linux lang/go#1.26 api/cleanrooms#1.0.0")
	req.Header.Set("Amz-Sdk-Invocation-Id", "3f1c1d4e-0000-4000-8000-000000000001")
	req.Header.Set("Amz-Sdk-Request", "attempt=1; max=3")
	return req
}

// tagsGet is a GET whose URI label is an ARN, escaped as the SDK escapes
// labels (URL.Path decoded, URL.RawPath escaped), with a query string.
func tagsGet(base string) *http.Request {
	req := newRequest(http.MethodGet, base, "")
	raw := arnPath
	dec, err := url.PathUnescape(raw)
	if err != nil {
		panic(err)
	}
	req.URL.Path, req.URL.RawPath = dec, raw
	req.URL.RawQuery = url.Values{"maxResults": {"10"}, "nextToken": {"a/b c+d"}}.Encode()
	req.Header.Set("User-Agent", "aws-sdk-go-v2/1.47.7")
	req.Header.Set("Amz-Sdk-Invocation-Id", "3f1c1d4e-0000-4000-8000-000000000002")
	return req
}

// s3Put is an S3 PutObject with an unsigned payload and a key with spaces.
func s3Put(base string) *http.Request {
	req := newRequest(http.MethodPut, base+"/bucket/key%20with%20space", "hello, world")
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	req.Header.Set("X-Amz-Meta-Color", "blue")
	req.Header.Add("X-Amz-Meta-Color", "  dark   green ")
	req.Header.Set("User-Agent", "aws-sdk-go-v2/1.47.7 api/s3")
	return req
}

// sdkSign signs req in place like the SDK clients do: the payload hash is the
// X-Amz-Content-Sha256 header when set, else the body's SHA-256; S3 requests
// are signed without the extra path escaping.
func sdkSign(req *http.Request, key, secret, service string, when time.Time) *http.Request {
	hash := req.Header.Get("X-Amz-Content-Sha256")
	if hash == "" {
		hash = PayloadHash(readBody(req))
	}
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret},
		req, hash, service, region, when, func(o *v4.SignerOptions) { o.DisableURIPathEscaping = service == "s3" })
	if err != nil {
		panic(err)
	}
	return req
}

// readBody returns req's body and leaves it readable again.
func readBody(req *http.Request) []byte {
	if req.Body == nil {
		return nil
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		panic(err)
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	return b
}

// presignS3Get returns a presigned S3 GetObject URL request.
func presignS3Get(base, key, secret string, when time.Time, expires int) *http.Request {
	req := newRequest(http.MethodGet, base+"/bucket/key%20with%20space?versionId=v%2F1", "")
	q := req.URL.Query()
	q.Set("X-Amz-Expires", fmt.Sprint(expires))
	req.URL.RawQuery = q.Encode()
	signed, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret},
		req, "UNSIGNED-PAYLOAD", "s3", region, when, func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		panic(err)
	}
	out := newRequest(http.MethodGet, signed, "")
	for k, v := range hdr {
		if k != "Host" {
			out.Header[k] = v
		}
	}
	return out
}

// --- an independent, literal SigV4 computation for the Date-header case ---

func literalSignature(secret, date, service, stringToSign string) string {
	mac := func(k []byte, s string) []byte {
		h := hmac.New(sha256.New, k)
		h.Write([]byte(s))
		return h.Sum(nil)
	}
	k := mac(mac(mac(mac([]byte("AWS4"+secret), date), region), service), "aws4_request")
	return hex.EncodeToString(mac(k, stringToSign))
}

// dateHeaderGet signs a GET that dates itself with the Date header and signs
// no X-Amz-Date, which aws-sdk-go-v2's signer cannot reproduce, so it checks
// the fallback path against a canonical request written out by hand.
func dateHeaderGet(base string) *http.Request {
	req := newRequest(http.MethodGet, base+"/collaborations?maxResults=5&nextToken=x%20y", "")
	date := "Fri, 14 Mar 2025 15:09:26 GMT"
	req.Header.Set("Date", date)
	canonical := "GET\n/collaborations\nmaxResults=5&nextToken=x%20y\n" +
		"date:" + date + "\nhost:" + req.URL.Host + "\n\n" +
		"date;host\n" + emptyHash
	sum := sha256.Sum256([]byte(canonical))
	sts := "AWS4-HMAC-SHA256\n20250314T150926Z\n20250314/us-east-1/cleanrooms/aws4_request\n" + hex.EncodeToString(sum[:])
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+keyA+"/20250314/us-east-1/cleanrooms/aws4_request, SignedHeaders=date;host, Signature="+
		literalSignature(secretA, "20250314", "cleanrooms", sts))
	return req
}

// userAgentSigned signs User-Agent, as the AWS SDK for Java v1 does. The SDK
// signer ignores "User-Agent" but signs a lowercase "user-agent" map key.
func userAgentSigned(base string) *http.Request {
	req := jsonPost(base)
	req.Header.Del("User-Agent")
	req.Header["user-agent"] = []string{"aws-sdk-java/1.12.700 Linux/6.1 OpenJDK_64-Bit_Server_VM/17"}
	sdkSign(req, keyA, secretA, "cleanrooms", signTime)
	if !strings.Contains(req.Header.Get("Authorization"), "user-agent") {
		panic("user-agent was not signed")
	}
	// Send it under its canonical key, or net/http adds its own User-Agent.
	req.Header["User-Agent"] = req.Header["user-agent"]
	delete(req.Header, "user-agent")
	return req
}

func TestStrictAcceptsSDKSignedRequests(t *testing.T) {
	h := newHarness(t)
	base := h.srv.URL
	tests := []struct {
		name        string
		req         *http.Request
		wantAccount string
		wantKey     string
		wantService string
	}{
		{"json POST /collaborations", sdkSign(jsonPost(base), keyA, secretA, "cleanrooms", signTime), acctA, keyA, "cleanrooms"},
		{"GET escaped ARN label and query", sdkSign(tagsGet(base), keyB, secretB, "cleanrooms", signTime), acctB, keyB, "cleanrooms"},
		{"S3 PUT unsigned payload, key with spaces", sdkSign(s3Put(base), keyA, secretA, "s3", signTime), acctA, keyA, "s3"},
		{"S3 presigned GET", presignS3Get(base, keyB, secretB, signTime, 900), acctB, keyB, "s3"},
		{"glue json POST", sdkSign(jsonPost(base), keyB, secretB, "glue", signTime), acctB, keyB, "glue"},
		{"signed User-Agent", userAgentSigned(base), acctA, keyA, "cleanrooms"},
		{"Date header instead of X-Amz-Date", dateHeaderGet(base), acctA, keyA, "cleanrooms"},
	}
	a := NewStrict(testAccounts(), at(signTime.Add(time.Minute)))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.send(a, tt.req)
			if err != nil {
				t.Fatalf("Authenticate: got error %v, want none", err)
			}
			want := identity.Caller{AccountID: tt.wantAccount, AccessKeyID: tt.wantKey, Region: region, Service: tt.wantService}
			if got != want {
				t.Errorf("Authenticate: got %+v, want %+v", got, want)
			}
		})
	}
}

func TestStrictTwelveDigitKeyUsesConfiguredAccount(t *testing.T) {
	h := newHarness(t)
	a := NewStrict([]Account{{AccountID: acctB, AccessKeyID: "999999999999", SecretAccessKey: secretB}}, at(signTime))
	got, err := h.send(a, sdkSign(jsonPost(h.srv.URL), "999999999999", secretB, "cleanrooms", signTime))
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if got.AccountID != acctB {
		t.Errorf("AccountID: got %q, want %q", got.AccountID, acctB)
	}
}

// TestAWSTestSuiteVectors checks vectors from AWS's published SigV4 test suite
// (get-vanilla, post-vanilla), built in-process without a server.
func TestAWSTestSuiteVectors(t *testing.T) {
	const (
		key    = "AKIDEXAMPLE"
		secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	)
	tests := []struct{ method, sig string }{
		{"GET", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{"POST", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
	}
	when := time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
	a := NewStrict([]Account{{AccountID: acctA, AccessKeyID: key, SecretAccessKey: secret}}, at(when))
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://example.amazonaws.com/", nil)
			r.Header.Set("X-Amz-Date", "20150830T123600Z")
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature="+tt.sig)
			got, err := a.Authenticate(r, emptyHash)
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if got.AccountID != acctA || got.Service != "service" {
				t.Errorf("Authenticate: got %+v", got)
			}
		})
	}
}

// TestManualMatchesSDK checks that the fallback canonicalization agrees with
// aws-sdk-go-v2's signer on every request both can handle.
func TestManualMatchesSDK(t *testing.T) {
	h := newHarness(t)
	a := NewStrict(testAccounts(), at(signTime))
	checked := 0
	hook := func(r *http.Request, body []byte) {
		p, ferr := parse(r)
		if ferr != nil {
			t.Errorf("parse: %v", ferr)
			return
		}
		if !p.sdkCompatible(r) {
			t.Errorf("request is not SDK-compatible")
			return
		}
		acct := a.keys[p.scope.AccessKeyID]
		hash, ferr := effectivePayloadHash(r, p, PayloadHash(body))
		if ferr != nil {
			t.Errorf("payload hash: %v", ferr)
			return
		}
		for _, u := range uriCandidates(p.scope.Service, requestPath(r)) {
			sdk, err := a.sdkSignature(context.Background(), r, p, u, hash, acct)
			if err != nil {
				t.Errorf("sdkSignature: %v", err)
			}
			manual := manualSignature(r, p, u, hash, acct.SecretAccessKey)
			if sdk != manual {
				t.Errorf("%s %s (%+v): sdk signature %q, manual %q", r.Method, r.RequestURI, u, sdk, manual)
			}
			checked++
		}
	}
	h.hook.Store(&hook)
	base := h.srv.URL
	weird := jsonPost(base)
	weird.URL.Path = "/a/./b//c/../d"
	sdkSign(weird, keyA, secretA, "cleanrooms", signTime)
	for _, req := range []*http.Request{
		sdkSign(jsonPost(base), keyA, secretA, "cleanrooms", signTime),
		sdkSign(tagsGet(base), keyB, secretB, "cleanrooms", signTime),
		sdkSign(s3Put(base), keyA, secretA, "s3", signTime),
		presignS3Get(base, keyB, secretB, signTime, 900),
		userAgentSigned(base),
		weird,
	} {
		if _, err := h.send(a, req); err != nil {
			t.Errorf("%s %s: %v", req.Method, req.URL, err)
		}
	}
	if checked < 7 {
		t.Errorf("checked %d signatures, want at least 7", checked)
	}
}

func TestStrictRejects(t *testing.T) {
	h := newHarness(t)
	base := h.srv.URL
	strict := func(opts ...Option) *Authenticator { return NewStrict(testAccounts(), opts...) }
	signed := func() *http.Request { return sdkSign(jsonPost(base), keyA, secretA, "cleanrooms", signTime) }
	withAuthz := func(authz string) *http.Request {
		req := jsonPost(base)
		req.Header.Set("X-Amz-Date", "20250314T150926Z")
		req.Header.Set("Authorization", authz)
		return req
	}
	const sigMismatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."
	tests := []struct {
		name     string
		authn    *Authenticator
		req      *http.Request
		wantKind fault.Kind
		wantCode string
		wantMsg  string // prefix of the message
	}{
		{"no auth", strict(at(signTime)), jsonPost(base), fault.Unauthenticated, "MissingAuthenticationTokenException", "Missing Authentication Token"},
		{"not AWS4-HMAC-SHA256", strict(at(signTime)),
			withAuthz("AWS3-HTTPS AWSAccessKeyId=" + keyA + ",Algorithm=HmacSHA256,Signature=abc"),
			fault.Unauthenticated, "IncompleteSignatureException", "Authorization header must use the AWS4-HMAC-SHA256 algorithm"},
		{"missing Credential", strict(at(signTime)),
			withAuthz("AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=abc"),
			fault.Unauthenticated, "IncompleteSignatureException", "Authorization header requires 'Credential' parameter."},
		{"missing SignedHeaders", strict(at(signTime)),
			withAuthz("AWS4-HMAC-SHA256 Credential=" + keyA + "/20250314/us-east-1/cleanrooms/aws4_request, Signature=abc"),
			fault.Unauthenticated, "IncompleteSignatureException", "Authorization header requires 'SignedHeaders' parameter."},
		{"missing Signature", strict(at(signTime)),
			withAuthz("AWS4-HMAC-SHA256 Credential=" + keyA + "/20250314/us-east-1/cleanrooms/aws4_request, SignedHeaders=host;x-amz-date"),
			fault.Unauthenticated, "IncompleteSignatureException", "Authorization header requires 'Signature' parameter."},
		{"bad scope", strict(at(signTime)),
			withAuthz("AWS4-HMAC-SHA256 Credential=" + keyA + "/20250314/us-east-1/cleanrooms, SignedHeaders=host;x-amz-date, Signature=abc"),
			fault.Unauthenticated, "IncompleteSignatureException", "Credential must have the form"},
		{"bad scope date", strict(at(signTime)),
			withAuthz("AWS4-HMAC-SHA256 Credential=" + keyA + "/2025-03-14/us-east-1/cleanrooms/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"),
			fault.Unauthenticated, "IncompleteSignatureException", "Credential must have the form"},
		{"host not signed", strict(at(signTime)),
			withAuthz("AWS4-HMAC-SHA256 Credential=" + keyA + "/20250314/us-east-1/cleanrooms/aws4_request, SignedHeaders=x-amz-date, Signature=abc"),
			fault.Unauthenticated, "IncompleteSignatureException", "'Host' must be a 'SignedHeader'"},
		{"no date", strict(at(signTime)),
			func() *http.Request {
				r := withAuthz("AWS4-HMAC-SHA256 Credential=" + keyA + "/20250314/us-east-1/cleanrooms/aws4_request, SignedHeaders=host, Signature=abc")
				r.Header.Del("X-Amz-Date")
				return r
			}(),
			fault.Unauthenticated, "IncompleteSignatureException", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."},
		{"both header and query auth", strict(at(signTime)),
			func() *http.Request { r := signed(); r.URL.RawQuery = "X-Amz-Signature=abc"; return r }(),
			fault.Unauthenticated, "IncompleteSignatureException", "Only one auth mechanism allowed"},
		{"unknown access key", strict(at(signTime)), sdkSign(jsonPost(base), "AKIAUNKNOWNKEY000000", secretA, "cleanrooms", signTime),
			fault.Unauthenticated, "UnrecognizedClientException", "The security token included in the request is invalid."},
		{"wrong secret", strict(at(signTime)), sdkSign(jsonPost(base), keyA, secretB, "cleanrooms", signTime),
			fault.Unauthenticated, "InvalidSignatureException", sigMismatch},
		{"tampered body", strict(at(signTime)),
			func() *http.Request {
				r := signed()
				tampered := strings.Replace(jsonBody, `"collab"`, `"evil!"`, 1)
				r.Body, r.ContentLength = io.NopCloser(strings.NewReader(tampered)), int64(len(tampered))
				return r
			}(),
			fault.Unauthenticated, "InvalidSignatureException", sigMismatch},
		{"tampered signed header", strict(at(signTime)),
			func() *http.Request { r := signed(); r.Header.Set("Amz-Sdk-Request", "attempt=2; max=3"); return r }(),
			fault.Unauthenticated, "InvalidSignatureException", sigMismatch},
		{"signed header removed", strict(at(signTime)),
			func() *http.Request { r := signed(); r.Header.Del("Amz-Sdk-Invocation-Id"); return r }(),
			fault.Unauthenticated, "InvalidSignatureException", "The request does not carry the signed header 'amz-sdk-invocation-id'."},
		{"tampered path", strict(at(signTime)),
			func() *http.Request { r := signed(); r.URL.Path = "/memberships"; return r }(),
			fault.Unauthenticated, "InvalidSignatureException", sigMismatch},
		{"tampered query", strict(at(signTime)),
			func() *http.Request {
				r := sdkSign(tagsGet(base), keyB, secretB, "cleanrooms", signTime)
				r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "maxResults=10", "maxResults=11", 1)
				return r
			}(),
			fault.Unauthenticated, "InvalidSignatureException", sigMismatch},
		{"signed for another service", strict(at(signTime)),
			func() *http.Request {
				r := signed()
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/cleanrooms/", "/glue/", 1))
				return r
			}(),
			fault.Unauthenticated, "InvalidSignatureException", sigMismatch},
		{"scope date differs from X-Amz-Date", strict(at(signTime)),
			func() *http.Request {
				r := signed()
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/20250314/", "/20250313/", 1))
				return r
			}(),
			fault.Unauthenticated, "InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20250313' != '20250314', from '20250314T150926Z'."},
		{"signature expired", strict(at(signTime.Add(15*time.Minute + time.Second))), signed(),
			fault.Unauthenticated, "InvalidSignatureException",
			"Signature expired: 20250314T150926Z is now earlier than 20250314T150927Z (20250314T152427Z - 15 min.)"},
		{"signature not yet current", strict(at(signTime.Add(-15*time.Minute - time.Second))), signed(),
			fault.Unauthenticated, "InvalidSignatureException",
			"Signature not yet current: 20250314T150926Z is still later than 20250314T150925Z (20250314T145425Z + 15 min.)"},
		{"custom max skew", strict(at(signTime.Add(5*time.Minute+time.Second)), WithMaxSkew(5*time.Minute)), signed(),
			fault.Unauthenticated, "InvalidSignatureException",
			"Signature expired: 20250314T150926Z is now earlier than 20250314T150927Z (20250314T151427Z - 5 min.)"},
		{"presigned URL expired", strict(at(signTime.Add(901 * time.Second))), presignS3Get(base, keyB, secretB, signTime, 900),
			fault.Unauthenticated, "InvalidSignatureException", "Request has expired"},
		{"presigned URL tampered", strict(at(signTime)),
			func() *http.Request {
				r := presignS3Get(base, keyB, secretB, signTime, 900)
				r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "versionId=v%2F1", "versionId=v%2F2", 1)
				return r
			}(),
			fault.Unauthenticated, "InvalidSignatureException", sigMismatch},
		{"presigned URL with longer expiry than signed", strict(at(signTime)),
			func() *http.Request {
				r := presignS3Get(base, keyB, secretB, signTime, 900)
				r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-Expires=900", "X-Amz-Expires=9000", 1)
				return r
			}(),
			fault.Unauthenticated, "InvalidSignatureException", sigMismatch},
		{"presigned URL missing signature", strict(at(signTime)),
			func() *http.Request {
				r := presignS3Get(base, keyB, secretB, signTime, 900)
				q := r.URL.Query()
				q.Del("X-Amz-Signature")
				r.URL.RawQuery = q.Encode()
				return r
			}(),
			fault.Unauthenticated, "IncompleteSignatureException", "Query-string authentication version 4 requires"},
		{"S3 body does not match x-amz-content-sha256", strict(at(signTime)),
			func() *http.Request {
				r := s3Put(base)
				r.Header.Set("X-Amz-Content-Sha256", PayloadHash([]byte("hello, world")))
				sdkSign(r, keyA, secretA, "s3", signTime)
				r.Body = io.NopCloser(strings.NewReader("HELLO, WORLD"))
				return r
			}(),
			fault.Validation, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."},
		{"unsigned payload outside s3", strict(at(signTime)),
			func() *http.Request {
				r := jsonPost(base)
				r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
				return sdkSign(r, keyA, secretA, "cleanrooms", signTime)
			}(),
			fault.Unauthenticated, "InvalidSignatureException", "The x-amz-content-sha256 header must be the hex SHA-256 of the payload for service 'cleanrooms'."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.send(tt.authn, tt.req)
			if err == nil {
				t.Fatalf("Authenticate: got caller %+v, want error %s", got, tt.wantCode)
			}
			var fe *fault.Error
			if !errors.As(err, &fe) {
				t.Fatalf("Authenticate: got %T %v, want *fault.Error", err, err)
			}
			if fe.Kind != tt.wantKind || fe.Code != tt.wantCode {
				t.Errorf("Authenticate: got kind %v code %q, want kind %v code %q (message %q)", fe.Kind, fe.Code, tt.wantKind, tt.wantCode, fe.Message)
			}
			if !strings.HasPrefix(fe.Message, tt.wantMsg) {
				t.Errorf("Authenticate message: got %q, want prefix %q", fe.Message, tt.wantMsg)
			}
			if got != (identity.Caller{}) {
				t.Errorf("Authenticate: got caller %+v with the error, want zero", got)
			}
			for _, s := range []string{secretA, secretB} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains a secret", err)
				}
			}
		})
	}
}

func TestStrictAccepts(t *testing.T) {
	h := newHarness(t)
	base := h.srv.URL
	signed := func() *http.Request { return sdkSign(jsonPost(base), keyA, secretA, "cleanrooms", signTime) }
	tests := []struct {
		name  string
		authn *Authenticator
		req   *http.Request
	}{
		{"unsigned header changed", NewStrict(testAccounts(), at(signTime)),
			func() *http.Request {
				r := signed()
				r.Header.Set("User-Agent", "something else")
				r.Header.Set("X-Amzn-Trace-Id", "Root=1-abc")
				r.Header.Set("X-Unsigned", "added later")
				return r
			}()},
		{"skew just inside, past", NewStrict(testAccounts(), at(signTime.Add(15*time.Minute))), signed()},
		{"skew just inside, future", NewStrict(testAccounts(), at(signTime.Add(-15*time.Minute))), signed()},
		{"presigned URL at expiry", NewStrict(testAccounts(), at(signTime.Add(900*time.Second))), presignS3Get(base, keyB, secretB, signTime, 900)},
		{"S3 body matches x-amz-content-sha256", NewStrict(testAccounts(), at(signTime)),
			func() *http.Request {
				r := s3Put(base)
				r.Header.Set("X-Amz-Content-Sha256", PayloadHash([]byte("hello, world")))
				return sdkSign(r, keyA, secretA, "s3", signTime)
			}()},
		{"S3 streaming payload", NewStrict(testAccounts(), at(signTime)),
			func() *http.Request {
				r := s3Put(base)
				r.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
				return sdkSign(r, keyA, secretA, "s3", signTime)
			}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := h.send(tt.authn, tt.req); err != nil {
				t.Errorf("Authenticate: got error %v, want none", err)
			}
		})
	}
}

func TestPayloadHashArgument(t *testing.T) {
	// Without an X-Amz-Content-Sha256 header the payloadHash argument is
	// what the signature covers; with one, the header wins.
	r := sdkSign(jsonPost("http://localhost:8080"), keyA, secretA, "cleanrooms", signTime)
	r.RequestURI = "/collaborations"
	a := NewStrict(testAccounts(), at(signTime))
	if _, err := a.Authenticate(r, PayloadHash([]byte(jsonBody))); err != nil {
		t.Errorf("right hash: got %v, want nil", err)
	}
	if _, err := a.Authenticate(r, PayloadHash([]byte("{}"))); fault.As(err).Code != "InvalidSignatureException" {
		t.Errorf("wrong hash: got %v, want InvalidSignatureException", err)
	}
	if _, err := a.Authenticate(r, ""); fault.KindOf(err) != fault.Internal {
		t.Errorf("no hash: got %v, want an Internal error", err)
	}
	s := sdkSign(s3Put("http://localhost:8080"), keyA, secretA, "s3", signTime)
	s.RequestURI = "/bucket/key%20with%20space"
	if _, err := a.Authenticate(s, "UNSIGNED-PAYLOAD"); err != nil {
		t.Errorf("S3 with header value as payloadHash: got %v, want nil", err)
	}
	if _, err := a.Authenticate(s, PayloadHash([]byte("anything"))); err != nil {
		t.Errorf("S3 with body hash: got %v, want nil (header UNSIGNED-PAYLOAD wins)", err)
	}
	if got := PayloadHash(nil); got != emptyHash {
		t.Errorf("PayloadHash(nil): got %s, want %s", got, emptyHash)
	}
}

func TestDev(t *testing.T) {
	sigv4 := func(key string) string {
		return "AWS4-HMAC-SHA256 Credential=" + key + "/20250314/eu-west-1/cleanrooms/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000"
	}
	tests := []struct {
		name  string
		authz string
		query string
		want  identity.Caller
	}{
		{"12-digit key is the account", sigv4("123456789012"), "",
			identity.Caller{AccountID: "123456789012", AccessKeyID: "123456789012", Region: "eu-west-1", Service: "cleanrooms"}},
		{"non-digit key", sigv4("AKIAIOSFODNN7EXAMPLE"), "",
			identity.Caller{AccountID: "000000000000", AccessKeyID: "AKIAIOSFODNN7EXAMPLE", Region: "eu-west-1", Service: "cleanrooms"}},
		{"11 digits", sigv4("12345678901"), "",
			identity.Caller{AccountID: "000000000000", AccessKeyID: "12345678901", Region: "eu-west-1", Service: "cleanrooms"}},
		{"13 digits", sigv4("1234567890123"), "",
			identity.Caller{AccountID: "000000000000", AccessKeyID: "1234567890123", Region: "eu-west-1", Service: "cleanrooms"}},
		{"digits with a letter", sigv4("12345678901a"), "",
			identity.Caller{AccountID: "000000000000", AccessKeyID: "12345678901a", Region: "eu-west-1", Service: "cleanrooms"}},
		{"no auth", "", "", identity.Caller{AccountID: "000000000000"}},
		{"unparseable auth", "Bearer token", "", identity.Caller{AccountID: "000000000000"}},
		{"presigned", "", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=222222222222%2F20250314%2Fus-west-2%2Fs3%2Faws4_request&X-Amz-Signature=00",
			identity.Caller{AccountID: "222222222222", AccessKeyID: "222222222222", Region: "us-west-2", Service: "s3"}},
	}
	a := NewDev()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/collaborations?"+tt.query, nil)
			if tt.authz != "" {
				r.Header.Set("Authorization", tt.authz)
			}
			got, err := a.Authenticate(r, "")
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if got != tt.want {
				t.Errorf("Authenticate: got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestScope(t *testing.T) {
	tests := []struct {
		name   string
		authz  string
		query  string
		want   CredentialScope
		wantOK bool
	}{
		{"header", "AWS4-HMAC-SHA256 Credential=AKID/20250314/us-east-1/glue/aws4_request,SignedHeaders=host,Signature=00", "",
			CredentialScope{AccessKeyID: "AKID", Date: "20250314", Region: "us-east-1", Service: "glue"}, true},
		{"presigned", "", "X-Amz-Credential=AKID%2F20250314%2Fus-east-1%2Fs3%2Faws4_request",
			CredentialScope{AccessKeyID: "AKID", Date: "20250314", Region: "us-east-1", Service: "s3"}, true},
		{"none", "", "", CredentialScope{}, false},
		{"other algorithm", "AWS4-ECDSA-P256-SHA256 Credential=AKID/20250314/s3/aws4_request", "", CredentialScope{}, false},
		{"short credential", "AWS4-HMAC-SHA256 Credential=AKID/20250314/us-east-1/aws4_request", "", CredentialScope{}, false},
		{"bad date", "AWS4-HMAC-SHA256 Credential=AKID/20251399/us-east-1/s3/aws4_request", "", CredentialScope{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/?"+tt.query, nil)
			if tt.authz != "" {
				r.Header.Set("Authorization", tt.authz)
			}
			got, ok := Scope(r)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Scope: got %+v, %v; want %+v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// --- botocore ---

// botocorePython returns a python3 that can import botocore. Without one the
// test is skipped, unless CI=true, where it fails.
func botocorePython(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err == nil {
		err = exec.Command(py, "-c", "import botocore.auth").Run()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3 with botocore is required under CI=true: %v", err)
		}
		t.Skipf("python3 with botocore not available: %v", err)
	}
	return py
}

type botoSpec struct {
	Signer        string            `json:"signer"`
	Method        string            `json:"method"`
	URL           string            `json:"url"`
	Headers       map[string]string `json:"headers,omitempty"`
	Body          string            `json:"body,omitempty"`
	Service       string            `json:"service"`
	Region        string            `json:"region"`
	AccessKey     string            `json:"accessKey"`
	SecretKey     string            `json:"secretKey"`
	Expires       int               `json:"expires,omitempty"`
	SignUserAgent bool              `json:"signUserAgent,omitempty"`
}

// botoSign signs spec with botocore and rebuilds the signed request.
func botoSign(t *testing.T, py string, spec botoSpec) *http.Request {
	t.Helper()
	in, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, filepath.Join("testdata", "botocore_sign.py"))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("botocore: %v: %s", err, stderr.String())
	}
	var signed struct {
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
	}
	if err := json.Unmarshal(out, &signed); err != nil {
		t.Fatalf("botocore output %q: %v", out, err)
	}
	req := newRequest(spec.Method, signed.URL, spec.Body)
	for k, v := range signed.Headers {
		req.Header.Set(k, v)
	}
	return req
}

// signingTime returns the time botocore signed req at.
func signingTime(t *testing.T, req *http.Request) time.Time {
	t.Helper()
	v := req.Header.Get("X-Amz-Date")
	if v == "" {
		v = req.URL.Query().Get("X-Amz-Date")
	}
	when, err := time.Parse(amzDateFormat, v)
	if err != nil {
		t.Fatalf("botocore signing time %q: %v", v, err)
	}
	return when
}

func TestBotocoreSignedRequests(t *testing.T) {
	py := botocorePython(t)
	h := newHarness(t)
	base := h.srv.URL
	jsonHeaders := map[string]string{"Content-Type": "application/json", "User-Agent": "Boto3/1.40.0 md/Botocore#1.40.0 ua/2.1 os/linux"}
	tests := []struct {
		name        string
		spec        botoSpec
		wantAccount string
	}{
		{"json POST /collaborations", botoSpec{Signer: "sigv4", Method: "POST", URL: base + "/collaborations", Headers: jsonHeaders, Body: jsonBody,
			Service: "cleanrooms", Region: region, AccessKey: keyA, SecretKey: secretA}, acctA},
		{"GET escaped ARN label and query", botoSpec{Signer: "sigv4", Method: "GET", URL: base + arnPath + "?maxResults=10&nextToken=a%2Fb%20c%2Bd",
			Headers: map[string]string{"User-Agent": "aws-cli/1.36.0"}, Service: "cleanrooms", Region: region, AccessKey: keyB, SecretKey: secretB}, acctB},
		{"path with dot segments and empty segments", botoSpec{Signer: "sigv4", Method: "GET", URL: base + "/a/./b//c/../d",
			Service: "cleanrooms", Region: region, AccessKey: keyA, SecretKey: secretA}, acctA},
		{"glue x-amz-json-1.1", botoSpec{Signer: "sigv4", Method: "POST", URL: base + "/", Body: `{"Name":"db"}`,
			Headers: map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSGlue.GetDatabase"},
			Service: "glue", Region: region, AccessKey: keyA, SecretKey: secretA}, acctA},
		{"signed User-Agent", botoSpec{Signer: "sigv4", Method: "POST", URL: base + "/collaborations", Headers: jsonHeaders, Body: jsonBody,
			Service: "cleanrooms", Region: region, AccessKey: keyA, SecretKey: secretA, SignUserAgent: true}, acctA},
		{"S3 PUT key with spaces", botoSpec{Signer: "s3", Method: "PUT", URL: base + "/bucket/key%20with%20space", Body: "hello, world",
			Headers: map[string]string{"Content-Type": "text/plain", "X-Amz-Meta-Color": "blue"},
			Service: "s3", Region: region, AccessKey: keyB, SecretKey: secretB}, acctB},
		{"S3 presigned GET", botoSpec{Signer: "s3-query", Method: "GET", URL: base + "/bucket/key%20with%20space?versionId=v%2F1",
			Service: "s3", Region: region, AccessKey: keyA, SecretKey: secretA, Expires: 300}, acctA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := botoSign(t, py, tt.spec)
			when := signingTime(t, req)
			got, err := h.send(NewStrict(testAccounts(), at(when)), req)
			if err != nil {
				t.Fatalf("Authenticate: got error %v, want none (request %s %s, headers %v)", err, req.Method, req.URL, req.Header)
			}
			want := identity.Caller{AccountID: tt.wantAccount, AccessKeyID: tt.spec.AccessKey, Region: region, Service: tt.spec.Service}
			if got != want {
				t.Errorf("Authenticate: got %+v, want %+v", got, want)
			}
			// The same request signed with the other secret must fail.
			bad := tt.spec
			bad.SecretKey = secretA + "x"
			if _, err := h.send(NewStrict(testAccounts(), at(when)), botoSign(t, py, bad)); fault.As(err).Code != "InvalidSignatureException" {
				t.Errorf("wrong secret: got %v, want InvalidSignatureException", err)
			}
		})
	}
}

// --- LoadCredentials ---

func TestLoadCredentials(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const secret = "topsecret/EXAMPLEKEY"
	entry := func(account, key, sec string) string {
		return fmt.Sprintf(`{"accountId":%q,"accessKeyId":%q,"secretAccessKey":%q}`, account, key, sec)
	}
	tests := []struct {
		name    string
		path    string
		want    []Account
		wantErr string // substring; empty means success
	}{
		{"good", write("good.json", `{"accounts":[`+entry(acctA, keyA, secret)+`,`+entry(acctB, "AKIDB", secret+"2")+`]}`),
			[]Account{{acctA, keyA, secret}, {acctB, "AKIDB", secret + "2"}}, ""},
		{"duplicate key", write("dup.json", `{"accounts":[`+entry(acctA, keyA, secret)+`,`+entry(acctB, keyA, secret)+`]}`),
			nil, `accounts[1] (accessKeyId "` + keyA + `"): accessKeyId duplicates accounts[0]`},
		{"bad account id", write("badacct.json", `{"accounts":[`+entry("12345", keyA, secret)+`]}`),
			nil, `accounts[0] (accessKeyId "` + keyA + `"): accountId "12345" must be exactly 12 digits`},
		{"non-digit account id", write("letters.json", `{"accounts":[`+entry("11111111111a", keyA, secret)+`]}`),
			nil, `accountId "11111111111a" must be exactly 12 digits`},
		{"empty key", write("nokey.json", `{"accounts":[`+entry(acctA, "", secret)+`]}`),
			nil, `accounts[0]: accessKeyId is empty`},
		{"key with slash", write("slash.json", `{"accounts":[`+entry(acctA, "AK/ID", secret)+`]}`),
			nil, `accessKeyId contains a character not allowed`},
		{"empty secret", write("nosecret.json", `{"accounts":[`+entry(acctA, keyA, "")+`]}`),
			nil, `accounts[0] (accessKeyId "` + keyA + `"): secretAccessKey is empty`},
		{"unknown field", write("typo.json", `{"accounts":[{"accountId":"111111111111","accessKeyId":"K","secretKey":"`+secret+`"}]}`),
			nil, `unknown field "secretKey"`},
		{"no accounts", write("empty.json", `{"accounts":[]}`), nil, "no accounts configured"},
		{"not JSON", write("bad.json", `accounts: []`), nil, "invalid character"},
		{"trailing data", write("trail.json", `{"accounts":[`+entry(acctA, keyA, secret)+`]} {}`), nil, "unexpected data after the JSON object"},
		{"missing file", filepath.Join(dir, "nope.json"), nil, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadCredentials(tt.path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("LoadCredentials: %v", err)
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.want) || len(got) != len(tt.want) {
					t.Fatalf("LoadCredentials: got %v, want %v", got, tt.want)
				}
				for i := range got {
					if got[i] != tt.want[i] {
						t.Errorf("account %d: got %#v, want %#v", i, got[i], tt.want[i])
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("LoadCredentials: got %v, want error containing %q", got, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("LoadCredentials: got error %q, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("LoadCredentials: error %q contains the secret", err)
			}
		})
	}
	if _, err := LoadCredentials(filepath.Join(dir, "nope.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: got %v, want fs.ErrNotExist", err)
	}
}

func TestAccountFormattingRedactsSecret(t *testing.T) {
	acct := Account{AccountID: acctA, AccessKeyID: keyA, SecretAccessKey: secretA}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		if got := fmt.Sprintf(verb, acct); strings.Contains(got, secretA) || strings.Contains(got, hex.EncodeToString([]byte(secretA))) {
			t.Errorf("Sprintf(%q): got %q, which contains the secret", verb, got)
		}
	}
	if got := fmt.Sprint(acct.LogValue()); strings.Contains(got, secretA) {
		t.Errorf("LogValue: got %q, which contains the secret", got)
	}
}
