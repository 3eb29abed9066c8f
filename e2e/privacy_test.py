"""End-to-end attacks on the privacy promise, with unmodified boto3 clients.

The member who can query (A) learns what the analysis rules release and
nothing else. Each test builds two collaborations that differ only in
data the rules hide from A: rows of B's table that join none of A's rows,
or a user of both tables who is alone in a group below B's output
constraint. The same query runs in both; everything A observes (the
query's status, its error code and message, the result file's bytes) must
be the same. The queries are the three classes of attack that recovered
exact values before error-free evaluation:

  1. a HAVING expression that fails on a group the threshold removes;
  2. a WHERE expression that fails on a row that joins nothing;
  3. CUSTOM: a disallowed column copied to the output by an equality join,
     or rebuilt by counting rows joined on a comparison with it (refused).

See docs/privacy.md.
"""

import time
import unittest

from botocore.exceptions import ClientError

from dataplane_support import (
    TERMINAL, DataPlaneTestCase, associate, configured_table, cols, cr, create_glue_table, csv_storage,
    fresh_account, s3, setup_module, table_rule, teardown_module, tmpdir, two_party_collaboration, write_csv)


def setUpModule():
    setup_module()


def tearDownModule():
    teardown_module()


def customers():
    return [["u%03d" % i, ["sports", "travel", "food"][i % 3]] for i in range(60)]


def purchases():
    return [["u%03d" % i, str(10 + i % 7), "r%d" % (i % 2), str(100 + i % 5), str(i)] for i in range(60)]


# What the rules hide, in one of the two collaborations of each pair.
HIDDEN = {
    # B's rows that join nothing, with values that make risky expressions
    # fail: a code that isn't a number, an amount near the largest integer.
    "unjoined": lambda c, p: (c, p + [["x%03d" % i, "2147483647", "zz", "zz", "-1"] for i in range(3)]),
    # One user in both tables, alone in its segment (below B's minimum of
    # three users), with a negative amount and a code that isn't a number.
    "hidden group": lambda c, p: (c + [["h001", "lonely"]], p + [["h001", "-2147483648", "r9", "zz", "-5"]]),
}


