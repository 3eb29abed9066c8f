package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cleanrooms"
	"github.com/aws/aws-sdk-go-v2/service/cleanrooms/types"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/cleanroomsd/cleanroomsd/internal/server"
)

// peopleColumns is the Glue table most validation tests configure.
var peopleColumns = []gluetypes.Column{
	gcol("id", "string"), gcol("email", "string"), gcol("segment", "string"), gcol("spend", "double"),
	gcol("country", "string"), gcol("age", "int"), gcol("notes", "string"),
}

// allowedPeople is the configured table's allowed columns ("notes" is not).
var allowedPeople = []string{"id", "email", "segment", "spend", "country", "age"}

func TestConfiguredTableValidation(t *testing.T) {
	ctx := context.Background()
	ts := start(t)
	a := ts.client(acctA)
	glueTable(t, ts, acctA, "crm", "people", csvFormat, peopleColumns, nil)
	glueTable(t, ts, acctB, "other", "people", csvFormat, peopleColumns, nil)

	create := func(mod func(*cleanrooms.CreateConfiguredTableInput)) error {
		in := &cleanrooms.CreateConfiguredTableInput{Name: aws.String("people"), TableReference: glueRef("crm", "people"),
			AllowedColumns: []string{"id", "email"}, AnalysisMethod: types.AnalysisMethodDirectQuery}
		mod(in)
		_, err := a.CreateConfiguredTable(ctx, in)
		return err
	}
	cases := []struct {
		name  string
		mod   func(*cleanrooms.CreateConfiguredTableInput)
		wants []string
	}{
		{"missing database", func(in *cleanrooms.CreateConfiguredTableInput) { in.TableReference = glueRef("nodb", "people") },
			[]string{"tableReference.glue.databaseName", "nodb"}},
		{"missing table", func(in *cleanrooms.CreateConfiguredTableInput) { in.TableReference = glueRef("crm", "nope") },
			[]string{"tableReference.glue.tableName", "nope"}},
		{"another account's table", func(in *cleanrooms.CreateConfiguredTableInput) { in.TableReference = glueRef("other", "people") },
			[]string{"other"}},
		{"columns the table lacks", func(in *cleanrooms.CreateConfiguredTableInput) {
			in.AllowedColumns = []string{"id", "ghost", "phantom"}
		}, []string{"allowedColumns", "ghost", "phantom"}},
		{"duplicate allowed column", func(in *cleanrooms.CreateConfiguredTableInput) { in.AllowedColumns = []string{"id", "email", "id"} },
			[]string{"allowedColumns", "id"}},
		{"athena", func(in *cleanrooms.CreateConfiguredTableInput) {
			in.TableReference = &types.TableReferenceMemberAthena{Value: types.AthenaTableReference{
				DatabaseName: aws.String("crm"), TableName: aws.String("people"), WorkGroup: aws.String("primary")}}
		}, []string{"Only AWS Glue tables are supported by cleanroomsd", "athena"}},
		{"snowflake", func(in *cleanrooms.CreateConfiguredTableInput) {
			in.TableReference = &types.TableReferenceMemberSnowflake{Value: types.SnowflakeTableReference{
				AccountIdentifier: aws.String("acct-identifier"), DatabaseName: aws.String("db"), SchemaName: aws.String("public"),
				TableName: aws.String("people"), SecretArn: aws.String("arn:aws:secretsmanager:us-east-1:111111111111:secret:snowflake-credentials"),
				TableSchema: &types.SnowflakeTableSchemaMemberV1{Value: []types.SnowflakeTableSchemaV1{{ColumnName: aws.String("id"), ColumnType: aws.String("VARCHAR")}}}}}
		}, []string{"Only AWS Glue tables are supported by cleanroomsd", "snowflake"}},
		{"other region", func(in *cleanrooms.CreateConfiguredTableInput) {
			in.TableReference = &types.TableReferenceMemberGlue{Value: types.GlueTableReference{DatabaseName: aws.String("crm"),
				TableName: aws.String("people"), Region: types.CommercialRegionEuWest1}}
		}, []string{"tableReference.glue.region"}},
		{"DIRECT_JOB", func(in *cleanrooms.CreateConfiguredTableInput) { in.AnalysisMethod = types.AnalysisMethodDirectJob },
			[]string{"analysisMethod", "PySpark jobs"}},
		{"MULTIPLE", func(in *cleanrooms.CreateConfiguredTableInput) {
			in.AnalysisMethod = types.AnalysisMethodMultiple
			in.SelectedAnalysisMethods = []types.SelectedAnalysisMethod{types.SelectedAnalysisMethodDirectQuery, types.SelectedAnalysisMethodDirectJob}
		}, []string{"analysisMethod", "PySpark jobs"}},
		{"selected methods with DIRECT_QUERY", func(in *cleanrooms.CreateConfiguredTableInput) {
			in.SelectedAnalysisMethods = []types.SelectedAnalysisMethod{types.SelectedAnalysisMethodDirectQuery}
		}, []string{"selectedAnalysisMethods"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantInvalid(t, create(c.mod), c.wants...) })
	}

	// Glue names fold case: upper-case references resolve.
	ct := must(a.CreateConfiguredTable(ctx, &cleanrooms.CreateConfiguredTableInput{Name: aws.String("people"),
		TableReference: glueRef("CRM", "People"), AllowedColumns: []string{"id", "email", "age"}, AnalysisMethod: types.AnalysisMethodDirectQuery,
	})).ok(t).ConfiguredTable
	id := aws.ToString(ct.Id)

	// Updates re-resolve the Glue table and re-check the rule.
	tableRule(t, ts, acctA, id, types.ConfiguredTableAnalysisRuleTypeList, listPolicy(types.AnalysisRuleList{
		JoinColumns: []string{"id"}, ListColumns: []string{"email"}}))
	_, err := a.UpdateConfiguredTable(ctx, &cleanrooms.UpdateConfiguredTableInput{ConfiguredTableIdentifier: &id, AllowedColumns: []string{"id", "ghost"}})
	wantInvalid(t, err, "allowedColumns", "ghost")
	_, err = a.UpdateConfiguredTable(ctx, &cleanrooms.UpdateConfiguredTableInput{ConfiguredTableIdentifier: &id, AllowedColumns: []string{"id", "age"}})
	wantInvalid(t, err, "LIST analysis rule", "email")
	_, err = a.UpdateConfiguredTable(ctx, &cleanrooms.UpdateConfiguredTableInput{ConfiguredTableIdentifier: &id, TableReference: glueRef("crm", "missing")})
	wantInvalid(t, err, "missing")
	_, err = a.UpdateConfiguredTable(ctx, &cleanrooms.UpdateConfiguredTableInput{ConfiguredTableIdentifier: &id, AnalysisMethod: types.AnalysisMethodMultiple})
	wantInvalid(t, err, "PySpark jobs")
	upd := must(a.UpdateConfiguredTable(ctx, &cleanrooms.UpdateConfiguredTableInput{ConfiguredTableIdentifier: &id,
		Name: aws.String("people v2"), Description: aws.String("new"), AllowedColumns: []string{"email", "id", "spend"}})).ok(t).ConfiguredTable
	if aws.ToString(upd.Name) != "people v2" || aws.ToString(upd.Description) != "new" || strings.Join(upd.AllowedColumns, ",") != "email,id,spend" ||
		len(upd.AnalysisRuleTypes) != 1 {
		t.Errorf("updated configured table %+v", upd)
	}
}

