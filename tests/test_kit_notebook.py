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
