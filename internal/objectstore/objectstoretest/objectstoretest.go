// Package objectstoretest is the contract suite every objectstore.Store
// implementation must pass.
package objectstoretest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/cleanroomsd/cleanroomsd/internal/objectstore"
)

// Config describes the store under test.
type Config struct {
	// New returns an empty store.
	New func(t *testing.T) objectstore.Store
	// MinPartSize is the store's minimum multipart part size.
	MinPartSize int64
}

// Run runs the contract suite.
func Run(t *testing.T, cfg Config) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s objectstore.Store, cfg Config)
	}{
		{"Buckets", testBuckets},
		{"PutGetHead", testPutGetHead},
		{"Keys", testKeys},
		{"Ranges", testRanges},
		{"List", testList},
		{"ListPagination", testListPagination},
		{"Delete", testDelete},
		{"Checksums", testChecksums},
		{"VerificationFailuresStoreNothing", testVerificationFailures},
		{"IfNoneMatch", testIfNoneMatch},
		{"Multipart", testMultipart},
		{"MultipartChecksums", testMultipartChecksums},
		{"MultipartErrors", testMultipartErrors},
		{"Concurrency", testConcurrency},
		{"Materialize", testMaterialize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, cfg.New(t), cfg)
		})
	}
}

var ctx = context.Background()

func mustCreate(t *testing.T, s objectstore.Store, bucket string) {
	t.Helper()
	if err := s.CreateBucket(ctx, bucket); err != nil {
		t.Fatalf("CreateBucket(%q): %v", bucket, err)
	}
}

func mustPut(t *testing.T, s objectstore.Store, bucket, key string, body []byte, opts objectstore.PutOptions) *objectstore.ObjectInfo {
	t.Helper()
	info, err := s.Put(ctx, bucket, key, bytes.NewReader(body), opts)
	if err != nil {
		t.Fatalf("Put(%q, %q): %v", bucket, key, err)
	}
	return info
}

