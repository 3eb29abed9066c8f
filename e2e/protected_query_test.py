"""End-to-end tests of protected queries driven by unmodified boto3 clients.

Account A (the advertiser, who can query and receive results) holds its
customers as CSV; account B (the publisher) holds purchases as Parquet.
Every result is downloaded from A's result bucket with boto3 and compared
with the same analysis computed here in Python over the same generated
rows, thresholds included.

The Go runner runs this file twice at once (CLEANROOMSD_PQ_PART): "queries"
runs everything against the runner's server (CLEANROOMSD_ENDPOINT);
"restart" runs RestartTest, which starts its own cleanroomsd processes
(CLEANROOMSD_BIN), stops them in the middle of a query (SIGKILL, SIGTERM)
and starts new ones on the same data directories. Without the variable
both parts run. See dataplane_support.py for the rest of the environment.
"""

import collections
import os
import threading
import time
import unittest

from botocore.exceptions import ClientError

from dataplane_support import (
    TERMINAL, DataPlaneTestCase, ServerProcess, associate, configured_table, cr, create_glue_table, csv_storage, cols,
    csv_to_parquet, fresh_account, parquet_rows, parquet_storage, parse_csv, s3, setup_module, table_rule,
    teardown_module, tmpdir, two_party_collaboration, write_csv)

PART = os.environ.get("CLEANROOMSD_PQ_PART", "")


def part(name):
    return unittest.skipUnless(PART in ("", name), "runs in the %r part (CLEANROOMSD_PQ_PART=%s)" % (name, PART))


def setUpModule():
    setup_module(need_endpoint=PART != "restart")


def tearDownModule():
    teardown_module()


# The data. A's customers u000..u119 fall into four segments; B saw
# u000..u079 buy, some twice, plus buyers A doesn't know (x…). Segment
# "tiny" has two customers who bought and region "apac" two buyers: both
# are under B's output constraint of three distinct users and must vanish.

SEGMENTS = ["sports", "travel", "food", "music"]


def customers():
    rows = [["u%03d" % i, SEGMENTS[i % 4], str(18 + (i * 7) % 50)] for i in range(120)]
    rows += [["t1", "tiny", "40"], ["t2", "tiny", "41"]]
    return rows


def purchases():
    rows = []
    for i in range(80):
        rows.append(["u%03d" % i, str(10 + i), ["eu", "us"][i % 2], "2024-%02d-%02d" % (1 + i % 12, 1 + i % 28)])
        if i % 3 == 0:
            rows.append(["u%03d" % i, "5", "us", "2024-06-15"])
    rows += [["u001", "77", "apac", "2024-07-01"], ["u002", "66", "apac", "2024-07-02"]]
    rows += [["x%03d" % i, "99", "eu", "2024-02-02"] for i in range(20)]
    rows += [["t1", "7", "eu", "2024-03-03"], ["t2", "8", "eu", "2024-03-04"]]
    return rows


def joined(where=lambda c, p: True):
    """The inner join of customers and purchases on user_id, as pairs."""
    by_user = {c[0]: c for c in customers()}
    return [(by_user[p[0]], p) for p in purchases() if p[0] in by_user and where(by_user[p[0]], p)]


def aggregate(pairs, key, minimum):
    """Groups the join by key(c, p): distinct buyers and total amount,
    keeping groups with at least `minimum` distinct buyers."""
    users, totals = collections.defaultdict(set), collections.Counter()
    for c, p in pairs:
        k = key(c, p)
        users[k].add(p[0])
        totals[k] += int(p[1])
    return {k: (len(u), totals[k]) for k, u in users.items() if len(u) >= minimum}


# A's numbers: a header-less, pipe-delimited CSV of 0..999 under a CUSTOM
# rule that lets A run any query: the slow queries the cancellation and
# restart tests need (a three-way cross join of it is 10^9 rows).
NUMBERS = 1000


def slow_query(limit):
    """COUNT(*) and SUM(a.v * b.v) over numbers³ with a.v < limit: limit
    million rows (DuckDB does some 150 million a second on two CPUs)."""
    return ("SELECT COUNT(*) AS n, SUM(a.v * b.v) AS s FROM numbers a CROSS JOIN numbers b CROSS JOIN numbers c "
            "WHERE a.v < %d" % limit)


def slow_query_result(limit):
    return NUMBERS * NUMBERS * limit, sum(range(limit)) * sum(range(NUMBERS)) * NUMBERS


