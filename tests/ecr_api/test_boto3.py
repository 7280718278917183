#!/usr/bin/python3
"""End-to-end tests of ecrd's ECR API with boto3 (Debian python3-boto3).

Usage: test_boto3.py /path/to/ecrd [-v] [TestClass[.test_name] ...]   (or ECRD=...)

Starts its own ecrd (--listen 127.0.0.1:0, a temporary --data, authentication
on), reads the administrator's credentials from <data>/credentials, adds a
principal of account 222222222222 with `ecrd principal add` (ecrd stopped:
the data folder is locked while it runs), restarts ecrd, then runs every
operation of issue 4: success paths with their exact output shapes (the raw
JSON checked against the reference model ecr-service-2.json), their
documented errors (__type, HTTP status, x-amzn-ErrorType, message shape),
pagination, two accounts and two regions kept apart, cross-account pulls
granted and then denied by a repository policy (control plane and /v2/), and
the layer upload API flow ending with an HTTP GET of GetDownloadUrlForLayer's
URL.

The stock Debian botocore (1.29) model lacks a few newer operations and
members (GetAccountSetting, PutAccountSetting, ListImageReferrers, tag
mutability exclusion filters); those calls go through a second client built
by the same botocore from the reference model (a data path in front of the
stock one). Everything else uses the stock client.

The last output line is "N passed, M failed".
"""

import json
import os
import re
import sys
import time
import unittest
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ecrd_fixture as fx  # noqa: E402

import botocore.config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

ECRD = None
SRV = None
ADMIN = None  # (key id, secret) of the first-start administrator (account 123456789012)
BOB = None    # (key id, secret) of arn:aws:iam::222222222222:user/bob
BOB_ARN = "arn:aws:iam::%s:user/bob" % fx.OTHER_ACCOUNT
ACCT = fx.DEFAULT_ACCOUNT
CONFIG = botocore.config.Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30,
                                parameter_validation=True)
_SEQ = [0]


def uniq(prefix):
    _SEQ[0] += 1
    return "%s-%d-%s" % (prefix, _SEQ[0], uuid.uuid4().hex[:6])


def make_client(key, region="us-east-1", reference_model=False):
    return fx.make_client(SRV, key, CONFIG, region=region, reference_model=reference_model)


def setUpModule():
    global SRV, ADMIN, BOB
    bob_policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}]}
    SRV, ADMIN, (BOB,) = fx.start_ecrd(ECRD, principals=[(BOB_ARN, bob_policy)])


def tearDownModule():
    fx.stop_ecrd(SRV, tail=200)


