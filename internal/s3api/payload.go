package s3api

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/cleanroomsd/cleanroomsd/internal/objectstore"
)

// X-Amz-Content-Sha256 values that are not a hash.
const (
	unsignedPayload = "UNSIGNED-PAYLOAD"
	streamingPrefix = "STREAMING-"
)

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// payload is a request body as the handler reads it: aws-chunked framing
// removed, the signed SHA-256 verified at its end, and every read error of
// the connection turned into an S3 error.
type payload struct {
	io.Reader
	// chunked is the aws-chunked decoder, nil when the body is not
	// aws-chunked; it holds the trailers once the body has been read.
	chunked *chunkedReader
}

// clientBody turns errors reading the request body (the client went away,
// sent fewer bytes than announced, or more than the server accepts) into
// S3 errors, so they are not mistaken for server failures.
type clientBody struct{ r io.Reader }

func (c clientBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return n, newError("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
		}
		return n, newError("IncompleteBody", "The request body ended early: %v", err)
	}
	return n, err
}

// openPayload prepares r's body for reading; limit is the largest decoded
// body accepted.
func openPayload(r *http.Request, limit int64) (*payload, error) {
	sha := strings.TrimSpace(r.Header.Get("X-Amz-Content-Sha256"))
	var body io.Reader = clientBody{r.Body}
	if strings.HasPrefix(sha, streamingPrefix) || hasToken(r.Header.Values("Content-Encoding"), "aws-chunked") {
		decoded := int64(-1)
		if v := r.Header.Get("X-Amz-Decoded-Content-Length"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, newError("InvalidArgument", "x-amz-decoded-content-length is not a valid length.")
			}
			decoded = n
		}
		if decoded > limit {
			return nil, objectstore.ErrEntityTooLarge
		}
		cr := newChunkedReader(body, decoded, headerList(r.Header.Values("X-Amz-Trailer")))
		return &payload{Reader: cr, chunked: cr}, nil
	}
	if r.ContentLength > limit {
		return nil, objectstore.ErrEntityTooLarge
	}
	if isHexSHA256(sha) {
		body = &sha256Reader{r: body, h: sha256.New(), want: strings.ToLower(sha)}
	}
	return &payload{Reader: body}, nil
}

// sha256Reader fails at the end of the body when its SHA-256 is not the
// signed one, instead of returning io.EOF.
type sha256Reader struct {
	r    io.Reader
	h    hash.Hash
	want string
}