class World:
    """One collaboration: A's customers (AGGREGATION, LIST, CUSTOM rules),
    B's purchases under the same three rule types."""

    def __init__(self, hidden=None):
        self.a, self.b = a, b = fresh_account(), fresh_account()
        c, p = customers(), purchases()
        if hidden:
            c, p = HIDDEN[hidden](c, p)
        d = tmpdir()
        s3a, s3b = s3(a), s3(b)
        for bucket in ("data-" + a, "results-" + a):
            s3a.create_bucket(Bucket=bucket)
        s3b.create_bucket(Bucket="data-" + b)
        self.results = "results-" + a
        self.collab, self.ms_a, self.ms_b = two_party_collaboration(
            a, b, name="privacy", a_results={"outputConfiguration": {"s3": {"resultFormat": "CSV", "bucket": self.results}}})
        write_csv(d + "/c.csv", ["user_id", "segment"], c)
        s3a.upload_file(d + "/c.csv", "data-" + a, "customers/c.csv")
        create_glue_table(a, "crm", "customers", csv_storage(
            "s3://data-%s/customers/" % a, cols(("user_id", "string"), ("segment", "string"))), "csv")
        write_csv(d + "/p.csv", ["user_id", "amount", "region", "code", "score"], p)
        s3b.upload_file(d + "/p.csv", "data-" + b, "purchases/p.csv")
        create_glue_table(b, "sales", "purchases", csv_storage("s3://data-%s/purchases/" % b, cols(
            ("user_id", "string"), ("amount", "int"), ("region", "string"), ("code", "string"), ("score", "int"))), "csv")

        scalars = ["CAST", "LN", "SQRT", "ABS", "ROUND", "UPPER"]
        t = configured_table(a, "customers", "crm", "customers", ["user_id", "segment"])
        table_rule(a, t["id"], "AGGREGATION", {
            "aggregateColumns": [{"columnNames": ["user_id"], "function": "COUNT_DISTINCT"}],
            "joinColumns": ["user_id"], "dimensionColumns": ["segment"], "scalarFunctions": scalars,
            "outputConstraints": [{"columnName": "user_id", "minimum": 2, "type": "COUNT_DISTINCT"}]})
        associate(a, self.ms_a, t["id"], "customers", "AGGREGATION", [a])
        t = configured_table(b, "purchases", "sales", "purchases", ["user_id", "amount", "region", "code"])
        table_rule(b, t["id"], "AGGREGATION", {
            "aggregateColumns": [{"columnNames": ["user_id"], "function": "COUNT_DISTINCT"},
                                 {"columnNames": ["amount"], "function": "SUM"}],
            "joinColumns": ["user_id"], "joinRequired": "QUERY_RUNNER", "dimensionColumns": ["region", "code"],
            "scalarFunctions": scalars,
            "outputConstraints": [{"columnName": "user_id", "minimum": 3, "type": "COUNT_DISTINCT"}]})
        associate(b, self.ms_b, t["id"], "purchases", "AGGREGATION", [a])

        t = configured_table(a, "customer list", "crm", "customers", ["user_id", "segment"])
        table_rule(a, t["id"], "LIST", {"joinColumns": ["user_id"], "listColumns": ["segment"]})
        associate(a, self.ms_a, t["id"], "customer_list", "LIST", [a])
        t = configured_table(b, "purchase list", "sales", "purchases", ["user_id", "amount", "region"])
        table_rule(b, t["id"], "LIST", {"joinColumns": ["user_id"], "listColumns": ["region", "amount"]})
        associate(b, self.ms_b, t["id"], "purchase_list", "LIST", [a])

        t = configured_table(a, "customer custom", "crm", "customers", ["user_id", "segment"])
        table_rule(a, t["id"], "CUSTOM", {"allowedAnalyses": ["ANY_QUERY"], "allowedAnalysisProviders": [a]})
        associate(a, self.ms_a, t["id"], "customer_custom", "CUSTOM", [a])
        t = configured_table(b, "purchase custom", "sales", "purchases", ["user_id", "amount", "region", "score"])
        table_rule(b, t["id"], "CUSTOM", {"allowedAnalyses": ["ANY_QUERY"], "allowedAnalysisProviders": [a],
                                          "disallowedOutputColumns": ["region", "score"]})
        associate(b, self.ms_b, t["id"], "purchase_custom", "CUSTOM", [a])

    def outcome(self, sql):
        """Everything A observes of one query: the refusal, or the final
        status with its error or the result file's bytes."""
        client = cr(self.a)
        try:
            q = client.start_protected_query(type="SQL", membershipIdentifier=self.ms_a,
                                             sqlParameters={"queryString": sql})["protectedQuery"]
        except ClientError as e:
            err = e.response["Error"]
            return ("REFUSED", e.response["ResponseMetadata"]["HTTPStatusCode"], err["Code"], err.get("Message"))
        deadline = time.monotonic() + 120
        while q["status"] not in TERMINAL:
            if time.monotonic() > deadline:
                raise AssertionError("query %s is still %s" % (q["id"], q["status"]))
            time.sleep(0.05)
            q = client.get_protected_query(membershipIdentifier=self.ms_a, protectedQueryIdentifier=q["id"])["protectedQuery"]
        if q["status"] != "SUCCESS":
            return (q["status"], q.get("error", {}).get("code"), q.get("error", {}).get("message"))
        bucket, key = q["result"]["output"]["s3"]["location"][len("s3://"):].split("/", 1)
        return ("SUCCESS", s3(self.a).get_object(Bucket=bucket, Key=key)["Body"].read())


_worlds = {}


def world(kind):
    if kind not in _worlds:
        _worlds[kind] = World(kind)
    return _worlds[kind]


