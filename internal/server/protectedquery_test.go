package server_test

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cleanrooms"
	"github.com/aws/aws-sdk-go-v2/service/cleanrooms/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/cleanroomsd/cleanroomsd/internal/server"
)

// The two parties' data: A (the advertiser, who queries) knows its
// customers' segments; B (the publisher) knows their purchases. Users
// u000..u099 are A's customers, spread over segments by i%4, of whom B
// saw u000..u059 plus users A doesn't know. Segment "tiny" has only two
// users in common, below B's threshold of three.
func partyData() (customers [][]string, purchases [][]string) {
	segments := []string{"sports", "travel", "food", "music"}
	for i := 0; i < 100; i++ {
		customers = append(customers, []string{fmt.Sprintf("u%03d", i), segments[i%4]})
	}
	customers = append(customers, []string{"t1", "tiny"}, []string{"t2", "tiny"})
	for i := 0; i < 60; i++ {
		purchases = append(purchases, []string{fmt.Sprintf("u%03d", i), fmt.Sprint(10 + i), "eu"})
		if i%3 == 0 { // a second purchase for some users
			purchases = append(purchases, []string{fmt.Sprintf("u%03d", i), "5", "us"})
		}
	}
	for i := 0; i < 20; i++ {
		purchases = append(purchases, []string{fmt.Sprintf("x%03d", i), "99", "eu"})
	}
	purchases = append(purchases, []string{"t1", "7", "eu"}, []string{"t2", "8", "eu"})
	return customers, purchases
}

// expectedBySegment computes, independently of the server, COUNT(DISTINCT
// user) and SUM(amount) per segment over the join, keeping segments with at
// least min distinct users.
func expectedBySegment(min int) map[string][2]int {
	customers, purchases := partyData()
	segOf := map[string]string{}
	for _, c := range customers {
		segOf[c[0]] = c[1]
	}
	users := map[string]map[string]bool{}
	sums := map[string]int{}
	for _, p := range purchases {
		seg, ok := segOf[p[0]]
		if !ok {
			continue
		}
		if users[seg] == nil {
			users[seg] = map[string]bool{}
		}
		users[seg][p[0]] = true
		var amount int
		fmt.Sscan(p[1], &amount)
		sums[seg] += amount
	}
	out := map[string][2]int{}
	for seg, u := range users {
		if len(u) >= min {
			out[seg] = [2]int{len(u), sums[seg]}
		}
	}
	return out
}

func writeCSV(t *testing.T, path string, header []string, rows [][]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	w.Write(header)
	w.WriteAll(rows)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// toParquet converts a CSV file with a header into Parquet with DuckDB,
// casting columns as given.
func toParquet(t *testing.T, csvPath, parquetPath, selectList string) {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := fmt.Sprintf("COPY (SELECT %s FROM read_csv('%s', header=true, all_varchar=true)) TO '%s' (FORMAT parquet)", selectList, csvPath, parquetPath)
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
}

func upload(t *testing.T, ts *testServer, account, bucket, key, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	must(ts.s3(account).PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: f})).ok(t)
}

// pqWorld is a two-party collaboration with data in S3, Glue tables,
// configured tables with aggregation rules and associations.
type pqWorld struct {
	ts  *testServer
	p   twoParty
	dir string
}

func newPQWorld(t *testing.T, ts *testServer) *pqWorld {
	t.Helper()
	return newPQWorldLogging(t, ts, false)
}

