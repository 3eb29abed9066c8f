package s3api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cleanroomsd/cleanroomsd/internal/objectstore"
)

// maxMetadataSize bounds user metadata, as S3 does (2 KB).
const maxMetadataSize = 2048

func quoteETag(etag string) string { return `"` + etag + `"` }

// objectOptions reads the system and user metadata of an upload.
func objectOptions(hdr http.Header) (objectstore.PutOptions, error) {
	o := objectstore.PutOptions{
		ContentType:        hdr.Get("Content-Type"),
		ContentDisposition: hdr.Get("Content-Disposition"),
		ContentLanguage:    hdr.Get("Content-Language"),
		CacheControl:       hdr.Get("Cache-Control"),
		Expires:            hdr.Get("Expires"),
	}
	// aws-chunked is transport framing; S3 does not store it.
	var enc []string
	for _, v := range hdr.Values("Content-Encoding") {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" && !strings.EqualFold(t, "aws-chunked") {
				enc = append(enc, t)
			}
		}
	}
	o.ContentEncoding = strings.Join(enc, ",")
	size := 0
	for k, v := range hdr {
		lk := strings.ToLower(k)
		name, ok := strings.CutPrefix(lk, "x-amz-meta-")
		if !ok || name == "" {
			continue
		}
		if o.Metadata == nil {
			o.Metadata = map[string]string{}
		}
		val := strings.Join(v, ",")
		o.Metadata[name] = val
		size += len(name) + len(val)
	}
	if size > maxMetadataSize {
		return o, newError("MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.")
	}
	return o, nil
}

// setChecksumHeaders adds x-amz-checksum-<alg> (and its type) for c.
func setChecksumHeaders(hdr http.Header, c *objectstore.Checksum) {
	if c == nil || c.Value == "" {
		return
	}
	hdr.Set(c.Algorithm.HeaderName(), c.Value)
	if c.Type != "" {
		hdr.Set("x-amz-checksum-type", string(c.Type))
	}
}

// checksumXML returns the XML checksum elements of c.
func checksumXML(c *objectstore.Checksum) checksumFields {
	var f checksumFields
	if c == nil {
		return f
	}
	switch c.Algorithm {
	case objectstore.CRC32:
		f.ChecksumCRC32 = c.Value
	case objectstore.CRC32C:
		f.ChecksumCRC32C = c.Value
	case objectstore.CRC64NVME:
		f.ChecksumCRC64NVME = c.Value
	case objectstore.SHA1:
		f.ChecksumSHA1 = c.Value
	case objectstore.SHA256:
		f.ChecksumSHA256 = c.Value
	}
	return f
}

func (h *Handler) putObject(req *request) {
	ctx := req.r.Context()
	if _, err := h.authorizeBucket(req); err != nil {
		h.writeError(req, err)
		return
	}
	opts, err := objectOptions(req.r.Header)
	if err != nil {
		h.writeError(req, err)
		return
	}
	p, err := openPayload(req.r, objectstore.MaxObjectSize)
	if err != nil {
		h.writeError(req, err)
		return
	}
	spec, err := requestChecksum(req.r, p)
	if err != nil {
		h.writeError(req, err)
		return
	}
	opts.ChecksumAlgorithm, opts.ExpectedChecksum, opts.ExpectedMD5 = spec.alg, spec.expected, spec.md5
	if v := req.r.Header.Get("If-None-Match"); v != "" {
		if strings.TrimSpace(v) != "*" {
			h.writeError(req, errNotImplemented("If-None-Match other than *"))
			return
		}
		opts.IfNoneMatch = true
	}
	if req.r.Header.Get("If-Match") != "" {
		h.writeError(req, errNotImplemented("a conditional write with If-Match"))
		return
	}
	info, err := h.objects.Put(ctx, req.bucket, req.key, p, opts)
	if err != nil {
		h.writeError(req, err)
		return
	}
	hdr := req.w.Header()
	hdr.Set("ETag", quoteETag(info.ETag))
	setChecksumHeaders(hdr, info.Checksum)
	req.w.WriteHeader(http.StatusOK)
}

