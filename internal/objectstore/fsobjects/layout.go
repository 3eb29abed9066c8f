package fsobjects

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// On-disk layout (formatVersion 2)
//
//	<dataDir>/objects/.format                  {"layout":"fsobjects","version":2}
//	<dataDir>/objects/<bucket>/...             objects of <bucket>, as below
//	<dataDir>/objects/.uploads/<bucket>/<id>/  one multipart upload:
//	    upload.json                            what Complete will create
//	    00001.part ...                         its parts
//	<dataDir>/objects/.tmp/                    files being written
//	<dataDir>/objects/.scratch/                callers' links (see ScratchDir)
//
// Bucket names never start with '.', so the dot entries cannot clash.
//
// A key is cut into chunks of chunkBytes bytes. Every chunk but the last
// names a directory (escaped chunk + ".d"); the last chunk C names the
// object's two kinds of file, side by side in that directory:
//
//	C.o          the metadata file: JSON (fileMeta, "v":2) that describes the
//	             object and names its current data version V
//	C.V.b        a data file: exactly the object's bytes, nothing else, so
//	             that it can be read (or hard-linked) as a plain file. V is
//	             16 random lowercase hex digits. Data files are immutable:
//	             written once, made read-only, never changed in place.
//
// Escaping keeps [a-z0-9_-] and non-leading '.' and writes every other byte
// as %XX (uppercase hex), so an escaped chunk is at most 3*chunkBytes = 228
// bytes, a data file name at most 247, is never "." or "..", contains no
// separator, and two keys never map to names that differ only in letter
// case. Keys thus never escape their bucket directory whatever '/', '..',
// spaces or unicode they contain, and any valid key (up to 1024 bytes) fits
// in NAME_MAX. The suffixes .o, .b and .d keep the three kinds apart.
//
// Listing walks the tree in key order: within a directory, metadata files
// and directories sort by their decoded chunk bytes, a metadata file before
// the directory of the same chunk (its key is a prefix of every key below
// that directory); data files are not listed.
//
// The committed state of a key is its metadata file. A write (Put or
// Complete) streams the body to .tmp, fsyncs it, then under the key's lock:
// renames it to C.V.b (a fresh V) and fsyncs the directory, writes the new
// metadata to .tmp, fsyncs it, renames it over C.o and fsyncs the directory
// again (the commit point), and only then removes the data file of the
// version the old metadata named. A Delete removes C.o, fsyncs the
// directory, then removes the data file. A reader reads C.o, then opens the
// data file it names; if that file is gone, a writer replaced or deleted
// the object in between, and the reader starts over from C.o. Because a
// data file is never modified and is removed only after no metadata names
// it, an open data file always holds exactly the bytes its metadata
// describes, and an open descriptor (or a hard link) keeps them readable
// after an overwrite or delete.
//
// A crash can leave, besides stray files in .tmp (removed at Open once an
// hour old), data files that no metadata names: a new version whose
// metadata was never committed, or an old version that was not yet
// removed. Open removes those too (once an hour old, so that it never races
// a write in progress), and the key directories left empty.
//
// Part files are internal and still hold the bytes, then a JSON
// description, then a 16-byte footer: the JSON length (uint64, big-endian)
// and footerMagic, committed by one rename.
const (
	formatFile    = ".format"
	formatLayout  = "fsobjects"
	formatVersion = 2

	chunkBytes = 76
	leafSuffix = ".o"
	dirSuffix  = ".d"
	dataSuffix = ".b"
	// versionLen is the length of V in a data file name.
	versionLen = 16

	footerMagic = "CRSOBJ01"
	footerSize  = 16
	// maxMetaSize bounds a JSON description read from a file.
	maxMetaSize = 4 << 20
)

func keepByte(c byte, i int) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || (c == '.' && i > 0)
}

func escapeChunk(b []byte) string {
	const hexDigits = "0123456789ABCDEF"
	var sb strings.Builder
	sb.Grow(len(b) + 2)
	for i, c := range b {
		if keepByte(c, i) {
			sb.WriteByte(c)
			continue
		}
		sb.WriteByte('%')
		sb.WriteByte(hexDigits[c>>4])
		sb.WriteByte(hexDigits[c&15])
	}
	return sb.String()
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unescapeChunk reverses escapeChunk; ok is false for a name escapeChunk
// cannot have produced.
func unescapeChunk(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) {
				return nil, false
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return nil, false
			}
			b := hi<<4 | lo
			if keepByte(b, len(out)) {
				return nil, false // would have been kept: not canonical
			}
			out = append(out, b)
			i += 2
			continue
		}
		if !keepByte(c, len(out)) {
			return nil, false
		}
		out = append(out, c)
	}
	return out, len(out) > 0
}