class PrivacyTest(DataPlaneTestCase):

    def assertSameOutcome(self, hidden, sql):
        """sql has the same outcome with and without the hidden data, and
        returns it."""
        plain, other = world(None).outcome(sql), world(hidden).outcome(sql)
        self.assertEqual(plain, other, "the outcome of %r depends on %s data the rules hide" % (sql, hidden))
        return plain

    def test_having_cannot_probe_a_group_below_the_threshold(self):
        # LN of a negative sum and a cast that overflows fail only on the
        # hidden user's group, which B's threshold removes.
        for sql in [
            "SELECT c.segment, COUNT(DISTINCT p.user_id) AS n FROM customers c JOIN purchases p ON c.user_id = p.user_id "
            "GROUP BY c.segment HAVING LN(SUM(p.amount)) > 0",
            "SELECT c.segment, COUNT(DISTINCT p.user_id) AS n FROM customers c JOIN purchases p ON c.user_id = p.user_id "
            "GROUP BY c.segment HAVING CAST(SUM(p.amount) * 1000000 AS INTEGER) <> 0",
            "SELECT c.segment, SUM(p.amount) AS s FROM customers c JOIN purchases p ON c.user_id = p.user_id "
            "GROUP BY c.segment HAVING SQRT(COUNT(DISTINCT p.user_id) - 2) >= 0",
        ]:
            out = self.assertSameOutcome("hidden group", sql)
            self.assertEqual(out[0], "SUCCESS", out)

    def test_where_cannot_probe_rows_that_join_nothing(self):
        for sql in [
            "SELECT c.segment, COUNT(DISTINCT p.user_id) AS n FROM customers c JOIN purchases p ON c.user_id = p.user_id "
            "WHERE CAST(p.code AS INTEGER) > 0 GROUP BY c.segment",
            "SELECT c.segment, COUNT(DISTINCT p.user_id) AS n FROM customers c JOIN purchases p ON c.user_id = p.user_id "
            "WHERE p.region = 'zz' OR LN(CAST(p.code AS INTEGER) - 50) > 0 GROUP BY c.segment",
            "SELECT DISTINCT c.segment FROM customer_list c JOIN purchase_list p ON c.user_id = p.user_id "
            "WHERE p.amount * 1000 > 5",
            "SELECT DISTINCT c.segment, p.region FROM customer_list c JOIN purchase_list p ON c.user_id = p.user_id "
            "WHERE p.region = 'zz' OR p.amount IN ('x')",
        ]:
            out = self.assertSameOutcome("unjoined", sql)
            self.assertEqual(out[0], "SUCCESS", out)

    def test_custom_refuses_copies_of_disallowed_columns(self):
        # A's own segment column, equated with B's disallowed region, would
        # carry its values; so would counting A's rows joined on a
        # comparison with B's disallowed score.
        for sql in [
            "SELECT c.segment FROM customer_custom c JOIN purchase_custom p ON c.segment = p.region",
            "SELECT c.segment FROM customer_custom c WHERE c.segment IN (SELECT region FROM purchase_custom)",
            "SELECT p.user_id, COUNT(*) AS n FROM purchase_custom p JOIN customer_custom c ON c.user_id < CAST(p.score AS VARCHAR) "
            "GROUP BY p.user_id",
        ]:
            out = world(None).outcome(sql)
            self.assertEqual(out[:3], ("REFUSED", 400, "ValidationException"), out)
            self.assertIn("disallowed output column", out[3])
        # Filtering and joining on a disallowed column stay allowed.
        out = world(None).outcome("SELECT c.segment, COUNT(*) AS n FROM customer_custom c JOIN purchase_custom p "
                                  "ON c.user_id = p.user_id WHERE p.region = 'r1' GROUP BY c.segment ORDER BY 1")
        self.assertEqual(out, ("SUCCESS", b"segment,n\nfood,10\nsports,10\ntravel,10\n"))

    def test_compliant_query_unchanged(self):
        out = self.assertSameOutcome("unjoined", "SELECT c.segment, COUNT(DISTINCT p.user_id) AS buyers, SUM(p.amount) AS total "
                                                 "FROM customers c JOIN purchases p ON c.user_id = p.user_id GROUP BY c.segment")
        totals = {}
        for c, p in zip(customers(), purchases()):
            totals.setdefault(c[1], [0, 0])
            totals[c[1]][0] += 1
            totals[c[1]][1] += int(p[1])
        want = "segment,buyers,total\n" + "".join("%s,%d,%d\n" % (k, v[0], v[1]) for k, v in sorted(totals.items()))
        self.assertEqual(out, ("SUCCESS", want.encode()))


if __name__ == "__main__":
    unittest.main()
