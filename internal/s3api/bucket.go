package s3api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/objectstore"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
)

// BucketKind is the store record kind of an S3 bucket. The record's ID is
// the bucket name, its Account the owning account and its Data a JSON
// object {"creationDate": RFC 3339, "region": "..."}.
const BucketKind = "s3bucket"

// bucketData is the Data of a bucket record.
type bucketData struct {
	CreationDate time.Time `json:"creationDate"`
	Region       string    `json:"region"`
}

// BucketOwner returns the account that owns bucket, or a fault.NotFound
// error when there is no such bucket.
func BucketOwner(ctx context.Context, meta store.Store, bucket string) (string, error) {
	var account string
	err := meta.View(ctx, func(tx store.Tx) error {
		rec, err := tx.Get(ctx, BucketKind, bucket)
		if err != nil {
			return err
		}
		account = rec.Account
		return nil
	})
	if err != nil {
		if fault.KindOf(err) == fault.NotFound {
			return "", fault.Missing("Bucket", bucket, "The bucket %s does not exist.", bucket)
		}
		return "", err
	}
	return account, nil
}

// ValidBucketName reports whether name follows S3's bucket naming rules:
// 3 to 63 characters of lowercase letters, digits, dots and hyphens,
// starting and ending with a letter or digit, no two adjacent dots, not
// shaped like an IPv4 address, and none of the prefixes and suffixes S3
// reserves.
func ValidBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && c != '.' && c != '-' {
			return false
		}
		if (i == 0 || i == len(name)-1) && !alnum {
			return false
		}
	}
	if strings.Contains(name, "..") {
		return false
	}
	if ip := net.ParseIP(name); ip != nil && ip.To4() != nil {
		return false
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return false
		}
	}
	return true
}

func errNoSuchBucket() *apiError {
	return newError("NoSuchBucket", "The specified bucket does not exist")
}

// authorizeBucket returns the record of the request's bucket after checking
// that the caller owns it.
func (h *Handler) authorizeBucket(req *request) (*store.Record, error) {
	return h.authorizeNamedBucket(req, req.bucket)
}

func (h *Handler) authorizeNamedBucket(req *request, bucket string) (*store.Record, error) {
	var rec *store.Record
	err := h.meta.View(req.r.Context(), func(tx store.Tx) error {
		var err error
		rec, err = tx.Get(req.r.Context(), BucketKind, bucket)
		return err
	})
	if err != nil {
		if fault.KindOf(err) == fault.NotFound {
			return nil, errNoSuchBucket()
		}
		return nil, err
	}
	if rec.Account != req.caller.AccountID {
		return nil, errAccessDenied()
	}
	if want := req.r.Header.Get("X-Amz-Expected-Bucket-Owner"); want != "" && want != rec.Account {
		return nil, errAccessDenied()
	}
	return rec, nil
}

func recordRegion(rec *store.Record, fallback string) string {
	var d bucketData
	if json.Unmarshal(rec.Data, &d) == nil && d.Region != "" {
		return d.Region
	}
	return fallback
}