# A query too slow to finish while a test watches it (10^11 rows).
ENDLESS = ("SELECT COUNT(*) AS n, SUM(a.v * b.v) AS s FROM numbers a CROSS JOIN numbers b CROSS JOIN numbers c "
           "CROSS JOIN numbers d WHERE d.v < 100")

SEGMENT_QUERY = ("SELECT c.segment, COUNT(DISTINCT p.user_id) AS buyers, SUM(p.amount) AS revenue "
                 "FROM customers c INNER JOIN purchases p ON c.user_id = p.user_id GROUP BY c.segment")


class World:
    """Both parties' data, catalogs, configured tables with AGGREGATION,
    LIST and CUSTOM rules, associations and association rules, on one
    server."""

    def __init__(self, endpoint=None, full=True):
        self.endpoint = endpoint
        self.a, self.b = a, b = fresh_account(), fresh_account()
        d = tmpdir()
        ca, cb = cr(a, endpoint), cr(b, endpoint)
        s3a, s3b = s3(a, endpoint), s3(b, endpoint)
        for bucket in ("data-" + a, "results-" + a):
            s3a.create_bucket(Bucket=bucket)
        s3b.create_bucket(Bucket="data-" + b)
        self.results = "results-" + a
        self.collab, self.ms_a, self.ms_b = two_party_collaboration(
            a, b, endpoint, a_results={"outputConfiguration": {"s3": {
                "resultFormat": "CSV", "bucket": self.results, "keyPrefix": "default"}}})

        # A's numbers (CUSTOM, any query by A).
        lines = "".join("%d|n%d\n" % (i, i) for i in range(NUMBERS))
        s3a.put_object(Bucket="data-" + a, Key="numbers/numbers.txt", Body=lines.encode())
        create_glue_table(a, "crm", "numbers", csv_storage("s3://data-%s/numbers/" % a, cols(("v", "int"), ("label", "string")),
                                                           header=False, delim="|"), "csv", endpoint)
        numbers = configured_table(a, "numbers", "crm", "numbers", ["v", "label"], endpoint)
        table_rule(a, numbers["id"], "CUSTOM", {"allowedAnalyses": ["ANY_QUERY"], "allowedAnalysisProviders": [a]}, endpoint)
        associate(a, self.ms_a, numbers["id"], "numbers", "CUSTOM", [a], endpoint)
        if not full:
            return

        # A's customers: CSV with a header, in two files and a marker file.
        rows = customers()
        for i, chunk in enumerate((rows[:60], rows[60:])):
            path = os.path.join(d, "customers-%d.csv" % i)
            write_csv(path, ["user_id", "segment", "age"], chunk)
            s3a.upload_file(path, "data-" + a, "crm/customers/part-%05d.csv" % i)
        s3a.put_object(Bucket="data-" + a, Key="crm/customers/_SUCCESS", Body=b"")
        create_glue_table(a, "crm", "customers", csv_storage(
            "s3://data-%s/crm/customers/" % a, cols(("user_id", "string"), ("segment", "string"), ("age", "int"))),
            "csv", endpoint)

        # B's purchases: Parquet.
        pcsv, self.parquet = os.path.join(d, "purchases.csv"), os.path.join(d, "purchases.parquet")
        write_csv(pcsv, ["user_id", "amount", "region", "purchased_at"], purchases())
        csv_to_parquet(pcsv, self.parquet, "user_id, CAST(amount AS INTEGER) AS amount, region, "
                                           "CAST(purchased_at AS DATE) AS purchased_at")
        s3b.upload_file(self.parquet, "data-" + b, "sales/purchases/data.parquet")
        create_glue_table(b, "sales", "purchases", parquet_storage(
            "s3://data-%s/sales/purchases/" % b,
            cols(("user_id", "string"), ("amount", "int"), ("region", "string"), ("purchased_at", "date"))),
            "parquet", endpoint)

        # AGGREGATION: A's threshold is 2 users, B's 3; B's table must be
        # joined to one of A's.
        cust = configured_table(a, "customers", "crm", "customers", ["user_id", "segment", "age"], endpoint)
        table_rule(a, cust["id"], "AGGREGATION", {
            "aggregateColumns": [{"columnNames": ["user_id"], "function": "COUNT_DISTINCT"}],
            "joinColumns": ["user_id"], "dimensionColumns": ["segment", "age"], "scalarFunctions": ["UPPER"],
            "outputConstraints": [{"columnName": "user_id", "minimum": 2, "type": "COUNT_DISTINCT"}]}, endpoint)
        associate(a, self.ms_a, cust["id"], "customers", "AGGREGATION", [a], endpoint)
        pur = configured_table(b, "purchases", "sales", "purchases", ["user_id", "amount", "region", "purchased_at"], endpoint)
        table_rule(b, pur["id"], "AGGREGATION", {
            "aggregateColumns": [{"columnNames": ["user_id"], "function": "COUNT_DISTINCT"},
                                 {"columnNames": ["amount"], "function": "SUM"}],
            "joinColumns": ["user_id"], "joinRequired": "QUERY_RUNNER", "dimensionColumns": ["region"],
            "scalarFunctions": ["UPPER"],
            "outputConstraints": [{"columnName": "user_id", "minimum": 3, "type": "COUNT_DISTINCT"}]}, endpoint)
        associate(b, self.ms_b, pur["id"], "purchases", "AGGREGATION", [a], endpoint)

        # LIST, over the same Glue tables.
        cl = configured_table(a, "customer list", "crm", "customers", ["user_id", "segment"], endpoint)
        table_rule(a, cl["id"], "LIST", {"joinColumns": ["user_id"], "listColumns": ["segment"]}, endpoint)
        associate(a, self.ms_a, cl["id"], "customer_list", "LIST", [a], endpoint)
        pl = configured_table(b, "purchase list", "sales", "purchases", ["user_id", "region"], endpoint)
        table_rule(b, pl["id"], "LIST", {"joinColumns": ["user_id"], "listColumns": ["region"]}, endpoint)
        associate(b, self.ms_b, pl["id"], "purchase_list", "LIST", [a], endpoint)

        # CUSTOM: B allows one analysis template of A's, once A wrote it.
        pc = configured_table(b, "purchase custom", "sales", "purchases", ["user_id", "amount", "region"], endpoint)
        self.custom_table = pc["id"]
        table_rule(b, pc["id"], "CUSTOM", {"allowedAnalyses": [], "disallowedOutputColumns": ["user_id"]}, endpoint)
        associate(b, self.ms_b, pc["id"], "purchase_custom", "CUSTOM", [a], endpoint)

    def start(self, sql=None, fmt="CSV", prefix="runs", template=None, parameters=None, result=True):
        sp = {"queryString": sql} if sql else {"analysisTemplateArn": template}
        if parameters is not None:
            sp["parameters"] = parameters
        kw = {}
        if result:
            kw["resultConfiguration"] = {"outputConfiguration": {"s3": {
                "resultFormat": fmt, "bucket": self.results, "keyPrefix": prefix}}}
        return cr(self.a, self.endpoint).start_protected_query(
            type="SQL", membershipIdentifier=self.ms_a, sqlParameters=sp, **kw)["protectedQuery"]

    def get(self, qid):
        return cr(self.a, self.endpoint).get_protected_query(
            membershipIdentifier=self.ms_a, protectedQueryIdentifier=qid)["protectedQuery"]

    def wait(self, qid, timeout=120, until=TERMINAL):
        deadline = time.monotonic() + timeout
        while True:
            q = self.get(qid)
            if q["status"] in until:
                return q
            if time.monotonic() > deadline:
                raise AssertionError("query %s is still %s after %ds" % (qid, q["status"], timeout))
            time.sleep(0.05)

    def download(self, location):
        assert location.startswith("s3://"), location
        bucket, key = location[len("s3://"):].split("/", 1)
        return s3(self.a, self.endpoint).get_object(Bucket=bucket, Key=key)["Body"].read()


