// Package fsobjects is an objectstore.Store that keeps objects as files
// under <dataDir>/objects (see layout.go for the layout and the commit
// protocol).
//
// Every object's bytes are one plain, immutable file, so the query engine
// can read them in place: Link (objectstore.Linker) hard-links the current
// data file of an object to a path of the caller's, typically in a
// directory made under ScratchDir, with no copy, and the link keeps those
// bytes even after the object is overwritten or deleted.
//
// Writes stream: a body is copied to a temporary file through a fixed-size
// buffer while its size, MD5 and checksum are computed, then fsynced and
// committed (data file, then metadata file, each by rename and directory
// fsync), so neither a large object nor a multipart part is ever held in
// memory, and a crash never leaves a partial object visible.
//
// The store is safe for concurrent use within one process. Several
// processes, or several Stores in one process, must not share one data
// directory.
package fsobjects

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
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
	scratchDir = ".scratch"
	// staleTemp is how old a file in .tmp or .scratch, or a data file no
	// metadata names, must be for Open to remove it.
	staleTemp = time.Hour
	// copyBuffer is the size of the buffer bodies stream through.
	copyBuffer  = 256 << 10
	lockStripes = 1024
	// dataMode is the permission of data files: they never change.
	dataMode = 0o400
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
	// keyLocks serialize the commits and deletes of a key, so that each
	// writer knows which data version it replaces.
	keyLocks [lockStripes]sync.Mutex
}

var (
	_ objectstore.Store  = (*Store)(nil)
	_ objectstore.Linker = (*Store)(nil)
)

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
// <dataDir>/objects, removes stale temporary files and scratch entries, and
// cleans up after writes a crash interrupted (see layout.go). It fails on a
// directory of another layout version.
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
	for _, d := range []string{s.root, filepath.Join(s.root, uploadsDir), filepath.Join(s.root, tmpDir), s.ScratchDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("fsobjects: %w", err)
		}
	}
	if err := s.checkFormat(); err != nil {
		return nil, err
	}
	s.removeStale(filepath.Join(s.root, tmpDir))
	s.removeStale(s.ScratchDir())
	s.sweep()
	return s, nil
}

// Root returns the directory that holds the buckets.
func (s *Store) Root() string { return s.root }

// ScratchDir returns <dataDir>/objects/.scratch, a directory on the same
// filesystem as the objects, where callers may create (and must remove)
// temporary directories to Link objects into. Open creates it and removes
// entries more than an hour old.
func (s *Store) ScratchDir() string { return filepath.Join(s.root, scratchDir) }

// checkFormat checks the layout version in .format, writing it in a new
// directory.
func (s *Store) checkFormat() error {
	path := filepath.Join(s.root, formatFile)
	js, err := os.ReadFile(path)
	if err == nil {
		var fm formatMarker
		if err := json.Unmarshal(js, &fm); err != nil || fm.Layout != formatLayout {
			return fmt.Errorf("fsobjects: %s is not an fsobjects format file", path)
		}
		if fm.Version != formatVersion {
			return fmt.Errorf("fsobjects: %s holds layout version %d; this build reads version %d only", s.root, fm.Version, formatVersion)
		}
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("fsobjects: %w", err)
	}
	des, err := os.ReadDir(s.root)
	if err != nil {
		return fmt.Errorf("fsobjects: %w", err)
	}
	for _, de := range des {
		if !strings.HasPrefix(de.Name(), ".") {
			return fmt.Errorf("fsobjects: %s holds buckets but no %s: it was written in the unversioned pre-release layout, which this build cannot read", s.root, formatFile)
		}
	}
	js, _ = json.Marshal(formatMarker{Layout: formatLayout, Version: formatVersion})
	if err := s.writeFile(path, append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("fsobjects: writing %s: %w", formatFile, err)
	}
	return nil
}

// writeFile durably replaces path with a file holding b: written in .tmp,
// fsynced, renamed into place, its directory fsynced.
func (s *Store) writeFile(path string, b []byte, perm os.FileMode) error {
	_, err := s.replaceFile(path, b, perm)
	return err
}

// replaceFile is writeFile; renamed reports whether path was replaced
// (even if the directory fsync then failed).
func (s *Store) replaceFile(path string, b []byte, perm os.FileMode) (renamed bool, err error) {
	f, err := os.CreateTemp(filepath.Join(s.root, tmpDir), "m-*")
	if err != nil {
		return false, err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return false, err
	}
	return true, syncDir(filepath.Dir(path))
}

