"""Choose how strongly to isolate the child, from what this machine allows.

Tier 3: bubblewrap (own mount, pid, network, IPC and user namespaces; only the
        Python installation, read-only, and the scratch folder are visible).
Tier 2: Landlock and seccomp (plus a different uid where root can give one).
Tier 1: child process, rlimits and the plain-number protocol, plus seccomp
        where there is one: without Landlock, files are not confined.
Every tier also gets whatever of Landlock and seccomp the kernel offers.

BPGRADE_ISOLATION=1|2|3 caps the tier and BPGRADE_LANDLOCK_ABI=N the Landlock
ABI used (0: none), to see what an older or weaker host would give.
"""
from __future__ import annotations

import ast
import atexit
import ctypes.util
import fcntl
import functools
import os
import random
import shutil
import site
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import weakref
from pathlib import Path
from typing import IO, Collection, Mapping, Sequence

from backprop_grader.tempdirs import temp_dir
from backprop_grader.sandbox.child.confine import landlock_abi

SANDBOX_UID = SANDBOX_GID = 64123  # unlikely to own anything else on the machine
# packages the child must not read: the grader's (editable, reference and rubrics are
# folders of their own), and an older install's top-level names
HIDDEN = ("backprop_grader", "backprop_grader.reference", "backprop_grader.rubrics", "grader", "reference", "rubrics")
SYSTEM = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/localtime")
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")


_boot = {}  # pid -> the boot folder that process made


def boot_dir() -> Path:
    """A readable folder holding only the child's files, one per process."""
    if os.getpid() not in _boot:
        boot = temp_dir("boot-")
        for name in ("child.py", "confine.py", "wire.py"):
            shutil.copyfile(Path(__file__).parent / "child" / name, boot / name)
            os.chmod(boot / name, 0o644)
        os.chmod(boot, 0o755)
        _boot[os.getpid()] = boot
        atexit.register(remove_boot_dir)
    return _boot[os.getpid()]


def remove_boot_dir() -> None:
    """At exit; a worker process that ends with os._exit calls it itself."""
    boot = _boot.pop(os.getpid(), None)
    if boot is not None:
        shutil.rmtree(boot, ignore_errors=True)


@functools.lru_cache(maxsize=None)
def hidden_dirs() -> list[Path]:
    """Every copy of the grader's packages: the one imported here and any installed
    copy in a site folder (running from a checkout with the package also installed
    leaves the installed reference gates in site-packages)."""
    import importlib.util
    found = set()
    for name in HIDDEN:
        try:
            if name.startswith("backprop_grader"):  # never an unrelated package of an old name
                spec = importlib.util.find_spec(name)  # found, not imported (reference/ imports NumPy)
                found.update(Path(p).resolve() for p in (spec and spec.submodule_search_locations) or ())
        except (ImportError, TypeError):
            pass
        for folder in site_folders():
            if (Path(folder) / name.replace(".", "/")).is_dir():
                found.add((Path(folder) / name.replace(".", "/")).resolve())
    return sorted(found)


def own_site_folders() -> set[str]:
    """This interpreter's own site folders."""
    paths = sysconfig.get_paths()
    return {paths["purelib"], paths["platlib"], *site.getsitepackages()}


def site_folders() -> set[str]:
    """Its own site folders and the site folders on sys.path (where copies of the
    grader may be installed)."""
    return own_site_folders() | {p for p in sys.path
                                 if p.endswith(("site-packages", "dist-packages"))}


@functools.lru_cache(maxsize=None)
def python_roots() -> list[str]:
    """The folders the child's Python imports from: exactly the sys.path of
    `python -I` (the standard library, site folders and what their .pth files
    add), never the grader's working folder or PYTHONPATH (run from /, that
    would be the whole disk), and never the grader's own source folder (an
    editable install's checkout holds tests and solutions)."""
    paths = sysconfig.get_paths()
    roots = {paths["stdlib"], paths["platstdlib"], sys.base_prefix, sys.prefix,
             *own_site_folders()}
    sources = {d.parent for d in hidden_dirs()} - {Path(f).resolve() for f in site_folders()}
    roots.update(p for p in child_sys_path() if Path(p).resolve() not in sources)
    return sorted({str(Path(r).resolve()) for r in roots if r and os.path.isdir(r)})


def child_sys_path() -> list[str]:
    out = subprocess.run([sys.executable, "-I", "-c", "import sys; print(repr(sys.path))"],
                         capture_output=True, text=True, timeout=30, cwd="/", env={})
    return [p for p in ast.literal_eval(out.stdout.strip() or "[]") if p and p != "/"]


def split_tree(root: Path | str, hidden: list[Path], read: list[str], listing: list[str]) -> None:
    """Allow `root` for reading, minus the hidden folders beneath it. Paths are
    resolved first: a rule follows links (a venv's lib64 -> lib held everything).
    Strings, not Paths: a plain install's site-packages has hundreds of entries."""
    walk(os.path.realpath(root), [str(h) for h in hidden], read, listing)


