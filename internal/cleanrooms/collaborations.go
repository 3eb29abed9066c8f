package cleanrooms

import (
	"context"
	"fmt"

	api "github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
)

// invalid returns a ValidationException naming one bad field.
func invalid(field, format string, args ...any) *fault.Error {
	msg := fmt.Sprintf(format, args...)
	return fault.Invalid(string(api.ValidationExceptionReasonFieldValidationFailed), msg, fault.Field{Name: field, Message: msg})
}

// noCollaboration is AWS's answer for a collaboration that does not exist or
// that the caller may not see: AccessDenied, never NotFound, because
// collaborations are shared across accounts.
func noCollaboration(id string) *fault.Error {
	return &fault.Error{Kind: fault.AccessDenied, Reason: string(api.AccessDeniedExceptionReasonInsufficientPermissions),
		Message: fmt.Sprintf("Collaboration %s does not exist or the caller is not a member of it", id)}
}

// visibleCollaboration returns the collaboration and the caller's member
// record, if the collaboration exists and the caller is an invited or active
// member of it.
func visibleCollaboration(ctx context.Context, tx store.Tx, id, account string) (*collaboration, *member, error) {
	c, err := getCollaboration(ctx, tx, id)
	if isNotFound(err) || (err == nil && c.rec.Status != statusActive) {
		return nil, nil, noCollaboration(id)
	}
	if err != nil {
		return nil, nil, err
	}
	m, err := getMember(ctx, tx, id, account)
	if isNotFound(err) {
		return nil, nil, noCollaboration(id)
	}
	if err != nil {
		return nil, nil, err
	}
	switch m.status() {
	case api.MemberStatusInvited, api.MemberStatusActive:
		return c, m, nil
	}
	return nil, nil, noCollaboration(id)
}

// ownedCollaboration is visibleCollaboration for operations only the creator
// may call; everyone else is denied.
func ownedCollaboration(ctx context.Context, tx store.Tx, id, account, op string) (*collaboration, error) {
	c, _, err := visibleCollaboration(ctx, tx, id, account)
	if err != nil {
		return nil, err
	}
	if c.rec.Account != account {
		return nil, &fault.Error{Kind: fault.AccessDenied, Reason: string(api.AccessDeniedExceptionReasonInsufficientPermissions),
			Message: fmt.Sprintf("Only the collaboration creator can call %s", op)}
	}
	return c, nil
}

// party is the creator or an invited member, as CreateCollaboration sees them.
type party struct {
	field       string // input path, for errors
	account     string
	displayName string
	abilities   []api.MemberAbility
	ml          *api.MLMemberAbilities
	payment     *api.PaymentConfiguration
}

func (p *party) can(a api.MemberAbility) bool {
	for _, x := range p.abilities {
		if x == a {
			return true
		}
	}
	return false
}

func (s *Service) CreateCollaboration(ctx context.Context, in *api.CreateCollaborationInput) (*api.CreateCollaborationOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	parties, err := s.collaborationParties(account, in)
	if err != nil {
		return nil, err
	}
	payments, err := resolvePayments(parties)
	if err != nil {
		return nil, err
	}
	engine := api.AnalyticsEngineSpark
	if in.AnalyticsEngine != nil {
		engine = *in.AnalyticsEngine
	}
	if err := checkEngine("analyticsEngine", engine); err != nil {
		return nil, err
	}
	if err := checkTags("tags", in.Tags); err != nil {
		return nil, err
	}
	jobLog := api.CollaborationJobLogStatusDisabled
	if in.JobLogStatus != nil {
		jobLog = *in.JobLogStatus
	}

	now := s.timestamp()
	id := s.newID()
	coll := &collaboration{
		rec: &store.Record{Kind: kindCollaboration, ID: id, Account: account, Status: statusActive, CreateTime: now, UpdateTime: now},
		data: collaborationData{
			Name:                    in.Name,
			Description:             in.Description,
			CreatorDisplayName:      in.CreatorDisplayName,
			QueryLogStatus:          in.QueryLogStatus,
			JobLogStatus:            jobLog,
			AnalyticsEngine:         engine,
			DataEncryptionMetadata:  in.DataEncryptionMetadata,
			AutoApprovedChangeTypes: in.AutoApprovedChangeRequestTypes,
			AllowedResultRegions:    in.AllowedResultRegions,
			IsMetricsEnabled:        in.IsMetricsEnabled,
		},
	}
	coll.rec.Data = encode(coll.data)

	var creator *member
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if n, err := tx.Count(ctx, kindCollaboration, store.Filter{Account: account, Statuses: []string{statusActive}}); err != nil {
			return err
		} else if q := s.quotas.CollaborationsPerAccount; n >= q {
			return fault.Quota(quotaCollaborations, float64(q))
		}
		rec := *coll.rec
		if err := tx.Insert(ctx, &rec); err != nil {
			return err
		}
		for i, p := range parties {
			m := &member{
				rec: &store.Record{Kind: kindMember, ID: memberID(id, p.account), Parent: id, Account: p.account,
					Status: string(api.MemberStatusInvited), CreateTime: now, UpdateTime: now},
				data: memberData{DisplayName: p.displayName, Abilities: nonNil(p.abilities), MLAbilities: p.ml, Payment: payments[i]},
			}
			m.rec.Data = encode(m.data)
			if err := tx.Insert(ctx, m.rec); err != nil {
				return err
			}
			if i == 0 {
				creator = m
			}
		}
		return putTags(ctx, tx, s.collaborationARN(account, id), account, in.Tags)
	})
	if err != nil {
		return nil, err
	}
	return &api.CreateCollaborationOutput{Collaboration: s.collaborationView(coll, creator, nil)}, nil
}

