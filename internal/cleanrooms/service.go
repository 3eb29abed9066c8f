// Package cleanrooms implements the AWS Clean Rooms API's business logic:
// who may see and change collaborations, members and memberships, and the
// rules AWS documents for each. It implements cleanroomsapi.Service and
// knows nothing of HTTP; the caller's account comes from the request context
// (package identity) and state lives in a store.Store.
package cleanrooms

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	api "github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/engine"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/identity"
	"github.com/cleanroomsd/cleanroomsd/internal/objectstore"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
)

// Quotas are the service quotas AWS applies by default; all are adjustable.
type Quotas struct {
	CollaborationsPerAccount       int // collaborations an account has created and not deleted
	MembersPerCollaboration        int // members invited to one collaboration, the creator excluded
	MembershipsPerAccount          int // active memberships of one account
	ConfiguredTablesPerAccount     int // configured tables of one account
	ColumnsPerConfiguredTable      int // allow-listed columns of one configured table
	AnalysisTemplatesPerMembership int // analysis templates of one membership
}

// DefaultQuotas returns AWS Clean Rooms' default quotas.
func DefaultQuotas() Quotas {
	return Quotas{CollaborationsPerAccount: 10, MembersPerCollaboration: 5, MembershipsPerAccount: 100,
		ConfiguredTablesPerAccount: 250, ColumnsPerConfiguredTable: 100, AnalysisTemplatesPerMembership: 25}
}

// quotaNames are the names ServiceQuotaExceededException reports, as the
// Service Quotas console lists them.
const (
	quotaCollaborations = "Collaborations created per account"
	quotaMembers        = "Members invited per collaboration"
	quotaMemberships    = "Memberships per account"
	quotaTables         = "Configured tables per account"
	quotaColumns        = "Allow-listed columns per configured table"
	quotaTemplates      = "Analysis templates per membership"
	// quotaRuleSize is not adjustable, so it is not a field of Quotas.
	quotaRuleSize = "Analysis rule JSON size"
)

// maxRuleKB is the largest analysis rule policy, as JSON, in kilobytes.
const maxRuleKB = 100

// SetQuota sets one quota by its flag name (e.g. "collaborations-per-account").
func (q *Quotas) SetQuota(name string, value int) error {
	if value < 0 {
		return fmt.Errorf("quota %s must not be negative", name)
	}
	switch name {
	case "collaborations-per-account":
		q.CollaborationsPerAccount = value
	case "members-per-collaboration":
		q.MembersPerCollaboration = value
	case "memberships-per-account":
		q.MembershipsPerAccount = value
	case "configured-tables-per-account":
		q.ConfiguredTablesPerAccount = value
	case "columns-per-configured-table":
		q.ColumnsPerConfiguredTable = value
	case "analysis-templates-per-membership":
		q.AnalysisTemplatesPerMembership = value
	default:
		return fmt.Errorf("unknown quota %q (known: collaborations-per-account, members-per-collaboration, memberships-per-account, "+
			"configured-tables-per-account, columns-per-configured-table, analysis-templates-per-membership)", name)
	}
	return nil
}

// ParseQuota parses NAME=VALUE into q.
func (q *Quotas) ParseQuota(s string) error {
	name, val, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("quota %q: want NAME=VALUE", s)
	}
	n, err := strconv.Atoi(val)
	if err != nil {
		return fmt.Errorf("quota %q: %v", s, err)
	}
	return q.SetQuota(name, n)
}

// SQLAnalyzer reads SQL text exactly as the query engine will run it (the
// engine is the only reader of SQL): the tables it references and the
// :name template parameters it uses. A *fault.Error is returned to the
// caller as it is; any other error becomes a ValidationException
// (INVALID_QUERY). internal/engine's Engine implements it.
type SQLAnalyzer interface {
	Analyze(ctx context.Context, sql string) (*engine.Analysis, error)
}

// Config configures a Service.
type Config struct {
	Store  store.Store
	Region string // the region in ARNs, e.g. us-east-1
	Quotas Quotas
	// SQL analyzes analysis templates' SQL. Without it, analysis template
	// operations that read SQL answer NotImplemented.
	SQL    SQLAnalyzer
	Logger *slog.Logger
	// Now and NewID default to the wall clock and random UUIDs; tests may
	// replace them.
	Now   func() time.Time
	NewID func() string

	// Protected queries. Without an Engine, StartProtectedQuery answers
	// NotImplemented.
	Queries QueryConfig
}

