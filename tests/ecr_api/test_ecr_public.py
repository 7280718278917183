#!/usr/bin/python3
"""The ECR Public API (SpencerFrontendService, signing name ecr-public) of ecrd with boto3.

Usage: test_ecr_public.py /path/to/ecrd [-v] [TestClass[.test_name] ...]   (or ECRD=...)

Starts its own ecrd (authentication on) and calls every ECR Public operation
with botocore's "ecr-public" client: outputs checked against the shapes of
the reference model (ecr-public-service-2.json), the documented errors of
each, a push through the layer API then DescribeImages/DescribeImageTags,
private and public repositories of the same name being different, an access
key allowed ecr:* only being denied ECR Public, and a request signed for the
wrong service refused with InvalidSignatureException.

The last output line is "N passed, M failed".
"""

import base64
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ecrd_fixture as fx  # noqa: E402

import botocore.config  # noqa: E402

PUBLIC_MODEL = os.environ.get("ECR_PUBLIC_SERVICE_MODEL") or "/work/shared/reference/ecr-public-service-2.json"
ECRD = None
SRV = None
ADMIN = None
DAVE = None  # ecr:* only
DAVE_ARN = "arn:aws:iam::%s:user/dave" % fx.DEFAULT_ACCOUNT
CONFIG = botocore.config.Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30,
                                parameter_validation=False)  # the limits are checked by ecrd
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "pull", "Effect": "Allow", "Principal": "*",
                     "Action": ["ecr-public:BatchCheckLayerAvailability"]}]})
# a 1x1 PNG
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")

_MODEL = None


def public_model():
    global _MODEL
    if _MODEL is None:
        with open(PUBLIC_MODEL) as f:
            _MODEL = json.load(f)
    return _MODEL


def check_shape(value, shape_name):
    """fx.check_shape against the ECR Public model."""
    saved = fx._MODEL
    fx._MODEL = public_model()
    try:
        return fx.check_shape(value, shape_name)
    finally:
        fx._MODEL = saved


def public_client(key):
    import botocore.session
    s = botocore.session.Session()
    c = s.create_client("ecr-public", endpoint_url=SRV.endpoint, region_name="us-east-1",
                        aws_access_key_id=key[0], aws_secret_access_key=key[1], config=CONFIG)
    c._raw = {}

    def after_call(http_response=None, model=None, **kw):
        c._raw = {"status": http_response.status_code, "body": http_response.content, "op": model.name,
                  "headers": {k.lower(): v for k, v in http_response.headers.items()}}
    c.meta.events.register("after-call.ecr-public", after_call)
    return c


def setUpModule():
    global SRV, ADMIN, DAVE
    SRV, ADMIN, (DAVE,) = fx.start_ecrd(ECRD, principals=[(DAVE_ARN, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}]})])


def tearDownModule():
    fx.stop_ecrd(SRV)


