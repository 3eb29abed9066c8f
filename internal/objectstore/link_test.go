package objectstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cleanroomsd/cleanroomsd/internal/objectstore"
	"github.com/cleanroomsd/cleanroomsd/internal/objectstore/fsobjects"
)

// failingLinker is a store whose Link fails with err.
type failingLinker struct {
	objectstore.Store
	err   error
	calls int
}

func (f *failingLinker) Link(ctx context.Context, bucket, key, dst string) (*objectstore.ObjectInfo, error) {
	f.calls++
	return nil, f.err
}

func TestMaterializeFallsBack(t *testing.T) {
	ctx := context.Background()
	fs, err := fsobjects.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fs.CreateBucket(ctx, "bkt")
	if _, err := fs.Put(ctx, "bkt", "k", strings.NewReader("bytes"), objectstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// Cannot link here: Materialize copies.
	for i, e := range []error{syscall.EXDEV, syscall.EMLINK, syscall.EPERM, syscall.ENOTSUP} {
		s := &failingLinker{Store: fs, err: &os.LinkError{Op: "link", Old: "a", New: "b", Err: e}}
		dst := filepath.Join(dir, e.Error()+string(rune('0'+i)))
		info, err := objectstore.Materialize(ctx, s, "bkt", "k", dst)
		if err != nil || s.calls != 1 || info.Size != 5 {
			t.Fatalf("%v: Materialize = %+v %v (%d Link calls)", e, info, err, s.calls)
		}
		if b, _ := os.ReadFile(dst); string(b) != "bytes" {
			t.Fatalf("%v: dst holds %q", e, b)
		}
	}
	// Other errors are the answer.
	s := &failingLinker{Store: fs, err: objectstore.ErrNoSuchKey}
	dst := filepath.Join(dir, "other")
	if _, err := objectstore.Materialize(ctx, s, "bkt", "k", dst); !errors.Is(err, objectstore.ErrNoSuchKey) {
		t.Fatalf("Materialize = %v", err)
	}
	if _, err := os.Lstat(dst); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("dst created")
	}
	// A copy interrupted by the context leaves nothing behind.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := objectstore.Materialize(cctx, &failingLinker{Store: fs, err: syscall.EXDEV}, "bkt", "k", dst); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled Materialize = %v", err)
	}
	if _, err := os.Lstat(dst); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("dst left by a canceled copy")
	}
}

// TestMaterializeLinks checks that Materialize on fsobjects, into its
// scratch directory, makes a hard link rather than a copy.
func TestMaterializeLinks(t *testing.T) {
	ctx := context.Background()
	fs, err := fsobjects.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fs.CreateBucket(ctx, "bkt")
	fs.Put(ctx, "bkt", "k", strings.NewReader("bytes"), objectstore.PutOptions{})
	dir, err := os.MkdirTemp(fs.ScratchDir(), "q-*")
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "k.csv")
	if _, err := objectstore.Materialize(ctx, fs, "bkt", "k", dst); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if n := fi.Sys().(*syscall.Stat_t).Nlink; n != 2 {
		t.Fatalf("dst has %d links, want 2 (a hard link to the stored object)", n)
	}
}
