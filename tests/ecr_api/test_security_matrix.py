#!/usr/bin/python3
"""The security matrix of ecrd (issue 12): every route of both planes times
every kind of caller that must be refused, against a real ecrd with
authentication on.

Usage: test_security_matrix.py /path/to/ecrd [-v] [TestClass[.test_name] ...]   (or ECRD=...)

Routes: every operation of the ECR API (from the reference model
ecr-service-2.json) and of ECR Public (ecr-public-service-2.json), every /v2/
route (base, catalog, tags list, manifest GET/HEAD/PUT/DELETE, blob
GET/HEAD/DELETE, upload POST/PATCH/PUT/GET/DELETE, referrers, mount), /token
and /gallery.

Callers: no credentials, a bad signature (or a forged token), an expired
signature or token (a registry token minted through the library with the
registry's clock 13 hours back, while ecrd is stopped), a principal of another
account (allowed ecr:* in its own account), a principal of the account whose
policy explicitly denies everything.

Each refusal is checked for its HTTP status and error code, and for leaks: the
body (and headers) must not contain a repository name, tag, digest, upload id
or account id that exists, other than what the request itself named (and the
caller's own identity). Afterwards nothing was created, changed or deleted.

A second part sends names and digests with traversal and injection attempts
(../, %2e%2e, NUL, very long, SQL quotes, unicode, sha256: with bad hex or the
wrong length, other algorithms) through both planes: each is rejected with the
right error and nothing is created.

The last output line is "N passed, M failed".
"""

import base64
import ctypes
import datetime
import hashlib
import importlib.util
import json
import os
import sys
import time
import unittest
import unittest.mock
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ecrd_fixture as fx  # noqa: E402

import botocore.auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

ECRD = None
SRV = None
ADMIN = MALLORY = DENIED = None
ACCT = fx.DEFAULT_ACCOUNT
OTHER = fx.OTHER_ACCOUNT
MALLORY_ARN = "arn:aws:iam::%s:user/mallory" % OTHER
DENIED_ARN = "arn:aws:iam::%s:user/denied" % ACCT
PUBLIC_TARGET = "SpencerFrontendService."
PUBLIC_MODEL = os.path.join(os.path.dirname(fx.REFERENCE_MODEL), "ecr-public-service-2.json")

ALLOW_ALL = {"Effect": "Allow", "Action": ["ecr:*", "ecr-public:*", "sts:*"], "Resource": "*"}


def deny_all_but_tokens():
    """An explicit Deny of every operation of both planes except GetAuthorizationToken (so that the principal
    gets a registry token, and every use of it is refused)."""
    actions = []
    for path, prefix in ((fx.REFERENCE_MODEL, "ecr:"),
                         (os.path.join(os.path.dirname(fx.REFERENCE_MODEL), "ecr-public-service-2.json"),
                          "ecr-public:")):
        with open(path) as f:
            actions += [prefix + op for op in json.load(f)["operations"] if op != "GetAuthorizationToken"]
    return {"Effect": "Deny", "Action": sorted(actions), "Resource": "*"}


DENY_ALL = deny_all_but_tokens()

# what exists (filled by setUpModule): every one of these is a secret unless the request names it
S = {}
EXPIRED_TOKEN = None  # base64("AWS:<token>") of DENIED's... no: of the admin, minted 13 h ago
EXPIRED_WHY = None


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --- expired registry token: minted through the library with the clock 13 hours back ----------------

def mint_expired_token(data_dir):
    """base64 "AWS:<token>" of a registry token of the administrator that expired an hour ago, or None with
    the reason when the library cannot be loaded."""
    global EXPIRED_WHY
    build = os.path.dirname(os.path.dirname(ECRD))
    lib = None
    for cand in (os.environ.get("LIBECR_LIBRARY"), os.path.join(build, "libecr.so.0"),
                 os.path.join(build, "libecr.so")):
        if cand and os.path.exists(cand):
            lib = cand
            break
    ffi_path = os.path.join(fx.ROOT, "bindings", "python", "libecr", "_ffi.py")
    if lib is None or not os.path.exists(ffi_path):
        EXPIRED_WHY = "libecr.so or the Python binding's _ffi.py not found next to ecrd"
        return None
    spec = importlib.util.spec_from_file_location("secmatrix_ffi", ffi_path)
    ffi = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ffi)
    cdll = ctypes.CDLL(lib)
    ffi.bind(cdll)
    past = int((time.time() - 13 * 3600) * 1000)
    clock = ffi.ecr_clock_cb(lambda payload: past)
    opts = ffi.ecr_registry_options()
    cdll.ecr_registry_options_init(ctypes.byref(opts), 3)
    opts.clock_cb = clock
    reg = ctypes.POINTER(ffi.ecr_registry)()
    url = ("file://" + os.path.abspath(data_dir)).encode()
    rc = cdll.ecr_registry_open(ctypes.byref(reg), url, ctypes.byref(opts))
    if rc:
        EXPIRED_WHY = "ecr_registry_open: %d" % rc
        return None
    p = ctypes.POINTER(ffi.ecr_principal)()
    buf = ffi.ecr_buf()
    expires = ctypes.c_int64()
    try:
        rc = cdll.ecr_principal_open(ctypes.byref(p), reg, ALICE_ARN.encode())
        if rc:
            EXPIRED_WHY = "ecr_principal_open: %d" % rc
            return None
        rc = cdll.ecr_auth_token_create(ctypes.byref(buf), ctypes.byref(expires), reg, p)
        if rc:
            EXPIRED_WHY = "ecr_auth_token_create: %d" % rc
            return None
        token = ctypes.string_at(buf.ptr, buf.size).decode()
        assert expires.value < time.time() * 1000, "the token minted in the past has not expired"
        return base64.b64encode(("AWS:" + token).encode()).decode()
    finally:
        if p:
            cdll.ecr_principal_free(p)
        cdll.ecr_buf_dispose(ctypes.byref(buf))
        cdll.ecr_registry_free(reg)


