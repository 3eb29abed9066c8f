package cleanrooms

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	api "github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/api/glueapi"
	"github.com/cleanroomsd/cleanroomsd/internal/engine"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/glue"
	"github.com/cleanroomsd/cleanroomsd/internal/objectstore"
	"github.com/cleanroomsd/cleanroomsd/internal/results"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
)

// The queue's timing. A runner holds a lease on each query it runs and
// renews it; a query whose lease lapsed (its runner died) is taken back.
const (
	leaseDuration = 30 * time.Second
	leaseRenewal  = 10 * time.Second
	// cancelCheck is how often a running query looks for a cancellation
	// made through another replica; on this one it is stopped at once.
	cancelCheck    = time.Second
	pollInterval   = 500 * time.Millisecond
	recoveryPeriod = 5 * time.Second
	// maxAttempts bounds how often a query whose runner died is resumed
	// before it is failed, so a query that kills its runner can't loop.
	maxAttempts = 2
)

// Error codes of failed queries that are not the engine's.
const (
	codeRunnerLost   = "QUERY_RUNNER_LOST"
	codeInvalidQuery = "INVALID_QUERY"
	codeDataAccess   = "DATA_SOURCE_ACCESS_FAILED"
	codeResultWrite  = "RESULT_DELIVERY_FAILED"
)

