package s3api

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cleanroomsd/cleanroomsd/internal/auth"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/objectstore/objectstoretest"
)

func createBucket(t *testing.T, c *s3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("CreateBucket(%s): %v", name, err)
	}
}

func putString(t *testing.T, c *s3.Client, bucket, key, body string) *s3.PutObjectOutput {
	t.Helper()
	out, err := c.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
	if err != nil {
		t.Fatalf("PutObject(%s/%s): %v", bucket, key, err)
	}
	return out
}

func getBytes(t *testing.T, c *s3.Client, in *s3.GetObjectInput) ([]byte, *s3.GetObjectOutput) {
	t.Helper()
	out, err := c.GetObject(bg, in)
	if err != nil {
		t.Fatalf("GetObject(%s): %v", aws.ToString(in.Key), err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", aws.ToString(in.Key), err)
	}
	return b, out
}

func TestBuckets(t *testing.T) {
	e := newEnv(t, envOptions{})
	a, b := e.client(acctA), e.client(acctB)
	for _, n := range []string{"zeta-bucket", "alpha.bucket", "mid-1"} {
		createBucket(t, a, n)
	}
	createBucket(t, b, "b-owned")

	// us-east-1: re-creating your own bucket succeeds, as on AWS.
	createBucket(t, a, "alpha.bucket")
	_, err := b.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("alpha.bucket")})
	wantCode(t, "CreateBucket of another account's bucket", err, "BucketAlreadyExists", 409)

	lb := must(a.ListBuckets(bg, &s3.ListBucketsInput{}))
	var names []string
	for _, bk := range lb.Buckets {
		names = append(names, aws.ToString(bk.Name))
		if bk.CreationDate == nil || time.Since(*bk.CreationDate) > time.Minute {
			t.Fatalf("CreationDate %v", bk.CreationDate)
		}
	}
	if !slices.Equal(names, []string{"alpha.bucket", "mid-1", "zeta-bucket"}) {
		t.Fatalf("ListBuckets(A) = %q", names)
	}
	if aws.ToString(lb.Owner.ID) != acctA {
		t.Fatalf("owner %v", lb.Owner)
	}
	lb = must(b.ListBuckets(bg, &s3.ListBucketsInput{}))
	if len(lb.Buckets) != 1 || aws.ToString(lb.Buckets[0].Name) != "b-owned" {
		t.Fatalf("ListBuckets(B) = %+v", lb.Buckets)
	}
	// Paginated and prefixed listing.
	lb = must(a.ListBuckets(bg, &s3.ListBucketsInput{MaxBuckets: aws.Int32(2)}))
	if len(lb.Buckets) != 2 || lb.ContinuationToken == nil {
		t.Fatalf("page 1: %+v", lb)
	}
	lb = must(a.ListBuckets(bg, &s3.ListBucketsInput{MaxBuckets: aws.Int32(2), ContinuationToken: lb.ContinuationToken}))
	if len(lb.Buckets) != 1 || aws.ToString(lb.Buckets[0].Name) != "zeta-bucket" || lb.ContinuationToken != nil {
		t.Fatalf("page 2: %+v", lb)
	}
	lb = must(a.ListBuckets(bg, &s3.ListBucketsInput{Prefix: aws.String("mi")}))
	if len(lb.Buckets) != 1 {
		t.Fatalf("prefix: %+v", lb.Buckets)
	}
	// A fresh account has no buckets and an empty (not missing) list.
	lb = must(e.client("333333333333").ListBuckets(bg, &s3.ListBucketsInput{}))
	if lb.Buckets == nil || len(lb.Buckets) != 0 {
		t.Fatalf("empty ListBuckets = %#v", lb.Buckets)
	}

	ho := must(a.HeadBucket(bg, &s3.HeadBucketInput{Bucket: aws.String("mid-1")}))
	if aws.ToString(ho.BucketRegion) != "us-east-1" {
		t.Fatalf("HeadBucket region %v", ho.BucketRegion)
	}
	loc := must(a.GetBucketLocation(bg, &s3.GetBucketLocationInput{Bucket: aws.String("mid-1")}))
	if loc.LocationConstraint != "" {
		t.Fatalf("location %q", loc.LocationConstraint)
	}
	_, err = a.HeadBucket(bg, &s3.HeadBucketInput{Bucket: aws.String("no-such-bucket")})
	wantCode(t, "HeadBucket missing", err, "NotFound", 404)
	_, err = a.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("no-such-bucket")})
	wantCode(t, "ListObjectsV2 missing", err, "NoSuchBucket", 404)

	putString(t, a, "mid-1", "k", "v")
	_, err = a.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: aws.String("mid-1")})
	wantCode(t, "DeleteBucket non-empty", err, "BucketNotEmpty", 409)
	must(a.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("mid-1"), Key: aws.String("k")}))
	must(a.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: aws.String("mid-1")}))
	_, err = a.HeadBucket(bg, &s3.HeadBucketInput{Bucket: aws.String("mid-1")})
	wantCode(t, "HeadBucket deleted", err, "NotFound", 404)
	_, err = a.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: aws.String("mid-1")})
	wantCode(t, "DeleteBucket deleted", err, "NoSuchBucket", 404)
	// The name is free again, for anyone.
	createBucket(t, b, "mid-1")
	owner, err := BucketOwner(bg, e.meta, "mid-1")
	if err != nil || owner != acctB {
		t.Fatalf("BucketOwner = %q, %v", owner, err)
	}
	if _, err := BucketOwner(bg, e.meta, "nope-nope"); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("BucketOwner of a missing bucket: %v", err)
	}
	must(a.GetBucketVersioning(bg, &s3.GetBucketVersioningInput{Bucket: aws.String("zeta-bucket")}))
}

