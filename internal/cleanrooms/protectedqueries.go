package cleanrooms

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	api "github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/engine"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
)

// kindProtectedQuery: ID query ID, Parent membership ID, Account the member
// who ran it, Status a ProtectedQueryStatus. The queue of queries to run is
// the set of SUBMITTED records, so it survives restarts and is shared by
// replicas.
const kindProtectedQuery = "protectedquery"

// quotaConcurrentQueries is AWS's (non-adjustable) limit of ongoing queries
// per membership.
const (
	quotaConcurrentQueries     = "Concurrent ongoing queries per membership"
	maxConcurrentQueriesPerMsp = 5
)

// ongoingStatuses are the statuses of queries that count as ongoing.
var ongoingStatuses = []string{string(api.ProtectedQueryStatusSubmitted), string(api.ProtectedQueryStatusStarted), string(api.ProtectedQueryStatusCancelling)}

// QueryEngine checks and runs protected queries (package engine).
type QueryEngine interface {
	Check(ctx context.Context, req *engine.Request) (*engine.Plan, error)
	engine.Executor
}

// delivery is one place a query's result goes.
type delivery struct {
	Account   string           `json:"account"` // the receiving member
	Bucket    string           `json:"bucket"`
	KeyPrefix string           `json:"keyPrefix,omitempty"`
	Format    api.ResultFormat `json:"format"`
	// Member is true when the result goes to a member's own default result
	// location (member output) rather than a bucket the runner named.
	Member bool `json:"member,omitempty"`
	// Distribute is true when it is one location of a distribute output.
	Distribute bool `json:"distribute,omitempty"`
}

// protectedQueryData is the body of a protected query record.
type protectedQueryData struct {
	MembershipID    string                                 `json:"membershipId"`
	CollaborationID string                                 `json:"collaborationId"`
	SQLParameters   api.ProtectedQuerySQLParameters        `json:"sqlParameters"`
	Result          *api.ProtectedQueryResultConfiguration `json:"resultConfiguration,omitempty"`
	Compute         *api.ComputeConfiguration              `json:"computeConfiguration,omitempty"`
	// What runs: the SQL (the template's text for template queries), the
	// parameter values with the template's defaults filled in, and their
	// declared types.
	SQL        string            `json:"sql"`
	Params     map[string]string `json:"params,omitempty"`
	ParamTypes map[string]string `json:"paramTypes,omitempty"`
	Template   string            `json:"template,omitempty"`
	Deliveries []delivery        `json:"deliveries"`

	Output     *api.ProtectedQueryResult     `json:"output,omitempty"`
	Error      *api.ProtectedQueryError      `json:"error,omitempty"`
	Statistics *api.ProtectedQueryStatistics `json:"statistics,omitempty"`
	StartTime  *time.Time                    `json:"startTime,omitempty"`

	// Lease says which runner executes a STARTED query and until when; a
	// runner that stops renewing it loses the query to recovery.
	LeaseOwner string    `json:"leaseOwner,omitempty"`
	LeaseUntil time.Time `json:"leaseUntil,omitempty"`
	Attempts   int       `json:"attempts,omitempty"`
}

type protectedQuery struct {
	rec  *store.Record
	data protectedQueryData
}

func protectedQueryOf(rec *store.Record) (*protectedQuery, error) {
	q := &protectedQuery{rec: rec}
	return q, decode(rec, &q.data)
}

func (q *protectedQuery) save(ctx context.Context, tx store.Tx, now time.Time) error {
	q.rec.UpdateTime = now
	q.rec.Data = encode(q.data)
	return tx.Update(ctx, q.rec)
}

func (q *protectedQuery) status() api.ProtectedQueryStatus {
	return api.ProtectedQueryStatus(q.rec.Status)
}

func terminal(st api.ProtectedQueryStatus) bool {
	switch st {
	case api.ProtectedQueryStatusSuccess, api.ProtectedQueryStatusFailed, api.ProtectedQueryStatusCancelled, api.ProtectedQueryStatusTimedOut:
		return true
	}
	return false
}

