"""A submission's files, as load copies them and classlist hashes and packs them.

The gradebook keeps each submission's hash (`bpgrade replay` checks it, a batch
skips what it has graded): it must never change for the same files, so it is
pinned here for a folder that has every case the file list decides (nested
folders, names that sort differently as paths and as text, hidden files, skipped
folders, a file named like one, links, non-ASCII names).
"""
import io
import os
import zipfile

from backprop_grader import load
from backprop_grader.batch import classlist

FILES = {"a.py": "x = 1\n", "a/b.py": "y = 2\n", "a/c.txt": "notes", "B.ipynb": "{}",
         ".hidden.py": "h", "__pycache__/x.pyc": "cache", "sub/.git": "gitdir: ../.git/modules/sub",
         ".git/config": "[core]", "z/__MACOSX/y": "mac", "z/deep/e\u0301.py": "accent",
         "a b/space.py": "s", "Z.py": "upper", "a.py.bak": "bak"}
ORDER = [".hidden.py", "B.ipynb", "Z.py", "a/b.py", "a/c.txt", "a b/space.py", "a.py", "a.py.bak",
         "z/deep/e\u0301.py"]


def folder(tmp_path):
    root = tmp_path / "sub mission"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    os.symlink("a.py", root / "link.py")
    os.symlink("a", root / "linkdir")
    return root


def test_submission_hash_is_pinned(tmp_path):
    root = folder(tmp_path)
    assert classlist.submission_hash(root) == "c7d4fad09583edf094d73577e3d9cb92ddace3cf72ae189271a1c491b8ef3f3e"
    assert classlist.submission_hash(root / "a.py") == \
        "c4fb60b0c4148f25c0ac11dafef4dcdb4c1ba1c1da82944c3a2dd3a85a11d597"


def test_files_in_path_order_without_links_or_skipped_folders(tmp_path):
    root = folder(tmp_path)
    assert [rel for rel, _ in classlist.files_of(root)] == ORDER
    names = zipfile.ZipFile(io.BytesIO(classlist.pack(root))).namelist()
    assert names == ["sub mission/" + rel for rel in ORDER]


def test_what_is_hashed_is_what_load_copies(tmp_path):
    """load copies the same files (and a file named like a skipped folder, which is not hashed)."""
    root = folder(tmp_path)
    copied = sorted(p.relative_to(root).as_posix() for p in load.regular_files(root))
    assert copied == sorted(ORDER + ["sub/.git"])