class Base(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.c = make_client(ADMIN)
        cls.r = make_client(ADMIN, reference_model=True)
        cls.blobs_done = set()

    # --- calls ------------------------------------------------------------------------------

    def ok(self, op, client=None, **kw):
        """Call operation op (snake_case); check HTTP 200, headers and the raw
        JSON against the output shape; return the raw JSON object."""
        c = client or self.c
        try:
            getattr(c, op)(**kw)
        except ClientError as e:
            self.fail("%s(%s): unexpected %s: %s" % (op, _short(kw), e.response["Error"].get("Code"),
                                                     e.response["Error"].get("Message")))
        raw = c._raw
        self.assertEqual(raw["status"], 200)
        self.assertTrue(raw["headers"].get("x-amzn-requestid"), "%s: no x-amzn-RequestId" % op)
        self.assertIn("application/x-amz-json-1.1", raw["headers"].get("content-type", ""))
        body = json.loads(raw["body"] or b"{}")
        shape = fx.output_shape(raw["op"])
        if shape:
            problems = fx.check_shape(body, shape)
            self.assertEqual(problems, [], "%s output %s" % (raw["op"], _short(body)))
        return body

    def err(self, code, op, msg=None, client=None, status=400, **kw):
        """Call op, expect error code (a string or a tuple of acceptable codes);
        msg is a regex the message must match (re.fullmatch). Returns the message."""
        c = client or self.c
        codes = (code,) if isinstance(code, str) else tuple(code)
        try:
            getattr(c, op)(**kw)
        except ClientError as e:
            got = e.response["Error"].get("Code")
            message = e.response["Error"].get("Message") or ""
            self.assertIn(got, codes, "%s(%s): expected %s, got %s: %s" % (op, _short(kw), "|".join(codes), got,
                                                                          message))
            raw = c._raw
            self.assertEqual(raw["status"], status, "%s -> %s: HTTP status" % (op, got))
            self.assertEqual(raw["headers"].get("x-amzn-errortype", got).split(":")[0], got)
            self.assertTrue(raw["headers"].get("x-amzn-requestid"), "%s: no x-amzn-RequestId on error" % op)
            body = json.loads(raw["body"])
            self.assertEqual(body.get("__type", "").split("#")[-1], got)
            self.assertTrue(message, "%s -> %s: empty message" % (op, got))
            if code in fx.model()["shapes"] and fx.model()["shapes"][got]["type"] == "structure":
                self.assertEqual(fx.check_shape(body_members(body), got), [], "%s body" % got)
            if msg is not None:
                self.assertRegex(message, "^(?:" + msg + ")$")
            return message
        self.fail("%s(%s): expected %s, got success %s" % (op, _short(kw), "|".join(codes),
                                                           _short(c._raw.get("body"))))

    # --- fixtures ---------------------------------------------------------------------------

    def repo(self, prefix="r", client=None, **kw):
        name = uniq(prefix)
        self.ok("create_repository", client=client, repositoryName=name, **kw)
        return name

    def upload_blob(self, repo, data, client=None, registry_id=None):
        c = client or self.c
        extra = {"registryId": registry_id} if registry_id else {}
        up = self.ok("initiate_layer_upload", client=c, repositoryName=repo, **extra)
        self.ok("upload_layer_part", client=c, repositoryName=repo, uploadId=up["uploadId"], partFirstByte=0,
                partLastByte=len(data) - 1, layerPartBlob=data, **extra)
        done = self.ok("complete_layer_upload", client=c, repositoryName=repo, uploadId=up["uploadId"],
                       layerDigests=[fx.sha256(data)], **extra)
        self.assertEqual(done["layerDigest"], fx.sha256(data))
        return done["layerDigest"]

    def base_blobs(self, repo, client=None):
        config = fx.jbytes({"architecture": "amd64", "os": "linux",
                            "rootfs": {"type": "layers", "diff_ids": [fx.sha256(b"layer-" + repo.encode())]}})
        layer = b"layer-" + repo.encode() + b"\x00" * 100
        c = client or self.c
        key = (c.meta.region_name, c._request_signer._credentials.access_key, repo)
        if key not in self.blobs_done:
            self.upload_blob(repo, config, client)
            self.upload_blob(repo, layer, client)
            self.blobs_done.add(key)
        return config, layer

    def manifest(self, repo, variant="a", client=None, **extra):
        config, layer = self.base_blobs(repo, client)
        m = {"schemaVersion": 2, "mediaType": fx.MT_OCI_MANIFEST,
             "config": {"mediaType": fx.MT_OCI_CONFIG, "digest": fx.sha256(config), "size": len(config)},
             "layers": [{"mediaType": fx.MT_OCI_LAYER, "digest": fx.sha256(layer), "size": len(layer)}],
             "annotations": {"variant": variant}}
        m.update(extra)
        return json.dumps(m, indent=1).encode()

    def push(self, repo, tag=None, variant="a", client=None, **kw):
        body = self.manifest(repo, variant, client)
        args = {"repositoryName": repo, "imageManifest": body.decode()}
        if tag:
            args["imageTag"] = tag
        args.update(kw)
        out = self.ok("put_image", client=client, **args)
        self.assertEqual(out["image"]["imageId"]["imageDigest"], fx.sha256(body))
        return fx.sha256(body), body

    def assertNoRepo(self, name, client=None):
        self.err("RepositoryNotFoundException", "describe_repositories", client=client, repositoryNames=[name])


def body_members(body):
    return {k: v for k, v in body.items() if k not in ("__type", "Message")}


def _short(v):
    s = repr(v)
    return s if len(s) < 300 else s[:300] + "..."


def not_found_msg(name, acct=ACCT):
    return re.escape("The repository with name '%s' does not exist in the registry with id '%s'" % (name, acct))


def now():
    return time.time()


# ------------------------------------------------------------------------------------------
# Repositories


class T01Repositories(Base):
    def test_first_start_prints_environment(self):
        out = SRV.first_start_stdout
        self.assertIn("AWS_SHARED_CREDENTIALS_FILE=", out)
        self.assertIn("AWS_ENDPOINT_URL=", out)
        self.assertIn("AWS_DEFAULT_REGION=", out)
        st = os.stat(SRV.credentials_path())
        self.assertEqual(st.st_mode & 0o777, 0o600)

    def test_create_repository_defaults(self):
        name = uniq("create")
        t0 = now()
        out = self.ok("create_repository", repositoryName=name)
        r = out["repository"]
        self.assertEqual(r["repositoryArn"], "arn:aws:ecr:us-east-1:%s:repository/%s" % (ACCT, name))
        self.assertEqual(r["registryId"], ACCT)
        self.assertEqual(r["repositoryName"], name)
        self.assertTrue(r["repositoryUri"].endswith("/" + name), r["repositoryUri"])
        self.assertNotIn("://", r["repositoryUri"])
        self.assertEqual(r["imageTagMutability"], "MUTABLE")
        self.assertEqual(r["imageScanningConfiguration"], {"scanOnPush": False})
        self.assertEqual(r["encryptionConfiguration"], {"encryptionType": "AES256"})
        self.assertNotIn("imageTagMutabilityExclusionFilters", r)
        self.assertLess(abs(r["createdAt"] - t0), 60)

    def test_create_repository_options(self):
        name = uniq("opts")
        out = self.ok("create_repository", repositoryName=name, imageTagMutability="IMMUTABLE",
                      imageScanningConfiguration={"scanOnPush": True}, tags=[{"Key": "team", "Value": "a"}],
                      encryptionConfiguration={"encryptionType": "KMS"})
        r = out["repository"]
        self.assertEqual(r["imageTagMutability"], "IMMUTABLE")
        self.assertEqual(r["imageScanningConfiguration"], {"scanOnPush": True})
        self.assertEqual(r["encryptionConfiguration"]["encryptionType"], "KMS")
        tags = self.ok("list_tags_for_resource", resourceArn=r["repositoryArn"])["tags"]
        self.assertEqual(tags, [{"Key": "team", "Value": "a"}])

    def test_create_repository_nested_name(self):
        name = uniq("team") + "/web/app"
        out = self.ok("create_repository", repositoryName=name)
        self.assertEqual(out["repository"]["repositoryName"], name)

    def test_create_repository_already_exists(self):
        name = self.repo("dup")
        self.err("RepositoryAlreadyExistsException", "create_repository", repositoryName=name,
                 msg=re.escape("The repository with name '%s' already exists in the registry with id '%s'"
                               % (name, ACCT)))

    def test_create_repository_invalid_name(self):
        for bad in ("ABC", "a" * 300, "bad//name", "-x", "x_"):
            m = self.err("InvalidParameterException", "create_repository", repositoryName=bad)
            self.assertTrue(m.startswith("Invalid parameter at 'repositoryName' failed to satisfy constraint: '"),
                            m)
        self.assertNoRepo("abc")

    def test_create_repository_invalid_tags(self):
        name = uniq("badtags")
        self.err("InvalidTagParameterException", "create_repository", repositoryName=name,
                 tags=[{"Key": "aws:reserved", "Value": "x"}])
        self.assertNoRepo(name)
        self.err("InvalidTagParameterException", "create_repository", repositoryName=name,
                 tags=[{"Key": "k" * 129, "Value": "x"}])
        self.assertNoRepo(name)
        self.err("TooManyTagsException", "create_repository", repositoryName=name,
                 tags=[{"Key": "k%d" % i, "Value": "v"} for i in range(51)])
        self.assertNoRepo(name)

    def test_create_repository_invalid_enum(self):
        name = uniq("enum")
        self.err("InvalidParameterException", "create_repository", repositoryName=name,
                 imageTagMutability="SOMETIMES")
        self.assertNoRepo(name)

    def test_create_repository_exclusion_filters(self):
        name = uniq("excl")
        out = self.ok("create_repository", client=self.r, repositoryName=name,
                      imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
                      imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest"}])
        self.assertEqual(out["repository"]["imageTagMutabilityExclusionFilters"],
                         [{"filterType": "WILDCARD", "filter": "latest"}])
        bad = uniq("excl")
        self.err(("InvalidParameterException", "ValidationException"), "create_repository", client=self.r,
                 repositoryName=bad, imageTagMutability="MUTABLE",
                 imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest"}])
        self.err(("InvalidParameterException", "ValidationException"), "create_repository", client=self.r,
                 repositoryName=bad, imageTagMutability="MUTABLE_WITH_EXCLUSION")
        self.assertNoRepo(bad)

    def test_create_repository_other_account_denied(self):
        name = uniq("foreign")
        self.err("AccessDeniedException", "create_repository", repositoryName=name,
                 registryId=fx.OTHER_ACCOUNT)
        bob = make_client(BOB)
        self.assertNoRepo(name, client=bob)

    def test_describe_repositories_by_name(self):
        a, b = self.repo("desc"), self.repo("desc")
        out = self.ok("describe_repositories", repositoryNames=[a, b])
        self.assertEqual(sorted(x["repositoryName"] for x in out["repositories"]), sorted([a, b]))
        self.assertNotIn("nextToken", out)
        full = self.ok("describe_repositories")
        self.assertTrue({a, b} <= {x["repositoryName"] for x in full["repositories"]})

    def test_describe_repositories_not_found(self):
        a = self.repo("desc")
        missing = uniq("missing")
        self.err("RepositoryNotFoundException", "describe_repositories", repositoryNames=[a, missing],
                 msg=not_found_msg(missing))

    def test_describe_repositories_invalid_parameters(self):
        a = self.repo("desc")
        self.err("InvalidParameterException", "describe_repositories", repositoryNames=[a], maxResults=5)
        self.err("InvalidParameterException", "describe_repositories", maxResults=1001)
        self.err("InvalidParameterException", "describe_repositories", nextToken="garbage-token")
        self.err("InvalidParameterException", "describe_repositories", registryId="12345")

    def test_describe_repositories_pagination(self):
        region = "ca-central-1"
        c = make_client(ADMIN, region)
        names = sorted(uniq("page") for _ in range(7))
        for n in names:
            self.ok("create_repository", client=c, repositoryName=n)
        pages, token = [], None
        while True:
            kw = {"maxResults": 3}
            if token:
                kw["nextToken"] = token
            out = self.ok("describe_repositories", client=c, **kw)
            pages.append([x["repositoryName"] for x in out["repositories"]])
            token = out.get("nextToken")
            if not token:
                break
            self.assertIsInstance(token, str)
            self.assertLessEqual(len(pages), 10, "pagination does not end")
        self.assertEqual([len(p) for p in pages], [3, 3, 1])
        self.assertEqual(sorted(sum(pages, [])), names)
        # the paginator
        seen = []
        n_pages = 0
        for page in c.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": 2}):
            n_pages += 1
            seen += [x["repositoryName"] for x in page["repositories"]]
        self.assertEqual(n_pages, 4)
        self.assertEqual(sorted(seen), names)
        # default page: all 7
        self.assertEqual(len(self.ok("describe_repositories", client=c)["repositories"]), 7)

    def test_delete_repository(self):
        name = self.repo("del")
        out = self.ok("delete_repository", repositoryName=name)
        self.assertEqual(out["repository"]["repositoryName"], name)
        self.assertEqual(out["repository"]["registryId"], ACCT)
        self.assertNoRepo(name)
        self.err("RepositoryNotFoundException", "delete_repository", repositoryName=name, msg=not_found_msg(name))

    def test_delete_repository_not_empty(self):
        name = self.repo("nonempty")
        self.push(name, "v1")
        self.err("RepositoryNotEmptyException", "delete_repository", repositoryName=name,
                 msg=re.escape("The repository with name '%s' in registry with id '%s' cannot be deleted because "
                               "it still contains images" % (name, ACCT)))
        self.ok("describe_repositories", repositoryNames=[name])
        self.ok("set_repository_policy", repositoryName=name, policyText=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
                                                     "Action": "ecr:BatchGetImage"}]}))
        out = self.ok("delete_repository", repositoryName=name, force=True)
        self.assertEqual(out["repository"]["repositoryName"], name)
        self.assertNoRepo(name)
        # a new repository with the same name is empty and has no policy
        self.ok("create_repository", repositoryName=name)
        self.assertEqual(self.ok("list_images", repositoryName=name)["imageIds"], [])
        self.err("RepositoryPolicyNotFoundException", "get_repository_policy", repositoryName=name)

    def test_put_image_tag_mutability(self):
        name = self.repo("mut")
        d1, _ = self.push(name, "v1", "a")
        out = self.ok("put_image_tag_mutability", repositoryName=name, imageTagMutability="IMMUTABLE")
        self.assertEqual(out, {"registryId": ACCT, "repositoryName": name, "imageTagMutability": "IMMUTABLE"})
        body = self.manifest(name, "b")
        self.err("ImageTagAlreadyExistsException", "put_image", repositoryName=name, imageTag="v1",
                 imageManifest=body.decode())
        self.assertEqual(self.ok("describe_repositories", repositoryNames=[name])["repositories"][0]
                         ["imageTagMutability"], "IMMUTABLE")
        self.ok("put_image_tag_mutability", repositoryName=name, imageTagMutability="MUTABLE")
        self.push(name, "v1", "b")
        self.err("RepositoryNotFoundException", "put_image_tag_mutability", repositoryName=uniq("nope"),
                 imageTagMutability="MUTABLE")
        self.err("InvalidParameterException", "put_image_tag_mutability", repositoryName=name,
                 imageTagMutability="FROZEN")

    def test_put_image_tag_mutability_exclusion_filters(self):
        name = self.repo("mutx")
        out = self.ok("put_image_tag_mutability", client=self.r, repositoryName=name,
                      imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
                      imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "dev-*"}])
        self.assertEqual(out["imageTagMutability"], "IMMUTABLE_WITH_EXCLUSION")
        self.assertEqual(out["imageTagMutabilityExclusionFilters"], [{"filterType": "WILDCARD", "filter": "dev-*"}])
        self.push(name, "dev-1", "a", client=self.r)
        self.push(name, "dev-1", "b", client=self.r)  # excluded: stays mutable
        self.push(name, "v1", "a", client=self.r)
        self.err("ImageTagAlreadyExistsException", "put_image", client=self.r, repositoryName=name, imageTag="v1",
                 imageManifest=self.manifest(name, "c").decode())
        self.err(("InvalidParameterException", "ValidationException"), "put_image_tag_mutability", client=self.r,
                 repositoryName=name, imageTagMutability="IMMUTABLE_WITH_EXCLUSION")

    def test_put_image_scanning_configuration(self):
        name = self.repo("scan")
        out = self.ok("put_image_scanning_configuration", repositoryName=name,
                      imageScanningConfiguration={"scanOnPush": True})
        self.assertEqual(out, {"registryId": ACCT, "repositoryName": name,
                               "imageScanningConfiguration": {"scanOnPush": True}})
        r = self.ok("describe_repositories", repositoryNames=[name])["repositories"][0]
        self.assertEqual(r["imageScanningConfiguration"], {"scanOnPush": True})
        self.err("RepositoryNotFoundException", "put_image_scanning_configuration", repositoryName=uniq("nope"),
                 imageScanningConfiguration={"scanOnPush": True})