// removeStale removes the entries of dir more than staleTemp old.
func (s *Store) removeStale(dir string) {
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
func (s *Store) keyLock(bucket, key string) *sync.Mutex {
	return &s.keyLocks[stripe(bucket+"/"+key)]
}

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

// objectPath returns the path of the key's metadata file.
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

// finish appends m and the footer, fsyncs and closes the file (a part).
func (sp *spooled) finish(m *fileMeta) error {
	if err := writeFooter(sp.f, m); err != nil {
		return err
	}
	if err := sp.f.Sync(); err != nil {
		return err
	}
	return sp.f.Close()
}

// seal makes the file read-only, fsyncs and closes it (an object's data).
// The caller then owns the file named sp.name.
func (sp *spooled) seal() error {
	err := sp.f.Chmod(dataMode)
	if err == nil {
		err = sp.f.Sync()
	}
	if cerr := sp.f.Close(); err == nil {
		err = cerr
	}
	return err
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

// place renames the finished temporary file tmp to dst inside a bucket,
// making parent directories, and fsyncs dst's directory. The caller holds
// the bucket lock shared.
func place(tmp, dst string) error {
	parent := filepath.Dir(dst)
	var err error
	// A concurrent Delete of another key may remove an empty parent
	// directory between MkdirAll and the rename; try again then.
	for range 20 {
		if err = os.MkdirAll(parent, 0o755); err != nil {
			continue
		}
		if err = os.Rename(tmp, dst); err == nil || !errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return err
	}
	return syncDir(parent)
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

// commitObject makes the spooled body the object (bucket, key) described
// by m, replacing any object of that key unless exclusive (then it fails
// with ErrPreconditionFailed). See layout.go for the protocol.
func (s *Store) commitObject(bucket, key string, sp *spooled, m *fileMeta, exclusive bool) (*objectstore.ObjectInfo, error) {
	// Make the body durable before taking any lock.
	if err := sp.seal(); err != nil {
		return nil, fmt.Errorf("fsobjects: writing: %w", err)
	}
	tmp := sp.f.Name()
	sp.f = nil
	placed := false
	defer func() {
		if !placed {
			os.Remove(tmp)
		}
	}()

	l := s.bucketLock(bucket)
	l.RLock()
	defer l.RUnlock()
	if err := s.checkBucket(bucket); err != nil {
		return nil, err
	}
	kl := s.keyLock(bucket, key)
	kl.Lock()
	defer kl.Unlock()

	metaPath := s.objectPath(bucket, key)
	old, err := readMeta(metaPath)
	switch {
	case err == nil:
	case errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		old = nil
	case exclusive:
		// Unreadable metadata is still an object.
		return nil, objectstore.ErrPreconditionFailed
	default:
		// Replace damaged metadata; Open removes the data it named.
		old = nil
	}
	if exclusive && old != nil {
		return nil, objectstore.ErrPreconditionFailed
	}
	for {
		m.Data = newVersion()
		if _, err := os.Lstat(dataPath(metaPath, m.Data)); errors.Is(err, os.ErrNotExist) && (old == nil || old.Data != m.Data) {
			break
		}
	}
	_, m.LastModified = s.timestamp()
	m.Key = key
	js, err := encodeMeta(m)
	if err != nil {
		return nil, err
	}
	data := dataPath(metaPath, m.Data)
	if err := place(tmp, data); err != nil {
		if _, serr := os.Lstat(tmp); serr != nil {
			placed = true // renamed, but the directory fsync failed
			os.Remove(data)
		}
		return nil, fmt.Errorf("fsobjects: committing: %w", err)
	}
	placed = true
	// The commit point: the metadata now names the new data file.
	if renamed, err := s.replaceFile(metaPath, js, 0o644); err != nil {
		if !renamed {
			os.Remove(data)
		}
		// Else whether old or new metadata survives a crash is unknown:
		// keep both data files, for Open to remove the one not named.
		return nil, fmt.Errorf("fsobjects: committing: %w", err)
	}
	if old != nil {
		os.Remove(dataPath(metaPath, old.Data))
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

// errDamaged describes an object whose files do not match.
func errDamaged(bucket, key, format string, args ...any) error {
	return fmt.Errorf("fsobjects: object %q in %q is damaged: %s", key, bucket, fmt.Sprintf(format, args...))
}

// current reads the key's metadata; a missing key is ErrNoSuchKey (or
// ErrNoSuchBucket).
func (s *Store) current(bucket, key string) (metaPath string, m *fileMeta, err error) {
	if !validBucket(bucket) {
		return "", nil, objectstore.ErrNoSuchBucket
	}
	if !validKey(key) {
		if err := s.checkBucket(bucket); err != nil {
			return "", nil, err
		}
		return "", nil, objectstore.ErrNoSuchKey
	}
	metaPath = s.objectPath(bucket, key)
	m, err = readMeta(metaPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			if err := s.checkBucket(bucket); err != nil {
				return "", nil, err
			}
			return "", nil, objectstore.ErrNoSuchKey
		}
		return "", nil, fmt.Errorf("fsobjects: object %q in %q: %w", key, bucket, err)
	}
	m.Key = key
	return metaPath, m, nil
}

// testHookAfterMeta, when set by a test, runs between a reader's reading
// of the metadata and its use of the data file.
var testHookAfterMeta func()

// withData reads the key's metadata and calls use with the path of the
// data file it names. When use fails with os.ErrNotExist and the metadata
// has changed since, a writer replaced the object in between: it starts
// over with the new metadata. If the metadata still names a missing file,
// the object is damaged.
func (s *Store) withData(ctx context.Context, bucket, key string, use func(data string, m *fileMeta) error) (*fileMeta, error) {
	var missing string
	for {
		metaPath, m, err := s.current(bucket, key)
		if err != nil {
			return nil, err
		}
		if m.Data == missing {
			return nil, errDamaged(bucket, key, "data version %s is missing", m.Data)
		}
		data := dataPath(metaPath, m.Data)
		if testHookAfterMeta != nil {
			testHookAfterMeta()
		}
		err = use(data, m)
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			return m, err
		}
		if _, serr := os.Lstat(data); serr == nil {
			return nil, err // not about the data file
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		missing = m.Data
	}
}

// open opens the object's current data file.
func (s *Store) open(ctx context.Context, bucket, key string) (*os.File, *fileMeta, error) {
	var f *os.File
	m, err := s.withData(ctx, bucket, key, func(data string, m *fileMeta) error {
		var err error
		if f, err = os.Open(data); err != nil {
			return err
		}
		fi, err := f.Stat()
		if err == nil && fi.Size() != m.Size {
			err = errDamaged(bucket, key, "its metadata says %d bytes, its data file holds %d", m.Size, fi.Size())
		}
		if err != nil {
			f.Close()
			f = nil
		}
		return err
	})
	if err != nil {
		if f != nil {
			f.Close()
		}
		return nil, nil, err
	}
	return f, m, nil
}

// Head implements objectstore.Store.
func (s *Store) Head(ctx context.Context, bucket, key string) (*objectstore.ObjectInfo, error) {
	_, m, err := s.current(bucket, key)
	if err != nil {
		return nil, err
	}
	info := infoFromMeta(bucket, m)
	return &info, nil
}

// Link implements objectstore.Linker with a hard link to the object's
// current data file, which is never modified: dst keeps those bytes after
// the object is overwritten or deleted. dst must not exist and must be on
// the store's filesystem (see ScratchDir); otherwise the error wraps
// syscall.EXDEV. dst is read-only (mode 0400) and shares its inode with
// the stored object until then: never write to it or change its mode.
func (s *Store) Link(ctx context.Context, bucket, key, dst string) (*objectstore.ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, err := s.withData(ctx, bucket, key, func(data string, m *fileMeta) error {
		if err := os.Link(data, dst); err != nil {
			return err
		}
		fi, err := os.Stat(dst)
		if err == nil && fi.Size() != m.Size {
			err = errDamaged(bucket, key, "its metadata says %d bytes, its data file holds %d", m.Size, fi.Size())
		}
		if err != nil {
			os.Remove(dst)
		}
		return err
	})
	if err != nil {
		var le *os.LinkError
		if errors.As(err, &le) {
			return nil, fmt.Errorf("fsobjects: linking %q in %q: %w", key, bucket, err)
		}
		return nil, err
	}
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
	f, m, err := s.open(ctx, bucket, key)
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
	kl := s.keyLock(bucket, key)
	kl.Lock()
	defer kl.Unlock()
	path := s.objectPath(bucket, key)
	m, merr := readMeta(path) // damaged metadata is deleted all the same
	if err := os.Remove(path); err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return fmt.Errorf("fsobjects: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("fsobjects: %w", err)
	}
	if merr == nil {
		os.Remove(dataPath(path, m.Data))
	}
	bdir := s.bucketDir(bucket)
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

// readInfo reads the metadata file of key at path.
func readInfo(bucket, key, path string) (*objectstore.ObjectInfo, error) {
	m, err := readMeta(path)
	if err != nil {
		return nil, err
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
