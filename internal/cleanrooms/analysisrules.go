package cleanrooms

import (
	"context"
	"fmt"
	"strings"

	api "github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
)

// Configured table analysis rules: one per configured table, of type
// AGGREGATION, LIST or CUSTOM, checked against the table's allowed columns
// whenever the rule or the columns change.

const (
	anyQuery = "ANY_QUERY"
	anyJob   = "ANY_JOB"
)

// ruleMember returns which member of a v1 policy is set.
func ruleMember(p *api.ConfiguredTableAnalysisRulePolicy) (api.ConfiguredTableAnalysisRuleType, bool) {
	if p == nil || p.V1 == nil {
		return "", false
	}
	switch v := p.V1; {
	case v.Aggregation != nil:
		return api.ConfiguredTableAnalysisRuleTypeAggregation, true
	case v.List != nil:
		return api.ConfiguredTableAnalysisRuleTypeList, true
	case v.Custom != nil:
		return api.ConfiguredTableAnalysisRuleTypeCustom, true
	}
	return "", false
}

// checkRuleShape checks what needs no configured table: the policy's member
// matches the rule type, and the policy is within the size quota. Only
// CreateConfiguredTableAnalysisRule declares ServiceQuotaExceededException;
// elsewhere an oversized rule is a ValidationException naming the quota.
func checkRuleShape(typ api.ConfiguredTableAnalysisRuleType, p *api.ConfiguredTableAnalysisRulePolicy, creating bool) error {
	member, ok := ruleMember(p)
	if !ok {
		return invalid("analysisRulePolicy.v1", "The analysis rule policy must set one of v1.aggregation, v1.list or v1.custom")
	}
	if member != typ {
		return invalid("analysisRuleType", "analysisRuleType is %s but the policy is a v1.%s policy (%s)", typ, strings.ToLower(string(member)), member)
	}
	if n := len(encode(p)); n > maxRuleKB*1024 {
		if creating {
			return fault.Quota(quotaRuleSize, maxRuleKB)
		}
		return invalid("analysisRulePolicy", "The analysis rule policy is %d bytes of JSON; the %q quota is %d KB", n, quotaRuleSize, maxRuleKB)
	}
	return nil
}

// ruleChecker collects the column checks of one rule.
type ruleChecker struct {
	typ     api.ConfiguredTableAnalysisRuleType
	base    string // field path of the policy member
	allowed map[string]bool
}

func (c *ruleChecker) fail(field, format string, args ...any) error {
	return invalid(c.base+"."+field, "%s analysis rule: %s", c.typ, fmt.Sprintf(format, args...))
}

// columns checks that a column list names allowed columns, each once.
func (c *ruleChecker) columns(field, role string, cols []string) error {
	seen := map[string]bool{}
	for i, col := range cols {
		key := strings.ToLower(col)
		if !c.allowed[key] {
			return c.fail(fmt.Sprintf("%s[%d]", field, i), "%s column %q is not an allowed column of the configured table", role, col)
		}
		if seen[key] {
			return c.fail(fmt.Sprintf("%s[%d]", field, i), "%s column %q is listed more than once", role, col)
		}
		seen[key] = true
	}
	return nil
}

// checkTableRule checks every documented constraint of a rule against the
// configured table's allowed columns. Each failure names the rule type and
// the offending column or field.
func checkTableRule(typ api.ConfiguredTableAnalysisRuleType, p *api.ConfiguredTableAnalysisRulePolicy, allowedColumns []string, creating bool) error {
	if err := checkRuleShape(typ, p, creating); err != nil {
		return err
	}
	c := &ruleChecker{typ: typ, allowed: map[string]bool{}}
	for _, col := range allowedColumns {
		c.allowed[strings.ToLower(col)] = true
	}
	switch typ {
	case api.ConfiguredTableAnalysisRuleTypeAggregation:
		c.base = "analysisRulePolicy.v1.aggregation"
		return c.aggregation(p.V1.Aggregation)
	case api.ConfiguredTableAnalysisRuleTypeList:
		c.base = "analysisRulePolicy.v1.list"
		return c.list(p.V1.List)
	default:
		c.base = "analysisRulePolicy.v1.custom"
		return c.custom(p.V1.Custom)
	}
}