func TestBucketsOutsideUSEast1(t *testing.T) {
	e := newEnv(t, envOptions{region: "eu-west-1"})
	c := e.client(acctA, func(o *s3.Options) { o.Region = "eu-west-1" })
	_, err := c.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("eu-bucket"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateBucket(bg, &s3.CreateBucketInput{Bucket: aws.String("eu-bucket"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1}})
	wantCode(t, "re-create outside us-east-1", err, "BucketAlreadyOwnedByYou", 409)
	loc := must(c.GetBucketLocation(bg, &s3.GetBucketLocationInput{Bucket: aws.String("eu-bucket")}))
	if loc.LocationConstraint != types.BucketLocationConstraintEuWest1 {
		t.Fatalf("location %q", loc.LocationConstraint)
	}
	ho := must(c.HeadBucket(bg, &s3.HeadBucketInput{Bucket: aws.String("eu-bucket")}))
	if aws.ToString(ho.BucketRegion) != "eu-west-1" {
		t.Fatalf("HeadBucket region %v", ho.BucketRegion)
	}
}

func TestInvalidBucketNames(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client(acctA)
	for _, name := range []string{
		"ab", strings.Repeat("a", 64), "UPPER", "has_underscore", "-start", "end-", ".start", "end.",
		"a..b", "192.168.1.1", "xn--bucket", "sthree-x", "bucket-s3alias", "bucket--ol-s3", "spa ce", "ünï",
	} {
		req, _ := http.NewRequest(http.MethodPut, e.srv.URL+"/"+url.PathEscape(name), nil)
		signDev(req, acctA)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !bytes.Contains(body, []byte("<Code>InvalidBucketName</Code>")) {
			t.Errorf("CreateBucket(%q) = %d %s", name, resp.StatusCode, body)
		}
	}
	for _, name := range []string{"abc", strings.Repeat("a", 63), "my.bucket-1", "1bucket", "192.168.1.1.x"} {
		createBucket(t, c, name)
	}
	lb := must(c.ListBuckets(bg, &s3.ListBucketsInput{}))
	if len(lb.Buckets) != 5 {
		t.Fatalf("%d buckets", len(lb.Buckets))
	}
}

// signDev adds a dev-mode SigV4-shaped Authorization header (dev mode does
// not verify the signature) so the request is attributed to account.
func signDev(req *http.Request, account string) {
	now := time.Now().UTC()
	req.Header.Set("X-Amz-Date", now.Format("20060102T150405Z"))
	if req.Header.Get("X-Amz-Content-Sha256") == "" {
		req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	}
	req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=%s",
		account, now.Format("20060102"), strings.Repeat("0", 64)))
}

func TestObjects(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client(acctA)
	createBucket(t, c, "objs")
	body := randomData(1, 100_000)
	put := must(c.PutObject(bg, &s3.PutObjectInput{
		Bucket: aws.String("objs"), Key: aws.String("dir/data.csv"), Body: bytes.NewReader(body),
		ContentType: aws.String("text/csv"), Metadata: map[string]string{"color": "blue", "Mixed-Case": "v"},
		CacheControl: aws.String("max-age=60"), ContentDisposition: aws.String("attachment; filename=\"x.csv\""),
	}))
	if aws.ToString(put.ETag) != `"`+md5Hex(body)+`"` {
		t.Fatalf("ETag %s", aws.ToString(put.ETag))
	}
	if aws.ToString(put.ChecksumCRC32) == "" {
		t.Fatal("PutObject returned no CRC32 checksum")
	}
	got, out := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/data.csv")})
	if !bytes.Equal(got, body) || aws.ToString(out.ContentType) != "text/csv" || out.Metadata["color"] != "blue" ||
		out.Metadata["mixed-case"] != "v" || aws.ToString(out.CacheControl) != "max-age=60" ||
		aws.ToString(out.ContentDisposition) != "attachment; filename=\"x.csv\"" || aws.ToInt64(out.ContentLength) != int64(len(body)) ||
		aws.ToString(out.ETag) != aws.ToString(put.ETag) || out.LastModified == nil || aws.ToString(out.AcceptRanges) != "bytes" {
		t.Fatalf("GetObject = %+v", out)
	}
	// The SDK validates the stored CRC32 it asked for.
	if aws.ToString(out.ChecksumCRC32) != aws.ToString(put.ChecksumCRC32) {
		t.Fatalf("GetObject checksum %q, want %q", aws.ToString(out.ChecksumCRC32), aws.ToString(put.ChecksumCRC32))
	}
	head := must(c.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/data.csv"), ChecksumMode: types.ChecksumModeEnabled}))
	if aws.ToInt64(head.ContentLength) != int64(len(body)) || aws.ToString(head.ETag) != aws.ToString(put.ETag) ||
		head.Metadata["color"] != "blue" || aws.ToString(head.ChecksumCRC32) != aws.ToString(put.ChecksumCRC32) {
		t.Fatalf("HeadObject = %+v", head)
	}

	// Ranges.
	for _, tc := range []struct {
		rng          string
		first, last  int
		contentRange string
	}{
		{"bytes=0-9", 0, 9, "bytes 0-9/100000"},
		{"bytes=99990-", 99990, 99999, "bytes 99990-99999/100000"},
		{"bytes=-5", 99995, 99999, "bytes 99995-99999/100000"},
		{"bytes=500-200000", 500, 99999, "bytes 500-99999/100000"},
	} {
		got, out := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/data.csv"), Range: aws.String(tc.rng)})
		if !bytes.Equal(got, body[tc.first:tc.last+1]) || aws.ToString(out.ContentRange) != tc.contentRange ||
			aws.ToInt64(out.ContentLength) != int64(tc.last-tc.first+1) || aws.ToString(out.ChecksumCRC32) != "" {
			t.Fatalf("%s: %d bytes, Content-Range %q, checksum %q", tc.rng, len(got), aws.ToString(out.ContentRange), aws.ToString(out.ChecksumCRC32))
		}
	}
	_, err := c.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/data.csv"), Range: aws.String("bytes=100000-")})
	wantCode(t, "range past the end", err, "InvalidRange", 416)

	// Conditional requests.
	_, err = c.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/data.csv"), IfMatch: aws.String(`"nope"`)})
	wantCode(t, "If-Match mismatch", err, "PreconditionFailed", 412)
	_, err = c.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/data.csv"), IfNoneMatch: put.ETag})
	if _, status := errCode(err); status != 304 {
		t.Fatalf("If-None-Match match: %v", err)
	}
	getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/data.csv"), IfMatch: put.ETag, Range: aws.String("bytes=0-0")})
	_, err = c.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/data.csv"), IfModifiedSince: aws.Time(time.Now().Add(time.Hour))})
	if _, status := errCode(err); status != 304 {
		t.Fatalf("If-Modified-Since future: %v", err)
	}
	// response-* overrides.
	_, out = getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/data.csv"), ResponseContentType: aws.String("application/x-override")})
	if aws.ToString(out.ContentType) != "application/x-override" {
		t.Fatalf("override: %q", aws.ToString(out.ContentType))
	}

	// Conditional create.
	_, err = c.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/data.csv"), Body: strings.NewReader("x"), IfNoneMatch: aws.String("*")})
	wantCode(t, "If-None-Match: * on an existing key", err, "PreconditionFailed", 412)

	// Empty object, without a content type: S3's default.
	if resp, body := rawPut(t, e, "/objs/empty", strings.NewReader(""), nil); resp.StatusCode != 200 {
		t.Fatalf("empty PUT: %d %s", resp.StatusCode, body)
	}
	got, out = getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("empty")})
	if len(got) != 0 || aws.ToString(out.ContentType) != "binary/octet-stream" {
		t.Fatalf("empty: %q %q", got, aws.ToString(out.ContentType))
	}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/objs/empty", nil)
	req.Header.Set("Range", "bytes=0-")
	signDev(req, acctA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 416 || resp.Header.Get("Content-Range") != "bytes */0" {
		t.Fatalf("range of an empty object: %d %v", resp.StatusCode, resp.Header)
	}

	// Delete is idempotent.
	for range 2 {
		must(c.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/data.csv")}))
	}
	_, err = c.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/data.csv")})
	wantCode(t, "GetObject deleted", err, "NoSuchKey", 404)
	_, err = c.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/data.csv")})
	wantCode(t, "HeadObject deleted", err, "NotFound", 404)
	_, err = c.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("no-bucket"), Key: aws.String("k"), Body: strings.NewReader("x")})
	wantCode(t, "PutObject into a missing bucket", err, "NoSuchBucket", 404)
}

