// Package s3api serves the path-style Amazon S3 REST API
// (http://HOST:PORT/BUCKET/KEY) on top of an objectstore.Store for the
// object bytes and the metadata store.Store for bucket ownership, so that the
// AWS CLI (aws s3 mb/cp/ls/rm/rb), boto3 and aws-sdk-go-v2 work against
// cleanroomsd unchanged.
//
// Why not a library: the maintained Go S3 server libraries were considered.
// github.com/johannesboyne/gofakes3 (and its rclone fork) keeps every
// multipart part in memory as a []byte and reassembles the object into one
// []byte on completion, keeps upload state in process memory, and has no hook
// for per-account bucket ownership or for authenticating a request before its
// body is read; MinIO's server is not a library. The requirements here are
// that a multi-gigabyte upload streams to disk and never sits in memory, that
// every bucket belongs to the account that created it (recorded in the
// shared metadata store), and that SigV4 authentication, aws-chunked
// decoding and checksum verification happen while the body streams. So the
// handler is written directly against net/http and encoding/xml (typed
// structs for every XML document), and the bytes live behind the
// objectstore.Store interface shared with the query engine.
//
// What clients send (captured from the AWS CLI 1.45 / botocore 1.43, boto3
// and aws-sdk-go-v2 s3 1.114 against this server), and how it is handled:
//
//   - Over plain http all three sign the payload: X-Amz-Content-Sha256 is
//     the hex SHA-256 of the body, with Content-Length, and PutObject and
//     UploadPart carry the flexible checksum header x-amz-checksum-crc32
//     (botocore adds x-amz-sdk-checksum-algorithm: CRC32 and Expect:
//     100-continue). The SHA-256 and the CRC32 are verified while the body
//     streams to a temporary file; on a mismatch the request fails
//     (XAmzContentSHA256Mismatch, BadDigest) and nothing is stored.
//   - Over https (a TLS proxy in front of cleanroomsd) they send
//     Content-Encoding: aws-chunked, X-Amz-Content-Sha256:
//     STREAMING-UNSIGNED-PAYLOAD-TRAILER, X-Amz-Decoded-Content-Length and
//     X-Amz-Trailer: x-amz-checksum-crc32 (botocore with HTTP chunked
//     transfer encoding, aws-sdk-go-v2 with a Content-Length); the checksum
//     arrives in the aws-chunked trailer. The framing is decoded as it
//     streams and the trailer checksum is verified before the object is
//     committed. STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER) bodies are
//     decoded the same way; their seed signature is verified by the
//     Authenticator like any other signature, but the per-chunk signatures
//     are not verified.
//   - CreateMultipartUpload carries x-amz-checksum-algorithm; the upload
//     keeps it, parts return x-amz-checksum-<alg> (which the CLI's
//     transfer manager puts back into CompleteMultipartUpload), and the
//     completed object stores S3's COMPOSITE ("<checksum of the part
//     checksums>-N") or FULL_OBJECT checksum. Objects keep their checksum,
//     which GetObject and HeadObject return for whole-object reads when the
//     client sends x-amz-checksum-mode: ENABLED, as current SDKs do by
//     default, so the SDKs' response validation runs against it.
//   - botocore sends Expect: 100-continue even on empty PUTs; the handler
//     answers 100 Continue there too, as S3 does (net/http only does it
//     when a body is read, and botocore misreads the next response on the
//     connection otherwise).
//
// Bucket ownership: a bucket is a store record of kind "s3bucket" whose ID is
// the bucket name and whose Account is the creating account. Requests by
// any other account on the bucket or its objects get AccessDenied, and
// ListBuckets lists only the caller's buckets. Creating a bucket the caller
// already owns succeeds with 200 when the server's region is us-east-1 (what
// AWS does there) and fails with BucketAlreadyOwnedByYou elsewhere.
package s3api