# ------------------------------------------------------------------------------------------
# Images


class T02Images(Base):
    def test_put_image_shape(self):
        name = self.repo("img")
        body = self.manifest(name, "a")
        out = self.ok("put_image", repositoryName=name, imageTag="v1", imageManifest=body.decode())
        self.assertEqual(out["image"], {"registryId": ACCT, "repositoryName": name,
                                        "imageId": {"imageDigest": fx.sha256(body), "imageTag": "v1"},
                                        "imageManifest": body.decode(),
                                        "imageManifestMediaType": fx.MT_OCI_MANIFEST})

    def test_put_image_errors(self):
        name = self.repo("imgerr")
        d, body = self.push(name, "v1", "a")
        self.err("ImageAlreadyExistsException", "put_image", repositoryName=name, imageTag="v1",
                 imageManifest=body.decode(),
                 msg=re.escape("Image with digest '%s' and tag 'v1' already exists in the repository with name "
                               "'%s' in registry with id '%s'" % (d, name, ACCT)))
        other = self.manifest(name, "b")
        self.err("ImageDigestDoesNotMatchException", "put_image", repositoryName=name, imageTag="v2",
                 imageManifest=other.decode(), imageDigest="sha256:" + "0" * 64)
        ghost = json.loads(other)
        ghost["layers"] = [{"mediaType": fx.MT_OCI_LAYER, "digest": "sha256:" + "ab" * 32, "size": 3}]
        self.err("LayersNotFoundException", "put_image", repositoryName=name, imageTag="v3",
                 imageManifest=json.dumps(ghost))
        missing_child = fx.sha256(b"no such manifest")
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": [{"mediaType": fx.MT_OCI_MANIFEST, "digest": missing_child, "size": 16,
                                "platform": {"architecture": "amd64", "os": "linux"}}]}
        self.err("ReferencedImagesNotFoundException", "put_image", repositoryName=name, imageTag="v4",
                 imageManifest=json.dumps(index))
        m = self.err("InvalidParameterException", "put_image", repositoryName=name, imageTag="v5",
                     imageManifest="this is not json")
        self.assertTrue(m.startswith("Invalid parameter at "), m)
        self.err("RepositoryNotFoundException", "put_image", repositoryName=uniq("nope"), imageTag="x",
                 imageManifest=body.decode())
        # nothing of the above was stored
        tags = sorted(i.get("imageTag") for i in self.ok("list_images", repositoryName=name)["imageIds"])
        self.assertEqual(tags, ["v1"])

    def test_put_image_retag_and_move(self):
        name = self.repo("retag")
        d1, b1 = self.push(name, "v1", "a")
        out = self.ok("put_image", repositoryName=name, imageTag="latest", imageManifest=b1.decode())
        self.assertEqual(out["image"]["imageId"], {"imageDigest": d1, "imageTag": "latest"})
        d2, _ = self.push(name, "latest", "b")
        det = {x["imageDigest"]: x for x in self.ok("describe_images", repositoryName=name)["imageDetails"]}
        self.assertEqual(det[d1]["imageTags"], ["v1"])
        self.assertEqual(det[d2]["imageTags"], ["latest"])
        self.push(name, "v1", "b")  # v1 moves: d1 stays as an untagged image
        det = {x["imageDigest"]: x for x in self.ok("describe_images", repositoryName=name)["imageDetails"]}
        self.assertIn(d1, det)
        self.assertNotIn("imageTags", det[d1])
        self.assertEqual(sorted(det[d2]["imageTags"]), ["latest", "v1"])

    def test_batch_get_image(self):
        name = self.repo("bgi")
        d, body = self.push(name, "v1")
        self.push(name, "v2", "other")
        out = self.ok("batch_get_image", repositoryName=name, imageIds=[{"imageTag": "v1"}, {"imageDigest": d}])
        self.assertEqual(out["failures"], [])
        self.assertEqual(len(out["images"]), 2)
        for img in out["images"]:
            self.assertEqual(img["imageManifest"], body.decode())
            self.assertEqual(img["imageId"]["imageDigest"], d)
            self.assertEqual(img["registryId"], ACCT)
            self.assertEqual(img["repositoryName"], name)
            self.assertEqual(img["imageManifestMediaType"], fx.MT_OCI_MANIFEST)
        out = self.ok("batch_get_image", repositoryName=name, imageIds=[
            {"imageTag": "nope"}, {"imageDigest": d, "imageTag": "v2"}, {"imageDigest": "sha256:xyz"}])
        self.assertEqual(out["images"], [])
        codes = sorted(f["failureCode"] for f in out["failures"])
        self.assertEqual(codes, sorted(["ImageNotFound", "ImageTagDoesNotMatchDigest", "InvalidImageDigest"]))
        for f in out["failures"]:
            self.assertTrue(f.get("failureReason"))
            if f["failureCode"] == "ImageNotFound":
                self.assertEqual(f["failureReason"], "Requested image not found")
                self.assertEqual(f["imageId"], {"imageTag": "nope"})
        self.err("RepositoryNotFoundException", "batch_get_image", repositoryName=uniq("nope"),
                 imageIds=[{"imageTag": "v1"}])

    def test_batch_get_image_accepted_media_types(self):
        name = self.repo("bgimt")
        d, body = self.push(name, "v1")
        out = self.ok("batch_get_image", repositoryName=name, imageIds=[{"imageDigest": d}],
                      acceptedMediaTypes=[fx.MT_OCI_MANIFEST])
        self.assertEqual(len(out["images"]), 1)

    def test_batch_delete_image(self):
        name = self.repo("bdi")
        d1, _ = self.push(name, "v1", "a")
        self.ok("put_image", repositoryName=name, imageTag="v1b", imageManifest=self.manifest(name, "a").decode())
        d2, _ = self.push(name, "v2", "b")
        d3, _ = self.push(name, None, "c")
        out = self.ok("batch_delete_image", repositoryName=name, imageIds=[{"imageTag": "v1"}])
        self.assertEqual(out, {"imageIds": [{"imageDigest": d1, "imageTag": "v1"}], "failures": []})
        out = self.ok("batch_delete_image", repositoryName=name, imageIds=[{"imageDigest": d2}])
        self.assertEqual(out["imageIds"], [{"imageDigest": d2, "imageTag": "v2"}])
        out = self.ok("batch_delete_image", repositoryName=name, imageIds=[{"imageDigest": d3}])
        self.assertEqual(out["imageIds"], [{"imageDigest": d3}])
        out = self.ok("batch_delete_image", repositoryName=name, imageIds=[
            {}, {"imageTag": "gone"}, {"imageDigest": "nope"}, {"imageDigest": d2, "imageTag": "v1b"}])
        self.assertEqual(out["imageIds"], [])
        codes = sorted(f["failureCode"] for f in out["failures"])
        self.assertIn("MissingDigestAndTag", codes)
        self.assertIn("ImageNotFound", codes)
        self.assertIn("InvalidImageDigest", codes)
        for f in out["failures"]:
            if f["failureCode"] == "MissingDigestAndTag":
                self.assertEqual(f["failureReason"], "Invalid request parameters: both tag and digest cannot be null")
        left = self.ok("list_images", repositoryName=name)["imageIds"]
        self.assertEqual(left, [{"imageDigest": d1, "imageTag": "v1b"}])
        self.err("RepositoryNotFoundException", "batch_delete_image", repositoryName=uniq("nope"),
                 imageIds=[{"imageTag": "v1"}])

    def test_list_images(self):
        name = self.repo("li")
        d1, b1 = self.push(name, "v1", "a")
        self.ok("put_image", repositoryName=name, imageTag="v1-alias", imageManifest=b1.decode())
        d2, _ = self.push(name, None, "b")
        ids = self.ok("list_images", repositoryName=name)["imageIds"]
        key = lambda i: (i["imageDigest"], i.get("imageTag", ""))  # noqa: E731
        self.assertEqual(sorted(ids, key=key), sorted([{"imageDigest": d1, "imageTag": "v1"},
                                                       {"imageDigest": d1, "imageTag": "v1-alias"},
                                                       {"imageDigest": d2}], key=key))
        tagged = self.ok("list_images", repositoryName=name, filter={"tagStatus": "TAGGED"})["imageIds"]
        self.assertEqual(len(tagged), 2)
        untagged = self.ok("list_images", repositoryName=name, filter={"tagStatus": "UNTAGGED"})["imageIds"]
        self.assertEqual(untagged, [{"imageDigest": d2}])
        self.err("RepositoryNotFoundException", "list_images", repositoryName=uniq("nope"))
        self.err("InvalidParameterException", "list_images", repositoryName=name, maxResults=1001)
        self.err("InvalidParameterException", "list_images", repositoryName=name, filter={"tagStatus": "SOME"})

    def _seven(self):
        name = self.repo("pg")
        digests = []
        for i in range(7):
            d, _ = self.push(name, "t%d" % i, "v%d" % i)
            digests.append(d)
        return name, digests

    def _pages(self, op, key, **kw):
        pages, token = [], None
        while True:
            args = dict(kw)
            if token:
                args["nextToken"] = token
            out = self.ok(op, **args)
            pages.append(out[key])
            token = out.get("nextToken")
            if not token:
                return pages
            self.assertLessEqual(len(pages), 20, "pagination does not end")

    def test_list_images_pagination(self):
        name, digests = self._seven()
        pages = self._pages("list_images", "imageIds", repositoryName=name, maxResults=3)
        self.assertEqual([len(p) for p in pages], [3, 3, 1])
        self.assertEqual(sorted(i["imageTag"] for p in pages for i in p), ["t%d" % i for i in range(7)])
        n, seen = 0, []
        for page in self.c.get_paginator("list_images").paginate(repositoryName=name,
                                                                 PaginationConfig={"PageSize": 2}):
            n += 1
            seen += page["imageIds"]
        self.assertEqual(n, 4)
        self.assertEqual(sorted(i["imageDigest"] for i in seen), sorted(digests))
        self.err("InvalidParameterException", "list_images", repositoryName=name, nextToken="not-a-token")

    def test_describe_images(self):
        name = self.repo("di")
        t0 = now()
        d1, b1 = self.push(name, "v1", "a")
        d2, _ = self.push(name, None, "b")
        config, layer = self.base_blobs(name)
        out = self.ok("describe_images", repositoryName=name)
        det = {x["imageDigest"]: x for x in out["imageDetails"]}
        self.assertEqual(set(det), {d1, d2})
        a = det[d1]
        self.assertEqual(a["registryId"], ACCT)
        self.assertEqual(a["repositoryName"], name)
        self.assertEqual(a["imageTags"], ["v1"])
        self.assertIn(a["imageSizeInBytes"], (len(layer), len(layer) + len(config)))
        self.assertLess(abs(a["imagePushedAt"] - t0), 60)
        self.assertEqual(a["imageManifestMediaType"], fx.MT_OCI_MANIFEST)
        self.assertEqual(a.get("artifactMediaType", fx.MT_OCI_CONFIG), fx.MT_OCI_CONFIG)
        self.assertNotIn("imageTags", det[d2])
        self.assertNotIn("lastRecordedPullTime", det[d2])
        one = self.ok("describe_images", repositoryName=name, imageIds=[{"imageTag": "v1"}])["imageDetails"]
        self.assertEqual([x["imageDigest"] for x in one], [d1])
        tagged = self.ok("describe_images", repositoryName=name, filter={"tagStatus": "UNTAGGED"})
        self.assertEqual([x["imageDigest"] for x in tagged["imageDetails"]], [d2])

    def test_describe_images_errors(self):
        name = self.repo("dierr")
        d1, _ = self.push(name, "v1")
        m = self.err("ImageNotFoundException", "describe_images", repositoryName=name,
                     imageIds=[{"imageTag": "v1"}, {"imageTag": "missing"}])
        self.assertIn("does not exist within the repository with name '%s' in the registry with id '%s'"
                      % (name, ACCT), m)
        self.assertTrue(m.startswith("The image with imageId {"), m)
        self.err("RepositoryNotFoundException", "describe_images", repositoryName=uniq("nope"))
        self.err("InvalidParameterException", "describe_images", repositoryName=name,
                 imageIds=[{"imageTag": "v1"}], maxResults=3)
        self.err("InvalidParameterException", "describe_images", repositoryName=name, maxResults=1001)

    def test_describe_images_pagination(self):
        name, digests = self._seven()
        pages = self._pages("describe_images", "imageDetails", repositoryName=name, maxResults=3)
        self.assertEqual([len(p) for p in pages], [3, 3, 1])
        self.assertEqual(sorted(x["imageDigest"] for p in pages for x in p), sorted(digests))
        n, seen = 0, []
        for page in self.c.get_paginator("describe_images").paginate(repositoryName=name,
                                                                     PaginationConfig={"PageSize": 3}):
            n += 1
            seen += [x["imageDigest"] for x in page["imageDetails"]]
        self.assertEqual(n, 3)
        self.assertEqual(sorted(seen), sorted(digests))

    def test_list_image_referrers(self):
        name = self.repo("ref")
        d, body = self.push(name, "v1", client=self.r)
        empty = b"{}"
        self.upload_blob(name, empty, client=self.r)
        _, layer = self.base_blobs(name, client=self.r)
        ref = {"schemaVersion": 2, "mediaType": fx.MT_OCI_MANIFEST, "artifactType": "application/vnd.example.sbom",
               "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": fx.sha256(empty), "size": 2},
               "layers": [{"mediaType": fx.MT_OCI_LAYER, "digest": fx.sha256(layer), "size": len(layer)}],
               "subject": {"mediaType": fx.MT_OCI_MANIFEST, "digest": d, "size": len(body)}}
        rb = json.dumps(ref).encode()
        self.ok("put_image", client=self.r, repositoryName=name, imageManifest=rb.decode())
        out = self.ok("list_image_referrers", client=self.r, repositoryName=name, subjectId={"imageDigest": d})
        self.assertEqual(len(out["referrers"]), 1)
        r = out["referrers"][0]
        self.assertEqual(r["digest"], fx.sha256(rb))
        self.assertEqual(r["mediaType"], fx.MT_OCI_MANIFEST)
        self.assertEqual(r["artifactType"], "application/vnd.example.sbom")
        self.assertEqual(r["size"], len(rb))
        none = self.ok("list_image_referrers", client=self.r, repositoryName=name,
                       subjectId={"imageDigest": fx.sha256(rb)})
        self.assertEqual(none["referrers"], [])
        flt = self.ok("list_image_referrers", client=self.r, repositoryName=name, subjectId={"imageDigest": d},
                      filter={"artifactTypes": ["application/other"]})
        self.assertEqual(flt["referrers"], [])
        det = {x["imageDigest"]: x for x in self.ok("describe_images", client=self.r,
                                                    repositoryName=name)["imageDetails"]}
        self.assertEqual(det[fx.sha256(rb)].get("subjectManifestDigest"), d)
        self.err("RepositoryNotFoundException", "list_image_referrers", client=self.r, repositoryName=uniq("nope"),
                 subjectId={"imageDigest": d})
        self.err(("ValidationException", "InvalidParameterException"), "list_image_referrers", client=self.r,
                 repositoryName=name, subjectId={"imageDigest": d}, maxResults=51)


