package fsobjects

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cleanroomsd/cleanroomsd/internal/objectstore"
)

// TestReaderRetriesAfterOverwrite makes a writer replace (then delete) the
// object exactly between a reader's reading of the metadata and its
// opening of the data file the metadata named.
func TestReaderRetriesAfterOverwrite(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	s.CreateBucket(ctx, "bkt")
	s.Put(ctx, "bkt", "k", strings.NewReader("old"), objectstore.PutOptions{})
	var hook func()
	testHookAfterMeta = func() {
		if h := hook; h != nil {
			hook = nil
			h()
		}
	}
	defer func() { testHookAfterMeta = nil }()
	overwrite := func() {
		if _, err := s.Put(ctx, "bkt", "k", strings.NewReader("new"), objectstore.PutOptions{}); err != nil {
			t.Error(err)
		}
	}
	hook = overwrite
	obj, err := s.Get(ctx, "bkt", "k", objectstore.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if string(b) != "new" || obj.Info.Size != 3 || obj.Info.ETag != fmt.Sprintf("%x", md5.Sum([]byte("new"))) {
		t.Fatalf("Get across an overwrite: %q %+v", b, obj.Info)
	}
	s.Put(ctx, "bkt", "k", strings.NewReader("old"), objectstore.PutOptions{})
	hook = overwrite
	dst := filepath.Join(t.TempDir(), "l")
	info, err := s.Link(ctx, "bkt", "k", dst)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "new" || info.Size != 3 {
		t.Fatalf("Link across an overwrite: %q %+v", b, info)
	}
	hook = func() { s.Delete(ctx, "bkt", "k") }
	_, err = s.Get(ctx, "bkt", "k", objectstore.GetOptions{})
	if !errors.Is(err, objectstore.ErrNoSuchKey) {
		t.Fatalf("Get across a delete: %v", err)
	}
}

// crashKeys are the keys the crash test's writer cycles through; the last
// one is deleted every other time around.
var crashKeys = []string{"a", "deep/" + strings.Repeat("d", 90) + "/b", "toggle"}

// crashOp describes operation i of the crash test's writer.
func crashOp(i int) (key string, del bool) {
	key = crashKeys[i%len(crashKeys)]
	return key, key == "toggle" && (i/len(crashKeys))%2 == 1
}

// crashBody is the body operation i puts: i, then pseudo-random bytes of
// a size that varies between 8 bytes and 600 kB.
func crashBody(i int) []byte {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	b := make([]byte, 8+r.IntN(600_000))
	for j := range b {
		b[j] = byte(r.Uint32())
	}
	binary.BigEndian.PutUint64(b, uint64(i))
	return b
}

// crashWriter is the child process of TestCrashKill9: it performs
// operations from start on and prints the number of each one once it is
// acknowledged, until it is killed.
func crashWriter(dir string, start int) {
	s, err := Open(dir, WithMinPartSize(1))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	ctx := context.Background()
	if err := s.CreateBucket(ctx, "bkt"); err != nil && !errors.Is(err, objectstore.ErrBucketExists) {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for i := start; ; i++ {
		key, del := crashOp(i)
		switch {
		case del:
			err = s.Delete(ctx, "bkt", key)
		case i%5 == 4: // a multipart upload of two parts
			body := crashBody(i)
			var id string
			id, err = s.CreateMultipartUpload(ctx, "bkt", key, objectstore.PutOptions{})
			var cps []objectstore.CompletePart
			for n, p := range [][]byte{body[:len(body)/2], body[len(body)/2:]} {
				if err != nil {
					break
				}
				var pi *objectstore.PartInfo
				pi, err = s.UploadPart(ctx, "bkt", key, id, n+1, bytes.NewReader(p), objectstore.PartOptions{})
				if err == nil {
					cps = append(cps, objectstore.CompletePart{PartNumber: n + 1, ETag: pi.ETag})
				}
			}
			if err == nil {
				_, err = s.CompleteMultipartUpload(ctx, "bkt", key, id, cps)
			}
		default:
			_, err = s.Put(ctx, "bkt", key, bytes.NewReader(crashBody(i)), objectstore.PutOptions{})
		}
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(i)
	}
}

func TestMain(m *testing.M) {
	if dir := os.Getenv("FSOBJECTS_CRASH_DIR"); dir != "" {
		start, _ := strconv.Atoi(os.Getenv("FSOBJECTS_CRASH_START"))
		crashWriter(dir, start)
		return
	}
	os.Exit(m.Run())
}

// TestCrashKill9 runs a writer in a child process, kills it with SIGKILL
// at a random point, and checks that every key holds the result of its
// last acknowledged operation or of the one in flight, whole, with
// metadata that matches its bytes; then that Open cleans up after the
// interrupted write. It repeats on the same directory. (SIGKILL exercises
// every window of the commit protocol, not the fsyncs: the page cache
// survives it.)
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	next := 0 // first operation of the next round
	for round := range 12 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "FSOBJECTS_CRASH_DIR="+dir, "FSOBJECTS_CRASH_START="+strconv.Itoa(next))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := next - 1
		want := 3 + r.IntN(25)
		sc := bufio.NewScanner(out)
		killed := false
		for sc.Scan() {
			n, err := strconv.Atoi(sc.Text())
			if err != nil {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("writer: %s", sc.Text())
			}
			acked = n
			if want--; want == 0 && !killed {
				// Kill at a random point of a later operation, then read
				// the acknowledgements the writer printed until then.
				time.Sleep(time.Duration(r.IntN(3000)) * time.Microsecond)
				cmd.Process.Kill()
				killed = true
			}
		}
		cmd.Process.Kill()
		cmd.Wait()
		if acked < next+2 {
			// Each key must have an acknowledged operation this round, so
			// that the skipped operation below does not matter.
			t.Fatalf("round %d: the writer acknowledged only up to %d", round, acked)
		}
		checkAfterCrash(t, dir, acked)
		// Operation acked+1 may or may not have happened; go on after it.
		next = acked + 2
		t.Logf("round %d: killed after operation %d", round, acked)
	}
}

