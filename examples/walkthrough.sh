#!/usr/bin/env bash
# From upload to a protected query's result file, with the AWS CLI only.
# Two accounts: 111111111111 (an advertiser, who queries and receives
# results) and 222222222222 (a publisher, who contributes purchases).
# Run it against a fresh server:  ENDPOINT=http://127.0.0.1:4566 examples/walkthrough.sh
set -euo pipefail
EP=${ENDPOINT:-http://127.0.0.1:4566}
A=111111111111
B=222222222222
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# as ACCOUNT ARGS...: the AWS CLI acting as ACCOUNT (dev mode: the access
# key id is the account).
as() {
  local acct=$1; shift
  AWS_ACCESS_KEY_ID=$acct AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION=us-east-1 \
    aws --endpoint-url "$EP" --output json "$@"
}

# 1. Each party uploads its data to its own bucket.
{
  echo "user_id,segment"
  for i in $(seq 1 12); do echo "u$i,$([ $((i % 2)) = 0 ] && echo sports || echo travel)"; done
  echo "u90,chess"; echo "u91,chess"
} > "$work/customers.csv"
{
  echo "user_id,amount"
  for i in $(seq 1 12); do echo "u$i,$((i * 10))"; done
  echo "u90,5"; echo "u91,5"; echo "x1,1000"
} > "$work/purchases.csv"
as $A s3 mb s3://advertiser-data >/dev/null
as $A s3 mb s3://advertiser-results >/dev/null
as $B s3 mb s3://publisher-data >/dev/null
as $A s3 cp "$work/customers.csv" s3://advertiser-data/customers/customers.csv >/dev/null
as $B s3 cp "$work/purchases.csv" s3://publisher-data/purchases/purchases.csv >/dev/null

# 2. Each describes its file as a Glue table (CSV with a header line).
csv_table() { # NAME BUCKET/PREFIX COLUMNS-JSON
  cat <<JSON
{"Name": "$1", "TableType": "EXTERNAL_TABLE",
 "Parameters": {"classification": "csv", "skip.header.line.count": "1"},
 "StorageDescriptor": {"Columns": $3, "Location": "s3://$2/",
   "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
   "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
   "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                 "Parameters": {"field.delim": ","}}}}
JSON
}
as $A glue create-database --database-input Name=crm
as $A glue create-table --database-name crm --table-input "$(csv_table customers advertiser-data/customers \
  '[{"Name": "user_id", "Type": "string"}, {"Name": "segment", "Type": "string"}]')"
as $B glue create-database --database-input Name=sales
as $B glue create-table --database-name sales --table-input "$(csv_table purchases publisher-data/purchases \
  '[{"Name": "user_id", "Type": "string"}, {"Name": "amount", "Type": "int"}]')"

# 3. The advertiser creates the collaboration; both join.
COLLAB=$(as $A cleanrooms create-collaboration --name "Campaign measurement" --description "Advertiser x publisher" \
  --creator-display-name Advertiser --creator-member-abilities CAN_QUERY CAN_RECEIVE_RESULTS \
  --members "accountId=$B,displayName=Publisher,memberAbilities=[]" --query-log-status DISABLED \
  --query collaboration.id --output text)
MS_A=$(as $A cleanrooms create-membership --collaboration-identifier "$COLLAB" --query-log-status DISABLED \
  --default-result-configuration '{"outputConfiguration": {"s3": {"resultFormat": "CSV", "bucket": "advertiser-results", "keyPrefix": "measurement"}}}' \
  --query membership.id --output text)
MS_B=$(as $B cleanrooms create-membership --collaboration-identifier "$COLLAB" --query-log-status DISABLED \
  --query membership.id --output text)

# 4. Each configures its table with an aggregation rule and associates it.
configure() { # ACCOUNT MEMBERSHIP DB TABLE ALLOWED-COLUMNS RULE-JSON
  local acct=$1 ms=$2 db=$3 table=$4 cols=$5 rule=$6 id assoc
  id=$(as "$acct" cleanrooms create-configured-table --name "$table" --allowed-columns $cols \
    --analysis-method DIRECT_QUERY --table-reference "{\"glue\": {\"databaseName\": \"$db\", \"tableName\": \"$table\"}}" \
    --query configuredTable.id --output text)
  as "$acct" cleanrooms create-configured-table-analysis-rule --configured-table-identifier "$id" \
    --analysis-rule-type AGGREGATION --analysis-rule-policy "{\"v1\": {\"aggregation\": $rule}}" >/dev/null
  assoc=$(as "$acct" cleanrooms create-configured-table-association --membership-identifier "$ms" \
    --configured-table-identifier "$id" --name "$table" --role-arn "arn:aws:iam::$acct:role/cleanrooms-data" \
    --query configuredTableAssociation.id --output text)
  as "$acct" cleanrooms create-configured-table-association-analysis-rule --membership-identifier "$ms" \
    --configured-table-association-identifier "$assoc" --analysis-rule-type AGGREGATION \
    --analysis-rule-policy "{\"v1\": {\"aggregation\": {\"allowedResultReceivers\": [\"$A\"]}}}" >/dev/null
}
configure $A "$MS_A" crm customers "user_id segment" '{"aggregateColumns": [{"columnNames": ["user_id"], "function": "COUNT_DISTINCT"}],
  "joinColumns": ["user_id"], "dimensionColumns": ["segment"], "scalarFunctions": [],
  "outputConstraints": [{"columnName": "user_id", "minimum": 3, "type": "COUNT_DISTINCT"}]}'
configure $B "$MS_B" sales purchases "user_id amount" '{"aggregateColumns": [{"columnNames": ["user_id"], "function": "COUNT_DISTINCT"},
  {"columnNames": ["amount"], "function": "SUM"}], "joinColumns": ["user_id"], "joinRequired": "QUERY_RUNNER",
  "dimensionColumns": [], "scalarFunctions": [], "outputConstraints": [{"columnName": "user_id", "minimum": 3, "type": "COUNT_DISTINCT"}]}'

# 5. Both see the collaboration's schemas.
as $B cleanrooms get-schema --collaboration-identifier "$COLLAB" --name customers --query 'schema.columns' >/dev/null

# 6. The advertiser runs a protected query; the result lands in its bucket.
QID=$(as $A cleanrooms start-protected-query --type SQL --membership-identifier "$MS_A" \
  --sql-parameters '{"queryString": "SELECT c.segment, COUNT(DISTINCT p.user_id) AS buyers, SUM(p.amount) AS revenue FROM customers c INNER JOIN purchases p ON c.user_id = p.user_id GROUP BY c.segment"}' \
  --query protectedQuery.id --output text)
while :; do
  STATUS=$(as $A cleanrooms get-protected-query --membership-identifier "$MS_A" --protected-query-identifier "$QID" \
    --query protectedQuery.status --output text)
  case $STATUS in SUBMITTED|STARTED) sleep 0.2 ;; *) break ;; esac
done
echo "query $QID: $STATUS" >&2
[ "$STATUS" = SUCCESS ]
LOCATION=$(as $A cleanrooms get-protected-query --membership-identifier "$MS_A" --protected-query-identifier "$QID" \
  --query protectedQuery.result.output.s3.location --output text)
echo "result: $LOCATION" >&2
as $A s3 cp "$LOCATION" -
