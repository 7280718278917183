#!/usr/bin/env python3
"""HTTP-level tests of ecrd against the OCI Distribution Specification v1.1.

Usage: test_oci_http.py /path/to/ecrd   (or ECRD=/path/to/ecrd)

Starts its own ecrd (--listen 127.0.0.1:0, a temporary --data), and a second
one with --no-create-on-push for NAME_UNKNOWN, runs every route and error code
(spec.md end-1..end-14, code-1..code-14), plus malformed and hostile requests,
then stops the servers (also on failure). Python 3 standard library only.
The last line of output is "N passed, M failed"; the exit status is non-zero
when anything failed.
"""

import hashlib
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid

ECRD = None
SRV = None       # the default server (create-on-push)
SRV_NOCREATE = None  # --no-create-on-push, started on demand

MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_OCI_EMPTY = "application/vnd.oci.empty.v1+json"
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

SPEC_CODES = {
    "BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID",
    "NAME_UNKNOWN", "SIZE_INVALID", "UNAUTHORIZED", "DENIED", "UNSUPPORTED", "TOOMANYREQUESTS",
}
NAME_RE = re.compile(r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*")
TIMEOUT = 10


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def jbytes(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def desc(media_type, data, **extra):
    d = {"mediaType": media_type, "digest": sha256(data), "size": len(data)}
    d.update(extra)
    return d


def loc_path(location):
    """A Location (absolute or relative) as path[?query]."""
    u = urllib.parse.urlsplit(location)
    return u.path + ("?" + u.query if u.query else "")


def with_query(location, **params):
    p = loc_path(location)
    q = urllib.parse.urlencode(params, safe=":/")
    return p + ("&" if "?" in p else "?") + q


def parse_link_next(value):
    if not value:
        return None
    m = re.search(r'<([^>]*)>\s*;\s*rel="?next"?', value)
    return m.group(1) if m else None


def range_end(value):
    """'0-N' -> N (as an int); None when malformed."""
    m = re.fullmatch(r"\s*0-(-?\d+)\s*", value or "")
    return int(m.group(1)) if m else None


# --------------------------------------------------------------------------
# Servers


class Ecrd:
    def __init__(self, extra_args=(), label="ecrd"):
        self.dir = tempfile.mkdtemp(prefix="ecr-http-test-")
        self.data = os.path.join(self.dir, "data")
        self.logpath = os.path.join(self.dir, "ecrd.log")
        self.label = label
        self.log = open(self.logpath, "wb")
        args = [ECRD, "--listen", "127.0.0.1:0", "--no-auth", "--data", self.data] + list(extra_args)
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log)
        self.port = None
        self.stdout_lines = []
        deadline = time.time() + 15
        buf = b""
        while self.port is None:
            left = deadline - time.time()
            if left <= 0:
                self.stop()
                raise RuntimeError("%s: no 'listening on' line within 15 s; log:\n%s" % (label, self.log_tail()))
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if not r:
                continue
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                rc = self.proc.wait()
                raise RuntimeError("%s exited with %s before listening; log:\n%s" % (label, rc, self.log_tail()))
            buf += chunk
            m = re.search(rb"ecrd: listening on http://127\.0\.0\.1:(\d+)", buf)
            if m:
                self.port = int(m.group(1))
        self.stdout_lines.append(buf)
        # Keep draining stdout so the server never blocks on a full pipe.
        self.drainer = threading.Thread(target=self._drain, daemon=True)
        self.drainer.start()

    def _drain(self):
        try:
            while True:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    return
                self.stdout_lines.append(chunk)
        except OSError:
            return

    def alive(self):
        return self.proc.poll() is None

    def log_tail(self, n=40):
        try:
            self.log.flush()
            with open(self.logpath, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""

    def stop(self, timeout=10):
        """SIGTERM, wait; SIGKILL if it does not exit. Returns the exit status (None if killed)."""
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = None
        return rc

    def cleanup(self):
        self.stop()
        try:
            self.log.close()
        except OSError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


class Resp:
    def __init__(self, method, path, status, reason, headers, body):
        self.method, self.path = method, path
        self.status, self.reason = status, reason
        self.headers, self.body = headers, body

    def h(self, name):
        return self.headers.get(name)

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __str__(self):
        hdrs = "; ".join("%s: %s" % (k, v) for k, v in self.headers.items())
        body = self.body[:300]
        return "%s %s -> %s %s [%s] body=%r" % (self.method, self.path[:200], self.status, self.reason, hdrs, body)


def request(method, path, body=None, headers=(), srv=None, timeout=TIMEOUT):
    """One request on a fresh connection. headers: dict or list of (name, value)
    (a list may repeat a name). Content-Length is added for a bytes body."""
    srv = srv or SRV
    if isinstance(headers, dict):
        headers = list(headers.items())
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=False, skip_accept_encoding=True)
        names = {k.lower() for k, _ in headers}
        for k, v in headers:
            conn.putheader(k, v)
        if body is not None and "content-length" not in names and "transfer-encoding" not in names:
            conn.putheader("Content-Length", str(len(body)))
        elif body is None and method in ("POST", "PUT", "PATCH") and "content-length" not in names:
            conn.putheader("Content-Length", "0")
        conn.endheaders(body)
        r = conn.getresponse()
        data = r.read()
        return Resp(method, path, r.status, r.reason, r.headers, data)
    finally:
        conn.close()


def raw_exchange(payload, srv=None, timeout=5, shutdown_write=False, method="GET"):
    """Send raw bytes, parse one response. Returns (Resp or None, error string)."""
    srv = srv or SRV
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    try:
        try:
            s.sendall(payload)
            if shutdown_write:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError) as e:
            send_err = str(e)
        else:
            send_err = ""
        r = http.client.HTTPResponse(s, method=method)
        try:
            r.begin()
            data = r.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, http.client.BadStatusLine) as e:
            return None, "no response (%s%s)" % (type(e).__name__, "; send: " + send_err if send_err else "")
        except socket.timeout:
            return None, "timeout waiting for a response"
        return Resp(method, "<raw>", r.status, r.reason, r.headers, data), ""
    finally:
        s.close()


# --------------------------------------------------------------------------
# Base test case with registry helpers


class Base(unittest.TestCase):
    maxDiff = 2000

    def repo(self, suffix=""):
        n = "t/" + self._testMethodName.lower().replace("test_", "", 1)
        n = re.sub(r"_+", "-", n)
        return n + suffix

    # assertions --------------------------------------------------------

    def expect(self, r, status, msg=""):
        if isinstance(status, int):
            status = (status,)
        self.assertIn(r.status, status, "%sexpected %s, got: %s" % (msg + ": " if msg else "", "/".join(map(str, status)), r))
        return r

    def expect_error(self, r, status, codes, msg=""):
        """Status in status; for non-HEAD, a JSON error body whose first code is in codes."""
        self.expect(r, status, msg)
        if isinstance(codes, str):
            codes = (codes,)
        if r.method == "HEAD":
            return r
        ctype = (r.h("Content-Type") or "").split(";")[0].strip()
        self.assertEqual(ctype, "application/json", "error Content-Type: %s" % r)
        try:
            j = r.json()
        except ValueError:
            self.fail("error body is not JSON: %s" % r)
        self.assertIsInstance(j.get("errors"), list, "no errors[]: %s" % r)
        self.assertGreater(len(j["errors"]), 0, "empty errors[]: %s" % r)
        for e in j["errors"]:
            self.assertIn(e.get("code"), SPEC_CODES, "code not in the spec's table: %s" % r)
            if "message" in e:
                self.assertIsInstance(e["message"], str, "message not a string: %s" % r)
        got = [e.get("code") for e in j["errors"]]
        self.assertTrue(any(c in codes for c in got), "expected code %s, got %s: %s" % ("/".join(codes), got, r))
        return r

    def expect_not_5xx(self, r):
        self.assertLess(r.status, 500, "a malformed request must be a 4xx, got: %s" % r)

    # registry helpers ----------------------------------------------------

    def start_upload(self, repo, srv=None):
        r = self.expect(request("POST", "/v2/%s/blobs/uploads/" % repo, srv=srv), 202, "start upload")
        self.assertTrue(r.h("Location"), "no Location: %s" % r)
        return r

    def push_blob(self, repo, data, srv=None):
        """POST then PUT ?digest= (the basic required flow)."""
        r = self.start_upload(repo, srv)
        d = sha256(data)
        r = request("PUT", with_query(r.h("Location"), digest=d), body=data,
                    headers={"Content-Type": "application/octet-stream"}, srv=srv)
        self.expect(r, 201, "push blob (PUT ?digest=)")
        return d

    def push_manifest(self, repo, ref, body, ctype=MT_OCI_MANIFEST, srv=None, status=201):
        r = request("PUT", "/v2/%s/manifests/%s" % (repo, ref), body=body, headers={"Content-Type": ctype}, srv=srv)
        return self.expect(r, status, "push manifest")

    def image(self, repo, seed=b"", layers=1, docker=False, srv=None):
        """Push a config and layers; return (manifest bytes, media type)."""
        cfg = jbytes({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
                      "seed": (repo + seed.decode()).strip()})
        self.push_blob(repo, cfg, srv)
        ls = []
        for i in range(layers):
            data = b"layer %d of %s %s " % (i, repo.encode(), seed) * 7
            self.push_blob(repo, data, srv)
            ls.append(desc(MT_DOCKER_LAYER if docker else MT_OCI_LAYER, data))
        mt = MT_DOCKER_MANIFEST if docker else MT_OCI_MANIFEST
        m = {"schemaVersion": 2, "mediaType": mt,
             "config": desc(MT_DOCKER_CONFIG if docker else MT_OCI_CONFIG, cfg), "layers": ls}
        return jbytes(m), mt


# --------------------------------------------------------------------------
# end-1 and routing