// keyNames returns the path elements, relative to the bucket directory, of
// the file that holds key.
func keyNames(key string) []string {
	b := []byte(key)
	names := make([]string, 0, len(b)/chunkBytes+1)
	for len(b) > chunkBytes {
		names = append(names, escapeChunk(b[:chunkBytes])+dirSuffix)
		b = b[chunkBytes:]
	}
	return append(names, escapeChunk(b)+leafSuffix)
}

// treeEntry is one parsed directory entry of a bucket's tree.
type treeEntry struct {
	name  string
	chunk []byte
	leaf  bool
}

// readTree returns the entries of dir that the layout can have produced, in
// key order. A missing directory has no entries.
func readTree(dir string) ([]treeEntry, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	out := make([]treeEntry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		var e treeEntry
		switch {
		case strings.HasSuffix(name, leafSuffix) && de.Type().IsRegular():
			e.leaf = true
		case strings.HasSuffix(name, dirSuffix) && de.IsDir():
		default:
			continue
		}
		chunk, ok := unescapeChunk(name[:len(name)-2])
		if !ok || (!e.leaf && len(chunk) != chunkBytes) || len(chunk) > chunkBytes {
			continue
		}
		e.name, e.chunk = name, chunk
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b treeEntry) int {
		if c := bytes.Compare(a.chunk, b.chunk); c != 0 {
			return c
		}
		if a.leaf == b.leaf {
			return 0
		}
		if a.leaf {
			return -1
		}
		return 1
	})
	return out, nil
}

// walker walks a bucket's tree in key order, yielding each key >= from
// (> from unless inclusive). yield may raise from (to skip keys) while the
// walk goes on; entries below the new bound are then skipped without
// reading them.
type walker struct {
	from      string
	inclusive bool
	yield     func(key, path string) bool
}

// walk walks the tree rooted at dir, whose keys all start with prefix. It
// reports whether the walk went to the end (yield never returned false).
func (w *walker) walk(dir string, prefix []byte) (bool, error) {
	entries, err := readTree(dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		full := string(append(prefix[:len(prefix):len(prefix)], e.chunk...))
		if e.leaf {
			if full < w.from || (full == w.from && !w.inclusive) {
				continue
			}
			if !w.yield(full, filepath.Join(dir, e.name)) {
				return false, nil
			}
			continue
		}
		if full < w.from && !strings.HasPrefix(w.from, full) {
			continue // every key below is < from
		}
		more, err := w.walk(filepath.Join(dir, e.name), []byte(full))
		if err != nil || !more {
			return false, err
		}
	}
	return true, nil
}

// fileMeta is an object's metadata file, or the JSON description at the
// end of a part file.
type fileMeta struct {
	Version int `json:"v"`
	// Data is the object's current data version (V in C.V.b); parts have
	// none.
	Data         string `json:"data,omitempty"`
	Key          string `json:"key,omitempty"`
	PartNumber   int    `json:"partNumber,omitempty"`
	Size         int64  `json:"size"`
	ETag         string `json:"etag"`
	LastModified string `json:"lastModified"` // RFC 3339, nanoseconds

	ContentType        string            `json:"contentType,omitempty"`
	ContentEncoding    string            `json:"contentEncoding,omitempty"`
	ContentDisposition string            `json:"contentDisposition,omitempty"`
	ContentLanguage    string            `json:"contentLanguage,omitempty"`
	CacheControl       string            `json:"cacheControl,omitempty"`
	Expires            string            `json:"expires,omitempty"`
	Metadata           map[string]string `json:"metadata,omitempty"`

	ChecksumAlgorithm string  `json:"checksumAlgorithm,omitempty"`
	ChecksumValue     string  `json:"checksumValue,omitempty"`
	ChecksumType      string  `json:"checksumType,omitempty"`
	PartSizes         []int64 `json:"partSizes,omitempty"`
}