// ruleCase is one documented constraint of a configured table analysis
// rule, broken.
type ruleCase struct {
	name   string
	typ    types.ConfiguredTableAnalysisRuleType
	policy types.ConfiguredTableAnalysisRulePolicy
	wants  []string // the message or field list names these
}

// validAggregation is a valid aggregation rule over allowedPeople.
func validAggregation() types.AnalysisRuleAggregation {
	return types.AnalysisRuleAggregation{
		AggregateColumns:  []types.AggregateColumn{{ColumnNames: []string{"spend"}, Function: types.AggregateFunctionNameSum}},
		JoinColumns:       []string{"id"},
		DimensionColumns:  []string{"segment", "country"},
		ScalarFunctions:   []types.ScalarFunctions{types.ScalarFunctionsTrunc},
		OutputConstraints: []types.AggregationConstraint{{ColumnName: aws.String("id"), Minimum: aws.Int32(2), Type: types.AggregationTypeCountDistinct}},
	}
}

func aggregationWith(mod func(*types.AnalysisRuleAggregation)) types.ConfiguredTableAnalysisRulePolicy {
	r := validAggregation()
	mod(&r)
	return aggregationPolicy(r)
}

func TestConfiguredTableAnalysisRuleValidation(t *testing.T) {
	ctx := context.Background()
	ts := start(t)
	a := ts.client(acctA)
	glueTable(t, ts, acctA, "crm", "people", csvFormat, peopleColumns, nil)
	id := aws.ToString(configuredTable(t, ts, acctA, "people", "crm", "people", allowedPeople...).Id)

	const (
		agg    = types.ConfiguredTableAnalysisRuleTypeAggregation
		list   = types.ConfiguredTableAnalysisRuleTypeList
		custom = types.ConfiguredTableAnalysisRuleTypeCustom
	)
	tmplARN := "arn:aws:cleanrooms:us-east-1:" + acctB + ":membership/00000000-0000-4000-8000-000000000000/analysistemplate/00000000-0000-4000-8000-000000000001"
	cases := []ruleCase{
		// The rule type and the policy's member must agree.
		{"type mismatch", list, aggregationPolicy(validAggregation()), []string{"analysisRuleType", "LIST", "aggregation"}},
		{"custom type, list policy", custom, listPolicy(types.AnalysisRuleList{JoinColumns: []string{"id"}, ListColumns: []string{"email"}}),
			[]string{"analysisRuleType", "CUSTOM"}},

		// AGGREGATION.
		{"aggregate column not allowed", agg, aggregationWith(func(r *types.AnalysisRuleAggregation) {
			r.AggregateColumns[0].ColumnNames = []string{"spend", "notes"}
		}), []string{"AGGREGATION analysis rule", "notes", "aggregateColumns[0].columnNames[1]"}},
		{"aggregate column twice for a function", agg, aggregationWith(func(r *types.AnalysisRuleAggregation) {
			r.AggregateColumns = append(r.AggregateColumns, types.AggregateColumn{ColumnNames: []string{"age", "spend"}, Function: types.AggregateFunctionNameSum})
		}), []string{"spend", "more than once", "aggregateColumns[1].columnNames[1]"}},
		{"aggregate column twice in one list", agg, aggregationWith(func(r *types.AnalysisRuleAggregation) {
			r.AggregateColumns[0].ColumnNames = []string{"spend", "spend"}
		}), []string{"spend", "more than once"}},
		{"join column not allowed", agg, aggregationWith(func(r *types.AnalysisRuleAggregation) { r.JoinColumns = []string{"notes"} }),
			[]string{"notes", "joinColumns[0]"}},
		{"join column twice", agg, aggregationWith(func(r *types.AnalysisRuleAggregation) { r.JoinColumns = []string{"id", "email", "id"} }),
			[]string{"id", "joinColumns[2]", "more than once"}},
		{"dimension column not allowed", agg, aggregationWith(func(r *types.AnalysisRuleAggregation) { r.DimensionColumns = []string{"segment", "notes"} }),
			[]string{"notes", "dimensionColumns[1]"}},
		{"dimension column twice", agg, aggregationWith(func(r *types.AnalysisRuleAggregation) { r.DimensionColumns = []string{"segment", "segment"} }),
			[]string{"segment", "more than once"}},
		{"dimension is a join column", agg, aggregationWith(func(r *types.AnalysisRuleAggregation) { r.DimensionColumns = []string{"segment", "id"} }),
			[]string{"\"id\"", "dimension column and a join column", "dimensionColumns[1]"}},
		{"dimension is an aggregate column", agg, aggregationWith(func(r *types.AnalysisRuleAggregation) { r.DimensionColumns = []string{"spend"} }),
			[]string{"\"spend\"", "dimension column and an aggregate column"}},
		{"scalar function twice", agg, aggregationWith(func(r *types.AnalysisRuleAggregation) {
			r.ScalarFunctions = []types.ScalarFunctions{types.ScalarFunctionsTrunc, types.ScalarFunctionsAbs, types.ScalarFunctionsTrunc}
		}), []string{"scalarFunctions", "TRUNC"}},
		{"join operator twice", agg, aggregationWith(func(r *types.AnalysisRuleAggregation) {
			r.AllowedJoinOperators = []types.JoinOperator{types.JoinOperatorOr, types.JoinOperatorOr}
		}), []string{"allowedJoinOperators", "OR"}},
		{"QUERY_RUNNER without join columns", agg, aggregationWith(func(r *types.AnalysisRuleAggregation) {
			r.JoinColumns = []string{}
			r.JoinRequired = types.JoinRequiredOptionQueryRunner
			r.OutputConstraints[0].ColumnName = aws.String("email")
		}), []string{"joinRequired", "at least one join column"}},
		{"output constraint column not allowed", agg, aggregationWith(func(r *types.AnalysisRuleAggregation) {
			r.OutputConstraints[0].ColumnName = aws.String("notes")
		}), []string{"notes", "outputConstraints[0].columnName"}},
		{"output constraint column twice", agg, aggregationWith(func(r *types.AnalysisRuleAggregation) {
			r.OutputConstraints = append(r.OutputConstraints, types.AggregationConstraint{ColumnName: aws.String("id"), Minimum: aws.Int32(50), Type: types.AggregationTypeCountDistinct})
		}), []string{"\"id\"", "outputConstraints[1].columnName", "more than once"}},
		{"output constraint minimum below 2", agg, aggregationWith(func(r *types.AnalysisRuleAggregation) { r.OutputConstraints[0].Minimum = aws.Int32(1) }),
			[]string{"minimum"}},
		{"output constraint minimum above 100000", agg, aggregationWith(func(r *types.AnalysisRuleAggregation) { r.OutputConstraints[0].Minimum = aws.Int32(100001) }),
			[]string{"minimum"}},
		{"no output constraint", agg, aggregationWith(func(r *types.AnalysisRuleAggregation) { r.OutputConstraints = []types.AggregationConstraint{} }),
			[]string{"outputConstraints"}},
		{"additional analyses on aggregation", agg, aggregationWith(func(r *types.AnalysisRuleAggregation) { r.AdditionalAnalyses = types.AdditionalAnalysesAllowed }),
			[]string{"additionalAnalyses", "LIST and CUSTOM"}},

		// LIST.
		{"list without join columns", list, listPolicy(types.AnalysisRuleList{JoinColumns: []string{}, ListColumns: []string{"email"}}),
			[]string{"joinColumns"}},
		{"list join column not allowed", list, listPolicy(types.AnalysisRuleList{JoinColumns: []string{"notes"}, ListColumns: []string{"email"}}),
			[]string{"LIST analysis rule", "notes", "joinColumns[0]"}},
		{"list join column twice", list, listPolicy(types.AnalysisRuleList{JoinColumns: []string{"id", "id"}, ListColumns: []string{"email"}}),
			[]string{"\"id\"", "more than once"}},
		{"list column not allowed", list, listPolicy(types.AnalysisRuleList{JoinColumns: []string{"id"}, ListColumns: []string{"email", "notes"}}),
			[]string{"notes", "listColumns[1]"}},
		{"list column twice", list, listPolicy(types.AnalysisRuleList{JoinColumns: []string{"id"}, ListColumns: []string{"email", "email"}}),
			[]string{"\"email\"", "listColumns[1]"}},
		{"list join operator twice", list, listPolicy(types.AnalysisRuleList{JoinColumns: []string{"id"}, ListColumns: []string{"email"},
			AllowedJoinOperators: []types.JoinOperator{types.JoinOperatorAnd, types.JoinOperatorAnd}}), []string{"allowedJoinOperators", "AND"}},

		// CUSTOM.
		{"ANY_QUERY without providers", custom, customPolicy(types.AnalysisRuleCustom{AllowedAnalyses: []string{"ANY_QUERY"}}),
			[]string{"allowedAnalysisProviders", "ANY_QUERY"}},
		{"templates with providers", custom, customPolicy(types.AnalysisRuleCustom{AllowedAnalyses: []string{tmplARN}, AllowedAnalysisProviders: []string{acctB}}),
			[]string{"allowedAnalysisProviders"}},
		{"providers without analyses", custom, customPolicy(types.AnalysisRuleCustom{AllowedAnalyses: []string{}, AllowedAnalysisProviders: []string{acctB}}),
			[]string{"allowedAnalysisProviders"}},
		{"ANY_QUERY and templates", custom, customPolicy(types.AnalysisRuleCustom{AllowedAnalyses: []string{"ANY_QUERY", tmplARN}, AllowedAnalysisProviders: []string{acctB}}),
			[]string{"allowedAnalyses", "ANY_QUERY"}},
		{"ANY_JOB", custom, customPolicy(types.AnalysisRuleCustom{AllowedAnalyses: []string{"ANY_JOB"}, AllowedAnalysisProviders: []string{acctB}}),
			[]string{"allowedAnalyses[0]", "PySpark jobs"}},
		{"template twice", custom, customPolicy(types.AnalysisRuleCustom{AllowedAnalyses: []string{tmplARN, tmplARN}}),
			[]string{"allowedAnalyses[1]", "more than once"}},
		{"provider twice", custom, customPolicy(types.AnalysisRuleCustom{AllowedAnalyses: []string{"ANY_QUERY"}, AllowedAnalysisProviders: []string{acctB, acctB}}),
			[]string{"allowedAnalysisProviders", acctB}},
		{"disallowed output column not allowed", custom, customPolicy(types.AnalysisRuleCustom{AllowedAnalyses: []string{tmplARN},
			DisallowedOutputColumns: []string{"email", "notes"}}), []string{"CUSTOM analysis rule", "notes", "disallowedOutputColumns[1]"}},
		{"disallowed output column twice", custom, customPolicy(types.AnalysisRuleCustom{AllowedAnalyses: []string{tmplARN},
			DisallowedOutputColumns: []string{"email", "email"}}), []string{"\"email\"", "more than once"}},
		{"differential privacy column not allowed", custom, customPolicy(types.AnalysisRuleCustom{AllowedAnalyses: []string{tmplARN},
			DifferentialPrivacy: &types.DifferentialPrivacyConfiguration{Columns: []types.DifferentialPrivacyColumn{{Name: aws.String("notes")}}}}),
			[]string{"differentialPrivacy.columns[0].name", "notes"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := a.CreateConfiguredTableAnalysisRule(ctx, &cleanrooms.CreateConfiguredTableAnalysisRuleInput{
				ConfiguredTableIdentifier: &id, AnalysisRuleType: c.typ, AnalysisRulePolicy: c.policy})
			wantInvalid(t, err, c.wants...)
		})
	}
	// None of those left a rule behind.
	if got := must(a.GetConfiguredTable(ctx, &cleanrooms.GetConfiguredTableInput{ConfiguredTableIdentifier: &id})).ok(t).ConfiguredTable; len(got.AnalysisRuleTypes) != 0 {
		t.Fatalf("rule types after failed creations: %v", got.AnalysisRuleTypes)
	}

	// Valid rules of each type, and the same checks on update.
	tableRule(t, ts, acctA, id, agg, aggregationPolicy(validAggregation()))
	_, err := a.UpdateConfiguredTableAnalysisRule(ctx, &cleanrooms.UpdateConfiguredTableAnalysisRuleInput{ConfiguredTableIdentifier: &id,
		AnalysisRuleType: agg, AnalysisRulePolicy: aggregationWith(func(r *types.AnalysisRuleAggregation) { r.DimensionColumns = []string{"id"} })})
	wantInvalid(t, err, "dimension column and a join column")
	_, err = a.UpdateConfiguredTableAnalysisRule(ctx, &cleanrooms.UpdateConfiguredTableAnalysisRuleInput{ConfiguredTableIdentifier: &id,
		AnalysisRuleType: list, AnalysisRulePolicy: listPolicy(types.AnalysisRuleList{JoinColumns: []string{"id"}, ListColumns: []string{"email"}})})
	wantNotFound(t, err, types.ResourceTypeConfiguredTable)
	_, err = a.UpdateConfiguredTableAnalysisRule(ctx, &cleanrooms.UpdateConfiguredTableAnalysisRuleInput{ConfiguredTableIdentifier: &id,
		AnalysisRuleType: agg, AnalysisRulePolicy: listPolicy(types.AnalysisRuleList{JoinColumns: []string{"id"}, ListColumns: []string{"email"}})})
	wantInvalid(t, err, "analysisRuleType")
	must(a.DeleteConfiguredTableAnalysisRule(ctx, &cleanrooms.DeleteConfiguredTableAnalysisRuleInput{ConfiguredTableIdentifier: &id, AnalysisRuleType: agg})).ok(t)
	// LIST: a column may be both a join and a list column.
	tableRule(t, ts, acctA, id, list, listPolicy(types.AnalysisRuleList{JoinColumns: []string{"id", "email"}, ListColumns: []string{"email", "segment"},
		AllowedJoinOperators: []types.JoinOperator{types.JoinOperatorAnd, types.JoinOperatorOr}}))
	must(a.DeleteConfiguredTableAnalysisRule(ctx, &cleanrooms.DeleteConfiguredTableAnalysisRuleInput{ConfiguredTableIdentifier: &id, AnalysisRuleType: list})).ok(t)
	got := tableRule(t, ts, acctA, id, custom, customPolicy(types.AnalysisRuleCustom{AllowedAnalyses: []string{"ANY_QUERY"},
		AllowedAnalysisProviders: []string{acctB}, AdditionalAnalyses: types.AdditionalAnalysesAllowed, DisallowedOutputColumns: []string{"email"},
		DifferentialPrivacy: &types.DifferentialPrivacyConfiguration{Columns: []types.DifferentialPrivacyColumn{{Name: aws.String("id")}}}}))
	c := got.Policy.(*types.ConfiguredTableAnalysisRulePolicyMemberV1).Value.(*types.ConfiguredTableAnalysisRulePolicyV1MemberCustom).Value
	if c.AdditionalAnalyses != types.AdditionalAnalysesAllowed || aws.ToString(c.DifferentialPrivacy.Columns[0].Name) != "id" || c.AllowedAnalysisProviders[0] != acctB {
		t.Errorf("custom rule %+v", c)
	}

	// The analysis rule JSON size quota (100 KB, not adjustable): a quota
	// error where the operation declares one, a validation error elsewhere.
	big := make([]string, 0, 800)
	for i := 0; i < 800; i++ {
		big = append(big, "arn:aws:cleanrooms:us-east-1:"+acctB+":membership/00000000-0000-4000-8000-000000000000/analysistemplate/"+strings.Repeat("a", 36-len(itoa(i)))+itoa(i))
	}
	_, err = a.UpdateConfiguredTableAnalysisRule(ctx, &cleanrooms.UpdateConfiguredTableAnalysisRuleInput{ConfiguredTableIdentifier: &id,
		AnalysisRuleType: custom, AnalysisRulePolicy: customPolicy(types.AnalysisRuleCustom{AllowedAnalyses: big})})
	wantInvalid(t, err, "Analysis rule JSON size", "100 KB")
	must(a.DeleteConfiguredTableAnalysisRule(ctx, &cleanrooms.DeleteConfiguredTableAnalysisRuleInput{ConfiguredTableIdentifier: &id, AnalysisRuleType: custom})).ok(t)
	_, err = a.CreateConfiguredTableAnalysisRule(ctx, &cleanrooms.CreateConfiguredTableAnalysisRuleInput{ConfiguredTableIdentifier: &id,
		AnalysisRuleType: custom, AnalysisRulePolicy: customPolicy(types.AnalysisRuleCustom{AllowedAnalyses: big})})
	wantQuota(t, err, "Analysis rule JSON size", 100)
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	s := ""
	for ; i > 0; i /= 10 {
		s = string(rune('0'+i%10)) + s
	}
	return s
}

