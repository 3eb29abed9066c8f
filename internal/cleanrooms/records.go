package cleanrooms

import (
	"context"
	"encoding/json"
	"strings"
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
	// kindConfiguredTable: ID configured table ID, Account the owner. Its
	// analysis rule lives in its body.
	kindConfiguredTable = "configuredtable"
	// kindAssociation: a configured table association. ID association ID,
	// Parent collaboration ID, Account the owner (one membership per account
	// and collaboration, so Parent and Account name the membership),
	// UniqueKey "collabID/lower(name)": the name is the table name in the
	// collaboration's SQL, so it is unique there. Its collaboration analysis
	// rule lives in its body.
	kindAssociation = "configuredtableassociation"
	// kindAnalysisTemplate: ID template ID, Parent collaboration ID, Account
	// the owner (as for kindAssociation).
	kindAnalysisTemplate = "analysistemplate"
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

	// What a membership shows of its collaboration and member, kept with it
	// so that reading a membership is one lookup. Abilities never change;
	// UpdateCollaboration refreshes the name.
	CollaborationName               string                 `json:"collaborationName"`
	CollaborationCreatorAccountID   string                 `json:"collaborationCreatorAccountId"`
	CollaborationCreatorDisplayName string                 `json:"collaborationCreatorDisplayName"`
	Abilities                       []api.MemberAbility    `json:"abilities"`
	MLAbilities                     *api.MLMemberAbilities `json:"mlAbilities,omitempty"`
}

// configuredTableData is the body of a configured table record.
type configuredTableData struct {
	Name                    string                       `json:"name"`
	Description             *string                      `json:"description,omitempty"`
	TableReference          api.TableReference           `json:"tableReference"`
	AllowedColumns          []string                     `json:"allowedColumns"`
	AnalysisMethod          api.AnalysisMethod           `json:"analysisMethod"`
	SelectedAnalysisMethods []api.SelectedAnalysisMethod `json:"selectedAnalysisMethods,omitempty"`
	// Columns are the allowed columns as resolved in the Glue table when the
	// reference or the allowed columns last changed, in allowedColumns order.
	Columns []resolvedColumn `json:"columns"`
	// Rule is the table's analysis rule; there is at most one.
	Rule *tableRule `json:"rule,omitempty"`
	// Associations maps the table's associations' IDs to their membership
	// IDs: a table is associated with a membership at most once and can't be
	// deleted while associated.
	Associations map[string]string `json:"associations,omitempty"`
}

// resolvedColumn is an allowed column with its Glue type.
type resolvedColumn struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Partition bool   `json:"partition,omitempty"`
}

// tableRule is a configured table analysis rule.
type tableRule struct {
	Type       api.ConfiguredTableAnalysisRuleType   `json:"type"`
	Policy     api.ConfiguredTableAnalysisRulePolicy `json:"policy"`
	CreateTime time.Time                             `json:"createTime"`
	UpdateTime time.Time                             `json:"updateTime"`
}

// associationData is the body of a configured table association record.
type associationData struct {
	MembershipID      string  `json:"membershipId"`
	Name              string  `json:"name"`
	Description       *string `json:"description,omitempty"`
	ConfiguredTableID string  `json:"configuredTableId"`
	RoleArn           string  `json:"roleArn"`
	// Rule is the collaboration analysis rule; there is at most one, of the
	// configured table's rule type.
	Rule *associationRule `json:"rule,omitempty"`
}

// associationRule is a configured table association analysis rule.
type associationRule struct {
	Type       api.ConfiguredTableAssociationAnalysisRuleType   `json:"type"`
	Policy     api.ConfiguredTableAssociationAnalysisRulePolicy `json:"policy"`
	CreateTime time.Time                                        `json:"createTime"`
	UpdateTime time.Time                                        `json:"updateTime"`
}

// analysisTemplateData is the body of an analysis template record.
type analysisTemplateData struct {
	MembershipID              string                         `json:"membershipId"`
	Name                      string                         `json:"name"`
	Description               *string                        `json:"description,omitempty"`
	Format                    api.AnalysisFormat             `json:"format"`
	Text                      string                         `json:"text"`
	Parameters                []api.AnalysisParameter        `json:"parameters,omitempty"`
	ReferencedTables          []string                       `json:"referencedTables"`
	ErrorMessageConfiguration *api.ErrorMessageConfiguration `json:"errorMessageConfiguration,omitempty"`
	// DifferentialPrivacy records that a referenced table had a
	// differential privacy rule when the template was created, which is
	// when AWS validates templates.
	DifferentialPrivacy bool `json:"differentialPrivacy,omitempty"`
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

type configuredTable struct {
	rec  *store.Record
	data configuredTableData
}

type association struct {
	rec  *store.Record
	data associationData
}

type analysisTemplate struct {
	rec  *store.Record
	data analysisTemplateData
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

func getConfiguredTable(ctx context.Context, tx store.Tx, id string) (*configuredTable, error) {
	rec, err := tx.Get(ctx, kindConfiguredTable, id)
	if err != nil {
		return nil, err
	}
	t := &configuredTable{rec: rec}
	return t, decode(rec, &t.data)
}

func associationOf(rec *store.Record) (*association, error) {
	a := &association{rec: rec}
	return a, decode(rec, &a.data)
}

func getAssociation(ctx context.Context, tx store.Tx, id string) (*association, error) {
	rec, err := tx.Get(ctx, kindAssociation, id)
	if err != nil {
		return nil, err
	}
	return associationOf(rec)
}

func analysisTemplateOf(rec *store.Record) (*analysisTemplate, error) {
	t := &analysisTemplate{rec: rec}
	return t, decode(rec, &t.data)
}

func (t *configuredTable) save(ctx context.Context, tx store.Tx, now time.Time) error {
	t.rec.UpdateTime = now
	t.rec.Data = encode(t.data)
	return tx.Update(ctx, t.rec)
}

// saveQuietly stores the record without touching its update time, for
// bookkeeping (the association index) that is not a change of the resource.
func (t *configuredTable) saveQuietly(ctx context.Context, tx store.Tx) error {
	t.rec.Data = encode(t.data)
	return tx.Update(ctx, t.rec)
}

func (a *association) save(ctx context.Context, tx store.Tx, now time.Time) error {
	a.rec.UpdateTime = now
	a.rec.Data = encode(a.data)
	return tx.Update(ctx, a.rec)
}

func (t *analysisTemplate) save(ctx context.Context, tx store.Tx, now time.Time) error {
	t.rec.UpdateTime = now
	t.rec.Data = encode(t.data)
	return tx.Update(ctx, t.rec)
}

// associationKey is an association's UniqueKey: names are unique in a
// collaboration, compared without case as SQL compares identifiers.
func associationKey(collabID, name string) string { return collabID + "/" + strings.ToLower(name) }
