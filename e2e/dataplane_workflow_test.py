"""End-to-end tests of the data plane driven by unmodified boto3 clients:
S3 (path-style), the Glue Data Catalog and Clean Rooms on one endpoint.

Two accounts: A (the advertiser) creates the collaboration and can query
and receive results; B (the publisher) contributes data. Each uploads its
data to its own bucket (A a CSV file with a header, B a Parquet file),
describes it in its own Glue catalog, configures a table over it with an
analysis rule, associates it with the collaboration and adds a
collaboration analysis rule naming A as result receiver; each reads the
other's schemas. Then every documented invalid configuration, and what one
account may not see of another's.

See dataplane_support.py for the environment the Go runner passes.
"""

import datetime
import os
import unittest

from botocore.exceptions import ClientError

from dataplane_support import (
    CSV_SERDE, PARQUET_SERDE, REGION, DataPlaneTestCase, associate, association_arn, cols, configured_table,
    configured_table_arn, cr, create_glue_table, csv_storage, csv_to_parquet, fresh_account, glue, parquet_storage,
    role_arn, s3, setup_module, table_rule, teardown_module, template_arn, tmpdir, two_party_collaboration, write_csv)

NIL_UUID = "00000000-0000-4000-8000-000000000000"


def setUpModule():
    setup_module()


def tearDownModule():
    teardown_module()


# A's customers: CSV with a header. "notes" is in the Glue table but never
# allowed in a configured table.
CUSTOMER_COLUMNS = cols(("user_id", "string"), ("segment", "string"), ("age", "int"),
                        ("lifetime_value", "double"), ("notes", "string"))
# B's purchases: Parquet.
PURCHASE_COLUMNS = cols(("user_id", "string"), ("amount", "int"), ("region", "string"),
                        ("purchased_at", "date"), ("sku", "string"))


def customer_rows():
    segments = ["sports", "travel", "food"]
    return [["u%03d" % i, segments[i % 3], str(20 + i % 50), "%.2f" % (i * 1.5), "note %d" % i] for i in range(30)]


def purchase_rows():
    return [["u%03d" % (i % 40), str(5 + i), ["eu", "us"][i % 2], "2024-03-%02d" % (1 + i % 28), "sku-%d" % (i % 7)]
            for i in range(50)]


class Parties:
    """Two fresh accounts with their data uploaded and catalogued."""

    def __init__(self, test):
        self.a, self.b = fresh_account(), fresh_account()
        self.dir = tmpdir()
        a, b = self.a, self.b
        # A: a CSV file with a header, uploaded with the transfer manager.
        self.csv_path = os.path.join(self.dir, "customers.csv")
        write_csv(self.csv_path, [c["Name"] for c in CUSTOMER_COLUMNS], customer_rows())
        test.ok(s3(a).create_bucket(Bucket="data-" + a))
        s3(a).upload_file(self.csv_path, "data-" + a, "crm/customers/part-00000.csv")
        create_glue_table(a, "crm", "customers", csv_storage("s3://data-%s/crm/customers/" % a, CUSTOMER_COLUMNS), "csv")
        # B: a Parquet file, written by DuckDB from a CSV.
        pcsv = os.path.join(self.dir, "purchases.csv")
        write_csv(pcsv, [c["Name"] for c in PURCHASE_COLUMNS], purchase_rows())
        self.parquet_path = os.path.join(self.dir, "purchases.parquet")
        csv_to_parquet(pcsv, self.parquet_path,
                       "user_id, CAST(amount AS INTEGER) AS amount, region, CAST(purchased_at AS DATE) AS purchased_at, sku")
        test.ok(s3(b).create_bucket(Bucket="data-" + b))
        s3(b).upload_file(self.parquet_path, "data-" + b, "sales/purchases/data.parquet")
        create_glue_table(b, "sales", "purchases", parquet_storage("s3://data-%s/sales/purchases/" % b, PURCHASE_COLUMNS),
                          "parquet")

    def collaborate(self):
        self.collab, self.ms_a, self.ms_b = two_party_collaboration(self.a, self.b)
        return self


AGGREGATION_RULE = {
    "aggregateColumns": [{"columnNames": ["amount"], "function": "SUM"},
                         {"columnNames": ["user_id"], "function": "COUNT_DISTINCT"}],
    "joinColumns": ["user_id"],
    "joinRequired": "QUERY_RUNNER",
    "dimensionColumns": ["region", "purchased_at"],
    "scalarFunctions": ["TRUNC", "UPPER"],
    "outputConstraints": [{"columnName": "user_id", "minimum": 3, "type": "COUNT_DISTINCT"}],
}

LIST_RULE = {"joinColumns": ["user_id"], "listColumns": ["segment", "age"], "allowedJoinOperators": ["AND"]}


