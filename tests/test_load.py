"""grader/load.py: finding and reading a submission (nothing runs), then notebook
semantics end to end through score.grade (student code runs in the sandbox)."""
import dataclasses
import json
import tracemalloc
import warnings
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from backprop_grader import load
from backprop_grader.report import results as report
from backprop_grader.judge import rubric, score

DATA = Path(__file__).parent / "data"
GOOD = (DATA / "good.py").read_text()
GATES = ["MultiplyGate", "AddGate"]

MUL = """class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y
    def backward(self, dz):
        return [self.y * dz, self.x * dz]
"""
ADD = """class AddGate(object):
    def forward(self, x, y):
        return x + y
    def backward(self, dz):
        return [dz, dz]
"""
MUL_FORGOT_DZ = MUL.replace("[self.y * dz, self.x * dz]", "[self.y, self.x]")
ADD_WRONG = ADD.replace("[dz, dz]", "[1.0, 1.0]")


def write_nb(path, sources, markdown=()):
    """A current-format notebook written with nbformat; `markdown` cells go first."""
    nb = v4.new_notebook()
    nb.cells = [v4.new_markdown_cell(m) for m in markdown] + [v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, str(path))
    return path


def hand_nb(minor, sources, ids, as_list=True):
    """A hand-written nbformat 4.<minor> notebook as a dict."""
    cells = []
    for k, src in enumerate(sources):
        cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                "source": src.splitlines(keepends=True) if as_list else src}
        if ids:
            cell["id"] = "cell-%d" % k
        cells.append(cell)
    md = {"cell_type": "markdown", "metadata": {}, "source": "Some *notes*."}
    if ids:
        md["id"] = "md"
    return {"nbformat": 4, "nbformat_minor": minor,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                        "language": "python"}},
            "cells": [md] + cells}


# ---------------------------------------------------------------- files

def test_missing_path_is_a_usage_error(tmp_path):
    with pytest.raises(load.UsageError, match="no such file"):
        load.load(tmp_path / "nope.py")


def test_py_module(tmp_path):
    p = tmp_path / "hw.py"
    p.write_text(GOOD)
    got = load.load(p, GATES)
    assert (got.kind, got.problem, got.notes) == ("module", "", [])
    assert got.source == GOOD
    assert got.path == p
    config = got.config()
    assert (config["kind"], config["path"], config["name"]) == ("module", "hw.py", "hw")


@pytest.mark.parametrize("stem, name", [("my-hw 2", "my_hw_2"), ("2024_hw", "_2024_hw")])
def test_module_name_is_an_identifier(tmp_path, stem, name):
    p = tmp_path / (stem + ".py")
    p.write_text(GOOD)
    assert load.load(p).name == name


def test_ipynb_notebook(tmp_path):
    p = write_nb(tmp_path / "hw.ipynb", ["import numpy as np", "", MUL, ADD], markdown=["# Gates"])
    got = load.load(p, GATES)
    assert (got.kind, got.problem, got.notes) == ("notebook", "", [])
    assert got.cells == [(1, "import numpy as np"), (2, ""), (3, MUL), (4, ADD)]
    assert "# Gates" in got.markdown
    config = got.config()
    assert (config["kind"], config["cells"]) == ("notebook", got.cells)


def test_notebook_without_code_gets_a_note(tmp_path):
    p = write_nb(tmp_path / "hw.ipynb", ["   "], markdown=["just words"])
    got = load.load(p)
    assert got.problem == ""
    assert any("no code cells" in n for n in got.notes)