func TestTrickyKeys(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client(acctA)
	createBucket(t, c, "keys")
	keys := objectstoretest.TrickyKeys()
	for i, k := range keys {
		if _, err := c.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("keys"), Key: aws.String(k), Body: strings.NewReader(fmt.Sprint(i))}); err != nil {
			t.Fatalf("PutObject(%q): %v", k, err)
		}
	}
	for i, k := range keys {
		got, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("keys"), Key: aws.String(k)})
		if string(got) != fmt.Sprint(i) {
			t.Fatalf("key %q: got %q", k, got)
		}
	}
	want := slices.Clone(keys)
	sort.Strings(want)
	for _, encoded := range []bool{false, true} {
		var listed []string
		in := &s3.ListObjectsV2Input{Bucket: aws.String("keys"), MaxKeys: aws.Int32(7)}
		if encoded {
			in.EncodingType = types.EncodingTypeUrl
		}
		p := s3.NewListObjectsV2Paginator(c, in)
		for p.HasMorePages() {
			page := must(p.NextPage(bg))
			for _, o := range page.Contents {
				k := aws.ToString(o.Key)
				if encoded {
					var err error
					if k, err = url.QueryUnescape(k); err != nil {
						t.Fatal(err)
					}
				}
				listed = append(listed, k)
			}
		}
		if !slices.Equal(listed, want) {
			t.Fatalf("encoded=%v: listed\n%q\nwant\n%q", encoded, listed, want)
		}
	}
	for _, k := range keys {
		must(c.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: aws.String("keys"), Key: aws.String(k)}))
	}
	must(c.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: aws.String("keys")}))
}

func TestListObjects(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client(acctA)
	createBucket(t, c, "list")
	keys := []string{"a.txt", "b/1", "b/2", "b/c/3", "d e/f", "z"}
	for _, k := range keys {
		putString(t, c, "list", k, k)
	}
	out := must(c.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("list"), Delimiter: aws.String("/")}))
	var got, prefixes []string
	for _, o := range out.Contents {
		got = append(got, aws.ToString(o.Key))
		if o.StorageClass != types.ObjectStorageClassStandard || aws.ToInt64(o.Size) == 0 || o.LastModified == nil || aws.ToString(o.ETag) == "" {
			t.Fatalf("object %+v", o)
		}
	}
	for _, p := range out.CommonPrefixes {
		prefixes = append(prefixes, aws.ToString(p.Prefix))
	}
	if !slices.Equal(got, []string{"a.txt", "z"}) || !slices.Equal(prefixes, []string{"b/", "d e/"}) || aws.ToInt32(out.KeyCount) != 4 {
		t.Fatalf("delimiter: %q %q %d", got, prefixes, aws.ToInt32(out.KeyCount))
	}
	out = must(c.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("list"), Prefix: aws.String("b/"), Delimiter: aws.String("/"), FetchOwner: aws.Bool(true)}))
	if len(out.Contents) != 2 || len(out.CommonPrefixes) != 1 || aws.ToString(out.Contents[0].Owner.ID) != acctA {
		t.Fatalf("prefix b/: %+v", out)
	}
	out = must(c.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("list"), StartAfter: aws.String("b/2")}))
	if len(out.Contents) != 3 || aws.ToString(out.Contents[0].Key) != "b/c/3" || aws.ToString(out.StartAfter) != "b/2" {
		t.Fatalf("start-after: %+v", out.Contents)
	}
	// Pagination by one, with common prefixes.
	var all []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("list"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(1)})
	pages := 0
	for p.HasMorePages() {
		page := must(p.NextPage(bg))
		pages++
		for _, o := range page.Contents {
			all = append(all, aws.ToString(o.Key))
		}
		for _, cp := range page.CommonPrefixes {
			all = append(all, aws.ToString(cp.Prefix))
		}
	}
	if !slices.Equal(all, []string{"a.txt", "b/", "d e/", "z"}) || pages != 4 {
		t.Fatalf("paged: %q in %d pages", all, pages)
	}
	_, err := c.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("list"), ContinuationToken: aws.String("!!!")})
	wantCode(t, "bad continuation token", err, "InvalidArgument", 400)
	out = must(c.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("list"), MaxKeys: aws.Int32(0)}))
	if len(out.Contents) != 0 || aws.ToBool(out.IsTruncated) {
		t.Fatalf("max-keys 0: %+v", out)
	}

	// ListObjects version 1.
	v1 := must(c.ListObjects(bg, &s3.ListObjectsInput{Bucket: aws.String("list"), MaxKeys: aws.Int32(2), Delimiter: aws.String("/")}))
	if len(v1.Contents) != 1 || len(v1.CommonPrefixes) != 1 || !aws.ToBool(v1.IsTruncated) || aws.ToString(v1.NextMarker) != "b/" {
		t.Fatalf("v1 page 1: %+v", v1)
	}
	v1 = must(c.ListObjects(bg, &s3.ListObjectsInput{Bucket: aws.String("list"), Marker: v1.NextMarker, Delimiter: aws.String("/")}))
	if len(v1.Contents) != 1 || len(v1.CommonPrefixes) != 1 || aws.ToBool(v1.IsTruncated) || aws.ToString(v1.Contents[0].Key) != "z" {
		t.Fatalf("v1 page 2: %+v", v1)
	}
	v1 = must(c.ListObjects(bg, &s3.ListObjectsInput{Bucket: aws.String("list")}))
	if len(v1.Contents) != len(keys) || v1.Contents[0].Owner == nil {
		t.Fatalf("v1 all: %+v", v1)
	}
}

