package cleanrooms

import (
	"context"
	"encoding/json"
	"time"

	api "github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
)

// Record kinds this package stores, and the meaning of their columns.
const (
	// kindCollaboration: ID collaboration ID, Account creator, Status
	// statusActive or statusDeleted.
	kindCollaboration = "collaboration"
	// kindMember: ID "collabID/account", Parent collaboration ID, Account the
	// member, Status a MemberStatus (or statusDeleted once the collaboration
	// is gone, which hides it from every list).
	kindMember = "member"
	// kindMembership: ID membership ID, Parent collaboration ID, Account the
	// member, Status a MembershipStatus, UniqueKey "collabID/account" (one
	// membership per account and collaboration, ever).
	kindMembership = "membership"
	// kindTags: ID the resource ARN, Account its owner.
	kindTags = "tags"
)

const (
	statusActive  = "ACTIVE"
	statusDeleted = "DELETED"
)

// collaborationData is the body of a collaboration record.
type collaborationData struct {
	Name                    string                          `json:"name"`
	Description             string                          `json:"description"`
	CreatorDisplayName      string                          `json:"creatorDisplayName"`
	QueryLogStatus          api.CollaborationQueryLogStatus `json:"queryLogStatus"`
	JobLogStatus            api.CollaborationJobLogStatus   `json:"jobLogStatus"`
	AnalyticsEngine         api.AnalyticsEngine             `json:"analyticsEngine"`
	DataEncryptionMetadata  *api.DataEncryptionMetadata     `json:"dataEncryptionMetadata,omitempty"`
	AutoApprovedChangeTypes []api.AutoApprovedChangeType    `json:"autoApprovedChangeTypes,omitempty"`
	AllowedResultRegions    []api.SupportedS3Region         `json:"allowedResultRegions,omitempty"`
	IsMetricsEnabled        *bool                           `json:"isMetricsEnabled,omitempty"`
}

// memberData is the body of a member record.
type memberData struct {
	DisplayName string                 `json:"displayName"`
	Abilities   []api.MemberAbility    `json:"abilities"`
	MLAbilities *api.MLMemberAbilities `json:"mlAbilities,omitempty"`
	// Payment is the resolved configuration: exactly one member of a
	// collaboration has queryCompute.isResponsible true when any can query.
	Payment      api.PaymentConfiguration `json:"paymentConfiguration"`
	MembershipID string                   `json:"membershipId,omitempty"`
}

// membershipData is the body of a membership record.
type membershipData struct {
	QueryLogStatus                api.MembershipQueryLogStatus                     `json:"queryLogStatus"`
	JobLogStatus                  api.MembershipJobLogStatus                       `json:"jobLogStatus"`
	DefaultResultConfiguration    *api.MembershipProtectedQueryResultConfiguration `json:"defaultResultConfiguration,omitempty"`
	DefaultJobResultConfiguration *api.MembershipProtectedJobResultConfiguration   `json:"defaultJobResultConfiguration,omitempty"`
	Payment                       api.MembershipPaymentConfiguration               `json:"paymentConfiguration"`
	IsMetricsEnabled              *bool                                            `json:"isMetricsEnabled,omitempty"`
}

// collaboration, member and membership pair a record with its decoded body.
type collaboration struct {
	rec  *store.Record
	data collaborationData
}

type member struct {
	rec  *store.Record
	data memberData
}

type membership struct {
	rec  *store.Record
	data membershipData
}

func memberID(collabID, account string) string { return collabID + "/" + account }

func (m *member) status() api.MemberStatus { return api.MemberStatus(m.rec.Status) }

func (m *member) can(a api.MemberAbility) bool {
	for _, x := range m.data.Abilities {
		if x == a {
			return true
		}
	}
	return false
}

func decode[T any](rec *store.Record, into *T) error {
	if err := json.Unmarshal(rec.Data, into); err != nil {
		return fault.Wrap(fault.Internal, err, "stored %s %s is corrupt", rec.Kind, rec.ID)
	}
	return nil
}

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only plain data types reach here; a failure is a programming error.
		panic(err)
	}
	return b
}

func getCollaboration(ctx context.Context, tx store.Tx, id string) (*collaboration, error) {
	rec, err := tx.Get(ctx, kindCollaboration, id)
	if err != nil {
		return nil, err
	}
	c := &collaboration{rec: rec}
	return c, decode(rec, &c.data)
}

func getMember(ctx context.Context, tx store.Tx, collabID, account string) (*member, error) {
	rec, err := tx.Get(ctx, kindMember, memberID(collabID, account))
	if err != nil {
		return nil, err
	}
	return memberOf(rec)
}

func memberOf(rec *store.Record) (*member, error) {
	m := &member{rec: rec}
	return m, decode(rec, &m.data)
}

func getMembership(ctx context.Context, tx store.Tx, id string) (*membership, error) {
	rec, err := tx.Get(ctx, kindMembership, id)
	if err != nil {
		return nil, err
	}
	return membershipOf(rec)
}

func membershipOf(rec *store.Record) (*membership, error) {
	m := &membership{rec: rec}
	return m, decode(rec, &m.data)
}

func (c *collaboration) save(ctx context.Context, tx store.Tx, now time.Time) error {
	c.rec.UpdateTime = now
	c.rec.Data = encode(c.data)
	return tx.Update(ctx, c.rec)
}

func (m *member) save(ctx context.Context, tx store.Tx, now time.Time) error {
	m.rec.UpdateTime = now
	m.rec.Data = encode(m.data)
	return tx.Update(ctx, m.rec)
}

func (m *membership) save(ctx context.Context, tx store.Tx, now time.Time) error {
	m.rec.UpdateTime = now
	m.rec.Data = encode(m.data)
	return tx.Update(ctx, m.rec)
}

// isNotFound reports whether err is the store's NotFound.
func isNotFound(err error) bool { return fault.KindOf(err) == fault.NotFound }