// collaborationParties checks the creator and members of a new
// collaboration and returns them, creator first.
func (s *Service) collaborationParties(account string, in *api.CreateCollaborationInput) ([]*party, error) {
	if q := s.quotas.MembersPerCollaboration; len(in.Members) > q {
		return nil, fault.Quota(quotaMembers, float64(q))
	}
	parties := []*party{{field: "creatorMemberAbilities", account: account, displayName: in.CreatorDisplayName,
		abilities: in.CreatorMemberAbilities, ml: in.CreatorMLMemberAbilities, payment: in.CreatorPaymentConfiguration}}
	seen := map[string]bool{account: true}
	for i, m := range in.Members {
		field := fmt.Sprintf("members[%d]", i)
		if m.AccountId == account {
			return nil, invalid(field+".accountId", "The creator's account %s must not be listed among the members; describe its abilities with creatorMemberAbilities", account)
		}
		if seen[m.AccountId] {
			return nil, invalid(field+".accountId", "Account %s is listed more than once", m.AccountId)
		}
		seen[m.AccountId] = true
		parties = append(parties, &party{field: field + ".memberAbilities", account: m.AccountId, displayName: m.DisplayName,
			abilities: m.MemberAbilities, ml: m.MlMemberAbilities, payment: m.PaymentConfiguration})
	}
	queriers := 0
	for _, p := range parties {
		dup := map[api.MemberAbility]bool{}
		for _, a := range p.abilities {
			if dup[a] {
				return nil, invalid(p.field, "Ability %s is listed more than once", a)
			}
			dup[a] = true
		}
		if p.can(api.MemberAbilityCanQuery) {
			queriers++
		}
	}
	if queriers > 1 {
		return nil, invalid("memberAbilities", "Only one member of a collaboration can have the CAN_QUERY ability; %d have it", queriers)
	}
	return parties, nil
}

// resolvePayments applies the documented payment rules and returns each
// party's resolved payment configuration. Exactly one member pays for query
// compute: the one configured as responsible, else by default the member
// who can query; configuring that member as not responsible without naming
// another payer is an error, as is naming more than one payer. Job compute
// follows the same rules around the member who can run jobs; the machine
// learning payments allow at most one payer each and are kept as given.
func resolvePayments(parties []*party) ([]api.PaymentConfiguration, error) {
	type rule struct {
		name    string
		ability api.MemberAbility // default payer's ability, "" for none
		get     func(*api.PaymentConfiguration) *bool
	}
	rules := []rule{
		{"queryCompute", api.MemberAbilityCanQuery, func(p *api.PaymentConfiguration) *bool {
			if p.QueryCompute == nil {
				return nil
			}
			return p.QueryCompute.IsResponsible
		}},
		{"jobCompute", api.MemberAbilityCanRunJob, func(p *api.PaymentConfiguration) *bool {
			if p.JobCompute == nil {
				return nil
			}
			return p.JobCompute.IsResponsible
		}},
		{"machineLearning.modelTraining", "", func(p *api.PaymentConfiguration) *bool {
			if p.MachineLearning == nil || p.MachineLearning.ModelTraining == nil {
				return nil
			}
			return p.MachineLearning.ModelTraining.IsResponsible
		}},
		{"machineLearning.modelInference", "", func(p *api.PaymentConfiguration) *bool {
			if p.MachineLearning == nil || p.MachineLearning.ModelInference == nil {
				return nil
			}
			return p.MachineLearning.ModelInference.IsResponsible
		}},
		{"machineLearning.syntheticDataGeneration", "", func(p *api.PaymentConfiguration) *bool {
			if p.MachineLearning == nil || p.MachineLearning.SyntheticDataGeneration == nil {
				return nil
			}
			return p.MachineLearning.SyntheticDataGeneration.IsResponsible
		}},
	}
	payers := map[string]int{}
	for _, r := range rules {
		payer, defaultPayer := -1, -1
		for i, p := range parties {
			if r.ability != "" && p.can(r.ability) {
				defaultPayer = i
			}
			if p.payment == nil {
				continue
			}
			if v := r.get(p.payment); v != nil && *v {
				if payer >= 0 {
					return nil, invalid(paymentField(p)+"."+r.name+".isResponsible",
						"Exactly one member can be configured to pay for %s; both %s and %s are", r.name, parties[payer].account, p.account)
				}
				payer = i
			}
		}
		if payer < 0 && defaultPayer >= 0 {
			d := parties[defaultPayer]
			if d.payment != nil {
				if v := r.get(d.payment); v != nil && !*v {
					return nil, invalid(paymentField(d)+"."+r.name+".isResponsible",
						"The member who can %s pays for %s unless another member is configured to; it can't be set to false alone", abilityVerb(r.ability), r.name)
				}
			}
			payer = defaultPayer
		}
		payers[r.name] = payer
	}
	out := make([]api.PaymentConfiguration, len(parties))
	for i, p := range parties {
		out[i] = api.PaymentConfiguration{QueryCompute: &api.QueryComputePaymentConfig{IsResponsible: ptr(payers["queryCompute"] == i)}}
		if payers["jobCompute"] >= 0 || (p.payment != nil && p.payment.JobCompute != nil) {
			out[i].JobCompute = &api.JobComputePaymentConfig{IsResponsible: ptr(payers["jobCompute"] == i)}
		}
		if p.payment != nil && p.payment.MachineLearning != nil {
			out[i].MachineLearning = p.payment.MachineLearning
		}
	}
	return out, nil
}

