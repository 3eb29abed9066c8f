"""End-to-end tests of cleanroomsd driven by an unmodified boto3 client.

The Go runner (e2e_test.go) starts the servers and passes their endpoints:

  CLEANROOMSD_ENDPOINT           dev-mode server with the default quotas
  CLEANROOMSD_QUOTA_ENDPOINT     dev-mode server started with lowered quotas
                                 (see QUOTA_* below)
  CLEANROOMSD_STRICT_ENDPOINT    strict-mode server (--credentials)
  CLEANROOMSD_STRICT_CREDENTIALS the JSON credentials file of that server
  CLEANROOMSD_REGION             the region the servers answer for

In dev mode the caller's account is the access key id when it is 12 digits,
so each client below acts as the account it is created for.
"""

import datetime
import itertools
import json
import os
import re
import tempfile
import threading
import unittest

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

REGION = os.environ.get("CLEANROOMSD_REGION", "us-east-1")
ENDPOINT = os.environ.get("CLEANROOMSD_ENDPOINT")
QUOTA_ENDPOINT = os.environ.get("CLEANROOMSD_QUOTA_ENDPOINT")
STRICT_ENDPOINT = os.environ.get("CLEANROOMSD_STRICT_ENDPOINT")
STRICT_CREDENTIALS = os.environ.get("CLEANROOMSD_STRICT_CREDENTIALS")

# The quotas the runner gives the CLEANROOMSD_QUOTA_ENDPOINT server.
QUOTA_COLLABORATIONS = int(os.environ.get("CLEANROOMSD_QUOTA_COLLABORATIONS", "2"))
QUOTA_MEMBERS = int(os.environ.get("CLEANROOMSD_QUOTA_MEMBERS", "2"))
QUOTA_MEMBERSHIPS = int(os.environ.get("CLEANROOMSD_QUOTA_MEMBERSHIPS", "2"))

UUID_UPPER = "0A1B2C3D-0000-4000-8000-00000000000F"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

ALICE = "111111111111"  # creator of the lifecycle collaboration
BOB = "222222222222"  # member who can query (pays by default)
CAROL = "333333333333"  # member who receives results
DAVE = "444444444444"  # contributes data only
EVE = "555555555555"  # never invited

# Every other test takes fresh accounts, so tests don't share quotas or
# list contents and may run in any order.
_accounts = itertools.count(100000000100)


def fresh_account():
    return "%012d" % next(_accounts)


def setUpModule():
    if not ENDPOINT:
        raise RuntimeError("CLEANROOMSD_ENDPOINT is not set; run these tests with `go test ./e2e/`")
    # Keep the machine's AWS configuration out of the clients.
    for var in list(os.environ):
        if var.startswith("AWS_"):
            del os.environ[var]
    empty = tempfile.NamedTemporaryFile(prefix="aws-empty-", delete=False)
    empty.close()
    os.environ["AWS_CONFIG_FILE"] = empty.name
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = empty.name
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


_clients = {}


def client(access_key, endpoint=None, secret="secret", **config):
    """A cleanrooms client; never retries and never validates parameters
    client-side, so the server's own validation is what is tested."""
    endpoint = endpoint or ENDPOINT
    key = (access_key, endpoint, secret, tuple(sorted(config.items())))
    if key not in _clients:
        cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=False,
                     connect_timeout=5, read_timeout=30, **config)
        _clients[key] = boto3.session.Session().client(
            "cleanrooms", region_name=REGION, endpoint_url=endpoint,
            aws_access_key_id=access_key, aws_secret_access_key=secret, config=cfg)
    return _clients[key]


def collab_arn(account, cid):
    return "arn:aws:cleanrooms:%s:%s:collaboration/%s" % (REGION, account, cid)


def membership_arn(account, mid):
    return "arn:aws:cleanrooms:%s:%s:membership/%s" % (REGION, account, mid)


def member(account, abilities=(), name=None, pays=None):
    m = {"accountId": account, "memberAbilities": list(abilities), "displayName": name or ("member " + account)}
    if pays is not None:
        m["paymentConfiguration"] = {"queryCompute": {"isResponsible": pays}}
    return m


ENCRYPTION = {"allowCleartext": True, "allowDuplicates": False,
              "allowJoinsOnColumnsWithDifferentNames": True, "preserveNulls": False}


