"""Tests of the Python binding's newer APIs: remote registries, copy with
progress, replication, creation templates, pull-through cache (unittest).
Tests of functions the loaded library does not implement yet skip."""
import json
import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import libecr  # noqa: E402
from test_libecr import push_image  # noqa: E402


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class RemoteTest(unittest.TestCase):
    def test_remote_registry_and_copy(self):
        with libecr.Registry() as backing, libecr.Server(backing, port=0, no_auth=True) as srv, \
                libecr.Registry.open("http://127.0.0.1:%d" % srv.port, timeout_ms=10000) as remote:
            with remote.create_repository("remote/app") as dst:
                pushed = push_image(dst, "pushed", b"pushed over http").digest
                with libecr.Registry() as local, local.create_repository("src") as src:
                    layer = b"copied layer " * 10000
                    digest = push_image(src, "v1", layer).digest
                    events = []
                    self.assertEqual(libecr.copy(dst, "copied", src, "v1", progress=events.append), digest)
                    kinds = [e.event for e in events]
                    self.assertEqual(kinds.count(libecr.CopyEvent.MANIFEST_DONE), 1)
                    done = [e for e in events if e.event in (libecr.CopyEvent.BLOB_DONE, libecr.CopyEvent.BLOB_SKIPPED,
                                                             libecr.CopyEvent.BLOB_MOUNTED)]
                    self.assertEqual(len(done), 2)
                    self.assertEqual(events[-1].blobs_total, 2)
                    self.assertEqual(events[-1].all_bytes_done, events[-1].all_bytes_total)
                    self.assertIn(libecr.sha256_digest(layer), {e.digest for e in done})
                    # a progress callback that stops, and one that raises
                    with self.assertRaises(libecr.CallbackError):
                        libecr.copy(dst, "stopped", src, "v1", progress=lambda p: False)

                    def boom(_):
                        raise KeyError("from progress")
                    with self.assertRaises(KeyError):
                        dst.copy_from(src, "v1", tag="boom", progress=boom)
                    with self.assertRaises(libecr.ImageNotFoundError):
                        dst.copy_from(src, "missing")
                self.assertEqual(list(dst.tags()), [("copied", digest), ("pushed", pushed)])
                with dst.open_blob(libecr.sha256_digest(b"pushed over http")) as blob:
                    self.assertEqual(blob.read(), b"pushed over http")
            self.assertEqual(list(remote.repositories()), ["remote/app"])
            with backing.repository("remote/app") as repo:  # what went over the wire
                self.assertEqual(repo.image("copied").digest, digest)
            with self.assertRaises(libecr.NotSupportedError):
                remote.gc()

    def test_network_error(self):
        with self.assertRaises(libecr.NetworkError) as cm:
            libecr.Registry.open("http://127.0.0.1:%d" % closed_port(), timeout_ms=2000, no_retry=True)
        self.assertIsInstance(cm.exception, ConnectionError)
        self.assertEqual(cm.exception.code, libecr.ErrorCode.ENETWORK)
        self.assertTrue(cm.exception.message)
        self.assertIsInstance(libecr.error_for(libecr.ErrorCode.ETHROTTLED), libecr.ThrottledError)
        with self.assertRaises(TypeError):
            libecr.Registry("memory:", no_such_option="x")


REPLICATION = {"rules": [{"destinations": [{"region": "eu-west-1", "registryId": "111122223333"}],
                          "repositoryFilters": [{"filter": "prod", "filterType": "PREFIX_MATCH"}]}]}


class ReplicationTest(unittest.TestCase):
    def test_configuration(self):
        with libecr.Registry() as reg:
            self.assertEqual(reg.replication_configuration(), {"rules": []})
            reg.set_replication_configuration(REPLICATION)
            got = reg.replication_configuration()
            self.assertEqual(got["rules"][0]["destinations"], REPLICATION["rules"][0]["destinations"])
            with self.assertRaises(libecr.InvalidError):
                reg.set_replication_configuration({"rules": "nope"})

    def test_replicator(self):
        with libecr.Registry(account_id="111122223333", region="us-east-1") as src, \
                libecr.Registry(account_id="111122223333", region="eu-west-1") as dst:
            src.set_replication_configuration(REPLICATION)
            asked = []

            def destination(region, registry_id):
                asked.append((region, registry_id))
                return dst if (region, registry_id) == ("eu-west-1", "111122223333") else None
            with libecr.Replicator(destination, retry_base_ms=50, poll_ms=50) as rep:
                rep.attach(src)
                with src.create_repository("prod/app") as repo:
                    digest = push_image(repo, "v1", b"replicated layer").digest
                    rep.drain(20000)
                    status = repo.replication_status(digest)
                self.assertEqual(status, [("eu-west-1", "111122223333", libecr.ReplicationStatus.COMPLETE, None)])
                self.assertIn(("eu-west-1", "111122223333"), asked)
                with dst.repository("prod/app") as copy:
                    self.assertEqual(copy.image("v1").digest, digest)


