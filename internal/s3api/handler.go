package s3api

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/cleanroomsd/cleanroomsd/internal/auth"
	"github.com/cleanroomsd/cleanroomsd/internal/identity"
	"github.com/cleanroomsd/cleanroomsd/internal/objectstore"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
)

// Config configures a Handler.
type Config struct {
	// Meta holds bucket ownership records.
	Meta store.Store
	// Objects holds the object bytes.
	Objects objectstore.Store
	// Auth authenticates every request.
	Auth *auth.Authenticator
	// Region is the server's region (default us-east-1).
	Region string
	Logger *slog.Logger
}

// Handler serves the S3 REST API. It is safe for concurrent use.
type Handler struct {
	meta    store.Store
	objects objectstore.Store
	auth    *auth.Authenticator
	region  string
	log     *slog.Logger
}

// New returns a Handler.
func New(cfg Config) *Handler {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Auth == nil {
		cfg.Auth = auth.NewDev()
	}
	return &Handler{meta: cfg.Meta, objects: cfg.Objects, auth: cfg.Auth, region: cfg.Region, log: cfg.Logger}
}

// maxSmallBody bounds the XML request bodies (DeleteObjects,
// CompleteMultipartUpload, CreateBucketConfiguration) and the bodies that
// are hashed up front when a signed request has no X-Amz-Content-Sha256.
const maxSmallBody = 8 << 20

// request is one S3 request being served.
type request struct {
	w      http.ResponseWriter
	r      *http.Request
	id     string
	caller identity.Caller
	bucket string
	key    string
	query  map[string][]string
}

func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

func newHostID() string {
	var b [24]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// ServeHTTP serves one S3 request. It expects the request untouched: the
// body not read, the path not cleaned.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Answer "Expect: 100-continue" on an empty body the way S3 does, with
	// 100 Continue before the final response. net/http sends 100 Continue
	// by itself only when a non-empty body is read. botocore sends the
	// Expect header on empty PUTs too, and when its wait ends with a final
	// response instead, it keeps that status line's parser on the pooled
	// connection and misreads the next response there (it then hangs
	// until its read timeout).
	if r.ContentLength == 0 && r.ProtoAtLeast(1, 1) && strings.EqualFold(strings.TrimSpace(r.Header.Get("Expect")), "100-continue") {
		w.WriteHeader(http.StatusContinue)
	}
	req := &request{w: w, r: r, id: newRequestID(), query: r.URL.Query()}
	w.Header().Set("x-amz-request-id", req.id)
	w.Header().Set("x-amz-id-2", newHostID())
	w.Header().Set("Server", "cleanroomsd")

	path := r.URL.Path
	if !strings.HasPrefix(path, "/") {
		h.writeError(req, newError("InvalidRequest", "The request path must start with '/'."))
		return
	}
	req.bucket, req.key, _ = strings.Cut(path[1:], "/")

	caller, err := h.authenticate(r)
	if err != nil {
		h.writeError(req, err)
		return
	}
	req.caller = caller
	r = r.WithContext(identity.With(r.Context(), caller))
	req.r = r
	h.route(req)
}

// authenticate authenticates r without reading a streamed body: the payload
// hash given to the Authenticator is the X-Amz-Content-Sha256 header value,
// which the body is verified against as it streams.
func (h *Handler) authenticate(r *http.Request) (identity.Caller, error) {
	hash := strings.TrimSpace(r.Header.Get("X-Amz-Content-Sha256"))
	if hash == "" {
		q := r.URL.Query()
		_, scoped := auth.Scope(r)
		switch {
		case q.Has("X-Amz-Signature") || q.Has("X-Amz-Credential") || !scoped:
			// Presigned (signed as UNSIGNED-PAYLOAD) or anonymous.
			hash = unsignedPayload
		case r.ContentLength >= 0 && r.ContentLength <= maxSmallBody:
			// Header authentication without the header: SigV4 signed the
			// hash of the body, so hash it up front.
			body, err := io.ReadAll(io.LimitReader(clientBody{r.Body}, maxSmallBody+1))
			if err != nil {
				return identity.Caller{}, err
			}
			r.Body.Close()
			r.Body = io.NopCloser(bytes.NewReader(body))
			hash = auth.PayloadHash(body)
		default:
			// Too large to hash up front; in strict mode the signature
			// cannot match, as S3 requires the header.
			hash = unsignedPayload
		}
	}
	return h.auth.Authenticate(r, hash)
}

// subresources are the query parameters that select an operation other
// than the plain one for a method and path. Any other query parameter
// (x-id, response-*, prefix, ...) is an argument.
var subresources = []string{
	"accelerate", "acl", "analytics", "attributes", "cors", "delete", "encryption", "intelligent-tiering",
	"inventory", "legal-hold", "lifecycle", "location", "logging", "metadataConfiguration", "metrics",
	"notification", "object-lock", "ownershipControls", "partNumber", "policy", "policyStatus",
	"publicAccessBlock", "replication", "requestPayment", "restore", "retention", "select", "session",
	"tagging", "torrent", "uploadId", "uploads", "versioning", "versions", "website",
}

// subresource returns the request's subresource ("" for none).
func (req *request) subresource() string {
	for _, s := range subresources {
		if _, ok := req.query[s]; ok {
			return s
		}
	}
	return ""
}

func (req *request) has(param string) bool {
	_, ok := req.query[param]
	return ok
}

