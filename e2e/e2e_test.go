// Package e2e runs cleanroomsd against the real AWS clients: boto3 and the
// AWS CLI, unmodified, pointed at the server with an endpoint URL.
//
// TestMain builds the server binary once. Each test starts the servers its
// Python suite needs (fresh data directory, free port), waits for /healthz,
// runs the suite with `python3 -m unittest -v`, streams its output into the
// test log and finally stops every server with SIGTERM, which must end it
// with exit status 0.
//
// The clients are prerequisites: when python3 with boto3/botocore or the
// aws executable is missing the tests skip, except under CI=true, where a
// missing client is a failure.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const region = "us-east-1"

// The quotas of the lowered-quota server; boto3_lifecycle_test.py reads
// them from the environment.
const (
	quotaCollaborations = 2
	quotaMembers        = 2
	quotaMemberships    = 2
)

// serverBin is the cleanroomsd binary TestMain builds.
var serverBin string

func TestMain(m *testing.M) {
	toolMain() // the Python suites' DuckDB command (duckdbtool_test.go)
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "cleanroomsd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	serverBin = filepath.Join(dir, "cleanroomsd")
	if runtime.GOOS == "windows" {
		serverBin += ".exe"
	}
	start := time.Now()
	if err := buildServer(serverBin); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building cleanroomsd:", err)
		return 1
	}
	if testing.Verbose() {
		fmt.Printf("e2e: built cleanroomsd in %v\n", time.Since(start).Round(time.Millisecond))
	}
	return m.Run()
}

// buildServer builds ./cmd/cleanroomsd of this module into out.
func buildServer(out string) error {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goCmd, "build", "-o", out, "./cmd/cleanroomsd")
	cmd.Dir = ".." // the module root
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%v\n%s", err, output.String())
	}
	return nil
}

// TestBoto3 runs boto3_lifecycle_test.py against a default dev-mode server,
// a dev-mode server with lowered quotas and a strict-mode server.
func TestBoto3(t *testing.T) {
	t.Parallel()
	python := requirePython(t)

	dev := startServer(t, "dev")
	quota := startServer(t, "quota",
		"--quota", fmt.Sprintf("collaborations-per-account=%d", quotaCollaborations),
		"--quota", fmt.Sprintf("members-per-collaboration=%d", quotaMembers),
		"--quota", fmt.Sprintf("memberships-per-account=%d", quotaMemberships))
	creds := writeCredentials(t)
	strict := startServer(t, "strict", "--credentials", creds)

	runPython(t, python, "boto3_lifecycle_test.py", map[string]string{
		"CLEANROOMSD_ENDPOINT":             dev.endpoint,
		"CLEANROOMSD_QUOTA_ENDPOINT":       quota.endpoint,
		"CLEANROOMSD_QUOTA_COLLABORATIONS": fmt.Sprint(quotaCollaborations),
		"CLEANROOMSD_QUOTA_MEMBERS":        fmt.Sprint(quotaMembers),
		"CLEANROOMSD_QUOTA_MEMBERSHIPS":    fmt.Sprint(quotaMemberships),
		"CLEANROOMSD_STRICT_ENDPOINT":      strict.endpoint,
		"CLEANROOMSD_STRICT_CREDENTIALS":   creds,
	})

	for _, s := range []*server{dev, quota, strict} {
		s.stop(t)
	}
}

// TestAWSCLI runs cli_lifecycle_test.py, which calls the aws executable,
// against a dev-mode server.
func TestAWSCLI(t *testing.T) {
	t.Parallel()
	python := requirePython(t)
	awsCLI := requireAWSCLI(t)

	dev := startServer(t, "dev")
	runPython(t, python, "cli_lifecycle_test.py", map[string]string{
		"CLEANROOMSD_ENDPOINT": dev.endpoint,
		"CLEANROOMSD_AWS_CLI":  awsCLI,
	})
	dev.stop(t)
}

// Prerequisites.

// missingClient skips the test, or fails it under CI=true: CI must run
// these tests, so a missing client there is a broken CI image.
func missingClient(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but "+format, args...)
	}
	t.Skipf(format, args...)
}