class StorageAndCatalogTest(DataPlaneTestCase):
    """S3 buckets and objects and Glue tables, each account on its own."""

    def test_s3_and_glue(self):
        p = Parties(self)
        a, b = p.a, p.b

        # A's object is exactly the file it uploaded.
        with open(p.csv_path, "rb") as f:
            data = f.read()
        head = self.ok(s3(a).head_object(Bucket="data-" + a, Key="crm/customers/part-00000.csv"))
        self.assertEqual(head["ContentLength"], len(data))
        got = s3(a).get_object(Bucket="data-" + a, Key="crm/customers/part-00000.csv")["Body"].read()
        self.assertEqual(got, data)
        self.assertTrue(got.startswith(b"user_id,segment,age,lifetime_value,notes\n"))
        listed = s3(a).list_objects_v2(Bucket="data-" + a, Prefix="crm/")
        self.assertEqual([o["Key"] for o in listed["Contents"]], ["crm/customers/part-00000.csv"])
        self.assertEqual([bk["Name"] for bk in s3(a).list_buckets()["Buckets"]], ["data-" + a])
        parquet = s3(b).get_object(Bucket="data-" + b, Key="sales/purchases/data.parquet")["Body"].read()
        with open(p.parquet_path, "rb") as f:
            self.assertEqual(parquet, f.read())
        self.assertEqual(parquet[:4], b"PAR1")
        self.assertEqual(parquet[-4:], b"PAR1")

        # B can't read A's bucket or object, nor list or delete them.
        for fn, kw in ((s3(b).get_object, {"Key": "crm/customers/part-00000.csv"}),
                       (s3(b).head_object, {"Key": "crm/customers/part-00000.csv"}),
                       (s3(b).list_objects_v2, {}),
                       (s3(b).put_object, {"Key": "crm/customers/evil.csv", "Body": b"x"}),
                       (s3(b).delete_object, {"Key": "crm/customers/part-00000.csv"})):
            with self.assertRaises(ClientError) as cm:
                fn(Bucket="data-" + a, **kw)
            err = cm.exception.response
            self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], 403, (fn, err))
            if fn.__name__ != "head_object":  # HEAD responses have no body
                self.assertEqual(err["Error"]["Code"], "AccessDenied", err)
        self.assertEqual(len(s3(a).list_objects_v2(Bucket="data-" + a)["Contents"]), 1, "B's put and delete did nothing")
        # A bucket name is global.
        with self.assertRaises(ClientError) as cm:
            s3(b).create_bucket(Bucket="data-" + a)
        self.assertEqual(cm.exception.response["Error"]["Code"], "BucketAlreadyExists")

        # Glue: the CSV table reads back as created.
        t = self.ok(glue(a).get_table(DatabaseName="crm", Name="customers"))["Table"]
        self.assertEqual(t["Name"], "customers")
        self.assertEqual(t["DatabaseName"], "crm")
        self.assertEqual(t["TableType"], "EXTERNAL_TABLE")
        self.assertEqual(t["Parameters"], {"classification": "csv"})
        sd = t["StorageDescriptor"]
        self.assertEqual(sd["Columns"], CUSTOMER_COLUMNS)
        self.assertEqual(sd["Location"], "s3://data-%s/crm/customers/" % a)
        self.assertEqual(sd["SerdeInfo"]["SerializationLibrary"], CSV_SERDE)
        self.assertEqual(sd["SerdeInfo"]["Parameters"], {"field.delim": ",", "skip.header.line.count": "1"})
        self.assertEqual(sd["InputFormat"], "org.apache.hadoop.mapred.TextInputFormat")
        self.assertIsInstance(t["CreateTime"], datetime.datetime)
        pt = self.ok(glue(b).get_table(DatabaseName="sales", Name="purchases"))["Table"]
        self.assertEqual(pt["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"], PARQUET_SERDE)
        self.assertEqual(pt["StorageDescriptor"]["Columns"], PURCHASE_COLUMNS)
        self.assertEqual(pt["StorageDescriptor"]["Location"], "s3://data-%s/sales/purchases/" % b)
        self.assertEqual([x["Name"] for x in glue(a).get_tables(DatabaseName="crm")["TableList"]], ["customers"])
        self.assertEqual(glue(a).get_database(Name="crm")["Database"]["Name"], "crm")

        # Glue errors: duplicates, missing databases and tables, and another
        # account's catalog, which is simply not there.
        self.assertError("AlreadyExistsException", 400, glue(a).create_table, DatabaseName="crm",
                         TableInput={"Name": "customers", "StorageDescriptor": csv_storage("s3://x/", CUSTOMER_COLUMNS)})
        self.assertError("AlreadyExistsException", 400, glue(a).create_database, DatabaseInput={"Name": "crm"})
        self.assertError("EntityNotFoundException", 400, glue(a).get_table, DatabaseName="crm", Name="nope")
        self.assertError("EntityNotFoundException", 400, glue(a).get_table, DatabaseName="nodb", Name="customers")
        self.assertError("EntityNotFoundException", 400, glue(a).create_table, DatabaseName="nodb",
                         TableInput={"Name": "t", "StorageDescriptor": csv_storage("s3://x/", CUSTOMER_COLUMNS)})
        self.assertError("EntityNotFoundException", 400, glue(b).get_table, DatabaseName="crm", Name="customers")
        self.assertError("EntityNotFoundException", 400, glue(b).get_database, Name="crm")
        self.assertError("EntityNotFoundException", 400, glue(b).get_tables, DatabaseName="crm")
        self.assertError("EntityNotFoundException", 400, glue(b).delete_table, DatabaseName="crm", Name="customers")
        self.assertNotIn("crm", [d["Name"] for d in glue(b).get_databases()["DatabaseList"]])
        self.ok(glue(a).get_table(DatabaseName="crm", Name="customers"))