@pytest.mark.parametrize("minor", [0, 1, 2, 3, 4, 5])
@pytest.mark.parametrize("ids", [False, True], ids=["no-ids", "ids"])
def test_nbformat_4_minor_versions_hand_written(tmp_path, minor, ids):
    p = tmp_path / "hw.ipynb"
    p.write_text(json.dumps(hand_nb(minor, [MUL, ADD], ids)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = load.load(p, GATES)
    # Missing ids are optional in practice; nbformat's warning must not reach the grader's stderr.
    assert [str(w.message)[:60] for w in caught] == []
    assert got.problem == ""
    assert got.cells == [(1, MUL), (2, ADD)]
    assert "Some *notes*." in got.markdown
    # Cell ids are part of 4.5 only; earlier minors with ids are graded anyway, with a note.
    if ids and minor < 5:
        assert any("graded anyway" in n for n in got.notes)
    else:
        assert got.notes == []


def test_notebook_off_the_format_is_graded_with_a_note(tmp_path):
    """A code cell without "outputs" breaks the schema but can still run."""
    nb = {"nbformat": 4, "nbformat_minor": 4, "metadata": {},
          "cells": [{"cell_type": "code", "metadata": {}, "execution_count": None,
                     "source": MUL + ADD}]}
    path = tmp_path / "off.ipynb"
    path.write_text(json.dumps(nb))
    loaded = load.load(path, class_names=GATES)
    assert loaded.problem == "" and loaded.cells == [(1, MUL + ADD)]
    assert [n for n in loaded.notes if n.startswith(
        "the notebook does not fully follow the notebook format (")] != [], loaded.notes
    assert loaded.notes[-1].endswith("; graded anyway")


def test_source_as_string_or_list(tmp_path):
    for as_list in (True, False):
        p = tmp_path / ("hw%d.ipynb" % as_list)
        p.write_text(json.dumps(hand_nb(4, [MUL], ids=False, as_list=as_list)))
        assert load.load(p).cells == [(1, MUL)]


@pytest.mark.parametrize("minor", [0, 1, 2, 3, 4, 5])
def test_nbformat_4_minor_versions_built_with_nbformat(tmp_path, minor):
    nb = v4.new_notebook()
    nb.nbformat_minor = minor
    nb.cells = [v4.new_code_cell(MUL), v4.new_markdown_cell("m"), v4.new_code_cell(ADD)]
    if minor < 5:
        for c in nb.cells:
            c.pop("id", None)
    p = tmp_path / "hw.ipynb"
    p.write_text(json.dumps(nb))
    got = load.load(p, GATES)
    assert (got.problem, got.notes) == ("", [])
    assert got.cells == [(1, MUL), (2, ADD)]


def test_nbformat_v3_is_upgraded(tmp_path):
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": "hw"},
          "worksheets": [{"metadata": {}, "cells": [
              {"cell_type": "heading", "level": 1, "metadata": {}, "source": "Gates"},
              {"cell_type": "code", "collapsed": False, "input": MUL.splitlines(True),
               "language": "python", "metadata": {}, "outputs": []},
              {"cell_type": "code", "collapsed": False, "input": ADD,
               "language": "python", "metadata": {}, "outputs": []}]}]}
    p = tmp_path / "old.ipynb"
    p.write_text(json.dumps(v3))
    got = load.load(p, GATES)
    assert got.problem == ""
    assert got.cells == [(1, MUL), (2, ADD)]
    assert "Gates" in got.markdown


@pytest.mark.parametrize("content, why", [
    (b"{not json", "not a valid notebook"),
    (b"", "not a valid notebook"),
    (b"[1, 2, 3]", "not a valid notebook"),
    (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}}', "not a valid notebook"),
    (b'{"nbformat": 9, "nbformat_minor": 0, "metadata": {}, "cells": []}', "not a valid notebook"),
])
def test_invalid_notebooks_are_problems_not_crashes(tmp_path, content, why):
    p = tmp_path / "hw.ipynb"
    p.write_bytes(content)
    got = load.load(p, GATES)
    assert why in got.problem
    assert got.problem.startswith("hw.ipynb")
    assert "\n" not in got.problem


@pytest.mark.parametrize("suffix", [".py", ".ipynb"])
def test_binary_file(tmp_path, suffix):
    p = tmp_path / ("hw" + suffix)
    p.write_bytes(b"PK\x03\x04\x00\x00binary\x00zip")
    got = load.load(p, GATES)
    assert "binary" in got.problem