_world = None
_world_lock = threading.Lock()


def world():
    global _world
    with _world_lock:
        if _world is None:
            _world = World()
        return _world


class QueryTestCase(DataPlaneTestCase):

    @classmethod
    def setUpClass(cls):
        cls.w = world()

    def run_query(self, sql=None, **kw):
        """Starts a query, waits for it and requires SUCCESS."""
        q = self.w.start(sql, **kw)
        self.assertUUID(q["id"])
        self.assertEqual(q["status"], "SUBMITTED")
        done = self.w.wait(q["id"])
        self.assertEqual(done["status"], "SUCCESS", done)
        return done

    def csv_result(self, done):
        return parse_csv(self.w.download(done["result"]["output"]["s3"]["location"]))

    def assertGroups(self, header, rows, want_header, want, nkeys=1):
        """rows, keyed by their first nkeys columns, equal want."""
        self.assertEqual(header, want_header)
        got = {}
        for r in rows:
            key = tuple(r[:nkeys]) if nkeys > 1 else r[0]
            self.assertNotIn(key, got, "group %r appears twice" % (key,))
            got[key] = tuple(int(float(v)) for v in r[nkeys:])
        self.assertEqual(got, want)


@part("queries")
class AggregationQueryTest(QueryTestCase):

    def test_join_csv_with_parquet(self):
        w = self.w
        q = w.start(SEGMENT_QUERY)
        self.assertEqual(q["membershipId"], w.ms_a)
        self.assertEqual(q["membershipArn"], "arn:aws:cleanrooms:us-east-1:%s:membership/%s" % (w.a, w.ms_a))
        self.assertEqual(q["sqlParameters"], {"queryString": SEGMENT_QUERY})
        self.assertEqual(q["resultConfiguration"]["outputConfiguration"]["s3"],
                         {"resultFormat": "CSV", "bucket": w.results, "keyPrefix": "runs"})
        done = w.wait(q["id"])
        self.assertEqual(done["status"], "SUCCESS", done)
        self.assertNotIn("error", done)
        self.assertGreaterEqual(done["statistics"]["totalDurationInMillis"], 0)
        location = done["result"]["output"]["s3"]["location"]
        self.assertEqual(location, "s3://%s/runs/%s/result/result.csv" % (w.results, q["id"]))
        header, rows = self.csv_result(done)

        # B's threshold (3) beats A's (2): "tiny", with two buyers, is gone.
        want = aggregate(joined(), lambda c, p: c[1], 3)
        self.assertEqual(set(want), set(SEGMENTS))
        self.assertIn("tiny", aggregate(joined(), lambda c, p: c[1], 2), "the data has a group below the threshold")
        self.assertGroups(header, rows, ["segment", "buyers", "revenue"], want)

        # The result object is an ordinary object in A's bucket.
        listed = s3(w.a).list_objects_v2(Bucket=w.results, Prefix="runs/%s/" % q["id"])["Contents"]
        self.assertEqual([o["Key"] for o in listed], ["runs/%s/result/result.csv" % q["id"]])

    def test_two_dimensions_filter_and_threshold(self):
        sql = ("SELECT c.segment, p.region, COUNT(DISTINCT c.user_id) AS buyers, SUM(p.amount) AS revenue "
               "FROM customers c INNER JOIN purchases p ON c.user_id = p.user_id "
               "WHERE c.age >= 25 AND c.segment <> 'music' GROUP BY c.segment, p.region")
        header, rows = self.csv_result(self.run_query(sql))
        pairs = joined(lambda c, p: int(c[2]) >= 25 and c[1] != "music")
        want = aggregate(pairs, lambda c, p: (c[1], p[2]), 3)
        below = set(aggregate(pairs, lambda c, p: (c[1], p[2]), 1)) - set(want)
        self.assertEqual(below, {("travel", "apac"), ("food", "apac"), ("tiny", "eu")},
                         "groups of one or two buyers, under B's threshold")
        self.assertTrue(want)
        self.assertGroups(header, rows, ["segment", "region", "buyers", "revenue"], want, nkeys=2)

    def test_scalar_function_and_no_group(self):
        sql = ("SELECT UPPER(p.region) AS region, COUNT(DISTINCT p.user_id) AS buyers FROM purchases p "
               "INNER JOIN customers c ON p.user_id = c.user_id GROUP BY UPPER(p.region)")
        header, rows = self.csv_result(self.run_query(sql))
        users = collections.defaultdict(set)
        for _, p in joined():
            users[p[2].upper()].add(p[0])
        want = {k: (len(v),) for k, v in users.items() if len(v) >= 3}
        self.assertEqual(set(want), {"EU", "US"})
        self.assertGroups(header, rows, ["region", "buyers"], want)
        # Without GROUP BY the whole join is one row.
        header, rows = self.csv_result(self.run_query(
            "SELECT COUNT(DISTINCT p.user_id) AS buyers, SUM(p.amount) AS revenue "
            "FROM customers c INNER JOIN purchases p ON c.user_id = p.user_id"))
        pairs = joined()
        self.assertEqual(header, ["buyers", "revenue"])
        self.assertEqual([[int(float(v)) for v in r] for r in rows],
                         [[len({p[0] for _, p in pairs}), sum(int(p[1]) for _, p in pairs)]])

    def test_parquet_result(self):
        w = self.w
        done = self.run_query(SEGMENT_QUERY, fmt="PARQUET", prefix="parquet/runs")
        location = done["result"]["output"]["s3"]["location"]
        self.assertTrue(location.startswith("s3://%s/parquet/runs/%s/result/" % (w.results, done["id"])), location)
        self.assertTrue(location.endswith(".parquet"), location)
        self.assertEqual(done["resultConfiguration"]["outputConfiguration"]["s3"]["resultFormat"], "PARQUET")
        data = w.download(location)
        self.assertEqual(data[:4], b"PAR1")
        self.assertEqual(data[-4:], b"PAR1")
        path = os.path.join(tmpdir(), "result.parquet")
        with open(path, "wb") as f:
            f.write(data)
        schema, rows = parquet_rows(path)
        self.assertEqual([n for n, _ in schema], ["segment", "buyers", "revenue"])
        self.assertEqual(schema[0][1], "VARCHAR")
        self.assertIn(schema[1][1], ("BIGINT", "INTEGER", "HUGEINT"))
        self.assertGroups(["segment", "buyers", "revenue"], rows, ["segment", "buyers", "revenue"],
                          aggregate(joined(), lambda c, p: c[1], 3))

    def test_default_result_configuration(self):
        w = self.w
        q = w.start(SEGMENT_QUERY, result=False)
        self.assertEqual(q["resultConfiguration"]["outputConfiguration"]["s3"],
                         {"resultFormat": "CSV", "bucket": w.results, "keyPrefix": "default"})
        done = w.wait(q["id"])
        self.assertEqual(done["status"], "SUCCESS", done)
        location = done["result"]["output"]["s3"]["location"]
        self.assertEqual(location, "s3://%s/default/%s/result/result.csv" % (w.results, q["id"]))
        header, rows = parse_csv(w.download(location))
        self.assertGroups(header, rows, ["segment", "buyers", "revenue"], aggregate(joined(), lambda c, p: c[1], 3))