func newPQWorldLogging(t *testing.T, ts *testServer, logging bool) *pqWorld {
	t.Helper()
	ctx := context.Background()
	w := &pqWorld{ts: ts, p: newTwoPartyLogging(t, ts, queryAndReceive, noAbilities, logging), dir: t.TempDir()}
	customers, purchases := partyData()
	for _, acct := range []string{acctA, acctB} {
		must(ts.s3(acct).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("data-" + acct)})).ok(t)
	}
	must(ts.s3(acctA).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("results-" + acctA)})).ok(t)

	// A: customers as CSV with a header, split over two files.
	half := len(customers) / 2
	writeCSV(t, filepath.Join(w.dir, "c1.csv"), []string{"user_id", "segment"}, customers[:half])
	writeCSV(t, filepath.Join(w.dir, "c2.csv"), []string{"user_id", "segment"}, customers[half:])
	upload(t, ts, acctA, "data-"+acctA, "crm/customers/part-1.csv", filepath.Join(w.dir, "c1.csv"))
	upload(t, ts, acctA, "data-"+acctA, "crm/customers/part-2.csv", filepath.Join(w.dir, "c2.csv"))
	must(ts.s3(acctA).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("data-" + acctA), Key: aws.String("crm/customers/_SUCCESS"), Body: strings.NewReader("")})).ok(t)
	glueTable(t, ts, acctA, "crm", "customers", csvFormat, []gluetypes.Column{gcol("user_id", "string"), gcol("segment", "string")}, nil)

	// B: purchases as Parquet.
	writeCSV(t, filepath.Join(w.dir, "p.csv"), []string{"user_id", "amount", "region"}, purchases)
	toParquet(t, filepath.Join(w.dir, "p.csv"), filepath.Join(w.dir, "p.parquet"), "user_id, CAST(amount AS INTEGER) AS amount, region")
	upload(t, ts, acctB, "data-"+acctB, "sales/purchases/data.parquet", filepath.Join(w.dir, "p.parquet"))
	glueTable(t, ts, acctB, "sales", "purchases", parquetFormat, []gluetypes.Column{gcol("user_id", "string"), gcol("amount", "int"), gcol("region", "string")}, nil)

	ctA := configuredTable(t, ts, acctA, "customers", "crm", "customers", "user_id", "segment")
	tableRule(t, ts, acctA, *ctA.Id, types.ConfiguredTableAnalysisRuleTypeAggregation, aggregationPolicy(types.AnalysisRuleAggregation{
		AggregateColumns:  []types.AggregateColumn{{ColumnNames: []string{"user_id"}, Function: types.AggregateFunctionNameCountDistinct}},
		JoinColumns:       []string{"user_id"},
		DimensionColumns:  []string{"segment"},
		ScalarFunctions:   []types.ScalarFunctions{},
		OutputConstraints: []types.AggregationConstraint{{ColumnName: aws.String("user_id"), Minimum: aws.Int32(2), Type: types.AggregationTypeCountDistinct}},
	}))
	ctB := configuredTable(t, ts, acctB, "purchases", "sales", "purchases", "user_id", "amount", "region")
	tableRule(t, ts, acctB, *ctB.Id, types.ConfiguredTableAnalysisRuleTypeAggregation, aggregationPolicy(types.AnalysisRuleAggregation{
		AggregateColumns: []types.AggregateColumn{
			{ColumnNames: []string{"user_id"}, Function: types.AggregateFunctionNameCountDistinct},
			{ColumnNames: []string{"amount"}, Function: types.AggregateFunctionNameSum},
		},
		JoinColumns:       []string{"user_id"},
		JoinRequired:      types.JoinRequiredOptionQueryRunner,
		DimensionColumns:  []string{"region"},
		ScalarFunctions:   []types.ScalarFunctions{},
		OutputConstraints: []types.AggregationConstraint{{ColumnName: aws.String("user_id"), Minimum: aws.Int32(3), Type: types.AggregationTypeCountDistinct}},
	}))
	assocA := associate(t, ts, acctA, w.p.msA, *ctA.Id, "customers")
	assocB := associate(t, ts, acctB, w.p.msB, *ctB.Id, "purchases")
	must(ts.client(acctA).CreateConfiguredTableAssociationAnalysisRule(ctx, &cleanrooms.CreateConfiguredTableAssociationAnalysisRuleInput{
		MembershipIdentifier: aws.String(w.p.msA), ConfiguredTableAssociationIdentifier: assocA.Id,
		AnalysisRuleType: types.ConfiguredTableAssociationAnalysisRuleTypeAggregation, AnalysisRulePolicy: aggregationAssociationPolicy([]string{acctA}, nil)})).ok(t)
	must(ts.client(acctB).CreateConfiguredTableAssociationAnalysisRule(ctx, &cleanrooms.CreateConfiguredTableAssociationAnalysisRuleInput{
		MembershipIdentifier: aws.String(w.p.msB), ConfiguredTableAssociationIdentifier: assocB.Id,
		AnalysisRuleType: types.ConfiguredTableAssociationAnalysisRuleTypeAggregation, AnalysisRulePolicy: aggregationAssociationPolicy([]string{acctA}, nil)})).ok(t)
	return w
}

