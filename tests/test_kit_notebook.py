"""The in-notebook check, through a real Jupyter kernel (nbclient + ipykernel): the
released notebook with one more cell, `from backprop_grader.kit.notebook import check; check()`,
run top to bottom in the kit's folder."""
import shutil
from pathlib import Path

import nbformat
import pytest

from backprop_grader import cli

nbclient = pytest.importorskip("nbclient")
ROOT = Path(__file__).parent.parent
CHECK = "from backprop_grader.kit.notebook import check; check()"


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    out = tmp_path_factory.mktemp("nbkit") / "kit"
    assert cli.main(["release", str(ROOT / "assignments" / "gates"), "-o", str(out)]) == 0
    return out


def run_notebook(nb, folder):
    nb.cells.append(nbformat.v4.new_code_cell(CHECK))
    nbclient.NotebookClient(nb, timeout=180, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}}).execute()
    out = nb.cells[-1].outputs
    assert not [o for o in out if o.output_type == "error"], out
    return "".join(o.get("text", "") for o in out if o.output_type == "stream")


def test_check_from_the_released_notebook_grades_what_ran(kit):
    text = run_notebook(nbformat.read(kit / "gates.ipynb", 4), kit)
    assert "(the kit's)" in text and "Score on the visible checks: 6 / 90" in text
    assert "NotImplementedError" in text and "PASS" in text and "FAIL" in text


def test_check_from_a_finished_notebook_passes(kit, tmp_path):
    work = tmp_path / "k"
    shutil.copytree(kit, work)
    source = nbformat.read(ROOT / "assignments" / "gates" / "source.ipynb", 4)
    text = run_notebook(source, work)
    assert "Score on the visible checks: 90 / 90" in text, text[-2000:]


@pytest.mark.parametrize("cells", [[CHECK], ["%load_ext backprop_grader.kit.notebook", "%bpgrade_check"]])
def test_a_submitted_notebook_that_kept_its_check_cell_is_graded_without_an_error(tmp_path, cells):
    """In the sandbox the grader is not readable; the kit's check cell does nothing
    there (stand-in modules in the child), instead of a ModuleNotFoundError and an
    IPython traceback in the student's feedback."""
    from backprop_grader import load
    from backprop_grader.judge import rubric, score
    nb = nbformat.read(ROOT / "assignments" / "gates" / "source.ipynb", 4)
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    path = tmp_path / "submitted.ipynb"
    nbformat.write(nb, path)
    rub = rubric.load(ROOT / "assignments" / "gates" / "rubric.yaml")
    result = score.grade(load.load(path, class_names=list(rub.gates)), rub, seed=3)
    assert result.warnings == [] and "Error" not in result.output, (result.warnings, result.output[-500:])
    assert result.score == rub.max_score