func noProtectedQuery(id string) *fault.Error {
	return fault.Missing("", id, "Protected query %s does not exist", id)
}

// denied is AccessDeniedException with the model's reason.
func denied(format string, args ...any) *fault.Error {
	e := fault.Denied(format, args...)
	e.Reason = string(api.AccessDeniedExceptionReasonInsufficientPermissions)
	return e
}

func invalidConfig(field, format string, args ...any) *fault.Error {
	msg := fmt.Sprintf(format, args...)
	return fault.Invalid(string(api.ValidationExceptionReasonInvalidConfiguration), msg, fault.Field{Name: field, Message: msg})
}

// memberQuery returns the protected query id of membership ms.
func memberQuery(ctx context.Context, tx store.Tx, ms *membership, id string) (*protectedQuery, error) {
	rec, err := tx.Get(ctx, kindProtectedQuery, id)
	if isNotFound(err) || (err == nil && rec.Parent != ms.rec.ID) {
		return nil, noProtectedQuery(id)
	}
	if err != nil {
		return nil, err
	}
	return protectedQueryOf(rec)
}

// queryTables builds the engine's view of every table of the collaboration
// whose owner still contributes: the association name, the configured
// table's allowed columns and rule. Files and the Glue column order are
// filled in by the runner.
func queryTables(ctx context.Context, tx store.Tx, v *collabView) (map[string]*engine.Table, map[string]*schema, error) {
	tables := map[string]*engine.Table{}
	schemas := map[string]*schema{}
	err := eachRecord(ctx, tx, kindAssociation, store.Filter{Parent: v.c.rec.ID}, func(rec *store.Record) error {
		sc, err := schemaOf(ctx, tx, v, rec)
		if err != nil || sc == nil {
			return err
		}
		t := &engine.Table{Name: sc.a.data.Name, Owner: rec.Account, Allowed: append([]string(nil), sc.t.data.AllowedColumns...)}
		for _, c := range sc.t.data.Columns {
			t.Columns = append(t.Columns, engine.Column{Name: c.Name, Type: c.Type})
		}
		if r := sc.t.data.Rule; r != nil && r.Policy.V1 != nil {
			t.Rule = engine.Rule{Type: string(r.Type), Aggregation: r.Policy.V1.Aggregation, List: r.Policy.V1.List, Custom: r.Policy.V1.Custom}
		}
		key := strings.ToLower(sc.a.data.Name)
		tables[key] = t
		schemas[key] = sc
		return nil
	})
	return tables, schemas, err
}

