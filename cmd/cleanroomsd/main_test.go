package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cleanrooms"
	"github.com/aws/aws-sdk-go-v2/service/cleanrooms/types"

	"github.com/cleanroomsd/cleanroomsd/internal/sdkhttp"
)

// The test binary doubles as the server: with CLEANROOMSD_RUN_MAIN set it
// runs main's logic on its arguments, so the tests exercise the real
// command, signals and exit codes without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("CLEANROOMSD_RUN_MAIN") == "1" {
		if err := run(os.Args[1:], os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "cleanroomsd:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type process struct {
	cmd  *exec.Cmd
	addr string
	done chan error
	logs *strings.Builder
	mu   *sync.Mutex
}

var listenRE = regexp.MustCompile(`addr=(\S+)`)

// startServer runs `cleanroomsd serve` on a free port over dataDir.
func startServer(t *testing.T, dataDir string, extra ...string) *process {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir}, extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "CLEANROOMSD_RUN_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, done: make(chan error, 1), logs: &strings.Builder{}, mu: &sync.Mutex{}}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			if m := listenRE.FindStringSubmatch(line); m != nil && strings.Contains(line, "listening") {
				addrc <- m[1]
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	select {
	case p.addr = <-addrc:
	case err := <-p.done:
		t.Fatalf("server exited early: %v\n%s", err, p.log())
	case <-time.After(20 * time.Second):
		t.Fatalf("server did not start\n%s", p.log())
	}
	return p
}

func (p *process) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

func (p *process) client(account string) *cleanrooms.Client {
	return cleanrooms.New(cleanrooms.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String("http://" + p.addr),
		Credentials:      credentials.NewStaticCredentialsProvider(account, "secret", ""),
		RetryMaxAttempts: 1,
		HTTPClient:       sdkhttp.Client(nil),
	})
}

func TestServeAnswersHealthzAndStopsCleanlyOnSIGTERM(t *testing.T) {
	p := startServer(t, t.TempDir())
	resp, err := http.Get("http://" + p.addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz = %d", resp.StatusCode)
	}
	// A request in flight when SIGTERM arrives still completes.
	ctx := context.Background()
	var wg sync.WaitGroup
	var inflight error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			if _, err := p.client("111111111111").ListCollaborations(ctx, &cleanrooms.ListCollaborationsInput{}); err != nil {
				inflight = err
				return
			}
		}
	}()
	time.Sleep(5 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.log())
		}
		p.done <- nil // for the cleanup
	case <-time.After(15 * time.Second):
		t.Fatal("server did not stop after SIGTERM")
	}
	wg.Wait()
	// Calls after shutdown are refused by the closed listener; the ones that
	// got an answer must not have been cut off mid-response.
	if inflight != nil && !strings.Contains(inflight.Error(), "connection refused") && !strings.Contains(inflight.Error(), "reset") && !strings.Contains(inflight.Error(), "EOF") {
		t.Errorf("in-flight call: %v", inflight)
	}
	if !strings.Contains(p.log(), "cleanroomsd stopped") {
		t.Errorf("no clean stop logged:\n%s", p.log())
	}
}

func TestRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{}, {"bogus"}, {"serve", "--quota", "nope=1"}, {"serve", "--log-level", "loud"}} {
		if err := run(args, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}

// TestKill9KeepsAcknowledgedWrites kills the server with SIGKILL while
// clients are writing and checks that every write it acknowledged is there
// after a restart.
func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	dir := t.TempDir()
	p := startServer(t, dir, "--quota", "collaborations-per-account=100000")
	ctx := context.Background()
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := p.client("111111111111")
			for {
				select {
				case <-stop:
					return
				default:
				}
				out, err := cl.CreateCollaboration(ctx, &cleanrooms.CreateCollaborationInput{
					Name: aws.String("durable"), Description: aws.String("d"), CreatorDisplayName: aws.String("A"),
					CreatorMemberAbilities: []types.MemberAbility{}, Members: []types.MemberSpecification{},
					QueryLogStatus: types.CollaborationQueryLogStatusDisabled})
				if err != nil {
					return // the server is gone
				}
				mu.Lock()
				acked = append(acked, aws.ToString(out.Collaboration.Id))
				mu.Unlock()
			}
		}()
	}
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 200 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.done <- nil
	close(stop)
	wg.Wait()

	q := startServer(t, dir)
	cl := q.client("111111111111")
	have := map[string]bool{}
	var token *string
	for {
		out, err := cl.ListCollaborations(ctx, &cleanrooms.ListCollaborationsInput{NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range out.CollaborationList {
			have[aws.ToString(c.Id)] = true
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	missing := 0
	for _, id := range acked {
		if !have[id] {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged collaborations lost after kill -9", missing, len(acked))
	}
	t.Logf("%d acknowledged writes, all present after kill -9 (%d stored)", len(acked), len(have))
}