func (s *sha256Reader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.h.Write(p[:n])
	if err == io.EOF && hex.EncodeToString(s.h.Sum(nil)) != s.want {
		return n, newError("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	return n, err
}

func hasToken(values []string, token string) bool {
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// headerList splits comma-separated header values into lowercase names.
func headerList(values []string) []string {
	var out []string
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.ToLower(strings.TrimSpace(t)); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

// Bounds of the aws-chunked framing.
const (
	maxChunkLine = 4096 // a chunk header or trailer line
	maxTrailers  = 16
)

// chunkedReader decodes an aws-chunked body
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html):
//
//	hex-size[;chunk-signature=sig]\r\n data \r\n ... 0[;...]\r\n
//	[trailer-name:value\r\n ...] \r\n
//
// as it streams. It returns io.EOF only after the final chunk and the
// trailers have been read, the decoded length matched
// X-Amz-Decoded-Content-Length and every trailer named in X-Amz-Trailer was
// sent. Chunk signatures are skipped, not verified.
type chunkedReader struct {
	br       *bufio.Reader
	expected int64 // decoded length, -1 if unknown
	declared []string

	left     int64 // bytes left in the current chunk
	started  bool  // a chunk has been read (so a CRLF precedes the next)
	decoded  int64
	err      error
	trailers map[string]string
}

func newChunkedReader(r io.Reader, expected int64, declared []string) *chunkedReader {
	return &chunkedReader{br: bufio.NewReaderSize(r, maxChunkLine), expected: expected, declared: declared, trailers: map[string]string{}}
}

// Trailer returns the value of a trailer (name lowercase) once the body has
// been read to its end.
func (c *chunkedReader) Trailer(name string) string { return c.trailers[name] }

func errChunked(msg string) error {
	return newError("IncompleteBody", "The aws-chunked request body is malformed: %s", msg)
}

func (c *chunkedReader) readLine() (string, error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return "", errChunked("line too long")
		}
		if err == io.EOF {
			if len(line) == 0 {
				return "", io.EOF
			}
			return "", errChunked("unexpected end of body")
		}
		return "", err
	}
	return string(bytes.TrimRight(line, "\r\n")), nil
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.left == 0 {
		if err := c.nextChunk(); err != nil {
			c.err = err
			return 0, err
		}
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	c.decoded += int64(n)
	if err == io.EOF {
		err = errChunked("unexpected end of body")
	}
	if err != nil {
		c.err = err
	}
	return n, err
}

// nextChunk reads the next chunk header; at the final chunk it reads the
// trailers and returns io.EOF.
func (c *chunkedReader) nextChunk() error {
	if c.started {
		line, err := c.readLine()
		if err != nil {
			if err == io.EOF {
				return errChunked("unexpected end of body")
			}
			return err
		}
		if line != "" {
			return errChunked("chunk data longer than its size")
		}
	}
	c.started = true
	line, err := c.readLine()
	if err != nil {
		if err == io.EOF {
			return errChunked("unexpected end of body")
		}
		return err
	}
	sizeText, _, _ := strings.Cut(line, ";")
	size, err := strconv.ParseInt(strings.TrimSpace(sizeText), 16, 64)
	if err != nil || size < 0 {
		return errChunked("bad chunk size")
	}
	if size > 0 {
		if c.expected >= 0 && c.decoded+size > c.expected {
			return newError("IncompleteBody", "The body is longer than x-amz-decoded-content-length.")
		}
		c.left = size
		return nil
	}
	// Final chunk: trailers until an empty line (or the end of the body).
	for {
		line, err := c.readLine()
		if err == io.EOF || (err == nil && line == "") {
			break
		}
		if err != nil {
			return err
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || len(c.trailers) >= maxTrailers {
			return errChunked("bad trailer")
		}
		c.trailers[strings.ToLower(strings.TrimSpace(name))] = strings.TrimSpace(value)
	}
	if c.expected >= 0 && c.decoded != c.expected {
		return newError("IncompleteBody", "You did not provide the number of bytes specified by the x-amz-decoded-content-length HTTP header.")
	}
	for _, name := range c.declared {
		if _, ok := c.trailers[name]; !ok {
			return newError("InvalidRequest", "The trailer %s declared in x-amz-trailer was not sent.", name)
		}
	}
	return io.EOF
}

// checksumSpec is the additional checksum a request asks for.
type checksumSpec struct {
	alg objectstore.ChecksumAlgorithm
	// expected returns the value to verify (from a header, or from a
	// trailer once the body is read); nil when the client sent none.
	expected func() string
	// md5 is the Content-MD5, when sent.
	md5 []byte
}

// requestChecksum reads the checksum headers of an upload: one
// x-amz-checksum-<alg> header or an x-amz-trailer naming one, else
// x-amz-sdk-checksum-algorithm alone (compute and store, nothing to
// verify), and Content-MD5.
func requestChecksum(r *http.Request, p *payload) (checksumSpec, error) {
	var spec checksumSpec
	if v := r.Header.Get("Content-MD5"); v != "" {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
		if err != nil || len(b) != 16 {
			return spec, newError("InvalidDigest", "The Content-MD5 you specified was invalid.")
		}
		spec.md5 = b
	}
	for _, a := range objectstore.ChecksumAlgorithms {
		v := r.Header.Get(a.HeaderName())
		if v == "" {
			continue
		}
		if spec.alg != "" {
			return spec, newError("InvalidRequest", "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		if !a.ValidValue(strings.TrimSpace(v)) {
			return spec, newError("InvalidRequest", "Value for %s header is invalid.", a.HeaderName())
		}
		v = strings.TrimSpace(v)
		spec.alg, spec.expected = a, func() string { return v }
	}
	for _, name := range headerList(r.Header.Values("X-Amz-Trailer")) {
		suffix, ok := strings.CutPrefix(name, "x-amz-checksum-")
		if !ok {
			continue
		}
		a, ok := objectstore.ParseChecksumAlgorithm(suffix)
		if !ok {
			return spec, newError("InvalidRequest", "The value specified in the x-amz-trailer header is not supported.")
		}
		if spec.alg != "" {
			return spec, newError("InvalidRequest", "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		if p == nil || p.chunked == nil {
			return spec, newError("InvalidRequest", "x-amz-trailer requires an aws-chunked body.")
		}
		cr := p.chunked
		spec.alg, spec.expected = a, func() string { return cr.Trailer(name) }
	}
	if spec.alg == "" {
		if v := r.Header.Get("X-Amz-Sdk-Checksum-Algorithm"); v != "" {
			a, ok := objectstore.ParseChecksumAlgorithm(strings.TrimSpace(v))
			if !ok {
				return spec, newError("InvalidRequest", "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
			}
			spec.alg = a
		}
	}
	return spec, nil
}

// verifyChecksumBytes checks a fully read (small) body against spec.
func verifyChecksumBytes(spec checksumSpec, body []byte) error {
	if spec.md5 != nil {
		h := md5Sum(body)
		if !bytes.Equal(h, spec.md5) {
			return newError("BadDigest", "The Content-MD5 you specified did not match what we received.")
		}
	}
	if spec.alg != "" && spec.expected != nil {
		h, err := spec.alg.New()
		if err != nil {
			return err
		}
		h.Write(body)
		if want := spec.expected(); want != "" && want != objectstore.EncodeChecksum(h.Sum(nil)) {
			return newError("BadDigest", "The %s you specified did not match the calculated checksum.", spec.alg)
		}
	}
	return nil
}
