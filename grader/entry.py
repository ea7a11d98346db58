"""The `bpgrade` command's first step: for `check` and `grade`, start the
sandbox's interpreter before anything heavy is imported, so that its start-up
(Python, NumPy, IPython for a notebook) overlaps the grader's own imports and
reading the submission. Then the CLI (grader.cli) runs as usual."""
from __future__ import annotations

import sys
from pathlib import Path

GRADING = ("check", "grade")


def notebook_hint(args: list[str]) -> bool:
    """True when the submission named on the command line looks like a notebook."""
    for arg in args:
        if arg.startswith("-"):
            continue
        path = Path(arg)
        if path.suffix == ".ipynb":
            return True
        if path.is_dir():
            try:
                return any(p.suffix == ".ipynb" for p in path.iterdir())
            except OSError:
                return False
    return False


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in GRADING and "-h" not in argv and "--help" not in argv:
        from backprop_grader.sandbox.spawn import start_early
        start_early(notebook=notebook_hint(argv[1:]))
    from backprop_grader.cli import main as cli_main
    return cli_main(argv)
