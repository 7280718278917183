#!/usr/bin/python3
"""Pull-through cache rules through the ECR API with boto3, against a real ecrd:
CreatePullThroughCacheRule / DescribePullThroughCacheRules / UpdatePullThroughCacheRule /
DeletePullThroughCacheRule / ValidatePullThroughCacheRule (validation, limits, errors,
pagination), ValidatePullThroughCacheRule against Debian's docker-registry (anonymous and
htpasswd Basic auth, a right and a wrong password) and a dead port, `ecrd credential
add|list|remove`, and that no upstream password ever appears in an API response, in
`ecrd credential list` or in ecrd's log.

The stock Debian botocore lacks the newer PTC members and operations: every call goes
through a client built from the reference model (ecr-service-2.json), with client-side
parameter validation off so that the server's own checks are what is tested.

Usage: test_ptc.py /path/to/ecrd [-v] [unittest names]
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ecrd_fixture as fx  # noqa: E402

import botocore.config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

ECRD = None
SRV = None
ADMIN = None
ACCT = fx.DEFAULT_ACCOUNT
REGION = "us-east-1"
ARN_PREFIX = "arn:aws:secretsmanager:%s:%s:secret:ecr-pullthroughcache/" % (REGION, ACCT)
ARN_GOOD = ARN_PREFIX + "regfix-good"
ARN_BAD = ARN_PREFIX + "regfix-bad"
ARN_CLI = ARN_PREFIX + "cli/test"
ARN_OTHER_ACCT = "arn:aws:secretsmanager:eu-west-1:%s:secret:ecr-pullthroughcache/elsewhere" % fx.OTHER_ACCOUNT
USER = "tester"
# Unique per run, so that finding one anywhere is a real leak.
PW_GOOD = "pw-good-" + uuid.uuid4().hex
PW_BAD = "pw-bad-" + uuid.uuid4().hex
PW_CLI = "pw-cli-" + uuid.uuid4().hex
PW_OTHER = "pw-other-" + uuid.uuid4().hex
SECRETS = (PW_GOOD, PW_BAD, PW_CLI, PW_OTHER)
REGISTRY_BIN = "/usr/bin/docker-registry"
CONFIG = botocore.config.Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=60,
                                parameter_validation=False)
RESPONSES = []   # every raw response body of the run
REG_ANON = None
REG_AUTH = None
CLI_OUTPUT = []  # stdout + stderr of every `ecrd credential` run


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class DockerRegistry:
    """Debian's docker-registry on a free loopback port, optionally with htpasswd Basic auth."""

    def __init__(self, htpasswd_password=None):
        self.dir = tempfile.mkdtemp(prefix="ptc-regfix-")
        self.proc = None
        self.port = None
        self.password = htpasswd_password
        self.log = open(os.path.join(self.dir, "registry.log"), "ab")

    def start(self):
        auth = ""
        if self.password is not None:
            path = os.path.join(self.dir, "htpasswd")
            subprocess.run(["htpasswd", "-Bbc", path, USER, self.password], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            auth = "auth:\n  htpasswd:\n    realm: regfix\n    path: %s\n" % path
        for _ in range(5):
            self.port = free_port()
            cfg = os.path.join(self.dir, "config.yml")
            with open(cfg, "w") as f:
                f.write("version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
                        "storage:\n  filesystem:\n    rootdirectory: %s/data\n"
                        "http:\n  addr: 127.0.0.1:%d\n  secret: ptc-test\n%s" % (self.dir, self.port, auth))
            self.proc = subprocess.Popen([REGISTRY_BIN, "serve", cfg], stdout=self.log, stderr=self.log,
                                         stdin=subprocess.DEVNULL)
            deadline = time.time() + 15
            while time.time() < deadline and self.proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                    return
                except OSError:
                    time.sleep(0.1)
            self.stop()
        raise RuntimeError("docker-registry did not start")

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cleanup(self):
        self.stop()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def credential(*args, stdin=None, check=True):
    """`ecrd credential ARGS --data DATA` (ecrd must not be running)."""
    cmd = [SRV.exe, "credential"] + list(args) + ["--data", SRV.data]
    p = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    CLI_OUTPUT.append(p.stdout + p.stderr)
    if check and p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), p.returncode, p.stderr.decode(errors="replace")))
    return p


