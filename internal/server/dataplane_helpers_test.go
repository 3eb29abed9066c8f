package server_test

import (
	"context"
	"errors"
	"github.com/cleanroomsd/cleanroomsd/internal/sdkhttp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cleanrooms"
	"github.com/aws/aws-sdk-go-v2/service/cleanrooms/types"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
)

// Helpers for the data-plane tests: Glue tables, configured tables, rules,
// associations and the errors they answer.

// glue returns a Glue SDK client signing as account.
func (ts *testServer) glue(account string) *glue.Client {
	return glue.New(glue.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(ts.url),
		Credentials:      credentials.NewStaticCredentialsProvider(account, "secret-"+account, ""),
		RetryMaxAttempts: 1,
		HTTPClient:       sdkhttp.Client(nil),
	})
}

func gcol(name, typ string) gluetypes.Column {
	return gluetypes.Column{Name: aws.String(name), Type: aws.String(typ)}
}

// storage formats of the Glue tables the tests create.
const (
	csvFormat     = "csv"
	parquetFormat = "parquet"
)

// glueTable creates database db (if needed) and table in account's catalog,
// stored as CSV or Parquet under s3://data-ACCOUNT/db/table/.
func glueTable(t *testing.T, ts *testServer, account, db, table, format string, cols, partitions []gluetypes.Column) {
	t.Helper()
	ctx := context.Background()
	g := ts.glue(account)
	if _, err := g.GetDatabase(ctx, &glue.GetDatabaseInput{Name: aws.String(db)}); err != nil {
		must(g.CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &gluetypes.DatabaseInput{Name: aws.String(db)}})).ok(t)
	}
	sd := &gluetypes.StorageDescriptor{
		Columns:  cols,
		Location: aws.String("s3://data-" + account + "/" + db + "/" + table + "/"),
	}
	switch format {
	case csvFormat:
		sd.InputFormat = aws.String("org.apache.hadoop.mapred.TextInputFormat")
		sd.OutputFormat = aws.String("org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat")
		sd.SerdeInfo = &gluetypes.SerDeInfo{SerializationLibrary: aws.String("org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"),
			Parameters: map[string]string{"field.delim": ",", "skip.header.line.count": "1"}}
	case parquetFormat:
		sd.InputFormat = aws.String("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat")
		sd.OutputFormat = aws.String("org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat")
		sd.SerdeInfo = &gluetypes.SerDeInfo{SerializationLibrary: aws.String("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe")}
	}
	must(g.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String(db), TableInput: &gluetypes.TableInput{
		Name: aws.String(table), TableType: aws.String("EXTERNAL_TABLE"), StorageDescriptor: sd, PartitionKeys: partitions,
		Parameters: map[string]string{"classification": format},
	}})).ok(t)
}

func glueRef(db, table string) *types.TableReferenceMemberGlue {
	return &types.TableReferenceMemberGlue{Value: types.GlueTableReference{DatabaseName: aws.String(db), TableName: aws.String(table)}}
}

// configuredTable creates a configured table of account over a Glue table.
func configuredTable(t *testing.T, ts *testServer, account, name, db, table string, allowed ...string) *types.ConfiguredTable {
	t.Helper()
	return must(ts.client(account).CreateConfiguredTable(context.Background(), &cleanrooms.CreateConfiguredTableInput{
		Name: aws.String(name), TableReference: glueRef(db, table), AllowedColumns: allowed,
		AnalysisMethod: types.AnalysisMethodDirectQuery,
	})).ok(t).ConfiguredTable
}

func aggregationPolicy(r types.AnalysisRuleAggregation) types.ConfiguredTableAnalysisRulePolicy {
	return &types.ConfiguredTableAnalysisRulePolicyMemberV1{Value: &types.ConfiguredTableAnalysisRulePolicyV1MemberAggregation{Value: r}}
}

func listPolicy(r types.AnalysisRuleList) types.ConfiguredTableAnalysisRulePolicy {
	return &types.ConfiguredTableAnalysisRulePolicyMemberV1{Value: &types.ConfiguredTableAnalysisRulePolicyV1MemberList{Value: r}}
}