# ------------------------------------------------------------------------------------------
# Layers


class T03Layers(Base):
    def test_layer_upload_flow(self):
        name = self.repo("layers")
        config = fx.jbytes({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}})
        part1 = bytes(range(256)) * (5 * 1024 * 4)  # 5 MiB: a non-final part must be >= 5 MiB
        part2 = b"tail of the layer" * 100
        layer = part1 + part2
        dl = fx.sha256(layer)
        chk = self.ok("batch_check_layer_availability", repositoryName=name, layerDigests=[dl])
        for l in chk["layers"]:
            self.assertEqual(l["layerAvailability"], "UNAVAILABLE")
        for f in chk["failures"]:
            self.assertEqual(f["failureCode"], "MissingLayerDigest")
        self.assertEqual(len(chk["layers"]) + len(chk["failures"]), 1)
        up = self.ok("initiate_layer_upload", repositoryName=name)
        self.assertRegex(up["uploadId"], r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
        self.assertIsInstance(up["partSize"], int)
        self.assertGreater(up["partSize"], 0)
        o1 = self.ok("upload_layer_part", repositoryName=name, uploadId=up["uploadId"], partFirstByte=0,
                     partLastByte=len(part1) - 1, layerPartBlob=part1)
        self.assertEqual(o1, {"registryId": ACCT, "repositoryName": name, "uploadId": up["uploadId"],
                              "lastByteReceived": len(part1) - 1})
        o2 = self.ok("upload_layer_part", repositoryName=name, uploadId=up["uploadId"], partFirstByte=len(part1),
                     partLastByte=len(layer) - 1, layerPartBlob=part2)
        self.assertEqual(o2["lastByteReceived"], len(layer) - 1)
        done = self.ok("complete_layer_upload", repositoryName=name, uploadId=up["uploadId"], layerDigests=[dl])
        self.assertEqual(done, {"registryId": ACCT, "repositoryName": name, "uploadId": up["uploadId"],
                                "layerDigest": dl})
        self.err("UploadNotFoundException", "upload_layer_part", repositoryName=name, uploadId=up["uploadId"],
                 partFirstByte=len(layer), partLastByte=len(layer), layerPartBlob=b"x")
        self.upload_blob(name, config)
        chk = self.ok("batch_check_layer_availability", repositoryName=name, layerDigests=[dl, fx.sha256(config)])
        self.assertEqual(chk["failures"], [])
        sizes = {l["layerDigest"]: (l["layerAvailability"], l.get("layerSize")) for l in chk["layers"]}
        self.assertEqual(sizes, {dl: ("AVAILABLE", len(layer)), fx.sha256(config): ("AVAILABLE", len(config))})
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": fx.MT_OCI_MANIFEST,
            "config": {"mediaType": fx.MT_OCI_CONFIG, "digest": fx.sha256(config), "size": len(config)},
            "layers": [{"mediaType": fx.MT_OCI_LAYER, "digest": dl, "size": len(layer)}]})
        self.ok("put_image", repositoryName=name, imageTag="v1", imageManifest=manifest)
        got = self.ok("batch_get_image", repositoryName=name, imageIds=[{"imageTag": "v1"}])
        self.assertEqual(got["images"][0]["imageManifest"], manifest)
        url = self.ok("get_download_url_for_layer", repositoryName=name, layerDigest=dl)
        self.assertEqual(url["layerDigest"], dl)
        self.assertEqual(fetch_url(url["downloadUrl"]), layer)
        # the URL names this layer only: a tampered URL fails
        u = url["downloadUrl"]
        tampered = u.replace(dl.split(":")[1][:8], "00000000", 1)
        self.assertNotEqual(fetch_url(tampered, expect_ok=False), layer)

    def test_batch_check_layer_availability_errors(self):
        name = self.repo("bcla")
        out = self.ok("batch_check_layer_availability", repositoryName=name, layerDigests=["not-a-digest"])
        self.assertEqual([f["failureCode"] for f in out["failures"]], ["InvalidLayerDigest"])
        self.assertEqual(out["failures"][0]["layerDigest"], "not-a-digest")
        self.err("RepositoryNotFoundException", "batch_check_layer_availability", repositoryName=uniq("nope"),
                 layerDigests=[fx.sha256(b"x")])

    def test_initiate_layer_upload_errors(self):
        self.err("RepositoryNotFoundException", "initiate_layer_upload", repositoryName=uniq("nope"))

    def test_upload_layer_part_errors(self):
        name = self.repo("ulp")
        self.err("UploadNotFoundException", "upload_layer_part", repositoryName=name, uploadId=str(uuid.uuid4()),
                 partFirstByte=0, partLastByte=0, layerPartBlob=b"x")
        up = self.ok("initiate_layer_upload", repositoryName=name)["uploadId"]
        other = self.repo("ulp")
        self.err("UploadNotFoundException", "upload_layer_part", repositoryName=other, uploadId=up,
                 partFirstByte=0, partLastByte=0, layerPartBlob=b"x")
        self.ok("upload_layer_part", repositoryName=name, uploadId=up, partFirstByte=0, partLastByte=9,
                layerPartBlob=b"0123456789")
        self.err("InvalidLayerPartException", "upload_layer_part", repositoryName=name, uploadId=up,
                 partFirstByte=20, partLastByte=29, layerPartBlob=b"0123456789")
        self.err("InvalidLayerPartException", "upload_layer_part", repositoryName=name, uploadId=up,
                 partFirstByte=10, partLastByte=29, layerPartBlob=b"0123456789")
        try:
            self.c.upload_layer_part(repositoryName=name, uploadId=up, partFirstByte=20, partLastByte=29,
                                     layerPartBlob=b"0123456789")
        except ClientError:
            body = json.loads(self.c._raw["body"])
            self.assertEqual(body.get("lastValidByteReceived"), 9)
            self.assertEqual(body.get("uploadId"), up)
            self.assertEqual(body.get("repositoryName"), name)
            self.assertEqual(body.get("registryId"), ACCT)
        else:
            self.fail("UploadLayerPart with a gap succeeded")
        self.err("RepositoryNotFoundException", "upload_layer_part", repositoryName=uniq("nope"), uploadId=up,
                 partFirstByte=10, partLastByte=10, layerPartBlob=b"x")

    def test_complete_layer_upload_errors(self):
        name = self.repo("clu")
        up = self.ok("initiate_layer_upload", repositoryName=name)["uploadId"]
        self.err("EmptyUploadException", "complete_layer_upload", repositoryName=name, uploadId=up,
                 layerDigests=[fx.sha256(b"")])
        up = self.ok("initiate_layer_upload", repositoryName=name)["uploadId"]
        self.ok("upload_layer_part", repositoryName=name, uploadId=up, partFirstByte=0, partLastByte=2,
                layerPartBlob=b"abc")
        self.err("InvalidLayerException", "complete_layer_upload", repositoryName=name, uploadId=up,
                 layerDigests=[fx.sha256(b"abd")])
        self.err("LayersNotFoundException", "get_download_url_for_layer", repositoryName=name,
                 layerDigest=fx.sha256(b"abd"))
        up = self.ok("initiate_layer_upload", repositoryName=name)["uploadId"]
        self.ok("upload_layer_part", repositoryName=name, uploadId=up, partFirstByte=0, partLastByte=2,
                layerPartBlob=b"abc")
        self.ok("upload_layer_part", repositoryName=name, uploadId=up, partFirstByte=3, partLastByte=5,
                layerPartBlob=b"def")
        self.err("LayerPartTooSmallException", "complete_layer_upload", repositoryName=name, uploadId=up,
                 layerDigests=[fx.sha256(b"abcdef")])
        self.upload_blob(name, b"xyz")
        up = self.ok("initiate_layer_upload", repositoryName=name)["uploadId"]
        self.ok("upload_layer_part", repositoryName=name, uploadId=up, partFirstByte=0, partLastByte=2,
                layerPartBlob=b"xyz")
        self.err("LayerAlreadyExistsException", "complete_layer_upload", repositoryName=name, uploadId=up,
                 layerDigests=[fx.sha256(b"xyz")])
        self.err("UploadNotFoundException", "complete_layer_upload", repositoryName=name,
                 uploadId=str(uuid.uuid4()), layerDigests=[fx.sha256(b"xyz")])
        self.err("RepositoryNotFoundException", "complete_layer_upload", repositoryName=uniq("nope"),
                 uploadId=up, layerDigests=[fx.sha256(b"xyz")])

    def test_get_download_url_for_layer_errors(self):
        name = self.repo("gdu")
        self.err("LayersNotFoundException", "get_download_url_for_layer", repositoryName=name,
                 layerDigest=fx.sha256(b"never uploaded"))
        dangling = self.upload_blob(name, b"uploaded but in no image")
        self.err("LayerInaccessibleException", "get_download_url_for_layer", repositoryName=name,
                 layerDigest=dangling)
        self.err("RepositoryNotFoundException", "get_download_url_for_layer", repositoryName=uniq("nope"),
                 layerDigest=dangling)
        self.err("InvalidParameterException", "get_download_url_for_layer", repositoryName=name,
                 layerDigest="sha256:not-hex")