@part("queries")
class ListQueryTest(QueryTestCase):

    def test_list_query(self):
        sql = ("SELECT DISTINCT c.segment, p.region FROM customer_list c "
               "INNER JOIN purchase_list p ON c.user_id = p.user_id WHERE p.region IN ('eu', 'apac')")
        header, rows = self.csv_result(self.run_query(sql))
        self.assertEqual(header, ["segment", "region"])
        want = {(c[1], p[2]) for c, p in joined(lambda c, p: p[2] in ("eu", "apac"))}
        self.assertIn(("travel", "apac"), want, "LIST has no thresholds: small groups stay")
        self.assertEqual(len(rows), len(want), "SELECT DISTINCT: no duplicates")
        self.assertEqual({tuple(r) for r in rows}, want)

    def test_list_query_with_limit(self):
        sql = ("SELECT DISTINCT p.region FROM purchase_list p "
               "INNER JOIN customer_list c ON p.user_id = c.user_id LIMIT 2")
        header, rows = self.csv_result(self.run_query(sql))
        self.assertEqual(header, ["region"])
        self.assertEqual(len(rows), 2)
        self.assertLessEqual({r[0] for r in rows}, {p[2] for _, p in joined()})


@part("queries")
class TemplateQueryTest(QueryTestCase):

    SQL = ("SELECT region, COUNT(DISTINCT user_id) AS buyers, SUM(amount) AS revenue "
           "FROM purchase_custom WHERE amount >= :min_amount GROUP BY region")

    @staticmethod
    def expected(min_amount):
        users, totals = collections.defaultdict(set), collections.Counter()
        for p in purchases():
            if int(p[1]) >= min_amount:
                users[p[2]].add(p[0])
                totals[p[2]] += int(p[1])
        return {k: (len(u), totals[k]) for k, u in users.items()}

    def test_template_with_parameters(self):
        w = self.w
        ca, cb = cr(w.a), cr(w.b)
        tmpl = ca.create_analysis_template(
            membershipIdentifier=w.ms_a, name="revenue_by_region", format="SQL", source={"text": self.SQL},
            analysisParameters=[{"name": "min_amount", "type": "INTEGER", "defaultValue": "20"}])["analysisTemplate"]
        arn = tmpl["arn"]
        self.assertEqual(tmpl["schema"]["referencedTables"], ["purchase_custom"])

        # B's CUSTOM rule doesn't allow it yet: refused at start.
        resp = self.assertInvalid(["purchase_custom"], w.start, template=arn, parameters={"min_amount": "50"},
                                  reason="INVALID_QUERY")
        cb.update_configured_table_analysis_rule(
            configuredTableIdentifier=w.custom_table, analysisRuleType="CUSTOM",
            analysisRulePolicy={"v1": {"custom": {"allowedAnalyses": [arn], "disallowedOutputColumns": ["user_id"]}}})

        done = self.run_query(template=arn, parameters={"min_amount": "50"})
        self.assertEqual(done["sqlParameters"], {"analysisTemplateArn": arn, "parameters": {"min_amount": "50"}})
        header, rows = self.csv_result(done)
        self.assertGroups(header, rows, ["region", "buyers", "revenue"], self.expected(50))
        # The default value applies when the parameter is not given.
        header, rows = self.csv_result(self.run_query(template=arn))
        self.assertGroups(header, rows, ["region", "buyers", "revenue"], self.expected(20))
        self.assertNotEqual(self.expected(20), self.expected(50))

        # Parameters the template doesn't declare, or values of the wrong type.
        self.assertInvalid(["max_amount"], w.start, template=arn, parameters={"max_amount": "1"})
        # A value that isn't an INTEGER never runs as one: refused at start
        # or failed with an error.
        try:
            q = w.start(template=arn, parameters={"min_amount": "lots"})
        except ClientError as e:
            self.assertEqual(e.response["Error"]["Code"], "ValidationException", e.response)
        else:
            done = w.wait(q["id"])
            self.assertEqual(done["status"], "FAILED", done)
            self.assertTrue(done["error"]["code"] and done["error"]["message"], done)
        # The template is the only analysis allowed: the same SQL as text is not.
        self.assertInvalid(["purchase_custom"], w.start, "SELECT region, COUNT(DISTINCT user_id) AS buyers "
                                                         "FROM purchase_custom GROUP BY region", reason="INVALID_QUERY")
        # B can't run it: it can't query.
        self.assertError("AccessDeniedException", 403, cb.start_protected_query, type="SQL", membershipIdentifier=w.ms_b,
                                sqlParameters={"analysisTemplateArn": arn})