func TestAssociationAndAssociationRuleValidation(t *testing.T) {
	ctx := context.Background()
	ts := start(t)
	a, b := ts.client(acctA), ts.client(acctB)
	// A queries; B receives results; C contributes data only.
	coll := must(a.CreateCollaboration(ctx, &cleanrooms.CreateCollaborationInput{
		Name: aws.String("c"), Description: aws.String("d"), CreatorDisplayName: aws.String("A"),
		CreatorMemberAbilities: []types.MemberAbility{types.MemberAbilityCanQuery},
		Members: []types.MemberSpecification{
			{AccountId: aws.String(acctB), DisplayName: aws.String("B"), MemberAbilities: []types.MemberAbility{types.MemberAbilityCanReceiveResults}},
			{AccountId: aws.String(acctC), DisplayName: aws.String("C"), MemberAbilities: []types.MemberAbility{}},
		},
		QueryLogStatus: types.CollaborationQueryLogStatusDisabled,
	})).ok(t).Collaboration
	collID := aws.ToString(coll.Id)
	msA := aws.ToString(must(a.CreateMembership(ctx, &cleanrooms.CreateMembershipInput{CollaborationIdentifier: &collID,
		QueryLogStatus: types.MembershipQueryLogStatusDisabled})).ok(t).Membership.Id)
	msB := aws.ToString(must(b.CreateMembership(ctx, &cleanrooms.CreateMembershipInput{CollaborationIdentifier: &collID,
		QueryLogStatus: types.MembershipQueryLogStatusDisabled})).ok(t).Membership.Id)

	glueTable(t, ts, acctA, "crm", "people", csvFormat, peopleColumns, nil)
	glueTable(t, ts, acctA, "crm", "people2", parquetFormat, peopleColumns, nil)
	glueTable(t, ts, acctB, "crm", "people", csvFormat, peopleColumns, nil)
	aTable := aws.ToString(configuredTable(t, ts, acctA, "people", "crm", "people", allowedPeople...).Id)
	aTable2 := aws.ToString(configuredTable(t, ts, acctA, "people2", "crm", "people2", allowedPeople...).Id)
	bTable := aws.ToString(configuredTable(t, ts, acctB, "people", "crm", "people", allowedPeople...).Id)

	// Associations: the caller's own active membership and configured table.
	_, err := a.CreateConfiguredTableAssociation(ctx, &cleanrooms.CreateConfiguredTableAssociationInput{MembershipIdentifier: &msA,
		ConfiguredTableIdentifier: &bTable, Name: aws.String("x"), RoleArn: roleARN(acctA)})
	wantNotFound(t, err, types.ResourceTypeConfiguredTable)
	_, err = a.CreateConfiguredTableAssociation(ctx, &cleanrooms.CreateConfiguredTableAssociationInput{MembershipIdentifier: &msA,
		ConfiguredTableIdentifier: aws.String("00000000-0000-4000-8000-000000000000"), Name: aws.String("x"), RoleArn: roleARN(acctA)})
	wantNotFound(t, err, types.ResourceTypeConfiguredTable)
	_, err = a.CreateConfiguredTableAssociation(ctx, &cleanrooms.CreateConfiguredTableAssociationInput{MembershipIdentifier: &msB,
		ConfiguredTableIdentifier: &aTable, Name: aws.String("x"), RoleArn: roleARN(acctA)})
	wantNotFound(t, err, types.ResourceTypeMembership)
	_, err = a.CreateConfiguredTableAssociation(ctx, &cleanrooms.CreateConfiguredTableAssociationInput{MembershipIdentifier: &msA,
		ConfiguredTableIdentifier: &aTable, Name: aws.String("not-an identifier!"), RoleArn: roleARN(acctA)})
	wantInvalid(t, err, "name")

	// A table without a rule can be associated; its schema says so.
	assoc := associate(t, ts, acctA, msA, aTable, "people")
	assocID := aws.ToString(assoc.Id)
	s := getSchema(t, ts, acctB, collID, "people")
	if d := statusOf(s, types.AnalysisTypeDirectAnalysis); d == nil || d.Status != types.SchemaStatusNotReady ||
		strings.Join(codes(d), ",") != "ANALYSIS_RULE_MISSING" || d.AnalysisRuleType != "" || len(s.AnalysisRuleTypes) != 0 {
		t.Errorf("status without a rule %+v", s.SchemaStatusDetails)
	}
	createRule := func(typ types.ConfiguredTableAssociationAnalysisRuleType, p types.ConfiguredTableAssociationAnalysisRulePolicy) error {
		_, err := a.CreateConfiguredTableAssociationAnalysisRule(ctx, &cleanrooms.CreateConfiguredTableAssociationAnalysisRuleInput{
			MembershipIdentifier: &msA, ConfiguredTableAssociationIdentifier: &assocID, AnalysisRuleType: typ, AnalysisRulePolicy: p})
		return err
	}
	wantInvalid(t, createRule(types.ConfiguredTableAssociationAnalysisRuleTypeList, listAssociationPolicy([]string{acctB}, nil)),
		"has no analysis rule")

	// LIST rule with additional analyses allowed.
	tableRule(t, ts, acctA, aTable, types.ConfiguredTableAnalysisRuleTypeList, listPolicy(types.AnalysisRuleList{
		JoinColumns: []string{"id"}, ListColumns: []string{"segment"}, AdditionalAnalyses: types.AdditionalAnalysesAllowed}))
	s = getSchema(t, ts, acctB, collID, "people")
	// A can query but not receive results, and no rule names receivers.
	if d := statusOf(s, types.AnalysisTypeDirectAnalysis); d == nil || d.Status != types.SchemaStatusNotReady ||
		strings.Join(codes(d), ",") != "COLLABORATION_ANALYSIS_RULE_NOT_CONFIGURED" || d.AnalysisRuleType != types.AnalysisRuleTypeList {
		t.Errorf("direct status without an association rule %+v", s.SchemaStatusDetails)
	}
	if d := statusOf(s, types.AnalysisTypeAdditionalAnalysis); d == nil || d.Status != types.SchemaStatusNotReady ||
		strings.Join(codes(d), ",") != "COLLABORATION_ANALYSIS_RULE_NOT_CONFIGURED" {
		t.Errorf("additional status without an association rule %+v", s.SchemaStatusDetails)
	}

	additional := []string{"arn:aws:cleanrooms:us-east-1:" + acctB + ":membership/" + msB + "/configuredaudiencemodelassociation/*"}
	cases := []struct {
		name  string
		typ   types.ConfiguredTableAssociationAnalysisRuleType
		p     types.ConfiguredTableAssociationAnalysisRulePolicy
		wants []string
	}{
		{"type is not the table rule's", types.ConfiguredTableAssociationAnalysisRuleTypeAggregation, aggregationAssociationPolicy([]string{acctB}, nil),
			[]string{"analysisRuleType", "LIST"}},
		{"policy member mismatch", types.ConfiguredTableAssociationAnalysisRuleTypeList, customAssociationPolicy([]string{acctB}, nil),
			[]string{"analysisRuleType", "custom"}},
		{"receiver can't receive results", types.ConfiguredTableAssociationAnalysisRuleTypeList, listAssociationPolicy([]string{acctC}, nil),
			[]string{"allowedResultReceivers[0]", acctC, "CAN_RECEIVE_RESULTS"}},
		{"receiver is not a member", types.ConfiguredTableAssociationAnalysisRuleTypeList, listAssociationPolicy([]string{acctB, acctD}, nil),
			[]string{"allowedResultReceivers[1]", acctD, "not a member"}},
		{"receiver twice", types.ConfiguredTableAssociationAnalysisRuleTypeList, listAssociationPolicy([]string{acctB, acctB}, nil),
			[]string{"allowedResultReceivers[1]", acctB}},
		{"additional analysis twice", types.ConfiguredTableAssociationAnalysisRuleTypeList, listAssociationPolicy([]string{acctB}, append(additional, additional...)),
			[]string{"allowedAdditionalAnalyses"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantInvalid(t, createRule(c.typ, c.p), c.wants...) })
	}
	// A rule naming receivers but no additional analyses.
	must(a.CreateConfiguredTableAssociationAnalysisRule(ctx, &cleanrooms.CreateConfiguredTableAssociationAnalysisRuleInput{
		MembershipIdentifier: &msA, ConfiguredTableAssociationIdentifier: &assocID,
		AnalysisRuleType: types.ConfiguredTableAssociationAnalysisRuleTypeList, AnalysisRulePolicy: listAssociationPolicy([]string{}, nil)})).ok(t)
	s = getSchema(t, ts, acctB, collID, "people")
	if d := statusOf(s, types.AnalysisTypeDirectAnalysis); strings.Join(codes(d), ",") != "RESULT_RECEIVERS_NOT_CONFIGURED" {
		t.Errorf("direct status with a rule naming no receivers %+v", s.SchemaStatusDetails)
	}
	if d := statusOf(s, types.AnalysisTypeAdditionalAnalysis); strings.Join(codes(d), ",") != "ADDITIONAL_ANALYSES_NOT_CONFIGURED" {
		t.Errorf("additional status with a rule allowing none %+v", s.SchemaStatusDetails)
	}
	must(a.UpdateConfiguredTableAssociationAnalysisRule(ctx, &cleanrooms.UpdateConfiguredTableAssociationAnalysisRuleInput{
		MembershipIdentifier: &msA, ConfiguredTableAssociationIdentifier: &assocID,
		AnalysisRuleType: types.ConfiguredTableAssociationAnalysisRuleTypeList, AnalysisRulePolicy: listAssociationPolicy([]string{acctB}, additional)})).ok(t)
	s = getSchema(t, ts, acctA, collID, "people")
	for _, typ := range []types.AnalysisType{types.AnalysisTypeDirectAnalysis, types.AnalysisTypeAdditionalAnalysis} {
		if d := statusOf(s, typ); d == nil || d.Status != types.SchemaStatusReady || len(d.Reasons) != 0 {
			t.Errorf("%s status with a complete rule %+v", typ, s.SchemaStatusDetails)
		}
	}
	rule := must(b.GetSchemaAnalysisRule(ctx, &cleanrooms.GetSchemaAnalysisRuleInput{CollaborationIdentifier: &collID,
		Name: aws.String("people"), Type: types.AnalysisRuleTypeList})).ok(t).AnalysisRule
	cons := rule.ConsolidatedPolicy.(*types.ConsolidatedPolicyMemberV1).Value.(*types.ConsolidatedPolicyV1MemberList).Value
	if strings.Join(cons.AllowedResultReceivers, ",") != acctB || strings.Join(cons.AllowedAdditionalAnalyses, ",") != additional[0] ||
		cons.AdditionalAnalyses != types.AdditionalAnalysesAllowed || strings.Join(cons.JoinColumns, ",") != "id" {
		t.Errorf("consolidated list policy %+v", cons)
	}
	// Update: the same checks.
	_, err = a.UpdateConfiguredTableAssociationAnalysisRule(ctx, &cleanrooms.UpdateConfiguredTableAssociationAnalysisRuleInput{
		MembershipIdentifier: &msA, ConfiguredTableAssociationIdentifier: &assocID,
		AnalysisRuleType: types.ConfiguredTableAssociationAnalysisRuleTypeList, AnalysisRulePolicy: listAssociationPolicy([]string{acctC}, nil)})
	wantInvalid(t, err, acctC, "CAN_RECEIVE_RESULTS")
	_, err = a.UpdateConfiguredTableAssociationAnalysisRule(ctx, &cleanrooms.UpdateConfiguredTableAssociationAnalysisRuleInput{
		MembershipIdentifier: &msA, ConfiguredTableAssociationIdentifier: &assocID,
		AnalysisRuleType: types.ConfiguredTableAssociationAnalysisRuleTypeCustom, AnalysisRulePolicy: customAssociationPolicy([]string{acctB}, nil)})
	wantNotFound(t, err, types.ResourceTypeConfiguredTableAssociation)

	// Additional analyses need the table rule to allow them.
	tableRule(t, ts, acctA, aTable2, types.ConfiguredTableAnalysisRuleTypeCustom, customPolicy(types.AnalysisRuleCustom{
		AllowedAnalyses: []string{"ANY_QUERY"}, AllowedAnalysisProviders: []string{acctA}}))
	assoc2 := aws.ToString(associate(t, ts, acctA, msA, aTable2, "people2").Id)
	_, err = a.CreateConfiguredTableAssociationAnalysisRule(ctx, &cleanrooms.CreateConfiguredTableAssociationAnalysisRuleInput{
		MembershipIdentifier: &msA, ConfiguredTableAssociationIdentifier: &assoc2,
		AnalysisRuleType: types.ConfiguredTableAssociationAnalysisRuleTypeCustom, AnalysisRulePolicy: customAssociationPolicy([]string{acctB}, additional)})
	wantInvalid(t, err, "allowedAdditionalAnalyses", "doesn't allow additional analyses")
	s = getSchema(t, ts, acctB, collID, "people2")
	if len(s.SchemaStatusDetails) != 1 {
		t.Errorf("no ADDITIONAL_ANALYSIS status without additional analyses allowed: %+v", s.SchemaStatusDetails)
	}

	// Another account's association, or a missing one, is not found.
	_, err = b.GetConfiguredTableAssociation(ctx, &cleanrooms.GetConfiguredTableAssociationInput{MembershipIdentifier: &msA, ConfiguredTableAssociationIdentifier: &assocID})
	wantNotFound(t, err, types.ResourceTypeMembership)
	_, err = b.GetConfiguredTableAssociation(ctx, &cleanrooms.GetConfiguredTableAssociationInput{MembershipIdentifier: &msB, ConfiguredTableAssociationIdentifier: &assocID})
	wantNotFound(t, err, types.ResourceTypeConfiguredTableAssociation)
	_, err = b.DeleteConfiguredTableAssociation(ctx, &cleanrooms.DeleteConfiguredTableAssociationInput{MembershipIdentifier: &msB, ConfiguredTableAssociationIdentifier: &assocID})
	wantNotFound(t, err, types.ResourceTypeConfiguredTableAssociation)
	_, err = b.GetConfiguredTableAssociationAnalysisRule(ctx, &cleanrooms.GetConfiguredTableAssociationAnalysisRuleInput{MembershipIdentifier: &msB,
		ConfiguredTableAssociationIdentifier: &assocID, AnalysisRuleType: types.ConfiguredTableAssociationAnalysisRuleTypeList})
	wantNotFound(t, err, types.ResourceTypeConfiguredTableAssociation)
	// Another account's configured table.
	_, err = b.GetConfiguredTable(ctx, &cleanrooms.GetConfiguredTableInput{ConfiguredTableIdentifier: &aTable})
	wantNotFound(t, err, types.ResourceTypeConfiguredTable)
	_, err = b.CreateConfiguredTableAnalysisRule(ctx, &cleanrooms.CreateConfiguredTableAnalysisRuleInput{ConfiguredTableIdentifier: &aTable,
		AnalysisRuleType: types.ConfiguredTableAnalysisRuleTypeList, AnalysisRulePolicy: listPolicy(types.AnalysisRuleList{JoinColumns: []string{"id"}, ListColumns: []string{}})})
	wantNotFound(t, err, types.ResourceTypeConfiguredTable)
	_, err = b.DeleteConfiguredTable(ctx, &cleanrooms.DeleteConfiguredTableInput{ConfiguredTableIdentifier: &aTable})
	wantNotFound(t, err, types.ResourceTypeConfiguredTable)
	if l := must(b.ListConfiguredTables(ctx, &cleanrooms.ListConfiguredTablesInput{})).ok(t).ConfiguredTableSummaries; len(l) != 1 || aws.ToString(l[0].Id) != bTable {
		t.Errorf("B lists %+v", l)
	}
	// Non-members are denied the collaboration's views.
	d := ts.client(acctD)
	_, err = d.ListSchemas(ctx, &cleanrooms.ListSchemasInput{CollaborationIdentifier: &collID})
	wantError(t, err, "AccessDeniedException", 403)
	_, err = d.GetSchema(ctx, &cleanrooms.GetSchemaInput{CollaborationIdentifier: &collID, Name: aws.String("people")})
	wantError(t, err, "AccessDeniedException", 403)
	_, err = d.BatchGetSchema(ctx, &cleanrooms.BatchGetSchemaInput{CollaborationIdentifier: &collID, Names: []string{"people"}})
	wantError(t, err, "AccessDeniedException", 403)
	_, err = d.GetSchemaAnalysisRule(ctx, &cleanrooms.GetSchemaAnalysisRuleInput{CollaborationIdentifier: &collID, Name: aws.String("people"), Type: types.AnalysisRuleTypeList})
	wantError(t, err, "AccessDeniedException", 403)
	_, err = d.BatchGetSchemaAnalysisRule(ctx, &cleanrooms.BatchGetSchemaAnalysisRuleInput{CollaborationIdentifier: &collID,
		SchemaAnalysisRuleRequests: []types.SchemaAnalysisRuleRequest{{Name: aws.String("people"), Type: types.AnalysisRuleTypeList}}})
	wantError(t, err, "AccessDeniedException", 403)
	_, err = d.ListCollaborationAnalysisTemplates(ctx, &cleanrooms.ListCollaborationAnalysisTemplatesInput{CollaborationIdentifier: &collID})
	wantError(t, err, "AccessDeniedException", 403)
	// C, invited and not joined, may read them.
	if l := must(ts.client(acctC).ListSchemas(ctx, &cleanrooms.ListSchemasInput{CollaborationIdentifier: &collID})).ok(t).SchemaSummaries; len(l) != 2 {
		t.Errorf("C sees %d schemas", len(l))
	}
}