// QueryConfig configures how protected queries run.
type QueryConfig struct {
	Engine QueryEngine
	// Objects holds the tables' data and receives the results; Buckets says
	// who owns a bucket.
	Objects objectstore.Store
	Buckets BucketOwners
	// ScratchDir holds each running query's inputs and outputs; on the same
	// filesystem as Objects' files, inputs are hard links, not copies.
	ScratchDir string
	// Timeout ends a query as TIMED_OUT (default 30 minutes).
	Timeout time.Duration
	// Workers is how many queries this process runs at once (default 2; a
	// negative number runs none here, leaving them to other replicas).
	Workers int
	// Instance names this process in query leases (default random).
	Instance string
	// Logs receives query log entries, when query logging is enabled.
	Logs QueryLogWriter
}

// QueryLogWriter delivers query log entries to a member's logs (in AWS,
// CloudWatch Logs in the member's account); stream is the membership ID.
// With no messages it only makes sure the stream exists.
type QueryLogWriter interface {
	WriteQueryLog(ctx context.Context, account, stream string, at time.Time, messages []string) error
}

// BucketOwners tells which account owns an S3 bucket (fault.NotFound when
// there is no such bucket).
type BucketOwners interface {
	Owner(ctx context.Context, bucket string) (string, error)
}

// Service serves the Clean Rooms API.
type Service struct {
	api.UnimplementedService
	store  store.Store
	region string
	quotas Quotas
	sql    SQLAnalyzer
	log    *slog.Logger
	now    func() time.Time
	newID  func() string

	engine  QueryEngine
	objects objectstore.Store
	buckets BucketOwners
	queries QueryConfig
	// kick wakes a query worker when a query is submitted here.
	kick chan struct{}
	// running maps the IDs of the queries this process runs to the
	// functions that stop them.
	running sync.Map
}

var _ api.Service = (*Service)(nil)

// New returns a Service.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, region: cfg.Region, quotas: cfg.Quotas, sql: cfg.SQL, log: cfg.Logger, now: cfg.Now, newID: cfg.NewID,
		engine: cfg.Queries.Engine, objects: cfg.Queries.Objects, buckets: cfg.Queries.Buckets, queries: cfg.Queries}
	if s.queries.Timeout <= 0 {
		s.queries.Timeout = 30 * time.Minute
	}
	if s.queries.Workers == 0 {
		s.queries.Workers = 2
	}
	if s.queries.Instance == "" {
		s.queries.Instance = uuid.NewString()
	}
	s.kick = make(chan struct{}, max(1, s.queries.Workers))
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.newID == nil {
		s.newID = uuid.NewString
	}
	if s.region == "" {
		s.region = "us-east-1"
	}
	return s
}

// caller returns the authenticated account of the request.
func caller(ctx context.Context) (string, error) {
	c, ok := identity.From(ctx)
	if !ok || c.AccountID == "" {
		return "", fault.Newf(fault.Internal, "request has no authenticated caller")
	}
	return c.AccountID, nil
}

// timestamp returns the current time at the millisecond precision AWS uses.
func (s *Service) timestamp() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// ARNs.

func (s *Service) collaborationARN(account, id string) string {
	return "arn:aws:cleanrooms:" + s.region + ":" + account + ":collaboration/" + id
}

func (s *Service) membershipARN(account, id string) string {
	return "arn:aws:cleanrooms:" + s.region + ":" + account + ":membership/" + id
}

func (s *Service) configuredTableARN(account, id string) string {
	return "arn:aws:cleanrooms:" + s.region + ":" + account + ":configuredtable/" + id
}

// associationARN is a configured table association's ARN. It takes the
// form AWS's IAM reference gives, membership/MID/configuredtableassociation/ID,
// which is also the model's pattern for a schema's resourceArn (the
// association as a schema names it). The model's own
// ConfiguredTableAssociationArn shape (configuredtableassociation/MID/ID, at
// most 100 characters) can't be met by any real ARN: two UUIDs and an
// account are longer.
func (s *Service) associationARN(account, membershipID, id string) string {
	return s.membershipARN(account, membershipID) + "/configuredtableassociation/" + id
}

func (s *Service) analysisTemplateARN(account, membershipID, id string) string {
	return s.membershipARN(account, membershipID) + "/analysistemplate/" + id
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }
