// Command cleanroomsd is a self-hostable data clean room that speaks the AWS
// Clean Rooms API.
//
//	cleanroomsd serve --addr 127.0.0.1:4566 --data-dir ./data
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cleanroomsd/cleanroomsd/internal/cleanrooms"
	"github.com/cleanroomsd/cleanroomsd/internal/server"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "cleanroomsd:", err)
		os.Exit(1)
	}
}

const usage = `usage: cleanroomsd serve [flags]

Run 'cleanroomsd serve -h' for the flags.
`

func run(args []string, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "serve" {
		fmt.Fprint(stderr, usage)
		return errors.New("unknown or missing command")
	}
	return serve(args[1:], stderr)
}

// quotaFlags collects repeated --quota NAME=VALUE flags.
type quotaFlags struct{ q *cleanrooms.Quotas }

func (f quotaFlags) String() string     { return "" }
func (f quotaFlags) Set(s string) error { return f.q.ParseQuota(s) }

func serve(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quotas := cleanrooms.DefaultQuotas()
	var (
		addr     = fs.String("addr", "127.0.0.1:4566", "address to listen on (HOST:PORT)")
		dataDir  = fs.String("data-dir", "./data", "directory for the embedded store and data")
		region   = fs.String("region", "us-east-1", "AWS region the server answers for")
		creds    = fs.String("credentials", "", "JSON file of accounts and keys; enables strict SigV4 verification")
		dbURL    = fs.String("database-url", "", "PostgreSQL URL for metadata (default: the embedded store in --data-dir)")
		logLevel = fs.String("log-level", "info", "debug, info, warn or error")
		grace    = fs.Duration("shutdown-grace", 30*time.Second, "how long in-flight requests may take to finish on shutdown")
		qTimeout = fs.Duration("query-timeout", 30*time.Minute, "how long a protected query may run before it ends TIMED_OUT")
		qWorkers = fs.Int("query-workers", 2, "how many protected queries this process runs at once (0: none, leave them to other replicas)")
	)
	fs.Var(quotaFlags{&quotas}, "quota", "override a quota, NAME=VALUE (see the README for the names); repeatable")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	workers := *qWorkers
	if workers == 0 {
		workers = -1 // the server's zero value means "the default"
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	srv, err := server.New(ctx, server.Config{
		DataDir: *dataDir, DatabaseURL: *dbURL, Region: *region, CredentialsFile: *creds,
		Quotas: quotas, Logger: log, QueryTimeout: *qTimeout, QueryWorkers: workers,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		srv.Close()
		return err
	}
	mode := "dev (account = 12-digit access key id, else 000000000000)"
	if *creds != "" {
		mode = "strict (SigV4 verified)"
	}
	storeDesc := "embedded SQLite in " + *dataDir
	if *dbURL != "" {
		storeDesc = "PostgreSQL " + redactURL(*dbURL)
	}
	log.Info("cleanroomsd listening", "addr", ln.Addr().String(), "region", *region, "auth", mode, "store", storeDesc)
	serveErr := srv.Serve(ctx, ln, *grace)
	closeErr := srv.Close()
	if serveErr != nil {
		return serveErr
	}
	log.Info("cleanroomsd stopped")
	return closeErr
}

// redactURL hides a password in a database URL.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return "(url)"
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return u
	}
	user, _, _ := strings.Cut(rest[:at], ":")
	return scheme + "://" + user + "@" + rest[at+1:]
}
