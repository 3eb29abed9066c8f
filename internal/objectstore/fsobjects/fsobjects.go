// Package fsobjects is an objectstore.Store that keeps objects as files
// under <dataDir>/objects (see layout.go for the layout).
//
// Writes stream: a body is copied to a temporary file through a fixed-size
// buffer while its size, MD5 and checksum are computed, then fsynced and
// renamed into place, so neither a large object nor a multipart part is ever
// held in memory, and a crash never leaves a partial object visible.
//
// The store is safe for concurrent use within one process. Several
// processes must not share one data directory.
package fsobjects

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/cleanroomsd/cleanroomsd/internal/objectstore"
)

const (
	uploadsDir = ".uploads"
	tmpDir     = ".tmp"
	// staleTemp is how old a file in .tmp must be for Open to remove it.
	staleTemp = time.Hour
	// copyBuffer is the size of the buffer bodies stream through.
	copyBuffer  = 256 << 10
	lockStripes = 256
)

// Store is the file-backed object store.
type Store struct {
	root        string // <dataDir>/objects
	minPartSize int64
	now         func() time.Time

	// bucketLocks serialize DeleteBucket against writes that commit into a
	// bucket (held shared while committing, exclusively while deleting).
	bucketLocks [lockStripes]sync.RWMutex
	// uploadLocks serialize the commits of an upload's parts against its
	// completion and abortion.
	uploadLocks [lockStripes]sync.Mutex
}

var _ objectstore.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithMinPartSize sets the smallest size of every part but the last of a
// multipart upload (default objectstore.MinPartSize). Tests lower it.
func WithMinPartSize(n int64) Option {
	return func(s *Store) {
		if n >= 0 {
			s.minPartSize = n
		}
	}
}

// WithClock makes the store read the time from now.
func WithClock(now func() time.Time) Option {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}

