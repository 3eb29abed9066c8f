package s3api

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestTLSAwsChunked runs uploads over TLS, where aws-sdk-go-v2 (like
// botocore) sends aws-chunked bodies with STREAMING-UNSIGNED-PAYLOAD-TRAILER
// and the CRC32 in a trailer.
func TestTLSAwsChunked(t *testing.T) {
	e := newEnv(t, envOptions{tls: true})
	c := e.client(acctA)
	createBucket(t, c, "tls-bucket")
	e.drainSeen()
	body := randomData(5, 300_000)
	put := must(c.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("tls-bucket"), Key: aws.String("k"), Body: bytes.NewReader(body)}))
	r := <-e.seen
	if r.Header.Get("Content-Encoding") != "aws-chunked" || r.Header.Get("X-Amz-Content-Sha256") != "STREAMING-UNSIGNED-PAYLOAD-TRAILER" ||
		r.Header.Get("X-Amz-Trailer") != "x-amz-checksum-crc32" {
		t.Fatalf("the SDK did not send an aws-chunked body: %v", r.Header)
	}
	if aws.ToString(put.ChecksumCRC32) != crc32b64(body) {
		t.Fatalf("checksum %q, want %q", aws.ToString(put.ChecksumCRC32), crc32b64(body))
	}
	got, out := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("tls-bucket"), Key: aws.String("k")})
	if !bytes.Equal(got, body) || aws.ToString(out.ChecksumCRC32) != crc32b64(body) || aws.ToString(out.ContentEncoding) != "" {
		t.Fatalf("GetObject: %d bytes, %+v", len(got), out)
	}
	data := randomData(6, 11<<20)
	done := uploadMultipart(t, c, "tls-bucket", "mp", data, 5<<20)
	if aws.ToString(done.ETag) != multipartETag(data, 5<<20) {
		t.Fatalf("ETag %s", aws.ToString(done.ETag))
	}
	got, _ = getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("tls-bucket"), Key: aws.String("mp")})
	if !bytes.Equal(got, data) {
		t.Fatal("multipart object differs")
	}
	must(c.DeleteObjects(bg, &s3.DeleteObjectsInput{Bucket: aws.String("tls-bucket"), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("k")}, {Key: aws.String("mp")}}}}))
	must(c.DeleteBucket(bg, &s3.DeleteBucketInput{Bucket: aws.String("tls-bucket")}))
}

// chunkedStream frames r as an aws-chunked body with a CRC32 trailer as it
// is read, without holding it.
func chunkedStream(r io.Reader, chunk int) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		buf := make([]byte, chunk)
		crc := crc32.NewIEEE()
		for {
			n, err := io.ReadFull(r, buf)
			if n > 0 {
				crc.Write(buf[:n])
				fmt.Fprintf(pw, "%x\r\n", n)
				pw.Write(buf[:n])
				io.WriteString(pw, "\r\n")
			}
			if err != nil {
				break
			}
		}
		fmt.Fprintf(pw, "0\r\nx-amz-checksum-crc32:%s\r\n\r\n", b64(crc.Sum(nil)))
		pw.Close()
	}()
	return pr
}

// heapAllocated returns the bytes allocated so far by the whole process.
func heapAllocated() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// TestLargeBodiesStream uploads 20 MB as one PutObject (signed SHA-256),
// again as four aws-chunked 5 MB parts, and downloads it, with bodies that
// are generated as they are sent: if the server buffered a body anywhere,
// the process would allocate at least that body's size. It checks that all
// of it allocates less than one body.
func TestLargeBodiesStream(t *testing.T) {
	e := newEnv(t, envOptions{})
	createBucket(t, e.client(acctA), "stream")
	const size = 20 << 20
	const partSize = 5 << 20
	client := &http.Client{}

	// The signed SHA-256 of the generated body, computed by streaming it once.
	h := sha256.New()
	io.Copy(h, newGenReader(42, size))
	sum := hex.EncodeToString(h.Sum(nil))

	before := heapAllocated()

	gen := newGenReader(42, size)
	req, _ := http.NewRequest(http.MethodPut, e.srv.URL+"/stream/single", gen)
	req.ContentLength = size
	req.Header.Set("X-Amz-Content-Sha256", sum)
	signDev(req, acctA)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("ETag") != `"`+gen.hexMD5()+`"` {
		t.Fatalf("PutObject: %d %v", resp.StatusCode, resp.Header)
	}

	// Multipart, aws-chunked parts.
	req, _ = http.NewRequest(http.MethodPost, e.srv.URL+"/stream/multi?uploads", nil)
	signDev(req, acctA)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var init initiateMultipartUploadResult
	xml.NewDecoder(resp.Body).Decode(&init)
	resp.Body.Close()
	var complete strings.Builder
	complete.WriteString("<CompleteMultipartUpload>")
	whole := md5.New()
	for n := 1; n <= size/partSize; n++ {
		part := newGenReader(uint64(100+n), partSize)
		req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/stream/multi?partNumber=%d&uploadId=%s", e.srv.URL, n, init.UploadID),
			chunkedStream(io.TeeReader(part, whole), 64<<10))
		req.Header.Set("X-Amz-Content-Sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
		req.Header.Set("Content-Encoding", "aws-chunked")
		req.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(partSize))
		req.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
		signDev(req, acctA)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("ETag") != `"`+part.hexMD5()+`"` {
			t.Fatalf("UploadPart %d: %d %v", n, resp.StatusCode, resp.Header)
		}
		fmt.Fprintf(&complete, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", n, resp.Header.Get("ETag"))
	}
	complete.WriteString("</CompleteMultipartUpload>")
	req, _ = http.NewRequest(http.MethodPost, e.srv.URL+"/stream/multi?uploadId="+init.UploadID, strings.NewReader(complete.String()))
	signDev(req, acctA)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "-4&#34;</ETag>") {
		t.Fatalf("Complete: %d %s", resp.StatusCode, b)
	}

	// Download.
	req, _ = http.NewRequest(http.MethodGet, e.srv.URL+"/stream/multi", nil)
	signDev(req, acctA)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got := md5.New()
	n, _ := io.Copy(got, resp.Body)
	resp.Body.Close()
	if n != size || !bytes.Equal(got.Sum(nil), whole.Sum(nil)) {
		t.Fatalf("download: %d bytes", n)
	}

	allocated := heapAllocated() - before
	t.Logf("60 MB through the server allocated %.1f MB", float64(allocated)/(1<<20))
	if allocated > 12<<20 {
		t.Fatalf("uploading and downloading allocated %d bytes: a body is being buffered", allocated)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
