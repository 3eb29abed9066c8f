package objectstore

import (
	"strconv"
	"strings"
)

// ByteRange is a single HTTP byte range (RFC 9110 section 14.1.2).
type ByteRange struct {
	// First and Last are the inclusive offsets of bytes=First-Last; Last < 0
	// means "to the end" (bytes=First-).
	First, Last int64
	// SuffixLength > 0 selects the last SuffixLength bytes (bytes=-N);
	// First and Last are then ignored.
	SuffixLength int64
}

// ParseRange parses a Range header value. ok is false when the header is
// absent, malformed or names several ranges: S3 then ignores it and returns
// the whole object.
func ParseRange(h string) (r ByteRange, ok bool) {
	h = strings.TrimSpace(h)
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return ByteRange{}, false
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return ByteRange{}, false
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	if first == "" {
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n <= 0 {
			return ByteRange{}, false
		}
		return ByteRange{SuffixLength: n}, true
	}
	f, err := strconv.ParseInt(first, 10, 64)
	if err != nil || f < 0 {
		return ByteRange{}, false
	}
	if last == "" {
		return ByteRange{First: f, Last: -1}, true
	}
	l, err := strconv.ParseInt(last, 10, 64)
	if err != nil || l < f {
		return ByteRange{}, false
	}
	return ByteRange{First: f, Last: l}, true
}

// Resolve returns the offset and length r selects in an object of size
// bytes, or ErrInvalidRange when it selects nothing.
func (r ByteRange) Resolve(size int64) (offset, length int64, err error) {
	if r.SuffixLength > 0 {
		if size == 0 {
			return 0, 0, ErrInvalidRange
		}
		n := min(r.SuffixLength, size)
		return size - n, n, nil
	}
	if r.First < 0 || r.First >= size {
		return 0, 0, ErrInvalidRange
	}
	last := r.Last
	if last < 0 || last >= size {
		last = size - 1
	}
	if last < r.First {
		return 0, 0, ErrInvalidRange
	}
	return r.First, last - r.First + 1, nil
}
