package s3api

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cleanroomsd/cleanroomsd/internal/objectstore"
)

func (h *Handler) createMultipartUpload(req *request) {
	if _, err := h.authorizeBucket(req); err != nil {
		h.writeError(req, err)
		return
	}
	opts, err := objectOptions(req.r.Header)
	if err != nil {
		h.writeError(req, err)
		return
	}
	if v := req.r.Header.Get("X-Amz-Checksum-Algorithm"); v != "" {
		a, ok := objectstore.ParseChecksumAlgorithm(v)
		if !ok {
			h.writeError(req, newError("InvalidRequest", "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]"))
			return
		}
		opts.ChecksumAlgorithm = a
		opts.ChecksumType = objectstore.DefaultChecksumType(a)
		if t := req.r.Header.Get("X-Amz-Checksum-Type"); t != "" {
			opts.ChecksumType = objectstore.ChecksumType(strings.ToUpper(t))
		}
		if !objectstore.ChecksumTypeAllowed(a, opts.ChecksumType) {
			h.writeError(req, newError("InvalidRequest", "The %s checksum type cannot be used with the %s checksum algorithm.", strings.ToLower(string(opts.ChecksumType)), strings.ToLower(string(a))))
			return
		}
	} else if req.r.Header.Get("X-Amz-Checksum-Type") != "" {
		h.writeError(req, newError("InvalidRequest", "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."))
		return
	}
	id, err := h.objects.CreateMultipartUpload(req.r.Context(), req.bucket, req.key, opts)
	if err != nil {
		h.writeError(req, err)
		return
	}
	if opts.ChecksumAlgorithm != "" {
		req.w.Header().Set("x-amz-checksum-algorithm", string(opts.ChecksumAlgorithm))
		req.w.Header().Set("x-amz-checksum-type", string(opts.ChecksumType))
	}
	h.writeXML(req, http.StatusOK, initiateMultipartUploadResult{Bucket: req.bucket, Key: req.key, UploadID: id})
}