func codes(d *types.SchemaStatusDetail) []string {
	var out []string
	for _, c := range reasonCodes(d) {
		out = append(out, string(c))
	}
	return out
}

func TestSchemaStatusOfCustomRules(t *testing.T) {
	ctx := context.Background()
	ts := start(t)
	p := newTwoParty(t, ts, queryAndReceive, noAbilities)
	glueTable(t, ts, acctB, "crm", "people", csvFormat, peopleColumns, nil)
	id := aws.ToString(configuredTable(t, ts, acctB, "people", "crm", "people", allowedPeople...).Id)
	tableRule(t, ts, acctB, id, types.ConfiguredTableAnalysisRuleTypeCustom, customPolicy(types.AnalysisRuleCustom{
		AllowedAnalyses: []string{"ANY_QUERY"}, AllowedAnalysisProviders: []string{acctA},
		DifferentialPrivacy: &types.DifferentialPrivacyConfiguration{Columns: []types.DifferentialPrivacyColumn{{Name: aws.String("id")}}}}))
	associate(t, ts, acctB, p.msB, id, "people")
	s := getSchema(t, ts, acctA, p.id, "people")
	d := statusOf(s, types.AnalysisTypeDirectAnalysis)
	if d == nil || d.Status != types.SchemaStatusNotReady || strings.Join(codes(d), ",") != "DIFFERENTIAL_PRIVACY_POLICY_NOT_CONFIGURED" ||
		len(d.Configurations) != 1 || d.Configurations[0] != types.SchemaConfigurationDifferentialPrivacy || d.AnalysisRuleType != types.AnalysisRuleTypeCustom {
		t.Errorf("differential privacy status %+v", s.SchemaStatusDetails)
	}
	// A template over a differential privacy table: AWS validates it, cleanroomsd says it can't yet.
	tmpl := must(ts.client(acctA).CreateAnalysisTemplate(ctx, &cleanrooms.CreateAnalysisTemplateInput{MembershipIdentifier: &p.msA,
		Name: aws.String("count"), Format: types.AnalysisFormatSql, Source: &types.AnalysisSourceMemberText{Value: "SELECT COUNT(DISTINCT id) FROM people"}})).ok(t).AnalysisTemplate
	if len(tmpl.Validations) != 1 || tmpl.Validations[0].Type != types.AnalysisTemplateValidationTypeDifferentialPrivacy ||
		tmpl.Validations[0].Status != types.AnalysisTemplateValidationStatusUnableToValidate {
		t.Errorf("validations %+v", tmpl.Validations)
	}
}

