"""bpgrade release and validate, and the shipped backprop-gates assignment:
solution-marker parsing, what a released notebook may and may not contain,
and the round trip source -> release -> grade (full marks vs zero)."""
import base64
import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from backprop_grader import cli
from backprop_grader.authoring import release, validate
from backprop_grader.judge import rubric
from backprop_grader.authoring.release import MarkerError, ReleaseError

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = ROOT / "assignments" / "gates"
# Any seed should pass (see test_correct_gates_pass_the_numerical_checks_at_any_seed
# in tests/test_report.py); a fixed one keeps a failure reproducible.
SEED = 4
# Solution code of the shipped assignment: must never reach a student.
SOLUTION_LINES = ["dx = self.y * dz", "dy = self.x * dz", "dx = 1.0 * dz", "dy = 1.0 * dz",
                  "q = add.forward(x, y)", "f = mul.forward(q, z)",
                  "df_dq, df_dz = mul.backward(1.0)", "df_dx, df_dy = add.backward(df_dq)"]

MUL = """class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        ### BEGIN SOLUTION
        dx = self.y * dz
        dy = self.x * dz
        ### END SOLUTION
        return [dx, dy]
"""
MUL_RELEASED = """class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        # YOUR CODE HERE
        raise NotImplementedError()
        return [dx, dy]
"""


# ---------------------------------------------------------------- marker parsing

def test_single_line_region():
    released, regions = release.strip("def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n"
                                      "    ### END SOLUTION\n")
    assert released == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    assert [(r.begin, r.end, r.lines, r.placeholder) for r in regions] == [
        (2, 4, ["    return x + 1"], 3)]


def test_multi_line_region_keeps_the_code_around_it():
    released, regions = release.strip(MUL)
    assert released == MUL_RELEASED
    assert [(r.begin, r.end, r.placeholder) for r in regions] == [(7, 10, 8)]
    assert regions[0].lines == ["        dx = self.y * dz", "        dy = self.x * dz"]


def test_several_regions_each_at_its_own_indentation():
    text = ("### BEGIN SOLUTION\nimport math\n### END SOLUTION\n"
            "def g(a):\n    if a:\n        ### BEGIN SOLUTION\n        a = -a\n        a += 1\n"
            "        ### END SOLUTION\n    return a\n")
    released, regions = release.strip(text)
    assert released == ("# YOUR CODE HERE\nraise NotImplementedError()\n"
                        "def g(a):\n    if a:\n        # YOUR CODE HERE\n"
                        "        raise NotImplementedError()\n    return a\n")
    assert [r.placeholder for r in regions] == [2, 6]
    compile(released, "<released>", "exec")


def test_placeholder_takes_the_indentation_of_the_code_not_of_a_stray_marker():
    text = "def f(x):\n### BEGIN SOLUTION\n    return x\n### END SOLUTION\n"
    released, _ = release.strip(text)
    assert released == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    compile(released, "<released>", "exec")


def test_empty_region_and_missing_final_newline():
    released, regions = release.strip("def f():\n    ### BEGIN SOLUTION\n    ### END SOLUTION")
    assert released == "def f():\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    assert regions[0].lines == []


@pytest.mark.parametrize("begin,end", [("# BEGIN SOLUTION", "# END SOLUTION"),
                                       ("##begin solution", "## End Solution"),
                                       ("### BEGIN SOLUTION (two lines)", "### END SOLUTION ###")])
def test_marker_spellings_all_count(begin, end):
    """A typo in a marker must not let the solution through."""
    released, regions = release.strip("x = 1\n%s\nsecret = 42\n%s\n" % (begin, end))
    assert len(regions) == 1 and "secret" not in released


def test_text_without_markers_is_unchanged():
    assert release.strip(MUL_RELEASED) == (MUL_RELEASED, [])


def test_nested_regions_rejected():
    with pytest.raises(MarkerError) as info:
        release.parse("### BEGIN SOLUTION\na = 1\n### BEGIN SOLUTION\nb = 2\n### END SOLUTION\n"
                      "### END SOLUTION\n")
    assert info.value.line == 3
    assert "line 1" in info.value.message and "nest" in info.value.message