func TestDeleteObjects(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client(acctA)
	createBucket(t, c, "del")
	for _, k := range []string{"a", "b", "c", "d"} {
		putString(t, c, "del", k, k)
	}
	out := must(c.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: aws.String("del"), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("a")}, {Key: aws.String("b")}, {Key: aws.String("never")}},
	}}))
	if len(out.Deleted) != 3 || len(out.Errors) != 0 {
		t.Fatalf("DeleteObjects = %+v", out)
	}
	out = must(c.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: aws.String("del"), Delete: &types.Delete{
		Quiet: aws.Bool(true), Objects: []types.ObjectIdentifier{{Key: aws.String("c")}},
	}}))
	if len(out.Deleted) != 0 || len(out.Errors) != 0 {
		t.Fatalf("quiet DeleteObjects = %+v", out)
	}
	lo := must(c.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: aws.String("del")}))
	if len(lo.Contents) != 1 || aws.ToString(lo.Contents[0].Key) != "d" {
		t.Fatalf("left: %+v", lo.Contents)
	}
}

// uploadMultipart uploads data in parts of partSize with the SDK and
// completes the upload.
func uploadMultipart(t *testing.T, c *s3.Client, bucket, key string, data []byte, partSize int) *s3.CompleteMultipartUploadOutput {
	t.Helper()
	cr := must(c.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key),
		ContentType: aws.String("application/x-big"), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32}))
	if cr.ChecksumAlgorithm != types.ChecksumAlgorithmCrc32 {
		t.Fatalf("CreateMultipartUpload checksum algorithm %q", cr.ChecksumAlgorithm)
	}
	var parts []types.CompletedPart
	for i, n := 0, int32(1); i < len(data); i, n = i+partSize, n+1 {
		chunk := data[i:min(i+partSize, len(data))]
		up := must(c.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: cr.UploadId,
			PartNumber: aws.Int32(n), Body: bytes.NewReader(chunk), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32}))
		if aws.ToString(up.ETag) != `"`+md5Hex(chunk)+`"` || aws.ToString(up.ChecksumCRC32) == "" {
			t.Fatalf("UploadPart %d = %+v", n, up)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: up.ETag, ChecksumCRC32: up.ChecksumCRC32})
	}
	lp := must(c.ListParts(bg, &s3.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: cr.UploadId}))
	if len(lp.Parts) != len(parts) || aws.ToString(lp.Parts[0].ETag) != aws.ToString(parts[0].ETag) || lp.ChecksumAlgorithm != types.ChecksumAlgorithmCrc32 {
		t.Fatalf("ListParts = %+v", lp)
	}
	if len(parts) > 1 {
		lp = must(c.ListParts(bg, &s3.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: cr.UploadId, MaxParts: aws.Int32(1), PartNumberMarker: aws.String("1")}))
		if len(lp.Parts) != 1 || aws.ToInt32(lp.Parts[0].PartNumber) != 2 || aws.ToBool(lp.IsTruncated) != (len(parts) > 2) || aws.ToString(lp.NextPartNumberMarker) != "2" {
			t.Fatalf("ListParts page = %+v", lp)
		}
	}
	return must(c.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key),
		UploadId: cr.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}))
}

func multipartETag(data []byte, partSize int) string {
	h := md5.New()
	n := 0
	for i := 0; i < len(data); i += partSize {
		s := md5.Sum(data[i:min(i+partSize, len(data))])
		h.Write(s[:])
		n++
	}
	return fmt.Sprintf(`"%x-%d"`, h.Sum(nil), n)
}

