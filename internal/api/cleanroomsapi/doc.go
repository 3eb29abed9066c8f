// Package cleanroomsapi holds the wire types, validators and operation table
// of the AWS Clean Rooms API (CleanRooms 2022-02-17), generated from botocore's
// service model by internal/tools/apigen. Only doc.go is written by hand.
package cleanroomsapi

//go:generate go run ../../tools/apigen -service cleanrooms -version 2022-02-17 -pkg cleanroomsapi