def fetch_url(url, expect_ok=True):
    u = urllib.parse.urlsplit(url)
    import http.client
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=15)
    try:
        conn.request("GET", u.path + ("?" + u.query if u.query else ""))
        r = conn.getresponse()
        data = r.read()
        if expect_ok and r.status != 200:
            raise AssertionError("GET %s: HTTP %d %r" % (url, r.status, data[:200]))
        return data
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------
# Policies, registry, account settings


POLICY_ALLOW_ALL_PULL = {"Version": "2012-10-17", "Statement": [
    {"Sid": "pull", "Effect": "Allow", "Principal": "*",
     "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]}


class T04Policies(Base):
    def test_repository_policy(self):
        name = self.repo("pol")
        text = json.dumps(POLICY_ALLOW_ALL_PULL)
        out = self.ok("set_repository_policy", repositoryName=name, policyText=text)
        self.assertEqual(out["registryId"], ACCT)
        self.assertEqual(out["repositoryName"], name)
        self.assertEqual(json.loads(out["policyText"]), POLICY_ALLOW_ALL_PULL)
        got = self.ok("get_repository_policy", repositoryName=name)
        self.assertEqual((got["registryId"], got["repositoryName"]), (ACCT, name))
        self.assertEqual(json.loads(got["policyText"]), POLICY_ALLOW_ALL_PULL)
        gone = self.ok("delete_repository_policy", repositoryName=name)
        self.assertEqual(json.loads(gone["policyText"]), POLICY_ALLOW_ALL_PULL)
        self.err("RepositoryPolicyNotFoundException", "get_repository_policy", repositoryName=name)
        self.err("RepositoryPolicyNotFoundException", "delete_repository_policy", repositoryName=name)

    def test_repository_policy_errors(self):
        name = self.repo("polerr")
        for bad in ("not json", json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Maybe",
                                                                                     "Principal": "*",
                                                                                     "Action": "ecr:*"}]}),
                    json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*"}]})):
            self.err("InvalidParameterException", "set_repository_policy", repositoryName=name, policyText=bad,
                     msg=re.escape("Invalid parameter at 'PolicyText' failed to satisfy constraint: "
                                   "'Invalid repository policy provided'"))
        self.err("RepositoryPolicyNotFoundException", "get_repository_policy", repositoryName=name)
        self.err("InvalidParameterException", "set_repository_policy", repositoryName=name,
                 policyText=json.dumps(POLICY_ALLOW_ALL_PULL) + " " * 10241)
        for op in ("set_repository_policy", "get_repository_policy", "delete_repository_policy"):
            kw = {"policyText": json.dumps(POLICY_ALLOW_ALL_PULL)} if op.startswith("set") else {}
            self.err("RepositoryNotFoundException", op, repositoryName=uniq("nope"), **kw)

    def test_registry_policy(self):
        pol = {"Version": "2012-10-17", "Statement": [
            {"Sid": "repl", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:root" % fx.OTHER_ACCOUNT},
             "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
             "Resource": "arn:aws:ecr:us-east-1:%s:repository/*" % ACCT}]}
        c = make_client(ADMIN, "sa-east-1")
        self.err("RegistryPolicyNotFoundException", "get_registry_policy", client=c)
        out = self.ok("put_registry_policy", client=c, policyText=json.dumps(pol))
        self.assertEqual(out["registryId"], ACCT)
        self.assertEqual(json.loads(out["policyText"]), pol)
        got = self.ok("get_registry_policy", client=c)
        self.assertEqual(json.loads(got["policyText"]), pol)
        self.err("RegistryPolicyNotFoundException", "get_registry_policy")  # another region: its own registry
        gone = self.ok("delete_registry_policy", client=c)
        self.assertEqual(json.loads(gone["policyText"]), pol)
        self.err("RegistryPolicyNotFoundException", "get_registry_policy", client=c)
        self.err("RegistryPolicyNotFoundException", "delete_registry_policy", client=c)
        self.err(("InvalidParameterException", "ValidationException"), "put_registry_policy", client=c,
                 policyText="{not json")
        self.err("RegistryPolicyNotFoundException", "get_registry_policy", client=c)

    def test_describe_registry(self):
        out = self.ok("describe_registry")
        self.assertEqual(out["registryId"], ACCT)
        self.assertEqual(out["replicationConfiguration"], {"rules": []})
        bob = make_client(BOB)
        self.assertEqual(self.ok("describe_registry", client=bob)["registryId"], fx.OTHER_ACCOUNT)

    def test_account_settings(self):
        c = make_client(ADMIN, "ap-northeast-1", reference_model=True)
        out = self.ok("get_account_setting", client=c, name="REGISTRY_POLICY_SCOPE")
        self.assertEqual(out, {"name": "REGISTRY_POLICY_SCOPE", "value": "V2"})
        out = self.ok("put_account_setting", client=c, name="REGISTRY_POLICY_SCOPE", value="V1")
        self.assertEqual(out, {"name": "REGISTRY_POLICY_SCOPE", "value": "V1"})
        self.assertEqual(self.ok("get_account_setting", client=c, name="REGISTRY_POLICY_SCOPE")["value"], "V1")
        self.ok("put_account_setting", client=c, name="BASIC_SCAN_TYPE_VERSION", value="AWS_NATIVE")
        self.assertEqual(self.ok("get_account_setting", client=c, name="BASIC_SCAN_TYPE_VERSION")["value"],
                         "AWS_NATIVE")
        self.err(("ValidationException", "InvalidParameterException"), "get_account_setting", client=c,
                 name="NO_SUCH_SETTING")
        self.err(("ValidationException", "InvalidParameterException"), "put_account_setting", client=c,
                 name="REGISTRY_POLICY_SCOPE", value="V9")
        self.assertEqual(self.ok("get_account_setting", client=c, name="REGISTRY_POLICY_SCOPE")["value"], "V1")


