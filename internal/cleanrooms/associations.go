package cleanrooms

import (
	"context"
	"fmt"
	"strings"

	api "github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
)

// Configured table associations link a member's configured table to a
// collaboration under a name: the table's name in the collaboration's SQL
// and its schema's name. They belong to the membership, which can't be
// deleted while it has any.
//
// Removing a member (DeleteMember) or deleting the collaboration leaves the
// member's associations in place: AWS says the member "continues to have
// access to their own data as part of their membership", and its membership
// can only be deleted once they are gone, so the owner can still read and
// delete them. Their schemas, though, leave the collaboration at once (a
// removed member's "datasets leave the collaboration"): schema views only
// show associations whose owner is an ACTIVE member, and a deleted
// collaboration is invisible altogether.

func noAssociation(id string) *fault.Error {
	return fault.Missing(string(api.ResourceTypeConfiguredTableAssociation), id, "Configured table association %s does not exist", id)
}

// memberAssociation returns the association id of membership ms.
func memberAssociation(ctx context.Context, tx store.Tx, ms *membership, id string) (*association, error) {
	a, err := getAssociation(ctx, tx, id)
	if isNotFound(err) || (err == nil && (a.rec.Parent != ms.rec.Parent || a.rec.Account != ms.rec.Account)) {
		return nil, noAssociation(id)
	}
	return a, err
}

func (s *Service) associationView(a *association) *api.ConfiguredTableAssociation {
	d := &a.data
	return &api.ConfiguredTableAssociation{
		Arn:                s.associationARN(a.rec.Account, d.MembershipID, a.rec.ID),
		Id:                 a.rec.ID,
		ConfiguredTableId:  d.ConfiguredTableID,
		ConfiguredTableArn: s.configuredTableARN(a.rec.Account, d.ConfiguredTableID),
		MembershipId:       d.MembershipID,
		MembershipArn:      s.membershipARN(a.rec.Account, d.MembershipID),
		RoleArn:            d.RoleArn,
		Name:               d.Name,
		Description:        d.Description,
		AnalysisRuleTypes:  a.ruleTypes(),
		CreateTime:         ts(a.rec.CreateTime),
		UpdateTime:         ts(a.rec.UpdateTime),
	}
}

func (a *association) ruleTypes() []api.ConfiguredTableAssociationAnalysisRuleType {
	if a.data.Rule == nil {
		return []api.ConfiguredTableAssociationAnalysisRuleType{}
	}
	return []api.ConfiguredTableAssociationAnalysisRuleType{a.data.Rule.Type}
}