func (w *pqWorld) start(t *testing.T, sql string) (*types.ProtectedQuery, error) {
	out, err := w.ts.client(acctA).StartProtectedQuery(context.Background(), &cleanrooms.StartProtectedQueryInput{
		MembershipIdentifier: aws.String(w.p.msA), Type: types.ProtectedQueryTypeSql,
		SqlParameters: &types.ProtectedQuerySQLParameters{QueryString: aws.String(sql)},
		ResultConfiguration: &types.ProtectedQueryResultConfiguration{OutputConfiguration: &types.ProtectedQueryOutputConfigurationMemberS3{
			Value: types.ProtectedQueryS3OutputConfiguration{Bucket: aws.String("results-" + acctA), KeyPrefix: aws.String("runs"), ResultFormat: types.ResultFormatCsv}}},
	})
	if err != nil {
		return nil, err
	}
	return out.ProtectedQuery, nil
}

// wait polls until the query ends.
func (w *pqWorld) wait(t *testing.T, id string) *types.ProtectedQuery {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		q := must(w.ts.client(acctA).GetProtectedQuery(context.Background(), &cleanrooms.GetProtectedQueryInput{
			MembershipIdentifier: aws.String(w.p.msA), ProtectedQueryIdentifier: aws.String(id)})).ok(t).ProtectedQuery
		switch q.Status {
		case types.ProtectedQueryStatusSubmitted, types.ProtectedQueryStatusStarted, types.ProtectedQueryStatusCancelling:
		default:
			return q
		}
		if time.Now().After(deadline) {
			t.Fatalf("query %s still %s", id, q.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readResult reads a CSV result from S3 as a header and rows.
func (w *pqWorld) readResult(t *testing.T, location string) ([]string, [][]string) {
	t.Helper()
	bucket, key, _ := strings.Cut(strings.TrimPrefix(location, "s3://"), "/")
	obj := must(w.ts.s3(acctA).GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})).ok(t)
	defer obj.Body.Close()
	raw, _ := io.ReadAll(obj.Body)
	recs, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("result %s is not CSV with a header: %v\n%s", location, err, raw)
	}
	return recs[0], recs[1:]
}

func TestProtectedAggregationQueryEndToEnd(t *testing.T) {
	ts := start(t)
	w := newPQWorld(t, ts)
	q, err := w.start(t, `SELECT c.segment, COUNT(DISTINCT p.user_id) AS users, SUM(p.amount) AS total
		FROM customers c INNER JOIN purchases p ON c.user_id = p.user_id GROUP BY c.segment`)
	if err != nil {
		t.Fatal(err)
	}
	if q.Status != types.ProtectedQueryStatusSubmitted {
		t.Errorf("a new query is %s, want SUBMITTED", q.Status)
	}
	done := w.wait(t, *q.Id)
	if done.Status != types.ProtectedQueryStatusSuccess {
		t.Fatalf("query ended %s: %s: %s", done.Status, aws.ToString(done.Error.Code), aws.ToString(done.Error.Message))
	}
	if done.Statistics == nil || done.Statistics.TotalDurationInMillis == nil {
		t.Error("no statistics on a finished query")
	}
	s3out, ok := done.Result.Output.(*types.ProtectedQueryOutputMemberS3)
	if !ok || !strings.HasPrefix(aws.ToString(s3out.Value.Location), "s3://results-"+acctA+"/runs/"+*q.Id+"/") {
		t.Fatalf("result output %#v", done.Result.Output)
	}
	header, rows := w.readResult(t, *s3out.Value.Location)
	if strings.Join(header, ",") != "segment,users,total" {
		t.Errorf("header %v", header)
	}
	got := map[string][2]int{}
	for _, r := range rows {
		var users, total int
		fmt.Sscan(r[1], &users)
		fmt.Sscan(r[2], &total)
		got[r[0]] = [2]int{users, total}
	}
	// B's threshold (3) is stricter than A's (2): "tiny" (2 users) is dropped.
	want := expectedBySegment(3)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("result %v, want %v", got, want)
	}
	if _, ok := got["tiny"]; ok {
		t.Error("the group below the threshold was not removed")
	}

	// The list shows it with its receiver.
	list := must(ts.client(acctA).ListProtectedQueries(context.Background(), &cleanrooms.ListProtectedQueriesInput{
		MembershipIdentifier: aws.String(w.p.msA), Status: types.ProtectedQueryStatusSuccess})).ok(t).ProtectedQueries
	if len(list) != 1 || aws.ToString(list[0].Id) != *q.Id {
		t.Fatalf("list %+v", list)
	}
	recv := list[0].ReceiverConfigurations[0].ConfigurationDetails.(*types.ConfigurationDetailsMemberDirectAnalysisConfigurationDetails)
	if strings.Join(recv.Value.ReceiverAccountIds, ",") != acctA {
		t.Errorf("receivers %v", recv.Value.ReceiverAccountIds)
	}
}

