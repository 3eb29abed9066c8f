package server_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cleanrooms"
	"github.com/aws/aws-sdk-go-v2/service/cleanrooms/types"

	"github.com/cleanroomsd/cleanroomsd/internal/server"
)

// newCollaboration creates a collaboration as acctA with B (query + receive
// results) and C (contributes data) invited.
func newCollaboration(t *testing.T, ts *testServer) *types.Collaboration {
	t.Helper()
	out, err := ts.client(acctA).CreateCollaboration(context.Background(), &cleanrooms.CreateCollaborationInput{
		Name:                   aws.String("ads measurement"),
		Description:            aws.String("advertiser x publisher"),
		CreatorDisplayName:     aws.String("Advertiser"),
		CreatorMemberAbilities: []types.MemberAbility{},
		Members: []types.MemberSpecification{
			{AccountId: aws.String(acctB), DisplayName: aws.String("Publisher"),
				MemberAbilities: []types.MemberAbility{types.MemberAbilityCanQuery, types.MemberAbilityCanReceiveResults}},
			{AccountId: aws.String(acctC), DisplayName: aws.String("Data provider"), MemberAbilities: []types.MemberAbility{}},
		},
		QueryLogStatus: types.CollaborationQueryLogStatusEnabled,
		DataEncryptionMetadata: &types.DataEncryptionMetadata{
			AllowCleartext: aws.Bool(true), AllowDuplicates: aws.Bool(false),
			AllowJoinsOnColumnsWithDifferentNames: aws.Bool(true), PreserveNulls: aws.Bool(false)},
		Tags: map[string]string{"team": "measurement"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Collaboration
}

func TestCollaborationLifecycle(t *testing.T) {
	ctx := context.Background()
	ts := start(t)
	a, b, c, d := ts.client(acctA), ts.client(acctB), ts.client(acctC), ts.client(acctD)

	coll := newCollaboration(t, ts)
	id := aws.ToString(coll.Id)
	if got, want := aws.ToString(coll.Arn), "arn:aws:cleanrooms:us-east-1:"+acctA+":collaboration/"+id; got != want {
		t.Errorf("arn = %s, want %s", got, want)
	}
	if len(id) != 36 || strings.ToLower(id) != id {
		t.Errorf("id %q is not a lowercase UUID", id)
	}
	if coll.MemberStatus != types.MemberStatusInvited || coll.MembershipId != nil {
		t.Errorf("creator status %s membership %v, want INVITED and none", coll.MemberStatus, coll.MembershipId)
	}
	if coll.AnalyticsEngine != types.AnalyticsEngineSpark || coll.JobLogStatus != types.CollaborationJobLogStatusDisabled {
		t.Errorf("defaults: engine %s jobLog %s", coll.AnalyticsEngine, coll.JobLogStatus)
	}
	if !aws.ToBool(coll.DataEncryptionMetadata.AllowCleartext) || aws.ToBool(coll.DataEncryptionMetadata.PreserveNulls) {
		t.Errorf("dataEncryptionMetadata not kept: %+v", coll.DataEncryptionMetadata)
	}

	// Everyone invited sees it; outsiders and unknown IDs are denied alike.
	for _, cl := range []*cleanrooms.Client{a, b, c} {
		must(cl.GetCollaboration(ctx, &cleanrooms.GetCollaborationInput{CollaborationIdentifier: &id})).ok(t)
	}
	_, err := d.GetCollaboration(ctx, &cleanrooms.GetCollaborationInput{CollaborationIdentifier: &id})
	wantError(t, err, "AccessDeniedException", 403)
	_, err = a.GetCollaboration(ctx, &cleanrooms.GetCollaborationInput{CollaborationIdentifier: aws.String("00000000-0000-4000-8000-000000000000")})
	wantError(t, err, "AccessDeniedException", 403)

	// ListMembers includes the creator; B pays by default, being the querier.
	members := must(c.ListMembers(ctx, &cleanrooms.ListMembersInput{CollaborationIdentifier: &id})).ok(t).MemberSummaries
	if len(members) != 3 {
		t.Fatalf("%d members, want 3", len(members))
	}
	for _, m := range members {
		pays := aws.ToBool(m.PaymentConfiguration.QueryCompute.IsResponsible)
		if pays != (aws.ToString(m.AccountId) == acctB) || m.Status != types.MemberStatusInvited {
			t.Errorf("member %s: status %s pays %v", aws.ToString(m.AccountId), m.Status, pays)
		}
	}

	// B joins without a payment configuration (it can query, so it defaults to paying).
	msB := must(b.CreateMembership(ctx, &cleanrooms.CreateMembershipInput{
		CollaborationIdentifier: &id, QueryLogStatus: types.MembershipQueryLogStatusEnabled,
		DefaultResultConfiguration: &types.MembershipProtectedQueryResultConfiguration{
			OutputConfiguration: &types.MembershipProtectedQueryOutputConfigurationMemberS3{Value: types.ProtectedQueryS3OutputConfiguration{
				Bucket: aws.String("results-b"), KeyPrefix: aws.String("ads/"), ResultFormat: types.ResultFormatParquet}},
			RoleArn: aws.String("arn:aws:iam::" + acctB + ":role/cleanrooms-results"),
		},
		Tags: map[string]string{"env": "test"},
	})).ok(t).Membership
	if msB.Status != types.MembershipStatusActive || !aws.ToBool(msB.PaymentConfiguration.QueryCompute.IsResponsible) {
		t.Errorf("B's membership: status %s payment %+v", msB.Status, msB.PaymentConfiguration.QueryCompute)
	}
	if got := aws.ToString(msB.Arn); !strings.HasPrefix(got, "arn:aws:cleanrooms:us-east-1:"+acctB+":membership/") {
		t.Errorf("membership arn %s", got)
	}
	if !slices.Equal(msB.MemberAbilities, []types.MemberAbility{types.MemberAbilityCanQuery, types.MemberAbilityCanReceiveResults}) {
		t.Errorf("abilities %v", msB.MemberAbilities)
	}
	s3 := msB.DefaultResultConfiguration.OutputConfiguration.(*types.MembershipProtectedQueryOutputConfigurationMemberS3).Value
	if aws.ToString(s3.Bucket) != "results-b" || aws.ToString(s3.KeyPrefix) != "ads/" || s3.ResultFormat != types.ResultFormatParquet ||
		aws.ToString(msB.DefaultResultConfiguration.RoleArn) != "arn:aws:iam::"+acctB+":role/cleanrooms-results" {
		t.Errorf("defaultResultConfiguration not kept exactly: %+v %+v", s3, msB.DefaultResultConfiguration)
	}
	msBID := aws.ToString(msB.Id)

	// Joining twice is a conflict.
	_, err = b.CreateMembership(ctx, &cleanrooms.CreateMembershipInput{CollaborationIdentifier: &id, QueryLogStatus: types.MembershipQueryLogStatusDisabled})
	wantError(t, err, "ConflictException", 409)
	// Outsiders can't join.
	_, err = d.CreateMembership(ctx, &cleanrooms.CreateMembershipInput{CollaborationIdentifier: &id, QueryLogStatus: types.MembershipQueryLogStatusDisabled})
	wantError(t, err, "AccessDeniedException", 403)
	// C doesn't pay, so it can't accept to; nor can it receive results.
	_, err = c.CreateMembership(ctx, &cleanrooms.CreateMembershipInput{CollaborationIdentifier: &id, QueryLogStatus: types.MembershipQueryLogStatusDisabled,
		PaymentConfiguration: &types.MembershipPaymentConfiguration{QueryCompute: &types.MembershipQueryComputePaymentConfig{IsResponsible: aws.Bool(true)}}})
	wantError(t, err, "ValidationException", 400)
	_, err = c.CreateMembership(ctx, &cleanrooms.CreateMembershipInput{CollaborationIdentifier: &id, QueryLogStatus: types.MembershipQueryLogStatusDisabled,
		DefaultResultConfiguration: &types.MembershipProtectedQueryResultConfiguration{
			OutputConfiguration: &types.MembershipProtectedQueryOutputConfigurationMemberS3{Value: types.ProtectedQueryS3OutputConfiguration{
				Bucket: aws.String("results-c"), ResultFormat: types.ResultFormatCsv}}}})
	wantError(t, err, "ValidationException", 400)
	msC := must(c.CreateMembership(ctx, &cleanrooms.CreateMembershipInput{CollaborationIdentifier: &id, QueryLogStatus: types.MembershipQueryLogStatusDisabled})).ok(t).Membership
	if aws.ToBool(msC.PaymentConfiguration.QueryCompute.IsResponsible) {
		t.Error("C pays for queries, want not")
	}
	msA := must(a.CreateMembership(ctx, &cleanrooms.CreateMembershipInput{CollaborationIdentifier: &id, QueryLogStatus: types.MembershipQueryLogStatusEnabled})).ok(t).Membership

	// The creator's view now shows its membership.
	got := must(a.GetCollaboration(ctx, &cleanrooms.GetCollaborationInput{CollaborationIdentifier: &id})).ok(t).Collaboration
	if got.MemberStatus != types.MemberStatusActive || aws.ToString(got.MembershipId) != aws.ToString(msA.Id) {
		t.Errorf("creator's view: %s %v", got.MemberStatus, got.MembershipId)
	}

	// Memberships are private to their account.
	must(b.GetMembership(ctx, &cleanrooms.GetMembershipInput{MembershipIdentifier: &msBID})).ok(t)
	_, err = a.GetMembership(ctx, &cleanrooms.GetMembershipInput{MembershipIdentifier: &msBID})
	e := wantError(t, err, "ResourceNotFoundException", 404)
	var rnf *types.ResourceNotFoundException
	if !errors.As(e.err, &rnf) || aws.ToString(rnf.ResourceId) != msBID || rnf.ResourceType != types.ResourceTypeMembership {
		t.Errorf("ResourceNotFound fields: %+v", rnf)
	}

	// Only the creator updates the collaboration, and only what is given.
	_, err = b.UpdateCollaboration(ctx, &cleanrooms.UpdateCollaborationInput{CollaborationIdentifier: &id, Name: aws.String("mine")})
	wantError(t, err, "AccessDeniedException", 403)
	time.Sleep(2 * time.Millisecond)
	up := must(a.UpdateCollaboration(ctx, &cleanrooms.UpdateCollaborationInput{CollaborationIdentifier: &id, Name: aws.String("renamed")})).ok(t).Collaboration
	if aws.ToString(up.Name) != "renamed" || aws.ToString(up.Description) != "advertiser x publisher" || !up.UpdateTime.After(*up.CreateTime) {
		t.Errorf("after update: name %q description %q times %v %v", aws.ToString(up.Name), aws.ToString(up.Description), up.CreateTime, up.UpdateTime)
	}
	if ms := must(b.GetMembership(ctx, &cleanrooms.GetMembershipInput{MembershipIdentifier: &msBID})).ok(t).Membership; aws.ToString(ms.CollaborationName) != "renamed" {
		t.Errorf("membership shows collaboration name %q", aws.ToString(ms.CollaborationName))
	}

	// B changes its result settings.
	upm := must(b.UpdateMembership(ctx, &cleanrooms.UpdateMembershipInput{MembershipIdentifier: &msBID, QueryLogStatus: types.MembershipQueryLogStatusDisabled})).ok(t).Membership
	if upm.QueryLogStatus != types.MembershipQueryLogStatusDisabled || upm.DefaultResultConfiguration == nil {
		t.Errorf("after UpdateMembership: %s %v", upm.QueryLogStatus, upm.DefaultResultConfiguration)
	}

	// The creator removes C; C's membership becomes REMOVED but stays readable.
	_, err = a.DeleteMember(ctx, &cleanrooms.DeleteMemberInput{CollaborationIdentifier: &id, AccountId: aws.String(acctA)})
	wantError(t, err, "ValidationException", 400)
	_, err = b.DeleteMember(ctx, &cleanrooms.DeleteMemberInput{CollaborationIdentifier: &id, AccountId: aws.String(acctC)})
	wantError(t, err, "AccessDeniedException", 403)
	must(a.DeleteMember(ctx, &cleanrooms.DeleteMemberInput{CollaborationIdentifier: &id, AccountId: aws.String(acctC)})).ok(t)
	_, err = a.DeleteMember(ctx, &cleanrooms.DeleteMemberInput{CollaborationIdentifier: &id, AccountId: aws.String(acctC)})
	wantError(t, err, "ConflictException", 409)
	if ms := must(c.GetMembership(ctx, &cleanrooms.GetMembershipInput{MembershipIdentifier: msC.Id})).ok(t).Membership; ms.Status != types.MembershipStatusRemoved {
		t.Errorf("C's membership is %s, want REMOVED", ms.Status)
	}
	_, err = c.GetCollaboration(ctx, &cleanrooms.GetCollaborationInput{CollaborationIdentifier: &id})
	wantError(t, err, "AccessDeniedException", 403)

	// B leaves: its membership disappears from Get and List; it can't rejoin.
	_, err = a.DeleteMembership(ctx, &cleanrooms.DeleteMembershipInput{MembershipIdentifier: msA.Id})
	wantError(t, err, "ConflictException", 409)
	must(b.DeleteMembership(ctx, &cleanrooms.DeleteMembershipInput{MembershipIdentifier: &msBID})).ok(t)
	_, err = b.GetMembership(ctx, &cleanrooms.GetMembershipInput{MembershipIdentifier: &msBID})
	wantError(t, err, "ResourceNotFoundException", 404)
	if l := must(b.ListMemberships(ctx, &cleanrooms.ListMembershipsInput{})).ok(t).MembershipSummaries; len(l) != 0 {
		t.Errorf("B still lists %d memberships", len(l))
	}
	_, err = b.CreateMembership(ctx, &cleanrooms.CreateMembershipInput{CollaborationIdentifier: &id, QueryLogStatus: types.MembershipQueryLogStatusDisabled})
	wantError(t, err, "AccessDeniedException", 403)
	statuses := map[string]types.MemberStatus{}
	for _, m := range must(a.ListMembers(ctx, &cleanrooms.ListMembersInput{CollaborationIdentifier: &id})).ok(t).MemberSummaries {
		statuses[aws.ToString(m.AccountId)] = m.Status
	}
	if want := map[string]types.MemberStatus{acctA: types.MemberStatusActive, acctB: types.MemberStatusLeft, acctC: types.MemberStatusRemoved}; fmt.Sprint(statuses) != fmt.Sprint(want) {
		t.Errorf("member statuses %v, want %v", statuses, want)
	}

	// Only the creator deletes; afterwards the collaboration is gone for
	// everyone and memberships say so.
	_, err = b.DeleteCollaboration(ctx, &cleanrooms.DeleteCollaborationInput{CollaborationIdentifier: &id})
	wantError(t, err, "AccessDeniedException", 403)
	must(a.DeleteCollaboration(ctx, &cleanrooms.DeleteCollaborationInput{CollaborationIdentifier: &id})).ok(t)
	_, err = a.GetCollaboration(ctx, &cleanrooms.GetCollaborationInput{CollaborationIdentifier: &id})
	wantError(t, err, "AccessDeniedException", 403)
	_, err = a.DeleteCollaboration(ctx, &cleanrooms.DeleteCollaborationInput{CollaborationIdentifier: &id})
	wantError(t, err, "AccessDeniedException", 403)
	if l := must(a.ListCollaborations(ctx, &cleanrooms.ListCollaborationsInput{})).ok(t).CollaborationList; len(l) != 0 {
		t.Errorf("deleted collaboration still listed: %d", len(l))
	}
	if ms := must(a.GetMembership(ctx, &cleanrooms.GetMembershipInput{MembershipIdentifier: msA.Id})).ok(t).Membership; ms.Status != types.MembershipStatusCollaborationDeleted {
		t.Errorf("A's membership is %s, want COLLABORATION_DELETED", ms.Status)
	}
	// A membership of a deleted collaboration can be cleaned up.
	must(a.DeleteMembership(ctx, &cleanrooms.DeleteMembershipInput{MembershipIdentifier: msA.Id})).ok(t)
}

func TestListFiltersAndPages(t *testing.T) {
	ctx := context.Background()
	ts := start(t, func(c *server.Config) { c.Quotas.CollaborationsPerAccount = 20 })
	a, b := ts.client(acctA), ts.client(acctB)
	var ids []string
	for i := 0; i < 7; i++ {
		ids = append(ids, aws.ToString(newCollaboration(t, ts).Id))
	}
	// B joins two of them.
	for _, id := range ids[:2] {
		must(b.CreateMembership(ctx, &cleanrooms.CreateMembershipInput{CollaborationIdentifier: aws.String(id), QueryLogStatus: types.MembershipQueryLogStatusDisabled})).ok(t)
	}
	var seen []string
	var token *string
	pages := 0
	for {
		out := must(b.ListCollaborations(ctx, &cleanrooms.ListCollaborationsInput{MaxResults: aws.Int32(3), NextToken: token})).ok(t)
		pages++
		for _, c := range out.CollaborationList {
			seen = append(seen, aws.ToString(c.Id))
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	if pages != 3 || !slices.Equal(seen, ids) {
		t.Errorf("paged %d times, saw %v, want 3 pages of %v", pages, seen, ids)
	}
	active := must(b.ListCollaborations(ctx, &cleanrooms.ListCollaborationsInput{MemberStatus: types.FilterableMemberStatusActive})).ok(t).CollaborationList
	invited := must(b.ListCollaborations(ctx, &cleanrooms.ListCollaborationsInput{MemberStatus: types.FilterableMemberStatusInvited})).ok(t).CollaborationList
	if len(active) != 2 || len(invited) != 5 || aws.ToString(active[0].MembershipId) == "" {
		t.Errorf("ACTIVE %d INVITED %d", len(active), len(invited))
	}
	if l := must(a.ListCollaborations(ctx, &cleanrooms.ListCollaborationsInput{})).ok(t).CollaborationList; len(l) != 7 {
		t.Errorf("creator lists %d, want 7", len(l))
	}
	ms := must(b.ListMemberships(ctx, &cleanrooms.ListMembershipsInput{Status: types.MembershipStatusActive})).ok(t).MembershipSummaries
	if len(ms) != 2 {
		t.Errorf("%d active memberships, want 2", len(ms))
	}
	if l := must(b.ListMemberships(ctx, &cleanrooms.ListMembershipsInput{Status: types.MembershipStatusRemoved})).ok(t).MembershipSummaries; len(l) != 0 {
		t.Errorf("%d removed memberships, want 0", len(l))
	}
	// Tokens are opaque and bound to their operation.
	_, err := b.ListCollaborations(ctx, &cleanrooms.ListCollaborationsInput{NextToken: aws.String("garbage")})
	wantError(t, err, "ValidationException", 400)
	first := must(b.ListCollaborations(ctx, &cleanrooms.ListCollaborationsInput{MaxResults: aws.Int32(1)})).ok(t)
	_, err = b.ListMemberships(ctx, &cleanrooms.ListMembershipsInput{NextToken: first.NextToken})
	wantError(t, err, "ValidationException", 400)
	_, err = b.ListCollaborations(ctx, &cleanrooms.ListCollaborationsInput{MaxResults: aws.Int32(101)})
	wantError(t, err, "ValidationException", 400)
}

func TestQuotas(t *testing.T) {
	ctx := context.Background()
	ts := start(t, func(c *server.Config) { c.Quotas.CollaborationsPerAccount = 2; c.Quotas.MembershipsPerAccount = 1 })
	a := ts.client(acctA)
	first := newCollaboration(t, ts)
	second := newCollaboration(t, ts)
	_, err := a.CreateCollaboration(ctx, &cleanrooms.CreateCollaborationInput{Name: aws.String("x"), Description: aws.String("x"),
		CreatorDisplayName: aws.String("A"), CreatorMemberAbilities: []types.MemberAbility{}, Members: []types.MemberSpecification{},
		QueryLogStatus: types.CollaborationQueryLogStatusDisabled})
	e := wantError(t, err, "ServiceQuotaExceededException", 402)
	var q *types.ServiceQuotaExceededException
	if !errors.As(e.err, &q) || aws.ToString(q.QuotaName) != "Collaborations created per account" || aws.ToFloat64(q.QuotaValue) != 2 {
		t.Errorf("quota fields: %+v", q)
	}
	must(a.CreateMembership(ctx, &cleanrooms.CreateMembershipInput{CollaborationIdentifier: first.Id, QueryLogStatus: types.MembershipQueryLogStatusDisabled})).ok(t)
	_, err = a.CreateMembership(ctx, &cleanrooms.CreateMembershipInput{CollaborationIdentifier: second.Id, QueryLogStatus: types.MembershipQueryLogStatusDisabled})
	wantError(t, err, "ServiceQuotaExceededException", 402)
	// Deleting a collaboration frees its slot.
	must(a.DeleteCollaboration(ctx, &cleanrooms.DeleteCollaborationInput{CollaborationIdentifier: second.Id})).ok(t)
	newCollaboration(t, ts)

	// Five invited members at most, by default.
	ts2 := start(t)
	var members []types.MemberSpecification
	for i := 0; i < 6; i++ {
		members = append(members, types.MemberSpecification{AccountId: aws.String(fmt.Sprintf("5%011d", i)), DisplayName: aws.String("m"), MemberAbilities: []types.MemberAbility{}})
	}
	_, err = ts2.client(acctA).CreateCollaboration(ctx, &cleanrooms.CreateCollaborationInput{Name: aws.String("x"), Description: aws.String("x"),
		CreatorDisplayName: aws.String("A"), CreatorMemberAbilities: []types.MemberAbility{}, Members: members,
		QueryLogStatus: types.CollaborationQueryLogStatusDisabled})
	wantError(t, err, "ServiceQuotaExceededException", 402)
}

func TestCreateCollaborationRules(t *testing.T) {
	ctx := context.Background()
	ts := start(t)
	a := ts.client(acctA)
	base := func() *cleanrooms.CreateCollaborationInput {
		return &cleanrooms.CreateCollaborationInput{Name: aws.String("c"), Description: aws.String("d"), CreatorDisplayName: aws.String("A"),
			CreatorMemberAbilities: []types.MemberAbility{types.MemberAbilityCanQuery},
			Members: []types.MemberSpecification{{AccountId: aws.String(acctB), DisplayName: aws.String("B"),
				MemberAbilities: []types.MemberAbility{types.MemberAbilityCanReceiveResults}}},
			QueryLogStatus: types.CollaborationQueryLogStatusDisabled}
	}
	yes, no := aws.Bool(true), aws.Bool(false)
	pay := func(v *bool) *types.PaymentConfiguration {
		return &types.PaymentConfiguration{QueryCompute: &types.QueryComputePaymentConfig{IsResponsible: v}}
	}
	cases := []struct {
		name   string
		mutate func(*cleanrooms.CreateCollaborationInput)
		// wantPayer is the account that pays, or "" when the call must fail
		// with wantCode.
		wantPayer string
		wantCode  string
		wantField string
	}{
		{name: "querier pays by default", mutate: func(*cleanrooms.CreateCollaborationInput) {}, wantPayer: acctA},
		{name: "another member may pay", mutate: func(in *cleanrooms.CreateCollaborationInput) {
			in.Members[0].PaymentConfiguration = pay(yes)
			in.CreatorPaymentConfiguration = pay(no)
		}, wantPayer: acctB},
		{name: "querier false alone", mutate: func(in *cleanrooms.CreateCollaborationInput) { in.CreatorPaymentConfiguration = pay(no) },
			wantCode: "ValidationException", wantField: "creatorPaymentConfiguration.queryCompute.isResponsible"},
		{name: "two payers", mutate: func(in *cleanrooms.CreateCollaborationInput) {
			in.Members[0].PaymentConfiguration = pay(yes)
			in.CreatorPaymentConfiguration = pay(yes)
		}, wantCode: "ValidationException", wantField: "members[0].paymentConfiguration.queryCompute.isResponsible"},
		{name: "two queriers", mutate: func(in *cleanrooms.CreateCollaborationInput) {
			in.Members[0].MemberAbilities = append(in.Members[0].MemberAbilities, types.MemberAbilityCanQuery)
		}, wantCode: "ValidationException", wantField: "memberAbilities"},
		{name: "creator among members", mutate: func(in *cleanrooms.CreateCollaborationInput) { in.Members[0].AccountId = aws.String(acctA) },
			wantCode: "ValidationException", wantField: "members[0].accountId"},
		{name: "member twice", mutate: func(in *cleanrooms.CreateCollaborationInput) { in.Members = append(in.Members, in.Members[0]) },
			wantCode: "ValidationException", wantField: "members[1].accountId"},
		{name: "retired engine", mutate: func(in *cleanrooms.CreateCollaborationInput) { in.AnalyticsEngine = types.AnalyticsEngineCleanRoomsSql },
			wantCode: "ValidationException", wantField: "analyticsEngine"},
		{name: "name too long", mutate: func(in *cleanrooms.CreateCollaborationInput) { in.Name = aws.String(strings.Repeat("n", 101)) },
			wantCode: "ValidationException", wantField: "name"},
		{name: "blank display name", mutate: func(in *cleanrooms.CreateCollaborationInput) { in.CreatorDisplayName = aws.String("   ") },
			wantCode: "ValidationException", wantField: "creatorDisplayName"},
		{name: "bad account id", mutate: func(in *cleanrooms.CreateCollaborationInput) { in.Members[0].AccountId = aws.String("12345678901x") },
			wantCode: "ValidationException", wantField: "members[0].accountId"},
		{name: "reserved tag", mutate: func(in *cleanrooms.CreateCollaborationInput) { in.Tags = map[string]string{"aws:owner": "x"} },
			wantCode: "ValidationException", wantField: "tags"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := base()
			c.mutate(in)
			out, err := a.CreateCollaboration(ctx, in)
			if c.wantCode != "" {
				e := wantError(t, err, c.wantCode, 400)
				var ve *types.ValidationException
				if !errors.As(e.err, &ve) || ve.Reason != types.ValidationExceptionReasonFieldValidationFailed {
					t.Fatalf("validation error fields: %+v", ve)
				}
				var names []string
				for _, f := range ve.FieldList {
					names = append(names, aws.ToString(f.Name))
				}
				if !slices.Contains(names, c.wantField) {
					t.Errorf("fieldList %v does not name %s", names, c.wantField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ms := must(a.ListMembers(ctx, &cleanrooms.ListMembersInput{CollaborationIdentifier: out.Collaboration.Id})).ok(t).MemberSummaries
			for _, m := range ms {
				if pays := aws.ToBool(m.PaymentConfiguration.QueryCompute.IsResponsible); pays != (aws.ToString(m.AccountId) == c.wantPayer) {
					t.Errorf("%s pays=%v, want payer %s", aws.ToString(m.AccountId), pays, c.wantPayer)
				}
			}
		})
	}
}

func TestMembershipPaymentAcceptance(t *testing.T) {
	ctx := context.Background()
	ts := start(t)
	a, b := ts.client(acctA), ts.client(acctB)
	// B contributes data only but is configured to pay: it must accept.
	out := must(a.CreateCollaboration(ctx, &cleanrooms.CreateCollaborationInput{Name: aws.String("c"), Description: aws.String("d"),
		CreatorDisplayName: aws.String("A"), CreatorMemberAbilities: []types.MemberAbility{types.MemberAbilityCanQuery},
		CreatorPaymentConfiguration: &types.PaymentConfiguration{QueryCompute: &types.QueryComputePaymentConfig{IsResponsible: aws.Bool(false)}},
		Members: []types.MemberSpecification{{AccountId: aws.String(acctB), DisplayName: aws.String("B"), MemberAbilities: []types.MemberAbility{},
			PaymentConfiguration: &types.PaymentConfiguration{QueryCompute: &types.QueryComputePaymentConfig{IsResponsible: aws.Bool(true)}}}},
		QueryLogStatus: types.CollaborationQueryLogStatusDisabled})).ok(t)
	id := out.Collaboration.Id
	join := func(cl *cleanrooms.Client, pay *bool) error {
		in := &cleanrooms.CreateMembershipInput{CollaborationIdentifier: id, QueryLogStatus: types.MembershipQueryLogStatusDisabled}
		if pay != nil {
			in.PaymentConfiguration = &types.MembershipPaymentConfiguration{QueryCompute: &types.MembershipQueryComputePaymentConfig{IsResponsible: pay}}
		}
		_, err := cl.CreateMembership(ctx, in)
		return err
	}
	wantError(t, join(b, nil), "ValidationException", 400)
	wantError(t, join(b, aws.Bool(false)), "ValidationException", 400)
	wantError(t, join(a, aws.Bool(true)), "ValidationException", 400)
	// Query logging needs the collaboration to allow it.
	_, err := b.CreateMembership(ctx, &cleanrooms.CreateMembershipInput{CollaborationIdentifier: id, QueryLogStatus: types.MembershipQueryLogStatusEnabled,
		PaymentConfiguration: &types.MembershipPaymentConfiguration{QueryCompute: &types.MembershipQueryComputePaymentConfig{IsResponsible: aws.Bool(true)}}})
	wantError(t, err, "ValidationException", 400)
	if err := join(b, aws.Bool(true)); err != nil {
		t.Fatal(err)
	}
	if err := join(a, nil); err != nil {
		t.Fatal(err)
	}
}

func TestTags(t *testing.T) {
	ctx := context.Background()
	ts := start(t)
	a, b := ts.client(acctA), ts.client(acctB)
	coll := newCollaboration(t, ts)
	arn := coll.Arn
	tags := func(cl *cleanrooms.Client, arn *string) map[string]string {
		return must(cl.ListTagsForResource(ctx, &cleanrooms.ListTagsForResourceInput{ResourceArn: arn})).ok(t).Tags
	}
	if got := tags(a, arn); fmt.Sprint(got) != "map[team:measurement]" {
		t.Errorf("creation tags %v", got)
	}
	must(a.TagResource(ctx, &cleanrooms.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"cost": "42", "team": "ads"}})).ok(t)
	must(a.UntagResource(ctx, &cleanrooms.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"cost", "absent"}})).ok(t)
	if got := tags(a, arn); fmt.Sprint(got) != "map[team:ads]" {
		t.Errorf("after tag+untag %v", got)
	}
	// Another account's resource, or one that doesn't exist, is not found.
	_, err := b.ListTagsForResource(ctx, &cleanrooms.ListTagsForResourceInput{ResourceArn: arn})
	wantError(t, err, "ResourceNotFoundException", 404)
	_, err = b.TagResource(ctx, &cleanrooms.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"x": "y"}})
	wantError(t, err, "ResourceNotFoundException", 404)
	_, err = a.ListTagsForResource(ctx, &cleanrooms.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:cleanrooms:us-east-1:" + acctA + ":collaboration/00000000-0000-4000-8000-000000000000")})
	wantError(t, err, "ResourceNotFoundException", 404)
	_, err = a.ListTagsForResource(ctx, &cleanrooms.ListTagsForResourceInput{ResourceArn: aws.String("not-an-arn")})
	wantError(t, err, "ValidationException", 400)

	ms := must(b.CreateMembership(ctx, &cleanrooms.CreateMembershipInput{CollaborationIdentifier: coll.Id, QueryLogStatus: types.MembershipQueryLogStatusDisabled})).ok(t).Membership
	must(b.TagResource(ctx, &cleanrooms.TagResourceInput{ResourceArn: ms.Arn, Tags: map[string]string{"owner": "b"}})).ok(t)
	if got := tags(b, ms.Arn); fmt.Sprint(got) != "map[owner:b]" {
		t.Errorf("membership tags %v", got)
	}
	many := map[string]string{}
	for i := 0; i < 50; i++ {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	_, err = b.TagResource(ctx, &cleanrooms.TagResourceInput{ResourceArn: ms.Arn, Tags: many})
	wantError(t, err, "ValidationException", 400)
}

// TestConcurrentJoinsExactlyOneWins races 32 CreateMembership calls of one
// account for one collaboration.
func TestConcurrentJoinsExactlyOneWins(t *testing.T) {
	ctx := context.Background()
	ts := start(t)
	coll := newCollaboration(t, ts)
	var wg sync.WaitGroup
	results := make([]error, 32)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, results[i] = ts.client(acctB).CreateMembership(ctx, &cleanrooms.CreateMembershipInput{
				CollaborationIdentifier: coll.Id, QueryLogStatus: types.MembershipQueryLogStatusDisabled})
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range results {
		if err == nil {
			wins++
			continue
		}
		if e := errorOf(t, err); e.code != "ConflictException" || e.status != 409 {
			t.Errorf("loser got %s %d: %v", e.code, e.status, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d CreateMembership calls succeeded, want exactly 1", wins)
	}
	if l := must(ts.client(acctB).ListMemberships(ctx, &cleanrooms.ListMembershipsInput{})).ok(t).MembershipSummaries; len(l) != 1 {
		t.Errorf("%d memberships listed, want 1", len(l))
	}
}

func TestUnimplementedOperationAnswers501(t *testing.T) {
	ts := start(t)
	_, err := ts.client(acctA).ListPrivacyBudgetTemplates(context.Background(), &cleanrooms.ListPrivacyBudgetTemplatesInput{
		MembershipIdentifier: aws.String("00000000-0000-4000-8000-000000000000")})
	e := wantError(t, err, "NotImplementedException", 501)
	if !strings.Contains(e.err.Error(), "ListPrivacyBudgetTemplates") {
		t.Errorf("message %q does not name the operation", e.err)
	}
}

// collaborationWith is a minimal collaboration inviting member.
func collaborationWith(member string) *cleanrooms.CreateCollaborationInput {
	return &cleanrooms.CreateCollaborationInput{Name: aws.String("c"), Description: aws.String("d"), CreatorDisplayName: aws.String("creator"),
		CreatorMemberAbilities: []types.MemberAbility{types.MemberAbilityCanQuery, types.MemberAbilityCanReceiveResults},
		Members:                []types.MemberSpecification{{AccountId: aws.String(member), DisplayName: aws.String("member"), MemberAbilities: []types.MemberAbility{}}},
		QueryLogStatus:         types.CollaborationQueryLogStatusDisabled}
}