func (s *Service) kickRunner() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// RunQueries executes protected queries until ctx ends: Workers workers
// take SUBMITTED queries from the store (wherever they were submitted), and
// a recovery loop takes back queries whose runner stopped renewing its
// lease. It returns when every worker has stopped.
func (s *Service) RunQueries(ctx context.Context) {
	if s.engine == nil {
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < s.queries.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.worker(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(recoveryPeriod)
		defer t.Stop()
		for {
			if err := s.recoverQueries(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("recovering protected queries", "error", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	wg.Wait()
}

func (s *Service) worker(ctx context.Context) {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			q, err := s.claimQuery(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("claiming a protected query", "error", err)
				}
				break
			}
			if q == nil {
				break
			}
			// Another query may be waiting: let an idle worker look.
			s.kickRunner()
			s.execute(ctx, q)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		case <-t.C:
		}
	}
}

// claimQuery moves the oldest SUBMITTED query to STARTED under this
// runner's lease, or returns nil when there is none. The store's
// serializable transactions make sure only one runner gets each query.
func (s *Service) claimQuery(ctx context.Context) (*protectedQuery, error) {
	var q *protectedQuery
	err := s.store.Update(ctx, func(tx store.Tx) error {
		q = nil
		recs, err := tx.List(ctx, kindProtectedQuery, store.Filter{Statuses: []string{string(api.ProtectedQueryStatusSubmitted)}}, store.Page{Limit: 1})
		if err != nil || len(recs) == 0 {
			return err
		}
		pq, err := protectedQueryOf(recs[0])
		if err != nil {
			return err
		}
		now := s.timestamp()
		pq.rec.Status = string(api.ProtectedQueryStatusStarted)
		pq.data.LeaseOwner, pq.data.LeaseUntil = s.queries.Instance, now.Add(leaseDuration)
		pq.data.Attempts++
		if pq.data.StartTime == nil {
			pq.data.StartTime = &now
		}
		if err := pq.save(ctx, tx, now); err != nil {
			return err
		}
		q = pq
		return nil
	})
	return q, err
}

// recoverQueries takes back queries whose runner's lease lapsed: a
// cancelled one ends CANCELLED, one that may run again is resubmitted, and
// one that has run out of attempts fails with a clear error.
func (s *Service) recoverQueries(ctx context.Context) error {
	return s.store.Update(ctx, func(tx store.Tx) error {
		now := s.timestamp()
		return eachRecord(ctx, tx, kindProtectedQuery, store.Filter{Statuses: []string{string(api.ProtectedQueryStatusStarted), string(api.ProtectedQueryStatusCancelling)}},
			func(rec *store.Record) error {
				q, err := protectedQueryOf(rec)
				if err != nil || now.Before(q.data.LeaseUntil) {
					return err
				}
				switch {
				case q.status() == api.ProtectedQueryStatusCancelling:
					q.rec.Status = string(api.ProtectedQueryStatusCancelled)
					q.data.Statistics = duration(q, now)
				case q.data.Attempts < maxAttempts:
					q.rec.Status = string(api.ProtectedQueryStatusSubmitted)
				default:
					q.rec.Status = string(api.ProtectedQueryStatusFailed)
					q.data.Error = &api.ProtectedQueryError{Code: codeRunnerLost,
						Message: fmt.Sprintf("The server running this query stopped %d times before it finished; start the query again", q.data.Attempts)}
					q.data.Statistics = duration(q, now)
				}
				q.data.LeaseOwner = ""
				s.log.Info("recovered protected query", "id", q.rec.ID, "status", q.rec.Status)
				return q.save(ctx, tx, now)
			})
	})
}

func duration(q *protectedQuery, now time.Time) *api.ProtectedQueryStatistics {
	return &api.ProtectedQueryStatistics{TotalDurationInMillis: ptr(now.Sub(q.rec.CreateTime).Milliseconds())}
}

// execute runs a claimed query, renewing its lease while it runs and
// stopping it when it is cancelled, then records how it ended.
func (s *Service) execute(parent context.Context, q *protectedQuery) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	var stopped atomic.Bool // cancelled or taken over
	s.running.Store(q.rec.ID, cancel)
	defer s.running.Delete(q.rec.ID)
	done := make(chan struct{})
	heartbeat := make(chan struct{})
	go func() {
		defer close(heartbeat)
		t := time.NewTicker(cancelCheck)
		defer t.Stop()
		lastRenewal := time.Now()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			var keep bool
			var err error
			if time.Since(lastRenewal) >= leaseRenewal {
				keep, err = s.renewLease(ctx, q.rec.ID)
				lastRenewal = time.Now()
			} else {
				keep, err = s.stillRunning(ctx, q.rec.ID)
			}
			if err == nil && !keep {
				stopped.Store(true)
				cancel()
			}
		}
	}()
	info := &runInfo{}
	out, err := s.runQuery(ctx, q, info)
	close(done)
	<-heartbeat
	if parent.Err() != nil {
		// The server is stopping: hand the query back so the next runner
		// resumes it at once instead of waiting for the lease to lapse.
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(parent), 5*time.Second)
		defer rcancel()
		if err := s.releaseQuery(rctx, q.rec.ID); err != nil {
			s.log.Warn("handing back a protected query", "id", q.rec.ID, "error", err)
		}
		return
	}
	ended, err := s.finish(parent, q.rec.ID, out, err, stopped.Load())
	if err != nil {
		s.log.Error("recording a protected query's end", "id", q.rec.ID, "error", err)
		return
	}
	if ended != nil {
		s.writeQueryLogs(parent, ended, info)
	}
}

// releaseQuery returns a query this runner holds to SUBMITTED without
// counting the attempt, or a CANCELLING one to CANCELLED.
func (s *Service) releaseQuery(ctx context.Context, id string) error {
	return s.store.Update(ctx, func(tx store.Tx) error {
		rec, err := tx.Get(ctx, kindProtectedQuery, id)
		if err != nil {
			return err
		}
		q, err := protectedQueryOf(rec)
		if err != nil || q.data.LeaseOwner != s.queries.Instance || terminal(q.status()) {
			return err
		}
		now := s.timestamp()
		if q.status() == api.ProtectedQueryStatusCancelling {
			q.rec.Status = string(api.ProtectedQueryStatusCancelled)
			q.data.Statistics = duration(q, now)
		} else {
			q.rec.Status = string(api.ProtectedQueryStatusSubmitted)
			q.data.Attempts--
		}
		q.data.LeaseOwner = ""
		return q.save(ctx, tx, now)
	})
}

// stillRunning reports whether the query is still STARTED under this
// runner's lease, without writing.
func (s *Service) stillRunning(ctx context.Context, id string) (bool, error) {
	keep := true
	err := s.store.View(ctx, func(tx store.Tx) error {
		rec, err := tx.Get(ctx, kindProtectedQuery, id)
		if err != nil {
			return err
		}
		q, err := protectedQueryOf(rec)
		if err != nil {
			return err
		}
		keep = q.status() == api.ProtectedQueryStatusStarted && q.data.LeaseOwner == s.queries.Instance
		return nil
	})
	return keep, err
}