func (h *Handler) createBucket(req *request) {
	ctx := req.r.Context()
	name := req.bucket
	if !ValidBucketName(name) {
		h.writeError(req, newError("InvalidBucketName", "The specified bucket is not valid."))
		return
	}
	body, err := readSmallBody(req)
	if err != nil {
		h.writeError(req, err)
		return
	}
	region := h.region
	if len(strings.TrimSpace(string(body))) > 0 {
		var cfg createBucketConfiguration
		if err := xml.Unmarshal(body, &cfg); err != nil {
			h.writeError(req, errMalformedXML())
			return
		}
		if cfg.LocationConstraint != "" {
			region = cfg.LocationConstraint
		}
	}
	now := time.Now().UTC()
	data, err := json.Marshal(bucketData{CreationDate: now, Region: region})
	if err != nil {
		h.writeError(req, err)
		return
	}
	var owner string
	err = h.meta.Update(ctx, func(tx store.Tx) error {
		owner = ""
		rec, err := tx.Get(ctx, BucketKind, name)
		if err == nil {
			owner = rec.Account
			return nil
		}
		if fault.KindOf(err) != fault.NotFound {
			return err
		}
		return tx.Insert(ctx, &store.Record{Kind: BucketKind, ID: name, Account: req.caller.AccountID,
			CreateTime: now, UpdateTime: now, Data: data})
	})
	if fault.KindOf(err) == fault.Conflict {
		// Created concurrently.
		owner, err = BucketOwner(ctx, h.meta, name)
	}
	if err != nil {
		h.writeError(req, err)
		return
	}
	if owner != "" {
		if owner != req.caller.AccountID {
			h.writeError(req, newError("BucketAlreadyExists", "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again."))
			return
		}
		if h.region != "us-east-1" {
			h.writeError(req, newError("BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it."))
			return
		}
		// us-east-1 answers 200 to a re-create by the owner.
		if err := h.objects.CreateBucket(ctx, name); err != nil && !errors.Is(err, objectstore.ErrBucketExists) {
			h.writeError(req, err)
			return
		}
		req.w.Header().Set("Location", "/"+name)
		req.w.WriteHeader(http.StatusOK)
		return
	}
	if err := h.objects.CreateBucket(ctx, name); err != nil {
		if errors.Is(err, objectstore.ErrBucketExists) {
			// Bytes without an ownership record: reuse the namespace only
			// when it is empty, never hand someone else's objects over.
			res, lerr := h.objects.List(ctx, name, objectstore.ListOptions{MaxKeys: 1})
			if lerr == nil && len(res.Objects) == 0 && len(res.CommonPrefixes) == 0 {
				err = nil
			} else {
				h.log.Warn("s3: bucket data exists without an ownership record; refusing to create the bucket", "bucket", name)
				err = newError("BucketAlreadyExists", "The requested bucket name is not available.")
			}
		}
		if err != nil {
			h.dropBucketRecord(ctx, name)
			h.writeError(req, err)
			return
		}
	}
	req.w.Header().Set("Location", "/"+name)
	req.w.WriteHeader(http.StatusOK)
}

func (h *Handler) dropBucketRecord(ctx context.Context, name string) error {
	err := h.meta.Update(context.WithoutCancel(ctx), func(tx store.Tx) error {
		return tx.Delete(ctx, BucketKind, name)
	})
	if fault.KindOf(err) == fault.NotFound {
		return nil
	}
	return err
}

func (h *Handler) headBucket(req *request) {
	rec, err := h.authorizeBucket(req)
	if err != nil {
		h.writeError(req, err)
		return
	}
	req.w.Header().Set("x-amz-bucket-region", recordRegion(rec, h.region))
	req.w.WriteHeader(http.StatusOK)
}

func (h *Handler) deleteBucket(req *request) {
	ctx := req.r.Context()
	if _, err := h.authorizeBucket(req); err != nil {
		h.writeError(req, err)
		return
	}
	if err := h.objects.DeleteBucket(ctx, req.bucket); err != nil && !errors.Is(err, objectstore.ErrNoSuchBucket) {
		h.writeError(req, err)
		return
	}
	if err := h.dropBucketRecord(ctx, req.bucket); err != nil {
		h.writeError(req, err)
		return
	}
	req.w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) getBucketLocation(req *request) {
	rec, err := h.authorizeBucket(req)
	if err != nil {
		h.writeError(req, err)
		return
	}
	loc := recordRegion(rec, h.region)
	if loc == "us-east-1" {
		loc = ""
	}
	h.writeXML(req, http.StatusOK, locationConstraint{Value: loc})
}

func (h *Handler) getBucketVersioning(req *request) {
	if _, err := h.authorizeBucket(req); err != nil {
		h.writeError(req, err)
		return
	}
	h.writeXML(req, http.StatusOK, versioningConfiguration{})
}

