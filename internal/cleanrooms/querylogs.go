package cleanrooms

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	api "github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
)

// runInfo is what a query's run learned that its log entries report.
type runInfo struct {
	tables []loggedTable
}

// loggedTable is a configured table a query read.
type loggedTable struct {
	name, owner, configuredTableID, rule string
}

// queryLogEntry is one query log event, with the fields AWS documents for
// Clean Rooms query logs. configuredTableId is only in the table owner's
// entries.
type queryLogEntry struct {
	EventID             string            `json:"eventId"`
	EventTimestamp      string            `json:"eventTimestamp"`
	CollaborationID     string            `json:"collaborationId"`
	MembershipID        string            `json:"membershipId"`
	QueryRunner         string            `json:"queryRunnerAccountId"`
	QueryText           string            `json:"queryText"`
	Status              string            `json:"status"`
	ErrorCode           string            `json:"errorCode,omitempty"`
	ErrorMessage        string            `json:"errorMessage,omitempty"`
	SchemaName          string            `json:"schemaName,omitempty"`
	AnalysisRule        string            `json:"analysisRule,omitempty"`
	ConfiguredTableID   string            `json:"configuredTableId,omitempty"`
	AnalysisTemplateArn string            `json:"analysisTemplateArn,omitempty"`
	Parameters          map[string]string `json:"parameters,omitempty"`
}

// writeQueryLogs writes the log entries of an ended query, when the
// collaboration logs queries: the query runner and every result receiver
// get an entry per table read, and each table's owner an entry per table
// of theirs, each in the stream of its membership if that membership logs
// queries too. A failure to log is logged, never the query's failure.
func (s *Service) writeQueryLogs(ctx context.Context, q *protectedQuery, info *runInfo) {
	if s.queries.Logs == nil {
		return
	}
	type target struct{ account, membership string }
	entries := map[target][]string{}
	err := s.store.View(ctx, func(tx store.Tx) error {
		c, err := getCollaboration(ctx, tx, q.data.CollaborationID)
		if err != nil || c.data.QueryLogStatus != api.CollaborationQueryLogStatusEnabled {
			return err
		}
		v, err := loadCollabView(ctx, tx, c)
		if err != nil {
			return err
		}
		logsFor := func(account string) (string, bool) {
			m := v.members[account]
			if m == nil || m.data.MembershipID == "" {
				return "", false
			}
			ms, err := getMembership(ctx, tx, m.data.MembershipID)
			if err != nil || ms.data.QueryLogStatus != api.MembershipQueryLogStatusEnabled {
				return "", false
			}
			return ms.rec.ID, true
		}
		readers := []string{q.rec.Account}
		for _, d := range q.data.Deliveries {
			if !slices.Contains(readers, d.Account) {
				readers = append(readers, d.Account)
			}
		}
		base := queryLogEntry{EventID: q.rec.ID, EventTimestamp: q.rec.UpdateTime.UTC().Format(time.RFC3339Nano),
			CollaborationID: c.rec.ID, QueryRunner: q.rec.Account, QueryText: q.data.SQL, Status: q.rec.Status,
			AnalysisTemplateArn: q.data.Template}
		if q.data.Template != "" {
			base.Parameters = q.data.Params
		}
		if e := q.data.Error; e != nil {
			base.ErrorCode, base.ErrorMessage = e.Code, e.Message
		}
		add := func(account string, e queryLogEntry) {
			ms, ok := logsFor(account)
			if !ok {
				return
			}
			e.MembershipID = ms
			b, _ := json.Marshal(e)
			entries[target{account, ms}] = append(entries[target{account, ms}], string(b))
		}
		tables := info.tables
		if len(tables) == 0 {
			// The query never got as far as its tables: its runner still
			// learns how it ended.
			add(q.rec.Account, base)
			return nil
		}
		for _, t := range tables {
			e := base
			e.SchemaName, e.AnalysisRule = t.name, t.rule
			for _, r := range readers {
				add(r, e)
			}
			if !slices.Contains(readers, t.owner) {
				e.ConfiguredTableID = t.configuredTableID
				add(t.owner, e)
			}
		}
		return nil
	})
	if err != nil {
		s.log.Warn("reading what query logs need", "id", q.rec.ID, "error", err)
		return
	}
	for t, msgs := range entries {
		if err := s.queries.Logs.WriteQueryLog(ctx, t.account, t.membership, q.rec.UpdateTime, msgs); err != nil {
			s.log.Warn("writing a query log", "id", q.rec.ID, "account", t.account, "error", err)
		}
	}
}

// ensureQueryLogStream creates a membership's query log stream when its
// query logging is on, as AWS creates the log group when a member joins.
func (s *Service) ensureQueryLogStream(ctx context.Context, account string, m *api.Membership) {
	if s.queries.Logs == nil || m == nil || m.QueryLogStatus != api.MembershipQueryLogStatusEnabled {
		return
	}
	if err := s.queries.Logs.WriteQueryLog(ctx, account, m.Id, s.timestamp(), nil); err != nil {
		s.log.Warn("creating a query log stream", "membership", m.Id, "error", err)
	}
}
