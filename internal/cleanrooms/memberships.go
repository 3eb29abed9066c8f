package cleanrooms

import (
	"context"

	api "github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
)

// membershipSubresourceKinds are the record kinds a membership owns
// (Parent = membership ID). DeleteMembership refuses while any exist; the
// data-plane resources register here as they are implemented.
var membershipSubresourceKinds = []string{}

// memberSubresourceKinds are the record kinds a membership owns that are
// filed under the collaboration instead (Parent = collaboration ID, Account
// = the member), so that collaboration-wide views can list them; an account
// has at most one membership per collaboration, ever, so the pair names the
// membership. DeleteMembership refuses while any exist.
var memberSubresourceKinds = []string{kindAssociation, kindAnalysisTemplate}

// subresourceCount returns how many resources of kind the membership owns.
func subresourceCount(ctx context.Context, tx store.Tx, ms *membership, kind string) (int, error) {
	for _, k := range memberSubresourceKinds {
		if k == kind {
			return tx.Count(ctx, kind, store.Filter{Parent: ms.rec.Parent, Account: ms.rec.Account})
		}
	}
	return tx.Count(ctx, kind, store.Filter{Parent: ms.rec.ID})
}

func noMembership(id string) *fault.Error {
	return fault.Missing(string(api.ResourceTypeMembership), id, "Membership %s does not exist", id)
}

// ownMembership returns the caller's membership id. A membership of another
// account is as invisible as one that does not exist.
func ownMembership(ctx context.Context, tx store.Tx, id, account string) (*membership, error) {
	m, err := getMembership(ctx, tx, id)
	if isNotFound(err) || (err == nil && m.rec.Account != account) {
		return nil, noMembership(id)
	}
	return m, err
}