// stopLocal stops a query if this process runs it.
func (s *Service) stopLocal(id string) {
	if c, ok := s.running.Load(id); ok {
		c.(context.CancelFunc)()
	}
}

// renewLease extends this runner's lease; it reports false when the query
// should stop (cancelled, or taken over).
func (s *Service) renewLease(ctx context.Context, id string) (bool, error) {
	keep := true
	err := s.store.Update(ctx, func(tx store.Tx) error {
		keep = true
		rec, err := tx.Get(ctx, kindProtectedQuery, id)
		if err != nil {
			return err
		}
		q, err := protectedQueryOf(rec)
		if err != nil {
			return err
		}
		if q.status() != api.ProtectedQueryStatusStarted || q.data.LeaseOwner != s.queries.Instance {
			keep = false
			return nil
		}
		now := s.timestamp()
		q.data.LeaseUntil = now.Add(leaseDuration)
		return q.save(ctx, tx, now)
	})
	return keep, err
}

// finish records the end of a query this runner ran and returns it, or nil
// when another runner had taken it over.
func (s *Service) finish(ctx context.Context, id string, out *api.ProtectedQueryResult, runErr error, wasCancelled bool) (*protectedQuery, error) {
	var ended *protectedQuery
	err := s.store.Update(ctx, func(tx store.Tx) error {
		ended = nil
		rec, err := tx.Get(ctx, kindProtectedQuery, id)
		if err != nil {
			return err
		}
		q, err := protectedQueryOf(rec)
		if err != nil {
			return err
		}
		if q.data.LeaseOwner != s.queries.Instance || terminal(q.status()) {
			return nil // another runner took it over
		}
		now := s.timestamp()
		q.data.LeaseOwner = ""
		q.data.Statistics = duration(q, now)
		var qe *engine.QueryError
		switch {
		case q.status() == api.ProtectedQueryStatusCancelling || wasCancelled:
			q.rec.Status = string(api.ProtectedQueryStatusCancelled)
		case runErr == nil:
			q.rec.Status = string(api.ProtectedQueryStatusSuccess)
			q.data.Output = out
		case errors.Is(runErr, engine.ErrTimeout):
			q.rec.Status = string(api.ProtectedQueryStatusTimedOut)
			q.data.Error = &api.ProtectedQueryError{Code: engine.CodeTimedOut, Message: fmt.Sprintf("The query ran longer than %v", s.queries.Timeout)}
		case errors.As(runErr, &qe):
			q.rec.Status = string(api.ProtectedQueryStatusFailed)
			q.data.Error = &api.ProtectedQueryError{Code: qe.Code, Message: qe.Message}
		default:
			q.rec.Status = string(api.ProtectedQueryStatusFailed)
			fe := fault.As(runErr)
			code := engine.CodeExecutionFailed
			if fe.Kind == fault.Validation {
				code = codeInvalidQuery
			}
			msg := fe.Message
			if msg == "" || fe.Kind == fault.Internal || fe.Kind == fault.Unavailable {
				msg = "The query failed on the server; see the server's log"
				s.log.Error("protected query failed", "id", id, "error", runErr)
			}
			q.data.Error = &api.ProtectedQueryError{Code: code, Message: msg}
		}
		if err := q.save(ctx, tx, now); err != nil {
			return err
		}
		ended = q
		return nil
	})
	return ended, err
}

