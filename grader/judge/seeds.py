"""Per-student grading seeds from a course secret.

seed = the first 63 bits of HMAC-SHA256(secret, assignment id + NUL + student id).

Students cannot guess their inputs without the secret, yet one student's run
can be repeated exactly (`bpgrade replay`). The NUL between the two ids keeps
("ab", "c") and ("a", "bc") apart.

Hidden rubric items (`Item.hidden`: whatever a student does not see when
submitting) also draw from a digest of the submission's code
(`submission_digest`), so a changed submission meets fresh hidden inputs and
cannot learn them bit by bit over resubmissions, while grading the same code
with the same seed (`bpgrade replay`, which checks the submission's hash)
draws exactly the same inputs.

The secret comes from, in order: `--secret FILE`, the environment variable
BPGRADE_SECRET (the secret itself), BPGRADE_SECRET_FILE (a file holding it), or
a file `course.secret` next to the gradebook, created with random contents and
mode 0600 the first time it is needed.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
import sys
from typing import TYPE_CHECKING
from collections.abc import Mapping
from pathlib import Path

from backprop_grader.errors import SecretError

if TYPE_CHECKING:
    from backprop_grader.load import Loaded

ENV_SECRET = "BPGRADE_SECRET"
ENV_SECRET_FILE = "BPGRADE_SECRET_FILE"
DEFAULT_NAME = "course.secret"
# the --secret option of every command that draws per-student seeds
SECRET_HELP = ("course secret for per-student seeds (default: $%s, $%s, or %s next to the gradebook, "
               "created on first use)" % (ENV_SECRET, ENV_SECRET_FILE, DEFAULT_NAME))


class Secret:
    def __init__(self, key: bytes, origin: str, created: bool = False) -> None:
        self.key = key  # bytes
        self.origin = origin  # where it came from, for messages
        self.created = created

    @property
    def fingerprint(self) -> str:
        """Identifies the secret without revealing it (kept in the gradebook)."""
        return hmac.new(self.key, b"bpgrade secret fingerprint", hashlib.sha256).hexdigest()[:16]

    def seed(self, assignment: str, student: str) -> int:
        return seed(self.key, assignment, student)


def seed(key: bytes, assignment: str, student: str) -> int:
    msg = ("%s\0%s" % (assignment, student)).encode("utf-8")
    digest = hmac.new(key, msg, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # 63 bits: fits SQLite's signed integers


def submission_digest(loaded: Loaded) -> int:
    """64 bits of SHA-256 of the code that is graded (a module's text, or a
    notebook's code cells with their numbers)."""
    h = hashlib.sha256(loaded.kind.encode())
    for number, source in [(0, loaded.source)] + list(loaded.cells):
        data = str(source).encode("utf-8", "surrogatepass")
        h.update(b"\0%d\0%d\0" % (number, len(data)))
        h.update(data)
    return int.from_bytes(h.digest()[:8], "big")


def default_file(gradebook: str | Path) -> Path:
    return Path(gradebook).resolve().parent / DEFAULT_NAME


def load(secret_file: str | Path | None = None, gradebook: str | Path | None = None, create: bool = True,
         environ: Mapping[str, str] | None = None) -> Secret:
    """The course secret, from the first of the places in the module docstring."""
    env = os.environ if environ is None else environ
    if secret_file:
        return read_file(Path(secret_file))
    if env.get(ENV_SECRET):
        key = env[ENV_SECRET].strip().encode("utf-8")
        if len(key) < 16:
            warn("the secret in %s is short (%d characters); students could guess it"
                 % (ENV_SECRET, len(key)))
        return Secret(key, "$" + ENV_SECRET)
    if env.get(ENV_SECRET_FILE):
        return read_file(Path(env[ENV_SECRET_FILE]))
    path = default_file(gradebook or "grades.sqlite")
    if path.exists() or not create:
        return read_file(path)
    return make_file(path)


def read_file(path: Path) -> Secret:
    try:
        data = path.read_bytes().strip()
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise SecretError("%s: no such secret file" % path) from None
    except OSError as exc:
        raise SecretError("%s: cannot read the course secret (%s)" % (path, exc.strerror)) from None
    if not data:
        raise SecretError("%s: the secret file is empty" % path)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        warn("%s can be read by other users (mode %o); run: chmod 600 %s"
             % (path, stat.S_IMODE(mode), path))
    return Secret(data, str(path))


def make_file(path: Path) -> Secret:
    key = secrets.token_hex(32).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # made by a concurrent run: use that one
        return read_file(path)
    except OSError as exc:
        raise SecretError("%s: cannot create the course secret (%s)" % (path, exc.strerror)) from None
    with os.fdopen(fd, "wb") as f:
        f.write(key + b"\n")
    warn("created a new course secret in %s. Keep it (and share it with other graders): "
         "it decides every student's grading inputs." % path)
    return Secret(key, str(path), created=True)


def warn(message: str) -> None:
    print("bpgrade: " + message, file=sys.stderr)
