// Package objectstore defines where object bytes live. The S3 front end
// (internal/s3api), the query engine and the result writer all read and write
// objects through Store, so that moving data from the local data directory
// to an external S3-compatible store is a configuration change, not a code
// change.
//
// A Store knows buckets only as namespaces: it does not know who owns them
// (ownership is metadata, kept in the record store by the S3 front end) and
// it does not enforce S3's bucket naming rules beyond what it needs to stay
// safe.
//
// Implementations:
//
//   - fsobjects: files under <dataDir>/objects, the embedded default. Each
//     object's bytes are one plain file, which it can hard-link for readers
//     that need a local path (Linker).
//
// Readers that need an object as a local file (the query engine's
// read_csv/read_parquet) call Materialize: a hard link when the store keeps
// objects as local files (Linker), a streamed copy otherwise.
//
// objectstoretest holds the contract suite every implementation must pass.
package objectstore

import (
	"context"
	"io"
	"time"

	"github.com/cleanroomsd/cleanroomsd/internal/fault"
)

// Limits shared by every implementation; they are S3's.
const (
	// MaxKeyLength is the longest object key, in bytes of UTF-8.
	MaxKeyLength = 1024
	// MaxObjectSize is the largest object a single Put may store.
	MaxObjectSize int64 = 5 << 30
	// MaxPartSize is the largest multipart part.
	MaxPartSize int64 = 5 << 30
	// MinPartSize is the smallest size of every part but the last one of a
	// multipart upload, unless an implementation is configured otherwise.
	MinPartSize int64 = 5 << 20
	// MaxPartNumber is the largest multipart part number.
	MaxPartNumber = 10000
	// MaxListKeys is the most keys (plus common prefixes) one List returns.
	MaxListKeys = 1000
)

// Errors. Each is a *fault.Error whose Code is the S3 error code, so the S3
// front end can send it as is and other packages can test its fault kind
// (errors.Is(err, fault.ErrNotFound) holds for ErrNoSuchKey). Implementations
// return these values, possibly wrapped with %w.
var (
	ErrNoSuchBucket       = &fault.Error{Kind: fault.NotFound, Code: "NoSuchBucket", Message: "The specified bucket does not exist"}
	ErrNoSuchKey          = &fault.Error{Kind: fault.NotFound, Code: "NoSuchKey", Message: "The specified key does not exist."}
	ErrNoSuchUpload       = &fault.Error{Kind: fault.NotFound, Code: "NoSuchUpload", Message: "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."}
	ErrBucketExists       = &fault.Error{Kind: fault.Conflict, Code: "BucketAlreadyExists", Message: "The requested bucket name is not available."}
	ErrBucketNotEmpty     = &fault.Error{Kind: fault.Conflict, Code: "BucketNotEmpty", Message: "The bucket you tried to delete is not empty"}
	ErrInvalidBucketName  = &fault.Error{Kind: fault.Validation, Code: "InvalidBucketName", Message: "The specified bucket is not valid."}
	ErrInvalidKey         = &fault.Error{Kind: fault.Validation, Code: "KeyTooLongError", Message: "Your key is too long or not valid UTF-8."}
	ErrInvalidPart        = &fault.Error{Kind: fault.Validation, Code: "InvalidPart", Message: "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag."}
	ErrInvalidPartOrder   = &fault.Error{Kind: fault.Validation, Code: "InvalidPartOrder", Message: "The list of parts was not in ascending order. The parts list must be specified in order by part number."}
	ErrInvalidPartNumber  = &fault.Error{Kind: fault.Validation, Code: "InvalidPartNumber", Message: "The requested partnumber is not satisfiable"}
	ErrEntityTooSmall     = &fault.Error{Kind: fault.Validation, Code: "EntityTooSmall", Message: "Your proposed upload is smaller than the minimum allowed object size."}
	ErrEntityTooLarge     = &fault.Error{Kind: fault.Validation, Code: "EntityTooLarge", Message: "Your proposed upload exceeds the maximum allowed object size."}
	ErrInvalidRange       = &fault.Error{Kind: fault.Validation, Code: "InvalidRange", Message: "The requested range is not satisfiable"}
	ErrBadDigest          = &fault.Error{Kind: fault.Validation, Code: "BadDigest", Message: "The checksum you specified did not match the calculated checksum."}
	ErrPreconditionFailed = &fault.Error{Kind: fault.Conflict, Code: "PreconditionFailed", Message: "At least one of the pre-conditions you specified did not hold"}
)

