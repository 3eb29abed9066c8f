"""End-to-end test of the data plane driven by the AWS CLI (v1), unmodified:
`aws s3`, `aws glue` and `aws cleanrooms` against one endpoint.

Account A uploads a CSV file and B a Parquet file with `aws s3 cp`, each
describes its file with `aws glue create-table --table-input file://…`,
configures a table with an analysis rule from a file, associates it and
reads the other's schema; A runs a protected query and downloads its
result with `aws s3 cp … -`, which must equal the same aggregation done
here in Python. Invalid rules fail the way the CLI reports service errors.

The Go runner (e2e_test.go) passes CLEANROOMSD_ENDPOINT, CLEANROOMSD_AWS_CLI
and, for writing the Parquet file, CLEANROOMSD_E2E_TOOL_BIN (see
dataplane_support.py).
"""

import collections
import csv
import io
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from dataplane_support import csv_to_parquet, write_csv

REGION = os.environ.get("CLEANROOMSD_REGION", "us-east-1")
ENDPOINT = os.environ.get("CLEANROOMSD_ENDPOINT")
AWS = os.environ.get("CLEANROOMSD_AWS_CLI") or shutil.which("aws")
ERROR_EXIT_CODES = (254, 255)  # v1 exits 255 on a service error, v2 254

A = "311111111111"  # creator; can query and receive results
B = "322222222222"  # contributes data

CSV_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"

_tmp = None
_env = None


def setUpModule():
    global _tmp, _env
    if not ENDPOINT:
        raise RuntimeError("CLEANROOMSD_ENDPOINT is not set; run these tests with `go test ./e2e/`")
    if not AWS:
        raise RuntimeError("the aws executable is not on PATH")
    _tmp = tempfile.mkdtemp(prefix="cleanroomsd-dataplane-cli-")
    empty = os.path.join(_tmp, "empty")
    open(empty, "w").close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_CONFIG_FILE": empty,
        "AWS_SHARED_CREDENTIALS_FILE": empty,
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
        "AWS_PAGER": "",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "HOME": _tmp,
    })
    _env = env


def tearDownModule():
    if _tmp:
        shutil.rmtree(_tmp, ignore_errors=True)


class Result:
    def __init__(self, args, proc):
        self.args = args
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    @property
    def json(self):
        return json.loads(self.stdout) if self.stdout.strip() else None

    def __repr__(self):
        return "aws %s -> rc=%d\nstdout: %s\nstderr: %s" % (" ".join(self.args), self.rc, self.stdout, self.stderr)


def aws(account, *args):
    """Runs `aws ARGS` as account."""
    env = dict(_env, AWS_ACCESS_KEY_ID=account, AWS_SECRET_ACCESS_KEY="secret-" + account)
    argv = [AWS, "--endpoint-url", ENDPOINT, "--region", REGION, "--output", "json", *args]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    return Result(list(args), proc)


def write_json(name, value):
    path = os.path.join(_tmp, name)
    with open(path, "w") as f:
        json.dump(value, f)
    return "file://" + path


def customers():
    segments = ["sports", "travel", "food"]
    rows = [["c%02d" % i, segments[i % 3]] for i in range(30)]
    return rows + [["k1", "knitting"], ["k2", "knitting"]]


def purchases():
    rows = [["c%02d" % i, str(10 * (i + 1))] for i in range(24)] + [["c%02d" % i, "3"] for i in range(0, 24, 4)]
    return rows + [["k1", "50"], ["k2", "60"], ["z1", "999"]]