class CleanRoomsTestCase(unittest.TestCase):
    maxDiff = None

    # Responses.

    def assertOK(self, resp, status=200):
        md = resp["ResponseMetadata"]
        self.assertEqual(md["HTTPStatusCode"], status, resp)
        rid = md["HTTPHeaders"].get("x-amzn-requestid")
        self.assertTrue(rid, "response has no x-amzn-RequestId header: %r" % md["HTTPHeaders"])
        self.assertEqual(md.get("RequestId"), rid)
        self.assertNotIn("x-amzn-errortype", md["HTTPHeaders"])
        return resp

    def assertError(self, code, status, fn, /, *args, **kwargs):
        """Calls fn, which must fail with the modeled error `code` and HTTP
        `status`; returns botocore's parsed error response."""
        with self.assertRaises(ClientError) as cm:
            fn(*args, **kwargs)
        resp = cm.exception.response
        md = resp["ResponseMetadata"]
        self.assertEqual(resp["Error"]["Code"], code, resp)
        self.assertEqual(md["HTTPStatusCode"], status, resp)
        self.assertEqual(md["HTTPHeaders"].get("x-amzn-errortype", "").split(":")[0], code, md["HTTPHeaders"])
        self.assertTrue(md["HTTPHeaders"].get("x-amzn-requestid"), md["HTTPHeaders"])
        self.assertTrue(resp["Error"].get("Message"), "error has no message: %r" % resp)
        self.assertEqual(md.get("RetryAttempts", 0), 0)
        return resp

    def assertAccessDenied(self, fn, /, *args, **kwargs):
        resp = self.assertError("AccessDeniedException", 403, fn, *args, **kwargs)
        self.assertEqual(resp.get("reason"), "INSUFFICIENT_PERMISSIONS", resp)
        return resp

    def assertNotFound(self, resource_type, resource_id, fn, /, *args, **kwargs):
        resp = self.assertError("ResourceNotFoundException", 404, fn, *args, **kwargs)
        self.assertEqual(resp.get("resourceType"), resource_type, resp)
        self.assertEqual(resp.get("resourceId"), resource_id, resp)
        return resp

    def assertConflict(self, reason, fn, /, *args, **kwargs):
        resp = self.assertError("ConflictException", 409, fn, *args, **kwargs)
        self.assertEqual(resp.get("reason"), reason, resp)
        return resp

    def assertInvalid(self, fields, fn, /, *args, **kwargs):
        """fields: the exact set of field names fieldList must name."""
        resp = self.assertError("ValidationException", 400, fn, *args, **kwargs)
        self.assertEqual(resp.get("reason"), "FIELD_VALIDATION_FAILED", resp)
        got = resp.get("fieldList") or []
        for f in got:
            self.assertTrue(f.get("message"), "fieldList entry without a message: %r" % f)
        self.assertEqual(sorted(f["name"] for f in got), sorted(fields), resp)
        return resp

    def assertQuota(self, name, value, fn, /, *args, **kwargs):
        resp = self.assertError("ServiceQuotaExceededException", 402, fn, *args, **kwargs)
        self.assertEqual(resp.get("quotaName"), name, resp)
        self.assertEqual(resp.get("quotaValue"), float(value), resp)
        return resp

    # Values.

    def assertUUID(self, s):
        self.assertRegex(s, UUID_RE)

    def assertRecent(self, t):
        self.assertIsInstance(t, datetime.datetime)
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(abs((now - t).total_seconds()), 300, "timestamp %s is not near now (%s)" % (t, now))

    @staticmethod
    def strip(resp):
        resp = dict(resp)
        resp.pop("ResponseMetadata", None)
        return resp

    # Fixtures.

    def create_collaboration(self, creator, members=(), abilities=("CAN_QUERY", "CAN_RECEIVE_RESULTS"), **extra):
        args = dict(name="collab of " + creator, description="e2e", creatorDisplayName="creator " + creator,
                    creatorMemberAbilities=list(abilities), members=list(members), queryLogStatus="DISABLED")
        args.update(extra)
        return self.assertOK(client(creator).create_collaboration(**args))["collaboration"]

    def members_by_account(self, caller, cid):
        out = {}
        for page in client(caller).get_paginator("list_members").paginate(collaborationIdentifier=cid):
            self.assertOK(page)
            for m in page["memberSummaries"]:
                self.assertNotIn(m["accountId"], out, "member listed twice")
                out[m["accountId"]] = m
        return out

    def list_all(self, caller, op, key, **kwargs):
        items = []
        for page in client(caller).get_paginator(op).paginate(**kwargs):
            self.assertOK(page)
            items.extend(page[key])
        return items