class DataPlaneWorkflowTest(DataPlaneTestCase):

    def test_workflow(self):
        p = Parties(self).collaborate()
        a, b = p.a, p.b
        ca, cb = cr(a), cr(b)

        # Configured tables over each account's Glue table.
        cust = configured_table(a, "customers", "crm", "customers", ["user_id", "segment", "age"],
                                description="CRM customers", tags={"owner": "crm"})
        self.assertUUID(cust["id"])
        self.assertEqual(cust["arn"], configured_table_arn(a, cust["id"]))
        self.assertEqual(cust["name"], "customers")
        self.assertEqual(cust["description"], "CRM customers")
        self.assertEqual(cust["tableReference"], {"glue": {"databaseName": "crm", "tableName": "customers"}})
        self.assertEqual(cust["allowedColumns"], ["user_id", "segment", "age"])
        self.assertEqual(cust["analysisMethod"], "DIRECT_QUERY")
        self.assertEqual(cust["analysisRuleTypes"], [])
        self.assertEqual(cust["createTime"], cust["updateTime"])
        pur = configured_table(b, "purchases", "sales", "purchases", ["user_id", "amount", "region", "purchased_at"])
        self.assertEqual(self.strip(cb.get_configured_table(configuredTableIdentifier=pur["id"]))["configuredTable"], pur)
        listed = cb.list_configured_tables()["configuredTableSummaries"]
        self.assertEqual([(t["id"], t["name"], t["analysisMethod"]) for t in listed],
                         [(pur["id"], "purchases", "DIRECT_QUERY")])

        # Analysis rules: LIST on A's customers, AGGREGATION on B's purchases.
        lr = table_rule(a, cust["id"], "LIST", LIST_RULE)
        self.assertEqual(lr["configuredTableId"], cust["id"])
        self.assertEqual(lr["configuredTableArn"], cust["arn"])
        self.assertEqual(lr["type"], "LIST")
        self.assertEqual(lr["policy"], {"v1": {"list": LIST_RULE}})
        ar = table_rule(b, pur["id"], "AGGREGATION", AGGREGATION_RULE)
        self.assertEqual(ar["policy"]["v1"]["aggregation"], AGGREGATION_RULE)
        got = cb.get_configured_table_analysis_rule(configuredTableIdentifier=pur["id"], analysisRuleType="AGGREGATION")
        self.assertEqual(got["analysisRule"]["policy"], {"v1": {"aggregation": AGGREGATION_RULE}})
        self.assertEqual(cb.get_configured_table(configuredTableIdentifier=pur["id"])["configuredTable"]["analysisRuleTypes"],
                         ["AGGREGATION"])
        # One rule per configured table.
        self.assertConflict("ALREADY_EXISTS", cb.create_configured_table_analysis_rule, configuredTableIdentifier=pur["id"],
                            analysisRuleType="AGGREGATION", analysisRulePolicy={"v1": {"aggregation": AGGREGATION_RULE}})
        self.assertConflict("ALREADY_EXISTS", cb.create_configured_table_analysis_rule, configuredTableIdentifier=pur["id"],
                            analysisRuleType="LIST", analysisRulePolicy={"v1": {"list": LIST_RULE}})
        self.assertNotFound("CONFIGURED_TABLE", cb.get_configured_table_analysis_rule, configuredTableIdentifier=pur["id"],
                            analysisRuleType="LIST")

        # Associations, and collaboration analysis rules naming A as receiver.
        ca_assoc = associate(a, p.ms_a, cust["id"], "customers", description="advertiser customers")
        self.assertEqual(ca_assoc["arn"], association_arn(a, p.ms_a, ca_assoc["id"]))
        self.assertEqual(ca_assoc["configuredTableId"], cust["id"])
        self.assertEqual(ca_assoc["configuredTableArn"], cust["arn"])
        self.assertEqual(ca_assoc["membershipId"], p.ms_a)
        self.assertEqual(ca_assoc["roleArn"], role_arn(a))
        self.assertEqual(ca_assoc["name"], "customers")
        self.assertEqual(ca_assoc["description"], "advertiser customers")
        self.assertEqual(ca_assoc.get("analysisRuleTypes", []), [])
        pb_assoc = associate(b, p.ms_b, pur["id"], "purchases")
        rule = ca.create_configured_table_association_analysis_rule(
            membershipIdentifier=p.ms_a, configuredTableAssociationIdentifier=ca_assoc["id"], analysisRuleType="LIST",
            analysisRulePolicy={"v1": {"list": {"allowedResultReceivers": [a]}}})["analysisRule"]
        self.assertEqual(rule["configuredTableAssociationId"], ca_assoc["id"])
        self.assertEqual(rule["configuredTableAssociationArn"], ca_assoc["arn"])
        self.assertEqual(rule["membershipIdentifier"], p.ms_a)
        self.assertEqual(rule["type"], "LIST")
        cb.create_configured_table_association_analysis_rule(
            membershipIdentifier=p.ms_b, configuredTableAssociationIdentifier=pb_assoc["id"], analysisRuleType="AGGREGATION",
            analysisRulePolicy={"v1": {"aggregation": {"allowedResultReceivers": [a]}}})
        self.assertConflict("ALREADY_EXISTS", cb.create_configured_table_association_analysis_rule,
                            membershipIdentifier=p.ms_b, configuredTableAssociationIdentifier=pb_assoc["id"],
                            analysisRuleType="AGGREGATION",
                            analysisRulePolicy={"v1": {"aggregation": {"allowedResultReceivers": [a]}}})
        got = cb.get_configured_table_association(membershipIdentifier=p.ms_b,
                                                  configuredTableAssociationIdentifier=pb_assoc["id"])
        self.assertEqual(got["configuredTableAssociation"]["analysisRuleTypes"], ["AGGREGATION"])
        listed = cb.list_configured_table_associations(membershipIdentifier=p.ms_b)["configuredTableAssociationSummaries"]
        self.assertEqual([(x["id"], x["name"], x["configuredTableId"]) for x in listed],
                         [(pb_assoc["id"], "purchases", pur["id"])])

        # An association name is the collaboration's table name: unique
        # there, whoever uses it and in whatever case.
        other = configured_table(b, "purchases too", "sales", "purchases", ["user_id"])
        self.assertConflict("ALREADY_EXISTS", cb.create_configured_table_association, membershipIdentifier=p.ms_b,
                            configuredTableIdentifier=other["id"], name="Customers", roleArn=role_arn(b))
        self.assertConflict("ALREADY_EXISTS", cb.create_configured_table_association, membershipIdentifier=p.ms_b,
                            configuredTableIdentifier=other["id"], name="purchases", roleArn=role_arn(b))
        # A configured table is associated with a membership once.
        self.assertConflict("ALREADY_EXISTS", cb.create_configured_table_association, membershipIdentifier=p.ms_b,
                            configuredTableIdentifier=pur["id"], name="purchases_again", roleArn=role_arn(b))
        cb.delete_configured_table(configuredTableIdentifier=other["id"])

        # An associated table can't be deleted, nor can its member leave.
        self.assertConflict("INVALID_STATE", cb.delete_configured_table, configuredTableIdentifier=pur["id"])
        self.assertConflict("SUBRESOURCES_EXIST", cb.delete_membership, membershipIdentifier=p.ms_b)
        self.ok(cb.get_configured_table(configuredTableIdentifier=pur["id"]))

        # Each member sees both schemas.
        for caller in (ca, cb):
            pages = list(caller.get_paginator("list_schemas").paginate(collaborationIdentifier=p.collab,
                                                                       PaginationConfig={"PageSize": 1}))
            self.assertEqual(len(pages), 2, "one schema per page")
            names = [s["name"] for page in pages for s in page["schemaSummaries"]]
            self.assertEqual(sorted(names), ["customers", "purchases"])
            by_name = {s["name"]: s for page in pages for s in page["schemaSummaries"]}
            self.assertEqual(by_name["purchases"]["creatorAccountId"], b)
            self.assertEqual(by_name["customers"]["creatorAccountId"], a)
            self.assertEqual(by_name["purchases"]["analysisRuleTypes"], ["AGGREGATION"])
            self.assertEqual(by_name["customers"]["analysisRuleTypes"], ["LIST"])
            self.assertEqual(by_name["customers"]["type"], "TABLE")
            self.assertEqual(by_name["customers"]["collaborationId"], p.collab)

        # A reads B's schema: the allowed columns with their Glue types, in
        # the Glue table's order.
        s = self.ok(ca.get_schema(collaborationIdentifier=p.collab, name="purchases"))["schema"]
        self.assertEqual([(c["name"], c["type"]) for c in s["columns"]],
                         [("user_id", "string"), ("amount", "int"), ("region", "string"), ("purchased_at", "date")])
        self.assertEqual(s["partitionKeys"], [])
        self.assertEqual(s["creatorAccountId"], b)
        self.assertEqual(s["collaborationId"], p.collab)
        self.assertEqual(s["collaborationArn"], "arn:aws:cleanrooms:%s:%s:collaboration/%s" % (REGION, a, p.collab))
        self.assertEqual(s["analysisRuleTypes"], ["AGGREGATION"])
        self.assertEqual(s["analysisMethod"], "DIRECT_QUERY")
        self.assertEqual(s["type"], "TABLE")
        self.assertEqual(s["resourceArn"], pb_assoc["arn"])
        direct = [d for d in s["schemaStatusDetails"] if d["analysisType"] == "DIRECT_ANALYSIS"]
        self.assertEqual(len(direct), 1, s["schemaStatusDetails"])
        self.assertEqual(direct[0]["status"], "READY", direct)
        self.assertEqual(direct[0]["analysisRuleType"], "AGGREGATION")
        # B reads A's, by any case of its name.
        s = self.ok(cb.get_schema(collaborationIdentifier=p.collab, name="CUSTOMERS"))["schema"]
        self.assertEqual(s["name"], "customers")
        self.assertEqual([(c["name"], c["type"]) for c in s["columns"]],
                         [("user_id", "string"), ("segment", "string"), ("age", "int")])
        self.assertEqual(s["description"], "advertiser customers")
        self.assertEqual(s["creatorAccountId"], a)
        self.assertEqual(s["analysisRuleTypes"], ["LIST"])
        self.assertNotIn("notes", [c["name"] for c in s["columns"]], "a column the table doesn't allow is not shown")
        self.assertNotFound(None, cb.get_schema, collaborationIdentifier=p.collab, name="ghost")

        # BatchGetSchema: a missing name is an error entry, not a failure.
        batch = self.ok(cb.batch_get_schema(collaborationIdentifier=p.collab, names=["purchases", "ghost", "customers"]))
        self.assertEqual([x["name"] for x in batch["schemas"]], ["purchases", "customers"])
        self.assertEqual(len(batch["errors"]), 1, batch["errors"])
        self.assertEqual(batch["errors"][0]["name"], "ghost")
        self.assertEqual(batch["errors"][0]["code"], "ResourceNotFoundException")
        self.assertIn("ghost", batch["errors"][0]["message"])

        # Schema analysis rules: the table's policy, the collaboration
        # policy and their consolidation.
        sr = self.ok(ca.get_schema_analysis_rule(collaborationIdentifier=p.collab, name="purchases",
                                                 type="AGGREGATION"))["analysisRule"]
        self.assertEqual(sr["name"], "purchases")
        self.assertEqual(sr["collaborationId"], p.collab)
        self.assertEqual(sr["type"], "AGGREGATION")
        self.assertEqual(sr["policy"], {"v1": {"aggregation": AGGREGATION_RULE}})
        self.assertEqual(sr["collaborationPolicy"], {"v1": {"aggregation": {"allowedResultReceivers": [a]}}})
        cons = sr["consolidatedPolicy"]["v1"]["aggregation"]
        self.assertEqual(cons["allowedResultReceivers"], [a])
        self.assertEqual(cons["dimensionColumns"], ["region", "purchased_at"])
        self.assertEqual(cons["joinColumns"], ["user_id"])
        self.assertEqual(cons["joinRequired"], "QUERY_RUNNER")
        self.assertEqual(cons["aggregateColumns"], AGGREGATION_RULE["aggregateColumns"])
        self.assertEqual(cons["outputConstraints"], AGGREGATION_RULE["outputConstraints"])
        self.assertEqual(cons["scalarFunctions"], ["TRUNC", "UPPER"])
        sr = self.ok(cb.get_schema_analysis_rule(collaborationIdentifier=p.collab, name="customers",
                                                 type="LIST"))["analysisRule"]
        cons = sr["consolidatedPolicy"]["v1"]["list"]
        self.assertEqual(cons["joinColumns"], ["user_id"])
        self.assertEqual(cons["listColumns"], ["segment", "age"])
        self.assertEqual(cons["allowedResultReceivers"], [a])
        self.assertNotFound(None, cb.get_schema_analysis_rule, collaborationIdentifier=p.collab, name="customers",
                            type="AGGREGATION")
        br = self.ok(cb.batch_get_schema_analysis_rule(collaborationIdentifier=p.collab, schemaAnalysisRuleRequests=[
            {"name": "customers", "type": "LIST"}, {"name": "purchases", "type": "LIST"}, {"name": "ghost", "type": "LIST"}]))
        self.assertEqual([(r["name"], r["type"]) for r in br["analysisRules"]], [("customers", "LIST")])
        self.assertEqual(sorted(e["name"] for e in br["errors"]), ["ghost", "purchases"])

        # An analysis template with parameters, by A, the member who can query.
        sql = ("SELECT region, SUM(amount) AS total FROM purchases "
               "WHERE amount >= :min_amount AND purchased_at >= :since GROUP BY region")
        params = [{"name": "min_amount", "type": "INTEGER", "defaultValue": "10"},
                  {"name": "since", "type": "DATE"}]
        tmpl = self.ok(ca.create_analysis_template(membershipIdentifier=p.ms_a, name="spend_by_region",
                                                   description="v1", format="SQL", source={"text": sql},
                                                   analysisParameters=params))["analysisTemplate"]
        self.assertEqual(tmpl["arn"], template_arn(a, p.ms_a, tmpl["id"]))
        self.assertEqual(tmpl["collaborationId"], p.collab)
        self.assertEqual(tmpl["membershipId"], p.ms_a)
        self.assertEqual(tmpl["name"], "spend_by_region")
        self.assertEqual(tmpl["format"], "SQL")
        self.assertEqual(tmpl["source"], {"text": sql})
        self.assertEqual(tmpl["analysisParameters"], params)
        self.assertEqual(tmpl["schema"], {"referencedTables": ["purchases"]})
        self.assertEqual(self.strip(ca.get_analysis_template(membershipIdentifier=p.ms_a,
                                                            analysisTemplateIdentifier=tmpl["id"]))["analysisTemplate"], tmpl)
        upd = ca.update_analysis_template(membershipIdentifier=p.ms_a, analysisTemplateIdentifier=tmpl["id"],
                                          description="v2")["analysisTemplate"]
        self.assertEqual(upd["description"], "v2")
        self.assertEqual(upd["source"], {"text": sql})
        # B can't create templates: it can't query.
        self.assertAccessDenied(cb.create_analysis_template, membershipIdentifier=p.ms_b, name="t", format="SQL",
                                source={"text": "SELECT SUM(amount) FROM purchases"})
        # Invalid templates.
        self.assertInvalid(["min_amount"], ca.create_analysis_template, membershipIdentifier=p.ms_a, name="t",
                           format="SQL", source={"text": "SELECT SUM(amount) FROM purchases WHERE amount > :min_amount"})
        self.assertInvalid(["strangers"], ca.create_analysis_template, membershipIdentifier=p.ms_a, name="t",
                           format="SQL", source={"text": "SELECT COUNT(user_id) FROM strangers"})
        self.assertInvalid(["defaultValue", "INTEGER"], ca.create_analysis_template, membershipIdentifier=p.ms_a,
                           name="t", format="SQL", source={"text": sql},
                           analysisParameters=[{"name": "min_amount", "type": "INTEGER", "defaultValue": "ten"},
                                               {"name": "since", "type": "DATE"}])

        # The collaboration's views of the template, from B's side.
        ct = self.ok(cb.get_collaboration_analysis_template(collaborationIdentifier=p.collab,
                                                            analysisTemplateArn=tmpl["arn"]))["collaborationAnalysisTemplate"]
        self.assertEqual(ct["id"], tmpl["id"])
        self.assertEqual(ct["arn"], tmpl["arn"])
        self.assertEqual(ct["creatorAccountId"], a)
        self.assertEqual(ct["description"], "v2")
        self.assertEqual(ct["source"], {"text": sql})
        self.assertEqual(ct["analysisParameters"], params)
        self.assertEqual(ct["schema"], {"referencedTables": ["purchases"]})
        summaries = [x for page in cb.get_paginator("list_collaboration_analysis_templates").paginate(
            collaborationIdentifier=p.collab) for x in page["collaborationAnalysisTemplateSummaries"]]
        self.assertEqual([(x["arn"], x["name"], x["creatorAccountId"]) for x in summaries],
                         [(tmpl["arn"], "spend_by_region", a)])
        missing = template_arn(a, p.ms_a, NIL_UUID)
        bt = self.ok(cb.batch_get_collaboration_analysis_template(collaborationIdentifier=p.collab,
                                                                  analysisTemplateArns=[tmpl["arn"], missing]))
        self.assertEqual([x["arn"] for x in bt["collaborationAnalysisTemplates"]], [tmpl["arn"]])
        self.assertEqual([(e["arn"], e["code"]) for e in bt["errors"]], [(missing, "ResourceNotFoundException")])
        self.assertNotFound(None, cb.get_collaboration_analysis_template, collaborationIdentifier=p.collab,
                            analysisTemplateArn=missing)
        # The template is A's: B can't read it through a membership.
        self.assertNotFound("MEMBERSHIP", cb.get_analysis_template, membershipIdentifier=p.ms_a,
                            analysisTemplateIdentifier=tmpl["id"])
        self.assertNotFound(None, cb.get_analysis_template, membershipIdentifier=p.ms_b,
                            analysisTemplateIdentifier=tmpl["id"])

        # Clean-up in the documented order: B leaves once its association is
        # gone; A deletes its template before it can drop its association.
        cb.delete_configured_table_association_analysis_rule(
            membershipIdentifier=p.ms_b, configuredTableAssociationIdentifier=pb_assoc["id"], analysisRuleType="AGGREGATION")
        self.ok(cb.delete_configured_table_association(membershipIdentifier=p.ms_b,
                                                       configuredTableAssociationIdentifier=pb_assoc["id"]))
        self.assertEqual([x["name"] for x in ca.list_schemas(collaborationIdentifier=p.collab)["schemaSummaries"]],
                         ["customers"])
        self.assertNotFound(None, ca.get_schema, collaborationIdentifier=p.collab, name="purchases")
        self.ok(cb.delete_membership(membershipIdentifier=p.ms_b))
        self.ok(cb.delete_configured_table(configuredTableIdentifier=pur["id"]))
        self.assertNotFound("CONFIGURED_TABLE", cb.get_configured_table, configuredTableIdentifier=pur["id"])
        members = {m["accountId"]: m["status"] for m in ca.list_members(collaborationIdentifier=p.collab)["memberSummaries"]}
        self.assertEqual(members, {a: "ACTIVE", b: "LEFT"})
        self.ok(ca.delete_analysis_template(membershipIdentifier=p.ms_a, analysisTemplateIdentifier=tmpl["id"]))
        self.ok(ca.delete_configured_table_association(membershipIdentifier=p.ms_a,
                                                       configuredTableAssociationIdentifier=ca_assoc["id"]))
        self.ok(ca.delete_configured_table(configuredTableIdentifier=cust["id"]))
        self.assertEqual(ca.list_schemas(collaborationIdentifier=p.collab)["schemaSummaries"], [])