class Public(fx.ApiTestCase):
    err_msg_regex = True
    err_checks_errortype = True

    @classmethod
    def setUpClass(cls):
        cls.c = public_client(ADMIN)
        cls.host = "127.0.0.1:%d" % SRV.port

    def ok(self, op, c=None, **kw):
        from botocore.exceptions import ClientError
        c = c or self.c
        try:
            getattr(c, op)(**kw)
        except ClientError as e:
            self.fail("%s: unexpected %s: %s" % (op, e.response["Error"]["Code"], e.response["Error"]["Message"]))
        raw = c._raw
        self.assertEqual(raw["status"], 200)
        body = json.loads(raw["body"])
        out = public_model()["operations"][raw["op"]].get("output")
        if out:
            self.assertEqual(check_shape(body, out["shape"]), [], body)
        return body

    def tearDown(self):
        for r in self.c.describe_repositories()["repositories"]:
            self.c.delete_repository(repositoryName=r["repositoryName"], force=True)

    def alias(self):
        regs = self.ok("describe_registries")["registries"]
        self.assertEqual(len(regs), 1)
        return regs[0]["aliases"][0]["name"]

    # --- registries ---

    def test_describe_registries(self):
        regs = self.ok("describe_registries")["registries"]
        self.assertEqual(len(regs), 1)
        r = regs[0]
        self.assertEqual(r["registryId"], fx.DEFAULT_ACCOUNT)
        self.assertEqual(r["registryArn"], "arn:aws:ecr-public::%s:registry/%s" % (fx.DEFAULT_ACCOUNT,
                                                                                   fx.DEFAULT_ACCOUNT))
        self.assertFalse(r["verified"])
        a = r["aliases"]
        self.assertEqual(len(a), 1)
        self.assertEqual((a[0]["status"], a[0]["primaryRegistryAlias"], a[0]["defaultRegistryAlias"]),
                         ("ACTIVE", True, True))
        self.assertEqual(r["registryUri"], "%s/%s" % (self.host, a[0]["name"]))
        # the alias is stable
        self.assertEqual(self.alias(), a[0]["name"])
        self.err("InvalidParameterException", "describe_registries", maxResults=0)
        self.err("InvalidParameterException", "describe_registries", maxResults=1001)

    def test_registry_catalog_data(self):
        self.ok("put_registry_catalog_data", displayName="")
        self.assertEqual(self.ok("get_registry_catalog_data")["registryCatalogData"].get("displayName", ""), "")
        out = self.ok("put_registry_catalog_data", displayName="Team Rocket")
        self.assertEqual(out["registryCatalogData"]["displayName"], "Team Rocket")
        self.assertEqual(self.ok("get_registry_catalog_data")["registryCatalogData"]["displayName"], "Team Rocket")
        self.err("InvalidParameterException", "put_registry_catalog_data", displayName="x" * 101)

    def test_get_authorization_token(self):
        out = self.ok("get_authorization_token")["authorizationData"]
        user, password = fx.decode_token(out["authorizationToken"])
        self.assertEqual(user, "AWS")
        self.assertTrue(len(password) > 20)
        self.assertIn("expiresAt", out)

    # --- repositories ---

    def test_create_describe_delete(self):
        alias = self.alias()
        out = self.ok("create_repository", repositoryName="web/app",
                      catalogData={"description": "the app", "architectures": ["x86-64", "ARM 64"],
                                   "operatingSystems": ["Linux"], "aboutText": "# About", "usageText": "run it"},
                      tags=[{"Key": "team", "Value": "core"}])
        r = out["repository"]
        self.assertEqual(r["repositoryArn"], "arn:aws:ecr-public::%s:repository/web/app" % fx.DEFAULT_ACCOUNT)
        self.assertEqual(r["registryId"], fx.DEFAULT_ACCOUNT)
        self.assertEqual(r["repositoryUri"], "%s/%s/web/app" % (self.host, alias))
        cd = out["catalogData"]
        self.assertEqual(cd["description"], "the app")
        self.assertEqual(cd["architectures"], ["x86-64", "ARM 64"])
        self.assertEqual(cd["aboutText"], "# About")
        self.err("RepositoryAlreadyExistsException", "create_repository", repositoryName="web/app")
        self.err("InvalidParameterException", "create_repository", repositoryName="x" * 206)
        self.err("InvalidParameterException", "create_repository", repositoryName="Bad_Name")
        self.err("InvalidParameterException", "create_repository", repositoryName="toolong",
                 catalogData={"description": "d" * 1025})
        self.err("RepositoryNotFoundException", "describe_repositories", repositoryNames=["toolong"])
        self.err("TooManyTagsException", "create_repository", repositoryName="many",
                 tags=[{"Key": "k%d" % i, "Value": "v"} for i in range(51)])
        self.err("InvalidTagParameterException", "create_repository", repositoryName="badtag",
                 tags=[{"Key": "aws:reserved", "Value": "v"}])
        self.ok("create_repository", repositoryName="plain")
        names = [x["repositoryName"] for x in self.ok("describe_repositories")["repositories"]]
        self.assertEqual(sorted(names), ["plain", "web/app"])
        page = self.ok("describe_repositories", maxResults=1)
        self.assertEqual(len(page["repositories"]), 1)
        rest = self.ok("describe_repositories", nextToken=page["nextToken"])
        self.assertEqual(len(rest["repositories"]), 1)
        self.err("InvalidParameterException", "describe_repositories", maxResults=1001)
        self.err("RepositoryNotFoundException", "describe_repositories", repositoryNames=["nothere"])
        d = self.ok("delete_repository", repositoryName="plain")["repository"]
        self.assertEqual(d["repositoryName"], "plain")
        self.err("RepositoryNotFoundException", "delete_repository", repositoryName="plain")

    def test_repository_catalog_data(self):
        alias = self.alias()
        self.ok("create_repository", repositoryName="cat")
        self.err("RepositoryCatalogDataNotFoundException", "get_repository_catalog_data", repositoryName="cat")
        out = self.ok("put_repository_catalog_data", repositoryName="cat",
                      catalogData={"description": "cats", "logoImageBlob": PNG})["catalogData"]
        self.assertEqual(out["description"], "cats")
        self.assertEqual(out["logoUrl"], "http://%s/gallery/logo/%s/cat" % (self.host, alias))
        got = self.ok("get_repository_catalog_data", repositoryName="cat")["catalogData"]
        self.assertEqual(got["description"], "cats")
        self.assertFalse(got["marketplaceCertified"])
        self.assertIn("logoUrl", got)
        # members left out are cleared
        got = self.ok("put_repository_catalog_data", repositoryName="cat", catalogData={"usageText": "u"})
        self.assertNotIn("description", got["catalogData"])
        self.assertNotIn("logoUrl", got["catalogData"])
        self.err("RepositoryNotFoundException", "get_repository_catalog_data", repositoryName="nothere")
        self.err("RepositoryNotFoundException", "put_repository_catalog_data", repositoryName="nothere",
                 catalogData={"description": "x"})
        self.err("InvalidParameterException", "put_repository_catalog_data", repositoryName="cat",
                 catalogData={"architectures": ["a" * 51]})
        self.err("InvalidParameterException", "put_repository_catalog_data", repositoryName="cat",
                 catalogData={"logoImageBlob": b"not an image"})

    def test_policies(self):
        self.ok("create_repository", repositoryName="pol")
        self.err("RepositoryPolicyNotFoundException", "get_repository_policy", repositoryName="pol")
        out = self.ok("set_repository_policy", repositoryName="pol", policyText=POLICY)
        self.assertEqual(json.loads(out["policyText"]), json.loads(POLICY))
        got = self.ok("get_repository_policy", repositoryName="pol")
        self.assertEqual((got["registryId"], got["repositoryName"]), (fx.DEFAULT_ACCOUNT, "pol"))
        self.ok("delete_repository_policy", repositoryName="pol")
        self.err("RepositoryPolicyNotFoundException", "delete_repository_policy", repositoryName="pol")
        self.err("InvalidParameterException", "set_repository_policy", repositoryName="pol", policyText="{")
        self.err("RepositoryNotFoundException", "set_repository_policy", repositoryName="nothere",
                 policyText=POLICY)

    def test_resource_tags(self):
        arn = self.ok("create_repository", repositoryName="tagged")["repository"]["repositoryArn"]
        self.ok("tag_resource", resourceArn=arn, tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
        tags = self.ok("list_tags_for_resource", resourceArn=arn)["tags"]
        self.assertEqual(sorted((t["Key"], t["Value"]) for t in tags), [("a", "1"), ("b", "2")])
        self.ok("untag_resource", resourceArn=arn, tagKeys=["a"])
        self.assertEqual([t["Key"] for t in self.ok("list_tags_for_resource", resourceArn=arn)["tags"]], ["b"])
        self.err("TooManyTagsException", "tag_resource", resourceArn=arn,
                 tags=[{"Key": "k%d" % i, "Value": "v"} for i in range(60)])
        self.err("InvalidTagParameterException", "tag_resource", resourceArn=arn,
                 tags=[{"Key": "aws:x", "Value": "v"}])
        self.err("RepositoryNotFoundException", "list_tags_for_resource",
                 resourceArn="arn:aws:ecr-public::%s:repository/nothere" % fx.DEFAULT_ACCOUNT)
        # an ECR (private) ARN is not an ECR Public resource
        self.err("InvalidParameterException", "list_tags_for_resource",
                 resourceArn="arn:aws:ecr:us-east-1:%s:repository/tagged" % fx.DEFAULT_ACCOUNT)

    # --- images ---

    def upload(self, repo, data):
        up = self.ok("initiate_layer_upload", repositoryName=repo)
        self.ok("upload_layer_part", repositoryName=repo, uploadId=up["uploadId"], partFirstByte=0,
                partLastByte=len(data) - 1, layerPartBlob=data)
        out = self.ok("complete_layer_upload", repositoryName=repo, uploadId=up["uploadId"],
                      layerDigests=[fx.sha256(data)])
        self.assertEqual(out["layerDigest"], fx.sha256(data))
        return fx.sha256(data)

    def push(self, repo, tag, seed=b"1"):
        config = fx.jbytes({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
                            "seed": seed.decode()})
        layer = b"layer-" + seed * 100
        cd, ld = self.upload(repo, config), self.upload(repo, layer)
        manifest = fx.jbytes({"schemaVersion": 2, "mediaType": fx.MT_OCI_MANIFEST,
                              "config": {"mediaType": fx.MT_OCI_CONFIG, "digest": cd, "size": len(config)},
                              "layers": [{"mediaType": fx.MT_OCI_LAYER, "digest": ld, "size": len(layer)}]})
        out = self.ok("put_image", repositoryName=repo, imageManifest=manifest.decode(), imageTag=tag)
        self.assertEqual(out["image"]["imageId"]["imageDigest"], fx.sha256(manifest))
        return manifest

    def test_push_and_describe(self):
        self.ok("create_repository", repositoryName="img")
        m1 = self.push("img", "v1")
        self.push("img", "v2", seed=b"2")
        self.err("ImageAlreadyExistsException", "put_image", repositoryName="img", imageManifest=m1.decode(),
                 imageTag="v1")
        details = self.ok("describe_images", repositoryName="img")["imageDetails"]
        self.assertEqual(len(details), 2)
        d1 = [d for d in details if d["imageDigest"] == fx.sha256(m1)][0]
        self.assertEqual(d1["imageTags"], ["v1"])
        self.assertEqual(d1["imageManifestMediaType"], fx.MT_OCI_MANIFEST)
        self.assertGreater(d1["imageSizeInBytes"], 0)
        one = self.ok("describe_images", repositoryName="img", imageIds=[{"imageTag": "v1"}])["imageDetails"]
        self.assertEqual([d["imageDigest"] for d in one], [fx.sha256(m1)])
        self.err("ImageNotFoundException", "describe_images", repositoryName="img", imageIds=[{"imageTag": "nope"}])
        self.err("RepositoryNotFoundException", "describe_images", repositoryName="nothere")
        self.err("InvalidParameterException", "describe_images", repositoryName="img", maxResults=0)
        tags = self.ok("describe_image_tags", repositoryName="img")["imageTagDetails"]
        self.assertEqual([t["imageTag"] for t in tags], ["v1", "v2"])
        self.assertEqual(tags[0]["imageDetail"]["imageDigest"], fx.sha256(m1))
        page = self.ok("describe_image_tags", repositoryName="img", maxResults=1)
        self.assertEqual([t["imageTag"] for t in page["imageTagDetails"]], ["v1"])
        rest = self.ok("describe_image_tags", repositoryName="img", nextToken=page["nextToken"])
        self.assertEqual([t["imageTag"] for t in rest["imageTagDetails"]], ["v2"])
        self.err("RepositoryNotFoundException", "describe_image_tags", repositoryName="nothere")
        self.err("InvalidParameterException", "describe_image_tags", repositoryName="img", maxResults=1001)
        # layers
        layers = self.ok("batch_check_layer_availability", repositoryName="img",
                         layerDigests=[json.loads(m1)["layers"][0]["digest"], "sha256:" + "0" * 64])
        self.assertEqual(layers["layers"][0]["layerAvailability"], "AVAILABLE")
        missing = [x for x in layers["layers"][1:] if x["layerAvailability"] == "UNAVAILABLE"] + layers["failures"]
        self.assertEqual(len(missing), 1, layers)
        self.err("RepositoryNotFoundException", "batch_check_layer_availability", repositoryName="nothere",
                 layerDigests=["sha256:" + "0" * 64])
        self.err("UploadNotFoundException", "upload_layer_part", repositoryName="img",
                 uploadId="00000000-0000-4000-8000-000000000000", partFirstByte=0, partLastByte=0,
                 layerPartBlob=b"x")
        self.err("LayersNotFoundException", "put_image", repositoryName="img", imageTag="v3",
                 imageManifest=json.dumps({"schemaVersion": 2, "mediaType": fx.MT_OCI_MANIFEST, "config": {
                     "mediaType": fx.MT_OCI_CONFIG, "digest": "sha256:" + "1" * 64, "size": 3}, "layers": [
                     {"mediaType": fx.MT_OCI_LAYER, "digest": "sha256:" + "2" * 64, "size": 5}]}))
        # delete
        self.err("RepositoryNotEmptyException", "delete_repository", repositoryName="img")
        out = self.ok("batch_delete_image", repositoryName="img", imageIds=[{"imageTag": "v2"}, {"imageTag": "zz"}])
        self.assertEqual(len(out["imageIds"]), 1)
        self.assertEqual(out["failures"][0]["failureCode"], "ImageNotFound")
        self.assertEqual(len(self.ok("describe_images", repositoryName="img")["imageDetails"]), 1)
        self.err("RepositoryNotFoundException", "batch_delete_image", repositoryName="nothere",
                 imageIds=[{"imageTag": "v1"}])
        self.ok("delete_repository", repositoryName="img", force=True)

    # --- isolation and authorization ---

    def test_private_and_public_are_different(self):
        priv = fx.make_client(SRV, ADMIN, CONFIG)
        priv.create_repository(repositoryName="same")
        try:
            self.err("RepositoryNotFoundException", "describe_repositories", repositoryNames=["same"])
            self.ok("create_repository", repositoryName="same")
            priv.delete_repository(repositoryName="same")
            self.ok("describe_repositories", repositoryNames=["same"])
            self.assertEqual([r for r in priv.describe_repositories()["repositories"]
                              if r["repositoryName"] == "same"], [])
        finally:
            try:
                priv.delete_repository(repositoryName="same", force=True)
            except Exception:
                pass

    def test_ecr_only_key_is_denied(self):
        dave = public_client(DAVE)
        self.err("AccessDeniedException", "describe_repositories", c=dave)
        self.err("AccessDeniedException", "create_repository", c=dave, repositoryName="davesrepo")
        priv = fx.make_client(SRV, DAVE, CONFIG)
        priv.create_repository(repositoryName="davesrepo")
        self.assertIn("davesrepo", [r["repositoryName"] for r in priv.describe_repositories()["repositories"]])
        priv.delete_repository(repositoryName="davesrepo")

    def test_wrong_service_signature(self):
        import botocore.auth
        import botocore.awsrequest
        import botocore.credentials
        body = b"{}"
        for service, target in (("ecr", "SpencerFrontendService.DescribeRegistries"),
                                ("ecr-public", fx.TARGET_PREFIX + "DescribeRepositories")):
            req = botocore.awsrequest.AWSRequest(method="POST", url=SRV.endpoint + "/", data=body, headers={
                "X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"})
            botocore.auth.SigV4Auth(botocore.credentials.Credentials(*ADMIN), service, "us-east-1").add_auth(req)
            st, hdrs, data = fx.http_request(SRV.port, "POST", "/", body=body, headers=dict(req.headers.items()))
            self.assertEqual(st, 400, data)
            self.assertEqual(json.loads(data)["__type"], "InvalidSignatureException", data)

    def test_unknown_and_ecr_only_operations(self):
        import botocore.auth
        import botocore.awsrequest
        import botocore.credentials
        for op in ("ListImages", "NoSuchOperation", "DescribeRegistry"):
            req = botocore.awsrequest.AWSRequest(method="POST", url=SRV.endpoint + "/", data=b"{}", headers={
                "X-Amz-Target": "SpencerFrontendService." + op, "Content-Type": "application/x-amz-json-1.1"})
            botocore.auth.SigV4Auth(botocore.credentials.Credentials(*ADMIN), "ecr-public",
                                    "us-east-1").add_auth(req)
            st, hdrs, data = fx.http_request(SRV.port, "POST", "/", body=b"{}", headers=dict(req.headers.items()))
            self.assertEqual((st, json.loads(data)["__type"]), (400, "UnknownOperationException"), op)

    def test_registry_id_of_another_account(self):
        self.err("RegistryNotFoundException", "batch_check_layer_availability", repositoryName="img",
                 registryId="noalias", layerDigests=["sha256:" + "0" * 64])


if __name__ == "__main__":
    ECRD = fx.ecrd_path(sys.argv)
    sys.exit(fx.run_main(sys.argv))