class LifecycleTest(CleanRoomsTestCase):
    """One collaboration of four accounts from creation to deletion."""

    def test_lifecycle(self):
        alice, bob, carol, dave, eve = (client(a) for a in (ALICE, BOB, CAROL, DAVE, EVE))

        # CreateCollaboration.
        resp = self.assertOK(alice.create_collaboration(
            name="Lifecycle", description="four accounts", creatorDisplayName="Alice",
            creatorMemberAbilities=["CAN_RECEIVE_RESULTS"],
            members=[member(BOB, ["CAN_QUERY"], "Bob"), member(CAROL, ["CAN_RECEIVE_RESULTS"], "Carol"),
                     member(DAVE, [], "Dave")],
            queryLogStatus="ENABLED", dataEncryptionMetadata=ENCRYPTION, tags={"team": "e2e"}))
        coll = resp["collaboration"]
        cid = coll["id"]
        self.assertUUID(cid)
        self.assertEqual(coll["arn"], collab_arn(ALICE, cid))
        self.assertEqual(coll["name"], "Lifecycle")
        self.assertEqual(coll["description"], "four accounts")
        self.assertEqual(coll["creatorAccountId"], ALICE)
        self.assertEqual(coll["creatorDisplayName"], "Alice")
        self.assertEqual(coll["memberStatus"], "INVITED", "the creator is only invited until it joins")
        self.assertEqual(coll["queryLogStatus"], "ENABLED")
        self.assertEqual(coll["jobLogStatus"], "DISABLED")
        self.assertEqual(coll["analyticsEngine"], "SPARK", "SPARK is the default engine")
        self.assertEqual(coll["dataEncryptionMetadata"], ENCRYPTION)
        self.assertNotIn("membershipId", coll)
        self.assertNotIn("membershipArn", coll)
        self.assertRecent(coll["createTime"])
        self.assertEqual(coll["createTime"], coll["updateTime"])

        # GetCollaboration: the creator and every invitee see it; others are denied.
        self.assertEqual(self.strip(alice.get_collaboration(collaborationIdentifier=cid))["collaboration"], coll)
        seen_by_bob = self.assertOK(bob.get_collaboration(collaborationIdentifier=cid))["collaboration"]
        self.assertEqual(seen_by_bob, coll)
        self.assertAccessDenied(eve.get_collaboration, collaborationIdentifier=cid)
        self.assertAccessDenied(eve.list_members, collaborationIdentifier=cid)
        self.assertAccessDenied(alice.get_collaboration, collaborationIdentifier="00000000-0000-4000-8000-000000000000")

        # ListMembers includes the creator; the querier pays by default.
        members = self.members_by_account(ALICE, cid)
        self.assertEqual(set(members), {ALICE, BOB, CAROL, DAVE})
        for acct, name, abilities in ((ALICE, "Alice", ["CAN_RECEIVE_RESULTS"]), (BOB, "Bob", ["CAN_QUERY"]),
                                      (CAROL, "Carol", ["CAN_RECEIVE_RESULTS"]), (DAVE, "Dave", [])):
            m = members[acct]
            self.assertEqual(m["status"], "INVITED", m)
            self.assertEqual(m["displayName"], name)
            self.assertEqual(m["abilities"], abilities)
            self.assertEqual(m["paymentConfiguration"]["queryCompute"]["isResponsible"], acct == BOB, m)
            self.assertNotIn("membershipId", m)
            self.assertRecent(m["createTime"])
        self.assertEqual(self.members_by_account(DAVE, cid), members, "every member sees the same list")

        # ListCollaborations and its memberStatus filter.
        def listed(caller, **kw):
            return {c["id"]: c for c in self.list_all(caller, "list_collaborations", "collaborationList", **kw)}
        self.assertEqual(listed(BOB)[cid]["memberStatus"], "INVITED")
        self.assertEqual(listed(BOB)[cid]["creatorAccountId"], ALICE)
        self.assertEqual(listed(BOB)[cid]["arn"], coll["arn"])
        self.assertEqual(listed(BOB)[cid]["analyticsEngine"], "SPARK")
        self.assertIn(cid, listed(BOB, memberStatus="INVITED"))
        self.assertNotIn(cid, listed(BOB, memberStatus="ACTIVE"))
        self.assertNotIn(cid, listed(EVE))

        # The creator joins with CreateMembership.
        alice_results = {"outputConfiguration": {"s3": {"resultFormat": "PARQUET", "bucket": "alice-results",
                                                        "keyPrefix": "clean/rooms/", "singleFileOutput": False}},
                         "roleArn": "arn:aws:iam::111111111111:role/cleanrooms-results-writer"}
        ms = self.assertOK(alice.create_membership(collaborationIdentifier=cid, queryLogStatus="ENABLED",
                                                   defaultResultConfiguration=alice_results,
                                                   tags={"owner": "alice"}))["membership"]
        alice_mid = ms["id"]
        self.assertUUID(alice_mid)
        self.assertEqual(ms["arn"], membership_arn(ALICE, alice_mid))
        self.assertEqual(ms["collaborationId"], cid)
        self.assertEqual(ms["collaborationArn"], coll["arn"])
        self.assertEqual(ms["collaborationCreatorAccountId"], ALICE)
        self.assertEqual(ms["collaborationCreatorDisplayName"], "Alice")
        self.assertEqual(ms["collaborationName"], "Lifecycle")
        self.assertEqual(ms["status"], "ACTIVE")
        self.assertEqual(ms["memberAbilities"], ["CAN_RECEIVE_RESULTS"])
        self.assertEqual(ms["queryLogStatus"], "ENABLED")
        self.assertEqual(ms["defaultResultConfiguration"], alice_results, "kept and returned exactly")
        self.assertEqual(ms["paymentConfiguration"], {"queryCompute": {"isResponsible": False}})
        self.assertRecent(ms["createTime"])
        self.assertEqual(self.strip(alice.get_membership(membershipIdentifier=alice_mid))["membership"], ms)
        got = self.assertOK(alice.get_collaboration(collaborationIdentifier=cid))["collaboration"]
        self.assertEqual(got["memberStatus"], "ACTIVE")
        self.assertEqual(got["membershipId"], alice_mid)
        self.assertEqual(got["membershipArn"], ms["arn"])
        self.assertEqual(listed(ALICE, memberStatus="ACTIVE")[cid]["membershipId"], alice_mid)
        self.assertConflict("ALREADY_EXISTS", alice.create_membership, collaborationIdentifier=cid,
                            queryLogStatus="ENABLED")

        # Bob (CAN_QUERY) can't set result defaults nor decline to pay; he
        # joins without a payment configuration and is the payer; a second
        # join conflicts.
        self.assertInvalid(["defaultResultConfiguration"], bob.create_membership, collaborationIdentifier=cid,
                           queryLogStatus="DISABLED", defaultResultConfiguration=alice_results)
        self.assertInvalid(["paymentConfiguration.queryCompute.isResponsible"], bob.create_membership,
                           collaborationIdentifier=cid, queryLogStatus="DISABLED",
                           paymentConfiguration={"queryCompute": {"isResponsible": False}})
        bob_ms = self.assertOK(bob.create_membership(collaborationIdentifier=cid, queryLogStatus="DISABLED"))["membership"]
        bob_mid = bob_ms["id"]
        self.assertEqual(bob_ms["arn"], membership_arn(BOB, bob_mid), "membership ARNs carry the member's account")
        self.assertEqual(bob_ms["collaborationArn"], coll["arn"], "collaboration ARNs carry the creator's account")
        self.assertEqual(bob_ms["memberAbilities"], ["CAN_QUERY"])
        self.assertEqual(bob_ms["queryLogStatus"], "DISABLED")
        self.assertEqual(bob_ms["paymentConfiguration"], {"queryCompute": {"isResponsible": True}})
        self.assertNotIn("defaultResultConfiguration", bob_ms)
        err = self.assertConflict("ALREADY_EXISTS", bob.create_membership, collaborationIdentifier=cid,
                                  queryLogStatus="DISABLED")
        self.assertEqual(err.get("resourceType"), "MEMBERSHIP", err)
        self.assertEqual(err.get("resourceId"), bob_mid, err)

        # Carol is not configured to pay: claiming it is refused, declining is fine.
        self.assertInvalid(["paymentConfiguration.queryCompute.isResponsible"], carol.create_membership,
                           collaborationIdentifier=cid, queryLogStatus="ENABLED",
                           paymentConfiguration={"queryCompute": {"isResponsible": True}})
        carol_results = {"outputConfiguration": {"s3": {"resultFormat": "CSV", "bucket": "carol-bucket"}}}
        carol_ms = self.assertOK(carol.create_membership(
            collaborationIdentifier=cid, queryLogStatus="ENABLED", defaultResultConfiguration=carol_results,
            paymentConfiguration={"queryCompute": {"isResponsible": False}}))["membership"]
        carol_mid = carol_ms["id"]
        self.assertEqual(carol_ms["defaultResultConfiguration"], carol_results)
        self.assertEqual(carol_ms["paymentConfiguration"], {"queryCompute": {"isResponsible": False}})

        # Only invited accounts may join.
        self.assertAccessDenied(eve.create_membership, collaborationIdentifier=cid, queryLogStatus="DISABLED")

        members = self.members_by_account(BOB, cid)
        self.assertEqual({a: m["status"] for a, m in members.items()},
                         {ALICE: "ACTIVE", BOB: "ACTIVE", CAROL: "ACTIVE", DAVE: "INVITED"})
        self.assertEqual(members[ALICE]["membershipId"], alice_mid)
        self.assertEqual(members[ALICE]["membershipArn"], membership_arn(ALICE, alice_mid))
        self.assertEqual(members[BOB]["membershipId"], bob_mid)
        self.assertEqual(members[CAROL]["membershipId"], carol_mid)
        self.assertNotIn("membershipId", members[DAVE])

        # A membership of another account is not found, like a missing one.
        self.assertNotFound("MEMBERSHIP", alice_mid, bob.get_membership, membershipIdentifier=alice_mid)
        self.assertNotFound("MEMBERSHIP", alice_mid, bob.update_membership, membershipIdentifier=alice_mid,
                            queryLogStatus="DISABLED")
        self.assertNotFound("MEMBERSHIP", alice_mid, bob.delete_membership, membershipIdentifier=alice_mid)
        missing = "00000000-0000-4000-8000-000000000001"
        self.assertNotFound("MEMBERSHIP", missing, alice.get_membership, membershipIdentifier=missing)

        # UpdateCollaboration changes only the fields given; only the creator may.
        before = self.assertOK(alice.get_collaboration(collaborationIdentifier=cid))["collaboration"]
        upd = self.assertOK(alice.update_collaboration(collaborationIdentifier=cid, name="Renamed"))["collaboration"]
        self.assertEqual(upd["name"], "Renamed")
        self.assertEqual(upd["description"], "four accounts")
        self.assertEqual(upd["analyticsEngine"], "SPARK")
        self.assertEqual(upd["createTime"], before["createTime"])
        self.assertGreaterEqual(upd["updateTime"], before["updateTime"])
        self.assertEqual(upd["membershipId"], alice_mid)
        upd = self.assertOK(alice.update_collaboration(collaborationIdentifier=cid, description="new text",
                                                       analyticsEngine="SPARK"))["collaboration"]
        self.assertEqual((upd["name"], upd["description"], upd["analyticsEngine"]), ("Renamed", "new text", "SPARK"))
        for k in ("id", "arn", "creatorAccountId", "creatorDisplayName", "queryLogStatus", "dataEncryptionMetadata"):
            self.assertEqual(upd[k], before[k], k)
        self.assertInvalid(["analyticsEngine"], alice.update_collaboration, collaborationIdentifier=cid,
                           analyticsEngine="CLEAN_ROOMS_SQL")
        self.assertAccessDenied(bob.update_collaboration, collaborationIdentifier=cid, name="Bob's now")
        self.assertAccessDenied(dave.update_collaboration, collaborationIdentifier=cid, name="Dave's now")
        self.assertAccessDenied(eve.update_collaboration, collaborationIdentifier=cid, name="Eve's now")
        seen = self.assertOK(bob.get_collaboration(collaborationIdentifier=cid))["collaboration"]
        self.assertEqual((seen["name"], seen["description"]), ("Renamed", "new text"))
        self.assertEqual(self.assertOK(bob.get_membership(membershipIdentifier=bob_mid))["membership"]["collaborationName"],
                         "Renamed")

        # UpdateMembership changes only the fields given.
        carol_results2 = {"outputConfiguration": {"s3": {"resultFormat": "PARQUET", "bucket": "carol-bucket-2",
                                                         "keyPrefix": "out", "singleFileOutput": True}},
                          "roleArn": "arn:aws:iam::333333333333:role/carol-results-role"}
        upd_ms = self.assertOK(carol.update_membership(membershipIdentifier=carol_mid,
                                                       queryLogStatus="DISABLED"))["membership"]
        self.assertEqual(upd_ms["queryLogStatus"], "DISABLED")
        self.assertEqual(upd_ms["defaultResultConfiguration"], carol_results)
        upd_ms = self.assertOK(carol.update_membership(membershipIdentifier=carol_mid,
                                                       defaultResultConfiguration=carol_results2))["membership"]
        self.assertEqual(upd_ms["queryLogStatus"], "DISABLED")
        self.assertEqual(upd_ms["defaultResultConfiguration"], carol_results2)
        self.assertEqual(self.assertOK(carol.get_membership(membershipIdentifier=carol_mid))["membership"], upd_ms)
        self.assertInvalid(["defaultResultConfiguration"], bob.update_membership, membershipIdentifier=bob_mid,
                           defaultResultConfiguration=carol_results)

        # ListMemberships and its status filter.
        def memberships(caller, **kw):
            return {m["id"]: m for m in self.list_all(caller, "list_memberships", "membershipSummaries", **kw)}
        mine = memberships(ALICE)
        self.assertEqual(mine[alice_mid]["collaborationId"], cid)
        self.assertEqual(mine[alice_mid]["status"], "ACTIVE")
        self.assertEqual(mine[alice_mid]["arn"], ms["arn"])
        self.assertEqual(mine[alice_mid]["collaborationName"], "Renamed")
        self.assertNotIn(bob_mid, mine)
        self.assertIn(alice_mid, memberships(ALICE, status="ACTIVE"))
        self.assertNotIn(alice_mid, memberships(ALICE, status="REMOVED"))

        # Dave joins and leaves: the membership disappears, he shows as LEFT
        # and can't come back.
        dave_mid = self.assertOK(dave.create_membership(collaborationIdentifier=cid,
                                                        queryLogStatus="DISABLED"))["membership"]["id"]
        self.assertOK(dave.delete_membership(membershipIdentifier=dave_mid), 204)
        self.assertNotFound("MEMBERSHIP", dave_mid, dave.get_membership, membershipIdentifier=dave_mid)
        self.assertNotIn(dave_mid, memberships(DAVE))
        self.assertEqual(self.members_by_account(ALICE, cid)[DAVE]["status"], "LEFT")
        self.assertNotIn("membershipId", self.members_by_account(ALICE, cid)[DAVE])
        self.assertAccessDenied(dave.get_collaboration, collaborationIdentifier=cid)
        self.assertAccessDenied(dave.create_membership, collaborationIdentifier=cid, queryLogStatus="DISABLED")
        self.assertNotIn(cid, listed(DAVE))
        self.assertConflict("INVALID_STATE", alice.delete_member, collaborationIdentifier=cid, accountId=DAVE)

        # The creator removes Carol: she is REMOVED, her membership too.
        self.assertInvalid(["accountId"], alice.delete_member, collaborationIdentifier=cid, accountId=ALICE)
        self.assertAccessDenied(bob.delete_member, collaborationIdentifier=cid, accountId=CAROL)
        self.assertNotFound("COLLABORATION", cid, alice.delete_member, collaborationIdentifier=cid, accountId=EVE)
        self.assertOK(alice.delete_member(collaborationIdentifier=cid, accountId=CAROL), 204)
        self.assertEqual(self.members_by_account(ALICE, cid)[CAROL]["status"], "REMOVED")
        carol_now = self.assertOK(carol.get_membership(membershipIdentifier=carol_mid))["membership"]
        self.assertEqual(carol_now["status"], "REMOVED")
        self.assertIn(carol_mid, memberships(CAROL, status="REMOVED"))
        self.assertNotIn(carol_mid, memberships(CAROL, status="ACTIVE"))
        self.assertAccessDenied(carol.get_collaboration, collaborationIdentifier=cid)
        self.assertNotIn(cid, listed(CAROL))
        self.assertConflict("INVALID_STATE", carol.update_membership, membershipIdentifier=carol_mid,
                            queryLogStatus="ENABLED")
        self.assertConflict("INVALID_STATE", alice.delete_member, collaborationIdentifier=cid, accountId=CAROL)

        # The creator can't leave; it can only delete the collaboration.
        self.assertConflict("INVALID_STATE", alice.delete_membership, membershipIdentifier=alice_mid)

        # DeleteCollaboration: creator only; memberships become COLLABORATION_DELETED.
        self.assertAccessDenied(bob.delete_collaboration, collaborationIdentifier=cid)
        self.assertOK(alice.delete_collaboration(collaborationIdentifier=cid), 204)
        for who in (alice, bob, carol):
            self.assertAccessDenied(who.get_collaboration, collaborationIdentifier=cid)
            self.assertAccessDenied(who.list_members, collaborationIdentifier=cid)
        self.assertAccessDenied(alice.delete_collaboration, collaborationIdentifier=cid)
        self.assertAccessDenied(alice.update_collaboration, collaborationIdentifier=cid, name="again")
        for acct in (ALICE, BOB):
            self.assertNotIn(cid, listed(acct))
        self.assertEqual(self.assertOK(alice.get_membership(membershipIdentifier=alice_mid))["membership"]["status"],
                         "COLLABORATION_DELETED")
        self.assertEqual(self.assertOK(bob.get_membership(membershipIdentifier=bob_mid))["membership"]["status"],
                         "COLLABORATION_DELETED")
        self.assertEqual(self.assertOK(carol.get_membership(membershipIdentifier=carol_mid))["membership"]["status"],
                         "REMOVED", "a removed membership stays REMOVED")
        self.assertIn(bob_mid, memberships(BOB, status="COLLABORATION_DELETED"))
        self.assertNotIn(bob_mid, memberships(BOB, status="ACTIVE"))
        self.assertConflict("INVALID_STATE", bob.update_membership, membershipIdentifier=bob_mid,
                            queryLogStatus="ENABLED")

        # What is left of a membership can still be deleted, then it is gone.
        for who, mid in ((alice, alice_mid), (bob, bob_mid), (carol, carol_mid)):
            self.assertOK(who.delete_membership(membershipIdentifier=mid), 204)
            self.assertNotFound("MEMBERSHIP", mid, who.get_membership, membershipIdentifier=mid)
        self.assertNotIn(alice_mid, memberships(ALICE))


