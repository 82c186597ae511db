"""An in-tree PEP 517 build backend (PEP 660 editable installs too),
standard library only.

pip builds a package in an isolated environment into which it first
installs the backend's requirements; with setuptools that is a download,
which fails offline. This backend needs nothing (requires = []), so
`pip install ./python` works without a network. It builds a pure-Python
py3-none-any wheel of the web4p2p/ package and an sdist, with metadata
(Core Metadata 2.1) from pyproject.toml's [project] table. Archives are
reproducible: sorted entries, fixed times (SOURCE_DATE_EPOCH if set).
"""

import base64
import gzip
import hashlib
import io
import os
import re
import tarfile
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "web4p2p"
# What the sdist holds besides the package: the build inputs and the tests.
SDIST_EXTRA = ("pyproject.toml", "README.md", "_build", "tests")
TAG = "py3-none-any"

__all__ = ["build_wheel", "build_sdist", "build_editable", "prepare_metadata_for_build_wheel",
           "prepare_metadata_for_build_editable", "get_requires_for_build_wheel",
           "get_requires_for_build_sdist", "get_requires_for_build_editable"]


# -- pyproject.toml ---------------------------------------------------------

def load_toml(text):
    """The TOML document text as dicts: tomllib where Python has it
    (3.11+); before that the subset pyproject.toml uses (tables, strings,
    arrays of strings, booleans, integers)."""
    try:
        import tomllib
    except ImportError:
        return _mini_toml(text)
    return tomllib.loads(text)


_KEY = re.compile(r'^([A-Za-z0-9_-]+)\s*=\s*(.*)$')
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _mini_toml(text):
    doc = {}
    table = doc
    pending = None  # (key, text so far) of a multi-line array
    for n, line in enumerate(text.splitlines(), 1):
        s = _strip_comment(line).strip()
        if pending:
            pending = (pending[0], pending[1] + " " + s)
            if s.endswith("]"):
                table[pending[0]] = _value(pending[1], n)
                pending = None
            continue
        if not s:
            continue
        if s.startswith("["):
            if not s.endswith("]") or s.startswith("[["):
                raise ValueError("pyproject.toml line %d: unsupported table header %r" % (n, s))
            table = doc
            for part in s[1:-1].strip().split("."):
                table = table.setdefault(part.strip().strip('"'), {})
            continue
        m = _KEY.match(s)
        if not m:
            raise ValueError("pyproject.toml line %d: want key = value, got %r" % (n, s))
        key, val = m.group(1), m.group(2).strip()
        if val.startswith("[") and not val.endswith("]"):
            pending = (key, val)
            continue
        table[key] = _value(val, n)
    if pending:
        raise ValueError("pyproject.toml: array %r not closed" % pending[0])
    return doc


def _strip_comment(line):
    out, quoted = [], False
    for i, c in enumerate(line):
        if c == '"' and (i == 0 or line[i - 1] != "\\"):
            quoted = not quoted
        if c == "#" and not quoted:
            break
        out.append(c)
    return "".join(out)


def _value(val, n):
    if val.startswith('"'):
        m = _STRING.fullmatch(val)
        if not m:
            raise ValueError("pyproject.toml line %d: bad string %r" % (n, val))
        return m.group(1).encode().decode("unicode_escape")
    if val.startswith("["):
        inner = val[1:-1].strip().rstrip(",")
        if not inner:
            return []
        items = [v.strip() for v in inner.split(",")]
        return [_value(v, n) for v in items]
    if val in ("true", "false"):
        return val == "true"
    if re.fullmatch(r"[+-]?[0-9]+", val):
        return int(val)
    raise ValueError("pyproject.toml line %d: unsupported value %r" % (n, val))


def project():
    """pyproject.toml's [project] table, checked for what the metadata needs."""
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        p = load_toml(f.read()).get("project")
    if not isinstance(p, dict):
        raise ValueError("pyproject.toml: no [project] table")
    for key in ("name", "version"):
        if not isinstance(p.get(key), str) or not p[key]:
            raise ValueError("pyproject.toml: project.%s: required string" % key)
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)*([ab]|rc)?[0-9]*", p["version"]):
        raise ValueError("pyproject.toml: project.version %r is not a plain PEP 440 version" % p["version"])
    return p


def _dist_name(p):
    return re.sub(r"[-_.]+", "_", p["name"]).lower()


