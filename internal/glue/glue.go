// Package glue implements the part of the AWS Glue Data Catalog that clean
// rooms need: one catalog per account holding databases and tables, whose
// storage descriptors say where a table's files are and how to read them.
// It implements glueapi.Service and knows nothing of HTTP.
package glue

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/cleanroomsd/cleanroomsd/internal/api/glueapi"
	"github.com/cleanroomsd/cleanroomsd/internal/fault"
	"github.com/cleanroomsd/cleanroomsd/internal/identity"
	"github.com/cleanroomsd/cleanroomsd/internal/pagination"
	"github.com/cleanroomsd/cleanroomsd/internal/store"
	"github.com/cleanroomsd/cleanroomsd/internal/wire"
)

// Record kinds. Glue folds database and table names to lower case, so IDs
// use the folded names.
const (
	// kindDatabase: ID "account/db", Account the catalog owner.
	kindDatabase = "gluedb"
	// kindTable: ID "account/db/table", Parent "account/db", Account the owner.
	kindTable = "gluetable"
)

// defaultPageSize is Glue's default page size for GetDatabases/GetTables.
const defaultPageSize = 100

// Service serves the Glue catalog subset.
type Service struct {
	glueapi.UnimplementedService
	store store.Store
	now   func() time.Time
}

var _ glueapi.Service = (*Service)(nil)

// New returns a Service over st.
func New(st store.Store) *Service {
	return &Service{store: st, now: time.Now}
}

func dbID(account, db string) string { return account + "/" + strings.ToLower(db) }
func tableID(account, db, table string) string {
	return dbID(account, db) + "/" + strings.ToLower(table)
}

// catalog returns the caller's account and checks that catalogID, when
// given, is the caller's own catalog; other accounts' catalogs are invisible.
func catalog(ctx context.Context, catalogID *string) (string, error) {
	c, ok := identity.From(ctx)
	if !ok || c.AccountID == "" {
		return "", fault.Newf(fault.Internal, "request has no authenticated caller")
	}
	if catalogID != nil && *catalogID != c.AccountID {
		return "", fault.Newf(fault.NotFound, "Catalog %s not found", *catalogID)
	}
	return c.AccountID, nil
}

func notFoundDatabase(name string) error {
	return fault.Newf(fault.NotFound, "Database %s not found.", strings.ToLower(name))
}

func notFoundTable(db, name string) error {
	return fault.Newf(fault.NotFound, "Table %s not found in database %s.", strings.ToLower(name), strings.ToLower(db))
}

func invalid(format string, args ...any) error {
	return fault.Newf(fault.Validation, format, args...)
}

func (s *Service) timestamp() wire.Timestamp { return wire.NewTimestamp(s.now().UTC()) }

// GetTable returns the Glue table (db, table) of account, for other
// services (configured tables resolve their Glue references with it). It
// fails with fault.NotFound when there is no such table.
func GetTable(ctx context.Context, tx store.Tx, account, db, table string) (*glueapi.Table, error) {
	rec, err := tx.Get(ctx, kindTable, tableID(account, db, table))
	if fault.KindOf(err) == fault.NotFound {
		if _, err := tx.Get(ctx, kindDatabase, dbID(account, db)); fault.KindOf(err) == fault.NotFound {
			return nil, notFoundDatabase(db)
		}
		return nil, notFoundTable(db, table)
	}
	if err != nil {
		return nil, err
	}
	var t glueapi.Table
	if err := json.Unmarshal(rec.Data, &t); err != nil {
		return nil, fault.Wrap(fault.Internal, err, "stored table %s is corrupt", rec.ID)
	}
	return &t, nil
}

