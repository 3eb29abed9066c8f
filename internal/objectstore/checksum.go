package objectstore

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"strings"
)

// ChecksumAlgorithm is one of S3's additional checksum algorithms, named as
// in x-amz-checksum-algorithm.
type ChecksumAlgorithm string

// The algorithms.
const (
	CRC32     ChecksumAlgorithm = "CRC32"
	CRC32C    ChecksumAlgorithm = "CRC32C"
	CRC64NVME ChecksumAlgorithm = "CRC64NVME"
	SHA1      ChecksumAlgorithm = "SHA1"
	SHA256    ChecksumAlgorithm = "SHA256"
)

// ChecksumAlgorithms lists every supported algorithm.
var ChecksumAlgorithms = []ChecksumAlgorithm{CRC32, CRC32C, CRC64NVME, SHA1, SHA256}

// ChecksumType says how a multipart object's checksum is computed.
type ChecksumType string

// The checksum types.
const (
	// FullObject is a checksum of the whole object's bytes.
	FullObject ChecksumType = "FULL_OBJECT"
	// Composite is the checksum of the concatenated binary part checksums,
	// followed by "-N".
	Composite ChecksumType = "COMPOSITE"
)

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	// nvme is CRC-64/NVME: polynomial 0xad93d23594c93659, reflected
	// (0x9a6c9329ac4bc9b5), initial value and final xor all ones, which is
	// what hash/crc64 does for any table.
	nvme = crc64.MakeTable(0x9a6c9329ac4bc9b5)
)

// ParseChecksumAlgorithm parses an algorithm name, case-insensitively.
func ParseChecksumAlgorithm(s string) (ChecksumAlgorithm, bool) {
	for _, a := range ChecksumAlgorithms {
		if strings.EqualFold(s, string(a)) {
			return a, true
		}
	}
	return "", false
}

// HeaderName returns the lowercase HTTP header that carries a checksum of
// this algorithm, e.g. "x-amz-checksum-crc32".
func (a ChecksumAlgorithm) HeaderName() string {
	return "x-amz-checksum-" + strings.ToLower(string(a))
}

// New returns a hash.Hash computing the algorithm; its Sum is the binary
// checksum (big-endian for the CRCs), which Encode turns into S3's form.
func (a ChecksumAlgorithm) New() (hash.Hash, error) {
	switch a {
	case CRC32:
		return crc32.NewIEEE(), nil
	case CRC32C:
		return crc32.New(castagnoli), nil
	case CRC64NVME:
		return crc64.New(nvme), nil
	case SHA1:
		return sha1.New(), nil
	case SHA256:
		return sha256.New(), nil
	}
	return nil, fmt.Errorf("objectstore: unknown checksum algorithm %q", string(a))
}

// Size returns the length of the binary checksum.
func (a ChecksumAlgorithm) Size() int {
	switch a {
	case CRC32, CRC32C:
		return 4
	case CRC64NVME:
		return 8
	case SHA1:
		return sha1.Size
	case SHA256:
		return sha256.Size
	}
	return 0
}

// Valid reports whether a is a supported algorithm.
func (a ChecksumAlgorithm) Valid() bool { return a.Size() > 0 }

// EncodeChecksum returns the base64 form of a binary checksum.
func EncodeChecksum(sum []byte) string { return base64.StdEncoding.EncodeToString(sum) }

// ValidValue reports whether v is a well-formed base64 checksum of
// algorithm a (not composite).
func (a ChecksumAlgorithm) ValidValue(v string) bool {
	b, err := base64.StdEncoding.DecodeString(v)
	return err == nil && len(b) == a.Size()
}

// DefaultChecksumType returns the checksum type S3 uses for a multipart
// upload of algorithm a when the client names none: FULL_OBJECT for
// CRC64NVME, COMPOSITE for the others.
func DefaultChecksumType(a ChecksumAlgorithm) ChecksumType {
	if a == CRC64NVME {
		return FullObject
	}
	return Composite
}

// ChecksumTypeAllowed reports whether multipart uploads of algorithm a may
// use checksum type t: CRC64NVME only FULL_OBJECT, SHA1 and SHA256 only
// COMPOSITE, CRC32 and CRC32C both.
func ChecksumTypeAllowed(a ChecksumAlgorithm, t ChecksumType) bool {
	switch t {
	case FullObject:
		return a == CRC32 || a == CRC32C || a == CRC64NVME
	case Composite:
		return a == CRC32 || a == CRC32C || a == SHA1 || a == SHA256
	}
	return false
}

// CompositeChecksum returns S3's composite checksum of parts whose binary
// checksums are given in order: base64(H(concatenation)) + "-N".
func CompositeChecksum(a ChecksumAlgorithm, partSums [][]byte) (string, error) {
	h, err := a.New()
	if err != nil {
		return "", err
	}
	for _, s := range partSums {
		h.Write(s)
	}
	return fmt.Sprintf("%s-%d", EncodeChecksum(h.Sum(nil)), len(partSums)), nil
}
