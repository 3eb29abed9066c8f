package server_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cleanrooms"
	"github.com/aws/aws-sdk-go-v2/service/cleanrooms/types"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
)

// TestDataPlaneWorkflow walks two accounts through a collaboration's data
// plane: Glue tables, configured tables with each rule type, associations
// and their rules, each other's schemas, an analysis template with
// parameters, tags, and the conflicts and clean-up along the way.
func TestDataPlaneWorkflow(t *testing.T) {
	ctx := context.Background()
	ts := start(t)
	a, b := ts.client(acctA), ts.client(acctB)
	p := newTwoParty(t, ts, queryAndReceive, noAbilities)

	// A's customers (CSV, partitioned by dt); B's impressions and purchases (Parquet).
	glueTable(t, ts, acctA, "advertiser", "customers", csvFormat,
		[]gluetypes.Column{gcol("hashed_email", "string"), gcol("segment", "string"), gcol("lifetime_value", "double"), gcol("age", "int")},
		[]gluetypes.Column{gcol("dt", "string")})
	glueTable(t, ts, acctB, "publisher", "impressions", parquetFormat,
		[]gluetypes.Column{gcol("hashed_email", "string"), gcol("campaign", "string"), gcol("impressions", "bigint"),
			gcol("ts", "timestamp"), gcol("region", "string"), gcol("cost", "decimal(10,2)")}, nil)
	glueTable(t, ts, acctB, "publisher", "purchases", parquetFormat,
		[]gluetypes.Column{gcol("hashed_email", "string"), gcol("category", "string"), gcol("amount", "double"), gcol("purchased_at", "date")}, nil)

	// Configured tables.
	custCT := must(a.CreateConfiguredTable(ctx, &cleanrooms.CreateConfiguredTableInput{
		Name: aws.String("customers"), Description: aws.String("CRM customers"), TableReference: glueRef("advertiser", "customers"),
		AllowedColumns: []string{"hashed_email", "segment", "dt"}, AnalysisMethod: types.AnalysisMethodDirectQuery,
		Tags: map[string]string{"owner": "crm"},
	})).ok(t).ConfiguredTable
	custID := aws.ToString(custCT.Id)
	if got, want := aws.ToString(custCT.Arn), "arn:aws:cleanrooms:us-east-1:"+acctA+":configuredtable/"+custID; got != want {
		t.Errorf("configured table arn %s, want %s", got, want)
	}
	if len(custCT.AnalysisRuleTypes) != 0 || custCT.AnalysisMethod != types.AnalysisMethodDirectQuery ||
		!slices.Equal(custCT.AllowedColumns, []string{"hashed_email", "segment", "dt"}) || aws.ToString(custCT.Description) != "CRM customers" {
		t.Errorf("configured table %+v", custCT)
	}
	if ref, ok := custCT.TableReference.(*types.TableReferenceMemberGlue); !ok ||
		aws.ToString(ref.Value.DatabaseName) != "advertiser" || aws.ToString(ref.Value.TableName) != "customers" {
		t.Errorf("table reference %#v", custCT.TableReference)
	}
	impCT := configuredTable(t, ts, acctB, "impressions", "publisher", "impressions", "region", "hashed_email", "campaign", "impressions", "cost")
	purCT := configuredTable(t, ts, acctB, "purchases", "publisher", "purchases", "hashed_email", "category", "amount", "purchased_at")
	impID, purID := aws.ToString(impCT.Id), aws.ToString(purCT.Id)

	// Listing: B has two, one per page.
	page := must(b.ListConfiguredTables(ctx, &cleanrooms.ListConfiguredTablesInput{MaxResults: aws.Int32(1)})).ok(t)
	if len(page.ConfiguredTableSummaries) != 1 || page.NextToken == nil || aws.ToString(page.ConfiguredTableSummaries[0].Id) != impID {
		t.Fatalf("first page %+v", page)
	}
	page = must(b.ListConfiguredTables(ctx, &cleanrooms.ListConfiguredTablesInput{MaxResults: aws.Int32(1), NextToken: page.NextToken})).ok(t)
	if len(page.ConfiguredTableSummaries) != 1 || page.NextToken != nil || aws.ToString(page.ConfiguredTableSummaries[0].Id) != purID {
		t.Fatalf("second page %+v", page)
	}

	// Rules: LIST on customers, AGGREGATION on impressions, an empty CUSTOM on purchases.
	listRule := tableRule(t, ts, acctA, custID, types.ConfiguredTableAnalysisRuleTypeList, listPolicy(types.AnalysisRuleList{
		JoinColumns: []string{"hashed_email"}, ListColumns: []string{"segment", "dt"},
		AllowedJoinOperators: []types.JoinOperator{types.JoinOperatorAnd}}))
	if aws.ToString(listRule.ConfiguredTableId) != custID || aws.ToString(listRule.ConfiguredTableArn) != aws.ToString(custCT.Arn) ||
		listRule.Type != types.ConfiguredTableAnalysisRuleTypeList {
		t.Errorf("list rule %+v", listRule)
	}
	_, err := a.CreateConfiguredTableAnalysisRule(ctx, &cleanrooms.CreateConfiguredTableAnalysisRuleInput{
		ConfiguredTableIdentifier: &custID, AnalysisRuleType: types.ConfiguredTableAnalysisRuleTypeList,
		AnalysisRulePolicy: listPolicy(types.AnalysisRuleList{JoinColumns: []string{"hashed_email"}, ListColumns: []string{"segment"}})})
	wantConflict(t, err, types.ConflictExceptionReasonAlreadyExists)
	aggregation := types.AnalysisRuleAggregation{
		AggregateColumns: []types.AggregateColumn{
			{ColumnNames: []string{"impressions", "cost"}, Function: types.AggregateFunctionNameSum},
			{ColumnNames: []string{"hashed_email"}, Function: types.AggregateFunctionNameCountDistinct}},
		JoinColumns:       []string{"hashed_email"},
		JoinRequired:      types.JoinRequiredOptionQueryRunner,
		DimensionColumns:  []string{"campaign", "region"},
		ScalarFunctions:   []types.ScalarFunctions{types.ScalarFunctionsUpper, types.ScalarFunctionsCoalesce},
		OutputConstraints: []types.AggregationConstraint{{ColumnName: aws.String("hashed_email"), Minimum: aws.Int32(100), Type: types.AggregationTypeCountDistinct}},
	}
	tableRule(t, ts, acctB, impID, types.ConfiguredTableAnalysisRuleTypeAggregation, aggregationPolicy(aggregation))
	tableRule(t, ts, acctB, purID, types.ConfiguredTableAnalysisRuleTypeCustom, customPolicy(types.AnalysisRuleCustom{
		AllowedAnalyses: []string{}, DisallowedOutputColumns: []string{"hashed_email"}}))
	if got := must(b.GetConfiguredTable(ctx, &cleanrooms.GetConfiguredTableInput{ConfiguredTableIdentifier: &impID})).ok(t).ConfiguredTable; !slices.Equal(got.AnalysisRuleTypes,
		[]types.ConfiguredTableAnalysisRuleType{types.ConfiguredTableAnalysisRuleTypeAggregation}) {
		t.Errorf("impressions rule types %v", got.AnalysisRuleTypes)
	}
	gotRule := must(b.GetConfiguredTableAnalysisRule(ctx, &cleanrooms.GetConfiguredTableAnalysisRuleInput{
		ConfiguredTableIdentifier: &impID, AnalysisRuleType: types.ConfiguredTableAnalysisRuleTypeAggregation})).ok(t).AnalysisRule
	agg := gotRule.Policy.(*types.ConfiguredTableAnalysisRulePolicyMemberV1).Value.(*types.ConfiguredTableAnalysisRulePolicyV1MemberAggregation).Value
	if !slices.Equal(agg.DimensionColumns, []string{"campaign", "region"}) || agg.JoinRequired != types.JoinRequiredOptionQueryRunner ||
		aws.ToInt32(agg.OutputConstraints[0].Minimum) != 100 || !slices.Equal(agg.AggregateColumns[0].ColumnNames, []string{"impressions", "cost"}) {
		t.Errorf("aggregation rule read back %+v", agg)
	}
	// A rule of another type is not found.
	_, err = b.GetConfiguredTableAnalysisRule(ctx, &cleanrooms.GetConfiguredTableAnalysisRuleInput{
		ConfiguredTableIdentifier: &impID, AnalysisRuleType: types.ConfiguredTableAnalysisRuleTypeList})
	wantNotFound(t, err, types.ResourceTypeConfiguredTable)
	_, err = b.DeleteConfiguredTableAnalysisRule(ctx, &cleanrooms.DeleteConfiguredTableAnalysisRuleInput{
		ConfiguredTableIdentifier: &impID, AnalysisRuleType: types.ConfiguredTableAnalysisRuleTypeCustom})
	wantNotFound(t, err, types.ResourceTypeConfiguredTable)

	// Associations.
	custAssoc := must(a.CreateConfiguredTableAssociation(ctx, &cleanrooms.CreateConfiguredTableAssociationInput{
		MembershipIdentifier: &p.msA, ConfiguredTableIdentifier: &custID, Name: aws.String("customers"),
		Description: aws.String("advertiser customers"), RoleArn: roleARN(acctA), Tags: map[string]string{"team": "ads"},
	})).ok(t).ConfiguredTableAssociation
	custAssocID := aws.ToString(custAssoc.Id)
	if got, want := aws.ToString(custAssoc.Arn), "arn:aws:cleanrooms:us-east-1:"+acctA+":membership/"+p.msA+"/configuredtableassociation/"+custAssocID; got != want {
		t.Errorf("association arn %s, want %s", got, want)
	}
	if aws.ToString(custAssoc.ConfiguredTableArn) != aws.ToString(custCT.Arn) || aws.ToString(custAssoc.MembershipId) != p.msA ||
		aws.ToString(custAssoc.MembershipArn) != "arn:aws:cleanrooms:us-east-1:"+acctA+":membership/"+p.msA ||
		aws.ToString(custAssoc.RoleArn) != aws.ToString(roleARN(acctA)) || len(custAssoc.AnalysisRuleTypes) != 0 {
		t.Errorf("association %+v", custAssoc)
	}
	impAssoc := associate(t, ts, acctB, p.msB, impID, "impressions")
	purAssoc := associate(t, ts, acctB, p.msB, purID, "purchases")
	impAssocID, purAssocID := aws.ToString(impAssoc.Id), aws.ToString(purAssoc.Id)

	// Names are the collaboration's table names: unique there, without case.
	_, err = b.CreateConfiguredTableAssociation(ctx, &cleanrooms.CreateConfiguredTableAssociationInput{
		MembershipIdentifier: &p.msB, ConfiguredTableIdentifier: &purID, Name: aws.String("Customers"), RoleArn: roleARN(acctB)})
	wantConflict(t, err, types.ConflictExceptionReasonAlreadyExists)
	// A configured table is associated with a membership once.
	_, err = b.CreateConfiguredTableAssociation(ctx, &cleanrooms.CreateConfiguredTableAssociationInput{
		MembershipIdentifier: &p.msB, ConfiguredTableIdentifier: &impID, Name: aws.String("impressions_again"), RoleArn: roleARN(acctB)})
	wantConflict(t, err, types.ConflictExceptionReasonAlreadyExists)
	// An associated table can't be deleted.
	_, err = b.DeleteConfiguredTable(ctx, &cleanrooms.DeleteConfiguredTableInput{ConfiguredTableIdentifier: &impID})
	wantConflict(t, err, types.ConflictExceptionReasonInvalidState)

	// Update and list associations.
	upd := must(b.UpdateConfiguredTableAssociation(ctx, &cleanrooms.UpdateConfiguredTableAssociationInput{
		MembershipIdentifier: &p.msB, ConfiguredTableAssociationIdentifier: &impAssocID,
		Description: aws.String("ad impressions"), RoleArn: aws.String("arn:aws:iam::" + acctB + ":role/another-cleanrooms-role")})).ok(t).ConfiguredTableAssociation
	if aws.ToString(upd.Description) != "ad impressions" || aws.ToString(upd.RoleArn) != "arn:aws:iam::"+acctB+":role/another-cleanrooms-role" {
		t.Errorf("updated association %+v", upd)
	}
	assocs := must(b.ListConfiguredTableAssociations(ctx, &cleanrooms.ListConfiguredTableAssociationsInput{MembershipIdentifier: &p.msB})).ok(t)
	if len(assocs.ConfiguredTableAssociationSummaries) != 2 || aws.ToString(assocs.ConfiguredTableAssociationSummaries[0].Name) != "impressions" ||
		aws.ToString(assocs.ConfiguredTableAssociationSummaries[1].ConfiguredTableId) != purID {
		t.Errorf("B's associations %+v", assocs.ConfiguredTableAssociationSummaries)
	}

	// Association rule on impressions: A may receive results.
	assocRule := must(b.CreateConfiguredTableAssociationAnalysisRule(ctx, &cleanrooms.CreateConfiguredTableAssociationAnalysisRuleInput{
		MembershipIdentifier: &p.msB, ConfiguredTableAssociationIdentifier: &impAssocID,
		AnalysisRuleType:   types.ConfiguredTableAssociationAnalysisRuleTypeAggregation,
		AnalysisRulePolicy: aggregationAssociationPolicy([]string{acctA}, nil)})).ok(t).AnalysisRule
	if aws.ToString(assocRule.MembershipIdentifier) != p.msB || aws.ToString(assocRule.ConfiguredTableAssociationArn) != aws.ToString(impAssoc.Arn) {
		t.Errorf("association rule %+v", assocRule)
	}
	_, err = b.CreateConfiguredTableAssociationAnalysisRule(ctx, &cleanrooms.CreateConfiguredTableAssociationAnalysisRuleInput{
		MembershipIdentifier: &p.msB, ConfiguredTableAssociationIdentifier: &impAssocID,
		AnalysisRuleType:   types.ConfiguredTableAssociationAnalysisRuleTypeAggregation,
		AnalysisRulePolicy: aggregationAssociationPolicy([]string{acctA}, nil)})
	wantConflict(t, err, types.ConflictExceptionReasonAlreadyExists)
	if got := must(b.GetConfiguredTableAssociation(ctx, &cleanrooms.GetConfiguredTableAssociationInput{
		MembershipIdentifier: &p.msB, ConfiguredTableAssociationIdentifier: &impAssocID})).ok(t).ConfiguredTableAssociation; !slices.Equal(got.AnalysisRuleTypes,
		[]types.ConfiguredTableAssociationAnalysisRuleType{types.ConfiguredTableAssociationAnalysisRuleTypeAggregation}) {
		t.Errorf("association rule types %v", got.AnalysisRuleTypes)
	}
	_, err = b.GetConfiguredTableAssociationAnalysisRule(ctx, &cleanrooms.GetConfiguredTableAssociationAnalysisRuleInput{
		MembershipIdentifier: &p.msB, ConfiguredTableAssociationIdentifier: &impAssocID, AnalysisRuleType: types.ConfiguredTableAssociationAnalysisRuleTypeList})
	wantNotFound(t, err, types.ResourceTypeConfiguredTableAssociation)

	// Schemas, as each member sees them.
	for _, cl := range []*cleanrooms.Client{a, b} {
		sums := must(cl.ListSchemas(ctx, &cleanrooms.ListSchemasInput{CollaborationIdentifier: &p.id})).ok(t).SchemaSummaries
		var names []string
		for _, s := range sums {
			names = append(names, aws.ToString(s.Name))
		}
		if !slices.Equal(names, []string{"customers", "impressions", "purchases"}) {
			t.Errorf("schemas %v", names)
		}
	}
	sp := must(a.ListSchemas(ctx, &cleanrooms.ListSchemasInput{CollaborationIdentifier: &p.id, MaxResults: aws.Int32(2)})).ok(t)
	if len(sp.SchemaSummaries) != 2 || sp.NextToken == nil {
		t.Fatalf("first schema page %+v", sp)
	}
	sp = must(a.ListSchemas(ctx, &cleanrooms.ListSchemasInput{CollaborationIdentifier: &p.id, MaxResults: aws.Int32(2), NextToken: sp.NextToken})).ok(t)
	if len(sp.SchemaSummaries) != 1 || aws.ToString(sp.SchemaSummaries[0].Name) != "purchases" || sp.NextToken != nil {
		t.Fatalf("second schema page %+v", sp)
	}
	if got := must(a.ListSchemas(ctx, &cleanrooms.ListSchemasInput{CollaborationIdentifier: &p.id, SchemaType: types.SchemaTypeIdMappingTable})).ok(t); len(got.SchemaSummaries) != 0 {
		t.Errorf("ID mapping table schemas %+v", got.SchemaSummaries)
	}

	imp := getSchema(t, ts, acctA, p.id, "impressions")
	if got, want := columns(imp.Columns), []string{"region string", "hashed_email string", "campaign string", "impressions bigint", "cost decimal(10,2)"}; !slices.Equal(got, want) {
		t.Errorf("impressions columns %v, want %v", got, want)
	}
	if len(imp.PartitionKeys) != 0 || aws.ToString(imp.CreatorAccountId) != acctB || imp.Type != types.SchemaTypeTable ||
		aws.ToString(imp.CollaborationId) != p.id || aws.ToString(imp.CollaborationArn) != "arn:aws:cleanrooms:us-east-1:"+acctA+":collaboration/"+p.id ||
		aws.ToString(imp.Description) != "ad impressions" || imp.AnalysisMethod != types.AnalysisMethodDirectQuery ||
		!slices.Equal(imp.AnalysisRuleTypes, []types.AnalysisRuleType{types.AnalysisRuleTypeAggregation}) {
		t.Errorf("impressions schema %+v", imp)
	}
	if got, want := aws.ToString(imp.ResourceArn), "arn:aws:cleanrooms:us-east-1:"+acctB+":membership/"+p.msB+"/configuredtableassociation/"+impAssocID; got != want {
		t.Errorf("schema resource arn %s, want %s", got, want)
	}
	if d := statusOf(imp, types.AnalysisTypeDirectAnalysis); d == nil || d.Status != types.SchemaStatusReady || d.AnalysisRuleType != types.AnalysisRuleTypeAggregation ||
		len(imp.SchemaStatusDetails) != 1 {
		t.Errorf("impressions status %+v", imp.SchemaStatusDetails)
	}
	cust := getSchema(t, ts, acctB, p.id, "CUSTOMERS") // names compare without case
	if got := columns(cust.Columns); !slices.Equal(got, []string{"hashed_email string", "segment string"}) {
		t.Errorf("customers columns %v", got)
	}
	if got := columns(cust.PartitionKeys); !slices.Equal(got, []string{"dt string"}) {
		t.Errorf("customers partition keys %v", got)
	}
	if aws.ToString(cust.Name) != "customers" || aws.ToString(cust.Description) != "advertiser customers" || aws.ToString(cust.CreatorAccountId) != acctA {
		t.Errorf("customers schema %+v", cust)
	}
	pur := getSchema(t, ts, acctA, p.id, "purchases")
	if d := statusOf(pur, types.AnalysisTypeDirectAnalysis); d == nil || d.Status != types.SchemaStatusNotReady ||
		!slices.Equal(reasonCodes(d), []types.SchemaStatusReasonCode{types.SchemaStatusReasonCodeAnalysisProvidersNotConfigured, types.SchemaStatusReasonCodeAnalysisTemplatesNotConfigured}) {
		t.Errorf("purchases status %+v", pur.SchemaStatusDetails)
	}
	// The description falls back on the configured table's, then "".
	if aws.ToString(pur.Description) != "" {
		t.Errorf("purchases description %q", aws.ToString(pur.Description))
	}
	_, err = a.GetSchema(ctx, &cleanrooms.GetSchemaInput{CollaborationIdentifier: &p.id, Name: aws.String("nope")})
	wantNotFound(t, err, "")

	batch := must(a.BatchGetSchema(ctx, &cleanrooms.BatchGetSchemaInput{CollaborationIdentifier: &p.id,
		Names: []string{"impressions", "missing_table", "customers"}})).ok(t)
	if len(batch.Schemas) != 2 || aws.ToString(batch.Schemas[0].Name) != "impressions" || aws.ToString(batch.Schemas[1].Name) != "customers" ||
		len(batch.Errors) != 1 || aws.ToString(batch.Errors[0].Name) != "missing_table" || aws.ToString(batch.Errors[0].Code) != "ResourceNotFoundException" ||
		!strings.Contains(aws.ToString(batch.Errors[0].Message), "missing_table") {
		t.Errorf("BatchGetSchema %+v", batch)
	}

	// Schema analysis rules: policy, collaboration policy, consolidated policy.
	rule := must(a.GetSchemaAnalysisRule(ctx, &cleanrooms.GetSchemaAnalysisRuleInput{CollaborationIdentifier: &p.id,
		Name: aws.String("impressions"), Type: types.AnalysisRuleTypeAggregation})).ok(t).AnalysisRule
	if aws.ToString(rule.Name) != "impressions" || aws.ToString(rule.CollaborationId) != p.id || rule.Type != types.AnalysisRuleTypeAggregation {
		t.Errorf("schema rule %+v", rule)
	}
	pol := rule.Policy.(*types.AnalysisRulePolicyMemberV1).Value.(*types.AnalysisRulePolicyV1MemberAggregation).Value
	if !slices.Equal(pol.JoinColumns, []string{"hashed_email"}) || !slices.Equal(pol.ScalarFunctions, aggregation.ScalarFunctions) {
		t.Errorf("schema rule policy %+v", pol)
	}
	collabPol := rule.CollaborationPolicy.(*types.ConfiguredTableAssociationAnalysisRulePolicyMemberV1).Value.(*types.ConfiguredTableAssociationAnalysisRulePolicyV1MemberAggregation).Value
	if !slices.Equal(collabPol.AllowedResultReceivers, []string{acctA}) {
		t.Errorf("collaboration policy %+v", collabPol)
	}
	cons := rule.ConsolidatedPolicy.(*types.ConsolidatedPolicyMemberV1).Value.(*types.ConsolidatedPolicyV1MemberAggregation).Value
	if !slices.Equal(cons.AllowedResultReceivers, []string{acctA}) || !slices.Equal(cons.DimensionColumns, []string{"campaign", "region"}) ||
		len(cons.AggregateColumns) != 2 || aws.ToString(cons.OutputConstraints[0].ColumnName) != "hashed_email" || cons.JoinRequired != types.JoinRequiredOptionQueryRunner {
		t.Errorf("consolidated policy %+v", cons)
	}
	_, err = a.GetSchemaAnalysisRule(ctx, &cleanrooms.GetSchemaAnalysisRuleInput{CollaborationIdentifier: &p.id,
		Name: aws.String("impressions"), Type: types.AnalysisRuleTypeList})
	wantNotFound(t, err, "")
	listSchemaRule := must(b.GetSchemaAnalysisRule(ctx, &cleanrooms.GetSchemaAnalysisRuleInput{CollaborationIdentifier: &p.id,
		Name: aws.String("customers"), Type: types.AnalysisRuleTypeList})).ok(t).AnalysisRule
	if rule.CollaborationPolicy == nil {
		t.Error("impressions has a collaboration policy")
	}
	if listSchemaRule.CollaborationPolicy != nil {
		t.Errorf("customers has no association rule, got collaboration policy %+v", listSchemaRule.CollaborationPolicy)
	}
	lc := listSchemaRule.ConsolidatedPolicy.(*types.ConsolidatedPolicyMemberV1).Value.(*types.ConsolidatedPolicyV1MemberList).Value
	if !slices.Equal(lc.ListColumns, []string{"segment", "dt"}) || len(lc.AllowedResultReceivers) != 0 {
		t.Errorf("consolidated list policy %+v", lc)
	}
	br := must(b.BatchGetSchemaAnalysisRule(ctx, &cleanrooms.BatchGetSchemaAnalysisRuleInput{CollaborationIdentifier: &p.id,
		SchemaAnalysisRuleRequests: []types.SchemaAnalysisRuleRequest{
			{Name: aws.String("customers"), Type: types.AnalysisRuleTypeList},
			{Name: aws.String("customers"), Type: types.AnalysisRuleTypeCustom},
			{Name: aws.String("ghost"), Type: types.AnalysisRuleTypeList},
		}})).ok(t)
	if len(br.AnalysisRules) != 1 || len(br.Errors) != 2 || br.Errors[0].Type != types.AnalysisRuleTypeCustom || aws.ToString(br.Errors[1].Name) != "ghost" {
		t.Errorf("BatchGetSchemaAnalysisRule %+v", br)
	}

	// An analysis template with parameters, by A (who can query).
	sql := `-- spend by category for a region
SELECT p.category, SUM(p.amount) AS total
FROM purchases p
JOIN impressions i ON p.hashed_email = i.hashed_email
WHERE p.purchased_at >= :since AND i.region = :region AND i.campaign <> 'x:y'
GROUP BY p.category`
	tmpl := must(a.CreateAnalysisTemplate(ctx, &cleanrooms.CreateAnalysisTemplateInput{
		MembershipIdentifier: &p.msA, Name: aws.String("spend_by_category"), Description: aws.String("v1"),
		Format: types.AnalysisFormatSql, Source: &types.AnalysisSourceMemberText{Value: sql},
		AnalysisParameters: []types.AnalysisParameter{
			{Name: aws.String("since"), Type: types.ParameterTypeDate, DefaultValue: aws.String("2024-01-01")},
			{Name: aws.String("region"), Type: types.ParameterTypeVarchar},
		},
		Tags: map[string]string{"kind": "report"},
	})).ok(t).AnalysisTemplate
	tmplID, tmplARN := aws.ToString(tmpl.Id), aws.ToString(tmpl.Arn)
	if want := "arn:aws:cleanrooms:us-east-1:" + acctA + ":membership/" + p.msA + "/analysistemplate/" + tmplID; tmplARN != want {
		t.Errorf("template arn %s, want %s", tmplARN, want)
	}
	if !sameNames(tmpl.Schema.ReferencedTables, "impressions", "purchases") || tmpl.Format != types.AnalysisFormatSql ||
		tmpl.Source.(*types.AnalysisSourceMemberText).Value != sql || len(tmpl.AnalysisParameters) != 2 ||
		aws.ToString(tmpl.AnalysisParameters[0].DefaultValue) != "2024-01-01" || aws.ToString(tmpl.MembershipId) != p.msA ||
		aws.ToString(tmpl.CollaborationId) != p.id || len(tmpl.Validations) != 0 {
		t.Errorf("template %+v", tmpl)
	}
	// B can't: it can't query.
	_, err = b.CreateAnalysisTemplate(ctx, &cleanrooms.CreateAnalysisTemplateInput{
		MembershipIdentifier: &p.msB, Name: aws.String("t"), Format: types.AnalysisFormatSql,
		Source: &types.AnalysisSourceMemberText{Value: "SELECT COUNT(*) FROM impressions"}})
	wantError(t, err, "AccessDeniedException", 403)

	updT := must(a.UpdateAnalysisTemplate(ctx, &cleanrooms.UpdateAnalysisTemplateInput{MembershipIdentifier: &p.msA,
		AnalysisTemplateIdentifier: &tmplID, Description: aws.String("v2")})).ok(t).AnalysisTemplate
	if aws.ToString(updT.Description) != "v2" || updT.Source.(*types.AnalysisSourceMemberText).Value != sql {
		t.Errorf("updated template %+v", updT)
	}
	if l := must(a.ListAnalysisTemplates(ctx, &cleanrooms.ListAnalysisTemplatesInput{MembershipIdentifier: &p.msA})).ok(t).AnalysisTemplateSummaries; len(l) != 1 ||
		aws.ToString(l[0].Arn) != tmplARN || aws.ToString(l[0].Description) != "v2" {
		t.Errorf("A's templates %+v", l)
	}
	// B sees it in the collaboration.
	ct := must(b.GetCollaborationAnalysisTemplate(ctx, &cleanrooms.GetCollaborationAnalysisTemplateInput{
		CollaborationIdentifier: &p.id, AnalysisTemplateArn: &tmplARN})).ok(t).CollaborationAnalysisTemplate
	if aws.ToString(ct.CreatorAccountId) != acctA || aws.ToString(ct.Id) != tmplID || ct.Source.(*types.AnalysisSourceMemberText).Value != sql ||
		!sameNames(ct.Schema.ReferencedTables, "impressions", "purchases") {
		t.Errorf("collaboration template %+v", ct)
	}
	if l := must(b.ListCollaborationAnalysisTemplates(ctx, &cleanrooms.ListCollaborationAnalysisTemplatesInput{CollaborationIdentifier: &p.id})).ok(t).CollaborationAnalysisTemplateSummaries; len(l) != 1 ||
		aws.ToString(l[0].CreatorAccountId) != acctA || aws.ToString(l[0].Name) != "spend_by_category" {
		t.Errorf("collaboration templates %+v", l)
	}
	missingARN := "arn:aws:cleanrooms:us-east-1:" + acctA + ":membership/" + p.msA + "/analysistemplate/00000000-0000-4000-8000-000000000000"
	bt := must(b.BatchGetCollaborationAnalysisTemplate(ctx, &cleanrooms.BatchGetCollaborationAnalysisTemplateInput{
		CollaborationIdentifier: &p.id, AnalysisTemplateArns: []string{tmplARN, missingARN}})).ok(t)
	if len(bt.CollaborationAnalysisTemplates) != 1 || len(bt.Errors) != 1 || aws.ToString(bt.Errors[0].Arn) != missingARN ||
		aws.ToString(bt.Errors[0].Code) != "ResourceNotFoundException" {
		t.Errorf("BatchGetCollaborationAnalysisTemplate %+v", bt)
	}
	_, err = b.GetCollaborationAnalysisTemplate(ctx, &cleanrooms.GetCollaborationAnalysisTemplateInput{
		CollaborationIdentifier: &p.id, AnalysisTemplateArn: &missingARN})
	wantNotFound(t, err, "")

	// B allows the template on purchases: the schema becomes ready.
	must(b.UpdateConfiguredTableAnalysisRule(ctx, &cleanrooms.UpdateConfiguredTableAnalysisRuleInput{
		ConfiguredTableIdentifier: &purID, AnalysisRuleType: types.ConfiguredTableAnalysisRuleTypeCustom,
		AnalysisRulePolicy: customPolicy(types.AnalysisRuleCustom{AllowedAnalyses: []string{tmplARN},
			DisallowedOutputColumns: []string{"hashed_email"}})})).ok(t)
	pur = getSchema(t, ts, acctA, p.id, "purchases")
	if d := statusOf(pur, types.AnalysisTypeDirectAnalysis); d == nil || d.Status != types.SchemaStatusReady || len(d.Reasons) != 0 {
		t.Errorf("purchases status after allowing the template %+v", pur.SchemaStatusDetails)
	}
	custom := must(a.GetSchemaAnalysisRule(ctx, &cleanrooms.GetSchemaAnalysisRuleInput{CollaborationIdentifier: &p.id,
		Name: aws.String("purchases"), Type: types.AnalysisRuleTypeCustom})).ok(t).AnalysisRule
	cc := custom.ConsolidatedPolicy.(*types.ConsolidatedPolicyMemberV1).Value.(*types.ConsolidatedPolicyV1MemberCustom).Value
	if !slices.Equal(cc.AllowedAnalyses, []string{tmplARN}) || !slices.Equal(cc.DisallowedOutputColumns, []string{"hashed_email"}) {
		t.Errorf("consolidated custom policy %+v", cc)
	}

	// Tags on the configured table, for its owner only. (Templates' and
	// associations' ARNs are longer than the 100 characters the model allows
	// the tag operations' resourceArn, which the protocol layer enforces; the
	// service's tagging of them is tested in package cleanrooms.)
	must(a.TagResource(ctx, &cleanrooms.TagResourceInput{ResourceArn: custCT.Arn, Tags: map[string]string{"extra": "1"}})).ok(t)
	if tags := must(a.ListTagsForResource(ctx, &cleanrooms.ListTagsForResourceInput{ResourceArn: custCT.Arn})).ok(t).Tags; len(tags) != 2 ||
		tags["extra"] != "1" || tags["owner"] != "crm" {
		t.Errorf("tags of the configured table: %v", tags)
	}
	must(a.UntagResource(ctx, &cleanrooms.UntagResourceInput{ResourceArn: custCT.Arn, TagKeys: []string{"extra"}})).ok(t)
	if tags := must(a.ListTagsForResource(ctx, &cleanrooms.ListTagsForResourceInput{ResourceArn: custCT.Arn})).ok(t).Tags; len(tags) != 1 {
		t.Errorf("tags of the configured table after untagging: %v", tags)
	}
	_, err = b.ListTagsForResource(ctx, &cleanrooms.ListTagsForResourceInput{ResourceArn: custCT.Arn})
	wantError(t, err, "ResourceNotFoundException", 404)
	_, err = b.TagResource(ctx, &cleanrooms.TagResourceInput{ResourceArn: custCT.Arn, Tags: map[string]string{"x": "y"}})
	wantError(t, err, "ResourceNotFoundException", 404)

	// B can't leave while it owns associations.
	_, err = b.DeleteMembership(ctx, &cleanrooms.DeleteMembershipInput{MembershipIdentifier: &p.msB})
	wantConflict(t, err, types.ConflictExceptionReasonSubresourcesExist)

	// A removes B: B's schemas leave the collaboration, its associations stay its own.
	must(a.DeleteMember(ctx, &cleanrooms.DeleteMemberInput{CollaborationIdentifier: &p.id, AccountId: aws.String(acctB)})).ok(t)
	if sums := must(a.ListSchemas(ctx, &cleanrooms.ListSchemasInput{CollaborationIdentifier: &p.id})).ok(t).SchemaSummaries; len(sums) != 1 ||
		aws.ToString(sums[0].Name) != "customers" {
		t.Errorf("schemas after removing B: %+v", sums)
	}
	_, err = a.GetSchema(ctx, &cleanrooms.GetSchemaInput{CollaborationIdentifier: &p.id, Name: aws.String("impressions")})
	wantNotFound(t, err, "")
	must(b.GetConfiguredTableAssociation(ctx, &cleanrooms.GetConfiguredTableAssociationInput{
		MembershipIdentifier: &p.msB, ConfiguredTableAssociationIdentifier: &impAssocID})).ok(t)
	// A removed member can't change them, only clean up.
	_, err = b.UpdateConfiguredTableAssociation(ctx, &cleanrooms.UpdateConfiguredTableAssociationInput{
		MembershipIdentifier: &p.msB, ConfiguredTableAssociationIdentifier: &impAssocID, Description: aws.String("x")})
	wantConflict(t, err, types.ConflictExceptionReasonInvalidState)
	must(b.DeleteConfiguredTableAssociationAnalysisRule(ctx, &cleanrooms.DeleteConfiguredTableAssociationAnalysisRuleInput{
		MembershipIdentifier: &p.msB, ConfiguredTableAssociationIdentifier: &impAssocID,
		AnalysisRuleType: types.ConfiguredTableAssociationAnalysisRuleTypeAggregation})).ok(t)
	for _, id := range []string{impAssocID, purAssocID} {
		must(b.DeleteConfiguredTableAssociation(ctx, &cleanrooms.DeleteConfiguredTableAssociationInput{
			MembershipIdentifier: &p.msB, ConfiguredTableAssociationIdentifier: aws.String(id)})).ok(t)
	}
	must(b.DeleteMembership(ctx, &cleanrooms.DeleteMembershipInput{MembershipIdentifier: &p.msB})).ok(t)
	for _, id := range []string{impID, purID} {
		must(b.DeleteConfiguredTable(ctx, &cleanrooms.DeleteConfiguredTableInput{ConfiguredTableIdentifier: aws.String(id)})).ok(t)
	}
	if l := must(b.ListConfiguredTables(ctx, &cleanrooms.ListConfiguredTablesInput{})).ok(t).ConfiguredTableSummaries; len(l) != 0 {
		t.Errorf("B's configured tables after deleting them: %+v", l)
	}

	// A deletes the collaboration; it cleans up its own resources afterwards.
	must(a.DeleteCollaboration(ctx, &cleanrooms.DeleteCollaborationInput{CollaborationIdentifier: &p.id})).ok(t)
	_, err = a.DeleteMembership(ctx, &cleanrooms.DeleteMembershipInput{MembershipIdentifier: &p.msA})
	wantConflict(t, err, types.ConflictExceptionReasonSubresourcesExist)
	if l := must(a.ListConfiguredTableAssociations(ctx, &cleanrooms.ListConfiguredTableAssociationsInput{MembershipIdentifier: &p.msA})).ok(t).ConfiguredTableAssociationSummaries; len(l) != 1 {
		t.Errorf("A's associations after the collaboration is deleted: %+v", l)
	}
	must(a.DeleteAnalysisTemplate(ctx, &cleanrooms.DeleteAnalysisTemplateInput{MembershipIdentifier: &p.msA, AnalysisTemplateIdentifier: &tmplID})).ok(t)
	must(a.DeleteConfiguredTableAssociation(ctx, &cleanrooms.DeleteConfiguredTableAssociationInput{
		MembershipIdentifier: &p.msA, ConfiguredTableAssociationIdentifier: &custAssocID})).ok(t)
	must(a.DeleteMembership(ctx, &cleanrooms.DeleteMembershipInput{MembershipIdentifier: &p.msA})).ok(t)
	must(a.DeleteConfiguredTable(ctx, &cleanrooms.DeleteConfiguredTableInput{ConfiguredTableIdentifier: &custID})).ok(t)
	_, err = a.GetConfiguredTable(ctx, &cleanrooms.GetConfiguredTableInput{ConfiguredTableIdentifier: &custID})
	wantNotFound(t, err, types.ResourceTypeConfiguredTable)
}

// sameNames reports whether got holds exactly want, in any order (the SQL
// analyzer decides the order of referenced tables).
func sameNames(got []string, want ...string) bool {
	g := slices.Clone(got)
	slices.Sort(g)
	slices.Sort(want)
	return slices.Equal(g, want)
}