func (c *ruleChecker) aggregation(r *api.AnalysisRuleAggregation) error {
	aggregate := map[string]bool{}
	pairs := map[string]bool{}
	for i, ac := range r.AggregateColumns {
		field := fmt.Sprintf("aggregateColumns[%d].columnNames", i)
		if err := c.columns(field, "Aggregate", ac.ColumnNames); err != nil {
			return err
		}
		for j, col := range ac.ColumnNames {
			key := string(ac.Function) + "/" + strings.ToLower(col)
			if pairs[key] {
				return c.fail(fmt.Sprintf("%s[%d]", field, j), "aggregate column %q is listed more than once for function %s", col, ac.Function)
			}
			pairs[key] = true
			aggregate[strings.ToLower(col)] = true
		}
	}
	if err := c.columns("joinColumns", "Join", r.JoinColumns); err != nil {
		return err
	}
	if err := c.columns("dimensionColumns", "Dimension", r.DimensionColumns); err != nil {
		return err
	}
	join := map[string]bool{}
	for _, col := range r.JoinColumns {
		join[strings.ToLower(col)] = true
	}
	for i, col := range r.DimensionColumns {
		field := fmt.Sprintf("dimensionColumns[%d]", i)
		if join[strings.ToLower(col)] {
			return c.fail(field, "column %q can't be both a dimension column and a join column", col)
		}
		if aggregate[strings.ToLower(col)] {
			return c.fail(field, "column %q can't be both a dimension column and an aggregate column", col)
		}
	}
	if err := noDuplicates(c.base+".scalarFunctions", r.ScalarFunctions); err != nil {
		return c.fail("scalarFunctions", "%s", fault.As(err).Message)
	}
	if err := noDuplicates(c.base+".allowedJoinOperators", r.AllowedJoinOperators); err != nil {
		return c.fail("allowedJoinOperators", "%s", fault.As(err).Message)
	}
	if r.JoinRequired != nil && *r.JoinRequired == api.JoinRequiredOptionQueryRunner && len(r.JoinColumns) == 0 {
		return c.fail("joinRequired", "joinRequired QUERY_RUNNER needs at least one join column")
	}
	if len(r.OutputConstraints) == 0 {
		return c.fail("outputConstraints", "at least one output constraint is required")
	}
	seen := map[string]bool{}
	for i, oc := range r.OutputConstraints {
		field := fmt.Sprintf("outputConstraints[%d].columnName", i)
		key := strings.ToLower(oc.ColumnName)
		if !c.allowed[key] {
			return c.fail(field, "output constraint column %q is not an allowed column of the configured table", oc.ColumnName)
		}
		if seen[key] {
			return c.fail(field, "output constraint column %q is listed more than once", oc.ColumnName)
		}
		seen[key] = true
		if oc.Minimum == nil || *oc.Minimum < 2 || *oc.Minimum > 100000 {
			return c.fail(fmt.Sprintf("outputConstraints[%d].minimum", i), "the minimum of output constraint column %q must be between 2 and 100000", oc.ColumnName)
		}
	}
	// The model documents additionalAnalyses as supported by the list and
	// custom rules only.
	if a := r.AdditionalAnalyses; a != nil && *a != api.AdditionalAnalysesNotAllowed {
		return c.fail("additionalAnalyses", "additionalAnalyses %s is supported by the LIST and CUSTOM analysis rules only", *a)
	}
	return nil
}