class PaymentTest(CleanRoomsTestCase):

    def test_payer_rules_at_creation(self):
        creator, a, b = fresh_account(), fresh_account(), fresh_account()
        c = client(creator)
        base = dict(name="pay", description="d", creatorDisplayName="C", queryLogStatus="DISABLED")
        # Two payers.
        self.assertInvalid(["members[1].paymentConfiguration.queryCompute.isResponsible"], c.create_collaboration,
                           creatorMemberAbilities=["CAN_QUERY"],
                           members=[member(a, pays=True), member(b, pays=True)], **base)
        # The querier declines and nobody else pays.
        self.assertInvalid(["creatorPaymentConfiguration.queryCompute.isResponsible"], c.create_collaboration,
                           creatorMemberAbilities=["CAN_QUERY"],
                           creatorPaymentConfiguration={"queryCompute": {"isResponsible": False}},
                           members=[member(a), member(b)], **base)
        self.assertInvalid(["members[0].paymentConfiguration.queryCompute.isResponsible"], c.create_collaboration,
                           creatorMemberAbilities=[],
                           members=[member(a, ["CAN_QUERY"], pays=False), member(b, pays=False)], **base)
        # Two members who can query.
        self.assertInvalid(["memberAbilities"], c.create_collaboration, creatorMemberAbilities=["CAN_QUERY"],
                           members=[member(a, ["CAN_QUERY"])], **base)
        # The creator listed as a member, and an account listed twice.
        self.assertInvalid(["members[0].accountId"], c.create_collaboration, creatorMemberAbilities=[],
                           members=[member(creator)], **base)
        self.assertInvalid(["members[1].accountId"], c.create_collaboration, creatorMemberAbilities=[],
                           members=[member(a), member(a)], **base)

    def test_non_querier_payer_must_accept(self):
        creator, payer, other = fresh_account(), fresh_account(), fresh_account()
        coll = self.create_collaboration(creator, [member(payer, [], "Payer", pays=True), member(other, [], "Other")],
                                         abilities=["CAN_QUERY", "CAN_RECEIVE_RESULTS"],
                                         creatorPaymentConfiguration={"queryCompute": {"isResponsible": False}})
        cid = coll["id"]
        ms = self.members_by_account(other, cid)
        self.assertEqual({a: m["paymentConfiguration"]["queryCompute"]["isResponsible"] for a, m in ms.items()},
                         {creator: False, payer: True, other: False})

        p = client(payer)
        self.assertInvalid(["paymentConfiguration"], p.create_membership, collaborationIdentifier=cid,
                           queryLogStatus="DISABLED")
        self.assertInvalid(["paymentConfiguration.queryCompute.isResponsible"], p.create_membership,
                           collaborationIdentifier=cid, queryLogStatus="DISABLED",
                           paymentConfiguration={"queryCompute": {"isResponsible": False}})
        got = self.assertOK(p.create_membership(collaborationIdentifier=cid, queryLogStatus="DISABLED",
                                                paymentConfiguration={"queryCompute": {"isResponsible": True}}))
        self.assertEqual(got["membership"]["paymentConfiguration"], {"queryCompute": {"isResponsible": True}})

        # The querier was configured not to pay and can't claim it.
        q = client(creator)
        self.assertInvalid(["paymentConfiguration.queryCompute.isResponsible"], q.create_membership,
                           collaborationIdentifier=cid, queryLogStatus="DISABLED",
                           paymentConfiguration={"queryCompute": {"isResponsible": True}})
        got = self.assertOK(q.create_membership(collaborationIdentifier=cid, queryLogStatus="DISABLED"))
        self.assertEqual(got["membership"]["paymentConfiguration"], {"queryCompute": {"isResponsible": False}})
        # A member that pays for nothing may omit the configuration.
        got = self.assertOK(client(other).create_membership(collaborationIdentifier=cid, queryLogStatus="DISABLED"))
        self.assertEqual(got["membership"]["paymentConfiguration"], {"queryCompute": {"isResponsible": False}})
        self.assertEqual({a: m["status"] for a, m in self.members_by_account(creator, cid).items()},
                         {creator: "ACTIVE", payer: "ACTIVE", other: "ACTIVE"})

    def test_querier_explicitly_pays(self):
        creator, q = fresh_account(), fresh_account()
        coll = self.create_collaboration(creator, [member(q, ["CAN_QUERY"], pays=True)], abilities=[])
        ms = self.members_by_account(creator, coll["id"])
        self.assertTrue(ms[q]["paymentConfiguration"]["queryCompute"]["isResponsible"])
        self.assertFalse(ms[creator]["paymentConfiguration"]["queryCompute"]["isResponsible"])
        got = self.assertOK(client(q).create_membership(collaborationIdentifier=coll["id"], queryLogStatus="DISABLED",
                                                        paymentConfiguration={"queryCompute": {"isResponsible": True}}))
        self.assertEqual(got["membership"]["paymentConfiguration"], {"queryCompute": {"isResponsible": True}})