// checkConditions evaluates If-Match, If-Unmodified-Since, If-None-Match
// and If-Modified-Since the way S3 does.
func checkConditions(r *http.Request, info *objectstore.ObjectInfo) error {
	etagMatches := func(list string) bool {
		for t := range strings.SplitSeq(list, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.Trim(strings.TrimPrefix(t, "W/"), `"`) == info.ETag {
				return true
			}
		}
		return false
	}
	modified := info.LastModified.Truncate(time.Second)
	parseTime := func(v string) (time.Time, bool) {
		t, err := http.ParseTime(v)
		return t, err == nil
	}
	if v := r.Header.Get("If-Match"); v != "" {
		if !etagMatches(v) {
			return newError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
		}
	} else if t, ok := parseTime(r.Header.Get("If-Unmodified-Since")); ok && modified.After(t) {
		return newError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
	}
	if v := r.Header.Get("If-None-Match"); v != "" {
		if etagMatches(v) {
			return &apiError{Code: "NotModified", Status: http.StatusNotModified, Message: "Not Modified"}
		}
	} else if t, ok := parseTime(r.Header.Get("If-Modified-Since")); ok && !modified.After(t) {
		return &apiError{Code: "NotModified", Status: http.StatusNotModified, Message: "Not Modified"}
	}
	return nil
}

// responseOverrides are the GetObject query parameters that set response
// headers.
var responseOverrides = map[string]string{
	"response-content-type":        "Content-Type",
	"response-content-language":    "Content-Language",
	"response-expires":             "Expires",
	"response-cache-control":       "Cache-Control",
	"response-content-disposition": "Content-Disposition",
	"response-content-encoding":    "Content-Encoding",
}

// getObject serves GetObject and HeadObject.
func (h *Handler) getObject(req *request) {
	ctx := req.r.Context()
	if _, err := h.authorizeBucket(req); err != nil {
		h.writeError(req, err)
		return
	}
	var opts objectstore.GetOptions
	rangeHeader := req.r.Header.Get("Range")
	if v := req.param("partNumber"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > objectstore.MaxPartNumber {
			h.writeError(req, newError("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive"))
			return
		}
		if rangeHeader != "" {
			h.writeError(req, newError("InvalidRequest", "Cannot specify both Range header and partNumber query parameter"))
			return
		}
		opts.PartNumber = n
	} else if rg, ok := objectstore.ParseRange(rangeHeader); ok {
		opts.Range = &rg
	}
	obj, err := h.objects.Get(ctx, req.bucket, req.key, opts)
	if err != nil {
		if errors.Is(err, objectstore.ErrInvalidRange) {
			ae := newError("InvalidRange", "The requested range is not satisfiable")
			if info, herr := h.objects.Head(ctx, req.bucket, req.key); herr == nil {
				ae.Header = http.Header{"Content-Range": {fmt.Sprintf("bytes */%d", info.Size)}}
			}
			err = ae
		}
		h.writeError(req, err)
		return
	}
	defer obj.Body.Close()
	info := &obj.Info
	if err := checkConditions(req.r, info); err != nil {
		if ae, ok := err.(*apiError); ok && ae.Status == http.StatusNotModified {
			req.w.Header().Set("ETag", quoteETag(info.ETag))
			req.w.Header().Set("Last-Modified", info.LastModified.UTC().Format(http.TimeFormat))
		}
		h.writeError(req, err)
		return
	}
	hdr := req.w.Header()
	ct := info.ContentType
	if ct == "" {
		ct = "binary/octet-stream"
	}
	hdr.Set("Content-Type", ct)
	for k, v := range map[string]string{
		"Content-Encoding": info.ContentEncoding, "Content-Disposition": info.ContentDisposition,
		"Content-Language": info.ContentLanguage, "Cache-Control": info.CacheControl, "Expires": info.Expires,
	} {
		if v != "" {
			hdr.Set(k, v)
		}
	}
	for name, v := range info.Metadata {
		hdr["X-Amz-Meta-"+name] = []string{v}
	}
	for q, name := range responseOverrides {
		if v := req.param(q); v != "" {
			hdr.Set(name, v)
		}
	}
	hdr.Set("ETag", quoteETag(info.ETag))
	hdr.Set("Last-Modified", info.LastModified.UTC().Format(http.TimeFormat))
	hdr.Set("Accept-Ranges", "bytes")
	if len(info.PartSizes) > 0 {
		hdr.Set("x-amz-mp-parts-count", strconv.Itoa(len(info.PartSizes)))
	}
	if strings.EqualFold(req.r.Header.Get("X-Amz-Checksum-Mode"), "ENABLED") && !obj.Partial {
		setChecksumHeaders(hdr, info.Checksum)
	}
	hdr.Set("Content-Length", itoa(obj.Length))
	status := http.StatusOK
	if obj.Partial {
		status = http.StatusPartialContent
		last := obj.Offset + obj.Length - 1
		if obj.Length == 0 {
			last = obj.Offset
		}
		hdr.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", obj.Offset, last, info.Size))
	}
	req.w.WriteHeader(status)
	if req.r.Method == http.MethodHead {
		return
	}
	buf := make([]byte, 256<<10)
	if _, err := io.CopyBuffer(req.w, obj.Body, buf); err != nil {
		h.log.Debug("s3: GetObject: sending the body", "bucket", req.bucket, "key", req.key, "error", err)
	}
}