func (s *Service) CreateConfiguredTableAssociation(ctx context.Context, in *api.CreateConfiguredTableAssociationInput) (*api.CreateConfiguredTableAssociationOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkTags("tags", in.Tags); err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.Name) == "" {
		return nil, invalid("name", "The association name is the table's name in the collaboration's SQL and can't be empty")
	}
	var out *api.ConfiguredTableAssociation
	err = s.store.Update(ctx, func(tx store.Tx) error {
		ms, err := activeMembership(ctx, tx, in.MembershipIdentifier, account)
		if err != nil {
			return err
		}
		t, err := ownConfiguredTable(ctx, tx, in.ConfiguredTableIdentifier, account)
		if err != nil {
			return err
		}
		for id, msID := range t.data.Associations {
			if msID == ms.rec.ID {
				return fault.Conflicting(string(api.ConflictExceptionReasonAlreadyExists), string(api.ResourceTypeConfiguredTableAssociation), id,
					"Configured table %s is already associated with membership %s (configured table association %s)", t.rec.ID, ms.rec.ID, id)
			}
		}
		key := associationKey(ms.rec.Parent, in.Name)
		if rec, err := tx.GetByUniqueKey(ctx, kindAssociation, key); err == nil {
			return fault.Conflicting(string(api.ConflictExceptionReasonAlreadyExists), string(api.ResourceTypeConfiguredTableAssociation), rec.ID,
				"A configured table named %q is already associated with collaboration %s; association names are table names in its SQL and must be unique", in.Name, ms.rec.Parent)
		} else if !isNotFound(err) {
			return err
		}
		now := s.timestamp()
		a := &association{
			rec: &store.Record{Kind: kindAssociation, ID: s.newID(), Parent: ms.rec.Parent, Account: account, UniqueKey: key,
				CreateTime: now, UpdateTime: now},
			data: associationData{MembershipID: ms.rec.ID, Name: in.Name, Description: in.Description,
				ConfiguredTableID: t.rec.ID, RoleArn: in.RoleArn},
		}
		a.rec.Data = encode(a.data)
		if err := tx.Insert(ctx, a.rec); err != nil {
			return err
		}
		if t.data.Associations == nil {
			t.data.Associations = map[string]string{}
		}
		t.data.Associations[a.rec.ID] = ms.rec.ID
		if err := t.saveQuietly(ctx, tx); err != nil {
			return err
		}
		if err := putTags(ctx, tx, s.associationARN(account, ms.rec.ID, a.rec.ID), account, in.Tags); err != nil {
			return err
		}
		out = s.associationView(a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.CreateConfiguredTableAssociationOutput{ConfiguredTableAssociation: out}, nil
}

func (s *Service) GetConfiguredTableAssociation(ctx context.Context, in *api.GetConfiguredTableAssociationInput) (*api.GetConfiguredTableAssociationOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *api.ConfiguredTableAssociation
	err = s.store.View(ctx, func(tx store.Tx) error {
		ms, err := ownMembership(ctx, tx, in.MembershipIdentifier, account)
		if err != nil {
			return err
		}
		a, err := memberAssociation(ctx, tx, ms, in.ConfiguredTableAssociationIdentifier)
		if err != nil {
			return err
		}
		out = s.associationView(a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.GetConfiguredTableAssociationOutput{ConfiguredTableAssociation: out}, nil
}

func (s *Service) ListConfiguredTableAssociations(ctx context.Context, in *api.ListConfiguredTableAssociationsInput) (*api.ListConfiguredTableAssociationsOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	pg, err := readPage(in.NextToken, in.MaxResults, "ListConfiguredTableAssociations/"+in.MembershipIdentifier)
	if err != nil {
		return nil, err
	}
	out := &api.ListConfiguredTableAssociationsOutput{}
	err = s.store.View(ctx, func(tx store.Tx) error {
		out.ConfiguredTableAssociationSummaries = []api.ConfiguredTableAssociationSummary{}
		ms, err := ownMembership(ctx, tx, in.MembershipIdentifier, account)
		if err != nil {
			return err
		}
		recs, err := tx.List(ctx, kindAssociation, store.Filter{Parent: ms.rec.Parent, Account: account}, pg.Query())
		if err != nil {
			return err
		}
		recs, out.NextToken = pg.Next(recs)
		for _, rec := range recs {
			a, err := associationOf(rec)
			if err != nil {
				return err
			}
			v := s.associationView(a)
			out.ConfiguredTableAssociationSummaries = append(out.ConfiguredTableAssociationSummaries, api.ConfiguredTableAssociationSummary{
				ConfiguredTableId: v.ConfiguredTableId, MembershipId: v.MembershipId, MembershipArn: v.MembershipArn, Name: v.Name,
				CreateTime: v.CreateTime, UpdateTime: v.UpdateTime, Id: v.Id, Arn: v.Arn, AnalysisRuleTypes: v.AnalysisRuleTypes,
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) UpdateConfiguredTableAssociation(ctx context.Context, in *api.UpdateConfiguredTableAssociationInput) (*api.UpdateConfiguredTableAssociationOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *api.ConfiguredTableAssociation
	err = s.store.Update(ctx, func(tx store.Tx) error {
		ms, err := activeMembership(ctx, tx, in.MembershipIdentifier, account)
		if err != nil {
			return err
		}
		a, err := memberAssociation(ctx, tx, ms, in.ConfiguredTableAssociationIdentifier)
		if err != nil {
			return err
		}
		if in.Description != nil {
			a.data.Description = in.Description
		}
		if in.RoleArn != nil {
			a.data.RoleArn = *in.RoleArn
		}
		if err := a.save(ctx, tx, s.timestamp()); err != nil {
			return err
		}
		out = s.associationView(a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.UpdateConfiguredTableAssociationOutput{ConfiguredTableAssociation: out}, nil
}

// DeleteConfiguredTableAssociation removes a table from a collaboration,
// with its collaboration analysis rule. It works whatever the membership's
// status, so that a removed member, or one whose collaboration is gone, can
// clean up before deleting its membership. Analysis templates that name the
// table are kept; they fail at query time, as on AWS.
func (s *Service) DeleteConfiguredTableAssociation(ctx context.Context, in *api.DeleteConfiguredTableAssociationInput) (*api.DeleteConfiguredTableAssociationOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		ms, err := ownMembership(ctx, tx, in.MembershipIdentifier, account)
		if err != nil {
			return err
		}
		a, err := memberAssociation(ctx, tx, ms, in.ConfiguredTableAssociationIdentifier)
		if err != nil {
			return err
		}
		if err := tx.Delete(ctx, kindAssociation, a.rec.ID); err != nil {
			return err
		}
		t, err := getConfiguredTable(ctx, tx, a.data.ConfiguredTableID)
		if err != nil && !isNotFound(err) {
			return err
		}
		if err == nil {
			delete(t.data.Associations, a.rec.ID)
			if err := t.saveQuietly(ctx, tx); err != nil {
				return err
			}
		}
		return deleteTags(ctx, tx, s.associationARN(account, ms.rec.ID, a.rec.ID))
	})
	if err != nil {
		return nil, err
	}
	return &api.DeleteConfiguredTableAssociationOutput{}, nil
}

// Association analysis rules ("collaboration analysis rules").

// associationRuleMember returns the member set in a v1 association policy
// and its two lists.
func associationRuleMember(p *api.ConfiguredTableAssociationAnalysisRulePolicy) (typ api.ConfiguredTableAssociationAnalysisRuleType, receivers, additional []string, ok bool) {
	if p == nil || p.V1 == nil {
		return "", nil, nil, false
	}
	switch v := p.V1; {
	case v.Aggregation != nil:
		return api.ConfiguredTableAssociationAnalysisRuleTypeAggregation, v.Aggregation.AllowedResultReceivers, v.Aggregation.AllowedAdditionalAnalyses, true
	case v.List != nil:
		return api.ConfiguredTableAssociationAnalysisRuleTypeList, v.List.AllowedResultReceivers, v.List.AllowedAdditionalAnalyses, true
	case v.Custom != nil:
		return api.ConfiguredTableAssociationAnalysisRuleTypeCustom, v.Custom.AllowedResultReceivers, v.Custom.AllowedAdditionalAnalyses, true
	}
	return "", nil, nil, false
}

// tableAdditionalAnalyses returns the table rule's additionalAnalyses
// setting, NOT_ALLOWED when unset.
func tableAdditionalAnalyses(r *tableRule) api.AdditionalAnalyses {
	var a *api.AdditionalAnalyses
	switch v := r.Policy.V1; {
	case v == nil:
	case v.Aggregation != nil:
		a = v.Aggregation.AdditionalAnalyses
	case v.List != nil:
		a = v.List.AdditionalAnalyses
	case v.Custom != nil:
		a = v.Custom.AdditionalAnalyses
	}
	if a == nil {
		return api.AdditionalAnalysesNotAllowed
	}
	return *a
}

// checkAssociationRule checks an association analysis rule: its type is the
// configured table's rule type, its result receivers are members of the
// collaboration who can receive results, and it allows additional analyses
// only when the table's rule does.
func checkAssociationRule(ctx context.Context, tx store.Tx, collabID string, t *configuredTable,
	typ api.ConfiguredTableAssociationAnalysisRuleType, p *api.ConfiguredTableAssociationAnalysisRulePolicy) error {
	member, receivers, additional, ok := associationRuleMember(p)
	if !ok {
		return invalid("analysisRulePolicy.v1", "The analysis rule policy must set one of v1.aggregation, v1.list or v1.custom")
	}
	if member != typ {
		return invalid("analysisRuleType", "analysisRuleType is %s but the policy is a v1.%s policy (%s)", typ, strings.ToLower(string(member)), member)
	}
	tr := t.data.Rule
	if tr == nil {
		return invalid("analysisRuleType", "Configured table %s has no analysis rule; add one before its collaboration analysis rule", t.rec.ID)
	}
	if string(tr.Type) != string(typ) {
		return invalid("analysisRuleType", "The collaboration analysis rule must have the configured table's analysis rule type, %s, not %s", tr.Type, typ)
	}
	base := "analysisRulePolicy.v1." + strings.ToLower(string(typ))
	seen := map[string]bool{}
	for i, acct := range receivers {
		field := fmt.Sprintf("%s.allowedResultReceivers[%d]", base, i)
		if seen[acct] {
			return invalid(field, "Result receiver %s is listed more than once", acct)
		}
		seen[acct] = true
		m, err := getMember(ctx, tx, collabID, acct)
		if isNotFound(err) {
			return invalid(field, "Result receiver %s is not a member of collaboration %s", acct, collabID)
		}
		if err != nil {
			return err
		}
		if st := m.status(); st != api.MemberStatusInvited && st != api.MemberStatusActive {
			return invalid(field, "Result receiver %s is no longer a member of collaboration %s (%s)", acct, collabID, st)
		}
		if !m.can(api.MemberAbilityCanReceiveResults) {
			return invalid(field, "Result receiver %s doesn't have the CAN_RECEIVE_RESULTS ability in collaboration %s", acct, collabID)
		}
	}
	if err := noDuplicates(base+".allowedAdditionalAnalyses", additional); err != nil {
		return err
	}
	if len(additional) > 0 {
		if a := tableAdditionalAnalyses(tr); a == api.AdditionalAnalysesNotAllowed {
			return invalid(base+".allowedAdditionalAnalyses",
				"The configured table's %s analysis rule doesn't allow additional analyses (additionalAnalyses is NOT_ALLOWED or unset), so allowedAdditionalAnalyses must be empty", tr.Type)
		}
	}
	return nil
}

func noAssociationRule(a *association, typ api.ConfiguredTableAssociationAnalysisRuleType) *fault.Error {
	return fault.Missing(string(api.ResourceTypeConfiguredTableAssociation), a.rec.ID,
		"Configured table association %s has no %s analysis rule", a.rec.ID, typ)
}

func associationRuleOf(a *association, typ api.ConfiguredTableAssociationAnalysisRuleType) (*associationRule, error) {
	if r := a.data.Rule; r != nil && r.Type == typ {
		return r, nil
	}
	return nil, noAssociationRule(a, typ)
}

func (s *Service) associationRuleView(a *association) *api.ConfiguredTableAssociationAnalysisRule {
	r := a.data.Rule
	policy := r.Policy
	return &api.ConfiguredTableAssociationAnalysisRule{
		MembershipIdentifier:          a.data.MembershipID,
		ConfiguredTableAssociationId:  a.rec.ID,
		ConfiguredTableAssociationArn: s.associationARN(a.rec.Account, a.data.MembershipID, a.rec.ID),
		Policy:                        &policy,
		Type:                          r.Type,
		CreateTime:                    ts(r.CreateTime),
		UpdateTime:                    ts(r.UpdateTime),
	}
}

// associationTable returns the configured table behind an association.
func associationTable(ctx context.Context, tx store.Tx, a *association) (*configuredTable, error) {
	t, err := getConfiguredTable(ctx, tx, a.data.ConfiguredTableID)
	if isNotFound(err) {
		return nil, fault.Newf(fault.Internal, "configured table %s of association %s is missing", a.data.ConfiguredTableID, a.rec.ID)
	}
	return t, err
}

func (s *Service) CreateConfiguredTableAssociationAnalysisRule(ctx context.Context, in *api.CreateConfiguredTableAssociationAnalysisRuleInput) (*api.CreateConfiguredTableAssociationAnalysisRuleOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *api.ConfiguredTableAssociationAnalysisRule
	err = s.store.Update(ctx, func(tx store.Tx) error {
		ms, err := activeMembership(ctx, tx, in.MembershipIdentifier, account)
		if err != nil {
			return err
		}
		a, err := memberAssociation(ctx, tx, ms, in.ConfiguredTableAssociationIdentifier)
		if err != nil {
			return err
		}
		if r := a.data.Rule; r != nil {
			return fault.Conflicting(string(api.ConflictExceptionReasonAlreadyExists), string(api.ResourceTypeConfiguredTableAssociation), a.rec.ID,
				"Configured table association %s already has a %s analysis rule", a.rec.ID, r.Type)
		}
		t, err := associationTable(ctx, tx, a)
		if err != nil {
			return err
		}
		if err := checkAssociationRule(ctx, tx, ms.rec.Parent, t, in.AnalysisRuleType, in.AnalysisRulePolicy); err != nil {
			return err
		}
		now := s.timestamp()
		a.data.Rule = &associationRule{Type: in.AnalysisRuleType, Policy: *in.AnalysisRulePolicy, CreateTime: now, UpdateTime: now}
		if err := a.save(ctx, tx, now); err != nil {
			return err
		}
		out = s.associationRuleView(a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.CreateConfiguredTableAssociationAnalysisRuleOutput{AnalysisRule: out}, nil
}

func (s *Service) GetConfiguredTableAssociationAnalysisRule(ctx context.Context, in *api.GetConfiguredTableAssociationAnalysisRuleInput) (*api.GetConfiguredTableAssociationAnalysisRuleOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *api.ConfiguredTableAssociationAnalysisRule
	err = s.store.View(ctx, func(tx store.Tx) error {
		ms, err := ownMembership(ctx, tx, in.MembershipIdentifier, account)
		if err != nil {
			return err
		}
		a, err := memberAssociation(ctx, tx, ms, in.ConfiguredTableAssociationIdentifier)
		if err != nil {
			return err
		}
		if _, err := associationRuleOf(a, in.AnalysisRuleType); err != nil {
			return err
		}
		out = s.associationRuleView(a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.GetConfiguredTableAssociationAnalysisRuleOutput{AnalysisRule: out}, nil
}

func (s *Service) UpdateConfiguredTableAssociationAnalysisRule(ctx context.Context, in *api.UpdateConfiguredTableAssociationAnalysisRuleInput) (*api.UpdateConfiguredTableAssociationAnalysisRuleOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *api.ConfiguredTableAssociationAnalysisRule
	err = s.store.Update(ctx, func(tx store.Tx) error {
		ms, err := activeMembership(ctx, tx, in.MembershipIdentifier, account)
		if err != nil {
			return err
		}
		a, err := memberAssociation(ctx, tx, ms, in.ConfiguredTableAssociationIdentifier)
		if err != nil {
			return err
		}
		r, err := associationRuleOf(a, in.AnalysisRuleType)
		if err != nil {
			return err
		}
		t, err := associationTable(ctx, tx, a)
		if err != nil {
			return err
		}
		if err := checkAssociationRule(ctx, tx, ms.rec.Parent, t, in.AnalysisRuleType, in.AnalysisRulePolicy); err != nil {
			return err
		}
		now := s.timestamp()
		r.Policy, r.UpdateTime = *in.AnalysisRulePolicy, now
		if err := a.save(ctx, tx, now); err != nil {
			return err
		}
		out = s.associationRuleView(a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.UpdateConfiguredTableAssociationAnalysisRuleOutput{AnalysisRule: out}, nil
}

func (s *Service) DeleteConfiguredTableAssociationAnalysisRule(ctx context.Context, in *api.DeleteConfiguredTableAssociationAnalysisRuleInput) (*api.DeleteConfiguredTableAssociationAnalysisRuleOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		ms, err := ownMembership(ctx, tx, in.MembershipIdentifier, account)
		if err != nil {
			return err
		}
		a, err := memberAssociation(ctx, tx, ms, in.ConfiguredTableAssociationIdentifier)
		if err != nil {
			return err
		}
		if _, err := associationRuleOf(a, in.AnalysisRuleType); err != nil {
			return err
		}
		a.data.Rule = nil
		return a.save(ctx, tx, s.timestamp())
	})
	if err != nil {
		return nil, err
	}
	return &api.DeleteConfiguredTableAssociationAnalysisRuleOutput{}, nil
}