func TestMultipart(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client(acctA)
	createBucket(t, c, "mpu")
	const partSize = 5 << 20
	data := randomData(7, 20<<20)
	done := uploadMultipart(t, c, "mpu", "big/object.bin", data, partSize)
	if aws.ToString(done.ETag) != multipartETag(data, partSize) {
		t.Fatalf("ETag %s, want %s", aws.ToString(done.ETag), multipartETag(data, partSize))
	}
	if !strings.HasSuffix(aws.ToString(done.ChecksumCRC32), "-4") || done.ChecksumType != types.ChecksumTypeComposite {
		t.Fatalf("checksum %q %q", aws.ToString(done.ChecksumCRC32), done.ChecksumType)
	}
	// Whole object, with checksum validation requested (a composite checksum,
	// which the SDK skips), and one part.
	got, out := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String("big/object.bin"), ChecksumMode: types.ChecksumModeEnabled})
	if !bytes.Equal(got, data) || aws.ToString(out.ContentType) != "application/x-big" || aws.ToInt32(out.PartsCount) != 4 {
		t.Fatalf("GetObject: %d bytes, %+v", len(got), out)
	}
	got, out = getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String("big/object.bin"), PartNumber: aws.Int32(2)})
	if !bytes.Equal(got, data[partSize:2*partSize]) || aws.ToString(out.ContentRange) != fmt.Sprintf("bytes %d-%d/%d", partSize, 2*partSize-1, len(data)) {
		t.Fatalf("part 2: %d bytes, %q", len(got), aws.ToString(out.ContentRange))
	}
	got, _ = getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String("big/object.bin"), Range: aws.String("bytes=5242870-5242889")})
	if !bytes.Equal(got, data[5242870:5242890]) {
		t.Fatal("range across a part boundary differs")
	}

	// Errors.
	cr := must(c.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("e")}))
	up1 := must(c.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("e"), UploadId: cr.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("small")}))
	up2 := must(c.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("e"), UploadId: cr.UploadId, PartNumber: aws.Int32(2), Body: strings.NewReader("small")}))
	complete := func(parts ...types.CompletedPart) error {
		_, err := c.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("e"),
			UploadId: cr.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
		return err
	}
	wantCode(t, "part too small", complete(types.CompletedPart{PartNumber: aws.Int32(1), ETag: up1.ETag}, types.CompletedPart{PartNumber: aws.Int32(2), ETag: up2.ETag}), "EntityTooSmall", 400)
	wantCode(t, "wrong ETag", complete(types.CompletedPart{PartNumber: aws.Int32(1), ETag: aws.String(`"0123"`)}), "InvalidPart", 400)
	wantCode(t, "missing part", complete(types.CompletedPart{PartNumber: aws.Int32(3), ETag: up1.ETag}), "InvalidPart", 400)
	wantCode(t, "order", complete(types.CompletedPart{PartNumber: aws.Int32(2), ETag: up2.ETag}, types.CompletedPart{PartNumber: aws.Int32(1), ETag: up1.ETag}), "InvalidPartOrder", 400)
	_, err := c.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("e"), UploadId: cr.UploadId, PartNumber: aws.Int32(10001), Body: strings.NewReader("x")})
	wantCode(t, "part number 10001", err, "InvalidArgument", 400)
	must(c.AbortMultipartUpload(bg, &s3.AbortMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("e"), UploadId: cr.UploadId}))
	_, err = c.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("e"), UploadId: cr.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
	wantCode(t, "UploadPart after Abort", err, "NoSuchUpload", 404)
	_, err = c.ListParts(bg, &s3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String("e"), UploadId: cr.UploadId})
	wantCode(t, "ListParts after Abort", err, "NoSuchUpload", 404)
	_, err = c.AbortMultipartUpload(bg, &s3.AbortMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("e"), UploadId: aws.String("nope")})
	wantCode(t, "Abort of an unknown upload", err, "NoSuchUpload", 404)
}

// TestCompleteKeepAlive makes CompleteMultipartUpload commit to 200 and send
// whitespace before its result, as S3 does for slow completions, and checks
// that the SDK reads both a result and an error sent that way.
func TestCompleteKeepAlive(t *testing.T) {
	old := completeKeepAlive
	completeKeepAlive = time.Microsecond
	defer func() { completeKeepAlive = old }()
	e := newEnv(t, envOptions{})
	c := e.client(acctA)
	createBucket(t, c, "kal")
	data := randomData(3, 6<<20)
	done := uploadMultipart(t, c, "kal", "k", data, 5<<20)
	if aws.ToString(done.ETag) != multipartETag(data, 5<<20) {
		t.Fatalf("ETag %s", aws.ToString(done.ETag))
	}
	cr := must(c.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("kal"), Key: aws.String("e")}))
	_, err := c.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: aws.String("kal"), Key: aws.String("e"),
		UploadId: cr.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: aws.String(`"x"`)}}}})
	if code, _ := errCode(err); code != "InvalidPart" {
		t.Fatalf("error in a 200 response: %v", err)
	}
}

func TestCopy(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client(acctA)
	createBucket(t, c, "src")
	createBucket(t, c, "dst")
	must(c.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String("a b/ü"), Body: strings.NewReader("copy me"),
		ContentType: aws.String("text/plain"), Metadata: map[string]string{"k": "v"}}))
	out := must(c.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy"), CopySource: aws.String("src/" + url.PathEscape("a b/ü"))}))
	if aws.ToString(out.CopyObjectResult.ETag) != `"`+md5Hex([]byte("copy me"))+`"` {
		t.Fatalf("CopyObject = %+v", out.CopyObjectResult)
	}
	got, g := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy")})
	if string(got) != "copy me" || aws.ToString(g.ContentType) != "text/plain" || g.Metadata["k"] != "v" {
		t.Fatalf("copied: %q %+v", got, g)
	}
	must(c.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy2"), CopySource: aws.String("/src/a%20b/%C3%BC"),
		MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("text/x"), Metadata: map[string]string{"n": "1"}}))
	_, g = getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy2")})
	if aws.ToString(g.ContentType) != "text/x" || g.Metadata["n"] != "1" || g.Metadata["k"] != "" {
		t.Fatalf("replaced metadata: %+v", g)
	}
	_, err := c.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy"), CopySource: aws.String("dst/copy")})
	wantCode(t, "copy onto itself", err, "InvalidRequest", 400)
	_, err = c.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("x"), CopySource: aws.String("src/missing")})
	wantCode(t, "copy of a missing key", err, "NoSuchKey", 404)

	// UploadPartCopy, as aws s3 cp s3://... s3://... does for large objects.
	data := randomData(9, 6<<20)
	must(c.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String("big"), Body: bytes.NewReader(data)}))
	cr := must(c.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("dst"), Key: aws.String("big")}))
	p1 := must(c.UploadPartCopy(bg, &s3.UploadPartCopyInput{Bucket: aws.String("dst"), Key: aws.String("big"), UploadId: cr.UploadId,
		PartNumber: aws.Int32(1), CopySource: aws.String("src/big"), CopySourceRange: aws.String("bytes=0-5242879")}))
	p2 := must(c.UploadPartCopy(bg, &s3.UploadPartCopyInput{Bucket: aws.String("dst"), Key: aws.String("big"), UploadId: cr.UploadId,
		PartNumber: aws.Int32(2), CopySource: aws.String("src/big"), CopySourceRange: aws.String(fmt.Sprintf("bytes=5242880-%d", len(data)-1))}))
	must(c.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: aws.String("dst"), Key: aws.String("big"), UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
			{PartNumber: aws.Int32(1), ETag: p1.CopyPartResult.ETag}, {PartNumber: aws.Int32(2), ETag: p2.CopyPartResult.ETag}}}}))
	got, _ = getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("big")})
	if !bytes.Equal(got, data) {
		t.Fatal("UploadPartCopy result differs")
	}
}

