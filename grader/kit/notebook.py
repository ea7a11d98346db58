"""Check from inside a notebook: one line in a cell,

    from backprop_grader.kit.notebook import check; check()

(or `%load_ext backprop_grader.kit.notebook` once, then `%bpgrade_check`). It grades the
code cells this kernel has run so far (their text, in the order they ran; not
the file on disk, which may be unsaved), in the grader's sandbox, against the
assignment's rubric (the student kit's, found from the notebook's folder), and
prints the same feedback as `bpgrade check`. Cells that call the check are left
out. The modules beside the notebook can be imported, as in Jupyter.
"""
from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

SELF = re.compile(r"grader\.kit|bpgrade_check|^\s*check\(\)\s*$", re.M)


def inside_grader() -> bool:
    """True in the grader's own sandbox child (a submission that kept its check cell)."""
    return any(name.startswith("backprop_grader.sandbox.child") for name in sys.modules)


def cells_run(shell: InteractiveShell) -> list:
    """The code cells the kernel ran, as typed, without the ones that run this check."""
    raw = list(getattr(shell.history_manager, "input_hist_raw", []) or shell.user_ns.get("In", []))
    return [src for src in raw[1:] if src.strip() and not SELF.search(src)]


def check(rubric: str | None = None, folder: str | Path | None = None) -> None:
    """Grade what this notebook has run so far with the kit's visible checks; print
    the feedback."""
    if inside_grader():
        return
    import nbformat
    from IPython import get_ipython

    from backprop_grader import load
    from backprop_grader.errors import UsageError
    from backprop_grader.judge import rubric as rubric_mod
    from backprop_grader.judge import score
    from backprop_grader.kit import find_rubric, kit_for
    from backprop_grader.report import formats
    shell = get_ipython()
    if shell is None:
        print("bpgrade: check() runs inside a notebook; from a terminal use: bpgrade check NOTEBOOK")
        return
    here = Path(folder or Path.cwd()).resolve()
    seed = None
    try:
        if rubric:
            path, kit = Path(rubric), kit_for(Path(rubric))
        else:
            found = find_rubric(here, here)
            if found is None:
                raise UsageError("no rubric.yaml in %s: open the notebook from its kit's folder, or "
                                 "pass check(rubric=PATH)" % here)
            path, kit = found.rubric, found.kit
        rub = rubric_mod.load(path)
    except UsageError as exc:
        print("bpgrade: error: %s" % exc)
        return
    if kit:
        seed = kit.get("seed")
    cells = cells_run(shell)
    with tempfile.TemporaryDirectory(prefix="bpgrade-notebook-") as tmp:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
        target = Path(tmp) / "notebook.ipynb"
        nbformat.write(nb, str(target))
        loaded = load.load(target, class_names=list(rub.gates))
        loaded.siblings = [p for p in sorted(here.glob("*.py")) if p.is_file() and not p.is_symlink()]
        result = score.grade(loaded, rub, seed=seed)
    print("bpgrade: %d cell%s run so far, rubric %s" % (len(cells), "" if len(cells) == 1 else "s",
                                                        path if not kit else "%s (the kit's)" % path))
    print(formats.render(result, "text", True))
    got, maximum = formats.scored(result, True)
    print("Score on the visible checks: %g / %g" % (got, maximum))


def load_ipython_extension(shell: InteractiveShell) -> None:
    """`%load_ext backprop_grader.kit.notebook` adds the line magic `%bpgrade_check [RUBRIC]`."""
    shell.register_magic_function(lambda line: check(line.strip() or None),
                                  "line", "bpgrade_check")
