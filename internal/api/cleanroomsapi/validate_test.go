package cleanroomsapi

import (
	"strings"
	"testing"

	"github.com/cleanroomsd/cleanroomsd/internal/wire"
)

func TestPatternsMatchWholeValues(t *testing.T) {
	cases := []struct {
		name string
		p    *wire.Pattern
		in   string
		want bool
	}{
		{"display name", pattern15, "Alice's team 🚀", true},
		{"display name all blank", pattern15, "   ", false},
		{"display name control char", pattern15, "bad\x01name", false},
		{"display name newline", pattern15, "two\nlines", false},
		{"description newline", pattern14, "two\nlines", true},
		{"bucket", pattern31, "my-results.bucket", true},
		{"bucket ip", pattern31, "192.168.1.1", false},
		{"bucket upper", pattern31, "My_Bucket", false},
		{"account digits", pattern0, "111111111111", true},
		{"account letters", pattern0, "11111111111a", false},
		{"uuid", pattern5, "0b7f3c3e-9d2a-4a7e-8a53-3f1c2d4e5f60", true},
		{"uuid upper", pattern5, "0B7F3C3E-9D2A-4A7E-8A53-3F1C2D4E5F60", false},
		{"role", pattern33, "arn:aws:iam::111111111111:role/results", true},
	}
	for _, c := range cases {
		if got := c.p.MatchString(c.in); got != c.want {
			t.Errorf("%s: %q against %s = %v, want %v", c.name, c.in, c.p.Source, got, c.want)
		}
	}
}

func TestValidateCollectsEveryFailure(t *testing.T) {
	in := &CreateCollaborationInput{
		Name:                   strings.Repeat("n", 101),
		Members:                []MemberSpecification{{AccountId: "12", DisplayName: "ok"}},
		CreatorMemberAbilities: []MemberAbility{"CAN_FLY"},
		QueryLogStatus:         "MAYBE",
	}
	var v wire.Validator
	in.Validate(&v)
	got := map[string]string{}
	for _, e := range v.Errors {
		got[e.Path] = e.Message
	}
	want := []string{"name", "description", "creatorDisplayName", "queryLogStatus", "creatorMemberAbilities[0]",
		"members[0].accountId", "members[0].memberAbilities"}
	for _, p := range want {
		if _, ok := got[p]; !ok {
			t.Errorf("no failure reported at %s; got %v", p, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d failures %v, want %d", len(got), got, len(want))
	}
}