ALICE_ARN = "arn:aws:iam::%s:user/alice" % ACCT
ALICE = None


def mint_in_subprocess(data_dir):
    """mint_expired_token() in a child process (an ASan build of libecr cannot be loaded into this
    interpreter: the child then preloads the sanitizer runtimes). (token or None, why)."""
    import subprocess
    cmd = [sys.executable, os.path.abspath(__file__), "--mint-expired", data_dir, ECRD]
    envs = [dict(os.environ)]
    pre = []
    for rt in ("libasan.so", "libubsan.so"):
        p = subprocess.run(["gcc", "-print-file-name=" + rt], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           universal_newlines=True)
        if p.returncode == 0 and os.path.isabs(p.stdout.strip()):
            pre.append(os.path.realpath(p.stdout.strip()))
    if pre:
        envs.append(dict(os.environ, LD_PRELOAD=" ".join(pre), ASAN_OPTIONS="detect_leaks=0"))
    why = "no attempt"
    for env in envs:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=60)
        out = p.stdout.decode().strip().splitlines()
        if p.returncode == 0 and out and out[-1].startswith("TOKEN "):
            return out[-1][6:], None
        why = (out[-1] if out else "") + " " + p.stderr.decode(errors="replace")[-300:]
    return None, why.strip()


def setUpModule():
    global SRV, ADMIN, MALLORY, DENIED, ALICE, EXPIRED_TOKEN

    def stopped(srv):
        global EXPIRED_TOKEN, EXPIRED_WHY
        EXPIRED_TOKEN, EXPIRED_WHY = mint_in_subprocess(srv.data)

    SRV, ADMIN, (ALICE, MALLORY, DENIED) = fx.start_ecrd(ECRD, principals=[
        (ALICE_ARN, {"Version": "2012-10-17", "Statement": [ALLOW_ALL]}),
        (MALLORY_ARN, {"Version": "2012-10-17", "Statement": [ALLOW_ALL]}),
        (DENIED_ARN, {"Version": "2012-10-17", "Statement": [ALLOW_ALL, DENY_ALL]}),
    ], while_stopped=stopped)
    try:
        seed()
    except Exception:
        SRV.cleanup()
        raise


def tearDownModule():
    if SRV is not None:
        fx.stop_ecrd(SRV)


# --- requests --------------------------------------------------------------------------------------

def signed(target, body, key, service="ecr", region="us-east-1", offset=None):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = AWSRequest(method="POST", url=SRV.endpoint + "/", data=data,
                     headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target})
    signer = botocore.auth.SigV4Auth(Credentials(key[0], key[1]), service, region)
    if offset is not None:
        when = datetime.datetime.utcnow() + offset

        class _DT(datetime.datetime):
            @classmethod
            def utcnow(cls):
                return when

        class _Mod:
            datetime = _DT
        with unittest.mock.patch.object(botocore.auth, "datetime", _Mod):
            signer.add_auth(req)
    else:
        signer.add_auth(req)
    return dict(req.headers.items()), data


def api(op, body, key=None, public=False):
    """(status, json) of an operation called by key (default: the administrator)."""
    target = (PUBLIC_TARGET if public else fx.TARGET_PREFIX) + op
    h, b = signed(target, body, key or ADMIN, service="ecr-public" if public else "ecr")
    st, _, data = fx.http_request(SRV.port, "POST", "/", body=b, headers=h)
    return st, json.loads(data or b"{}")


def api_ok(op, body, key=None, public=False):
    st, js = api(op, body, key, public)
    if st != 200:
        raise AssertionError("%s: HTTP %d %r" % (op, st, js))
    return js


