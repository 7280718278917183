#!/usr/bin/python3
"""Repository creation templates through ecrd's ECR API with boto3.

Usage: test_templates.py /path/to/ecrd [-v] [TestClass[.test_name] ...]   (or ECRD=...)

Starts its own ecrd (authentication on), then calls
CreateRepositoryCreationTemplate, UpdateRepositoryCreationTemplate,
DeleteRepositoryCreationTemplate and DescribeRepositoryCreationTemplates with
a botocore client built from the reference model (Debian's botocore 1.29
lacks them): outputs checked against the model's shapes, errors
(TemplateAlreadyExistsException, TemplateNotFoundException,
ValidationException, InvalidParameterException, LimitExceededException,
AccessDeniedException), pagination, and a /v2/ push to a new repository
(create-on-push) that gets its CREATE_ON_PUSH template's settings.

The last output line is "N passed, M failed".
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ecrd_fixture as fx  # noqa: E402

import botocore.config  # noqa: E402

ECRD = None
SRV = None
ADMIN = None
CAROL = None  # may describe templates only
CAROL_ARN = "arn:aws:iam::%s:user/carol" % fx.DEFAULT_ACCOUNT
CONFIG = botocore.config.Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30)
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "pull", "Effect": "Allow", "Principal": {
    "AWS": "arn:aws:iam::222222222222:root"}, "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]})
LIFECYCLE = json.dumps({"rules": [{"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType":
                        "imageCountMoreThan", "countNumber": 5}, "action": {"type": "expire"}}]})


def client(key):
    return fx.make_client(SRV, key, CONFIG)


def setUpModule():
    global SRV, ADMIN, CAROL
    SRV, ADMIN, (CAROL,) = fx.start_ecrd(ECRD, principals=[(CAROL_ARN, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecr:DescribeRepositoryCreationTemplates", "Resource": "*"}]})])


def tearDownModule():
    fx.stop_ecrd(SRV)


class Templates(fx.ApiTestCase):
    err_msg_regex = True
    err_checks_errortype = True

    @classmethod
    def setUpClass(cls):
        cls.c = client(ADMIN)

    def setUp(self):
        # each test starts without templates
        for t in self.c.describe_repository_creation_templates()["repositoryCreationTemplates"]:
            self.c.delete_repository_creation_template(prefix=t["prefix"])

    def test_create_describe_update_delete(self):
        out = self.ok("create_repository_creation_template", prefix="prod", description="production",
                      appliedFor=["REPLICATION", "CREATE_ON_PUSH"], imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
                      imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "dev-*"}],
                      encryptionConfiguration={"encryptionType": "KMS",
                                               "kmsKey": "arn:aws:kms:us-east-1:123456789012:key/abc-123"},
                      resourceTags=[{"Key": "team", "Value": "core"}], repositoryPolicy=POLICY,
                      lifecyclePolicy=LIFECYCLE, customRoleArn="arn:aws:iam::123456789012:role/ecr-templates")
        self.assertEqual(out["registryId"], fx.DEFAULT_ACCOUNT)
        t = out["repositoryCreationTemplate"]
        self.assertEqual(t["prefix"], "prod")
        self.assertEqual(t["description"], "production")
        self.assertEqual(sorted(t["appliedFor"]), ["CREATE_ON_PUSH", "REPLICATION"])
        self.assertEqual(t["imageTagMutability"], "IMMUTABLE_WITH_EXCLUSION")
        self.assertEqual(t["imageTagMutabilityExclusionFilters"], [{"filterType": "WILDCARD", "filter": "dev-*"}])
        self.assertEqual(t["encryptionConfiguration"]["kmsKey"], "arn:aws:kms:us-east-1:123456789012:key/abc-123")
        self.assertEqual(t["resourceTags"], [{"Key": "team", "Value": "core"}])
        self.assertEqual(json.loads(t["repositoryPolicy"]), json.loads(POLICY))
        self.assertEqual(json.loads(t["lifecyclePolicy"]), json.loads(LIFECYCLE))
        self.assertIsInstance(t["createdAt"], (int, float))
        self.assertEqual(t["createdAt"], t["updatedAt"])

        d = self.ok("describe_repository_creation_templates", prefixes=["prod"])
        self.assertEqual(d["registryId"], fx.DEFAULT_ACCOUNT)
        self.assertEqual(d["repositoryCreationTemplates"], [t])

        u = self.ok("update_repository_creation_template", prefix="prod", description="changed",
                    imageTagMutability="MUTABLE")["repositoryCreationTemplate"]
        self.assertEqual(u["description"], "changed")
        self.assertEqual(u["imageTagMutability"], "MUTABLE")
        self.assertNotIn("imageTagMutabilityExclusionFilters", u)
        self.assertEqual(u["resourceTags"], t["resourceTags"])
        self.assertEqual(u["createdAt"], t["createdAt"])
        self.assertGreaterEqual(u["updatedAt"], t["updatedAt"])

        gone = self.ok("delete_repository_creation_template", prefix="prod")["repositoryCreationTemplate"]
        self.assertEqual(gone["description"], "changed")
        self.assertEqual(self.ok("describe_repository_creation_templates")["repositoryCreationTemplates"], [])

    def test_errors(self):
        self.ok("create_repository_creation_template", prefix="ROOT", appliedFor=["PULL_THROUGH_CACHE"])
        self.err("TemplateAlreadyExistsException", "create_repository_creation_template", prefix="ROOT",
                 appliedFor=["REPLICATION"], msg="ROOT")
        self.err("TemplateNotFoundException", "update_repository_creation_template", prefix="nothere",
                 description="x", msg="nothere")
        self.err("TemplateNotFoundException", "delete_repository_creation_template", prefix="nothere")
        self.err("ValidationException", "create_repository_creation_template", prefix="Upper/Case",
                 appliedFor=["REPLICATION"])
        self.err("ValidationException", "create_repository_creation_template", prefix="x", appliedFor=[])
        self.err("ValidationException", "create_repository_creation_template", prefix="x",
                 appliedFor=["REPLICATION"], description="d" * 257)
        self.err("ValidationException", "delete_repository_creation_template", prefix="a//b")
        self.err("InvalidParameterException", "create_repository_creation_template", prefix="x",
                 appliedFor=["REPLICATION"], repositoryPolicy="{\"Statement\": 5}")
        self.err("InvalidParameterException", "create_repository_creation_template", prefix="x",
                 appliedFor=["REPLICATION"], lifecyclePolicy="{\"rules\": []}")
        self.err("InvalidParameterException", "create_repository_creation_template", prefix="x",
                 appliedFor=["REPLICATION"], imageTagMutability="IMMUTABLE_WITH_EXCLUSION")
        self.err("InvalidParameterException", "create_repository_creation_template", prefix="x",
                 appliedFor=["REPLICATION"], resourceTags=[{"Key": "aws:no", "Value": "v"}])
        self.err("InvalidParameterException", "update_repository_creation_template", prefix="ROOT",
                 imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "x"}])
        # nothing above was stored
        d = self.ok("describe_repository_creation_templates")["repositoryCreationTemplates"]
        self.assertEqual([t["prefix"] for t in d], ["ROOT"])
        self.assertEqual(d[0]["appliedFor"], ["PULL_THROUGH_CACHE"])

    def test_limit(self):
        for i in range(100):
            self.ok("create_repository_creation_template", prefix="p%03d" % i, appliedFor=["REPLICATION"])
        self.err("LimitExceededException", "create_repository_creation_template", prefix="p100",
                 appliedFor=["REPLICATION"])

    def test_pagination_and_filter(self):
        names = ["a%02d" % i for i in range(25)]
        for n in reversed(names):
            self.ok("create_repository_creation_template", prefix=n, appliedFor=["CREATE_ON_PUSH"])
        seen, token, pages = [], None, 0
        while True:
            kw = {"maxResults": 10}
            if token:
                kw["nextToken"] = token
            out = self.ok("describe_repository_creation_templates", **kw)
            pages += 1
            seen += [t["prefix"] for t in out["repositoryCreationTemplates"]]
            token = out.get("nextToken")
            if not token:
                break
        self.assertEqual(pages, 3)
        self.assertEqual(seen, names)
        # the paginator agrees
        p = self.c.get_paginator("describe_repository_creation_templates") \
            if self.c.can_paginate("describe_repository_creation_templates") else None
        if p:
            got = [t["prefix"] for page in p.paginate(PaginationConfig={"PageSize": 7})
                   for t in page["repositoryCreationTemplates"]]
            self.assertEqual(got, names)
        # prefixes: a filter (unknown ones are left out), in prefix order
        out = self.ok("describe_repository_creation_templates", prefixes=["a07", "zz", "a03"])
        self.assertEqual([t["prefix"] for t in out["repositoryCreationTemplates"]], ["a03", "a07"])
        self.err("InvalidParameterException", "describe_repository_creation_templates", nextToken="garbage!")

    def test_authorization(self):
        carol = client(CAROL)
        self.ok("create_repository_creation_template", prefix="auth", appliedFor=["REPLICATION"])
        out = self.ok("describe_repository_creation_templates", c=carol)
        self.assertEqual([t["prefix"] for t in out["repositoryCreationTemplates"]], ["auth"])
        for op, kw in [("create_repository_creation_template", {"prefix": "c", "appliedFor": ["REPLICATION"]}),
                       ("update_repository_creation_template", {"prefix": "auth", "description": "x"}),
                       ("delete_repository_creation_template", {"prefix": "auth"})]:
            self.err("AccessDeniedException", op, c=carol, **kw)
        self.assertEqual(len(self.ok("describe_repository_creation_templates")["repositoryCreationTemplates"]), 1)

    def test_create_on_push_applies_template(self):
        self.ok("create_repository_creation_template", prefix="pushed", appliedFor=["CREATE_ON_PUSH"],
                imageTagMutability="IMMUTABLE", resourceTags=[{"Key": "origin", "Value": "push"}],
                repositoryPolicy=POLICY, lifecyclePolicy=LIFECYCLE)
        tok = self.c.get_authorization_token()["authorizationData"][0]["authorizationToken"]
        auth = {"Authorization": "Basic " + tok}
        repo = "pushed/app"
        layer = b"template-layer" + b"\x00" * 64
        config = fx.jbytes({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [
            fx.sha256(layer)]}})
        for blob in (config, layer):
            st, h, _ = fx.http_request(SRV.port, "POST", "/v2/%s/blobs/uploads/" % repo, headers=auth)
            self.assertEqual(st, 202, h)
            loc = h["location"]
            loc = loc[loc.index("/v2/"):]
            sep = "&" if "?" in loc else "?"
            st, h, body = fx.http_request(SRV.port, "PUT", loc + sep + "digest=" + fx.sha256(blob), body=blob,
                                          headers=dict(auth, **{"Content-Type": "application/octet-stream"}))
            self.assertEqual(st, 201, body)
        manifest = json.dumps({"schemaVersion": 2, "mediaType": fx.MT_OCI_MANIFEST, "config": {
            "mediaType": fx.MT_OCI_CONFIG, "digest": fx.sha256(config), "size": len(config)}, "layers": [{
            "mediaType": fx.MT_OCI_LAYER, "digest": fx.sha256(layer), "size": len(layer)}]}).encode()
        st, h, body = fx.http_request(SRV.port, "PUT", "/v2/%s/manifests/v1" % repo, body=manifest,
                                      headers=dict(auth, **{"Content-Type": fx.MT_OCI_MANIFEST}))
        self.assertEqual(st, 201, body)
        r = self.c.describe_repositories(repositoryNames=[repo])["repositories"][0]
        self.assertEqual(r["imageTagMutability"], "IMMUTABLE")
        tags = self.c.list_tags_for_resource(resourceArn=r["repositoryArn"])["tags"]
        self.assertEqual(tags, [{"Key": "origin", "Value": "push"}])
        self.assertEqual(json.loads(self.c.get_repository_policy(repositoryName=repo)["policyText"]),
                         json.loads(POLICY))
        self.assertEqual(json.loads(self.c.get_lifecycle_policy(repositoryName=repo)["lifecyclePolicyText"]),
                         json.loads(LIFECYCLE))
        # a repository created with CreateRepository gets no template
        self.c.create_repository(repositoryName="pushed/direct")
        r = self.c.describe_repositories(repositoryNames=["pushed/direct"])["repositories"][0]
        self.assertEqual(r["imageTagMutability"], "MUTABLE")


if __name__ == "__main__":
    ECRD = fx.ecrd_path(sys.argv)
    sys.exit(fx.run_main(sys.argv))
