package cleanrooms

import (
	"context"
	"fmt"
	"time"

	api "github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
)

// Schemas are the collaboration's view of its members' configured table
// associations: one TABLE schema per association whose owner is an ACTIVE
// member, named by the association, with the configured table's allowed
// columns and Glue types and its analysis rule merged with the association's
// (collaboration) analysis rule. Any INVITED or ACTIVE member may read them.

// errNotFoundCode is the code BatchGet operations give a missing item.
const errNotFoundCode = "ResourceNotFoundException"

// collabView holds what every schema view of one collaboration needs.
type collabView struct {
	c       *collaboration
	members map[string]*member // by account
}

func loadCollabView(ctx context.Context, tx store.Tx, c *collaboration) (*collabView, error) {
	v := &collabView{c: c, members: map[string]*member{}}
	err := eachRecord(ctx, tx, kindMember, store.Filter{Parent: c.rec.ID}, func(rec *store.Record) error {
		m, err := memberOf(rec)
		if err != nil {
			return err
		}
		v.members[rec.Account] = m
		return nil
	})
	return v, err
}

// present reports whether account is a member that is INVITED or ACTIVE.
func (v *collabView) present(account string) (*member, bool) {
	m := v.members[account]
	if m == nil {
		return nil, false
	}
	st := m.status()
	return m, st == api.MemberStatusInvited || st == api.MemberStatusActive
}

// contributes reports whether account's tables are part of the
// collaboration: it is an ACTIVE member.
func (v *collabView) contributes(account string) bool {
	m := v.members[account]
	return m != nil && m.status() == api.MemberStatusActive
}

// schema is a visible association and its configured table.
type schema struct {
	a *association
	t *configuredTable
}

func noSchema(collabID, name string) *fault.Error {
	return fault.Missing("", name, "Schema %s does not exist in collaboration %s", name, collabID)
}

// readableCollaboration is visibleCollaboration plus what schema views need.
func readableCollaboration(ctx context.Context, tx store.Tx, id, account string) (*collabView, error) {
	c, _, err := visibleCollaboration(ctx, tx, id, account)
	if err != nil {
		return nil, err
	}
	return loadCollabView(ctx, tx, c)
}

// findSchema returns the schema name of the collaboration, or NotFound.
func findSchema(ctx context.Context, tx store.Tx, v *collabView, name string) (*schema, error) {
	rec, err := tx.GetByUniqueKey(ctx, kindAssociation, associationKey(v.c.rec.ID, name))
	if isNotFound(err) {
		return nil, noSchema(v.c.rec.ID, name)
	}
	if err != nil {
		return nil, err
	}
	sc, err := schemaOf(ctx, tx, v, rec)
	if err == nil && sc == nil {
		return nil, noSchema(v.c.rec.ID, name)
	}
	return sc, err
}

// schemaOf loads the schema of an association record, or returns nil when
// the association's owner no longer contributes to the collaboration.
func schemaOf(ctx context.Context, tx store.Tx, v *collabView, rec *store.Record) (*schema, error) {
	if !v.contributes(rec.Account) {
		return nil, nil
	}
	a, err := associationOf(rec)
	if err != nil {
		return nil, err
	}
	t, err := associationTable(ctx, tx, a)
	if err != nil {
		return nil, err
	}
	return &schema{a: a, t: t}, nil
}

// matchingAssociationRule returns the association's rule when it has the
// configured table's rule type (a stale rule of another type is ignored).
func (sc *schema) matchingAssociationRule() *associationRule {
	tr, ar := sc.t.data.Rule, sc.a.data.Rule
	if tr == nil || ar == nil || string(ar.Type) != string(tr.Type) {
		return nil
	}
	return ar
}

func (sc *schema) ruleTypes() []api.AnalysisRuleType {
	if r := sc.t.data.Rule; r != nil {
		return []api.AnalysisRuleType{api.AnalysisRuleType(r.Type)}
	}
	return []api.AnalysisRuleType{}
}