func requirePython(t *testing.T) string {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		missingClient(t, "python3 is not on PATH: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "-c", "import boto3, botocore; print(boto3.__version__, botocore.__version__)").CombinedOutput()
	if err != nil {
		missingClient(t, "python3 can't import boto3 and botocore: %v\n%s", err, out)
	}
	t.Logf("boto3/botocore %s", strings.TrimSpace(string(out)))
	return python
}

func requireAWSCLI(t *testing.T) string {
	t.Helper()
	awsCLI, err := exec.LookPath("aws")
	if err != nil {
		missingClient(t, "the aws executable (AWS CLI) is not on PATH: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, awsCLI, "--version").CombinedOutput()
	if err != nil {
		missingClient(t, "`aws --version` failed: %v\n%s", err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
	return awsCLI
}

// Servers.

// server is a running cleanroomsd.
type server struct {
	name     string
	endpoint string // http://127.0.0.1:PORT
	cmd      *exec.Cmd
	out      *serverOutput
	done     chan struct{} // closed when the process has exited
	waitErr  error         // the process's exit; valid once done is closed
}

// serverOutput collects a server's log and reports its listen address.
type serverOutput struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	scanned int
	addr    chan string
	sent    bool
}

var addrRE = regexp.MustCompile(`\baddr=(127\.0\.0\.1:\d+)`)

func (o *serverOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	for !o.sent {
		rest := o.buf.Bytes()[o.scanned:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		if m := addrRE.FindSubmatch(rest[:i]); m != nil {
			o.addr <- string(m[1])
			o.sent = true
		}
		o.scanned += i + 1
	}
	return len(p), nil
}

func (o *serverOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// startServer starts cleanroomsd with a fresh data directory on a free
// port and waits until /healthz answers 200. The server is killed when the
// test ends if it is still running; its log is printed if the test failed.
func startServer(t *testing.T, name string, args ...string) *server {
	t.Helper()
	dataDir := t.TempDir()
	argv := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--region", region}, args...)
	s := &server{
		name: name,
		cmd:  exec.Command(serverBin, argv...),
		out:  &serverOutput{addr: make(chan string, 1)},
		done: make(chan struct{}),
	}
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting %s server: %v", name, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			t.Logf("--- %s server log ---\n%s", name, s.out)
		}
	})

	select {
	case addr := <-s.out.addr:
		s.endpoint = "http://" + addr
	case <-s.done:
		t.Fatalf("%s server exited before listening (%v):\n%s", name, s.waitErr, s.out)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s server did not log its address within 30s:\n%s", name, s.out)
	}

	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(s.endpoint + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		select {
		case <-s.done:
			t.Fatalf("%s server exited while starting (%v):\n%s", name, s.waitErr, s.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s server at %s is not healthy after 30s: %v\n%s", name, s.endpoint, err, s.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%s server listening on %s", name, s.endpoint)
	return s
}

// stop sends SIGTERM and requires a graceful exit with status 0.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("sending SIGTERM to the %s server: %v", s.name, err)
		return
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		t.Errorf("%s server did not stop within 30s of SIGTERM", s.name)
		return
	}
	if s.waitErr != nil {
		var exit *exec.ExitError
		if errors.As(s.waitErr, &exit) {
			t.Errorf("%s server exited with status %d after SIGTERM, want 0", s.name, exit.ExitCode())
		} else {
			t.Errorf("%s server: %v", s.name, s.waitErr)
		}
	}
}

// writeCredentials writes a strict-mode credentials file of two accounts
// with random secrets and returns its path.
func writeCredentials(t *testing.T) string {
	t.Helper()
	type account struct {
		AccountID       string `json:"accountId"`
		AccessKeyID     string `json:"accessKeyId"`
		SecretAccessKey string `json:"secretAccessKey"`
	}
	var accounts []account
	for _, id := range []string{"111111111111", "222222222222"} {
		accounts = append(accounts, account{
			AccountID:       id,
			AccessKeyID:     "AKIAE2E" + strings.ToUpper(randomHex(t, 7)),
			SecretAccessKey: randomHex(t, 20),
		})
	}
	data, err := json.MarshalIndent(map[string]any{"accounts": accounts}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "credentials.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// Python.

// runPython runs `python3 -m unittest -v file` in this directory with env
// added to a copy of the environment stripped of AWS_* variables, streaming
// its output into the test log. A non-zero exit fails the test.
func runPython(t *testing.T, python, file string, env map[string]string) {
	t.Helper()
	timeout := 5 * time.Minute
	if d, ok := t.Deadline(); ok && time.Until(d)-10*time.Second < timeout {
		timeout = time.Until(d) - 10*time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, python, "-m", "unittest", "-v", file)
	cmd.WaitDelay = 10 * time.Second
	home := t.TempDir()
	empty := filepath.Join(home, "empty-aws-config")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env,
		"AWS_CONFIG_FILE="+empty,
		"AWS_SHARED_CREDENTIALS_FILE="+empty,
		"CLEANROOMSD_BIN="+serverBin,
		toolBinEnv+"="+toolBin(t),
		"CLEANROOMSD_REGION="+region,
		"PYTHONUNBUFFERED=1",
		"PYTHONDONTWRITEBYTECODE=1",
		"NO_PROXY=127.0.0.1,localhost",
		"no_proxy=127.0.0.1,localhost",
	)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out := &testLog{t: t, prefix: file + ": "}
	cmd.Stdout, cmd.Stderr = out, out

	start := time.Now()
	err := cmd.Run()
	out.flush()
	elapsed := time.Since(start).Round(time.Millisecond)
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within %v", file, timeout)
	}
	if err != nil {
		t.Fatalf("%s failed after %v: %v", file, elapsed, err)
	}
	t.Logf("%s passed in %v", file, elapsed)
}

// testLog writes each complete line to the test log.
type testLog struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.t.Log(l.prefix + string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

func (l *testLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.t.Log(l.prefix + string(l.buf))
		l.buf = nil
	}
}
