"""Shared helpers of the data-plane suites (dataplane_workflow_test.py,
protected_query_test.py): clients for the three services the one endpoint
serves, error assertions, the DuckDB file converter, fixtures and a handle
on a cleanroomsd process the suites start themselves.

The Go runner (e2e_test.go) passes:

  CLEANROOMSD_ENDPOINT      the dev-mode server the suite runs against
  CLEANROOMSD_REGION        the region it answers for
  CLEANROOMSD_BIN           the cleanroomsd binary (for suites that start
                            their own server, e.g. to restart it)
  CLEANROOMSD_E2E_TOOL_BIN  the e2e test binary, which runs DuckDB statements
                            when CLEANROOMSD_E2E_TOOL=duckdb (see
                            duckdbtool_test.go); used only to write and read
                            Parquet files, never to compute an expectation
"""

import atexit
import csv
import io
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request
import weakref

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

REGION = os.environ.get("CLEANROOMSD_REGION", "us-east-1")
ENDPOINT = os.environ.get("CLEANROOMSD_ENDPOINT")
SERVER_BIN = os.environ.get("CLEANROOMSD_BIN")
TOOL_BIN = os.environ.get("CLEANROOMSD_E2E_TOOL_BIN")

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TERMINAL = ("SUCCESS", "FAILED", "CANCELLED", "TIMED_OUT")

CSV_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
CSV_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
CSV_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

# Each suite runs against its own server, but tests within a suite take
# fresh accounts so they don't share buckets, catalogs or quotas.
_accounts = itertools.count(200000000100)


def fresh_account():
    return "%012d" % next(_accounts)


_tmp = None


def setup_module(need_endpoint=True):
    """Checks the environment and keeps the machine's AWS configuration out
    of the clients."""
    global _tmp
    if need_endpoint and not ENDPOINT:
        raise RuntimeError("CLEANROOMSD_ENDPOINT is not set; run these tests with `go test ./e2e/`")
    for var in list(os.environ):
        if var.startswith("AWS_"):
            del os.environ[var]
    _tmp = tempfile.mkdtemp(prefix="cleanroomsd-dataplane-")
    empty = os.path.join(_tmp, "empty-aws-config")
    open(empty, "w").close()
    os.environ["AWS_CONFIG_FILE"] = empty
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = empty
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


def teardown_module():
    if _tmp:
        shutil.rmtree(_tmp, ignore_errors=True)


def tmpdir():
    return tempfile.mkdtemp(dir=_tmp)


_clients = {}
_clients_lock = threading.Lock()


def client(service, account, endpoint=None):
    """A client of service ("cleanrooms", "glue" or "s3") acting as account
    (dev mode: the 12-digit access key id is the account). It never retries
    and never validates parameters client-side, so what is tested is the
    server's own validation; S3 uses path-style addressing."""
    endpoint = endpoint or ENDPOINT
    key = (service, account, endpoint)
    with _clients_lock:
        if key not in _clients:
            cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=False,
                         connect_timeout=5, read_timeout=60, s3={"addressing_style": "path"})
            _clients[key] = boto3.session.Session().client(
                service, region_name=REGION, endpoint_url=endpoint,
                aws_access_key_id=account, aws_secret_access_key="secret-" + account, config=cfg)
        return _clients[key]


def cr(account, endpoint=None):
    return client("cleanrooms", account, endpoint)


def glue(account, endpoint=None):
    return client("glue", account, endpoint)


def s3(account, endpoint=None):
    return client("s3", account, endpoint)


def role_arn(account):
    return "arn:aws:iam::%s:role/cleanrooms-data-access" % account


def configured_table_arn(account, table_id):
    return "arn:aws:cleanrooms:%s:%s:configuredtable/%s" % (REGION, account, table_id)


def association_arn(account, membership_id, assoc_id):
    return "arn:aws:cleanrooms:%s:%s:membership/%s/configuredtableassociation/%s" % (
        REGION, account, membership_id, assoc_id)


def template_arn(account, membership_id, template_id):
    return "arn:aws:cleanrooms:%s:%s:membership/%s/analysistemplate/%s" % (REGION, account, membership_id, template_id)


# The DuckDB file converter.