// runFailure makes a failure safe to show the query runner.
func runFailure(code, format string, args ...any) error {
	return &engine.QueryError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// runQuery checks the query against the tables as they are now (once),
// reads the referenced tables' files, runs it once and delivers the one
// result to every receiver, in each receiver's format.
func (s *Service) runQuery(ctx context.Context, q *protectedQuery, info *runInfo) (*api.ProtectedQueryResult, error) {
	var (
		tables  map[string]*engine.Table
		schemas map[string]*schema
		glueTbl = map[string]*glueapi.Table{}
	)
	err := s.store.View(ctx, func(tx store.Tx) error {
		ms, err := getMembership(ctx, tx, q.data.MembershipID)
		if err != nil {
			return err
		}
		if ms.rec.Status != string(api.MembershipStatusActive) {
			return runFailure(codeInvalidQuery, "The membership that ran the query is %s", ms.rec.Status)
		}
		c, err := getCollaboration(ctx, tx, q.data.CollaborationID)
		if err != nil {
			return err
		}
		v, err := loadCollabView(ctx, tx, c)
		if err != nil {
			return err
		}
		if tables, schemas, err = queryTables(ctx, tx, v); err != nil {
			return err
		}
		for name, sc := range schemas {
			ref := sc.t.data.TableReference.Glue
			if ref == nil {
				continue
			}
			gt, err := glue.GetTable(ctx, tx, sc.t.rec.Account, ref.DatabaseName, ref.TableName)
			if err != nil {
				if fault.KindOf(err) == fault.NotFound {
					continue // reported if the query reads it
				}
				return err
			}
			glueTbl[name] = gt
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The check runs against the Glue tables as they are now: their
	// columns, types and formats.
	for name, t := range tables {
		if gt := glueTbl[name]; gt != nil {
			if err := tableDefinition(t, gt); err != nil {
				return nil, err
			}
		}
	}
	req := &engine.Request{SQL: q.data.SQL, Parameters: q.data.Params, ParameterTypes: q.data.ParamTypes,
		Tables: tables, QueryRunner: q.rec.Account, TemplateARN: q.data.Template}
	plan, err := s.engine.Check(ctx, req)
	if err != nil {
		return nil, err
	}
	for _, name := range plan.Tables() {
		if sc := schemas[strings.ToLower(name)]; sc != nil {
			lt := loggedTable{name: sc.a.data.Name, owner: sc.a.rec.Account, configuredTableID: sc.t.rec.ID}
			if r := sc.t.data.Rule; r != nil {
				lt.rule = string(r.Type)
			}
			info.tables = append(info.tables, lt)
		}
	}
	names := map[string]string{}
	for k, sc := range schemas {
		names[k] = sc.a.data.Name
	}
	if err := allowedReceivers(plan.Tables(), tableReceivers(schemas, q.rec.Account), names, q.data.Deliveries); err != nil {
		return nil, err
	}

	dir, err := os.MkdirTemp(s.queries.ScratchDir, "query-"+q.rec.ID+"-")
	if err != nil {
		return nil, fault.Wrap(fault.Internal, err, "making the query's scratch directory")
	}
	defer os.RemoveAll(dir)
	sources := map[string]engine.Source{}
	for i, name := range plan.Tables() {
		key := strings.ToLower(name)
		t := tables[key]
		if glueTbl[key] == nil {
			return nil, runFailure(codeDataAccess, "The Glue table behind %s no longer exists or has no location", t.Name)
		}
		files, err := s.tableFiles(ctx, t, glueTbl[key], filepath.Join(dir, "in", strconv.Itoa(i)))
		if err != nil {
			return nil, err
		}
		sources[key] = engine.Source{Files: files}
	}
	bound, err := plan.Bind(sources)
	if err != nil {
		return nil, err
	}

	runCtx, cancel := context.WithTimeout(ctx, s.queries.Timeout)
	defer cancel()
	outDir := filepath.Join(dir, "out")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fault.Wrap(fault.Internal, err, "making the query's output directory")
	}
	res, err := s.engine.Execute(runCtx, bound, outDir)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, &engine.QueryError{Code: engine.CodeTimedOut, Message: "timed out", Err: err}
		}
		return nil, err
	}
	// One result, encoded once per format its receivers asked for.
	files := map[string]string{}
	for _, d := range q.data.Deliveries {
		f := strings.ToUpper(string(d.Format))
		if _, ok := files[f]; ok {
			continue
		}
		encDir := filepath.Join(dir, "enc-"+strings.ToLower(f))
		if err := os.MkdirAll(encDir, 0o755); err != nil {
			return nil, fault.Wrap(fault.Internal, err, "making the query's output directory")
		}
		path, err := results.Encode(ctx, res.File, f, encDir)
		if err != nil {
			return nil, fault.Wrap(fault.Internal, err, "encoding the result")
		}
		files[f] = path
	}
	return s.deliver(ctx, q, files)
}

// tableDefinition completes t with the Glue table's columns and format.
func tableDefinition(t *engine.Table, gt *glueapi.Table) error {
	if gt.StorageDescriptor == nil || gt.StorageDescriptor.Location == nil {
		return runFailure(codeDataAccess, "The Glue table behind %s no longer exists or has no location", t.Name)
	}
	format, err := glueFormat(gt)
	if err != nil {
		return runFailure(codeDataAccess, "Table %s: %v", t.Name, err)
	}
	t.Format = format
	t.Columns = nil
	for _, c := range gt.StorageDescriptor.Columns {
		typ := "string"
		if c.Type != nil {
			typ = *c.Type
		}
		t.Columns = append(t.Columns, engine.Column{Name: c.Name, Type: typ})
	}
	return nil
}

// tableFiles makes the Glue table's files available under dir and returns
// their paths.
func (s *Service) tableFiles(ctx context.Context, t *engine.Table, gt *glueapi.Table, dir string) ([]string, error) {
	sd := gt.StorageDescriptor
	bucket, prefix, ok := strings.Cut(strings.TrimPrefix(*sd.Location, "s3://"), "/")
	if !ok && bucket == "" {
		return nil, runFailure(codeDataAccess, "Table %s has an invalid location %s", t.Name, *sd.Location)
	}
	owner, err := s.buckets.Owner(ctx, bucket)
	if err != nil || owner != t.Owner {
		return nil, runFailure(codeDataAccess, "The data of table %s at %s is not accessible to its owner", t.Name, *sd.Location)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fault.Wrap(fault.Internal, err, "making the table's scratch directory")
	}
	ext := ".csv"
	if t.Format.Kind == "parquet" {
		ext = ".parquet"
	}
	// A location names a prefix: every object under it is part of the
	// table, except Hive's markers (_SUCCESS, .crc files) and "folders".
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	opts := objectstore.ListOptions{Prefix: prefix}
	var files []string
	for {
		page, err := s.objects.List(ctx, bucket, opts)
		if err != nil {
			return nil, runFailure(codeDataAccess, "Listing the data of table %s failed", t.Name)
		}
		for _, o := range page.Objects {
			base := path.Base(o.Key)
			if strings.HasSuffix(o.Key, "/") || o.Size == 0 || strings.HasPrefix(base, "_") || strings.HasPrefix(base, ".") {
				continue
			}
			dst := filepath.Join(dir, fmt.Sprintf("%06d%s", len(files), ext))
			if _, err := objectstore.Materialize(ctx, s.objects, bucket, o.Key, dst); err != nil {
				return nil, runFailure(codeDataAccess, "Reading s3://%s/%s of table %s failed", bucket, o.Key, t.Name)
			}
			files = append(files, dst)
		}
		if !page.IsTruncated {
			break
		}
		opts.StartAfter = page.NextStartAfter
	}
	if len(files) == 0 {
		return nil, runFailure(engine.CodeTableError, "table %q has no data files", t.Name)
	}
	return files, nil
}

// glueFormat reads a Glue table's storage format as Glue and Athena write
// it: Parquet by its SerDe or input format, otherwise delimited text with
// the SerDe's delimiter and the table's header line count.
func glueFormat(t *glueapi.Table) (engine.Format, error) {
	sd := t.StorageDescriptor
	var lib, input string
	params := map[string]string{}
	for k, v := range t.Parameters {
		params[k] = v
	}
	if sd.SerdeInfo != nil {
		if sd.SerdeInfo.SerializationLibrary != nil {
			lib = strings.ToLower(*sd.SerdeInfo.SerializationLibrary)
		}
		for k, v := range sd.SerdeInfo.Parameters {
			params[k] = v
		}
	}
	for k, v := range sd.Parameters {
		params[k] = v
	}
	if sd.InputFormat != nil {
		input = strings.ToLower(*sd.InputFormat)
	}
	class := strings.ToLower(params["classification"])
	if strings.Contains(lib, "parquet") || strings.Contains(input, "parquet") || class == "parquet" {
		return engine.Format{Kind: "parquet"}, nil
	}
	if class != "" && class != "csv" && class != "tsv" {
		return engine.Format{}, fmt.Errorf("the %q format is not supported; use CSV or Parquet", class)
	}
	f := engine.Format{Kind: "csv", Delimiter: ","}
	for _, k := range []string{"field.delim", "separatorChar", "serialization.format"} {
		if d := params[k]; d != "" {
			f.Delimiter = unescapeDelimiter(d)
			break
		}
	}
	if class == "tsv" && params["field.delim"] == "" {
		f.Delimiter = "\t"
	}
	if q := params["quoteChar"]; q != "" {
		f.Quote = q
	}
	if e := params["escapeChar"]; e != "" {
		f.Escape = e
	}
	if h := params["skip.header.line.count"]; h != "" {
		n, err := strconv.Atoi(h)
		if err != nil || n < 0 {
			return engine.Format{}, fmt.Errorf("skip.header.line.count %q is not a count", h)
		}
		f.HeaderLines = n
	}
	return f, nil
}

// unescapeDelimiter reads the escapes Hive writes for delimiters: \t, and
// octal or unicode escapes such as \001 or \u0001.
func unescapeDelimiter(d string) string {
	switch {
	case d == `\t`:
		return "\t"
	case len(d) == 4 && d[0] == '\\':
		if n, err := strconv.ParseUint(d[1:], 8, 8); err == nil {
			return string(rune(n))
		}
	case len(d) == 6 && strings.HasPrefix(d, `\u`):
		if n, err := strconv.ParseUint(d[2:], 16, 16); err == nil {
			return string(rune(n))
		}
	case len(d) > 1:
		// serialization.format may hold a number naming a character.
		if n, err := strconv.Atoi(d); err == nil && n > 0 && n < 128 {
			return string(rune(n))
		}
	}
	return d
}

// deliver writes the result files to every delivery's bucket and returns
// the result's description.
func (s *Service) deliver(ctx context.Context, q *protectedQuery, files map[string]string) (*api.ProtectedQueryResult, error) {
	out := &api.ProtectedQueryOutput{}
	var distribute *api.ProtectedQueryDistributeOutput
	var targets []results.Target
	for _, d := range q.data.Deliveries {
		key := path.Join(d.KeyPrefix, q.rec.ID, "result", results.FileName(string(d.Format)))
		targets = append(targets, results.Target{Account: d.Account, Bucket: d.Bucket, Key: key, Format: string(d.Format)})
		location := "s3://" + d.Bucket + "/" + key
		switch {
		case d.Distribute:
			if distribute == nil {
				distribute = &api.ProtectedQueryDistributeOutput{}
			}
			if d.Member {
				distribute.MemberList = append(distribute.MemberList, api.ProtectedQuerySingleMemberOutput{AccountId: d.Account})
			} else {
				distribute.S3 = &api.ProtectedQueryS3Output{Location: location}
			}
		case d.Member:
			out.MemberList = append(out.MemberList, api.ProtectedQuerySingleMemberOutput{AccountId: d.Account})
		default:
			out.S3 = &api.ProtectedQueryS3Output{Location: location}
		}
	}
	if err := results.Deliver(ctx, s.objects, s.buckets, files, targets); err != nil {
		var eb *results.ErrBucket
		var ew *results.ErrWrite
		switch {
		case errors.As(err, &eb):
			return nil, runFailure(codeResultWrite, "The result bucket %s of account %s is not available", eb.Bucket, eb.Account)
		case errors.As(err, &ew):
			return nil, runFailure(codeResultWrite, "Writing the result to s3://%s/%s failed", ew.Bucket, ew.Key)
		}
		return nil, fault.Wrap(fault.Internal, err, "delivering the result")
	}
	out.Distribute = distribute
	return &api.ProtectedQueryResult{Output: out}, nil
}
