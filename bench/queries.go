package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cleanrooms"
	"github.com/aws/aws-sdk-go-v2/service/cleanrooms/types"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/duckdb/duckdb-go/v2"

	crs "github.com/cleanroomsd/cleanroomsd/internal/cleanrooms"
	"github.com/cleanroomsd/cleanroomsd/internal/sdkhttp"
	"github.com/cleanroomsd/cleanroomsd/internal/server"
)

// The query benchmark: a two-party join and aggregation, end to end
// (StartProtectedQuery until SUCCESS, the result file written to S3), next
// to the same SQL run straight on DuckDB over the same Parquet files, in
// the same process.

const (
	advertiser = "111111111111"
	publisher  = "222222222222"
)

const benchSQL = `SELECT c.segment, COUNT(DISTINCT p.user_id) AS buyers, SUM(p.amount) AS revenue
FROM customers c INNER JOIN purchases p ON c.user_id = p.user_id GROUP BY c.segment`

// The same SQL over the files, for DuckDB directly.
const directSQL = `SELECT c.segment, COUNT(DISTINCT p.user_id) AS buyers, SUM(p.amount) AS revenue
FROM read_parquet('%s') c INNER JOIN read_parquet('%s') p ON c.user_id = p.user_id GROUP BY c.segment`

type queryBench struct {
	url  string
	dir  string
	cr   func(acct string) *cleanrooms.Client
	s3c  func(acct string) *s3.Client
	glue func(acct string) *glue.Client
	msA  string
}

func runQueries(ctx context.Context, sizes []int, repeats int) error {
	dir, err := os.MkdirTemp("", "cleanroomsd-qbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := server.New(ctx, server.Config{DataDir: filepath.Join(dir, "data"), Quotas: crs.DefaultQuotas(),
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
	hc := sdkhttp.Client(nil)
	creds := func(a string) aws.CredentialsProvider { return credentials.NewStaticCredentialsProvider(a, "x", "") }
	b := &queryBench{url: url, dir: dir,
		cr: func(a string) *cleanrooms.Client {
			return cleanrooms.New(cleanrooms.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), Credentials: creds(a), HTTPClient: hc, RetryMaxAttempts: 1})
		},
		s3c: func(a string) *s3.Client {
			return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), Credentials: creds(a), HTTPClient: hc, UsePathStyle: true})
		},
		glue: func(a string) *glue.Client {
			return glue.New(glue.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), Credentials: creds(a), HTTPClient: hc})
		},
	}
	fmt.Printf("two-party join + aggregation, Parquet, GOMAXPROCS=%d; median of %d runs each\n\n", runtimeProcs(), repeats)
	fmt.Println("| rows per table | cleanroomsd end to end | DuckDB directly | ratio |")
	fmt.Println("|---:|---:|---:|---:|")
	for i, n := range sizes {
		if err := b.setup(ctx, i, n); err != nil {
			return err
		}
		e2e, err := b.endToEnd(ctx, repeats)
		if err != nil {
			return err
		}
		direct, err := b.direct(i, repeats)
		if err != nil {
			return err
		}
		fmt.Printf("| %d | %v | %v | %.2f |\n", n, e2e.Round(time.Millisecond), direct.Round(time.Millisecond), float64(e2e)/float64(direct))
	}
	return nil
}

