package fsobjects

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cleanroomsd/cleanroomsd/internal/objectstore"
	"github.com/cleanroomsd/cleanroomsd/internal/objectstore/objectstoretest"
)

const testMinPart = 64 << 10

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), WithMinPartSize(testMinPart))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) {
	objectstoretest.Run(t, objectstoretest.Config{
		New:         func(t *testing.T) objectstore.Store { return newStore(t) },
		MinPartSize: testMinPart,
	})
}

func TestEscapeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func(b []byte) {
		t.Helper()
		name := escapeChunk(b)
		if name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") || strings.HasPrefix(name, ".") {
			t.Fatalf("unsafe name %q for %q", name, b)
		}
		for i := 0; i < len(name); i++ {
			if name[i] == '%' {
				i += 2
				continue
			}
			if name[i] >= 'A' && name[i] <= 'Z' {
				t.Fatalf("name %q has an uppercase letter outside escapes", name)
			}
		}
		got, ok := unescapeChunk(name)
		if !ok || !bytes.Equal(got, b) {
			t.Fatalf("round trip of %q: %q %v", b, got, ok)
		}
	}
	for _, k := range objectstoretest.TrickyKeys() {
		check([]byte(k)[:min(len(k), chunkBytes)])
	}
	for range 2000 {
		b := make([]byte, 1+r.IntN(chunkBytes))
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		check(b)
	}
	for _, bad := range []string{"", "%", "%4", "%zz", "%61", "A", ".x", "a%2", "a b"} {
		if _, ok := unescapeChunk(bad); ok {
			t.Errorf("unescapeChunk(%q) accepted", bad)
		}
	}
	// Names never exceed NAME_MAX, data file names included.
	long := strings.Repeat("\xff", objectstore.MaxKeyLength)
	for _, k := range []string{long, long[:chunkBytes], long[:chunkBytes+1]} {
		names := keyNames(k)
		last := names[len(names)-1]
		data := filepath.Base(dataPath(last, newVersion()))
		for _, n := range append(names, data) {
			if len(n) > 255 {
				t.Fatalf("name of %d bytes", len(n))
			}
		}
		if c, v, ok := parseDataName(data); !ok || c+leafSuffix != last || !validVersion(v) {
			t.Fatalf("parseDataName(%q) = %q %q %v", data, c, v, ok)
		}
	}
	for _, bad := range []string{"a.b", "a.0123456789abcdef.o", "a.0123456789ABCDEF.b", "a.0123456789abcde.b", "A.0123456789abcdef.b", ".0123456789abcdef.b", "a0123456789abcdef.b"} {
		if _, _, ok := parseDataName(bad); ok {
			t.Errorf("parseDataName(%q) accepted", bad)
		}
	}
}

// metaOf reads the metadata file of a key.
func metaOf(t *testing.T, s *Store, bucket, key string) *fileMeta {
	t.Helper()
	m, err := readMeta(s.objectPath(bucket, key))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// dataFiles returns the data files under dir.
func dataFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			t.Fatal(err)
		}
		if _, _, ok := parseDataName(d.Name()); ok && d.Type().IsRegular() {
			out = append(out, path)
		}
		return nil
	})
	return out
}

// TestFilesStayInsideBucket writes the tricky keys and checks that every
// file created is inside the bucket directory, none in the data directory
// or the bucket's neighbours.
func TestFilesStayInsideBucket(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.CreateBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	for _, k := range objectstoretest.TrickyKeys() {
		if _, err := s.Put(ctx, "bkt", k, strings.NewReader(k), objectstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	bdir := filepath.Join(dir, "objects", "bkt")
	metas, datas := 0, 0
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if d.Type().IsRegular() {
			if path == filepath.Join(dir, "objects", formatFile) {
				return nil
			}
			if !strings.HasPrefix(path, bdir+string(filepath.Separator)) {
				t.Errorf("file outside the bucket: %s", path)
			}
			if strings.HasSuffix(path, leafSuffix) {
				metas++
			} else if _, _, ok := parseDataName(d.Name()); ok {
				datas++
			} else {
				t.Errorf("unexpected file %s", path)
			}
		}
		if !utf8.ValidString(d.Name()) || len(d.Name()) > 255 {
			t.Errorf("odd name %q", d.Name())
		}
		return nil
	})
	if n := len(objectstoretest.TrickyKeys()); metas != n || datas != n {
		t.Fatalf("%d metadata and %d data files for %d keys", metas, datas, n)
	}
	// No two keys share a file on a case-insensitive file system either.
	seen := map[string]string{}
	for _, k := range objectstoretest.TrickyKeys() {
		mp := s.objectPath("bkt", k)
		for _, p := range []string{mp, dataPath(mp, metaOf(t, s, "bkt", k).Data)} {
			p = strings.ToLower(p)
			if other, dup := seen[p]; dup {
				t.Fatalf("keys %q and %q fold to the same path", k, other)
			}
			seen[p] = k
		}
	}
}