func (s *Service) CreateMembership(ctx context.Context, in *api.CreateMembershipInput) (*api.CreateMembershipOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkTags("tags", in.Tags); err != nil {
		return nil, err
	}
	collabID := in.CollaborationIdentifier
	var out *api.Membership
	err = s.store.Update(ctx, func(tx store.Tx) error {
		c, m, err := visibleCollaboration(ctx, tx, collabID, account)
		if err != nil {
			return err
		}
		if m.status() == api.MemberStatusActive {
			return fault.Conflicting(string(api.ConflictExceptionReasonAlreadyExists), string(api.ResourceTypeMembership), m.data.MembershipID,
				"Account %s already has membership %s in collaboration %s", account, m.data.MembershipID, collabID)
		}
		if n, err := tx.Count(ctx, kindMembership, store.Filter{Account: account, Statuses: []string{string(api.MembershipStatusActive)}}); err != nil {
			return err
		} else if q := s.quotas.MembershipsPerAccount; n >= q {
			return fault.Quota(quotaMemberships, float64(q))
		}
		data := membershipData{
			QueryLogStatus:                in.QueryLogStatus,
			JobLogStatus:                  api.MembershipJobLogStatusDisabled,
			DefaultResultConfiguration:    in.DefaultResultConfiguration,
			DefaultJobResultConfiguration: in.DefaultJobResultConfiguration,
			IsMetricsEnabled:              in.IsMetricsEnabled,

			CollaborationName:               c.data.Name,
			CollaborationCreatorAccountID:   c.rec.Account,
			CollaborationCreatorDisplayName: c.data.CreatorDisplayName,
			Abilities:                       m.data.Abilities,
			MLAbilities:                     m.data.MLAbilities,
		}
		if in.JobLogStatus != nil {
			data.JobLogStatus = *in.JobLogStatus
		}
		if err := checkMembershipSettings(c, m, &data); err != nil {
			return err
		}
		if data.Payment, err = membershipPayment(m, in.PaymentConfiguration); err != nil {
			return err
		}
		now := s.timestamp()
		ms := &membership{
			rec: &store.Record{Kind: kindMembership, ID: s.newID(), Parent: collabID, Account: account,
				Status: string(api.MembershipStatusActive), UniqueKey: memberID(collabID, account), CreateTime: now, UpdateTime: now},
			data: data,
		}
		ms.rec.Data = encode(ms.data)
		if err := tx.Insert(ctx, ms.rec); err != nil {
			if fault.KindOf(err) == fault.Conflict {
				// A racing join committed first; name its membership.
				id := ""
				if other, gerr := tx.GetByUniqueKey(ctx, kindMembership, memberID(collabID, account)); gerr == nil {
					id = other.ID
				}
				return fault.Conflicting(string(api.ConflictExceptionReasonAlreadyExists), string(api.ResourceTypeMembership), id,
					"Account %s already has a membership in collaboration %s", account, collabID)
			}
			return err
		}
		m.rec.Status = string(api.MemberStatusActive)
		m.data.MembershipID = ms.rec.ID
		if err := m.save(ctx, tx, now); err != nil {
			return err
		}
		if err := putTags(ctx, tx, s.membershipARN(account, ms.rec.ID), account, in.Tags); err != nil {
			return err
		}
		out = s.membershipView(ms)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.ensureQueryLogStream(ctx, account, out)
	return &api.CreateMembershipOutput{Membership: out}, nil
}

// checkMembershipSettings applies the rules that tie a membership's settings
// to the collaboration and the member's abilities.
func checkMembershipSettings(c *collaboration, m *member, d *membershipData) error {
	if d.QueryLogStatus == api.MembershipQueryLogStatusEnabled && c.data.QueryLogStatus != api.CollaborationQueryLogStatusEnabled {
		return invalid("queryLogStatus", "Query logging can't be enabled for a membership when the collaboration's queryLogStatus is DISABLED")
	}
	if d.JobLogStatus == api.MembershipJobLogStatusEnabled && c.data.JobLogStatus != api.CollaborationJobLogStatusEnabled {
		return invalid("jobLogStatus", "Job logging can't be enabled for a membership when the collaboration's jobLogStatus is DISABLED")
	}
	if d.DefaultResultConfiguration != nil && !m.can(api.MemberAbilityCanReceiveResults) {
		return invalid("defaultResultConfiguration", "Only a member with the CAN_RECEIVE_RESULTS ability can set defaultResultConfiguration")
	}
	if d.DefaultJobResultConfiguration != nil && !m.can(api.MemberAbilityCanReceiveResults) {
		return invalid("defaultJobResultConfiguration", "Only a member with the CAN_RECEIVE_RESULTS ability can set defaultJobResultConfiguration")
	}
	return nil
}

// membershipPayment checks the member's acceptance of the payment
// responsibilities the creator configured and returns the membership's
// payment configuration. A member that pays for query compute must accept
// (isResponsible true); one that does not must not claim to. The
// configuration may be omitted by a member that can query, or that pays for
// nothing, and is then filled in from the collaboration.
func membershipPayment(m *member, in *api.MembershipPaymentConfiguration) (api.MembershipPaymentConfiguration, error) {
	cfg := m.data.Payment
	responsible := func(p *bool) bool { return p != nil && *p }
	paysQuery := cfg.QueryCompute != nil && responsible(cfg.QueryCompute.IsResponsible)
	out := api.MembershipPaymentConfiguration{QueryCompute: &api.MembershipQueryComputePaymentConfig{IsResponsible: ptr(paysQuery)}}
	if cfg.JobCompute != nil {
		out.JobCompute = &api.MembershipJobComputePaymentConfig{IsResponsible: ptr(responsible(cfg.JobCompute.IsResponsible))}
	}
	if ml := cfg.MachineLearning; ml != nil {
		out.MachineLearning = &api.MembershipMLPaymentConfig{}
		if ml.ModelTraining != nil {
			out.MachineLearning.ModelTraining = &api.MembershipModelTrainingPaymentConfig{IsResponsible: ptr(responsible(ml.ModelTraining.IsResponsible))}
		}
		if ml.ModelInference != nil {
			out.MachineLearning.ModelInference = &api.MembershipModelInferencePaymentConfig{IsResponsible: ptr(responsible(ml.ModelInference.IsResponsible))}
		}
		if ml.SyntheticDataGeneration != nil {
			out.MachineLearning.SyntheticDataGeneration = &api.MembershipSyntheticDataGenerationPaymentConfig{IsResponsible: ptr(responsible(ml.SyntheticDataGeneration.IsResponsible))}
		}
	}
	if in == nil {
		if paysQuery && !m.can(api.MemberAbilityCanQuery) {
			return out, invalid("paymentConfiguration", "This member is configured to pay for query compute and doesn't have the CAN_QUERY ability, so paymentConfiguration is required")
		}
		return out, nil
	}
	check := func(field string, want bool, got *bool) error {
		if got == nil {
			return nil
		}
		switch {
		case *got && !want:
			return invalid(field, "isResponsible is TRUE but the collaboration creator did not configure this member to pay")
		case !*got && want:
			return invalid(field, "isResponsible is FALSE but the collaboration creator configured this member to pay")
		}
		return nil
	}
	if in.QueryCompute != nil {
		if err := check("paymentConfiguration.queryCompute.isResponsible", paysQuery, in.QueryCompute.IsResponsible); err != nil {
			return out, err
		}
	}
	if in.JobCompute != nil {
		want := out.JobCompute != nil && *out.JobCompute.IsResponsible
		if err := check("paymentConfiguration.jobCompute.isResponsible", want, in.JobCompute.IsResponsible); err != nil {
			return out, err
		}
	}
	if ml := in.MachineLearning; ml != nil {
		have := out.MachineLearning
		if have == nil {
			have = &api.MembershipMLPaymentConfig{}
		}
		if ml.ModelTraining != nil {
			want := have.ModelTraining != nil && *have.ModelTraining.IsResponsible
			if err := check("paymentConfiguration.machineLearning.modelTraining.isResponsible", want, ml.ModelTraining.IsResponsible); err != nil {
				return out, err
			}
		}
		if ml.ModelInference != nil {
			want := have.ModelInference != nil && *have.ModelInference.IsResponsible
			if err := check("paymentConfiguration.machineLearning.modelInference.isResponsible", want, ml.ModelInference.IsResponsible); err != nil {
				return out, err
			}
		}
		if ml.SyntheticDataGeneration != nil {
			want := have.SyntheticDataGeneration != nil && *have.SyntheticDataGeneration.IsResponsible
			if err := check("paymentConfiguration.machineLearning.syntheticDataGeneration.isResponsible", want, ml.SyntheticDataGeneration.IsResponsible); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

func (s *Service) membershipView(ms *membership) *api.Membership {
	d := &ms.data
	return &api.Membership{
		Id:                              ms.rec.ID,
		Arn:                             s.membershipARN(ms.rec.Account, ms.rec.ID),
		CollaborationArn:                s.collaborationARN(d.CollaborationCreatorAccountID, ms.rec.Parent),
		CollaborationId:                 ms.rec.Parent,
		CollaborationCreatorAccountId:   d.CollaborationCreatorAccountID,
		CollaborationCreatorDisplayName: d.CollaborationCreatorDisplayName,
		CollaborationName:               d.CollaborationName,
		CreateTime:                      ts(ms.rec.CreateTime),
		UpdateTime:                      ts(ms.rec.UpdateTime),
		Status:                          api.MembershipStatus(ms.rec.Status),
		MemberAbilities:                 nonNil(d.Abilities),
		MlMemberAbilities:               d.MLAbilities,
		QueryLogStatus:                  d.QueryLogStatus,
		JobLogStatus:                    ptr(d.JobLogStatus),
		DefaultResultConfiguration:      d.DefaultResultConfiguration,
		DefaultJobResultConfiguration:   d.DefaultJobResultConfiguration,
		PaymentConfiguration:            &d.Payment,
		IsMetricsEnabled:                d.IsMetricsEnabled,
	}
}

func (s *Service) GetMembership(ctx context.Context, in *api.GetMembershipInput) (*api.GetMembershipOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *api.Membership
	err = s.store.View(ctx, func(tx store.Tx) error {
		ms, err := ownMembership(ctx, tx, in.MembershipIdentifier, account)
		if err != nil {
			return err
		}
		out = s.membershipView(ms)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.GetMembershipOutput{Membership: out}, nil
}

func (s *Service) ListMemberships(ctx context.Context, in *api.ListMembershipsInput) (*api.ListMembershipsOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	pg, err := readPage(in.NextToken, in.MaxResults, "ListMemberships")
	if err != nil {
		return nil, err
	}
	f := store.Filter{Account: account}
	if in.Status != nil {
		f.Statuses = []string{string(*in.Status)}
	}
	out := &api.ListMembershipsOutput{}
	err = s.store.View(ctx, func(tx store.Tx) error {
		out.MembershipSummaries = []api.MembershipSummary{}
		recs, err := tx.List(ctx, kindMembership, f, pg.Query())
		if err != nil {
			return err
		}
		recs, out.NextToken = pg.Next(recs)
		for _, rec := range recs {
			ms, err := membershipOf(rec)
			if err != nil {
				return err
			}
			v := s.membershipView(ms)
			out.MembershipSummaries = append(out.MembershipSummaries, api.MembershipSummary{
				Id: v.Id, Arn: v.Arn, CollaborationArn: v.CollaborationArn, CollaborationId: v.CollaborationId,
				CollaborationCreatorAccountId: v.CollaborationCreatorAccountId, CollaborationCreatorDisplayName: v.CollaborationCreatorDisplayName,
				CollaborationName: v.CollaborationName, CreateTime: v.CreateTime, UpdateTime: v.UpdateTime, Status: v.Status,
				MemberAbilities: v.MemberAbilities, MlMemberAbilities: v.MlMemberAbilities, PaymentConfiguration: v.PaymentConfiguration,
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// activeMembership returns the caller's membership and fails with a
// Conflict unless it is ACTIVE: a removed membership, or one whose
// collaboration is deleted, can no longer change.
func activeMembership(ctx context.Context, tx store.Tx, id, account string) (*membership, error) {
	ms, err := ownMembership(ctx, tx, id, account)
	if err != nil {
		return nil, err
	}
	if ms.rec.Status != string(api.MembershipStatusActive) {
		return nil, fault.Conflicting(string(api.ConflictExceptionReasonInvalidState), string(api.ResourceTypeMembership), id,
			"Membership %s is %s", id, ms.rec.Status)
	}
	return ms, nil
}

func (s *Service) UpdateMembership(ctx context.Context, in *api.UpdateMembershipInput) (*api.UpdateMembershipOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *api.Membership
	err = s.store.Update(ctx, func(tx store.Tx) error {
		ms, err := activeMembership(ctx, tx, in.MembershipIdentifier, account)
		if err != nil {
			return err
		}
		c, err := getCollaboration(ctx, tx, ms.rec.Parent)
		if err != nil {
			return err
		}
		m, err := getMember(ctx, tx, ms.rec.Parent, account)
		if err != nil {
			return err
		}
		if in.QueryLogStatus != nil {
			ms.data.QueryLogStatus = *in.QueryLogStatus
		}
		if in.JobLogStatus != nil {
			ms.data.JobLogStatus = *in.JobLogStatus
		}
		if in.DefaultResultConfiguration != nil {
			ms.data.DefaultResultConfiguration = in.DefaultResultConfiguration
		}
		if in.DefaultJobResultConfiguration != nil {
			ms.data.DefaultJobResultConfiguration = in.DefaultJobResultConfiguration
		}
		if err := checkMembershipSettings(c, m, &ms.data); err != nil {
			return err
		}
		if err := ms.save(ctx, tx, s.timestamp()); err != nil {
			return err
		}
		out = s.membershipView(ms)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.ensureQueryLogStream(ctx, account, out)
	return &api.UpdateMembershipOutput{Membership: out}, nil
}

// DeleteMembership is how a member leaves a collaboration: the membership
// disappears from Get and List, the member shows as LEFT to the others, and
// the account can't join again. The creator can only leave by deleting the
// collaboration, and a membership that still owns resources can't be
// deleted. A REMOVED or COLLABORATION_DELETED membership is simply deleted.
func (s *Service) DeleteMembership(ctx context.Context, in *api.DeleteMembershipInput) (*api.DeleteMembershipOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		ms, err := ownMembership(ctx, tx, in.MembershipIdentifier, account)
		if err != nil {
			return err
		}
		for _, kind := range append(append([]string{}, membershipSubresourceKinds...), memberSubresourceKinds...) {
			n, err := subresourceCount(ctx, tx, ms, kind)
			if err != nil {
				return err
			}
			if n > 0 {
				return fault.Conflicting(string(api.ConflictExceptionReasonSubresourcesExist), string(api.ResourceTypeMembership), ms.rec.ID,
					"Membership %s still has %d %s resource(s); delete them first", ms.rec.ID, n, kind)
			}
		}
		// A removed membership, or one whose collaboration is gone, is only
		// cleaned up; an active one is left.
		if ms.rec.Status == string(api.MembershipStatusActive) {
			c, err := getCollaboration(ctx, tx, ms.rec.Parent)
			if err != nil {
				return err
			}
			if c.rec.Account == account {
				return fault.Conflicting(string(api.ConflictExceptionReasonInvalidState), string(api.ResourceTypeMembership), ms.rec.ID,
					"The collaboration creator can't leave collaboration %s; delete the collaboration instead", c.rec.ID)
			}
			m, err := getMember(ctx, tx, ms.rec.Parent, account)
			if err != nil {
				return err
			}
			m.rec.Status = string(api.MemberStatusLeft)
			if err := m.save(ctx, tx, s.timestamp()); err != nil {
				return err
			}
		}
		if err := tx.Delete(ctx, kindMembership, ms.rec.ID); err != nil {
			return err
		}
		return deleteTags(ctx, tx, s.membershipARN(account, ms.rec.ID))
	})
	if err != nil {
		return nil, err
	}
	return &api.DeleteMembershipOutput{}, nil
}