// TestCrossAccount checks that every operation on another account's bucket
// or its objects is refused with AccessDenied and changes nothing.
func TestCrossAccount(t *testing.T) {
	e := newEnv(t, envOptions{})
	a, b := e.client(acctA), e.client(acctB)
	createBucket(t, a, "a-private")
	createBucket(t, b, "b-own")
	putString(t, a, "a-private", "secret", "top secret")
	putString(t, b, "b-own", "mine", "b data")
	cr := must(a.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("a-private"), Key: aws.String("mp")}))
	up := must(a.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("a-private"), Key: aws.String("mp"), UploadId: cr.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("part")}))
	bk, key := aws.String("a-private"), aws.String("secret")

	ops := map[string]func() error{
		"HeadBucket": func() error { _, err := b.HeadBucket(bg, &s3.HeadBucketInput{Bucket: bk}); return err },
		"GetBucketLocation": func() error {
			_, err := b.GetBucketLocation(bg, &s3.GetBucketLocationInput{Bucket: bk})
			return err
		},
		"GetBucketVersioning": func() error {
			_, err := b.GetBucketVersioning(bg, &s3.GetBucketVersioningInput{Bucket: bk})
			return err
		},
		"ListObjectsV2": func() error { _, err := b.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: bk}); return err },
		"ListObjects":   func() error { _, err := b.ListObjects(bg, &s3.ListObjectsInput{Bucket: bk}); return err },
		"DeleteBucket":  func() error { _, err := b.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: bk}); return err },
		"PutObject": func() error {
			_, err := b.PutObject(bg, &s3.PutObjectInput{Bucket: bk, Key: key, Body: strings.NewReader("overwritten")})
			return err
		},
		"PutObject new key": func() error {
			_, err := b.PutObject(bg, &s3.PutObjectInput{Bucket: bk, Key: aws.String("planted"), Body: strings.NewReader("x")})
			return err
		},
		"GetObject":  func() error { _, err := b.GetObject(bg, &s3.GetObjectInput{Bucket: bk, Key: key}); return err },
		"HeadObject": func() error { _, err := b.HeadObject(bg, &s3.HeadObjectInput{Bucket: bk, Key: key}); return err },
		"GetObject missing key": func() error {
			_, err := b.GetObject(bg, &s3.GetObjectInput{Bucket: bk, Key: aws.String("nope")})
			return err
		},
		"DeleteObject": func() error { _, err := b.DeleteObject(bg, &s3.DeleteObjectInput{Bucket: bk, Key: key}); return err },
		"DeleteObjects": func() error {
			_, err := b.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: bk, Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: key}}}})
			return err
		},
		"CopyObject from": func() error {
			_, err := b.CopyObject(bg, &s3.CopyObjectInput{Bucket: aws.String("b-own"), Key: aws.String("stolen"), CopySource: aws.String("a-private/secret")})
			return err
		},
		"CopyObject into": func() error {
			_, err := b.CopyObject(bg, &s3.CopyObjectInput{Bucket: bk, Key: aws.String("planted"), CopySource: aws.String("b-own/mine")})
			return err
		},
		"CreateMultipartUpload": func() error {
			_, err := b.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: bk, Key: aws.String("planted")})
			return err
		},
		"UploadPart": func() error {
			_, err := b.UploadPart(bg, &s3.UploadPartInput{Bucket: bk, Key: aws.String("mp"), UploadId: cr.UploadId, PartNumber: aws.Int32(2), Body: strings.NewReader("evil")})
			return err
		},
		"UploadPartCopy": func() error {
			_, err := b.UploadPartCopy(bg, &s3.UploadPartCopyInput{Bucket: bk, Key: aws.String("mp"), UploadId: cr.UploadId, PartNumber: aws.Int32(2), CopySource: aws.String("b-own/mine")})
			return err
		},
		"ListParts": func() error {
			_, err := b.ListParts(bg, &s3.ListPartsInput{Bucket: bk, Key: aws.String("mp"), UploadId: cr.UploadId})
			return err
		},
		"CompleteMultipartUpload": func() error {
			_, err := b.CompleteMultipartUpload(bg, &s3.CompleteMultipartUploadInput{Bucket: bk, Key: aws.String("mp"), UploadId: cr.UploadId,
				MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: up.ETag}}}})
			return err
		},
		"AbortMultipartUpload": func() error {
			_, err := b.AbortMultipartUpload(bg, &s3.AbortMultipartUploadInput{Bucket: bk, Key: aws.String("mp"), UploadId: cr.UploadId})
			return err
		},
	}
	for name, op := range ops {
		err := op()
		code, status := errCode(err)
		wantCodeName := "AccessDenied"
		if name == "HeadBucket" || name == "HeadObject" {
			wantCodeName = "Forbidden" // HEAD responses have no body
		}
		if code != wantCodeName || status != 403 {
			t.Errorf("%s by another account: %q/%d (%v)", name, code, status, err)
		}
	}
	_, err := b.CreateBucket(bg, &s3.CreateBucketInput{Bucket: bk})
	wantCode(t, "CreateBucket of another account's bucket", err, "BucketAlreadyExists", 409)

	// Nothing changed, and the owner still has everything.
	got, _ := getBytes(t, a, &s3.GetObjectInput{Bucket: bk, Key: key})
	if string(got) != "top secret" {
		t.Fatalf("object changed: %q", got)
	}
	lo := must(a.ListObjectsV2(bg, &s3.ListObjectsV2Input{Bucket: bk}))
	if len(lo.Contents) != 1 {
		t.Fatalf("objects: %+v", lo.Contents)
	}
	lp := must(a.ListParts(bg, &s3.ListPartsInput{Bucket: bk, Key: aws.String("mp"), UploadId: cr.UploadId}))
	if len(lp.Parts) != 1 || aws.ToInt64(lp.Parts[0].Size) != 4 {
		t.Fatalf("parts: %+v", lp.Parts)
	}
	lb := must(b.ListBuckets(bg, &s3.ListBucketsInput{}))
	if len(lb.Buckets) != 1 || aws.ToString(lb.Buckets[0].Name) != "b-own" {
		t.Fatalf("B lists %+v", lb.Buckets)
	}
	if _, err := b.HeadObject(bg, &s3.HeadObjectInput{Bucket: aws.String("b-own"), Key: aws.String("stolen")}); err == nil {
		t.Fatal("copy from another account's bucket happened")
	}
	// The expected-bucket-owner guard.
	_, err = a.HeadObject(bg, &s3.HeadObjectInput{Bucket: bk, Key: key, ExpectedBucketOwner: aws.String(acctB)})
	wantCode(t, "wrong expected owner", err, "Forbidden", 403)
	must(a.HeadObject(bg, &s3.HeadObjectInput{Bucket: bk, Key: key, ExpectedBucketOwner: aws.String(acctA)}))
}