// blockingReader yields chunks and waits between them, so a test can look
// at the temporary file while a body is still streaming.
type blockingReader struct {
	chunk []byte
	left  int
	next  chan struct{}
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.EOF
	}
	<-b.next
	b.left--
	return copy(p, b.chunk), nil
}

// TestPutStreamsToDisk checks that a body is written to the temporary file
// as it arrives rather than collected first, and that the temporary file is
// invisible to readers and removed after the commit.
func TestPutStreamsToDisk(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s.CreateBucket(ctx, "bkt")
	const chunk = 128 << 10
	br := &blockingReader{chunk: bytes.Repeat([]byte("z"), chunk), left: 8, next: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := s.Put(ctx, "bkt", "big", br, objectstore.PutOptions{})
		done <- err
	}()
	tmp := filepath.Join(dir, "objects", tmpDir)
	tmpSize := func() int64 {
		var total int64
		des, _ := os.ReadDir(tmp)
		for _, de := range des {
			if fi, err := de.Info(); err == nil {
				total += fi.Size()
			}
		}
		return total
	}
	for i := 1; i <= 8; i++ {
		br.next <- struct{}{}
		want := int64(i-1) * chunk // the chunk just sent may still be in flight
		deadline := time.Now().Add(5 * time.Second)
		for tmpSize() < want {
			if time.Now().After(deadline) {
				t.Fatalf("after %d chunks the temporary file holds %d bytes", i, tmpSize())
			}
			time.Sleep(time.Millisecond)
		}
		if _, err := s.Head(ctx, "bkt", "big"); err == nil {
			t.Fatal("object visible before its body ended")
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := tmpSize(); n != 0 {
		t.Fatalf("%d bytes left in .tmp", n)
	}
	info, err := s.Head(ctx, "bkt", "big")
	if err != nil || info.Size != 8*chunk {
		t.Fatalf("Head = %+v %v", info, err)
	}
}

func TestStaleTempsRemoved(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "objects", tmpDir)
	if s.ScratchDir() != filepath.Join(dir, "objects", ".scratch") {
		t.Fatalf("ScratchDir = %s", s.ScratchDir())
	}
	old, fresh := filepath.Join(tmp, "w-old"), filepath.Join(tmp, "w-fresh")
	oldScratch, freshScratch := filepath.Join(s.ScratchDir(), "q-old"), filepath.Join(s.ScratchDir(), "q-fresh")
	os.WriteFile(old, []byte("x"), 0o644)
	os.WriteFile(fresh, []byte("x"), 0o644)
	os.Mkdir(oldScratch, 0o755)
	os.WriteFile(filepath.Join(oldScratch, "link"), []byte("x"), 0o644)
	os.Mkdir(freshScratch, 0o755)
	past := time.Now().Add(-2 * staleTemp)
	os.Chtimes(old, past, past)
	os.Chtimes(oldScratch, past, past)
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{old, oldScratch} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("stale %s kept", p)
		}
	}
	for _, p := range []string{fresh, freshScratch} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("fresh %s removed", p)
		}
	}
}