@pytest.mark.parametrize("suffix", [".py", ".ipynb"])
def test_latin1_file(tmp_path, suffix):
    p = tmp_path / ("hw" + suffix)
    text = "# caf\u00e9\n" + GOOD if suffix == ".py" else json.dumps(
        hand_nb(4, ["# caf\u00e9\n" + MUL], ids=False), ensure_ascii=False)
    p.write_bytes(text.encode("latin-1"))
    got = load.load(p, GATES)
    assert "not UTF-8" in got.problem
    assert "byte" in got.problem


def test_utf8_bom_module(tmp_path):
    p = tmp_path / "hw.py"
    p.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    got = load.load(p, GATES)
    assert got.problem == ""
    assert got.source == GOOD


def test_utf8_bom_notebook(tmp_path):
    p = tmp_path / "hw.ipynb"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps(hand_nb(5, [MUL], ids=True)).encode())
    got = load.load(p, GATES)
    assert got.problem == ""
    assert got.cells == [(1, MUL)]


def test_non_ascii_utf8_module(tmp_path):
    p = tmp_path / "hw.py"
    p.write_text("# \u2202f/\u2202x = y \u00b7 dz\n" + GOOD, encoding="utf-8")
    assert load.load(p, GATES).problem == ""


@pytest.mark.parametrize("suffix", [".py", ".ipynb"])
def test_oversize_file(tmp_path, suffix):
    p = tmp_path / ("hw" + suffix)
    with open(p, "wb") as f:  # sparse: cheap to make
        f.truncate(load.MAX_FILE + 1)
    got = load.load(p, GATES)
    assert "larger than" in got.problem and "MB" in got.problem


@pytest.mark.parametrize("where", ["file", "folder"])
def test_oversize_file_is_not_read_into_memory(tmp_path, where):
    """A huge upload is refused from its size, without reading it all
    (Gradescope containers have 768 MB)."""
    big = tmp_path / "hw.py"
    with open(big, "wb") as f:
        f.truncate(3 * load.MAX_FILE)
    if where == "folder":
        (tmp_path / "other.py").write_text("x = 1\n")
    tracemalloc.start()
    try:
        got = load.load(big if where == "file" else tmp_path, GATES)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * load.MAX_FILE, "peak %d MB" % (peak >> 20)
    if where == "file":
        assert "larger than" in got.problem


def test_oversize_limit_is_the_only_reason(tmp_path, monkeypatch):
    p = tmp_path / "hw.py"
    p.write_text(GOOD)
    monkeypatch.setattr(load, "MAX_FILE", len(GOOD.encode()) - 1)
    assert "larger than" in load.load(p).problem
    monkeypatch.setattr(load, "MAX_FILE", len(GOOD.encode()))
    assert load.load(p).problem == ""


# ---------------------------------------------------------------- directories

def test_directory_with_one_notebook_and_helpers(tmp_path):
    write_nb(tmp_path / "hw.ipynb", ["from helpers import mul", MUL, ADD])
    (tmp_path / "helpers.py").write_text("def mul(a, b):\n    return a * b\n")
    (tmp_path / "data.csv").write_text("1,2\n")
    got = load.load(tmp_path, GATES)
    assert (got.kind, got.problem) == ("notebook", "")
    assert got.path == tmp_path / "hw.ipynb"
    assert got.root == tmp_path
    assert any("graded hw.ipynb" in n and "helpers.py" in n for n in got.notes)


def test_directory_with_a_notebook_and_a_module(tmp_path):
    write_nb(tmp_path / "hw.ipynb", ["from gates import *"])
    (tmp_path / "gates.py").write_text(GOOD)
    got = load.load(tmp_path, GATES)
    assert got.kind == "notebook" and got.path.name == "hw.ipynb"
    assert any("gates.py can be imported" in n for n in got.notes)


