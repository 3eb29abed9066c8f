// Package logsapi holds the wire types, validators and operation table of
// the subset of Amazon CloudWatch Logs (2014-03-28) that cleanroomsd serves:
// log groups, log streams and their events, enough for members to read
// their Clean Rooms query logs with `aws logs filter-log-events` and to keep
// logs of their own. Generated from botocore's model by internal/tools/apigen;
// only doc.go is written by hand.
package logsapi

//go:generate go run ../../tools/apigen -service logs -version 2014-03-28 -pkg logsapi -ops DescribeLogGroups,DescribeLogStreams,GetLogEvents,FilterLogEvents,CreateLogGroup,CreateLogStream,PutLogEvents,DeleteLogGroup