func (h *Handler) listBuckets(req *request) {
	ctx := req.r.Context()
	account := req.caller.AccountID
	prefix := req.param("prefix")
	maxBuckets := 10000
	if v := req.param("max-buckets"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			h.writeError(req, newError("InvalidArgument", "max-buckets must be an integer between 1 and 10000."))
			return
		}
		maxBuckets = n
	}
	after := ""
	if tok := req.param("continuation-token"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			h.writeError(req, newError("InvalidArgument", "The continuation token provided is incorrect"))
			return
		}
		after = string(b)
	}
	var recs []*store.Record
	err := h.meta.View(ctx, func(tx store.Tx) error {
		recs = recs[:0]
		var seq int64
		for {
			page, err := tx.List(ctx, BucketKind, store.Filter{Account: account}, store.Page{After: seq, Limit: 1000})
			if err != nil {
				return err
			}
			recs = append(recs, page...)
			if len(page) < 1000 {
				return nil
			}
			seq = page[len(page)-1].Seq
		}
	})
	if err != nil {
		h.writeError(req, err)
		return
	}
	slices.SortFunc(recs, func(a, b *store.Record) int { return strings.Compare(a.ID, b.ID) })
	res := listAllMyBucketsResult{Owner: owner{ID: account, DisplayName: account}, Prefix: prefix}
	for _, rec := range recs {
		if !strings.HasPrefix(rec.ID, prefix) || rec.ID <= after {
			continue
		}
		if len(res.Buckets.Bucket) == maxBuckets {
			res.ContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(res.Buckets.Bucket[maxBuckets-1].Name))
			break
		}
		var d bucketData
		json.Unmarshal(rec.Data, &d)
		created := d.CreationDate
		if created.IsZero() {
			created = rec.CreateTime
		}
		res.Buckets.Bucket = append(res.Buckets.Bucket, bucketXML{Name: rec.ID, CreationDate: xmlTime(created), BucketRegion: recordRegion(rec, h.region)})
	}
	h.writeXML(req, http.StatusOK, res)
}

// listParams are the arguments shared by both ListObjects versions.
type listParams struct {
	prefix, delimiter string
	maxKeys           int
	encode            bool
}

func parseListParams(req *request) (listParams, error) {
	p := listParams{prefix: req.param("prefix"), delimiter: req.param("delimiter"), maxKeys: objectstore.MaxListKeys}
	if v := req.param("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, newError("InvalidArgument", "Provided max-keys not an integer or within integer range")
		}
		p.maxKeys = min(n, objectstore.MaxListKeys)
	}
	switch e := req.param("encoding-type"); e {
	case "":
	case "url":
		p.encode = true
	default:
		return p, newError("InvalidArgument", "Invalid Encoding Method specified in Request")
	}
	return p, nil
}

// encodeKey URL-encodes a key as S3 does for encoding-type=url (what
// botocore decodes with unquote_plus).
func (p listParams) encodeKey(s string) string {
	if !p.encode {
		return s
	}
	return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/")
}

func (p listParams) encodingType() string {
	if p.encode {
		return "url"
	}
	return ""
}

func (h *Handler) list(req *request, p listParams, startAfter string) (*objectstore.ListResult, error) {
	if p.maxKeys == 0 {
		return &objectstore.ListResult{}, nil
	}
	return h.objects.List(req.r.Context(), req.bucket, objectstore.ListOptions{
		Prefix: p.prefix, Delimiter: p.delimiter, StartAfter: startAfter, MaxKeys: p.maxKeys,
	})
}

func (p listParams) contents(res *objectstore.ListResult, o *owner) ([]objectXML, []commonPrefix) {
	var objs []objectXML
	for _, info := range res.Objects {
		x := objectXML{Key: p.encodeKey(info.Key), LastModified: xmlTime(info.LastModified), ETag: quoteETag(info.ETag),
			Size: info.Size, StorageClass: "STANDARD", Owner: o}
		if info.Checksum != nil {
			x.ChecksumAlgorithm, x.ChecksumType = string(info.Checksum.Algorithm), string(info.Checksum.Type)
		}
		objs = append(objs, x)
	}
	var cps []commonPrefix
	for _, cp := range res.CommonPrefixes {
		cps = append(cps, commonPrefix{Prefix: p.encodeKey(cp)})
	}
	return objs, cps
}