// TestCorruptFilesReported checks that damaged files are errors, not
// garbage data or endless retries.
func TestCorruptFilesReported(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	s.CreateBucket(ctx, "bkt")
	mustPut := func(key, body string) string {
		t.Helper()
		if _, err := s.Put(ctx, "bkt", key, strings.NewReader(body), objectstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		return dataPath(s.objectPath("bkt", key), metaOf(t, s, "bkt", key).Data)
	}
	wantDamaged := func(what, key string) {
		t.Helper()
		_, err := s.Get(ctx, "bkt", key, objectstore.GetOptions{})
		if err == nil || errors.Is(err, objectstore.ErrNoSuchKey) {
			t.Fatalf("%s: Get = %v", what, err)
		}
		_, err = s.Link(ctx, "bkt", key, filepath.Join(t.TempDir(), "x"))
		if err == nil || errors.Is(err, objectstore.ErrNoSuchKey) {
			t.Fatalf("%s: Link = %v", what, err)
		}
	}
	mustPut("meta", "hello")
	os.WriteFile(s.objectPath("bkt", "meta"), []byte("truncated"), 0o644)
	wantDamaged("bad metadata", "meta")
	if _, err := s.Head(ctx, "bkt", "meta"); err == nil {
		t.Fatal("Head of bad metadata succeeded")
	}
	if _, err := s.List(ctx, "bkt", objectstore.ListOptions{}); err == nil {
		t.Fatal("List over bad metadata succeeded")
	}
	if _, err := s.Put(ctx, "bkt", "meta", strings.NewReader("x"), objectstore.PutOptions{IfNoneMatch: true}); !errors.Is(err, objectstore.ErrPreconditionFailed) {
		t.Fatalf("IfNoneMatch over bad metadata: %v", err)
	}
	if err := s.Delete(ctx, "bkt", "meta"); err != nil {
		t.Fatalf("Delete of bad metadata: %v", err)
	}
	data := mustPut("short", "hello")
	os.Chmod(data, 0o600)
	os.WriteFile(data, []byte("hell"), 0o600)
	wantDamaged("short data file", "short")
	data = mustPut("lost", "hello")
	os.Remove(data)
	wantDamaged("missing data file", "lost")
	// Foreign files in a bucket directory are ignored by listings.
	os.WriteFile(filepath.Join(s.bucketDir("bkt"), "README"), nil, 0o644)
	s.Delete(ctx, "bkt", "short")
	s.Delete(ctx, "bkt", "lost")
	r, err := s.List(ctx, "bkt", objectstore.ListOptions{})
	if err != nil || len(r.Objects) != 0 {
		t.Fatalf("List = %+v %v", r, err)
	}
}

// TestFormatVersion checks the .format file: written in a new directory,
// required to match, and its absence noticed next to existing buckets.
func TestFormatVersion(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "objects", formatFile)
	js, err := os.ReadFile(path)
	if err != nil || string(js) != `{"layout":"fsobjects","version":2}`+"\n" {
		t.Fatalf("%s = %q %v", formatFile, js, err)
	}
	if _, err := Open(dir); err != nil {
		t.Fatalf("reopening: %v", err)
	}
	os.WriteFile(path, []byte(`{"layout":"fsobjects","version":3}`), 0o644)
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "version 3") {
		t.Fatalf("Open of version 3: %v", err)
	}
	// A directory of the unversioned layout: buckets, no .format.
	old := t.TempDir()
	os.MkdirAll(filepath.Join(old, "objects", "bkt"), 0o755)
	if _, err := Open(old); err == nil {
		t.Fatal("Open of an unversioned directory succeeded")
	}
}