@part("queries")
class RejectedQueryTest(QueryTestCase):

    def test_rejections_name_the_rule_and_column(self):
        w = self.w
        cases = [
            # A join column is never output.
            ("SELECT c.user_id, COUNT(DISTINCT p.user_id) AS n FROM customers c "
             "INNER JOIN purchases p ON c.user_id = p.user_id GROUP BY c.user_id", ["user_id"]),
            # An aggregate the rule doesn't grant on the column.
            ("SELECT c.segment, AVG(p.amount) FROM customers c INNER JOIN purchases p ON c.user_id = p.user_id "
             "GROUP BY c.segment", ["AVG", "amount"]),
            # A column the configured table doesn't allow.
            ("SELECT p.purchased_at, COUNT(DISTINCT p.user_id) FROM customers c INNER JOIN purchases p "
             "ON c.user_id = p.user_id GROUP BY p.purchased_at", ["purchased_at"]),
            # B's table must be joined with one of A's.
            ("SELECT p.region, SUM(p.amount) FROM purchases p GROUP BY p.region", ["purchases"]),
            # Tables of different rule types can't be mixed.
            ("SELECT c.segment, COUNT(DISTINCT p.user_id) FROM customers c INNER JOIN purchase_list p "
             "ON c.user_id = p.user_id GROUP BY c.segment", ["purchase_list"]),
            # LIST needs SELECT DISTINCT.
            ("SELECT c.segment FROM customer_list c INNER JOIN purchase_list p ON c.user_id = p.user_id", ["DISTINCT"]),
            # Not a configured table.
            ("SELECT COUNT(DISTINCT x.user_id) FROM strangers x", ["strangers"]),
            ("SELECT * FROM read_csv('/etc/passwd')", []),
        ]
        for sql, wants in cases:
            with self.subTest(sql=sql):
                resp = self.assertInvalid(wants, w.start, sql, reason="INVALID_QUERY")
                self.assertTrue(resp["Error"]["Message"].strip())
        # Result locations: a bucket that isn't A's, or doesn't exist.
        self.assertInvalid(["data-" + w.b], cr(w.a).start_protected_query, type="SQL", membershipIdentifier=w.ms_a,
                           sqlParameters={"queryString": SEGMENT_QUERY},
                           resultConfiguration={"outputConfiguration": {"s3": {"resultFormat": "CSV",
                                                                              "bucket": "data-" + w.b}}})
        self.assertInvalid(["no-such-bucket"], cr(w.a).start_protected_query, type="SQL", membershipIdentifier=w.ms_a,
                           sqlParameters={"queryString": SEGMENT_QUERY},
                           resultConfiguration={"outputConfiguration": {"s3": {"resultFormat": "CSV",
                                                                              "bucket": "no-such-bucket"}}})
        # B can't query, nor see A's queries.
        self.assertError("AccessDeniedException", 403, cr(w.b).start_protected_query, type="SQL", membershipIdentifier=w.ms_b,
                                sqlParameters={"queryString": SEGMENT_QUERY})
        self.assertNotFound("MEMBERSHIP", cr(w.b).list_protected_queries, membershipIdentifier=w.ms_a)