func (h *Handler) listObjectsV2(req *request) {
	if _, err := h.authorizeBucket(req); err != nil {
		h.writeError(req, err)
		return
	}
	p, err := parseListParams(req)
	if err != nil {
		h.writeError(req, err)
		return
	}
	startAfter := req.param("start-after")
	token := req.param("continuation-token")
	from := startAfter
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || len(b) == 0 {
			h.writeError(req, newError("InvalidArgument", "The continuation token provided is incorrect"))
			return
		}
		from = string(b)
	}
	res, err := h.list(req, p, from)
	if err != nil {
		h.writeError(req, err)
		return
	}
	var o *owner
	if req.param("fetch-owner") == "true" {
		o = &owner{ID: req.caller.AccountID, DisplayName: req.caller.AccountID}
	}
	out := listBucketResultV2{
		Name: req.bucket, Prefix: p.encodeKey(p.prefix), Delimiter: p.encodeKey(p.delimiter), MaxKeys: p.maxKeys,
		EncodingType: p.encodingType(), IsTruncated: res.IsTruncated, ContinuationToken: token,
		StartAfter: p.encodeKey(startAfter),
	}
	out.Contents, out.CommonPrefixes = p.contents(res, o)
	out.KeyCount = len(out.Contents) + len(out.CommonPrefixes)
	if res.IsTruncated {
		out.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(res.NextStartAfter))
	}
	h.writeXML(req, http.StatusOK, out)
}

func (h *Handler) listObjectsV1(req *request) {
	if _, err := h.authorizeBucket(req); err != nil {
		h.writeError(req, err)
		return
	}
	p, err := parseListParams(req)
	if err != nil {
		h.writeError(req, err)
		return
	}
	marker := req.param("marker")
	res, err := h.list(req, p, marker)
	if err != nil {
		h.writeError(req, err)
		return
	}
	out := listBucketResultV1{
		Name: req.bucket, Prefix: p.encodeKey(p.prefix), Marker: p.encodeKey(marker), Delimiter: p.encodeKey(p.delimiter),
		MaxKeys: p.maxKeys, EncodingType: p.encodingType(), IsTruncated: res.IsTruncated,
	}
	out.Contents, out.CommonPrefixes = p.contents(res, &owner{ID: req.caller.AccountID, DisplayName: req.caller.AccountID})
	if res.IsTruncated && p.delimiter != "" {
		out.NextMarker = p.encodeKey(res.NextStartAfter)
	}
	h.writeXML(req, http.StatusOK, out)
}

func (h *Handler) deleteObjects(req *request) {
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
	var d deleteRequest
	if err := xml.Unmarshal(body, &d); err != nil || len(d.Objects) == 0 || len(d.Objects) > 1000 {
		h.writeError(req, errMalformedXML())
		return
	}
	var res deleteResult
	for _, o := range d.Objects {
		if o.VersionID != "" && o.VersionID != "null" {
			res.Errors = append(res.Errors, deleteErrorXML{Key: o.Key, Code: "NoSuchVersion", Message: "The specified version does not exist."})
			continue
		}
		if err := h.objects.Delete(ctx, req.bucket, o.Key); err != nil {
			ae := toAPIError(err)
			if ae.Status >= 500 {
				h.log.Error("s3: DeleteObjects", "bucket", req.bucket, "key", o.Key, "error", err)
			}
			res.Errors = append(res.Errors, deleteErrorXML{Key: o.Key, Code: ae.Code, Message: ae.Message})
			continue
		}
		if !d.Quiet {
			res.Deleted = append(res.Deleted, deletedXML{Key: o.Key})
		}
	}
	h.writeXML(req, http.StatusOK, res)
}