func (h *Handler) deleteObject(req *request) {
	if _, err := h.authorizeBucket(req); err != nil {
		h.writeError(req, err)
		return
	}
	if err := h.objects.Delete(req.r.Context(), req.bucket, req.key); err != nil {
		h.writeError(req, err)
		return
	}
	req.w.WriteHeader(http.StatusNoContent)
}

// copySource parses X-Amz-Copy-Source ("[/]bucket/key[?versionId=...]",
// URL-encoded) and checks that the caller owns the source bucket.
func (h *Handler) copySource(req *request) (bucket, key string, err error) {
	src := req.r.Header.Get("X-Amz-Copy-Source")
	path, query, _ := strings.Cut(src, "?")
	if query != "" {
		if q, _ := url.ParseQuery(query); q.Get("versionId") != "" && q.Get("versionId") != "null" {
			return "", "", newError("NoSuchVersion", "The specified version does not exist.")
		}
	}
	dec, uerr := url.PathUnescape(path)
	if uerr != nil {
		return "", "", newError("InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	}
	bucket, key, _ = strings.Cut(strings.TrimPrefix(dec, "/"), "/")
	if bucket == "" || key == "" {
		return "", "", newError("InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	}
	if _, err := h.authorizeNamedBucket(req, bucket); err != nil {
		return "", "", err
	}
	return bucket, key, nil
}

// copyConditions evaluates the x-amz-copy-source-if-* headers.
func copyConditions(r *http.Request, info *objectstore.ObjectInfo) error {
	fake := &http.Request{Header: http.Header{}}
	for _, pair := range [][2]string{
		{"X-Amz-Copy-Source-If-Match", "If-Match"}, {"X-Amz-Copy-Source-If-None-Match", "If-None-Match"},
		{"X-Amz-Copy-Source-If-Modified-Since", "If-Modified-Since"}, {"X-Amz-Copy-Source-If-Unmodified-Since", "If-Unmodified-Since"},
	} {
		if v := r.Header.Get(pair[0]); v != "" {
			fake.Header.Set(pair[1], v)
		}
	}
	if err := checkConditions(fake, info); err != nil {
		return newError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
	}
	return nil
}

func (h *Handler) copyObject(req *request) {
	ctx := req.r.Context()
	if _, err := h.authorizeBucket(req); err != nil {
		h.writeError(req, err)
		return
	}
	srcBucket, srcKey, err := h.copySource(req)
	if err != nil {
		h.writeError(req, err)
		return
	}
	src, err := h.objects.Get(ctx, srcBucket, srcKey, objectstore.GetOptions{})
	if err != nil {
		h.writeError(req, err)
		return
	}
	defer src.Body.Close()
	if err := copyConditions(req.r, &src.Info); err != nil {
		h.writeError(req, err)
		return
	}
	var opts objectstore.PutOptions
	switch d := req.r.Header.Get("X-Amz-Metadata-Directive"); d {
	case "", "COPY":
		if srcBucket == req.bucket && srcKey == req.key && req.r.Header.Get("X-Amz-Checksum-Algorithm") == "" {
			h.writeError(req, newError("InvalidRequest", "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."))
			return
		}
		i := src.Info
		opts = objectstore.PutOptions{ContentType: i.ContentType, ContentEncoding: i.ContentEncoding,
			ContentDisposition: i.ContentDisposition, ContentLanguage: i.ContentLanguage, CacheControl: i.CacheControl,
			Expires: i.Expires, Metadata: i.Metadata}
	case "REPLACE":
		if opts, err = objectOptions(req.r.Header); err != nil {
			h.writeError(req, err)
			return
		}
	default:
		h.writeError(req, newError("InvalidArgument", "Unknown metadata directive."))
		return
	}
	if v := req.r.Header.Get("X-Amz-Checksum-Algorithm"); v != "" {
		a, ok := objectstore.ParseChecksumAlgorithm(v)
		if !ok {
			h.writeError(req, newError("InvalidRequest", "Checksum algorithm provided is unsupported."))
			return
		}
		opts.ChecksumAlgorithm = a
	} else if src.Info.Checksum != nil {
		opts.ChecksumAlgorithm = src.Info.Checksum.Algorithm
	}
	info, err := h.objects.Put(ctx, req.bucket, req.key, src.Body, opts)
	if err != nil {
		h.writeError(req, err)
		return
	}
	res := copyObjectResult{LastModified: xmlTime(info.LastModified), ETag: quoteETag(info.ETag), checksumFields: checksumXML(info.Checksum)}
	if info.Checksum != nil {
		res.ChecksumType = string(info.Checksum.Type)
	}
	h.writeXML(req, http.StatusOK, res)
}