func TestProtectedQueryRejections(t *testing.T) {
	ts := start(t)
	w := newPQWorld(t, ts)
	for _, sql := range []string{
		`SELECT c.user_id FROM customers c INNER JOIN purchases p ON c.user_id = p.user_id`,                                              // join column out
		`SELECT p.region, SUM(p.amount) FROM purchases p GROUP BY p.region`,                                                              // B requires a join with the querier
		`SELECT c.segment, COUNT(DISTINCT p.user_id) FROM customers c LEFT JOIN purchases p ON c.user_id = p.user_id GROUP BY c.segment`, // outer join
		`SELECT * FROM read_csv('/etc/passwd')`,
		`SELECT c.segment, COUNT(DISTINCT p.user_id) FROM customers c INNER JOIN purchases p ON c.user_id = p.user_id GROUP BY c.segment; DROP TABLE customers`,
	} {
		_, err := w.start(t, sql)
		e := wantError(t, err, "ValidationException", 400)
		var ve *types.ValidationException
		if errorsAs(e.err, &ve) && ve.Reason != types.ValidationExceptionReasonInvalidQuery {
			t.Errorf("%s: reason %s, want INVALID_QUERY", sql, ve.Reason)
		}
	}
	// B can't query; nor can results go to a bucket A doesn't own.
	_, err := ts.client(acctB).StartProtectedQuery(context.Background(), &cleanrooms.StartProtectedQueryInput{
		MembershipIdentifier: aws.String(w.p.msB), Type: types.ProtectedQueryTypeSql,
		SqlParameters: &types.ProtectedQuerySQLParameters{QueryString: aws.String("SELECT 1")},
		ResultConfiguration: &types.ProtectedQueryResultConfiguration{OutputConfiguration: &types.ProtectedQueryOutputConfigurationMemberS3{
			Value: types.ProtectedQueryS3OutputConfiguration{Bucket: aws.String("data-" + acctB), ResultFormat: types.ResultFormatCsv}}},
	})
	wantError(t, err, "AccessDeniedException", 403)
	_, err = ts.client(acctA).StartProtectedQuery(context.Background(), &cleanrooms.StartProtectedQueryInput{
		MembershipIdentifier: aws.String(w.p.msA), Type: types.ProtectedQueryTypeSql,
		SqlParameters: &types.ProtectedQuerySQLParameters{QueryString: aws.String(`SELECT c.segment, COUNT(DISTINCT p.user_id) FROM customers c INNER JOIN purchases p ON c.user_id = p.user_id GROUP BY c.segment`)},
		ResultConfiguration: &types.ProtectedQueryResultConfiguration{OutputConfiguration: &types.ProtectedQueryOutputConfigurationMemberS3{
			Value: types.ProtectedQueryS3OutputConfiguration{Bucket: aws.String("data-" + acctB), ResultFormat: types.ResultFormatCsv}}},
	})
	wantError(t, err, "ValidationException", 400)
	if l := must(ts.client(acctA).ListProtectedQueries(context.Background(), &cleanrooms.ListProtectedQueriesInput{MembershipIdentifier: aws.String(w.p.msA)})).ok(t).ProtectedQueries; len(l) != 0 {
		t.Errorf("%d queries recorded after rejections", len(l))
	}
}

