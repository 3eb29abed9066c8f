package fsobjects

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cleanroomsd/cleanroomsd/internal/objectstore"
)

const (
	uploadFile = "upload.json"
	partSuffix = ".part"
)

// uploadMeta is upload.json.
type uploadMeta struct {
	Key       string `json:"key"`
	Initiated string `json:"initiated"`

	ContentType        string            `json:"contentType,omitempty"`
	ContentEncoding    string            `json:"contentEncoding,omitempty"`
	ContentDisposition string            `json:"contentDisposition,omitempty"`
	ContentLanguage    string            `json:"contentLanguage,omitempty"`
	CacheControl       string            `json:"cacheControl,omitempty"`
	Expires            string            `json:"expires,omitempty"`
	Metadata           map[string]string `json:"metadata,omitempty"`
	ChecksumAlgorithm  string            `json:"checksumAlgorithm,omitempty"`
	ChecksumType       string            `json:"checksumType,omitempty"`
}

func (u *uploadMeta) putOptions() objectstore.PutOptions {
	return objectstore.PutOptions{
		ContentType: u.ContentType, ContentEncoding: u.ContentEncoding, ContentDisposition: u.ContentDisposition,
		ContentLanguage: u.ContentLanguage, CacheControl: u.CacheControl, Expires: u.Expires, Metadata: u.Metadata,
		ChecksumAlgorithm: objectstore.ChecksumAlgorithm(u.ChecksumAlgorithm),
		ChecksumType:      objectstore.ChecksumType(u.ChecksumType),
	}
}

func validUploadID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

func (s *Store) uploadDir(bucket, id string) string {
	return filepath.Join(s.root, uploadsDir, bucket, id)
}

func partName(n int) string { return fmt.Sprintf("%05d%s", n, partSuffix) }

// loadUpload returns the upload's description, or ErrNoSuchBucket /
// ErrNoSuchUpload.
func (s *Store) loadUpload(bucket, key, id string) (*uploadMeta, error) {
	if err := s.checkBucket(bucket); err != nil {
		return nil, err
	}
	if !validUploadID(id) {
		return nil, objectstore.ErrNoSuchUpload
	}
	js, err := os.ReadFile(filepath.Join(s.uploadDir(bucket, id), uploadFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, objectstore.ErrNoSuchUpload
		}
		return nil, fmt.Errorf("fsobjects: %w", err)
	}
	var u uploadMeta
	if err := json.Unmarshal(js, &u); err != nil {
		return nil, fmt.Errorf("fsobjects: upload %s: %w", id, err)
	}
	if u.Key != key {
		return nil, objectstore.ErrNoSuchUpload
	}
	return &u, nil
}

// CreateMultipartUpload implements objectstore.Store.
func (s *Store) CreateMultipartUpload(ctx context.Context, bucket, key string, opts objectstore.PutOptions) (string, error) {
	if !validKey(key) {
		return "", objectstore.ErrInvalidKey
	}
	if a := opts.ChecksumAlgorithm; a != "" {
		if !a.Valid() {
			return "", fmt.Errorf("fsobjects: unknown checksum algorithm %q", a)
		}
		if opts.ChecksumType == "" {
			opts.ChecksumType = objectstore.DefaultChecksumType(a)
		}
		if !objectstore.ChecksumTypeAllowed(a, opts.ChecksumType) {
			return "", fmt.Errorf("fsobjects: checksum type %q is not allowed for %s", opts.ChecksumType, a)
		}
	} else {
		opts.ChecksumType = ""
	}
	l := s.bucketLock(bucket)
	l.RLock()
	defer l.RUnlock()
	if err := s.checkBucket(bucket); err != nil {
		return "", err
	}
	_, now := s.timestamp()
	u := uploadMeta{
		Key: key, Initiated: now,
		ContentType: opts.ContentType, ContentEncoding: opts.ContentEncoding, ContentDisposition: opts.ContentDisposition,
		ContentLanguage: opts.ContentLanguage, CacheControl: opts.CacheControl, Expires: opts.Expires, Metadata: opts.Metadata,
		ChecksumAlgorithm: string(opts.ChecksumAlgorithm), ChecksumType: string(opts.ChecksumType),
	}
	js, err := json.Marshal(&u)
	if err != nil {
		return "", err
	}
	id := newUploadID()
	dir := s.uploadDir(bucket, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("fsobjects: %w", err)
	}
	f, err := os.CreateTemp(filepath.Join(s.root, tmpDir), "u-*")
	if err != nil {
		return "", fmt.Errorf("fsobjects: %w", err)
	}
	_, err = f.Write(js)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, uploadFile))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(f.Name())
		os.RemoveAll(dir)
		return "", fmt.Errorf("fsobjects: %w", err)
	}
	return id, nil
}

