package cleanrooms

import (
	"context"

	api "github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
)

// ListMembers lists every member of a collaboration, the creator included,
// whatever their status.
func (s *Service) ListMembers(ctx context.Context, in *api.ListMembersInput) (*api.ListMembersOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	id := in.CollaborationIdentifier
	pg, err := readPage(in.NextToken, in.MaxResults, "ListMembers/"+id)
	if err != nil {
		return nil, err
	}
	out := &api.ListMembersOutput{}
	err = s.store.View(ctx, func(tx store.Tx) error {
		out.MemberSummaries = []api.MemberSummary{}
		if _, _, err := visibleCollaboration(ctx, tx, id, account); err != nil {
			return err
		}
		recs, err := tx.List(ctx, kindMember, store.Filter{Parent: id}, pg.Query())
		if err != nil {
			return err
		}
		recs, out.NextToken = pg.Next(recs)
		for _, rec := range recs {
			m, err := memberOf(rec)
			if err != nil {
				return err
			}
			out.MemberSummaries = append(out.MemberSummaries, s.memberSummary(m))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) memberSummary(m *member) api.MemberSummary {
	payment := m.data.Payment
	sum := api.MemberSummary{
		AccountId:            m.rec.Account,
		Status:               m.status(),
		DisplayName:          m.data.DisplayName,
		Abilities:            nonNil(m.data.Abilities),
		MlAbilities:          m.data.MLAbilities,
		CreateTime:           ts(m.rec.CreateTime),
		UpdateTime:           ts(m.rec.UpdateTime),
		PaymentConfiguration: &payment,
	}
	if m.status() == api.MemberStatusActive && m.data.MembershipID != "" {
		sum.MembershipId = ptr(m.data.MembershipID)
		sum.MembershipArn = ptr(s.membershipARN(m.rec.Account, m.data.MembershipID))
	}
	return sum
}

// DeleteMember removes a member from a collaboration. Only the creator may,
// and never itself. The member's status becomes REMOVED and so does its
// membership, which it can still read but no longer use. Its configured
// table associations and analysis templates stay its own, for it to delete
// before its membership, but leave the collaboration's schema and template
// views at once (see associations.go).
func (s *Service) DeleteMember(ctx context.Context, in *api.DeleteMemberInput) (*api.DeleteMemberOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		// Who may call comes first: anyone but the creator is denied, whatever
		// account they name.
		c, err := ownedCollaboration(ctx, tx, in.CollaborationIdentifier, account, "DeleteMember")
		if err != nil {
			return err
		}
		if in.AccountId == account {
			return invalid("accountId", "The collaboration creator can't remove its own account")
		}
		m, err := getMember(ctx, tx, c.rec.ID, in.AccountId)
		if isNotFound(err) {
			return fault.Missing(string(api.ResourceTypeCollaboration), in.CollaborationIdentifier,
				"Account %s is not a member of collaboration %s", in.AccountId, c.rec.ID)
		}
		if err != nil {
			return err
		}
		switch m.status() {
		case api.MemberStatusRemoved, api.MemberStatusLeft:
			return fault.Conflicting(string(api.ConflictExceptionReasonInvalidState), string(api.ResourceTypeCollaboration), c.rec.ID,
				"Account %s is no longer a member of collaboration %s (%s)", in.AccountId, c.rec.ID, m.status())
		}
		now := s.timestamp()
		m.rec.Status = string(api.MemberStatusRemoved)
		if err := m.save(ctx, tx, now); err != nil {
			return err
		}
		if m.data.MembershipID == "" {
			return nil
		}
		ms, err := getMembership(ctx, tx, m.data.MembershipID)
		if err != nil {
			return err
		}
		ms.rec.Status = string(api.MembershipStatusRemoved)
		return ms.save(ctx, tx, now)
	})
	if err != nil {
		return nil, err
	}
	return &api.DeleteMemberOutput{}, nil
}