func (c *ruleChecker) list(r *api.AnalysisRuleList) error {
	if len(r.JoinColumns) == 0 {
		return c.fail("joinColumns", "at least one join column is required: list queries must join the table to a table of the member who can query")
	}
	if err := c.columns("joinColumns", "Join", r.JoinColumns); err != nil {
		return err
	}
	// AWS documents no rule against a column being both a join column and a
	// list column, so that is allowed.
	if err := c.columns("listColumns", "List", r.ListColumns); err != nil {
		return err
	}
	if err := noDuplicates(c.base+".allowedJoinOperators", r.AllowedJoinOperators); err != nil {
		return c.fail("allowedJoinOperators", "%s", fault.As(err).Message)
	}
	return nil
}

func (c *ruleChecker) custom(r *api.AnalysisRuleCustom) error {
	seen := map[string]bool{}
	query := false
	for i, a := range r.AllowedAnalyses {
		field := fmt.Sprintf("allowedAnalyses[%d]", i)
		if seen[a] {
			return c.fail(field, "allowed analysis %q is listed more than once", a)
		}
		seen[a] = true
		switch a {
		case anyJob:
			return c.fail(field, "ANY_JOB allows PySpark jobs, which cleanroomsd does not support")
		case anyQuery:
			query = true
		}
	}
	if query && len(r.AllowedAnalyses) > 1 {
		return c.fail("allowedAnalyses", "ANY_QUERY can't be combined with analysis templates: allow either any query from allowedAnalysisProviders or a list of analysis templates")
	}
	if err := noDuplicates(c.base+".allowedAnalysisProviders", r.AllowedAnalysisProviders); err != nil {
		return c.fail("allowedAnalysisProviders", "%s", fault.As(err).Message)
	}
	switch {
	case query && len(r.AllowedAnalysisProviders) == 0:
		return c.fail("allowedAnalysisProviders", "allowedAnalysisProviders is required when allowedAnalyses is ANY_QUERY")
	case !query && len(r.AllowedAnalysisProviders) > 0:
		return c.fail("allowedAnalysisProviders", "allowedAnalysisProviders can only be set when allowedAnalyses is ANY_QUERY; a rule allows either analysis templates or analysis providers")
	}
	if err := c.columns("disallowedOutputColumns", "Disallowed output", r.DisallowedOutputColumns); err != nil {
		return err
	}
	if dp := r.DifferentialPrivacy; dp != nil {
		if len(dp.Columns) != 1 {
			return c.fail("differentialPrivacy.columns", "differential privacy needs exactly one user identifier column")
		}
		if col := dp.Columns[0].Name; !c.allowed[strings.ToLower(col)] {
			return c.fail("differentialPrivacy.columns[0].name", "differential privacy column %q is not an allowed column of the configured table", col)
		}
	}
	return nil
}

func noTableRule(t *configuredTable, typ api.ConfiguredTableAnalysisRuleType) *fault.Error {
	return fault.Missing(string(api.ResourceTypeConfiguredTable), t.rec.ID, "Configured table %s has no %s analysis rule", t.rec.ID, typ)
}

// tableRuleOf returns the table's rule of type typ, or NotFound.
func tableRuleOf(t *configuredTable, typ api.ConfiguredTableAnalysisRuleType) (*tableRule, error) {
	if r := t.data.Rule; r != nil && r.Type == typ {
		return r, nil
	}
	return nil, noTableRule(t, typ)
}

func (s *Service) tableRuleView(t *configuredTable) *api.ConfiguredTableAnalysisRule {
	r := t.data.Rule
	policy := r.Policy
	return &api.ConfiguredTableAnalysisRule{
		ConfiguredTableId:  t.rec.ID,
		ConfiguredTableArn: s.configuredTableARN(t.rec.Account, t.rec.ID),
		Policy:             &policy,
		Type:               r.Type,
		CreateTime:         ts(r.CreateTime),
		UpdateTime:         ts(r.UpdateTime),
	}
}

