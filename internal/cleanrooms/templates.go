package cleanrooms

import (
	"context"
	"fmt"
	"sort"
	"strings"

	api "github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
)

// Analysis templates: SQL queries with :name parameters that the member who
// can query writes once for others to allow in their custom analysis rules.
// They belong to a membership and are visible, read-only, to every member
// of the collaboration while their creator is an ACTIVE member.

func noTemplate(id string) *fault.Error {
	return fault.Missing("", id, "Analysis template %s does not exist", id)
}

// memberTemplate returns the template id of membership ms.
func memberTemplate(ctx context.Context, tx store.Tx, ms *membership, id string) (*analysisTemplate, error) {
	rec, err := tx.Get(ctx, kindAnalysisTemplate, id)
	if isNotFound(err) || (err == nil && (rec.Parent != ms.rec.Parent || rec.Account != ms.rec.Account)) {
		return nil, noTemplate(id)
	}
	if err != nil {
		return nil, err
	}
	return analysisTemplateOf(rec)
}

// templateSource is a template's checked SQL.
type templateSource struct {
	text   string
	params []api.AnalysisParameter
	tables []string // referenced tables as the SQL names them
}

// checkTemplateInput applies every rule that needs no stored state: SQL
// only, parameters declared exactly as the SQL uses them with defaults of
// their types, and the referenced tables the SQL analyzer finds.
func (s *Service) checkTemplateInput(ctx context.Context, in *api.CreateAnalysisTemplateInput) (*templateSource, error) {
	if in.Format != api.AnalysisFormatSql {
		return nil, invalid("format", "Analysis templates of format %s define PySpark jobs, which cleanroomsd does not support; use SQL", in.Format)
	}
	switch {
	case in.Source == nil:
		return nil, invalid("source", "source is required")
	case in.Source.Artifacts != nil:
		return nil, invalid("source.artifacts", "Artifacts define PySpark jobs, which cleanroomsd does not support; give the SQL in source.text")
	case in.Source.Text == nil || strings.TrimSpace(*in.Source.Text) == "":
		return nil, invalid("source.text", "source.text is required for SQL analysis templates")
	}
	if in.SyntheticDataParameters != nil {
		return nil, invalid("syntheticDataParameters", "Synthetic data generation (AWS Clean Rooms ML) is not supported by cleanroomsd")
	}
	text := *in.Source.Text

	declared := map[string]int{}
	for i, p := range in.AnalysisParameters {
		field := fmt.Sprintf("analysisParameters[%d]", i)
		key := strings.ToLower(p.Name)
		if _, dup := declared[key]; dup {
			return nil, invalid(field+".name", "Parameter %s is declared more than once", p.Name)
		}
		declared[key] = i
		if p.DefaultValue != nil {
			if err := checkParameterValue(p.Type, *p.DefaultValue); err != nil {
				return nil, invalid(field+".defaultValue", "The default value of parameter %s is not a %s: %v", p.Name, p.Type, err)
			}
		}
	}
	if s.sql == nil {
		return nil, fault.Unimplemented("analysis templates without a query engine")
	}
	analysis, err := s.sql.Analyze(ctx, text)
	if err != nil {
		return nil, queryError(err)
	}
	usedSet := map[string]bool{}
	for _, name := range analysis.Parameters {
		usedSet[strings.ToLower(name)] = true
		if _, ok := declared[strings.ToLower(name)]; !ok {
			return nil, invalid("analysisParameters", "The SQL uses parameter :%s, which analysisParameters doesn't declare", name)
		}
	}
	for i, p := range in.AnalysisParameters {
		if !usedSet[strings.ToLower(p.Name)] {
			return nil, invalid(fmt.Sprintf("analysisParameters[%d].name", i), "Parameter %s is declared but the SQL never uses :%s", p.Name, p.Name)
		}
	}

	tables := analysis.Tables
	if len(tables) == 0 {
		return nil, invalid("source.text", "The analysis template's SQL references no table of the collaboration")
	}
	if in.Schema != nil && len(in.Schema.ReferencedTables) > 0 {
		if missing, extra := diffNames(tables, in.Schema.ReferencedTables); len(missing)+len(extra) > 0 {
			return nil, invalid("schema.referencedTables", "schema.referencedTables must list the tables the SQL references (%s); missing: [%s], not referenced: [%s]",
				strings.Join(tables, ", "), strings.Join(missing, ", "), strings.Join(extra, ", "))
		}
	}
	return &templateSource{text: text, params: in.AnalysisParameters, tables: tables}, nil
}