@pytest.mark.parametrize("text,line,words", [
    ("a = 1\n### BEGIN SOLUTION\nb = 2\n", 2, "no matching END"),
    ("a = 1\n### END SOLUTION\n", 2, "without a BEGIN"),
    ("### BEGIN SOLUTION\nb = 2\n### END SOLUTION\n### END SOLUTION\n", 4, "without a BEGIN"),
    ("a = 1  ### BEGIN SOLUTION\nb = 2\n### END SOLUTION\n", 1, "line of its own"),
])
def test_unbalanced_or_inline_markers_rejected(text, line, words):
    with pytest.raises(MarkerError) as info:
        release.parse(text)
    assert info.value.line == line and words in info.value.message


# ---------------------------------------------------------------- notebooks

def notebook(path, cells, metadata=None):
    """cells: ("md" | "code", source) pairs, or ready-made cells."""
    nb = v4.new_notebook()
    nb.cells = [c if isinstance(c, dict) else
                (v4.new_markdown_cell(c[1]) if c[0] == "md" else v4.new_code_cell(c[1]))
                for c in cells]
    nb.metadata.update(metadata or {})
    nbformat.write(nb, str(path))
    return path


def release_error(path, given=()):
    with pytest.raises(ReleaseError) as info:
        release.release_notebook(path, given)
    return info.value.message


def test_markers_in_a_markdown_cell_rejected_with_the_cell_number(tmp_path):
    path = notebook(tmp_path / "nb.ipynb", [("md", "# Gates"), ("code", MUL),
                                            ("md", "Answer:\n### BEGIN SOLUTION\ndx = y\n"
                                                   "### END SOLUTION")])
    message = release_error(path)
    assert "cell 3" in message and "line 2" in message and "markdown cell" in message
    raw = v4.new_raw_cell("### END SOLUTION")
    path = notebook(tmp_path / "raw.ipynb", [("code", MUL), raw])
    assert "cell 2" in release_error(path) and "raw cell" in release_error(path)


def test_unbalanced_markers_rejected_with_cell_and_line(tmp_path):
    path = notebook(tmp_path / "nb.ipynb", [("md", "# Gates"), ("code", MUL),
                                            ("code", "a = 1\n### BEGIN SOLUTION\nb = 2\n")])
    message = release_error(path)
    assert "cell 3" in message and "line 2" in message and "END SOLUTION" in message


def test_region_cannot_span_cells(tmp_path):
    path = notebook(tmp_path / "nb.ipynb", [("code", "### BEGIN SOLUTION\na = 1\n"),
                                            ("code", "b = 2\n### END SOLUTION\n")])
    assert "cell 1" in release_error(path)


def test_nested_markers_rejected_with_the_cell_number(tmp_path):
    nested = MUL.replace("        dy = self.x * dz\n",
                         "        ### BEGIN SOLUTION\n        dy = self.x * dz\n")
    path = notebook(tmp_path / "nb.ipynb", [("md", "# Gates"), ("code", "import math"),
                                            ("code", nested)])
    message = release_error(path)
    assert "cell 3" in message and "nest" in message


def test_solution_region_in_given_code_rejected(tmp_path):
    in_forward = MUL.replace("        self.x, self.y = x, y\n        return x * y\n",
                             "        ### BEGIN SOLUTION\n        self.x, self.y = x, y\n"
                             "        return x * y\n        ### END SOLUTION\n")
    path = notebook(tmp_path / "nb.ipynb", [("md", "# Gates"), ("code", in_forward)])
    message = release_error(path, ["MultiplyGate.forward"])
    assert "cell 2" in message and "MultiplyGate.forward" in message and "given" in message
    # a region around the whole class holds the given method too
    whole = "### BEGIN SOLUTION\n" + MUL_RELEASED + "### END SOLUTION\n"
    path = notebook(tmp_path / "whole.ipynb", [("code", whole)])
    assert "MultiplyGate.forward" in release_error(path, ["MultiplyGate.forward"])
    assert "MultiplyGate" in release_error(path, ["MultiplyGate"])
    # a region in a method that is not given is fine
    path = notebook(tmp_path / "ok.ipynb", [("code", MUL)])
    assert len(release.release_notebook(path, ["MultiplyGate.forward"]).regions) == 1


