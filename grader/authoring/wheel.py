"""Wheels of the installed grader, built from the files Python imports it from.

No source checkout, setuptools or network is needed: the wheel is zipped from
the installed `backprop_grader` package (a plain `pip install .` or an editable one),
with the dependencies the installed distribution declares.

- `full`: backprop_grader/ with its reference/ and rubrics/: what the instructor installs (the
  Gradescope autograder bundles it).
- `student`: backprop_grader/ and the rubric schema only: no reference/ (the reference
  gates are the answer key) and no packaged rubric (they hold hidden items).
  It also depends on pytest, so `pytest --bpgrade` works from a plain install.
  A student kit bundles it (`bpgrade release`).
"""
from __future__ import annotations

import base64
import hashlib
import importlib
import importlib.metadata
import re
import zipfile
from pathlib import Path
from typing import BinaryIO

import backprop_grader as grader
from backprop_grader import atomic
from backprop_grader.errors import PackageError

PROJECT = "backprop-grader"
DIST = "backprop_grader"
SKIP = re.compile(r"(^|/)(__pycache__|\.pytest_cache)(/|$)|\.py[co]$")


def package_dir(name: str) -> Path:
    module = importlib.import_module(name)
    return Path(module.__file__).resolve().parent


def requirements(student: bool) -> list:
    """The installed distribution's own dependencies (no extras); the student
    wheel adds pytest for `pytest --bpgrade`."""
    try:
        found = importlib.metadata.requires(PROJECT) or []
    except importlib.metadata.PackageNotFoundError:
        raise PackageError("%s is not installed (pip install .): cannot tell its dependencies" % PROJECT) from None
    deps = [r for r in found if "extra ==" not in r]
    if student and not any(re.match(r"pytest\b", d) for d in deps):
        deps.append("pytest>=7")
    return deps


def files(student: bool) -> list:
    """[(name in the wheel, path)] of the packages that go in."""
    out = []
    parts = {"": package_dir(DIST)}  # installed, reference/ and rubrics/ are inside it;
    for sub in ("reference", "rubrics"):  # editable, they are folders of their own
        try:
            parts[sub] = package_dir("%s.%s" % (DIST, sub))
        except ImportError:  # a student install has no reference/
            pass
    inner = [d for name, d in parts.items() if name]
    for pkg, top in parts.items():
        if student and pkg == "reference":
            continue
        for path in sorted(top.rglob("*")):
            rel = path.relative_to(top).as_posix()
            if not path.is_file() or SKIP.search(rel):
                continue
            if pkg == "" and any(path.is_relative_to(d) for d in inner):
                continue  # installed, reference/ and rubrics/ sit inside: added as their own part
            if student and pkg == "rubrics" and path.name not in ("__init__.py", "rubric.schema.json"):
                continue
            if not student and pkg == "rubrics" and path.suffix not in (".py", ".yaml", ".json"):
                continue
            out.append(("/".join(filter(None, (DIST, pkg, rel))), path))
    return out


def build(dest: Path, student: bool = False) -> Path:
    """Write the wheel into folder `dest`; returns its path."""
    version = grader.__version__ + ("+student" if student else "")
    info = "%s-%s.dist-info" % (DIST, version)
    summary = ("backprop-grader for students: the self-check, without reference gates or hidden checks"
               if student else "Autograder for backpropagation exercises")
    metadata = ["Metadata-Version: 2.1", "Name: %s" % PROJECT, "Version: %s" % version,
                "Summary: %s" % summary, "Requires-Python: >=3.10"]
    metadata += ["Requires-Dist: %s" % d for d in requirements(student)]
    members = [(name, path.read_bytes()) for name, path in files(student)]
    members += [
        ("%s/METADATA" % info, ("\n".join(metadata) + "\n").encode()),
        ("%s/WHEEL" % info, b"Wheel-Version: 1.0\nGenerator: bpgrade\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
        ("%s/entry_points.txt" % info,
         b"[console_scripts]\nbpgrade = backprop_grader.entry:main\n\n"
         b"[pytest11]\nbpgrade = backprop_grader.pytest_plugin\n"),
        ("%s/top_level.txt" % info, b"backprop_grader\n"),
    ]
    record = []
    for name, data in members:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (name, digest, len(data)))
    record.append("%s/RECORD,," % info)
    members.append(("%s/RECORD" % info, ("\n".join(record) + "\n").encode()))
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / ("%s-%s-py3-none-any.whl" % (DIST, version))
    with atomic.replacing(path) as f:
        write_zip(f, [(name, data, 0o644) for name, data in members])
    return path


def write_zip(f: BinaryIO, members: list) -> None:
    """[(name, bytes, mode)] into a reproducible zip: fixed dates, deflated."""
    with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