// resolveDeliveries turns a result configuration into the places results
// go, checking that every receiver can receive results and has somewhere to
// receive them.
//
// It reads only the transaction: the result buckets, which the object
// store knows, are returned to be checked outside it (checkResultBuckets).
func (s *Service) resolveDeliveries(ctx context.Context, tx store.Tx, v *collabView, runner string, rc *api.ProtectedQueryResultConfiguration) ([]delivery, []bucketCheck, error) {
	out := rc.OutputConfiguration
	var checks []bucketCheck
	canReceive := func(acct, field string) (*member, error) {
		m, ok := v.present(acct)
		if !ok || m.status() != api.MemberStatusActive || !m.can(api.MemberAbilityCanReceiveResults) {
			return nil, invalidConfig(field, "Account %s is not an active member of the collaboration that can receive results", acct)
		}
		return m, nil
	}
	s3Delivery := func(cfg *api.ProtectedQueryS3OutputConfiguration, field string) (delivery, error) {
		if _, err := canReceive(runner, field); err != nil {
			return delivery{}, err
		}
		checks = append(checks, bucketCheck{bucket: cfg.Bucket, account: runner, field: field + ".bucket"})
		d := delivery{Account: runner, Bucket: cfg.Bucket, Format: cfg.ResultFormat}
		if cfg.KeyPrefix != nil {
			d.KeyPrefix = *cfg.KeyPrefix
		}
		return d, nil
	}
	memberDelivery := func(acct, field string) (delivery, error) {
		m, err := canReceive(acct, field)
		if err != nil {
			return delivery{}, err
		}
		ms, err := getMembership(ctx, tx, m.data.MembershipID)
		if err != nil {
			return delivery{}, err
		}
		drc := ms.data.DefaultResultConfiguration
		if drc == nil || drc.OutputConfiguration == nil || drc.OutputConfiguration.S3 == nil {
			return delivery{}, invalidConfig(field, "Member %s has no default result configuration to receive results in", acct)
		}
		cfg := drc.OutputConfiguration.S3
		checks = append(checks, bucketCheck{bucket: cfg.Bucket, account: acct, field: field})
		d := delivery{Account: acct, Bucket: cfg.Bucket, Format: cfg.ResultFormat, Member: true}
		if cfg.KeyPrefix != nil {
			d.KeyPrefix = *cfg.KeyPrefix
		}
		return d, nil
	}
	switch {
	case out.S3 != nil:
		d, err := s3Delivery(out.S3, "resultConfiguration.outputConfiguration.s3")
		return []delivery{d}, checks, err
	case out.Member != nil:
		d, err := memberDelivery(out.Member.AccountId, "resultConfiguration.outputConfiguration.member.accountId")
		return []delivery{d}, checks, err
	case out.Distribute != nil:
		var ds []delivery
		seenS3 := false
		seen := map[string]bool{}
		for i, loc := range out.Distribute.Locations {
			field := fmt.Sprintf("resultConfiguration.outputConfiguration.distribute.locations[%d]", i)
			var d delivery
			var err error
			switch {
			case loc.S3 != nil:
				if seenS3 {
					return nil, nil, invalidConfig(field, "A distribute output can't name more than one S3 location")
				}
				seenS3 = true
				d, err = s3Delivery(loc.S3, field+".s3")
			case loc.Member != nil:
				if loc.Member.AccountId == runner {
					return nil, nil, invalidConfig(field, "A distribute output can't name the query runner's account as a member location; use an S3 location")
				}
				if seen[loc.Member.AccountId] {
					return nil, nil, invalidConfig(field, "Account %s is named more than once", loc.Member.AccountId)
				}
				seen[loc.Member.AccountId] = true
				d, err = memberDelivery(loc.Member.AccountId, field+".member.accountId")
			}
			if err != nil {
				return nil, nil, err
			}
			d.Distribute = true
			ds = append(ds, d)
		}
		return ds, checks, nil
	}
	return nil, nil, invalidConfig("resultConfiguration.outputConfiguration", "No output location is configured")
}

// bucketCheck is a result bucket that must exist and belong to account.
type bucketCheck struct{ bucket, account, field string }

// checkResultBuckets checks result buckets outside any store transaction.
func (s *Service) checkResultBuckets(ctx context.Context, checks []bucketCheck) error {
	for _, c := range checks {
		if err := s.checkResultBucket(ctx, c.bucket, c.account, c.field); err != nil {
			return err
		}
	}
	return nil
}

// checkResultBucket checks that results can be written to bucket for
// account: it exists and belongs to the receiving account.
func (s *Service) checkResultBucket(ctx context.Context, bucket, account, field string) error {
	if s.buckets == nil {
		return fault.Newf(fault.Internal, "no object store is configured for results")
	}
	owner, err := s.buckets.Owner(ctx, bucket)
	if fault.KindOf(err) == fault.NotFound {
		return invalidConfig(field, "The result bucket %s does not exist", bucket)
	}
	if err != nil {
		return err
	}
	if owner != account {
		return invalidConfig(field, "The result bucket %s does not belong to the receiving account %s", bucket, account)
	}
	return nil
}