def test_region_that_breaks_the_syntax_rejected(tmp_path):
    source = ("try:\n    ### BEGIN SOLUTION\n    x = 1\nexcept ValueError:\n    x = 2\n"
              "    ### END SOLUTION\n")
    path = notebook(tmp_path / "nb.ipynb", [("code", "import math"), ("code", source)])
    message = release_error(path)
    assert "cell 2" in message and "does not compile" in message


def leaky_source(tmp_path):
    """A solution cell as an instructor leaves it: run, tagged, with extension metadata."""
    secret = "dx = self.y * dz"
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n not really").decode()
    solution = v4.new_code_cell(MUL, execution_count=7, metadata={
        "tags": ["exercise"], "ExecuteTime": {"end_time": "2024-01-01T00:00:00"},
        "nbgrader": {"solution": True, "grade_id": "mul", "cache": secret}})
    solution["outputs"] = [
        v4.new_output("stream", name="stdout", text="debug: %s\n" % secret),
        v4.new_output("execute_result", data={"text/plain": "[-4.0, 3.0]  # " + secret},
                      execution_count=7)]
    solution["attachments"] = {"notes.txt": {"text/plain": base64.b64encode(secret.encode()).decode()}}
    figure = v4.new_markdown_cell("The graph: ![graph](attachment:graph.png)")
    figure["attachments"] = {"graph.png": {"image/png": png}}
    given = v4.new_code_cell("print(MultiplyGate().forward(3.0, -4.0))", execution_count=8)
    given["outputs"] = [v4.new_output("stream", name="stdout", text="-12.0\n")]
    metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {"w": secret}}},
                "nbgrader": {"answers": secret}}
    return notebook(tmp_path / "source.ipynb", [figure, solution, given], metadata), png


def test_released_notebook_holds_no_solution_anywhere(tmp_path):
    path, png = leaky_source(tmp_path)
    out = release.release_notebook(path)
    text = out.text
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    assert "self.y * dz" not in text and "self.x * dz" not in text
    assert [c.get("outputs") for c in nb.cells if c.cell_type == "code"] == [[], []]
    assert [c.get("execution_count") for c in nb.cells if c.cell_type == "code"] == [None, None]
    assert "attachments" not in nb.cells[1]
    assert nb.cells[1].metadata == {"tags": ["exercise"]}
    assert set(nb.metadata) == {"kernelspec"}
    # what is not solution stays: the lecture's figure, the given cell, the cell ids
    assert nb.cells[0].attachments == {"graph.png": {"image/png": png}}
    assert nb.cells[2].source == "print(MultiplyGate().forward(3.0, -4.0))"
    assert [c.id for c in nb.cells] == [c.id for c in nbformat.read(str(path), 4).cells]
    assert nb.cells[1].source == MUL_RELEASED


@pytest.mark.parametrize("where", ["tags", "attachment"])
def test_solution_text_outside_the_regions_is_refused(tmp_path, where):
    """Solution text in a kept field of another cell: release refuses to write it."""
    cell = v4.new_markdown_cell("Notes")
    if where == "tags":
        cell.metadata["tags"] = ["dx = self.y * dz"]
    else:
        cell["attachments"] = {"a.svg": {"image/svg+xml": base64.b64encode(
            b"<svg><text>dx = self.y * dz</text></svg>").decode()}}
    path = notebook(tmp_path / "nb.ipynb", [("code", MUL), cell])
    message = release_error(path)
    assert "cell 2" in message and "dx = self.y * dz" in message