# ------------------------------------------------------------------------------------------
# Tags


class T05Tags(Base):
    def test_tag_resource_list_untag(self):
        name = self.repo("tags")
        arn = "arn:aws:ecr:us-east-1:%s:repository/%s" % (ACCT, name)
        self.assertEqual(self.ok("list_tags_for_resource", resourceArn=arn), {"tags": []})
        self.assertEqual(self.ok("tag_resource", resourceArn=arn, tags=[{"Key": "a", "Value": "1"},
                                                                        {"Key": "b", "Value": ""}]), {})
        tags = self.ok("list_tags_for_resource", resourceArn=arn)["tags"]
        self.assertEqual(sorted(tags, key=lambda t: t["Key"]), [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}])
        self.ok("tag_resource", resourceArn=arn, tags=[{"Key": "a", "Value": "2"}])
        tags = {t["Key"]: t["Value"] for t in self.ok("list_tags_for_resource", resourceArn=arn)["tags"]}
        self.assertEqual(tags, {"a": "2", "b": ""})
        self.assertEqual(self.ok("untag_resource", resourceArn=arn, tagKeys=["a", "not-there"]), {})
        self.assertEqual(self.ok("list_tags_for_resource", resourceArn=arn)["tags"], [{"Key": "b", "Value": ""}])

    def test_tag_resource_errors(self):
        name = self.repo("tagerr")
        arn = "arn:aws:ecr:us-east-1:%s:repository/%s" % (ACCT, name)
        self.ok("tag_resource", resourceArn=arn, tags=[{"Key": "keep", "Value": "1"}])
        for op, kw in (("tag_resource", {"tags": [{"Key": "x", "Value": "y"}]}),
                       ("untag_resource", {"tagKeys": ["x"]}), ("list_tags_for_resource", {})):
            m = self.err("InvalidParameterException", op, resourceArn="not-an-arn", **kw)
            self.assertIn("Invalid ARN", m)
            self.err("RepositoryNotFoundException", op,
                     resourceArn="arn:aws:ecr:us-east-1:%s:repository/%s" % (ACCT, uniq("nope")), **kw)
        self.err("InvalidTagParameterException", "tag_resource", resourceArn=arn,
                 tags=[{"Key": "aws:x", "Value": "y"}])
        self.err("InvalidTagParameterException", "tag_resource", resourceArn=arn,
                 tags=[{"Key": "k", "Value": "v" * 257}])
        self.err("InvalidTagParameterException", "untag_resource", resourceArn=arn, tagKeys=["aws:x"])
        self.err("TooManyTagsException", "tag_resource", resourceArn=arn,
                 tags=[{"Key": "k%d" % i, "Value": "v"} for i in range(50)])
        self.assertEqual(self.ok("list_tags_for_resource", resourceArn=arn)["tags"], [{"Key": "keep", "Value": "1"}])


