"""The sandbox's IPython shell skips its token transforms (the tokenizing that is
half the time of a cell) when they would find nothing to do (grader/sandbox/child/child.py:
plain_python). Skipping must never change what runs: every cell here is transformed
by the shell's manager and by a fresh, unchanged IPython one, and the two must agree."""
import contextlib
import io
import json
import random
import sys
from pathlib import Path

import pytest
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "grader" / "sandbox" / "child"))
import child  # noqa: E402

# Cells IPython changes: escapes, help, magic assignments, prompts (even inside strings),
# indentation, whitespace-only lines, line breaks other than \n.
TRICKY = ["pwd", "ls", "time", "who", "cd", "np.sum?", "x = !ls", "x = %time 1", "!pip list",
          "%%time\nx = 1", "  x = 1", "\nx = 1", ">>> x = 1", "In [1]: x = 1", "?x",
          "y = 2\n%timeit y + 1", "def f():\n    return 1\n    %magic", "x = 1 # why?\ny = 2?",
          "f(1,\n  / 2)", "x = 1\n    >>> 2\n", 't = """\n    >>> x\n    ... y\n"""\n',
          't = """\n>>> x\n"""', 's = """a\n   \nb"""', "x = 1\n\t\nprint(x)", "\x0cx = 1",
          "x = 1\r%time 2", "s = 'a\u2028%time'", "x = 1\ny = 2?\r\n", "x = \\\n  %time 1",
          "a = 1\nIn [2]: b = 2", "if a:\n In [2]: b", "x = 1  \n?y"]
# Cells IPython leaves as they are, including its syntax inside strings and comments.
PLAIN = ["x = 1", "print(1)", "import numpy as np", "a = b % c\nd = 1", "x != y\n",
         "# a comment\nx = 1", "def f():\n    return 1\n", "x = 1;", "class A:\n    pass",
         "s = '%d' % 3\nt = 'what?' + s", 'print("loss=%.3f" % 1.0)', "x = 1  # why?",
         's = """\n%matplotlib\n!ls\n"""', "# what?\nx = 2", "f(a='%s' % b)",
         "assert ok, 'x=%r' % (x,)", 'def f(x):\n    """Double.\n\n    >>> f(2)\n    4\n    """\n'
         "    return 2 * x"]
# Fragments for random cells: Python, IPython syntax, and the look-alikes in between.
PIECES = ["x = 1", "print('a=%d' % 1)", "%time x", "!ls", "y = %time 1", "z = !pwd", "x?",
          "# why?", "s = '''", "'''", '"""', ">>> 1", "... 2", "In [3]: q", "   ...: r",
          "    w = 2", "", "   ", "\t", "if x:", "    pass", "f(1,", " / 2)", "%%time", "? x",
          ",f 1", ";g 2", "/h", "a = b % c", "d = {'k': 'v?'}", "x = 1\r", "\x0c", "'\u2028%'",
          "def f():", "    return 1", "u = \\", "  %time 3", "await g()", "n = (1 +", "2)"]


@pytest.fixture(scope="module")
def shell():
    with contextlib.redirect_stdout(io.StringIO()):
        return child.make_shell()


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


def random_cells(n, seed=0):
    rng = random.Random(seed)
    return ["\n".join(rng.choice(PIECES) for _ in range(rng.randint(1, 6))) for _ in range(n)]


def after_cleanup(cell):
    """A cell as IPython's token transforms see it."""
    manager = TransformerManager()
    lines = (cell if cell.endswith("\n") else cell + "\n").splitlines(keepends=True)
    for transform in manager.cleanup_transforms + manager.line_transforms:
        lines = transform(lines)
    return "".join(lines)


def test_skipping_never_changes_a_cell(shell):
    corpus = cells()
    assert len(corpus) > 50
    every = corpus + PLAIN + TRICKY + random_cells(3000)
    for cell in every:
        try:
            want = TransformerManager().transform_cell(cell)
        except SyntaxError as exc:  # IPython's tokenizer rejects the cell
            try:
                got = shell.input_transformer_manager.transform_cell(cell)
            except SyntaxError as again:
                assert type(again) is type(exc), repr(cell)
                continue
            with pytest.raises(type(exc)):  # skipped: then Python rejects it the same way
                compile(got, "<cell>", "exec", dont_inherit=True)
            continue
        assert shell.input_transformer_manager.transform_cell(cell) == want, repr(cell)
    fast = [c for c in corpus if child.plain_python(after_cleanup(c))]
    assert len(fast) > 0.9 * len(corpus)  # real cells take the fast path


def test_the_shell_runs_what_ipython_runs(shell):
    """Whole cells through the shell: magics, help, prompts and automagic still work."""
    with contextlib.redirect_stdout(io.StringIO()) as out:
        shell.run_cell("x = %time 1 + 1\nprint('x=%d' % x)")
        shell.run_cell("t = '''\n>>> not a prompt, but IPython strips it\n'''\nprint(repr(t))")
    assert "x=2" in out.getvalue()
    assert "'\\nnot a prompt, but IPython strips it\\n'" in out.getvalue()


def token_syntax(cell):
    """Cells that IPython's token transforms change (after its cleanup transforms)."""
    lines = after_cleanup(cell).splitlines(keepends=True)
    try:
        return TransformerManager().do_token_transforms(list(lines)) != lines
    except SyntaxError:  # not even tokens: nothing to skip
        return False


@pytest.mark.parametrize("cell", [c for c in TRICKY + random_cells(300, seed=1) if token_syntax(c)])
def test_ipython_syntax_goes_through_ipython(cell):
    assert not child.plain_python(after_cleanup(cell))


@pytest.mark.parametrize("cell", PLAIN)
def test_plain_python_is_recognised(cell):
    assert child.plain_python(after_cleanup(cell))