// rawPut sends a PUT with the given headers and body, attributed to acctA.
func rawPut(t *testing.T, e *env, path string, body io.Reader, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	signDev(req, acctA)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func crc32b64(b []byte) string {
	s := crc32.ChecksumIEEE(b)
	return base64.StdEncoding.EncodeToString([]byte{byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)})
}

func awsChunked(data []byte, chunk int, trailer string) string {
	var sb strings.Builder
	for i := 0; i < len(data); i += chunk {
		part := data[i:min(i+chunk, len(data))]
		fmt.Fprintf(&sb, "%x\r\n%s\r\n", len(part), part)
	}
	sb.WriteString("0\r\n")
	if trailer != "" {
		sb.WriteString(trailer + "\r\n")
	}
	sb.WriteString("\r\n")
	return sb.String()
}

// TestPayloadIntegrity checks that a body that does not match its signed
// SHA-256, its checksum or its Content-MD5 is rejected and nothing is
// stored, neither a new object nor over an existing one.
func TestPayloadIntegrity(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client(acctA)
	createBucket(t, c, "integrity")
	putString(t, c, "integrity", "existing", "original")
	body := []byte("the real body")
	other := []byte("another body")
	check := func(what string) {
		t.Helper()
		for _, k := range []string{"fresh", "existing"} {
			out, err := c.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("integrity"), Key: aws.String(k)})
			if k == "fresh" {
				if code, _ := errCode(err); code != "NoSuchKey" {
					t.Fatalf("%s: fresh key stored (%v)", what, err)
				}
				continue
			}
			b, _ := io.ReadAll(out.Body)
			out.Body.Close()
			if string(b) != "original" {
				t.Fatalf("%s: existing object replaced by %q", what, b)
			}
		}
	}
	type tc struct {
		name   string
		body   string
		hdr    map[string]string
		code   string
		status int
	}
	cases := []tc{
		{"sha256 mismatch", string(body), map[string]string{"X-Amz-Content-Sha256": sha256Hex(other)}, "XAmzContentSHA256Mismatch", 400},
		{"crc32 header mismatch", string(body), map[string]string{"X-Amz-Checksum-Crc32": crc32b64(other)}, "BadDigest", 400},
		{"crc32 header malformed", string(body), map[string]string{"X-Amz-Checksum-Crc32": "nope"}, "InvalidRequest", 400},
		{"two checksum headers", string(body), map[string]string{"X-Amz-Checksum-Crc32": crc32b64(body), "X-Amz-Checksum-Sha1": "qZk+NkcGgWq6PiVxeFDCbJzQ2J0="}, "InvalidRequest", 400},
		{"content-md5 mismatch", string(body), map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(md5Sum(other))}, "BadDigest", 400},
		{"content-md5 malformed", string(body), map[string]string{"Content-MD5": "xyz"}, "InvalidDigest", 400},
		{"aws-chunked trailer mismatch", awsChunked(body, 5, "x-amz-checksum-crc32:"+crc32b64(other)), map[string]string{
			"X-Amz-Content-Sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "Content-Encoding": "aws-chunked",
			"X-Amz-Decoded-Content-Length": fmt.Sprint(len(body)), "X-Amz-Trailer": "x-amz-checksum-crc32"}, "BadDigest", 400},
		{"aws-chunked trailer missing", awsChunked(body, 5, ""), map[string]string{
			"X-Amz-Content-Sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "Content-Encoding": "aws-chunked",
			"X-Amz-Decoded-Content-Length": fmt.Sprint(len(body)), "X-Amz-Trailer": "x-amz-checksum-crc32"}, "InvalidRequest", 400},
		{"aws-chunked length mismatch", awsChunked(body, 5, ""), map[string]string{
			"X-Amz-Content-Sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "Content-Encoding": "aws-chunked",
			"X-Amz-Decoded-Content-Length": fmt.Sprint(len(body) + 1)}, "IncompleteBody", 400},
		{"aws-chunked truncated", awsChunked(body, 5, "")[:20], map[string]string{
			"X-Amz-Content-Sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "Content-Encoding": "aws-chunked"}, "IncompleteBody", 400},
		{"aws-chunked bad size", "zz\r\nabc\r\n0\r\n\r\n", map[string]string{
			"X-Amz-Content-Sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "Content-Encoding": "aws-chunked"}, "IncompleteBody", 400},
	}
	for _, tc := range cases {
		for _, key := range []string{"fresh", "existing"} {
			resp, respBody := rawPut(t, e, "/integrity/"+key, strings.NewReader(tc.body), tc.hdr)
			if resp.StatusCode != tc.status || !strings.Contains(respBody, "<Code>"+tc.code+"</Code>") {
				t.Fatalf("%s (%s): %d %s", tc.name, key, resp.StatusCode, respBody)
			}
			check(tc.name)
		}
	}
	// SDK-computed checksum given explicitly but wrong.
	_, err := c.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("integrity"), Key: aws.String("fresh"), Body: bytes.NewReader(body),
		ChecksumCRC32: aws.String(crc32b64(other))})
	wantCode(t, "SDK PutObject with a wrong CRC32", err, "BadDigest", 400)
	check("SDK PutObject")
	cr := must(c.CreateMultipartUpload(bg, &s3.CreateMultipartUploadInput{Bucket: aws.String("integrity"), Key: aws.String("fresh")}))
	_, err = c.UploadPart(bg, &s3.UploadPartInput{Bucket: aws.String("integrity"), Key: aws.String("fresh"), UploadId: cr.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader(body), ChecksumCRC32: aws.String(crc32b64(other))})
	wantCode(t, "SDK UploadPart with a wrong CRC32", err, "BadDigest", 400)
	lp := must(c.ListParts(bg, &s3.ListPartsInput{Bucket: aws.String("integrity"), Key: aws.String("fresh"), UploadId: cr.UploadId}))
	if len(lp.Parts) != 0 {
		t.Fatalf("a bad part was stored: %+v", lp.Parts)
	}

	// Well-formed variants are accepted: aws-chunked with a good trailer and
	// chunk signatures, and a plain signed body.
	for i, hdr := range []map[string]string{
		{"X-Amz-Content-Sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "Content-Encoding": "aws-chunked,gzip",
			"X-Amz-Decoded-Content-Length": fmt.Sprint(len(body)), "X-Amz-Trailer": "x-amz-checksum-crc32"},
		{"X-Amz-Content-Sha256": sha256Hex(body), "X-Amz-Checksum-Crc32": crc32b64(body)},
	} {
		payload := string(body)
		if i == 0 {
			payload = awsChunked(body, 4, "x-amz-checksum-crc32:"+crc32b64(body))
		}
		key := fmt.Sprintf("good-%d", i)
		resp, respBody := rawPut(t, e, "/integrity/"+key, strings.NewReader(payload), hdr)
		if resp.StatusCode != 200 || resp.Header.Get("x-amz-checksum-crc32") != crc32b64(body) {
			t.Fatalf("variant %d: %d %s %v", i, resp.StatusCode, respBody, resp.Header)
		}
		got, out := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("integrity"), Key: aws.String(key)})
		if string(got) != string(body) {
			t.Fatalf("variant %d stored %q", i, got)
		}
		if i == 0 && aws.ToString(out.ContentEncoding) != "gzip" {
			t.Fatalf("Content-Encoding %q, want aws-chunked removed", aws.ToString(out.ContentEncoding))
		}
	}
	// Signed chunks (STREAMING-AWS4-HMAC-SHA256-PAYLOAD): the framing with
	// chunk-signature extensions decodes.
	signed := fmt.Sprintf("%x;chunk-signature=%s\r\n%s\r\n0;chunk-signature=%s\r\n\r\n", len(body), strings.Repeat("a", 64), body, strings.Repeat("b", 64))
	resp, respBody := rawPut(t, e, "/integrity/signed", strings.NewReader(signed), map[string]string{
		"X-Amz-Content-Sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "Content-Encoding": "aws-chunked",
		"X-Amz-Decoded-Content-Length": fmt.Sprint(len(body))})
	if resp.StatusCode != 200 {
		t.Fatalf("signed chunks: %d %s", resp.StatusCode, respBody)
	}
	got, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("integrity"), Key: aws.String("signed")})
	if string(got) != string(body) {
		t.Fatalf("signed chunks stored %q", got)
	}
}