func mustRead(t *testing.T, s objectstore.Store, bucket, key string, opts objectstore.GetOptions) (*objectstore.Object, []byte) {
	t.Helper()
	obj, err := s.Get(ctx, bucket, key, opts)
	if err != nil {
		t.Fatalf("Get(%q, %q): %v", bucket, key, err)
	}
	defer obj.Body.Close()
	b, err := io.ReadAll(obj.Body)
	if err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	return obj, b
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func testBuckets(t *testing.T, s objectstore.Store, _ Config) {
	if ok, err := s.BucketExists(ctx, "bkt"); err != nil || ok {
		t.Fatalf("BucketExists before create = %v, %v", ok, err)
	}
	mustCreate(t, s, "bkt")
	if ok, err := s.BucketExists(ctx, "bkt"); err != nil || !ok {
		t.Fatalf("BucketExists after create = %v, %v", ok, err)
	}
	wantErr(t, "CreateBucket twice", s.CreateBucket(ctx, "bkt"), objectstore.ErrBucketExists)
	for _, bad := range []string{"", ".", "..", "../x", "a/b", ".uploads", ".tmp"} {
		if err := s.CreateBucket(ctx, bad); err == nil {
			t.Errorf("CreateBucket(%q) succeeded", bad)
		}
	}
	wantErr(t, "DeleteBucket missing", s.DeleteBucket(ctx, "nope"), objectstore.ErrNoSuchBucket)
	mustPut(t, s, "bkt", "k", []byte("x"), objectstore.PutOptions{})
	wantErr(t, "DeleteBucket non-empty", s.DeleteBucket(ctx, "bkt"), objectstore.ErrBucketNotEmpty)
	// A pending multipart upload does not keep a bucket alive.
	id, err := s.CreateMultipartUpload(ctx, "bkt", "mp", objectstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "bkt", "k"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBucket(ctx, "bkt"); err != nil {
		t.Fatalf("DeleteBucket empty: %v", err)
	}
	if ok, _ := s.BucketExists(ctx, "bkt"); ok {
		t.Fatal("bucket still exists")
	}
	mustCreate(t, s, "bkt")
	_, err = s.ListParts(ctx, "bkt", "mp", id, objectstore.ListPartsOptions{})
	wantErr(t, "upload after bucket re-created", err, objectstore.ErrNoSuchUpload)
	// Operations on a missing bucket.
	_, err = s.Put(ctx, "nope", "k", strings.NewReader("x"), objectstore.PutOptions{})
	wantErr(t, "Put missing bucket", err, objectstore.ErrNoSuchBucket)
	_, err = s.Get(ctx, "nope", "k", objectstore.GetOptions{})
	wantErr(t, "Get missing bucket", err, objectstore.ErrNoSuchBucket)
	_, err = s.Head(ctx, "nope", "k")
	wantErr(t, "Head missing bucket", err, objectstore.ErrNoSuchBucket)
	wantErr(t, "Delete missing bucket", s.Delete(ctx, "nope", "k"), objectstore.ErrNoSuchBucket)
	_, err = s.List(ctx, "nope", objectstore.ListOptions{})
	wantErr(t, "List missing bucket", err, objectstore.ErrNoSuchBucket)
	_, err = s.CreateMultipartUpload(ctx, "nope", "k", objectstore.PutOptions{})
	wantErr(t, "CreateMultipartUpload missing bucket", err, objectstore.ErrNoSuchBucket)
}

func testPutGetHead(t *testing.T, s objectstore.Store, _ Config) {
	mustCreate(t, s, "bkt")
	body := randBytes(1, 100_000)
	opts := objectstore.PutOptions{
		ContentType: "text/csv", ContentEncoding: "gzip", ContentDisposition: "attachment",
		ContentLanguage: "en", CacheControl: "no-cache", Expires: "Thu, 01 Dec 2094 16:00:00 GMT",
		Metadata: map[string]string{"color": "blue", "x-y": "ünïcode"},
	}
	info := mustPut(t, s, "bkt", "dir/file.csv", body, opts)
	if info.Size != int64(len(body)) || info.ETag != md5hex(body) || info.Key != "dir/file.csv" || info.LastModified.IsZero() {
		t.Fatalf("Put info = %+v", info)
	}
	obj, got := mustRead(t, s, "bkt", "dir/file.csv", objectstore.GetOptions{})
	if !bytes.Equal(got, body) {
		t.Fatal("Get returned different bytes")
	}
	if obj.Partial || obj.Offset != 0 || obj.Length != int64(len(body)) {
		t.Fatalf("Get object = %+v", obj)
	}
	head, err := s.Head(ctx, "bkt", "dir/file.csv")
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []objectstore.ObjectInfo{obj.Info, *head} {
		if i.ETag != info.ETag || i.Size != info.Size || !i.LastModified.Equal(info.LastModified) ||
			i.ContentType != opts.ContentType || i.ContentEncoding != opts.ContentEncoding ||
			i.ContentDisposition != opts.ContentDisposition || i.ContentLanguage != opts.ContentLanguage ||
			i.CacheControl != opts.CacheControl || i.Expires != opts.Expires ||
			i.Metadata["color"] != "blue" || i.Metadata["x-y"] != "ünïcode" || i.Checksum != nil || i.PartSizes != nil {
			t.Fatalf("info = %+v", i)
		}
	}
	// Overwrite.
	mustPut(t, s, "bkt", "dir/file.csv", []byte("new"), objectstore.PutOptions{})
	obj, got = mustRead(t, s, "bkt", "dir/file.csv", objectstore.GetOptions{})
	if string(got) != "new" || obj.Info.ContentType != "" || obj.Info.Metadata["color"] != "" {
		t.Fatalf("after overwrite: %q %+v", got, obj.Info)
	}
	// Empty object.
	mustPut(t, s, "bkt", "empty", nil, objectstore.PutOptions{})
	obj, got = mustRead(t, s, "bkt", "empty", objectstore.GetOptions{})
	if len(got) != 0 || obj.Info.Size != 0 || obj.Info.ETag != "d41d8cd98f00b204e9800998ecf8427e" {
		t.Fatalf("empty object: %q %+v", got, obj.Info)
	}
	_, err = s.Get(ctx, "bkt", "missing", objectstore.GetOptions{})
	wantErr(t, "Get missing", err, objectstore.ErrNoSuchKey)
	_, err = s.Head(ctx, "bkt", "missing")
	wantErr(t, "Head missing", err, objectstore.ErrNoSuchKey)
	_, err = s.Get(ctx, "bkt", "dir", objectstore.GetOptions{})
	wantErr(t, "Get of a key prefix", err, objectstore.ErrNoSuchKey)
	_, err = s.Put(ctx, "bkt", "", strings.NewReader("x"), objectstore.PutOptions{})
	if err == nil {
		t.Fatal("Put with an empty key succeeded")
	}
	_, err = s.Put(ctx, "bkt", strings.Repeat("k", objectstore.MaxKeyLength+1), strings.NewReader("x"), objectstore.PutOptions{})
	wantErr(t, "Put with a long key", err, objectstore.ErrInvalidKey)
	_, err = s.Put(ctx, "bkt", "bad\xffutf8", strings.NewReader("x"), objectstore.PutOptions{})
	wantErr(t, "Put with invalid UTF-8", err, objectstore.ErrInvalidKey)
}

// TrickyKeys are keys that must round-trip unchanged and list in byte order.
func TrickyKeys() []string {
	return []string{
		"plain", "with space", "plus+sign", "percent%20literal", "percent%", "ünïcödé/日本語 ファイル",
		"..", ".", "../escape", "../../../../etc/passwd", "a/../b", "a/./b", "./leading", "//double//slash",
		"trailing/", "/leading-slash", "UPPER", "upper", "Upper", "a:b;c=d&e?f#g", "tab\there", "emoji 😀",
		"back\\slash", "quote\"s'", "<xml>&amp;", ".hidden", "dots...", "-dash", "_under",
		strings.Repeat("x", 75), strings.Repeat("x", 76), strings.Repeat("x", 77), strings.Repeat("x", 152),
		strings.Repeat("x", 79), strings.Repeat("x", 80), strings.Repeat("x", 81), strings.Repeat("x", 160),
		strings.Repeat("x", 80) + "/", strings.Repeat("é", 200), strings.Repeat("y", objectstore.MaxKeyLength),
		strings.Repeat("ab/", 100) + "end",
	}
}

func testKeys(t *testing.T, s objectstore.Store, _ Config) {
	mustCreate(t, s, "bkt")
	keys := TrickyKeys()
	for i, k := range keys {
		mustPut(t, s, "bkt", k, []byte(fmt.Sprintf("body %d", i)), objectstore.PutOptions{})
	}
	for i, k := range keys {
		_, got := mustRead(t, s, "bkt", k, objectstore.GetOptions{})
		if string(got) != fmt.Sprintf("body %d", i) {
			t.Errorf("key %q: got %q", k, got)
		}
	}
	res, err := s.List(ctx, "bkt", objectstore.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(keys)
	sort.Strings(want)
	var got []string
	for _, o := range res.Objects {
		got = append(got, o.Key)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("List keys:\n got %q\nwant %q", got, want)
	}
	// Each key by its own prefix, and paginated one by one.
	for _, k := range keys {
		r, err := s.List(ctx, "bkt", objectstore.ListOptions{Prefix: k, MaxKeys: 1})
		if err != nil || len(r.Objects) != 1 || r.Objects[0].Key != k {
			t.Fatalf("List prefix %q = %+v, %v", k, r, err)
		}
	}
	var paged []string
	after := ""
	for {
		r, err := s.List(ctx, "bkt", objectstore.ListOptions{StartAfter: after, MaxKeys: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range r.Objects {
			paged = append(paged, o.Key)
		}
		if !r.IsTruncated {
			break
		}
		after = r.NextStartAfter
	}
	if !slices.Equal(paged, want) {
		t.Fatalf("paged keys:\n got %q\nwant %q", paged, want)
	}
	for _, k := range keys {
		if err := s.Delete(ctx, "bkt", k); err != nil {
			t.Fatalf("Delete(%q): %v", k, err)
		}
	}
	if err := s.DeleteBucket(ctx, "bkt"); err != nil {
		t.Fatalf("DeleteBucket after deleting every key: %v", err)
	}
}

func testRanges(t *testing.T, s objectstore.Store, _ Config) {
	mustCreate(t, s, "bkt")
	body := []byte("0123456789")
	mustPut(t, s, "bkt", "k", body, objectstore.PutOptions{})
	for _, tc := range []struct {
		header string
		want   string
		off    int64
	}{
		{"bytes=0-0", "0", 0},
		{"bytes=2-5", "2345", 2},
		{"bytes=7-", "789", 7},
		{"bytes=-3", "789", 7},
		{"bytes=-30", "0123456789", 0},
		{"bytes=8-100", "89", 8},
		{"bytes=9-9", "9", 9},
	} {
		r, ok := objectstore.ParseRange(tc.header)
		if !ok {
			t.Fatalf("ParseRange(%q) failed", tc.header)
		}
		obj, got := mustRead(t, s, "bkt", "k", objectstore.GetOptions{Range: &r})
		if string(got) != tc.want || obj.Offset != tc.off || obj.Length != int64(len(tc.want)) || !obj.Partial || obj.Info.Size != 10 {
			t.Errorf("%s: got %q off %d len %d partial %v", tc.header, got, obj.Offset, obj.Length, obj.Partial)
		}
	}
	for _, h := range []string{"bytes=10-", "bytes=10-20", "bytes=100-"} {
		r, _ := objectstore.ParseRange(h)
		_, err := s.Get(ctx, "bkt", "k", objectstore.GetOptions{Range: &r})
		wantErr(t, h, err, objectstore.ErrInvalidRange)
	}
	for _, h := range []string{"", "bytes=", "bytes=5-2", "bytes=a-b", "items=0-1", "bytes=0-1,3-4", "bytes=-0"} {
		if _, ok := objectstore.ParseRange(h); ok {
			t.Errorf("ParseRange(%q) accepted", h)
		}
	}
	mustPut(t, s, "bkt", "empty", nil, objectstore.PutOptions{})
	r := objectstore.ByteRange{First: 0, Last: -1}
	_, err := s.Get(ctx, "bkt", "empty", objectstore.GetOptions{Range: &r})
	wantErr(t, "range of an empty object", err, objectstore.ErrInvalidRange)
	// Part 1 of a simple object is the whole object; part 2 does not exist.
	obj, got := mustRead(t, s, "bkt", "k", objectstore.GetOptions{PartNumber: 1})
	if string(got) != string(body) || !obj.Partial {
		t.Fatalf("part 1: %q %+v", got, obj)
	}
	_, err = s.Get(ctx, "bkt", "k", objectstore.GetOptions{PartNumber: 2})
	wantErr(t, "part 2 of a simple object", err, objectstore.ErrInvalidPartNumber)
}

func keysOf(r *objectstore.ListResult) []string {
	var k []string
	for _, o := range r.Objects {
		k = append(k, o.Key)
	}
	return k
}

func testList(t *testing.T, s objectstore.Store, _ Config) {
	mustCreate(t, s, "bkt")
	keys := []string{"a", "a/1", "a/2", "a/b/1", "a/b/2", "a-b", "a0", "b", "b/1", "c/d/e/f", "photos/2024/jan/1.jpg", "photos/2024/feb/2.jpg", "photos/2025/x.jpg", "photos/index.html"}
	for _, k := range keys {
		mustPut(t, s, "bkt", k, []byte(k), objectstore.PutOptions{})
	}
	list := func(o objectstore.ListOptions) *objectstore.ListResult {
		t.Helper()
		r, err := s.List(ctx, "bkt", o)
		if err != nil {
			t.Fatalf("List(%+v): %v", o, err)
		}
		return r
	}
	r := list(objectstore.ListOptions{})
	want := slices.Clone(keys)
	sort.Strings(want)
	if !slices.Equal(keysOf(r), want) || r.IsTruncated || len(r.CommonPrefixes) != 0 {
		t.Fatalf("List all = %q %v", keysOf(r), r.IsTruncated)
	}
	if r.Objects[0].Size != 1 || r.Objects[0].ETag != md5hex([]byte("a")) || r.Objects[0].LastModified.IsZero() {
		t.Fatalf("listed info = %+v", r.Objects[0])
	}
	r = list(objectstore.ListOptions{Delimiter: "/"})
	if !slices.Equal(keysOf(r), []string{"a", "a-b", "a0", "b"}) || !slices.Equal(r.CommonPrefixes, []string{"a/", "b/", "c/", "photos/"}) {
		t.Fatalf("delimiter: %q %q", keysOf(r), r.CommonPrefixes)
	}
	r = list(objectstore.ListOptions{Prefix: "a/", Delimiter: "/"})
	if !slices.Equal(keysOf(r), []string{"a/1", "a/2"}) || !slices.Equal(r.CommonPrefixes, []string{"a/b/"}) {
		t.Fatalf("prefix a/: %q %q", keysOf(r), r.CommonPrefixes)
	}
	r = list(objectstore.ListOptions{Prefix: "photos/20", Delimiter: "/"})
	if len(r.Objects) != 0 || !slices.Equal(r.CommonPrefixes, []string{"photos/2024/", "photos/2025/"}) {
		t.Fatalf("prefix photos/20: %q %q", keysOf(r), r.CommonPrefixes)
	}
	r = list(objectstore.ListOptions{Prefix: "photos/", Delimiter: ".jpg"})
	if !slices.Equal(keysOf(r), []string{"photos/index.html"}) ||
		!slices.Equal(r.CommonPrefixes, []string{"photos/2024/feb/2.jpg", "photos/2024/jan/1.jpg", "photos/2025/x.jpg"}) {
		t.Fatalf("delimiter .jpg: %q %q", keysOf(r), r.CommonPrefixes)
	}
	r = list(objectstore.ListOptions{Prefix: "nothing"})
	if len(r.Objects) != 0 || r.IsTruncated {
		t.Fatalf("no match: %+v", r)
	}
	r = list(objectstore.ListOptions{StartAfter: "a/b/1"})
	if got := keysOf(r); len(got) == 0 || got[0] != "a/b/2" {
		t.Fatalf("start-after: %q", got)
	}
	r = list(objectstore.ListOptions{StartAfter: "a/", Delimiter: "/"})
	if !slices.Equal(keysOf(r), []string{"a0", "b"}) || !slices.Equal(r.CommonPrefixes, []string{"b/", "c/", "photos/"}) {
		t.Fatalf("start-after a/ with delimiter: %q %q", keysOf(r), r.CommonPrefixes)
	}
	r = list(objectstore.ListOptions{StartAfter: "a/b", Delimiter: "/"})
	if !slices.Equal(keysOf(r), []string{"a0", "b"}) || !slices.Equal(r.CommonPrefixes, []string{"b/", "c/", "photos/"}) {
		t.Fatalf("start-after inside a common prefix: %q %q", keysOf(r), r.CommonPrefixes)
	}
	r = list(objectstore.ListOptions{Prefix: "a", StartAfter: "zzz"})
	if len(r.Objects) != 0 {
		t.Fatalf("start-after past the prefix: %q", keysOf(r))
	}
	r = list(objectstore.ListOptions{Prefix: "photos/", StartAfter: "a"})
	if len(r.Objects) != 4 {
		t.Fatalf("start-after before the prefix: %q", keysOf(r))
	}
}

func testListPagination(t *testing.T, s objectstore.Store, _ Config) {
	mustCreate(t, s, "bkt")
	var keys []string
	for i := range 25 {
		keys = append(keys, fmt.Sprintf("k%02d", i))
		if i%5 == 0 {
			for j := range 3 {
				keys = append(keys, fmt.Sprintf("k%02d/sub%d", i, j))
			}
		}
	}
	for _, k := range keys {
		mustPut(t, s, "bkt", k, nil, objectstore.PutOptions{})
	}
	for _, maxKeys := range []int{1, 2, 3, 7, 1000} {
		var gotKeys, gotPrefixes []string
		after := ""
		pages := 0
		for {
			r, err := s.List(ctx, "bkt", objectstore.ListOptions{Delimiter: "/", StartAfter: after, MaxKeys: maxKeys})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if n := len(r.Objects) + len(r.CommonPrefixes); n > maxKeys || (r.IsTruncated && n != maxKeys) {
				t.Fatalf("maxKeys %d: page of %d, truncated %v", maxKeys, n, r.IsTruncated)
			}
			gotKeys = append(gotKeys, keysOf(r)...)
			gotPrefixes = append(gotPrefixes, r.CommonPrefixes...)
			if !r.IsTruncated {
				if r.NextStartAfter != "" {
					t.Fatalf("NextStartAfter %q on the last page", r.NextStartAfter)
				}
				break
			}
			after = r.NextStartAfter
			if pages > 100 {
				t.Fatal("listing does not end")
			}
		}
		if len(gotKeys) != 25 || len(gotPrefixes) != 5 {
			t.Fatalf("maxKeys %d: %d keys %q, %d prefixes %q", maxKeys, len(gotKeys), gotKeys, len(gotPrefixes), gotPrefixes)
		}
	}
	// Exactly maxKeys entries: not truncated.
	r, err := s.List(ctx, "bkt", objectstore.ListOptions{Prefix: "k05/", MaxKeys: 3})
	if err != nil || len(r.Objects) != 3 || r.IsTruncated {
		t.Fatalf("exact page: %+v %v", r, err)
	}
}

func testDelete(t *testing.T, s objectstore.Store, _ Config) {
	mustCreate(t, s, "bkt")
	long := strings.Repeat("z", 300)
	mustPut(t, s, "bkt", long, []byte("x"), objectstore.PutOptions{})
	mustPut(t, s, "bkt", long+"2", []byte("y"), objectstore.PutOptions{})
	if err := s.Delete(ctx, "bkt", long); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "bkt", long); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if err := s.Delete(ctx, "bkt", "never-existed"); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
	_, err := s.Head(ctx, "bkt", long)
	wantErr(t, "Head after Delete", err, objectstore.ErrNoSuchKey)
	_, got := mustRead(t, s, "bkt", long+"2", objectstore.GetOptions{})
	if string(got) != "y" {
		t.Fatal("sibling damaged by Delete")
	}
	// A reader that opened the object keeps reading it after a Delete.
	mustPut(t, s, "bkt", "open", []byte("still here"), objectstore.PutOptions{})
	obj, err := s.Get(ctx, "bkt", "open", objectstore.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "bkt", "open"); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(obj.Body)
	obj.Body.Close()
	if err != nil || string(b) != "still here" {
		t.Fatalf("read after delete: %q %v", b, err)
	}
}

// checksumOf computes a checksum with the standard library for comparison.
func checksumOf(t *testing.T, a objectstore.ChecksumAlgorithm, b []byte) string {
	h, err := a.New()
	if err != nil {
		t.Fatal(err)
	}
	h.Write(b)
	return objectstore.EncodeChecksum(h.Sum(nil))
}

func testChecksums(t *testing.T, s objectstore.Store, _ Config) {
	mustCreate(t, s, "bkt")
	body := randBytes(2, 70_000)
	for _, a := range objectstore.ChecksumAlgorithms {
		want := checksumOf(t, a, body)
		info := mustPut(t, s, "bkt", "k-"+string(a), body, objectstore.PutOptions{
			ChecksumAlgorithm: a, ExpectedChecksum: func() string { return want },
		})
		if info.Checksum == nil || info.Checksum.Algorithm != a || info.Checksum.Value != want || info.Checksum.Type != objectstore.FullObject {
			t.Fatalf("%s: checksum %+v, want %s", a, info.Checksum, want)
		}
		head, err := s.Head(ctx, "bkt", "k-"+string(a))
		if err != nil || head.Checksum == nil || *head.Checksum != *info.Checksum {
			t.Fatalf("%s: Head checksum %+v %v", a, head, err)
		}
	}
	// The MD5 check.
	sum := md5.Sum(body)
	mustPut(t, s, "bkt", "md5", body, objectstore.PutOptions{ExpectedMD5: sum[:]})
}

// failingReader yields n bytes then fails.
type failingReader struct {
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	k := min(len(p), f.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	f.n -= k
	return k, nil
}

func testVerificationFailures(t *testing.T, s objectstore.Store, _ Config) {
	mustCreate(t, s, "bkt")
	mustPut(t, s, "bkt", "k", []byte("original"), objectstore.PutOptions{})
	check := func(what string) {
		t.Helper()
		_, got := mustRead(t, s, "bkt", "k", objectstore.GetOptions{})
		if string(got) != "original" {
			t.Fatalf("%s: object replaced by %q", what, got)
		}
		_, err := s.Head(ctx, "bkt", "fresh")
		wantErr(t, what+": fresh key", err, objectstore.ErrNoSuchKey)
	}
	body := []byte("replacement")
	badSum := checksumOf(t, objectstore.CRC32, []byte("other"))
	for _, key := range []string{"k", "fresh"} {
		_, err := s.Put(ctx, "bkt", key, bytes.NewReader(body), objectstore.PutOptions{
			ChecksumAlgorithm: objectstore.CRC32, ExpectedChecksum: func() string { return badSum }})
		wantErr(t, "bad checksum", err, objectstore.ErrBadDigest)
		check("bad checksum")
		_, err = s.Put(ctx, "bkt", key, bytes.NewReader(body), objectstore.PutOptions{ExpectedMD5: make([]byte, 16)})
		wantErr(t, "bad MD5", err, objectstore.ErrBadDigest)
		check("bad MD5")
		boom := errors.New("boom")
		_, err = s.Put(ctx, "bkt", key, &failingReader{n: 300_000, err: boom}, objectstore.PutOptions{})
		wantErr(t, "reader failure", err, boom)
		check("reader failure")
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err = s.Put(cctx, "bkt", key, bytes.NewReader(body), objectstore.PutOptions{})
		wantErr(t, "canceled context", err, context.Canceled)
		check("canceled context")
	}
	res, err := s.List(ctx, "bkt", objectstore.ListOptions{})
	if err != nil || len(res.Objects) != 1 {
		t.Fatalf("List after failures: %+v %v", res, err)
	}
}

func testIfNoneMatch(t *testing.T, s objectstore.Store, _ Config) {
	mustCreate(t, s, "bkt")
	mustPut(t, s, "bkt", "k", []byte("first"), objectstore.PutOptions{IfNoneMatch: true})
	_, err := s.Put(ctx, "bkt", "k", strings.NewReader("second"), objectstore.PutOptions{IfNoneMatch: true})
	wantErr(t, "IfNoneMatch on an existing key", err, objectstore.ErrPreconditionFailed)
	_, got := mustRead(t, s, "bkt", "k", objectstore.GetOptions{})
	if string(got) != "first" {
		t.Fatalf("got %q", got)
	}
}

func uploadParts(t *testing.T, s objectstore.Store, bucket, key, id string, parts [][]byte, alg objectstore.ChecksumAlgorithm) []objectstore.CompletePart {
	t.Helper()
	var out []objectstore.CompletePart
	for i, p := range parts {
		pi, err := s.UploadPart(ctx, bucket, key, id, i+1, bytes.NewReader(p), objectstore.PartOptions{ChecksumAlgorithm: alg})
		if err != nil {
			t.Fatalf("UploadPart %d: %v", i+1, err)
		}
		if pi.Size != int64(len(p)) || pi.ETag != md5hex(p) || pi.PartNumber != i+1 {
			t.Fatalf("part info %+v", pi)
		}
		cp := objectstore.CompletePart{PartNumber: i + 1, ETag: `"` + pi.ETag + `"`}
		if pi.Checksum != nil {
			cp.Checksum = pi.Checksum.Value
		}
		out = append(out, cp)
	}
	return out
}

func multipartETag(parts [][]byte) string {
	h := md5.New()
	for _, p := range parts {
		s := md5.Sum(p)
		h.Write(s[:])
	}
	return fmt.Sprintf("%s-%d", hex.EncodeToString(h.Sum(nil)), len(parts))
}

func testMultipart(t *testing.T, s objectstore.Store, cfg Config) {
	mustCreate(t, s, "bkt")
	min := int(cfg.MinPartSize)
	parts := [][]byte{randBytes(10, min), randBytes(11, min+1), randBytes(12, 100)}
	key := "multi/part ü"
	id, err := s.CreateMultipartUpload(ctx, "bkt", key, objectstore.PutOptions{ContentType: "application/x-test", Metadata: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	// Re-uploading a part replaces it.
	if _, err := s.UploadPart(ctx, "bkt", key, id, 2, strings.NewReader("to be replaced"), objectstore.PartOptions{}); err != nil {
		t.Fatal(err)
	}
	cps := uploadParts(t, s, "bkt", key, id, parts, "")
	lp, err := s.ListParts(ctx, "bkt", key, id, objectstore.ListPartsOptions{})
	if err != nil || len(lp.Parts) != 3 || lp.IsTruncated || lp.Upload.ContentType != "application/x-test" || lp.Initiated.IsZero() {
		t.Fatalf("ListParts = %+v, %v", lp, err)
	}
	for i, p := range lp.Parts {
		if p.PartNumber != i+1 || p.Size != int64(len(parts[i])) || p.ETag != md5hex(parts[i]) || p.LastModified.IsZero() {
			t.Fatalf("listed part %+v", p)
		}
	}
	lp, err = s.ListParts(ctx, "bkt", key, id, objectstore.ListPartsOptions{PartNumberMarker: 1, MaxParts: 1})
	if err != nil || len(lp.Parts) != 1 || lp.Parts[0].PartNumber != 2 || !lp.IsTruncated || lp.NextPartNumberMarker != 2 {
		t.Fatalf("ListParts page = %+v, %v", lp, err)
	}
	// Parts are not objects.
	if _, err := s.Head(ctx, "bkt", key); !errors.Is(err, objectstore.ErrNoSuchKey) {
		t.Fatalf("Head before Complete: %v", err)
	}
	info, err := s.CompleteMultipartUpload(ctx, "bkt", key, id, cps)
	if err != nil {
		t.Fatal(err)
	}
	whole := bytes.Join(parts, nil)
	if info.ETag != multipartETag(parts) || info.Size != int64(len(whole)) || !slices.Equal(info.PartSizes, []int64{int64(min), int64(min + 1), 100}) {
		t.Fatalf("Complete info = %+v", info)
	}
	obj, got := mustRead(t, s, "bkt", key, objectstore.GetOptions{})
	if !bytes.Equal(got, whole) || obj.Info.ContentType != "application/x-test" || obj.Info.Metadata["a"] != "b" || obj.Info.ETag != info.ETag {
		t.Fatalf("completed object: %+v", obj.Info)
	}
	obj, got = mustRead(t, s, "bkt", key, objectstore.GetOptions{PartNumber: 2})
	if !bytes.Equal(got, parts[1]) || obj.Offset != int64(min) {
		t.Fatalf("part 2 of the object: offset %d len %d", obj.Offset, len(got))
	}
	_, err = s.Get(ctx, "bkt", key, objectstore.GetOptions{PartNumber: 4})
	wantErr(t, "part 4", err, objectstore.ErrInvalidPartNumber)
	// The upload is gone.
	_, err = s.UploadPart(ctx, "bkt", key, id, 1, strings.NewReader("x"), objectstore.PartOptions{})
	wantErr(t, "UploadPart after Complete", err, objectstore.ErrNoSuchUpload)
	_, err = s.CompleteMultipartUpload(ctx, "bkt", key, id, cps)
	wantErr(t, "Complete twice", err, objectstore.ErrNoSuchUpload)

	// A subset of the parts may be completed.
	id2, err := s.CreateMultipartUpload(ctx, "bkt", "subset", objectstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cps = uploadParts(t, s, "bkt", "subset", id2, parts, "")
	if _, err := s.CompleteMultipartUpload(ctx, "bkt", "subset", id2, []objectstore.CompletePart{cps[0], cps[2]}); err != nil {
		t.Fatal(err)
	}
	_, got = mustRead(t, s, "bkt", "subset", objectstore.GetOptions{})
	if !bytes.Equal(got, append(slices.Clone(parts[0]), parts[2]...)) {
		t.Fatal("subset object differs")
	}

	// Abort.
	id3, err := s.CreateMultipartUpload(ctx, "bkt", "aborted", objectstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	uploadParts(t, s, "bkt", "aborted", id3, parts[:1], "")
	if err := s.AbortMultipartUpload(ctx, "bkt", "aborted", id3); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Abort twice", s.AbortMultipartUpload(ctx, "bkt", "aborted", id3), objectstore.ErrNoSuchUpload)
	_, err = s.ListParts(ctx, "bkt", "aborted", id3, objectstore.ListPartsOptions{})
	wantErr(t, "ListParts after Abort", err, objectstore.ErrNoSuchUpload)
	if _, err := s.Head(ctx, "bkt", "aborted"); !errors.Is(err, objectstore.ErrNoSuchKey) {
		t.Fatalf("aborted upload made an object: %v", err)
	}
}

func testMultipartChecksums(t *testing.T, s objectstore.Store, cfg Config) {
	mustCreate(t, s, "bkt")
	min := int(cfg.MinPartSize)
	parts := [][]byte{randBytes(20, min), randBytes(21, 1000)}
	whole := bytes.Join(parts, nil)
	for _, tc := range []struct {
		alg objectstore.ChecksumAlgorithm
		typ objectstore.ChecksumType
	}{
		{objectstore.CRC32, ""}, {objectstore.CRC32, objectstore.FullObject}, {objectstore.CRC32C, objectstore.Composite},
		{objectstore.CRC64NVME, ""}, {objectstore.SHA1, ""}, {objectstore.SHA256, objectstore.Composite},
	} {
		key := fmt.Sprintf("%s-%s", tc.alg, tc.typ)
		id, err := s.CreateMultipartUpload(ctx, "bkt", key, objectstore.PutOptions{ChecksumAlgorithm: tc.alg, ChecksumType: tc.typ})
		if err != nil {
			t.Fatal(err)
		}
		cps := uploadParts(t, s, "bkt", key, id, parts, tc.alg)
		for i, cp := range cps {
			if cp.Checksum != checksumOf(t, tc.alg, parts[i]) {
				t.Fatalf("%s: part %d checksum %q", key, i+1, cp.Checksum)
			}
		}
		info, err := s.CompleteMultipartUpload(ctx, "bkt", key, id, cps)
		if err != nil {
			t.Fatal(err)
		}
		typ := tc.typ
		if typ == "" {
			typ = objectstore.DefaultChecksumType(tc.alg)
		}
		var want string
		if typ == objectstore.FullObject {
			want = checksumOf(t, tc.alg, whole)
		} else {
			var sums [][]byte
			for _, p := range parts {
				h, _ := tc.alg.New()
				h.Write(p)
				sums = append(sums, h.Sum(nil))
			}
			want, _ = objectstore.CompositeChecksum(tc.alg, sums)
		}
		if info.Checksum == nil || info.Checksum.Value != want || info.Checksum.Type != typ || info.Checksum.Algorithm != tc.alg {
			t.Fatalf("%s: checksum %+v, want %s %s", key, info.Checksum, want, typ)
		}
	}
	// A part checksum that does not match fails Complete.
	id, err := s.CreateMultipartUpload(ctx, "bkt", "bad", objectstore.PutOptions{ChecksumAlgorithm: objectstore.CRC32})
	if err != nil {
		t.Fatal(err)
	}
	cps := uploadParts(t, s, "bkt", "bad", id, parts, objectstore.CRC32)
	cps[1].Checksum = checksumOf(t, objectstore.CRC32, []byte("nope"))
	_, err = s.CompleteMultipartUpload(ctx, "bkt", "bad", id, cps)
	wantErr(t, "Complete with a wrong part checksum", err, objectstore.ErrInvalidPart)
	// A bad part checksum fails UploadPart and keeps the earlier part.
	bad := checksumOf(t, objectstore.CRC32, []byte("nope"))
	_, err = s.UploadPart(ctx, "bkt", "bad", id, 1, bytes.NewReader([]byte("zzz")), objectstore.PartOptions{
		ChecksumAlgorithm: objectstore.CRC32, ExpectedChecksum: func() string { return bad }})
	wantErr(t, "UploadPart with a bad checksum", err, objectstore.ErrBadDigest)
	lp, err := s.ListParts(ctx, "bkt", "bad", id, objectstore.ListPartsOptions{})
	if err != nil || lp.Parts[0].Size != int64(len(parts[0])) {
		t.Fatalf("part 1 after a failed re-upload: %+v %v", lp, err)
	}
}

func testMultipartErrors(t *testing.T, s objectstore.Store, cfg Config) {
	mustCreate(t, s, "bkt")
	min := int(cfg.MinPartSize)
	id, err := s.CreateMultipartUpload(ctx, "bkt", "k", objectstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	small := [][]byte{randBytes(30, max(min-1, 1)), randBytes(31, 10)}
	cps := uploadParts(t, s, "bkt", "k", id, small, "")
	if min > 1 {
		_, err = s.CompleteMultipartUpload(ctx, "bkt", "k", id, cps)
		wantErr(t, "part too small", err, objectstore.ErrEntityTooSmall)
	}
	_, err = s.CompleteMultipartUpload(ctx, "bkt", "k", id, []objectstore.CompletePart{cps[1], cps[0]})
	wantErr(t, "parts out of order", err, objectstore.ErrInvalidPartOrder)
	_, err = s.CompleteMultipartUpload(ctx, "bkt", "k", id, []objectstore.CompletePart{{PartNumber: 1, ETag: `"00000000000000000000000000000000"`}})
	wantErr(t, "wrong ETag", err, objectstore.ErrInvalidPart)
	_, err = s.CompleteMultipartUpload(ctx, "bkt", "k", id, []objectstore.CompletePart{{PartNumber: 7, ETag: cps[0].ETag}})
	wantErr(t, "missing part", err, objectstore.ErrInvalidPart)
	_, err = s.CompleteMultipartUpload(ctx, "bkt", "k", id, nil)
	wantErr(t, "no parts", err, objectstore.ErrInvalidPart)
	for _, n := range []int{0, -1, objectstore.MaxPartNumber + 1} {
		_, err = s.UploadPart(ctx, "bkt", "k", id, n, strings.NewReader("x"), objectstore.PartOptions{})
		wantErr(t, fmt.Sprintf("part number %d", n), err, objectstore.ErrInvalidPartNumber)
	}
	// The upload belongs to its key and bucket.
	_, err = s.UploadPart(ctx, "bkt", "other", id, 1, strings.NewReader("x"), objectstore.PartOptions{})
	wantErr(t, "upload of another key", err, objectstore.ErrNoSuchUpload)
	mustCreate(t, s, "bkt2")
	_, err = s.UploadPart(ctx, "bkt2", "k", id, 1, strings.NewReader("x"), objectstore.PartOptions{})
	wantErr(t, "upload in another bucket", err, objectstore.ErrNoSuchUpload)
	for _, bad := range []string{"", "nope", "../../x", strings.Repeat("0", 32) + "/..", "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"} {
		_, err = s.UploadPart(ctx, "bkt", "k", bad, 1, strings.NewReader("x"), objectstore.PartOptions{})
		wantErr(t, fmt.Sprintf("upload id %q", bad), err, objectstore.ErrNoSuchUpload)
		wantErr(t, "Abort "+bad, s.AbortMultipartUpload(ctx, "bkt", "k", bad), objectstore.ErrNoSuchUpload)
	}
	// The last part alone may be small.
	if _, err := s.CompleteMultipartUpload(ctx, "bkt", "k", id, cps[1:]); err != nil {
		t.Fatalf("single small part: %v", err)
	}
}

func testConcurrency(t *testing.T, s objectstore.Store, _ Config) {
	mustCreate(t, s, "bkt")
	bodies := [][]byte{randBytes(40, 200_000), randBytes(41, 150_000), randBytes(42, 1)}
	mustPut(t, s, "bkt", "shared", bodies[0], objectstore.PutOptions{})
	var wg sync.WaitGroup
	errc := make(chan error, 100)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				b := bodies[(w+i)%len(bodies)]
				if _, err := s.Put(ctx, "bkt", "shared", bytes.NewReader(b), objectstore.PutOptions{}); err != nil {
					errc <- err
					return
				}
				key := fmt.Sprintf("w%d/%s/k%d", w, strings.Repeat("d", 90), i)
				if _, err := s.Put(ctx, "bkt", key, bytes.NewReader(b), objectstore.PutOptions{}); err != nil {
					errc <- err
					return
				}
				if i%2 == 0 {
					if err := s.Delete(ctx, "bkt", key); err != nil {
						errc <- err
						return
					}
				}
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				obj, err := s.Get(ctx, "bkt", "shared", objectstore.GetOptions{})
				if err != nil {
					errc <- err
					return
				}
				got, err := io.ReadAll(obj.Body)
				obj.Body.Close()
				if err != nil {
					errc <- err
					return
				}
				if md5hex(got) != obj.Info.ETag {
					errc <- fmt.Errorf("torn read: %d bytes, ETag %s", len(got), obj.Info.ETag)
					return
				}
				if _, err := s.List(ctx, "bkt", objectstore.ListOptions{Prefix: fmt.Sprintf("w%d/", w)}); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	r, err := s.List(ctx, "bkt", objectstore.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Objects) != 1+4*5 {
		t.Fatalf("%d objects after the concurrent writers", len(r.Objects))
	}
}

// copyOnly hides the store's optional interfaces (objectstore.Linker), so
// Materialize has to copy.
type copyOnly struct{ objectstore.Store }

// linkDir returns an empty directory for Link and Materialize targets: one
// under the store's ScratchDir when it has one (so that hard links work),
// else a test temporary directory.
func linkDir(t *testing.T, s objectstore.Store) string {
	t.Helper()
	sd, ok := s.(interface{ ScratchDir() string })
	if !ok {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp(sd.ScratchDir(), "contract-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func testMaterialize(t *testing.T, s objectstore.Store, cfg Config) {
	mustCreate(t, s, "bkt")
	min := int(cfg.MinPartSize)
	parts := [][]byte{randBytes(50, min), randBytes(51, 1234)}
	id, err := s.CreateMultipartUpload(ctx, "bkt", "multi", objectstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompleteMultipartUpload(ctx, "bkt", "multi", id, uploadParts(t, s, "bkt", "multi", id, parts, "")); err != nil {
		t.Fatal(err)
	}
	multi := bytes.Join(parts, nil)

	type method struct {
		name string
		fn   func(bucket, key, dst string) (*objectstore.ObjectInfo, error)
	}
	methods := []method{
		{"Materialize", func(b, k, dst string) (*objectstore.ObjectInfo, error) {
			return objectstore.Materialize(ctx, s, b, k, dst)
		}},
		{"MaterializeCopy", func(b, k, dst string) (*objectstore.ObjectInfo, error) {
			return objectstore.Materialize(ctx, copyOnly{s}, b, k, dst)
		}},
	}
	if l, ok := s.(objectstore.Linker); ok {
		methods = append(methods, method{"Link", func(b, k, dst string) (*objectstore.ObjectInfo, error) {
			return l.Link(ctx, b, k, dst)
		}})
	}
	dir := linkDir(t, s)
	for _, m := range methods {
		t.Run(m.name, func(t *testing.T) {
			at := func(name string) string { return filepath.Join(dir, m.name+"-"+name) }
			check := func(what, path string, want []byte) {
				t.Helper()
				got, err := os.ReadFile(path)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("%s: %s holds %d bytes (%v), want %d", what, path, len(got), err, len(want))
				}
			}
			key := "data/" + m.name + ".csv"
			v1, v2 := randBytes(52, 300_000), []byte("second,version\n")
			put := mustPut(t, s, "bkt", key, v1, objectstore.PutOptions{ContentType: "text/csv"})
			info, err := m.fn("bkt", key, at("v1"))
			if err != nil {
				t.Fatal(err)
			}
			if info.ETag != put.ETag || info.Size != int64(len(v1)) || info.Key != key || info.ContentType != "text/csv" {
				t.Fatalf("info = %+v, want %+v", info, put)
			}
			check("v1", at("v1"), v1)
			// Later writes leave dst as it was.
			mustPut(t, s, "bkt", key, v2, objectstore.PutOptions{})
			check("after overwrite", at("v1"), v1)
			if _, err := m.fn("bkt", key, at("v2")); err != nil {
				t.Fatal(err)
			}
			check("v2", at("v2"), v2)
			if err := s.Delete(ctx, "bkt", key); err != nil {
				t.Fatal(err)
			}
			check("after delete", at("v1"), v1)
			check("after delete", at("v2"), v2)
			_, got := mustRead(t, s, "bkt", "multi", objectstore.GetOptions{})
			if !bytes.Equal(got, multi) {
				t.Fatal("multipart object changed")
			}
			// A multipart object.
			info, err = m.fn("bkt", "multi", at("multi"))
			if err != nil {
				t.Fatal(err)
			}
			if info.ETag != multipartETag(parts) || !slices.Equal(info.PartSizes, []int64{int64(len(parts[0])), int64(len(parts[1]))}) {
				t.Fatalf("multipart info = %+v", info)
			}
			check("multipart", at("multi"), multi)
			// An empty object.
			mustPut(t, s, "bkt", "empty", nil, objectstore.PutOptions{})
			if _, err := m.fn("bkt", "empty", at("empty")); err != nil {
				t.Fatal(err)
			}
			check("empty", at("empty"), nil)
			// Missing objects and buckets create nothing.
			_, err = m.fn("bkt", key, at("missing"))
			wantErr(t, "missing key", err, objectstore.ErrNoSuchKey)
			_, err = m.fn("nope", key, at("missing"))
			wantErr(t, "missing bucket", err, objectstore.ErrNoSuchBucket)
			if _, err := os.Lstat(at("missing")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("dst of a missing object: %v", err)
			}
			// dst is never replaced.
			if _, err := m.fn("bkt", "multi", at("v1")); err == nil {
				t.Fatal("existing dst replaced")
			}
			check("existing dst", at("v1"), v1)
			// A missing directory is an error, not a missing object.
			_, err = m.fn("bkt", "multi", filepath.Join(dir, "no-such-dir", "x"))
			if err == nil || errors.Is(err, objectstore.ErrNoSuchKey) {
				t.Fatalf("dst in a missing directory: %v", err)
			}
		})
	}
}