func (sc *schema) updateTime() time.Time {
	u := sc.a.rec.UpdateTime
	if t := sc.t.rec.UpdateTime; t.After(u) {
		u = t
	}
	if r := sc.t.data.Rule; r != nil && r.UpdateTime.After(u) {
		u = r.UpdateTime
	}
	if r := sc.a.data.Rule; r != nil && r.UpdateTime.After(u) {
		u = r.UpdateTime
	}
	return u
}

func (sc *schema) description() string {
	if d := sc.a.data.Description; d != nil && *d != "" {
		return *d
	}
	if d := sc.t.data.Description; d != nil {
		return *d
	}
	return ""
}

func reason(code api.SchemaStatusReasonCode, format string, args ...any) api.SchemaStatusReason {
	return api.SchemaStatusReason{Code: code, Message: fmt.Sprintf(format, args...)}
}

// statusDetails says whether the schema can be analyzed, per analysis type:
//
//   - DIRECT_ANALYSIS (always present): NOT_READY with ANALYSIS_RULE_MISSING
//     when the configured table has no analysis rule;
//     ANALYSIS_TEMPLATES_NOT_CONFIGURED and ANALYSIS_PROVIDERS_NOT_CONFIGURED
//     for a CUSTOM rule that allows nothing; DIFFERENTIAL_PRIVACY_POLICY_
//     NOT_CONFIGURED for a differential privacy rule while the collaboration
//     has no privacy budget template (cleanroomsd has none yet); and about
//     who may receive results: when the association rule names result
//     receivers and none of them can currently receive results,
//     RESULT_RECEIVERS_NOT_ALLOWED; when it names none, results can only go
//     to the member who runs the query, so if that member can't receive
//     results, COLLABORATION_ANALYSIS_RULE_NOT_CONFIGURED (no association
//     rule) or RESULT_RECEIVERS_NOT_CONFIGURED (a rule without receivers).
//   - ADDITIONAL_ANALYSIS, only when the table's rule allows or requires
//     additional analyses: COLLABORATION_ANALYSIS_RULE_NOT_CONFIGURED without
//     an association rule, ADDITIONAL_ANALYSES_NOT_CONFIGURED when it allows
//     no additional analyses.
func (v *collabView) statusDetails(sc *schema) []api.SchemaStatusDetail {
	tr := sc.t.data.Rule
	ar := sc.matchingAssociationRule()
	direct := api.SchemaStatusDetail{AnalysisType: api.AnalysisTypeDirectAnalysis}
	var reasons []api.SchemaStatusReason
	if tr == nil {
		reasons = append(reasons, reason(api.SchemaStatusReasonCodeAnalysisRuleMissing,
			"The configured table has no analysis rule, so it can't be queried"))
	} else {
		direct.AnalysisRuleType = ptr(api.AnalysisRuleType(tr.Type))
		if c := tr.Policy.V1.Custom; c != nil {
			if len(c.AllowedAnalyses) == 0 {
				reasons = append(reasons,
					reason(api.SchemaStatusReasonCodeAnalysisTemplatesNotConfigured, "The custom analysis rule allows no analysis templates"),
					reason(api.SchemaStatusReasonCodeAnalysisProvidersNotConfigured, "The custom analysis rule allows no analysis providers"))
			}
			if c.DifferentialPrivacy != nil {
				direct.Configurations = []api.SchemaConfiguration{api.SchemaConfigurationDifferentialPrivacy}
				reasons = append(reasons, reason(api.SchemaStatusReasonCodeDifferentialPrivacyPolicyNotConfigured,
					"The table uses differential privacy and the collaboration has no differential privacy privacy budget template"))
			}
		}
		reasons = append(reasons, v.receiverReasons(ar)...)
	}
	direct.Status, direct.Reasons = readiness(reasons)
	out := []api.SchemaStatusDetail{direct}
	if tr == nil || tableAdditionalAnalyses(tr) == api.AdditionalAnalysesNotAllowed {
		return out
	}
	extra := api.SchemaStatusDetail{AnalysisType: api.AnalysisTypeAdditionalAnalysis, AnalysisRuleType: direct.AnalysisRuleType}
	reasons = nil
	if ar == nil {
		reasons = append(reasons, reason(api.SchemaStatusReasonCodeCollaborationAnalysisRuleNotConfigured,
			"The configured table association has no collaboration analysis rule allowing additional analyses"))
	} else if _, _, additional, _ := associationRuleMember(&ar.Policy); len(additional) == 0 {
		reasons = append(reasons, reason(api.SchemaStatusReasonCodeAdditionalAnalysesNotConfigured,
			"The collaboration analysis rule allows no additional analyses"))
	}
	extra.Status, extra.Reasons = readiness(reasons)
	return append(out, extra)
}