class InvalidConfigurationTest(DataPlaneTestCase):
    """Every documented invalid configured table, rule and association."""

    @classmethod
    def setUpClass(cls):
        cls.p = Parties(cls()).collaborate()

    def create_table(self, **kw):
        args = dict(name="people", tableReference={"glue": {"databaseName": "crm", "tableName": "customers"}},
                    allowedColumns=["user_id", "segment"], analysisMethod="DIRECT_QUERY")
        args.update(kw)
        return cr(self.p.a).create_configured_table(**args)

    def test_configured_table_references(self):
        # The Glue table must exist in the caller's own catalog.
        self.assertInvalid(["nope"], self.create_table, tableReference={"glue": {"databaseName": "crm", "tableName": "nope"}})
        self.assertInvalid(["nodb"], self.create_table, tableReference={"glue": {"databaseName": "nodb", "tableName": "customers"}})
        self.assertInvalid(["sales"], self.create_table, tableReference={"glue": {"databaseName": "sales", "tableName": "purchases"}})
        # Allowed columns must be columns of the table.
        self.assertInvalid(["allowedColumns", "ghost"], self.create_table, allowedColumns=["user_id", "ghost"])
        # Athena (and Snowflake) references: cleanroomsd reads Glue tables only.
        self.assertInvalid(["athena"], self.create_table,
                           tableReference={"athena": {"workGroup": "primary", "databaseName": "crm", "tableName": "customers"}})
        # None of those was created.
        self.assertNotIn("people", [t["name"] for t in cr(self.p.a).list_configured_tables()["configuredTableSummaries"]])

    def test_analysis_rules(self):
        a = self.p.a
        t = configured_table(a, "rules", "crm", "customers", ["user_id", "segment", "age", "lifetime_value"])
        tid = t["id"]

        def rule(rule_type, policy):
            key = {"AGGREGATION": "aggregation", "LIST": "list", "CUSTOM": "custom"}[rule_type]
            return cr(a).create_configured_table_analysis_rule(configuredTableIdentifier=tid, analysisRuleType=rule_type,
                                                               analysisRulePolicy={"v1": {key: policy}})

        def agg(**kw):
            r = {"aggregateColumns": [{"columnNames": ["lifetime_value"], "function": "SUM"}],
                 "joinColumns": ["user_id"], "dimensionColumns": ["segment"], "scalarFunctions": [],
                 "outputConstraints": [{"columnName": "user_id", "minimum": 2, "type": "COUNT_DISTINCT"}]}
            r.update(kw)
            return r

        # Columns the configured table doesn't allow ("notes" is in the Glue table).
        self.assertInvalid(["notes", "aggregateColumns[0].columnNames[1]"], rule, "AGGREGATION",
                           agg(aggregateColumns=[{"columnNames": ["lifetime_value", "notes"], "function": "SUM"}]))
        self.assertInvalid(["notes", "joinColumns[0]"], rule, "AGGREGATION", agg(joinColumns=["notes"]))
        self.assertInvalid(["notes", "dimensionColumns[0]"], rule, "AGGREGATION", agg(dimensionColumns=["notes"]))
        self.assertInvalid(["notes", "listColumns[1]"], rule, "LIST", {"joinColumns": ["user_id"], "listColumns": ["segment", "notes"]})
        self.assertInvalid(["ghost"], rule, "AGGREGATION",
                           agg(outputConstraints=[{"columnName": "ghost", "minimum": 2, "type": "COUNT_DISTINCT"}]))
        # A dimension can't be a join column or an aggregate column.
        self.assertInvalid(["user_id", "dimension column and a join column"], rule, "AGGREGATION",
                           agg(dimensionColumns=["segment", "user_id"]))
        self.assertInvalid(["lifetime_value", "dimension column and an aggregate column"], rule, "AGGREGATION",
                           agg(dimensionColumns=["lifetime_value"]))
        # joinRequired without join columns.
        self.assertInvalid(["joinRequired"], rule, "AGGREGATION",
                           agg(joinColumns=[], joinRequired="QUERY_RUNNER",
                               outputConstraints=[{"columnName": "age", "minimum": 2, "type": "COUNT_DISTINCT"}]))
        # Output constraints: 2 to 100000, at least one.
        self.assertInvalid(["minimum"], rule, "AGGREGATION",
                           agg(outputConstraints=[{"columnName": "user_id", "minimum": 1, "type": "COUNT_DISTINCT"}]))
        self.assertInvalid(["outputConstraints"], rule, "AGGREGATION", agg(outputConstraints=[]))
        # The policy member must be the rule type's.
        self.assertInvalid(["analysisRuleType"], cr(a).create_configured_table_analysis_rule,
                           configuredTableIdentifier=tid, analysisRuleType="LIST",
                           analysisRulePolicy={"v1": {"aggregation": agg()}})
        # CUSTOM: ANY_QUERY needs analysis providers; providers need ANY_QUERY.
        self.assertInvalid(["allowedAnalysisProviders", "ANY_QUERY"], rule, "CUSTOM", {"allowedAnalyses": ["ANY_QUERY"]})
        self.assertInvalid(["allowedAnalysisProviders"], rule, "CUSTOM",
                           {"allowedAnalyses": [template_arn(a, NIL_UUID, NIL_UUID)], "allowedAnalysisProviders": [self.p.b]})
        self.assertInvalid(["disallowedOutputColumns", "notes"], rule, "CUSTOM",
                           {"allowedAnalyses": ["ANY_QUERY"], "allowedAnalysisProviders": [a],
                            "disallowedOutputColumns": ["notes"]})
        # None of those left a rule behind; a valid one is accepted once.
        self.assertEqual(cr(a).get_configured_table(configuredTableIdentifier=tid)["configuredTable"]["analysisRuleTypes"], [])
        rule("AGGREGATION", agg())
        resp = self.assertConflict("ALREADY_EXISTS", rule, "AGGREGATION", agg())
        self.assertMentions(resp, tid)
        self.assertConflict("ALREADY_EXISTS", rule, "CUSTOM", {"allowedAnalyses": ["ANY_QUERY"], "allowedAnalysisProviders": [a]})
        # Allowed columns can't shrink under the rule.
        self.assertInvalid(["lifetime_value"], cr(a).update_configured_table, configuredTableIdentifier=tid,
                           allowedColumns=["user_id", "segment"])

    def test_associations(self):
        a, b = self.p.a, self.p.b
        t = configured_table(a, "assoc", "crm", "customers", ["user_id", "segment"])
        # The association's table must be the caller's own, as must its membership.
        bt = configured_table(b, "theirs", "sales", "purchases", ["user_id"])
        self.assertNotFound("CONFIGURED_TABLE", cr(a).create_configured_table_association, membershipIdentifier=self.p.ms_a,
                            configuredTableIdentifier=bt["id"], name="theirs", roleArn=role_arn(a))
        self.assertNotFound("MEMBERSHIP", cr(a).create_configured_table_association, membershipIdentifier=self.p.ms_b,
                            configuredTableIdentifier=t["id"], name="mine", roleArn=role_arn(a))
        self.assertInvalid(["name"], cr(a).create_configured_table_association, membershipIdentifier=self.p.ms_a,
                           configuredTableIdentifier=t["id"], name="not an identifier!", roleArn=role_arn(a))
        self.assertInvalid(["roleArn"], cr(a).create_configured_table_association, membershipIdentifier=self.p.ms_a,
                           configuredTableIdentifier=t["id"], name="assoc", roleArn="not-a-role")
        assoc = associate(a, self.p.ms_a, t["id"], "assoc")
        # An association rule needs the table rule of the same type first,
        # and its receivers must be members who can receive results.
        self.assertInvalid(["no analysis rule"], cr(a).create_configured_table_association_analysis_rule,
                           membershipIdentifier=self.p.ms_a, configuredTableAssociationIdentifier=assoc["id"],
                           analysisRuleType="LIST", analysisRulePolicy={"v1": {"list": {"allowedResultReceivers": [a]}}})
        table_rule(a, t["id"], "LIST", {"joinColumns": ["user_id"], "listColumns": ["segment"]})
        self.assertInvalid(["analysisRuleType"], cr(a).create_configured_table_association_analysis_rule,
                           membershipIdentifier=self.p.ms_a, configuredTableAssociationIdentifier=assoc["id"],
                           analysisRuleType="AGGREGATION",
                           analysisRulePolicy={"v1": {"aggregation": {"allowedResultReceivers": [a]}}})
        self.assertInvalid([b, "CAN_RECEIVE_RESULTS"], cr(a).create_configured_table_association_analysis_rule,
                           membershipIdentifier=self.p.ms_a, configuredTableAssociationIdentifier=assoc["id"],
                           analysisRuleType="LIST", analysisRulePolicy={"v1": {"list": {"allowedResultReceivers": [b]}}})
        outsider = fresh_account()
        self.assertInvalid([outsider], cr(a).create_configured_table_association_analysis_rule,
                           membershipIdentifier=self.p.ms_a, configuredTableAssociationIdentifier=assoc["id"],
                           analysisRuleType="LIST",
                           analysisRulePolicy={"v1": {"list": {"allowedResultReceivers": [outsider]}}})
        # A table can't be deleted while associated; then it can.
        self.assertConflict("INVALID_STATE", cr(a).delete_configured_table, configuredTableIdentifier=t["id"])
        cr(a).delete_configured_table_association(membershipIdentifier=self.p.ms_a, configuredTableAssociationIdentifier=assoc["id"])
        cr(a).delete_configured_table(configuredTableIdentifier=t["id"])
        cr(b).delete_configured_table(configuredTableIdentifier=bt["id"])