// setup generates n rows per party into collaboration number i.
func (b *queryBench) setup(ctx context.Context, i, n int) error {
	gen := filepath.Join(b.dir, fmt.Sprintf("gen%d", i))
	if err := os.MkdirAll(gen, 0o755); err != nil {
		return err
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	// Half of the publisher's buyers are the advertiser's customers.
	for _, q := range []string{
		fmt.Sprintf(`COPY (SELECT 'u' || i AS user_id, 'seg' || (i %% 20) AS segment FROM range(%d) t(i)) TO '%s/customers.parquet' (FORMAT parquet)`, n, gen),
		fmt.Sprintf(`COPY (SELECT 'u' || (i * 2) AS user_id, CAST(i %% 1000 AS INTEGER) AS amount FROM range(%d) t(i)) TO '%s/purchases.parquet' (FORMAT parquet)`, n, gen),
	} {
		if _, err := db.Exec(q); err != nil {
			return err
		}
	}
	suffix := fmt.Sprint(i)
	type party struct{ acct, bucket, db, table, file string }
	parties := []party{{advertiser, "adv-data-" + suffix, "crm", "customers", "customers.parquet"}, {publisher, "pub-data-" + suffix, "sales", "purchases", "purchases.parquet"}}
	cols := map[string][]gluetypes.Column{
		"customers": {{Name: aws.String("user_id"), Type: aws.String("string")}, {Name: aws.String("segment"), Type: aws.String("string")}},
		"purchases": {{Name: aws.String("user_id"), Type: aws.String("string")}, {Name: aws.String("amount"), Type: aws.String("int")}},
	}
	for _, p := range parties {
		if _, err := b.s3c(p.acct).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(p.bucket)}); err != nil {
			return err
		}
		f, err := os.Open(filepath.Join(gen, p.file))
		if err != nil {
			return err
		}
		_, err = b.s3c(p.acct).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(p.bucket), Key: aws.String(p.table + "/" + p.file), Body: f})
		f.Close()
		if err != nil {
			return err
		}
		g := b.glue(p.acct)
		if _, err := g.CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &gluetypes.DatabaseInput{Name: aws.String(p.db + suffix)}}); err != nil {
			return err
		}
		if _, err := g.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String(p.db + suffix), TableInput: &gluetypes.TableInput{
			Name: aws.String(p.table), StorageDescriptor: &gluetypes.StorageDescriptor{Columns: cols[p.table], Location: aws.String("s3://" + p.bucket + "/" + p.table + "/"),
				SerdeInfo: &gluetypes.SerDeInfo{SerializationLibrary: aws.String("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe")}}}}); err != nil {
			return err
		}
	}
	if _, err := b.s3c(advertiser).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("adv-results-" + suffix)}); err != nil {
		return err
	}
	coll, err := b.cr(advertiser).CreateCollaboration(ctx, &cleanrooms.CreateCollaborationInput{Name: aws.String("bench"), Description: aws.String("bench"),
		CreatorDisplayName: aws.String("Advertiser"), CreatorMemberAbilities: []types.MemberAbility{types.MemberAbilityCanQuery, types.MemberAbilityCanReceiveResults},
		Members:        []types.MemberSpecification{{AccountId: aws.String(publisher), DisplayName: aws.String("Publisher"), MemberAbilities: []types.MemberAbility{}}},
		QueryLogStatus: types.CollaborationQueryLogStatusDisabled})
	if err != nil {
		return err
	}
	ms := map[string]string{}
	for _, p := range parties {
		in := &cleanrooms.CreateMembershipInput{CollaborationIdentifier: coll.Collaboration.Id, QueryLogStatus: types.MembershipQueryLogStatusDisabled}
		if p.acct == advertiser {
			in.DefaultResultConfiguration = &types.MembershipProtectedQueryResultConfiguration{OutputConfiguration: &types.MembershipProtectedQueryOutputConfigurationMemberS3{
				Value: types.ProtectedQueryS3OutputConfiguration{Bucket: aws.String("adv-results-" + suffix), ResultFormat: types.ResultFormatCsv}}}
		}
		out, err := b.cr(p.acct).CreateMembership(ctx, in)
		if err != nil {
			return err
		}
		ms[p.acct] = *out.Membership.Id
	}
	b.msA = ms[advertiser]
	rules := map[string]types.AnalysisRuleAggregation{
		"customers": {AggregateColumns: []types.AggregateColumn{{ColumnNames: []string{"user_id"}, Function: types.AggregateFunctionNameCountDistinct}},
			JoinColumns: []string{"user_id"}, DimensionColumns: []string{"segment"}, ScalarFunctions: []types.ScalarFunctions{},
			OutputConstraints: []types.AggregationConstraint{{ColumnName: aws.String("user_id"), Minimum: aws.Int32(2), Type: types.AggregationTypeCountDistinct}}},
		"purchases": {AggregateColumns: []types.AggregateColumn{{ColumnNames: []string{"user_id"}, Function: types.AggregateFunctionNameCountDistinct},
			{ColumnNames: []string{"amount"}, Function: types.AggregateFunctionNameSum}},
			JoinColumns: []string{"user_id"}, DimensionColumns: []string{}, ScalarFunctions: []types.ScalarFunctions{},
			OutputConstraints: []types.AggregationConstraint{{ColumnName: aws.String("user_id"), Minimum: aws.Int32(2), Type: types.AggregationTypeCountDistinct}}},
	}
	for _, p := range parties {
		cl := b.cr(p.acct)
		var allowed []string
		for _, c := range cols[p.table] {
			allowed = append(allowed, *c.Name)
		}
		ct, err := cl.CreateConfiguredTable(ctx, &cleanrooms.CreateConfiguredTableInput{Name: aws.String(p.table), AllowedColumns: allowed,
			AnalysisMethod: types.AnalysisMethodDirectQuery, TableReference: &types.TableReferenceMemberGlue{Value: types.GlueTableReference{
				DatabaseName: aws.String(p.db + suffix), TableName: aws.String(p.table)}}})
		if err != nil {
			return err
		}
		if _, err := cl.CreateConfiguredTableAnalysisRule(ctx, &cleanrooms.CreateConfiguredTableAnalysisRuleInput{ConfiguredTableIdentifier: ct.ConfiguredTable.Id,
			AnalysisRuleType: types.ConfiguredTableAnalysisRuleTypeAggregation, AnalysisRulePolicy: &types.ConfiguredTableAnalysisRulePolicyMemberV1{
				Value: &types.ConfiguredTableAnalysisRulePolicyV1MemberAggregation{Value: rules[p.table]}}}); err != nil {
			return err
		}
		as, err := cl.CreateConfiguredTableAssociation(ctx, &cleanrooms.CreateConfiguredTableAssociationInput{MembershipIdentifier: aws.String(ms[p.acct]),
			ConfiguredTableIdentifier: ct.ConfiguredTable.Id, Name: aws.String(p.table), RoleArn: aws.String("arn:aws:iam::" + p.acct + ":role/cleanrooms-bench")})
		if err != nil {
			return err
		}
		if _, err := cl.CreateConfiguredTableAssociationAnalysisRule(ctx, &cleanrooms.CreateConfiguredTableAssociationAnalysisRuleInput{
			MembershipIdentifier: aws.String(ms[p.acct]), ConfiguredTableAssociationIdentifier: as.ConfiguredTableAssociation.Id,
			AnalysisRuleType: types.ConfiguredTableAssociationAnalysisRuleTypeAggregation,
			AnalysisRulePolicy: &types.ConfiguredTableAssociationAnalysisRulePolicyMemberV1{Value: &types.ConfiguredTableAssociationAnalysisRulePolicyV1MemberAggregation{
				Value: types.ConfiguredTableAssociationAnalysisRuleAggregation{AllowedResultReceivers: []string{advertiser}}}}}); err != nil {
			return err
		}
	}
	return nil
}