// Versions of the fileMeta JSON.
const (
	partMetaVersion   = 1
	objectMetaVersion = 2
)

// writeFooter appends m and the footer to a part file.
func writeFooter(w io.Writer, m *fileMeta) error {
	m.Version = partMetaVersion
	js, err := json.Marshal(m)
	if err != nil {
		return err
	}
	var footer [footerSize]byte
	binary.BigEndian.PutUint64(footer[:8], uint64(len(js)))
	copy(footer[8:], footerMagic)
	if _, err := w.Write(js); err != nil {
		return err
	}
	_, err = w.Write(footer[:])
	return err
}

// readFooter reads the description of the open file f of the given total
// size and returns it with the length of the data before it.
func readFooter(f io.ReaderAt, size int64) (*fileMeta, int64, error) {
	if size < footerSize {
		return nil, 0, fmt.Errorf("fsobjects: file too short (%d bytes)", size)
	}
	var footer [footerSize]byte
	if _, err := f.ReadAt(footer[:], size-footerSize); err != nil {
		return nil, 0, err
	}
	if string(footer[8:]) != footerMagic {
		return nil, 0, errors.New("fsobjects: bad file footer")
	}
	n := binary.BigEndian.Uint64(footer[:8])
	if n > maxMetaSize || int64(n) > size-footerSize {
		return nil, 0, errors.New("fsobjects: bad description length")
	}
	js := make([]byte, n)
	dataLen := size - footerSize - int64(n)
	if _, err := f.ReadAt(js, dataLen); err != nil {
		return nil, 0, err
	}
	var m fileMeta
	if err := json.Unmarshal(js, &m); err != nil {
		return nil, 0, fmt.Errorf("fsobjects: bad description: %w", err)
	}
	if m.Size != dataLen {
		return nil, 0, fmt.Errorf("fsobjects: description says %d bytes, file holds %d", m.Size, dataLen)
	}
	return &m, dataLen, nil
}

// validVersion reports whether v can be the V of a data file.
func validVersion(v string) bool {
	if len(v) != versionLen {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func newVersion() string {
	var b [versionLen / 2]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// dataPath returns the path of version v of the object whose metadata file
// is metaPath.
func dataPath(metaPath, v string) string {
	return strings.TrimSuffix(metaPath, leafSuffix) + "." + v + dataSuffix
}

// parseDataName splits a data file name into its escaped chunk and
// version; ok is false for any other name.
func parseDataName(name string) (chunk, v string, ok bool) {
	rest, ok := strings.CutSuffix(name, dataSuffix)
	if !ok || len(rest) < versionLen+2 || rest[len(rest)-versionLen-1] != '.' {
		return "", "", false
	}
	chunk, v = rest[:len(rest)-versionLen-1], rest[len(rest)-versionLen:]
	if !validVersion(v) {
		return "", "", false
	}
	if b, ok := unescapeChunk(chunk); !ok || len(b) > chunkBytes {
		return "", "", false
	}
	return chunk, v, true
}

// encodeMeta returns the metadata file of an object.
func encodeMeta(m *fileMeta) ([]byte, error) {
	m.Version = objectMetaVersion
	return json.Marshal(m)
}

// readMeta reads the metadata file at path. Errors opening it are returned
// as they are (errors.Is(err, fs.ErrNotExist) for a missing key); a file
// that is not valid metadata is an error naming path.
func readMeta(path string) (*fileMeta, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	js, err := io.ReadAll(io.LimitReader(f, maxMetaSize+1))
	if err != nil {
		return nil, err
	}
	if len(js) > maxMetaSize {
		return nil, fmt.Errorf("fsobjects: %s: metadata too large", path)
	}
	var m fileMeta
	if err := json.Unmarshal(js, &m); err != nil {
		return nil, fmt.Errorf("fsobjects: %s: bad metadata: %w", path, err)
	}
	if m.Version != objectMetaVersion || !validVersion(m.Data) || m.Size < 0 {
		return nil, fmt.Errorf("fsobjects: %s: bad metadata (version %d, data %q, size %d)", path, m.Version, m.Data, m.Size)
	}
	return &m, nil
}

// formatMarker is the .format file.
type formatMarker struct {
	Layout  string `json:"layout"`
	Version int    `json:"version"`
}
