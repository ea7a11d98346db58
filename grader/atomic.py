"""Writing a file whole or not at all: into a temporary file beside it, renamed
over it once complete, so a full disk or a killed grader never leaves half a file."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def replacing(path: str | Path, mode: int = 0o644) -> Iterator[BinaryIO]:
    """A binary file to write; it replaces `path` when the block ends without an
    exception, and is removed otherwise. `mode` from the start (a secret never
    sits in a readable file)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        tmp.replace(path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def write_text(path: str | Path, text: str, mode: int = 0o644) -> None:
    with replacing(path, mode) as f:
        f.write(text.encode("utf-8"))