class DataPlaneCLITest(unittest.TestCase):
    maxDiff = None

    def ok(self, account, *args):
        r = aws(account, *args)
        self.assertEqual(r.rc, 0, r)
        self.assertNotIn("error occurred", r.stderr, r)
        return r

    def okj(self, account, *args):
        return self.ok(account, *args).json

    def fails(self, code, account, *args):
        r = aws(account, *args)
        self.assertIn(r.rc, ERROR_EXIT_CODES, r)
        op = "".join(p.capitalize() for p in args[1].split("-"))
        self.assertIn("An error occurred (%s) when calling the %s operation" % (code, op), r.stderr, r)
        self.assertEqual(r.stdout.strip(), "", r)
        return r.stderr

    def test_workflow(self):
        d = tempfile.mkdtemp(dir=_tmp)

        # S3: buckets and uploads, a CSV file (A) and a Parquet file (B).
        ccsv = os.path.join(d, "customers.csv")
        write_csv(ccsv, ["user_id", "segment"], customers())
        pcsv, pparquet = os.path.join(d, "purchases.csv"), os.path.join(d, "purchases.parquet")
        write_csv(pcsv, ["user_id", "amount"], purchases())
        csv_to_parquet(pcsv, pparquet, "user_id, CAST(amount AS INTEGER) AS amount")
        for acct, buckets in ((A, ("cli-data-a", "cli-results-a")), (B, ("cli-data-b",))):
            for bucket in buckets:
                r = self.ok(acct, "s3", "mb", "s3://" + bucket)
                self.assertIn("make_bucket: " + bucket, r.stdout)
        r = self.ok(A, "s3", "cp", ccsv, "s3://cli-data-a/crm/customers/customers.csv")
        self.assertIn("upload: ", r.stdout)
        self.ok(B, "s3", "cp", pparquet, "s3://cli-data-b/sales/purchases/purchases.parquet")
        r = self.ok(A, "s3", "ls", "s3://cli-data-a/crm/customers/")
        self.assertIn("customers.csv", r.stdout)
        self.assertIn(str(os.path.getsize(ccsv)), r.stdout)
        head = self.okj(B, "s3api", "head-object", "--bucket", "cli-data-b", "--key", "sales/purchases/purchases.parquet")
        self.assertEqual(head["ContentLength"], os.path.getsize(pparquet))

        # Glue: databases and tables from --table-input file://.
        self.ok(A, "glue", "create-database", "--database-input", '{"Name": "crm"}')
        self.ok(B, "glue", "create-database", "--database-input", '{"Name": "sales"}')
        customers_input = {
            "Name": "customers", "TableType": "EXTERNAL_TABLE", "Parameters": {"classification": "csv"},
            "StorageDescriptor": {
                "Columns": [{"Name": "user_id", "Type": "string"}, {"Name": "segment", "Type": "string"}],
                "Location": "s3://cli-data-a/crm/customers/",
                "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                "SerdeInfo": {"SerializationLibrary": CSV_SERDE,
                              "Parameters": {"field.delim": ",", "skip.header.line.count": "1"}}}}
        purchases_input = {
            "Name": "purchases", "TableType": "EXTERNAL_TABLE", "Parameters": {"classification": "parquet"},
            "StorageDescriptor": {
                "Columns": [{"Name": "user_id", "Type": "string"}, {"Name": "amount", "Type": "int"}],
                "Location": "s3://cli-data-b/sales/purchases/",
                "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE}}}
        self.ok(A, "glue", "create-table", "--database-name", "crm", "--table-input",
                write_json("customers-table.json", customers_input))
        self.ok(B, "glue", "create-table", "--database-name", "sales", "--table-input",
                write_json("purchases-table.json", purchases_input))
        t = self.okj(A, "glue", "get-table", "--database-name", "crm", "--name", "customers")["Table"]
        self.assertEqual(t["StorageDescriptor"]["Columns"], customers_input["StorageDescriptor"]["Columns"])
        self.assertEqual(t["StorageDescriptor"]["SerdeInfo"], customers_input["StorageDescriptor"]["SerdeInfo"])
        self.assertEqual(t["StorageDescriptor"]["Location"], "s3://cli-data-a/crm/customers/")
        t = self.okj(B, "glue", "get-table", "--database-name", "sales", "--name", "purchases")["Table"]
        self.assertEqual(t["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"], PARQUET_SERDE)

        # The collaboration; both join.
        coll = self.okj(A, "cleanrooms", "create-collaboration", "--name", "CLI data plane", "--description", "cli",
                        "--creator-display-name", "Advertiser", "--creator-member-abilities", "CAN_QUERY",
                        "CAN_RECEIVE_RESULTS", "--members",
                        json.dumps([{"accountId": B, "displayName": "Publisher", "memberAbilities": []}]),
                        "--query-log-status", "DISABLED")["collaboration"]
        cid = coll["id"]
        ms_a = self.okj(A, "cleanrooms", "create-membership", "--collaboration-identifier", cid,
                        "--query-log-status", "DISABLED")["membership"]["id"]
        ms_b = self.okj(B, "cleanrooms", "create-membership", "--collaboration-identifier", cid,
                        "--query-log-status", "DISABLED")["membership"]["id"]

        # Configured tables, rules from files, associations and their rules.
        def configure(acct, ms, db, table, allowed, rule):
            ct = self.okj(acct, "cleanrooms", "create-configured-table", "--name", table,
                          "--table-reference", json.dumps({"glue": {"databaseName": db, "tableName": table}}),
                          "--allowed-columns", *allowed, "--analysis-method", "DIRECT_QUERY")["configuredTable"]
            self.assertEqual(ct["allowedColumns"], list(allowed))
            self.assertEqual(ct["tableReference"], {"glue": {"databaseName": db, "tableName": table}})
            self.assertEqual(ct["arn"], "arn:aws:cleanrooms:%s:%s:configuredtable/%s" % (REGION, acct, ct["id"]))
            got = self.okj(acct, "cleanrooms", "create-configured-table-analysis-rule", "--configured-table-identifier",
                           ct["id"], "--analysis-rule-type", "AGGREGATION", "--analysis-rule-policy",
                           write_json(table + "-rule.json", {"v1": {"aggregation": rule}}))["analysisRule"]
            self.assertEqual(got["policy"], {"v1": {"aggregation": rule}})
            self.assertEqual(got["type"], "AGGREGATION")
            assoc = self.okj(acct, "cleanrooms", "create-configured-table-association", "--membership-identifier", ms,
                             "--configured-table-identifier", ct["id"], "--name", table,
                             "--role-arn", "arn:aws:iam::%s:role/cleanrooms-data" % acct)["configuredTableAssociation"]
            self.assertEqual(assoc["configuredTableId"], ct["id"])
            self.okj(acct, "cleanrooms", "create-configured-table-association-analysis-rule", "--membership-identifier", ms,
                     "--configured-table-association-identifier", assoc["id"], "--analysis-rule-type", "AGGREGATION",
                     "--analysis-rule-policy", json.dumps({"v1": {"aggregation": {"allowedResultReceivers": [A]}}}))
            return ct, assoc

        cust_rule = {"aggregateColumns": [{"columnNames": ["user_id"], "function": "COUNT_DISTINCT"}],
                     "joinColumns": ["user_id"], "dimensionColumns": ["segment"], "scalarFunctions": [],
                     "outputConstraints": [{"columnName": "user_id", "minimum": 2, "type": "COUNT_DISTINCT"}]}
        pur_rule = {"aggregateColumns": [{"columnNames": ["user_id"], "function": "COUNT_DISTINCT"},
                                         {"columnNames": ["amount"], "function": "SUM"}],
                    "joinColumns": ["user_id"], "joinRequired": "QUERY_RUNNER", "dimensionColumns": [],
                    "scalarFunctions": [],
                    "outputConstraints": [{"columnName": "user_id", "minimum": 3, "type": "COUNT_DISTINCT"}]}
        cust, _ = configure(A, ms_a, "crm", "customers", ["user_id", "segment"], cust_rule)
        pur, pur_assoc = configure(B, ms_b, "sales", "purchases", ["user_id", "amount"], pur_rule)

        # Each member reads both schemas.
        for acct in (A, B):
            names = sorted(s["name"] for s in self.okj(acct, "cleanrooms", "list-schemas", "--collaboration-identifier",
                                                       cid)["schemaSummaries"])
            self.assertEqual(names, ["customers", "purchases"])
        s = self.okj(A, "cleanrooms", "get-schema", "--collaboration-identifier", cid, "--name", "purchases")["schema"]
        self.assertEqual([(c["name"], c["type"]) for c in s["columns"]], [("user_id", "string"), ("amount", "int")])
        self.assertEqual(s["creatorAccountId"], B)
        self.assertEqual(s["analysisRuleTypes"], ["AGGREGATION"])
        s = self.okj(B, "cleanrooms", "get-schema", "--collaboration-identifier", cid, "--name", "customers")["schema"]
        self.assertEqual([(c["name"], c["type"]) for c in s["columns"]], [("user_id", "string"), ("segment", "string")])
        rule = self.okj(A, "cleanrooms", "get-schema-analysis-rule", "--collaboration-identifier", cid, "--name",
                        "purchases", "--type", "AGGREGATION")["analysisRule"]
        self.assertEqual(rule["consolidatedPolicy"]["v1"]["aggregation"]["allowedResultReceivers"], [A])
        self.assertEqual(rule["consolidatedPolicy"]["v1"]["aggregation"]["joinRequired"], "QUERY_RUNNER")

        # A protected query; its result, downloaded with `aws s3 cp … -`.
        sql = ("SELECT c.segment, COUNT(DISTINCT p.user_id) AS buyers, SUM(p.amount) AS revenue "
               "FROM customers c INNER JOIN purchases p ON c.user_id = p.user_id GROUP BY c.segment")
        q = self.okj(A, "cleanrooms", "start-protected-query", "--type", "SQL", "--membership-identifier", ms_a,
                     "--sql-parameters", json.dumps({"queryString": sql}), "--result-configuration",
                     json.dumps({"outputConfiguration": {"s3": {"resultFormat": "CSV", "bucket": "cli-results-a",
                                                                "keyPrefix": "cli"}}}))["protectedQuery"]
        self.assertEqual(q["status"], "SUBMITTED")
        deadline = time.monotonic() + 120
        time.sleep(1)  # a CLI call costs about as much as this query
        while True:
            q = self.okj(A, "cleanrooms", "get-protected-query", "--membership-identifier", ms_a,
                         "--protected-query-identifier", q["id"])["protectedQuery"]
            if q["status"] not in ("SUBMITTED", "STARTED"):
                break
            self.assertLess(time.monotonic(), deadline, q)
            time.sleep(0.5)
        self.assertEqual(q["status"], "SUCCESS", q)
        location = q["result"]["output"]["s3"]["location"]
        self.assertEqual(location, "s3://cli-results-a/cli/%s/result/result.csv" % q["id"])
        out = self.ok(A, "s3", "cp", location, "-").stdout
        recs = list(csv.reader(io.StringIO(out)))
        self.assertEqual(recs[0], ["segment", "buyers", "revenue"])
        segment = dict(customers())
        users, totals = collections.defaultdict(set), collections.Counter()
        for user, amount in purchases():
            if user in segment:
                users[segment[user]].add(user)
                totals[segment[user]] += int(amount)
        want = {s: (len(u), totals[s]) for s, u in users.items() if len(u) >= 3}
        self.assertNotIn("knitting", want, "two buyers: under B's threshold")
        self.assertEqual({r[0]: (int(r[1]), int(r[2])) for r in recs[1:]}, want)
        self.assertEqual(len(recs) - 1, len(want))

        # Invalid rules, as the CLI reports them.
        bad = self.okj(B, "cleanrooms", "create-configured-table", "--name", "bad", "--table-reference",
                       json.dumps({"glue": {"databaseName": "sales", "tableName": "purchases"}}),
                       "--allowed-columns", "user_id", "--analysis-method", "DIRECT_QUERY")["configuredTable"]

        def bad_rule(rule_type, policy):
            return self.fails("ValidationException", B, "cleanrooms", "create-configured-table-analysis-rule",
                              "--configured-table-identifier", bad["id"], "--analysis-rule-type", rule_type,
                              "--analysis-rule-policy", json.dumps({"v1": policy}))

        err = bad_rule("AGGREGATION", {"aggregation": dict(pur_rule, aggregateColumns=[
            {"columnNames": ["amount"], "function": "SUM"}])})
        self.assertIn("amount", err)
        err = bad_rule("AGGREGATION", {"aggregation": dict(cust_rule, dimensionColumns=["user_id"], aggregateColumns=[
            {"columnNames": ["user_id"], "function": "COUNT"}], joinColumns=["user_id"])})
        self.assertIn('"user_id"', err)
        self.assertIn("dimension column and a join column", err)
        err = bad_rule("CUSTOM", {"custom": {"allowedAnalyses": ["ANY_QUERY"]}})
        self.assertIn("allowedAnalysisProviders", err)
        err = bad_rule("LIST", {"list": {"joinColumns": ["user_id"], "listColumns": ["segment"]}})
        self.assertIn("segment", err)
        # A second rule on a table conflicts; an associated table can't be
        # deleted.
        self.fails("ConflictException", A, "cleanrooms", "create-configured-table-analysis-rule",
                   "--configured-table-identifier", cust["id"], "--analysis-rule-type", "AGGREGATION",
                   "--analysis-rule-policy", json.dumps({"v1": {"aggregation": cust_rule}}))
        self.fails("ConflictException", B, "cleanrooms", "delete-configured-table", "--configured-table-identifier",
                   pur["id"])

        # B leaves cleanly once its association is gone.
        self.ok(B, "cleanrooms", "delete-configured-table-association", "--membership-identifier", ms_b,
                "--configured-table-association-identifier", pur_assoc["id"])
        self.ok(B, "cleanrooms", "delete-membership", "--membership-identifier", ms_b)
        self.ok(B, "cleanrooms", "delete-configured-table", "--configured-table-identifier", pur["id"])
        names = [s["name"] for s in self.okj(A, "cleanrooms", "list-schemas", "--collaboration-identifier",
                                             cid)["schemaSummaries"]]
        self.assertEqual(names, ["customers"])


if __name__ == "__main__":
    unittest.main()