// endToEnd is the median time from StartProtectedQuery to SUCCESS.
func (b *queryBench) endToEnd(ctx context.Context, repeats int) (time.Duration, error) {
	cl := b.cr(advertiser)
	var times []time.Duration
	for r := 0; r < repeats; r++ {
		t0 := time.Now()
		out, err := cl.StartProtectedQuery(ctx, &cleanrooms.StartProtectedQueryInput{MembershipIdentifier: aws.String(b.msA), Type: types.ProtectedQueryTypeSql,
			SqlParameters: &types.ProtectedQuerySQLParameters{QueryString: aws.String(benchSQL)}})
		if err != nil {
			return 0, err
		}
		for {
			q, err := cl.GetProtectedQuery(ctx, &cleanrooms.GetProtectedQueryInput{MembershipIdentifier: aws.String(b.msA), ProtectedQueryIdentifier: out.ProtectedQuery.Id})
			if err != nil {
				return 0, err
			}
			st := q.ProtectedQuery.Status
			if st == types.ProtectedQueryStatusSuccess {
				break
			}
			if st != types.ProtectedQueryStatusSubmitted && st != types.ProtectedQueryStatusStarted {
				return 0, fmt.Errorf("query ended %s: %s", st, aws.ToString(q.ProtectedQuery.Error.Message))
			}
			time.Sleep(2 * time.Millisecond)
		}
		times = append(times, time.Since(t0))
	}
	return median(times), nil
}

// direct is the median time of the same SQL on DuckDB over the same files,
// writing its result to a CSV file as the server does.
func (b *queryBench) direct(i, repeats int) (time.Duration, error) {
	gen := filepath.Join(b.dir, fmt.Sprintf("gen%d", i))
	var times []time.Duration
	for r := 0; r < repeats; r++ {
		db, err := sql.Open("duckdb", "")
		if err != nil {
			return 0, err
		}
		t0 := time.Now()
		q := fmt.Sprintf(directSQL, filepath.Join(gen, "customers.parquet"), filepath.Join(gen, "purchases.parquet"))
		out := filepath.Join(gen, fmt.Sprintf("direct-%d.csv", r))
		_, err = db.Exec(fmt.Sprintf("COPY (%s) TO '%s' (HEADER)", strings.TrimSpace(q), out))
		times = append(times, time.Since(t0))
		db.Close()
		if err != nil {
			return 0, err
		}
	}
	return median(times), nil
}

func median(ts []time.Duration) time.Duration {
	slices.Sort(ts)
	return ts[len(ts)/2]
}
