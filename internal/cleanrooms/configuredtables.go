package cleanrooms

import (
	"context"
	"strings"

	api "github.com/cleanroomsd/cleanroomsd/internal/api/cleanroomsapi"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/glue"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
)

func noConfiguredTable(id string) *fault.Error {
	return fault.Missing(string(api.ResourceTypeConfiguredTable), id, "Configured table %s does not exist", id)
}

// ownConfiguredTable returns the caller's configured table. Another
// account's table is as invisible as one that does not exist.
func ownConfiguredTable(ctx context.Context, tx store.Tx, id, account string) (*configuredTable, error) {
	t, err := getConfiguredTable(ctx, tx, id)
	if isNotFound(err) || (err == nil && t.rec.Account != account) {
		return nil, noConfiguredTable(id)
	}
	return t, err
}

// checkTableReference accepts the table references cleanroomsd can read:
// AWS Glue tables of the caller's catalog in this region.
func (s *Service) checkTableReference(ref *api.TableReference) error {
	switch {
	case ref == nil:
		return invalid("tableReference", "tableReference is required")
	case ref.Athena != nil:
		return invalid("tableReference.athena", "Only AWS Glue tables are supported by cleanroomsd; Athena table references are not")
	case ref.Snowflake != nil:
		return invalid("tableReference.snowflake", "Only AWS Glue tables are supported by cleanroomsd; Snowflake table references are not")
	case ref.Glue == nil:
		return invalid("tableReference", "Only AWS Glue tables are supported by cleanroomsd")
	}
	if r := ref.Glue.Region; r != nil && string(*r) != s.region {
		return invalid("tableReference.glue.region", "The Glue table must be in this Region (%s); cleanroomsd serves one catalog per account", s.region)
	}
	return nil
}

// checkAnalysisMethod accepts SQL queries only: PySpark jobs are not
// supported, so neither are DIRECT_JOB and MULTIPLE, nor the selection of
// analysis methods that MULTIPLE makes (AWS wants at least two).
func checkAnalysisMethod(method api.AnalysisMethod, selected []api.SelectedAnalysisMethod) error {
	if method != api.AnalysisMethodDirectQuery {
		return invalid("analysisMethod", "Analysis method %s runs PySpark jobs, which cleanroomsd does not support; use DIRECT_QUERY", method)
	}
	for _, m := range selected {
		if m == api.SelectedAnalysisMethodDirectJob {
			return invalid("selectedAnalysisMethods", "DIRECT_JOB runs PySpark jobs, which cleanroomsd does not support")
		}
	}
	if len(selected) > 0 {
		return invalid("selectedAnalysisMethods", "selectedAnalysisMethods chooses among the methods of the MULTIPLE analysis method and needs at least two; with DIRECT_QUERY leave it out")
	}
	return nil
}

// checkAllowedColumns refuses duplicates and applies the column quota.
func (s *Service) checkAllowedColumns(cols []string) error {
	if err := noDuplicates("allowedColumns", cols); err != nil {
		return err
	}
	if q := s.quotas.ColumnsPerConfiguredTable; len(cols) > q {
		return fault.Quota(quotaColumns, float64(q))
	}
	return nil
}

// noDuplicates refuses a list naming an element twice.
func noDuplicates[T ~string](field string, list []T) error {
	seen := map[T]bool{}
	for _, x := range list {
		if seen[x] {
			return invalid(field, "%s lists %s more than once", field, x)
		}
		seen[x] = true
	}
	return nil
}

// resolveColumns reads the referenced Glue table from the owner's catalog
// and returns the allowed columns with their types. Glue folds names to
// lower case, so names compare without case.
func resolveColumns(ctx context.Context, tx store.Tx, account string, ref *api.GlueTableReference, allowed []string) ([]resolvedColumn, error) {
	t, err := glue.GetTable(ctx, tx, account, ref.DatabaseName, ref.TableName)
	if isNotFound(err) {
		field := "tableReference.glue.tableName"
		if strings.HasPrefix(fault.As(err).Message, "Database ") {
			field = "tableReference.glue.databaseName"
			return nil, invalid(field, "Glue database %s does not exist in account %s's catalog", ref.DatabaseName, account)
		}
		return nil, invalid(field, "Glue table %s does not exist in database %s of account %s's catalog", ref.TableName, ref.DatabaseName, account)
	}
	if err != nil {
		return nil, err
	}
	type glueColumn struct {
		typ       *string
		partition bool
	}
	have := map[string]glueColumn{}
	if t.StorageDescriptor != nil {
		for _, c := range t.StorageDescriptor.Columns {
			have[strings.ToLower(c.Name)] = glueColumn{typ: c.Type}
		}
	}
	for _, c := range t.PartitionKeys {
		have[strings.ToLower(c.Name)] = glueColumn{typ: c.Type, partition: true}
	}
	var missing []string
	out := make([]resolvedColumn, 0, len(allowed))
	for _, name := range allowed {
		c, ok := have[strings.ToLower(name)]
		if !ok {
			missing = append(missing, name)
			continue
		}
		if c.typ == nil || *c.typ == "" {
			return nil, invalid("allowedColumns", "Column %s of Glue table %s.%s has no type", name, ref.DatabaseName, ref.TableName)
		}
		out = append(out, resolvedColumn{Name: name, Type: *c.typ, Partition: c.partition})
	}
	if len(missing) > 0 {
		return nil, invalid("allowedColumns", "Allowed columns %s are not columns of Glue table %s.%s",
			strings.Join(missing, ", "), ref.DatabaseName, ref.TableName)
	}
	return out, nil
}