class ValidationTest(CleanRoomsTestCase):

    def test_create_collaboration_field_list(self):
        c = client(fresh_account())
        resp = self.assertInvalid(
            ["name", "creatorDisplayName", "members[0].accountId", "members[1].displayName"],
            c.create_collaboration, name="n" * 101, description="d", creatorDisplayName="   ",
            creatorMemberAbilities=[], queryLogStatus="DISABLED",
            members=[member("12345678901"), member(fresh_account(), name=" ")])
        self.assertIn("validation error", resp["Error"]["Message"])
        # At the limits it is accepted.
        coll = self.create_collaboration(fresh_account(), name="n" * 100, description="x" * 255)
        self.assertEqual(coll["name"], "n" * 100)

    def test_bad_values(self):
        acct = fresh_account()
        c = client(acct)
        base = dict(name="v", description="d", creatorDisplayName="C", creatorMemberAbilities=[], members=[])
        self.assertInvalid(["queryLogStatus"], c.create_collaboration, **base)
        self.assertInvalid(["queryLogStatus"], c.create_collaboration, queryLogStatus="SOMETIMES", **base)
        self.assertInvalid(["analyticsEngine"], c.create_collaboration, queryLogStatus="DISABLED",
                           analyticsEngine="CLEAN_ROOMS_SQL", **base)
        self.assertInvalid(["members[0].memberAbilities[0]"], c.create_collaboration, queryLogStatus="DISABLED",
                           **dict(base, members=[member(fresh_account(), ["CAN_FLY"])]))
        self.assertInvalid(["collaborationIdentifier"], c.get_collaboration, collaborationIdentifier="not-a-uuid")
        self.assertInvalid(["collaborationIdentifier"], c.get_collaboration, collaborationIdentifier=UUID_UPPER)
        self.assertInvalid(["accountId"], c.delete_member, collaborationIdentifier=UUID_UPPER.lower(),
                           accountId="12345678901")
        self.assertInvalid(["membershipIdentifier"], c.get_membership, membershipIdentifier="x" * 36)
        # Membership settings must agree with the collaboration.
        coll = self.create_collaboration(acct, abilities=["CAN_QUERY"])  # queryLogStatus DISABLED
        self.assertInvalid(["name"], c.update_collaboration, collaborationIdentifier=coll["id"], name="n" * 101)
        self.assertInvalid(["description"], c.update_collaboration, collaborationIdentifier=coll["id"], description="")
        self.assertInvalid(["queryLogStatus"], c.create_membership, collaborationIdentifier=coll["id"],
                           queryLogStatus="ENABLED")
        self.assertInvalid(["defaultResultConfiguration"], c.create_membership, collaborationIdentifier=coll["id"],
                           queryLogStatus="DISABLED",
                           defaultResultConfiguration={"outputConfiguration": {"s3": {"resultFormat": "CSV",
                                                                                      "bucket": "bucket-b"}}})
        self.assertInvalid(["defaultResultConfiguration.outputConfiguration.s3.resultFormat"], c.create_membership,
                           collaborationIdentifier=coll["id"], queryLogStatus="DISABLED",
                           defaultResultConfiguration={"outputConfiguration": {"s3": {"resultFormat": "XML",
                                                                                      "bucket": "bucket-b"}}})

    def test_list_parameters(self):
        c = client(fresh_account())
        for op, kw in (("list_collaborations", {}), ("list_memberships", {})):
            for bad in (0, 101):
                self.assertInvalid(["maxResults"], getattr(c, op), maxResults=bad, **kw)
            self.assertInvalid(["nextToken"], getattr(c, op), nextToken="not-a-token", **kw)
        self.assertInvalid(["memberStatus"], c.list_collaborations, memberStatus="LEFT")
        self.assertInvalid(["status"], c.list_memberships, status="GONE")