def make_client():
    c = fx.make_client(SRV, ADMIN, CONFIG, region=REGION)

    def after_call(http_response=None, **kw):
        RESPONSES.append(http_response.content)
    c.meta.events.register("after-call.ecr", after_call)
    return c


def setUpModule():
    global SRV, ADMIN, REG_ANON, REG_AUTH
    if not os.access(REGISTRY_BIN, os.X_OK) or shutil.which("htpasswd") is None:
        raise unittest.SkipTest("docker-registry or htpasswd missing (scripts/deps.sh)")

    def add_credentials(srv):
        global SRV
        SRV = srv  # credential() runs `ecrd credential` on SRV's data
        credential("add", ARN_GOOD, USER, stdin=(PW_GOOD + "\n").encode())
        credential("add", ARN_BAD, USER, stdin=(PW_BAD + "\r\n").encode())
    try:
        SRV, ADMIN, _ = fx.start_ecrd(ECRD, extra_args=["--log-level", "debug"], while_stopped=add_credentials)
        REG_ANON = DockerRegistry()
        REG_ANON.start()
        REG_AUTH = DockerRegistry(PW_GOOD)
        REG_AUTH.start()
    except Exception:
        tearDownModule()
        raise


def tearDownModule():
    for r in (REG_ANON, REG_AUTH):
        if r is not None:
            r.cleanup()
    if SRV is not None:
        SRV.stop()
        SRV.cleanup()