// tableReceivers returns, for every table of the collaboration (by
// lower-case association name), the accounts its collaboration analysis
// rule lets receive results. A table whose association names no result
// receivers lets results go only to the member who can query.
func tableReceivers(schemas map[string]*schema, runner string) map[string][]string {
	out := map[string][]string{}
	for key, sc := range schemas {
		var receivers []string
		if ar := sc.matchingAssociationRule(); ar != nil {
			_, receivers, _, _ = associationRuleMember(&ar.Policy)
		}
		if len(receivers) == 0 {
			receivers = []string{runner}
		}
		out[key] = append([]string(nil), receivers...)
	}
	return out
}

// allowedReceivers checks that every receiver is allowed by the
// collaboration analysis rule of each table the query reads.
func allowedReceivers(tables []string, receivers map[string][]string, names map[string]string, ds []delivery) error {
	for _, name := range tables {
		key := strings.ToLower(name)
		allowed, ok := receivers[key]
		if !ok {
			continue
		}
		for _, d := range ds {
			if !slices.Contains(allowed, d.Account) {
				return fault.Invalid(string(api.ValidationExceptionReasonInvalidConfiguration),
					fmt.Sprintf("The collaboration analysis rule of table %s does not allow account %s to receive results", names[key], d.Account))
			}
		}
	}
	return nil
}

// startSnapshot is everything StartProtectedQuery reads from the store to
// decide: the query record to insert and the tables and rules its check
// uses. It is read twice, once before the check and once in the short
// transaction that inserts the query; the query is inserted only when both
// readings are the same.
type startSnapshot struct {
	data      protectedQueryData
	req       *engine.Request
	receivers map[string][]string // by table
	names     map[string]string   // association names, by lower-case name
	buckets   []bucketCheck
	msID      string
}