func TestProtectedQueryCancelAndLimits(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.QueryWorkers = 1 })
	w := newPQWorld(t, ts)
	sql := `SELECT c.segment, COUNT(DISTINCT p.user_id) FROM customers c INNER JOIN purchases p ON c.user_id = p.user_id GROUP BY c.segment`
	var ids []string
	var errs []error
	for i := 0; i < 8; i++ {
		q, err := w.start(t, sql)
		errs = append(errs, err)
		if err == nil {
			ids = append(ids, *q.Id)
		}
	}
	// At most five ongoing queries per membership.
	quota := 0
	for _, err := range errs {
		if err != nil {
			wantError(t, err, "ServiceQuotaExceededException", 402)
			quota++
		}
	}
	if len(ids) < 5 || len(ids)+quota != 8 {
		t.Errorf("%d started, %d refused", len(ids), quota)
	}
	// Cancel the last one; finished queries can't be cancelled.
	last := ids[len(ids)-1]
	up, err := ts.client(acctA).UpdateProtectedQuery(context.Background(), &cleanrooms.UpdateProtectedQueryInput{
		MembershipIdentifier: aws.String(w.p.msA), ProtectedQueryIdentifier: aws.String(last), TargetStatus: types.TargetProtectedQueryStatusCancelled})
	if err == nil && up.ProtectedQuery.Status != types.ProtectedQueryStatusCancelled && up.ProtectedQuery.Status != types.ProtectedQueryStatusCancelling {
		t.Errorf("after cancel: %s", up.ProtectedQuery.Status)
	}
	var final []string
	for _, id := range ids {
		final = append(final, string(w.wait(t, id).Status))
	}
	// The list runs from the most recent query back, a page at a time.
	var listed []string
	var token *string
	for {
		page := must(ts.client(acctA).ListProtectedQueries(context.Background(), &cleanrooms.ListProtectedQueriesInput{
			MembershipIdentifier: aws.String(w.p.msA), MaxResults: aws.Int32(2), NextToken: token})).ok(t)
		for _, q := range page.ProtectedQueries {
			listed = append(listed, *q.Id)
		}
		if token = page.NextToken; token == nil {
			break
		}
	}
	reversed := slices.Clone(ids)
	slices.Reverse(reversed)
	if !slices.Equal(listed, reversed) {
		t.Errorf("ListProtectedQueries order %v, want newest first %v", listed, reversed)
	}
	sort.Strings(final)
	if final[0] != "CANCELLED" && !strings.Contains(strings.Join(final, ","), "CANCELLED") && err == nil {
		t.Errorf("statuses %v: the cancelled query did not end CANCELLED", final)
	}
	_, err = ts.client(acctA).UpdateProtectedQuery(context.Background(), &cleanrooms.UpdateProtectedQueryInput{
		MembershipIdentifier: aws.String(w.p.msA), ProtectedQueryIdentifier: aws.String(ids[0]), TargetStatus: types.TargetProtectedQueryStatusCancelled})
	wantError(t, err, "ConflictException", 409)
	// Another account's view of the query: not found.
	_, err = ts.client(acctB).GetProtectedQuery(context.Background(), &cleanrooms.GetProtectedQueryInput{
		MembershipIdentifier: aws.String(w.p.msA), ProtectedQueryIdentifier: aws.String(ids[0])})
	wantError(t, err, "ResourceNotFoundException", 404)
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// newCustomWorld is a collaboration in which A's customers table has a
// CUSTOM rule letting A run any query, so tests can run slow queries.
func newCustomWorld(t *testing.T, ts *testServer) *pqWorld {
	t.Helper()
	ctx := context.Background()
	w := &pqWorld{ts: ts, p: newTwoParty(t, ts, queryAndReceive, noAbilities), dir: t.TempDir()}
	customers, _ := partyData()
	must(ts.s3(acctA).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("data-" + acctA)})).ok(t)
	must(ts.s3(acctA).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("results-" + acctA)})).ok(t)
	writeCSV(t, filepath.Join(w.dir, "c.csv"), []string{"user_id", "segment"}, customers)
	upload(t, ts, acctA, "data-"+acctA, "crm/customers/part-1.csv", filepath.Join(w.dir, "c.csv"))
	glueTable(t, ts, acctA, "crm", "customers", csvFormat, []gluetypes.Column{gcol("user_id", "string"), gcol("segment", "string")}, nil)
	ct := configuredTable(t, ts, acctA, "customers", "crm", "customers", "user_id", "segment")
	tableRule(t, ts, acctA, *ct.Id, types.ConfiguredTableAnalysisRuleTypeCustom, customPolicy(types.AnalysisRuleCustom{
		AllowedAnalyses: []string{"ANY_QUERY"}, AllowedAnalysisProviders: []string{acctA}}))
	assoc := associate(t, ts, acctA, w.p.msA, *ct.Id, "customers")
	must(ts.client(acctA).CreateConfiguredTableAssociationAnalysisRule(ctx, &cleanrooms.CreateConfiguredTableAssociationAnalysisRuleInput{
		MembershipIdentifier: aws.String(w.p.msA), ConfiguredTableAssociationIdentifier: assoc.Id,
		AnalysisRuleType: types.ConfiguredTableAssociationAnalysisRuleTypeCustom, AnalysisRulePolicy: customAssociationPolicy([]string{acctA}, nil)})).ok(t)
	return w
}