# ------------------------------------------------------------------------------------------
# Authorization tokens, accounts, regions, cross-account policies


def v2_get(path, token=None, host=None):
    h = {}
    if token:
        h["Authorization"] = "Basic " + token
    if host:
        h["Host"] = host
    h["Accept"] = fx.MT_OCI_MANIFEST
    return fx.http_request(SRV.port, "GET", path, headers=h)


class T06AuthorizationToken(Base):
    def test_get_authorization_token(self):
        t0 = now()
        out = self.ok("get_authorization_token")
        self.assertEqual(len(out["authorizationData"]), 1)
        ad = out["authorizationData"][0]
        user, password = fx.decode_token(ad["authorizationToken"])
        self.assertEqual(user, "AWS")
        self.assertGreater(len(password), 20)
        self.assertLess(abs(ad["expiresAt"] - (t0 + 12 * 3600)), 120)
        self.assertTrue(ad["proxyEndpoint"].startswith(("http://", "https://")), ad["proxyEndpoint"])
        self.assertFalse(ad["proxyEndpoint"].endswith("/"))
        st, hdr, body = v2_get("/v2/", ad["authorizationToken"])
        self.assertEqual(st, 200, body)
        st, hdr, body = v2_get("/v2/")
        self.assertEqual(st, 401)
        self.assertTrue(hdr.get("www-authenticate", "").startswith("Basic realm="), hdr)
        self.assertEqual(json.loads(body)["errors"][0]["code"], "UNAUTHORIZED")

    def test_get_authorization_token_registry_ids(self):
        out = self.ok("get_authorization_token", registryIds=[ACCT])
        self.assertEqual(len(out["authorizationData"]), 1)
        self.err("InvalidParameterException", "get_authorization_token", registryIds=["123"])

    def test_token_pushes_and_pulls_over_v2(self):
        name = self.repo("v2")
        d, body = self.push(name, "v1")
        tok = self.ok("get_authorization_token")["authorizationData"][0]["authorizationToken"]
        st, hdr, got = v2_get("/v2/%s/manifests/v1" % name, tok)
        self.assertEqual((st, got), (200, body))
        st, _, _ = v2_get("/v2/%s/manifests/v1" % name)
        self.assertEqual(st, 401)