func paymentField(p *party) string {
	if p.field == "creatorMemberAbilities" {
		return "creatorPaymentConfiguration"
	}
	return p.field[:len(p.field)-len(".memberAbilities")] + ".paymentConfiguration"
}

func abilityVerb(a api.MemberAbility) string {
	if a == api.MemberAbilityCanRunJob {
		return "run jobs"
	}
	return "query"
}

// checkEngine refuses the CLEAN_ROOMS_SQL engine, which AWS stopped offering
// for new work on 2025-07-16 (support ended 2025-12-17).
func checkEngine(field string, e api.AnalyticsEngine) error {
	if e == api.AnalyticsEngineCleanRoomsSql {
		return invalid(field, "The CLEAN_ROOMS_SQL analytics engine is no longer available; use SPARK")
	}
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// collaborationView renders a collaboration for the caller whose member
// record is m; ms is the caller's membership, if any.
func (s *Service) collaborationView(c *collaboration, m *member, ms *membership) *api.Collaboration {
	d := &c.data
	out := &api.Collaboration{
		Id:                      c.rec.ID,
		Arn:                     s.collaborationARN(c.rec.Account, c.rec.ID),
		Name:                    d.Name,
		Description:             ptr(d.Description),
		CreatorAccountId:        c.rec.Account,
		CreatorDisplayName:      d.CreatorDisplayName,
		CreateTime:              ts(c.rec.CreateTime),
		UpdateTime:              ts(c.rec.UpdateTime),
		MemberStatus:            m.status(),
		DataEncryptionMetadata:  d.DataEncryptionMetadata,
		QueryLogStatus:          d.QueryLogStatus,
		JobLogStatus:            ptr(d.JobLogStatus),
		AnalyticsEngine:         ptr(d.AnalyticsEngine),
		AutoApprovedChangeTypes: d.AutoApprovedChangeTypes,
		AllowedResultRegions:    d.AllowedResultRegions,
		IsMetricsEnabled:        d.IsMetricsEnabled,
	}
	if id := m.data.MembershipID; id != "" && m.status() == api.MemberStatusActive {
		out.MembershipId = ptr(id)
		out.MembershipArn = ptr(s.membershipARN(m.rec.Account, id))
	}
	return out
}

func (s *Service) collaborationSummary(c *collaboration, m *member) api.CollaborationSummary {
	v := s.collaborationView(c, m, nil)
	return api.CollaborationSummary{
		Id: v.Id, Arn: v.Arn, Name: v.Name, CreatorAccountId: v.CreatorAccountId, CreatorDisplayName: v.CreatorDisplayName,
		CreateTime: v.CreateTime, UpdateTime: v.UpdateTime, MemberStatus: v.MemberStatus,
		MembershipId: v.MembershipId, MembershipArn: v.MembershipArn, AnalyticsEngine: v.AnalyticsEngine,
	}
}

func (s *Service) GetCollaboration(ctx context.Context, in *api.GetCollaborationInput) (*api.GetCollaborationOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *api.Collaboration
	err = s.store.View(ctx, func(tx store.Tx) error {
		c, m, err := visibleCollaboration(ctx, tx, in.CollaborationIdentifier, account)
		if err != nil {
			return err
		}
		out = s.collaborationView(c, m, nil)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.GetCollaborationOutput{Collaboration: out}, nil
}

func (s *Service) ListCollaborations(ctx context.Context, in *api.ListCollaborationsInput) (*api.ListCollaborationsOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	pg, err := readPage(in.NextToken, in.MaxResults, "ListCollaborations")
	if err != nil {
		return nil, err
	}
	statuses := []string{string(api.MemberStatusInvited), string(api.MemberStatusActive)}
	if in.MemberStatus != nil {
		statuses = []string{string(*in.MemberStatus)}
	}
	out := &api.ListCollaborationsOutput{CollaborationList: []api.CollaborationSummary{}}
	err = s.store.View(ctx, func(tx store.Tx) error {
		out.CollaborationList = out.CollaborationList[:0]
		recs, err := tx.List(ctx, kindMember, store.Filter{Account: account, Statuses: statuses}, pg.Query())
		if err != nil {
			return err
		}
		recs, out.NextToken = pg.Next(recs)
		for _, rec := range recs {
			m, err := memberOf(rec)
			if err != nil {
				return err
			}
			c, err := getCollaboration(ctx, tx, rec.Parent)
			if err != nil {
				return err
			}
			out.CollaborationList = append(out.CollaborationList, s.collaborationSummary(c, m))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) UpdateCollaboration(ctx context.Context, in *api.UpdateCollaborationInput) (*api.UpdateCollaborationOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if in.AnalyticsEngine != nil {
		if err := checkEngine("analyticsEngine", *in.AnalyticsEngine); err != nil {
			return nil, err
		}
	}
	var out *api.Collaboration
	err = s.store.Update(ctx, func(tx store.Tx) error {
		c, err := ownedCollaboration(ctx, tx, in.CollaborationIdentifier, account, "UpdateCollaboration")
		if err != nil {
			return err
		}
		if in.Name != nil {
			c.data.Name = *in.Name
		}
		if in.Description != nil {
			c.data.Description = *in.Description
		}
		if in.AnalyticsEngine != nil {
			c.data.AnalyticsEngine = *in.AnalyticsEngine
		}
		if err := c.save(ctx, tx, s.timestamp()); err != nil {
			return err
		}
		if in.Name != nil {
			// Memberships show the collaboration's name.
			if err := eachRecord(ctx, tx, kindMembership, store.Filter{Parent: c.rec.ID}, func(rec *store.Record) error {
				ms, err := membershipOf(rec)
				if err != nil {
					return err
				}
				ms.data.CollaborationName = c.data.Name
				rec.Data = encode(ms.data)
				return tx.Update(ctx, rec)
			}); err != nil {
				return err
			}
		}
		m, err := getMember(ctx, tx, c.rec.ID, account)
		if err != nil {
			return err
		}
		out = s.collaborationView(c, m, nil)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.UpdateCollaborationOutput{Collaboration: out}, nil
}

// DeleteCollaboration deletes a collaboration for everyone: it disappears
// from every Get and List, its members' memberships become
// COLLABORATION_DELETED, and each member keeps its own membership record.
func (s *Service) DeleteCollaboration(ctx context.Context, in *api.DeleteCollaborationInput) (*api.DeleteCollaborationOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		c, err := ownedCollaboration(ctx, tx, in.CollaborationIdentifier, account, "DeleteCollaboration")
		if err != nil {
			return err
		}
		now := s.timestamp()
		c.rec.Status = statusDeleted
		if err := c.save(ctx, tx, now); err != nil {
			return err
		}
		id := c.rec.ID
		if err := eachRecord(ctx, tx, kindMember, store.Filter{Parent: id}, func(rec *store.Record) error {
			rec.Status, rec.UpdateTime = statusDeleted, now
			return tx.Update(ctx, rec)
		}); err != nil {
			return err
		}
		if err := eachRecord(ctx, tx, kindMembership, store.Filter{Parent: id, Statuses: []string{string(api.MembershipStatusActive)}}, func(rec *store.Record) error {
			rec.Status, rec.UpdateTime = string(api.MembershipStatusCollaborationDeleted), now
			return tx.Update(ctx, rec)
		}); err != nil {
			return err
		}
		return deleteTags(ctx, tx, s.collaborationARN(account, id))
	})
	if err != nil {
		return nil, err
	}
	return &api.DeleteCollaborationOutput{}, nil
}

// eachRecord calls fn for every record of kind matching f, in pages.
func eachRecord(ctx context.Context, tx store.Tx, kind string, f store.Filter, fn func(*store.Record) error) error {
	var after int64
	for {
		recs, err := tx.List(ctx, kind, f, store.Page{After: after, Limit: 100})
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
			after = r.Seq
		}
		if len(recs) < 100 {
			return nil
		}
	}
}