// fingerprint identifies what the snapshot decides on.
func (sn *startSnapshot) fingerprint() string {
	b, _ := json.Marshal(struct {
		Data      protectedQueryData
		Req       *engine.Request
		Receivers map[string][]string
	}{sn.data, sn.req, sn.receivers})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// startAttempts bounds how often StartProtectedQuery starts again when the
// tables or rules changed between its check and its insert.
const startAttempts = 5

func (s *Service) StartProtectedQuery(ctx context.Context, in *api.StartProtectedQueryInput) (*api.StartProtectedQueryOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if s.engine == nil {
		return nil, fault.Unimplemented("StartProtectedQuery")
	}
	if in.ComputeConfiguration != nil {
		return nil, invalid("computeConfiguration", "computeConfiguration applies to the Spark engine's workers; cleanroomsd runs SQL on an embedded engine and sizes it itself")
	}
	sp := in.SqlParameters
	hasText := sp.QueryString != nil && *sp.QueryString != ""
	hasTemplate := sp.AnalysisTemplateArn != nil && *sp.AnalysisTemplateArn != ""
	if hasText == hasTemplate {
		return nil, invalid("sqlParameters", "Exactly one of queryString and analysisTemplateArn is required")
	}
	if hasText && len(sp.Parameters) > 0 {
		return nil, invalid("sqlParameters.parameters", "Parameters can only be given with analysisTemplateArn")
	}

	// Read, check outside any transaction, then insert in a short
	// transaction that confirms what the check relied on is unchanged.
	var out *api.ProtectedQuery
	for attempt := 0; ; attempt++ {
		var snap *startSnapshot
		err = s.store.View(ctx, func(tx store.Tx) error {
			var err error
			snap, err = s.startSnapshot(ctx, tx, account, in)
			return err
		})
		if err != nil {
			return nil, err
		}
		if err := s.checkResultBuckets(ctx, snap.buckets); err != nil {
			return nil, err
		}
		plan, err := s.engine.Check(ctx, snap.req)
		if err != nil {
			return nil, err
		}
		if err := allowedReceivers(plan.Tables(), snap.receivers, snap.names, snap.data.Deliveries); err != nil {
			return nil, err
		}
		want := snap.fingerprint()
		changed := false
		err = s.store.Update(ctx, func(tx store.Tx) error {
			out, changed = nil, false
			now, err := s.startSnapshot(ctx, tx, account, in)
			if err != nil {
				return err
			}
			if now.fingerprint() != want {
				changed = true
				return nil
			}
			if n, err := tx.Count(ctx, kindProtectedQuery, store.Filter{Parent: now.msID, Statuses: ongoingStatuses}); err != nil {
				return err
			} else if n >= maxConcurrentQueriesPerMsp {
				return fault.Quota(quotaConcurrentQueries, maxConcurrentQueriesPerMsp)
			}
			ts := s.timestamp()
			q := &protectedQuery{rec: &store.Record{Kind: kindProtectedQuery, ID: s.newID(), Parent: now.msID, Account: account,
				Status: string(api.ProtectedQueryStatusSubmitted), CreateTime: ts, UpdateTime: ts}, data: now.data}
			q.rec.Data = encode(q.data)
			if err := tx.Insert(ctx, q.rec); err != nil {
				return err
			}
			out = s.protectedQueryView(q)
			return nil
		})
		if err != nil {
			return nil, err
		}
		if !changed {
			break
		}
		if attempt+1 == startAttempts {
			return nil, fault.Conflicting(string(api.ConflictExceptionReasonInvalidState), "", "",
				"The collaboration's tables or rules kept changing while the query was being checked; start it again")
		}
	}
	s.kickRunner()
	return &api.StartProtectedQueryOutput{ProtectedQuery: out}, nil
}

// startSnapshot reads, in tx only, what StartProtectedQuery decides on.
func (s *Service) startSnapshot(ctx context.Context, tx store.Tx, account string, in *api.StartProtectedQueryInput) (*startSnapshot, error) {
	sp := in.SqlParameters
	ms, err := ownMembership(ctx, tx, in.MembershipIdentifier, account)
	if err != nil {
		return nil, err
	}
	if ms.rec.Status != string(api.MembershipStatusActive) {
		return nil, denied("Membership %s is %s and can't run queries", ms.rec.ID, ms.rec.Status)
	}
	c, err := getCollaboration(ctx, tx, ms.rec.Parent)
	if err != nil {
		return nil, err
	}
	v, err := loadCollabView(ctx, tx, c)
	if err != nil {
		return nil, err
	}
	me := v.members[account]
	if me == nil || !me.can(api.MemberAbilityCanQuery) {
		return nil, denied("Only the member who can query may start protected queries")
	}
	// The payer must have joined before queries run.
	for acct, m := range v.members {
		if p := m.data.Payment.QueryCompute; p != nil && p.IsResponsible != nil && *p.IsResponsible && m.status() != api.MemberStatusActive {
			return nil, fault.Invalid(string(api.ValidationExceptionReasonInvalidConfiguration),
				fmt.Sprintf("The member paying for queries (%s) is %s; queries can run once it is an active member", acct, m.status()))
		}
	}
	sn := &startSnapshot{msID: ms.rec.ID}
	sn.data = protectedQueryData{MembershipID: ms.rec.ID, CollaborationID: c.rec.ID, SQLParameters: *sp, Result: in.ResultConfiguration}
	if sp.QueryString != nil && *sp.QueryString != "" {
		sn.data.SQL = *sp.QueryString
	} else if err := s.resolveTemplate(ctx, tx, v, &sn.data); err != nil {
		return nil, err
	}
	rc := in.ResultConfiguration
	if rc == nil {
		drc := ms.data.DefaultResultConfiguration
		if drc == nil || drc.OutputConfiguration == nil || drc.OutputConfiguration.S3 == nil {
			return nil, invalidConfig("resultConfiguration", "No resultConfiguration was given and the membership has no default result configuration")
		}
		rc = &api.ProtectedQueryResultConfiguration{OutputConfiguration: &api.ProtectedQueryOutputConfiguration{S3: drc.OutputConfiguration.S3}}
		sn.data.Result = rc
	}
	if sn.data.Deliveries, sn.buckets, err = s.resolveDeliveries(ctx, tx, v, account, rc); err != nil {
		return nil, err
	}
	tables, schemas, err := queryTables(ctx, tx, v)
	if err != nil {
		return nil, err
	}
	sn.req = &engine.Request{SQL: sn.data.SQL, Parameters: sn.data.Params, ParameterTypes: sn.data.ParamTypes,
		Tables: tables, QueryRunner: account, TemplateARN: sn.data.Template}
	sn.receivers = tableReceivers(schemas, account)
	sn.names = map[string]string{}
	for k, sc := range schemas {
		sn.names[k] = sc.a.data.Name
	}
	return sn, nil
}

// resolveTemplate fills data with the template's SQL and parameters. The
// template must belong to the collaboration; parameters must be declared,
// and those without a default must be given.
func (s *Service) resolveTemplate(ctx context.Context, tx store.Tx, v *collabView, data *protectedQueryData) error {
	arn := *data.SQLParameters.AnalysisTemplateArn
	t, err := s.collaborationTemplate(ctx, tx, v, arn)
	if err != nil {
		if fault.KindOf(err) == fault.NotFound {
			return invalid("sqlParameters.analysisTemplateArn", "Analysis template %s does not exist in this collaboration", arn)
		}
		return err
	}
	if t.data.Format != api.AnalysisFormatSql {
		return invalid("sqlParameters.analysisTemplateArn", "Analysis template %s is not a SQL template", arn)
	}
	data.SQL = t.data.Text
	data.Template = s.analysisTemplateARN(t.rec.Account, t.data.MembershipID, t.rec.ID)
	declared := map[string]api.AnalysisParameter{}
	for _, p := range t.data.Parameters {
		declared[strings.ToLower(p.Name)] = p
	}
	data.Params, data.ParamTypes = map[string]string{}, map[string]string{}
	for name, val := range data.SQLParameters.Parameters {
		p, ok := declared[strings.ToLower(name)]
		if !ok {
			return invalid("sqlParameters.parameters", "Parameter %s is not declared by analysis template %s", name, arn)
		}
		if err := checkParameterValue(p.Type, val); err != nil {
			return invalid("sqlParameters.parameters", "Parameter %s must be a %s: %v", p.Name, p.Type, err)
		}
		data.Params[p.Name] = val
	}
	for _, p := range t.data.Parameters {
		data.ParamTypes[p.Name] = string(p.Type)
		if _, ok := data.Params[p.Name]; ok {
			continue
		}
		if p.DefaultValue == nil {
			return invalid("sqlParameters.parameters", "Parameter %s of analysis template %s has no default value and must be given", p.Name, arn)
		}
		data.Params[p.Name] = *p.DefaultValue
	}
	return nil
}

func (s *Service) protectedQueryView(q *protectedQuery) *api.ProtectedQuery {
	d := &q.data
	sp := d.SQLParameters
	return &api.ProtectedQuery{
		Id:                   q.rec.ID,
		MembershipId:         d.MembershipID,
		MembershipArn:        s.membershipARN(q.rec.Account, d.MembershipID),
		CreateTime:           ts(q.rec.CreateTime),
		SqlParameters:        &sp,
		Status:               q.status(),
		ResultConfiguration:  d.Result,
		Statistics:           d.Statistics,
		Result:               d.Output,
		Error:                d.Error,
		ComputeConfiguration: d.Compute,
	}
}

func (s *Service) GetProtectedQuery(ctx context.Context, in *api.GetProtectedQueryInput) (*api.GetProtectedQueryOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *api.ProtectedQuery
	err = s.store.View(ctx, func(tx store.Tx) error {
		ms, err := ownMembership(ctx, tx, in.MembershipIdentifier, account)
		if err != nil {
			return err
		}
		q, err := memberQuery(ctx, tx, ms, in.ProtectedQueryIdentifier)
		if err != nil {
			return err
		}
		out = s.protectedQueryView(q)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.GetProtectedQueryOutput{ProtectedQuery: out}, nil
}

func (s *Service) ListProtectedQueries(ctx context.Context, in *api.ListProtectedQueriesInput) (*api.ListProtectedQueriesOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	pg, err := readPage(in.NextToken, in.MaxResults, "ListProtectedQueries/"+in.MembershipIdentifier)
	if err != nil {
		return nil, err
	}
	pg = pg.NewestFirst() // AWS lists protected queries most recent first
	f := store.Filter{Parent: in.MembershipIdentifier}
	if in.Status != nil {
		f.Statuses = []string{string(*in.Status)}
	}
	out := &api.ListProtectedQueriesOutput{}
	err = s.store.View(ctx, func(tx store.Tx) error {
		out.ProtectedQueries = []api.ProtectedQuerySummary{}
		if _, err := ownMembership(ctx, tx, in.MembershipIdentifier, account); err != nil {
			return err
		}
		recs, err := tx.List(ctx, kindProtectedQuery, f, pg.Query())
		if err != nil {
			return err
		}
		recs, out.NextToken = pg.Next(recs)
		for _, rec := range recs {
			q, err := protectedQueryOf(rec)
			if err != nil {
				return err
			}
			var receivers []string
			for _, d := range q.data.Deliveries {
				if !slices.Contains(receivers, d.Account) {
					receivers = append(receivers, d.Account)
				}
			}
			sort.Strings(receivers)
			out.ProtectedQueries = append(out.ProtectedQueries, api.ProtectedQuerySummary{
				Id: rec.ID, MembershipId: q.data.MembershipID, MembershipArn: s.membershipARN(rec.Account, q.data.MembershipID),
				CreateTime: ts(rec.CreateTime), Status: q.status(),
				ReceiverConfigurations: []api.ReceiverConfiguration{{AnalysisType: api.AnalysisTypeDirectAnalysis,
					ConfigurationDetails: &api.ConfigurationDetails{DirectAnalysisConfigurationDetails: &api.DirectAnalysisConfigurationDetails{ReceiverAccountIds: receivers}}}},
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateProtectedQuery cancels a query: a SUBMITTED one at once, a STARTED
// one through CANCELLING while its runner stops it.
func (s *Service) UpdateProtectedQuery(ctx context.Context, in *api.UpdateProtectedQueryInput) (*api.UpdateProtectedQueryOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *api.ProtectedQuery
	err = s.store.Update(ctx, func(tx store.Tx) error {
		ms, err := ownMembership(ctx, tx, in.MembershipIdentifier, account)
		if err != nil {
			return err
		}
		q, err := memberQuery(ctx, tx, ms, in.ProtectedQueryIdentifier)
		if err != nil {
			return err
		}
		now := s.timestamp()
		switch st := q.status(); {
		case terminal(st):
			return fault.Conflicting(string(api.ConflictExceptionReasonInvalidState), "", q.rec.ID, "Protected query %s has already ended (%s)", q.rec.ID, st)
		case st == api.ProtectedQueryStatusSubmitted:
			q.rec.Status = string(api.ProtectedQueryStatusCancelled)
			q.data.Statistics = &api.ProtectedQueryStatistics{TotalDurationInMillis: ptr(now.Sub(q.rec.CreateTime).Milliseconds())}
		case st == api.ProtectedQueryStatusStarted:
			q.rec.Status = string(api.ProtectedQueryStatusCancelling)
		}
		if err := q.save(ctx, tx, now); err != nil {
			return err
		}
		out = s.protectedQueryView(q)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out.Status == api.ProtectedQueryStatusCancelling {
		s.stopLocal(out.Id)
	}
	return &api.UpdateProtectedQueryOutput{ProtectedQuery: out}, nil
}