func readiness(reasons []api.SchemaStatusReason) (api.SchemaStatus, []api.SchemaStatusReason) {
	if len(reasons) == 0 {
		return api.SchemaStatusReady, nil
	}
	return api.SchemaStatusNotReady, reasons
}

// receiverReasons says why no member could receive the results of a
// direct analysis of the table, if none can.
func (v *collabView) receiverReasons(ar *associationRule) []api.SchemaStatusReason {
	var receivers []string
	if ar != nil {
		_, receivers, _, _ = associationRuleMember(&ar.Policy)
	}
	if len(receivers) > 0 {
		for _, acct := range receivers {
			if m, ok := v.present(acct); ok && m.can(api.MemberAbilityCanReceiveResults) {
				return nil
			}
		}
		return []api.SchemaStatusReason{reason(api.SchemaStatusReasonCodeResultReceiversNotAllowed,
			"None of the allowed result receivers can currently receive results in this collaboration")}
	}
	for acct, m := range v.members {
		if _, ok := v.present(acct); !ok || !m.can(api.MemberAbilityCanQuery) {
			continue
		}
		if m.can(api.MemberAbilityCanReceiveResults) {
			return nil
		}
		if ar == nil {
			return []api.SchemaStatusReason{reason(api.SchemaStatusReasonCodeCollaborationAnalysisRuleNotConfigured,
				"The member who can query can't receive results, and no collaboration analysis rule names the members who may")}
		}
		return []api.SchemaStatusReason{reason(api.SchemaStatusReasonCodeResultReceiversNotConfigured,
			"The member who can query can't receive results, and the collaboration analysis rule names no result receivers")}
	}
	return nil
}

func (s *Service) schemaView(v *collabView, sc *schema) api.Schema {
	t := &sc.t.data
	cols, parts := []api.Column{}, []api.Column{}
	for _, c := range t.Columns {
		if c.Partition {
			parts = append(parts, api.Column{Name: c.Name, Type: c.Type})
		} else {
			cols = append(cols, api.Column{Name: c.Name, Type: c.Type})
		}
	}
	return api.Schema{
		Columns:                 cols,
		PartitionKeys:           parts,
		AnalysisRuleTypes:       sc.ruleTypes(),
		AnalysisMethod:          ptr(t.AnalysisMethod),
		SelectedAnalysisMethods: t.SelectedAnalysisMethods,
		CreatorAccountId:        sc.a.rec.Account,
		Name:                    sc.a.data.Name,
		CollaborationId:         v.c.rec.ID,
		CollaborationArn:        s.collaborationARN(v.c.rec.Account, v.c.rec.ID),
		Description:             sc.description(),
		CreateTime:              ts(sc.a.rec.CreateTime),
		UpdateTime:              ts(sc.updateTime()),
		Type:                    api.SchemaTypeTable,
		SchemaStatusDetails:     v.statusDetails(sc),
		ResourceArn:             ptr(s.associationARN(sc.a.rec.Account, sc.a.data.MembershipID, sc.a.rec.ID)),
	}
}