func (s *Service) CreateConfiguredTableAnalysisRule(ctx context.Context, in *api.CreateConfiguredTableAnalysisRuleInput) (*api.CreateConfiguredTableAnalysisRuleOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkRuleShape(in.AnalysisRuleType, in.AnalysisRulePolicy, true); err != nil {
		return nil, err
	}
	var out *api.ConfiguredTableAnalysisRule
	err = s.store.Update(ctx, func(tx store.Tx) error {
		t, err := ownConfiguredTable(ctx, tx, in.ConfiguredTableIdentifier, account)
		if err != nil {
			return err
		}
		if r := t.data.Rule; r != nil {
			return fault.Conflicting(string(api.ConflictExceptionReasonAlreadyExists), string(api.ResourceTypeConfiguredTable), t.rec.ID,
				"Configured table %s already has a %s analysis rule; a configured table has at most one", t.rec.ID, r.Type)
		}
		if err := checkTableRule(in.AnalysisRuleType, in.AnalysisRulePolicy, t.data.AllowedColumns, true); err != nil {
			return err
		}
		now := s.timestamp()
		t.data.Rule = &tableRule{Type: in.AnalysisRuleType, Policy: *in.AnalysisRulePolicy, CreateTime: now, UpdateTime: now}
		if err := t.save(ctx, tx, now); err != nil {
			return err
		}
		out = s.tableRuleView(t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.CreateConfiguredTableAnalysisRuleOutput{AnalysisRule: out}, nil
}

func (s *Service) GetConfiguredTableAnalysisRule(ctx context.Context, in *api.GetConfiguredTableAnalysisRuleInput) (*api.GetConfiguredTableAnalysisRuleOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *api.ConfiguredTableAnalysisRule
	err = s.store.View(ctx, func(tx store.Tx) error {
		t, err := ownConfiguredTable(ctx, tx, in.ConfiguredTableIdentifier, account)
		if err != nil {
			return err
		}
		if _, err := tableRuleOf(t, in.AnalysisRuleType); err != nil {
			return err
		}
		out = s.tableRuleView(t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.GetConfiguredTableAnalysisRuleOutput{AnalysisRule: out}, nil
}

func (s *Service) UpdateConfiguredTableAnalysisRule(ctx context.Context, in *api.UpdateConfiguredTableAnalysisRuleInput) (*api.UpdateConfiguredTableAnalysisRuleOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *api.ConfiguredTableAnalysisRule
	err = s.store.Update(ctx, func(tx store.Tx) error {
		t, err := ownConfiguredTable(ctx, tx, in.ConfiguredTableIdentifier, account)
		if err != nil {
			return err
		}
		r, err := tableRuleOf(t, in.AnalysisRuleType)
		if err != nil {
			return err
		}
		if err := checkTableRule(in.AnalysisRuleType, in.AnalysisRulePolicy, t.data.AllowedColumns, false); err != nil {
			return err
		}
		now := s.timestamp()
		r.Policy, r.UpdateTime = *in.AnalysisRulePolicy, now
		if err := t.save(ctx, tx, now); err != nil {
			return err
		}
		out = s.tableRuleView(t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.UpdateConfiguredTableAnalysisRuleOutput{AnalysisRule: out}, nil
}

// DeleteConfiguredTableAnalysisRule deletes the rule even while the table
// is associated: the table stays in its collaborations but can't be queried
// (its schemas show ANALYSIS_RULE_MISSING). Association analysis rules are
// kept; they apply again once a rule of their type is created.
func (s *Service) DeleteConfiguredTableAnalysisRule(ctx context.Context, in *api.DeleteConfiguredTableAnalysisRuleInput) (*api.DeleteConfiguredTableAnalysisRuleOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		t, err := ownConfiguredTable(ctx, tx, in.ConfiguredTableIdentifier, account)
		if err != nil {
			return err
		}
		if _, err := tableRuleOf(t, in.AnalysisRuleType); err != nil {
			return err
		}
		t.data.Rule = nil
		return t.save(ctx, tx, s.timestamp())
	})
	if err != nil {
		return nil, err
	}
	return &api.DeleteConfiguredTableAnalysisRuleOutput{}, nil
}
