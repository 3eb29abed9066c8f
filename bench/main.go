// Command bench measures cleanroomsd against baselines run in the same
// process, so the figures can be quoted as ratios:
//
//   - -mode api: GetMembership and CreateMembership throughput and p99 with
//     concurrent aws-sdk-go-v2 clients, next to a bare net/http handler that
//     returns the same response bytes;
//
//   - -mode queries: a two-party protected query end to end, next to the
//     same SQL straight on DuckDB over the same files.
//
//     go run ./bench -mode api -duration 5s [-database-url postgres://...]
//     go run ./bench -mode queries -rows 100,1000000,10000000
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cleanrooms"
	"github.com/aws/aws-sdk-go-v2/service/cleanrooms/types"

	crs "github.com/cleanroomsd/cleanroomsd/internal/cleanrooms"
	"github.com/cleanroomsd/cleanroomsd/internal/sdkhttp"
	"github.com/cleanroomsd/cleanroomsd/internal/server"
)

func main() {
	var (
		duration = flag.Duration("duration", 5*time.Second, "how long each measurement runs")
		clients  = flag.Int("clients", 8, "concurrent SDK clients")
		dbURL    = flag.String("database-url", "", "PostgreSQL URL (default: the embedded store)")
		mode     = flag.String("mode", "api", "api or queries")
		rows     = flag.String("rows", "100,1000000", "queries: rows per table, comma-separated")
		repeats  = flag.Int("repeats", 5, "queries: runs per size (the median is reported)")
		cpuProf  = flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	)
	flag.Parse()
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	var err error
	switch *mode {
	case "api":
		err = run(*duration, *clients, *dbURL)
	case "queries":
		var sizes []int
		for _, f := range strings.Split(*rows, ",") {
			var n int
			if _, err := fmt.Sscan(f, &n); err != nil || n < 1 {
				fmt.Fprintln(os.Stderr, "bench: bad -rows", f)
				os.Exit(2)
			}
			sizes = append(sizes, n)
		}
		err = runQueries(context.Background(), sizes, *repeats)
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// result is one measurement.
type result struct {
	name string
	ops  int
	dur  time.Duration
	p99  time.Duration
	errs int64
	cpu  float64 // CPU cores the whole process used while it ran
}

func (r result) perSec() float64 { return float64(r.ops) / r.dur.Seconds() }

// measure runs op from n goroutines for d and records every latency.
func measure(name string, n int, d time.Duration, op func(worker, i int) error) result {
	var wg sync.WaitGroup
	lat := make([][]time.Duration, n)
	var errs atomic.Int64
	deadline := time.Now().Add(d)
	start := time.Now()
	cpu0 := cpuTime()
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				t0 := time.Now()
				if err := op(w, i); err != nil {
					if errs.Add(1) == 1 {
						fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
					}
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	r := result{name: name, ops: len(all), dur: elapsed, errs: errs.Load(), cpu: (cpuTime() - cpu0).Seconds() / elapsed.Seconds()}
	if len(all) > 0 {
		r.p99 = all[len(all)*99/100]
	}
	return r
}

func client(endpoint, account string) *cleanrooms.Client {
	return cleanrooms.New(cleanrooms.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(endpoint),
		Credentials:      credentials.NewStaticCredentialsProvider(account, "secret", ""),
		RetryMaxAttempts: 1,
		HTTPClient:       sdkhttp.Client(&http.Transport{MaxIdleConnsPerHost: 64}),
	})
}

// serve runs h on a loopback port and returns its URL.
func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// bare returns a handler that answers every request with body, as the
// baseline for a real operation's response.
func bare(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("x-amzn-RequestId", "00000000-0000-4000-8000-000000000000")
		w.Write(body)
	})
}

