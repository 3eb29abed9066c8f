package objectstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// Linker is implemented by stores whose objects are local files. Link makes
// the object's current bytes available at dst (a path on the same
// filesystem, e.g. a hard link) and returns its ObjectInfo; dst stays valid
// and unchanged even if the object is later overwritten or deleted.
//
// dst must not exist; Link never replaces a file. A missing object fails
// with ErrNoSuchKey (or ErrNoSuchBucket) and creates nothing. When dst is on
// another filesystem, or the filesystem cannot link, the error wraps the
// system's (syscall.EXDEV and the like), so that Materialize can fall back
// to a copy.
//
// dst may share its bytes with the stored object: callers must treat it as
// read-only and remove it when done (removing it never affects the store).
//
// A store that implements Linker may also offer a directory on the same
// filesystem for such links (fsobjects: ScratchDir() string).
type Linker interface {
	Link(ctx context.Context, bucket, key, dst string) (*ObjectInfo, error)
}

// Materialize puts the object's bytes at dst, a path that must not exist:
// via Linker when the store supports it and dst is on the same filesystem
// (falling back on EXDEV and other "cannot link here" errors), else by
// streaming a copy. Like Link, it returns the object's information, leaves
// nothing at dst on error, and dst is unaffected by later writes to the
// object. dst must be treated as read-only.
func Materialize(ctx context.Context, s Store, bucket, key, dst string) (*ObjectInfo, error) {
	if l, ok := s.(Linker); ok {
		info, err := l.Link(ctx, bucket, key, dst)
		if err == nil || !cannotLink(err) {
			return info, err
		}
	}
	return copyTo(ctx, s, bucket, key, dst)
}

// cannotLink reports whether err says a hard link is impossible between the
// two paths (as opposed to a missing object or an existing dst).
func cannotLink(err error) bool {
	for _, e := range []syscall.Errno{syscall.EXDEV, syscall.EMLINK, syscall.EPERM, syscall.ENOTSUP, syscall.EOPNOTSUPP} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func copyTo(ctx context.Context, s Store, bucket, key, dst string) (info *ObjectInfo, err error) {
	obj, err := s.Get(ctx, bucket, key, GetOptions{})
	if err != nil {
		return nil, err
	}
	defer obj.Body.Close()
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("objectstore: materializing %s/%s: %w", bucket, key, err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("objectstore: materializing %s/%s: %w", bucket, key, cerr)
		}
		if err != nil {
			os.Remove(dst)
			info = nil
		}
	}()
	n, err := io.CopyBuffer(f, ctxReader{ctx, obj.Body}, make([]byte, 256<<10))
	if err != nil {
		return nil, fmt.Errorf("objectstore: materializing %s/%s: %w", bucket, key, err)
	}
	if n != obj.Length {
		return nil, fmt.Errorf("objectstore: materializing %s/%s: read %d of %d bytes", bucket, key, n, obj.Length)
	}
	return &obj.Info, nil
}