class TemplateTest(unittest.TestCase):
    def test_templates(self):
        with libecr.Registry() as reg:
            t = reg.put_creation_template({"prefix": "prod", "imageTagMutability": "IMMUTABLE",
                                           "appliedFor": ["CREATE_ON_PUSH"]})
            self.assertEqual(t["prefix"], "prod")
            with self.assertRaises(libecr.TemplateAlreadyExistsError):
                reg.put_creation_template({"prefix": "prod", "appliedFor": ["CREATE_ON_PUSH"]})
            self.assertEqual([x["prefix"] for x in reg.creation_templates()], ["prod"])
            with reg.create_repository_templated("prod/app") as repo:
                self.assertEqual(repo.tag_mutability, libecr.TagMutability.IMMUTABLE)
            with reg.create_repository_templated("production") as repo:  # "prod" is no whole leading part
                self.assertEqual(repo.tag_mutability, libecr.TagMutability.MUTABLE)
            self.assertEqual(reg.delete_creation_template("prod")["prefix"], "prod")
            with self.assertRaises(libecr.TemplateNotFoundError):
                reg.delete_creation_template("prod")


RULE = {"ecrRepositoryPrefix": "hub", "upstreamRegistryUrl": "http://127.0.0.1:1"}
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/hub"


class PullThroughCacheTest(unittest.TestCase):
    def test_rules_and_credentials(self):
        with libecr.Registry() as reg:
            self.assertEqual(reg.put_pull_through_cache_rule(RULE)["ecrRepositoryPrefix"], "hub")
            with self.assertRaises(libecr.PullThroughCacheRuleAlreadyExistsError):
                reg.put_pull_through_cache_rule(RULE)
            with self.assertRaises(libecr.UnsupportedUpstreamError):
                reg.put_pull_through_cache_rule({"ecrRepositoryPrefix": "ftpx", "upstreamRegistryUrl": "ftp://h"})
            self.assertEqual([r["ecrRepositoryPrefix"] for r in reg.pull_through_cache_rules()], ["hub"])
            reg.put_credential(ARN, "alice", "s3cret")
            self.assertEqual(reg.credentials(), [(ARN, "alice")])
            reg.delete_credential(ARN)
            self.assertEqual(reg.credentials(), [])
            reg.delete_pull_through_cache_rule("hub")
            with self.assertRaises(libecr.PullThroughCacheRuleNotFoundError):
                reg.delete_pull_through_cache_rule("hub")

    def test_cache_from_upstream(self):
        with libecr.Registry() as upstream, upstream.create_repository("library/app") as up, \
                libecr.Server(upstream, port=0, no_auth=True) as usrv, libecr.Registry() as reg:
            digest = push_image(up, "v1", b"upstream layer").digest
            reg.put_pull_through_cache_rule({"ecrRepositoryPrefix": "hub",
                                             "upstreamRegistryUrl": "http://127.0.0.1:%d" % usrv.port})
            with libecr.Cache(timeout_ms=10000) as cache:
                self.assertTrue(cache.covers(reg, "hub/library/app"))
                self.assertFalse(cache.covers(reg, "other/app"))
                with cache.image(reg, "hub/library/app", "v1") as img:
                    self.assertEqual(img.digest, digest)
                ldigest = libecr.sha256_digest(b"upstream layer")
                self.assertEqual(cache.blob_size(reg, "hub/library/app", ldigest), len(b"upstream layer"))
                with cache.open_blob(reg, "hub/library/app", ldigest) as blob:
                    self.assertEqual(blob.read(), b"upstream layer")
                with reg.repository("hub/library/app") as cached:  # stored on the way
                    self.assertEqual(cached.image("v1").digest, digest)
            with libecr.Cache() as cache2:
                srv = libecr.Server(reg, port=0, no_auth=True)
                try:
                    srv.set_cache(cache2)
                    srv.start()
                    self.assertGreater(srv.port, 0)
                finally:
                    srv.close()


if __name__ == "__main__":
    unittest.main()
