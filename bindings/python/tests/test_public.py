"""Public registries through the Python binding: alias, display name, catalog data and logo."""
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import libecr  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


class PublicRegistryTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        url = "file://" + self.dir
        self.pub = libecr.Registry(url, account_id="111122223333", region="public", nosync=True)
        self.other = libecr.Registry(url, account_id="444455556666", region="public", nosync=True)
        self.priv = libecr.Registry(url, account_id="111122223333", region="us-east-1", nosync=True)

    def tearDown(self):
        for r in (self.pub, self.other, self.priv):
            r.close()
        shutil.rmtree(self.dir)

    def test_alias_and_display_name(self):
        self.assertTrue(self.pub.is_public)
        self.assertFalse(self.priv.is_public)
        self.assertEqual(self.pub.arn, "arn:aws:ecr-public::111122223333:registry/111122223333")
        alias = self.pub.public_alias()
        self.assertRegex(alias, r"^[a-z][a-z0-9]{7}$")
        self.assertEqual(self.pub.public_alias(), alias)
        self.pub.set_public_alias("team-a")
        self.assertEqual(self.priv.public_alias_lookup("team-a"), "111122223333")
        with self.assertRaises(libecr.AlreadyExistsError):
            self.other.set_public_alias("team-a")
        with self.assertRaises(libecr.InvalidError):
            self.pub.set_public_alias("Team")
        with self.assertRaises(libecr.NotFoundError):
            self.priv.public_alias_lookup("nobody")
        with self.assertRaises(libecr.InvalidError):
            self.priv.public_alias()
        self.assertEqual(self.pub.display_name, "")
        self.pub.display_name = "Team A"
        self.assertEqual(self.pub.display_name, "Team A")
        with self.assertRaises(libecr.InvalidError):
            self.pub.display_name = "x" * 101

    def test_catalog(self):
        self.pub.set_public_alias("team-a")
        repo = self.pub.create_repository("web")
        self.assertEqual(repo.uri, "public.ecr.aws/team-a/web")
        self.assertEqual(repo.arn, "arn:aws:ecr-public::111122223333:repository/web")
        with self.assertRaises(libecr.EcrError) as cm:
            repo.catalog_data()
        self.assertEqual(cm.exception.code, libecr._ffi.ECR_ECATALOG_DATA_NOT_FOUND)
        repo.set_catalog_data({"description": "A web server", "architectures": ["x86-64"],
                               "logoImageBlob": PNG})
        self.assertEqual(repo.catalog_data(), {"description": "A web server", "architectures": ["x86-64"],
                                               "marketplaceCertified": False})
        self.assertEqual(repo.catalog_logo(), PNG)
        with self.assertRaises(libecr.InvalidError):
            repo.set_catalog_data({"logoImageBlob": b"GIF89a" + bytes(10)})
        with self.assertRaises(libecr.InvalidError):
            repo.set_catalog_data({"title": "no such member"})
        repo.set_catalog_data('{"usageText": "docker pull"}')
        self.assertEqual(repo.catalog_data(), {"usageText": "docker pull", "marketplaceCertified": False})
        with self.assertRaises(libecr.NotFoundError):
            repo.catalog_logo()
        repo.close()


if __name__ == "__main__":
    unittest.main()