def test_old_notebook_without_ids_is_released_as_valid_4_5(tmp_path):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# Gates\n"]},
             {"cell_type": "code", "execution_count": 3, "metadata": {}, "source": MUL.splitlines(True),
              "outputs": [{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}]}]
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 2, "metadata": {}, "cells": cells}))
    nb = nbformat.reads(release.release_notebook(path).text, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat_minor == 5
    assert len({c.id for c in nb.cells}) == 2
    assert nb.cells[1].outputs == [] and "raise NotImplementedError()" in nb.cells[1].source


# ---------------------------------------------------------------- the shipped assignment

@pytest.fixture(scope="module")
def rub():
    return rubric.load(ASSIGNMENT / "rubric.yaml")


# `released` and `graded`: tests/conftest.py


def test_source_notebook_is_valid_and_teaches_the_lecture_example():
    nb = nbformat.read(str(ASSIGNMENT / "source.ipynb"), as_version=4)
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    assert all(c.get("id") for c in nb.cells)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for words in ["(x + y)", "x = -2", "y = 5", "z = -4", "Local gradients", "upstream gradient",
                  "chain rule", "Self-check"]:
        assert words in text, words
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert code[0].startswith("class MultiplyGate") and "### BEGIN SOLUTION" in code[0]
    assert any(c.startswith("class AddGate") and "### BEGIN SOLUTION" in c for c in code)
    assert "assert" in code[-1] and "f_and_gradients(-2.0, 5.0, -4.0)" in code[-1]


def test_rubric_gives_the_forward_methods(rub):
    assert rub.given == ["MultiplyGate.forward", "AddGate.forward"]
    assert set(rub.gates) == {"MultiplyGate", "AddGate"} and rub.max_score == 100


def test_release_names_and_regions(released):
    assert {name: (item.name, len(item.regions)) for name, (item, _) in released.items()} == {
        "source.ipynb": ("gates.ipynb", 3), "gates.py": ("gates.py", 3)}


@pytest.mark.parametrize("name", ["source.ipynb", "gates.py"])
def test_solution_gets_full_marks_and_its_self_check_passes(graded, name):
    result = graded["source " + name]
    assert [r.item.id for r in result.items if not r.outcome.passed] == []
    assert result.score == result.rubric.max_score == 100
    assert result.warnings == []  # every cell ran, the self-check's asserts included


@pytest.mark.parametrize("name", ["source.ipynb", "gates.py"])
def test_template_scores_zero_on_student_code_and_its_given_code_runs(graded, released, rub, name):
    result = graded["template " + name]
    item = released[name][0]
    passed = {r.item.id for r in result.items if r.outcome.passed}
    assert passed == {"mul-forward", "add-forward"}  # the given forward methods
    assert result.score == 6
    for r in result.items:
        if r.item.id not in passed:
            assert validate.needs_student_code(r.item, rub)
            assert "raised NotImplementedError" in r.outcome.error, r.item.id
            assert r.outcome.where in item.placeholders, r.item.id
    for warning in result.warnings:  # only the placeholders raise while loading
        assert any(warning.startswith(p + ": NotImplementedError") for p in item.placeholders), warning


def test_released_files_hold_no_solution_text(released):
    for name, (item, path) in released.items():
        text = path.read_text()
        for line in SOLUTION_LINES:
            assert line not in text, (name, line)
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
        code = text if name.endswith(".py") else "\n".join(
            c.source for c in nbformat.reads(text, as_version=4).cells if c.cell_type == "code")
        lines = [line.strip() for line in code.splitlines()]
        assert lines.count("# YOUR CODE HERE") == lines.count("raise NotImplementedError()") == 3


def test_released_notebook_is_clean_and_otherwise_unchanged(released):
    path = released["source.ipynb"][1]
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    source = nbformat.read(str(ASSIGNMENT / "source.ipynb"), as_version=4)
    assert any(c.get("outputs") for c in source.cells)  # the source was run
    assert [(c.id, c.cell_type) for c in nb.cells] == [(c.id, c.cell_type) for c in source.cells]
    for new, old in zip(nb.cells, source.cells):
        if new.cell_type == "code":
            assert new.outputs == [] and new.execution_count is None
            if "BEGIN SOLUTION" not in old.source:
                assert new.source == old.source
        else:
            assert new.source == old.source


def test_module_template_keeps_given_code(released):
    text = released["gates.py"][1].read_text()
    source = (ASSIGNMENT / "gates.py").read_text()
    for given in ['    def forward(self, x, y):\n        """z = x * y. The inputs are cached: '
                  'backward needs them."""\n        self.x = x\n        self.y = y\n'
                  '        return x * y\n', 'if __name__ == "__main__":\n    self_check()\n']:
        assert given in source and given in text


def test_student_rubric_has_the_visible_checks_only(tmp_path, rub):
    from backprop_grader.authoring import kit
    cli.main(["release", str(ASSIGNMENT), "-o", str(tmp_path / "student")])
    kept, removed = kit.student_rubric(rub, tmp_path / "student" / "rubric.yaml",
                                       tmp_path / "student" / ".bpgrade" / "answers.py")
    student = rubric.load(tmp_path / "student" / "rubric.yaml")
    assert {g.reference.__module__ for g in student.gates.values()} == {"backprop_grader.kit.replay"}
    assert removed == ["graph-random"]
    assert [i.id for i in student.items] == kept == [i.id for i in rub.items if not i.hidden]
    assert not any(i.hidden for i in student.items)
    assert student.given == rub.given and student.assignment == rub.assignment


def test_student_rubric_never_overwrites_the_rubric(tmp_path, capsys):
    shutil.copy(ASSIGNMENT / "rubric.yaml", tmp_path / "rubric.yaml")
    shutil.copy(ASSIGNMENT / "gates.py", tmp_path / "gates.py")
    before = (tmp_path / "rubric.yaml").read_text()
    assert cli.main(["release", str(tmp_path / "gates.py"), "-o", str(tmp_path / "out"),
                     "--student-rubric", str(tmp_path / "rubric.yaml")]) == 2
    assert "overwrite" in capsys.readouterr().err
    assert (tmp_path / "rubric.yaml").read_text() == before and not (tmp_path / "out").exists()


def test_reachability_finds_gates_written_entirely_by_students(tmp_path, rub):
    """A gate class inside a solution region is reachable; a missing one is not."""
    good = (ROOT / "tests" / "data" / "good.py").read_text()
    whole = "### BEGIN SOLUTION\n" + good + "### END SOLUTION\n"
    (tmp_path / "whole.py").write_text(whole)
    items = [release.release_module(tmp_path / "whole.py")]
    assert "class" not in items[0].text and validate.reachability(rub, items) == []
    (tmp_path / "whole.py").write_text(whole.replace("class AddGate", "class PlusGate"))
    items = [release.release_module(tmp_path / "whole.py")]
    problems = validate.reachability(rub, items)
    assert problems and all("AddGate is not defined in whole.py" in p for p in problems)
    assert {p.split(":")[0] for p in problems} == {
        "add-format", "add-forward", "add-backward", "add-numerical", "add-state",
        "graph-slide", "graph-random"}


def test_given_must_name_a_rubric_gate(tmp_path):
    text = (ASSIGNMENT / "rubric.yaml").read_text().replace(
        "given: [MultiplyGate.forward, AddGate.forward]", "given: [MulGate.forward]")
    (tmp_path / "r.yaml").write_text(text)
    with pytest.raises(rubric.RubricError, match=r"given\[0\]: unknown gate 'MulGate'"):
        rubric.load(tmp_path / "r.yaml")


# ---------------------------------------------------------------- command line

def test_cli_release_writes_notebook_module_and_student_rubric(tmp_path, capsys):
    out = tmp_path / "release"
    code = cli.main(["release", str(ASSIGNMENT / "source.ipynb"), "-o", str(out),
                     "--student-rubric", str(out / "rubric.yaml")])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [".bpgrade", ".github", ".gitlab-ci.yml", "gates.ipynb",
                                                     "gates.py", "rubric.yaml"]
    assert "hidden, not included: 1" in capsys.readouterr().out
    assert "graph-random" not in (out / "rubric.yaml").read_text()


def test_folder_release_leaves_test_submissions_out(tmp_path, capsys):
    source = tmp_path / "assignment"
    shutil.copytree(ASSIGNMENT, source)
    for name in ("test_gates.py", "student_correct.py", "wrong_submission.py"):
        shutil.copy(ASSIGNMENT / "gates.py", source / name)
    assert cli.main(["release", str(source), "-o", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.py")) == ["gates.py"]


def test_a_course_gate_kit_names_no_path_outside_it(tmp_path, capsys):
    """A course's own reference file (course/ref.py) stays out of the kit, and the kit's
    rubric names nothing outside the kit."""
    out = tmp_path / "kit"
    assert cli.main(["release", str(ROOT / "tests" / "gates" / "instructor"), "-o", str(out)]) == 0
    text = (out / "rubric.yaml").read_text()
    assert "course/ref.py" not in text and "../" not in text
    assert not list(out.rglob("ref.py"))
    assert cli.main(["check", str(out / "tanh.py")]) == 0
    err = capsys.readouterr().err
    assert "the student kit for tanh-neuron" in err


def test_cli_release_bad_source_exit_2_with_the_cell(tmp_path, capsys):
    path = notebook(tmp_path / "nb.ipynb", [("code", MUL), ("md", "### END SOLUTION")])
    assert cli.main(["release", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "cell 2" in err and "markdown" in err
    assert not (tmp_path / "out").exists()
    assert cli.main(["release", str(tmp_path / "missing.ipynb"), "-o", str(tmp_path / "out")]) == 2


def test_cli_release_never_overwrites_the_source(tmp_path, capsys):
    shutil.copy(ASSIGNMENT / "gates.py", tmp_path / "gates.py")
    before = (tmp_path / "gates.py").read_text()
    assert cli.main(["release", str(tmp_path / "gates.py"), "-o", str(tmp_path)]) == 2
    assert "source" in capsys.readouterr().err
    assert (tmp_path / "gates.py").read_text() == before


def test_cli_validate_passes_on_the_shipped_assignment(capsys):
    assert cli.main(["validate", str(ASSIGNMENT), "--seed", str(SEED)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines()[1:-1]]
    assert len(rows) == 9 and all("  ok  " in r for r in rows), out
    for name in ["rubric", "checks reachable", "solution source.ipynb", "template gates.ipynb",
                 "solution gates.py", "template gates.py", "no solution text"]:
        assert any(r.startswith(name + " ") for r in rows), name


def assignment_copy(tmp_path, module=None, rubric_text=None):
    """The module half of the assignment (grades fast), optionally changed."""
    folder = tmp_path / "gates"
    folder.mkdir()
    (folder / "gates.py").write_text(module or (ASSIGNMENT / "gates.py").read_text())
    if rubric_text is not False:
        (folder / "rubric.yaml").write_text(rubric_text or (ASSIGNMENT / "rubric.yaml").read_text())
    return folder


def rows_of(folder, capsys):
    code = cli.main(["validate", str(folder), "--seed", str(SEED)])
    out = capsys.readouterr().out
    return code, {line.split("  ")[0]: line for line in out.splitlines()[1:-1]}


def test_cli_validate_fails_on_a_wrong_solution(tmp_path, capsys):
    wrong = (ASSIGNMENT / "gates.py").read_text().replace("dx = self.y * dz  #", "dx = self.y  #")
    code, rows = rows_of(assignment_copy(tmp_path, module=wrong), capsys)
    assert code == 1
    assert "FAIL" in rows["solution gates.py"] and "mul-backward" in rows["solution gates.py"]
    assert "FAIL" not in rows["template gates.py"]


def test_cli_validate_fails_when_given_code_is_not_marked_given(tmp_path, capsys):
    """The default rubric has no `given`: the template passing the forward checks is flagged."""
    code, rows = rows_of(assignment_copy(tmp_path, rubric_text=False), capsys)
    assert code == 1
    assert "FAIL" in rows["template gates.py"]
    assert "mul-forward passes without student code" in rows["template gates.py"]


def test_cli_validate_fails_when_given_code_breaks(tmp_path, capsys):
    broken = (ASSIGNMENT / "gates.py").read_text().replace(
        "class MultiplyGate(object):", "print(undefined_name)\n\n\nclass MultiplyGate(object):")
    code, rows = rows_of(assignment_copy(tmp_path, module=broken), capsys)
    assert code == 1
    assert "FAIL" in rows["solution gates.py"] and "undefined_name" in rows["solution gates.py"]
    assert "given code failed while loading" in rows["template gates.py"]


def test_cli_validate_fails_on_an_unreachable_check(tmp_path, capsys):
    text = (ASSIGNMENT / "rubric.yaml").read_text().replace(
        "    check: format\n    points: 3\n", "    check: format\n    points: 3\n    trials: 0\n", 1)
    code, rows = rows_of(assignment_copy(tmp_path, rubric_text=text), capsys)
    assert code == 1  # the rubric loader itself refuses an item that can run no trial
    assert "FAIL" in rows["rubric"] and "would run no trials" in rows["rubric"]


def test_cli_validate_fails_on_a_bad_rubric(tmp_path, capsys):
    text = (ASSIGNMENT / "rubric.yaml").read_text().replace("title:", "titel:", 1)
    code, rows = rows_of(assignment_copy(tmp_path, rubric_text=text), capsys)
    assert code == 1 and "FAIL" in rows["rubric"] and "titel" in rows["rubric"]
    assert cli.main(["validate", str(tmp_path / "nowhere")]) == 2