class PaginationTest(CleanRoomsTestCase):

    def test_list_collaborations_paginator(self):
        acct = fresh_account()
        ids = [self.create_collaboration(acct, name="page %d" % i)["id"] for i in range(5)]
        pages = list(client(acct).get_paginator("list_collaborations").paginate(PaginationConfig={"PageSize": 2}))
        for p in pages:
            self.assertOK(p)
        self.assertEqual([len(p["collaborationList"]) for p in pages], [2, 2, 1])
        self.assertEqual(["nextToken" in p for p in pages], [True, True, False])
        got = [c["id"] for p in pages for c in p["collaborationList"]]
        self.assertEqual(sorted(got), sorted(ids), "every collaboration exactly once")
        self.assertEqual(len(set(got)), 5)

        # MaxItems and resuming from the returned token.
        first = client(acct).get_paginator("list_collaborations").paginate(
            PaginationConfig={"PageSize": 2, "MaxItems": 3}).build_full_result()
        self.assertEqual(len(first["collaborationList"]), 3)
        self.assertIn("NextToken", first)
        rest = client(acct).get_paginator("list_collaborations").paginate(
            PaginationConfig={"PageSize": 2, "StartingToken": first["NextToken"]}).build_full_result()
        self.assertEqual(sorted(c["id"] for c in first["collaborationList"] + rest["collaborationList"]),
                         sorted(ids))

        # Tokens are tied to the operation that issued them.
        raw = self.assertOK(client(acct).list_collaborations(maxResults=1))
        self.assertEqual(len(raw["collaborationList"]), 1)
        self.assertInvalid(["nextToken"], client(acct).list_memberships, nextToken=raw["nextToken"])

    def test_list_members_and_memberships_paginators(self):
        creator = fresh_account()
        invitees = [fresh_account() for _ in range(5)]
        colls = [self.create_collaboration(creator, [member(a) for a in invitees], name="m%d" % i) for i in range(3)]
        pages = list(client(invitees[0]).get_paginator("list_members").paginate(
            collaborationIdentifier=colls[0]["id"], PaginationConfig={"PageSize": 4}))
        self.assertEqual([len(p["memberSummaries"]) for p in pages], [4, 2])
        self.assertEqual({m["accountId"] for p in pages for m in p["memberSummaries"]}, {creator, *invitees})

        mids = [self.assertOK(client(creator).create_membership(collaborationIdentifier=c["id"],
                                                                queryLogStatus="DISABLED"))["membership"]["id"]
                for c in colls]
        pages = list(client(creator).get_paginator("list_memberships").paginate(PaginationConfig={"PageSize": 2}))
        self.assertEqual([len(p["membershipSummaries"]) for p in pages], [2, 1])
        self.assertEqual(sorted(m["id"] for p in pages for m in p["membershipSummaries"]), sorted(mids))