// Open opens (creating it if needed) the object store under
// <dataDir>/objects and removes stale temporary files.
func Open(dataDir string, opts ...Option) (*Store, error) {
	if dataDir == "" {
		return nil, errors.New("fsobjects: no data directory")
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, err
	}
	s := &Store{root: filepath.Join(abs, "objects"), minPartSize: objectstore.MinPartSize, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	for _, d := range []string{s.root, filepath.Join(s.root, uploadsDir), filepath.Join(s.root, tmpDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("fsobjects: %w", err)
		}
	}
	s.removeStaleTemps()
	return s, nil
}

// Root returns the directory that holds the buckets.
func (s *Store) Root() string { return s.root }

func (s *Store) removeStaleTemps() {
	dir := filepath.Join(s.root, tmpDir)
	des, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	cutoff := s.now().Add(-staleTemp)
	for _, de := range des {
		if fi, err := de.Info(); err == nil && fi.ModTime().Before(cutoff) {
			os.RemoveAll(filepath.Join(dir, de.Name()))
		}
	}
}

func stripe(s string) int {
	h := fnv.New32a()
	h.Write([]byte(s))
	return int(h.Sum32() % lockStripes)
}

func (s *Store) bucketLock(bucket string) *sync.RWMutex { return &s.bucketLocks[stripe(bucket)] }
func (s *Store) uploadLock(id string) *sync.Mutex       { return &s.uploadLocks[stripe(id)] }

// validBucket reports whether bucket is safe as a directory name: 1 to 255
// bytes of [a-z0-9._-] starting with a letter or digit. S3's stricter rules
// are the front end's business.
func validBucket(bucket string) bool {
	if len(bucket) == 0 || len(bucket) > 255 {
		return false
	}
	for i := 0; i < len(bucket); i++ {
		c := bucket[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || (c != '.' && c != '-' && c != '_')) {
			return false
		}
	}
	return true
}

func validKey(key string) bool {
	return len(key) > 0 && len(key) <= objectstore.MaxKeyLength && utf8.ValidString(key)
}

func (s *Store) bucketDir(bucket string) string { return filepath.Join(s.root, bucket) }

func (s *Store) objectPath(bucket, key string) string {
	return filepath.Join(append([]string{s.bucketDir(bucket)}, keyNames(key)...)...)
}

func dirExists(path string) (bool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	return fi.IsDir(), nil
}

// checkBucket returns ErrInvalidBucketName or ErrNoSuchBucket when bucket
// cannot be used.
func (s *Store) checkBucket(bucket string) error {
	if !validBucket(bucket) {
		return objectstore.ErrNoSuchBucket
	}
	ok, err := dirExists(s.bucketDir(bucket))
	if err != nil {
		return fmt.Errorf("fsobjects: %w", err)
	}
	if !ok {
		return objectstore.ErrNoSuchBucket
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// CreateBucket implements objectstore.Store.
func (s *Store) CreateBucket(ctx context.Context, bucket string) error {
	if !validBucket(bucket) {
		return objectstore.ErrInvalidBucketName
	}
	l := s.bucketLock(bucket)
	l.Lock()
	defer l.Unlock()
	if err := os.Mkdir(s.bucketDir(bucket), 0o755); err != nil {
		if errors.Is(err, os.ErrExist) {
			return objectstore.ErrBucketExists
		}
		return fmt.Errorf("fsobjects: creating bucket: %w", err)
	}
	if err := syncDir(s.root); err != nil {
		return fmt.Errorf("fsobjects: %w", err)
	}
	return nil
}

// DeleteBucket implements objectstore.Store.
func (s *Store) DeleteBucket(ctx context.Context, bucket string) error {
	if !validBucket(bucket) {
		return objectstore.ErrNoSuchBucket
	}
	l := s.bucketLock(bucket)
	l.Lock()
	defer l.Unlock()
	if err := s.checkBucket(bucket); err != nil {
		return err
	}
	empty := true
	w := &walker{inclusive: true, yield: func(string, string) bool {
		empty = false
		return false
	}}
	if _, err := w.walk(s.bucketDir(bucket), nil); err != nil {
		return fmt.Errorf("fsobjects: %w", err)
	}
	if !empty {
		return objectstore.ErrBucketNotEmpty
	}
	// Only empty directories are left, and no writer can commit while the
	// lock is held.
	if err := os.RemoveAll(filepath.Join(s.root, uploadsDir, bucket)); err != nil {
		return fmt.Errorf("fsobjects: removing uploads: %w", err)
	}
	if err := os.RemoveAll(s.bucketDir(bucket)); err != nil {
		return fmt.Errorf("fsobjects: removing bucket: %w", err)
	}
	if err := syncDir(s.root); err != nil {
		return fmt.Errorf("fsobjects: %w", err)
	}
	return nil
}

// BucketExists implements objectstore.Store.
func (s *Store) BucketExists(ctx context.Context, bucket string) (bool, error) {
	if !validBucket(bucket) {
		return false, nil
	}
	return dirExists(s.bucketDir(bucket))
}

// ctxReader fails reads once ctx is done.
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

// spooled is a body written to a temporary file, not yet committed.
type spooled struct {
	f    *os.File
	size int64
	md5  []byte
	sums map[objectstore.ChecksumAlgorithm][]byte
}

func (sp *spooled) discard() {
	if sp.f != nil {
		name := sp.f.Name()
		sp.f.Close()
		os.Remove(name)
		sp.f = nil
	}
}

// finish appends m and the footer, fsyncs and closes the file.
func (sp *spooled) finish(m *fileMeta) error {
	if err := writeFooter(sp.f, m); err != nil {
		return err
	}
	if err := sp.f.Sync(); err != nil {
		return err
	}
	return sp.f.Close()
}

func errReadingBody(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("fsobjects: reading the body: %w", err)
}

// spool streams r into a new temporary file, computing its MD5 and the
// checksums of algs. More than limit bytes fail with ErrEntityTooLarge.
func (s *Store) spool(ctx context.Context, r io.Reader, limit int64, algs ...objectstore.ChecksumAlgorithm) (*spooled, error) {
	f, err := os.CreateTemp(filepath.Join(s.root, tmpDir), "w-*")
	if err != nil {
		return nil, fmt.Errorf("fsobjects: %w", err)
	}
	sp := &spooled{f: f, sums: map[objectstore.ChecksumAlgorithm][]byte{}}
	m := md5.New()
	writers := []io.Writer{f, m}
	hashes := map[objectstore.ChecksumAlgorithm]hash.Hash{}
	for _, a := range algs {
		if a == "" || hashes[a] != nil {
			continue
		}
		h, err := a.New()
		if err != nil {
			sp.discard()
			return nil, err
		}
		hashes[a] = h
		writers = append(writers, h)
	}
	buf := make([]byte, copyBuffer)
	n, err := io.CopyBuffer(io.MultiWriter(writers...), io.LimitReader(ctxReader{ctx, r}, limit+1), buf)
	if err != nil {
		sp.discard()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("fsobjects: writing: %w", err)
		}
		return nil, errReadingBody(err)
	}
	if n > limit {
		sp.discard()
		return nil, objectstore.ErrEntityTooLarge
	}
	sp.size = n
	sp.md5 = m.Sum(nil)
	for a, h := range hashes {
		sp.sums[a] = h.Sum(nil)
	}
	return sp, nil
}

// verify checks the spooled body against the expected MD5 and checksum.
func verify(sp *spooled, alg objectstore.ChecksumAlgorithm, expected func() string, expectedMD5 []byte) error {
	if len(expectedMD5) > 0 && string(expectedMD5) != string(sp.md5) {
		return objectstore.ErrBadDigest
	}
	if expected != nil && alg != "" {
		if want := expected(); want != "" && want != objectstore.EncodeChecksum(sp.sums[alg]) {
			return objectstore.ErrBadDigest
		}
	}
	return nil
}

// commit moves the finished temporary file tmp to dst inside bucket, making
// parent directories. With exclusive, it fails with ErrPreconditionFailed
// if dst exists. The caller holds the bucket lock shared.
func (s *Store) commit(tmp, dst string, exclusive bool) error {
	parent := filepath.Dir(dst)
	var err error
	// A concurrent Delete may remove an empty parent directory between
	// MkdirAll and the rename; try again then.
	for range 20 {
		if err = os.MkdirAll(parent, 0o755); err != nil {
			continue
		}
		if exclusive {
			err = os.Link(tmp, dst)
			if err == nil {
				os.Remove(tmp)
			} else if errors.Is(err, os.ErrExist) {
				return objectstore.ErrPreconditionFailed
			}
		} else {
			err = os.Rename(tmp, dst)
		}
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("fsobjects: committing: %w", err)
	}
	if err := syncDir(parent); err != nil {
		return fmt.Errorf("fsobjects: %w", err)
	}
	return nil
}

func metaFromOptions(m *fileMeta, o *objectstore.PutOptions) {
	m.ContentType = o.ContentType
	m.ContentEncoding = o.ContentEncoding
	m.ContentDisposition = o.ContentDisposition
	m.ContentLanguage = o.ContentLanguage
	m.CacheControl = o.CacheControl
	m.Expires = o.Expires
	if len(o.Metadata) > 0 {
		m.Metadata = o.Metadata
	}
}

func (s *Store) timestamp() (time.Time, string) {
	t := s.now().UTC()
	return t, t.Format(time.RFC3339Nano)
}

// Put implements objectstore.Store.
func (s *Store) Put(ctx context.Context, bucket, key string, r io.Reader, opts objectstore.PutOptions) (*objectstore.ObjectInfo, error) {
	if !validKey(key) {
		return nil, objectstore.ErrInvalidKey
	}
	if opts.ChecksumAlgorithm != "" && !opts.ChecksumAlgorithm.Valid() {
		return nil, fmt.Errorf("fsobjects: unknown checksum algorithm %q", opts.ChecksumAlgorithm)
	}
	if err := s.checkBucket(bucket); err != nil {
		return nil, err
	}
	sp, err := s.spool(ctx, r, objectstore.MaxObjectSize, opts.ChecksumAlgorithm)
	if err != nil {
		return nil, err
	}
	defer sp.discard()
	if err := verify(sp, opts.ChecksumAlgorithm, opts.ExpectedChecksum, opts.ExpectedMD5); err != nil {
		return nil, err
	}
	m := &fileMeta{Key: key, Size: sp.size, ETag: hex.EncodeToString(sp.md5)}
	metaFromOptions(m, &opts)
	if opts.ChecksumAlgorithm != "" {
		m.ChecksumAlgorithm = string(opts.ChecksumAlgorithm)
		m.ChecksumValue = objectstore.EncodeChecksum(sp.sums[opts.ChecksumAlgorithm])
		m.ChecksumType = string(objectstore.FullObject)
	}
	return s.commitObject(bucket, key, sp, m, opts.IfNoneMatch)
}

// commitObject stamps m, finishes sp and commits it as the object.
func (s *Store) commitObject(bucket, key string, sp *spooled, m *fileMeta, exclusive bool) (*objectstore.ObjectInfo, error) {
	l := s.bucketLock(bucket)
	l.RLock()
	defer l.RUnlock()
	if err := s.checkBucket(bucket); err != nil {
		return nil, err
	}
	_, m.LastModified = s.timestamp()
	if err := sp.finish(m); err != nil {
		return nil, fmt.Errorf("fsobjects: writing: %w", err)
	}
	tmp := sp.f.Name()
	sp.f = nil
	if err := s.commit(tmp, s.objectPath(bucket, key), exclusive); err != nil {
		os.Remove(tmp)
		return nil, err
	}
	info := infoFromMeta(bucket, m)
	return &info, nil
}

func infoFromMeta(bucket string, m *fileMeta) objectstore.ObjectInfo {
	t, _ := time.Parse(time.RFC3339Nano, m.LastModified)
	info := objectstore.ObjectInfo{
		Bucket: bucket, Key: m.Key, Size: m.Size, ETag: m.ETag, LastModified: t,
		ContentType: m.ContentType, ContentEncoding: m.ContentEncoding, ContentDisposition: m.ContentDisposition,
		ContentLanguage: m.ContentLanguage, CacheControl: m.CacheControl, Expires: m.Expires,
		Metadata: m.Metadata, PartSizes: m.PartSizes,
	}
	if m.ChecksumAlgorithm != "" {
		info.Checksum = &objectstore.Checksum{Algorithm: objectstore.ChecksumAlgorithm(m.ChecksumAlgorithm),
			Value: m.ChecksumValue, Type: objectstore.ChecksumType(m.ChecksumType)}
	}
	return info
}

// open opens the object's file and reads its description.
func (s *Store) open(bucket, key string) (*os.File, *fileMeta, error) {
	if !validKey(key) {
		return nil, nil, objectstore.ErrNoSuchKey
	}
	if !validBucket(bucket) {
		return nil, nil, objectstore.ErrNoSuchBucket
	}
	f, err := os.Open(s.objectPath(bucket, key))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			if err := s.checkBucket(bucket); err != nil {
				return nil, nil, err
			}
			return nil, nil, objectstore.ErrNoSuchKey
		}
		return nil, nil, fmt.Errorf("fsobjects: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("fsobjects: %w", err)
	}
	m, _, err := readFooter(f, fi.Size())
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("fsobjects: object %q in %q: %w", key, bucket, err)
	}
	m.Key = key
	return f, m, nil
}