func (s *Service) configuredTableView(t *configuredTable) *api.ConfiguredTable {
	d := &t.data
	ref := d.TableReference
	return &api.ConfiguredTable{
		Id:                      t.rec.ID,
		Arn:                     s.configuredTableARN(t.rec.Account, t.rec.ID),
		Name:                    d.Name,
		Description:             d.Description,
		TableReference:          &ref,
		CreateTime:              ts(t.rec.CreateTime),
		UpdateTime:              ts(t.rec.UpdateTime),
		AnalysisRuleTypes:       t.ruleTypes(),
		AnalysisMethod:          d.AnalysisMethod,
		AllowedColumns:          nonNil(d.AllowedColumns),
		SelectedAnalysisMethods: d.SelectedAnalysisMethods,
	}
}

// ruleTypes lists the table's analysis rule types: none or one.
func (t *configuredTable) ruleTypes() []api.ConfiguredTableAnalysisRuleType {
	if t.data.Rule == nil {
		return []api.ConfiguredTableAnalysisRuleType{}
	}
	return []api.ConfiguredTableAnalysisRuleType{t.data.Rule.Type}
}

func (s *Service) CreateConfiguredTable(ctx context.Context, in *api.CreateConfiguredTableInput) (*api.CreateConfiguredTableOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.checkTableReference(in.TableReference); err != nil {
		return nil, err
	}
	if err := checkAnalysisMethod(in.AnalysisMethod, in.SelectedAnalysisMethods); err != nil {
		return nil, err
	}
	if err := s.checkAllowedColumns(in.AllowedColumns); err != nil {
		return nil, err
	}
	if err := checkTags("tags", in.Tags); err != nil {
		return nil, err
	}
	var out *api.ConfiguredTable
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if n, err := tx.Count(ctx, kindConfiguredTable, store.Filter{Account: account}); err != nil {
			return err
		} else if q := s.quotas.ConfiguredTablesPerAccount; n >= q {
			return fault.Quota(quotaTables, float64(q))
		}
		cols, err := resolveColumns(ctx, tx, account, in.TableReference.Glue, in.AllowedColumns)
		if err != nil {
			return err
		}
		now := s.timestamp()
		t := &configuredTable{
			rec: &store.Record{Kind: kindConfiguredTable, ID: s.newID(), Account: account, CreateTime: now, UpdateTime: now},
			data: configuredTableData{
				Name:                    in.Name,
				Description:             in.Description,
				TableReference:          *in.TableReference,
				AllowedColumns:          in.AllowedColumns,
				AnalysisMethod:          in.AnalysisMethod,
				SelectedAnalysisMethods: in.SelectedAnalysisMethods,
				Columns:                 cols,
			},
		}
		t.rec.Data = encode(t.data)
		if err := tx.Insert(ctx, t.rec); err != nil {
			return err
		}
		if err := putTags(ctx, tx, s.configuredTableARN(account, t.rec.ID), account, in.Tags); err != nil {
			return err
		}
		out = s.configuredTableView(t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.CreateConfiguredTableOutput{ConfiguredTable: out}, nil
}

func (s *Service) GetConfiguredTable(ctx context.Context, in *api.GetConfiguredTableInput) (*api.GetConfiguredTableOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *api.ConfiguredTable
	err = s.store.View(ctx, func(tx store.Tx) error {
		t, err := ownConfiguredTable(ctx, tx, in.ConfiguredTableIdentifier, account)
		if err != nil {
			return err
		}
		out = s.configuredTableView(t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.GetConfiguredTableOutput{ConfiguredTable: out}, nil
}

func (s *Service) ListConfiguredTables(ctx context.Context, in *api.ListConfiguredTablesInput) (*api.ListConfiguredTablesOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	pg, err := readPage(in.NextToken, in.MaxResults, "ListConfiguredTables")
	if err != nil {
		return nil, err
	}
	out := &api.ListConfiguredTablesOutput{}
	err = s.store.View(ctx, func(tx store.Tx) error {
		out.ConfiguredTableSummaries = []api.ConfiguredTableSummary{}
		recs, err := tx.List(ctx, kindConfiguredTable, store.Filter{Account: account}, pg.Query())
		if err != nil {
			return err
		}
		recs, out.NextToken = pg.Next(recs)
		for _, rec := range recs {
			t := &configuredTable{rec: rec}
			if err := decode(rec, &t.data); err != nil {
				return err
			}
			v := s.configuredTableView(t)
			out.ConfiguredTableSummaries = append(out.ConfiguredTableSummaries, api.ConfiguredTableSummary{
				Id: v.Id, Arn: v.Arn, Name: v.Name, CreateTime: v.CreateTime, UpdateTime: v.UpdateTime,
				AnalysisRuleTypes: v.AnalysisRuleTypes, AnalysisMethod: v.AnalysisMethod, SelectedAnalysisMethods: v.SelectedAnalysisMethods,
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateConfiguredTable changes a configured table. A new table reference or
// new allowed columns are resolved in the owner's Glue catalog again, and
// the table's analysis rule must still hold for the new allowed columns.
func (s *Service) UpdateConfiguredTable(ctx context.Context, in *api.UpdateConfiguredTableInput) (*api.UpdateConfiguredTableOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if in.TableReference != nil {
		if err := s.checkTableReference(in.TableReference); err != nil {
			return nil, err
		}
	}
	if in.AllowedColumns != nil {
		if err := s.checkAllowedColumns(in.AllowedColumns); err != nil {
			return nil, err
		}
	}
	var out *api.ConfiguredTable
	err = s.store.Update(ctx, func(tx store.Tx) error {
		t, err := ownConfiguredTable(ctx, tx, in.ConfiguredTableIdentifier, account)
		if err != nil {
			return err
		}
		d := &t.data
		if in.Name != nil {
			d.Name = *in.Name
		}
		if in.Description != nil {
			d.Description = in.Description
		}
		if in.AnalysisMethod != nil || in.SelectedAnalysisMethods != nil {
			method, selected := d.AnalysisMethod, d.SelectedAnalysisMethods
			if in.AnalysisMethod != nil {
				method = *in.AnalysisMethod
			}
			if in.SelectedAnalysisMethods != nil {
				selected = in.SelectedAnalysisMethods
			}
			if err := checkAnalysisMethod(method, selected); err != nil {
				return err
			}
			d.AnalysisMethod, d.SelectedAnalysisMethods = method, selected
		}
		if in.TableReference != nil || in.AllowedColumns != nil {
			if in.TableReference != nil {
				d.TableReference = *in.TableReference
			}
			if in.AllowedColumns != nil {
				d.AllowedColumns = in.AllowedColumns
			}
			if d.Columns, err = resolveColumns(ctx, tx, account, d.TableReference.Glue, d.AllowedColumns); err != nil {
				return err
			}
			if d.Rule != nil {
				if err := checkTableRule(d.Rule.Type, &d.Rule.Policy, d.AllowedColumns, false); err != nil {
					return err
				}
			}
		}
		if err := t.save(ctx, tx, s.timestamp()); err != nil {
			return err
		}
		out = s.configuredTableView(t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.UpdateConfiguredTableOutput{ConfiguredTable: out}, nil
}

// DeleteConfiguredTable deletes a configured table and its analysis rule. A
// table that is associated with a collaboration can't be deleted until its
// associations are: ConflictException INVALID_STATE, as the associations
// belong to memberships, not to the table.
func (s *Service) DeleteConfiguredTable(ctx context.Context, in *api.DeleteConfiguredTableInput) (*api.DeleteConfiguredTableOutput, error) {
	account, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		t, err := ownConfiguredTable(ctx, tx, in.ConfiguredTableIdentifier, account)
		if err != nil {
			return err
		}
		if n := len(t.data.Associations); n > 0 {
			ids := sortedKeys(t.data.Associations)
			return fault.Conflicting(string(api.ConflictExceptionReasonInvalidState), string(api.ResourceTypeConfiguredTable), t.rec.ID,
				"Configured table %s is associated with %d collaboration(s) (configured table associations %s); delete the associations first",
				t.rec.ID, n, strings.Join(ids, ", "))
		}
		if err := tx.Delete(ctx, kindConfiguredTable, t.rec.ID); err != nil {
			return err
		}
		return deleteTags(ctx, tx, s.configuredTableARN(account, t.rec.ID))
	})
	if err != nil {
		return nil, err
	}
	return &api.DeleteConfiguredTableOutput{}, nil
}