class T01Base(Base):
    def test_v2_root(self):
        r = self.expect(request("GET", "/v2/"), 200)
        self.assertEqual(r.h("Docker-Distribution-API-Version"), "registry/2.0", str(r))

    def test_headers_not_repeated(self):
        # A response carries each of its headers once.
        for m, p in (("GET", "/v2/"), ("GET", "/v2/t/none/manifests/x")):
            with self.subTest(method=m, path=p):
                r = request(m, p)
                for name in ("Docker-Distribution-API-Version", "Content-Type", "Content-Length"):
                    self.assertLessEqual(len(r.headers.get_all(name) or []), 1, "%s repeated: %s" % (name, r))

    def test_v2_root_head(self):
        r = self.expect(request("HEAD", "/v2/"), 200)
        self.assertEqual(r.h("Docker-Distribution-API-Version"), "registry/2.0", str(r))

    def test_v2_without_slash(self):
        # Clients probe /v2/; /v2 is either the same endpoint or a redirect to it, never an error.
        r = request("GET", "/v2")
        self.assertIn(r.status, (200, 301, 308), str(r))

    def test_unknown_paths_404(self):
        for p in ("/", "/v1/", "/v3/", "/v2/foo/unknown/x", "/v2/foo/blobs", "/v2/foo/manifests/",
                  "/v2/foo/tags/list/extra", "/favicon.ico"):
            with self.subTest(path=p):
                r = request("GET", p)
                self.expect(r, 404)

    def test_method_not_allowed(self):
        # A known route with a method it does not serve: 405 (RFC 9110 15.5.6), or 404.
        for m, p in (("DELETE", "/v2/"), ("PATCH", "/v2/"), ("POST", "/v2/x/manifests/latest"),
                     ("PUT", "/v2/x/tags/list"), ("PATCH", "/v2/x/blobs/" + sha256(b"x"))):
            with self.subTest(method=m, path=p):
                r = request(m, p)
                self.expect(r, (405, 404))

    def test_unknown_method(self):
        # An unrecognised method: 405/404, or 501 (RFC 9110 9.1 recommends 501 for unknown methods).
        r = request("BREW", "/v2/")
        self.expect(r, (405, 404, 501))
        self.assertTrue(SRV.alive())


# --------------------------------------------------------------------------
# end-2, end-10: blobs


class T02Blobs(Base):
    DATA = bytes(range(256)) * 4 + b"tail!"  # 1029 bytes

    def setUp(self):
        self.r = self.repo()
        self.d = self.push_blob(self.r, self.DATA)

    def test_blob_head(self):
        r = self.expect(request("HEAD", "/v2/%s/blobs/%s" % (self.r, self.d)), 200)
        self.assertEqual(r.h("Content-Length"), str(len(self.DATA)), str(r))
        self.assertEqual(r.h("Docker-Content-Digest"), self.d, str(r))
        self.assertEqual(r.body, b"")

    def test_blob_get(self):
        r = self.expect(request("GET", "/v2/%s/blobs/%s" % (self.r, self.d)), 200)
        self.assertEqual(r.body, self.DATA)
        self.assertEqual(r.h("Content-Length"), str(len(self.DATA)), str(r))
        self.assertEqual(r.h("Docker-Content-Digest"), self.d, str(r))
        self.assertEqual((r.h("Content-Type") or "").split(";")[0], "application/octet-stream", str(r))

    def test_blob_empty(self):
        d = self.push_blob(self.r, b"")
        r = self.expect(request("GET", "/v2/%s/blobs/%s" % (self.r, d)), 200)
        self.assertEqual(r.body, b"")
        self.assertEqual(r.h("Content-Length"), "0", str(r))

    def _range(self, spec):
        return request("GET", "/v2/%s/blobs/%s" % (self.r, self.d), headers={"Range": spec})

    def test_blob_range_first_bytes(self):
        r = self.expect(self._range("bytes=0-9"), 206)
        self.assertEqual(r.body, self.DATA[:10])
        self.assertEqual(r.h("Content-Range"), "bytes 0-9/%d" % len(self.DATA), str(r))
        self.assertEqual(r.h("Content-Length"), "10", str(r))

    def test_blob_range_middle(self):
        r = self.expect(self._range("bytes=100-199"), 206)
        self.assertEqual(r.body, self.DATA[100:200])
        self.assertEqual(r.h("Content-Range"), "bytes 100-199/%d" % len(self.DATA), str(r))

    def test_blob_range_open_ended(self):
        n = len(self.DATA)
        r = self.expect(self._range("bytes=1000-"), 206)
        self.assertEqual(r.body, self.DATA[1000:])
        self.assertEqual(r.h("Content-Range"), "bytes 1000-%d/%d" % (n - 1, n), str(r))

    def test_blob_range_suffix(self):
        n = len(self.DATA)
        r = self.expect(self._range("bytes=-5"), 206)
        self.assertEqual(r.body, self.DATA[-5:])
        self.assertEqual(r.h("Content-Range"), "bytes %d-%d/%d" % (n - 5, n - 1, n), str(r))

    def test_blob_range_end_past_size(self):
        # RFC 9110 14.1.2: a last-pos past the end is clamped to the last byte.
        n = len(self.DATA)
        r = self.expect(self._range("bytes=1020-99999"), 206)
        self.assertEqual(r.body, self.DATA[1020:])
        self.assertEqual(r.h("Content-Range"), "bytes 1020-%d/%d" % (n - 1, n), str(r))

    def test_blob_range_not_satisfiable(self):
        n = len(self.DATA)
        r = self.expect(self._range("bytes=%d-" % n), 416)
        # RFC 9110 15.5.17: SHOULD send Content-Range: bytes */<size>.
        self.assertEqual(r.h("Content-Range"), "bytes */%d" % n, str(r))
        r = self.expect(self._range("bytes=5000-6000"), 416)

    def test_blob_range_multiple(self):
        # RFC 9110 14.2: a server MAY ignore Range (200, the whole blob) or send a
        # 206 multipart/byteranges. These two ranges are satisfiable, so not 416.
        r = self.expect(self._range("bytes=0-1,10-11"), (200, 206))
        if r.status == 200:
            self.assertEqual(r.body, self.DATA)
        else:
            self.assertTrue((r.h("Content-Type") or "").startswith("multipart/byteranges"), str(r))

    def test_blob_range_malformed_ignored(self):
        # An invalid Range is ignored (RFC 9110 14.2): 200 and the whole blob, never 5xx.
        for spec in ("bytes=abc", "items=0-1", "bytes=9-3"):
            with self.subTest(range=spec):
                r = self._range(spec)
                self.expect_not_5xx(r)
                self.assertIn(r.status, (200, 416), str(r))
                if r.status == 200:
                    self.assertEqual(r.body, self.DATA)

    def test_blob_unknown(self):
        d = sha256(b"never pushed")
        self.expect_error(request("GET", "/v2/%s/blobs/%s" % (self.r, d)), 404, "BLOB_UNKNOWN")
        self.expect(request("HEAD", "/v2/%s/blobs/%s" % (self.r, d)), 404)

    def test_blob_delete(self):
        r = self.expect(request("DELETE", "/v2/%s/blobs/%s" % (self.r, self.d)), 202)
        self.expect(request("HEAD", "/v2/%s/blobs/%s" % (self.r, self.d)), 404, "HEAD after delete")
        self.expect_error(request("GET", "/v2/%s/blobs/%s" % (self.r, self.d)), 404, "BLOB_UNKNOWN")
        self.expect_error(request("DELETE", "/v2/%s/blobs/%s" % (self.r, self.d)), 404, "BLOB_UNKNOWN")

    def test_blob_not_served_through_other_repo(self):
        other = self.repo("-other")
        self.push_blob(other, b"something else")
        self.expect_error(request("GET", "/v2/%s/blobs/%s" % (other, self.d)), 404, "BLOB_UNKNOWN")
        self.expect(request("HEAD", "/v2/%s/blobs/%s" % (other, self.d)), 404)

    def test_blob_malformed_digest(self):
        bad = ("sha256:xyz", "sha256:" + "A" * 64, "sha256:" + "a" * 63, "sha256:" + "a" * 65,
               "notadigest", "sha256:", ":" + "a" * 64, "sha256:" + "g" * 64)
        for d in bad:
            with self.subTest(digest=d):
                self.expect_error(request("GET", "/v2/%s/blobs/%s" % (self.r, d)), 400, "DIGEST_INVALID")
                r = request("HEAD", "/v2/%s/blobs/%s" % (self.r, d))
                self.expect(r, 400)
                r = request("DELETE", "/v2/%s/blobs/%s" % (self.r, d))
                self.expect_error(r, 400, "DIGEST_INVALID")

    def test_blob_unsupported_algorithm(self):
        r = request("GET", "/v2/%s/blobs/md5:%s" % (self.r, "a" * 32))
        self.expect_error(r, 400, ("DIGEST_INVALID", "UNSUPPORTED"))

    def test_blob_sha512(self):
        data = b"sha512 content"
        d = "sha512:" + hashlib.sha512(data).hexdigest()
        loc = self.start_upload(self.r).h("Location")
        r = request("PUT", with_query(loc, digest=d), body=data)
        self.expect(r, 201, "PUT ?digest=sha512:")
        r = self.expect(request("GET", "/v2/%s/blobs/%s" % (self.r, d)), 200)
        self.assertEqual(r.body, data)


# --------------------------------------------------------------------------
# end-4, end-5, end-6, end-11, end-13, end-14: uploads