// Head implements objectstore.Store.
func (s *Store) Head(ctx context.Context, bucket, key string) (*objectstore.ObjectInfo, error) {
	f, m, err := s.open(bucket, key)
	if err != nil {
		return nil, err
	}
	f.Close()
	info := infoFromMeta(bucket, m)
	return &info, nil
}

type sectionReadCloser struct {
	*io.SectionReader
	f *os.File
}

func (s sectionReadCloser) Close() error { return s.f.Close() }

// Get implements objectstore.Store.
func (s *Store) Get(ctx context.Context, bucket, key string, opts objectstore.GetOptions) (*objectstore.Object, error) {
	f, m, err := s.open(bucket, key)
	if err != nil {
		return nil, err
	}
	obj := &objectstore.Object{Info: infoFromMeta(bucket, m), Length: m.Size}
	switch {
	case opts.PartNumber > 0:
		obj.Partial = true
		sizes := m.PartSizes
		if len(sizes) == 0 {
			sizes = []int64{m.Size}
		}
		if opts.PartNumber > len(sizes) {
			f.Close()
			return nil, objectstore.ErrInvalidPartNumber
		}
		for _, n := range sizes[:opts.PartNumber-1] {
			obj.Offset += n
		}
		obj.Length = sizes[opts.PartNumber-1]
	case opts.Range != nil:
		off, n, err := opts.Range.Resolve(m.Size)
		if err != nil {
			f.Close()
			return nil, err
		}
		obj.Offset, obj.Length, obj.Partial = off, n, true
	}
	obj.Body = sectionReadCloser{io.NewSectionReader(f, obj.Offset, obj.Length), f}
	return obj, nil
}

