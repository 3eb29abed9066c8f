package cleanrooms

import (
	"context"
	"path/filepath"
	"testing"

	api "github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/api/glueapi"
	"github.com/cleanroomsd/cleanroomsd/internal/engine"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/glue"
	"github.com/cleanroomsd/cleanroomsd/internal/identity"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
	"github.com/cleanroomsd/cleanroomsd/internal/store/sqlitestore"
)

func as(account string) context.Context {
	return identity.With(context.Background(), identity.Caller{AccountID: account})
}

type result[T any] struct {
	v   T
	err error
}

func must[T any](v T, err error) result[T] { return result[T]{v, err} }

func (r result[T]) ok(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

// TestTaggingLongARNs tags analysis templates and configured table
// associations. Their ARNs are longer than the 100 characters the model
// allows the tag operations' resourceArn, so the server's input validation
// refuses them before the service sees them; the service itself handles
// them.
func TestTaggingLongARNs(t *testing.T) {
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := New(Config{Store: st, Quotas: DefaultQuotas(), SQL: oneTableAnalyzer{}})
	g := glue.New(st)
	const a, b = "111111111111", "222222222222"

	coll := must(s.CreateCollaboration(as(a), &api.CreateCollaborationInput{Name: "c", Description: "d", CreatorDisplayName: "A",
		CreatorMemberAbilities: []api.MemberAbility{api.MemberAbilityCanQuery, api.MemberAbilityCanReceiveResults},
		Members:                []api.MemberSpecification{{AccountId: b, DisplayName: "B", MemberAbilities: []api.MemberAbility{}}},
		QueryLogStatus:         api.CollaborationQueryLogStatusDisabled})).ok(t).Collaboration
	ms := must(s.CreateMembership(as(a), &api.CreateMembershipInput{CollaborationIdentifier: coll.Id,
		QueryLogStatus: api.MembershipQueryLogStatusDisabled})).ok(t).Membership
	must(g.CreateDatabase(as(a), &glueapi.CreateDatabaseInput{DatabaseInput: &glueapi.DatabaseInput{Name: "db"}})).ok(t)
	must(g.CreateTable(as(a), &glueapi.CreateTableInput{DatabaseName: "db", TableInput: &glueapi.TableInput{Name: "t",
		StorageDescriptor: &glueapi.StorageDescriptor{Columns: []glueapi.Column{{Name: "id", Type: ptr("string")}}}}})).ok(t)
	ct := must(s.CreateConfiguredTable(as(a), &api.CreateConfiguredTableInput{Name: "t", AllowedColumns: []string{"id"},
		AnalysisMethod: api.AnalysisMethodDirectQuery, TableReference: &api.TableReference{Glue: &api.GlueTableReference{DatabaseName: "db", TableName: "t"}}})).ok(t).ConfiguredTable
	assoc := must(s.CreateConfiguredTableAssociation(as(a), &api.CreateConfiguredTableAssociationInput{Name: "t", MembershipIdentifier: ms.Id,
		ConfiguredTableIdentifier: ct.Id, RoleArn: "arn:aws:iam::111111111111:role/cleanrooms", Tags: map[string]string{"k": "assoc"}})).ok(t).ConfiguredTableAssociation
	tmpl := must(s.CreateAnalysisTemplate(as(a), &api.CreateAnalysisTemplateInput{Name: "q", MembershipIdentifier: ms.Id, Format: api.AnalysisFormatSql,
		Source: &api.AnalysisSource{Text: ptr("SELECT COUNT(*) FROM t")}, Tags: map[string]string{"k": "tmpl"}})).ok(t).AnalysisTemplate

	for arn, want := range map[string]string{assoc.Arn: "assoc", tmpl.Arn: "tmpl"} {
		if got := must(s.ListTagsForResource(as(a), &api.ListTagsForResourceInput{ResourceArn: arn})).ok(t).Tags; len(got) != 1 || got["k"] != want {
			t.Errorf("%s: creation tags %v", arn, got)
		}
		must(s.TagResource(as(a), &api.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"x": "1"}})).ok(t)
		must(s.UntagResource(as(a), &api.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"k"}})).ok(t)
		if got := must(s.ListTagsForResource(as(a), &api.ListTagsForResourceInput{ResourceArn: arn})).ok(t).Tags; len(got) != 1 || got["x"] != "1" {
			t.Errorf("%s: tags %v", arn, got)
		}
		if _, err := s.ListTagsForResource(as(b), &api.ListTagsForResourceInput{ResourceArn: arn}); fault.KindOf(err) != fault.NotFound {
			t.Errorf("%s: another account lists its tags: %v", arn, err)
		}
	}
	other := "00000000-0000-4000-8000-000000000000"
	for _, arn := range []string{
		"arn:aws:cleanrooms:us-east-1:" + a + ":membership/" + other + "/analysistemplate/" + tmpl.Id,
		"arn:aws:cleanrooms:us-east-1:" + a + ":membership/" + other + "/configuredtableassociation/" + assoc.Id,
		"arn:aws:cleanrooms:us-east-1:" + a + ":configuredtableassociation/" + ms.Id + "/" + assoc.Id,
		"arn:aws:cleanrooms:us-east-1:" + a + ":membership/" + ms.Id + "/idmappingtable/" + assoc.Id,
		"arn:aws:cleanrooms:us-east-1:" + a + ":configuredtable/" + other,
	} {
		if _, err := s.TagResource(as(a), &api.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"x": "1"}}); fault.KindOf(err) != fault.NotFound {
			t.Errorf("%s: tagged: %v", arn, err)
		}
	}
	// Deleting a resource deletes its tags.
	must(s.DeleteAnalysisTemplate(as(a), &api.DeleteAnalysisTemplateInput{MembershipIdentifier: ms.Id, AnalysisTemplateIdentifier: tmpl.Id})).ok(t)
	if n, err := countTags(s, tmpl.Arn); err != nil || n != 0 {
		t.Errorf("tags left after deleting the template: %d %v", n, err)
	}
}

func countTags(s *Service, arn string) (int, error) {
	var n int
	err := s.store.View(context.Background(), func(tx store.Tx) error {
		tags, _, err := readTags(context.Background(), tx, arn)
		n = len(tags)
		return err
	})
	return n, err
}

// oneTableAnalyzer stands in for the engine: every query reads table t and
// uses no parameters.
type oneTableAnalyzer struct{}

func (oneTableAnalyzer) Analyze(context.Context, string) (*engine.Analysis, error) {
	return &engine.Analysis{Tables: []string{"t"}}, nil
}