def token_of(key):
    js = api_ok("GetAuthorizationToken", {}, key)
    return js["authorizationData"][0]["authorizationToken"]


def v2(method, path, token=None, body=None, headers=None):
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = "Basic " + token
    return fx.http_request(SRV.port, method, path, body=body, headers=h)


def seed():
    """The secrets: a private repository with an image (config, layer, manifest, tag), an upload in progress,
    a referrer, a public repository; all made by the administrator."""
    tag = "secrettag-" + uuid.uuid4().hex[:8]
    repo = "secret-" + uuid.uuid4().hex[:8] + "/app"
    pub = "secretpub-" + uuid.uuid4().hex[:8]
    api_ok("CreateRepository", {"repositoryName": repo})
    api_ok("CreateRepository", {"repositoryName": pub}, public=True)
    tok = token_of(ADMIN)
    config = json.dumps({"architecture": "amd64", "os": "linux", "secret": uuid.uuid4().hex}).encode()
    layer = os.urandom(300)
    for blob in (config, layer):
        st, hdr, body = v2("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, sha256(blob)), tok, body=blob,
                           headers={"Content-Type": "application/octet-stream"})
        assert st == 201, (st, body)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": fx.MT_OCI_MANIFEST,
                           "config": {"mediaType": fx.MT_OCI_CONFIG, "size": len(config), "digest": sha256(config)},
                           "layers": [{"mediaType": fx.MT_OCI_LAYER, "size": len(layer),
                                       "digest": sha256(layer)}]}).encode()
    st, _, body = v2("PUT", "/v2/%s/manifests/%s" % (repo, tag), tok, body=manifest,
                     headers={"Content-Type": fx.MT_OCI_MANIFEST})
    assert st == 201, (st, body)
    referrer = json.dumps({"schemaVersion": 2, "mediaType": fx.MT_OCI_MANIFEST, "artifactType": "application/x-sig",
                           "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2,
                                      "digest": sha256(b"{}")},
                           "layers": [{"mediaType": fx.MT_OCI_LAYER, "size": len(layer), "digest": sha256(layer)}],
                           "subject": {"mediaType": fx.MT_OCI_MANIFEST, "size": len(manifest),
                                       "digest": sha256(manifest)}}).encode()
    st, _, body = v2("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, sha256(b"{}")), tok, body=b"{}",
                     headers={"Content-Type": "application/octet-stream"})
    assert st == 201, (st, body)
    st, _, body = v2("PUT", "/v2/%s/manifests/%s" % (repo, sha256(referrer)), tok, body=referrer,
                     headers={"Content-Type": fx.MT_OCI_MANIFEST})
    assert st == 201, (st, body)
    st, hdr, body = v2("POST", "/v2/%s/blobs/uploads/" % repo, tok)
    assert st == 202, (st, body)
    loc = hdr["location"]
    upload_id = loc.rstrip("/").split("/")[-1].split("?")[0]
    S.update(repo=repo, pub=pub, tag=tag, config=sha256(config), layer=sha256(layer), manifest=sha256(manifest),
             referrer=sha256(referrer), upload=upload_id, upload_loc=loc, manifest_bytes=manifest)


def secrets():
    """(label, text) of everything that exists; digests are checked by their hex too."""
    out = [("repository", S["repo"]), ("public repository", S["pub"]), ("tag", S["tag"]),
           ("upload id", S["upload"]), ("account", ACCT)]
    for k in ("config", "layer", "manifest", "referrer"):
        out.append((k + " digest", S[k].split(":", 1)[1]))
    return out


def state():
    """What the administrator sees: repositories (both planes), images of the secret repository with tags."""
    repos = sorted(r["repositoryName"] for r in api_ok("DescribeRepositories", {})["repositories"])
    pubs = sorted(r["repositoryName"] for r in api_ok("DescribeRepositories", {}, public=True)["repositories"])
    imgs = sorted((i["imageDigest"], i.get("imageTag", "")) for i in
                  api_ok("ListImages", {"repositoryName": S["repo"]})["imageIds"])
    pol = api("GetRepositoryPolicy", {"repositoryName": S["repo"]})[0]
    return repos, pubs, imgs, pol


class Leaks(unittest.TestCase):
    def assertNoLeak(self, what, request_text, response_text, caller_account=None):
        """No secret in the response unless the request named it (or it is the caller's own account)."""
        for label, secret in secrets():
            if secret in request_text:
                continue
            if label == "account" and caller_account == ACCT:
                continue
            self.assertNotIn(secret, response_text, "%s: the refusal leaks the %s %s" % (what, label, secret))


# --- the request bodies of every operation --------------------------------------------------------