@part("queries")
class CancellationAndListingTest(QueryTestCase):

    def test_cancel(self):
        """Two endless queries take both of the server's workers; a third
        waits SUBMITTED. Cancelling the waiting one ends it at once; the
        running ones go through CANCELLING, and their runner stops them."""
        w = self.w
        running = [w.start(ENDLESS, prefix="endless")["id"] for _ in range(2)]
        for qid in running:
            w.wait(qid, timeout=60, until=("STARTED",))
        waiting = w.start(ENDLESS, prefix="endless")["id"]
        time.sleep(0.5)
        self.assertEqual(w.get(waiting)["status"], "SUBMITTED", "both workers are busy")

        up = cr(w.a).update_protected_query(membershipIdentifier=w.ms_a, protectedQueryIdentifier=waiting,
                                            targetStatus="CANCELLED")["protectedQuery"]
        self.assertEqual(up["status"], "CANCELLED")
        self.assertEqual(w.get(waiting)["status"], "CANCELLED")
        for qid in running:
            up = cr(w.a).update_protected_query(membershipIdentifier=w.ms_a, protectedQueryIdentifier=qid,
                                                targetStatus="CANCELLED")["protectedQuery"]
            self.assertIn(up["status"], ("CANCELLING", "CANCELLED"))
        started = time.monotonic()
        for qid in running:
            done = w.wait(qid, timeout=60)
            self.assertEqual(done["status"], "CANCELLED", done)
            self.assertNotIn("result", done)
        self.assertLess(time.monotonic() - started, 10, "a cancelled query stops without waiting for its lease renewal")
        # No result was written.
        self.assertEqual(s3(w.a).list_objects_v2(Bucket=w.results, Prefix="endless/").get("KeyCount"), 0)

        # Ended queries can't be cancelled.
        for qid in (waiting, running[0]):
            self.assertConflict("INVALID_STATE", cr(w.a).update_protected_query, membershipIdentifier=w.ms_a,
                                protectedQueryIdentifier=qid, targetStatus="CANCELLED")
        done = self.run_query(SEGMENT_QUERY)
        self.assertConflict("INVALID_STATE", cr(w.a).update_protected_query, membershipIdentifier=w.ms_a,
                            protectedQueryIdentifier=done["id"], targetStatus="CANCELLED")
        self.assertEqual(w.get(done["id"])["status"], "SUCCESS")
        # Only CANCELLED is a target status; only A can cancel A's queries.
        self.assertError("ValidationException", 400, cr(w.a).update_protected_query, membershipIdentifier=w.ms_a,
                         protectedQueryIdentifier=done["id"], targetStatus="SUCCESS")
        self.assertNotFound("MEMBERSHIP", cr(w.b).update_protected_query, membershipIdentifier=w.ms_a,
                            protectedQueryIdentifier=running[1], targetStatus="CANCELLED")

        # Listing by status.
        cancelled = {q["id"] for q in self.list_all(status="CANCELLED")}
        self.assertLessEqual({waiting, *running}, cancelled)
        for q in self.list_all(status="CANCELLED"):
            self.assertEqual(q["status"], "CANCELLED")

    def list_all(self, page_size=2, **kw):
        paginator = cr(self.w.a).get_paginator("list_protected_queries")
        out = []
        for page in paginator.paginate(membershipIdentifier=self.w.ms_a, PaginationConfig={"PageSize": page_size}, **kw):
            self.assertLessEqual(len(page["protectedQueries"]), page_size)
            out.extend(page["protectedQueries"])
        ids = [q["id"] for q in out]
        self.assertEqual(len(ids), len(set(ids)), "a query listed twice")
        return out

    def test_list_protected_queries(self):
        w = self.w
        mine = [self.run_query(SEGMENT_QUERY, prefix="listing")["id"] for _ in range(3)]
        everything = self.list_all(page_size=100)
        self.assertEqual({q["id"] for q in self.list_all(page_size=2)}, {q["id"] for q in everything})
        success = self.list_all(status="SUCCESS")
        self.assertLessEqual(set(mine), {q["id"] for q in success})
        for q in success:
            self.assertEqual(q["status"], "SUCCESS")
            self.assertEqual(q["membershipId"], w.ms_a)
            self.assertEqual(q["membershipArn"], "arn:aws:cleanrooms:us-east-1:%s:membership/%s" % (w.a, w.ms_a))
            self.assertEqual(q["receiverConfigurations"],
                             [{"analysisType": "DIRECT_ANALYSIS",
                               "configurationDetails": {"directAnalysisConfigurationDetails": {"receiverAccountIds": [w.a]}}}])
        for status in ("FAILED", "CANCELLED", "TIMED_OUT"):
            listed = self.list_all(status=status)
            self.assertEqual({q["status"] for q in listed} - {status}, set())
            self.assertFalse(set(mine) & {q["id"] for q in listed})
        self.assertEqual(self.list_all(status="STARTED"), [], "nothing is left running")
        first = cr(w.a).list_protected_queries(membershipIdentifier=w.ms_a, maxResults=1)
        self.assertEqual(len(first["protectedQueries"]), 1)
        self.assertIn("nextToken", first)