def metadata(p):
    """Core Metadata 2.1 (METADATA / PKG-INFO) of the project p."""
    lines = ["Metadata-Version: 2.1", "Name: " + p["name"], "Version: " + p["version"]]
    if p.get("description"):
        lines.append("Summary: " + p["description"])
    if p.get("requires-python"):
        lines.append("Requires-Python: " + p["requires-python"])
    for c in p.get("classifiers", []):
        lines.append("Classifier: " + c)
    for label, url in sorted(p.get("urls", {}).items()):
        lines.append("Project-URL: %s, %s" % (label, url))
    for dep in p.get("dependencies", []):
        lines.append("Requires-Dist: " + dep)
    body = ""
    readme = p.get("readme")
    if isinstance(readme, str):
        with open(os.path.join(ROOT, readme), encoding="utf-8") as f:
            body = f.read()
        ctype = "text/markdown" if readme.endswith(".md") else "text/plain"
        lines.append("Description-Content-Type: " + ctype)
    return "\n".join(lines) + "\n\n" + body


# -- archives ---------------------------------------------------------------

def _epoch():
    return int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))  # 1980-01-01, the zip format's first


def _package_files():
    """(path in the archive, path on disk) of the package's sources."""
    out = []
    for dirpath, dirs, files in os.walk(os.path.join(ROOT, PACKAGE)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".py", ".typed")):
                full = os.path.join(dirpath, name)
                out.append((os.path.relpath(full, ROOT).replace(os.sep, "/"), full))
    return out


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (arcname, digest, len(data))


def _dist_info_files(p):
    """The .dist-info files but RECORD: name -> bytes."""
    wheel = "Wheel-Version: 1.0\nGenerator: web4p2p_build\nRoot-Is-Purelib: true\nTag: %s\n" % TAG
    return {"METADATA": metadata(p).encode(), "WHEEL": wheel.encode(), "top_level.txt": (PACKAGE + "\n").encode()}


def _write_wheel(wheel_directory, p, contents):
    """Write a wheel of contents ([(arcname, bytes)]) plus .dist-info."""
    name = _dist_name(p)
    info = "%s-%s.dist-info" % (name, p["version"])
    files = list(contents) + [(info + "/" + k, v) for k, v in sorted(_dist_info_files(p).items())]
    record = [_record_line(a, d) for a, d in files] + [info + "/RECORD,,"]
    files.append((info + "/RECORD", ("\n".join(record) + "\n").encode()))
    filename = "%s-%s-%s.whl" % (name, p["version"], TAG)
    stamp = time.gmtime(max(_epoch(), 315532800))[:6]
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w", zipfile.ZIP_DEFLATED) as z:
        for arcname, data in files:
            zi = zipfile.ZipInfo(arcname, stamp)
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    return filename


def _read(path):
    with open(path, "rb") as f:
        return f.read()


# -- PEP 517 / PEP 660 hooks ------------------------------------------------

def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    p = project()
    info = "%s-%s.dist-info" % (_dist_name(p), p["version"])
    os.makedirs(os.path.join(metadata_directory, info), exist_ok=True)
    for k, v in _dist_info_files(p).items():
        with open(os.path.join(metadata_directory, info, k), "wb") as f:
            f.write(v)
    return info


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    p = project()
    return _write_wheel(wheel_directory, p, [(a, _read(full)) for a, full in _package_files()])


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    """A wheel whose .pth puts this source tree on sys.path (PEP 660)."""
    p = project()
    return _write_wheel(wheel_directory, p, [("_%s_editable.pth" % PACKAGE, (ROOT + "\n").encode())])


def build_sdist(sdist_directory, config_settings=None):
    p = project()
    base = "%s-%s" % (_dist_name(p), p["version"])
    entries = [(a, full) for a, full in _package_files()]
    for extra in SDIST_EXTRA:
        full = os.path.join(ROOT, extra)
        if os.path.isfile(full):
            entries.append((extra, full))
        for dirpath, dirs, files in os.walk(full):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if not name.endswith((".pyc", ".pyo")):
                    f = os.path.join(dirpath, name)
                    entries.append((os.path.relpath(f, ROOT).replace(os.sep, "/"), f))
    files = [(base + "/PKG-INFO", metadata(p).encode())] + [(base + "/" + a, _read(f)) for a, f in sorted(entries)]
    filename = base + ".tar.gz"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for arcname, data in files:
            ti = tarfile.TarInfo(arcname)
            ti.size, ti.mtime, ti.mode = len(data), _epoch(), 0o644
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = ""
            tar.addfile(ti, io.BytesIO(data))
    with open(os.path.join(sdist_directory, filename), "wb") as out:
        with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=_epoch()) as gz:
            gz.write(buf.getvalue())
    return filename