class Base(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.c = make_client()

    def err(self, code, fn, **kw):
        with self.assertRaises(ClientError) as cm:
            fn(**kw)
        self.assertEqual(cm.exception.response["Error"]["Code"], code, cm.exception.response)
        return cm.exception.response["Error"]["Message"]

    def create(self, prefix, url, **kw):
        return self.c.create_pull_through_cache_rule(ecrRepositoryPrefix=prefix, upstreamRegistryUrl=url, **kw)

    def delete_all(self):
        for r in self.c.describe_pull_through_cache_rules(maxResults=1000)["pullThroughCacheRules"]:
            self.c.delete_pull_through_cache_rule(ecrRepositoryPrefix=r["ecrRepositoryPrefix"])


class T01Validation(Base):
    def tearDown(self):
        self.delete_all()

    def test_prefixes(self):
        for good in ("ab", "ecr-public/", "a/b.c", "x__y-z", "ROOT", "p" * 30):
            self.create(good, "quay.io")
        for bad in ("a", "p" * 31, "Upper", "a//b", "-ab", "ab-"):
            msg = self.err("ValidationException", self.create, prefix=bad, url="quay.io")
            self.assertIn("ecrRepositoryPrefix", msg)
        self.err("ValidationException", self.c.create_pull_through_cache_rule, upstreamRegistryUrl="quay.io")

    def test_urls(self):
        r = self.create("okurl", "http://127.0.0.1:5000/")
        self.assertEqual(r["upstreamRegistryUrl"], "http://127.0.0.1:5000")
        self.assertEqual(self.create("bare", "public.ecr.aws")["upstreamRegistryUrl"], "https://public.ecr.aws")
        for bad in ("ftp://quay.io", "http://h/path", "http://user:pw@h", "http://h:99999", "", "https://"):
            msg = self.err("UnsupportedUpstreamRegistryException", self.create, prefix="badurl", url=bad)
            self.assertIn("not supported", msg)

    def test_members(self):
        self.err("ValidationException", self.create, prefix="enum", url="quay.io", upstreamRegistry="dockerhub")
        r = self.create("enum", "quay.io", upstreamRegistry="quay")
        self.assertEqual(r["upstreamRegistry"], "quay")
        self.err("ValidationException", self.create, prefix="cred", url="quay.io", credentialArn="arn:aws:nope")
        msg = self.err("SecretNotFoundException", self.create, prefix="cred", url="quay.io",
                       credentialArn=ARN_PREFIX + "missing")
        self.assertIn("missing", msg)
        self.err("InvalidParameterException", self.create, prefix="cred", url="quay.io",
                 credentialArn=ARN_OTHER_ACCT)
        self.err("SerializationException", self.create, prefix=["x"], url="quay.io")
        self.err("InvalidParameterException", self.c.describe_pull_through_cache_rules, maxResults=0)
        self.err("ValidationException", self.c.describe_pull_through_cache_rules, ecrRepositoryPrefixes=[])

    def test_limit(self):
        for i in range(50):
            self.create("lim%02d" % i, "quay.io")
        msg = self.err("LimitExceededException", self.create, prefix="lim50", url="quay.io")
        self.assertIn("50", msg)
        self.err("PullThroughCacheRuleAlreadyExistsException", self.create, prefix="lim07/", url="quay.io")


class T02Crud(Base):
    def tearDown(self):
        self.delete_all()

    def test_lifecycle(self):
        before = time.time()
        r = self.create("hub/", "registry-1.docker.io", upstreamRegistry="docker-hub", credentialArn=ARN_GOOD)
        self.assertEqual(r["ecrRepositoryPrefix"], "hub")
        self.assertEqual(r["registryId"], ACCT)
        self.assertEqual(r["credentialArn"], ARN_GOOD)
        self.assertGreaterEqual(r["createdAt"].timestamp(), before - 2)
        self.err("PullThroughCacheRuleAlreadyExistsException", self.create, prefix="hub", url="quay.io")
        d = self.c.describe_pull_through_cache_rules(ecrRepositoryPrefixes=["hub"])["pullThroughCacheRules"]
        self.assertEqual(len(d), 1)
        self.assertEqual(d[0]["upstreamRegistryUrl"], "https://registry-1.docker.io")
        self.assertEqual(d[0]["upstreamRegistry"], "docker-hub")
        self.assertIn("updatedAt", d[0])
        time.sleep(0.01)
        u = self.c.update_pull_through_cache_rule(ecrRepositoryPrefix="hub", credentialArn=ARN_BAD,
                                                  customRoleArn="arn:aws:iam::%s:role/r" % ACCT)
        self.assertEqual(u["credentialArn"], ARN_BAD)
        self.assertEqual(u["customRoleArn"], "arn:aws:iam::%s:role/r" % ACCT)
        self.assertGreater(u["updatedAt"], d[0]["createdAt"])
        self.err("SecretNotFoundException", self.c.update_pull_through_cache_rule, ecrRepositoryPrefix="hub",
                 credentialArn=ARN_PREFIX + "nope")
        self.err("PullThroughCacheRuleNotFoundException", self.c.update_pull_through_cache_rule,
                 ecrRepositoryPrefix="nohub", credentialArn=ARN_GOOD)
        self.err("PullThroughCacheRuleNotFoundException", self.c.describe_pull_through_cache_rules,
                 ecrRepositoryPrefixes=["hub", "nohub"])
        x = self.c.delete_pull_through_cache_rule(ecrRepositoryPrefix="hub")
        self.assertEqual(x["ecrRepositoryPrefix"], "hub")
        self.assertEqual(x["upstreamRegistryUrl"], "https://registry-1.docker.io")
        self.assertEqual(x["credentialArn"], ARN_BAD)
        self.err("PullThroughCacheRuleNotFoundException", self.c.delete_pull_through_cache_rule,
                 ecrRepositoryPrefix="hub")
        self.err("PullThroughCacheRuleNotFoundException", self.c.validate_pull_through_cache_rule,
                 ecrRepositoryPrefix="hub")

    def test_pagination(self):
        names = sorted("page%02d" % i for i in range(23))
        for n in names:
            self.create(n, "quay.io")
        seen, token, pages = [], None, 0
        while True:
            kw = {"maxResults": 5}
            if token:
                kw["nextToken"] = token
            r = self.c.describe_pull_through_cache_rules(**kw)
            pages += 1
            self.assertLessEqual(len(r["pullThroughCacheRules"]), 5)
            seen += [x["ecrRepositoryPrefix"] for x in r["pullThroughCacheRules"]]
            token = r.get("nextToken")
            if not token:
                break
        self.assertEqual(seen, names)
        self.assertEqual(pages, 5)
        all_ = self.c.describe_pull_through_cache_rules()["pullThroughCacheRules"]
        self.assertEqual([x["ecrRepositoryPrefix"] for x in all_], names)
        self.err("InvalidParameterException", self.c.describe_pull_through_cache_rules, nextToken="garbage!")


class T03Validate(Base):
    def tearDown(self):
        self.delete_all()

    def validate(self, prefix):
        t0 = time.time()
        r = self.c.validate_pull_through_cache_rule(ecrRepositoryPrefix=prefix)
        self.assertLess(time.time() - t0, 20)
        self.assertEqual(r["ecrRepositoryPrefix"], prefix)
        self.assertEqual(r["registryId"], ACCT)
        return r

    def test_anonymous(self):
        self.create("anon", REG_ANON.url)
        r = self.validate("anon")
        self.assertTrue(r["isValid"], r)
        self.assertNotIn("failure", r)
        self.assertEqual(r["upstreamRegistryUrl"], REG_ANON.url)

    def test_htpasswd(self):
        self.create("good", REG_AUTH.url, credentialArn=ARN_GOOD)
        r = self.validate("good")
        self.assertTrue(r["isValid"], r)
        self.assertEqual(r["credentialArn"], ARN_GOOD)
        self.create("bad", REG_AUTH.url, credentialArn=ARN_BAD)
        r = self.validate("bad")
        self.assertFalse(r["isValid"])
        self.assertIn("credentials", r["failure"])
        # without credentials the registry is reachable: valid (the pulls will say what it refuses)
        self.create("nocred", REG_AUTH.url)
        self.assertTrue(self.validate("nocred")["isValid"])

    def test_dead_port(self):
        self.create("dead", "http://127.0.0.1:%d" % free_port(), credentialArn=ARN_GOOD)
        r = self.validate("dead")
        self.assertFalse(r["isValid"])
        self.assertTrue(r["failure"])
        self.assertIn("127.0.0.1", r["failure"])


class T04Secrets(Base):
    """Last: looks at everything the run produced."""

    def test_no_password_anywhere(self):
        self.create("leak", REG_AUTH.url, credentialArn=ARN_GOOD)
        self.c.validate_pull_through_cache_rule(ecrRepositoryPrefix="leak")
        self.c.describe_pull_through_cache_rules()
        self.c.delete_pull_through_cache_rule(ecrRepositoryPrefix="leak")
        self.assertGreater(len(RESPONSES), 10)
        blob = b"\n".join(RESPONSES)
        self.assertIn(ARN_GOOD.encode(), blob)
        SRV.stop()
        SRV.log.flush()
        with open(SRV.logpath, "rb") as f:
            log = f.read()
        try:
            # the CLI, last: add (argv has no password), list, remove
            p = credential("add", ARN_CLI, "cliuser", stdin=PW_CLI.encode())
            self.assertIn(ARN_CLI.encode(), p.stdout)
            p = credential("add", ARN_OTHER_ACCT, "otheruser", stdin=(PW_OTHER + "\n").encode())
            lst = credential("list").stdout.decode()
            self.assertEqual(lst.splitlines(), ["%s %s" % (ARN_CLI, "cliuser"), "%s %s" % (ARN_BAD, USER),
                                                "%s %s" % (ARN_GOOD, USER)])
            other = credential("list", "--account", fx.OTHER_ACCOUNT, "--region", "eu-west-1").stdout.decode()
            self.assertEqual(other.splitlines(), ["%s otheruser" % ARN_OTHER_ACCT])
            credential("remove", ARN_CLI)
            self.assertNotIn(ARN_CLI, credential("list").stdout.decode())
            p = credential("remove", ARN_CLI, check=False)
            self.assertNotEqual(p.returncode, 0)
            p = credential("add", ARN_PREFIX + "empty", "u", stdin=b"", check=False)
            self.assertNotEqual(p.returncode, 0)
            p = credential("add", "arn:aws:nope", "u", stdin=b"pw\n", check=False)
            self.assertNotEqual(p.returncode, 0)
            p = credential("add", ARN_CLI, check=False, stdin=b"pw\n")
            self.assertEqual(p.returncode, 2)
        finally:
            SRV.start()
        cli = b"\n".join(CLI_OUTPUT)
        for pw in SECRETS:
            self.assertNotIn(pw.encode(), blob, "a password in an API response")
            self.assertNotIn(pw.encode(), log, "a password in ecrd's log")
            self.assertNotIn(pw.encode(), cli, "a password in ecrd credential's output")
        # the restarted ecrd (on a new port) still has the credentials: a rule on ARN_GOOD validates
        self.c = make_client()
        self.create("again", REG_AUTH.url, credentialArn=ARN_GOOD)
        self.assertTrue(self.c.validate_pull_through_cache_rule(ecrRepositoryPrefix="again")["isValid"])
        self.c.delete_pull_through_cache_rule(ecrRepositoryPrefix="again")


if __name__ == "__main__":
    ECRD = fx.ecrd_path(sys.argv)
    sys.exit(fx.run_main(sys.argv))