// partNumber parses the partNumber query parameter.
func partNumber(req *request) (int, error) {
	n, err := strconv.Atoi(req.param("partNumber"))
	if err != nil || n < 1 || n > objectstore.MaxPartNumber {
		return 0, newError("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
	}
	return n, nil
}

func (h *Handler) uploadPart(req *request) {
	if _, err := h.authorizeBucket(req); err != nil {
		h.writeError(req, err)
		return
	}
	n, err := partNumber(req)
	if err != nil {
		h.writeError(req, err)
		return
	}
	p, err := openPayload(req.r, objectstore.MaxPartSize)
	if err != nil {
		h.writeError(req, err)
		return
	}
	spec, err := requestChecksum(req.r, p)
	if err != nil {
		h.writeError(req, err)
		return
	}
	part, err := h.objects.UploadPart(req.r.Context(), req.bucket, req.key, req.param("uploadId"), n, p,
		objectstore.PartOptions{ChecksumAlgorithm: spec.alg, ExpectedChecksum: spec.expected, ExpectedMD5: spec.md5})
	if err != nil {
		h.writeError(req, err)
		return
	}
	hdr := req.w.Header()
	hdr.Set("ETag", quoteETag(part.ETag))
	if part.Checksum != nil {
		hdr.Set(part.Checksum.Algorithm.HeaderName(), part.Checksum.Value)
	}
	req.w.WriteHeader(http.StatusOK)
}

func (h *Handler) uploadPartCopy(req *request) {
	ctx := req.r.Context()
	if _, err := h.authorizeBucket(req); err != nil {
		h.writeError(req, err)
		return
	}
	n, err := partNumber(req)
	if err != nil {
		h.writeError(req, err)
		return
	}
	srcBucket, srcKey, err := h.copySource(req)
	if err != nil {
		h.writeError(req, err)
		return
	}
	var opts objectstore.GetOptions
	if v := req.r.Header.Get("X-Amz-Copy-Source-Range"); v != "" {
		rg, ok := objectstore.ParseRange(v)
		if !ok || rg.SuffixLength > 0 || rg.Last < 0 {
			h.writeError(req, newError("InvalidArgument", "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"))
			return
		}
		opts.Range = &rg
	}
	src, err := h.objects.Get(ctx, srcBucket, srcKey, opts)
	if err != nil {
		h.writeError(req, err)
		return
	}
	defer src.Body.Close()
	if err := copyConditions(req.r, &src.Info); err != nil {
		h.writeError(req, err)
		return
	}
	part, err := h.objects.UploadPart(ctx, req.bucket, req.key, req.param("uploadId"), n, src.Body, objectstore.PartOptions{})
	if err != nil {
		h.writeError(req, err)
		return
	}
	h.writeXML(req, http.StatusOK, copyPartResult{LastModified: xmlTime(part.LastModified), ETag: quoteETag(part.ETag), checksumFields: checksumXML(part.Checksum)})
}

// completeKeepAlive is how long CompleteMultipartUpload may take before the
// handler commits to a 200 response and sends whitespace while the parts
// are concatenated, as S3 does, so that clients do not time out on large
// objects. An error found after that is sent as an <Error> document in the
// 200 response, which the SDKs recognize.
var completeKeepAlive = 10 * time.Second

func (h *Handler) completeMultipartUpload(req *request) {
	ctx := req.r.Context()
	if _, err := h.authorizeBucket(req); err != nil {
		h.writeError(req, err)
		return
	}
	body, err := readSmallBody(req)
	if err != nil {
		h.writeError(req, err)
		return
	}
	var doc completeMultipartUpload
	if err := xml.Unmarshal(body, &doc); err != nil || len(doc.Parts) == 0 {
		h.writeError(req, errMalformedXML())
		return
	}
	parts := make([]objectstore.CompletePart, len(doc.Parts))
	for i, p := range doc.Parts {
		c := p.checksumFields
		parts[i] = objectstore.CompletePart{PartNumber: p.PartNumber, ETag: p.ETag,
			Checksum: c.ChecksumCRC32 + c.ChecksumCRC32C + c.ChecksumCRC64NVME + c.ChecksumSHA1 + c.ChecksumSHA256}
	}
	type result struct {
		info *objectstore.ObjectInfo
		err  error
	}
	done := make(chan result, 1)
	go func() {
		info, err := h.objects.CompleteMultipartUpload(ctx, req.bucket, req.key, req.param("uploadId"), parts)
		done <- result{info, err}
	}()
	var res result
	committed := false
	timer := time.NewTimer(completeKeepAlive)
	defer timer.Stop()
wait:
	for {
		select {
		case res = <-done:
			break wait
		case <-timer.C:
			if !committed {
				committed = true
				req.w.Header().Set("Content-Type", "application/xml")
				req.w.WriteHeader(http.StatusOK)
				io.WriteString(req.w, xml.Header)
			}
			io.WriteString(req.w, " ")
			if f, ok := req.w.(http.Flusher); ok {
				f.Flush()
			}
			timer.Reset(completeKeepAlive)
		}
	}
	var doc2 any
	if res.err != nil {
		if !committed {
			h.writeError(req, res.err)
			return
		}
		ae := toAPIError(res.err)
		if ae.Status >= 500 {
			h.log.Error("s3: CompleteMultipartUpload", "bucket", req.bucket, "key", req.key, "error", res.err)
		}
		doc2 = errorBody{Code: ae.Code, Message: ae.Message, Resource: req.r.URL.Path, RequestID: req.id}
	} else {
		out := completeMultipartUploadResult{Location: objectURL(req.r, req.bucket, req.key), Bucket: req.bucket, Key: req.key,
			ETag: quoteETag(res.info.ETag), checksumFields: checksumXML(res.info.Checksum)}
		if res.info.Checksum != nil {
			out.ChecksumType = string(res.info.Checksum.Type)
		}
		doc2 = out
	}
	if !committed {
		h.writeXML(req, http.StatusOK, doc2)
		return
	}
	b, err := xml.Marshal(doc2)
	if err == nil {
		req.w.Write(b)
	}
}

func (h *Handler) abortMultipartUpload(req *request) {
	if _, err := h.authorizeBucket(req); err != nil {
		h.writeError(req, err)
		return
	}
	if err := h.objects.AbortMultipartUpload(req.r.Context(), req.bucket, req.key, req.param("uploadId")); err != nil {
		h.writeError(req, err)
		return
	}
	req.w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) listParts(req *request) {
	if _, err := h.authorizeBucket(req); err != nil {
		h.writeError(req, err)
		return
	}
	var opts objectstore.ListPartsOptions
	for name, dst := range map[string]*int{"part-number-marker": &opts.PartNumberMarker, "max-parts": &opts.MaxParts} {
		if v := req.param(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				h.writeError(req, newError("InvalidArgument", "%s must be a non-negative integer", name))
				return
			}
			*dst = n
		}
	}
	maxParts := opts.MaxParts
	if maxParts <= 0 || maxParts > 1000 {
		maxParts = 1000
	}
	res, err := h.objects.ListParts(req.r.Context(), req.bucket, req.key, req.param("uploadId"), opts)
	if err != nil {
		h.writeError(req, err)
		return
	}
	who := owner{ID: req.caller.AccountID, DisplayName: req.caller.AccountID}
	out := listPartsResult{Bucket: req.bucket, Key: req.key, UploadID: req.param("uploadId"), Initiator: who, Owner: who,
		StorageClass: "STANDARD", PartNumberMarker: opts.PartNumberMarker, NextPartNumberMarker: res.NextPartNumberMarker,
		MaxParts: maxParts, IsTruncated: res.IsTruncated,
		ChecksumAlgorithm: string(res.Upload.ChecksumAlgorithm), ChecksumType: string(res.Upload.ChecksumType)}
	for _, p := range res.Parts {
		out.Parts = append(out.Parts, partXML{PartNumber: p.PartNumber, LastModified: xmlTime(p.LastModified),
			ETag: quoteETag(p.ETag), Size: p.Size, checksumFields: checksumXML(p.Checksum)})
	}
	h.writeXML(req, http.StatusOK, out)
}

// objectURL returns the path-style URL of an object as the client reached
// the server.
func objectURL(r *http.Request, bucket, key string) string {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: r.Host, Path: "/" + bucket + "/" + key}
	return u.String()
}
