"""The batch benchmark's generated class (benchmarks/batch.py): notebooks shaped
like the assignment's own, holding the student's code and nothing of the solution."""
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import batch  # noqa: E402


def code_cells(text):
    return [c.source for c in nbformat.reads(text, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize("code", [batch.GOOD, batch.BUGS["swapped"], batch.BROKEN["no_addgate"]])
def test_an_assignment_shaped_notebook_holds_the_students_gates(code):
    cells = code_cells(batch.notebook(code))
    source = code_cells((ROOT / "assignments" / "gates" / "source.ipynb").read_text())
    assert cells.count(code) == 1
    assert len(cells) == len(source) - 1  # the two gate cells became the student's one
    assert not any("SOLUTION" in c for c in cells)
    assert any("numerical_gradients" in c for c in cells)  # the self-check still runs
    assert sum("class MultiplyGate" in c for c in cells) == ("class MultiplyGate" in code)


def test_a_minimal_notebook_is_four_cells():
    nb = nbformat.reads(batch.notebook(batch.GOOD, "minimal"), as_version=4)
    assert len(nb.cells) == 4 and nb.cells[2].source == batch.GOOD


def test_the_generated_class_has_every_kind(tmp_path):
    plan = batch.generate(tmp_path / "subs", 60, 0.05)
    files = sorted(p.name for p in (tmp_path / "subs").iterdir())
    assert len(files) == 60 and set(plan) == {f.split(".")[0] for f in files}
    assert {c for c, _, _ in plan.values()} == {"hanging", "correct", "buggy", "broken"}
    assert {k for _, k, _ in plan.values()} == {"notebook", "module"}
    for sid, (category, kind, code) in plan.items():
        if kind == "notebook" and code is not None:
            nbformat.validate(nbformat.read(str(tmp_path / "subs" / (sid + ".ipynb")), as_version=4))


def test_the_floor_rubric_is_one_check_of_one_trial_the_grader_accepts(tmp_path):
    from backprop_grader.judge import rubric
    full = batch.bench_rubric(tmp_path, None)
    floor = rubric.load(batch.floor_rubric(tmp_path, full))
    (item,) = floor.items
    assert (item.check, item.trials) == ("forward", 1)
    assert floor.limits == rubric.load(full).limits  # the same short limits: hangs cost the same