@part("restart")
class RestartTest(DataPlaneTestCase):
    """A query whose server stops mid-run is finished by the next server on
    the same data directory: it ends SUCCESS (resumed) or FAILED with an
    error saying why, never stays STARTED. A server stopped by SIGTERM hands
    its running queries back, so the next one resumes them at once; after a
    SIGKILL the dead runner's 30-second lease must lapse first. Both run at
    once, so the lease is waited out once."""

    LIMIT = 400  # 4·10^8 rows: a few seconds
    LEASE = 30

    def test_query_survives_restart(self):
        servers = {sig: ServerProcess(os.path.join(tmpdir(), "data")) for sig in ("SIGKILL", "SIGTERM")}
        for srv in servers.values():
            self.addCleanup(srv.cleanup)
            srv.start()
        worlds = {sig: World(srv.endpoint, full=False) for sig, srv in servers.items()}
        queries = {sig: w.start(slow_query(self.LIMIT), prefix="restart")["id"] for sig, w in worlds.items()}
        started = {}
        for sig, w in worlds.items():
            self.assertEqual(w.wait(queries[sig], timeout=30, until=("STARTED",) + TERMINAL)["status"], "STARTED",
                             "the query must still run when its server stops")
            started[sig] = time.monotonic()

        self.assertEqual(servers["SIGKILL"].kill(), -9)
        self.assertEqual(servers["SIGTERM"].terminate(), 0, "SIGTERM ends the server with status 0:\n" +
                         servers["SIGTERM"].log())
        for sig, srv in servers.items():
            srv.start()
            worlds[sig].endpoint = srv.endpoint
        # The query outlived its server: after SIGKILL still under the dead
        # runner's lease, after SIGTERM handed back (and maybe taken again).
        self.assertEqual(worlds["SIGKILL"].get(queries["SIGKILL"])["status"], "STARTED")
        self.assertIn(worlds["SIGTERM"].get(queries["SIGTERM"])["status"], ("SUBMITTED", "STARTED"))

        # Watch both until they end.
        done, ended = {}, {}
        deadline = time.monotonic() + 150
        while len(done) < len(worlds):
            for sig, w in worlds.items():
                if sig not in done:
                    q = w.get(queries[sig])
                    if q["status"] in TERMINAL:
                        done[sig], ended[sig] = q, time.monotonic() - started[sig]
            self.assertLess(time.monotonic(), deadline, "queries still running: %r" % {
                sig: worlds[sig].get(queries[sig])["status"] for sig in worlds if sig not in done})
            time.sleep(0.1)

        want_n, want_s = slow_query_result(self.LIMIT)
        for sig, q in done.items():
            with self.subTest(stopped_by=sig):
                print("%s: the query ended %s %.1fs after it started" % (sig, q["status"], ended[sig]))
                self.assertIn(q["status"], ("SUCCESS", "FAILED"), q)
                if q["status"] == "FAILED":
                    self.assertTrue(q["error"]["code"] and q["error"]["message"], q)
                    continue
                header, rows = parse_csv(worlds[sig].download(q["result"]["output"]["s3"]["location"]))
                self.assertEqual(header, ["n", "s"])
                self.assertEqual([[int(v) for v in r] for r in rows], [[want_n, want_s]])
        self.assertEqual(done["SIGTERM"]["status"], "SUCCESS", "a graceful stop doesn't cost the query an attempt")
        self.assertLess(ended["SIGTERM"], self.LEASE - 5,
                        "after SIGTERM the next server resumes the query without waiting for the lease to lapse")
        for srv in servers.values():
            self.assertEqual(srv.terminate(), 0)


if __name__ == "__main__":
    unittest.main()
