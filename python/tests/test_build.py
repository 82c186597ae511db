"""Unit tests of the in-tree build backend (_build/web4p2p_build.py)."""

import base64
import csv
import hashlib
import io
import os
import sys
import tarfile
import tempfile
import unittest
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "_build"))
import web4p2p_build as backend  # noqa: E402


class Backend(unittest.TestCase):
    def test_needs_nothing(self):
        self.assertEqual(backend.get_requires_for_build_wheel(), [])
        self.assertEqual(backend.get_requires_for_build_sdist(), [])
        self.assertEqual(backend.get_requires_for_build_editable(), [])

    def test_wheel_is_complete_and_reproducible(self):
        with tempfile.TemporaryDirectory() as d1, tempfile.TemporaryDirectory() as d2:
            name = backend.build_wheel(d1)
            self.assertEqual(name, "web4p2p-%s-py3-none-any.whl" % backend.project()["version"])
            self.assertEqual(backend.build_wheel(d2), name)
            with open(os.path.join(d1, name), "rb") as f1, open(os.path.join(d2, name), "rb") as f2:
                self.assertEqual(f1.read(), f2.read(), "two builds differ")
            with zipfile.ZipFile(os.path.join(d1, name)) as z:
                names = z.namelist()
                info = [n for n in names if n.endswith(".dist-info/RECORD")][0].rsplit("/", 1)[0]
                self.assertIn("web4p2p/__init__.py", names)
                self.assertIn("web4p2p/transport.py", names)
                self.assertFalse([n for n in names if "__pycache__" in n or n.startswith("tests/")])
                rows = list(csv.reader(io.StringIO(z.read(info + "/RECORD").decode())))
                self.assertEqual(sorted(r[0] for r in rows), sorted(names))
                for path, digest, size in rows:
                    if path == info + "/RECORD":
                        self.assertEqual((digest, size), ("", ""))
                        continue
                    data = z.read(path)
                    want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                    self.assertEqual((digest, int(size)), (want, len(data)), path)
                meta = z.read(info + "/METADATA").decode()
                self.assertIn("Name: web4p2p\n", meta)
                self.assertIn("Requires-Python: >=3.9\n", meta)
                self.assertIn("Root-Is-Purelib: true", z.read(info + "/WHEEL").decode())

    def test_sdist_holds_the_build_inputs(self):
        with tempfile.TemporaryDirectory() as d:
            name = backend.build_sdist(d)
            base = name[:-len(".tar.gz")]
            with tarfile.open(os.path.join(d, name)) as t:
                names = t.getnames()
                pkginfo = t.extractfile(base + "/PKG-INFO").read().decode()
            for want in ("pyproject.toml", "PKG-INFO", "_build/web4p2p_build.py", "web4p2p/client.py", "tests/test_build.py"):
                self.assertIn(base + "/" + want, names)
            self.assertIn("Version: " + backend.project()["version"], pkginfo)

    def test_editable_points_here(self):
        with tempfile.TemporaryDirectory() as d:
            with zipfile.ZipFile(os.path.join(d, backend.build_editable(d))) as z:
                pth = [n for n in z.namelist() if n.endswith(".pth")]
                self.assertEqual(z.read(pth[0]).decode().strip(), ROOT)

    def test_metadata_matches_prepare(self):
        with tempfile.TemporaryDirectory() as d:
            info = backend.prepare_metadata_for_build_wheel(d)
            with open(os.path.join(d, info, "METADATA")) as f:
                self.assertEqual(f.read(), backend.metadata(backend.project()))

    def test_version_is_the_package_version(self):
        sys.path.insert(0, ROOT)
        try:
            import web4p2p
        finally:
            sys.path.remove(ROOT)
        self.assertEqual(web4p2p.__version__, backend.project()["version"])

    def test_mini_toml_reads_pyproject_as_tomllib_does(self):
        with open(os.path.join(ROOT, "pyproject.toml")) as f:
            text = f.read()
        try:
            import tomllib
        except ImportError:
            self.skipTest("no tomllib before Python 3.11 to compare with")
        self.assertEqual(backend._mini_toml(text), tomllib.loads(text))

    def test_mini_toml_refuses_what_it_does_not_know(self):
        for text in ('[project]\nname = 1.5\n', '[[bin]]\nx = "y"\n', 'name\n', 'a = [\n"x"\n'):
            with self.subTest(text=text):
                with self.assertRaises(ValueError):
                    backend._mini_toml(text)
        self.assertEqual(backend._mini_toml('[a.b]\nx = "q # not a comment" # comment\ny = true\nz = [\n  "1",\n  "2",\n]\n'),
                         {"a": {"b": {"x": "q # not a comment", "y": True, "z": ["1", "2"]}}})


if __name__ == "__main__":
    unittest.main()