// TestDataFilesArePlain checks that an object's bytes, simple or
// multipart, are one read-only file holding exactly those bytes.
func TestDataFilesArePlain(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	s.CreateBucket(ctx, "bkt")
	body := []byte("a,b\n1,2\n")
	if _, err := s.Put(ctx, "bkt", "t/x.csv", bytes.NewReader(body), objectstore.PutOptions{ContentType: "text/csv"}); err != nil {
		t.Fatal(err)
	}
	parts := [][]byte{bytes.Repeat([]byte("p"), testMinPart), []byte("tail")}
	id, _ := s.CreateMultipartUpload(ctx, "bkt", "t/y.bin", objectstore.PutOptions{})
	var cps []objectstore.CompletePart
	for i, p := range parts {
		pi, err := s.UploadPart(ctx, "bkt", "t/y.bin", id, i+1, bytes.NewReader(p), objectstore.PartOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cps = append(cps, objectstore.CompletePart{PartNumber: i + 1, ETag: pi.ETag})
	}
	if _, err := s.CompleteMultipartUpload(ctx, "bkt", "t/y.bin", id, cps); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string][]byte{"t/x.csv": body, "t/y.bin": bytes.Join(parts, nil)} {
		m := metaOf(t, s, "bkt", key)
		path := dataPath(s.objectPath("bkt", key), m.Data)
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: data file holds %d bytes (%v), want %d", key, len(got), err, len(want))
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != dataMode {
			t.Fatalf("%s: data file mode %v", key, fi.Mode())
		}
		if m.Version != objectMetaVersion || m.Key != key || m.Size != int64(len(want)) {
			t.Fatalf("%s: metadata %+v", key, m)
		}
	}
	if n := len(dataFiles(t, s.bucketDir("bkt"))); n != 2 {
		t.Fatalf("%d data files for 2 objects", n)
	}
}

func nlink(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(fi.Sys().(*syscall.Stat_t).Nlink)
}

