// Package server assembles cleanroomsd: it opens the store, builds the
// services and their protocol handlers, and serves them all on one HTTP
// listener, routing each request to a service by the SigV4 credential scope.
package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/api/glueapi"
	"github.com/cleanroomsd/cleanroomsd/internal/api/logsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/auth"
	"github.com/cleanroomsd/cleanroomsd/internal/cleanrooms"
	"github.com/cleanroomsd/cleanroomsd/internal/cwlogs"
	"github.com/cleanroomsd/cleanroomsd/internal/engine"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/glue"
	"github.com/cleanroomsd/cleanroomsd/internal/identity"
	"github.com/cleanroomsd/cleanroomsd/internal/objectstore"
	"github.com/cleanroomsd/cleanroomsd/internal/objectstore/fsobjects"
	"github.com/cleanroomsd/cleanroomsd/internal/protocol"
	"github.com/cleanroomsd/cleanroomsd/internal/s3api"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
	"github.com/cleanroomsd/cleanroomsd/internal/store/pgstore"
	"github.com/cleanroomsd/cleanroomsd/internal/store/sqlitestore"
)

// Config configures a Server.
type Config struct {
	// DataDir holds the embedded store (and, later, object data).
	DataDir string
	// DatabaseURL, when set, keeps metadata in PostgreSQL instead of the
	// embedded store.
	DatabaseURL string
	// Region is the region the server answers for, used in ARNs.
	Region string
	// CredentialsFile switches on strict mode: every request's SigV4
	// signature is verified against the accounts in this file.
	CredentialsFile string
	Quotas          cleanrooms.Quotas
	Logger          *slog.Logger
	// CheckResponses validates every response against the model (tests).
	CheckResponses bool
	// QueryTimeout ends a protected query as TIMED_OUT (default 30 minutes);
	// QueryWorkers is how many run at once in this process (default 2;
	// negative: none).
	QueryTimeout time.Duration
	QueryWorkers int
}

// Server is a running cleanroomsd.
type Server struct {
	cfg     Config
	log     *slog.Logger
	store   store.Store
	authn   *auth.Authenticator
	cr      *protocol.RestJSON
	glue    *protocol.JSONRPC
	logs    *protocol.JSONRPC
	s3      *s3api.Handler
	objects objectstore.Store
	engine  *engine.Engine
	// stopQueries ends the protected query runner; queriesDone closes when
	// it has stopped.
	stopQueries context.CancelFunc
	queriesDone chan struct{}
	handler     http.Handler
	http        *http.Server
	// requestIDs numbers requests.
	requestIDs *requestIDs
}

// requestIDs makes request IDs shaped like UUIDs: a random per-process
// prefix (so replicas never collide) and a counter, without a call into
// the kernel's random source per request.
type requestIDs struct {
	prefix [8]byte
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	r := &requestIDs{}
	u := uuid.New()
	copy(r.prefix[:], u[:8])
	return r
}

func (r *requestIDs) next() string {
	var b [16]byte
	copy(b[:8], r.prefix[:])
	binary.BigEndian.PutUint64(b[8:], r.n.Add(1))
	b[6] = (b[6] & 0x0f) | 0x40 // version 4 layout
	b[8] = (b[8] & 0x3f) | 0x80 // RFC 4122 variant
	return uuid.UUID(b).String()
}