class QuotaTest(CleanRoomsTestCase):

    def test_default_quotas(self):
        acct = fresh_account()
        self.assertQuota("Members invited per collaboration", 5, client(acct).create_collaboration,
                         name="q", description="d", creatorDisplayName="C", creatorMemberAbilities=[],
                         queryLogStatus="DISABLED", members=[member(fresh_account()) for _ in range(6)])
        self.create_collaboration(acct, [member(fresh_account()) for _ in range(5)])
        for _ in range(9):
            self.create_collaboration(acct)
        self.assertQuota("Collaborations created per account", 10, client(acct).create_collaboration,
                         name="q", description="d", creatorDisplayName="C", creatorMemberAbilities=[],
                         queryLogStatus="DISABLED", members=[])

    @unittest.skipUnless(QUOTA_ENDPOINT, "CLEANROOMSD_QUOTA_ENDPOINT not set")
    def test_configured_quotas(self):
        acct = fresh_account()
        c = client(acct, QUOTA_ENDPOINT)
        args = dict(name="q", description="d", creatorDisplayName="C", creatorMemberAbilities=[],
                    queryLogStatus="DISABLED")
        self.assertQuota("Members invited per collaboration", QUOTA_MEMBERS, c.create_collaboration,
                         members=[member(fresh_account()) for _ in range(QUOTA_MEMBERS + 1)], **args)
        ids = [self.assertOK(c.create_collaboration(members=[member(fresh_account()) for _ in range(QUOTA_MEMBERS)],
                                                    **args))["collaboration"]["id"]
               for _ in range(QUOTA_COLLABORATIONS)]
        self.assertQuota("Collaborations created per account", QUOTA_COLLABORATIONS, c.create_collaboration,
                         members=[], **args)
        # A deleted collaboration no longer counts.
        self.assertOK(c.delete_collaboration(collaborationIdentifier=ids[0]), 204)
        self.assertOK(c.create_collaboration(members=[], **args))

        # Memberships per account: one account invited by several creators.
        joiner = fresh_account()
        colls = [self.assertOK(client(fresh_account(), QUOTA_ENDPOINT).create_collaboration(
            members=[member(joiner)], **args))["collaboration"]["id"] for _ in range(QUOTA_MEMBERSHIPS + 1)]
        j = client(joiner, QUOTA_ENDPOINT)
        for cid in colls[:QUOTA_MEMBERSHIPS]:
            self.assertOK(j.create_membership(collaborationIdentifier=cid, queryLogStatus="DISABLED"))
        self.assertQuota("Memberships per account", QUOTA_MEMBERSHIPS, j.create_membership,
                         collaborationIdentifier=colls[-1], queryLogStatus="DISABLED")


class TagTest(CleanRoomsTestCase):

    def test_tags(self):
        owner, other = fresh_account(), fresh_account()
        coll = self.create_collaboration(owner, [member(other)], tags={"a": "1", "b": "2"})
        arn = coll["arn"]
        c = client(owner)
        self.assertEqual(self.assertOK(c.list_tags_for_resource(resourceArn=arn))["tags"], {"a": "1", "b": "2"})
        self.assertOK(c.tag_resource(resourceArn=arn, tags={"b": "two", "c": "3"}))
        self.assertEqual(c.list_tags_for_resource(resourceArn=arn)["tags"], {"a": "1", "b": "two", "c": "3"})
        self.assertOK(c.untag_resource(resourceArn=arn, tagKeys=["a", "missing"]))
        self.assertEqual(c.list_tags_for_resource(resourceArn=arn)["tags"], {"b": "two", "c": "3"})
        self.assertInvalid(["tags"], c.tag_resource, resourceArn=arn, tags={"aws:reserved": "x"})
        self.assertInvalid(["resourceArn"], c.tag_resource, resourceArn="arn:aws:s3:::bucket", tags={"x": "y"})

        # Membership tags belong to the member's account.
        om = self.assertOK(client(other).create_membership(collaborationIdentifier=coll["id"], queryLogStatus="DISABLED",
                                                           tags={"m": "1"}))["membership"]
        o = client(other)
        self.assertEqual(o.list_tags_for_resource(resourceArn=om["arn"])["tags"], {"m": "1"})
        self.assertOK(o.tag_resource(resourceArn=om["arn"], tags={"n": "2"}))
        self.assertEqual(o.list_tags_for_resource(resourceArn=om["arn"])["tags"], {"m": "1", "n": "2"})

        # Another account's resources, and missing ones, are not found.
        self.assertError("ResourceNotFoundException", 404, o.list_tags_for_resource, resourceArn=arn)
        self.assertError("ResourceNotFoundException", 404, o.tag_resource, resourceArn=arn, tags={"x": "y"})
        self.assertError("ResourceNotFoundException", 404, c.untag_resource, resourceArn=om["arn"], tagKeys=["m"])
        ghost = collab_arn(owner, "00000000-0000-4000-8000-000000000002")
        resp = self.assertError("ResourceNotFoundException", 404, c.list_tags_for_resource, resourceArn=ghost)
        self.assertEqual(resp.get("resourceId"), ghost, resp)

        # Tags go with their resource.
        self.assertOK(c.delete_collaboration(collaborationIdentifier=coll["id"]), 204)
        self.assertError("ResourceNotFoundException", 404, c.list_tags_for_resource, resourceArn=arn)
        self.assertOK(o.delete_membership(membershipIdentifier=om["id"]), 204)
        self.assertError("ResourceNotFoundException", 404, o.list_tags_for_resource, resourceArn=om["arn"])


