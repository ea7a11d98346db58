"""The sandbox's IPython shell skips its input transforms for plain Python cells
(grader/sandbox/child.py: plain_python). Skipping must never change what runs."""
import contextlib
import io
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "grader" / "sandbox"))
import child  # noqa: E402

TRICKY = ["pwd", "ls", "time", "who", "cd", "np.sum?", "x = !ls", "x = %time 1", "!pip list",
          "%%time\nx = 1", "  x = 1", "\nx = 1", ">>> x = 1", "In [1]: x = 1", "?x",
          "y = 2\n%timeit y + 1", "def f():\n    return 1\n    %magic", "x = 1 # why?\ny = 2?",
          "f(1,\n  / 2)"]
PLAIN = ["x = 1", "print(1)", "import numpy as np", "a = b % c\nd = 1", "x != y\n",
         "# a comment\nx = 1", "def f():\n    return 1\n", "x = 1;", "class A:\n    pass",
         "s = '%d' % 3\nt = 'what?' + s"]


@pytest.fixture(scope="module")
def shell():
    with contextlib.redirect_stdout(io.StringIO()):
        return child.make_shell()


def ipython_transform(shell, cell):
    return type(shell).transform_cell(shell, cell)


def cells():
    found = []
    for path in sorted(ROOT.glob("tests/**/*.ipynb")) + sorted(ROOT.glob("assignments/**/*.ipynb")):
        try:
            nb = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError):
            continue  # the corpus's broken notebooks
        for cell in nb.get("cells", []) if isinstance(nb, dict) else []:
            if isinstance(cell, dict) and cell.get("cell_type") == "code":
                source = cell.get("source", "")
                found.append(source if isinstance(source, str) else "".join(source))
    return found


def test_plain_cells_are_what_ipython_would_run(shell):
    corpus = cells()
    assert len(corpus) > 50
    fast = [c for c in corpus + PLAIN + TRICKY if child.plain_python(shell, c)]
    assert len(fast) > len(corpus) // 2  # most real cells take the fast path
    for cell in fast:
        assert shell.transform_cell(cell) == ipython_transform(shell, cell), cell


@pytest.mark.parametrize("cell", TRICKY)
def test_ipython_syntax_goes_through_ipython(shell, cell):
    assert not child.plain_python(shell, cell)


@pytest.mark.parametrize("cell", PLAIN)
def test_plain_python_is_recognised(shell, cell):
    assert child.plain_python(shell, cell)