func TestErrorDocument(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client(acctA)
	createBucket(t, c, "errs")
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/errs/missing%20key", nil)
	signDev(req, acctA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc errorBody
	body, _ := io.ReadAll(resp.Body)
	if err := xmlUnmarshal(body, &doc); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	id := resp.Header.Get("x-amz-request-id")
	if resp.StatusCode != 404 || doc.Code != "NoSuchKey" || doc.Key != "missing key" || doc.Resource != "/errs/missing key" ||
		doc.RequestID != id || id == "" || resp.Header.Get("Content-Type") != "application/xml" || !strings.HasPrefix(string(body), "<?xml") {
		t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, body)
	}
	// Every response has a request id, successes too.
	must(c.ListBuckets(bg, &s3.ListBucketsInput{}))
	for _, m := range []string{http.MethodHead, http.MethodGet} {
		req, _ = http.NewRequest(m, e.srv.URL+"/errs", nil)
		signDev(req, acctA)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("x-amz-request-id") == "" {
			t.Fatalf("%s bucket: %d %v", m, resp.StatusCode, resp.Header)
		}
	}
	// Subresources that are not implemented say so.
	req, _ = http.NewRequest(http.MethodGet, e.srv.URL+"/errs?acl", nil)
	signDev(req, acctA)
	resp, _ = http.DefaultClient.Do(req)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 501 || !strings.Contains(string(body), "<Code>NotImplemented</Code>") {
		t.Fatalf("?acl: %d %s", resp.StatusCode, body)
	}
	req, _ = http.NewRequest(http.MethodPost, e.srv.URL+"/", nil)
	signDev(req, acctA)
	resp, _ = http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Fatalf("POST /: %d", resp.StatusCode)
	}
}

func TestPresigned(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client(acctA)
	createBucket(t, c, "pre")
	ps := s3.NewPresignClient(c)
	put := must(ps.PresignPutObject(bg, &s3.PutObjectInput{Bucket: aws.String("pre"), Key: aws.String("p k")}))
	req, _ := http.NewRequest(put.Method, put.URL, strings.NewReader("presigned body"))
	for k, v := range put.SignedHeader {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("presigned PUT: %v %v", resp, err)
	}
	resp.Body.Close()
	get := must(ps.PresignGetObject(bg, &s3.GetObjectInput{Bucket: aws.String("pre"), Key: aws.String("p k")}))
	resp, err = http.Get(get.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "presigned body" {
		t.Fatalf("presigned GET: %d %q", resp.StatusCode, b)
	}
}

func sha256Hex(b []byte) string { return auth.PayloadHash(b) }

func xmlUnmarshal(b []byte, v any) error { return xml.Unmarshal(b, v) }

func deleteOf(keys ...string) *types.Delete {
	d := &types.Delete{}
	for _, k := range keys {
		d.Objects = append(d.Objects, types.ObjectIdentifier{Key: aws.String(k)})
	}
	return d
}

// TestExpectContinueOnEmptyBody checks that an empty PUT with "Expect:
// 100-continue" gets 100 Continue before its final response, as from S3:
// botocore misreads the next response on the connection otherwise.
func TestExpectContinueOnEmptyBody(t *testing.T) {
	e := newEnv(t, envOptions{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	now := time.Now().UTC()
	fmt.Fprintf(conn, "PUT /expect-bucket HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nExpect: 100-continue\r\n"+
		"X-Amz-Date: %s\r\nX-Amz-Content-Sha256: UNSIGNED-PAYLOAD\r\n"+
		"Authorization: AWS4-HMAC-SHA256 Credential=%s/%s/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00\r\n\r\n",
		now.Format("20060102T150405Z"), acctA, now.Format("20060102"))
	br := bufio.NewReader(conn)
	first, _ := br.ReadString('\n')
	if !strings.HasPrefix(first, "HTTP/1.1 100 Continue") {
		t.Fatalf("first response line %q", first)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("final response: %v %v", resp, err)
	}
}