func customPolicy(r types.AnalysisRuleCustom) types.ConfiguredTableAnalysisRulePolicy {
	return &types.ConfiguredTableAnalysisRulePolicyMemberV1{Value: &types.ConfiguredTableAnalysisRulePolicyV1MemberCustom{Value: r}}
}

func tableRule(t *testing.T, ts *testServer, account, tableID string, typ types.ConfiguredTableAnalysisRuleType, p types.ConfiguredTableAnalysisRulePolicy) *types.ConfiguredTableAnalysisRule {
	t.Helper()
	return must(ts.client(account).CreateConfiguredTableAnalysisRule(context.Background(), &cleanrooms.CreateConfiguredTableAnalysisRuleInput{
		ConfiguredTableIdentifier: aws.String(tableID), AnalysisRuleType: typ, AnalysisRulePolicy: p,
	})).ok(t).AnalysisRule
}

func roleARN(account string) *string {
	return aws.String("arn:aws:iam::" + account + ":role/cleanrooms-data-access")
}

func associate(t *testing.T, ts *testServer, account, membershipID, tableID, name string) *types.ConfiguredTableAssociation {
	t.Helper()
	return must(ts.client(account).CreateConfiguredTableAssociation(context.Background(), &cleanrooms.CreateConfiguredTableAssociationInput{
		MembershipIdentifier: aws.String(membershipID), ConfiguredTableIdentifier: aws.String(tableID), Name: aws.String(name),
		RoleArn: roleARN(account),
	})).ok(t).ConfiguredTableAssociation
}

func aggregationAssociationPolicy(receivers []string, additional []string) types.ConfiguredTableAssociationAnalysisRulePolicy {
	return &types.ConfiguredTableAssociationAnalysisRulePolicyMemberV1{Value: &types.ConfiguredTableAssociationAnalysisRulePolicyV1MemberAggregation{
		Value: types.ConfiguredTableAssociationAnalysisRuleAggregation{AllowedResultReceivers: receivers, AllowedAdditionalAnalyses: additional}}}
}

func listAssociationPolicy(receivers []string, additional []string) types.ConfiguredTableAssociationAnalysisRulePolicy {
	return &types.ConfiguredTableAssociationAnalysisRulePolicyMemberV1{Value: &types.ConfiguredTableAssociationAnalysisRulePolicyV1MemberList{
		Value: types.ConfiguredTableAssociationAnalysisRuleList{AllowedResultReceivers: receivers, AllowedAdditionalAnalyses: additional}}}
}

func customAssociationPolicy(receivers []string, additional []string) types.ConfiguredTableAssociationAnalysisRulePolicy {
	return &types.ConfiguredTableAssociationAnalysisRulePolicyMemberV1{Value: &types.ConfiguredTableAssociationAnalysisRulePolicyV1MemberCustom{
		Value: types.ConfiguredTableAssociationAnalysisRuleCustom{AllowedResultReceivers: receivers, AllowedAdditionalAnalyses: additional}}}
}

// twoParty is a collaboration created by acctA with acctB invited, both
// joined.
type twoParty struct {
	id, msA, msB string
}

func newTwoParty(t *testing.T, ts *testServer, abilitiesA, abilitiesB []types.MemberAbility) twoParty {
	t.Helper()
	return newTwoPartyLogging(t, ts, abilitiesA, abilitiesB, false)
}

// newTwoPartyLogging is newTwoParty with query logging on or off for the
// collaboration and both memberships.
func newTwoPartyLogging(t *testing.T, ts *testServer, abilitiesA, abilitiesB []types.MemberAbility, logging bool) twoParty {
	t.Helper()
	collabLog, memberLog := types.CollaborationQueryLogStatusDisabled, types.MembershipQueryLogStatusDisabled
	if logging {
		collabLog, memberLog = types.CollaborationQueryLogStatusEnabled, types.MembershipQueryLogStatusEnabled
	}
	ctx := context.Background()
	coll := must(ts.client(acctA).CreateCollaboration(ctx, &cleanrooms.CreateCollaborationInput{
		Name: aws.String("measurement"), Description: aws.String("advertiser x publisher"), CreatorDisplayName: aws.String("Advertiser"),
		CreatorMemberAbilities: abilitiesA,
		Members: []types.MemberSpecification{{AccountId: aws.String(acctB), DisplayName: aws.String("Publisher"),
			MemberAbilities: abilitiesB}},
		QueryLogStatus: collabLog,
	})).ok(t).Collaboration
	p := twoParty{id: aws.ToString(coll.Id)}
	join := func(account string) string {
		return aws.ToString(must(ts.client(account).CreateMembership(ctx, &cleanrooms.CreateMembershipInput{
			CollaborationIdentifier: coll.Id, QueryLogStatus: memberLog,
		})).ok(t).Membership.Id)
	}
	p.msA, p.msB = join(acctA), join(acctB)
	return p
}