def test_module_with_the_gates_beats_scratch_notebooks(tmp_path):
    """Notebooks win ties, but a scratch notebook does not beat the file with the gates."""
    write_nb(tmp_path / "a.ipynb", ["1"])
    write_nb(tmp_path / "scratch.ipynb", ["print('trying things')"])
    (tmp_path / "gates.py").write_text(GOOD)
    got = load.load(tmp_path, GATES)
    assert (got.kind, got.path.name, got.problem) == ("module", "gates.py", "")
    assert any("defines the most gates" in n for n in got.notes)


def test_directory_two_modules_one_defines_the_gates(tmp_path):
    (tmp_path / "util.py").write_text("def helper():\n    return 1\n")
    (tmp_path / "solution.py").write_text(GOOD)
    got = load.load(tmp_path, GATES)
    assert (got.kind, got.problem) == ("module", "")
    assert got.path.name == "solution.py"
    assert any("solution.py" in n and "defines the most gates" in n for n in got.notes)


def test_directory_two_notebooks_one_defines_the_gates(tmp_path):
    write_nb(tmp_path / "scratch.ipynb", ["print(1)"])
    write_nb(tmp_path / "hw.ipynb", [MUL, ADD])
    got = load.load(tmp_path, GATES)
    assert got.path.name == "hw.ipynb" and got.problem == ""


@pytest.mark.parametrize("files", [
    {"a.py": GOOD, "b.py": GOOD},
    {"a.py": "x = 1\n", "b.py": "y = 2\n"},
    {"a.ipynb": [MUL, ADD], "b.ipynb": [MUL, ADD]},
    {"a.ipynb": ["1"], "b.ipynb": ["2"]},
], ids=["two-full-modules", "two-empty-modules", "two-full-notebooks", "two-empty-notebooks"])
def test_ambiguous_directories(tmp_path, files):
    for name, content in files.items():
        if name.endswith(".ipynb"):
            write_nb(tmp_path / name, content)
        else:
            (tmp_path / name).write_text(content)
    got = load.load(tmp_path, GATES)
    assert "could not tell which one to grade" in got.problem
    assert "a." in got.problem and "b." in got.problem


def test_empty_directory(tmp_path):
    got = load.load(tmp_path, GATES)
    assert "no notebook (.ipynb) or Python module (.py)" in got.problem


def test_directory_without_code(tmp_path):
    (tmp_path / "README.txt").write_text("hello")
    (tmp_path / ".hidden.py").write_text(GOOD)
    assert "no notebook" in load.load(tmp_path, GATES).problem


def test_checkpoints_and_caches_are_ignored(tmp_path):
    write_nb(tmp_path / "hw.ipynb", [MUL, ADD])
    (tmp_path / ".ipynb_checkpoints").mkdir()
    write_nb(tmp_path / ".ipynb_checkpoints" / "hw-checkpoint.ipynb", [MUL, ADD])
    (tmp_path / "__MACOSX").mkdir()
    write_nb(tmp_path / "__MACOSX" / "hw.ipynb", [MUL, ADD])
    got = load.load(tmp_path, GATES)
    assert (got.problem, got.path) == ("", tmp_path / "hw.ipynb")


def test_problem_in_chosen_file_keeps_the_directory_note(tmp_path):
    (tmp_path / "hw.ipynb").write_text("{broken")
    (tmp_path / "helpers.py").write_text("x = 1\n")
    got = load.load(tmp_path, GATES)
    assert "not a valid notebook" in got.problem
    assert any("graded hw.ipynb" in n for n in got.notes)


# ---------------------------------------------------------------- end to end

@pytest.fixture(scope="module")
def rub():
    return rubric.load(rubric.find("gates"))


def failed(result):
    return sorted(r.item.id for r in result.items if not r.outcome.passed)


def grade(path, rub, seed=7):
    return score.grade(load.load(path, list(rub.gates)), rub, seed=seed)