// slowQuery keeps DuckDB busy for seconds over the 102-row table.
const slowQuery = `SELECT count(*) AS n FROM customers a, customers b, customers c, customers d, customers e
	WHERE a.user_id < b.user_id AND c.segment <> d.segment AND e.user_id <> a.user_id`

func (w *pqWorld) waitFor(t *testing.T, id string, status types.ProtectedQueryStatus) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		q := must(w.ts.client(acctA).GetProtectedQuery(context.Background(), &cleanrooms.GetProtectedQueryInput{
			MembershipIdentifier: aws.String(w.p.msA), ProtectedQueryIdentifier: aws.String(id)})).ok(t).ProtectedQuery
		if q.Status == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("query %s is %s, never %s", id, q.Status, status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestProtectedQueryTimesOut(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.QueryTimeout = 300 * time.Millisecond })
	w := newCustomWorld(t, ts)
	q, err := w.start(t, slowQuery)
	if err != nil {
		t.Fatal(err)
	}
	done := w.wait(t, *q.Id)
	if done.Status != types.ProtectedQueryStatusTimedOut || done.Error == nil {
		t.Fatalf("a query past its timeout ended %s (%+v)", done.Status, done.Error)
	}
}

func TestProtectedQueryCancelWhileRunning(t *testing.T) {
	ts := start(t)
	w := newCustomWorld(t, ts)
	q, err := w.start(t, slowQuery)
	if err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, *q.Id, types.ProtectedQueryStatusStarted)
	up := must(ts.client(acctA).UpdateProtectedQuery(context.Background(), &cleanrooms.UpdateProtectedQueryInput{
		MembershipIdentifier: aws.String(w.p.msA), ProtectedQueryIdentifier: q.Id, TargetStatus: types.TargetProtectedQueryStatusCancelled})).ok(t)
	if up.ProtectedQuery.Status != types.ProtectedQueryStatusCancelling {
		t.Errorf("cancelling a running query: %s, want CANCELLING", up.ProtectedQuery.Status)
	}
	start := time.Now()
	if done := w.wait(t, *q.Id); done.Status != types.ProtectedQueryStatusCancelled {
		t.Fatalf("ended %s, want CANCELLED", done.Status)
	}
	t.Logf("cancelled %v after the request", time.Since(start))
}