func TestAnalysisTemplateValidation(t *testing.T) {
	ctx := context.Background()
	ts := start(t, func(c *server.Config) { c.Quotas.AnalysisTemplatesPerMembership = 2 })
	a := ts.client(acctA)
	p := newTwoParty(t, ts, queryAndReceive, noAbilities)
	glueTable(t, ts, acctB, "crm", "people", csvFormat, peopleColumns, nil)
	associate(t, ts, acctB, p.msB, aws.ToString(configuredTable(t, ts, acctB, "people", "crm", "people", allowedPeople...).Id), "people")

	sqlTemplate := func(sql string, params ...types.AnalysisParameter) *cleanrooms.CreateAnalysisTemplateInput {
		return &cleanrooms.CreateAnalysisTemplateInput{MembershipIdentifier: &p.msA, Name: aws.String("t"), Format: types.AnalysisFormatSql,
			Source: &types.AnalysisSourceMemberText{Value: sql}, AnalysisParameters: params}
	}
	param := func(name string, typ types.ParameterType, def ...string) types.AnalysisParameter {
		ap := types.AnalysisParameter{Name: aws.String(name), Type: typ}
		if len(def) > 0 {
			ap.DefaultValue = aws.String(def[0])
		}
		return ap
	}
	const count = "SELECT COUNT(*) FROM people WHERE age > :min_age"
	cases := []struct {
		name  string
		in    *cleanrooms.CreateAnalysisTemplateInput
		wants []string
	}{
		{"PySpark", &cleanrooms.CreateAnalysisTemplateInput{MembershipIdentifier: &p.msA, Name: aws.String("t"), Format: types.AnalysisFormatPyspark10,
			Source: &types.AnalysisSourceMemberArtifacts{Value: types.AnalysisTemplateArtifacts{RoleArn: roleARN(acctA),
				EntryPoint: &types.AnalysisTemplateArtifact{Location: &types.S3Location{Bucket: aws.String("code"), Key: aws.String("main.py")}}}}},
			[]string{"format", "PySpark jobs"}},
		{"SQL from artifacts", &cleanrooms.CreateAnalysisTemplateInput{MembershipIdentifier: &p.msA, Name: aws.String("t"), Format: types.AnalysisFormatSql,
			Source: &types.AnalysisSourceMemberArtifacts{Value: types.AnalysisTemplateArtifacts{RoleArn: roleARN(acctA),
				EntryPoint: &types.AnalysisTemplateArtifact{Location: &types.S3Location{Bucket: aws.String("code"), Key: aws.String("q.sql")}}}}},
			[]string{"source.artifacts"}},
		{"empty text", sqlTemplate("   "), []string{"source.text"}},
		{"undeclared parameter", sqlTemplate(count), []string{"min_age", "doesn't declare"}},
		{"unused parameter", sqlTemplate(count, param("min_age", types.ParameterTypeInteger), param("country", types.ParameterTypeVarchar)),
			[]string{"analysisParameters[1].name", "country"}},
		{"parameter twice", sqlTemplate(count, param("min_age", types.ParameterTypeInteger), param("MIN_AGE", types.ParameterTypeInteger)),
			[]string{"analysisParameters[1].name", "more than once"}},
		{"integer default", sqlTemplate(count, param("min_age", types.ParameterTypeInteger, "eighteen")), []string{"analysisParameters[0].defaultValue", "INTEGER"}},
		{"smallint default out of range", sqlTemplate(count, param("min_age", types.ParameterTypeSmallint, "40000")), []string{"defaultValue", "SMALLINT"}},
		{"bigint default", sqlTemplate(count, param("min_age", types.ParameterTypeBigint, "1.5")), []string{"defaultValue", "BIGINT"}},
		{"double default", sqlTemplate(count, param("min_age", types.ParameterTypeDouble, "abc")), []string{"defaultValue", "DOUBLE"}},
		{"decimal default", sqlTemplate(count, param("min_age", types.ParameterTypeDecimal, "1e5")), []string{"defaultValue", "DECIMAL"}},
		{"boolean default", sqlTemplate(count, param("min_age", types.ParameterTypeBoolean, "maybe")), []string{"defaultValue", "BOOLEAN"}},
		{"date default", sqlTemplate(count, param("min_age", types.ParameterTypeDate, "2024-13-01")), []string{"defaultValue", "DATE"}},
		{"timestamp default", sqlTemplate(count, param("min_age", types.ParameterTypeTimestamp, "yesterday")), []string{"defaultValue", "TIMESTAMP"}},
		{"timestamp default with a zone", sqlTemplate(count, param("min_age", types.ParameterTypeTimestamp, "2024-01-01 10:00:00+02:00")), []string{"time zone"}},
		{"time default", sqlTemplate(count, param("min_age", types.ParameterTypeTime, "25:00:00")), []string{"defaultValue", "TIME"}},
		{"varbyte default", sqlTemplate(count, param("min_age", types.ParameterTypeVarbyte, "xyz")), []string{"defaultValue", "VARBYTE"}},
		{"not a query", sqlTemplate("DELETE FROM people"), []string{"source.text"}},
		{"two statements", sqlTemplate("SELECT 1 FROM people; SELECT 2 FROM people"), []string{"source.text"}},
		{"unknown table", sqlTemplate("SELECT COUNT(*) FROM people JOIN strangers s ON people.id = s.id"), []string{"strangers", "not a table"}},
		{"no table", sqlTemplate("SELECT 1"), []string{"references no table"}},
		{"unterminated string", sqlTemplate("SELECT COUNT(*) FROM people WHERE email = 'x"), []string{"source.text", "unterminated"}},
		{"referencedTables differ", &cleanrooms.CreateAnalysisTemplateInput{MembershipIdentifier: &p.msA, Name: aws.String("t"), Format: types.AnalysisFormatSql,
			Source: &types.AnalysisSourceMemberText{Value: "SELECT COUNT(*) FROM people"}, Schema: &types.AnalysisSchema{ReferencedTables: []string{"people", "others"}}},
			[]string{"schema.referencedTables", "others"}},
		{"synthetic data", &cleanrooms.CreateAnalysisTemplateInput{MembershipIdentifier: &p.msA, Name: aws.String("t"), Format: types.AnalysisFormatSql,
			Source: &types.AnalysisSourceMemberText{Value: "SELECT COUNT(*) FROM people"},
			SyntheticDataParameters: &types.SyntheticDataParametersMemberMlSyntheticDataParameters{Value: types.MLSyntheticDataParameters{
				Epsilon: aws.Float64(1), MaxMembershipInferenceAttackScore: aws.Float64(0.5),
				ColumnClassification: &types.ColumnClassificationDetails{ColumnMapping: []types.SyntheticDataColumnProperties{{
					ColumnName: aws.String("id"), ColumnType: types.SyntheticDataColumnTypeCategorical, IsPredictiveValue: aws.Bool(false)}}}}}},
			[]string{"syntheticDataParameters"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := a.CreateAnalysisTemplate(ctx, c.in)
			wantInvalid(t, err, c.wants...)
		})
	}

	// Valid defaults of many types, CTEs, subqueries, casts and strings.
	sql := `WITH adults AS (SELECT id, country FROM people WHERE age >= :min_age AND spend > :min_spend)
SELECT a.country, COUNT(*)::bigint AS n, EXTRACT(year FROM CAST(:since AS date)) AS y
FROM adults a
WHERE a.id IN (SELECT id FROM "People" WHERE email LIKE '%:not_a_param%') AND :flag AND :ts IS NOT NULL
GROUP BY a.country`
	tmpl := must(a.CreateAnalysisTemplate(ctx, sqlTemplate(sql,
		param("min_age", types.ParameterTypeSmallint, "18"), param("min_spend", types.ParameterTypeDecimal, "-12.50"),
		param("since", types.ParameterTypeDate, "2024-02-29"), param("flag", types.ParameterTypeBoolean, "TRUE"),
		param("ts", types.ParameterTypeTimestamptz, "2024-01-01T10:00:00Z")))).ok(t).AnalysisTemplate
	if strings.Join(tmpl.Schema.ReferencedTables, ",") != "people" || len(tmpl.AnalysisParameters) != 5 {
		t.Errorf("template %+v %+v", tmpl.Schema, tmpl.AnalysisParameters)
	}
	// referencedTables given and right is accepted.
	must(a.CreateAnalysisTemplate(ctx, &cleanrooms.CreateAnalysisTemplateInput{MembershipIdentifier: &p.msA, Name: aws.String("t2"), Format: types.AnalysisFormatSql,
		Source: &types.AnalysisSourceMemberText{Value: "SELECT COUNT(*) FROM PEOPLE"}, Schema: &types.AnalysisSchema{ReferencedTables: []string{"people"}}})).ok(t)
	// The quota of templates per membership.
	_, err := a.CreateAnalysisTemplate(ctx, sqlTemplate("SELECT COUNT(*) FROM people"))
	wantQuota(t, err, "Analysis templates per membership", 2)

	// Other accounts' templates are invisible through memberships.
	tmplID := aws.ToString(tmpl.Id)
	b := ts.client(acctB)
	_, err = b.GetAnalysisTemplate(ctx, &cleanrooms.GetAnalysisTemplateInput{MembershipIdentifier: &p.msA, AnalysisTemplateIdentifier: &tmplID})
	wantNotFound(t, err, types.ResourceTypeMembership)
	_, err = b.GetAnalysisTemplate(ctx, &cleanrooms.GetAnalysisTemplateInput{MembershipIdentifier: &p.msB, AnalysisTemplateIdentifier: &tmplID})
	wantNotFound(t, err, "")
	_, err = b.DeleteAnalysisTemplate(ctx, &cleanrooms.DeleteAnalysisTemplateInput{MembershipIdentifier: &p.msB, AnalysisTemplateIdentifier: &tmplID})
	wantNotFound(t, err, "")
	_, err = ts.client(acctD).GetCollaborationAnalysisTemplate(ctx, &cleanrooms.GetCollaborationAnalysisTemplateInput{
		CollaborationIdentifier: &p.id, AnalysisTemplateArn: tmpl.Arn})
	wantError(t, err, "AccessDeniedException", 403)
	_, err = ts.client(acctD).BatchGetCollaborationAnalysisTemplate(ctx, &cleanrooms.BatchGetCollaborationAnalysisTemplateInput{
		CollaborationIdentifier: &p.id, AnalysisTemplateArns: []string{aws.ToString(tmpl.Arn)}})
	wantError(t, err, "AccessDeniedException", 403)
	// A template ARN of another collaboration is not found in this one.
	other := newTwoParty(t, ts, queryAndReceive, noAbilities)
	_, err = a.GetCollaborationAnalysisTemplate(ctx, &cleanrooms.GetCollaborationAnalysisTemplateInput{CollaborationIdentifier: &other.id, AnalysisTemplateArn: tmpl.Arn})
	wantNotFound(t, err, "")
}