def value_for(member, shape_name, model, depth=0):
    """A plausible value of a member: the secret repository, tag, digests, or something of the right type."""
    shapes = model["shapes"]
    shape = shapes[shape_name]
    t = shape["type"]
    named = {
        "repositoryName": S["repo"], "imageTag": S["tag"], "imageDigest": S["manifest"], "registryId": ACCT,
        "layerDigest": S["layer"], "uploadId": S["upload"], "resourceArn":
            "arn:aws:ecr:us-east-1:%s:repository/%s" % (ACCT, S["repo"]),
        "ecrRepositoryPrefix": "cache", "upstreamRegistryUrl": "public.ecr.aws", "prefix": "tmpl",
        "policyText": json.dumps({"Version": "2012-10-17", "Statement": [
            {"Sid": "x", "Effect": "Allow", "Principal": "*", "Action": "ecr:ListImages"}]}),
        "lifecyclePolicyText": json.dumps({"rules": [{"rulePriority": 1, "selection": {
            "tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1},
            "action": {"type": "expire"}}]}),
        "imageManifest": "{}", "layerPartBlob": base64.b64encode(b"x").decode(),
        "partFirstByte": 0, "partLastByte": 0, "layerDigests": [S["layer"]],
        "tags": [{"Key": "k", "Value": "v"}], "tagKeys": ["k"],
        "name": "BASIC_SCAN_TYPE_VERSION", "value": "AWS_NATIVE", "principalArn": ALICE_ARN,
    }
    if member in named:
        return named[member]
    if t == "structure":
        return {m: value_for(m, shape["members"][m]["shape"], model, depth + 1)
                for m in shape.get("required", [])} if depth < 4 else {}
    if t == "list":
        return [value_for(member.rstrip("s"), shape["member"]["shape"], model, depth + 1)] if depth < 4 else []
    if t == "map":
        return {}
    if t == "string":
        if "enum" in shape:
            return shape["enum"][0]
        return "x" * max(shape.get("min", 1), 1)
    if t in ("integer", "long"):
        return max(shape.get("min", 1), 1)
    if t == "boolean":
        return False
    if t == "timestamp":
        return 0
    if t == "blob":
        return base64.b64encode(b"x").decode()
    return None


def op_body(model, op):
    inp = model["operations"][op].get("input")
    if not inp:
        return {}
    shape = model["shapes"][inp["shape"]]
    body = {m: value_for(m, shape["members"][m]["shape"], model) for m in shape.get("required", [])}
    # name what the operation works on so that a refusal could be tempted to say more about it
    if "repositoryName" in shape.get("members", {}):
        body["repositoryName"] = S["pub"] if model is PUBLIC else S["repo"]
    if model is PUBLIC and "resourceArn" in body:
        body["resourceArn"] = "arn:aws:ecr-public::%s:repository/%s" % (ACCT, S["pub"])
    return body


def has_member(model, op, member):
    inp = model["operations"][op].get("input")
    return bool(inp) and member in model["shapes"][inp["shape"]].get("members", {})


ECR = fx.model()
with open(PUBLIC_MODEL) as _f:
    PUBLIC = json.load(_f)


# --- part 1: the control planes ---------------------------------------------------------------------

class T1ControlPlanes(Leaks):
    """Every operation of ECR and ECR Public times the five refused callers."""

    def matrix(self, model, public):
        prefix = PUBLIC_TARGET if public else fx.TARGET_PREFIX
        service = "ecr-public" if public else "ecr"
        before = state()
        problems = []
        unknown = []
        for op in sorted(model["operations"]):
            body = op_body(model, op)
            if public and op in ("GetAuthorizationToken",):
                continue  # ecr-public:GetAuthorizationToken also needs sts:GetServiceBearerToken: not in this matrix
            cases = []
            h, b = signed(prefix + op, body, ADMIN, service)
            del h["Authorization"]
            cases.append(("no credentials", h, b, ("MissingAuthenticationTokenException",), (400, 403), None))
            h, b = signed(prefix + op, body, (ADMIN[0], ADMIN[1][:-1] + ("Z" if ADMIN[1][-1] != "Z" else "Y")),
                          service)
            cases.append(("bad signature", h, b, ("InvalidSignatureException",), (400, 403), None))
            h, b = signed(prefix + op, body, ADMIN, service, offset=datetime.timedelta(minutes=-20))
            cases.append(("expired signature", h, b, ("InvalidSignatureException",), (400, 403), None))
            obody = dict(body)
            if has_member(model, op, "registryId"):
                obody["registryId"] = ACCT
                h, b = signed(prefix + op, obody, MALLORY, service)
                cases.append(("another account", h, b, ("AccessDeniedException",), (400, 403), OTHER))
            else:
                # no registryId: the operation runs in the caller's own registry, where ours are not
                h, b = signed(prefix + op, obody, MALLORY, service)
                cases.append(("another account (own registry)", h, b, None, (200, 400), OTHER))
            if op != "GetAuthorizationToken":
                h, b = signed(prefix + op, body, DENIED, service)
                cases.append(("denied by policy", h, b, ("AccessDeniedException",), (400, 403), ACCT))
            # an operation ecrd does not implement: the same answer to everyone, before authentication (asked
            # without credentials: never run an operation as someone allowed to, it would change the secrets)
            st, _, data = fx.http_request(SRV.port, "POST", "/", body=cases[0][2], headers=cases[0][1])
            implemented = json.loads(data or b"{}").get("__type") != "UnknownOperationException"
            if not implemented:
                unknown.append(op)
            for what, h, b, codes, statuses, caller in cases:
                if not implemented:
                    codes, statuses = ("UnknownOperationException",), (400,)
                st, hdr, data = fx.http_request(SRV.port, "POST", "/", body=b, headers=h)
                try:
                    js = json.loads(data or b"{}")
                except ValueError:
                    js = {}
                code = (js.get("__type") or "").split("#")[-1]
                if codes is None:  # her own registry: whatever it answers, it says nothing of ours
                    codes = (code,)
                if code not in codes or st not in statuses:
                    problems.append("%s %s: HTTP %d %s %r (expected %s)" % (op, what, st, code,
                                                                             js.get("message"), "/".join(codes)))
                    continue
                if st != 200 and not js.get("message"):
                    problems.append("%s %s: no message" % (op, what))
                try:
                    self.assertNoLeak("%s %s" % (op, what), b.decode(), data.decode("utf-8", "replace") +
                                      json.dumps(hdr), caller)
                except AssertionError as e:
                    problems.append(str(e))
        self.assertEqual(problems, [], "\n".join(problems))
        self.assertEqual(state(), before, "a refused request changed something")
        if unknown:
            print("\n  %s operations ecrd does not implement (UnknownOperationException to everyone): %s"
                  % ("ECR Public" if public else "ECR", ", ".join(unknown)))

    def test_ecr_api(self):
        self.assertGreaterEqual(len(ECR["operations"]), 58)
        self.matrix(ECR, False)

    def test_ecr_public_api(self):
        self.assertGreaterEqual(len(PUBLIC["operations"]), 23)
        self.matrix(PUBLIC, True)

    def test_other_account_sees_only_its_own(self):
        """Mallory, without registryId, works in her own registry: she sees none of ours."""
        js = api_ok("DescribeRepositories", {}, MALLORY)
        text = json.dumps(js)
        self.assertNotIn(S["repo"], text)
        st, js = api("ListImages", {"repositoryName": S["repo"]}, MALLORY)
        self.assertEqual((st, js.get("__type")), (400, "RepositoryNotFoundException"), js)
        self.assertNotIn(ACCT, json.dumps(js))
        st, js = api("DescribeRepositories", {}, MALLORY, public=True)
        self.assertEqual(st, 200, js)
        for r in js["repositories"]:  # the matrix may have made some of hers (CreateRepository in her registry)
            self.assertEqual(r["registryId"], OTHER, r)
            self.assertNotIn(ACCT, json.dumps(r))


# --- part 2: the data plane -------------------------------------------------------------------------

def forged_token():
    good = token_of(ALICE)
    _, password = fx.decode_token(good)
    mid = len(password) // 2
    flipped = password[:mid] + ("A" if password[mid] != "A" else "B") + password[mid + 1:]
    return base64.b64encode(("AWS:" + flipped).encode()).decode()


def v2_routes():
    """(label, method, path, body, headers): every /v2/ route, naming the secret repository."""
    r, t = S["repo"], S["tag"]
    m, layer = S["manifest"], S["layer"]
    up = "/v2/%s/blobs/uploads/%s" % (r, S["upload"])
    ct = {"Content-Type": fx.MT_OCI_MANIFEST}
    octet = {"Content-Type": "application/octet-stream"}
    return [
        ("catalog", "GET", "/v2/_catalog", None, {}),
        ("tags list", "GET", "/v2/%s/tags/list" % r, None, {}),
        ("manifest GET", "GET", "/v2/%s/manifests/%s" % (r, t), None, {}),
        ("manifest HEAD", "HEAD", "/v2/%s/manifests/%s" % (r, m), None, {}),
        ("manifest PUT", "PUT", "/v2/%s/manifests/newtag" % r, S["manifest_bytes"], ct),
        ("manifest DELETE", "DELETE", "/v2/%s/manifests/%s" % (r, m), None, {}),
        ("blob GET", "GET", "/v2/%s/blobs/%s" % (r, layer), None, {}),
        ("blob HEAD", "HEAD", "/v2/%s/blobs/%s" % (r, layer), None, {}),
        ("blob DELETE", "DELETE", "/v2/%s/blobs/%s" % (r, layer), None, {}),
        ("upload POST", "POST", "/v2/%s/blobs/uploads/" % r, None, {}),
        ("upload PATCH", "PATCH", up, b"abc", octet),
        ("upload PUT", "PUT", up + "?digest=" + sha256(b"abc"), b"abc", octet),
        ("upload GET", "GET", up, None, {}),
        ("upload DELETE", "DELETE", up, None, {}),
        ("referrers", "GET", "/v2/%s/referrers/%s" % (r, m), None, {}),
        ("mount", "POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % ("mallory-" + uuid.uuid4().hex[:6], layer, r),
         None, {}),
    ]


class T2DataPlane(Leaks):
    def check(self, token, statuses, codes, caller=None, what=""):
        problems = []
        for label, method, path, body, headers in v2_routes():
            st, hdr, data = v2(method, path, token, body, headers)
            if st not in statuses:
                problems.append("%s %s: HTTP %d %r (expected %s)" % (label, what, st, data[:200], statuses))
                continue
            if method != "HEAD":
                try:
                    errs = [e.get("code") for e in json.loads(data).get("errors", [])]
                except (ValueError, AttributeError):
                    errs = []
                if not set(errs) & set(codes):
                    problems.append("%s %s: errors %r (expected one of %s)" % (label, what, errs, codes))
            if st == 401 and not hdr.get("www-authenticate"):
                problems.append("%s %s: 401 without WWW-Authenticate" % (label, what))
            try:
                self.assertNoLeak("%s %s" % (label, what), path, data.decode("utf-8", "replace") +
                                  json.dumps({k: v for k, v in hdr.items() if k != "www-authenticate"}), caller)
            except AssertionError as e:
                problems.append(str(e))
            # the challenge may name the scope the request asked for, nothing else
            try:
                self.assertNoLeak("%s %s challenge" % (label, what), path, hdr.get("www-authenticate", ""), caller)
            except AssertionError as e:
                problems.append(str(e))
        return problems

    def test_v2_matrix(self):
        before = state()
        problems = []
        problems += self.check(None, (401,), ("UNAUTHORIZED",), what="no credentials")
        problems += self.check(forged_token(), (401,), ("UNAUTHORIZED",), what="forged token")
        if EXPIRED_TOKEN is not None:
            # ECR: 403 "Your authorization token has expired. Reauthenticate and try again."
            problems += self.check(EXPIRED_TOKEN, (401, 403), ("UNAUTHORIZED", "DENIED"), what="expired token")
        # the account id of the registry is in its host name (<account>.dkr.ecr.<region>.amazonaws.com): a
        # request to that host names it, so the resource ARN in the refusal tells nothing new
        problems += self.check(token_of(MALLORY), (403,), ("DENIED",), caller=ACCT, what="another account")
        problems += self.check(token_of(DENIED), (403,), ("DENIED",), caller=ACCT, what="denied by policy")
        self.assertEqual(problems, [], "\n".join(problems))
        self.assertEqual(state(), before, "a refused request changed something")
        # the upload in progress survived every attempt on it
        st, _, _ = v2("GET", "/v2/%s/blobs/uploads/%s" % (S["repo"], S["upload"]), token_of(ADMIN))
        self.assertEqual(st, 204)

    def test_expired_token_was_minted(self):
        if EXPIRED_TOKEN is None:
            self.skipTest("no expired token: " + str(EXPIRED_WHY))
        st, hdr, body = v2("GET", "/v2/", EXPIRED_TOKEN)
        self.assertIn(st, (401, 403), body)
        self.assertIn(b"expired", body)
        # the same principal's fresh token works: the expiry is what refuses the old one
        st, _, body = v2("GET", "/v2/", token_of(ALICE))
        self.assertEqual(st, 200, body)

    def test_v2_base(self):
        for what, tok in (("no credentials", None), ("forged token", forged_token()),
                          ("expired token", EXPIRED_TOKEN)):
            if what == "expired token" and tok is None:
                continue
            st, hdr, body = v2("GET", "/v2/", tok)
            self.assertEqual(st, 403 if what == "expired token" else 401, what)
            if st == 403:
                continue
            self.assertTrue(hdr.get("www-authenticate"), what)
            self.assertNoLeak("/v2/ " + what, "/v2/", body.decode("utf-8", "replace") + json.dumps(hdr))
        # a valid token of any principal may see that the API exists, and nothing more
        for key, acct in ((MALLORY, OTHER), (DENIED, ACCT)):
            st, hdr, body = v2("GET", "/v2/", token_of(key))
            self.assertEqual(st, 200)
            self.assertNoLeak("/v2/ valid", "/v2/", body.decode("utf-8", "replace") + json.dumps(hdr), acct)

    def test_token_endpoint(self):
        """/token: an anonymous token (or a 401) without credentials, never a token that reads private data."""
        scope = "repository:%s:pull" % S["repo"]
        for what, auth in (("no credentials", None), ("forged", "Basic " + forged_token()),
                           ("garbage", "Basic !!!"), ("expired", "Basic " + EXPIRED_TOKEN if EXPIRED_TOKEN else None)):
            h = {"Authorization": auth} if auth else {}
            st, hdr, body = fx.http_request(SRV.port, "GET", "/token?service=ecr&scope=" +
                                            urllib.parse.quote(scope), headers=h)
            self.assertIn(st, (200, 401, 403), "%s: %d %r" % (what, st, body))
            self.assertNoLeak("/token " + what, scope, body.decode("utf-8", "replace"))
            if st != 200:
                continue
            tok = json.loads(body).get("token") or json.loads(body).get("access_token")
            self.assertTrue(tok, body)
            for method, path in (("GET", "/v2/%s/manifests/%s" % (S["repo"], S["tag"])),
                                 ("GET", "/v2/%s/blobs/%s" % (S["repo"], S["layer"])),
                                 ("GET", "/v2/%s/tags/list" % S["repo"]), ("GET", "/v2/_catalog"),
                                 ("POST", "/v2/%s/blobs/uploads/" % S["repo"])):
                st2, _, b2 = fx.http_request(SRV.port, method, path, headers={"Authorization": "Bearer " + tok})
                self.assertIn(st2, (401, 403, 404), "%s token reads %s %s: %d" % (what, method, path, st2))
                self.assertNoLeak("anonymous token " + path, path, b2.decode("utf-8", "replace"))

    def test_gallery(self):
        """The gallery is public: it never shows a private repository or its tags and digests."""
        problems = []
        for path in ("/gallery", "/gallery/", "/gallery/?q=secret", "/gallery/?q=" + S["tag"],
                     "/gallery/p/%s" % S["repo"], "/gallery/r/%s" % S["repo"], "/gallery/r/x/%s" % S["repo"],
                     "/gallery/p/../../v2/_catalog", "/gallery/logo/%s" % S["repo"], "/gallery/../v2/_catalog"):
            st, hdr, body = fx.http_request(SRV.port, "GET", path)
            text = body.decode("utf-8", "replace")
            if st >= 500:
                problems.append("%s: HTTP %d" % (path, st))
            for label, secret in secrets():
                if label in ("account", "public repository"):
                    continue  # the gallery shows public repositories of accounts: that is its purpose
                if secret in text and secret not in path:
                    problems.append("%s: shows the %s %s" % (path, label, secret))
            if S["repo"] in text and st == 200 and "/" + S["repo"] in path:
                problems.append("%s: HTTP 200 naming the private repository" % path)
        self.assertEqual(problems, [], "\n".join(problems))


# --- part 3: hostile names and digests --------------------------------------------------------------

BAD_NAMES = ["../etc", "a/../b", "..", "a/./b", "%2e%2e/x", "a%2fb", "a\x00b", "x" * 300, "a'; DROP TABLE repositories;--",
             "a\" OR \"1\"=\"1", "caf\u00e9", "\u202eevil", "A-UPPER", "a//b", "/abs", "a/", "-lead", "a b", "a\nb"]
BAD_DIGESTS = ["sha256:" + "g" * 64, "sha256:" + "a" * 63, "sha256:" + "a" * 65, "sha256:" + "A" * 64,
               "sha512:" + "a" * 64, "md5:" + "a" * 32, "sha256:", "sha256", "sha256:../../etc/passwd",
               "sha256:" + "a" * 62 + "%00", "sha256:' OR 1=1--"]


class T3Hostile(unittest.TestCase):
    def test_api_names_rejected(self):
        before = state()
        for name in BAD_NAMES:
            st, js = api("CreateRepository", {"repositoryName": name})
            self.assertEqual(st, 400, "%r: %r" % (name, js))
            self.assertIn(js.get("__type"), ("InvalidParameterException", "ValidationException",
                                             "SerializationException"), "%r: %r" % (name, js))
            st, js = api("CreateRepository", {"repositoryName": name}, public=True)
            self.assertEqual(st, 400, "public %r: %r" % (name, js))
            st, js = api("DescribeImages", {"repositoryName": name})
            self.assertIn(js.get("__type"), ("InvalidParameterException", "RepositoryNotFoundException",
                                             "ValidationException"), "%r: %r" % (name, js))
        self.assertEqual(state(), before)

    def test_api_digests_and_tags_rejected(self):
        before = state()
        for d in BAD_DIGESTS:
            st, js = api("BatchGetImage", {"repositoryName": S["repo"], "imageIds": [{"imageDigest": d}]})
            # ECR answers 200 with a failure per image id (InvalidImageDigest, or ImageNotFound for a well-formed
            # digest of another algorithm)
            self.assertEqual(st, 200, "%r: %r" % (d, js))
            self.assertEqual(js.get("images"), [], d)
            self.assertEqual(len(js.get("failures", [])), 1, d)
            self.assertIn(js["failures"][0]["failureCode"], ("InvalidImageDigest", "ImageNotFound"), d)
            st, js = api("GetDownloadUrlForLayer", {"repositoryName": S["repo"], "layerDigest": d})
            self.assertEqual(st, 400, "%r: %r" % (d, js))
            self.assertIn(js.get("__type"), ("InvalidParameterException", "LayersNotFoundException",
                                             "ValidationException"), "%r: %r" % (d, js))
            st, js = api("PutImage", {"repositoryName": S["repo"], "imageManifest": S["manifest_bytes"].decode(),
                                      "imageDigest": d})
            self.assertEqual(st, 400, "%r: %r" % (d, js))
        for tag in ("../x", "a" * 400, "a\x00b", "x'; DROP TABLE tags;--", "\u00e9t\u00e9", ""):
            st, js = api("PutImage", {"repositoryName": S["repo"], "imageManifest": S["manifest_bytes"].decode(),
                                      "imageTag": tag})
            self.assertEqual(st, 400, "%r: %r" % (tag, js))
        self.assertEqual(state(), before)

    def test_v2_names_rejected(self):
        tok = token_of(ADMIN)
        before = state()
        for name in BAD_NAMES:
            if name == "a%2fb":
                continue  # the server decodes the path: this is a/b, a valid name
            q = urllib.parse.quote(name, safe="/%")
            for method, path in (("POST", "/v2/%s/blobs/uploads/" % q), ("GET", "/v2/%s/tags/list" % q),
                                 ("GET", "/v2/%s/manifests/latest" % q)):
                try:
                    st, _, body = v2(method, path, tok)
                except Exception as e:  # http.client refuses some paths itself (NUL, newline): fine
                    if isinstance(e, (ValueError, http_client_errors())):
                        continue
                    raise
                self.assertIn(st, (400, 404), "%s %r: %d %r" % (method, path, st, body[:200]))
                self.assertLess(st, 500)
        self.assertEqual(state(), before)

    def test_v2_digests_and_tags_rejected(self):
        tok = token_of(ADMIN)
        before = state()
        r = S["repo"]
        for d in BAD_DIGESTS:
            q = urllib.parse.quote(d, safe=":%")
            for method, path, body in (("GET", "/v2/%s/blobs/%s" % (r, q), None),
                                       ("HEAD", "/v2/%s/blobs/%s" % (r, q), None),
                                       ("GET", "/v2/%s/manifests/%s" % (r, q), None),
                                       ("DELETE", "/v2/%s/manifests/%s" % (r, q), None),
                                       ("POST", "/v2/%s/blobs/uploads/?digest=%s" % (r, q), b"abc"),
                                       ("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (r, q, r), None),
                                       ("GET", "/v2/%s/referrers/%s" % (r, q), None)):
                st, hdr, data = v2(method, path, tok, body, {"Content-Type": "application/octet-stream"})
                if "mount=" in path and st == 202:
                    # OCI: a mount that cannot be done falls back to an ordinary upload session
                    self.assertIn("/blobs/uploads/", hdr.get("location", ""))
                    v2("DELETE", hdr["location"], tok)
                    continue
                self.assertIn(st, (400, 404), "%s %s: %d %r" % (method, path, st, data[:200]))
            if ":" not in d:
                continue  # "sha256" alone is a valid tag
            st, _, data = v2("PUT", "/v2/%s/manifests/%s" % (r, q), tok, S["manifest_bytes"],
                             {"Content-Type": fx.MT_OCI_MANIFEST})
            # 404 when the "digest" has a '/' that makes it another route
            self.assertIn(st, (400, 404) if "/" in d else (400,), "PUT manifest %r: %d %r" % (d, st, data[:200]))
        for tag in ("..", "-x", "a" * 200, "x'--", "%00", "%2e%2e"):
            st, _, data = v2("PUT", "/v2/%s/manifests/%s" % (r, tag), tok, S["manifest_bytes"],
                             {"Content-Type": fx.MT_OCI_MANIFEST})
            self.assertIn(st, (400, 404), "PUT tag %r: %d %r" % (tag, st, data[:200]))
        self.assertEqual(state(), before)


def http_client_errors():
    import http.client
    return http.client.HTTPException


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--mint-expired":
        ECRD = os.path.abspath(sys.argv[3])
        tok = mint_expired_token(sys.argv[2])
        print("TOKEN " + tok if tok else "NONE " + str(EXPIRED_WHY))
        sys.exit(0 if tok else 1)
    ECRD = fx.ecrd_path(sys.argv)
    sys.exit(fx.run_main(sys.argv))