def walk(root: str, hidden: list[str], read: list[str], listing: list[str]) -> None:
    prefix = root.rstrip("/") + "/"
    inside = [h for h in hidden if h == root or h.startswith(prefix)]
    if not inside:
        read.append(root)
        return
    if root in inside:
        return
    listing.append(root)
    try:
        entries = list(os.scandir(root))
    except OSError:
        return
    for entry in entries:  # inside a resolved folder only a link needs resolving
        walk(os.path.realpath(entry.path) if entry.is_symlink() else entry.path, inside, read, listing)


@functools.lru_cache(maxsize=None)
def readable() -> tuple[list[str], list[str]]:
    """Folders the child may read and folders it may only list (computed once)."""
    hidden, read, listing = hidden_dirs(), [], []
    for root in list(SYSTEM) + python_roots() + linked_from(python_roots()):
        if os.path.exists(root):
            split_tree(Path(root).resolve(), hidden, read, listing)
    read = outermost(read) + [p for p in SYSTEM_FILES + DEVICES if os.path.exists(p)]
    return sorted(set(read)), sorted(set(listing))


def linked_from(roots: list[str]) -> list[str]:
    """Targets of symbolic links at the top of the import folders (a package
    linked into site-packages lives elsewhere, and the sandbox must reach it)."""
    found = []
    for root in roots:
        try:
            entries = list(os.scandir(root))
        except OSError:
            continue
        found += [str(Path(e.path).resolve()) for e in entries if e.is_symlink()
                  and Path(e.path).resolve().exists()]
    return found


def outermost(paths: list[str]) -> list[str]:
    """Drop paths that lie inside another one of the list."""
    kept = []
    for p in sorted(set(paths)):
        if not kept or not (p + "/").startswith(kept[-1].rstrip("/") + "/"):
            kept.append(p)
    return kept


def landlock_rules(scratch: Path) -> dict[str, list[str]]:
    read, listing = readable()
    return {"read": read, "list": listing, "write": [str(scratch), "/dev/null"]}


@functools.lru_cache(maxsize=None)
def capabilities() -> dict:
    """What this machine offers, probed once per process."""
    return {"bwrap": bwrap_works(), "root": os.geteuid() == 0,
            "uid_drop": os.geteuid() == 0 and readable_by_others(python_roots() + [sys.executable]),
            "landlock": landlock_abi(), "seccomp": libseccomp()}


def libseccomp() -> str:
    """libseccomp's name for the loader, or "" (looked up once: it runs ldconfig)."""
    return ctypes.util.find_library("seccomp") or ""


ENV_TIER, ENV_ABI = "BPGRADE_ISOLATION", "BPGRADE_LANDLOCK_ABI"


def forced(caps: dict, environ: Mapping[str, str] | None = None) -> dict:
    """`caps` less what BPGRADE_ISOLATION and BPGRADE_LANDLOCK_ABI take away."""
    env = os.environ if environ is None else environ
    caps = dict(caps)
    tier, abi = _env_int(env, ENV_TIER, (1, 2, 3)), _env_int(env, ENV_ABI, range(0, 100))
    if tier is not None and tier < 3:
        caps["bwrap"] = False
    if tier == 1:
        caps.update(uid_drop=False, landlock=0, seccomp="")
    if abi is not None:
        caps["landlock"] = min(caps["landlock"], abi)
    return caps


def _env_int(env: Mapping[str, str], name: str, allowed: Sequence[int]) -> int | None:
    text = env.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) not in allowed:
        from backprop_grader.errors import UsageError
        raise UsageError("%s=%s: expected one of %s" % (name, text, ", ".join(
            map(str, list(allowed)[:4])) + (", ..." if len(allowed) > 4 else "")))
    return int(text)


TMP_SIZE = 64 << 20  # bytes of /tmp inside bubblewrap (memory: it is a tmpfs)


def bwrap_works() -> bool:
    return bool(bwrap_tmp())