var (
	queryAndReceive = []types.MemberAbility{types.MemberAbilityCanQuery, types.MemberAbilityCanReceiveResults}
	noAbilities     = []types.MemberAbility{}
)

// errorText is everything an error tells: message and field list.
func errorText(err error) string {
	parts := []string{err.Error()}
	var ve *types.ValidationException
	if errors.As(err, &ve) {
		for _, f := range ve.FieldList {
			parts = append(parts, aws.ToString(f.Name)+": "+aws.ToString(f.Message))
		}
	}
	return strings.Join(parts, "\n")
}

// wantInvalid asserts a ValidationException whose message or field list
// mentions every one of wants.
func wantInvalid(t *testing.T, err error, wants ...string) {
	t.Helper()
	wantError(t, err, "ValidationException", 400)
	text := errorText(err)
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("ValidationException does not mention %q:\n%s", w, text)
		}
	}
}

// wantConflict asserts a ConflictException with the given reason.
func wantConflict(t *testing.T, err error, reason types.ConflictExceptionReason) {
	t.Helper()
	wantError(t, err, "ConflictException", 409)
	var ce *types.ConflictException
	if !errors.As(err, &ce) || ce.Reason != reason {
		t.Errorf("conflict %v: want reason %s", err, reason)
	}
}

// wantNotFound asserts a ResourceNotFoundException of the given resource
// type ("" for none).
func wantNotFound(t *testing.T, err error, typ types.ResourceType) {
	t.Helper()
	wantError(t, err, "ResourceNotFoundException", 404)
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) || nf.ResourceType != typ {
		t.Errorf("not found %v: want resource type %q", err, typ)
	}
}

// wantQuota asserts a ServiceQuotaExceededException naming the quota.
func wantQuota(t *testing.T, err error, name string, value float64) {
	t.Helper()
	wantError(t, err, "ServiceQuotaExceededException", 402)
	var qe *types.ServiceQuotaExceededException
	if !errors.As(err, &qe) || aws.ToString(qe.QuotaName) != name || aws.ToFloat64(qe.QuotaValue) != value {
		t.Errorf("quota error %v: want %s = %g (got %q %v)", err, name, value, aws.ToString(qe.QuotaName), aws.ToFloat64(qe.QuotaValue))
	}
}

// statusOf returns a schema's status detail for an analysis type.
func statusOf(s *types.Schema, typ types.AnalysisType) *types.SchemaStatusDetail {
	for i := range s.SchemaStatusDetails {
		if s.SchemaStatusDetails[i].AnalysisType == typ {
			return &s.SchemaStatusDetails[i]
		}
	}
	return nil
}

// reasonCodes lists a status detail's reason codes.
func reasonCodes(d *types.SchemaStatusDetail) []types.SchemaStatusReasonCode {
	if d == nil {
		return nil
	}
	var out []types.SchemaStatusReasonCode
	for _, r := range d.Reasons {
		out = append(out, r.Code)
		if aws.ToString(r.Message) == "" {
			out = append(out, "EMPTY_MESSAGE")
		}
	}
	slices.Sort(out)
	return out
}

func getSchema(t *testing.T, ts *testServer, account, collabID, name string) *types.Schema {
	t.Helper()
	return must(ts.client(account).GetSchema(context.Background(), &cleanrooms.GetSchemaInput{
		CollaborationIdentifier: aws.String(collabID), Name: aws.String(name)})).ok(t).Schema
}

func columns(cs []types.Column) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, aws.ToString(c.Name)+" "+aws.ToString(c.Type))
	}
	return out
}