// Delete implements objectstore.Store.
func (s *Store) Delete(ctx context.Context, bucket, key string) error {
	if !validBucket(bucket) {
		return objectstore.ErrNoSuchBucket
	}
	l := s.bucketLock(bucket)
	l.RLock()
	defer l.RUnlock()
	if err := s.checkBucket(bucket); err != nil {
		return err
	}
	if !validKey(key) {
		return nil
	}
	path := s.objectPath(bucket, key)
	if err := os.Remove(path); err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return fmt.Errorf("fsobjects: %w", err)
	}
	bdir := s.bucketDir(bucket)
	syncDir(filepath.Dir(path))
	// Remove the directories the key needed, while they are empty.
	for dir := filepath.Dir(path); dir != bdir && strings.HasPrefix(dir, bdir); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break
		}
	}
	return nil
}

// List implements objectstore.Store.
func (s *Store) List(ctx context.Context, bucket string, opts objectstore.ListOptions) (*objectstore.ListResult, error) {
	if err := s.checkBucket(bucket); err != nil {
		return nil, err
	}
	maxKeys := opts.MaxKeys
	if maxKeys <= 0 || maxKeys > objectstore.MaxListKeys {
		maxKeys = objectstore.MaxListKeys
	}
	res := &objectstore.ListResult{}
	w := &walker{from: opts.Prefix, inclusive: true}
	if opts.StartAfter >= w.from {
		w.from, w.inclusive = opts.StartAfter, false
	}
	count := 0
	var ferr error
	w.yield = func(key, path string) bool {
		if !strings.HasPrefix(key, opts.Prefix) {
			return false // past the prefix's keys
		}
		if ferr = ctx.Err(); ferr != nil {
			return false
		}
		if opts.Delimiter != "" {
			if i := strings.Index(key[len(opts.Prefix):], opts.Delimiter); i >= 0 {
				cp := key[:len(opts.Prefix)+i+len(opts.Delimiter)]
				if opts.StartAfter == "" || cp > opts.StartAfter {
					if count == maxKeys {
						res.IsTruncated = true
						return false
					}
					res.CommonPrefixes = append(res.CommonPrefixes, cp)
					res.NextStartAfter = cp
					count++
				}
				// Skip the rest of the common prefix's keys.
				next := successor(cp)
				if next == "" {
					return false
				}
				w.from, w.inclusive = next, true
				return true
			}
		}
		if count == maxKeys {
			res.IsTruncated = true
			return false
		}
		info, err := readInfo(bucket, key, path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return true // deleted meanwhile
			}
			ferr = err
			return false
		}
		res.Objects = append(res.Objects, *info)
		res.NextStartAfter = key
		count++
		return true
	}
	if _, err := w.walk(s.bucketDir(bucket), nil); err != nil {
		return nil, fmt.Errorf("fsobjects: listing: %w", err)
	}
	if ferr != nil {
		return nil, fmt.Errorf("fsobjects: listing: %w", ferr)
	}
	if !res.IsTruncated {
		res.NextStartAfter = ""
	}
	return res, nil
}

// readInfo reads the description of the object file at path.
func readInfo(bucket, key, path string) (*objectstore.ObjectInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	m, _, err := readFooter(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("object %q: %w", key, err)
	}
	m.Key = key
	info := infoFromMeta(bucket, m)
	return &info, nil
}

// successor returns the smallest string greater than every string that has
// prefix p ("" when there is none).
func successor(p string) string {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}

func newUploadID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