@functools.lru_cache(maxsize=None)
def bwrap_tmp() -> list[str]:
    """How bubblewrap makes the sandbox's /tmp: a size-capped tmpfs where this
    bwrap can cap it (0.9 and later), else a plain one; [] without a usable bwrap.
    (Landlock keeps it unwritable anyway; the cap is for hosts without Landlock.)"""
    exe = shutil.which("bwrap")
    if not exe:
        return []
    for tmp in (["--size", str(TMP_SIZE), "--tmpfs", "/tmp"], ["--tmpfs", "/tmp"]):
        try:
            if subprocess.run([exe, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/"]
                              + tmp + ["true"], capture_output=True, timeout=10).returncode == 0:
                return tmp
        except (OSError, subprocess.TimeoutExpired):
            return []
    return []


def readable_by_others(paths: list[str]) -> bool:
    """True when an unprivileged uid can reach and read every path."""
    for p in paths:
        p = Path(p).resolve()
        for d in [p] + list(p.parents):
            try:
                mode = d.stat().st_mode
            except OSError:
                return False
            need = stat.S_IXOTH if d != p or d.is_dir() else stat.S_IROTH
            if not mode & need:
                return False
    return True


UIDS = 4096  # sandbox uids: SANDBOX_UID + 1 ... SANDBOX_UID + UIDS
_claims_lock = threading.Lock()


def claim_uid() -> tuple[int, IO]:
    """(uid, lock file): a sandbox uid no other grading on this machine holds,
    whatever process it is in. The claim is a lock on a file in a folder only
    root can enter; it ends when the file is closed, or its process dies."""
    folder = Path(tempfile.gettempdir()) / "bpgrade-uids-0"
    with _claims_lock:
        folder.mkdir(mode=0o700, exist_ok=True)
        if folder.stat().st_uid != 0 or folder.is_symlink():
            raise OSError("%s is not root's own folder" % folder)
        start = random.randrange(UIDS)
        for i in range(UIDS):
            uid = SANDBOX_UID + 1 + (start + i) % UIDS
            f = open(folder / str(uid), "a")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.close()
                continue
            return uid, f
    raise OSError("all %d sandbox uids are in use" % UIDS)


class Plan:
    """How one submission's child is started and confined."""

    def __init__(self, scratch: Path | str, allow: Collection[str] | None = None,
                 outer: Plan | None = None, server: bool = False):
        """`outer`: the plan of the fork server this loader is forked from;
        `server`: this plan starts a fork server (its scratch is a root of folders)."""
        caps = forced(capabilities())
        if allow is not None:  # tests and benchmarks cap what is used
            caps = {k: v if k in allow else type(v)() for k, v in caps.items()}
        self.scratch, self.boot, self.caps = Path(scratch), boot_dir(), caps
        self.bwrap = caps["bwrap"] and outer is None  # start inside bwrap
        self.in_bwrap = outer.in_bwrap if outer is not None else self.bwrap
        # a uid of its own, so killing leftovers spares other gradings
        self.uid = None
        if caps["uid_drop"] and not self.in_bwrap and not server:
            self.uid, claim = claim_uid()
            weakref.finalize(self, claim.close)
        self.config = {"uid": self.uid, "gid": SANDBOX_GID if self.uid else None,
                      "seccomp": caps["seccomp"], "landlock_abi": caps["landlock"],
                      "landlock": landlock_rules(self.scratch) if caps["landlock"] else None}
        if not server:
            self.own_scratch()

    def own_scratch(self) -> None:
        """With a uid of its own, the sandbox owns its scratch folder and files."""
        if self.uid is not None:
            for p in [self.scratch] + list(self.scratch.rglob("*")):
                os.chown(p, self.uid, SANDBOX_GID)

    def argv(self, child_args: list[str]) -> list[str]:
        python = [sys.executable, "-I", "-B", str(self.boot / "child.py")] + child_args
        if not self.bwrap:
            return python
        cmd = ["bwrap", "--unshare-all", "--die-with-parent", "--cap-drop", "ALL",
               "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID),
               "--proc", "/proc", "--dev", "/dev"] + bwrap_tmp()
        # the same view as the Landlock rules: folders holding a hidden package
        # are recreated empty and filled entry by entry, so the grader, the
        # reference and the rubrics do not exist in the sandbox at all
        read, listing = readable()
        for path in sorted(set(listing) | {str(a) for d in listing for a in Path(d).parents}):
            cmd += ["--dir", path]
        for path in read:
            if path not in DEVICES:
                cmd += ["--ro-bind", path, path]
        for path in SYSTEM:
            if os.path.islink(path):
                cmd += ["--symlink", os.readlink(path), path]
        cmd += ["--ro-bind", str(self.boot), str(self.boot),
                "--bind", str(self.scratch), str(self.scratch), "--chdir", str(self.scratch)]
        return cmd + ["--"] + python

    def tier(self, layers: list[str]) -> int:
        """The tier that really ran, from the layers the child confirmed."""
        if self.in_bwrap:
            return 3
        # a uid of its own still reads the grader's installed packages: files are
        # confined only by Landlock
        landlock = any(layer.startswith("landlock") for layer in layers)
        return 2 if landlock and "seccomp" in layers else 1

    def kill_leftovers(self) -> None:
        """With a dropped uid, kill every process that uid still has."""
        if self.uid is None:
            return
        pid = os.fork()
        if pid == 0:
            try:
                os.setgid(SANDBOX_GID)
                os.setuid(self.uid)
                os.kill(-1, 9)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