// TestProtectedQueryResumesAfterRestart stops the server while a query runs
// and starts another on the same data: the query is resumed, not stuck.
func TestProtectedQueryResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := func(c *server.Config) { c.DataDir = dir }
	ts := start(t, cfg)
	w := newCustomWorld(t, ts)
	q, err := w.start(t, slowQuery)
	if err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, *q.Id, types.ProtectedQueryStatusStarted)
	ts.closeNow(t)

	ts2 := start(t, cfg)
	w.ts = ts2
	done := w.wait(t, *q.Id)
	if done.Status != types.ProtectedQueryStatusSuccess {
		t.Fatalf("after a restart the query ended %s (%+v)", done.Status, done.Error)
	}
	s3out := done.Result.Output.(*types.ProtectedQueryOutputMemberS3)
	_, rows := w.readResult(t, *s3out.Value.Location)
	if len(rows) != 1 {
		t.Errorf("result rows %v", rows)
	}
}

// TestQueryLogsReachTheMembersWhoseTablesWereRead checks that with query
// logging on, the runner and the owner of each table read get an entry in
// CloudWatch Logs, and that only the owner sees its configured table's ID.
func TestQueryLogsReachTheMembersWhoseTablesWereRead(t *testing.T) {
	ctx := context.Background()
	ts := start(t)
	w := newPQWorldLogging(t, ts, true)
	q, err := w.start(t, `SELECT c.segment, COUNT(DISTINCT p.user_id) AS users FROM customers c INNER JOIN purchases p ON c.user_id = p.user_id GROUP BY c.segment`)
	if err != nil {
		t.Fatal(err)
	}
	if done := w.wait(t, *q.Id); done.Status != types.ProtectedQueryStatusSuccess {
		t.Fatalf("query ended %s", done.Status)
	}
	entries := func(account string) []map[string]any {
		var out []map[string]any
		deadline := time.Now().Add(10 * time.Second)
		for len(out) == 0 && time.Now().Before(deadline) {
			resp, err := ts.logsClient(account).FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/aws/cleanrooms")})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range resp.Events {
				var m map[string]any
				if err := json.Unmarshal([]byte(aws.ToString(e.Message)), &m); err != nil {
					t.Fatalf("log entry is not JSON: %s", aws.ToString(e.Message))
				}
				if m["eventId"] == *q.Id {
					out = append(out, m)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		return out
	}
	runner := entries(acctA)
	if len(runner) != 2 { // one per table read
		t.Fatalf("the query runner has %d entries, want 2: %v", len(runner), runner)
	}
	for _, e := range runner {
		if e["status"] != "SUCCESS" || e["queryText"] == "" || e["configuredTableId"] != nil && e["schemaName"] == "purchases" {
			t.Errorf("runner entry %v", e)
		}
	}
	owner := entries(acctB)
	if len(owner) != 1 || owner[0]["schemaName"] != "purchases" || owner[0]["configuredTableId"] == nil {
		t.Errorf("table owner's entries %v", owner)
	}
}

// A query runs once, whatever its receivers and formats: the runner's CSV
// file and another member's Parquet file hold the same rows, even for a
// query whose output differs on every execution (random UUIDs).
func TestOneResultForEveryReceiverAndFormat(t *testing.T) {
	ts := start(t)
	ctx := context.Background()
	p := newTwoParty(t, ts, queryAndReceive, []types.MemberAbility{types.MemberAbilityCanReceiveResults})
	dir := t.TempDir()
	for _, acct := range []string{acctA, acctB} {
		must(ts.s3(acct).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("results-" + acct)})).ok(t)
	}
	must(ts.s3(acctA).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("data-" + acctA)})).ok(t)
	must(ts.client(acctB).UpdateMembership(ctx, &cleanrooms.UpdateMembershipInput{MembershipIdentifier: aws.String(p.msB),
		DefaultResultConfiguration: &types.MembershipProtectedQueryResultConfiguration{OutputConfiguration: &types.MembershipProtectedQueryOutputConfigurationMemberS3{
			Value: types.ProtectedQueryS3OutputConfiguration{Bucket: aws.String("results-" + acctB), ResultFormat: types.ResultFormatParquet}}}})).ok(t)
	var rows [][]string
	for i := 0; i < 40; i++ {
		rows = append(rows, []string{fmt.Sprint(i)})
	}
	writeCSV(t, filepath.Join(dir, "n.csv"), []string{"v"}, rows)
	upload(t, ts, acctA, "data-"+acctA, "crm/numbers/n.csv", filepath.Join(dir, "n.csv"))
	glueTable(t, ts, acctA, "crm", "numbers", csvFormat, []gluetypes.Column{gcol("v", "int")}, nil)
	ct := configuredTable(t, ts, acctA, "numbers", "crm", "numbers", "v")
	tableRule(t, ts, acctA, *ct.Id, types.ConfiguredTableAnalysisRuleTypeCustom, customPolicy(types.AnalysisRuleCustom{
		AllowedAnalyses: []string{"ANY_QUERY"}, AllowedAnalysisProviders: []string{acctA}}))
	assoc := associate(t, ts, acctA, p.msA, *ct.Id, "numbers")
	must(ts.client(acctA).CreateConfiguredTableAssociationAnalysisRule(ctx, &cleanrooms.CreateConfiguredTableAssociationAnalysisRuleInput{
		MembershipIdentifier: aws.String(p.msA), ConfiguredTableAssociationIdentifier: assoc.Id,
		AnalysisRuleType: types.ConfiguredTableAssociationAnalysisRuleTypeCustom,
		AnalysisRulePolicy: &types.ConfiguredTableAssociationAnalysisRulePolicyMemberV1{Value: &types.ConfiguredTableAssociationAnalysisRulePolicyV1MemberCustom{
			Value: types.ConfiguredTableAssociationAnalysisRuleCustom{AllowedResultReceivers: []string{acctA, acctB}}}}})).ok(t)

	w := &pqWorld{ts: ts, p: p, dir: dir}
	started := must(ts.client(acctA).StartProtectedQuery(ctx, &cleanrooms.StartProtectedQueryInput{
		MembershipIdentifier: aws.String(p.msA), Type: types.ProtectedQueryTypeSql,
		SqlParameters: &types.ProtectedQuerySQLParameters{QueryString: aws.String("SELECT v, CAST(gen_random_uuid() AS VARCHAR) AS r FROM numbers")},
		ResultConfiguration: &types.ProtectedQueryResultConfiguration{OutputConfiguration: &types.ProtectedQueryOutputConfigurationMemberDistribute{
			Value: types.ProtectedQueryDistributeOutputConfiguration{Locations: []types.ProtectedQueryDistributeOutputConfigurationLocation{
				&types.ProtectedQueryDistributeOutputConfigurationLocationMemberS3{Value: types.ProtectedQueryS3OutputConfiguration{
					Bucket: aws.String("results-" + acctA), ResultFormat: types.ResultFormatCsv}},
				&types.ProtectedQueryDistributeOutputConfigurationLocationMemberMember{Value: types.ProtectedQueryMemberOutputConfiguration{AccountId: aws.String(acctB)}},
			}}}},
	})).ok(t).ProtectedQuery
	done := w.wait(t, *started.Id)
	if done.Status != types.ProtectedQueryStatusSuccess {
		t.Fatalf("query %s: %s %s", done.Status, aws.ToString(done.Error.Code), aws.ToString(done.Error.Message))
	}
	header, csvRows := w.readResult(t, "s3://results-"+acctA+"/"+*started.Id+"/result/result.csv")
	if fmt.Sprint(header) != "[v r]" || len(csvRows) != 40 {
		t.Fatalf("CSV result %v %d rows", header, len(csvRows))
	}
	obj := must(ts.s3(acctB).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("results-" + acctB), Key: aws.String(*started.Id + "/result/result.parquet")})).ok(t)
	raw, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	pq := filepath.Join(dir, "b.parquet")
	if err := os.WriteFile(pq, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Query("SELECT CAST(v AS VARCHAR), r FROM read_parquet('" + pq + "')")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	var pqRows [][]string
	for res.Next() {
		var v, r string
		if err := res.Scan(&v, &r); err != nil {
			t.Fatal(err)
		}
		pqRows = append(pqRows, []string{v, r})
	}
	if fmt.Sprint(pqRows) != fmt.Sprint(csvRows) {
		t.Errorf("the receivers got different rows:\nCSV     %v\nParquet %v", csvRows, pqRows)
	}
}
