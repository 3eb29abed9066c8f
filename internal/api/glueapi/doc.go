// Package glueapi holds the wire types, validators and operation table of
// the subset of AWS Glue (2017-03-31) that cleanroomsd serves: the Data
// Catalog's databases and tables, enough for configured tables to reference
// Glue tables. Generated from botocore's model by internal/tools/apigen; only
// doc.go is written by hand.
package glueapi

//go:generate go run ../../tools/apigen -service glue -version 2017-03-31 -pkg glueapi -ops CreateDatabase,GetDatabase,GetDatabases,DeleteDatabase,CreateTable,GetTable,GetTables,UpdateTable,DeleteTable