def duckdb(*statements):
    """Runs DuckDB statements in the e2e test binary and returns the rows of
    the last one, each a list of strings (None for NULL)."""
    if not TOOL_BIN:
        raise RuntimeError("CLEANROOMSD_E2E_TOOL_BIN is not set; run these tests with `go test ./e2e/`")
    env = dict(os.environ, CLEANROOMSD_E2E_TOOL="duckdb")
    proc = subprocess.run([TOOL_BIN, *statements], env=env, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError("duckdb tool failed (%d): %s" % (proc.returncode, proc.stderr))
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def sql_string(s):
    return "'" + s.replace("'", "''") + "'"


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def csv_to_parquet(csv_path, parquet_path, select_list):
    """Writes the CSV file (with a header) as Parquet, selecting and casting
    its columns with select_list (DuckDB SQL over all-VARCHAR columns)."""
    duckdb("COPY (SELECT %s FROM read_csv(%s, header=true, all_varchar=true)) TO %s (FORMAT parquet)"
           % (select_list, sql_string(csv_path), sql_string(parquet_path)))


def parquet_rows(parquet_path):
    """A Parquet file's schema [(name, DuckDB type)] and rows (strings)."""
    schema = [(r[0], r[1]) for r in duckdb("DESCRIBE SELECT * FROM read_parquet(%s)" % sql_string(parquet_path))]
    rows = duckdb("SELECT * FROM read_parquet(%s)" % sql_string(parquet_path))
    return schema, rows


def parse_csv(data):
    """A CSV result (bytes) as its header and rows."""
    recs = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    if not recs:
        raise AssertionError("empty CSV result")
    return recs[0], recs[1:]


# Assertions.

class DataPlaneTestCase(unittest.TestCase):
    maxDiff = None

    def ok(self, resp, status=None):
        md = resp["ResponseMetadata"]
        if status is None:
            self.assertIn(md["HTTPStatusCode"], (200, 204), resp)
        else:
            self.assertEqual(md["HTTPStatusCode"], status, resp)
        self.assertTrue(md.get("RequestId") or md["HTTPHeaders"].get("x-amz-request-id"), md)
        return resp

    def assertError(self, code, status, fn, /, *args, **kwargs):
        """fn must fail with error `code` and HTTP `status`; returns the
        parsed error response (Error.Message is checked to be non-empty)."""
        with self.assertRaises(ClientError) as cm:
            fn(*args, **kwargs)
        resp = cm.exception.response
        self.assertEqual(resp["Error"]["Code"], code, resp)
        self.assertEqual(resp["ResponseMetadata"]["HTTPStatusCode"], status, resp)
        self.assertEqual(resp["ResponseMetadata"].get("RetryAttempts", 0), 0, resp)
        self.assertTrue(resp["Error"].get("Message"), "error without a message: %r" % resp)
        return resp

    @staticmethod
    def error_text(resp):
        parts = [resp["Error"].get("Message", "")]
        for f in resp.get("fieldList") or []:
            parts.append("%s: %s" % (f.get("name"), f.get("message")))
        return "\n".join(parts)

    def assertMentions(self, resp, *wants):
        text = self.error_text(resp)
        for w in wants:
            self.assertIn(w, text, "the error does not mention %r: %r" % (w, resp))

    def assertInvalid(self, wants, fn, /, *args, reason=None, **kwargs):
        """A ValidationException whose message or fieldList mentions every
        string of wants (and whose reason is `reason`, if given)."""
        resp = self.assertError("ValidationException", 400, fn, *args, **kwargs)
        if reason:
            self.assertEqual(resp.get("reason"), reason, resp)
        self.assertMentions(resp, *wants)
        return resp

    def assertAccessDenied(self, fn, /, *args, **kwargs):
        resp = self.assertError("AccessDeniedException", 403, fn, *args, **kwargs)
        self.assertEqual(resp.get("reason"), "INSUFFICIENT_PERMISSIONS", resp)
        return resp

    def assertNotFound(self, resource_type, fn, /, *args, resource_id=None, **kwargs):
        resp = self.assertError("ResourceNotFoundException", 404, fn, *args, **kwargs)
        self.assertEqual(resp.get("resourceType"), resource_type, resp)
        if resource_id is not None:
            self.assertEqual(resp.get("resourceId"), resource_id, resp)
        return resp

    def assertConflict(self, reason, fn, /, *args, **kwargs):
        resp = self.assertError("ConflictException", 409, fn, *args, **kwargs)
        self.assertEqual(resp.get("reason"), reason, resp)
        return resp

    def assertUUID(self, s):
        self.assertRegex(s, UUID_RE)

    @staticmethod
    def strip(resp):
        resp = dict(resp)
        resp.pop("ResponseMetadata", None)
        return resp


# Fixtures.

def csv_storage(location, columns, header=True, delim=","):
    params = {"field.delim": delim}
    if header:
        params["skip.header.line.count"] = "1"
    return {"Columns": columns, "Location": location, "InputFormat": CSV_INPUT, "OutputFormat": CSV_OUTPUT,
            "SerdeInfo": {"SerializationLibrary": CSV_SERDE, "Parameters": params}}


def parquet_storage(location, columns):
    return {"Columns": columns, "Location": location, "InputFormat": PARQUET_INPUT, "OutputFormat": PARQUET_OUTPUT,
            "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE}}


def cols(*pairs):
    return [{"Name": n, "Type": t} for n, t in pairs]


def create_glue_table(account, database, table, storage, classification, endpoint=None, partition_keys=None):
    g = glue(account, endpoint)
    try:
        g.get_database(Name=database)
    except ClientError as e:
        if e.response["Error"]["Code"] != "EntityNotFoundException":
            raise
        g.create_database(DatabaseInput={"Name": database, "Description": "e2e data of " + account})
    table_input = {"Name": table, "TableType": "EXTERNAL_TABLE", "StorageDescriptor": storage,
                   "Parameters": {"classification": classification}}
    if partition_keys:
        table_input["PartitionKeys"] = partition_keys
    g.create_table(DatabaseName=database, TableInput=table_input)


def two_party_collaboration(a, b, endpoint=None, name="measurement", a_results=None):
    """A collaboration created by a (who can query and receive results) with
    b (contributor) invited; both join. Returns (collaboration id, a's
    membership id, b's membership id)."""
    coll = cr(a, endpoint).create_collaboration(
        name=name, description="advertiser x publisher", creatorDisplayName="Advertiser",
        creatorMemberAbilities=["CAN_QUERY", "CAN_RECEIVE_RESULTS"],
        members=[{"accountId": b, "displayName": "Publisher", "memberAbilities": []}],
        queryLogStatus="DISABLED")["collaboration"]
    kw = {}
    if a_results:
        kw["defaultResultConfiguration"] = a_results
    ms_a = cr(a, endpoint).create_membership(collaborationIdentifier=coll["id"], queryLogStatus="DISABLED", **kw)["membership"]
    ms_b = cr(b, endpoint).create_membership(collaborationIdentifier=coll["id"], queryLogStatus="DISABLED")["membership"]
    return coll["id"], ms_a["id"], ms_b["id"]


def configured_table(account, name, database, table, allowed, endpoint=None, **extra):
    return cr(account, endpoint).create_configured_table(
        name=name, tableReference={"glue": {"databaseName": database, "tableName": table}},
        allowedColumns=list(allowed), analysisMethod="DIRECT_QUERY", **extra)["configuredTable"]


def table_rule(account, table_id, rule_type, policy, endpoint=None):
    key = {"AGGREGATION": "aggregation", "LIST": "list", "CUSTOM": "custom"}[rule_type]
    return cr(account, endpoint).create_configured_table_analysis_rule(
        configuredTableIdentifier=table_id, analysisRuleType=rule_type,
        analysisRulePolicy={"v1": {key: policy}})["analysisRule"]


def associate(account, membership_id, table_id, name, rule_type=None, receivers=None, endpoint=None, **extra):
    """Associates the configured table and, when rule_type is given, adds the
    association analysis rule naming receivers as result receivers."""
    assoc = cr(account, endpoint).create_configured_table_association(
        membershipIdentifier=membership_id, configuredTableIdentifier=table_id, name=name,
        roleArn=role_arn(account), **extra)["configuredTableAssociation"]
    if rule_type:
        key = {"AGGREGATION": "aggregation", "LIST": "list", "CUSTOM": "custom"}[rule_type]
        cr(account, endpoint).create_configured_table_association_analysis_rule(
            membershipIdentifier=membership_id, configuredTableAssociationIdentifier=assoc["id"],
            analysisRuleType=rule_type,
            analysisRulePolicy={"v1": {key: {"allowedResultReceivers": list(receivers or [])}}})
    return assoc


# A cleanroomsd process of the suite's own, for tests that stop and restart
# a server on the same data directory. Each dies with the Python process
# (PR_SET_PDEATHSIG where Linux offers it, and atexit), so a suite killed by
# the runner's timeout leaves no server behind.

def _die_with_parent():
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


_processes = weakref.WeakSet()


@atexit.register
def _kill_servers():
    for p in list(_processes):
        p.cleanup()


class ServerProcess:
    ADDR_RE = re.compile(r"\baddr=(127\.0\.0\.1:\d+)")

    def __init__(self, data_dir, *args):
        if not SERVER_BIN:
            raise RuntimeError("CLEANROOMSD_BIN is not set; run these tests with `go test ./e2e/`")
        self.data_dir = data_dir
        self.args = list(args)
        self.proc = None
        self.endpoint = None
        self.log_path = None
        self.generation = 0

    def start(self, timeout=30):
        self.generation += 1
        self.log_path = os.path.join(self.data_dir + "-logs", "server-%d.log" % self.generation)
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [SERVER_BIN, "serve", "--addr", "127.0.0.1:0", "--data-dir", self.data_dir, "--region", REGION, *self.args],
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        log.close()
        _processes.add(self)
        deadline = time.monotonic() + timeout
        while True:
            m = self.ADDR_RE.search(self.log())
            if m:
                self.endpoint = "http://" + m.group(1)
                break
            if self.proc.poll() is not None:
                raise RuntimeError("cleanroomsd exited (%s) before listening:\n%s" % (self.proc.returncode, self.log()))
            if time.monotonic() > deadline:
                raise RuntimeError("cleanroomsd did not listen within %ds:\n%s" % (timeout, self.log()))
            time.sleep(0.05)
        while True:
            try:
                with urllib.request.urlopen(self.endpoint + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("cleanroomsd at %s is not healthy within %ds:\n%s" % (self.endpoint, timeout, self.log()))
            time.sleep(0.05)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def terminate(self, timeout=30):
        """SIGTERM; returns the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self):
        """SIGKILL; returns the exit status."""
        self.proc.kill()
        return self.proc.wait(timeout=30)

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
