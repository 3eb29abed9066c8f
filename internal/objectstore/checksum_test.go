package objectstore

import (
	"encoding/hex"
	"testing"
)

// TestChecksumCheckValues checks each algorithm against its catalogued
// check value, the checksum of "123456789".
func TestChecksumCheckValues(t *testing.T) {
	for a, want := range map[ChecksumAlgorithm]string{
		CRC32:     "cbf43926",
		CRC32C:    "e3069283",
		CRC64NVME: "ae8b14860a799888",
		SHA1:      "f7c3bc1d808e04732adf679965ccc34ca7ae3441",
		SHA256:    "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225",
	} {
		h, err := a.New()
		if err != nil {
			t.Fatal(err)
		}
		h.Write([]byte("123456789"))
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			t.Errorf("%s = %s, want %s", a, got, want)
		}
		if len(h.Sum(nil)) != a.Size() {
			t.Errorf("%s: Size %d", a, a.Size())
		}
		if !a.ValidValue(EncodeChecksum(h.Sum(nil))) || a.ValidValue("AAAA") && a.Size() != 3 {
			t.Errorf("%s: ValidValue", a)
		}
	}
	if got, ok := ParseChecksumAlgorithm("crc64nvme"); !ok || got != CRC64NVME || got.HeaderName() != "x-amz-checksum-crc64nvme" {
		t.Errorf("ParseChecksumAlgorithm = %v %v", got, ok)
	}
	if _, ok := ParseChecksumAlgorithm("md5"); ok {
		t.Error("md5 parsed")
	}
}