class WireTest(CleanRoomsTestCase):

    def test_unimplemented_operation(self):
        c = client(fresh_account())
        # Audience models and ID mapping (Clean Rooms ML, Entity Resolution)
        # are modeled but not served.
        resp = self.assertError("NotImplementedException", 501, c.list_configured_audience_model_associations,
                                membershipIdentifier="00000000-0000-4000-8000-000000000003")
        self.assertIn("ListConfiguredAudienceModelAssociations", resp["Error"]["Message"])
        resp = self.assertError("NotImplementedException", 501, c.get_id_mapping_table,
                                membershipIdentifier="00000000-0000-4000-8000-000000000003",
                                idMappingTableIdentifier="00000000-0000-4000-8000-000000000004")
        self.assertIn("GetIdMappingTable", resp["Error"]["Message"])

    def test_request_ids_are_unique(self):
        c = client(fresh_account())
        ids = set()
        for _ in range(3):
            ids.add(self.assertOK(c.list_collaborations())["ResponseMetadata"]["RequestId"])
            try:
                c.get_collaboration(collaborationIdentifier="00000000-0000-4000-8000-000000000004")
            except ClientError as e:
                ids.add(e.response["ResponseMetadata"]["RequestId"])
        self.assertEqual(len(ids), 6)

    def test_non_numeric_access_key_is_default_account(self):
        coll = self.create_collaboration("AKIADEVMODEKEY", abilities=[])
        self.assertEqual(coll["creatorAccountId"], "000000000000")
        self.assertEqual(coll["arn"], collab_arn("000000000000", coll["id"]))
        self.assertOK(client("000000000000").delete_collaboration(collaborationIdentifier=coll["id"]), 204)


class ConcurrencyTest(CleanRoomsTestCase):
    """Racing requests must still respect one-membership-per-account and quotas."""

    def race(self, n, fn):
        results = [None] * n
        start = threading.Barrier(n)

        def run(i):
            start.wait()
            try:
                results[i] = fn(i)
            except ClientError as e:
                results[i] = e.response
        threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        return results

    def test_concurrent_joins(self):
        creator, joiner = fresh_account(), fresh_account()
        cid = self.create_collaboration(creator, [member(joiner)])["id"]
        clients = [client(joiner, secret="s%d" % i) for i in range(6)]  # one connection each
        results = self.race(6, lambda i: clients[i].create_membership(collaborationIdentifier=cid,
                                                                      queryLogStatus="DISABLED"))
        ok = [r for r in results if "membership" in r]
        self.assertEqual(len(ok), 1, results)
        mid = ok[0]["membership"]["id"]
        for r in results:
            if "membership" not in r:
                self.assertEqual(r["Error"]["Code"], "ConflictException", r)
                self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], 409)
                self.assertEqual(r.get("reason"), "ALREADY_EXISTS", r)
                self.assertEqual(r.get("resourceId"), mid, r)
        self.assertEqual([m["id"] for m in self.list_all(joiner, "list_memberships", "membershipSummaries")], [mid])

    @unittest.skipUnless(QUOTA_ENDPOINT, "CLEANROOMSD_QUOTA_ENDPOINT not set")
    def test_concurrent_creates_respect_quota(self):
        acct = fresh_account()
        n = QUOTA_COLLABORATIONS + 3
        clients = [client(acct, QUOTA_ENDPOINT, secret="s%d" % i) for i in range(n)]
        results = self.race(n, lambda i: clients[i].create_collaboration(
            name="race %d" % i, description="d", creatorDisplayName="C", creatorMemberAbilities=[], members=[],
            queryLogStatus="DISABLED"))
        codes = sorted(r["Error"]["Code"] if "Error" in r else "OK" for r in results)
        self.assertEqual(codes, ["OK"] * QUOTA_COLLABORATIONS + ["ServiceQuotaExceededException"] * 3, results)
        listed = client(acct, QUOTA_ENDPOINT).list_collaborations()["collaborationList"]
        self.assertEqual(len(listed), QUOTA_COLLABORATIONS)


class DeleteMemberPermissionTest(CleanRoomsTestCase):
    """Only the creator may call DeleteMember: the permission check comes
    before any check of the accountId named."""

    def test_delete_member_by_non_creator_naming_itself_is_access_denied(self):
        # Only the creator may call DeleteMember; anyone else is denied
        # whatever accountId they name. The server checks "the creator can't
        # remove itself" first and answers a member (or an outsider, or a
        # missing collaboration) with ValidationException "The collaboration
        # creator can't remove its own account".
        creator, mem = fresh_account(), fresh_account()
        cid = self.create_collaboration(creator, [member(mem)])["id"]
        self.assertAccessDenied(client(mem).delete_member, collaborationIdentifier=cid, accountId=mem)


@unittest.skipUnless(STRICT_ENDPOINT and STRICT_CREDENTIALS, "strict-mode server not configured")
class StrictAuthTest(CleanRoomsTestCase):

    @classmethod
    def setUpClass(cls):
        with open(STRICT_CREDENTIALS) as f:
            cls.accounts = json.load(f)["accounts"]
        if len(cls.accounts) < 2:
            raise unittest.SkipTest("strict credentials need two accounts")

    def strict(self, i, secret=None):
        a = self.accounts[i]
        return client(a["accessKeyId"], STRICT_ENDPOINT, secret or a["secretAccessKey"])

    def test_signed_requests_act_as_their_account(self):
        first, second = self.accounts[0], self.accounts[1]
        c = self.strict(0)
        coll = self.assertOK(c.create_collaboration(
            name="strict", description="d", creatorDisplayName="S", creatorMemberAbilities=["CAN_QUERY"],
            members=[member(second["accountId"])], queryLogStatus="DISABLED"))["collaboration"]
        self.assertEqual(coll["creatorAccountId"], first["accountId"])
        self.assertEqual(coll["arn"], collab_arn(first["accountId"], coll["id"]))
        ms = self.assertOK(self.strict(1).create_membership(collaborationIdentifier=coll["id"],
                                                             queryLogStatus="DISABLED"))["membership"]
        self.assertEqual(ms["arn"], membership_arn(second["accountId"], ms["id"]))
        self.assertAccessDenied(self.strict(1).delete_collaboration, collaborationIdentifier=coll["id"])
        self.assertOK(c.delete_collaboration(collaborationIdentifier=coll["id"]), 204)

    def test_auth_errors(self):
        self.assertError("InvalidSignatureException", 403, self.strict(0, secret="wrong-secret").list_collaborations)
        self.assertError("UnrecognizedClientException", 403,
                         client("AKIAUNKNOWNKEY000000", STRICT_ENDPOINT).list_collaborations)
        # A 12-digit key id is just an unknown key in strict mode.
        self.assertError("UnrecognizedClientException", 403,
                         client("999999999999", STRICT_ENDPOINT).list_collaborations)
        unsigned = client("unused", STRICT_ENDPOINT, signature_version=UNSIGNED)
        self.assertError("MissingAuthenticationTokenException", 403, unsigned.list_collaborations)
        # Errors are the same whatever the operation, implemented or not.
        self.assertError("InvalidSignatureException", 403, self.strict(0, secret="wrong-secret").list_configured_tables)


if __name__ == "__main__":
    unittest.main(verbosity=2)