// New opens the store and builds every service.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	s := &Server{cfg: cfg, log: cfg.Logger, requestIDs: newRequestIDs()}

	if cfg.CredentialsFile != "" {
		accounts, err := auth.LoadCredentials(cfg.CredentialsFile)
		if err != nil {
			return nil, err
		}
		s.authn = auth.NewStrict(accounts)
	} else {
		s.authn = auth.NewDev()
	}

	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s.store = st

	// Object data stays on this node's disk even when metadata is in
	// PostgreSQL; objectstore.Store is the seam for an external S3 store.
	if cfg.DataDir == "" {
		st.Close()
		return nil, errors.New("a data directory is required for object data")
	}
	objs, err := fsobjects.Open(cfg.DataDir)
	if err != nil {
		st.Close()
		return nil, err
	}
	s.objects = objs
	s.s3 = s3api.New(s3api.Config{Meta: st, Objects: objs, Auth: s.authn, Region: cfg.Region, Logger: cfg.Logger})

	s.engine, err = engine.New(engine.Config{TempDir: objs.ScratchDir()})
	if err != nil {
		st.Close()
		return nil, err
	}

	// CloudWatch Logs: members read their query logs there.
	logs := cwlogs.New(st, cfg.Region)
	s.logs, err = cwlogs.NewHandler(logs, protocol.Options{Logger: cfg.Logger, CheckResponses: cfg.CheckResponses})
	if err != nil {
		st.Close()
		return nil, err
	}

	svc := cleanrooms.New(cleanrooms.Config{Store: st, Region: cfg.Region, Quotas: cfg.Quotas, Logger: cfg.Logger, SQL: s.engine,
		Queries: cleanrooms.QueryConfig{Engine: s.engine, Objects: objs, Buckets: bucketOwners{st}, ScratchDir: objs.ScratchDir(),
			Timeout: cfg.QueryTimeout, Workers: cfg.QueryWorkers, Logs: queryLogs{logs}}})
	// Protected queries run in the background for as long as the server
	// lives; with several replicas each query runs on exactly one of them.
	qctx, stop := context.WithCancel(context.Background())
	s.stopQueries, s.queriesDone = stop, make(chan struct{})
	go func() {
		defer close(s.queriesDone)
		svc.RunQueries(qctx)
	}()
	codec, err := protocol.NewErrorCodec(cleanroomsapi.ErrorTable(), cleanroomsapi.ErrorShapes())
	if err != nil {
		st.Close()
		return nil, err
	}
	s.cr, err = protocol.NewRestJSON(cleanroomsapi.Operations(svc), codec,
		protocol.Options{Logger: cfg.Logger, CheckResponses: cfg.CheckResponses})
	if err != nil {
		st.Close()
		return nil, err
	}

	glueCodec, err := protocol.NewErrorCodec(glueapi.ErrorTable(), glueapi.ServedErrorShapes())
	if err != nil {
		st.Close()
		return nil, err
	}
	s.glue, err = protocol.NewJSONRPC(glueapi.Operations(glue.New(st)), glueapi.TargetPrefix, glueapi.JSONVersion, glueCodec,
		protocol.Options{Logger: cfg.Logger, CheckResponses: cfg.CheckResponses})
	if err != nil {
		st.Close()
		return nil, err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("/", http.HandlerFunc(s.dispatch))
	// S3 requests bypass the mux: it would redirect keys containing "..",
	// "//" or "./" to a cleaned path, and a bucket named healthz would meet
	// the health check. Their bodies stream untouched to the S3 handler.
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sc, ok := auth.Scope(r); ok && sc.Service == "s3" {
			s.s3.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
	return s, nil
}

func openStore(ctx context.Context, cfg Config) (store.Store, error) {
	if cfg.DatabaseURL != "" {
		return pgstore.Open(ctx, cfg.DatabaseURL)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("a data directory or a database URL is required")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, err
	}
	return sqlitestore.Open(ctx, filepath.Join(cfg.DataDir, "metadata.db"))
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves on ln until ctx is done, then stops accepting, lets in-flight
// requests finish (up to grace) and returns. It does not close the store.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	s.http = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := s.http.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close stops the query runner (a query it was running is resumed by the
// next server), releases the engine and closes the store.
func (s *Server) Close() error {
	s.stopQueries()
	<-s.queriesDone
	return errors.Join(s.engine.Close(), s.store.Close())
}

// queryLogGroup is the CloudWatch Logs group Clean Rooms writes query logs
// to in each member's account; each membership has its own stream.
const queryLogGroup = "/aws/cleanrooms"

// queryLogs delivers query log entries to members' CloudWatch Logs.
type queryLogs struct{ logs *cwlogs.Service }

func (q queryLogs) WriteQueryLog(ctx context.Context, account, stream string, at time.Time, messages []string) error {
	events := make([]cwlogs.Event, len(messages))
	for i, m := range messages {
		events[i] = cwlogs.Event{Time: at, Message: m}
	}
	return q.logs.Append(ctx, account, queryLogGroup, stream, events)
}

// bucketOwners tells the query runner who owns a bucket.
type bucketOwners struct{ meta store.Store }

func (b bucketOwners) Owner(ctx context.Context, bucket string) (string, error) {
	return s3api.BucketOwner(ctx, b.meta, bucket)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		http.Error(w, "store unavailable\n", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "ok\n")
}

// maxBodyBytes bounds the request bodies of the JSON services.
const maxBodyBytes = 8 << 20

// dispatch routes a request to a service by its SigV4 signing name.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	reqID := s.requestIDs.next()
	w.Header().Set("x-amzn-RequestId", reqID)
	r = r.WithContext(protocol.WithRequestID(r.Context(), reqID))

	service := cleanroomsapi.SigningName
	if sc, ok := auth.Scope(r); ok {
		service = sc.Service
	}
	switch service {
	case cleanroomsapi.SigningName:
		s.serveJSON(w, r, s.cr)
	case glueapi.SigningName:
		s.serveJSON(w, r, s.glue)
	case logsapi.SigningName:
		s.serveJSON(w, r, s.logs)
	default:
		s.cr.WriteError(w, r, &fault.Error{Kind: fault.Validation, Code: "UnknownServiceException",
			Message: fmt.Sprintf("cleanroomsd does not serve the %q service", service)})
	}
}

// jsonService is a protocol handler of a JSON service.
type jsonService interface {
	http.Handler
	WriteError(w http.ResponseWriter, r *http.Request, err error)
}

// serveJSON authenticates a request of a JSON service and hands it to h.
func (s *Server) serveJSON(w http.ResponseWriter, r *http.Request, h jsonService) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		h.WriteError(w, r, fault.Newf(fault.Validation, "could not read the request body: %v", err))
		return
	}
	hash := ""
	if s.authn.Verifies() {
		hash = auth.PayloadHash(body)
	}
	caller, err := s.authn.Authenticate(r, hash)
	if err != nil {
		h.WriteError(w, r, err)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r = r.WithContext(identity.With(r.Context(), caller))
	h.ServeHTTP(w, r)
}