func (req *request) param(name string) string {
	if v := req.query[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (h *Handler) route(req *request) {
	m := req.r.Method
	sub := req.subresource()
	switch {
	case req.bucket == "":
		if m == http.MethodGet || m == http.MethodHead {
			h.listBuckets(req)
			return
		}
	case req.key == "":
		switch {
		case m == http.MethodPut && sub == "":
			h.createBucket(req)
		case m == http.MethodHead && sub == "":
			h.headBucket(req)
		case m == http.MethodDelete && sub == "":
			h.deleteBucket(req)
		case m == http.MethodGet && sub == "location":
			h.getBucketLocation(req)
		case m == http.MethodGet && sub == "versioning":
			h.getBucketVersioning(req)
		case m == http.MethodGet && sub == "" && req.param("list-type") == "2":
			h.listObjectsV2(req)
		case m == http.MethodGet && sub == "":
			h.listObjectsV1(req)
		case m == http.MethodPost && sub == "delete":
			h.deleteObjects(req)
		default:
			h.notImplemented(req, sub)
		}
		return
	default:
		copySource := req.r.Header.Get("X-Amz-Copy-Source") != ""
		switch {
		case m == http.MethodPut && req.has("partNumber") && req.has("uploadId") && copySource:
			h.uploadPartCopy(req)
		case m == http.MethodPut && req.has("partNumber") && req.has("uploadId"):
			h.uploadPart(req)
		case m == http.MethodPut && sub == "" && copySource:
			h.copyObject(req)
		case m == http.MethodPut && sub == "":
			h.putObject(req)
		case (m == http.MethodGet || m == http.MethodHead) && (sub == "" || sub == "partNumber"):
			h.getObject(req)
		case m == http.MethodGet && sub == "uploadId":
			h.listParts(req)
		case m == http.MethodDelete && sub == "uploadId":
			h.abortMultipartUpload(req)
		case m == http.MethodDelete && sub == "":
			h.deleteObject(req)
		case m == http.MethodPost && sub == "uploads":
			h.createMultipartUpload(req)
		case m == http.MethodPost && sub == "uploadId":
			h.completeMultipartUpload(req)
		default:
			h.notImplemented(req, sub)
		}
		return
	}
	h.writeError(req, newError("MethodNotAllowed", "The specified method is not allowed against this resource."))
}

func (h *Handler) notImplemented(req *request, sub string) {
	what := req.r.Method + " on this resource"
	if sub != "" {
		what = req.r.Method + " ?" + sub
	}
	h.writeError(req, errNotImplemented(what))
}

// writeXML writes a 200 response with the XML document v.
func (h *Handler) writeXML(req *request, status int, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		h.writeError(req, err)
		return
	}
	w := req.w
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", itoa(int64(len(xml.Header)+len(body))))
	w.WriteHeader(status)
	if req.r.Method != http.MethodHead {
		io.WriteString(w, xml.Header)
		w.Write(body)
	}
}

// writeError writes err as an S3 error response.
func (h *Handler) writeError(req *request, err error) {
	ae := toAPIError(err)
	if ae.Status >= 500 {
		h.log.Error("s3 request failed", "method", req.r.Method, "path", req.r.URL.Path, "requestId", req.id, "error", err)
	} else {
		h.log.Debug("s3 request rejected", "method", req.r.Method, "path", req.r.URL.Path, "requestId", req.id, "code", ae.Code, "error", err)
	}
	hdr := req.w.Header()
	for k, v := range ae.Header {
		hdr[k] = v
	}
	if ae.Status == http.StatusNotModified || req.r.Method == http.MethodHead {
		// No body: HEAD responses have none, nor does 304.
		hdr.Del("Content-Length")
		req.w.WriteHeader(ae.Status)
		return
	}
	resource := req.r.URL.Path
	body, xerr := xml.Marshal(errorBody{Code: ae.Code, Message: ae.Message, Resource: resource,
		BucketName: bucketForError(ae.Code, req.bucket), Key: keyForError(ae.Code, req.key), RequestID: req.id})
	if xerr != nil {
		body = nil
	}
	hdr.Set("Content-Type", "application/xml")
	hdr.Set("Content-Length", itoa(int64(len(xml.Header)+len(body))))
	req.w.WriteHeader(ae.Status)
	io.WriteString(req.w, xml.Header)
	req.w.Write(body)
}

func bucketForError(code, bucket string) string {
	switch code {
	case "NoSuchBucket", "BucketAlreadyExists", "BucketAlreadyOwnedByYou", "BucketNotEmpty", "InvalidBucketName":
		return bucket
	}
	return ""
}

func keyForError(code, key string) string {
	if code == "NoSuchKey" {
		return key
	}
	return ""
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func md5Sum(b []byte) []byte {
	s := md5.Sum(b)
	return s[:]
}

// readSmallBody reads a bounded XML request body through the payload
// checks (signed SHA-256, aws-chunked, Content-MD5 and checksum headers).
func readSmallBody(req *request) ([]byte, error) {
	p, err := openPayload(req.r, maxSmallBody)
	if err != nil {
		return nil, err
	}
	spec, err := requestChecksum(req.r, p)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(p, maxSmallBody+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxSmallBody {
		return nil, newError("MaxMessageLengthExceeded", "Your request was too big.")
	}
	if err := verifyChecksumBytes(spec, body); err != nil {
		return nil, err
	}
	return body, nil
}