class CrossAccountTest(DataPlaneTestCase):
    """What one account may not see of another's resources."""

    def test_cross_account(self):
        p = Parties(self).collaborate()
        a, b = p.a, p.b
        outsider = fresh_account()
        t = configured_table(a, "customers", "crm", "customers", ["user_id", "segment"])
        table_rule(a, t["id"], "LIST", LIST_RULE | {"listColumns": ["segment"]})
        assoc = associate(a, p.ms_a, t["id"], "customers", rule_type="LIST", receivers=[a])

        # B can't read, change or delete A's configured table, its rule or its association.
        self.assertNotFound("CONFIGURED_TABLE", cr(b).get_configured_table, configuredTableIdentifier=t["id"], resource_id=t["id"])
        self.assertNotFound("CONFIGURED_TABLE", cr(b).update_configured_table, configuredTableIdentifier=t["id"], name="mine")
        self.assertNotFound("CONFIGURED_TABLE", cr(b).delete_configured_table, configuredTableIdentifier=t["id"])
        self.assertNotFound("CONFIGURED_TABLE", cr(b).get_configured_table_analysis_rule, configuredTableIdentifier=t["id"],
                            analysisRuleType="LIST")
        self.assertNotIn(t["id"], [x["id"] for x in cr(b).list_configured_tables()["configuredTableSummaries"]])
        self.assertNotFound("MEMBERSHIP", cr(b).get_configured_table_association, membershipIdentifier=p.ms_a,
                            configuredTableAssociationIdentifier=assoc["id"])
        self.assertNotFound("MEMBERSHIP", cr(b).list_configured_table_associations, membershipIdentifier=p.ms_a)
        self.assertNotFound("CONFIGURED_TABLE_ASSOCIATION", cr(b).get_configured_table_association,
                            membershipIdentifier=p.ms_b, configuredTableAssociationIdentifier=assoc["id"])
        self.assertNotFound("CONFIGURED_TABLE_ASSOCIATION", cr(b).get_configured_table_association_analysis_rule,
                            membershipIdentifier=p.ms_b, configuredTableAssociationIdentifier=assoc["id"],
                            analysisRuleType="LIST")
        self.assertNotFound("CONFIGURED_TABLE_ASSOCIATION", cr(b).delete_configured_table_association,
                            membershipIdentifier=p.ms_b, configuredTableAssociationIdentifier=assoc["id"])
        # Nor A's Glue table or its data.
        self.assertError("EntityNotFoundException", 400, glue(b).get_table, DatabaseName="crm", Name="customers")
        with self.assertRaises(ClientError) as cm:
            s3(b).get_object(Bucket="data-" + a, Key="crm/customers/part-00000.csv")
        self.assertEqual(cm.exception.response["Error"]["Code"], "AccessDenied")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)
        # B can't configure a table over A's Glue table.
        self.assertInvalid(["crm"], cr(b).create_configured_table, name="stolen",
                           tableReference={"glue": {"databaseName": "crm", "tableName": "customers"}},
                           allowedColumns=["user_id"], analysisMethod="DIRECT_QUERY")
        # The schema, though, is the collaboration's: B reads it.
        self.assertEqual(cr(b).get_schema(collaborationIdentifier=p.collab, name="customers")["schema"]["creatorAccountId"], a)

        # A non-member is denied every collaboration view.
        o = cr(outsider)
        for fn, kw in ((o.get_schema, {"name": "customers"}),
                       (o.list_schemas, {}),
                       (o.batch_get_schema, {"names": ["customers"]}),
                       (o.get_schema_analysis_rule, {"name": "customers", "type": "LIST"}),
                       (o.batch_get_schema_analysis_rule, {"schemaAnalysisRuleRequests": [{"name": "customers", "type": "LIST"}]}),
                       (o.list_collaboration_analysis_templates, {})):
            with self.subTest(op=fn.__name__):
                self.assertAccessDenied(fn, collaborationIdentifier=p.collab, **kw)
        self.assertNotFound("MEMBERSHIP", o.list_configured_table_associations, membershipIdentifier=p.ms_a)
        # And so is a collaboration that doesn't exist.
        self.assertAccessDenied(cr(a).get_schema, collaborationIdentifier=NIL_UUID, name="customers")


if __name__ == "__main__":
    unittest.main()