func run(d time.Duration, n int, dbURL string) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "cleanroomsd-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	quotas := crs.DefaultQuotas()
	quotas.CollaborationsPerAccount = 1 << 30
	quotas.MembersPerCollaboration = 1 << 30
	quotas.MembershipsPerAccount = 1 << 30
	srv, err := server.New(ctx, server.Config{DataDir: dir, DatabaseURL: dbURL, Quotas: quotas,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return err
	}
	defer srv.Close()
	url, stop, err := serve(srv.Handler())
	if err != nil {
		return err
	}
	defer stop()

	// Setup: collaborations whose invitees the clients join as. Each worker
	// joins as its own accounts, one collaboration after another.
	creator := client(url, "100000000000")
	const perCollab = 400
	estimate := int(8000*d.Seconds()) + 1000 // generous upper bound of joins per run
	var collabs []string
	for made := 0; made < estimate; made += perCollab * n {
		var members []types.MemberSpecification
		for w := 0; w < n; w++ {
			for k := 0; k < perCollab; k++ {
				members = append(members, types.MemberSpecification{AccountId: aws.String(fmt.Sprintf("2%02d%09d", w, k)),
					DisplayName: aws.String("m"), MemberAbilities: []types.MemberAbility{}})
			}
		}
		out, err := creator.CreateCollaboration(ctx, &cleanrooms.CreateCollaborationInput{Name: aws.String("bench"), Description: aws.String("bench"),
			CreatorDisplayName: aws.String("creator"), CreatorMemberAbilities: []types.MemberAbility{types.MemberAbilityCanQuery},
			Members: members, QueryLogStatus: types.CollaborationQueryLogStatusDisabled})
		if err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		collabs = append(collabs, aws.ToString(out.Collaboration.Id))
	}

	// CreateMembership: worker w's i-th join is account (w, i%perCollab) in
	// collaboration i/perCollab.
	clients := make([][]*cleanrooms.Client, n)
	for w := range clients {
		for k := 0; k < perCollab; k++ {
			clients[w] = append(clients[w], client(url, fmt.Sprintf("2%02d%09d", w, k)))
		}
	}
	memberships := make([][]string, n)
	var mmu sync.Mutex
	create := measure("CreateMembership (cleanroomsd)", n, d, func(w, i int) error {
		c := i / perCollab
		if c >= len(collabs) {
			return fmt.Errorf("setup made too few collaborations")
		}
		out, err := clients[w][i%perCollab].CreateMembership(ctx, &cleanrooms.CreateMembershipInput{
			CollaborationIdentifier: aws.String(collabs[c]), QueryLogStatus: types.MembershipQueryLogStatusDisabled})
		if err != nil {
			return err
		}
		if i < perCollab {
			mmu.Lock()
			memberships[w] = append(memberships[w], aws.ToString(out.Membership.Id))
			mmu.Unlock()
		}
		return nil
	})

	// Capture the exact bytes of one GetMembership and one CreateMembership
	// response for the bare handler.
	rec := &recorder{}
	getBody, createBody, err := capture(ctx, url, rec, memberships[0][0])
	if err != nil {
		return err
	}

	get := measure("GetMembership (cleanroomsd)", n, d, func(w, i int) error {
		k := i % len(memberships[w])
		_, err := clients[w][k].GetMembership(ctx, &cleanrooms.GetMembershipInput{MembershipIdentifier: aws.String(memberships[w][k])})
		return err
	})

	bareURL, stopBare, err := serve(bare(getBody))
	if err != nil {
		return err
	}
	bareClient := client(bareURL, "200000000000")
	bareGet := measure("GetMembership (bare net/http, same bytes)", n, d, func(w, i int) error {
		_, err := bareClient.GetMembership(ctx, &cleanrooms.GetMembershipInput{MembershipIdentifier: aws.String(memberships[w][0])})
		return err
	})
	stopBare()
	bareURL, stopBare, err = serve(bare(createBody))
	if err != nil {
		return err
	}
	bareClient = client(bareURL, "200000000000")
	bareCreate := measure("CreateMembership (bare net/http, same bytes)", n, d, func(w, i int) error {
		_, err := bareClient.CreateMembership(ctx, &cleanrooms.CreateMembershipInput{
			CollaborationIdentifier: aws.String(collabs[0]), QueryLogStatus: types.MembershipQueryLogStatusDisabled})
		return err
	})
	stopBare()

	store := "embedded SQLite (WAL, fsynced before each acknowledgement)"
	if dbURL != "" {
		store = "PostgreSQL"
	}
	fmt.Printf("store: %s; %d concurrent aws-sdk-go-v2 clients; %v per measurement; GOMAXPROCS=%d\n\n", store, n, d, runtimeProcs())
	fmt.Println("| operation | ops/s | p99 | CPU cores busy | errors |")
	fmt.Println("|---|---:|---:|---:|---:|")
	for _, r := range []result{get, bareGet, create, bareCreate} {
		fmt.Printf("| %s | %.0f | %.2f ms | %.2f | %d |\n", r.name, r.perSec(), float64(r.p99.Microseconds())/1000, r.cpu, r.errs)
	}
	fmt.Printf("\nGetMembership: %.2f of the bare handler's throughput\n", get.perSec()/bareGet.perSec())
	fmt.Printf("CreateMembership: %.2f of the bare handler's throughput\n", create.perSec()/bareCreate.perSec())
	return nil
}

// recorder is an HTTP client that keeps the body of the last response.
type recorder struct{ last []byte }

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	resp, err := sdkhttp.Client(nil).Do(req)
	if err != nil {
		return nil, err
	}
	r.last, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(r.last))
	return resp, err
}

// capture returns the raw bodies of a GetMembership of membership (owned by
// account 200000000000) and of a fresh CreateMembership.
func capture(ctx context.Context, url string, rec *recorder, membership string) (get, create []byte, err error) {
	cl := func(account string) *cleanrooms.Client {
		return cleanrooms.New(cleanrooms.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider(account, "secret", ""), HTTPClient: rec})
	}
	if _, err := cl("200000000000").GetMembership(ctx, &cleanrooms.GetMembershipInput{MembershipIdentifier: aws.String(membership)}); err != nil {
		return nil, nil, err
	}
	get = rec.last
	out, err := cl("100000000000").CreateCollaboration(ctx, &cleanrooms.CreateCollaborationInput{Name: aws.String("bench"), Description: aws.String("bench"),
		CreatorDisplayName: aws.String("creator"), CreatorMemberAbilities: []types.MemberAbility{types.MemberAbilityCanQuery},
		Members:        []types.MemberSpecification{{AccountId: aws.String("300000000000"), DisplayName: aws.String("m"), MemberAbilities: []types.MemberAbility{}}},
		QueryLogStatus: types.CollaborationQueryLogStatusDisabled})
	if err != nil {
		return nil, nil, err
	}
	if _, err := cl("300000000000").CreateMembership(ctx, &cleanrooms.CreateMembershipInput{CollaborationIdentifier: out.Collaboration.Id,
		QueryLogStatus: types.MembershipQueryLogStatusDisabled}); err != nil {
		return nil, nil, err
	}
	return get, rec.last, nil
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
