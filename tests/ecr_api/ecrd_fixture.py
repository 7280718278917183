"""Shared fixture of the tests/ecr_api Python tests: an ecrd of our own on
127.0.0.1:0 with a temporary --data folder and authentication on, the
credentials it writes on first start, `ecrd principal add|remove`, the
reference service model (ecr-service-2.json) and a few helpers.

Python 3 standard library plus botocore (Debian python3-boto3).
"""

import base64
import configparser
import hashlib
import http.client
import json
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REFERENCE_MODEL = os.environ.get("ECR_SERVICE_MODEL") or "/work/shared/reference/ecr-service-2.json"
DEFAULT_ACCOUNT = "123456789012"
OTHER_ACCOUNT = "222222222222"
TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."

MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def ecrd_path(argv):
    p = os.environ.get("ECRD") or (argv[1] if len(argv) > 1 and not argv[1].startswith("-") else None)
    if not p:
        raise SystemExit("usage: %s /path/to/ecrd [unittest args]" % argv[0])
    return os.path.abspath(p)


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def jbytes(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


class Ecrd:
    """One ecrd process. start() may be called again after stop() (same data)."""

    def __init__(self, exe, data=None, extra_args=()):
        self.exe = exe
        self.dir = tempfile.mkdtemp(prefix="ecr-api-test-")
        self.data = data or os.path.join(self.dir, "data")
        self.extra = list(extra_args)
        self.logpath = os.path.join(self.dir, "ecrd.log")
        self.log = open(self.logpath, "ab")
        self.proc = None
        self.port = None
        self.stdout = b""

    def start(self, timeout=20):
        args = [self.exe, "--listen", "127.0.0.1:0", "--data", self.data] + self.extra
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL)
        self.port = None
        buf = b""
        deadline = time.time() + timeout
        while self.port is None:
            left = deadline - time.time()
            if left <= 0:
                self.stop()
                raise RuntimeError("ecrd: no 'listening on' line within %d s; log:\n%s" % (timeout, self.log_tail()))
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if not r:
                continue
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                rc = self.proc.wait()
                raise RuntimeError("ecrd exited with %s before listening; stdout %r; log:\n%s"
                                   % (rc, buf, self.log_tail()))
            buf += chunk
            m = re.search(rb"ecrd: listening on http://127\.0\.0\.1:(\d+)", buf)
            if m:
                self.port = int(m.group(1))
        self.stdout += buf
        self.drainer = threading.Thread(target=self._drain, args=(self.proc,), daemon=True)
        self.drainer.start()
        return self

    def _drain(self, proc):
        try:
            while True:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    return
                self.stdout += chunk
        except (OSError, ValueError):
            return

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def log_tail(self, n=40):
        try:
            self.log.flush()
            with open(self.logpath, "rb") as f:
                return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self, timeout=10):
        if self.proc is None:
            return None
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = None
        if getattr(self, "drainer", None) is not None:
            self.drainer.join(5)
        self.proc = None
        return rc

    def cleanup(self):
        self.stop()
        try:
            self.log.close()
        except OSError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- credentials and principals -------------------------------------------------------

    def credentials_path(self):
        return os.path.join(self.data, "credentials")

    def admin_credentials(self):
        """(access key id, secret) of profile 'default' in <data>/credentials."""
        cp = configparser.ConfigParser()
        with open(self.credentials_path()) as f:
            cp.read_file(f)
        sec = cp["default"]
        return sec["aws_access_key_id"].strip(), sec["aws_secret_access_key"].strip()

    def principal(self, *args, check=True):
        """Run `ecrd principal ARGS --data DATA` (ecrd must not be running)."""
        cmd = [self.exe, "principal"] + list(args) + ["--data", self.data]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                           timeout=30)
        if check and p.returncode != 0:
            raise RuntimeError("%s: exit %d\nstdout: %s\nstderr: %s" % (" ".join(cmd), p.returncode,
                               p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")))
        return p

    def principal_add(self, arn, admin=False, policy=None):
        args = ["add", arn]
        if admin:
            args.append("--admin")
        if policy is not None:
            path = os.path.join(self.dir, "policy-%d.json" % (abs(hash(arn)) % 100000))
            with open(path, "w") as f:
                json.dump(policy, f)
            args += ["--policy", path]
        p = self.principal(*args)
        return parse_key_output(p.stdout.decode())


def parse_key_output(text):
    """The access key id and secret that `ecrd principal add` printed. Accepts
    the INI form (aws_access_key_id = X), 'key: value' lines and export lines."""
    kid = secret = None
    for line in text.splitlines():
        m = re.match(r"\s*(?:export\s+)?([A-Za-z_ -]+?)\s*[=:]\s*(\S+)\s*$", line)
        if not m:
            continue
        name = m.group(1).lower().replace(" ", "_").replace("-", "_")
        if "secret" in name:
            secret = m.group(2)
        elif "key_id" in name or name in ("access_key", "aws_access_key_id", "keyid"):
            kid = m.group(2)
    if kid is None:
        m = re.search(r"\b((?:AKIA|ASIA|ECR)[A-Z0-9]{12,})\b", text)
        kid = m.group(1) if m else None
    if kid is None or secret is None:
        raise RuntimeError("cannot find the access key id and secret in ecrd principal add's output:\n" + text)
    return kid, secret



def start_ecrd(exe, principals=(), extra_args=(), while_stopped=None):
    """An Ecrd started once (to write the administrator's credentials), stopped
    for `ecrd principal add` of each (arn, policy) in principals and for
    while_stopped(srv) if given, then started again. Returns (srv, admin key,
    [key of each principal]); srv.first_start_stdout is the first start's
    stdout. On failure the Ecrd is cleaned up."""
    srv = Ecrd(exe, extra_args=extra_args)
    try:
        srv.start()
        admin = srv.admin_credentials()
        srv.stop()
        srv.first_start_stdout = srv.stdout.decode(errors="replace")
        keys = [srv.principal_add(arn, policy=policy) for arn, policy in principals]
        if while_stopped is not None:
            while_stopped(srv)
        srv.start()
    except Exception:
        srv.cleanup()
        raise
    return srv, admin, keys


def stop_ecrd(srv, tail=100):
    """Stop and clean up srv (may be None); print its log tail if it did not exit cleanly."""
    if srv is None:
        return
    rc = srv.stop()
    log = srv.log_tail(tail)
    srv.cleanup()
    if rc not in (0, None):
        print("ecrd exited with %s; log tail:\n%s" % (rc, log))


def make_client(srv, key, config, region="us-east-1", reference_model=True):
    """A botocore "ecr" client of srv signed with key (id, secret), built from
    the reference model (or the stock one). After each call c._raw holds the raw
    response: status, lowercased headers, body bytes and the operation name."""
    import botocore.session
    s = botocore.session.Session()
    if reference_model:
        s.get_component("data_loader").search_paths.insert(0, model_dir())
    c = s.create_client("ecr", endpoint_url=srv.endpoint, region_name=region, aws_access_key_id=key[0],
                        aws_secret_access_key=key[1], config=config)
    c._raw = {}

    def after_call(http_response=None, model=None, **kw):
        c._raw = {"status": http_response.status_code, "body": http_response.content, "op": model.name,
                  "headers": {k.lower(): v for k, v in http_response.headers.items()}}
    c.meta.events.register("after-call.ecr", after_call)
    return c


class ApiTestCase(unittest.TestCase):
    """ok()/err() on clients from make_client (self.c unless c= is given)."""

    maxDiff = None
    err_msg_regex = False         # err(msg=M): message == M (False) or re.search(M) when M is non-empty (True)
    err_checks_errortype = False  # err(): also x-amzn-ErrorType == code

    def ok(self, op, c=None, **kw):
        """Call op (snake_case); HTTP 200 and raw JSON of the output shape; returns the JSON."""
        from botocore.exceptions import ClientError
        c = c or self.c
        try:
            getattr(c, op)(**kw)
        except ClientError as e:
            self.fail("%s: unexpected %s: %s" % (op, e.response["Error"]["Code"], e.response["Error"]["Message"]))
        raw = c._raw
        self.assertEqual(raw["status"], 200)
        body = json.loads(raw["body"])
        self.assertEqual(check_shape(body, output_shape(raw["op"])), [], body)
        return body

    def err(self, code, op, c=None, status=400, msg=None, **kw):
        """Call op, expect error code with HTTP status and a message; returns the message."""
        from botocore.exceptions import ClientError
        c = c or self.c
        try:
            getattr(c, op)(**kw)
        except ClientError as e:
            got = e.response["Error"]["Code"]
            message = e.response["Error"].get("Message") or ""
            self.assertEqual(got, code, message)
            self.assertEqual(c._raw["status"], status)
            self.assertEqual(json.loads(c._raw["body"])["__type"], code)
            if self.err_checks_errortype:
                self.assertEqual(c._raw["headers"].get("x-amzn-errortype"), code)
            self.assertTrue(message)
            if self.err_msg_regex:
                if msg:
                    self.assertRegex(message, msg)
            elif msg is not None:
                self.assertEqual(message, msg)
            return message
        self.fail("%s: expected %s, got success %s" % (op, code, c._raw.get("body")))


# --- the reference model -------------------------------------------------------------------

_MODEL = None


def model():
    global _MODEL
    if _MODEL is None:
        with open(REFERENCE_MODEL) as f:
            _MODEL = json.load(f)
    return _MODEL


def model_dir():
    """A botocore data path holding the reference model (for operations the
    Debian botocore 1.29 model lacks, e.g. GetAccountSetting)."""
    d = os.path.join(tempfile.gettempdir(), "ecr-api-test-model-%d" % os.getuid())
    target = os.path.join(d, "ecr", "2015-09-21", "service-2.json")
    if not os.path.exists(target):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        tmp = target + ".%d" % os.getpid()
        shutil.copyfile(REFERENCE_MODEL, tmp)
        os.replace(tmp, target)
    return d


def check_shape(value, shape_name, path="$"):
    """Problems (a list of strings) of a raw JSON value against a shape of the
    reference model: required members present, no unknown members, no nulls,
    JSON types per shape type, enums, string lengths, list lengths."""
    shapes = model()["shapes"]
    shape = shapes[shape_name]
    t = shape["type"]
    out = []
    if value is None:
        return ["%s: null (absent optional members must be omitted)" % path]
    if t == "structure":
        if not isinstance(value, dict):
            return ["%s: %s expected an object, got %r" % (path, shape_name, type(value).__name__)]
        members = shape.get("members", {})
        for req in shape.get("required", []):
            if req not in value:
                out.append("%s: required member '%s' of %s missing" % (path, req, shape_name))
        for k, v in value.items():
            if k not in members:
                out.append("%s: unknown member '%s' in %s" % (path, k, shape_name))
                continue
            out += check_shape(v, members[k]["shape"], path + "." + k)
    elif t == "list":
        if not isinstance(value, list):
            return ["%s: %s expected an array" % (path, shape_name)]
        if "max" in shape and len(value) > shape["max"]:
            out.append("%s: %d items > max %d" % (path, len(value), shape["max"]))
        for i, v in enumerate(value):
            out += check_shape(v, shape["member"]["shape"], "%s[%d]" % (path, i))
    elif t == "map":
        if not isinstance(value, dict):
            return ["%s: %s expected an object" % (path, shape_name)]
        for k, v in value.items():
            out += check_shape(v, shape["value"]["shape"], path + "." + k)
    elif t == "string":
        if not isinstance(value, str):
            return ["%s: %s expected a string, got %r" % (path, shape_name, value)]
        if "enum" in shape and value not in shape["enum"]:
            out.append("%s: %r not in enum %s %s" % (path, value, shape_name, shape["enum"]))
        if "max" in shape and len(value) > shape["max"]:
            out.append("%s: length %d > max %d" % (path, len(value), shape["max"]))
        if "min" in shape and len(value) < shape["min"]:
            out.append("%s: length %d < min %d" % (path, len(value), shape["min"]))
        if "pattern" in shape:
            try:
                if not re.fullmatch(shape["pattern"], value):
                    out.append("%s: %r does not match %s's pattern %s" % (path, value, shape_name, shape["pattern"]))
            except re.error:
                pass
    elif t in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            out.append("%s: %s expected an integer, got %r" % (path, shape_name, value))
        elif "min" in shape and value < shape["min"]:
            out.append("%s: %d < min %d" % (path, value, shape["min"]))
    elif t in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            out.append("%s: %s expected a number" % (path, shape_name))
    elif t == "boolean":
        if not isinstance(value, bool):
            out.append("%s: %s expected a boolean, got %r" % (path, shape_name, value))
    elif t == "timestamp":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            out.append("%s: %s expected epoch seconds as a JSON number, got %r" % (path, shape_name, value))
    elif t == "blob":
        if not isinstance(value, str):
            out.append("%s: %s expected base64 text" % (path, shape_name))
    return out


def output_shape(op):
    o = model()["operations"][op].get("output")
    return o["shape"] if o else None


def op_errors(op):
    return [e["shape"] for e in model()["operations"][op].get("errors", [])]


# --- raw HTTP ------------------------------------------------------------------------------

def http_request(port, method, path, body=None, headers=None, timeout=15):
    """(status, headers dict lowercased, body bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()


def basic_auth(token_b64):
    return "Basic " + token_b64


def decode_token(token_b64):
    user, _, password = base64.b64decode(token_b64).decode().partition(":")
    return user, password


class Counting(unittest.TextTestResult):
    pass


def run_main(argv, module_name="__main__"):
    """unittest main with the 'N passed, M failed' last line; exit 1 on failure."""
    import sys
    argv = [a for a in argv[2:]]
    verbosity = 2 if "-v" in argv else 1
    names = [a for a in argv if not a.startswith("-")]
    loader = unittest.TestLoader()
    mod = sys.modules[module_name]
    suite = loader.loadTestsFromNames(names, mod) if names else loader.loadTestsFromModule(mod)
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=verbosity)
    res = runner.run(suite)
    failed = len(res.failures) + len(res.errors) + len(getattr(res, "unexpectedSuccesses", []))
    passed = res.testsRun - failed - len(res.skipped)
    sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    sys.stdout.flush()
    return 0 if failed == 0 else 1
