#!/usr/bin/python3
"""Replication configuration and status through ecrd's ECR API with boto3.

Usage: test_replication.py /path/to/ecrd [-v] [TestClass[.test_name] ...]   (or ECRD=...)

Starts its own ecrd (authentication on; no replicator is attached to its
queue, so queued jobs stay IN_PROGRESS), then calls PutReplicationConfiguration,
DescribeRegistry and DescribeImageReplicationStatus with a botocore client built
from the reference model: outputs checked against the model's shapes, ECR's
errors and messages (ValidationException, InvalidParameterException,
RepositoryNotFoundException, ImageNotFoundException, AccessDeniedException),
and the statuses of images pushed with PutImage before and after the
configuration exists.

The last output line is "N passed, M failed".
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ecrd_fixture as fx  # noqa: E402

import botocore.config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

ECRD = None
SRV = None
ADMIN = None
DAVE = None  # may describe the registry only
DAVE_ARN = "arn:aws:iam::%s:user/dave" % fx.DEFAULT_ACCOUNT
CONFIG = botocore.config.Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30,
                                parameter_validation=False)
WEST = {"region": "eu-west-1", "registryId": fx.DEFAULT_ACCOUNT}
OTHER = {"region": "us-east-1", "registryId": fx.OTHER_ACCOUNT}


def client(key):
    return fx.make_client(SRV, key, CONFIG)


def setUpModule():
    global SRV, ADMIN, DAVE
    SRV, ADMIN, (DAVE,) = fx.start_ecrd(ECRD, principals=[(DAVE_ARN, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecr:DescribeRegistry", "Resource": "*"}]})])


def tearDownModule():
    fx.stop_ecrd(SRV)


class Replication(fx.ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = client(ADMIN)
        cls.dave = client(DAVE)
        cls.n = 0

    def setUp(self):
        self.c.put_replication_configuration(replicationConfiguration={"rules": []})

    def upload(self, repo, data):
        up = self.c.initiate_layer_upload(repositoryName=repo)
        self.c.upload_layer_part(repositoryName=repo, uploadId=up["uploadId"], partFirstByte=0,
                                 partLastByte=len(data) - 1, layerPartBlob=data)
        try:
            self.c.complete_layer_upload(repositoryName=repo, uploadId=up["uploadId"],
                                         layerDigests=[fx.sha256(data)])
        except ClientError as e:  # the config blob of an earlier push
            self.assertEqual(e.response["Error"]["Code"], "LayerAlreadyExistsException")

    def push(self, repo, tag, variant):
        config = fx.jbytes({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}})
        layer = b"layer-" + variant.encode()
        self.upload(repo, config)
        self.upload(repo, layer)
        m = json.dumps({"schemaVersion": 2, "mediaType": fx.MT_OCI_MANIFEST,
                        "config": {"mediaType": fx.MT_OCI_CONFIG, "digest": fx.sha256(config), "size": len(config)},
                        "layers": [{"mediaType": fx.MT_OCI_LAYER, "digest": fx.sha256(layer), "size": len(layer)}]})
        out = self.c.put_image(repositoryName=repo, imageManifest=m, imageTag=tag)
        return out["image"]["imageId"]["imageDigest"]

    def repo(self, name):
        Replication.n += 1
        name = "%s-%d" % (name, Replication.n)
        self.c.create_repository(repositoryName=name)
        return name

    def test_put_and_describe(self):
        out = self.ok("describe_registry")
        self.assertEqual(out, {"registryId": fx.DEFAULT_ACCOUNT, "replicationConfiguration": {"rules": []}})
        conf = {"rules": [{"destinations": [WEST, OTHER],
                           "repositoryFilters": [{"filter": "prod", "filterType": "PREFIX_MATCH"}]},
                          {"destinations": [{"region": "ap-south-1", "registryId": fx.DEFAULT_ACCOUNT}]}]}
        out = self.ok("put_replication_configuration", replicationConfiguration=conf)
        self.assertEqual(out, {"replicationConfiguration": conf})
        out = self.ok("describe_registry")
        self.assertEqual(out, {"registryId": fx.DEFAULT_ACCOUNT, "replicationConfiguration": conf})
        # a principal allowed DescribeRegistry only
        self.assertEqual(self.ok("describe_registry", c=self.dave)["replicationConfiguration"], conf)
        self.err("AccessDeniedException", "put_replication_configuration", c=self.dave,
                 replicationConfiguration={"rules": []})
        # disable
        self.ok("put_replication_configuration", replicationConfiguration={"rules": []})
        self.assertEqual(self.ok("describe_registry")["replicationConfiguration"], {"rules": []})

    def test_errors(self):
        self.err("InvalidParameterException", "put_replication_configuration",
                 replicationConfiguration={"rules": [{"destinations": [
                     {"region": "us-east-1", "registryId": fx.DEFAULT_ACCOUNT}]}]},
                 msg="Invalid parameter at 'replicationConfiguration' failed to satisfy constraint: "
                     "'Replication destination cannot be the same as the source registry'")
        self.err("ValidationException", "put_replication_configuration",
                 replicationConfiguration={"rules": [{"destinations": [WEST]}] * 11},
                 msg="1 validation error detected: Value at 'replicationConfiguration.rules' failed to satisfy "
                     "constraint: Member must have length less than or equal to 10")
        self.err("ValidationException", "put_replication_configuration",
                 replicationConfiguration={"rules": [{"destinations": [
                     {"region": "eu-west-1", "registryId": "12345"}]}]},
                 msg="1 validation error detected: Value '12345' at 'replicationConfiguration.rules.1.member."
                     "destinations.1.member.registryId' failed to satisfy constraint: Member must satisfy regular "
                     "expression pattern: [0-9]{12}")
        self.err("ValidationException", "put_replication_configuration",
                 replicationConfiguration={"rules": [{"destinations": [WEST], "repositoryFilters": [
                     {"filter": "prod", "filterType": "WILDCARD"}]}]})
        many = [{"region": "eu-west-1", "registryId": "%012d" % i} for i in range(1, 27)]
        self.err("InvalidParameterException", "put_replication_configuration",
                 replicationConfiguration={"rules": [{"destinations": many}]})
        self.err("ValidationException", "put_replication_configuration")
        # nothing was stored
        self.assertEqual(self.ok("describe_registry")["replicationConfiguration"], {"rules": []})

    def test_image_replication_status(self):
        prod = self.repo("prod/app")
        dev = self.repo("dev/app")
        before = self.push(prod, "before", "before")
        self.ok("put_replication_configuration", replicationConfiguration={"rules": [
            {"destinations": [WEST, OTHER], "repositoryFilters": [{"filter": "prod", "filterType": "PREFIX_MATCH"}]}]})
        # pushed before the configuration: no status
        out = self.ok("describe_image_replication_status", repositoryName=prod, imageId={"imageDigest": before})
        self.assertEqual(out, {"repositoryName": prod, "imageId": {"imageDigest": before}, "replicationStatuses": []})
        # pushed after: queued for both destinations; ecrd's replicator works them at once, so the status is
        # IN_PROGRESS until each ends: the other region of this account COMPLETE, the other account (its registry
        # policy does not allow this account) FAILED with the reason; by digest or by tag alike
        after = self.push(prod, "v1", "after")
        out = self.ok("describe_image_replication_status", repositoryName=prod, imageId={"imageDigest": after})
        self.assertEqual([(s["region"], s["registryId"]) for s in out["replicationStatuses"]],
                         [("eu-west-1", fx.DEFAULT_ACCOUNT), ("us-east-1", fx.OTHER_ACCOUNT)])
        for s in out["replicationStatuses"]:
            self.assertIn(s["status"], ("IN_PROGRESS", "COMPLETE", "FAILED"))
        deadline = time.time() + 60
        while True:
            out = self.ok("describe_image_replication_status", repositoryName=prod, imageId={"imageDigest": after})
            if all(s["status"] != "IN_PROGRESS" for s in out["replicationStatuses"]) or time.time() > deadline:
                break
            time.sleep(0.2)
        got = [(s["region"], s["registryId"], s["status"]) for s in out["replicationStatuses"]]
        self.assertEqual(got, [("eu-west-1", fx.DEFAULT_ACCOUNT, "COMPLETE"),
                               ("us-east-1", fx.OTHER_ACCOUNT, "FAILED")])
        self.assertNotIn("failureCode", out["replicationStatuses"][0])
        self.assertIn("failureCode", out["replicationStatuses"][1])
        by_tag = self.ok("describe_image_replication_status", repositoryName=prod, imageId={"imageTag": "v1"})
        self.assertEqual(by_tag, {"repositoryName": prod, "imageId": {"imageDigest": after, "imageTag": "v1"},
                                  "replicationStatuses": out["replicationStatuses"]})
        # a repository no filter selects
        other = self.push(dev, "v1", "dev")
        out = self.ok("describe_image_replication_status", repositoryName=dev, imageId={"imageDigest": other})
        self.assertEqual(out["replicationStatuses"], [])
        # errors
        self.err("RepositoryNotFoundException", "describe_image_replication_status", repositoryName="prod/nope",
                 imageId={"imageDigest": after})
        self.err("ImageNotFoundException", "describe_image_replication_status", repositoryName=prod,
                 imageId={"imageTag": "nope"},
                 msg="The image with imageId {imageDigest:'null', imageTag:'nope'} does not exist within the "
                     "repository with name '%s' in the registry with id '%s'" % (prod, fx.DEFAULT_ACCOUNT))
        self.err("ImageNotFoundException", "describe_image_replication_status", repositoryName=prod,
                 imageId={"imageDigest": after, "imageTag": "before"})
        self.err("InvalidParameterException", "describe_image_replication_status", repositoryName=prod,
                 imageId={})
        self.err("AccessDeniedException", "describe_image_replication_status", c=self.dave, repositoryName=prod,
                 imageId={"imageDigest": after})


if __name__ == "__main__":
    ECRD = fx.ecrd_path(sys.argv)
    sys.exit(fx.run_main(sys.argv))
