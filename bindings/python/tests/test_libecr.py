"""Tests of the Python binding (unittest, standard library only).

Run with LIBECR_LIBRARY pointing at a built libecr.so (meson does).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import libecr  # noqa: E402
from libecr import _ffi  # noqa: E402


def push_image(repo, tag, layer):
    """Push a one-layer OCI image made from bytes; returns the Image."""
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [libecr.sha256_digest(layer)]}}).encode()
    cdigest = repo.put_blob(config)
    with repo.upload() as up:
        for i in range(0, len(layer), 7):
            up.write(layer[i:i + 7])
        ldigest = up.commit()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdigest, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ldigest, "size": len(layer)}],
    }).encode()
    img = repo.put_image(manifest, tag=tag)
    assert img.digest == libecr.sha256_digest(manifest)
    return img


LC_POLICY = json.dumps({"rules": [{"rulePriority": 1, "description": "keep the newest image",
                                   "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                                                 "countNumber": 1},
                                   "action": {"type": "expire"}}]})


class RoundTrip:
    url = None

    def open(self):
        return libecr.Registry(self.url, account_id="111122223333", region="eu-west-1", nosync=True)

    def test_round_trip(self):
        with self.open() as reg:
            self.assertEqual((reg.account_id, reg.region), ("111122223333", "eu-west-1"))
            with reg.create_repository("team/app", tag_mutability=libecr.TagMutability.IMMUTABLE) as repo:
                self.assertEqual(repo.arn, "arn:aws:ecr:eu-west-1:111122223333:repository/team/app")
                self.assertEqual(repo.tag_mutability, libecr.TagMutability.IMMUTABLE)
                with push_image(repo, "v1", b"layer one bytes") as img:
                    digest = img.digest
                    self.assertEqual(img.tags, ["v1"])
                reg.create_repository("other").close()
                self.assertEqual(list(reg.repositories()), ["other", "team/app"])
                self.assertEqual(list(reg.repositories(after="other")), ["team/app"])
                images = list(repo.images())
                self.assertEqual(len(images), 1)
                self.assertEqual(images[0].digest, digest)
                self.assertEqual(images[0].tags, ["v1"])
                self.assertEqual(images[0].size, len(b"layer one bytes"))
                self.assertEqual(list(repo.tags()), [("v1", digest)])
                with repo.image("v1") as img:
                    self.assertEqual(libecr.sha256_digest(img.manifest), digest)
                    self.assertEqual(img.media_type, "application/vnd.oci.image.manifest.v1+json")
                # blobs are file objects
                with repo.open_blob(libecr.sha256_digest(b"layer one bytes"), offset=6) as blob:
                    self.assertEqual(blob.size, 15)
                    self.assertEqual(blob.read(3), b"one")
                    self.assertEqual(blob.read(), b" bytes")
                    self.assertEqual(blob.read(), b"")
                with self.assertRaises(libecr.ImmutableTagError) as cm:
                    push_image(repo, "v1", b"another layer")
                self.assertEqual(cm.exception.exception, "ImageTagAlreadyExistsException")
                repo.delete_image(digest)
                with self.assertRaises(libecr.ImageNotFoundError):
                    repo.image("v1")
            reg.delete_repository("team/app")
            with self.assertRaises(libecr.RepositoryNotFoundError):
                reg.repository("team/app")


class MemoryRegistryTest(RoundTrip, unittest.TestCase):
    url = "memory:"


class FileRegistryTest(RoundTrip, unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="libecr-py-")
        self.url = "file://" + self.dir + "/data"

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_reopen(self):
        with self.open() as reg, reg.create_repository("kept") as repo:
            push_image(repo, "latest", b"persisted").close()
        with self.open() as reg, reg.repository("kept") as repo:
            self.assertEqual([t for t, _ in repo.tags()], ["latest"])


class ErrorTest(unittest.TestCase):
    def test_mapping(self):
        with libecr.Registry() as reg:
            with self.assertRaises(libecr.RepositoryNotFoundError) as cm:
                reg.repository("missing")
            e = cm.exception
            self.assertIsInstance(e, libecr.NotFoundError)
            self.assertIsInstance(e, LookupError)
            self.assertEqual(e.code, libecr.ErrorCode.EREPOSITORY_NOT_FOUND)
            self.assertEqual(e.name, "ECR_EREPOSITORY_NOT_FOUND")
            self.assertEqual(e.exception, "RepositoryNotFoundException")
            self.assertIn("missing", e.message)
            reg.create_repository("dup").close()
            with self.assertRaises(libecr.RepositoryAlreadyExistsError) as cm:
                reg.create_repository("dup")
            self.assertIsInstance(cm.exception, libecr.AlreadyExistsError)
            with self.assertRaises(libecr.InvalidError):
                reg.create_repository("Bad Name")
            with self.assertRaises(ValueError):
                reg.create_repository("Bad Name")
        with self.assertRaises(libecr.InvalidError):
            libecr.Registry("nosuchscheme:")
        # category fallback: a code without its own class gets its category's
        self.assertIsInstance(libecr.error_for(_ffi.ECR_EIMAGE_REFERENCED), libecr.EcrError)
        self.assertIs(type(libecr.error_for(_ffi.ECR_ELIFECYCLE_PREVIEW_NOT_FOUND)), libecr.NotFoundError)

    def test_closed_handle(self):
        reg = libecr.Registry()
        reg.close()
        with self.assertRaises(ValueError):
            reg.create_repository("x")


class PolicyTest(unittest.TestCase):
    def test_evaluate(self):
        text = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": ["ecr:BatchGetImage"], "Resource": "*"},
            {"Effect": "Deny", "Principal": "*", "Action": "ecr:DeleteRepository", "Resource": "*"}]})
        res = "arn:aws:ecr:us-east-1:123456789012:repository/app"
        with libecr.Policy(text) as p:
            for action, want in (("ecr:BatchGetImage", libecr.PolicyDecision.ALLOW),
                                 ("ecr:PutImage", libecr.PolicyDecision.NOT_APPLICABLE),
                                 ("ecr:DeleteRepository", libecr.PolicyDecision.DENY)):
                self.assertEqual(p.evaluate(action, res, principal_arn="arn:aws:iam::111122223333:user/alice",
                                            principal_account="111122223333",
                                            keys=[("aws:SourceIp", "127.0.0.1")]), want)
        with self.assertRaises(libecr.InvalidError):
            libecr.Policy('{"Statement": "nope"}')


class LifecycleTest(unittest.TestCase):
    def test_preview(self):
        with libecr.Registry() as reg, reg.create_repository("lc") as repo:
            for i in range(3):
                push_image(repo, "v%d" % i, b"layer %d" % i).close()
            with libecr.LifecyclePolicy(LC_POLICY) as lp:
                self.assertEqual(lp.rule_count, 1)
            res = repo.lifecycle_preview(LC_POLICY)
            self.assertEqual(len(res), 3)
            actions = sorted(a for _, a, _ in res)
            self.assertEqual(actions, [libecr.LifecycleAction.KEEP, libecr.LifecycleAction.EXPIRE,
                                       libecr.LifecycleAction.EXPIRE])
            self.assertEqual({p for _, a, p in res if a == libecr.LifecycleAction.EXPIRE}, {1})
            self.assertEqual(len(list(repo.images())), 3)  # a preview changes nothing
            seen = []
            with self.assertRaises(libecr.CallbackError):
                repo.lifecycle_preview(LC_POLICY, callback=lambda *a: seen.append(a) or False)
            self.assertEqual(len(seen), 1)

            def boom(*_):
                raise KeyError("from the callback")
            with self.assertRaises(KeyError):  # the callback's own exception comes back
                repo.lifecycle_preview(LC_POLICY, callback=boom)
            with self.assertRaises(libecr.LifecyclePolicyNotFoundError):
                repo.lifecycle_preview()
            repo.set_lifecycle_policy(LC_POLICY)
            self.assertEqual(len(repo.lifecycle_preview()), 3)
            with self.assertRaises(libecr.InvalidError):
                repo.lifecycle_preview('{"rules": []}')


@unittest.skipUnless(shutil.which("skopeo"), "skopeo not installed")
class ServerTest(unittest.TestCase):
    def test_skopeo(self):
        with libecr.Registry() as reg, reg.create_repository("served/app") as repo:
            digest = push_image(repo, "latest", b"served layer").digest
            with libecr.Server(reg, port=0, no_auth=True) as srv:
                self.assertGreater(srv.port, 0)
                out = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--raw",
                                      "docker://127.0.0.1:%d/served/app:latest" % srv.port],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
                self.assertEqual(out.returncode, 0, out.stderr.decode())
                self.assertEqual(libecr.sha256_digest(out.stdout), digest)


class ThreadTest(unittest.TestCase):
    def test_sixteen_threads(self):
        d = tempfile.mkdtemp(prefix="libecr-py-")
        errors = []
        try:
            with libecr.Registry("file://" + d + "/data", nosync=True) as reg:
                def work(n):
                    try:
                        name = "t%02d" % n
                        with reg.create_repository(name) as repo:
                            for i in range(5):
                                push_image(repo, "v%d" % i, ("%s layer %d" % (name, i)).encode()).close()
                                try:
                                    reg.repository("missing-%s-%d" % (name, i))
                                except libecr.RepositoryNotFoundError as e:
                                    if name not in e.message:  # the message must be this thread's
                                        errors.append("%s: %s" % (name, e.message))
                            if len(list(repo.images())) != 5:
                                errors.append(name + ": wrong image count")
                    except Exception as e:  # reported below
                        errors.append("%d: %r" % (n, e))
                threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                self.assertEqual(errors, [])
                self.assertEqual(len(list(reg.repositories())), 16)
        finally:
            shutil.rmtree(d)


class CopyTest(unittest.TestCase):
    @unittest.skipIf("ecr_image_copy" not in _ffi.FUNCTIONS or "ecr_image_copy" in libecr._missing,
                     "this libecr has no ecr_image_copy")
    def test_copy_between_registries(self):
        with libecr.Registry() as a, libecr.Registry("memory:", account_id="210987654321") as b, \
                a.create_repository("src") as src, b.create_repository("dst") as dst:
            digest = push_image(src, "v1", b"copied layer").digest
            self.assertEqual(dst.copy_from(src, "v1", tag="copied"), digest)
            self.assertEqual(list(dst.tags()), [("copied", digest)])
            with dst.open_blob(libecr.sha256_digest(b"copied layer")) as blob:
                self.assertEqual(blob.read(), b"copied layer")
            with self.assertRaises(libecr.ImageNotFoundError):
                dst.copy_from(src, "missing")


class CoverageTest(unittest.TestCase):
    def test_generated_layer_covers_exports(self):
        lib = os.environ.get("LIBECR_LIBRARY")
        if not lib:
            self.skipTest("LIBECR_LIBRARY not set")
        out = subprocess.run(["nm", "-D", "--defined-only", lib], stdout=subprocess.PIPE, check=True).stdout.decode()
        exported = {ln.split()[2].split("@")[0] for ln in out.splitlines()
                    if len(ln.split()) == 3 and ln.split()[1] == "T"}
        self.assertTrue(exported)
        self.assertEqual(exported - set(_ffi.FUNCTIONS), set())
        self.assertEqual(libecr._missing, [])
        for name in exported:  # bound with the header's signature
            self.assertIsNotNone(getattr(libecr.lib, name).argtypes, name)

    def test_structures_match_the_c_layout(self):
        # sizes computed by ctypes equal the compiler's (tests/abi/layout.c checks
        # the same numbers in C); here: a few by hand on LP64
        self.assertEqual(libecr.ctypes.sizeof(_ffi.ecr_buf), 24)
        self.assertEqual(libecr.ctypes.sizeof(_ffi.ecr_gc_options), 24)

    def test_init_defaults(self):
        o = _ffi.init("ECR_REPOSITORY_OPTIONS_INIT")
        self.assertEqual(o.version, _ffi.ECR_REPOSITORY_OPTIONS_VERSION)
        self.assertEqual(o.tag_mutability, _ffi.ECR_TAG_MUTABLE)
        self.assertTrue(libecr.lib.ecr_registry_options_init.__doc__)


if __name__ == "__main__":
    unittest.main()
