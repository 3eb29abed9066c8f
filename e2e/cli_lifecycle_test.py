"""End-to-end tests of cleanroomsd driven by the AWS CLI (v1), unmodified.

The Go runner (e2e_test.go) starts a dev-mode server and passes its endpoint
in CLEANROOMSD_ENDPOINT. Each `aws` call runs with the account's id as its
access key id and with empty config and credentials files, so nothing from
the machine's AWS configuration can interfere.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

REGION = os.environ.get("CLEANROOMSD_REGION", "us-east-1")
ENDPOINT = os.environ.get("CLEANROOMSD_ENDPOINT")
AWS = os.environ.get("CLEANROOMSD_AWS_CLI") or shutil.which("aws")

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ERROR_EXIT_CODES = (254, 255)  # v1 exits 255 on a service error, v2 254

ALICE = "111111111111"  # creator
BOB = "222222222222"  # member who can query
CAROL = "333333333333"  # receives results; leaves
EVE = "555555555555"  # never invited

_tmp = None
_env = None


def setUpModule():
    global _tmp, _env
    if not ENDPOINT:
        raise RuntimeError("CLEANROOMSD_ENDPOINT is not set; run these tests with `go test ./e2e/`")
    if not AWS:
        raise RuntimeError("the aws executable is not on PATH")
    _tmp = tempfile.mkdtemp(prefix="cleanroomsd-cli-")
    empty = os.path.join(_tmp, "empty")
    open(empty, "w").close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_CONFIG_FILE": empty,
        "AWS_SHARED_CREDENTIALS_FILE": empty,
        "AWS_MAX_ATTEMPTS": "1",  # no retries: an error must surface at once
        "AWS_RETRY_MODE": "standard",
        "AWS_PAGER": "",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "HOME": _tmp,  # no ~/.aws either
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


def aws(account, command, *args):
    """Runs `aws cleanrooms COMMAND ARGS` as account."""
    env = dict(_env, AWS_ACCESS_KEY_ID=account, AWS_SECRET_ACCESS_KEY="secret-" + account)
    argv = [AWS, "cleanrooms", command, "--endpoint-url", ENDPOINT, "--region", REGION, "--output", "json"]
    argv += list(args)
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    return Result([command, *args], proc)


def j(v):
    return json.dumps(v)


class CLITestCase(unittest.TestCase):
    maxDiff = None

    def ok(self, account, command, *args):
        r = aws(account, command, *args)
        self.assertEqual(r.rc, 0, r)
        self.assertNotIn("error occurred", r.stderr, r)
        return r.json

    def fails(self, code, account, command, *args):
        """The call must fail with the modeled error `code`, reported the way
        the CLI reports service errors."""
        r = aws(account, command, *args)
        self.assertIn(r.rc, ERROR_EXIT_CODES, r)
        op = "".join(p.capitalize() for p in command.split("-"))
        self.assertIn("An error occurred (%s) when calling the %s operation" % (code, op), r.stderr, r)
        self.assertEqual(r.stdout.strip(), "", r)
        return r.stderr

    def members(self, account, cid):
        out = self.ok(account, "list-members", "--collaboration-identifier", cid)
        return {m["accountId"]: m for m in out["memberSummaries"]}


class CLILifecycleTest(CLITestCase):

    def test_lifecycle(self):
        # create-collaboration
        out = self.ok(ALICE, "create-collaboration", "--name", "CLI collab", "--description", "via aws-cli",
                      "--creator-display-name", "Alice", "--creator-member-abilities", "CAN_RECEIVE_RESULTS",
                      "--members", j([
                          {"accountId": BOB, "memberAbilities": ["CAN_QUERY"], "displayName": "Bob"},
                          {"accountId": CAROL, "memberAbilities": ["CAN_RECEIVE_RESULTS"], "displayName": "Carol"}]),
                      "--query-log-status", "DISABLED", "--tags", "stage=e2e,tool=cli")
        coll = out["collaboration"]
        cid = coll["id"]
        self.assertRegex(cid, UUID_RE)
        self.assertEqual(coll["arn"], "arn:aws:cleanrooms:%s:%s:collaboration/%s" % (REGION, ALICE, cid))
        self.assertEqual(coll["name"], "CLI collab")
        self.assertEqual(coll["description"], "via aws-cli")
        self.assertEqual(coll["creatorAccountId"], ALICE)
        self.assertEqual(coll["creatorDisplayName"], "Alice")
        self.assertEqual(coll["memberStatus"], "INVITED")
        self.assertEqual(coll["queryLogStatus"], "DISABLED")
        self.assertEqual(coll["analyticsEngine"], "SPARK")
        self.assertIsInstance(coll["createTime"], (int, float))
        self.assertNotIn("membershipId", coll)

        # get-collaboration / list-collaborations
        self.assertEqual(self.ok(BOB, "get-collaboration", "--collaboration-identifier", cid)["collaboration"], coll)
        self.fails("AccessDeniedException", EVE, "get-collaboration", "--collaboration-identifier", cid)
        listed = self.ok(BOB, "list-collaborations", "--member-status", "INVITED")["collaborationList"]
        self.assertIn(cid, [c["id"] for c in listed])
        listed = self.ok(BOB, "list-collaborations", "--member-status", "ACTIVE")["collaborationList"]
        self.assertNotIn(cid, [c["id"] for c in listed])

        # list-members includes the creator; Bob, who can query, pays.
        members = self.members(ALICE, cid)
        self.assertEqual(set(members), {ALICE, BOB, CAROL})
        self.assertEqual({a: m["status"] for a, m in members.items()},
                         {ALICE: "INVITED", BOB: "INVITED", CAROL: "INVITED"})
        self.assertEqual({a: m["paymentConfiguration"]["queryCompute"]["isResponsible"] for a, m in members.items()},
                         {ALICE: False, BOB: True, CAROL: False})
        self.assertEqual(members[BOB]["abilities"], ["CAN_QUERY"])

        # create-membership
        results = {"outputConfiguration": {"s3": {"resultFormat": "CSV", "bucket": "alice-results",
                                                  "keyPrefix": "cli/"}},
                   "roleArn": "arn:aws:iam::111111111111:role/cleanrooms-results"}
        ms = self.ok(ALICE, "create-membership", "--collaboration-identifier", cid, "--query-log-status", "DISABLED",
                     "--default-result-configuration", j(results))["membership"]
        alice_mid = ms["id"]
        self.assertRegex(alice_mid, UUID_RE)
        self.assertEqual(ms["arn"], "arn:aws:cleanrooms:%s:%s:membership/%s" % (REGION, ALICE, alice_mid))
        self.assertEqual(ms["collaborationId"], cid)
        self.assertEqual(ms["collaborationArn"], coll["arn"])
        self.assertEqual(ms["collaborationName"], "CLI collab")
        self.assertEqual(ms["status"], "ACTIVE")
        self.assertEqual(ms["memberAbilities"], ["CAN_RECEIVE_RESULTS"])
        self.assertEqual(ms["defaultResultConfiguration"], results)
        self.assertEqual(ms["paymentConfiguration"], {"queryCompute": {"isResponsible": False}})
        got = self.ok(ALICE, "get-collaboration", "--collaboration-identifier", cid)["collaboration"]
        self.assertEqual((got["memberStatus"], got["membershipId"]), ("ACTIVE", alice_mid))

        bob_ms = self.ok(BOB, "create-membership", "--collaboration-identifier", cid,
                         "--query-log-status", "DISABLED")["membership"]
        bob_mid = bob_ms["id"]
        self.assertEqual(bob_ms["paymentConfiguration"], {"queryCompute": {"isResponsible": True}})
        self.fails("ConflictException", BOB, "create-membership", "--collaboration-identifier", cid,
                   "--query-log-status", "DISABLED")
        self.fails("AccessDeniedException", EVE, "create-membership", "--collaboration-identifier", cid,
                   "--query-log-status", "DISABLED")
        self.fails("ValidationException", CAROL, "create-membership", "--collaboration-identifier", cid,
                   "--query-log-status", "DISABLED", "--payment-configuration", "queryCompute={isResponsible=true}")
        carol_mid = self.ok(CAROL, "create-membership", "--collaboration-identifier", cid,
                            "--query-log-status", "DISABLED")["membership"]["id"]

        # get-membership: own only.
        self.assertEqual(self.ok(ALICE, "get-membership", "--membership-identifier", alice_mid)["membership"], ms)
        err = self.fails("ResourceNotFoundException", BOB, "get-membership", "--membership-identifier", alice_mid)
        self.assertIn(alice_mid, err)

        # update-collaboration: creator only, only the given fields.
        upd = self.ok(ALICE, "update-collaboration", "--collaboration-identifier", cid,
                      "--name", "CLI renamed")["collaboration"]
        self.assertEqual((upd["name"], upd["description"]), ("CLI renamed", "via aws-cli"))
        upd = self.ok(ALICE, "update-collaboration", "--collaboration-identifier", cid,
                      "--description", "new description")["collaboration"]
        self.assertEqual((upd["name"], upd["description"]), ("CLI renamed", "new description"))
        self.fails("AccessDeniedException", BOB, "update-collaboration", "--collaboration-identifier", cid,
                   "--name", "mine")
        self.fails("ValidationException", ALICE, "update-collaboration", "--collaboration-identifier", cid,
                   "--analytics-engine", "CLEAN_ROOMS_SQL")

        # update-membership
        results2 = {"outputConfiguration": {"s3": {"resultFormat": "PARQUET", "bucket": "alice-results-2"}}}
        upd_ms = self.ok(ALICE, "update-membership", "--membership-identifier", alice_mid,
                         "--default-result-configuration", j(results2))["membership"]
        self.assertEqual(upd_ms["defaultResultConfiguration"], results2)
        self.assertEqual(upd_ms["queryLogStatus"], "DISABLED")
        self.fails("ValidationException", BOB, "update-membership", "--membership-identifier", bob_mid,
                   "--default-result-configuration", j(results2))

        # list-memberships with the status filter.
        active = self.ok(ALICE, "list-memberships", "--status", "ACTIVE")["membershipSummaries"]
        self.assertIn(alice_mid, [m["id"] for m in active])
        self.assertNotIn(bob_mid, [m["id"] for m in active])

        # Tags on the collaboration (creator's) and on a membership (member's).
        tags = self.ok(ALICE, "list-tags-for-resource", "--resource-arn", coll["arn"])["tags"]
        self.assertEqual(tags, {"stage": "e2e", "tool": "cli"})
        self.ok(ALICE, "tag-resource", "--resource-arn", coll["arn"], "--tags", "owner=alice,stage=prod")
        self.ok(ALICE, "untag-resource", "--resource-arn", coll["arn"], "--tag-keys", "tool")
        tags = self.ok(ALICE, "list-tags-for-resource", "--resource-arn", coll["arn"])["tags"]
        self.assertEqual(tags, {"stage": "prod", "owner": "alice"})
        self.ok(BOB, "tag-resource", "--resource-arn", bob_ms["arn"], "--tags", "k=v")
        self.assertEqual(self.ok(BOB, "list-tags-for-resource", "--resource-arn", bob_ms["arn"])["tags"], {"k": "v"})
        self.fails("ResourceNotFoundException", BOB, "list-tags-for-resource", "--resource-arn", coll["arn"])

        # Carol leaves: her membership is gone and she shows as LEFT.
        r = aws(CAROL, "delete-membership", "--membership-identifier", carol_mid)
        self.assertEqual((r.rc, r.stdout.strip()), (0, ""), r)
        self.fails("ResourceNotFoundException", CAROL, "get-membership", "--membership-identifier", carol_mid)
        self.assertEqual(self.members(ALICE, cid)[CAROL]["status"], "LEFT")
        self.fails("AccessDeniedException", CAROL, "create-membership", "--collaboration-identifier", cid,
                   "--query-log-status", "DISABLED")

        # delete-member: Bob is removed; the creator can't remove itself.
        self.fails("ValidationException", ALICE, "delete-member", "--collaboration-identifier", cid,
                   "--account-id", ALICE)
        self.fails("AccessDeniedException", BOB, "delete-member", "--collaboration-identifier", cid,
                   "--account-id", CAROL)
        self.ok(ALICE, "delete-member", "--collaboration-identifier", cid, "--account-id", BOB)
        self.assertEqual(self.members(ALICE, cid)[BOB]["status"], "REMOVED")
        self.assertEqual(self.ok(BOB, "get-membership", "--membership-identifier", bob_mid)["membership"]["status"],
                         "REMOVED")
        self.fails("ConflictException", BOB, "update-membership", "--membership-identifier", bob_mid,
                   "--query-log-status", "DISABLED")

        # delete-collaboration: creator only.
        self.fails("AccessDeniedException", BOB, "delete-collaboration", "--collaboration-identifier", cid)
        self.ok(ALICE, "delete-collaboration", "--collaboration-identifier", cid)
        self.fails("AccessDeniedException", ALICE, "get-collaboration", "--collaboration-identifier", cid)
        self.assertNotIn(cid, [c["id"] for c in self.ok(ALICE, "list-collaborations")["collaborationList"]])
        self.assertEqual(self.ok(ALICE, "get-membership", "--membership-identifier", alice_mid)["membership"]["status"],
                         "COLLABORATION_DELETED")


class CLIErrorsTest(CLITestCase):

    def test_validation_errors(self):
        # botocore checks only minimum lengths client-side; the rest is the server's.
        err = self.fails("ValidationException", "600000000001", "create-collaboration", "--name", "n" * 101,
                         "--description", "d", "--creator-display-name", "C", "--creator-member-abilities",
                         "--members", "[]", "--query-log-status", "DISABLED")
        self.assertIn("name", err)
        self.fails("ValidationException", "600000000001", "create-collaboration", "--name", "n",
                   "--description", "d", "--creator-display-name", "C", "--creator-member-abilities", "CAN_QUERY",
                   "--members", "[]", "--query-log-status", "DISABLED", "--analytics-engine", "CLEAN_ROOMS_SQL")
        self.fails("ValidationException", "600000000001", "list-collaborations", "--max-results", "101")

    def test_unimplemented_operation(self):
        err = self.fails("NotImplementedException", "600000000002", "list-configured-audience-model-associations",
                         "--membership-identifier", "00000000-0000-4000-8000-000000000003")
        self.assertIn("ListConfiguredAudienceModelAssociations", err)


class CLIPaginationTest(CLITestCase):

    def test_auto_pagination_and_tokens(self):
        acct = "600000000003"
        ids = [self.ok(acct, "create-collaboration", "--name", "p%d" % i, "--description", "d",
                       "--creator-display-name", "C", "--creator-member-abilities", "--members", "[]",
                       "--query-log-status", "DISABLED")["collaboration"]["id"] for i in range(3)]
        # The CLI follows nextToken on its own: pages of one still list all.
        out = self.ok(acct, "list-collaborations", "--page-size", "1")
        self.assertEqual(sorted(c["id"] for c in out["collaborationList"]), sorted(ids))
        self.assertNotIn("NextToken", out)
        first = self.ok(acct, "list-collaborations", "--page-size", "1", "--max-items", "2")
        self.assertEqual(len(first["collaborationList"]), 2)
        self.assertIn("NextToken", first)
        rest = self.ok(acct, "list-collaborations", "--page-size", "1", "--starting-token", first["NextToken"])
        self.assertEqual(sorted(c["id"] for c in first["collaborationList"] + rest["collaborationList"]), sorted(ids))


if __name__ == "__main__":
    unittest.main(verbosity=2)