// diffNames compares two name lists without case: the names of want
// missing from got, and those of got not in want.
func diffNames(want, got []string) (missing, extra []string) {
	in := func(list []string, n string) bool {
		for _, x := range list {
			if strings.EqualFold(x, n) {
				return true
			}
		}
		return false
	}
	for _, n := range want {
		if !in(got, n) {
			missing = append(missing, n)
		}
	}
	for _, n := range got {
		if !in(want, n) {
			extra = append(extra, n)
		}
	}
	return missing, extra
}

// templateValidations reports the differential privacy validation that AWS
// runs when a template references a table with differential privacy; cleanroomsd
// does not run it yet, so it says so.
func templateValidations(dp bool) []api.AnalysisTemplateValidationStatusDetail {
	if !dp {
		return nil
	}
	return []api.AnalysisTemplateValidationStatusDetail{{
		Type:   api.AnalysisTemplateValidationTypeDifferentialPrivacy,
		Status: api.AnalysisTemplateValidationStatusUnableToValidate,
		Reasons: []api.AnalysisTemplateValidationStatusReason{{
			Message: "cleanroomsd does not validate analysis templates against differential privacy yet"}},
	}}
}

func (s *Service) CreateAnalysisTemplate(ctx context.Context, in *api.CreateAnalysisTemplateInput) (*api.CreateAnalysisTemplateOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkTags("tags", in.Tags); err != nil {
		return nil, err
	}
	src, err := s.checkTemplateInput(ctx, in)
	if err != nil {
		return nil, err
	}
	var out *api.AnalysisTemplate
	err = s.store.Update(ctx, func(tx store.Tx) error {
		ms, err := activeMembership(ctx, tx, in.MembershipIdentifier, account)
		if err != nil {
			return err
		}
		c, err := getCollaboration(ctx, tx, ms.rec.Parent)
		if err != nil {
			return err
		}
		v, err := loadCollabView(ctx, tx, c)
		if err != nil {
			return err
		}
		if m := v.members[account]; m == nil || !m.can(api.MemberAbilityCanQuery) {
			return &fault.Error{Kind: fault.AccessDenied, Reason: string(api.AccessDeniedExceptionReasonInsufficientPermissions),
				Message: fmt.Sprintf("Only the member who can query (CAN_QUERY) can create analysis templates in collaboration %s", c.rec.ID)}
		}
		if n, err := tx.Count(ctx, kindAnalysisTemplate, store.Filter{Parent: c.rec.ID, Account: account}); err != nil {
			return err
		} else if q := s.quotas.AnalysisTemplatesPerMembership; n >= q {
			return fault.Quota(quotaTemplates, float64(q))
		}
		refs := make([]string, 0, len(src.tables))
		dp := false
		for _, name := range src.tables {
			sc, err := findSchema(ctx, tx, v, name)
			if isNotFound(err) {
				return invalid("source.text", "The SQL references table %s, which is not a table of collaboration %s", name, c.rec.ID)
			}
			if err != nil {
				return err
			}
			refs = append(refs, sc.a.data.Name)
			if r := sc.t.data.Rule; r != nil && r.Policy.V1.Custom != nil && r.Policy.V1.Custom.DifferentialPrivacy != nil {
				dp = true
			}
		}
		now := s.timestamp()
		t := &analysisTemplate{
			rec: &store.Record{Kind: kindAnalysisTemplate, ID: s.newID(), Parent: c.rec.ID, Account: account, CreateTime: now, UpdateTime: now},
			data: analysisTemplateData{
				MembershipID: ms.rec.ID, Name: in.Name, Description: in.Description, Format: in.Format, Text: src.text,
				Parameters: src.params, ReferencedTables: refs, ErrorMessageConfiguration: in.ErrorMessageConfiguration,
				DifferentialPrivacy: dp,
			},
		}
		t.rec.Data = encode(t.data)
		if err := tx.Insert(ctx, t.rec); err != nil {
			return err
		}
		if err := putTags(ctx, tx, s.analysisTemplateARN(account, ms.rec.ID, t.rec.ID), account, in.Tags); err != nil {
			return err
		}
		out = s.templateView(c, t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.CreateAnalysisTemplateOutput{AnalysisTemplate: out}, nil
}

func (s *Service) templateView(c *collaboration, t *analysisTemplate) *api.AnalysisTemplate {
	v := s.collaborationTemplateView(c, t)
	return &api.AnalysisTemplate{
		Id: v.Id, Arn: v.Arn, CollaborationId: v.CollaborationId, CollaborationArn: v.CollaborationArn,
		MembershipId: t.data.MembershipID, MembershipArn: s.membershipARN(t.rec.Account, t.data.MembershipID),
		Description: v.Description, Name: v.Name, CreateTime: v.CreateTime, UpdateTime: v.UpdateTime, Schema: v.Schema,
		Format: v.Format, Source: v.Source, AnalysisParameters: v.AnalysisParameters, Validations: v.Validations,
		ErrorMessageConfiguration: v.ErrorMessageConfiguration,
	}
}

func (s *Service) collaborationTemplateView(c *collaboration, t *analysisTemplate) *api.CollaborationAnalysisTemplate {
	d := &t.data
	text := d.Text
	return &api.CollaborationAnalysisTemplate{
		Id:                        t.rec.ID,
		Arn:                       s.analysisTemplateARN(t.rec.Account, d.MembershipID, t.rec.ID),
		CollaborationId:           c.rec.ID,
		CollaborationArn:          s.collaborationARN(c.rec.Account, c.rec.ID),
		Description:               d.Description,
		CreatorAccountId:          t.rec.Account,
		Name:                      d.Name,
		CreateTime:                ts(t.rec.CreateTime),
		UpdateTime:                ts(t.rec.UpdateTime),
		Schema:                    &api.AnalysisSchema{ReferencedTables: nonNil(d.ReferencedTables)},
		Format:                    d.Format,
		Source:                    &api.AnalysisSource{Text: &text},
		AnalysisParameters:        d.Parameters,
		Validations:               templateValidations(d.DifferentialPrivacy),
		ErrorMessageConfiguration: d.ErrorMessageConfiguration,
	}
}

func (s *Service) GetAnalysisTemplate(ctx context.Context, in *api.GetAnalysisTemplateInput) (*api.GetAnalysisTemplateOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *api.AnalysisTemplate
	err = s.store.View(ctx, func(tx store.Tx) error {
		ms, err := ownMembership(ctx, tx, in.MembershipIdentifier, account)
		if err != nil {
			return err
		}
		t, err := memberTemplate(ctx, tx, ms, in.AnalysisTemplateIdentifier)
		if err != nil {
			return err
		}
		c, err := getCollaboration(ctx, tx, ms.rec.Parent)
		if err != nil {
			return err
		}
		out = s.templateView(c, t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.GetAnalysisTemplateOutput{AnalysisTemplate: out}, nil
}

func (s *Service) ListAnalysisTemplates(ctx context.Context, in *api.ListAnalysisTemplatesInput) (*api.ListAnalysisTemplatesOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	pg, err := readPage(in.NextToken, in.MaxResults, "ListAnalysisTemplates/"+in.MembershipIdentifier)
	if err != nil {
		return nil, err
	}
	out := &api.ListAnalysisTemplatesOutput{}
	err = s.store.View(ctx, func(tx store.Tx) error {
		out.AnalysisTemplateSummaries = []api.AnalysisTemplateSummary{}
		ms, err := ownMembership(ctx, tx, in.MembershipIdentifier, account)
		if err != nil {
			return err
		}
		c, err := getCollaboration(ctx, tx, ms.rec.Parent)
		if err != nil {
			return err
		}
		recs, err := tx.List(ctx, kindAnalysisTemplate, store.Filter{Parent: c.rec.ID, Account: account}, pg.Query())
		if err != nil {
			return err
		}
		recs, out.NextToken = pg.Next(recs)
		for _, rec := range recs {
			t, err := analysisTemplateOf(rec)
			if err != nil {
				return err
			}
			v := s.templateView(c, t)
			out.AnalysisTemplateSummaries = append(out.AnalysisTemplateSummaries, api.AnalysisTemplateSummary{
				Arn: v.Arn, CreateTime: v.CreateTime, Id: v.Id, Name: v.Name, UpdateTime: v.UpdateTime,
				MembershipArn: v.MembershipArn, MembershipId: v.MembershipId, CollaborationArn: v.CollaborationArn,
				CollaborationId: v.CollaborationId, Description: v.Description,
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateAnalysisTemplate changes a template's description, the only
// property the model lets change: the SQL others allowed can't. It works
// whatever the membership's status (the operation declares no
// ConflictException, and a description harms no one).
func (s *Service) UpdateAnalysisTemplate(ctx context.Context, in *api.UpdateAnalysisTemplateInput) (*api.UpdateAnalysisTemplateOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *api.AnalysisTemplate
	err = s.store.Update(ctx, func(tx store.Tx) error {
		ms, err := ownMembership(ctx, tx, in.MembershipIdentifier, account)
		if err != nil {
			return err
		}
		t, err := memberTemplate(ctx, tx, ms, in.AnalysisTemplateIdentifier)
		if err != nil {
			return err
		}
		if in.Description != nil {
			t.data.Description = in.Description
		}
		if err := t.save(ctx, tx, s.timestamp()); err != nil {
			return err
		}
		c, err := getCollaboration(ctx, tx, ms.rec.Parent)
		if err != nil {
			return err
		}
		out = s.templateView(c, t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.UpdateAnalysisTemplateOutput{AnalysisTemplate: out}, nil
}

// DeleteAnalysisTemplate works whatever the membership's status, so that a
// member can clean up before deleting its membership.
func (s *Service) DeleteAnalysisTemplate(ctx context.Context, in *api.DeleteAnalysisTemplateInput) (*api.DeleteAnalysisTemplateOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		ms, err := ownMembership(ctx, tx, in.MembershipIdentifier, account)
		if err != nil {
			return err
		}
		t, err := memberTemplate(ctx, tx, ms, in.AnalysisTemplateIdentifier)
		if err != nil {
			return err
		}
		if err := tx.Delete(ctx, kindAnalysisTemplate, t.rec.ID); err != nil {
			return err
		}
		return deleteTags(ctx, tx, s.analysisTemplateARN(account, ms.rec.ID, t.rec.ID))
	})
	if err != nil {
		return nil, err
	}
	return &api.DeleteAnalysisTemplateOutput{}, nil
}

// Collaboration views.

// collaborationTemplate returns the template named by arn in the
// collaboration of v, if its creator is an ACTIVE member; else NotFound.
func (s *Service) collaborationTemplate(ctx context.Context, tx store.Tx, v *collabView, arn string) (*analysisTemplate, error) {
	i := strings.LastIndex(arn, "/analysistemplate/")
	if i < 0 {
		return nil, noTemplate(arn)
	}
	rec, err := tx.Get(ctx, kindAnalysisTemplate, arn[i+len("/analysistemplate/"):])
	if isNotFound(err) {
		return nil, noTemplate(arn)
	}
	if err != nil {
		return nil, err
	}
	t, err := analysisTemplateOf(rec)
	if err != nil {
		return nil, err
	}
	if rec.Parent != v.c.rec.ID || !v.contributes(rec.Account) || s.analysisTemplateARN(rec.Account, t.data.MembershipID, rec.ID) != arn {
		return nil, noTemplate(arn)
	}
	return t, nil
}

func (s *Service) GetCollaborationAnalysisTemplate(ctx context.Context, in *api.GetCollaborationAnalysisTemplateInput) (*api.GetCollaborationAnalysisTemplateOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *api.CollaborationAnalysisTemplate
	err = s.store.View(ctx, func(tx store.Tx) error {
		v, err := readableCollaboration(ctx, tx, in.CollaborationIdentifier, account)
		if err != nil {
			return err
		}
		t, err := s.collaborationTemplate(ctx, tx, v, in.AnalysisTemplateArn)
		if err != nil {
			return err
		}
		out = s.collaborationTemplateView(v.c, t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.GetCollaborationAnalysisTemplateOutput{CollaborationAnalysisTemplate: out}, nil
}

func (s *Service) ListCollaborationAnalysisTemplates(ctx context.Context, in *api.ListCollaborationAnalysisTemplatesInput) (*api.ListCollaborationAnalysisTemplatesOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	pg, err := readPage(in.NextToken, in.MaxResults, "ListCollaborationAnalysisTemplates/"+in.CollaborationIdentifier)
	if err != nil {
		return nil, err
	}
	out := &api.ListCollaborationAnalysisTemplatesOutput{}
	err = s.store.View(ctx, func(tx store.Tx) error {
		out.CollaborationAnalysisTemplateSummaries = []api.CollaborationAnalysisTemplateSummary{}
		v, err := readableCollaboration(ctx, tx, in.CollaborationIdentifier, account)
		if err != nil {
			return err
		}
		recs, err := tx.List(ctx, kindAnalysisTemplate, store.Filter{Parent: v.c.rec.ID}, pg.Query())
		if err != nil {
			return err
		}
		recs, out.NextToken = pg.Next(recs)
		for _, rec := range recs {
			if !v.contributes(rec.Account) {
				continue
			}
			t, err := analysisTemplateOf(rec)
			if err != nil {
				return err
			}
			cv := s.collaborationTemplateView(v.c, t)
			out.CollaborationAnalysisTemplateSummaries = append(out.CollaborationAnalysisTemplateSummaries, api.CollaborationAnalysisTemplateSummary{
				Arn: cv.Arn, CreateTime: cv.CreateTime, Id: cv.Id, Name: cv.Name, UpdateTime: cv.UpdateTime,
				CollaborationArn: cv.CollaborationArn, CollaborationId: cv.CollaborationId, CreatorAccountId: cv.CreatorAccountId,
				Description: cv.Description,
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) BatchGetCollaborationAnalysisTemplate(ctx context.Context, in *api.BatchGetCollaborationAnalysisTemplateInput) (*api.BatchGetCollaborationAnalysisTemplateOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	out := &api.BatchGetCollaborationAnalysisTemplateOutput{}
	err = s.store.View(ctx, func(tx store.Tx) error {
		out.CollaborationAnalysisTemplates = []api.CollaborationAnalysisTemplate{}
		out.Errors = []api.BatchGetCollaborationAnalysisTemplateError{}
		v, err := readableCollaboration(ctx, tx, in.CollaborationIdentifier, account)
		if err != nil {
			return err
		}
		for _, arn := range in.AnalysisTemplateArns {
			t, err := s.collaborationTemplate(ctx, tx, v, arn)
			if isNotFound(err) {
				out.Errors = append(out.Errors, api.BatchGetCollaborationAnalysisTemplateError{Arn: arn, Code: errNotFoundCode, Message: fault.As(err).Message})
				continue
			}
			if err != nil {
				return err
			}
			out.CollaborationAnalysisTemplates = append(out.CollaborationAnalysisTemplates, *s.collaborationTemplateView(v.c, t))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// sortedKeys returns a map's keys in order, for stable messages.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