func (s *Service) CreateDatabase(ctx context.Context, in *glueapi.CreateDatabaseInput) (*glueapi.CreateDatabaseOutput, error) {
	account, err := catalog(ctx, in.CatalogId)
	if err != nil {
		return nil, err
	}
	if in.DatabaseInput == nil {
		return nil, invalid("DatabaseInput is required")
	}
	di := in.DatabaseInput
	if di.TargetDatabase != nil || di.FederatedDatabase != nil {
		return nil, invalid("Resource links and federated databases are not supported by cleanroomsd")
	}
	now := s.timestamp()
	db := glueapi.Database{
		Name: strings.ToLower(di.Name), Description: di.Description, LocationUri: di.LocationUri,
		Parameters: di.Parameters, CreateTime: &now, CatalogId: &account,
		CreateTableDefaultPermissions: di.CreateTableDefaultPermissions,
	}
	data, _ := json.Marshal(db)
	err = s.store.Update(ctx, func(tx store.Tx) error {
		err := tx.Insert(ctx, &store.Record{Kind: kindDatabase, ID: dbID(account, di.Name), Account: account,
			CreateTime: now.Time, UpdateTime: now.Time, Data: data})
		if fault.KindOf(err) == fault.Conflict {
			return fault.Newf(fault.Conflict, "Database already exists.")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &glueapi.CreateDatabaseOutput{}, nil
}

func (s *Service) GetDatabase(ctx context.Context, in *glueapi.GetDatabaseInput) (*glueapi.GetDatabaseOutput, error) {
	account, err := catalog(ctx, in.CatalogId)
	if err != nil {
		return nil, err
	}
	var db glueapi.Database
	err = s.store.View(ctx, func(tx store.Tx) error {
		rec, err := tx.Get(ctx, kindDatabase, dbID(account, in.Name))
		if fault.KindOf(err) == fault.NotFound {
			return notFoundDatabase(in.Name)
		}
		if err != nil {
			return err
		}
		return json.Unmarshal(rec.Data, &db)
	})
	if err != nil {
		return nil, err
	}
	return &glueapi.GetDatabaseOutput{Database: &db}, nil
}

func (s *Service) GetDatabases(ctx context.Context, in *glueapi.GetDatabasesInput) (*glueapi.GetDatabasesOutput, error) {
	account, err := catalog(ctx, in.CatalogId)
	if err != nil {
		return nil, err
	}
	pg, err := pagination.Read("NextToken", in.NextToken, in.MaxResults, defaultPageSize, "GetDatabases")
	if err != nil {
		return nil, err
	}
	out := &glueapi.GetDatabasesOutput{}
	err = s.store.View(ctx, func(tx store.Tx) error {
		out.DatabaseList = []glueapi.Database{}
		recs, err := tx.List(ctx, kindDatabase, store.Filter{Account: account}, pg.Query())
		if err != nil {
			return err
		}
		recs, out.NextToken = pg.Next(recs)
		for _, rec := range recs {
			var db glueapi.Database
			if err := json.Unmarshal(rec.Data, &db); err != nil {
				return err
			}
			out.DatabaseList = append(out.DatabaseList, db)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteDatabase deletes a database and, as Glue does, every table in it.
func (s *Service) DeleteDatabase(ctx context.Context, in *glueapi.DeleteDatabaseInput) (*glueapi.DeleteDatabaseOutput, error) {
	account, err := catalog(ctx, in.CatalogId)
	if err != nil {
		return nil, err
	}
	id := dbID(account, in.Name)
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.Delete(ctx, kindDatabase, id); fault.KindOf(err) == fault.NotFound {
			return notFoundDatabase(in.Name)
		} else if err != nil {
			return err
		}
		for {
			recs, err := tx.List(ctx, kindTable, store.Filter{Parent: id}, store.Page{Limit: 100})
			if err != nil {
				return err
			}
			for _, r := range recs {
				if err := tx.Delete(ctx, kindTable, r.ID); err != nil {
					return err
				}
			}
			if len(recs) < 100 {
				return nil
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return &glueapi.DeleteDatabaseOutput{}, nil
}

// tableFromInput builds the stored table from a TableInput.
func tableFromInput(account, db string, ti *glueapi.TableInput, created, updated wire.Timestamp, version int) (glueapi.Table, error) {
	if ti.TargetTable != nil || ti.ViewDefinition != nil {
		return glueapi.Table{}, invalid("Resource links and views are not supported by cleanroomsd")
	}
	if sd := ti.StorageDescriptor; sd != nil {
		seen := map[string]bool{}
		for _, c := range sd.Columns {
			n := strings.ToLower(c.Name)
			if seen[n] {
				return glueapi.Table{}, invalid("Column name %s is duplicated", c.Name)
			}
			seen[n] = true
		}
		if sd.Location != nil && *sd.Location != "" && !strings.HasPrefix(*sd.Location, "s3://") {
			return glueapi.Table{}, invalid("StorageDescriptor.Location must be an s3:// URI")
		}
	}
	tableType := ti.TableType
	if tableType == nil {
		tableType = ptr("EXTERNAL_TABLE")
	}
	return glueapi.Table{
		Name: strings.ToLower(ti.Name), DatabaseName: ptr(strings.ToLower(db)), Description: ti.Description, Owner: ti.Owner,
		CreateTime: &created, UpdateTime: &updated, LastAccessTime: ti.LastAccessTime, LastAnalyzedTime: ti.LastAnalyzedTime,
		Retention: ti.Retention, StorageDescriptor: ti.StorageDescriptor, PartitionKeys: ti.PartitionKeys,
		ViewOriginalText: ti.ViewOriginalText, ViewExpandedText: ti.ViewExpandedText, TableType: tableType,
		Parameters: ti.Parameters, CreatedBy: ptr(fmt.Sprintf("arn:aws:iam::%s:root", account)),
		IsRegisteredWithLakeFormation: ptr(false), CatalogId: &account, VersionId: ptr(fmt.Sprint(version)),
	}, nil
}

func ptr[T any](v T) *T { return &v }

func (s *Service) CreateTable(ctx context.Context, in *glueapi.CreateTableInput) (*glueapi.CreateTableOutput, error) {
	account, err := catalog(ctx, in.CatalogId)
	if err != nil {
		return nil, err
	}
	if in.TableInput == nil {
		return nil, invalid("TableInput is required")
	}
	if in.OpenTableFormatInput != nil {
		return nil, invalid("Open table formats are not supported by cleanroomsd")
	}
	now := s.timestamp()
	t, err := tableFromInput(account, in.DatabaseName, in.TableInput, now, now, 0)
	if err != nil {
		return nil, err
	}
	data, _ := json.Marshal(t)
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(ctx, kindDatabase, dbID(account, in.DatabaseName)); fault.KindOf(err) == fault.NotFound {
			return notFoundDatabase(in.DatabaseName)
		} else if err != nil {
			return err
		}
		err := tx.Insert(ctx, &store.Record{Kind: kindTable, ID: tableID(account, in.DatabaseName, t.Name),
			Parent: dbID(account, in.DatabaseName), Account: account, CreateTime: now.Time, UpdateTime: now.Time, Data: data})
		if fault.KindOf(err) == fault.Conflict {
			return fault.Newf(fault.Conflict, "Table already exists.")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &glueapi.CreateTableOutput{}, nil
}

func (s *Service) GetTable(ctx context.Context, in *glueapi.GetTableInput) (*glueapi.GetTableOutput, error) {
	account, err := catalog(ctx, in.CatalogId)
	if err != nil {
		return nil, err
	}
	var t *glueapi.Table
	err = s.store.View(ctx, func(tx store.Tx) error {
		t, err = GetTable(ctx, tx, account, in.DatabaseName, in.Name)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &glueapi.GetTableOutput{Table: t}, nil
}

func (s *Service) GetTables(ctx context.Context, in *glueapi.GetTablesInput) (*glueapi.GetTablesOutput, error) {
	account, err := catalog(ctx, in.CatalogId)
	if err != nil {
		return nil, err
	}
	var match func(string) bool
	if in.Expression != nil && *in.Expression != "" {
		if match, err = tableNameMatcher(*in.Expression); err != nil {
			return nil, err
		}
	}
	id := dbID(account, in.DatabaseName)
	pg, err := pagination.Read("NextToken", in.NextToken, in.MaxResults, defaultPageSize, "GetTables/"+id)
	if err != nil {
		return nil, err
	}
	out := &glueapi.GetTablesOutput{}
	err = s.store.View(ctx, func(tx store.Tx) error {
		out.TableList = []glueapi.Table{}
		if _, err := tx.Get(ctx, kindDatabase, id); fault.KindOf(err) == fault.NotFound {
			return notFoundDatabase(in.DatabaseName)
		} else if err != nil {
			return err
		}
		recs, err := tx.List(ctx, kindTable, store.Filter{Parent: id}, pg.Query())
		if err != nil {
			return err
		}
		recs, out.NextToken = pg.Next(recs)
		for _, rec := range recs {
			var t glueapi.Table
			if err := json.Unmarshal(rec.Data, &t); err != nil {
				return err
			}
			if match == nil || match(t.Name) {
				out.TableList = append(out.TableList, t)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) UpdateTable(ctx context.Context, in *glueapi.UpdateTableInput) (*glueapi.UpdateTableOutput, error) {
	account, err := catalog(ctx, in.CatalogId)
	if err != nil {
		return nil, err
	}
	if in.TableInput == nil {
		return nil, invalid("TableInput is required")
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		rec, err := tx.Get(ctx, kindTable, tableID(account, in.DatabaseName, in.TableInput.Name))
		if fault.KindOf(err) == fault.NotFound {
			if _, err := GetTable(ctx, tx, account, in.DatabaseName, in.TableInput.Name); err != nil {
				return err
			}
		}
		if err != nil {
			return err
		}
		var old glueapi.Table
		if err := json.Unmarshal(rec.Data, &old); err != nil {
			return err
		}
		version := 0
		if old.VersionId != nil {
			fmt.Sscan(*old.VersionId, &version)
		}
		if in.VersionId != nil && *in.VersionId != fmt.Sprint(version) {
			return fault.Newf(fault.Conflict, "Table version %s is not the latest (%d)", *in.VersionId, version)
		}
		now := s.timestamp()
		t, err := tableFromInput(account, in.DatabaseName, in.TableInput, *old.CreateTime, now, version+1)
		if err != nil {
			return err
		}
		rec.Data, _ = json.Marshal(t)
		rec.UpdateTime = now.Time
		return tx.Update(ctx, rec)
	})
	if err != nil {
		return nil, err
	}
	return &glueapi.UpdateTableOutput{}, nil
}

func (s *Service) DeleteTable(ctx context.Context, in *glueapi.DeleteTableInput) (*glueapi.DeleteTableOutput, error) {
	account, err := catalog(ctx, in.CatalogId)
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		err := tx.Delete(ctx, kindTable, tableID(account, in.DatabaseName, in.Name))
		if fault.KindOf(err) == fault.NotFound {
			_, err = GetTable(ctx, tx, account, in.DatabaseName, in.Name)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &glueapi.DeleteTableOutput{}, nil
}

// tableNameMatcher implements GetTables' Expression: a regular expression
// over table names in which '*' stands for any run of characters and '|'
// separates alternatives, as Glue documents it.
func tableNameMatcher(expr string) (func(string) bool, error) {
	var alts []string
	for _, alt := range strings.Split(expr, "|") {
		alts = append(alts, strings.ReplaceAll(strings.TrimSpace(alt), "*", ".*"))
	}
	re, err := compileAnchored(strings.Join(alts, "|"))
	if err != nil {
		return nil, invalid("Expression %q is not a valid pattern", expr)
	}
	return re.MatchString, nil
}

func compileAnchored(expr string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + expr + ")$")
}
