package fsobjects

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
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
	// Names never exceed NAME_MAX.
	long := strings.Repeat("\xff", objectstore.MaxKeyLength)
	for _, n := range keyNames(long) {
		if len(n) > 255 {
			t.Fatalf("name of %d bytes", len(n))
		}
	}
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
	n := 0
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if d.Type().IsRegular() {
			n++
			if !strings.HasPrefix(path, bdir+string(filepath.Separator)) {
				t.Errorf("file outside the bucket: %s", path)
			}
			if !strings.HasSuffix(path, leafSuffix) {
				t.Errorf("unexpected file %s", path)
			}
		}
		if !utf8.ValidString(d.Name()) || len(d.Name()) > 255 {
			t.Errorf("odd name %q", d.Name())
		}
		return nil
	})
	if n != len(objectstoretest.TrickyKeys()) {
		t.Fatalf("%d files for %d keys", n, len(objectstoretest.TrickyKeys()))
	}
	// No two keys share a file on a case-insensitive file system either.
	seen := map[string]string{}
	for _, k := range objectstoretest.TrickyKeys() {
		p := strings.ToLower(s.objectPath("bkt", k))
		if other, dup := seen[p]; dup {
			t.Fatalf("keys %q and %q fold to the same path", k, other)
		}
		seen[p] = k
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
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "objects", tmpDir)
	old, fresh := filepath.Join(tmp, "w-old"), filepath.Join(tmp, "w-fresh")
	os.WriteFile(old, []byte("x"), 0o644)
	os.WriteFile(fresh, []byte("x"), 0o644)
	past := time.Now().Add(-2 * staleTemp)
	os.Chtimes(old, past, past)
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Error("stale temporary file kept")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("fresh temporary file removed")
	}
}

// TestCorruptFilesReported checks that a damaged object file is an error,
// not garbage data.
func TestCorruptFilesReported(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	s.CreateBucket(ctx, "bkt")
	s.Put(ctx, "bkt", "k", strings.NewReader("hello"), objectstore.PutOptions{})
	os.WriteFile(s.objectPath("bkt", "k"), []byte("truncated"), 0o644)
	if _, err := s.Get(ctx, "bkt", "k", objectstore.GetOptions{}); err == nil {
		t.Fatal("corrupt object read")
	}
	// Foreign files in a bucket directory are ignored by listings.
	os.WriteFile(filepath.Join(s.bucketDir("bkt"), "README"), nil, 0o644)
	os.Remove(s.objectPath("bkt", "k"))
	r, err := s.List(ctx, "bkt", objectstore.ListOptions{})
	if err != nil || len(r.Objects) != 0 {
		t.Fatalf("List = %+v %v", r, err)
	}
}