class T03Uploads(Base):
    def test_post_session(self):
        r = self.start_upload(self.repo())
        self.assertIn("/v2/%s/blobs/uploads/" % self.repo(), r.h("Location"), str(r))
        self.assertTrue(r.h("Docker-Upload-UUID"), "no Docker-Upload-UUID: %s" % r)
        self.assertIn(r.h("Docker-Upload-UUID"), r.h("Location"), str(r))
        self.assertIsNotNone(r.h("Range"), "no Range: %s" % r)
        self.assertTrue(r.h("Range").startswith("0-"), str(r))

    def test_post_sessions_are_unique(self):
        a = self.start_upload(self.repo()).h("Location")
        b = self.start_upload(self.repo()).h("Location")
        self.assertNotEqual(a, b)

    def test_post_monolithic(self):
        data = b"monolithic single POST" * 100
        d = sha256(data)
        r = request("POST", "/v2/%s/blobs/uploads/?digest=%s" % (self.repo(), d), body=data,
                    headers={"Content-Type": "application/octet-stream"})
        self.expect(r, 201)
        self.assertEqual(loc_path(r.h("Location") or ""), "/v2/%s/blobs/%s" % (self.repo(), d), str(r))
        self.assertEqual(r.h("Docker-Content-Digest"), d, str(r))
        g = self.expect(request("GET", loc_path(r.h("Location"))), 200)
        self.assertEqual(g.body, data)

    def test_post_monolithic_wrong_digest(self):
        data = b"the bytes"
        d = sha256(b"other bytes")
        r = request("POST", "/v2/%s/blobs/uploads/?digest=%s" % (self.repo(), d), body=data)
        self.expect_error(r, 400, "DIGEST_INVALID")
        self.expect(request("HEAD", "/v2/%s/blobs/%s" % (self.repo(), d)), 404, "nothing published")
        self.expect(request("HEAD", "/v2/%s/blobs/%s" % (self.repo(), sha256(data))), 404, "nothing published")

    def test_post_monolithic_malformed_digest(self):
        r = request("POST", "/v2/%s/blobs/uploads/?digest=sha256:nothex" % self.repo(), body=b"x")
        self.expect_error(r, 400, "DIGEST_INVALID")

    def test_post_digest_algorithm(self):
        # end-4c: ?digest-algorithm=sha512 starts a session (202) or 400 when unsupported.
        r = request("POST", "/v2/%s/blobs/uploads/?digest-algorithm=sha512" % self.repo())
        self.expect(r, (202, 400))
        r = request("POST", "/v2/%s/blobs/uploads/?digest-algorithm=md5" % self.repo())
        self.expect_error(r, 400, ("UNSUPPORTED", "DIGEST_INVALID", "BLOB_UPLOAD_INVALID"))

    def test_mount_present(self):
        src = self.repo("-src")
        data = b"to be mounted"
        d = self.push_blob(src, data)
        dst = self.repo("-dst")
        r = request("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (dst, d, src))
        self.expect(r, 201)
        self.assertEqual(loc_path(r.h("Location") or ""), "/v2/%s/blobs/%s" % (dst, d), str(r))
        self.assertEqual(r.h("Docker-Content-Digest"), d, str(r))
        g = self.expect(request("GET", "/v2/%s/blobs/%s" % (dst, d)), 200)
        self.assertEqual(g.body, data)

    def test_mount_absent_falls_back_to_session(self):
        src = self.repo("-src")
        self.push_blob(src, b"unrelated")
        dst = self.repo("-dst")
        data = b"not in src"
        d = sha256(data)
        r = request("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (dst, d, src))
        self.expect(r, 202)
        self.assertTrue(r.h("Location"), str(r))
        self.assertTrue(r.h("Docker-Upload-UUID"), str(r))
        # the session works
        r = request("PUT", with_query(r.h("Location"), digest=d), body=data)
        self.expect(r, 201, "PUT on the fallback session")

    def test_mount_from_missing_repo(self):
        data = b"mount from nowhere"
        r = request("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (self.repo(), sha256(data), "t/does-not-exist"))
        self.expect(r, 202)

    def test_mount_malformed(self):
        r = request("POST", "/v2/%s/blobs/uploads/?mount=bogus&from=%s" % (self.repo(), self.repo()))
        self.expect_not_5xx(r)
        self.assertIn(r.status, (202, 400), str(r))
        r = request("POST", "/v2/%s/blobs/uploads/?mount=%s&from=Bad..Name" % (self.repo(), sha256(b"q")))
        self.expect_not_5xx(r)
        self.assertIn(r.status, (202, 400), str(r))

    def _patch(self, loc, data, start=None, extra=()):
        h = [("Content-Type", "application/octet-stream")]
        if start is not None:
            h.append(("Content-Range", "%d-%d" % (start, start + len(data) - 1)))
        h.extend(extra)
        return request("PATCH", loc_path(loc), body=data, headers=h)

    def test_chunked_in_order(self):
        data = os.urandom(300000)
        d = sha256(data)
        loc = self.start_upload(self.repo()).h("Location")
        pos = 0
        for size in (100000, 100000, 100000):
            r = self.expect(self._patch(loc, data[pos:pos + size], pos), 202, "PATCH %d" % pos)
            self.assertEqual(r.h("Range"), "0-%d" % (pos + size - 1), str(r))
            self.assertTrue(r.h("Location"), str(r))
            self.assertTrue(r.h("Docker-Upload-UUID"), str(r))
            loc = r.h("Location")
            pos += size
        r = request("PUT", with_query(loc, digest=d))
        self.expect(r, 201, "closing PUT without a chunk")
        self.assertEqual(r.h("Docker-Content-Digest"), d, str(r))
        self.assertEqual(loc_path(r.h("Location") or ""), "/v2/%s/blobs/%s" % (self.repo(), d), str(r))
        g = self.expect(request("GET", "/v2/%s/blobs/%s" % (self.repo(), d)), 200)
        self.assertEqual(g.body, data)

    def test_chunked_last_chunk_in_put(self):
        data = b"0123456789" * 1000
        d = sha256(data)
        loc = self.start_upload(self.repo()).h("Location")
        loc = self.expect(self._patch(loc, data[:6000], 0), 202).h("Location")
        r = request("PUT", with_query(loc, digest=d), body=data[6000:],
                    headers={"Content-Type": "application/octet-stream",
                             "Content-Range": "6000-%d" % (len(data) - 1)})
        self.expect(r, 201, "PUT with the last chunk")
        self.assertEqual(r.h("Docker-Content-Digest"), d, str(r))
        g = self.expect(request("GET", "/v2/%s/blobs/%s" % (self.repo(), d)), 200)
        self.assertEqual(g.body, data)

    def test_chunk_out_of_order(self):
        data = b"abcdefghij" * 100
        loc = self.start_upload(self.repo()).h("Location")
        loc = self.expect(self._patch(loc, data[:500], 0), 202).h("Location")
        # gap
        self.expect(self._patch(loc, data[600:700], 600), 416, "PATCH with a gap")
        # overlap
        self.expect(self._patch(loc, data[400:700], 400), 416, "PATCH overlapping")
        # first chunk of a fresh session not at 0
        loc2 = self.start_upload(self.repo()).h("Location")
        self.expect(self._patch(loc2, data[:10], 5), 416, "first PATCH not at 0")
        # the session survives a 416: status still shows 0-499 and it can finish
        s = self.expect(request("GET", loc_path(loc)), 204, "status after 416")
        self.assertEqual(s.h("Range"), "0-499", str(s))
        loc = self.expect(self._patch(loc, data[500:], 500), 202).h("Location")
        self.expect(request("PUT", with_query(loc, digest=sha256(data))), 201)

    def test_put_last_chunk_out_of_order(self):
        data = b"z" * 1000
        loc = self.start_upload(self.repo()).h("Location")
        loc = self.expect(self._patch(loc, data[:500], 0), 202).h("Location")
        r = request("PUT", with_query(loc, digest=sha256(data)), body=data[700:],
                    headers={"Content-Range": "700-999"})
        self.expect(r, 416, "closing PUT with an out-of-order chunk")

    def test_patch_streamed(self):
        data = os.urandom(50000)
        loc = self.start_upload(self.repo()).h("Location")
        r = self.expect(self._patch(loc, data), 202, "PATCH without Content-Range")
        self.assertEqual(r.h("Range"), "0-%d" % (len(data) - 1), str(r))
        loc = r.h("Location")
        r = self.expect(self._patch(loc, data), 202, "second streamed PATCH appends")
        self.assertEqual(r.h("Range"), "0-%d" % (2 * len(data) - 1), str(r))
        r = request("PUT", with_query(r.h("Location"), digest=sha256(data + data)))
        self.expect(r, 201)
        g = self.expect(request("GET", "/v2/%s/blobs/%s" % (self.repo(), sha256(data + data))), 200)
        self.assertEqual(g.body, data + data)

    def test_patch_chunked_transfer_encoding(self):
        data = os.urandom(70000)
        loc = self.start_upload(self.repo()).h("Location")
        conn = http.client.HTTPConnection("127.0.0.1", SRV.port, timeout=TIMEOUT)
        try:
            conn.putrequest("PATCH", loc_path(loc), skip_accept_encoding=True)
            conn.putheader("Content-Type", "application/octet-stream")
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for i in range(0, len(data), 16384):
                piece = data[i:i + 16384]
                conn.send(b"%x\r\n" % len(piece) + piece + b"\r\n")
            conn.send(b"0\r\n\r\n")
            hr = conn.getresponse()
            r = Resp("PATCH", loc_path(loc), hr.status, hr.reason, hr.headers, hr.read())
        finally:
            conn.close()
        self.expect(r, 202, "chunked PATCH")
        self.assertEqual(r.h("Range"), "0-%d" % (len(data) - 1), str(r))
        self.expect(request("PUT", with_query(r.h("Location"), digest=sha256(data))), 201)
        g = self.expect(request("GET", "/v2/%s/blobs/%s" % (self.repo(), sha256(data))), 200)
        self.assertEqual(g.body, data)

    def test_upload_status(self):
        loc = self.start_upload(self.repo()).h("Location")
        s = self.expect(request("GET", loc_path(loc)), 204, "status of an empty session")
        self.assertTrue(s.h("Location"), str(s))
        self.assertTrue((s.h("Range") or "").startswith("0-"), str(s))
        self.assertEqual(s.body, b"")
        loc = self.expect(self._patch(loc, b"x" * 1234, 0), 202).h("Location")
        s = self.expect(request("GET", loc_path(loc)), 204, "status after 1234 bytes")
        self.assertEqual(s.h("Range"), "0-1233", str(s))
        self.assertTrue(s.h("Docker-Upload-UUID"), str(s))

    def test_put_wrong_digest(self):
        data = b"payload" * 10
        loc = self.start_upload(self.repo()).h("Location")
        wrong = sha256(b"something else")
        self.expect_error(request("PUT", with_query(loc, digest=wrong), body=data), 400, "DIGEST_INVALID")
        self.expect(request("HEAD", "/v2/%s/blobs/%s" % (self.repo(), wrong)), 404, "not published")
        self.expect(request("HEAD", "/v2/%s/blobs/%s" % (self.repo(), sha256(data))), 404, "not published")

    def test_put_malformed_digest(self):
        loc = self.start_upload(self.repo()).h("Location")
        self.expect_error(request("PUT", with_query(loc, digest="sha256:zz"), body=b"a"), 400, "DIGEST_INVALID")

    def test_put_without_digest(self):
        loc = self.start_upload(self.repo()).h("Location")
        r = request("PUT", loc_path(loc), body=b"abc")
        self.expect_error(r, 400, ("DIGEST_INVALID", "BLOB_UPLOAD_INVALID"))

    def test_unknown_upload(self):
        u = "/v2/%s/blobs/uploads/%s" % (self.repo(), uuid.uuid4())
        self.push_blob(self.repo(), b"make the repository exist")
        self.expect_error(request("PUT", u + "?digest=" + sha256(b"a"), body=b"a"), 404, "BLOB_UPLOAD_UNKNOWN")
        self.expect_error(request("PATCH", u, body=b"a"), 404, "BLOB_UPLOAD_UNKNOWN")
        self.expect_error(request("GET", u), 404, "BLOB_UPLOAD_UNKNOWN")
        self.expect_error(request("DELETE", u), 404, "BLOB_UPLOAD_UNKNOWN")

    def test_malformed_upload_id(self):
        for uid in ("not-a-uuid", "..", "%2e%2e%2f%2e%2e", "a" * 300):
            with self.subTest(uid=uid):
                r = request("GET", "/v2/%s/blobs/uploads/%s" % (self.repo(), uid))
                self.expect_not_5xx(r)
                self.assertIn(r.status, (400, 404), str(r))

    def test_upload_belongs_to_its_repo(self):
        loc = self.start_upload(self.repo("-a")).h("Location")
        self.push_blob(self.repo("-b"), b"b exists")
        other = loc_path(loc).replace("/v2/%s/" % self.repo("-a"), "/v2/%s/" % self.repo("-b"))
        self.assertNotEqual(other, loc_path(loc))
        self.expect_error(request("GET", other), 404, "BLOB_UPLOAD_UNKNOWN")

    def test_cancel_upload(self):
        loc = self.start_upload(self.repo()).h("Location")
        loc = self.expect(self._patch(loc, b"partial", 0), 202).h("Location")
        self.expect(request("DELETE", loc_path(loc)), 204, "cancel")
        self.expect_error(request("GET", loc_path(loc)), 404, "BLOB_UPLOAD_UNKNOWN")
        self.expect_error(request("PUT", with_query(loc, digest=sha256(b"partial"))), 404, "BLOB_UPLOAD_UNKNOWN")
        self.expect_error(request("DELETE", loc_path(loc)), 404, "BLOB_UPLOAD_UNKNOWN")

    def test_finished_upload_is_gone(self):
        loc = self.start_upload(self.repo()).h("Location")
        self.expect(request("PUT", with_query(loc, digest=sha256(b"once")), body=b"once"), 201)
        self.expect_error(request("GET", loc_path(loc)), 404, "BLOB_UPLOAD_UNKNOWN")

    def test_malformed_content_range(self):
        for cr in ("bytes 0-3/4", "abc", "3-1", "-1-2", "0-99999999999999999999999"):
            with self.subTest(content_range=cr):
                loc = self.start_upload(self.repo()).h("Location")
                r = request("PATCH", loc_path(loc), body=b"abcd", headers={"Content-Range": cr})
                self.expect_not_5xx(r)
                if cr.startswith("bytes ") and r.status == 202:
                    # lenient: the RFC 9110 Content-Range form read as 0-3
                    self.assertEqual(r.h("Range"), "0-3", str(r))
                elif r.status == 400:
                    self.expect_error(r, 400, ("BLOB_UPLOAD_INVALID", "SIZE_INVALID"))
                else:
                    self.expect(r, 416)

    def test_content_range_length_mismatch(self):
        # Content-Range says 100 bytes, the body has 50: SIZE_INVALID/BLOB_UPLOAD_INVALID or 416.
        loc = self.start_upload(self.repo()).h("Location")
        r = request("PATCH", loc_path(loc), body=b"q" * 50, headers={"Content-Range": "0-99"})
        self.expect_not_5xx(r)
        if r.status == 400:
            self.expect_error(r, 400, ("SIZE_INVALID", "BLOB_UPLOAD_INVALID"))
        else:
            self.expect(r, 416)

    def test_body_shorter_than_content_length(self):
        repo = self.repo()
        self.push_blob(repo, b"exists")
        full = os.urandom(100000)
        half = full[:50000]
        # monolithic POST
        head = ("POST /v2/%s/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                "Content-Length: %d\r\n\r\n" % (repo, sha256(full), len(full))).encode()
        r, err = raw_exchange(head + half, shutdown_write=True, method="POST")
        if r is not None:
            self.assertGreaterEqual(r.status, 400, "short body accepted: %s" % r)
        # PUT on a session
        loc = self.start_upload(repo).h("Location")
        head = ("PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                % (with_query(loc, digest=sha256(full)), len(full))).encode()
        r, err = raw_exchange(head + half, shutdown_write=True, method="PUT")
        if r is not None:
            self.assertGreaterEqual(r.status, 400, "short body accepted: %s" % r)
        time.sleep(0.3)
        self.assertTrue(SRV.alive(), "ecrd died")
        self.expect(request("GET", "/v2/"), 200, "server alive")
        for d in (sha256(full), sha256(half)):
            self.expect(request("HEAD", "/v2/%s/blobs/%s" % (repo, d)), 404, "nothing partial published")

    def test_body_longer_than_content_length(self):
        repo = self.repo()
        first = b"0123456789"
        extra = b"GARBAGE GARBAGE\r\n\r\n"
        head = ("POST /v2/%s/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                % (repo, sha256(first), len(first))).encode()
        r, err = raw_exchange(head + first + extra, method="POST")
        self.assertIsNotNone(r, err)
        self.expect(r, 201, "the first 10 bytes are the request body")
        self.assertTrue(SRV.alive(), "ecrd died")
        g = self.expect(request("GET", "/v2/%s/blobs/%s" % (repo, sha256(first))), 200)
        self.assertEqual(g.body, first)
        self.expect(request("HEAD", "/v2/%s/blobs/%s" % (repo, sha256(first + extra))), 404)

    def test_disconnect_mid_patch(self):
        repo = self.repo()
        data = os.urandom(1 << 20)
        loc = self.start_upload(repo).h("Location")
        loc = self.expect(self._patch(loc, data[:100000], 0), 202).h("Location")
        s = socket.create_connection(("127.0.0.1", SRV.port), timeout=5)
        s.sendall(("PATCH %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                   "Content-Range: 100000-%d\r\nContent-Length: %d\r\n\r\n"
                   % (loc_path(loc), len(data) - 1, len(data) - 100000)).encode())
        s.sendall(data[100000:400000])
        time.sleep(0.2)
        s.close()  # gone mid-body
        time.sleep(0.5)
        self.assertTrue(SRV.alive(), "ecrd died")
        for d in (sha256(data), sha256(data[:400000]), sha256(data[:100000])):
            self.expect(request("HEAD", "/v2/%s/blobs/%s" % (repo, d)), 404, "nothing partial published")
        st = request("GET", loc_path(loc))
        if st.status == 404:
            self.expect_error(st, 404, "BLOB_UPLOAD_UNKNOWN")  # cleaned: acceptable
            return
        self.expect(st, 204, "upload status after the disconnect")
        end = range_end(st.h("Range"))
        self.assertIsNotNone(end, "bad Range: %s" % st)
        stored = end + 1
        self.assertGreaterEqual(stored, 100000, "the earlier chunk was lost: %s" % st)
        self.assertLessEqual(stored, 400000, "more stored than was sent: %s" % st)
        # resume from what was stored and finish
        loc = st.h("Location") or loc
        r = self.expect(self._patch(loc, data[stored:], stored), 202, "resume at %d" % stored)
        self.expect(request("PUT", with_query(r.h("Location"), digest=sha256(data))), 201, "finish after resume")
        g = self.expect(request("GET", "/v2/%s/blobs/%s" % (repo, sha256(data))), 200)
        self.assertTrue(g.body == data, "resumed blob differs")

    def test_put_finish_with_wrong_size_session(self):
        # After PATCHes, the closing digest must match all bytes, not the last chunk.
        loc = self.start_upload(self.repo()).h("Location")
        loc = self.expect(self._patch(loc, b"AAAA", 0), 202).h("Location")
        self.expect_error(request("PUT", with_query(loc, digest=sha256(b"BBBB")), body=b"BBBB",
                                  headers={"Content-Range": "4-7"}), 400, "DIGEST_INVALID")


# --------------------------------------------------------------------------
# end-3, end-7, end-9: manifests


class T04Manifests(Base):
    def test_put_by_tag(self):
        repo = self.repo()
        body, mt = self.image(repo)
        r = self.push_manifest(repo, "v1", body)
        self.assertEqual(r.h("Docker-Content-Digest"), sha256(body), str(r))
        self.assertIn(loc_path(r.h("Location") or ""),
                      ("/v2/%s/manifests/%s" % (repo, sha256(body)), "/v2/%s/manifests/v1" % repo), str(r))
        g = self.expect(request("GET", loc_path(r.h("Location")), headers={"Accept": mt}), 200)
        self.assertEqual(g.body, body, "the exact bytes pushed")

    def test_put_by_digest(self):
        repo = self.repo()
        body, mt = self.image(repo)
        d = sha256(body)
        r = self.push_manifest(repo, d, body)
        self.assertEqual(r.h("Docker-Content-Digest"), d, str(r))
        self.assertEqual(loc_path(r.h("Location") or ""), "/v2/%s/manifests/%s" % (repo, d), str(r))
        g = self.expect(request("GET", "/v2/%s/manifests/%s" % (repo, d), headers={"Accept": mt}), 200)
        self.assertEqual(g.body, body)

    def test_put_by_wrong_digest(self):
        repo = self.repo()
        body, mt = self.image(repo)
        r = request("PUT", "/v2/%s/manifests/%s" % (repo, sha256(b"not it")), body=body, headers={"Content-Type": mt})
        self.expect_error(r, 400, "DIGEST_INVALID")

    def test_put_exact_bytes_kept(self):
        repo = self.repo()
        body, mt = self.image(repo)
        pretty = json.dumps(json.loads(body), indent=3).encode() + b"\n"
        self.push_manifest(repo, "pretty", pretty)
        g = self.expect(request("GET", "/v2/%s/manifests/pretty" % repo, headers={"Accept": mt}), 200)
        self.assertEqual(g.body, pretty)
        self.assertEqual(g.h("Docker-Content-Digest"), sha256(pretty), str(g))

    def test_put_content_type_without_media_type(self):
        repo = self.repo()
        body, mt = self.image(repo)
        m = json.loads(body)
        del m["mediaType"]
        nomt = jbytes(m)
        self.push_manifest(repo, "nomt", nomt, ctype=MT_OCI_MANIFEST)
        g = self.expect(request("GET", "/v2/%s/manifests/nomt" % repo, headers={"Accept": MT_OCI_MANIFEST}), 200)
        self.assertEqual((g.h("Content-Type") or "").split(";")[0], MT_OCI_MANIFEST, str(g))
        self.assertEqual(g.body, nomt)

    def test_put_content_type_with_parameters(self):
        # "The registry SHOULD ignore parameters on the Content-Type header."
        repo = self.repo()
        body, mt = self.image(repo)
        self.push_manifest(repo, "params", body, ctype=mt + "; charset=utf-8")
        g = self.expect(request("GET", "/v2/%s/manifests/params" % repo, headers={"Accept": mt}), 200)
        self.assertEqual((g.h("Content-Type") or "").split(";")[0].strip(), mt, str(g))

    def test_put_with_subject(self):
        repo = self.repo()
        body, mt = self.image(repo)
        subj = desc(mt, body)  # not pushed yet: MUST still be accepted
        empty = b"{}"
        self.push_blob(repo, empty)
        art = jbytes({"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST, "artifactType": "application/vnd.example.sig",
                      "config": desc(MT_OCI_EMPTY, empty), "layers": [desc(MT_OCI_EMPTY, empty)], "subject": subj})
        r = self.push_manifest(repo, sha256(art), art)
        self.assertEqual(r.h("OCI-Subject"), subj["digest"], str(r))
        r = self.push_manifest(repo, "v1", body)
        self.assertIsNone(r.h("OCI-Subject"), "no subject, no OCI-Subject: %s" % r)

    def _get(self, repo, ref, accept, method="GET"):
        h = [("Accept", a) for a in accept] if isinstance(accept, list) else [("Accept", accept)]
        return request(method, "/v2/%s/manifests/%s" % (repo, ref), headers=h)

    def test_get_head_by_tag_and_digest(self):
        repo = self.repo()
        body, mt = self.image(repo)
        d = sha256(body)
        self.push_manifest(repo, "latest", body)
        for ref in ("latest", d):
            with self.subTest(ref=ref):
                g = self.expect(self._get(repo, ref, mt), 200)
                self.assertEqual(g.body, body)
                self.assertEqual(g.h("Docker-Content-Digest"), d, str(g))
                self.assertEqual((g.h("Content-Type") or "").split(";")[0], mt, str(g))
                self.assertEqual(g.h("Content-Length"), str(len(body)), str(g))
                h = self.expect(self._get(repo, ref, mt, "HEAD"), 200)
                self.assertEqual(h.body, b"")
                self.assertEqual(h.h("Docker-Content-Digest"), d, str(h))
                self.assertEqual(h.h("Content-Length"), str(len(body)), str(h))
                self.assertEqual((h.h("Content-Type") or "").split(";")[0], mt, str(h))

    def test_get_accept_negotiation(self):
        repo = self.repo()
        body, mt = self.image(repo)
        self.push_manifest(repo, "latest", body)
        accepts = [
            ["*/*"],
            [MT_DOCKER_MANIFEST + ", " + MT_DOCKER_LIST + ", " + MT_OCI_MANIFEST + ", " + MT_OCI_INDEX],
            [MT_DOCKER_MANIFEST, MT_OCI_MANIFEST],  # several Accept headers
            [MT_OCI_INDEX + ";q=0.5, " + MT_OCI_MANIFEST + ";q=0.9"],
            ["application/*"],
        ]
        for a in accepts:
            with self.subTest(accept=a):
                g = self.expect(self._get(repo, "latest", a), 200)
                self.assertEqual(g.body, body)
                self.assertEqual((g.h("Content-Type") or "").split(";")[0], mt, str(g))
        g = self.expect(request("GET", "/v2/%s/manifests/latest" % repo), 200, "no Accept at all")
        self.assertEqual(g.body, body)

    def test_get_docker_v2(self):
        repo = self.repo()
        body, mt = self.image(repo, docker=True)
        self.assertEqual(mt, MT_DOCKER_MANIFEST)
        self.push_manifest(repo, "docker", body, ctype=mt)
        g = self.expect(self._get(repo, "docker", [MT_DOCKER_MANIFEST + ", " + MT_DOCKER_LIST]), 200)
        self.assertEqual(g.body, body)
        self.assertEqual((g.h("Content-Type") or "").split(";")[0], MT_DOCKER_MANIFEST, str(g))
        self.assertEqual(g.h("Docker-Content-Digest"), sha256(body), str(g))

    def test_get_oci_index_and_docker_list(self):
        repo = self.repo()
        a, mt = self.image(repo, b"amd64")
        b, _ = self.image(repo, b"arm64")
        self.push_manifest(repo, sha256(a), a)
        self.push_manifest(repo, sha256(b), b)
        for imt, cmt in ((MT_OCI_INDEX, MT_OCI_MANIFEST), (MT_DOCKER_LIST, MT_DOCKER_MANIFEST)):
            if imt == MT_DOCKER_LIST:
                a2, _ = self.image(repo, b"d-amd64", docker=True)
                b2, _ = self.image(repo, b"d-arm64", docker=True)
                self.push_manifest(repo, sha256(a2), a2, ctype=MT_DOCKER_MANIFEST)
                self.push_manifest(repo, sha256(b2), b2, ctype=MT_DOCKER_MANIFEST)
                kids = (a2, b2)
            else:
                kids = (a, b)
            idx = jbytes({"schemaVersion": 2, "mediaType": imt, "manifests": [
                desc(cmt, kids[0], platform={"architecture": "amd64", "os": "linux"}),
                desc(cmt, kids[1], platform={"architecture": "arm64", "os": "linux"})]})
            with self.subTest(index=imt):
                self.push_manifest(repo, "multi-" + str(len(imt)), idx, ctype=imt)
                g = self.expect(self._get(repo, "multi-" + str(len(imt)), [imt]), 200)
                self.assertEqual(g.body, idx)
                self.assertEqual((g.h("Content-Type") or "").split(";")[0], imt, str(g))

    def test_index_with_missing_child(self):
        repo = self.repo()
        self.push_blob(repo, b"x")
        ghost = b'{"ghost":1}'
        idx = jbytes({"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": [desc(MT_OCI_MANIFEST, ghost)]})
        r = request("PUT", "/v2/%s/manifests/idx" % repo, body=idx, headers={"Content-Type": MT_OCI_INDEX})
        self.expect_error(r, 400, "MANIFEST_BLOB_UNKNOWN")

    def test_delete_by_digest(self):
        repo = self.repo()
        body, mt = self.image(repo)
        d = sha256(body)
        self.push_manifest(repo, "gone", body)
        self.expect(request("DELETE", "/v2/%s/manifests/%s" % (repo, d)), 202)
        self.expect_error(self._get(repo, d, mt), 404, "MANIFEST_UNKNOWN")
        self.expect(self._get(repo, d, mt, "HEAD"), 404)
        self.expect_error(self._get(repo, "gone", mt), 404, "MANIFEST_UNKNOWN")
        self.expect_error(request("DELETE", "/v2/%s/manifests/%s" % (repo, d)), 404, "MANIFEST_UNKNOWN")

    def test_delete_by_tag(self):
        repo = self.repo()
        body, mt = self.image(repo)
        self.push_manifest(repo, "t1", body)
        self.push_manifest(repo, "t2", body)
        self.expect(request("DELETE", "/v2/%s/manifests/t1" % repo), 202)
        self.expect_error(self._get(repo, "t1", mt), 404, "MANIFEST_UNKNOWN")
        g = self.expect(self._get(repo, "t2", mt), 200, "the other tag stays")
        self.assertEqual(g.body, body)
        self.expect_error(request("DELETE", "/v2/%s/manifests/t1" % repo), 404, "MANIFEST_UNKNOWN")

    def test_manifest_unknown(self):
        repo = self.repo()
        body, mt = self.image(repo)
        self.push_manifest(repo, "exists", body)
        self.expect_error(self._get(repo, "nope", mt), 404, "MANIFEST_UNKNOWN")
        self.expect_error(self._get(repo, sha256(b"nope"), mt), 404, "MANIFEST_UNKNOWN")
        self.expect(self._get(repo, "nope", mt, "HEAD"), 404)

    def test_manifest_invalid_json(self):
        repo = self.repo()
        self.push_blob(repo, b"x")
        for body in (b"{not json", b"", b"[]", b"null", b'{"schemaVersion":2', b"\xff\xfe{}"):
            with self.subTest(body=body):
                r = request("PUT", "/v2/%s/manifests/bad" % repo, body=body, headers={"Content-Type": MT_OCI_MANIFEST})
                self.expect_error(r, 400, "MANIFEST_INVALID")

    def test_manifest_invalid_schema(self):
        repo = self.repo()
        body, mt = self.image(repo)
        good = json.loads(body)
        variants = [
            dict(good, schemaVersion=1),
            dict(good, schemaVersion="2"),
            dict(good, config="notanobject"),
            dict(good, layers=5),
            dict(good, layers=[{"mediaType": MT_OCI_LAYER, "digest": "sha256:bad", "size": 1}]),
            dict(good, layers=[dict(good["layers"][0], size=-1)]),
            {k: v for k, v in good.items() if k != "config"},
        ]
        for v in variants:
            with self.subTest(manifest=v):
                r = request("PUT", "/v2/%s/manifests/bad" % repo, body=jbytes(v), headers={"Content-Type": mt})
                self.expect_error(r, 400, "MANIFEST_INVALID")

    def test_manifest_unsupported_type(self):
        repo = self.repo()
        body, mt = self.image(repo)
        m = json.loads(body)
        del m["mediaType"]
        r = request("PUT", "/v2/%s/manifests/odd" % repo, body=jbytes(m), headers={"Content-Type": "text/plain"})
        self.expect_not_5xx(r)
        self.expect_error(r, (400, 415), ("MANIFEST_INVALID", "UNSUPPORTED"))

    def test_manifest_blob_unknown(self):
        repo = self.repo()
        body, mt = self.image(repo)
        m = json.loads(body)
        m["layers"].append(desc(MT_OCI_LAYER, b"never uploaded layer"))
        r = request("PUT", "/v2/%s/manifests/missing" % repo, body=jbytes(m), headers={"Content-Type": mt})
        self.expect_error(r, 400, "MANIFEST_BLOB_UNKNOWN")
        m = json.loads(body)
        m["config"] = desc(MT_OCI_CONFIG, b"never uploaded config")
        r = request("PUT", "/v2/%s/manifests/missing" % repo, body=jbytes(m), headers={"Content-Type": mt})
        self.expect_error(r, 400, "MANIFEST_BLOB_UNKNOWN")

    def test_manifest_blob_in_other_repo_is_unknown(self):
        repo = self.repo()
        body, mt = self.image(repo)
        other = self.repo("-other")
        self.push_blob(other, b"o")
        r = request("PUT", "/v2/%s/manifests/x" % other, body=body, headers={"Content-Type": mt})
        self.expect_error(r, 400, "MANIFEST_BLOB_UNKNOWN")

    def test_bad_reference(self):
        repo = self.repo()
        body, mt = self.image(repo)
        self.push_manifest(repo, "ok", body)
        for ref in ("-leadingdash", ".dot", "a" * 129, "sha256:nothex", "bad%20tag"):
            with self.subTest(ref=ref):
                r = request("PUT", "/v2/%s/manifests/%s" % (repo, ref), body=body, headers={"Content-Type": mt})
                self.expect_not_5xx(r)
                self.assertEqual(r.status, 400, str(r))
                g = self._get(repo, ref, mt)
                self.expect_not_5xx(g)
                self.assertIn(g.status, (400, 404), str(g))
        r = self.push_manifest(repo, "a" * 128, body)  # longest tag

    def test_manifest_at_size_limit(self):
        repo = self.repo()
        body, mt = self.image(repo)
        m = json.loads(body)
        m["annotations"] = {"pad": ""}
        base = len(jbytes(m))
        m["annotations"]["pad"] = "x" * (4 * 1024 * 1024 - base)
        big = jbytes(m)
        self.assertEqual(len(big), 4 * 1024 * 1024)
        self.push_manifest(repo, "four-mib", big)

    def test_manifest_too_large(self):
        repo = self.repo()
        body, mt = self.image(repo)
        m = json.loads(body)
        m["annotations"] = {"pad": ""}
        base = len(jbytes(m))
        m["annotations"]["pad"] = "x" * (4 * 1024 * 1024 + 1 - base)
        big = jbytes(m)
        self.assertEqual(len(big), 4 * 1024 * 1024 + 1)
        head = ("PUT /v2/%s/manifests/huge HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                % (repo, mt, len(big))).encode()
        r, err = raw_exchange(head + big, method="PUT", timeout=10)
        self.assertIsNotNone(r, "PUT of a 4 MiB + 1 manifest: " + err)
        # spec.md "Pushing Manifests": SHOULD respond 413 Payload Too Large.
        self.expect(r, 413)
        if r.body:
            self.expect_error(r, 413, ("SIZE_INVALID", "MANIFEST_INVALID"))
        self.expect(self._get(repo, "huge", mt), 404, "not stored")
        # and a Content-Length far above the limit is refused before the body
        head = ("PUT /v2/%s/manifests/huge HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                % (repo, mt, 1 << 40)).encode()
        r, err = raw_exchange(head, method="PUT", timeout=5)
        self.assertIsNotNone(r, "PUT with Content-Length 1 TiB: " + err)
        self.expect(r, 413)


# --------------------------------------------------------------------------
# Names: NAME_INVALID, NAME_UNKNOWN


class T05Names(Base):
    def test_name_invalid(self):
        for name in ("Upper", "t/Upper", "a..b", "t/-a", "t/a-", "t//a", "t/a/", "a___b", "t/a$b", "t/a%20b"):
            with self.subTest(name=name):
                r = request("POST", "/v2/%s/blobs/uploads/" % name)
                self.expect_not_5xx(r)
                if r.status == 404:
                    # the router may not match it at all; then it is not a name
                    self.assertNotIn(r.status, (201, 202), str(r))
                else:
                    self.expect_error(r, 400, "NAME_INVALID")

    def test_name_invalid_on_manifest_put(self):
        r = request("PUT", "/v2/Bad/manifests/latest", body=b"{}", headers={"Content-Type": MT_OCI_MANIFEST})
        self.expect_error(r, 400, "NAME_INVALID")

    def test_name_path_traversal(self):
        d = sha256(b"x")
        paths = [
            ("GET", "/v2/../../etc/blobs/" + d),
            ("GET", "/v2/../../../../etc/passwd"),
            ("GET", "/v2/t/../../etc/manifests/latest"),
            ("POST", "/v2/t/../../x/blobs/uploads/"),
            ("POST", "/v2/%2e%2e/%2e%2e/x/blobs/uploads/"),
            ("POST", "/v2/t%2f..%2f..%2fx/blobs/uploads/"),
            ("GET", "/v2/./t/tags/list"),
            ("PUT", "/v2/../x/manifests/latest"),
        ]
        for m, p in paths:
            with self.subTest(method=m, path=p):
                r = request(m, p, body=b"{}" if m == "PUT" else None)
                self.expect_not_5xx(r)
                self.assertIn(r.status, (400, 404), str(r))
        self.assertTrue(SRV.alive())

    def test_name_length_limit(self):
        n256 = "x" * 127 + "/" + "y" * 128
        n257 = "x" * 128 + "/" + "y" * 128
        self.assertEqual((len(n256), len(n257)), (256, 257))
        r = self.start_upload(n256)
        self.expect(request("PUT", with_query(r.h("Location"), digest=sha256(b"long")), body=b"long"), 201)
        g = self.expect(request("GET", "/v2/%s/blobs/%s" % (n256, sha256(b"long"))), 200)
        self.assertEqual(g.body, b"long")
        self.expect_error(request("POST", "/v2/%s/blobs/uploads/" % n257), 400, "NAME_INVALID")
        r = request("GET", "/v2/%s/tags/list" % n257)
        self.expect_error(r, (400, 404), ("NAME_INVALID", "NAME_UNKNOWN"))
        one = "z" * 256  # a single 256-character component
        r = self.start_upload(one)
        self.expect(request("PUT", with_query(r.h("Location"), digest=sha256(b"one")), body=b"one"), 201)

    def test_name_unknown_reads(self):
        missing = "t/never-created"
        self.expect_error(request("GET", "/v2/%s/tags/list" % missing), 404, "NAME_UNKNOWN")
        r = request("GET", "/v2/%s/manifests/latest" % missing)
        self.expect_error(r, 404, ("NAME_UNKNOWN", "MANIFEST_UNKNOWN"))
        r = request("GET", "/v2/%s/blobs/%s" % (missing, sha256(b"q")))
        self.expect_error(r, 404, ("NAME_UNKNOWN", "BLOB_UNKNOWN"))


class T06NoCreateOnPush(Base):
    @classmethod
    def setUpClass(cls):
        global SRV_NOCREATE
        if SRV_NOCREATE is None:
            SRV_NOCREATE = Ecrd(["--no-create-on-push"], label="ecrd --no-create-on-push")

    def test_push_blob_name_unknown(self):
        r = request("POST", "/v2/t/missing/blobs/uploads/", srv=SRV_NOCREATE)
        self.expect_error(r, 404, "NAME_UNKNOWN")
        data = b"mono"
        r = request("POST", "/v2/t/missing/blobs/uploads/?digest=%s" % sha256(data), body=data, srv=SRV_NOCREATE)
        self.expect_error(r, 404, "NAME_UNKNOWN")

    def test_mount_name_unknown(self):
        r = request("POST", "/v2/t/missing/blobs/uploads/?mount=%s&from=t/other" % sha256(b"a"), srv=SRV_NOCREATE)
        self.expect_error(r, 404, "NAME_UNKNOWN")

    def test_push_manifest_name_unknown(self):
        cfg = b"{}"
        m = jbytes({"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST, "config": desc(MT_OCI_EMPTY, cfg), "layers": []})
        r = request("PUT", "/v2/t/missing/manifests/latest", body=m, headers={"Content-Type": MT_OCI_MANIFEST},
                    srv=SRV_NOCREATE)
        self.expect_error(r, 404, "NAME_UNKNOWN")

    def test_reads_name_unknown(self):
        self.expect_error(request("GET", "/v2/t/missing/tags/list", srv=SRV_NOCREATE), 404, "NAME_UNKNOWN")
        r = request("GET", "/v2/t/missing/manifests/latest", srv=SRV_NOCREATE)
        self.expect_error(r, 404, ("NAME_UNKNOWN", "MANIFEST_UNKNOWN"))

    def test_catalog_empty(self):
        r = self.expect(request("GET", "/v2/_catalog", srv=SRV_NOCREATE), 200)
        self.assertEqual(r.json().get("repositories"), [], str(r))


# --------------------------------------------------------------------------
# end-8: tags list; _catalog


class T07Lists(Base):
    TAGS = ["latest", "v1", "v10", "v2", "a", "B", "c-1", "c.1", "_x", "Z9", "0"]

    @classmethod
    def setUpClass(cls):
        t = cls("test_tags_list")
        cls.r = "t/lists"
        body, mt = t.image(cls.r)
        for tag in cls.TAGS:
            t.push_manifest(cls.r, tag, body)

    def _ordered(self, got):
        ok = got == sorted(got) or got == sorted(got, key=lambda s: (s.lower(), s))
        self.assertTrue(ok, "not in lexical or ASCIIbetical order: %s" % got)

    def test_tags_list(self):
        r = self.expect(request("GET", "/v2/%s/tags/list" % self.r), 200)
        self.assertEqual((r.h("Content-Type") or "").split(";")[0], "application/json", str(r))
        j = r.json()
        self.assertEqual(j.get("name"), self.r)
        self.assertEqual(sorted(j.get("tags")), sorted(self.TAGS))
        self._ordered(j["tags"])

    def test_tags_list_empty(self):
        repo = self.repo()
        self.push_blob(repo, b"untagged repository")
        r = self.expect(request("GET", "/v2/%s/tags/list" % repo), 200)
        self.assertIn(r.json().get("tags"), ([], None), str(r))

    def test_tags_n_and_link(self):
        full = self.expect(request("GET", "/v2/%s/tags/list" % self.r), 200).json()["tags"]
        r = self.expect(request("GET", "/v2/%s/tags/list?n=3" % self.r), 200)
        self.assertEqual(r.json()["tags"], full[:3])
        nxt = parse_link_next(r.h("Link"))
        self.assertIsNotNone(nxt, "no Link rel=next with more tags: %s" % r)
        got = list(r.json()["tags"])
        pages = 1
        while nxt:
            r = self.expect(request("GET", loc_path(nxt)), 200, "following Link")
            self.assertLessEqual(len(r.json()["tags"]), 3)
            got += r.json()["tags"]
            nxt = parse_link_next(r.h("Link"))
            pages += 1
            self.assertLess(pages, 20, "Link never ends")
        self.assertEqual(got, full)

    def test_tags_n_bigger_than_count(self):
        full = self.expect(request("GET", "/v2/%s/tags/list" % self.r), 200).json()["tags"]
        r = self.expect(request("GET", "/v2/%s/tags/list?n=1000" % self.r), 200)
        self.assertEqual(r.json()["tags"], full)
        self.assertIsNone(parse_link_next(r.h("Link")), "Link on the last page: %s" % r)

    def test_tags_last(self):
        full = self.expect(request("GET", "/v2/%s/tags/list" % self.r), 200).json()["tags"]
        last = full[4]
        r = self.expect(request("GET", "/v2/%s/tags/list?last=%s" % (self.r, last)), 200)
        self.assertEqual(r.json()["tags"], full[5:])
        r = self.expect(request("GET", "/v2/%s/tags/list?n=2&last=%s" % (self.r, last)), 200)
        self.assertEqual(r.json()["tags"], full[5:7])
        r = self.expect(request("GET", "/v2/%s/tags/list?last=%s" % (self.r, full[-1])), 200)
        self.assertEqual(r.json()["tags"], [])
        # a last that is not itself a tag: start after where it would sort
        r = self.expect(request("GET", "/v2/%s/tags/list?last=v11" % self.r), 200)
        if full == sorted(full):
            expected = [t for t in full if t > "v11"]
        else:
            expected = [t for t in full if (t.lower(), t) > ("v11", "v11")]
        self.assertEqual(r.json()["tags"], expected)

    def test_tags_n_zero(self):
        r = self.expect(request("GET", "/v2/%s/tags/list?n=0" % self.r), 200)
        self.assertEqual(r.json().get("tags"), [], str(r))
        self.assertIsNone(r.h("Link"), "n=0 MUST NOT include Link: %s" % r)

    def test_tags_bad_n(self):
        for q in ("n=-1", "n=abc", "n=99999999999999999999999"):
            with self.subTest(query=q):
                r = request("GET", "/v2/%s/tags/list?%s" % (self.r, q))
                self.expect_not_5xx(r)
                self.assertIn(r.status, (200, 400), str(r))

    def test_catalog(self):
        mine = ["t/cat-%d" % i for i in range(5)]
        for m in mine:
            self.push_blob(m, b"cat")
        r = self.expect(request("GET", "/v2/_catalog"), 200)
        self.assertEqual((r.h("Content-Type") or "").split(";")[0], "application/json", str(r))
        full = r.json()["repositories"]
        for m in mine:
            self.assertIn(m, full)
        self.assertEqual(full, sorted(full), "catalog not sorted")
        for name in full:
            self.assertTrue(NAME_RE.fullmatch(name), "catalog holds an invalid name %r" % name)
        # paging with n and Link
        got, nxt, pages = [], "/v2/_catalog?n=2", 0
        while nxt:
            r = self.expect(request("GET", loc_path(nxt)), 200, "catalog page")
            page = r.json()["repositories"]
            self.assertLessEqual(len(page), 2)
            got += page
            nxt = parse_link_next(r.h("Link"))
            pages += 1
            self.assertLess(pages, 1000)
        self.assertEqual(got, full)
        self.assertGreater(pages, 2, "no Link rel=next with n=2")
        # last
        r = self.expect(request("GET", "/v2/_catalog?n=2&last=t/cat-1"), 200)
        self.assertEqual(r.json()["repositories"], [x for x in full if x > "t/cat-1"][:2])
        r = self.expect(request("GET", "/v2/_catalog?n=0"), 200)
        self.assertEqual(r.json()["repositories"], [])
        self.assertIsNone(r.h("Link"), str(r))


# --------------------------------------------------------------------------
# end-12: referrers


class T08Referrers(Base):
    SBOM = "application/vnd.example.sbom.v1"
    CFGT = "application/vnd.example.sig.config.v1+json"

    @classmethod
    def setUpClass(cls):
        t = cls("test_referrers_list")
        cls.r = "t/referrers"
        body, mt = t.image(cls.r)
        cls.subject = desc(mt, body)
        t.push_manifest(cls.r, "subject", body)
        empty = b"{}"
        t.push_blob(cls.r, empty)
        sigcfg = b'{"sig":true}'
        t.push_blob(cls.r, sigcfg)
        cls.a1 = jbytes({"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST, "artifactType": cls.SBOM,
                         "config": desc(MT_OCI_EMPTY, empty), "layers": [desc(MT_OCI_EMPTY, empty)],
                         "subject": cls.subject, "annotations": {"org.example.sbom.format": "json",
                                                                 "org.opencontainers.image.created": "2024-01-01T00:00:00Z"}})
        cls.a2 = jbytes({"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST,
                         "config": desc(cls.CFGT, sigcfg), "layers": [desc(MT_OCI_EMPTY, empty)],
                         "subject": cls.subject, "annotations": {"org.example.sig": "abcd"}})
        cls.i1 = jbytes({"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": [],
                         "subject": cls.subject, "annotations": {"kind": "index"}})
        cls.unrelated = jbytes({"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST, "artifactType": cls.SBOM,
                                "config": desc(MT_OCI_EMPTY, empty), "layers": [desc(MT_OCI_EMPTY, empty)],
                                "subject": desc(MT_OCI_MANIFEST, b"another subject")})
        for b, ct in ((cls.a1, MT_OCI_MANIFEST), (cls.a2, MT_OCI_MANIFEST), (cls.i1, MT_OCI_INDEX),
                      (cls.unrelated, MT_OCI_MANIFEST)):
            t.push_manifest(cls.r, sha256(b), b, ctype=ct)

    def _get(self, digest, query=""):
        return request("GET", "/v2/%s/referrers/%s%s" % (self.r, digest, query))

    def test_referrers_list(self):
        r = self.expect(self._get(self.subject["digest"]), 200)
        self.assertEqual((r.h("Content-Type") or "").split(";")[0], MT_OCI_INDEX, str(r))
        j = r.json()
        self.assertEqual(j.get("schemaVersion"), 2)
        self.assertEqual(j.get("mediaType"), MT_OCI_INDEX)
        got = {m["digest"]: m for m in j["manifests"]}
        self.assertEqual(set(got), {sha256(self.a1), sha256(self.a2), sha256(self.i1)}, str(r))
        a1 = got[sha256(self.a1)]
        self.assertEqual(a1["mediaType"], MT_OCI_MANIFEST)
        self.assertEqual(a1["size"], len(self.a1))
        self.assertEqual(a1.get("artifactType"), self.SBOM)
        self.assertEqual(a1.get("annotations"), json.loads(self.a1)["annotations"])
        a2 = got[sha256(self.a2)]
        self.assertEqual(a2.get("artifactType"), self.CFGT, "artifactType from config.mediaType")
        self.assertEqual(a2.get("annotations"), {"org.example.sig": "abcd"})
        i1 = got[sha256(self.i1)]
        self.assertEqual(i1["mediaType"], MT_OCI_INDEX)
        self.assertNotIn("artifactType", i1, "an index without artifactType: omitted")
        self.assertEqual(i1.get("annotations"), {"kind": "index"})
        self.assertIsNone(r.h("OCI-Filters-Applied"), str(r))

    def test_referrers_filter(self):
        r = self.expect(self._get(self.subject["digest"], "?artifactType=" + urllib.parse.quote(self.SBOM, safe="")), 200)
        self.assertEqual([m["digest"] for m in r.json()["manifests"]], [sha256(self.a1)], str(r))
        self.assertEqual(r.h("OCI-Filters-Applied"), "artifactType", str(r))
        r = self.expect(self._get(self.subject["digest"], "?artifactType=application/none"), 200)
        self.assertEqual(r.json()["manifests"], [])
        self.assertEqual(r.h("OCI-Filters-Applied"), "artifactType", str(r))

    def test_referrers_unknown_digest(self):
        r = self.expect(self._get(sha256(b"no such manifest")), 200)
        self.assertEqual((r.h("Content-Type") or "").split(";")[0], MT_OCI_INDEX, str(r))
        self.assertEqual(r.json().get("manifests"), [], str(r))

    def test_referrers_bad_digest(self):
        for d in ("sha256:zz", "latest", "sha256:" + "A" * 64):
            with self.subTest(digest=d):
                self.expect_error(self._get(d), 400, "DIGEST_INVALID")

    def test_referrers_after_delete(self):
        self.expect(request("DELETE", "/v2/%s/manifests/%s" % (self.r, sha256(self.unrelated))), 202)
        r = self.expect(self._get(json.loads(self.unrelated)["subject"]["digest"]), 200)
        self.assertEqual(r.json()["manifests"], [], "a deleted referrer is not listed")


# --------------------------------------------------------------------------
# Hostile and malformed HTTP


class T09Hostile(Base):
    def _alive(self):
        self.assertTrue(SRV.alive(), "ecrd died; log:\n" + SRV.log_tail())
        self.expect(request("GET", "/v2/"), 200, "server still serves")

    def test_huge_header(self):
        payload = b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (100 * 1024) + b"\r\n\r\n"
        r, err = raw_exchange(payload)
        self.assertIsNotNone(r, "100 KiB header: " + err)
        self.expect(r, (431, 400))
        self._alive()

    def test_many_headers(self):
        payload = b"GET /v2/ HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(10000)) + b"\r\n"
        r, err = raw_exchange(payload)
        self.assertIsNotNone(r, "10000 headers: " + err)
        self.expect(r, (431, 400))
        self._alive()

    def test_long_request_line(self):
        payload = b"GET /v2/" + b"a" * (100 * 1024) + b"/tags/list HTTP/1.1\r\nHost: x\r\n\r\n"
        r, err = raw_exchange(payload)
        self.assertIsNotNone(r, "100 KiB request line: " + err)
        self.expect(r, (414, 431, 400))
        self._alive()

    def test_garbage(self):
        for junk in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64) + b"\r\n\r\n",
                     b"HELLO\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                     b"GET /v2/ HTTP/1.1\r\nNo colon here\r\n\r\n"):
            with self.subTest(junk=junk[:20]):
                s = socket.create_connection(("127.0.0.1", SRV.port), timeout=5)
                try:
                    s.sendall(junk)
                    try:
                        data = s.recv(65536)
                    except ConnectionResetError:
                        data = b""
                    except socket.timeout:
                        self.fail("no answer and no close within 5 s")
                finally:
                    s.close()
                if data:
                    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
                    self.assertTrue(m, "not an HTTP response: %r" % data[:80])
                    self.assertTrue(400 <= int(m.group(1)) < 500 or int(m.group(1)) == 505,
                                    "garbage answered with %r" % data[:80])
        self._alive()

    def test_idle_connections(self):
        socks = []
        try:
            for i in range(200):
                s = socket.create_connection(("127.0.0.1", SRV.port), timeout=5)
                if i % 2:
                    s.sendall(b"GET /v2/ HTTP/1.1\r\nHo")  # a slow client that stops mid-header
                socks.append(s)
            t0 = time.time()
            for _ in range(5):
                self.expect(request("GET", "/v2/", timeout=5), 200, "with 200 idle connections open")
            self.assertLess(time.time() - t0, 5, "requests starved by idle connections")
        finally:
            for s in socks:
                s.close()
        self._alive()

    def test_concurrent_requests(self):
        errors = []

        def worker(i):
            try:
                data = b"concurrent %d" % i * 100
                r = request("POST", "/v2/t/concurrent/blobs/uploads/?digest=%s" % sha256(data), body=data)
                if r.status != 201:
                    errors.append(str(r))
                g = request("GET", "/v2/t/concurrent/blobs/%s" % sha256(data))
                if g.status != 200 or g.body != data:
                    errors.append(str(g))
            except Exception as e:  # noqa: BLE001 - report every failure
                errors.append("%d: %r" % (i, e))

        ts = [threading.Thread(target=worker, args=(i,)) for i in range(32)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        self.assertEqual(errors, [])

    def test_negative_content_length(self):
        loc = self.start_upload(self.repo()).h("Location")
        payload = ("PATCH %s HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n" % loc_path(loc)).encode()
        r, err = raw_exchange(payload, method="PATCH")
        self.assertIsNotNone(r, "Content-Length -1: " + err)
        self.expect(r, 400)
        self._alive()

    def test_huge_content_length(self):
        loc = self.start_upload(self.repo()).h("Location")
        for cl in ("99999999999999999999999999", str(1 << 63), str((1 << 64) - 1)):
            with self.subTest(content_length=cl):
                payload = ("PATCH %s HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\n\r\n" % (loc_path(loc), cl)).encode()
                r, err = raw_exchange(payload, method="PATCH")
                self.assertIsNotNone(r, "Content-Length %s: %s" % (cl, err))
                self.expect(r, (400, 413))
        self._alive()

    def test_conflicting_lengths(self):
        # Content-Length together with Transfer-Encoding: chunked (request smuggling shape).
        loc = self.start_upload(self.repo()).h("Location")
        payload = ("PATCH %s HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "3\r\nabc\r\n0\r\n\r\n" % loc_path(loc)).encode()
        r, err = raw_exchange(payload, method="PATCH")
        if r is not None:
            self.expect_not_5xx(r)
            if r.status == 202:
                self.assertEqual(r.h("Range"), "0-2", "chunked framing must win: %s" % r)
        self._alive()

    def test_bad_utf8_and_nul_in_path(self):
        for p in (b"/v2/t/\xff\xfe/tags/list", b"/v2/t/a%00b/tags/list", b"/v2/t/a/manifests/%00"):
            with self.subTest(path=p):
                r, err = raw_exchange(b"GET " + p + b" HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertIsNotNone(r, err)
                self.expect_not_5xx(r)
                self.assertIn(r.status, (400, 404), str(r))
        self._alive()

    def test_keepalive_pipelined(self):
        s = socket.create_connection(("127.0.0.1", SRV.port), timeout=5)
        try:
            s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\nGET /v2/nope/tags/list HTTP/1.1\r\nHost: x\r\n\r\n")
            buf = b""
            deadline = time.time() + 5
            while len(re.findall(rb"HTTP/1\.1 \d{3}", buf)) < 2 or not buf.endswith(b"}"):
                if time.time() > deadline:
                    break
                try:
                    d = s.recv(65536)
                except socket.timeout:
                    break
                if not d:
                    break
                buf += d
        finally:
            s.close()
        codes = [int(c) for c in re.findall(rb"HTTP/1\.1 (\d{3})", buf)]
        self.assertEqual(codes, [200, 404], "two pipelined requests: %r" % buf[:400])


class T10Errors(Base):
    def test_error_body_format(self):
        r = request("GET", "/v2/t/error-format/manifests/nope")
        self.assertEqual(r.status, 404, str(r))
        self.assertEqual((r.h("Content-Type") or "").split(";")[0], "application/json", str(r))
        j = r.json()
        self.assertEqual(list(j.keys()), ["errors"], str(r))
        for e in j["errors"]:
            self.assertRegex(e["code"], r"^[A-Z_]+$")
            self.assertIn(e["code"], SPEC_CODES)
            self.assertIsInstance(e.get("message", ""), str)
            self.assertTrue(set(e) <= {"code", "message", "detail"}, "extra fields: %s" % e)

    @unittest.skip("UNAUTHORIZED/DENIED need authentication (the ECR API issue)")
    def test_unauthorized_denied(self):
        pass

    @unittest.skip("TOOMANYREQUESTS needs rate limits (not configurable yet)")
    def test_toomanyrequests(self):
        pass

    @unittest.skip("tag immutability needs the ECR API (PutImageTagMutability)")
    def test_tag_immutability(self):
        pass

    @unittest.skip("the 1 GiB streamed push+pull test lives elsewhere")
    def test_one_gib(self):
        pass


class T99Lifecycle(Base):
    def test_server_survived(self):
        self.assertTrue(SRV.alive(), "ecrd died during the tests; log:\n" + SRV.log_tail())

    def test_sigterm_exits_cleanly(self):
        global SRV_NOCREATE
        srv = SRV_NOCREATE or Ecrd(["--no-create-on-push"])
        SRV_NOCREATE = None
        t0 = time.time()
        rc = srv.stop(timeout=10)
        srv.cleanup()
        self.assertEqual(rc, 0, "ecrd exit status after SIGTERM (None: had to SIGKILL)")
        self.assertLess(time.time() - t0, 10)

    def test_z_main_server_exits_cleanly(self):
        # Runs last: SIGTERM the main server; it exits 0 and its log holds no
        # sanitizer report (ASan/UBSan/LSan builds).
        rc = SRV.stop(timeout=15)
        log = SRV.log_tail(100000)
        self.assertEqual(rc, 0, "ecrd exit status after SIGTERM (None: had to SIGKILL); log:\n" + log[-3000:])
        for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:", "UndefinedBehaviorSanitizer"):
            self.assertNotIn(marker, log, "sanitizer report in the ecrd log:\n" + log[-6000:])


CLASSES = [T01Base, T02Blobs, T03Uploads, T04Manifests, T05Names, T06NoCreateOnPush, T07Lists,
           T08Referrers, T09Hostile, T10Errors, T99Lifecycle]


def main():
    global ECRD, SRV, SRV_NOCREATE
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    ECRD = args[0] if args else os.environ.get("ECRD")
    if not ECRD or not os.access(ECRD, os.X_OK):
        print("usage: test_oci_http.py /path/to/ecrd (or ECRD=...)", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    verbose = "-v" in sys.argv[1:]
    only = os.environ.get("ONLY")  # e.g. ONLY=T03Uploads or ONLY=test_chunk
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for c in CLASSES:
        for name in loader.getTestCaseNames(c):
            if only and only not in c.__name__ and only not in name and c is not T99Lifecycle:
                continue
            suite.addTest(c(name))
    try:
        SRV = Ecrd(label="ecrd")
    except Exception as e:  # noqa: BLE001
        print("cannot start ecrd: %s" % e)
        print("0 passed, 1 failed")
        return 1
    result = None
    try:
        runner = unittest.TextTestRunner(verbosity=2 if verbose else 2, stream=sys.stdout)
        result = runner.run(suite)
    finally:
        log = SRV.log_tail(60) if SRV else ""
        if SRV is not None:
            SRV.cleanup()
        if SRV_NOCREATE is not None:
            SRV_NOCREATE.cleanup()
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - len(result.skipped) - len(result.expectedFailures)
    if failed:
        print("--- last lines of the ecrd log ---")
        print(log)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