// checkAfterCrash opens dir as a restarted server would (and again an hour
// later, so that Open's cleanup covers the interrupted write) and checks
// each key against the operations up to acked and the one in flight.
func checkAfterCrash(t *testing.T, dir string, acked int) {
	t.Helper()
	ctx := context.Background()
	for _, later := range []time.Duration{0, 2 * staleTemp} {
		s, err := Open(dir, WithClock(func() time.Time { return time.Now().Add(later) }))
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range crashKeys {
			// The states the key may be in: after its last acknowledged
			// operation, or after the one in flight when that is on it.
			var allowed []int // operation numbers; -1 is "no object"
			last := -1
			for i := acked; i >= 0; i-- {
				if k, del := crashOp(i); k == key {
					if !del {
						last = i
					}
					break
				}
			}
			allowed = append(allowed, last)
			if k, del := crashOp(acked + 1); k == key {
				if del {
					allowed = append(allowed, -1)
				} else {
					allowed = append(allowed, acked+1)
				}
			}
			got := -1
			obj, err := s.Get(ctx, "bkt", key, objectstore.GetOptions{})
			switch {
			case errors.Is(err, objectstore.ErrNoSuchKey):
			case err != nil:
				t.Fatalf("%s after the crash: %v", key, err)
			default:
				b, err := io.ReadAll(obj.Body)
				obj.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				sum := md5.Sum(b)
				if len(b) < 8 || int64(len(b)) != obj.Info.Size ||
					(hex.EncodeToString(sum[:]) != obj.Info.ETag && !strings.Contains(obj.Info.ETag, "-")) {
					t.Fatalf("%s after the crash: %d bytes, info %+v", key, len(b), obj.Info)
				}
				got = int(binary.BigEndian.Uint64(b))
				if !bytes.Equal(b, crashBody(got)) {
					t.Fatalf("%s after the crash: torn body of operation %d", key, got)
				}
			}
			ok := false
			for _, a := range allowed {
				ok = ok || a == got
			}
			if !ok {
				t.Fatalf("%s after the crash holds operation %d, want one of %v (last acknowledged %d)", key, got, allowed, acked)
			}
			if later > 0 {
				// Cleanup left exactly the data file the metadata names.
				files := dataFiles(t, filepath.Dir(s.objectPath("bkt", key)))
				var mine []string
				for _, f := range files {
					if c, _, _ := parseDataName(filepath.Base(f)); c+leafSuffix == filepath.Base(s.objectPath("bkt", key)) {
						mine = append(mine, f)
					}
				}
				if want := min(got+1, 1); len(mine) != want {
					t.Fatalf("%s: %d data files after cleanup, want %d: %q", key, len(mine), want, mine)
				}
			}
		}
		if later > 0 {
			if des, _ := os.ReadDir(filepath.Join(s.Root(), tmpDir)); len(des) != 0 {
				t.Fatalf("%d files left in .tmp", len(des))
			}
		}
	}
}