@pytest.fixture(scope="module")
def magics(tmp_path_factory, rub):
    """Magics, a skipped shell command, and an error before the gates are defined."""
    p = write_nb(tmp_path_factory.mktemp("magics") / "hw.ipynb", [
        "%matplotlib inline\nimport numpy as np\nprint('first cell ran')",
        "raise ValueError('boom in cell two')",
        "!pip install something\n" + MUL,
        "%%time\n" + ADD,
        "print('last cell ran')",
    ])
    result = grade(p, rub)
    return result, report.text(result), report.gradescope(result)


def test_magics_and_later_cells_define_the_gates(magics):
    result, _, _ = magics
    assert failed(result) == []
    assert result.score == result.rubric.max_score


def test_shell_command_is_skipped_with_a_warning(magics):
    result, text, data = magics
    shell = [w for w in result.warnings if "pip install something" in w]
    assert len(shell) == 1 and "cell 3" in shell[0] and "skipped" in shell[0]
    assert "pip install something" in text
    assert "pip install something" in data["output"]


def test_raising_cell_is_a_warning_and_later_cells_run(magics):
    result, text, data = magics
    boom = [w for w in result.warnings if "boom in cell two" in w]
    assert len(boom) == 1
    assert "cell 2" in boom[0] and "ValueError" in boom[0]
    assert "ValueError: boom in cell two" in text
    assert "ValueError: boom in cell two" in data["output"]
    assert "first cell ran" in result.output and "last cell ran" in result.output


def test_raising_cell_shows_the_traceback_jupyter_shows(magics):
    """The student's output has IPython's traceback of the cell, as in Jupyter."""
    result, _, _ = magics
    shown = result.output[result.output.index("ValueError"):]
    assert "Cell In[2], line 1" in shown
    assert "----> 1 raise ValueError('boom in cell two')" in shown


def test_last_definition_wins(tmp_path, rub):
    p = write_nb(tmp_path / "hw.ipynb", [
        MUL_FORGOT_DZ + ADD,  # first try: MultiplyGate wrong, AddGate right
        MUL,                  # fixed MultiplyGate
        ADD_WRONG,            # later AddGate edit breaks it
    ])
    result = grade(p, rub)
    # ADD_WRONG's backward is the constant [1, 1]: the consistency checks have nothing to judge
    assert failed(result) == ["add-backward", "add-numerical", "add-state", "graph-random",
                              "graph-slide"]


def test_name_is_main_in_notebooks(tmp_path, rub):
    p = write_nb(tmp_path / "hw.ipynb", [
        "if __name__ == '__main__':\n" + "".join("    " + line + "\n" for line in
                                                  (MUL + ADD).splitlines())])
    result = grade(p, rub)
    assert failed(result) == []


def test_main_guard_does_not_run_in_modules(tmp_path, rub):
    p = tmp_path / "hw.py"
    p.write_text(GOOD + "\nif __name__ == '__main__':\n    MultiplyGate = AddGate = None\n"
                 "    raise SystemExit('test code ran')\n")
    result = grade(p, rub)
    assert failed(result) == []
    assert result.warnings == []


def test_module_imports_a_sibling_helper(tmp_path, rub):
    (tmp_path / "mathhelp.py").write_text("def times(a, b):\n    return a * b\n")
    (tmp_path / "solution.py").write_text(
        "from mathhelp import times\n" + MUL.replace("return x * y", "return times(x, y)") + ADD)
    result = grade(tmp_path, rub)
    assert result.loaded.path.name == "solution.py"
    assert result.warnings == []
    assert failed(result) == []


def test_notebook_imports_a_helper_module(tmp_path, rub):
    write_nb(tmp_path / "hw.ipynb", ["from gates_impl import MultiplyGate", ADD])
    (tmp_path / "gates_impl.py").write_text(MUL)
    result = grade(tmp_path, rub)
    assert result.loaded.kind == "notebook"
    assert result.warnings == []
    assert failed(result) == []