// UploadPart implements objectstore.Store.
func (s *Store) UploadPart(ctx context.Context, bucket, key, id string, partNumber int, r io.Reader, opts objectstore.PartOptions) (*objectstore.PartInfo, error) {
	if partNumber < 1 || partNumber > objectstore.MaxPartNumber {
		return nil, objectstore.ErrInvalidPartNumber
	}
	if opts.ChecksumAlgorithm != "" && !opts.ChecksumAlgorithm.Valid() {
		return nil, fmt.Errorf("fsobjects: unknown checksum algorithm %q", opts.ChecksumAlgorithm)
	}
	u, err := s.loadUpload(bucket, key, id)
	if err != nil {
		return nil, err
	}
	uploadAlg := objectstore.ChecksumAlgorithm(u.ChecksumAlgorithm)
	sp, err := s.spool(ctx, r, objectstore.MaxPartSize, opts.ChecksumAlgorithm, uploadAlg)
	if err != nil {
		return nil, err
	}
	defer sp.discard()
	if err := verify(sp, opts.ChecksumAlgorithm, opts.ExpectedChecksum, opts.ExpectedMD5); err != nil {
		return nil, err
	}
	m := &fileMeta{PartNumber: partNumber, Size: sp.size, ETag: hex.EncodeToString(sp.md5)}
	alg := uploadAlg
	if alg == "" {
		alg = opts.ChecksumAlgorithm
	}
	if alg != "" {
		m.ChecksumAlgorithm = string(alg)
		m.ChecksumValue = objectstore.EncodeChecksum(sp.sums[alg])
	}

	bl := s.bucketLock(bucket)
	bl.RLock()
	defer bl.RUnlock()
	ul := s.uploadLock(id)
	ul.Lock()
	defer ul.Unlock()
	if _, err := s.loadUpload(bucket, key, id); err != nil {
		return nil, err
	}
	var t time.Time
	t, m.LastModified = s.timestamp()
	if err := sp.finish(m); err != nil {
		return nil, fmt.Errorf("fsobjects: writing: %w", err)
	}
	tmp := sp.f.Name()
	sp.f = nil
	dir := s.uploadDir(bucket, id)
	if err := os.Rename(tmp, filepath.Join(dir, partName(partNumber))); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("fsobjects: committing part: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("fsobjects: %w", err)
	}
	return partInfo(m, t), nil
}

func partInfo(m *fileMeta, t time.Time) *objectstore.PartInfo {
	p := &objectstore.PartInfo{PartNumber: m.PartNumber, Size: m.Size, ETag: m.ETag, LastModified: t}
	if m.ChecksumAlgorithm != "" {
		p.Checksum = &objectstore.Checksum{Algorithm: objectstore.ChecksumAlgorithm(m.ChecksumAlgorithm), Value: m.ChecksumValue}
	}
	return p
}

// openPart opens a part file and reads its description.
func openPart(path string) (*os.File, *fileMeta, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	m, _, err := readFooter(f, fi.Size())
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, m, nil
}

func trimETag(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	return strings.Trim(s, `"`)
}