// Store holds buckets of objects. It is safe for concurrent use.
//
// Keys are any UTF-8 strings of 1 to MaxKeyLength bytes; slashes, dots,
// spaces and ".." segments carry no special meaning. Listing order is the
// byte order of the UTF-8 keys, as in S3.
type Store interface {
	// CreateBucket creates an empty bucket, or fails with ErrBucketExists.
	CreateBucket(ctx context.Context, bucket string) error
	// DeleteBucket deletes an empty bucket and aborts its multipart uploads.
	// It fails with ErrNoSuchBucket or ErrBucketNotEmpty.
	DeleteBucket(ctx context.Context, bucket string) error
	// BucketExists reports whether bucket exists.
	BucketExists(ctx context.Context, bucket string) (bool, error)

	// Put stores the bytes of r as the object (bucket, key), replacing any
	// object of that key once the whole body has been read, verified and
	// made durable; until then readers see the previous object. A read error
	// from r (including one a verifying reader returns instead of io.EOF)
	// aborts the Put, stores nothing and is returned wrapped.
	Put(ctx context.Context, bucket, key string, r io.Reader, opts PutOptions) (*ObjectInfo, error)
	// Get opens the object for reading; the caller must close Body. It
	// fails with ErrNoSuchBucket, ErrNoSuchKey, ErrInvalidRange or
	// ErrInvalidPartNumber.
	Get(ctx context.Context, bucket, key string, opts GetOptions) (*Object, error)
	// Head returns the object's information.
	Head(ctx context.Context, bucket, key string) (*ObjectInfo, error)
	// Delete removes the object. Deleting a missing key succeeds.
	Delete(ctx context.Context, bucket, key string) error
	// List lists keys in byte order (see ListOptions).
	List(ctx context.Context, bucket string, opts ListOptions) (*ListResult, error)

	// CreateMultipartUpload starts a multipart upload and returns its id.
	// opts describes the object that Complete will create; its Expected*
	// fields are ignored.
	CreateMultipartUpload(ctx context.Context, bucket, key string, opts PutOptions) (uploadID string, err error)
	// UploadPart stores part partNumber (1..MaxPartNumber) of an upload,
	// replacing an earlier part of that number. Like Put it streams and
	// verifies, and stores nothing on error.
	UploadPart(ctx context.Context, bucket, key, uploadID string, partNumber int, r io.Reader, opts PartOptions) (*PartInfo, error)
	// CompleteMultipartUpload concatenates the listed parts, in the order
	// given (which must be ascending by part number), into the object and
	// ends the upload. Every part but the last must be at least the minimum
	// part size. Each listed ETag (and checksum, when given) must match the
	// stored part's.
	CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []CompletePart) (*ObjectInfo, error)
	// AbortMultipartUpload discards an upload and its parts.
	AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error
	// ListParts lists the upload's parts in part number order, those after
	// opts.PartNumberMarker, at most opts.MaxParts (default 1000).
	ListParts(ctx context.Context, bucket, key, uploadID string, opts ListPartsOptions) (*ListPartsResult, error)
}

// PutOptions describes an object being written.
type PutOptions struct {
	// System metadata, returned as HTTP headers by the S3 front end.
	ContentType        string
	ContentEncoding    string
	ContentDisposition string
	ContentLanguage    string
	CacheControl       string
	Expires            string
	// Metadata is user metadata (x-amz-meta-*), keys lowercase without the
	// prefix.
	Metadata map[string]string

	// ChecksumAlgorithm, when set, makes the store compute that checksum of
	// the body while it streams and keep it with the object.
	ChecksumAlgorithm ChecksumAlgorithm
	// ChecksumType is FULL_OBJECT or COMPOSITE for multipart uploads; empty
	// means the algorithm's default (see DefaultChecksumType).
	ChecksumType ChecksumType
	// ExpectedChecksum, when not nil, is called once the body has been read
	// to its end (so a value sent in an HTTP trailer is known by then). A
	// non-empty result (base64, as in x-amz-checksum-*) that differs from
	// the computed ChecksumAlgorithm checksum aborts the write with
	// ErrBadDigest.
	ExpectedChecksum func() string
	// ExpectedMD5, when not empty, is the body's MD5 (Content-MD5); a
	// mismatch aborts the write with ErrBadDigest.
	ExpectedMD5 []byte
	// IfNoneMatch makes the write fail with ErrPreconditionFailed when an
	// object of that key exists (If-None-Match: *), atomically.
	IfNoneMatch bool
}