def test_submission_in_a_subfolder_with_its_helper(tmp_path, rub):
    """A zip that unpacks to hw3/solution.py + hw3/mathhelp.py."""
    sub = tmp_path / "hw3"
    sub.mkdir()
    (sub / "mathhelp.py").write_text("def times(a, b):\n    return a * b\n")
    (sub / "solution.py").write_text(
        "from mathhelp import times\n" + MUL.replace("return x * y", "return times(x, y)") + ADD)
    result = grade(tmp_path, rub)
    assert result.loaded.path.name == "solution.py"
    assert result.warnings == []
    assert failed(result) == []


def test_module_syntax_error_gives_zero_with_reasons(rub):
    result = grade(DATA / "syntax_error.py", rub)
    assert result.score == 0
    assert any("SyntaxError" in w and "line 2" in w for w in result.warnings)
    assert all("MultiplyGate is not defined" in r.outcome.error or
               "AddGate is not defined" in r.outcome.error for r in result.items)


def test_class_only_in_markdown_is_pointed_out(tmp_path, rub):
    p = write_nb(tmp_path / "hw.ipynb", ["import numpy as np"],
                 markdown=["```python\n" + MUL + ADD + "```"])
    small = dataclasses.replace(rub, items=[i for i in rub.items if i.id == "mul-forward"])
    result = grade(p, small)
    assert "markdown cell" in result.items[0].outcome.error


def test_unreadable_submission_scores_zero_with_the_reason(tmp_path, rub):
    p = tmp_path / "hw.py"
    p.write_bytes(b"\x00\x01")
    result = grade(p, rub)
    assert result.score == 0
    assert all("binary" in r.outcome.error for r in result.items)
    assert "binary" in report.text(result)


def test_notebook_in_a_subfolder_with_its_helper(tmp_path, rub):
    """A zip that unpacks to hw3/hw.ipynb + hw3/gates_impl.py."""
    sub = tmp_path / "hw3"
    sub.mkdir()
    write_nb(sub / "hw.ipynb", ["from gates_impl import MultiplyGate", ADD])
    (sub / "gates_impl.py").write_text(MUL)
    result = grade(tmp_path, rub)
    assert result.loaded.path.name == "hw.ipynb"
    assert result.warnings == []
    assert failed(result) == []


def test_symlinks_in_a_submission_folder_are_not_followed(tmp_path):
    """A folder whose solution.py links to a file elsewhere (here: the reference
    solution) must not be graded as that file: the link would hand a student
    the answer, or leak any file the grader can read into the sandbox."""
    outside = Path(__file__).resolve().parents[1] / "reference" / "gates.py"
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "solution.py").symlink_to(outside)
    got = load.load(sub, GATES)
    assert got.source != outside.read_text()
    assert got.problem


def test_a_file_alone_gets_only_the_siblings_it_imports(tmp_path, rub):
    """As Jupyter would find them; a classmate's file beside it is not copied."""
    (tmp_path / "gates_impl.py").write_text(MUL)
    (tmp_path / "classmate.py").write_text(MUL + ADD)
    sub = tmp_path / "mine.py"
    sub.write_text("from gates_impl import MultiplyGate\n" + ADD)
    loaded = load.load(sub, class_names=["MultiplyGate", "AddGate"])
    assert [p.name for p in loaded.siblings] == ["gates_impl.py"]
    assert failed(grade(sub, rub)) == []
    assert load.load(sub, siblings=False).siblings == []


def test_batch_never_lends_one_student_anothers_file(tmp_path):
    """In a class folder, `from alice import *` finds nothing: bob is graded alone."""
    from backprop_grader.batch import pool
    from backprop_grader.judge import rubric as rubric_mod
    (tmp_path / "alice.py").write_text(MUL + ADD)
    (tmp_path / "bob.py").write_text("from alice import *\n")
    rub_path = str(rubric_mod.find("gates"))
    graded = pool.grade_task(pool.Task("bob", str(tmp_path / "bob.py"), 1), rub_path)
    assert graded.score == 0
    assert "No module named 'alice'" in graded.results["output"]