// CompleteMultipartUpload implements objectstore.Store.
func (s *Store) CompleteMultipartUpload(ctx context.Context, bucket, key, id string, parts []objectstore.CompletePart) (*objectstore.ObjectInfo, error) {
	if len(parts) == 0 {
		return nil, objectstore.ErrInvalidPart
	}
	for i, p := range parts {
		if p.PartNumber < 1 || p.PartNumber > objectstore.MaxPartNumber {
			return nil, objectstore.ErrInvalidPart
		}
		if i > 0 && p.PartNumber <= parts[i-1].PartNumber {
			return nil, objectstore.ErrInvalidPartOrder
		}
	}

	// Open every listed part under the upload's lock; the open files keep
	// their bytes even if a part is replaced or the upload aborted later.
	ul := s.uploadLock(id)
	ul.Lock()
	u, err := s.loadUpload(bucket, key, id)
	if err != nil {
		ul.Unlock()
		return nil, err
	}
	dir := s.uploadDir(bucket, id)
	files := make([]*os.File, 0, len(parts))
	metas := make([]*fileMeta, 0, len(parts))
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	alg := objectstore.ChecksumAlgorithm(u.ChecksumAlgorithm)
	for i, p := range parts {
		f, m, err := openPart(filepath.Join(dir, partName(p.PartNumber)))
		if err != nil {
			ul.Unlock()
			if errors.Is(err, os.ErrNotExist) {
				return nil, objectstore.ErrInvalidPart
			}
			return nil, fmt.Errorf("fsobjects: part %d: %w", p.PartNumber, err)
		}
		files = append(files, f)
		metas = append(metas, m)
		if trimETag(p.ETag) != m.ETag {
			ul.Unlock()
			return nil, objectstore.ErrInvalidPart
		}
		if p.Checksum != "" && p.Checksum != m.ChecksumValue {
			ul.Unlock()
			return nil, objectstore.ErrInvalidPart
		}
		if i < len(parts)-1 && m.Size < s.minPartSize {
			ul.Unlock()
			return nil, objectstore.ErrEntityTooSmall
		}
	}
	ul.Unlock()

	// Stream the parts into the object, recomputing the checksums.
	tmp, err := os.CreateTemp(filepath.Join(s.root, tmpDir), "c-*")
	if err != nil {
		return nil, fmt.Errorf("fsobjects: %w", err)
	}
	sp := &spooled{f: tmp}
	defer sp.discard()
	var full, partHash hash.Hash
	if alg != "" {
		if full, err = alg.New(); err != nil {
			return nil, err
		}
		if partHash, err = alg.New(); err != nil {
			return nil, err
		}
	}
	etags := md5.New()
	var partSums [][]byte
	sizes := make([]int64, len(parts))
	buf := make([]byte, copyBuffer)
	for i, f := range files {
		m := metas[i]
		w := []io.Writer{tmp}
		if alg != "" {
			partHash.Reset()
			w = append(w, full, partHash)
		}
		n, err := io.CopyBuffer(io.MultiWriter(w...), ctxReader{ctx, io.NewSectionReader(f, 0, m.Size)}, buf)
		if err != nil {
			return nil, fmt.Errorf("fsobjects: concatenating parts: %w", err)
		}
		if n != m.Size {
			return nil, fmt.Errorf("fsobjects: part %d is short", m.PartNumber)
		}
		sizes[i] = n
		sp.size += n
		raw, err := hex.DecodeString(m.ETag)
		if err != nil {
			return nil, fmt.Errorf("fsobjects: part %d: bad ETag", m.PartNumber)
		}
		etags.Write(raw)
		if alg != "" {
			sum := partHash.Sum(nil)
			if m.ChecksumAlgorithm == string(alg) && m.ChecksumValue != objectstore.EncodeChecksum(sum) {
				return nil, fmt.Errorf("fsobjects: part %d does not match its checksum", m.PartNumber)
			}
			partSums = append(partSums, sum)
		}
	}
	if sp.size > objectstore.MaxObjectSize {
		return nil, objectstore.ErrEntityTooLarge
	}
	om := &fileMeta{Key: key, Size: sp.size, PartSizes: sizes,
		ETag: hex.EncodeToString(etags.Sum(nil)) + "-" + strconv.Itoa(len(parts))}
	opts := u.putOptions()
	metaFromOptions(om, &opts)
	if alg != "" {
		om.ChecksumAlgorithm = string(alg)
		om.ChecksumType = u.ChecksumType
		if objectstore.ChecksumType(u.ChecksumType) == objectstore.FullObject {
			om.ChecksumValue = objectstore.EncodeChecksum(full.Sum(nil))
		} else if om.ChecksumValue, err = objectstore.CompositeChecksum(alg, partSums); err != nil {
			return nil, err
		}
	}
	info, err := s.commitObject(bucket, key, sp, om, false)
	if err != nil {
		return nil, err
	}
	ul.Lock()
	os.RemoveAll(dir)
	ul.Unlock()
	return info, nil
}

// AbortMultipartUpload implements objectstore.Store.
func (s *Store) AbortMultipartUpload(ctx context.Context, bucket, key, id string) error {
	ul := s.uploadLock(id)
	ul.Lock()
	defer ul.Unlock()
	if _, err := s.loadUpload(bucket, key, id); err != nil {
		return err
	}
	dir := s.uploadDir(bucket, id)
	// Remove upload.json first so the upload is gone even if a crash
	// interrupts the removal of its parts.
	if err := os.Remove(filepath.Join(dir, uploadFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("fsobjects: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("fsobjects: %w", err)
	}
	return nil
}

// ListParts implements objectstore.Store.
func (s *Store) ListParts(ctx context.Context, bucket, key, id string, opts objectstore.ListPartsOptions) (*objectstore.ListPartsResult, error) {
	u, err := s.loadUpload(bucket, key, id)
	if err != nil {
		return nil, err
	}
	maxParts := opts.MaxParts
	if maxParts <= 0 || maxParts > 1000 {
		maxParts = 1000
	}
	dir := s.uploadDir(bucket, id)
	des, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, objectstore.ErrNoSuchUpload
		}
		return nil, fmt.Errorf("fsobjects: %w", err)
	}
	var numbers []int
	for _, de := range des {
		name, ok := strings.CutSuffix(de.Name(), partSuffix)
		if !ok {
			continue
		}
		n, err := strconv.Atoi(name)
		if err != nil || partName(n) != de.Name() || n <= opts.PartNumberMarker {
			continue
		}
		numbers = append(numbers, n)
	}
	sort.Ints(numbers)
	initiated, _ := time.Parse(time.RFC3339Nano, u.Initiated)
	res := &objectstore.ListPartsResult{Upload: u.putOptions(), Initiated: initiated}
	for _, n := range numbers {
		if len(res.Parts) == maxParts {
			res.IsTruncated = true
			break
		}
		f, m, err := openPart(filepath.Join(dir, partName(n)))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("fsobjects: part %d: %w", n, err)
		}
		f.Close()
		t, _ := time.Parse(time.RFC3339Nano, m.LastModified)
		res.Parts = append(res.Parts, *partInfo(m, t))
		res.NextPartNumberMarker = n
	}
	return res, nil
}