class T07AccountsRegions(Base):
    def test_regions_kept_apart(self):
        eu = make_client(ADMIN, "eu-west-1")
        name = uniq("both")
        us_arn = self.ok("create_repository", repositoryName=name)["repository"]["repositoryArn"]
        eu_arn = self.ok("create_repository", client=eu, repositoryName=name)["repository"]["repositoryArn"]
        self.assertEqual(us_arn, "arn:aws:ecr:us-east-1:%s:repository/%s" % (ACCT, name))
        self.assertEqual(eu_arn, "arn:aws:ecr:eu-west-1:%s:repository/%s" % (ACCT, name))
        self.push(name, "us-only")
        self.assertEqual(self.ok("list_images", client=eu, repositoryName=name)["imageIds"], [])
        only_eu = uniq("euonly")
        self.ok("create_repository", client=eu, repositoryName=only_eu)
        self.assertNoRepo(only_eu)
        self.ok("delete_repository", client=eu, repositoryName=name)
        self.ok("describe_repositories", repositoryNames=[name])
        self.assertNoRepo(name, client=eu)
        eu_names = {r["repositoryName"] for r in self.ok("describe_repositories", client=eu)["repositories"]}
        self.assertIn(only_eu, eu_names)
        self.assertNotIn(name, eu_names)

    def test_accounts_kept_apart(self):
        bob = make_client(BOB)
        name = uniq("acct")
        self.ok("create_repository", repositoryName=name)
        out = self.ok("create_repository", client=bob, repositoryName=name)
        self.assertEqual(out["repository"]["registryId"], fx.OTHER_ACCOUNT)
        self.assertEqual(out["repository"]["repositoryArn"],
                         "arn:aws:ecr:us-east-1:%s:repository/%s" % (fx.OTHER_ACCOUNT, name))
        self.push(name, "admin-tag")
        self.assertEqual(self.ok("list_images", client=bob, repositoryName=name)["imageIds"], [])
        bob_only = uniq("bobonly")
        self.ok("create_repository", client=bob, repositoryName=bob_only)
        self.assertNoRepo(bob_only)
        self.err("AccessDeniedException", "describe_repositories", repositoryNames=[bob_only],
                 registryId=fx.OTHER_ACCOUNT)
        self.err("AccessDeniedException", "delete_repository", client=bob, repositoryName=name, registryId=ACCT,
                 force=True)
        self.ok("describe_repositories", repositoryNames=[name])

    def _shared_repo(self):
        name = self.repo("shared")
        d, body = self.push(name, "v1")
        _, layer = self.base_blobs(name)
        arn = "arn:aws:ecr:us-east-1:%s:repository/%s" % (ACCT, name)
        allow = {"Version": "2012-10-17", "Statement": [
            {"Sid": "bob-pull", "Effect": "Allow", "Principal": {"AWS": BOB_ARN},
             "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]}]}
        deny = dict(allow)
        deny["Statement"] = allow["Statement"] + [
            {"Sid": "bob-deny", "Effect": "Deny", "Principal": {"AWS": BOB_ARN}, "Action": "ecr:BatchGetImage"}]
        return name, arn, body, layer, allow, deny

    def test_cross_account_pull_policy(self):
        """Control plane: denied, granted by a repository policy, denied by an explicit Deny."""
        bob = make_client(BOB)
        name, arn, body, layer, allow, deny = self._shared_repo()
        m = self.err("AccessDeniedException", "batch_get_image", client=bob, registryId=ACCT, repositoryName=name,
                     imageIds=[{"imageTag": "v1"}])
        self.assertTrue(m.startswith("User: %s is not authorized to perform: ecr:BatchGetImage on resource: %s"
                                     % (BOB_ARN, arn)), m)
        self.ok("set_repository_policy", repositoryName=name, policyText=json.dumps(allow))
        out = self.ok("batch_get_image", client=bob, registryId=ACCT, repositoryName=name,
                      imageIds=[{"imageTag": "v1"}])
        self.assertEqual(out["images"][0]["imageManifest"], body.decode())
        url = self.ok("get_download_url_for_layer", client=bob, registryId=ACCT, repositoryName=name,
                      layerDigest=fx.sha256(layer))["downloadUrl"]
        self.assertEqual(fetch_url(url), layer)
        # pulling is not pushing
        self.err("AccessDeniedException", "put_image", client=bob, registryId=ACCT, repositoryName=name,
                 imageTag="bob", imageManifest=self.manifest(name, "bob").decode())
        self.err("AccessDeniedException", "initiate_layer_upload", client=bob, registryId=ACCT,
                 repositoryName=name)
        self.ok("set_repository_policy", repositoryName=name, policyText=json.dumps(deny))
        m = self.err("AccessDeniedException", "batch_get_image", client=bob, registryId=ACCT, repositoryName=name,
                     imageIds=[{"imageTag": "v1"}])
        self.assertTrue(m.startswith("User: %s is not authorized to perform: ecr:BatchGetImage on resource: %s"
                                     % (BOB_ARN, arn)), m)
        self.assertIn("explicit deny", m)
        self.ok("batch_get_image", repositoryName=name, imageIds=[{"imageTag": "v1"}])  # the owner still pulls
        self.assertEqual(self.ok("list_images", repositoryName=name)["imageIds"][0]["imageTag"], "v1")

    def test_cross_account_pull_policy_v2(self):
        """/v2/ with bob's token from GetAuthorizationToken: DENIED, granted, DENIED again."""
        bob = make_client(BOB)
        name, arn, body, layer, allow, deny = self._shared_repo()
        bob_tok = self.ok("get_authorization_token", client=bob)["authorizationData"][0]["authorizationToken"]
        st, _, b = v2_get("/v2/%s/manifests/v1" % name, bob_tok)
        self.assertEqual(st, 403, b)
        self.assertEqual(json.loads(b)["errors"][0]["code"], "DENIED")
        self.ok("set_repository_policy", repositoryName=name, policyText=json.dumps(allow))
        st, _, b = v2_get("/v2/%s/manifests/v1" % name, bob_tok)
        self.assertEqual((st, b), (200, body))
        st, _, b = v2_get("/v2/%s/blobs/%s" % (name, fx.sha256(layer)), bob_tok)
        self.assertEqual((st, b), (200, layer))
        st, _, b = fx.http_request(SRV.port, "POST", "/v2/%s/blobs/uploads/" % name,
                                   headers={"Authorization": "Basic " + bob_tok})
        self.assertEqual(st, 403, b)
        self.ok("set_repository_policy", repositoryName=name, policyText=json.dumps(deny))
        st, _, b = v2_get("/v2/%s/manifests/v1" % name, bob_tok)
        self.assertEqual(st, 403, b)
        self.assertEqual(json.loads(b)["errors"][0]["code"], "DENIED")


if __name__ == "__main__":
    ECRD = fx.ecrd_path(sys.argv)
    sys.exit(fx.run_main(sys.argv))