// PartOptions describes a part being uploaded.
type PartOptions struct {
	ChecksumAlgorithm ChecksumAlgorithm
	ExpectedChecksum  func() string
	ExpectedMD5       []byte
}

// Checksum is an object's or part's additional checksum.
type Checksum struct {
	Algorithm ChecksumAlgorithm
	// Value is base64, as in x-amz-checksum-*; a COMPOSITE checksum ends in
	// "-N", N being the number of parts.
	Value string
	Type  ChecksumType
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Bucket string
	Key    string
	Size   int64
	// ETag is the hex MD5 of the object, or for a multipart object the hex
	// MD5 of the concatenated binary part MD5s followed by "-N". It has no
	// quotes.
	ETag         string
	LastModified time.Time

	ContentType        string
	ContentEncoding    string
	ContentDisposition string
	ContentLanguage    string
	CacheControl       string
	Expires            string
	Metadata           map[string]string

	// Checksum is nil when the object was stored without one.
	Checksum *Checksum
	// PartSizes lists the part sizes of an object made by a multipart
	// upload (nil otherwise), so GetOptions.PartNumber can select a part.
	PartSizes []int64
}

// GetOptions selects what Get returns.
type GetOptions struct {
	// Range selects a byte range; nil means the whole object.
	Range *ByteRange
	// PartNumber, when > 0, selects one part of a multipart object (part 1
	// of a non-multipart object is the whole object). It cannot be combined
	// with Range.
	PartNumber int
}

// Object is an open object.
type Object struct {
	Info ObjectInfo
	// Body yields the selected bytes: Length bytes starting at Offset.
	Body   io.ReadCloser
	Offset int64
	Length int64
	// Partial is true when a Range or PartNumber selected the bytes.
	Partial bool
}

// ListOptions selects the keys List returns.
type ListOptions struct {
	// Prefix limits the listing to keys that start with it.
	Prefix string
	// Delimiter, when set, rolls keys that contain it after the prefix up
	// into one common prefix each (prefix up to and including the first
	// delimiter after Prefix).
	Delimiter string
	// StartAfter lists only keys (and common prefixes) greater than it.
	StartAfter string
	// MaxKeys bounds keys plus common prefixes, 1..MaxListKeys; 0 means
	// MaxListKeys.
	MaxKeys int
}

// ListResult is one page of a listing.
type ListResult struct {
	Objects        []ObjectInfo // in key order
	CommonPrefixes []string     // in order
	// IsTruncated reports whether more keys or prefixes follow; NextStartAfter
	// is then the last key or common prefix returned, to pass as
	// ListOptions.StartAfter for the next page.
	IsTruncated    bool
	NextStartAfter string
}

// CompletePart names one part in CompleteMultipartUpload.
type CompletePart struct {
	PartNumber int
	ETag       string // quotes are ignored
	// Checksum, when not empty, must equal the part's stored checksum (of
	// the upload's algorithm).
	Checksum string
}

// PartInfo describes an uploaded part.
type PartInfo struct {
	PartNumber   int
	Size         int64
	ETag         string // hex MD5, no quotes
	LastModified time.Time
	Checksum     *Checksum
}

// ListPartsOptions selects the parts ListParts returns.
type ListPartsOptions struct {
	PartNumberMarker int
	MaxParts         int
}

// ListPartsResult is one page of an upload's parts.
type ListPartsResult struct {
	Parts                []PartInfo
	IsTruncated          bool
	NextPartNumberMarker int
	// Upload describes the object the upload will create.
	Upload PutOptions
	// Initiated is when the upload was created.
	Initiated time.Time
}