// TestOldVersionsRemoved checks that overwrite and delete remove the
// replaced data file, while links made by Link keep its bytes.
func TestOldVersionsRemoved(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	s.CreateBucket(ctx, "bkt")
	key := strings.Repeat("deep/", 40) + "k"
	put := func(body string) {
		t.Helper()
		if _, err := s.Put(ctx, "bkt", key, strings.NewReader(body), objectstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	only := func(want string) string {
		t.Helper()
		files := dataFiles(t, s.bucketDir("bkt"))
		if len(files) != 1 {
			t.Fatalf("data files %q", files)
		}
		if b, _ := os.ReadFile(files[0]); string(b) != want {
			t.Fatalf("data file holds %q, want %q", b, want)
		}
		return files[0]
	}
	scratch, err := os.MkdirTemp(s.ScratchDir(), "q-*")
	if err != nil {
		t.Fatal(err)
	}
	put("one")
	only("one")
	put("two")
	v2 := only("two")
	l2 := filepath.Join(scratch, "two.csv")
	if _, err := s.Link(ctx, "bkt", key, l2); err != nil {
		t.Fatal(err)
	}
	if n := nlink(t, v2); n != 2 {
		t.Fatalf("data file has %d links after Link", n)
	}
	put("three")
	only("three")
	if b, _ := os.ReadFile(l2); string(b) != "two" || nlink(t, l2) != 1 {
		t.Fatalf("link after overwrite: %q, %d links", b, nlink(t, l2))
	}
	l3 := filepath.Join(scratch, "three.csv")
	if _, err := s.Link(ctx, "bkt", key, l3); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "bkt", key); err != nil {
		t.Fatal(err)
	}
	if files := dataFiles(t, s.bucketDir("bkt")); len(files) != 0 {
		t.Fatalf("data files after delete: %q", files)
	}
	if b, _ := os.ReadFile(l3); string(b) != "three" || nlink(t, l3) != 1 {
		t.Fatalf("link after delete: %q", b)
	}
	// The key's directories went with it.
	if des, _ := os.ReadDir(s.bucketDir("bkt")); len(des) != 0 {
		t.Fatalf("bucket directory holds %d entries", len(des))
	}
	// Removing the links is the caller's business and leaves the store alone.
	if err := os.RemoveAll(scratch); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
}

// TestReaderRacesOverwrites has readers Get and Link a key while a writer
// overwrites it 100 times with bodies of different sizes: every read must
// see bytes that match the ETag and size it was given.
func TestReaderRacesOverwrites(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	s.CreateBucket(ctx, "bkt")
	body := func(i int) []byte {
		b := bytes.Repeat([]byte{byte('a' + i%26)}, 1+(i*7919)%150_000)
		copy(b, fmt.Sprint(i))
		return b
	}
	if _, err := s.Put(ctx, "bkt", "k", bytes.NewReader(body(0)), objectstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	scratch, _ := os.MkdirTemp(s.ScratchDir(), "race-*")
	done := make(chan struct{})
	errc := make(chan error, 100)
	var reads atomic.Int64
	var wg sync.WaitGroup
	check := func(what string, info objectstore.ObjectInfo, got []byte) bool {
		sum := md5.Sum(got)
		if hex.EncodeToString(sum[:]) != info.ETag || int64(len(got)) != info.Size {
			errc <- fmt.Errorf("%s: %d bytes with MD5 %x, info says %d bytes, ETag %s", what, len(got), sum, info.Size, info.ETag)
			return false
		}
		reads.Add(1)
		return true
	}
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				if r%2 == 0 {
					obj, err := s.Get(ctx, "bkt", "k", objectstore.GetOptions{})
					if err != nil {
						errc <- err
						return
					}
					got, err := io.ReadAll(obj.Body)
					obj.Body.Close()
					if err != nil || !check("Get", obj.Info, got) {
						errc <- err
						return
					}
					continue
				}
				dst := filepath.Join(scratch, fmt.Sprintf("r%d-%d", r, i))
				info, err := s.Link(ctx, "bkt", "k", dst)
				if err != nil {
					errc <- err
					return
				}
				got, err := os.ReadFile(dst)
				os.Remove(dst)
				if err != nil || !check("Link", *info, got) {
					errc <- err
					return
				}
			}
		}()
	}
	for i := 1; i <= 100; i++ {
		if _, err := s.Put(ctx, "bkt", "k", bytes.NewReader(body(i)), objectstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	if reads.Load() == 0 {
		t.Fatal("no reads")
	}
	if files := dataFiles(t, s.bucketDir("bkt")); len(files) != 1 {
		t.Fatalf("data files after the overwrites: %q", files)
	}
	t.Logf("%d consistent reads during 100 overwrites", reads.Load())
}

// TestOpenRemovesCrashLeftovers lays out what a crash can leave in a
// bucket and checks what Open removes.
func TestOpenRemovesCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s.CreateBucket(ctx, "bkt")
	for _, k := range []string{"kept", "damaged", strings.Repeat("x", 100)} {
		if _, err := s.Put(ctx, "bkt", k, strings.NewReader(k), objectstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * staleTemp)
	orphan := func(key string, stale bool) string {
		p := dataPath(s.objectPath("bkt", key), newVersion())
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("orphan"), 0o400)
		if stale {
			os.Chtimes(p, past, past)
		}
		return p
	}
	// An old version not removed before the crash, and one still being
	// written (fresh), next to a committed object.
	oldVersion, inFlight := orphan("kept", true), orphan("kept", false)
	// New versions whose metadata was never committed.
	uncommitted, uncommittedFresh := orphan("new", true), orphan("new2", false)
	deepOrphan := orphan(strings.Repeat("y", 100), true)
	// With damaged metadata nothing is removed.
	damagedExtra := orphan("damaged", true)
	os.WriteFile(s.objectPath("bkt", "damaged"), []byte("{"), 0o644)
	foreign := filepath.Join(s.bucketDir("bkt"), "README")
	os.WriteFile(foreign, nil, 0o644)
	os.Chtimes(foreign, past, past)
	emptyDir := filepath.Join(s.bucketDir("bkt"), strings.Repeat("z", chunkBytes)+dirSuffix)
	os.Mkdir(emptyDir, 0o755)

	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{oldVersion, uncommitted, deepOrphan, filepath.Dir(deepOrphan), emptyDir} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s kept", p)
		}
	}
	for _, p := range []string{inFlight, uncommittedFresh, damagedExtra, foreign} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s removed", p)
		}
	}
	for _, k := range []string{"kept", strings.Repeat("x", 100)} {
		obj, err := s2.Get(ctx, "bkt", k, objectstore.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(obj.Body)
		obj.Body.Close()
		if string(b) != k {
			t.Fatalf("%q holds %q", k, b)
		}
	}
	if _, err := s2.Head(ctx, "bkt", "new"); !errors.Is(err, objectstore.ErrNoSuchKey) {
		t.Fatalf("uncommitted object visible: %v", err)
	}
}