func (s *Service) ListSchemas(ctx context.Context, in *api.ListSchemasInput) (*api.ListSchemasOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	pg, err := readPage(in.NextToken, in.MaxResults, "ListSchemas/"+in.CollaborationIdentifier)
	if err != nil {
		return nil, err
	}
	out := &api.ListSchemasOutput{}
	err = s.store.View(ctx, func(tx store.Tx) error {
		out.SchemaSummaries = []api.SchemaSummary{}
		v, err := readableCollaboration(ctx, tx, in.CollaborationIdentifier, account)
		if err != nil {
			return err
		}
		if in.SchemaType != nil && *in.SchemaType != api.SchemaTypeTable {
			return nil // ID mapping tables are not implemented
		}
		recs, err := tx.List(ctx, kindAssociation, store.Filter{Parent: v.c.rec.ID}, pg.Query())
		if err != nil {
			return err
		}
		recs, out.NextToken = pg.Next(recs)
		for _, rec := range recs {
			sc, err := schemaOf(ctx, tx, v, rec)
			if err != nil {
				return err
			}
			if sc == nil {
				continue
			}
			full := s.schemaView(v, sc)
			out.SchemaSummaries = append(out.SchemaSummaries, api.SchemaSummary{
				Name: full.Name, Type: full.Type, CreatorAccountId: full.CreatorAccountId, CreateTime: full.CreateTime,
				UpdateTime: full.UpdateTime, CollaborationId: full.CollaborationId, CollaborationArn: full.CollaborationArn,
				AnalysisRuleTypes: full.AnalysisRuleTypes, AnalysisMethod: full.AnalysisMethod, ResourceArn: full.ResourceArn,
				SelectedAnalysisMethods: full.SelectedAnalysisMethods,
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) GetSchema(ctx context.Context, in *api.GetSchemaInput) (*api.GetSchemaOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out api.Schema
	err = s.store.View(ctx, func(tx store.Tx) error {
		v, err := readableCollaboration(ctx, tx, in.CollaborationIdentifier, account)
		if err != nil {
			return err
		}
		sc, err := findSchema(ctx, tx, v, in.Name)
		if err != nil {
			return err
		}
		out = s.schemaView(v, sc)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.GetSchemaOutput{Schema: &out}, nil
}

func (s *Service) BatchGetSchema(ctx context.Context, in *api.BatchGetSchemaInput) (*api.BatchGetSchemaOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	out := &api.BatchGetSchemaOutput{}
	err = s.store.View(ctx, func(tx store.Tx) error {
		out.Schemas, out.Errors = []api.Schema{}, []api.BatchGetSchemaError{}
		v, err := readableCollaboration(ctx, tx, in.CollaborationIdentifier, account)
		if err != nil {
			return err
		}
		for _, name := range in.Names {
			sc, err := findSchema(ctx, tx, v, name)
			if isNotFound(err) {
				out.Errors = append(out.Errors, api.BatchGetSchemaError{Name: name, Code: errNotFoundCode, Message: fault.As(err).Message})
				continue
			}
			if err != nil {
				return err
			}
			out.Schemas = append(out.Schemas, s.schemaView(v, sc))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// schemaRule returns the schema's analysis rule of type typ, or NotFound.
func (s *Service) schemaRule(v *collabView, sc *schema, typ api.AnalysisRuleType) (api.AnalysisRule, error) {
	tr := sc.t.data.Rule
	if tr == nil || string(tr.Type) != string(typ) {
		return api.AnalysisRule{}, fault.Missing("", sc.a.data.Name, "Schema %s has no %s analysis rule", sc.a.data.Name, typ)
	}
	ar := sc.matchingAssociationRule()
	v1 := tr.Policy.V1
	out := api.AnalysisRule{
		CollaborationId: v.c.rec.ID,
		Type:            typ,
		Name:            sc.a.data.Name,
		CreateTime:      ts(tr.CreateTime),
		UpdateTime:      ts(tr.UpdateTime),
		Policy: &api.AnalysisRulePolicy{V1: &api.AnalysisRulePolicyV1{
			List: v1.List, Aggregation: v1.Aggregation, Custom: v1.Custom}},
	}
	var receivers, additional []string
	if ar != nil {
		if ar.UpdateTime.After(tr.UpdateTime) {
			out.UpdateTime = ts(ar.UpdateTime)
		}
		policy := ar.Policy
		out.CollaborationPolicy = &policy
		_, receivers, additional, _ = associationRuleMember(&ar.Policy)
	}
	out.ConsolidatedPolicy = consolidate(tr, receivers, additional)
	return out, nil
}

// consolidate merges the configured table's rule with the association
// rule's result receivers and additional analyses: the policy a query runs
// under.
func consolidate(tr *tableRule, receivers, additional []string) *api.ConsolidatedPolicy {
	v1 := tr.Policy.V1
	out := &api.ConsolidatedPolicyV1{}
	switch {
	case v1.Aggregation != nil:
		r := v1.Aggregation
		out.Aggregation = &api.ConsolidatedPolicyAggregation{
			AggregateColumns: nonNil(r.AggregateColumns), JoinColumns: nonNil(r.JoinColumns), JoinRequired: r.JoinRequired,
			AllowedJoinOperators: r.AllowedJoinOperators, DimensionColumns: nonNil(r.DimensionColumns),
			ScalarFunctions: nonNil(r.ScalarFunctions), OutputConstraints: nonNil(r.OutputConstraints),
			AdditionalAnalyses: r.AdditionalAnalyses, AllowedResultReceivers: receivers, AllowedAdditionalAnalyses: additional,
		}
	case v1.List != nil:
		r := v1.List
		out.List = &api.ConsolidatedPolicyList{
			JoinColumns: nonNil(r.JoinColumns), AllowedJoinOperators: r.AllowedJoinOperators, ListColumns: nonNil(r.ListColumns),
			AdditionalAnalyses: r.AdditionalAnalyses, AllowedResultReceivers: receivers, AllowedAdditionalAnalyses: additional,
		}
	case v1.Custom != nil:
		r := v1.Custom
		out.Custom = &api.ConsolidatedPolicyCustom{
			AllowedAnalyses: nonNil(r.AllowedAnalyses), AllowedAnalysisProviders: r.AllowedAnalysisProviders,
			AdditionalAnalyses: r.AdditionalAnalyses, DisallowedOutputColumns: r.DisallowedOutputColumns,
			DifferentialPrivacy: r.DifferentialPrivacy, AllowedResultReceivers: receivers, AllowedAdditionalAnalyses: additional,
		}
	}
	return &api.ConsolidatedPolicy{V1: out}
}

func (s *Service) GetSchemaAnalysisRule(ctx context.Context, in *api.GetSchemaAnalysisRuleInput) (*api.GetSchemaAnalysisRuleOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out api.AnalysisRule
	err = s.store.View(ctx, func(tx store.Tx) error {
		v, err := readableCollaboration(ctx, tx, in.CollaborationIdentifier, account)
		if err != nil {
			return err
		}
		sc, err := findSchema(ctx, tx, v, in.Name)
		if err != nil {
			return err
		}
		out, err = s.schemaRule(v, sc, in.Type)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &api.GetSchemaAnalysisRuleOutput{AnalysisRule: &out}, nil
}

func (s *Service) BatchGetSchemaAnalysisRule(ctx context.Context, in *api.BatchGetSchemaAnalysisRuleInput) (*api.BatchGetSchemaAnalysisRuleOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	out := &api.BatchGetSchemaAnalysisRuleOutput{}
	err = s.store.View(ctx, func(tx store.Tx) error {
		out.AnalysisRules, out.Errors = []api.AnalysisRule{}, []api.BatchGetSchemaAnalysisRuleError{}
		v, err := readableCollaboration(ctx, tx, in.CollaborationIdentifier, account)
		if err != nil {
			return err
		}
		for _, req := range in.SchemaAnalysisRuleRequests {
			sc, err := findSchema(ctx, tx, v, req.Name)
			var rule api.AnalysisRule
			if err == nil {
				rule, err = s.schemaRule(v, sc, req.Type)
			}
			if isNotFound(err) {
				out.Errors = append(out.Errors, api.BatchGetSchemaAnalysisRuleError{Name: req.Name, Type: req.Type,
					Code: errNotFoundCode, Message: fault.As(err).Message})
				continue
			}
			if err != nil {
				return err
			}
			out.AnalysisRules = append(out.AnalysisRules, rule)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
