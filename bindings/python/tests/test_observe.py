"""Usage, prices, statistics, fsck, event JSON, webhooks and server metrics through the Python binding."""
import hashlib
import hmac
import http.server
import json
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import libecr  # noqa: E402


def push_image(repo, tag, layer):
    """Push a one-layer OCI image; returns (digest, [config, layer, manifest] sizes, layer digest)."""
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [libecr.sha256_digest(layer)]}}).encode()
    cdigest = repo.put_blob(config)
    with repo.upload() as up:
        up.write(layer)
        ldigest = up.commit()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdigest, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ldigest, "size": len(layer)}],
    }).encode()
    with repo.put_image(manifest, tag=tag) as img:
        return img.digest, [len(config), len(layer), len(manifest)], ldigest


class ObserveTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.reg = libecr.Registry("file://" + self.dir + "/data", nosync=True)

    def tearDown(self):
        self.reg.close()
        shutil.rmtree(self.dir)

    def test_usage_exact_and_estimate(self):
        a = self.reg.create_repository("team/a")
        b = self.reg.create_repository("team/b")
        layer = b"python usage layer " * 300
        _, sizes, ldigest = push_image(a, "v1", layer)
        push_image(b, "v1", layer)
        total = sum(sizes)
        ua = a.usage()
        self.assertEqual((ua["repositories"], ua["images"], ua["stored_bytes"], ua["stored_bytes_unique"]),
                         (1, 1, total, total))
        u = self.reg.usage()
        self.assertEqual((u["repositories"], u["images"], u["stored_bytes"], u["stored_bytes_unique"]),
                         (2, 2, 2 * total, total))
        self.assertEqual((u["pushed_bytes"], u["image_pushes"], u["blob_uploads"], u["pulled_bytes"]),
                         (2 * total, 2, 4, 0))
        with a.open_blob(ldigest) as blob:
            self.assertEqual(blob.read(), layer)
        by = self.reg.usage_by_repository()
        self.assertEqual(sorted(by), ["team/a", "team/b"])
        self.assertEqual((by["team/a"]["blob_downloads"], by["team/a"]["pulled_bytes"]), (1, len(layer)))
        self.assertEqual(by["team/b"]["blob_downloads"], 0)
        self.reg.flush_usage()
        old = self.reg.usage(86400000, 2 * 86400000)
        self.assertEqual((old["pushed_bytes"], old["stored_bytes"]), (0, 2 * total))
        a.close()
        b.close()

        default = libecr.price_table_default()
        self.assertEqual(default["storage_usd_per_gb_month"], 0.10)
        self.assertEqual(default["transfer_out"][0], (100.0, 0.0))
        prices = libecr.price_table_parse(
            '{"storageUsdPerGbMonth":0.5,"transferOut":[{"upToGb":1,"usdPerGb":0},{"usdPerGb":2}]}')
        self.assertEqual(prices["transfer_out"], [(1.0, 0.0), (0.0, 2.0)])
        with self.assertRaises(libecr.InvalidError):
            libecr.price_table_parse('{"transferOut": 3}')
        gb = 1 << 30
        cost = libecr.estimate({"stored_bytes_unique": 4 * gb, "pulled_bytes": 6 * gb}, prices, months=2)
        self.assertAlmostEqual(cost["storage_usd"], 4.0)
        self.assertAlmostEqual(cost["transfer_out_usd"], 8.0)  # 3 GB a month, 1 free, 2 x 2 USD, twice
        self.assertAlmostEqual(cost["total_usd"], 12.0)
        self.assertAlmostEqual(libecr.estimate(u)["storage_usd"], total / gb * 0.10)
        with self.assertRaises(libecr.InvalidError):
            libecr.estimate(u, months=0)

    def test_fsck_and_stats(self):
        repo = self.reg.create_repository("checked")
        _, sizes, ldigest = push_image(repo, "v1", b"fsck layer " * 400)
        doomed_digest, doomed, _ = push_image(repo, "old", b"a layer that GC removes")
        st, problems = self.reg.fsck()
        self.assertEqual(problems, [])
        self.assertEqual((st["errors"], st["images"], st["tags"], st["blobs_checked"], st["bytes_hashed"]),
                         (0, 2, 2, 6, sum(sizes) + sum(doomed)))
        # Corrupt the layer's file (same size): found.
        hexd = ldigest.split(":", 1)[1]
        paths = [os.path.join(d, f) for d, _, fs in os.walk(self.dir) for f in fs if hexd in f]
        self.assertEqual(len(paths), 1, paths)
        with open(paths[0], "wb") as f:
            f.write(b"FSCK LAYER " * 400)
        st, problems = self.reg.fsck()
        self.assertEqual(st["errors"], 1)
        self.assertEqual(len(problems), 1)
        p = problems[0]
        self.assertEqual((p.kind, p.severity, p.digest, p.repository),
                         (libecr.FsckKind.BLOB_CORRUPT, libecr.FsckSeverity.ERROR, ldigest, "checked"))
        with self.assertRaises(libecr.CallbackError):
            self.reg.fsck(on_problem=lambda prob: False)
        with self.assertRaises(ZeroDivisionError):  # an exception in the callback comes back
            self.reg.fsck(on_problem=lambda prob: 1 / 0)
        st, _ = self.reg.fsck(no_hash=True)
        self.assertEqual((st["bytes_hashed"], st["errors"]), (0, 0))

        self.assertEqual(self.reg.stats()["gc_runs"], 0)
        repo.delete_image(doomed_digest)
        time.sleep(2.1)  # past a grace of 1 s
        gc = self.reg.gc(grace_seconds=1)
        stats = self.reg.stats()
        # The config and the layer: the manifest was kept in the metadata store and went with its image.
        self.assertEqual((gc["blobs_removed"], gc["bytes_removed"]), (2, doomed[0] + doomed[1]))
        self.assertEqual((stats["gc_runs"], stats["gc_failures"], stats["gc_blobs_deleted"], stats["gc_bytes_freed"]),
                         (1, 0, 2, doomed[0] + doomed[1]))
        self.assertEqual((stats["blob_store_errors"], stats["meta_store_errors"]), (0, 0))
        repo.close()

    def test_event_json(self):
        digest = libecr.sha256_digest(b"m")
        doc = json.loads(libecr.event_to_json(libecr.EventType.IMAGE_PUSH, account_id="111122223333",
                                              region="eu-west-1", repository="team/app", digest=digest, tag="v1",
                                              time_ms=1700000000000))
        self.assertEqual((doc["version"], doc["source"], doc["detail-type"], doc["account"], doc["time"]),
                         ("0", "aws.ecr", "ECR Image Action", "111122223333", "2023-11-14T22:13:20Z"))
        self.assertEqual(doc["resources"], ["arn:aws:ecr:eu-west-1:111122223333:repository/team/app"])
        self.assertEqual(doc["detail"], {"result": "SUCCESS", "repository-name": "team/app", "image-digest": digest,
                                         "action-type": "PUSH", "image-tag": "v1"})
        scan = json.loads(libecr.event_to_json(libecr.EventType.IMAGE_SCAN, tags=["a", "b"], account_id="111122223333",
                                               region="eu-west-1", repository="r", digest=digest, findings_high=2))
        self.assertEqual(scan["detail"]["finding-severity-counts"], {"HIGH": 2})
        self.assertEqual(scan["detail"]["image-tags"], ["a", "b"])
        with self.assertRaises(libecr.InvalidError):
            libecr.event_to_json(libecr.EventType.IMAGE_PUSH, region="eu-west-1")
        with self.assertRaises(TypeError):
            libecr.event_to_json(libecr.EventType.IMAGE_PUSH, colour="blue")

    def test_webhooks_signed_push(self):
        secret = "py-webhook-secret"
        got = queue.Queue()

        class Receiver(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                got.put((self.path, body, self.headers.get("X-Ecr-Signature")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        try:
            with libecr.Webhooks(timeout_ms=5000) as wh:
                wh.add("http://127.0.0.1:%d/hook" % srv.server_address[1], secret=secret)
                with self.assertRaises(libecr.InvalidError):
                    wh.add("gopher://nope")
                with libecr.Registry("file://" + self.dir + "/hooked", nosync=True, webhooks=wh) as reg:
                    repo = reg.create_repository("hooked")
                    digest, _, _ = push_image(repo, "v3", b"webhook layer")
                    path, body, sig = got.get(timeout=20)
                    repo.close()
                self.assertEqual(path, "/hook")
                want = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
                self.assertEqual(sig, want)
                ev = json.loads(body)
                self.assertEqual((ev["detail-type"], ev["detail"]["action-type"], ev["detail"]["image-digest"],
                                  ev["detail"]["image-tag"]), ("ECR Image Action", "PUSH", digest, "v3"))
                for _ in range(200):
                    st = wh.stats()
                    if st["delivered"] == 1:
                        break
                    time.sleep(0.025)
                self.assertEqual((st["queued"], st["delivered"], st["failed"], st["dropped"], st["pending"]),
                                 (1, 1, 0, 0, 0))
                self.assertIn("ecr_webhook_delivered_total 1", wh.metrics())
            self.assertTrue(got.empty())
        finally:
            srv.shutdown()
            srv.server_close()

    def test_server_metrics_callback(self):
        scrapes = []

        def extra():
            scrapes.append(1)
            return ("# HELP pytest_scrapes_total Scrapes seen by the test.\n"
                    "# TYPE pytest_scrapes_total counter\npytest_scrapes_total %d\n" % len(scrapes))

        srv = libecr.Server(self.reg, no_auth=True)
        srv.set_metrics(libecr.ServerMetricsAccess.LOCAL)
        srv.add_metrics(extra)
        with srv:
            url = "http://127.0.0.1:%d/metrics" % srv.port
            with urllib.request.urlopen(url, timeout=10) as resp:
                body = resp.read().decode()
            self.assertIn("\n# TYPE pytest_scrapes_total counter\npytest_scrapes_total 1\n", body)
            self.assertIn("pytest_scrapes_total 2\n", srv.metrics())
            with self.assertRaises(libecr.BusyError):
                srv.add_metrics(extra)

        def broken():
            raise RuntimeError("no numbers today")

        bad = libecr.Server(self.reg, no_auth=True)
        bad.add_metrics(broken)
        with bad:
            with self.assertRaises(urllib.error.HTTPError) as cm:
                urllib.request.urlopen("http://127.0.0.1:%d/metrics" % bad.port, timeout=10)
            self.assertEqual(cm.exception.code, 500)


if __name__ == "__main__":
    unittest.main()