func TestDataPlaneQuotas(t *testing.T) {
	ctx := context.Background()
	ts := start(t, func(c *server.Config) {
		c.Quotas.ConfiguredTablesPerAccount = 2
		c.Quotas.ColumnsPerConfiguredTable = 3
	})
	a := ts.client(acctA)
	glueTable(t, ts, acctA, "crm", "people", csvFormat, peopleColumns, nil)
	_, err := a.CreateConfiguredTable(ctx, &cleanrooms.CreateConfiguredTableInput{Name: aws.String("wide"), TableReference: glueRef("crm", "people"),
		AllowedColumns: []string{"id", "email", "segment", "spend"}, AnalysisMethod: types.AnalysisMethodDirectQuery})
	wantQuota(t, err, "Allow-listed columns per configured table", 3)
	id := aws.ToString(configuredTable(t, ts, acctA, "one", "crm", "people", "id", "email", "segment").Id)
	_, err = a.UpdateConfiguredTable(ctx, &cleanrooms.UpdateConfiguredTableInput{ConfiguredTableIdentifier: &id, AllowedColumns: []string{"id", "email", "segment", "spend"}})
	wantQuota(t, err, "Allow-listed columns per configured table", 3)
	configuredTable(t, ts, acctA, "two", "crm", "people", "id")
	_, err = a.CreateConfiguredTable(ctx, &cleanrooms.CreateConfiguredTableInput{Name: aws.String("three"), TableReference: glueRef("crm", "people"),
		AllowedColumns: []string{"id"}, AnalysisMethod: types.AnalysisMethodDirectQuery})
	wantQuota(t, err, "Configured tables per account", 2)
	// Another account has its own.
	glueTable(t, ts, acctB, "crm", "people", csvFormat, peopleColumns, nil)
	configuredTable(t, ts, acctB, "one", "crm", "people", "id")
	// Deleting one frees a slot.
	must(a.DeleteConfiguredTable(ctx, &cleanrooms.DeleteConfiguredTableInput{ConfiguredTableIdentifier: &id})).ok(t)
	configuredTable(t, ts, acctA, "three", "crm", "people", "id")
}
